#!/usr/bin/env python3
"""Hostile peers against the real fcpmaild on its embedded simulated node (FCP over TCP). A stranger
("mallory", fixtures/keys/mallory.key) reads bob's mailpage and puts hostile blobs on bob's RTS KSK
with `fcpmail node put`: garbage, a truncated RTS, 2 MiB + 1 bytes, a correctly signed RTS for
someone else, an expired one, one whose sender mailpage has a 1-bit RSA modulus, and a valid one
replayed on later slots. Each must be refused with a
log line that says why (the 2 MiB + 1 blob by MaxSize: never downloaded), nothing may reach bob's
IMAP INBOX, the valid one makes exactly one contact request and no channel or CTS, and the daemon
keeps serving: afterwards a legitimate message from alice (a second account) still arrives.
(The same blob on another UTC day's slot is covered by tests/unit/engine/hostile_peer_test.cpp:
a past day stops being polled seconds after the account appears at this interval scale.)"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.daemon_run import DaemonRun  # noqa: E402

SCALE = "0.0001"  # 5 min polls -> 30 ms; a channel's 7 days -> 60 s (an RTS timeout may still be 7 + 2 days ahead)
RTS_LIMIT = 2 * 1024 * 1024

run = DaemonRun(SCALE, cli_timeout=60, wait_timeout=120)  # generous: RSA-4096 per blob on a loaded 2-core CI
fixtures = run.fixtures
fail, log_text, logged, start_daemon, cli, cli_json, wait_for = (run.fail, run.log_text, run.logged, run.start, run.cli,
                                                                 run.cli_json, run.wait_for)
node_put, genssk = run.node_put, run.genssk
session = run.session
requests_of, inbox, create, send = session.requests_of, session.inbox, session.create, session.send


def rts_encode(mailsite, to, timeout_ms, out_name):
    return run.mallory_rts(fcp, mailsite, to, timeout_ms, out_name)


try:
    endpoints, fcp = start_daemon()
    alice = create("alice")
    bob = create("bob")
    print("ok: accounts", alice, bob, "node", fcp)

    ids, accounts = run.identity_ids()
    if not ids.get(bob) or not ids.get(alice):
        fail("no identity ids in `fcpmail account list --json`: " + json.dumps(accounts))

    # The KSKs the daemon polls for bob, as `fcpmail queues` shows them.
    ksk = run.rts_ksk(bob)
    print("ok: bob's RTS KSK", ksk("N"))

    # Mallory's mailpage, published under an SSK of mallory's own.
    m_insert, m_request = genssk(fcp)
    node_put(fcp, m_insert + "mailsite-1/mailpage", open(os.path.join(fixtures, "keys", "mallory.mailpage"), "rb").read(),
             "mallory.mailpage")
    mallory_site = "USK@" + m_request[4:-1] + "/mailsite/-1/mailpage"

    # A second stranger whose mailpage carries a 1-bit RSA modulus.
    w_insert, w_request = genssk(fcp)
    node_put(fcp, w_insert + "mailsite-1/mailpage",
             b"rtsksk=abcdefghijklmnopqrstuvwxyzabcdef\r\nasymkey.modulus=1\r\nasymkey.pubexponent=h\r\n", "weak.mailpage")
    weak_site = "USK@" + w_request[4:-1] + "/mailsite/-1/mailpage"

    now_ms = int(time.time() * 1000)
    valid = rts_encode(mallory_site, ids[bob], now_ms + 150_000, "valid.rts")
    wrong_to = rts_encode(mallory_site, ids[alice], now_ms + 150_000, "wrong-to.rts")
    expired = rts_encode(mallory_site, ids[bob], now_ms - 60_000, "expired.rts")
    weak = rts_encode(weak_site, ids[bob], now_ms + 150_000, "weak-key.rts")
    blobs = [
        ("garbage", os.urandom(len(valid)), "dropped: not readable with our key"),
        ("truncated", valid[:700], "dropped: not readable with our key"),
        ("2 MiB + 1", os.urandom(RTS_LIMIT + 1), f"refused: larger than the {RTS_LIMIT}-byte limit, not downloaded"),
        ("wrong to", wrong_to, "dropped: addressed to someone else"),
        ("expired", expired, "dropped: expired: its channel timed out at"),
        ("1-bit modulus mailpage", weak, "dropped: the sender's mailpage is unusable: mailpage: asymkey.modulus has 1 bits"),
        ("valid", valid, None),
        ("replay", valid, "dropped: a repeat of an RTS already handled"),
    ]
    for n, (what, blob, _) in enumerate(blobs, start=1):
        node_put(fcp, ksk(n), blob, f"blob-{n}")
    print("ok: hostile blobs inserted on", ksk(f"1..{len(blobs)}"))

    for n, (what, _, expect) in enumerate(blobs, start=1):
        if expect:
            wait_for(f"the log line for the {what} blob", lambda: logged(f"RTS at {ksk(n)} ", expect), timeout=120)
            print(f"ok: {what}:", logged(f"RTS at {ksk(n)} ", expect)[0].split(" ", 2)[2])
    wait_for("mallory's contact request", lambda: len(requests_of(bob)) == 1)
    # The oversized blob was refused by the node on the daemon's MaxSize, never stored for checking.
    if logged(f"RTS found at {ksk(3)}"):
        fail("the 2 MiB + 1 blob was downloaded")
    # The replay once more, on a later slot, after the request exists.
    node_put(fcp, ksk(len(blobs) + 1), valid, "replay-again")
    wait_for("the second replay's log line", lambda: logged(f"RTS at {ksk(len(blobs) + 1)} ", "a repeat of an RTS already handled"))
    time.sleep(1)
    reqs = requests_of(bob)
    if len(reqs) != 1:
        fail(f"expected exactly one contact request (mallory's), got {reqs}")
    q = cli_json("queues")
    channels = q.get("channels", []) if isinstance(q, dict) else []
    if channels:
        fail(f"a channel exists though nothing was approved: {channels}")
    if inbox(endpoints, bob):
        fail("something reached bob's INBOX")
    if run.daemon.poll() is not None:
        fail("the daemon died")
    if logged("internal error"):
        fail("internal error: " + logged("internal error")[0])
    print("ok: one contact request, no channel, empty INBOX, daemon alive")

    # Still serving: a legitimate message from alice arrives.
    cli("contacts", "add", alice, "--account", bob, check=False)
    m1 = send(alice, bob, "legit", "a legitimate message after the hostile ones")
    cli("outbox", "approve", str(m1))

    def alice_request():
        for r in requests_of(bob):
            if alice.split("@")[1] in json.dumps(r):
                return r
        return None

    def delivered():
        got = inbox(endpoints, bob)
        return len(got) == 1 and "a legitimate message after the hostile ones" in got[0]

    end = time.time() + 90
    while time.time() < end and not delivered():
        r = alice_request()
        if r:
            cli("requests", "approve", str(r["id"]))
        time.sleep(0.3)
    if not delivered():
        fail("the legitimate message did not arrive: " + repr(inbox(endpoints, bob)))
    if run.daemon.poll() is not None:
        fail("the daemon died")
    print("ok: the legitimate message from alice arrived; bob's INBOX holds only it")
finally:
    run.finish()
print("PASS")
