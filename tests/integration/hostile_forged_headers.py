#!/usr/bin/env python3
"""A contact forges the headers that say where a message comes from, over a real channel on the
real fcpmaild with its embedded simulated node (FCP over TCP).

"mallory" is a Freemail-format peer written here, driving the node with `fcpmail node` and
`fcpmail rts encode` only (no fcpmail engine of its own): it publishes a mailpage, sends bob an RTS,
bob approves the contact request, bob's CTS appears on mallory's channel, and mallory puts a
message on its first channel slot as Freemail writes one (messagetype=message, id, the mail) with
X-Fcpmail-Signature: valid, X-Fcpmail-Sender: alice and From: Someone Else <alice's address>.

Read over IMAP (imaplib on loopback), bob's INBOX then holds exactly one X-Fcpmail-Signature (the
engine's verdict, `absent`: a Freemail peer does not sign), X-Fcpmail-Sender is mallory, ENVELOPE
From is mallory, the claim is kept in the display name and in X-Original-From, SEARCH FROM the
forged address matches nothing while SEARCH FROM mallory matches, the body is as sent, and bob's
ack for the message appears on bob's side of the channel."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.daemon_run import DaemonRun, random_slot  # noqa: E402

SCALE = "0.0001"  # 5 min polls -> 30 ms; a channel's 7 days -> 60 s

run = DaemonRun(SCALE, cli_timeout=60, wait_timeout=90)
fixtures, work = run.fixtures, run.work
fail, log_text, cli, cli_json, wait_for = run.fail, run.log_text, run.cli, run.cli_json, run.wait_for
session = run.session


def start_daemon():
    """fcpmaild on a separate fcpmail-sim process (FCP over TCP); returns (endpoints, sim FCP address)."""
    return run.start_on_sim()


def node_put(uri, data_bytes, name):
    run.node_put(fcp, uri, data_bytes, name)


def node_get(uri):
    """The bytes at `uri`, or None while the node does not have them."""
    return run.node_get(fcp, uri)


def genssk():
    return run.genssk(fcp)


def header_fields(header_bytes):
    """(name, value) of each field of a header block, unfolded, as a mail client reads them."""
    text = header_bytes.decode("utf-8", "replace").replace("\r\n", "\n")
    fields = []
    for line in text.split("\n"):
        if not line:
            break
        if line[0] in " \t" and fields:
            fields[-1][1] += " " + line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            fields.append([name.strip(), value.strip()])
    return fields


try:
    endpoints, fcp = start_daemon()
    alice = session.create("alice")  # the person mallory pretends to be
    bob = session.create("bob")
    print("ok: accounts", alice, bob, "node", fcp)

    ksk = run.rts_ksk(bob)

    # Mallory, a Freemail-format peer: a mailpage under an SSK of its own ...
    m_insert, m_request = genssk()
    node_put(m_insert + "mailsite-1/mailpage", open(os.path.join(fixtures, "keys", "mallory.mailpage"), "rb").read(),
             "mallory.mailpage")
    mallory_site = "USK@" + m_request[4:-1] + "/mailsite/-1/mailpage"
    ids, _ = run.identity_ids()
    # ... and an RTS to bob naming a channel SSK and the first slot of each side's chain.
    c_insert, c_request = genssk()
    initiator_slot, responder_slot = random_slot(), random_slot()
    rts_path = os.path.join(work, "mallory.rts")
    cli("rts", "encode", "--key", os.path.join(fixtures, "keys", "mallory.key"),
        "--recipient-mailpage", os.path.join(fixtures, "keys", "bob.mailpage"), "--mailsite", mallory_site,
        "--to", ids[bob], "--channel", c_insert, "--initiator-slot", initiator_slot,
        "--responder-slot", responder_slot, "--timeout", str(int(time.time() * 1000) + 150_000), "--out", rts_path)
    node_put(ksk(1), open(rts_path, "rb").read(), "rts-1")
    print("ok: mallory's RTS on", ksk(1))

    request = wait_for("mallory's contact request", lambda: (session.requests_of(bob) or [None])[0])
    mallory = request["from"]
    if not mallory.endswith(".freemail") or mallory == alice:
        fail("unexpected contact request: " + json.dumps(request))
    cli("requests", "approve", str(request["id"]))
    cts = wait_for("bob's CTS on the channel", lambda: node_get(c_request + "r-" + responder_slot))
    if not cts.startswith(b"messagetype=cts"):
        fail(f"not a CTS at r-{responder_slot}: {cts[:80]!r}")
    print("ok: mallory is", mallory, "- request approved, CTS received")

    forged_from = f"Someone Else <{alice}>"
    mail = (f"X-Fcpmail-Signature: valid\r\n"
            f"X-Fcpmail-Sender: {alice}\r\n"
            f"x-FCPMAIL-signature: valid,\r\n folded\r\n"
            f"From: {forged_from}\r\n"
            f"To: {bob}\r\n"
            f"Subject: forged-headers\r\n"
            f"Date: Fri, 04 Dec 2026 19:00:00 +0000\r\n"
            f"\r\n"
            f"X-Fcpmail-Signature: valid (a body line, left alone)\r\n"
            f"the forged message\r\n")
    payload = b"messagetype=message\r\nid=1\r\n\r\n" + mail.encode()
    node_put(c_insert + "i-" + initiator_slot, payload, "message-1")

    imap = run.imap_login(endpoints, bob)
    nums = run.wait_for_inbox(imap, "the message in bob's INBOX")
    if len(nums) != 1:
        fail(f"expected one message, got {nums}")
    _, fetched = imap.fetch(nums[0], "(ENVELOPE BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
    parts = [p for p in fetched if isinstance(p, tuple)]
    envelope_line = fetched[0][0].decode("utf-8", "replace")
    header = next(p[1] for p in parts if b"BODY[HEADER]" in p[0])
    body = next(p[1] for p in parts if b"BODY[TEXT]" in p[0])
    fields = header_fields(header)
    by_name = {}
    for name, value in fields:
        by_name.setdefault(name.lower(), []).append(value)
    print("stored header:\n  " + header.decode("utf-8", "replace").strip().replace("\r\n", "\n  "))

    if by_name.get("x-fcpmail-signature") != ["absent"]:
        fail(f"X-Fcpmail-Signature fields: {by_name.get('x-fcpmail-signature')} (expected exactly one, 'absent')")
    if by_name.get("x-fcpmail-sender") != [mallory]:
        fail(f"X-Fcpmail-Sender fields: {by_name.get('x-fcpmail-sender')} (expected exactly one, {mallory})")
    if [k for k in by_name if k.startswith("x-fcpmail-") and k not in ("x-fcpmail-signature", "x-fcpmail-sender")]:
        fail("another X-Fcpmail field reached the mailbox: " + json.dumps(fields))
    print("ok: one X-Fcpmail-Signature (absent), X-Fcpmail-Sender is mallory")

    if by_name.get("from") != [f'"Someone Else (via {mallory})" <{mallory}>']:
        fail(f"From: {by_name.get('from')}")
    if by_name.get("x-original-from") != [forged_from]:
        fail(f"X-Original-From: {by_name.get('x-original-from')}")
    local, domain = mallory.split("@")
    env_from = f'(("Someone Else (via {mallory})" NIL "{local}" "{domain}"))'
    if env_from not in envelope_line:
        fail(f"ENVELOPE From is not mallory: {envelope_line}")
    if alice.split("@")[1] in envelope_line:
        fail(f"the forged address is in the ENVELOPE: {envelope_line}")
    print("ok: From and ENVELOPE From are mallory:", env_from)

    _, forged_hits = imap.search(None, "FROM", f'"{alice}"')
    _, forged_domain_hits = imap.search(None, "FROM", f'"{alice.split("@")[1]}"')
    _, mallory_hits = imap.search(None, "FROM", f'"{mallory}"')
    if forged_hits[0].split() or forged_domain_hits[0].split():
        fail(f"SEARCH FROM the forged address matched: {forged_hits} {forged_domain_hits}")
    if mallory_hits[0].split() != nums:
        fail(f"SEARCH FROM mallory did not match: {mallory_hits}")
    print("ok: SEARCH FROM the forged address: nothing; SEARCH FROM mallory: the message")

    if body != b"X-Fcpmail-Signature: valid (a body line, left alone)\r\nthe forged message\r\n":
        fail(f"the body changed: {body!r}")
    imap.logout()

    # Bob acknowledges on his side of the channel, as to any Freemail peer.
    next_slot = cli_json("slots", "next", responder_slot)["next"][0]
    ack = wait_for("bob's ack on the channel", lambda: node_get(c_request + "r-" + next_slot))
    if not ack.startswith(b"messagetype=ack") or b"id=1" not in ack:
        fail(f"not an ack for message 1: {ack[:80]!r}")
    if run.daemon.poll() is not None:
        fail("the daemon died")
    print("ok: bob acknowledged message 1 on the channel")

    # A figure, not a check: how long the daemon's one I/O thread (IMAP, SMTP, API, FCP) is held up
    # while it takes in a payload of the channel's full size (32 MiB + 4 KiB MaxSize).
    big_mail = (f"From: {mallory}\r\nTo: {bob}\r\nSubject: big\r\n\r\n").encode()
    line = b"x" * 998 + b"\r\n"
    big_mail += line * ((32 * 1024 * 1024 - 1024 - len(big_mail)) // len(line))
    big_payload = b"messagetype=message\r\nid=2\r\n\r\n" + big_mail
    second_slot = cli_json("slots", "next", initiator_slot)["next"][0]
    imap = run.imap_login(endpoints, bob)
    imap.select("INBOX")
    node_put(c_insert + "i-" + second_slot, big_payload, "message-2")
    round_trips = []
    arrived_at = None
    end = time.time() + 120
    while time.time() < end and (arrived_at is None or time.time() < arrived_at + 2):
        start = time.perf_counter()
        imap.noop()
        round_trips.append(time.perf_counter() - start)
        if arrived_at is None and any(int(n) >= 2 for n in imap.untagged_responses.get("EXISTS", [b"0"])):
            arrived_at = time.time()
        time.sleep(0.002)
    imap.logout()
    if arrived_at is None:
        fail("the 32 MiB message did not arrive")
    round_trips.sort()
    print(f"figure: IMAP NOOP round trips while a {len(big_payload)}-byte channel payload was fetched, read and "
          f"stored: {len(round_trips)} NOOPs, median {1000 * round_trips[len(round_trips) // 2]:.1f} ms, "
          f"longest {1000 * round_trips[-1]:.0f} ms")
finally:
    run.finish()
print("PASS")
