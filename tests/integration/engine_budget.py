#!/usr/bin/env python3
"""FCP request budget of an idle channel, measured on fcpmaild talking to the simulated node over
TCP: with Freemail's default intervals (scaled by 1/1000, so one hour lasts 3.6 s) a channel end
must cost at most 20 FCP requests per hour (Freemail: up to 84)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.paths import BUILD as build, FIXTURES as fixtures, scratch_dir  # noqa: E402

work = scratch_dir()
data = os.path.join(work, "data")
HOUR = 3.6  # seconds, at --interval-scale 0.001
daemon = None


def fail(why):
    print("FAIL:", why)
    try:
        print(open(os.path.join(work, "daemon.log")).read()[-3000:])
    except OSError:
        pass
    sys.exit(1)


def cli(*args, stdin=None):
    r = subprocess.run([os.path.join(build, "fcpmail"), *args], input=stdin, capture_output=True, text=True,
                       env=dict(os.environ, FCPMAIL_DATA_DIR=data), timeout=60)
    if r.returncode != 0:
        fail(f"fcpmail {' '.join(args)}: {r.stdout} {r.stderr}")
    return r.stdout


try:
    log = open(os.path.join(work, "daemon.log"), "w")
    daemon = subprocess.Popen([os.path.join(build, "fcpmaild"), "--data-dir", data, "--embedded-node", "--no-imap",
                               "--no-smtp", "--http-listen", "127.0.0.1:0", "--interval-scale", "0.001",
                               "--contact-requests", "auto", "--outbound-approval", "auto"], stdout=log, stderr=log)
    for _ in range(100):
        if os.path.exists(os.path.join(data, "control.json")):
            break
        time.sleep(0.1)
    addr = {}
    for name in ("alice", "bob"):
        out = cli("account", "create", name, "--password-stdin", "--rsa-key", os.path.join(fixtures, "keys", name + ".key"),
                  stdin="pw\n")
        addr[name] = re.search(r"[a-z0-9]+@[a-z2-7]{52}\.freemail", out).group(0)
    path = os.path.join(work, "m.txt")
    with open(path, "w", newline="") as f:
        f.write(f"From: {addr['alice']}\r\nTo: {addr['bob']}\r\nSubject: budget\r\n\r\nhello\r\n")
    cli("send", "--from", addr["alice"], "--to", addr["bob"], "--file", path)

    def both_ends_polling():
        q = json.loads(cli("queues", "--json"))
        chans = q["channels"]
        return len(chans) == 2 and all(c["state"] == "open" and c["polled_window"].startswith("slots") for c in chans)

    end = time.time() + 60
    while not both_ends_polling():
        if time.time() > end:
            fail("the channel did not open")
        time.sleep(0.2)
    time.sleep(HOUR / 2)  # let the first look-ahead windows pass

    def counters():
        s = json.loads(cli("status", "--json"))
        return s["fcp_requests_by_purpose"].get("channel-poll", 0), s["fcp_requests_total"]

    c0, t0 = counters()
    hours = 3
    time.sleep(HOUR * hours)
    c1, t1 = counters()
    per_end_hour = (c1 - c0) / 2 / hours
    print(f"idle channel: {per_end_hour:.1f} FCP requests per channel-hour (per end; Freemail: up to 84); "
          f"whole daemon with 2 accounts: {(t1 - t0) / hours:.0f} requests per hour")
    if per_end_hour > 20:
        fail("over budget")
    if per_end_hour < 10:
        fail("the head slot is not being polled every 5 minutes")
    print("ok")
finally:
    if daemon and daemon.poll() is None:
        daemon.terminate()
        daemon.wait(timeout=10)
    shutil.rmtree(work, ignore_errors=True)
