#!/usr/bin/env python3
"""Account export/import between machines, end to end with the CLI.

One fcpmail-sim; daemon A (alice) and daemon C (bob, later a stranger carol) on it. Bob mails alice
(consent, channel). `fcpmail account export` from A (human and --json output, 0600 file), A is
stopped, `fcpmail account import` into daemon B with a fresh data dir on the same sim (wrong
passphrase refused, --json output, a second import refused). Bob mails again: it lands in alice's
INBOX on B (IMAP) exactly once; a stranger reaches her through her mailsite and an RTS. Finally the
same file is imported into daemon D on a second, fresh sim whose WebOfTrust never saw alice: the
identity is restored from its insert URI and the mailsite republished there (human output)."""
import json
import os
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.cli_session import imap_inbox  # noqa: E402
from harness.daemon_set import DaemonSet, stop_process  # noqa: E402

PASSPHRASE = "correct horse battery staple"

daemons = DaemonSet(["A", "B", "C", "D"], cli_timeout=120, wait_timeout=90)
work = daemons.work
fail, start_sim, run, cli, wait_for, create = (daemons.fail, daemons.start_sim, daemons.run, daemons.cli,
                                               daemons.wait_for, daemons.create)
requests, codes, stop = daemons.requests, daemons.codes, stop_process


def check(condition, why):
    if not condition:
        fail(why)


def start(name, port):
    return daemons.start(name, ["--fcp", "127.0.0.1:" + port])


def send(data, frm, to, body):
    m = daemons.send(data, frm, to, "account transfer", body)
    cli(data, "outbox", "approve", str(m))
    return m


def inbox(endpoints, account):
    return imap_inbox(endpoints, account, "pw", errors="strict")


def accounts(data):
    return json.loads(cli(data, "account", "list", "--json").stdout)["accounts"]


