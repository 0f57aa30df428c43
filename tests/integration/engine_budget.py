#!/usr/bin/env python3
"""FCP request budget of an idle channel, measured on fcpmaild talking to the simulated node over
TCP: with Freemail's default intervals (scaled by 1/1000, so one hour lasts 3.6 s) a channel end
must cost at most 20 FCP requests per hour (Freemail: up to 84)."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.daemon_run import DaemonRun  # noqa: E402

HOUR = 3.6  # seconds, at --interval-scale 0.001
run = DaemonRun("0.001", cli_timeout=60, log_tail=3000)
work, fixtures, fail = run.work, run.fixtures, run.fail


def cli(*args, stdin=None):
    return run.cli(*args, stdin=stdin).stdout


try:
    run.start(tries=100, listen=("--no-imap", "--no-smtp", "--http-listen", "127.0.0.1:0"),
              options=("--contact-requests", "auto", "--outbound-approval", "auto"))
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
    run.finish()
