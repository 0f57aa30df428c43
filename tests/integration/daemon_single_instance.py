#!/usr/bin/env python3
"""One fcpmaild per data dir. A second fcpmaild on a data dir that a running one holds exits 1 within
a few seconds with a sentence naming the running one's pid, also when it reaches the dir through a
symbolic link, and changes nothing: the first keeps serving (IMAP login, control API) and its
control.json is untouched. The lock is the kernel's (flock): after kill -9 of the holder, the lock file
left behind does not block a restart, and the restarted daemon finds its account again."""
import imaplib
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.cli_session import wait_for_control  # noqa: E402
from harness.paths import FCPMAIL as cli_bin, FCPMAILD as daemon_bin, FIXTURES as fixtures, scratch_dir  # noqa: E402


work = scratch_dir()
data = os.path.join(work, "data")
running = []


def fail(why):
    print("FAIL:", why)
    for name in sorted(os.listdir(work)):
        if name.endswith(".log"):
            print(f"--- {name}:\n" + open(os.path.join(work, name), errors="replace").read()[-3000:])
    cleanup()
    sys.exit(1)


def cleanup():
    for p in running:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(work, ignore_errors=True)


def daemon_command(data_dir):
    return [daemon_bin, "--data-dir", data_dir, "--embedded-node", "--imap-listen", "127.0.0.1:0", "--smtp-listen",
            "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interval-scale", "0.002"]


def start(name):
    """A daemon that is expected to start: waits for its own pid in control.json."""
    log = open(os.path.join(work, name + ".log"), "w")
    p = subprocess.Popen(daemon_command(data), stdout=log, stderr=log)
    running.append(p)
    for _ in range(300):
        if p.poll() is not None:
            fail(f"{name} exited with {p.returncode} while starting")
        endpoints = wait_for_control(data, tries=1)
        if endpoints and endpoints.get("pid") == p.pid:
            return p, endpoints
        time.sleep(0.1)
    fail(f"{name} wrote no control.json with its pid")


def refused(name, data_dir, holder_pid):
    """A daemon that must not start: exit 1 within a few seconds, naming the holder's pid."""
    started = time.time()
    try:
        r = subprocess.run(daemon_command(data_dir), capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        fail(f"{name}: still running after 20 s: it started on a data dir another fcpmaild holds")
    took = time.time() - started
    if r.returncode != 1:
        fail(f"{name}: exit {r.returncode}, want 1; stderr: {r.stderr!r}")
    if took > 10:
        fail(f"{name}: took {took:.1f}s to give up")
    want = f"is already in use by another fcpmaild (pid {holder_pid})"
    if want not in r.stderr:
        fail(f"{name}: stderr does not say {want!r}: {r.stderr!r}")
    return r.stderr.strip(), took


def cli(*args, stdin=None):
    r = subprocess.run([cli_bin, *args, "--data-dir", data], input=stdin, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"fcpmail {' '.join(args)}: {r.stdout} {r.stderr}")
    return r.stdout


def imap_login(endpoints, account):
    host, port = endpoints["imap"].rsplit(":", 1)
    with imaplib.IMAP4(host, int(port)) as imap:
        imap.login(account, "pw")
        typ, _ = imap.select("INBOX", readonly=True)
        if typ != "OK":
            fail("SELECT INBOX: " + typ)


try:
    first, endpoints = start("first")
    out = cli("account", "create", "alice", "--password-stdin", "--rsa-key", os.path.join(fixtures, "keys", "alice.key"),
              stdin="pw\n")
    alice = next(w for w in out.split() if w.endswith(".freemail"))
    control_before = open(os.path.join(data, "control.json"), "rb").read()

    # A second daemon on the same dir, by its path and through a symbolic link to it.
    message, took = refused("second", data, first.pid)
    lock = os.path.join(data, "fcpmaild.lock")
    if not os.path.isfile(lock) or os.stat(lock).st_mode & 0o777 != 0o600:
        fail("no 0600 fcpmaild.lock in the data dir: %s" % sorted(os.listdir(data)))
    link = os.path.join(work, "link-to-data")
    os.symlink(data, link)
    refused("second through a symlink", link, first.pid)
    if first.poll() is not None:
        fail("the first daemon died when the second one tried to start")
    if open(os.path.join(data, "control.json"), "rb").read() != control_before:
        fail("control.json changed: %r" % open(os.path.join(data, "control.json")).read())
    imap_login(endpoints, alice)
    if alice not in cli("account", "list"):
        fail("the control API of the first daemon no longer lists alice")
    print(f"ok: a second fcpmaild exits 1 in {took:.1f}s: {message!r}; the first still serves IMAP and the API")

    # kill -9: the kernel drops the lock; the file stays behind and must not block a restart.
    first.send_signal(signal.SIGKILL)
    first.wait()
    if not os.path.exists(lock):
        fail("the lock file vanished")
    third, endpoints = start("third")
    imap_login(endpoints, alice)
    if alice not in cli("account", "list"):
        fail("alice is gone after the restart")
    refused("fourth", data, third.pid)
    print(f"ok: after kill -9 the stale {os.path.basename(lock)} did not block a restart (pid {third.pid}), "
          f"which holds the dir in turn")
    third.terminate()
    third.wait(timeout=20)
    print("PASS")
finally:
    cleanup()
