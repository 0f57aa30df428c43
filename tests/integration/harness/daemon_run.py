"""One fcpmaild in a private scratch dir, driven the way the single-daemon scripts (engine_exchange,
consent_revoke, hostile_peers, hostile_forged_headers, rts_stock_timeout) drive it: started on
free 127.0.0.1 ports, `fcpmail` run against it with FCPMAIL_DATA_DIR, polled with wait_for, and on
any failure killed with its log tail printed. A stranger ("mallory", fixtures/keys/mallory.key)
can put raw blobs on the node with node_put, read them with node_get and encode RTS messages with
mallory_rts; start_on_sim runs the daemon on a separate fcpmail-sim instead of its embedded node. Each script
passes its own interval scale and timeouts (they differ in how long their story takes)."""
import base64
import imaplib
import json
import os
import re
import shutil
import subprocess
import sys
import time

from .cli_session import CliSession
from .daemon_set import stop_process
from .paths import BUILD, FIXTURES, scratch_dir



LISTEN_ALL = ("--imap-listen", "127.0.0.1:0", "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")


def random_slot():
    """A fresh Freemail slot: 32 random bytes in unpadded base32."""
    return base64.b32encode(os.urandom(32)).decode().rstrip("=")


class DaemonRun:
    """`scale` is fcpmaild's --interval-scale; cli_timeout bounds each fcpmail run, wait_timeout is
    wait_for's default and log_tail how many bytes of the daemon log a failure prints. `others`
    holds further processes (an fcpmail-sim) that fail() and finish() stop with the daemon."""

    def __init__(self, scale, cli_timeout=60, wait_timeout=60, log_tail=6000):
        self.scale, self.cli_timeout, self.wait_timeout, self.log_tail = scale, cli_timeout, wait_timeout, log_tail
        self.build, self.fixtures = BUILD, FIXTURES
        self.work = scratch_dir()
        self.data = os.path.join(self.work, "data")
        self.log_path = os.path.join(self.work, "daemon.log")
        self.daemon = None
        self.others = []
        self.session = CliSession(self.cli, self.cli_json, self.fail, self.fixtures, self.work)

    # --- failing and stopping
    def fail(self, why):
        print("FAIL:", why)
        for p in (self.daemon, *self.others):
            if p and p.poll() is None:
                p.kill()
                p.wait()
        try:
            print(open(self.log_path, errors="replace").read()[-self.log_tail:])
        except OSError:
            pass
        shutil.rmtree(self.work, ignore_errors=True)
        sys.exit(1)

    def finish(self):
        """Stops what still runs (SIGTERM, SIGKILL after 10 s) and removes the scratch dir."""
        for p in (self.daemon, *self.others):
            if p and p.poll() is None:
                stop_process(p)
        shutil.rmtree(self.work, ignore_errors=True)

    # --- the daemon and its log
    def log_text(self):
        return open(self.log_path, errors="replace").read()

    def logged(self, *fragments):
        """The daemon log lines that contain every fragment."""
        return [line for line in self.log_text().splitlines() if all(f in line for f in fragments)]

    def command(self, fcp=None, listen=LISTEN_ALL, options=()):
        """fcpmaild's command line on this data dir: on its embedded simulated node, or on the node at `fcp`."""
        node_args = ["--fcp", fcp] if fcp else ["--embedded-node"]
        return [os.path.join(self.build, "fcpmaild"), "--data-dir", self.data, *node_args, *listen,
                "--interval-scale", self.scale, *options]

    def start(self, fcp=None, tries=150, listen=LISTEN_ALL, options=()):
        """Starts fcpmaild (on its embedded simulated node, or on the node at `fcp`; with the
        `listen` arguments and further `options`) once its previous control.json is gone; returns
        (endpoints, the node's FCP address) when it has written control.json (and, embedded, logged
        its node's address), polling every 0.1 s."""
        control = os.path.join(self.data, "control.json")
        if os.path.exists(control):
            os.remove(control)
        log = open(self.log_path, "a")
        self.daemon = subprocess.Popen(self.command(fcp, listen, options), stdout=log, stderr=log)
        for _ in range(tries):
            if os.path.exists(control):
                if fcp:
                    return json.load(open(control)), fcp
                m = re.search(r"embedded simulated node listening on (127\.0\.0\.1:\d+)", self.log_text())
                if m:
                    return json.load(open(control)), m.group(1)
            if self.daemon.poll() is not None:
                self.fail("daemon exited at start")
            time.sleep(0.1)
        self.fail("daemon did not start")

    def start_on_sim(self, **start_options):
        """fcpmaild on a separate fcpmail-sim process (FCP over TCP), logging to sim.log; returns
        (endpoints, the sim's FCP address)."""
        sim = subprocess.Popen([os.path.join(self.build, "fcpmail-sim"), "--listen", "127.0.0.1:0"],
                               stdout=subprocess.PIPE, stderr=open(os.path.join(self.work, "sim.log"), "w"), text=True)
        self.others.append(sim)
        m = re.search(r"listening on (127\.0\.0\.1:\d+)", sim.stdout.readline())
        if not m:
            self.fail("fcpmail-sim did not start")
        return self.start(fcp=m.group(1), **start_options)

    def stop(self, timeout=30):
        """SIGTERM; fails unless the daemon then exits 0 within `timeout` seconds."""
        self.daemon.terminate()
        if self.daemon.wait(timeout=timeout) != 0:
            self.fail(f"the daemon exited with {self.daemon.returncode} on SIGTERM")

    def wait_for(self, what, pred, timeout=None):
        """pred()'s first truthy value, polling every 0.2 s; fails when the daemon dies or time runs out."""
        end = time.time() + (self.wait_timeout if timeout is None else timeout)
        while time.time() < end:
            try:
                got = pred()
                if got:
                    return got
            except (KeyError, IndexError, json.JSONDecodeError):
                pass
            if self.daemon is not None and self.daemon.poll() is not None:
                self.fail("the daemon died while waiting for " + what)
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    # --- IMAP
    def imap_login(self, endpoints, account, password="pw"):
        """An imaplib session of `account` on the daemon's IMAP endpoint."""
        host, port = endpoints["imap"].rsplit(":", 1)
        imap = imaplib.IMAP4(host, int(port))
        imap.login(account, password)
        return imap

    def wait_for_inbox(self, imap, what, count=1):
        """The INBOX message numbers (read-only SELECT) once there are at least `count`."""
        def arrived():
            imap.select("INBOX", readonly=True)
            _, got = imap.search(None, "ALL")
            return len(got[0].split()) >= count and got[0].split()

        return self.wait_for(what, arrived)

    # --- the CLI
    def cli(self, *args, stdin=None, check=True):
        env = dict(os.environ, FCPMAIL_DATA_DIR=self.data)
        r = subprocess.run([os.path.join(self.build, "fcpmail"), *args], input=stdin, capture_output=True, text=True,
                           env=env, timeout=self.cli_timeout)
        if check and r.returncode != 0:
            self.fail(f"fcpmail {' '.join(args)}: rc={r.returncode} {r.stdout} {r.stderr}")
        return r

    def cli_json(self, *args):
        return json.loads(self.cli(*args, "--json").stdout)

    def outbox_codes(self, account):
        """{outbox id: [each recipient's state code]} of an account."""
        entries = self.cli_json("outbox", "list", "--account", account)
        if isinstance(entries, dict):
            entries = entries.get("outbox", entries.get("messages", []))
        return {e["id"]: [r["code"] for r in e["recipients"]] for e in entries}

    def contacts_of(self, account):
        r = self.cli_json("contacts", "list", "--account", account)
        return r if isinstance(r, list) else r.get("contacts", [])

    def identity_ids(self):
        """{address: identity id} of every account, from `fcpmail account list --json`."""
        accounts = self.cli_json("account", "list")
        accounts = accounts if isinstance(accounts, list) else accounts.get("accounts", [])
        return {a["address"]: a.get("identity_id") for a in accounts}, accounts

    def rts_ksk(self, account):
        """n -> the KSK of today's n-th RTS slot of `account`, once `fcpmail queues` lists its KSKs."""
        def prefix():
            for r in self.cli_json("queues").get("rts", []):
                m = re.fullmatch(r"KSK@([a-z]+)-\d{8}-\d+", r.get("key", ""))
                if r.get("account") == account and m:
                    return m.group(1)
            return None

        rtsksk = self.wait_for(f"{account.split('@')[0]}'s RTS KSKs in `fcpmail queues`", prefix)
        day = time.strftime("%Y%m%d", time.gmtime())
        return lambda n: f"KSK@{rtsksk}-{day}-{n}"

    # --- a raw peer on the node
    def node(self, fcp, *args, check=True):
        return self.cli("node", *args, "--fcp", fcp, check=check)

    def node_put(self, fcp, uri, data_bytes, name):
        """Puts raw bytes at `uri` (through a scratch file called `name`)."""
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data_bytes)
        self.node(fcp, "put", uri, "--file", path)

    def node_get(self, fcp, uri):
        """The bytes at `uri`, or None while the node does not have them."""
        out = os.path.join(self.work, "got")
        if os.path.exists(out):
            os.remove(out)
        if self.node(fcp, "get", uri, "--out", out, check=False).returncode != 0:
            return None
        return open(out, "rb").read()

    def genssk(self, fcp):
        """(insert URI, request URI), both ending in '/'."""
        out = self.cli_json("node", "genssk", "--fcp", fcp)
        insert, request = out.get("insert_uri"), out.get("request_uri")
        if not insert or not request:
            self.fail("unexpected genssk output: " + json.dumps(out))
        return insert, request

    def mallory_rts(self, fcp, mailsite, to, timeout_ms, out_name, responder_slot=None, channel=None,
                    initiator_slot=None):
        """The bytes of an RTS from mallory to bob's mailpage on the channel insert key `channel` (a
        fresh one if None), with the given first slots (random ones if None)."""
        insert = channel or self.genssk(fcp)[0]
        path = os.path.join(self.work, out_name)
        self.cli("rts", "encode", "--key", os.path.join(self.fixtures, "keys", "mallory.key"),
                 "--recipient-mailpage", os.path.join(self.fixtures, "keys", "bob.mailpage"), "--mailsite", mailsite,
                 "--to", to, "--channel", insert, "--initiator-slot", initiator_slot or random_slot(),
                 "--responder-slot", responder_slot or random_slot(), "--timeout", str(timeout_ms), "--out", path)
        return open(path, "rb").read()
