#!/usr/bin/env python3
"""Another FCP client takes fcpmaild's client Name on the node (fcpmail-sim, which like fred sends the
older connection CloseConnectionDuplicateClientName and closes it). The daemon must log it, reconnect
after a wait, take its Name back (the intruder's connection is then the one closed) and go on
delivering; an intruder that keeps coming back (as a second daemon with the same Name would) meets
waits that grow, not a reconnect loop. Mail sent before, during and after is delivered exactly once."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.node_faults import Harness  # noqa: E402


class RawFcp:
    """A bare FCP connection: ClientHello with a given Name, then messages read one by one."""

    def __init__(self, port, name):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""
        self.sock.sendall(f"ClientHello\nName={name}\nExpectedVersion=2.0\nEndMessage\n".encode())

    def next_message(self, timeout):
        """The next message's name, "EOF" when the node closed the connection, "TIMEOUT" if nothing came."""
        self.sock.settimeout(timeout)
        while b"EndMessage\n" not in self.buffer:
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                return "TIMEOUT"
            if not chunk:
                return "EOF"
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"EndMessage\n", 1)
        return message.split(b"\n", 1)[0].decode()

    def close(self):
        self.sock.close()


h = Harness("name-taken")
try:
    h.start()
    h.send("alice", "bob", "before")
    h.wait_delivered(90)
    m = re.search(r"as FCP client (\S+)", h.log_text())
    if not m:
        h.fail("the daemon did not log its FCP client name")
    name = m.group(1)

    # One takeover: the intruder says hello with the daemon's Name and stays connected.
    intruder = RawFcp(h.port, name)
    if intruder.next_message(30) != "NodeHello":
        h.fail("the intruder got no NodeHello")
    taken = time.time()
    h.send("alice", "bob", "during")
    got = [intruder.next_message(60), intruder.next_message(10)]
    back = time.time() - taken
    if got != ["CloseConnectionDuplicateClientName", "EOF"]:
        h.fail(f"the daemon did not take its Name back: the intruder's connection got {got}")
    intruder.close()
    log = h.log_text()
    if "another FCP client said hello with our name (" + name not in log:
        h.fail("no warning about the takeover in the log")
    print(f"ok: Name {name} taken over; the daemon reconnected and took it back after {back:.1f}s")

    # An intruder that comes back each time it is closed: the daemon's waits grow.
    for _ in range(3):
        intruder = RawFcp(h.port, name)
        if intruder.next_message(30) != "NodeHello":
            h.fail("the intruder got no NodeHello")
        if intruder.next_message(60) != "CloseConnectionDuplicateClientName":
            h.fail("the daemon did not come back after a repeated takeover")
        intruder.close()
    waits = [int(w) for w in re.findall(r"another FCP client said hello with our name .*?reconnecting in (\d+) ms",
                                        h.log_text())]
    if len(waits) != 4 or waits != sorted(waits) or waits[-1] <= waits[0]:
        h.fail(f"the waits after the takeovers do not grow: {waits} ms")
    print(f"ok: four takeovers in a row, the daemon waited {waits} ms before each reconnect")

    h.send_both_ways("after")
    took = h.wait_delivered(120)
    total = h.check_exactly_once()
    print(f"ok: {len(h.sent)} messages sent before, during and after the takeovers, {total} in the INBOXes, "
          f"each exactly once (the last delivered {took:.1f}s after sending)")
    print("PASS")
finally:
    h.stop()
