#!/usr/bin/env python3
"""No input crashes the control API or the web UI. Against a real fcpmaild on its embedded node,
alice's mail client submits over SMTP (raw bytes) mail that is not UTF-8: a Latin-1 byte and a NUL
in the Subject, Latin-1 From/To display names, Latin-1 and NUL bytes in the body. Then every CLI
view keeps working (outbox list / show, with and without --json; queues; status; requests;
contacts), as do the web UI page and its JSON state; `fcpmail send` of such a file works too;
`outbox cancel` removes such an entry; and the daemon is still up and answering afterwards."""
import http.client
import json
import os
import re
import smtplib
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.clients import BUILD, PASSWORD, Daemon, Failure, run_main  # noqa: E402


def cli_raw(d, *args):
    """fcpmail's output as bytes (it may print U+FFFD), failing on a non-zero exit."""
    r = subprocess.run([os.path.join(BUILD, "fcpmail"), *args, "--data-dir", d.data], capture_output=True, timeout=60)
    if r.returncode != 0:
        raise Failure("fcpmail %s: rc=%d %r %r" % (" ".join(args), r.returncode, r.stdout[-300:], r.stderr[-300:]))
    return r.stdout.decode("utf-8")  # strict: the CLI prints valid UTF-8


def http_get(d, target, headers):
    host, port = d.control["http"].rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=20)
    c.request("GET", target, None, dict({"Host": "127.0.0.1"}, **headers))
    r = c.getresponse()
    out = r.status, dict(r.getheaders()), r.read()
    c.close()
    return out


def main():
    with Daemon() as d:
        alice, bob = d.address["alice"], d.address["bob"]
        raw = (b"From: =?x?= Ren\xe9 <" + alice.encode() + b">\r\n"
               b"To: B\xf6b \x00 <" + bob.encode() + b">\r\n"
               b"Subject: caf\xe9 \x00 end\r\n\r\n"
               b"body caf\xe9 with a NUL \x00 and \xff\r\n")
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
        s.login(alice, PASSWORD["alice"])
        refused = s.sendmail(alice, [bob], raw)
        s.quit()
        if refused:
            raise Failure("SMTP refused: %r" % refused)
        # And the same through `fcpmail send` (the CLI must carry bytes that are not UTF-8).
        path = os.path.join(d.work, "latin1.eml")
        with open(path, "wb") as f:
            f.write(raw.replace(b"caf\xe9 \x00 end", b"second caf\xe9"))
        cli_raw(d, "send", "--from", alice, "--to", bob, "--file", path)
        print("ok: two messages with Latin-1 and NUL bytes submitted (SMTP and fcpmail send)")

        listing = json.loads(cli_raw(d, "outbox", "list", "--json"))["outbox"]
        if len(listing) != 2:
            raise Failure("outbox list --json: %r" % listing)
        first, second = listing[0], listing[1]
        if not first["subject"].startswith("caf\ufffd"):
            raise Failure("the Latin-1 byte is not shown as U+FFFD: %r" % first["subject"])
        if "second caf\ufffd" not in second["subject"]:
            raise Failure("fcpmail send changed the message: %r" % second["subject"])
        text = cli_raw(d, "outbox", "list")
        if "#%d" % first["id"] not in text or "caf\ufffd" not in text or "\x00" in text:
            raise Failure("outbox list: %r" % text)
        for args in (("outbox", "show", str(first["id"])), ("outbox", "show", str(first["id"]), "--json"),
                     ("queues",), ("queues", "--json"), ("status",), ("status", "--json"),
                     ("requests", "list"), ("contacts", "list", "--account", alice)):
            out = cli_raw(d, *args)
            if args[-1] == "--json":
                json.loads(out)
            if args[:2] == ("outbox", "show") and "\x00" in out:
                raise Failure("outbox show printed a NUL: %r" % out)
        print("ok: outbox list/show, queues, status, requests, contacts (text and --json) all work")

        # The web UI (view-only is enough to look).
        status, _, page = http_get(d, "/", {})
        form = re.search(rb'name="csrf" value="([0-9a-f]+)"', page).group(1).decode()
        host, port = d.control["http"].rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(port), timeout=20)
        c.request("POST", "/login", "user=%s&password=%s&csrf=%s" % (alice.replace("@", "%40"),
                  PASSWORD["alice"].replace(" ", "+"), form),
                  {"Host": "127.0.0.1", "Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        cookie = r.getheader("Set-Cookie", "").split(";")[0]
        r.read()
        c.close()
        if r.status != 303 or not cookie:
            raise Failure("web UI login: HTTP %d" % r.status)
        status, _, page = http_get(d, "/", {"Cookie": cookie})
        if status != 200:
            raise Failure("web UI page: HTTP %d" % status)
        status, _, state = http_get(d, "/ui/api/state", {"Cookie": cookie})
        if status != 200:
            raise Failure("web UI state: HTTP %d %r" % (status, state[:200]))
        state = json.loads(state.decode("utf-8"))
        if len(state["outbox"]) != 2:
            raise Failure("web UI state outbox: %r" % state["outbox"])
        print("ok: the web UI page and its JSON state work")

        # Cancel removes it from the queue; the daemon is still up and the views still work.
        out = cli_raw(d, "outbox", "cancel", str(first["id"]))
        if "Cancelled" not in out:
            raise Failure("outbox cancel: %r" % out)
        after = json.loads(cli_raw(d, "outbox", "list", "--json"))["outbox"]
        if [r["code"] for r in after[0]["recipients"]] != ["cancelled"]:
            raise Failure("after cancel: %r" % after[0])
        cli_raw(d, "outbox", "cancel", str(second["id"]))
        cli_raw(d, "status")
        if d.process.poll() is not None:
            raise Failure("the daemon died")
        print("ok: outbox cancel works on both; the daemon is up")
    print("PASS")


if __name__ == "__main__":
    run_main(main)
