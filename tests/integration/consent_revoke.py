#!/usr/bin/env python3
"""A revoke survives a submission: fcpmaild on its embedded simulated node with two accounts that
have an open channel both ways. Alice revokes bob; her mail client then writes to bob over SMTP and
is refused at RCPT with 550 5.7.1 and the sentence that says why and how to allow him again;
`fcpmail send` refuses likewise; `fcpmail contacts list` still shows bob revoked; bob's next
message on the old channel and his next RTS on a new one do not reach alice's INBOX, and no
contact request appears for her."""
import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.daemon_run import DaemonRun  # noqa: E402

SCALE = "0.0001"

run = DaemonRun(SCALE, cli_timeout=60, wait_timeout=90, log_tail=4000)
work = run.work
fail, daemon_log, cli, wait_for = run.fail, run.log_text, run.cli, run.wait_for
outbox_codes, contacts_of = run.outbox_codes, run.contacts_of
session = run.session

try:
    endpoints, _ = run.start()
    alice = session.create("alice")
    bob = session.create("bob")

    # The channel: alice -> bob, bob consents; bob -> alice on the same channel.
    m1 = session.send(alice, bob, "hello bob", "first")
    cli("outbox", "approve", str(m1))
    wait_for("bob's contact request", lambda: len(session.requests_of(bob)) == 1)
    cli("requests", "approve", str(session.requests_of(bob)[0]["id"]))
    wait_for("delivery to bob", lambda: outbox_codes(alice)[m1] == ["delivered"])
    m2 = session.send(bob, alice, "re: hello", "reply before the revoke")
    cli("outbox", "approve", str(m2))
    wait_for("delivery to alice", lambda: outbox_codes(bob)[m2] == ["delivered"])
    if len(session.inbox(endpoints, alice)) != 1:
        fail("alice did not get bob's reply")
    print("ok: channel open both ways")

    cli("contacts", "revoke", bob, "--account", alice)
    if [c["state"] for c in contacts_of(alice)] != ["revoked"]:
        fail("after the revoke: %r" % contacts_of(alice))

    # Alice's mail client writes to bob over SMTP: refused at RCPT, with the way back.
    host, port = endpoints["smtp"].rsplit(":", 1)
    smtp = smtplib.SMTP(host, int(port), timeout=30)
    smtp.ehlo("client")
    smtp.login(alice, "pw")
    smtp.mail(alice)
    code, text = smtp.rcpt(bob)
    text = text.decode(errors="replace")
    expected = (f"5.7.1 {bob} is revoked: you stopped accepting mail from this contact; "
                f"allow them again with `fcpmail contacts add {bob}`")
    if code != 550 or text != expected:
        fail(f"RCPT to a revoked contact: {code} {text!r}")
    data_code, _ = smtp.docmd("DATA")
    if data_code != 554:
        fail(f"DATA with no accepted recipient: {data_code}")
    smtp.quit()
    print("ok: SMTP RCPT refused:", code, text)

    path = os.path.join(work, "to-bob.txt")
    with open(path, "w", newline="") as f:
        f.write(f"From: {alice}\r\nTo: {bob}\r\nSubject: after the revoke\r\n\r\nplease\r\n")
    r = cli("send", "--from", alice, "--to", bob, "--file", path, check=False)
    if r.returncode == 0 or f"{bob} is revoked" not in r.stdout + r.stderr or "fcpmail contacts add" not in r.stdout + r.stderr:
        fail(f"fcpmail send to a revoked contact: rc={r.returncode} {r.stdout} {r.stderr}")
    if [c["state"] for c in contacts_of(alice)] != ["revoked"]:
        fail("the submission changed the contact: %r" % contacts_of(alice))
    if list(outbox_codes(alice)) != [m1]:
        fail("a refused submission was queued: %r" % outbox_codes(alice))
    print("ok: fcpmail send refused, bob still revoked")

    # Bob's next message on the old channel is not fetched by alice.
    m3 = session.send(bob, alice, "still there?", "after the revoke, old channel")
    cli("outbox", "approve", str(m3))
    wait_for("bob's insert", lambda: outbox_codes(bob)[m3] in (["awaiting_ack"], ["awaiting_cts"]))
    # Bob forgets alice and writes again: a new channel, a new RTS, which alice drops unanswered.
    cli("contacts", "remove", alice, "--account", bob)
    m4 = session.send(bob, alice, "new channel", "after the revoke, new RTS")
    cli("outbox", "approve", str(m4))
    wait_for("alice dropping bob's RTS",
             lambda: any("dropped: sender" in line and "is revoked" in line for line in daemon_log().splitlines()))
    time.sleep(5)  # several ack delays and polls at this scale
    got = session.inbox(endpoints, alice)
    if len(got) != 1 or any("after the revoke" in m for m in got):
        fail("alice's INBOX after the revoke: %r" % got)
    if session.requests_of(alice):
        fail("a contact request appeared for alice: %r" % session.requests_of(alice))
    if [c["state"] for c in contacts_of(alice)] != ["revoked"]:
        fail("bob is no longer revoked: %r" % contacts_of(alice))
    if "delivered" in outbox_codes(bob)[m4]:
        fail("bob's message after the revoke was delivered")
    print("ok: a revoke survives a submission")
finally:
    run.finish()
