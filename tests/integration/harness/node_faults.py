"""Shared by the node_faults_*.py tests: a real fcpmaild talking over TCP to a separate fcpmail-sim
process that can be killed, restarted (same port, same or fresh store) and told to misbehave.
Two accounts (alice, bob) in one daemon; bob accepts alice in advance. Mail is checked in the IMAP
INBOX by Subject and Message-ID: every message must be there exactly once."""
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from .paths import BUILD, FIXTURES, scratch_dir

build, fixtures = BUILD, FIXTURES


class Harness:
    def __init__(self, name, scale="0.0001"):
        self.name = name
        self.scale = scale
        self.work = scratch_dir(prefix="node-faults-")
        self.data = os.path.join(self.work, "data")
        self.sim = None
        self.sim_runs = 0
        self.daemon = None
        self.port = free_port()
        self.addr = {}
        self.sent = {}  # Subject -> (from, to, outbox id)
        self.started = time.time()

    # ---- processes ----
    def start_sim(self, *options, fresh_store=False):
        """fcpmail-sim on self.port; its store in state-<n>.db (a new file when fresh_store)."""
        if fresh_store or self.sim_runs == 0:
            self.state = os.path.join(self.work, f"state-{self.sim_runs}.db")
        self.sim_runs += 1
        log = open(os.path.join(self.work, f"sim-{self.sim_runs}.log"), "w")
        for attempt in range(50):  # the port may still be in TIME_WAIT for a moment
            self.sim = subprocess.Popen([os.path.join(build, "fcpmail-sim"), "--listen", f"127.0.0.1:{self.port}",
                                         "--state", self.state, *map(str, options)],
                                        stdout=subprocess.PIPE, stderr=log, text=True)
            line = self.sim.stdout.readline()
            if line.startswith("listening on"):
                return
            self.sim.wait(timeout=5)
            time.sleep(0.1)
        self.fail("fcpmail-sim did not start on port %d" % self.port)

    def kill_sim(self):
        if self.sim and self.sim.poll() is None:
            self.sim.send_signal(signal.SIGKILL)
            self.sim.wait(timeout=10)

    def start_daemon(self):
        self.log_path = os.path.join(self.work, "daemon.log")
        log = open(self.log_path, "a")
        self.daemon = subprocess.Popen([os.path.join(build, "fcpmaild"), "--data-dir", self.data, "--fcp",
                                        f"127.0.0.1:{self.port}", "--imap-listen", "127.0.0.1:0", "--smtp-listen",
                                        "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interval-scale", self.scale,
                                        "--outbound-approval", "auto"], stdout=log, stderr=log)
        control = os.path.join(self.data, "control.json")
        for _ in range(200):
            if os.path.exists(control):
                try:
                    self.endpoints = json.load(open(control))
                    return
                except ValueError:
                    pass
            time.sleep(0.05)
        self.fail("fcpmaild did not start")

    def stop(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        self.kill_sim()
        if os.environ.get("NODE_FAULTS_KEEP"):  # for a look at the logs afterwards
            print("kept", self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def fail(self, why):
        print("FAIL:", why)
        try:
            print(open(self.log_path).read()[-6000:])
        except (OSError, AttributeError):
            pass
        self.stop()
        sys.exit(1)

    def log_text(self):
        return open(self.log_path).read()

    # ---- the CLI ----
    def cli(self, *args, stdin=None, retries=5):
        r = None
        for _ in range(retries):
            r = subprocess.run([os.path.join(build, "fcpmail"), *args], input=stdin, capture_output=True, text=True,
                               env=dict(os.environ, FCPMAIL_DATA_DIR=self.data), timeout=90)
            if r.returncode == 0:
                return r.stdout
            time.sleep(0.5)
        self.fail(f"fcpmail {' '.join(args)}: {r.stdout} {r.stderr}")

    def create_accounts(self):
        for name in ("alice", "bob"):
            out = self.cli("account", "create", name, "--password-stdin", "--rsa-key",
                           os.path.join(fixtures, "keys", name + ".key"), stdin="pw\n", retries=1)
            self.addr[name] = re.search(r"[a-z0-9]+@[a-z2-7]{52}\.freemail", out).group(0)
        self.cli("contacts", "add", self.addr["alice"], "--account", self.addr["bob"])  # bob accepts alice

    def start(self):
        """The sim, the daemon on it, and the two accounts."""
        self.start_sim()
        self.start_daemon()
        self.create_accounts()

    def send_both_ways(self, tag):
        """One message alice -> bob and one bob -> alice, both tagged `tag`."""
        self.send("alice", "bob", tag)
        self.send("bob", "alice", tag)

    def exchange(self, n, timeout):
        """n messages each way, all delivered within `timeout` s and each in its INBOX exactly once;
        returns (seconds to deliver, messages in the INBOXes, the daemon log written meanwhile)."""
        mark = len(self.log_text())
        for i in range(n):
            self.send_both_ways(i)
        took = self.wait_delivered(timeout)
        total = self.check_exactly_once()
        return took, total, self.log_text()[mark:]

    def send(self, frm, to, tag):
        subject = f"{self.name} {tag} from {frm}"
        path = os.path.join(self.work, "m.txt")
        with open(path, "w", newline="") as f:
            f.write(f"From: {self.addr[frm]}\r\nTo: {self.addr[to]}\r\nSubject: {subject}\r\n"
                    f"Message-ID: <{self.name}-{tag}-{frm}@node-faults.test>\r\n\r\n{frm} says {tag}\r\n")
        out = self.cli("send", "--from", self.addr[frm], "--to", self.addr[to], "--file", path)
        self.sent[subject] = (frm, to, int(re.search(r"#(\d+)", out).group(1)))
        return subject

    def codes(self):
        entries = json.loads(self.cli("outbox", "list", "--json"))
        if isinstance(entries, dict):
            entries = entries.get("outbox", entries.get("messages", []))
        return {e["id"]: [r["code"] for r in e["recipients"]] for e in entries}

    def wait_delivered(self, timeout):
        """Until every sent message is delivered (acknowledged); returns the seconds it took."""
        start = time.time()
        ids = [v[2] for v in self.sent.values()]
        while time.time() - start < timeout:
            c = self.codes()
            if all(c.get(i) == ["delivered"] for i in ids):
                return time.time() - start
            time.sleep(0.3)
        self.fail("not everything delivered within %ds: %r" % (timeout, self.codes()))

    def inbox(self, who):
        """[(Subject, Message-ID)] of every message in the INBOX."""
        host, port = self.endpoints["imap"].rsplit(":", 1)
        with imaplib.IMAP4(host, int(port)) as imap:
            imap.login(self.addr[who], "pw")
            imap.select("INBOX", readonly=True)
            _, data = imap.search(None, "ALL")
            found = []
            for n in data[0].split():
                header = imap.fetch(n, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID SUBJECT)])")[1][0][1].decode()
                subject = re.search(r"^Subject: *(.*?)\r?$", header, re.M | re.I)
                message_id = re.search(r"^Message-ID: *(<[^>]*>)", header, re.M | re.I)
                found.append((subject.group(1) if subject else "", message_id.group(1) if message_id else ""))
            return found

    def check_exactly_once(self):
        """Every message sent is in its recipient's INBOX exactly once: one copy with its Subject, and
        no Message-ID twice (Freemail's header filter gives each outgoing message a fresh Message-ID,
        so a message stored twice shows up as a repeated one). Returns how many messages were checked."""
        total = 0
        for who in ("alice", "bob"):
            box = self.inbox(who)
            ids = [m for _, m in box]
            if "" in ids:
                self.fail(f"a message in {who}'s INBOX has no Message-ID")
            if len(set(ids)) != len(ids):
                self.fail(f"{who}'s INBOX holds a Message-ID twice: {sorted(ids)}")
            subjects = [s for s, _ in box]
            for subject, (frm, to, _) in self.sent.items():
                if to != who:
                    continue
                copies = subjects.count(subject)
                if copies != 1:
                    self.fail(f"{who}'s INBOX has {copies} copies of '{subject}'")
            expected = sum(1 for (_, to, _) in self.sent.values() if to == who)
            if len(box) != expected:
                self.fail(f"{who}'s INBOX holds {len(box)} messages, {expected} were sent to {who}")
            total += len(box)
        return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
