#!/usr/bin/env python3
"""Approval needs a credential the mail client does not have. Against a real fcpmaild on its
embedded node: alice submits over SMTP with her mail password (held); carol's contact request to
alice is pending. Logged into the web UI with alice's mail password (what a hijacked mail client
knows), every way to release the mail or answer the request is refused: approve one, approve all,
cancel, requests approve and deny (403 naming `fcpmail web login`), a forged CSRF token (403), the
JSON control API with the session cookie instead of the bearer token (401), the cookie and CSRF
token at /api/ (401). IMAP cannot move or delete the Outbox copy either. The mail stays held and the
request pending (checked with `fcpmail outbox list --json` and `fcpmail requests list --json`).
The session shows alice's own counts and queues only (bob's held mail is not counted in it).
Then `fcpmail web login` prints a one-time link; opening it gives a session whose Approve and
request Approve work; the link cannot be used twice, and a forged link is refused."""
import socket
import json
import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.clients import PASSWORD, Daemon, Failure, wait_for, run_main, Http  # noqa: E402


def page_csrf(page):
    m = re.search(r'<meta name="csrf" content="([0-9a-f]+)">', page)
    if not m:
        raise Failure("no CSRF token in the page: " + page[:300])
    return m.group(1)


def session_cookie(headers):
    cookie = headers.get("Set-Cookie", "")
    if "HttpOnly" not in cookie or "SameSite=Strict" not in cookie:
        raise Failure("session cookie without HttpOnly/SameSite=Strict: %r" % cookie)
    return cookie.split(";")[0]


