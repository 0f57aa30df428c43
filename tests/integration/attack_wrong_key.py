#!/usr/bin/env python3
"""A data dir started with the wrong secret.key (another data dir's, a mismatched backup) is refused:
fcpmaild exits 1 with a sentence naming secret.key and saying it does not open the accounts' keys,
and changes nothing in the data dir (no control.json; fcpmail.db and its WAL unchanged). Before, it started
with every private key, channel and mailbox unreadable and said nothing: IMAP logins worked, FETCH
failed, the mailsite could not be republished. With the right key back, the same dir starts and
its account is there."""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.cli_session import wait_for_control  # noqa: E402

build = os.environ.get("FCPMAIL_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
fixtures = os.environ.get("FCPMAIL_FIXTURES") or os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
daemon_bin = os.path.join(build, "fcpmaild")
cli_bin = os.path.join(build, "fcpmail")

work = tempfile.mkdtemp(prefix="fcpmail-attack-key-")
os.chmod(work, 0o700)
log_path = os.path.join(work, "daemon.log")
daemon = None


def fail(why):
    print("FAIL:", why)
    try:
        print(open(log_path, errors="replace").read()[-3000:])
    except OSError:
        pass
    cleanup()
    sys.exit(1)


def cleanup():
    if daemon and daemon.poll() is None:
        daemon.kill()
        daemon.wait()
    shutil.rmtree(work, ignore_errors=True)


def command(data):
    return [daemon_bin, "--data-dir", data, "--embedded-node", "--imap-listen", "127.0.0.1:0", "--smtp-listen",
            "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interval-scale", "0.002"]


def start(data):
    global daemon
    if os.path.exists(os.path.join(data, "control.json")):
        os.unlink(os.path.join(data, "control.json"))
    daemon = subprocess.Popen(command(data), stdout=open(log_path, "a"), stderr=subprocess.STDOUT)
    for _ in range(300):
        if daemon.poll() is not None:
            fail(f"the daemon on {data} exited with {daemon.returncode} while starting")
        endpoints = wait_for_control(data, tries=1)
        if endpoints and endpoints.get("pid") == daemon.pid:
            return endpoints
        time.sleep(0.1)
    fail("the daemon wrote no control.json")


def stop():
    daemon.terminate()
    if daemon.wait(timeout=30) != 0:
        fail(f"the daemon exited with {daemon.returncode} on SIGTERM")


def cli(data, *args, stdin=None):
    r = subprocess.run([cli_bin, *args, "--data-dir", data], input=stdin, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"fcpmail {' '.join(args)}: {r.stdout} {r.stderr}")
    return r.stdout


def snapshot(data):
    out = {}
    for name in sorted(os.listdir(data)):
        # The lock records the last pid; -shm is SQLite's index of the WAL, rebuilt by every open.
        if name in ("fcpmaild.lock", "fcpmail.db-shm"):
            continue
        path = os.path.join(data, name)
        st = os.lstat(path)
        out[name] = (st.st_size, hashlib.sha256(open(path, "rb").read()).hexdigest(), st.st_mtime_ns)
    return out


try:
    mine = os.path.join(work, "mine")
    other = os.path.join(work, "other")
    for d in (mine, other):
        os.mkdir(d, 0o700)
    start(mine)
    out = cli(mine, "account", "create", "alice", "--password-stdin", "--rsa-key",
              os.path.join(fixtures, "keys", "alice.key"), stdin="pw\n")
    stop()
    start(other)  # a fresh dir of its own: its own key
    stop()
    key_path = os.path.join(mine, "secret.key")
    right_key = open(key_path, "rb").read()
    shutil.copyfile(os.path.join(other, "secret.key"), key_path)
    os.chmod(key_path, 0o600)
    if open(key_path, "rb").read() == right_key:
        fail("setup: the two data dirs have the same key")

    before = snapshot(mine)
    try:
        r = subprocess.run(command(mine), capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        fail("still running after 20 s with another data dir's secret.key")
    message = r.stderr.strip()
    if r.returncode != 1:
        fail(f"exit {r.returncode} with the wrong key, want 1: {r.stdout!r} {r.stderr!r}")
    for want in (key_path, "does not open", "secret.key that belongs with this fcpmail.db"):
        if want not in message:
            fail(f"the refusal does not say {want!r}: {message!r}")
    after = snapshot(mine)
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        fail(f"the refused start changed the data dir: {changed}")
    print(f"ok: the wrong key is refused, nothing written: {message!r}")

    with open(key_path, "wb") as f:
        f.write(right_key)
    start(mine)
    if "alice@" not in cli(mine, "account", "list"):
        fail("with the right key back, the account is not there")
    stop()
    print("ok: with the right key back the dir starts and alice is there")
    print("PASS")
finally:
    cleanup()
