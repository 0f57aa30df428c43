#!/usr/bin/env python3
"""Two fcpmaild daemons sharing one simulated node (the first embeds it, the second reaches it over
--fcp): alice in one, bob in the other, handshake with consent and mail both ways."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.cli_session import imap_inbox  # noqa: E402
from harness.daemon_set import DaemonSet  # noqa: E402

daemons = DaemonSet(["one", "two"], cli_timeout=60, wait_timeout=60)
work = daemons.work
fail, wait_for, create, requests, codes = daemons.fail, daemons.wait_for, daemons.create, daemons.requests, daemons.codes


def start(name, node_args):
    _, data, endpoints = daemons.start(name, node_args)
    return data, endpoints


def cli(data, *args):
    return daemons.cli(data, *args).stdout


def send(data, frm, to, body):
    return daemons.send(data, frm, to, "two daemons", body)


def inbox(endpoints, account):
    return imap_inbox(endpoints, account, "pw", errors="strict")


try:
    one, one_ep = start("one", ["--embedded-node"])
    port = None
    for _ in range(50):
        m = re.search(r"embedded simulated node listening on 127\.0\.0\.1:(\d+)", daemons.log_text("one"))
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
    daemons.finish()
