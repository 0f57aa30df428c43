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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.daemon_run import DaemonRun  # noqa: E402

SCALE = "0.002"

# Two data dirs, each with its own daemon and log: mine (alice's) and another with a key of its own.
mine_run = DaemonRun(SCALE, log_tail=3000)
other_run = DaemonRun(SCALE, log_tail=3000)
fail = mine_run.fail


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
    mine, other = mine_run.data, other_run.data
    for d in (mine, other):
        os.mkdir(d, 0o700)
    mine_run.start(tries=300)
    mine_run.session.create("alice")
    mine_run.stop()
    other_run.start(tries=300)  # a fresh dir of its own: its own key
    other_run.stop()
    key_path = os.path.join(mine, "secret.key")
    right_key = open(key_path, "rb").read()
    shutil.copyfile(os.path.join(other, "secret.key"), key_path)
    os.chmod(key_path, 0o600)
    if open(key_path, "rb").read() == right_key:
        fail("setup: the two data dirs have the same key")

    before = snapshot(mine)
    try:
        r = subprocess.run(mine_run.command(), capture_output=True, text=True, timeout=20)
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
    mine_run.start(tries=300)
    if "alice@" not in mine_run.cli("account", "list").stdout:
        fail("with the right key back, the account is not there")
    mine_run.stop()
    print("ok: with the right key back the dir starts and alice is there")
    print("PASS")
finally:
    other_run.finish()
    mine_run.finish()
