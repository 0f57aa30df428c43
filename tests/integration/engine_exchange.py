#!/usr/bin/env python3
"""fcpmaild on its embedded simulated node (real FCP over TCP), driven through the fcpmail CLI and
read back over IMAP: two accounts in one daemon complete the handshake with consent and approvals
and exchange mail both ways; a denied stranger gets no channel; a SIGKILL in the middle of an
exchange loses and duplicates nothing."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.daemon_run import DaemonRun  # noqa: E402

SCALE = "0.0001"  # 12 h ack delay -> 4.3 s, 5 min polls -> 30 ms

run = DaemonRun(SCALE, cli_timeout=60, wait_timeout=60, log_tail=4000)
fail, cli, cli_json, wait_for, outbox_codes = run.fail, run.cli, run.cli_json, run.wait_for, run.outbox_codes
session = run.session
requests_of, inbox, create, send = session.requests_of, session.inbox, session.create, session.send


def start_daemon():
    endpoints, _ = run.start()
    return endpoints


try:
    endpoints = start_daemon()
    alice = create("alice")
    bob = create("bob")
    carol = create("carol")
    print("ok: accounts", alice, bob, carol)

    # alice -> bob: held, then released; bob is asked before any CTS.
    m1 = send(alice, bob, "hello bob", "first over the sim")
    assert outbox_codes(alice)[m1] == ["held"], outbox_codes(alice)
    cli("outbox", "approve", str(m1))
    wait_for("bob's contact request", lambda: len(requests_of(bob)) == 1)
    time.sleep(1)
    if inbox(endpoints, bob):
        fail("mail delivered before consent")
    cli("requests", "approve", str(requests_of(bob)[0]["id"]))
    wait_for("delivery to bob", lambda: outbox_codes(alice)[m1] == ["delivered"])
    got = inbox(endpoints, bob)
    if len(got) != 1 or "first over the sim" not in got[0] or "X-Fcpmail-Signature: valid" not in got[0]:
        fail("bob's inbox: %r" % got)
    print("ok: alice -> bob with consent and approval")

    # bob -> alice on the same channel, no request for alice (she wrote first).
    m2 = send(bob, alice, "re: hello", "answer from bob")
    cli("outbox", "approve", "--all", "--account", bob)
    wait_for("delivery to alice", lambda: outbox_codes(bob)[m2] == ["delivered"])
    if requests_of(alice):
        fail("alice was asked about bob")
    got = inbox(endpoints, alice)
    if len(got) != 1 or "answer from bob" not in got[0]:
        fail("alice's inbox: %r" % got)
    print("ok: bob -> alice")

    # carol -> alice, denied: no CTS, nothing delivered.
    m3 = send(carol, alice, "spam", "unwanted")
    cli("outbox", "approve", str(m3))
    wait_for("alice's request from carol", lambda: len(requests_of(alice)) == 1)
    cli("requests", "deny", str(requests_of(alice)[0]["id"]))
    time.sleep(2)
    if any("unwanted" in m for m in inbox(endpoints, alice)):
        fail("denied mail delivered")
    if outbox_codes(carol)[m3] == ["delivered"]:
        fail("denied mail acknowledged")
    print("ok: denied request")

    # SIGKILL during a multi-message exchange: every message exactly once.
    count = int(os.environ.get("ENGINE_CRASH_MESSAGES", "12"))  # per direction
    max_kills = int(os.environ.get("ENGINE_CRASH_KILLS", "4"))
    kill_every = float(os.environ.get("ENGINE_CRASH_INTERVAL", "1.5"))  # seconds between SIGKILLs
    ids_a = [send(alice, bob, f"burst {i}", f"alice burst {i}") for i in range(count)]
    ids_b = [send(bob, alice, f"burst {i}", f"bob burst {i}") for i in range(count)]
    cli("outbox", "approve", "--all")
    kills = 0
    deadline = time.time() + 600
    while time.time() < deadline:
        time.sleep(kill_every)
        run.daemon.send_signal(signal.SIGKILL)
        run.daemon.wait()
        kills += 1
        endpoints = start_daemon()
        done_a = outbox_codes(alice)
        done_b = outbox_codes(bob)
        if all(done_a[i] == ["delivered"] for i in ids_a) and all(done_b[i] == ["delivered"] for i in ids_b):
            break
        if kills >= max_kills:
            wait_for("the burst to be delivered",
                     lambda: all(outbox_codes(alice)[i] == ["delivered"] for i in ids_a)
                     and all(outbox_codes(bob)[i] == ["delivered"] for i in ids_b), timeout=120)
            break
    bob_box = inbox(endpoints, bob)
    alice_box = inbox(endpoints, alice)
    for i in range(count):
        n_b = sum(f"alice burst {i}\r\n" in m for m in bob_box)
        n_a = sum(f"bob burst {i}\r\n" in m for m in alice_box)
        if n_b != 1 or n_a != 1:
            fail(f"burst {i}: bob has {n_b}, alice has {n_a} copies")
    print(f"ok: {2 * count} messages exactly once across {kills} SIGKILLs")

    run.daemon.send_signal(signal.SIGTERM)
    if run.daemon.wait(timeout=10) != 0:
        fail("daemon did not stop cleanly on SIGTERM")
    print("ok: all")
finally:
    run.finish()
