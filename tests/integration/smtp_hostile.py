#!/usr/bin/env python3
"""Malformed and hostile input against the SMTP server: huge lines, binary garbage, bad base64 in
AUTH, commands in the wrong state, clients vanishing mid-command or mid-DATA, floods of bad
commands, oversized messages. Each gets its error; the server stays up and keeps serving others."""
import base64, json, os, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.paths import BUILD as build  # noqa: E402

server_bin = os.path.join(build, "fcpmail-smtp-testserver")
ME = "alice@aaaaaaaabbbbbbbb.freemail"
PW = "pw"


def plain(user, pw):
    return base64.b64encode(b"\0" + user.encode() + b"\0" + pw.encode()).decode()


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One complete (possibly multi-line) reply as text; '' on EOF."""
        out = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.s.recv(65536)
                if not chunk:
                    return "".join(out)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            out.append(line.decode() + "\n")
            if len(line) < 4 or line[3:4] != b"-":
                return "".join(out)

    def expect(self, command, code):
        if command is not None:
            self.send(command)
        r = self.reply()
        assert r.startswith(str(code)), f"{command!r}: expected {code}, got {r!r}"
        return r

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True


def rss_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def session(port):
    c = Client(port)
    c.expect(None, 220)
    c.expect("EHLO t\r\n", 250)
    return c


def data_to_bob(port):
    """A logged-in session that has MAIL FROM, RCPT TO:<bob> and DATA accepted (354)."""
    c = session(port)
    c.expect("AUTH PLAIN " + plain(ME, PW) + "\r\n", 235)
    c.expect("MAIL FROM:<%s>\r\n" % ME, 250)
    c.expect("RCPT TO:<bob>\r\n", 250)
    c.expect("DATA\r\n", 354)
    return c


def main():
    work = tempfile.mkdtemp()
    log = os.path.join(work, "log.jsonl")
    port_file = os.path.join(work, "port")
    server = subprocess.Popen([server_bin, "--log", log, "--port-file", port_file, "--user", ME, "--password", PW,
                               "--contact", "bob=bob@bbbbbbbb.freemail", "--auth-delay-ms", "50", "--max-size", "100000",
                               "--max-line", "1000", "--max-sessions", "20"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        port = int(open(port_file).read())

        # A 100 MB command line without an end: 500 and the connection closes long before the end;
        # the server's memory does not grow with the line.
        c = session(port)
        rss_before = rss_kib(server.pid)
        sent = 0
        try:
            chunk = b"X" * (1 << 20)
            for _ in range(100):
                c.send(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 100 << 20, "the server read a 100 MB line to its end"
        try:
            r = c.reply()
        except ConnectionResetError:
            r = ""  # unread data made the close a reset, which may swallow the reply
        assert r == "" or r.startswith("500 5.5.6 Line too long"), r
        assert c.closed()
        grown = rss_kib(server.pid) - rss_before
        assert grown < 8 * 1024, "RSS grew by %d KiB for one long line" % grown
        print("ok: 100 MB line: closed after %d MiB, RSS grew %d KiB" % (sent >> 20, grown))

        # Binary garbage and NULs.
        c = session(port)
        c.expect(b"\x00\xff\xfe garbage\r\n", 500)
        c.expect(b"MAIL\x00FROM:<x>\r\n", 500)
        c.expect("NOOP\r\n", 250)
        print("ok: binary garbage")

        # Bad base64 and malformed SASL in AUTH.
        c.expect("AUTH PLAIN %%%%\r\n", 501)
        c.expect("AUTH PLAIN\r\n", 334)
        c.expect("not base64 at all!\r\n", 501)
        c.expect("AUTH LOGIN\r\n", 334)
        c.expect("====\r\n", 501)
        c.expect("AUTH PLAIN " + base64.b64encode(b"no separators").decode() + "\r\n", 501)
        c.expect("AUTH DIGEST-MD5\r\n", 504)
        print("ok: bad base64 in AUTH")

        # Commands in the wrong state.
        c.expect("RCPT TO:<bob>\r\n", 503)
        c.expect("DATA\r\n", 503)
        c.expect("MAIL FROM:<%s>\r\n" % ME, 530)
        c.expect("AUTH PLAIN " + plain(ME, PW) + "\r\n", 235)
        c.expect("AUTH PLAIN " + plain(ME, PW) + "\r\n", 503)
        c.expect("MAIL FROM:<%s\r\n" % ME, 501)
        c.expect("MAIL FROM:<%s> FOO=BAR\r\n" % ME, 555)
        c.expect("MAIL FROM:<%s>\r\n" % ME, 250)
        c.expect("MAIL FROM:<%s>\r\n" % ME, 503)
        c.expect("AUTH PLAIN x\r\n", 503)
        c.expect("DATA\r\n", 554)
        c.expect("QUIT\r\n", 221)
        assert c.closed()
        print("ok: wrong state")

        # At the cap (--max-sessions 20): a newcomer takes the place of the longest-idle connection
        # that has not logged in; when every session is logged in, the newcomer gets 421 at once.
        held = [session(port) for _ in range(20)]
        newcomer = session(port)
        r = held[0].reply()
        assert r.startswith("421 4.7.0 server full"), r
        assert held[0].closed()
        held = held[1:] + [newcomer]
        for h in held:
            h.expect("AUTH PLAIN %s\r\n" % plain(ME, PW), 235)
        over = Client(port)
        r = over.reply()
        assert r.startswith("421 4.7.0 too many connections"), r
        assert over.closed()
        held[0].expect("NOOP\r\n", 250)
        for h in held:
            h.s.close()
        time.sleep(0.2)
        print("ok: connection cap: an idle unauthenticated connection gave way; full of logged-in sessions -> 421")

        # An oversized message: 552 at the end, session still usable.
        c = data_to_bob(port)
        c.send(("z" * 998 + "\r\n") * 200)
        c.expect(".\r\n", 552)
        c.expect("NOOP\r\n", 250)
        print("ok: oversized message")

        # Clients that vanish: mid-command, mid-AUTH, mid-DATA; and a flood of bad commands.
        for script in [b"EHLO half-a-line", b"EHLO t\r\nAUTH LOGIN\r\n",
                       ("EHLO t\r\nAUTH PLAIN %s\r\nMAIL FROM:<%s>\r\nRCPT TO:<bob>\r\nDATA\r\nSubject: cut\r\n\r\nhalf"
                        % (plain(ME, PW), ME)).encode()]:
            v = Client(port)
            v.send(script)
            v.s.close()
        flood = session(port)
        flood.send(b"BAD\r\n" * 100)
        replies = b""
        while True:
            chunk = flood.s.recv(65536)
            if not chunk:
                break
            replies += chunk
        assert b"421 4.7.0 Too many errors" in replies, replies[-200:]
        print("ok: vanishing clients and bad-command flood")

        # Password guessing: delayed and cut off.
        g = session(port)
        t0 = time.time()
        g.send("".join("AUTH PLAIN %s\r\n" % plain(ME, "guess%d" % i) for i in range(10)))
        text = ""
        while True:
            r = g.reply()
            if not r:
                break
            text += r
        assert text.count("535 ") == 3 and "421 4.7.0" in text, text
        assert time.time() - t0 >= 0.15
        print("ok: password guessing delayed and cut off")

        # After all that, a normal submission still works and nothing bogus was submitted.
        c = data_to_bob(port)
        c.expect("Subject: fine\r\n\r\nstill here\r\n.\r\n", 250)
        c.expect("QUIT\r\n", 221)
        assert server.poll() is None, "server exited"
        submits = [json.loads(l) for l in open(log) if '"kind":"submit"' in l]
        assert len(submits) == 1, submits
        assert "still here" in submits[0]["message"]
        print("all hostile-input tests passed")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
