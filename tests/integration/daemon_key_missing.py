#!/usr/bin/env python3
"""A data dir whose fcpmail.db exists but whose secret.key is missing, empty or short is refused:
fcpmaild exits 1 with a sentence that names the missing key, the database it seals and what to
restore, and writes nothing (no new key, no control.json, no database change; only fcpmaild.lock
records the pid of the last daemon that held the dir). With the key put back, the same dir starts
and the account is there. A fresh dir still makes its key: 32 bytes, 0600, no temporary file left."""
import hashlib
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.cli_session import wait_for_control  # noqa: E402
from harness.paths import FCPMAIL as cli_bin, FCPMAILD as daemon_bin, FIXTURES as fixtures, scratch_dir  # noqa: E402


work = scratch_dir()
data = os.path.join(work, "data")
log_path = os.path.join(work, "daemon.log")
daemon = None


def fail(why):
    print("FAIL:", why)
    try:
        print(open(log_path, errors="replace").read()[-4000:])
    except OSError:
        pass
    cleanup()
    sys.exit(1)


def cleanup():
    if daemon and daemon.poll() is None:
        daemon.kill()
        daemon.wait()
    shutil.rmtree(work, ignore_errors=True)


def command():
    return [daemon_bin, "--data-dir", data, "--embedded-node", "--imap-listen", "127.0.0.1:0", "--smtp-listen",
            "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interval-scale", "0.002"]


def start():
    global daemon
    if os.path.exists(os.path.join(data, "control.json")):
        os.unlink(os.path.join(data, "control.json"))
    daemon = subprocess.Popen(command(), stdout=open(log_path, "a"), stderr=subprocess.STDOUT)
    for _ in range(300):
        if daemon.poll() is not None:
            fail(f"the daemon exited with {daemon.returncode} while starting")
        endpoints = wait_for_control(data, tries=1)
        if endpoints and endpoints.get("pid") == daemon.pid:
            return endpoints
        time.sleep(0.1)
    fail("the daemon wrote no control.json")


def stop():
    daemon.terminate()
    if daemon.wait(timeout=30) != 0:
        fail(f"the daemon exited with {daemon.returncode} on SIGTERM")


def cli(*args, stdin=None):
    r = subprocess.run([cli_bin, *args, "--data-dir", data], input=stdin, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"fcpmail {' '.join(args)}: {r.stdout} {r.stderr}")
    return r.stdout


def snapshot():
    """name -> (mode, size, sha256, mtime) of every file in the data dir; fcpmaild.lock by name only."""
    out = {}
    for name in sorted(os.listdir(data)):
        path = os.path.join(data, name)
        if name == "fcpmaild.lock":
            out[name] = "present"
            continue
        st = os.lstat(path)
        out[name] = (st.st_mode, st.st_size, hashlib.sha256(open(path, "rb").read()).hexdigest(), st.st_mtime_ns)
    return out


def refused(case):
    before = snapshot()
    started = time.time()
    try:
        r = subprocess.run(command(), capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        fail(f"{case}: still running after 20 s: it started without the key that seals fcpmail.db")
    took = time.time() - started
    if r.returncode != 1:
        fail(f"{case}: exit {r.returncode}, want 1; output: {r.stdout!r} {r.stderr!r}")
    after = snapshot()
    if after != before:
        changed = sorted(set(before) ^ set(after) | {k for k in before if k in after and before[k] != after[k]})
        fail(f"{case}: the refused start changed the data dir: {changed}")
    return r.stderr.strip(), took


try:
    # A fresh dir makes its key.
    start()
    key_path = os.path.join(data, "secret.key")
    st = os.stat(key_path)
    if st.st_size != 32 or st.st_mode & 0o777 != 0o600:
        fail(f"secret.key: {st.st_size} bytes, mode {st.st_mode & 0o777:o}; want 32 bytes, 600")
    if [n for n in os.listdir(data) if n.endswith(".tmp")]:
        fail("a temporary file is left in the data dir: %s" % os.listdir(data))
    cli("account", "create", "alice", "--password-stdin", "--rsa-key", os.path.join(fixtures, "keys", "alice.key"),
        stdin="pw\n")
    stop()
    key = open(key_path, "rb").read()
    db = os.path.join(data, "fcpmail.db")
    print("ok: a fresh data dir made a 32-byte 0600 secret.key")

    # Missing.
    os.unlink(key_path)
    message, took = refused("missing key")
    for want in (f"{key_path} is missing but {db} exists", "restore secret.key from your backup"):
        if want not in message:
            fail(f"missing key: the message does not say {want!r}: {message!r}")
    if os.path.exists(key_path):
        fail("a new secret.key was written")
    print(f"ok: missing key refused in {took:.1f}s, nothing written: {message!r}")

    # Empty, short.
    for case, content in (("empty key", b""), ("short key", key[:5])):
        with open(key_path, "wb") as f:
            f.write(content)
        os.chmod(key_path, 0o600)
        message, _ = refused(case)
        want = "is empty" if not content else "has 5 bytes where a key has 32"
        if want not in message or "restore secret.key from your backup" not in message:
            fail(f"{case}: the message does not say {want!r} and what to restore: {message!r}")
        if open(key_path, "rb").read() != content:
            fail(f"{case}: secret.key was rewritten")
        print(f"ok: {case} refused: {message!r}")

    # The key put back: the same dir starts, and the account is there.
    with open(key_path, "wb") as f:
        f.write(key)
    start()
    if "alice" not in cli("account", "list"):
        fail("alice is gone after the key was restored")
    if open(key_path, "rb").read() != key:
        fail("the restored key was replaced")
    stop()
    print("ok: with secret.key restored the data dir starts again and alice is there")
    print("PASS")
finally:
    cleanup()
