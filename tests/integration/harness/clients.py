"""The fixture the clients_* tests share: one real fcpmaild on its embedded simulated node, in a
private temp dir, on free 127.0.0.1 ports, with two accounts (alice, bob; fixture RSA keys) and
each in the other's contacts under a petname. Mail between them really travels over the simulated
network (mailsite, RTS, channel slots), as between two people. clients_daemon.py checks the
fixture itself. run_main(main) is how each of these scripts reports a Failure or a failed assert."""
import http.client
import imaplib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from .paths import BUILD, FIXTURES, scratch_dir

PASSWORD = {"alice": "alice pw", "bob": "bob pw"}


class Failure(Exception):
    pass


class Daemon:
    """fcpmaild with two accounts. Use as a context manager; everything it started is stopped and
    its temp dir removed on exit, also when the test fails."""

    def __init__(self, outbound="manual", requests="auto", interval_scale="0.0005"):
        self.work = scratch_dir(prefix="fcpmail-clients-")
        self.data = os.path.join(self.work, "data")
        os.mkdir(self.data, 0o700)
        self.log_path = os.path.join(self.work, "daemon.log")
        self.outbound = outbound
        self.requests = requests
        self.interval_scale = interval_scale
        self.process = None
        self.address = {}

    # --- lifetime
    def __enter__(self):
        try:
            self.start()
            return self
        except BaseException:
            self.stop()
            raise

    def __exit__(self, kind, value, tb):
        if kind is not None:
            self.dump_log()
        self.stop()
        return False

    def start(self):
        daemon = os.path.join(BUILD, "fcpmaild")
        if not os.access(daemon, os.X_OK):
            raise Failure(daemon + " is not built")
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [daemon, "--data-dir", self.data, "--embedded-node", "--imap-listen", "127.0.0.1:0",
             "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interval-scale", self.interval_scale,
             "--outbound-approval", self.outbound, "--contact-requests", self.requests],
            stdout=log, stderr=log, start_new_session=True)
        log.close()
        control = os.path.join(self.data, "control.json")
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise Failure("fcpmaild exited with %s" % self.process.returncode)
            try:
                c = json.load(open(control))
                if c.get("pid") == self.process.pid:
                    self.control = c
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        else:
            raise Failure("fcpmaild wrote no control.json within 30 s")
        self.imap_port = int(self.control["imap"].rsplit(":", 1)[1])
        self.smtp_port = int(self.control["smtp"].rsplit(":", 1)[1])
        for name in ("alice", "bob"):
            out = self.cli("account", "create", name, "--password-stdin", "--rsa-key",
                           os.path.join(FIXTURES, "keys", name + ".key"), stdin=PASSWORD[name] + "\n")
            m = re.search(r"[a-z0-9]+@[a-z2-7]{52}\.freemail", out)
            if not m:
                raise Failure("account create %s printed no address: %s" % (name, out))
            self.address[name] = m.group(0)
        self.cli("contacts", "add", self.address["bob"], "--petname", "bob", "--account", self.address["alice"])
        self.cli("contacts", "add", self.address["alice"], "--petname", "alice", "--account", self.address["bob"])

    def stop(self):
        p, self.process = self.process, None
        if p is not None and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        shutil.rmtree(self.work, ignore_errors=True)

    def dump_log(self):
        try:
            print("--- fcpmaild log (tail)\n" + open(self.log_path).read()[-4000:])
        except OSError:
            pass

    # --- the CLI
    def cli(self, *args, stdin=None, check=True):
        r = subprocess.run([os.path.join(BUILD, "fcpmail"), *args, "--data-dir", self.data], input=stdin,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise Failure("fcpmail %s: rc=%d %s %s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r.stdout

    def outbox(self, account=None):
        """The outbox entries as the control API gives them (a list of dicts)."""
        args = ["outbox", "list", "--json"] + (["--account", account] if account else [])
        entries = json.loads(self.cli(*args))
        return entries.get("outbox", []) if isinstance(entries, dict) else entries

    def approve_all(self):
        return self.cli("outbox", "approve", "--all")

    def stranger_writes_to_alice(self, name, subject):
        """carol (fixtures/keys/carol.key, a stranger to alice) is created under `name` and sends alice
        one message, released at once: with requests="manual" alice then has carol's contact request
        pending. Returns carol's address."""
        out = self.cli("account", "create", name, "--password-stdin", "--rsa-key",
                       os.path.join(FIXTURES, "keys", "carol.key"), stdin="carol pw\n")
        carol = re.search(r"[a-z0-9]+@[a-z2-7]{52}\.freemail", out).group(0)
        msg = os.path.join(self.work, "carol.txt")
        with open(msg, "w", newline="") as f:
            f.write("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nhi\r\n" % (carol, self.address["alice"], subject))
        self.cli("send", "--from", carol, "--to", self.address["alice"], "--file", msg)
        self.cli("outbox", "approve", "--all", "--account", carol)
        return carol

    # --- IMAP
    def imap(self, name):
        c = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=20)
        c.login(self.address[name], PASSWORD[name])
        return c

    def folder_messages(self, name, folder):
        """Every message of a folder as text, oldest first (read-only, flags untouched)."""
        c = self.imap(name)
        try:
            typ, _ = c.select('"%s"' % folder, readonly=True)
            if typ != "OK":
                raise Failure("SELECT %s failed for %s" % (folder, name))
            _, data = c.uid("SEARCH", None, "ALL")
            out = []
            for uid in data[0].split():
                _, got = c.uid("FETCH", uid, "(BODY.PEEK[])")
                out.append(got[0][1].decode("utf-8", "replace"))
            return out
        finally:
            c.logout()


class Http:
    """Plain HTTP/1.1 requests to the daemon's control/web listener; a dict body goes as JSON.
    request() returns (status, headers as a dict, body text)."""

    def __init__(self, d):
        host, port = d.control["http"].rsplit(":", 1)
        self.host, self.port = host, int(port)

    def request(self, method, target, body=None, headers=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=20)
        h = {"Host": "127.0.0.1"}
        h.update(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (str, bytes)) else json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, target, data, h)
        r = c.getresponse()
        out = (r.status, dict(r.getheaders()), r.read().decode(errors="replace"))
        c.close()
        return out


def wait_for(what, predicate, timeout=60.0, step=0.1):
    """Polls until predicate() is truthy; returns its value and the seconds it took."""
    start = time.time()
    while True:
        value = predicate()
        if value:
            return value, time.time() - start
        if time.time() - start > timeout:
            raise Failure("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(step)


def run_main(main, timed_as=None):
    """Runs a script's main(); a Failure or a failed assert prints FAIL and exits 1. With timed_as
    (the script's name) FAIL shows the exception's repr and a pass prints how long it took."""
    started = time.time()
    try:
        main()
    except (Failure, AssertionError) as e:
        print("FAIL:", repr(e) if timed_as else e)
        sys.exit(1)
    if timed_as:
        print("%s: all passed in %.1f s" % (timed_as, time.time() - started))
