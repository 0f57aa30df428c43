#!/usr/bin/env python3
"""Local-interface abuse against the real daemon (issue 7), on fcpmaild with two accounts:
- 100 SMTP connections at once: all are greeted, and the 36 oldest (idle, not logged in) give way to
  the newer ones with `421 4.7.0 server full` (the cap is 64); 600 IMAP connections: those over its cap (512) get
  `* BYE` (new ones, or idle ones that never logged in); once they are gone both servers take new
  sessions again;
- a 100 MB SMTP command line without CR LF: 500 and the connection closes long before the end;
- a 100 MB DATA line (over the 10 MB SIZE limit): counted, not kept, 552 at the end, the session
  goes on; MAIL FROM ... SIZE= over the limit: 552 at once;
- a 100 MB IMAP command line: BAD, the session goes on;
- password guessing over SMTP: three failures end the session with 421;
- the daemon's resident memory (sampled every 5 ms) stays bounded through all of it, other
  sessions are served meanwhile, and a normal submission afterwards is accepted and held."""
import base64
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.abuse import rss_kib  # noqa: E402
from harness.clients import PASSWORD, Daemon, Failure, run_main  # noqa: E402

MiB = 1 << 20


class PeakRss:
    """The daemon's largest resident size while the block runs, sampled every 5 ms."""

    def __init__(self, pid):
        self.pid = pid

    def __enter__(self):
        self.base = rss_kib(self.pid)
        self.peak = self.base
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def sample(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        return False

    @property
    def growth_mib(self):
        return (self.peak - self.base) / 1024


class Line:
    def __init__(self, port, timeout=20):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return ""
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One SMTP reply (its last line carries the verdict)."""
        while True:
            line = self.line()
            if len(line) < 4 or line[3] != "-":
                return line

    def expect(self, command, code):
        if command is not None:
            self.send(command)
        r = self.reply()
        if not r.startswith(str(code)):
            raise Failure("%r: expected %s, got %r" % (command, code, r))
        return r

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return True

    def close(self):
        self.s.close()


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


def smtp_session(d, login=True):
    c = Line(d.smtp_port)
    c.expect(None, 220)
    c.expect("EHLO abuse.test\r\n", 250)
    if login:
        c.expect("AUTH PLAIN %s\r\n" % plain(d.address["alice"], PASSWORD["alice"]), 235)
    return c


def send_megabytes(c, count, fill=b"x"):
    """Sends up to `count` MiB; returns how many went out before the server closed."""
    chunk = fill * MiB
    sent = 0
    try:
        for _ in range(count):
            c.s.sendall(chunk)
            sent += 1
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def connection_caps(d):
    # SMTP: each newcomer over the cap (64) takes the place of the longest-idle connection that has
    # not logged in, which gets 421 and is closed: all 100 are greeted, the 36 oldest are evicted.
    held = [Line(d.smtp_port, timeout=10) for _ in range(100)]
    greetings = [c.line() for c in held]
    assert all(g.startswith("220 ") for g in greetings), set(greetings)
    evicted = 0
    for c in held[:36]:
        nxt = c.line()
        assert nxt.startswith("421 4.7.0 server full"), nxt
        assert c.closed()
        evicted += 1
    held[-1].expect("EHLO still.here\r\n", 250)
    for c in held:
        c.close()

    # IMAP: over its cap a connection gets `* BYE` (either the new one, or an older one that never
    # logged in gives way to it); never more than the cap stay open.
    imap = [Line(d.imap_port, timeout=10) for _ in range(600)]
    greetings = [c.line() for c in imap]
    assert all(g.startswith("* OK") or g.startswith("* BYE") for g in greetings), set(greetings)
    bye = 0
    for c, g in zip(imap, greetings):
        if g.startswith("* BYE"):
            bye += 1
            continue
        c.s.settimeout(0.02)
        try:
            nxt = c.line()
        except socket.timeout:
            continue  # still open, nothing said: a surviving session
        assert nxt.startswith("* BYE") or nxt == "", nxt
        bye += 1
    assert bye >= 1, "600 IMAP connections and none was refused or evicted"
    for c in imap:
        c.close()
    time.sleep(0.3)
    smtp_session(d).expect("QUIT\r\n", 221)
    again = d.imap("bob")
    assert again.noop()[0] == "OK"
    again.logout()
    print("ok: SMTP cap: 100 greeted, the %d oldest idle ones got 421; IMAP: %d of 600 got BYE; both serve again" % (evicted, bye))


def huge_smtp_line(d):
    bystander = smtp_session(d)
    with PeakRss(d.process.pid) as rss:
        c = smtp_session(d, login=False)
        sent = send_megabytes(c, 100)
        try:
            r = c.reply()
        except ConnectionResetError:
            r = ""  # unread data turned the close into a reset, which can swallow the 500
        assert r == "" or r.startswith("500 5.5.6 Line too long"), r
        assert sent < 100 and c.closed(), ("the server read the whole 100 MB line", sent)
    bystander.expect("NOOP\r\n", 250)
    assert rss.growth_mib < 16, "resident memory grew by %.1f MiB for one long line" % rss.growth_mib
    print("ok: 100 MB SMTP line: closed after %d MiB, peak RSS growth %.1f MiB" % (sent, rss.growth_mib))


def oversized_data(d):
    c = smtp_session(d)
    me = d.address["alice"]
    r = c.expect("MAIL FROM:<%s> SIZE=%d\r\n" % (me, 20 * MiB), 552)
    assert "5.3.4" in r, r
    c.expect("MAIL FROM:<%s>\r\n" % me, 250)
    c.expect("RCPT TO:<bob>\r\n", 250)
    c.expect("DATA\r\n", 354)
    with PeakRss(d.process.pid) as rss:
        c.send("Subject: too big\r\n\r\n")
        sent = send_megabytes(c, 100, b"y")  # one line, no end
        assert sent == 100, "the server closed during DATA after %d MiB" % sent
        r = c.expect("\r\n.\r\n", 552)
    assert "5.3.4" in r, r
    c.expect("NOOP\r\n", 250)
    assert rss.growth_mib < 40, "resident memory grew by %.1f MiB for a 100 MB message" % rss.growth_mib
    print("ok: 100 MB DATA line over SIZE: 552, peak RSS growth %.1f MiB; SIZE= over the limit refused at MAIL"
          % rss.growth_mib)
    return c


def huge_imap_line(d):
    with PeakRss(d.process.pid) as rss:
        c = Line(d.imap_port)
        assert c.line().startswith("* OK")
        sent = send_megabytes(c, 100, b"i")
        c.send(b"\r\n")
        r = c.line()
        assert r.startswith("* BAD") or r.startswith("* BYE") or r == "", r
        if sent == 100 and r.startswith("* BAD"):
            c.send(b"n NOOP\r\n")
            assert c.line().startswith("n OK")
    assert rss.growth_mib < 16, "IMAP: resident memory grew by %.1f MiB for one long line" % rss.growth_mib
    print("ok: 100 MB IMAP line: %r after %d MiB, peak RSS growth %.1f MiB" % (r, sent, rss.growth_mib))


def guessing(d):
    bystander = smtp_session(d)
    g = smtp_session(d, login=False)
    me = d.address["alice"]
    started = time.time()
    for i in range(3):
        g.send("AUTH PLAIN %s\r\n" % plain(me, "guess %d" % i))
    replies = [g.reply() for _ in range(4)]
    assert [r[:3] for r in replies] == ["535", "535", "535", "421"], replies
    assert g.closed()
    bystander.expect("NOOP\r\n", 250)
    print("ok: three wrong passwords: 535 x3 then 421 and close (%.1f s)" % (time.time() - started))


def main():
    with Daemon(outbound="manual", requests="auto") as d:
        started = time.time()
        connection_caps(d)
        huge_smtp_line(d)
        c = oversized_data(d)
        huge_imap_line(d)
        guessing(d)
        # After all of it: a normal submission on the session that sent 100 MB is accepted and held.
        c.expect("MAIL FROM:<%s>\r\n" % d.address["alice"], 250)
        c.expect("RCPT TO:<bob>\r\n", 250)
        c.expect("DATA\r\n", 354)
        c.expect("Subject: after the abuse\r\n\r\nstill fine\r\n.\r\n", 250)
        c.expect("QUIT\r\n", 221)
        subjects = [e["subject"] for e in d.outbox(d.address["alice"])]
        assert subjects == ["after the abuse"], subjects
        assert d.process.poll() is None, "fcpmaild exited"
        print("ok: a normal submission is held afterwards; abuse block took %.1f s" % (time.time() - started))


if __name__ == "__main__":
    run_main(main, timed_as="clients_abuse")
