#!/usr/bin/env python3
"""imaplib APPEND into the real fcpmaild: imaplib writes every command with a literal in pieces
(the command line, then the literal, then its CRLF), the pattern that costs a ~40 ms delayed-ACK
stall per command when the server's socket waits (Nagle's algorithm on one side, delayed ACK on
the other). Appends small messages to alice's INBOX for a few seconds and prints messages/s; the
assertion is only a floor (>= 200/s, so a loaded 2-core CI does not make it flaky); with the stall
it is ~20/s. Then fetches them back to be sure they are all there."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.clients import Daemon, Failure, run_main  # noqa: E402

FLOOR = 200.0
SECONDS = float(os.environ.get("FCPMAIL_APPEND_SECONDS", "4"))
MAX_MESSAGES = 20000


def message(i):
    return ("From: Zed <zed@example.org>\r\nTo: alice\r\nSubject: append %d\r\n"
            "Date: Thu, 10 Feb 1994 08:00:00 +0000\r\n\r\nsmall body %d\r\n" % (i, i)).encode()


def main():
    with Daemon() as d:
        c = d.imap("alice")
        c.append("INBOX", None, None, message(0))  # warm up (first write to the store)
        count = 0
        start = time.time()
        while time.time() - start < SECONDS and count < MAX_MESSAGES:
            typ, data = c.append("INBOX", None, None, message(count + 1))
            if typ != "OK":
                raise Failure("APPEND %d: %s %s" % (count + 1, typ, data))
            count += 1
        took = time.time() - start
        rate = count / took
        print("imaplib APPEND of small messages: %d in %.2f s = %.0f messages/s" % (count, took, rate))
        typ, data = c.status("INBOX", "(MESSAGES)")
        stored = int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
        if stored != count + 1:
            raise Failure("%d appended, %d in INBOX" % (count + 1, stored))
        c.logout()
        if rate < FLOOR:
            raise Failure("%.0f APPENDs/s, want at least %.0f" % (rate, FLOOR))
    print("ok: APPEND rate above the floor")


if __name__ == "__main__":
    run_main(main)
