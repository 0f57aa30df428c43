#!/usr/bin/env python3
"""The fixture the clients_* tests share: one real fcpmaild on its embedded simulated node, in a
private temp dir, on free 127.0.0.1 ports, with two accounts (alice, bob; fixture RSA keys) and
each in the other's contacts under a petname. Mail between them really travels over the simulated
network (mailsite, RTS, channel slots), as between two people.

Run as a test on its own, it checks the fixture itself: control.json names bound ports, both
accounts log in over IMAP, the default folders exist, and the daemon is gone after stop()."""
import imaplib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("FCPMAIL_BUILD_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
FIXTURES = os.environ.get("FCPMAIL_FIXTURES") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures")
PASSWORD = {"alice": "alice pw", "bob": "bob pw"}


class Failure(Exception):
    pass


class Daemon:
    """fcpmaild with two accounts. Use as a context manager; everything it started is stopped and
    its temp dir removed on exit, also when the test fails."""

    def __init__(self, outbound="manual", requests="auto", interval_scale="0.0005"):
        self.work = tempfile.mkdtemp(prefix="fcpmail-clients-")
        os.chmod(self.work, 0o700)
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


def main():
    with Daemon() as d:
        for name in ("alice", "bob"):
            assert re.fullmatch(name + r"@[a-z2-7]{52}\.freemail", d.address[name]), d.address
            c = d.imap(name)
            _, folders = c.list()
            names = " ".join(f.decode() for f in folders)
            for f in ("INBOX", "Sent", "Drafts", "Trash", "Outbox"):
                assert '"%s"' % f in names or " %s" % f in names, (f, names)
            c.logout()
        contacts = d.cli("contacts", "list", "--account", d.address["alice"])
        assert d.address["bob"] in contacts and "bob" in contacts, contacts
        pid = d.process.pid
    try:
        os.kill(pid, 0)
        raise Failure("fcpmaild %d still runs after stop()" % pid)
    except ProcessLookupError:
        pass
    print("ok: fixture daemon with two accounts started, served IMAP and stopped")


if __name__ == "__main__":
    try:
        main()
    except (Failure, AssertionError) as e:
        print("FAIL:", e)
        sys.exit(1)
