#!/usr/bin/env python3
"""Local abuse: 1,000 connections open at once, to IMAP, then SMTP, then HTTP, of the real fcpmaild.
Every connection must be answered cleanly within 15 s, either served (greeting) or refused (IMAP
`* BYE too many connections`, SMTP 421, HTTP closed at once); the daemon stays up with bounded
memory; while the 1,000 are open the other protocols serve a normal IMAP LOGIN+SELECT, an SMTP
submission and an authenticated API call; the flooded protocol itself must serve a normal session
too where it can make room (HTTP and IMAP close their longest-idle connection that has not logged
in), and otherwise refuse it cleanly (SMTP at its cap, see .team/smtp-bugs.md); after the flood
everything works again."""
import json
import os
import resource
import selectors
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.abuse import Daemon, Failure, alive, normal_imap, normal_smtp, rss_kib, run  # noqa: E402

COUNT = 1000
# Protocols that must serve a normal session even while the flood fills their connection cap.
SERVES_DURING_OWN_FLOOD = {"HTTP", "IMAP", "SMTP"}
BOUND_KIB = 64 * 1024


def api_status(d):
    token = open(os.path.join(d.data, "control.token")).read().strip()
    req = urllib.request.Request("http://%s/api/status" % d.control["http"], headers={"Authorization": "Bearer " + token})
    start = time.time()
    with urllib.request.urlopen(req, timeout=20) as r:
        json.load(r)
        return time.time() - start


def flood(port, first_bytes=b""):
    """Opens COUNT connections at once; returns (sockets, {outcome: count}) once each has answered."""
    sockets = []
    for _ in range(COUNT):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        sockets.append(s)
    sel = selectors.DefaultSelector()
    for s in sockets:
        sel.register(s, selectors.EVENT_WRITE)
    pending = {s: b"" for s in sockets}
    outcome = {}
    deadline = time.time() + 15
    connected = set()
    while pending and time.time() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            if s not in connected:
                connected.add(s)
                if first_bytes:
                    try:
                        s.send(first_bytes)
                    except OSError:
                        pass
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                data = None
            except BlockingIOError:
                continue
            if not data:
                outcome[s] = "closed" if not pending[s] else pending[s].split(b"\r\n")[0].decode(errors="replace")
            else:
                pending[s] += data
                if b"\r\n" not in pending[s]:
                    continue
                outcome[s] = pending[s].split(b"\r\n")[0].decode(errors="replace")
            del pending[s]
            sel.unregister(s)
    sel.close()
    counts = {}
    for s in sockets:
        kind = outcome.get(s, "no answer")
        kind = kind[:40]
        counts[kind] = counts.get(kind, 0) + 1
    return sockets, counts


def summarise(counts):
    return ", ".join("%d x %r" % (n, k) for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def try_normal(what, fn, d):
    try:
        return "served in %.2f s" % fn(d)
    except Exception as e:  # a clean refusal is acceptable while the cap is full
        return "refused (%s)" % str(e)[:80]


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    with Daemon() as d:
        pid = d.process.pid
        normal_imap(d, "bob")
        normal_smtp(d, "bob", subject="warm-up")
        start_rss = rss_kib(pid)
        http_port = int(d.control["http"].rsplit(":", 1)[1])
        for label, port, first, ok_prefix, refused_prefixes in (
                ("IMAP", d.imap_port, b"", "* OK", ("* BYE",)),
                ("SMTP", d.smtp_port, b"", "220 ", ("421 ",)),
                ("HTTP", http_port, b"GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.1 204", ("closed",))):
            before = rss_kib(pid)
            t0 = time.time()
            sockets, counts = flood(port, first)
            took = time.time() - t0
            peak = rss_kib(pid)
            served = sum(n for k, n in counts.items() if k.startswith(ok_prefix))
            refused = sum(n for k, n in counts.items() if k.startswith(refused_prefixes))
            print("ok: %s: %d connections answered in %.1f s: %s; RSS %d -> %d KiB"
                  % (label, COUNT, took, summarise(counts), before, peak))
            if served + refused != COUNT:
                raise Failure("%s: %d connections neither served nor cleanly refused: %s" % (label, COUNT - served - refused, summarise(counts)))
            if served == 0:
                raise Failure("%s: not one connection served" % label)
            if not alive(d):
                raise Failure("%s flood: the daemon died" % label)
            # While the flood holds its connections open:
            during = {"IMAP": try_normal("IMAP", normal_imap, d), "SMTP": try_normal("SMTP", normal_smtp, d),
                      "HTTP": try_normal("HTTP", api_status, d)}
            print("   during the %s flood: %s" % (label, "; ".join("%s %s" % kv for kv in during.items())))
            for other, result in during.items():
                if (other != label or other in SERVES_DURING_OWN_FLOOD) and not result.startswith("served"):
                    raise Failure("%s flood: a normal %s session was not served: %s" % (label, other, result))
                if other == label and not (result.startswith("served") or "too many" in result.lower()
                                           or "closed" in result.lower() or "disconnect" in result.lower()
                                           or "reset" in result.lower() or "remote end" in result.lower()):
                    raise Failure("%s flood: the normal %s session failed uncleanly: %s" % (label, other, result))
            if peak - start_rss > BOUND_KIB:
                raise Failure("%s flood: RSS grew by %d KiB" % (label, peak - start_rss))
            for s in sockets:
                s.close()
            time.sleep(0.5)
            after = {"IMAP": normal_imap(d), "SMTP": normal_smtp(d, subject="after " + label), "HTTP": api_status(d)}
            print("   after: %s" % "; ".join("%s served in %.2f s" % kv for kv in after.items()))
        end_rss = rss_kib(pid)
        print("ok: daemon up; RSS %d KiB at start, %d KiB at the end" % (start_rss, end_rss))
        if end_rss - start_rss > BOUND_KIB:
            raise Failure("RSS grew by %d KiB" % (end_rss - start_rss))


if __name__ == "__main__":
    run(main)
