"""Several fcpmaild daemons (and fcpmail-sim nodes) side by side, each named, each with its own data
dir and log under one scratch dir, driven through `fcpmail` with FCPMAIL_DATA_DIR: what
account_transfer.py and engine_two_daemons.py share. Each daemon is addressed by its data dir.
stop_process is also how the other scripts stop what they started."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

from .cli_session import wait_for_control
from .paths import BUILD, FIXTURES, scratch_dir


def stop_process(p, grace=10):
    """SIGTERM, then SIGKILL after `grace` seconds; waits for it either way."""
    p.terminate()
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


class DaemonSet:
    """`names` are the logs fail() prints (a tail of 3000 bytes each); cli_timeout bounds each
    fcpmail run and wait_timeout is wait_for's default."""

    def __init__(self, names, cli_timeout=60, wait_timeout=60):
        self.names, self.cli_timeout, self.wait_timeout = names, cli_timeout, wait_timeout
        self.work = scratch_dir()
        self.processes = []

    def fail(self, why):
        print("FAIL:", why)
        for name in self.names:
            try:
                print(f"--- daemon {name}:\n" + open(os.path.join(self.work, name + ".log")).read()[-3000:])
            except OSError:
                pass
        sys.exit(1)

    def finish(self):
        """Stops every process still running, the last started first, and removes the scratch dir."""
        for p in reversed(self.processes):
            if p.poll() is None:
                stop_process(p)
        shutil.rmtree(self.work, ignore_errors=True)

    def log_text(self, name):
        return open(os.path.join(self.work, name + ".log")).read()

    def start_sim(self, name):
        """An fcpmail-sim on a free port, logging to <name>.log; returns its port."""
        log = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen([os.path.join(BUILD, "fcpmail-sim"), "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                             stderr=log, text=True)
        self.processes.append(p)
        line = p.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.fail(f"{name} did not start: {line!r}")
        return m.group(1)

    def start(self, name, node_args, scale="0.0001"):
        """fcpmaild with data dir and log named `name`; returns (process, data dir, endpoints)."""
        data = os.path.join(self.work, name)
        log = open(os.path.join(self.work, name + ".log"), "w")
        p = subprocess.Popen([os.path.join(BUILD, "fcpmaild"), "--data-dir", data, *node_args,
                              "--imap-listen", "127.0.0.1:0", "--smtp-listen", "127.0.0.1:0",
                              "--http-listen", "127.0.0.1:0", "--interval-scale", scale], stdout=log, stderr=log)
        self.processes.append(p)
        endpoints = wait_for_control(data)
        if endpoints is None:
            self.fail(name + " did not start")
        return p, data, endpoints

    def run(self, data, *args, stdin=None):
        """fcpmail against the daemon of `data`, its exit code unchecked."""
        return subprocess.run([os.path.join(BUILD, "fcpmail"), *args], input=stdin, capture_output=True, text=True,
                              env=dict(os.environ, FCPMAIL_DATA_DIR=data), timeout=self.cli_timeout,
                              **({} if stdin is not None else {"stdin": subprocess.DEVNULL}))

    def cli(self, data, *args, stdin=None):
        """fcpmail that must succeed."""
        r = self.run(data, *args, stdin=stdin)
        if r.returncode != 0:
            self.fail(f"fcpmail {' '.join(args)}: {r.stdout} {r.stderr}")
        return r

    def wait_for(self, what, pred, timeout=None):
        end = time.time() + (self.wait_timeout if timeout is None else timeout)
        while time.time() < end:
            try:
                if pred():
                    return
            except (KeyError, IndexError, ValueError):
                pass
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    def create(self, data, name):
        """Creates `name` from fixtures/keys/<name>.key with password "pw"; returns its address."""
        out = self.cli(data, "account", "create", name, "--password-stdin", "--rsa-key",
                       os.path.join(FIXTURES, "keys", name + ".key"), stdin="pw\n").stdout
        return re.search(r"[a-z0-9]+@[a-z2-7]{52}\.freemail", out).group(0)

    def requests(self, data):
        r = json.loads(self.cli(data, "requests", "list", "--json").stdout)
        return r if isinstance(r, list) else r.get("requests", [])

    def codes(self, data):
        """{outbox id: [each recipient's state code]} of the daemon."""
        entries = json.loads(self.cli(data, "outbox", "list", "--json").stdout)
        if isinstance(entries, dict):
            entries = entries.get("outbox", entries.get("messages", []))
        return {e["id"]: [r["code"] for r in e["recipients"]] for e in entries}

    def send(self, data, frm, to, subject, body):
        """Queues a message with `fcpmail send`; returns its outbox id."""
        path = os.path.join(self.work, "m.txt")
        with open(path, "w", newline="") as f:
            f.write(f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n")
        out = self.cli(data, "send", "--from", frm, "--to", to, "--file", path).stdout
        return int(re.search(r"#(\d+)", out).group(1))
