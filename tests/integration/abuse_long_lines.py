#!/usr/bin/env python3
"""Local abuse: 100 MB lines. Against the real fcpmaild, each of these streams a 100 MiB line with
no end (and ends it, and DATA, if the server still listens): IMAP before login, IMAP after login,
an SMTP command line, one line inside SMTP DATA, and an HTTP header line. Each must get an error
answer (IMAP BAD/BYE, SMTP 500/552, HTTP 400) and/or have its connection closed, the daemon must
stay up, its resident memory must stay within 64 MiB of where it started (peak and after), and a
normal IMAP session (LOGIN+SELECT) and an SMTP submission of another user must keep working while
the line is streamed."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.abuse import Daemon, Failure, alive, normal_imap, normal_smtp, rss_kib, run, PASSWORD  # noqa: E402

LINE = 100 * 1024 * 1024
CHUNK = b"A" * (1024 * 1024)
BOUND_KIB = 64 * 1024


def expect(sock, marker, timeout=10):
    """Reads until `marker` (bytes) appears; returns what was read."""
    sock.settimeout(timeout)
    got = b""
    deadline = time.time() + timeout
    while marker not in got:
        if time.time() > deadline:
            raise Failure("no %r from the server; got %r" % (marker, got[-300:]))
        data = sock.recv(65536)
        if not data:
            raise Failure("connection closed waiting for %r; got %r" % (marker, got[-300:]))
        got += data
    return got


class LongLine:
    """Streams a 100 MiB line on an open session; a reader thread collects the answer."""

    def __init__(self, sock, end):
        self.sock = sock
        self.end = end
        self.sent = 0
        self.answer = b""
        self.closed = False  # the server closed (EOF, reset, or broken pipe)
        self.done = threading.Event()

    def start(self):
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._send, daemon=True).start()

    def _send(self):
        try:
            while self.sent < LINE:
                self.sock.sendall(CHUNK)
                self.sent += len(CHUNK)
            self.sock.sendall(self.end)
        except OSError:
            self.closed = True
        self.done.set()

    def _read(self):
        self.sock.settimeout(60)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.answer += data
        except OSError:
            pass
        self.closed = True


def abuse(d, label, sock, error_markers, end=b"\r\n"):
    """Streams the line while normal sessions run; checks the answer, the daemon and its memory."""
    pid = d.process.pid
    before = rss_kib(pid)
    line = LongLine(sock, end)
    start = time.time()
    line.start()
    peak = before
    normal = []
    # At least one round of normal sessions, even when the server cuts the line off at once.
    while True:
        normal.append(("imap", normal_imap(d, "bob")))
        normal.append(("smtp", normal_smtp(d, "bob", subject="during " + label)))
        peak = max(peak, rss_kib(pid))
        if time.time() - start > 50:
            raise Failure("%s: streaming took over 50 s" % label)
        if line.done.is_set() and (line.closed or time.time() - start >= 5 or line.answer):
            break
    # Give the server a moment to answer a line that was ended.
    deadline = time.time() + 5
    while not line.closed and not any(m in line.answer for m in error_markers) and time.time() < deadline:
        time.sleep(0.05)
    took = time.time() - start
    sock.close()
    if not alive(d):
        raise Failure("%s: the daemon died" % label)
    if not any(m in line.answer for m in error_markers) and not line.closed:
        raise Failure("%s: neither an error answer nor a closed connection; answer %r" % (label, line.answer[-300:]))
    if not any(m in line.answer for m in error_markers):
        raise Failure("%s: closed without an error answer: %r" % (label, line.answer[-300:]))
    time.sleep(0.3)
    after = rss_kib(pid)
    peak = max(peak, after)
    worst = max(t for _, t in normal)
    print("ok: %s: %d MiB sent in %.1f s, answer %r, %s; RSS %d -> peak %d -> %d KiB (+%d KiB); "
          "%d normal sessions meanwhile, slowest %.2f s"
          % (label, line.sent >> 20, took, line.answer.strip()[-100:], "closed" if line.closed else "open",
             before, peak, after, peak - before, len(normal), worst))
    if peak - before > BOUND_KIB:
        raise Failure("%s: RSS grew by %d KiB (bound %d KiB)" % (label, peak - before, BOUND_KIB))
    if worst > 10:
        raise Failure("%s: a normal session took %.1f s meanwhile" % (label, worst))
    return peak - before


def imap_socket(d, login=None):
    s = socket.create_connection(("127.0.0.1", d.imap_port), timeout=10)
    expect(s, b"* OK")
    if login:
        s.sendall(b'a1 LOGIN "%s" "%s"\r\n' % (d.address[login].encode(), PASSWORD[login].encode()))
        expect(s, b"a1 OK")
    return s


def smtp_socket(d, data_for=None):
    s = socket.create_connection(("127.0.0.1", d.smtp_port), timeout=10)
    expect(s, b"220 ")
    if data_for:
        import base64
        s.sendall(b"EHLO abuser.example\r\n")
        expect(s, b"250 ")
        token = base64.b64encode(b"\0" + d.address[data_for].encode() + b"\0" + PASSWORD[data_for].encode())
        s.sendall(b"AUTH PLAIN " + token + b"\r\n")
        expect(s, b"235 ")
        s.sendall(b"MAIL FROM:<%s>\r\n" % d.address[data_for].encode())
        expect(s, b"250 ")
        s.sendall(b"RCPT TO:<%s>\r\n" % d.address["bob"].encode())
        expect(s, b"250 ")
        s.sendall(b"DATA\r\n")
        expect(s, b"354 ")
        s.sendall(b"Subject: long line\r\n\r\n")
    return s


def main():
    with Daemon() as d:
        normal_imap(d, "bob")
        normal_smtp(d, "bob", subject="warm-up")
        start_rss = rss_kib(d.process.pid)
        abuse(d, "IMAP before login", imap_socket(d), [b" BAD ", b"* BYE"])
        abuse(d, "IMAP after login", imap_socket(d, login="alice"), [b" BAD ", b"* BYE"])
        abuse(d, "SMTP command line", smtp_socket(d), [b"500 ", b"421 "])
        abuse(d, "SMTP DATA line", smtp_socket(d, data_for="alice"), [b"552 ", b"500 ", b"421 "],
              end=b"\r\n.\r\n")
        http = socket.create_connection(("127.0.0.1", int(d.control["http"].rsplit(":", 1)[1])), timeout=10)
        http.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: ")
        abuse(d, "HTTP header line", http, [b"HTTP/1.1 400", b"HTTP/1.1 431"], end=b"\r\n\r\n")
        # Nothing of the 100 MiB line reached the outbox.
        for entry in d.outbox():
            if "long line" in str(entry.get("subject", "")):
                raise Failure("the 100 MiB DATA line was accepted: %r" % entry)
        end_rss = rss_kib(d.process.pid)
        print("ok: daemon up after all five; RSS %d KiB at start, %d KiB at the end" % (start_rss, end_rss))
        if end_rss - start_rss > BOUND_KIB:
            raise Failure("RSS grew by %d KiB over the whole test" % (end_rss - start_rss))


if __name__ == "__main__":
    run(main)
