#!/usr/bin/env python3
"""Two fcpmaild daemons sharing one simulated node (the first embeds it, the second reaches it over
--fcp): alice in one, bob in the other, handshake with consent and mail both ways."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.cli_session import imap_inbox, wait_for_control  # noqa: E402
from harness.paths import BUILD as build, FIXTURES as fixtures, scratch_dir  # noqa: E402

work = scratch_dir()
daemons = []


def fail(why):
    print("FAIL:", why)
    for name in ("one", "two"):
        try:
            print(f"--- daemon {name}:\n" + open(os.path.join(work, name + ".log")).read()[-3000:])
        except OSError:
            pass
    sys.exit(1)


def start(name, node_args):
    data = os.path.join(work, name)
    log = open(os.path.join(work, name + ".log"), "w")
    p = subprocess.Popen([os.path.join(build, "fcpmaild"), "--data-dir", data, *node_args, "--imap-listen", "127.0.0.1:0",
                          "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--interval-scale", "0.0001"],
                         stdout=log, stderr=log)
    daemons.append(p)
    endpoints = wait_for_control(data)
    if endpoints is None:
        fail(name + " did not start")
    return data, endpoints


def cli(data, *args, stdin=None):
    r = subprocess.run([os.path.join(build, "fcpmail"), *args], input=stdin, capture_output=True, text=True,
                       env=dict(os.environ, FCPMAIL_DATA_DIR=data), timeout=60)
    if r.returncode != 0:
        fail(f"fcpmail {' '.join(args)}: {r.stdout} {r.stderr}")
    return r.stdout


def wait_for(what, pred, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if pred():
                return
        except (KeyError, IndexError, ValueError):
            pass
        time.sleep(0.2)
    fail("timed out waiting for " + what)


def create(data, name):
    out = cli(data, "account", "create", name, "--password-stdin", "--rsa-key",
              os.path.join(fixtures, "keys", name + ".key"), stdin="pw\n")
    return re.search(r"[a-z0-9]+@[a-z2-7]{52}\.freemail", out).group(0)


def requests(data):
    r = json.loads(cli(data, "requests", "list", "--json"))
    return r if isinstance(r, list) else r.get("requests", [])


def codes(data):
    entries = json.loads(cli(data, "outbox", "list", "--json"))
    if isinstance(entries, dict):
        entries = entries.get("outbox", entries.get("messages", []))
    return {e["id"]: [r["code"] for r in e["recipients"]] for e in entries}


def send(data, frm, to, body):
    path = os.path.join(work, "m.txt")
    with open(path, "w", newline="") as f:
        f.write(f"From: {frm}\r\nTo: {to}\r\nSubject: two daemons\r\n\r\n{body}\r\n")
    out = cli(data, "send", "--from", frm, "--to", to, "--file", path)
    return int(re.search(r"#(\d+)", out).group(1))


def inbox(endpoints, account):
    return imap_inbox(endpoints, account, "pw", errors="strict")


try:
    one, one_ep = start("one", ["--embedded-node"])
    port = None
    for _ in range(50):
        m = re.search(r"embedded simulated node listening on 127\.0\.0\.1:(\d+)", open(os.path.join(work, "one.log")).read())
        if m:
            port = m.group(1)
            break
        time.sleep(0.1)
    if not port:
        fail("no embedded node port in the log")
    two, two_ep = start("two", ["--fcp", "127.0.0.1:" + port])
    alice = create(one, "alice")
    bob = create(two, "bob")

    m1 = send(one, alice, bob, "from the first daemon")
    cli(one, "outbox", "approve", str(m1))
    wait_for("bob's request", lambda: len(requests(two)) == 1)
    cli(two, "requests", "approve", str(requests(two)[0]["id"]))
    wait_for("delivery to bob", lambda: codes(one)[m1] == ["delivered"])
    if not any("from the first daemon" in m for m in inbox(two_ep, bob)):
        fail("bob did not get the message")

    m2 = send(two, bob, alice, "from the second daemon")
    cli(two, "outbox", "approve", str(m2))
    wait_for("delivery to alice", lambda: codes(two)[m2] == ["delivered"])
    got = inbox(one_ep, alice)
    if len(got) != 1 or "from the second daemon" not in got[0] or "X-Fcpmail-Signature: valid" not in got[0]:
        fail("alice's inbox: %r" % got)
    print("ok: two daemons on one sim exchanged mail both ways")
finally:
    for p in reversed(daemons):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    shutil.rmtree(work, ignore_errors=True)