def imap_outbox_attempts(d, name):
    """Raw IMAP (imaplib will not send STORE to a READ-ONLY folder): SELECT Outbox, then try to
    MOVE, flag \\Deleted and EXPUNGE the held mail's copy. Fails if any of them succeeds."""
    sock = socket.create_connection(("127.0.0.1", d.imap_port), timeout=20)
    f = sock.makefile("rb")
    f.readline()
    tags = iter(range(1, 100))

    def command(text):
        tag = "a%d" % next(tags)
        sock.sendall(("%s %s\r\n" % (tag, text)).encode())
        lines = []
        while True:
            line = f.readline().decode(errors="replace")
            if not line:
                raise Failure("IMAP connection closed after " + text)
            lines.append(line)
            if line.startswith(tag + " "):
                return line[len(tag) + 1:].split(" ", 1)[0], lines

    def quoted(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    status, _ = command("LOGIN %s %s" % (quoted(d.address[name]), quoted(PASSWORD[name])))
    if status != "OK":
        raise Failure("IMAP LOGIN: " + status)
    status, lines = command("SELECT Outbox")
    if status != "OK":
        raise Failure("SELECT Outbox: %r" % lines)
    status, lines = command("UID SEARCH ALL")
    uids = [w for line in lines if line.startswith("* SEARCH") for w in line.split()[2:]]
    if not uids:
        raise Failure("no copy of the held mail in the Outbox folder")
    for text in ("UID MOVE %s INBOX" % uids[0], "UID STORE %s +FLAGS (\\Deleted)" % uids[0], "EXPUNGE",
                 "UID EXPUNGE %s" % uids[0]):
        status, lines = command(text)
        if status == "OK" and not text.startswith("UID STORE"):
            raise Failure("IMAP %s in the Outbox folder succeeded: %r" % (text, lines))
    command("LOGOUT")
    sock.close()


def codes(d, outbox_id):
    for e in d.outbox():
        if e["id"] == outbox_id:
            return [r["code"] for r in e["recipients"]]
    raise Failure("outbox message %d is gone" % outbox_id)


def pending_requests(d):
    r = json.loads(d.cli("requests", "list", "--json", "--account", d.address["alice"]))["requests"]
    return [q for q in r if q["state"] == "pending"]


def main():
    with Daemon(requests="manual") as d:
        h = Http(d)
        alice = d.address["alice"]
        # carol (a stranger to alice) asks to mail her: a pending contact request.
        d.stranger_writes_to_alice("carol", "hello from carol")
        requests, took = wait_for("carol's contact request to alice", lambda: pending_requests(d), timeout=120)
        request_id = requests[0]["id"]
        print("ok: carol's request #%d to alice is pending (%.1f s)" % (request_id, took))

        # alice's mail client submits with the mail password: held.
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
        s.login(alice, PASSWORD["alice"])
        s.sendmail(alice, [d.address["bob"]], "From: %s\r\nTo: %s\r\nSubject: sneaky\r\n\r\nout it goes\r\n"
                   % (alice, d.address["bob"]))
        s.quit()
        # bob has held mail too: alice's web UI must not count it.
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
        s.login(d.address["bob"], PASSWORD["bob"])
        s.sendmail(d.address["bob"], [alice], "From: %s\r\nTo: %s\r\nSubject: bob's own\r\n\r\nx\r\n"
                   % (d.address["bob"], alice))
        s.quit()
        held = [e for e in d.outbox(alice) if e["subject"] == "sneaky"]
        if not held or codes(d, held[0]["id"]) != ["held"]:
            raise Failure("setup: the submission is not held: %r" % held)
        outbox_id = held[0]["id"]

        # The hijacked mail client logs into the web UI with the same password.
        status, _, page = h.request("GET", "/")
        form = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        if "fcpmail web login" not in page:
            raise Failure("the login page does not say how to get the approval right")
        status, hdrs, _ = h.request("POST", "/login", "user=%s&password=%s&csrf=%s" % (
            alice.replace("@", "%40"), PASSWORD["alice"].replace(" ", "+"), form),
            {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 303:
            raise Failure("password login: HTTP %d" % status)
        cookie = session_cookie(hdrs)
        status, _, page = h.request("GET", "/", None, {"Cookie": cookie})
        csrf = page_csrf(page)
        status, _, state = h.request("GET", "/ui/api/state", None, {"Cookie": cookie})
        state = json.loads(state)
        if status != 200 or state["owner"] is not False or not state["outbox"]:
            raise Failure("the password session's view: HTTP %d %r" % (status, state))
        owner_status = json.loads(d.cli("status", "--json"))
        mine = state["status"]
        if owner_status["counts"]["held"] != 2 or mine["counts"]["held"] != 1 or len(state["outbox"]) != 1:
            raise Failure("alice's view counts others' mail: owner held %d, alice's held %d, outbox %r" % (
                owner_status["counts"]["held"], mine["counts"]["held"], state["outbox"]))
        if [a["address"] for a in mine["accounts"]] != [alice] or "fcp_requests_total" in mine \
                or "fcp_in_flight" in mine["counts"] or state["queues"]["in_flight"] \
                or any(c["account"] != alice for c in state["queues"]["channels"]):
            raise Failure("alice's view shows the daemon's or other accounts' figures: %r" % mine)
        if any(w["account"] not in (None, alice) for w in mine["warnings"]):
            raise Failure("alice sees another account's warning: %r" % mine["warnings"])
        print("ok: the mail password gives a view-only session that sees alice's own counts only "
              "(held 1 of the daemon's 2)")

        attempts = [
            ("approve one", "/ui/api/outbox/approve", {"id": outbox_id}, csrf, 403),
            ("approve all", "/ui/api/outbox/approve", {"all": True}, csrf, 403),
            ("cancel", "/ui/api/outbox/cancel", {"id": outbox_id}, csrf, 403),
            ("requests approve", "/ui/api/requests/approve", {"id": request_id}, csrf, 403),
            ("requests deny", "/ui/api/requests/deny", {"id": request_id}, csrf, 403),
            ("forged CSRF", "/ui/api/outbox/approve", {"id": outbox_id}, "0" * 64, 403),
            ("no CSRF", "/ui/api/outbox/approve", {"id": outbox_id}, None, 403),
        ]
        for label, target, body, token, want in attempts:
            headers = {"Cookie": cookie}
            if token:
                headers["X-CSRF-Token"] = token
            status, _, text = h.request("POST", target, body, headers)
            if status != want:
                raise Failure("%s with the password session: HTTP %d (want %d) %s" % (label, status, want, text[:200]))
            if token == csrf and "fcpmail web login" not in text:
                raise Failure("%s: the refusal does not say what to do: %s" % (label, text[:200]))
        for target, body in (("/api/outbox/approve", {"id": outbox_id}), ("/api/outbox/approve", {"all": True}),
                             ("/api/requests/approve", {"id": request_id}), ("/api/web/login", {})):
            status, _, text = h.request("POST", target, body, {"Cookie": cookie, "X-CSRF-Token": csrf})
            if status != 401:
                raise Failure("control API %s with the session cookie: HTTP %d %s" % (target, status, text[:200]))
        # IMAP: the Outbox copy cannot be deleted or moved away (nothing there releases mail anyway).
        imap_outbox_attempts(d, "alice")
        if codes(d, outbox_id) != ["held"]:
            raise Failure("the mail is no longer held: %r" % codes(d, outbox_id))
        if [q["id"] for q in pending_requests(d)] != [request_id]:
            raise Failure("carol's request is no longer pending: %r" % pending_requests(d))
        print("ok: approve one/all, cancel, requests approve/deny, forged/no CSRF (403), the control API with "
              "the cookie (401), IMAP MOVE/EXPUNGE in Outbox: the mail is still held, the request pending")

        # The owner's way in: a one-time link from the CLI (control.token).
        out = d.cli("web", "login", "--account", alice)
        m = re.search(r"http://127\.0\.0\.1:\d+(/login\?once=[0-9a-f]{32})", out)
        if not m:
            raise Failure("fcpmail web login printed no link: " + out)
        link = m.group(1)
        status, _, _ = h.request("GET", link[:-1] + ("0" if link[-1] != "0" else "1"))
        if status != 403:
            raise Failure("a forged link: HTTP %d" % status)
        status, hdrs, _ = h.request("GET", link)
        if status != 303:
            raise Failure("opening the link: HTTP %d" % status)
        owner = session_cookie(hdrs)
        status, hdrs2, _ = h.request("GET", link)
        if status != 403 or "Set-Cookie" in hdrs2:
            raise Failure("the link worked twice: HTTP %d" % status)
        print("ok: `fcpmail web login` link opens a session once; a second use and a forged link are refused")
        status, _, page = h.request("GET", "/", None, {"Cookie": owner})
        owner_csrf = page_csrf(page)
        status, _, text = h.request("POST", "/ui/api/outbox/approve", {"id": outbox_id},
                                    {"Cookie": owner, "X-CSRF-Token": owner_csrf})
        if status != 200 or codes(d, outbox_id) == ["held"]:
            raise Failure("approve with the owner session: HTTP %d %s; %r" % (status, text[:200], codes(d, outbox_id)))
        status, _, text = h.request("POST", "/ui/api/requests/approve", {"id": request_id},
                                    {"Cookie": owner, "X-CSRF-Token": owner_csrf})
        if status != 200 or pending_requests(d):
            raise Failure("request approve with the owner session: HTTP %d %s" % (status, text[:200]))
        # The password session still cannot act after the owner did.
        status, _, _ = h.request("POST", "/ui/api/outbox/cancel", {"id": outbox_id}, {"Cookie": cookie, "X-CSRF-Token": csrf})
        if status != 403:
            raise Failure("the password session could cancel after all: HTTP %d" % status)
        print("ok: the owner session approved the mail (now %s) and carol's request" % codes(d, outbox_id))
        if d.process.poll() is not None:
            raise Failure("the daemon died")
    print("PASS")


if __name__ == "__main__":
    run_main(main)