try:
    port = start_sim("sim")
    a_proc, a, a_ep = start("A", port)
    _, c, c_ep = start("C", port)
    alice = create(a, "alice")
    bob = create(c, "bob")

    # Bob writes to alice; she approves: they have a channel.
    m1 = send(c, bob, alice, "before the move")
    wait_for("alice's request", lambda: len(requests(a)) == 1)
    cli(a, "requests", "approve", str(requests(a)[0]["id"]))
    wait_for("delivery to alice on A", lambda: codes(c)[m1] == ["delivered"])
    check(len(inbox(a_ep, alice)) == 1, "alice did not get the first message on A")

    # Export: refused without a usable passphrase; human output; --json output.
    short = os.path.join(work, "short.txt")
    open(short, "w").write("short\n")
    r = run(a, "account", "export", alice, "--out", os.path.join(work, "x.fcpmail"), "--passphrase-file", short)
    check(r.returncode == 2 and "at least 8 characters" in r.stderr, f"short passphrase: {r.returncode} {r.stderr}")
    r = run(a, "account", "export", alice, "--out", os.path.join(work, "x.fcpmail"))
    check(r.returncode == 2 and "--passphrase-file" in r.stderr, f"no passphrase, no tty: {r.returncode} {r.stderr}")
    passfile = os.path.join(work, "passphrase.txt")
    open(passfile, "w").write(PASSPHRASE + "\n")
    export_file = os.path.join(work, "alice.fcpmail")
    started = time.time()
    r = cli(a, "account", "export", alice, "--out", export_file, "--passphrase-file", passfile)
    export_seconds = time.time() - started
    size = os.path.getsize(export_file)
    check(f"Exported {alice} to {export_file} ({size} bytes, mode 0600" in r.stdout, "export output: " + r.stdout)
    check("NOT in it" in r.stdout, "export output does not say that stored mail stays behind: " + r.stdout)
    for stage in ("collect:", "encrypt:", "done:"):
        check(stage in r.stderr, f"export progress lacks {stage}: {r.stderr}")
    check(stat.S_IMODE(os.stat(export_file).st_mode) == 0o600, "export file mode %o" % os.stat(export_file).st_mode)
    data = open(export_file, "rb").read()
    check(data.startswith(b"FCPMAIL-ACCOUNT\x1a"), "export file magic")
    check(b"USK@" not in data and b"asymkey" not in data, "export file holds secrets in the clear")
    r = cli(a, "account", "export", alice, "--out", os.path.join(work, "alice2.fcpmail"), "--passphrase-stdin", "--json",
            stdin=PASSPHRASE + "\n")
    j = json.loads(r.stdout)
    check(j["account"] == alice and j["bytes"] == os.path.getsize(os.path.join(work, "alice2.fcpmail")), "export --json: " + r.stdout)
    check(r.stderr == "", "export --json prints progress: " + r.stderr)
    r = run(a, "account", "--help")
    check(r.returncode == 0 and "NOT the mailbox" in r.stdout and "--passphrase-file" in r.stdout, "account --help: " + r.stdout)

    # The old machine is switched off; a fresh data dir on the same network takes over.
    stop(a_proc)
    _, b, b_ep = start("B", port)
    wrong = os.path.join(work, "wrong.txt")
    open(wrong, "w").write("not the passphrase\n")
    r = run(b, "account", "import", export_file, "--passphrase-file", wrong)
    check(r.returncode == 1 and "wrong passphrase" in r.stderr, f"wrong passphrase: {r.returncode} {r.stderr}")
    damaged = os.path.join(work, "damaged.fcpmail")
    open(damaged, "wb").write(data[:-1] + bytes([data[-1] ^ 1]))
    r = run(b, "account", "import", damaged, "--passphrase-file", passfile)
    check(r.returncode == 1 and "damaged" in r.stderr, f"damaged file: {r.returncode} {r.stderr}")
    open(damaged, "wb").write(data[: len(data) // 2])
    r = run(b, "account", "import", damaged, "--passphrase-file", passfile)
    check(r.returncode == 1 and "truncated" in r.stderr, f"truncated file: {r.returncode} {r.stderr}")
    check(accounts(b) == [], "a failed import left an account behind")
    started = time.time()
    r = cli(b, "account", "import", export_file, "--passphrase-file", passfile, "--json")
    import_seconds = time.time() - started
    j = json.loads(r.stdout)
    check(j["address"] == alice and j["mailsite_edition"] >= 1, "import --json: " + r.stdout)
    r = run(b, "account", "import", export_file, "--passphrase-file", passfile)
    check(r.returncode == 1 and "already exists" in r.stderr, f"second import: {r.returncode} {r.stderr}")
    check([x["address"] for x in accounts(b)] == [alice], "accounts on B")
    check(inbox(b_ep, alice) == [], "B's INBOX is not empty after the import (stored mail is not exported)")

    # Bob writes again on the same channel: exactly once, on B.
    m2 = send(c, bob, alice, "after the move")
    wait_for("delivery to alice on B", lambda: codes(c)[m2] == ["delivered"])
    check(requests(b) == [], "bob had to ask again")
    time.sleep(1)
    got = inbox(b_ep, alice)
    check(len(got) == 1 and "after the move" in got[0], "alice's INBOX on B: %r" % got)

    # A stranger still reaches her: mailsite lookup, RTS to her rtsksk, consent on B.
    carol = create(c, "carol")
    m3 = send(c, carol, alice, "hello from a stranger")
    wait_for("carol's request on B", lambda: len(requests(b)) == 1)
    check(requests(b)[0]["from"] == carol, "request is not from carol")
    cli(b, "requests", "approve", str(requests(b)[0]["id"]))
    wait_for("delivery of carol's mail", lambda: codes(c)[m3] == ["delivered"])
    time.sleep(1)
    got = inbox(b_ep, alice)
    check(sum("after the move" in m for m in got) == 1 and sum("hello from a stranger" in m for m in got) == 1,
          "alice's INBOX on B after the stranger: %r" % got)

    # A second, fresh network: its WebOfTrust never saw alice; the import restores her identity.
    port2 = start_sim("sim2")
    _, d, _ = start("D", port2)
    r = cli(d, "account", "import", export_file, "--passphrase-file", passfile)
    check(f"Imported {alice}" in r.stdout and "mailsite edition" in r.stdout, "import output: " + r.stdout)
    check("restored from its insert URI" in r.stderr, "import on a fresh node did not restore the identity: " + r.stderr)
    for stage in ("decrypt:", "identity:", "store:", "mailsite:", "done:"):
        check(stage in r.stderr, f"import progress lacks {stage}: {r.stderr}")
    check(accounts(d)[0]["mailsite_edition"] >= 1, "mailsite not republished on the fresh node")

    print(f"ok: export {size} bytes in {export_seconds:.2f} s, import {import_seconds:.2f} s; after the move bob's mail "
          f"and a stranger's arrived exactly once on the new daemon; identity restored on a fresh node")
finally:
    daemons.finish()
