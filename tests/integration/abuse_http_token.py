#!/usr/bin/env python3
"""Local abuse: the HTTP control API and the web UI of the real fcpmaild without credentials.
Every control API route, read or write, without a token, with a wrong one (same length, a prefix,
empty, Basic auth, the token in the query string) gets 401 and changes nothing (a held message stays
held, no account, contact or message appears). The web UI's state and actions without a session or
with a forged cookie get 401; with a session but without or with a wrong CSRF token 403; a foreign
Host header 421. The right token and a normal IMAP/SMTP session still work throughout."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.abuse import Daemon, Failure, alive, normal_imap, normal_smtp, run, PASSWORD  # noqa: E402
from harness.clients import Http  # noqa: E402

ROUTES = [
    ("GET", "/api/status", None), ("GET", "/api/queues", None), ("GET", "/api/accounts", None),
    ("POST", "/api/accounts", {"name": "mallory", "password": "x"}),
    ("POST", "/api/accounts/export", {"account": "ALICE", "password": "x"}),
    ("POST", "/api/accounts/import", {"data": "x", "password": "x"}),
    ("GET", "/api/jobs/1", None), ("GET", "/api/contacts", None),
    ("POST", "/api/contacts", {"account": "ALICE", "address": "BOB", "petname": "evil"}),
    ("POST", "/api/contacts/remove", {"account": "ALICE", "contact": "bob"}),
    ("GET", "/api/requests", None), ("POST", "/api/requests/approve", {"id": 1}),
    ("GET", "/api/outbox", None), ("GET", "/api/outbox/1", None),
    ("POST", "/api/outbox/approve", {"id": 1}), ("POST", "/api/outbox/cancel", {"id": 1}),
    ("POST", "/api/send", {"from": "ALICE", "to": "BOB", "message": "Subject: forged\r\n\r\nforged"}),
    ("POST", "/api/web/login", {}), ("POST", "/api/web/login", {"account": "ALICE"}),
    ("GET", "/api", None), ("GET", "/api/nothing", None),
]


def snapshot(d):
    """What an unauthorised request must not change, read with the right token (through the CLI).
    Only what a request could change: the engine republishes mailsites on its own meanwhile."""
    accounts = json.loads(d.cli("account", "list", "--json"))["accounts"]
    contacts = json.loads(d.cli("contacts", "list", "--json", "--account", d.address["alice"]))["contacts"]
    return {
        "accounts": sorted((a["address"], a["state"]) for a in accounts),
        "contacts": sorted((c["address"], c["petname"], c["state"]) for c in contacts),
        "outbox": sorted((e["id"], e["subject"], tuple(r["code"] for r in e["recipients"])) for e in d.outbox()),
        "requests": json.loads(d.cli("requests", "list", "--json"))["requests"],
    }


def main():
    with Daemon() as d:
        normal_smtp(d, "alice", to="bob", subject="held for approval")
        held = d.outbox()
        if not held or held[0]["recipients"][0].get("code") != "held":
            raise Failure("setup: no held message: %r" % held)
        token = open(os.path.join(d.data, "control.token")).read().strip()
        h = Http(d)
        before = snapshot(d)

        wrong_tokens = {
            "no Authorization": {},
            "same length, wrong": {"Authorization": "Bearer " + ("0" if token[0] != "0" else "1") + token[1:]},
            "a prefix": {"Authorization": "Bearer " + token[:-1]},
            "empty bearer": {"Authorization": "Bearer "},
            "Basic auth": {"Authorization": "Basic " + __import__("base64").b64encode(b"x:" + token.encode()).decode()},
            "lower-case scheme and padding": {"Authorization": "bearer  " + token + "x"},
        }
        tried = 0
        for method, target, body in ROUTES:
            if body is not None:
                body = json.loads(json.dumps(body).replace("ALICE", d.address["alice"]).replace("BOB", d.address["bob"]))
            for label, headers in wrong_tokens.items():
                status, hdrs, text = h.request(method, target, body, headers)
                if status != 401:
                    raise Failure("%s %s with %s: HTTP %d %s" % (method, target, label, status, text[:200]))
                tried += 1
            status, _, text = h.request(method, target + "?token=" + token, body)
            if status != 401:
                raise Failure("%s %s with the token in the query: HTTP %d" % (method, target, status))
            tried += 1
        print("ok: %d control API requests without the right token: all 401" % tried)
        if snapshot(d) != before:
            raise Failure("an unauthorised request changed something:\n%r\n%r" % (before, snapshot(d)))
        status, _, _ = h.request("GET", "/api/status", None, {"Authorization": "Bearer " + token})
        if status != 200:
            raise Failure("the right token: HTTP %d" % status)
        print("ok: nothing changed (accounts, contacts, outbox with its held message, requests); right token 200; "
              "bob's LOGIN+SELECT %.2f s" % normal_imap(d, "bob"))

        # The web UI.
        for method, target in (("GET", "/ui/api/state"), ("POST", "/ui/api/outbox/approve"), ("POST", "/ui/api/requests/approve")):
            for label, headers in (("no cookie", {}), ("forged cookie", {"Cookie": "fcpmail_session=" + "0" * 64}),
                                   ("control token as cookie", {"Cookie": "fcpmail_session=" + token})):
                status, _, text = h.request(method, target, {"id": held[0]["id"]} if method == "POST" else None, headers)
                if status != 401:
                    raise Failure("web UI %s %s with %s: HTTP %d %s" % (method, target, label, status, text[:200]))
        # A real session, but actions without or with a wrong CSRF token.
        status, _, page = h.request("GET", "/")
        form = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        status, hdrs, _ = h.request("POST", "/login", "user=%s&password=%s&csrf=%s" % (
            d.address["alice"].replace("@", "%40"), PASSWORD["alice"].replace(" ", "+"), form),
            {"Content-Type": "application/x-www-form-urlencoded"})
        cookie = dict(hdrs).get("Set-Cookie", "").split(";")[0]
        if status != 303 or not cookie.startswith("fcpmail_session="):
            raise Failure("web UI login: HTTP %d %r" % (status, hdrs))
        for label, extra in (("no CSRF token", {}), ("wrong CSRF token", {"X-CSRF-Token": "0" * 64}),
                             ("control token as CSRF token", {"X-CSRF-Token": token})):
            headers = {"Cookie": cookie}
            headers.update(extra)
            status, _, text = h.request("POST", "/ui/api/outbox/approve", {"id": held[0]["id"]}, headers)
            if status != 403:
                raise Failure("web UI approve with a session and %s: HTTP %d %s" % (label, status, text[:200]))
        # DNS rebinding: a page of another site resolving to 127.0.0.1 sends its own Host.
        status, _, _ = h.request("GET", "/api/status", None, {"Host": "evil.example", "Authorization": "Bearer " + token})
        if status != 421:
            raise Failure("foreign Host header: HTTP %d, want 421" % status)
        if snapshot(d) != before:
            raise Failure("a web UI request without credentials changed something:\n%r\n%r" % (before, snapshot(d)))
        print("ok: web UI without a session or with a forged cookie 401, without/with a wrong CSRF token 403, "
              "foreign Host 421; nothing changed; bob's submission %.2f s" % normal_smtp(d, "bob", subject="after"))
        if not alive(d):
            raise Failure("the daemon died")


if __name__ == "__main__":
    run(main)
