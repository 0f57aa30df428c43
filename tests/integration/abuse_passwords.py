#!/usr/bin/env python3
"""Local abuse: password guessing against the real fcpmaild (one login gate shared by IMAP, SMTP and
the web UI; defaults: 3 free failures per (user, peer), then 1 s doubling to 30 s; 20 failures of
one user across peers lock that user out for 15 min). Peers are loopback source addresses
(127.0.0.1, 127.0.0.2, ...), which the daemon sees as different clients.

Checks, with measured times: guesses 4, 5 and 6 of one (user, peer) over IMAP wait about 1, 2 and
4 s; meanwhile the right password of the same user from another peer gets in at once, and so does
another user; failures count across protocols (SMTP then the web UI for bob); after 20 failures
alice is locked out even with the right password and from a fresh peer, while bob still logs in."""
import base64
import http.client
import os
import re
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.abuse import Daemon, Failure, alive, imap_login, normal_imap, run, PASSWORD  # noqa: E402

SLOW_CHECK = 2.0  # a check without penalty (scrypt ~0.4 s) stays below this even on a loaded 2-core machine


def smtp_auth(d, name, password, source):
    """One AUTH PLAIN on a new connection (smtplib.login would try several mechanisms); returns
    (accepted, seconds until the reply, reply). The SMTP session adds its own 1 s after a failure."""
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=60, source_address=(source, 0))
    try:
        s.ehlo("guesser.example")
        token = base64.b64encode(b"\0" + d.address[name].encode() + b"\0" + password.encode()).decode()
        start = time.time()
        code, reply = s.docmd("AUTH", "PLAIN " + token)
        return code == 235, time.time() - start, b"%d %s" % (code, reply)
    finally:
        try:
            s.close()
        except OSError:
            pass


def web_login(d, name, password, source):
    """The web UI's login form from `source`; returns (HTTP status, seconds the POST took)."""
    host, port = d.control["http"].rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))
    c.request("GET", "/")
    page = c.getresponse().read().decode()
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
    body = "user=%s&password=%s&csrf=%s" % (d.address[name].replace("@", "%40"), password, token)
    start = time.time()
    c.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, time.time() - start


def main():
    with Daemon() as d:
        # 1. Guessing alice's password over IMAP from 127.0.0.1: 3 free, then ~1, 2, 4 s.
        took = []
        concurrent = {}
        for attempt in range(6):
            if attempt == 5:
                # While this guess serves its 4 s penalty, the owner (another peer) and bob get in.
                def owner():
                    c, t, err = imap_login(d, "alice", source="127.0.0.2")
                    concurrent["alice@127.0.0.2"] = (c is not None, t, err)
                    if c:
                        c.logout()
                    concurrent["bob"] = normal_imap(d, "bob")

                helper = threading.Timer(0.5, owner)
                helper.start()
            c, t, err = imap_login(d, "alice", password="guess%d" % attempt)
            if c is not None:
                raise Failure("a wrong password was accepted")
            took.append(t)
        helper.join()
        print("ok: IMAP guesses from 127.0.0.1 took %s s" % ", ".join("%.2f" % t for t in took))
        for i in range(3):
            if took[i] > SLOW_CHECK:
                raise Failure("free guess %d took %.2f s" % (i + 1, took[i]))
        for i, penalty in ((3, 1.0), (4, 2.0), (5, 4.0)):
            if not (penalty <= took[i] < penalty + SLOW_CHECK + 1.0):
                raise Failure("guess %d took %.2f s, want %.0f s + the check" % (i + 1, took[i], penalty))
        ok, t, err = concurrent["alice@127.0.0.2"]
        if not ok or t > SLOW_CHECK:
            raise Failure("alice's right password from 127.0.0.2 during the guessing: ok=%s %.2f s %s" % (ok, t, err))
        print("ok: meanwhile alice from 127.0.0.2 logged in in %.2f s, bob's LOGIN+SELECT took %.2f s"
              % (t, concurrent["bob"]))

        # 2. Failures count across protocols: bob guessed over SMTP, then the web UI is delayed.
        smtp_took = []
        for attempt in range(4):
            accepted, t, reply = smtp_auth(d, "bob", "guess%d" % attempt, "127.0.0.3")
            if accepted:
                raise Failure("SMTP accepted a wrong password")
            smtp_took.append(t)
        status, web_took = web_login(d, "bob", "guess-web", "127.0.0.3")
        print("ok: SMTP guesses for bob from 127.0.0.3 took %s s; the 5th, over the web UI: HTTP %d in %.2f s"
              % (", ".join("%.2f" % t for t in smtp_took), status, web_took))
        # Each SMTP failure is answered after the gate's penalty plus the session's own 1 s.
        for i in range(3):
            if smtp_took[i] > 1.0 + SLOW_CHECK:
                raise Failure("free SMTP guess %d took %.2f s" % (i + 1, smtp_took[i]))
        if not (2.0 <= smtp_took[3] < 2.0 + SLOW_CHECK + 1.0):
            raise Failure("4th SMTP guess took %.2f s, want 1 s penalty + 1 s session delay" % smtp_took[3])
        if status != 401 or not (2.0 <= web_took < 2.0 + SLOW_CHECK + 1.0):
            raise Failure("web UI guess after 4 SMTP failures: HTTP %d in %.2f s, want 401 after ~2 s" % (status, web_took))
        status, t = web_login(d, "bob", PASSWORD["bob"], "127.0.0.4")
        if status != 303 or t > SLOW_CHECK:
            raise Failure("bob's right password on the web UI from 127.0.0.4: HTTP %d in %.2f s" % (status, t))

        # 3. Lockout: 20 failures of alice across peers (3 per peer, so never delayed).
        failures = 6
        peer = 10
        while failures < 20:
            for _ in range(3):
                if failures == 20:
                    break
                c, t, _ = imap_login(d, "alice", password="spray", source="127.0.0.%d" % peer)
                if c is not None:
                    raise Failure("a wrong password was accepted")
                failures += 1
            peer += 1
        c, t, err = imap_login(d, "alice", source="127.0.0.99")
        if c is not None:
            raise Failure("alice logged in with the right password although 20 failures should lock her out")
        accepted, t_smtp, reply = smtp_auth(d, "alice", PASSWORD["alice"], "127.0.0.99")
        if accepted:
            raise Failure("alice got in over SMTP although locked out")
        status, t_web = web_login(d, "alice", PASSWORD["alice"], "127.0.0.99")
        if status != 429:
            raise Failure("locked-out web UI login gave HTTP %d, want 429" % status)
        print("ok: after 20 failures alice is locked out with the right password from a fresh peer: "
              "IMAP %r in %.2f s, SMTP %r in %.2f s, web UI HTTP %d in %.2f s"
              % (err, t, reply, t_smtp, status, t_web))
        bob_took = normal_imap(d, "bob")
        print("ok: bob still logs in (LOGIN+SELECT %.2f s)" % bob_took)
        if not alive(d):
            raise Failure("the daemon died")


if __name__ == "__main__":
    run(main)
