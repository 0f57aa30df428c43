#!/usr/bin/env python3
"""Local abuse: literals announced but never finished, against the real fcpmaild.
- IMAP before login: `a LOGIN {100000000}` must be refused at once (no `+` continuation).
- IMAP after login: `APPEND INBOX {100000000}` (above the literal limit) must be refused at once.
- IMAP after login: `APPEND INBOX {60000000}` (within the limit), a few bytes, then silence and a
  disconnect, and the same with the non-synchronising form {N+}: nothing is appended, the daemon
  stays up with bounded memory.
- SMTP: DATA with a few lines, then silence and a disconnect: nothing reaches the outbox.
Throughout, another user's normal IMAP session and SMTP submission are served."""
import base64
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.abuse import Daemon, Failure, alive, normal_imap, normal_smtp, rss_kib, run, PASSWORD  # noqa: E402

BOUND_KIB = 64 * 1024


def read_until(sock, markers, timeout=10):
    """Reads until one of `markers` (bytes) appears or the server closes; returns (data, closed)."""
    sock.settimeout(timeout)
    got = b""
    deadline = time.time() + timeout
    while not any(m in got for m in markers):
        if time.time() > deadline:
            raise Failure("none of %r within %d s; got %r" % (markers, timeout, got[-300:]))
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return got, True
        if not data:
            return got, True
        got += data
    return got, False


def imap_connect(d, login=None):
    s = socket.create_connection(("127.0.0.1", d.imap_port), timeout=10)
    read_until(s, [b"* OK"])
    if login:
        s.sendall(b'a0 LOGIN "%s" "%s"\r\n' % (d.address[login].encode(), PASSWORD[login].encode()))
        got, _ = read_until(s, [b"a0 OK", b"a0 NO"])
        if b"a0 OK" not in got:
            raise Failure("login failed: %r" % got)
    return s


def inbox_count(d, name):
    c = d.imap(name)
    typ, data = c.select("INBOX", readonly=True)
    c.logout()
    return int(data[0])


def others_served(d, label):
    t_imap = normal_imap(d, "bob")
    t_smtp = normal_smtp(d, "bob", subject="during " + label)
    return "bob's LOGIN+SELECT %.2f s, submission %.2f s" % (t_imap, t_smtp)


def refused_at_once(d, label, sock, command, tag):
    sock.sendall(command)
    got, closed = read_until(sock, [tag + b" NO", tag + b" BAD", b"* BYE", b"+ "])
    if any(line.startswith(b"+") for line in got.split(b"\r\n")):
        raise Failure("%s: the server asked for the literal: %r" % (label, got))
    if not (tag + b" NO" in got or tag + b" BAD" in got or b"* BYE" in got or closed):
        raise Failure("%s: no refusal: %r" % (label, got))
    print("ok: %s refused at once: %r%s; %s" % (label, got.strip()[-90:], " (closed)" if closed else "", others_served(d, label)))
    sock.close()


def main():
    with Daemon() as d:
        pid = d.process.pid
        start_rss = rss_kib(pid)
        alice_inbox = inbox_count(d, "alice")
        outbox_before = len(d.outbox())

        refused_at_once(d, "IMAP LOGIN {100000000} before login", imap_connect(d),
                        b"a1 LOGIN {100000000}\r\n", b"a1")
        refused_at_once(d, "IMAP APPEND {100000000} after login", imap_connect(d, "alice"),
                        b"a2 APPEND INBOX {100000000}\r\n", b"a2")

        for literal in (b"{60000000}", b"{60000000+}"):
            label = "IMAP APPEND %s, a few bytes, silence, disconnect" % literal.decode()
            s = imap_connect(d, "alice")
            before = rss_kib(pid)
            s.sendall(b"a3 APPEND INBOX " + literal + b"\r\n")
            if not literal.endswith(b"+}"):
                got, closed = read_until(s, [b"+ ", b"a3 NO", b"a3 BAD"])
                if closed:
                    raise Failure("%s: closed at the announcement" % label)
            s.sendall(b"From: someone\r\nSubject: never finished\r\n\r\nonly this")
            time.sleep(1.0)  # silence: the session waits for the rest; others must not
            served = others_served(d, label)
            if not alive(d):
                raise Failure("%s: the daemon died" % label)
            s.close()
            time.sleep(0.3)
            after = rss_kib(pid)
            print("ok: %s: %s; RSS %d -> %d KiB" % (label, served, before, after))
            if after - start_rss > BOUND_KIB:
                raise Failure("%s: RSS grew by %d KiB" % (label, after - start_rss))
        if inbox_count(d, "alice") != alice_inbox:
            raise Failure("an unfinished APPEND reached alice's INBOX")
        print("ok: alice's INBOX still has %d messages" % alice_inbox)

        # SMTP: DATA never finished.
        s = socket.create_connection(("127.0.0.1", d.smtp_port), timeout=10)
        read_until(s, [b"220 "])
        s.sendall(b"EHLO abuser.example\r\n")
        read_until(s, [b"250 "])
        token = base64.b64encode(b"\0" + d.address["alice"].encode() + b"\0" + PASSWORD["alice"].encode())
        s.sendall(b"AUTH PLAIN " + token + b"\r\n")
        read_until(s, [b"235 "])
        s.sendall(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n" % (d.address["alice"].encode(), d.address["bob"].encode()))
        read_until(s, [b"354 "])
        s.sendall(b"Subject: never finished\r\n\r\nfirst line\r\nsecond line\r\n")
        time.sleep(1.0)
        served = others_served(d, "SMTP DATA never finished")
        s.close()
        time.sleep(0.3)
        outbox = d.outbox()
        if any(e.get("subject") == "never finished" for e in outbox):
            raise Failure("an unfinished DATA reached the outbox")
        # The normal submissions of bob are there (one per others_served call).
        if len(outbox) < outbox_before + 5:
            raise Failure("bob's submissions are missing from the outbox: %d entries" % len(outbox))
        print("ok: SMTP DATA never finished: nothing queued; %s" % served)
        if not alive(d):
            raise Failure("the daemon died")
        print("ok: daemon up; RSS %d KiB at start, %d KiB at the end" % (start_rss, rss_kib(pid)))


if __name__ == "__main__":
    run(main)
