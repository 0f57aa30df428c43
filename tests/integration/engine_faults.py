#!/usr/bin/env python3
"""Sim faults: the embedded node drops the FCP connection every 40th message and answers 20% of
fetches of present data with "not found". Mail between two accounts still arrives exactly once.

Every 40th message node-wide is often: at --interval-scale 0.0001 the pollers keep the connection
busy, so the multi-hop recipient lookup (GetIdentity, GetProperty, mailsite USK redirects 27 and 11,
GenerateSSK, the RTS insert) is cut off many times. It must resume at the step in flight (the FCP
adapter sends a request lost with the connection again; what was fetched is kept in the contact
row) instead of starting from scratch, which used to livelock."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.cli_session import imap_inbox  # noqa: E402
from harness.daemon_run import DaemonRun  # noqa: E402

run = DaemonRun("0.0001", cli_timeout=60, log_tail=4000)
work, fixtures, fail = run.work, run.fixtures, run.fail


def cli(*args, stdin=None):
    """fcpmail, tried up to 5 times (the node drops connections on purpose here)."""
    for attempt in range(5):
        r = run.cli(*args, stdin=stdin, check=False)
        if r.returncode == 0:
            return r.stdout
        time.sleep(0.5)
    fail(f"fcpmail {' '.join(args)}: {r.stdout} {r.stderr}")


def codes():
    entries = json.loads(cli("outbox", "list", "--json"))
    if isinstance(entries, dict):
        entries = entries.get("outbox", entries.get("messages", []))
    return {e["id"]: [r["code"] for r in e["recipients"]] for e in entries}


def inbox(endpoints, account):
    return imap_inbox(endpoints, account, "pw", errors="strict")


try:
    endpoints, _ = run.start(tries=100, options=("--outbound-approval", "auto", "--sim-faults", "0.2,40"))
    addr = {}
    for name in ("alice", "bob"):
        out = cli("account", "create", name, "--password-stdin", "--rsa-key", os.path.join(fixtures, "keys", name + ".key"),
                  stdin="pw\n")
        addr[name] = re.search(r"[a-z0-9]+@[a-z2-7]{52}\.freemail", out).group(0)
    cli("contacts", "add", addr["alice"], "--account", addr["bob"])  # bob accepts alice in advance
    path = os.path.join(work, "m.txt")
    ids = []
    n = 8
    for i in range(n):
        for frm, to in (("alice", "bob"), ("bob", "alice")):
            with open(path, "w", newline="") as f:
                f.write(f"From: {addr[frm]}\r\nTo: {addr[to]}\r\nSubject: fault {i}\r\n\r\n{frm} says {i}\r\n")
            out = cli("send", "--from", addr[frm], "--to", addr[to], "--file", path)
            ids.append(int(re.search(r"#(\d+)", out).group(1)))
    end = time.time() + 120
    while time.time() < end:
        c = codes()
        if all(c[i] == ["delivered"] for i in ids):
            break
        time.sleep(0.5)
    else:
        fail("not everything delivered: %r" % codes())
    for who, other in (("bob", "alice"), ("alice", "bob")):
        box = inbox(endpoints, addr[who])
        for i in range(n):
            copies = sum(f"{other} says {i}\r\n" in m for m in box)
            if copies != 1:
                fail(f"{who} has {copies} copies of {other}'s message {i}")
    reconnects = run.log_text().count("node connection lost")
    if reconnects < 1:
        fail("the node never dropped the connection: the fault path was not exercised")
    print(f"ok: {2 * n} messages exactly once with 20% false DNFs and {reconnects} dropped connections")
finally:
    run.finish()
