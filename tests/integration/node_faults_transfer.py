#!/usr/bin/env python3
"""Node faults, transfers: fcpmaild on a separate fcpmail-sim (TCP) that takes 5 ClientPuts and closes
the connection before answering each (mid-insert), and cuts 5 AllData off half-way through their
payload (mid-fetch). Mail both ways between two accounts still arrives exactly once (checked by
Message-ID in the IMAP INBOX), and the daemon says in its log which request it sent again."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.node_faults import Harness  # noqa: E402

# Which ClientPut / AllData (counted node-wide from the restart) the node breaks off.
PUT_DROPS = "4,11,19,28,38"
ALL_DATA_CUTS = "2,6,11,17,24"
h = Harness("transfer", scale="0.0002")
try:
    h.start()
    # The same store, now misbehaving (down long enough for a refused reconnect: an outage).
    h.kill_sim()
    time.sleep(0.5)
    h.start_sim("--drop-on-put", PUT_DROPS, "--cut-all-data", ALL_DATA_CUTS)
    n = 5
    took, total, log = h.exchange(n, 100)
    drops = log.count("node connection lost")
    resent = [line for line in log.splitlines() if "sending them again" in line]
    mid_insert = sum(line.count("the insert of") for line in resent)
    mid_fetch = sum(line.count("the fetch of") for line in resent)
    if mid_insert < 1:
        h.fail("no insert was cut off by the node: the mid-insert fault was not exercised")
    if mid_fetch < 1:
        h.fail("no fetch was cut off by the node: the mid-fetch fault was not exercised")
    # The restart kept the store: the daemon checks and finds its earlier inserts, re-sends nothing.
    deadline = time.time() + 10
    while "the node still has what we inserted before the outage" not in h.log_text() and time.time() < deadline:
        time.sleep(0.2)
    if "the node still has what we inserted before the outage" not in h.log_text():
        h.fail("after a restart with the same store the daemon did not confirm its earlier inserts")
    if "the node lost its store" in h.log_text():
        h.fail("a restart that kept the store was taken for one that lost it")
    print(f"ok: {2 * n} messages sent, {total} in the INBOXes, each exactly once; {drops} dropped connections "
          f"(puts {PUT_DROPS}, AllData {ALL_DATA_CUTS}) "
          f"(reported: {mid_insert} inserts and {mid_fetch} fetches sent again); all delivered {took:.1f}s after the first send")
finally:
    h.stop()
