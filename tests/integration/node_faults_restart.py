#!/usr/bin/env python3
"""Node faults, a node restart with an empty store: after a first exchange (channels open), more mail
is sent, fcpmail-sim is killed, more mail is sent while it is down, and a new fcpmail-sim with a fresh
store comes up on the same port. The daemon must notice that its mailpages are gone (and with them
its RTSs and the messages on the channels), republish and re-send, and every message must arrive
exactly once (checked by Message-ID in the IMAP INBOX)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.node_faults import Harness  # noqa: E402

h = Harness("restart")
try:
    h.start()
    h.send_both_ways("warmup")
    h.wait_delivered(60)
    # In flight: sent, maybe inserted, not yet acknowledged, when the node goes away with its store.
    for i in range(3):
        h.send_both_ways(f"inflight{i}")
    time.sleep(0.3)
    h.kill_sim()
    killed = time.time()
    for i in range(2):
        h.send_both_ways(f"down{i}")
    time.sleep(1.0)
    h.start_sim(fresh_store=True)
    took = h.wait_delivered(100)
    total = h.check_exactly_once()
    log = h.log_text()
    if "the node lost its store during the outage" not in log:
        h.fail("the daemon did not notice that the restarted node had lost its store")
    resent = sum(int(n) for n in re.findall(r"re-sending (\d+) unacknowledged", log))
    print(f"ok: {len(h.sent)} messages sent, {total} in the INBOXes, each exactly once, across a node restart with "
          f"an empty store ({resent} unacknowledged messages re-sent); all delivered {time.time() - killed:.1f}s after the kill ({took:.1f}s after the restart)")
finally:
    h.stop()
