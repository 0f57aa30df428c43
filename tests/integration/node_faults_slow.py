#!/usr/bin/env python3
"""Node faults, a slow node: every reply of fcpmail-sim leaves 2 seconds late. The FCP client must not
take the slowness for a dead node (no dropped connection, no request sent twice), and mail both
ways still arrives exactly once (checked by Message-ID in the IMAP INBOX)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.node_faults import Harness  # noqa: E402

DELAY_MS = 2000
h = Harness("slow")
try:
    h.start()
    h.kill_sim()
    h.start_sim("--reply-delay", DELAY_MS)
    # Wait until the daemon is connected to the slow node (its NodeHello is late too).
    deadline = time.time() + 30
    while time.time() < deadline and h.log_text().count("connected to") < 2:
        time.sleep(0.2)
    n = 2
    took, total, log = h.exchange(n, 100)
    if "node connection lost" in log:
        h.fail("the slow node was taken for a dead one: the connection was dropped")
    if "sending them again" in log:
        h.fail("a request was sent twice to a node that was only slow")
    print(f"ok: {2 * n} messages sent, {total} in the INBOXes, each exactly once, with every reply {DELAY_MS} ms "
          f"late; no dropped connection, no request sent twice; all delivered {took:.1f}s after the first send")
finally:
    h.stop()
