"""Local-interface abuse against imap-testserver (the IMAP server the daemon runs): 1,000
simultaneous connections, a 100 MB line, a literal that never ends, a peer that never logs in.
Each is refused cleanly, the server stays up with bounded memory, other sessions go on."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.imap_testserver import TestServer  # noqa: E402


def rss_kb(pid, key="VmRSS:"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


class Raw:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                out, self.buf = self.buf, b""
                return out
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out

    def until(self, tag):
        lines = []
        while True:
            l = self.line()
            lines.append(l)
            if not l or l.startswith(tag + b" "):
                return lines

    def send(self, data):
        self.s.sendall(data)

    def closed_by_server(self):
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.s.close()

    def __del__(self):
        self.s.close()


def login(port, user, password, tag=b"l"):
    c = Raw(port)
    assert c.line().startswith(b"* OK")
    c.send(tag + b" LOGIN " + user.encode() + b" " + password.encode() + b"\r\n")
    assert c.until(tag)[-1].startswith(tag + b" OK")
    return c


class Limits(unittest.TestCase):
    def test_thousand_connections(self):
        with TestServer() as srv:
            keeper = login(srv.port, srv.user, srv.password)
            conns = []
            for _ in range(1000):
                conns.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
            greeted = 0
            for s in conns:
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data.startswith(b"* OK"):
                    greeted += 1
            # Every newcomer is served; the silent connections idle longest give way (the keeper,
            # logged in, holds one of the 512 places and is never closed for a newcomer).
            self.assertEqual(greeted, 1000)
            self.assertTrue(srv.alive())
            keeper.send(b"n NOOP\r\n")
            self.assertTrue(keeper.until(b"n")[-1].startswith(b"n OK"))
            during = login(srv.port, srv.user, srv.password)  # the user's client, during the flood
            during.send(b"s SELECT INBOX\r\n")
            self.assertTrue(during.until(b"s")[-1].startswith(b"s OK"))
            for s in conns:
                s.close()

    def test_hundred_megabyte_line(self):
        with TestServer() as srv:
            other = login(srv.port, srv.user, srv.password, b"o")
            c = login(srv.port, srv.user, srv.password)
            before = rss_kb(srv.proc.pid)
            chunk = b"x" * (1 << 20)
            c.send(b"a NOOP ")
            for _ in range(100):
                c.send(chunk)
            c.send(b"\r\nb NOOP\r\n")
            self.assertIn(b"a BAD line too long", b"\n".join(c.until(b"a")))
            self.assertTrue(c.until(b"b")[-1].startswith(b"b OK"))
            # The line was dropped as it came, never held: peak memory grew by far less than 100 MB.
            self.assertLess(rss_kb(srv.proc.pid, "VmHWM:") - before, 40 * 1024)
            other.send(b"p NOOP\r\n")
            self.assertTrue(other.until(b"p")[-1].startswith(b"p OK"))

    def test_huge_literal_before_login_is_refused(self):
        with TestServer() as srv:
            c = Raw(srv.port)
            c.line()
            c.send(b"a LOGIN {100000000}\r\n")
            self.assertIn(b"a BAD literal too large", c.line())
            c.send(b"b LOGIN {100000000+}\r\n")
            lines = c.until(b"b")
            self.assertTrue(any(b"BYE" in l for l in lines) or c.closed_by_server())
            self.assertTrue(srv.alive())

    def test_unfinished_literal_and_silent_peer_are_cut_at_the_login_deadline(self):
        with TestServer(["--login-timeout", "2"]) as srv:
            user = login(srv.port, srv.user, srv.password)
            lit = Raw(srv.port)
            lit.line()
            lit.send(b"a LOGIN {50}\r\n")
            self.assertTrue(lit.line().startswith(b"+ "))
            lit.send(b"0123456789")
            silent = Raw(srv.port)
            silent.line()
            start = time.monotonic()
            self.assertIn(b"BYE login timeout", lit.line())
            self.assertTrue(lit.closed_by_server())
            self.assertIn(b"BYE login timeout", silent.line())
            self.assertTrue(silent.closed_by_server())
            self.assertLess(time.monotonic() - start, 8)
            # A logged-in session is not subject to the login deadline.
            user.send(b"n NOOP\r\n")
            self.assertTrue(user.until(b"n")[-1].startswith(b"n OK"))
            self.assertTrue(srv.alive())

    def test_disconnect_mid_literal(self):
        with TestServer() as srv:
            other = login(srv.port, srv.user, srv.password, b"o")
            c = login(srv.port, srv.user, srv.password)
            c.send(b"a APPEND INBOX {5000}\r\n")
            self.assertTrue(c.line().startswith(b"+ "))
            c.send(b"From: x\r\n\r\npartial")
            c.close()
            time.sleep(0.2)
            other.send(b"s SELECT INBOX\r\n")
            lines = other.until(b"s")
            self.assertTrue(lines[-1].startswith(b"s OK"))
            self.assertIn(b"* 3 EXISTS", lines)  # the seeded three, nothing half-appended
            self.assertTrue(srv.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
