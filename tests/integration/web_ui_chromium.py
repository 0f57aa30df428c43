#!/usr/bin/env python3
"""The web UI in Debian's headless Chromium, driven over the DevTools protocol: the login page
loads, logging in with the account password shows the address, a held message and a contact
request, view only (no Approve button, and an approve with the right CSRF token is refused);
`fcpmail web login` prints a one-time link that opens the owner's session; its Approve button
releases the message (checked through the control API too); the link does not work twice; a
request without the CSRF token is refused and changes nothing.

Runs against fcpmail-web-testserver (the real HTTP server over an in-memory Control). Skipped
(exit 0 with a note) when chromium is not installed."""
import base64, json, os, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.daemon_set import stop_process  # noqa: E402
from harness.paths import BUILD as build  # noqa: E402

ME = "alice@aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffffgggg.freemail"


class WebSocket:
    """Just enough RFC 6455 for the DevTools protocol: text frames, client masking."""

    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.split(":")
        self.s = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.s.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.next_id = 0

    def _read_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.s.recv(n - len(data))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            data += chunk
        return data

    def send_text(self, text):
        payload = text.encode()
        header = bytes([0x81])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv_text(self):
        message = b""
        while True:
            b0, b1 = self._read_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read_exact(8))[0]
            payload = self._read_exact(n)
            opcode = b0 & 0x0F
            if opcode in (0x1, 0x0):
                message += payload
                if b0 & 0x80:
                    return message.decode()
            # ping/pong/close frames are ignored here

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.send_text(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.recv_text())
            if reply.get("id") == my_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply["result"]

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError("JS error in %r: %s" % (expression[:80], result["exceptionDetails"]))
        return result["result"].get("value")

    def wait_for(self, expression, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.evaluate(expression):
                    return
            except RuntimeError:
                pass  # the page is navigating
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + what)


