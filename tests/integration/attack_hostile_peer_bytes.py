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
import base64
import imaplib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.cli_session import CliSession  # noqa: E402

build = os.environ.get("FCPMAIL_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "build")
fixtures = os.environ.get("FCPMAIL_FIXTURES") or os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
daemon_bin = os.path.join(build, "fcpmaild")
cli_bin = os.path.join(build, "fcpmail")
sim_bin = os.path.join(build, "fcpmail-sim")
SCALE = "0.0001"  # 5 min polls -> 30 ms; a channel's 7 days -> 60 s

work = tempfile.mkdtemp()
os.chmod(work, 0o700)
data = os.path.join(work, "data")
daemon_log = os.path.join(work, "daemon.log")
daemon = None
sim = None


def fail(why):
    print("FAIL:", why)
    for p in (daemon, sim):
        if p and p.poll() is None:
            p.kill()
            p.wait()
    try:
        print(open(daemon_log, errors="replace").read()[-6000:])
    except OSError:
        pass
    shutil.rmtree(work, ignore_errors=True)
    sys.exit(1)


def log_text():
    return open(daemon_log, errors="replace").read()


def start_daemon():
    """fcpmaild on a separate fcpmail-sim process (FCP over TCP); returns (endpoints, sim FCP address)."""
    global daemon, sim
    sim = subprocess.Popen([sim_bin, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                           stderr=open(os.path.join(work, "sim.log"), "w"), text=True)
    m = re.search(r"listening on (127\.0\.0\.1:\d+)", sim.stdout.readline())
    if not m:
        fail("fcpmail-sim did not start")
    log = open(daemon_log, "a")
    daemon = subprocess.Popen([daemon_bin, "--data-dir", data, "--fcp", m.group(1), "--imap-listen", "127.0.0.1:0",
                               "--smtp-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                               "--interval-scale", SCALE], stdout=log, stderr=log)
    for _ in range(150):
        if os.path.exists(os.path.join(data, "control.json")):
            return json.load(open(os.path.join(data, "control.json"))), m.group(1)
        if daemon.poll() is not None:
            fail("daemon exited at start")
        time.sleep(0.1)
    fail("daemon did not start")


def cli(*args, stdin=None, check=True):
    env = dict(os.environ, FCPMAIL_DATA_DIR=data)
    r = subprocess.run([cli_bin, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
    if check and r.returncode != 0:
        fail(f"fcpmail {' '.join(args)}: rc={r.returncode} {r.stdout} {r.stderr}")
    return r


def cli_json(*args):
    return json.loads(cli(*args, "--json").stdout)


def wait_for(what, pred, timeout=90):
    end = time.time() + timeout
    while time.time() < end:
        try:
            got = pred()
            if got:
                return got
        except (KeyError, IndexError, json.JSONDecodeError):
            pass
        if daemon.poll() is not None:
            fail("the daemon died while waiting for " + what)
        time.sleep(0.2)
    fail("timed out waiting for " + what)


session = CliSession(cli, cli_json, fail, fixtures, work)


def node(*args, check=True):
    return cli("node", *args, "--fcp", fcp, check=check)


def node_put(uri, data_bytes, name):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        f.write(data_bytes)
    node("put", uri, "--file", path)


def node_get(uri):
    """The bytes at `uri`, or None while the node does not have them."""
    out = os.path.join(work, "got")
    if os.path.exists(out):
        os.remove(out)
    r = node("get", uri, "--out", out, check=False)
    if r.returncode != 0:
        return None
    return open(out, "rb").read()


def genssk():
    out = cli_json("node", "genssk", "--fcp", fcp)
    return out["insert_uri"], out["request_uri"]


def random_slot():
    return base64.b32encode(os.urandom(32)).decode().rstrip("=")


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



def imap_lines(imap, command):
    """The tagged status and every response line of one raw IMAP command (literals inline)."""
    typ, data = imap._simple_command(*command.split(" ", 1))
    return typ, data


try:
    endpoints, fcp = start_daemon()
    alice = session.create("alice")  # the person mallory pretends to be
    bob = session.create("bob")
    accounts = cli_json("account", "list")
    accounts = accounts if isinstance(accounts, list) else accounts.get("accounts", [])
    ids = {a["address"]: a.get("identity_id") for a in accounts}

    def bob_rtsksk():
        for r in cli_json("queues").get("rts", []):
            m = re.fullmatch(r"KSK@([a-z]+)-\d{8}-\d+", r.get("key", ""))
            if r.get("account") == bob and m:
                return m.group(1)
        return None

    rtsksk = wait_for("bob's RTS KSKs in `fcpmail queues`", bob_rtsksk)
    day = time.strftime("%Y%m%d", time.gmtime())
    m_insert, m_request = genssk()
    node_put(m_insert + "mailsite-1/mailpage", open(os.path.join(fixtures, "keys", "mallory.mailpage"), "rb").read(),
             "mallory.mailpage")
    mallory_site = "USK@" + m_request[4:-1] + "/mailsite/-1/mailpage"

    def rts(site, slot_number):
        c_insert, c_request = genssk()
        initiator_slot, responder_slot = random_slot(), random_slot()
        rts_path = os.path.join(work, "mallory.rts")
        cli("rts", "encode", "--key", os.path.join(fixtures, "keys", "mallory.key"),
            "--recipient-mailpage", os.path.join(fixtures, "keys", "bob.mailpage"), "--mailsite", site,
            "--to", ids[bob], "--channel", c_insert, "--initiator-slot", initiator_slot,
            "--responder-slot", responder_slot, "--timeout", str(int(time.time() * 1000) + 150_000), "--out", rts_path)
        node_put(f"KSK@{rtsksk}-{day}-{slot_number}", open(rts_path, "rb").read(), f"rts-{slot_number}")
        return c_insert, c_request, initiator_slot, responder_slot

    # 1. A stranger's RTS whose mailpage repeats a key made of an escape sequence: the error that
    # drops it quotes the key.
    j_insert, j_request = genssk()
    junk_key = b"k\x1b[2K\x1b]0;owned\x07"
    node_put(j_insert + "mailsite-1/mailpage", junk_key + b"=1\r\n" + junk_key + b"=2\r\n", "junk.mailpage")
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
    wait_for("bob's CTS on the channel", lambda: node_get(c_request + "r-" + responder_slot))
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
        node_put(c_insert + "i-" + slot, b"messagetype=message\r\nid=%d\r\n\r\n" % i + mail, f"message-{i}")
        slot = cli_json("slots", "next", slot)["next"][0]

    host, port = endpoints["imap"].rsplit(":", 1)
    imap = imaplib.IMAP4(host, int(port))
    imap.login(bob, "pw")

    def arrived():
        imap.select("INBOX", readonly=True)
        _, got = imap.search(None, "ALL")
        return len(got[0].split()) >= len(mails) and got[0].split()

    nums = wait_for("mallory's messages in bob's INBOX", arrived)
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
    if daemon.poll() is not None:
        fail("the daemon died")
    print("ok: status, queues, contacts list, requests list (and --json) work; the daemon is up")
finally:
    for p in (daemon, sim):
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
shutil.rmtree(work, ignore_errors=True)
print("PASS")
