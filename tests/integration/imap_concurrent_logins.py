#!/usr/bin/env python3
"""Many logins at once against the real fcpmaild (embedded simulated node, real scrypt hashes):
every local client shares 127.0.0.1, so a mail client opening many connections is many logins of
one (user, peer) at once, and each must get in.

Checks, with figures printed: 30 imaplib logins of alice started together with the right password
all succeed (the time until the last is in is printed); then 10 clients log in, NOOP and log out
in a loop for ~10 s (FCPMAIL_RELOGIN_SECONDS) with 0 failures, and the logins/s are printed.
Set FCPMAIL_BUILD_DIR to another build to measure that one (the test then reports its failures)."""
import imaplib
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.clients import PASSWORD, Daemon, Failure, run_main  # noqa: E402

CONCURRENT = 30
CLIENTS = 10
RELOGIN_SECONDS = float(os.environ.get("FCPMAIL_RELOGIN_SECONDS", "10"))


def login_once(d, name):
    """One connection and LOGIN; returns (connection or None, the server's refusal or None)."""
    c = imaplib.IMAP4("127.0.0.1", d.imap_port, timeout=120)
    try:
        c.login(d.address[name], PASSWORD[name])
        return c, None
    except imaplib.IMAP4.error as e:
        try:
            c.shutdown()
        except OSError:
            pass
        return None, str(e)


def concurrent_logins(d):
    start_together = threading.Barrier(CONCURRENT)
    results = [None] * CONCURRENT
    done_at = [0.0] * CONCURRENT

    def one(i):
        start_together.wait()
        c, err = login_once(d, "alice")
        done_at[i] = time.time()
        results[i] = err
        if c is not None:
            c.logout()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CONCURRENT)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    refused = [r for r in results if r is not None]
    took = max(done_at) - start
    print("%d concurrent LOGINs of one user from 127.0.0.1: %d accepted in %.2f s"
          % (CONCURRENT, CONCURRENT - len(refused), took))
    if refused:
        raise Failure("%d of %d right passwords refused, e.g. %s" % (len(refused), CONCURRENT, refused[0]))


def relogin_loop(d):
    stop_at = time.time() + RELOGIN_SECONDS
    logins = [0] * CLIENTS
    failures = []
    lock = threading.Lock()

    def client(i):
        name = "alice"  # one user from one address: the case that was refused
        while time.time() < stop_at:
            try:
                c, err = login_once(d, name)
                if c is None:
                    with lock:
                        failures.append(err)
                    continue
                typ, _ = c.noop()
                if typ != "OK":
                    with lock:
                        failures.append("NOOP: " + typ)
                c.logout()
                logins[i] += 1
            except (OSError, imaplib.IMAP4.abort) as e:
                with lock:
                    failures.append("%s: %s" % (type(e).__name__, e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=RELOGIN_SECONDS + 300)
    took = time.time() - start
    total = sum(logins)
    print("%d clients re-logging in for %.1f s: %d logins (%.1f logins/s), %d failures"
          % (CLIENTS, took, total, total / took, len(failures)))
    if failures:
        raise Failure("%d failed logins, e.g. %s" % (len(failures), failures[0]))
    if total == 0:
        raise Failure("no login completed")


def main():
    with Daemon() as d:
        failed = []
        for step in (concurrent_logins, relogin_loop):
            try:
                step(d)
            except Failure as e:
                failed.append(str(e))
                print("FAIL:", e)
        if failed:
            raise Failure("; ".join(failed))
    print("ok: every right password got in")


if __name__ == "__main__":
    run_main(main)
