#!/usr/bin/env python3
"""A stock Freemail RTS is accepted by a real fcpmaild started with --interval-scale 0.002 on its
embedded simulated node (FCP over TCP). Freemail's RTS always says timeout = now + 7 days
(Channel.CHANNEL_TIMEOUT) whatever our interval scale; a daemon that judged it by its scaled
channel lifetime threw it away, marked the slot used, and a Freemail peer never resent it.

A stranger ("mallory", fixtures/keys/mallory.key) publishes its mailpage and puts on bob's RTS KSK
with `fcpmail node put`: an RTS with timeout now + 7 days (must become a contact request; approved,
a channel and a CTS), and one with timeout now + 10 days (beyond 7 days + 2 days of clock skew:
refused with a sentence naming the limit), and a 1.2 MB RTS of junk header lines encrypted to bob
(refused at once with a sentence naming the line cap)."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.daemon_run import DaemonRun, random_slot  # noqa: E402

SCALE = "0.002"  # 5 min polls -> 0.6 s; our own channels' 7 days -> 20 min
DAY_MS = 86_400_000

run = DaemonRun(SCALE, cli_timeout=120, wait_timeout=90)
fixtures = run.fixtures
fail, log_text, logged, start_daemon, cli, cli_json, wait_for = (run.fail, run.log_text, run.logged, run.start, run.cli,
                                                                 run.cli_json, run.wait_for)
node_put, genssk, rts_encode = run.node_put, run.genssk, run.mallory_rts
session = run.session
requests_of, create = session.requests_of, session.create


try:
    endpoints, fcp = start_daemon(tries=300)
    bob = create("bob")
    print("ok: account", bob, "node", fcp, "interval scale", SCALE)

    ids, accounts = run.identity_ids()
    bob_id = ids.get(bob)
    if not bob_id:
        fail("no identity id in `fcpmail account list --json`: " + json.dumps(accounts))

    ksk = run.rts_ksk(bob)

    m_insert, m_request = genssk(fcp)
    node_put(fcp, m_insert + "mailsite-1/mailpage", open(os.path.join(fixtures, "keys", "mallory.mailpage"), "rb").read(),
             "mallory.mailpage")
    mallory_site = "USK@" + m_request[4:-1] + "/mailsite/-1/mailpage"

    now_ms = int(time.time() * 1000)
    stock_responder_slot = random_slot()
    stock = rts_encode(fcp, mallory_site, bob_id, now_ms + 7 * DAY_MS, "stock.rts", stock_responder_slot)
    far = rts_encode(fcp, mallory_site, bob_id, now_ms + 10 * DAY_MS, "far.rts", random_slot())

    node_put(fcp, ksk(1), stock, "stock")
    node_put(fcp, ksk(2), far, "far")
    print("ok: a stock RTS (timeout now + 7 days) on", ksk(1), "and one 10 days ahead on", ksk(2))

    # First the point of this test: the stock RTS is not thrown away.
    wait_for("the stock RTS's contact request (or its refusal)",
             lambda: len(requests_of(bob)) == 1 or logged(f"RTS at {ksk(1)} dropped"))
    if logged(f"RTS at {ksk(1)} dropped"):
        fail("the stock RTS was dropped: " + logged(f"RTS at {ksk(1)} dropped")[0])
    request = requests_of(bob)[0]
    print("ok: the stock RTS became contact request", request.get("id"))

    wait_for("the 10-day RTS's refusal", lambda: logged(f"RTS at {ksk(2)} dropped: its timeout", "is too far ahead"))
    line = logged(f"RTS at {ksk(2)} dropped: its timeout")[0]
    if "7 days as Freemail sends plus 2 days for clock skew" not in line:
        fail("the refusal does not name the limit: " + line)
    print("ok: 10 days ahead refused:", line.split(" dropped: ", 1)[1])

    cli("requests", "approve", str(request["id"]))
    wait_for("the CTS insert on the stock RTS's responder slot",
             lambda: logged("CTS to ", " inserted"), timeout=90)
    q = cli_json("queues")
    channels = q.get("channels", []) if isinstance(q, dict) else []
    if len(channels) != 1:
        fail(f"expected one channel after approval, got {channels}")
    print("ok: approved; one channel;", logged("CTS to ", " inserted")[0].split(" ", 2)[2])

    # A stranger's 1.2 MB of junk header lines, encrypted to bob like any RTS (his key is on his
    # mailpage): refused at once, with the line cap named. `rts encode` seals only well-formed
    # fields, so this blob is sealed here: raw RSA on the 48-byte IV || key with Python integers,
    # AES-256-CBC (PKCS#7) by the openssl command line tool.
    if shutil.which("openssl") is None:
        print("SKIP (not counted): the junk-RTS check needs the openssl command; the unit tests cover it")
    else:
        page = dict(line.split("=", 1) for line in open(os.path.join(fixtures, "keys", "bob.mailpage")).read().split())
        n, e = int(page["asymkey.modulus"], 32), int(page["asymkey.pubexponent"], 32)
        k = (n.bit_length() + 7) // 8
        material = b"\x01" + os.urandom(47)
        rsa_block = pow(int.from_bytes(material, "big"), e, n).to_bytes(k, "big")
        junk = b"".join(b"k%d=v\r\n" % i for i in range(140_000))[:1_200_000] + b"\r\n" + b"\x5a" * k
        sealed = subprocess.run(["openssl", "enc", "-aes-256-cbc", "-K", material[16:].hex(), "-iv", material[:16].hex()],
                                input=junk, capture_output=True, check=True).stdout
        started = time.time()
        node_put(fcp, ksk(3), rsa_block + sealed, "junk")
        wait_for("the junk RTS's refusal", lambda: logged(f"RTS at {ksk(3)} dropped: "))
        took = time.time() - started
        line = logged(f"RTS at {ksk(3)} dropped: ")[0]
        if "its plaintext is malformed (too_many_lines: more than 64 lines" not in line:
            fail("the junk RTS was not refused for its lines: " + line)
        print(f"ok: {len(rsa_block) + len(sealed)}-byte junk RTS put and refused within {took:.1f} s (put, poll, "
              "decrypt):", line.split(" dropped: ", 1)[1])
    if run.daemon.poll() is not None:
        fail("the daemon died")
    if logged("internal error"):
        fail("internal error: " + logged("internal error")[0])
finally:
    run.finish()
print("PASS")
