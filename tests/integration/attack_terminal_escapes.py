#!/usr/bin/env python3
"""A stranger cannot write escape sequences into the terminal of the user deciding on its contact
request. Against a real fcpmaild on its embedded node: carol's WoT identity has the nickname
"ca<ESC>[2K<ESC>[1Arol<ESC>]0;x<BEL>" (erase the line, move up: it could paint over the lines the
user reads before `fcpmail requests approve`); she writes to alice, who accepts requests by hand.
`fcpmail requests list`, `fcpmail contacts list` (after the approval), their --json and the daemon
log carry no ESC, BEL or other control byte, and the nickname is still shown, controls removed.
Before, `requests list` printed the nickname as the stranger chose it."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.clients import BUILD, Daemon, Failure, wait_for  # noqa: E402

NICKNAME = "ca\x1b[2K\x1b[1Arol\x1b]0;x\x07"
SHOWN = "ca[2K[1Arol]0;x"


def cli_bytes(d, *args):
    r = subprocess.run([os.path.join(BUILD, "fcpmail"), *args, "--data-dir", d.data], capture_output=True, timeout=60)
    if r.returncode != 0:
        raise Failure("fcpmail %s: rc=%d %r" % (" ".join(args), r.returncode, r.stderr[-300:]))
    return r.stdout


def no_controls(what, data):
    bad = sorted({b for b in data if (b < 0x20 and b not in b"\n\t") or b == 0x7F})
    if bad:
        raise Failure("%s carries control bytes %r: %r" % (what, [hex(b) for b in bad], data[-400:]))


def shows_nickname(d, listing, account):
    """`fcpmail <listing> list` shows carol's nickname with its controls removed, and neither it nor
    the decoded --json carries a control byte."""
    text = cli_bytes(d, listing, "list", "--account", account)
    no_controls("fcpmail %s list" % listing, text)
    if SHOWN.encode() not in text:
        raise Failure("%s list does not show the nickname without its controls: %r" % (listing, text))
    no_controls("fcpmail %s list --json (decoded)" % listing,
                json.dumps(json.loads(cli_bytes(d, listing, "list", "--json")), ensure_ascii=False).encode())


def main():
    with Daemon(requests="manual") as d:
        alice = d.address["alice"]
        d.stranger_writes_to_alice(NICKNAME, "hello")

        def pending():
            r = json.loads(d.cli("requests", "list", "--json", "--account", alice))["requests"]
            return [q for q in r if q["state"] == "pending"]
        requests, took = wait_for("carol's contact request", pending, timeout=120)
        print("ok: carol's request is pending (%.1f s)" % took)

        shows_nickname(d, "requests", alice)
        print("ok: requests list shows %r, no control byte" % SHOWN)

        d.cli("requests", "approve", str(requests[0]["id"]))
        shows_nickname(d, "contacts", alice)
        log = open(d.log_path, "rb").read()
        request_lines = [line for line in log.split(b"\n") if b"contact request" in line]
        if not request_lines:
            raise Failure("the daemon logged no contact request line")
        for line in request_lines:
            no_controls("the daemon log", line)
        print("ok: contacts list and the daemon log carry no control byte either")
        if d.process.poll() is not None:
            raise Failure("the daemon died")
    print("PASS")


if __name__ == "__main__":
    try:
        main()
    except (Failure, AssertionError) as e:
        print("FAIL:", e)
        sys.exit(1)
