"""What the fcpmaild integration scripts share: waiting for a started daemon's control.json, reading
an INBOX over IMAP, and (CliSession, for the single-daemon scripts engine_exchange.py and
hostile_peers.py) creating an account from a fixture key, sending a message from a file, listing
contact requests through the fcpmail CLI. Each script keeps its own daemon command line, `cli` and
`fail` (they differ in what they start, wait for and print)."""
import imaplib
import json
import os
import time


def wait_for_control(data, tries=100):
    """The parsed control.json (the daemon's endpoints) once the daemon in `data` has written it,
    polling every 0.1 s; None if it did not appear within `tries` polls."""
    path = os.path.join(data, "control.json")
    for _ in range(tries):
        if os.path.exists(path):
            return json.load(open(path))
        time.sleep(0.1)
    return None


def imap_inbox(endpoints, account, password="pw", errors="replace"):
    """Every INBOX message of `account`, read-only over the daemon's IMAP endpoint, decoded as UTF-8
    (errors="strict" makes a message that is not valid UTF-8 raise)."""
    host, port = endpoints["imap"].rsplit(":", 1)
    with imaplib.IMAP4(host, int(port)) as imap:
        imap.login(account, password)
        imap.select("INBOX", readonly=True)
        _, ids = imap.search(None, "ALL")
        out = []
        for num in ids[0].split():
            _, msg = imap.fetch(num, "(BODY.PEEK[])")
            out.append(msg[0][1].decode("utf-8", errors))
        return out


class CliSession:
    """cli(*args, stdin=None, check=True) runs fcpmail against the daemon; cli_json(*args) parses its
    --json output; fail(why) ends the test; fixtures and work are the fixture and scratch dirs."""

    def __init__(self, cli, cli_json, fail, fixtures, work):
        self.cli, self.cli_json, self.fail = cli, cli_json, fail
        self.fixtures, self.work = fixtures, work

    def requests_of(self, account):
        r = self.cli_json("requests", "list", "--account", account)
        return r if isinstance(r, list) else r.get("requests", [])

    def inbox(self, endpoints, account, password="pw"):
        return imap_inbox(endpoints, account, password)

    def create(self, name):
        """Creates `name` from fixtures/keys/<name>.key with password "pw"; returns its address."""
        r = self.cli("account", "create", name, "--password-stdin", "--rsa-key",
                     os.path.join(self.fixtures, "keys", name + ".key"), stdin="pw\n")
        for line in r.stdout.splitlines():
            if "@" in line and line.strip().endswith(".freemail"):
                return line.split()[-1]
        self.fail("no address in: " + r.stdout)

    def send(self, frm, to, subject, body):
        """Queues a message with `fcpmail send`; returns its outbox id."""
        path = os.path.join(self.work, "msg.txt")
        with open(path, "w", newline="") as f:
            f.write(f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n")
        r = self.cli("send", "--from", frm, "--to", to, "--file", path)
        digits = [int(w.strip("#.;")) for w in r.stdout.split() if w.strip("#.;").isdigit()]
        return digits[0]