def api(http, token, method, path, body=None):
    request = urllib.request.Request("http://%s%s" % (http, path), method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def page_post_status(ws, path, csrf=None):
    """The HTTP status a script in the page gets for POST {id: 1} to `path` with the session cookie;
    `csrf` (a JavaScript expression) is sent as X-CSRF-Token when given."""
    headers = "{'Content-Type': 'application/json'" + (", 'X-CSRF-Token': " + csrf if csrf else "") + "}"
    return ws.evaluate(f"fetch('{path}', {{method: 'POST', credentials: 'same-origin', headers: {headers},"
                       " body: JSON.stringify({id: 1})}).then(r => r.status)")


def main():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        # tools/test installs Debian's chromium: its absence is a broken setup, not a pass.
        print("FAIL: chromium is not installed (tools/test installs Debian's chromium)")
        sys.exit(1)
    work = tempfile.mkdtemp()
    data = os.path.join(work, "data")
    os.mkdir(data)
    server = subprocess.Popen([os.path.join(build, "fcpmail-web-testserver"), "--data-dir", data, "--user", ME,
                               "--password", "pw", "--seed"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    try:
        for _ in range(100):
            if os.path.exists(os.path.join(data, "control.json")):
                break
            time.sleep(0.05)
        http = json.load(open(os.path.join(data, "control.json")))["http"]
        token = open(os.path.join(data, "control.token")).read().strip()

        profile = os.path.join(work, "profile")
        browser = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                    "--remote-debugging-port=0", "--user-data-dir=" + profile, "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().count("\n") >= 1:
                break
            time.sleep(0.1)
        devtools_port = int(open(port_file).read().split("\n")[0])
        targets = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % devtools_port, timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        ws = WebSocket(page["webSocketDebuggerUrl"])
        ws.call("Runtime.enable")

        # The login page.
        ws.call("Page.navigate", url="http://%s/" % http)
        ws.wait_for("document.readyState === 'complete' && !!document.getElementById('login')", "the login form")
        assert "Log in" in ws.evaluate("document.body.innerText")
        print("ok: login page loads")

        # A wrong password is refused.
        ws.evaluate("document.getElementById('user').value = %s; document.getElementById('password').value = 'nope';"
                    "document.getElementById('login').click(); true" % json.dumps(ME))
        ws.wait_for("!!document.getElementById('login-error')", "the login error")
        time.sleep(0.3)  # the server pauses logins briefly after a failure

        # Log in.
        ws.evaluate("document.getElementById('user').value = %s; document.getElementById('password').value = 'pw';"
                    "document.getElementById('login').click(); true" % json.dumps(ME))
        ws.wait_for("!!document.getElementById('address') && document.getElementById('address').textContent === %s"
                    % json.dumps(ME), "the address after login")
        ws.wait_for("!!document.querySelector('.recipient')", "the held message")
        text = ws.evaluate("document.body.innerText")
        assert "Hello Bob" in text, text
        assert "held" in text
        assert "carol@" in text, "contact request not shown"
        assert ws.evaluate("!!document.getElementById('copy')")
        assert ws.evaluate("document.querySelector('.recipient').dataset.code") == "held"
        assert ws.evaluate("!document.getElementById('view-only').hidden"), "no view-only note"
        assert "fcpmail web login" in text
        assert not ws.evaluate("!!document.getElementById('approve-1')"), "a view-only session shows Approve"
        assert not ws.evaluate("!!document.getElementById('deny-request-7')")
        # With the page's own CSRF token (what a script in the page could do): refused.
        status = page_post_status(ws, "/ui/api/outbox/approve", "document.querySelector('meta[name=csrf]').content")
        assert status == 403, status
        outbox = api(http, token, "GET", "/api/outbox")["outbox"]
        assert outbox[0]["recipients"][0]["code"] == "held", outbox
        print("ok: logged in with the password; address, held message and contact request shown, view only")

        # The owner's one-time link from `fcpmail web login`.
        out = subprocess.run([os.path.join(build, "fcpmail"), "web", "login", "--data-dir", data],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        link = next(w for w in out.stdout.split() if w.startswith("http://"))
        assert "/login?once=" in link, out.stdout
        ws.call("Page.navigate", url=link)
        ws.wait_for("!!document.getElementById('address') && document.getElementById('address').textContent === %s"
                    % json.dumps(ME), "the address after the link")
        ws.wait_for("!!document.getElementById('approve-1')", "the held message's Approve button")
        assert ws.evaluate("document.getElementById('view-only').hidden")
        assert ws.evaluate("location.pathname") == "/"
        print("ok: `fcpmail web login` link opened the owner's session")

        # A request without the CSRF token is refused and changes nothing.
        status = page_post_status(ws, "/ui/api/outbox/cancel")
        assert status == 403, status
        status = page_post_status(ws, "/ui/api/outbox/cancel", "'forged'")
        assert status == 403, status
        outbox = api(http, token, "GET", "/api/outbox")["outbox"]
        assert outbox[0]["recipients"][0]["code"] == "held", outbox
        print("ok: requests without the CSRF token refused")

        # The Approve button releases the message.
        ws.evaluate("document.getElementById('approve-1').click(); true")
        ws.wait_for("document.querySelector('.recipient') && "
                    "document.querySelector('.recipient').dataset.code === 'awaiting_cts'", "the released state")
        assert not ws.evaluate("!!document.getElementById('approve-1')")
        assert "awaiting CTS" in ws.evaluate("document.body.innerText")
        outbox = api(http, token, "GET", "/api/outbox")["outbox"]
        assert outbox[0]["recipients"][0]["code"] == "awaiting_cts", outbox
        print("ok: Approve released the message")

        # Deny the contact request with its button.
        ws.evaluate("document.getElementById('deny-request-7').click(); true")
        ws.wait_for("!document.getElementById('deny-request-7')", "the request to be answered")
        assert api(http, token, "GET", "/api/requests")["requests"][0]["state"] == "denied"
        print("ok: Deny answered the contact request")

        # Approve all releases the messages the page shows, not one a mail client slipped in since
        # it was drawn: message 2 is shown, message 3 is submitted just before the click.
        def mail(subject):
            return {"from": ME, "to": ["bob"], "rfc822": "From: %s\r\nTo: bob\r\nSubject: %s\r\n\r\nhi\r\n" % (ME, subject)}
        api(http, token, "POST", "/api/send", mail("Shown"))
        ws.wait_for("!!document.getElementById('approve-2') && !document.getElementById('approve-all').hidden",
                    "the second held message and Approve all")
        ws.evaluate("(async () => { await fetch('/api/send', {method: 'POST', headers: {'Authorization': 'Bearer ' + %s,"
                    " 'Content-Type': 'application/json'}, body: JSON.stringify(%s)});"
                    " document.getElementById('approve-all').click(); })(); true"
                    % (json.dumps(token), json.dumps(mail("Slipped in"))))
        def code_of(message_id):
            entry = next(m for m in api(http, token, "GET", "/api/outbox")["outbox"] if m["id"] == message_id)
            return entry["recipients"][0]["code"]
        deadline = time.time() + 20
        while code_of(2) == "held" and time.time() < deadline:
            time.sleep(0.1)
        assert code_of(2) == "awaiting_cts", "Approve all did not release the message it showed"
        assert code_of(3) == "held", "Approve all released a message the page did not show"
        print("ok: Approve all released the shown message and not the one submitted after")

        # The link was for one use: opened again (say from the history) it only shows the login page.
        ws.call("Network.clearBrowserCookies")
        ws.call("Page.navigate", url=link)
        ws.wait_for("!!document.getElementById('login-error')", "the used link's refusal")
        assert "fcpmail web login" in ws.evaluate("document.getElementById('login-error').textContent")
        assert not ws.evaluate("!!document.getElementById('address')")
        print("ok: the link does not work twice")
        print("all web UI tests passed")
    finally:
        if browser:
            stop_process(browser)
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
