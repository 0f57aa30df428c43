"""What the abuse_* tests share: the clients_* fixture daemon (real fcpmaild on its embedded node,
accounts alice and bob), its resident memory, and one normal IMAP and SMTP session to prove that
other users are still served while (and after) someone abuses the daemon."""
import imaplib
import smtplib
import socket
import sys
import time

from .clients import PASSWORD, Daemon, Failure, run_main  # noqa: F401


def rss_kib(pid):
    """VmRSS of a process in KiB (Linux /proc)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure("no VmRSS for pid %d" % pid)


def alive(d):
    return d.process is not None and d.process.poll() is None


class SourcedIMAP(imaplib.IMAP4):
    """imaplib from a chosen loopback source address (127.0.0.2 is another peer to the daemon)."""

    def __init__(self, host, port, source, timeout):
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self._source, 0))


def imap_login(d, name, password=None, source="127.0.0.1", timeout=20):
    """Logs in; returns (connection or None, seconds the LOGIN took, error text)."""
    c = SourcedIMAP("127.0.0.1", d.imap_port, source, timeout)
    start = time.time()
    try:
        c.login(d.address.get(name, name), PASSWORD.get(name, "") if password is None else password)
        return c, time.time() - start, ""
    except imaplib.IMAP4.error as e:
        took = time.time() - start
        try:
            c.shutdown()
        except OSError:
            pass
        return None, took, str(e)


def normal_imap(d, name="bob", timeout=20):
    """A normal session: LOGIN, SELECT INBOX, LOGOUT. Returns the seconds it took; raises if refused."""
    start = time.time()
    c, _, error = imap_login(d, name, timeout=timeout)
    if c is None:
        raise Failure("normal IMAP login of %s refused: %s" % (name, error))
    typ, _ = c.select("INBOX")
    if typ != "OK":
        raise Failure("normal SELECT INBOX failed: %s" % typ)
    c.logout()
    return time.time() - start


def normal_smtp(d, name="bob", to="alice", subject="normal", timeout=20):
    """A normal submission: EHLO, AUTH, MAIL, RCPT, DATA accepted. Returns the seconds it took."""
    start = time.time()
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=timeout)
    try:
        s.ehlo("normal.example")
        s.login(d.address[name], PASSWORD[name])
        refused = s.sendmail(d.address[name], [d.address[to]],
                             "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n" % (d.address[name], d.address[to], subject))
        if refused:
            raise Failure("normal SMTP submission refused: %r" % refused)
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass
    return time.time() - start


def run(main):
    """Runs a test's main(): exit 1 with FAIL on a failure."""
    try:
        main()
    except (Failure, AssertionError) as e:
        print("FAIL:", e)
        sys.exit(1)
    print("PASS")
