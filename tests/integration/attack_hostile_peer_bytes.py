#!/usr/bin/env python3
"""Hostile bytes from a contact and a stranger leave every view working, over a real channel on
the real fcpmaild with a separate fcpmail-sim (FCP over TCP).

"mallory" is a Freemail-format peer written here (driving the node with `fcpmail node` and
`fcpmail rts encode` only, as hostile_forged_headers.py does). First an RTS whose mailpage repeats
a key made of an escape sequence: the daemon drops it, and its log line quotes the key with the
control bytes shown as '?' (before, they reached the log as sent: ESC and BEL for the terminal that
shows it, or a line break to start a fake log line).
Then bob approves mallory's request and mallory sends, as Freemail writes them, messages with a
Latin-1 and NUL Subject, a Latin-1 From display name naming alice, 8-bit To and Message-ID, a bare
CR body, a header section ending in bare LF, `FROM :` and a tab-folded From, a group From, a
message/rfc822 attachment with alice's From (kept as it is: it is the body), and no blank line at
all. In bob's INBOX every ENVELOPE From and Sender is mallory, no From or Sender field has alice as
its address (her address may show in the display name, "... (via mallory)"), SEARCH FROM mallory
matches every message and HEADER SENDER alice none, the attachment's From is there, BODYSTRUCTURE and HEADER.FIELDS answer, and
`fcpmail status|queues|contacts list|requests list` (and --json) work; the daemon stays up."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.daemon_run import DaemonRun, random_slot  # noqa: E402
from harness.paths import FCPMAIL as cli_bin  # noqa: E402

SCALE = "0.0001"  # 5 min polls -> 30 ms; a channel's 7 days -> 60 s

run = DaemonRun(SCALE, cli_timeout=60, wait_timeout=90)
fixtures, data, daemon_log = run.fixtures, run.data, run.log_path
fail, cli, cli_json, wait_for = run.fail, run.cli, run.cli_json, run.wait_for
session = run.session


try:
    endpoints, fcp = run.start_on_sim()
    alice = session.create("alice")  # the person mallory pretends to be
    bob = session.create("bob")
    ids, _ = run.identity_ids()
    ksk = run.rts_ksk(bob)
    m_insert, m_request = run.genssk(fcp)
    run.node_put(fcp, m_insert + "mailsite-1/mailpage",
                 open(os.path.join(fixtures, "keys", "mallory.mailpage"), "rb").read(), "mallory.mailpage")
    mallory_site = "USK@" + m_request[4:-1] + "/mailsite/-1/mailpage"

    def rts(site, slot_number):
        c_insert, c_request = run.genssk(fcp)
        initiator_slot, responder_slot = random_slot(), random_slot()
        rts_bytes = run.mallory_rts(fcp, site, ids[bob], int(time.time() * 1000) + 150_000, "mallory.rts",
                                    responder_slot=responder_slot, channel=c_insert, initiator_slot=initiator_slot)
        run.node_put(fcp, ksk(slot_number), rts_bytes, f"rts-{slot_number}")
        return c_insert, c_request, initiator_slot, responder_slot

    # 1. A stranger's RTS whose mailpage repeats a key made of an escape sequence: the error that
    # drops it quotes the key.
    j_insert, j_request = run.genssk(fcp)
    junk_key = b"k\x1b[2K\x1b]0;owned\x07"
    run.node_put(fcp, j_insert + "mailsite-1/mailpage", junk_key + b"=1\r\n" + junk_key + b"=2\r\n", "junk.mailpage")
    rts("USK@" + j_request[4:-1] + "/mailsite/-1/mailpage", 1)
    dropped = wait_for("the junk RTS dropped in the log",
                       lambda: [l for l in open(daemon_log, "rb").read().split(b"\n") if b"mailpage is unusable" in l])
    if any(b < 0x20 and b != 0x09 or b == 0x7F for b in dropped[0]):
        fail(f"the log line quotes the stranger's control bytes as sent: {dropped[0]!r}")
    if b"k?[2K?]0;owned?" not in dropped[0]:
        fail(f"the log line does not name the refused key: {dropped[0]!r}")
    print("ok: the stranger's RTS with a junk mailpage is dropped, logged with its controls as '?'")

    # 2. mallory's channel, approved by bob.
    c_insert, c_request, initiator_slot, responder_slot = rts(mallory_site, 2)
    request = wait_for("mallory's contact request", lambda: (session.requests_of(bob) or [None])[0])
    mallory = request["from"]
    cli("requests", "approve", str(request["id"]))
    wait_for("bob's CTS on the channel", lambda: run.node_get(fcp, c_request + "r-" + responder_slot))
    print("ok: mallory is", mallory, "- request approved, CTS received")

    a_local, a_domain = alice.split("@")
    mails = [
        (b"From: \xe9vil Al\xefce <" + alice.encode() + b">\r\nTo: B\xf6b\x00 <" + bob.encode() + b">\r\n"
         b"Subject: caf\xe9\x00 latin1\r\nMessage-ID: <\xff\xfe\x00@x>\r\n\r\nb\xe9dy\x00 with a bare\rCR\r\n"),
        b"Subject: bare LF\nFROM : " + alice.encode() + b"\nfrom:\t\n\t" + alice.encode() + b"\n\nbody\n",
        b"From: friends: " + alice.encode() + b";\r\nSender: " + alice.encode() + b"\r\nSubject: group\r\n\r\nx\r\n",
        (b"From: " + mallory.encode() + b"\r\nSubject: forwarded\r\nContent-Type: message/rfc822\r\n\r\n"
         b"From: Alice <" + alice.encode() + b">\r\nSubject: inner\r\n\r\ninner body\r\n"),
        b"Subject: \xff\xfe no blank line\r\nFrom: =?utf-8?q?" + alice.encode() + b"?= <" + alice.encode() + b">\r\n",
    ]
    slot = initiator_slot
    for i, mail in enumerate(mails, 1):
        run.node_put(fcp, c_insert + "i-" + slot, b"messagetype=message\r\nid=%d\r\n\r\n" % i + mail, f"message-{i}")
        slot = cli_json("slots", "next", slot)["next"][0]

    imap = run.imap_login(endpoints, bob)
    nums = run.wait_for_inbox(imap, "mallory's messages in bob's INBOX", count=len(mails))
    if len(nums) != len(mails):
        fail(f"expected {len(mails)} messages, got {nums}")
    m_local, m_domain = mallory.split("@")
    for num in nums:
        typ, fetched = imap.fetch(num, "(ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (FROM SENDER)] BODY.PEEK[TEXT])")
        if typ != "OK":
            fail(f"FETCH {num}: {typ} {fetched!r}")
        text = b"".join(p if isinstance(p, bytes) else b"".join(p) for p in fetched)
        envelope = text[text.index(b"ENVELOPE"):]
        # date, subject, then from, sender, reply-to: from and sender must be mallory alone.
        addresses = re.findall(rb'\((?:NIL|"[^"]*"|\{\d+\}\r?\n?[^ ]*) NIL "([^"]*)" "([^"]*)"\)', envelope)
        if len(addresses) < 2 or addresses[0] != (m_local.encode(), m_domain.encode()) \
                or addresses[1] != (m_local.encode(), m_domain.encode()):
            fail(f"message {num}: ENVELOPE From/Sender is not mallory: {envelope[:600]!r}")
        fields = text[text.index(b"HEADER.FIELDS"):]
        fields = fields[:fields.find(b"BODY[TEXT]")] if b"BODY[TEXT]" in fields else fields
        # The claim may be shown in the display name (a quoted string, "... (via mallory)"), never
        # as an address.
        unquoted = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', fields)
        if a_domain.encode() in unquoted:
            fail(f"message {num}: alice's address is in BODY[HEADER.FIELDS (FROM SENDER)]: {fields!r}")
    print("ok: every ENVELOPE From and Sender is mallory; no From or Sender field has alice as its address")
    # (SEARCH FROM alice does match where the claim is shown in the display name: SEARCH FROM is a
    # substring search of the whole From field, display name included.)
    for criterion in (("HEADER", "SENDER", f'"{a_domain}"'),):
        _, hits = imap.search(None, *criterion)
        if hits[0].split():
            fail(f"SEARCH {' '.join(criterion)} matched {hits}")
    _, hits = imap.search(None, "FROM", f'"{mallory}"')
    if len(hits[0].split()) != len(mails):
        fail(f"SEARCH FROM mallory matched {hits}, want all {len(mails)}")
    _, inner = imap.fetch(nums[3], "(BODY.PEEK[TEXT])")
    if b"From: Alice <" + alice.encode() + b">" not in inner[0][1]:
        fail(f"the attached message lost its own From: {inner!r}")
    imap.logout()
    print("ok: SEARCH HEADER SENDER alice: nothing; SEARCH FROM mallory: all; the attachment keeps its From")

    for args in (("status",), ("queues",), ("contacts", "list"), ("requests", "list")):
        for extra in ((), ("--json",)):
            r = subprocess.run([cli_bin, *args, *extra], capture_output=True, timeout=60,
                               env=dict(os.environ, FCPMAIL_DATA_DIR=data))
            if r.returncode != 0:
                fail(f"fcpmail {' '.join(args + extra)}: rc={r.returncode} {r.stderr[-300:]!r}")
            r.stdout.decode("utf-8")
            if any(b < 0x20 and b not in (0x09, 0x0A) or b == 0x7F for b in r.stdout):
                fail(f"fcpmail {' '.join(args + extra)} prints control bytes: {r.stdout[-400:]!r}")
    if run.daemon.poll() is not None:
        fail("the daemon died")
    print("ok: status, queues, contacts list, requests list (and --json) work; the daemon is up")
finally:
    run.finish()
print("PASS")
