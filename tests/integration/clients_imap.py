#!/usr/bin/env python3
"""Real IMAP clients against the real daemon (fcpmaild on its embedded simulated node, two accounts;
mail from alice to bob travels over the simulated network, released at once by
--outbound-approval auto):
- curl imap:// lists the folders (INBOX Sent Drafts Trash Outbox, SPECIAL-USE attributes) and fetches
  the delivered message by UID;
- mbsync syncs bob's INBOX to a Maildir; the second run transfers nothing (its protocol trace has no
  body fetch and the Maildir is unchanged); after one more delivery a third run transfers exactly one;
- python imaplib: a scripted session of the RFC 3501 commands (and UID, MOVE, NAMESPACE, ID,
  ENABLE, AUTHENTICATE PLAIN) on bob's mailbox;
- IDLE on bob's INBOX reports a message from alice as soon as the engine stores it; the delay
  between storing (seen by a second session polling STATUS every 20 ms) and the untagged EXISTS
  is printed, as is the delivery time from SMTP submission to the IDLE notice."""
import imaplib
import os
import re
import smtplib
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.clients import PASSWORD, Daemon, Failure, wait_for, run_main  # noqa: E402
from harness.lines import LineConnection  # noqa: E402

TAG = uuid.uuid4().hex[:8]


def submit(d, subject, body):
    """alice -> bob over SMTP; returns the time of the 250 reply."""
    s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
    s.login(d.address["alice"], PASSWORD["alice"])
    msg = "From: %s\r\nTo: bob\r\nSubject: %s\r\n\r\n%s\r\n" % (d.address["alice"], subject, body)
    refused = s.sendmail(d.address["alice"], ["bob"], msg)
    s.quit()
    assert refused == {}, refused
    return time.time()


def inbox_count(d):
    c = d.imap("bob")
    try:
        typ, data = c.status("INBOX", "(MESSAGES)")
        return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
    finally:
        c.logout()


def wait_delivered(d, count, timeout=60):
    _, seconds = wait_for("%d message(s) in bob's INBOX" % count, lambda: inbox_count(d) >= count, timeout=timeout,
                          step=0.1)
    return seconds


def curl_checks(d):
    url = "imap://127.0.0.1:%d" % d.imap_port
    user = "%s:%s" % (d.address["bob"], PASSWORD["bob"])

    def curl(*args):
        r = subprocess.run(["curl", "-sS", "--max-time", "20", "--user", user, *args], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            raise Failure("curl %s: rc=%d %s" % (" ".join(args), r.returncode, r.stderr))
        return r.stdout

    listing = curl(url + "/")
    folders = {}
    for line in listing.splitlines():
        m = re.match(r'\* LIST \(([^)]*)\) "[^"]*" "?([^"]+)"?', line.strip())
        if m:
            folders[m.group(2)] = m.group(1).split()
    for f in ("INBOX", "Sent", "Drafts", "Trash", "Outbox"):
        assert f in folders, (f, listing)
    assert "\\Sent" in folders["Sent"] and "\\Drafts" in folders["Drafts"] and "\\Trash" in folders["Trash"], folders
    c = d.imap("bob")
    c.select("INBOX", readonly=True)
    _, data = c.uid("SEARCH", None, "SUBJECT", '"first %s"' % TAG)
    uid = data[0].split()[0].decode()
    c.logout()
    message = curl("%s/INBOX;UID=%s" % (url, uid))
    assert "Subject: first " + TAG in message and "body one " + TAG in message, message
    assert "X-Fcpmail-Signature: valid" in message, message
    examine = curl(url + "/", "-X", "EXAMINE INBOX")
    assert re.search(r"\* 1 EXISTS", examine), examine
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--user", d.address["bob"] + ":wrong", url + "/"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 67, ("a wrong password should make curl exit 67", r.returncode, r.stderr)
    print("ok: curl imap:// lists %s with SPECIAL-USE and fetches UID %s" % (" ".join(sorted(folders)), uid))


class Mbsync:
    def __init__(self, d):
        self.work = os.path.join(d.work, "mbsync")
        os.makedirs(os.path.join(self.work, "mail"))
        os.makedirs(os.path.join(self.work, "state"))
        self.rc = os.path.join(self.work, "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write("IMAPAccount bob\nHost 127.0.0.1\nPort %d\nUser %s\nPass \"%s\"\nSSLType None\n\n"
                    "IMAPStore remote\nAccount bob\n\nMaildirStore local\nPath %s/mail/\nInbox %s/mail/INBOX\n\n"
                    "Channel inbox\nFar :remote:INBOX\nNear :local:INBOX\nCreate Near\nSync Pull\nSyncState %s/state/\n"
                    % (d.imap_port, d.address["bob"], PASSWORD["bob"], self.work, self.work, self.work))

    def files(self):
        out = {}
        for sub in ("new", "cur"):
            p = os.path.join(self.work, "mail", "INBOX", sub)
            if os.path.isdir(p):
                for name in os.listdir(p):
                    st = os.stat(os.path.join(p, name))
                    out[sub + "/" + name] = (st.st_size, st.st_mtime_ns)
        return out

    def run(self):
        """One sync; returns (body fetches seen in the protocol trace, messages added to the Maildir)."""
        before = self.files()
        r = subprocess.run(["mbsync", "-Dn", "-c", self.rc, "inbox"], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise Failure("mbsync rc=%d:\n%s\n%s" % (r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        trace = r.stdout + r.stderr
        fetches = len(re.findall(r"UID FETCH \S+ \(.*BODY\.PEEK\[\]", trace))
        after = self.files()
        added = len(set(after) - set(before))
        changed = sum(1 for k in before if k in after and after[k] != before[k])
        removed = len(set(before) - set(after))
        return fetches, added, changed, removed, after


def mbsync_checks(d):
    m = Mbsync(d)
    f1, a1, _, _, files = m.run()
    assert a1 == 1 and f1 >= 1, ("first run", f1, a1)
    text = open(os.path.join(m.work, "mail", "INBOX", next(iter(files)))).read()
    assert "body one " + TAG in text, text
    time.sleep(1.1)  # so a rewritten file would show a new mtime
    f2, a2, c2, r2, _ = m.run()
    assert (f2, a2, c2, r2) == (0, 0, 0, 0), ("second run transferred or changed something", f2, a2, c2, r2)
    submit(d, "second " + TAG, "body two " + TAG)
    seconds = wait_delivered(d, 2)
    f3, a3, c3, r3, files = m.run()
    assert (f3, a3, r3) == (1, 1, 0), ("third run should transfer exactly the new message", f3, a3, c3, r3)
    assert any("body two " + TAG in open(os.path.join(m.work, "mail", "INBOX", k)).read() for k in files)
    print("ok: mbsync run 1 fetched %d and added %d, run 2 fetched %d added %d changed %d, run 3 fetched %d "
          "added %d" % (f1, a1, f2, a2, c2, f3, a3))
    return seconds


def imaplib_session(d):
    bob = d.address["bob"]
    c = imaplib.IMAP4("127.0.0.1", d.imap_port, timeout=20)
    caps = c.capabilities
    for cap in ("IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "NAMESPACE", "CHILDREN", "LITERAL+", "ENABLE",
                "ID"):
        assert cap in caps, (cap, caps)
    assert c.noop()[0] == "OK"
    try:
        c.login(bob, "wrong")
        raise Failure("a wrong password was accepted")
    except imaplib.IMAP4.error:
        pass
    assert c.login(bob, PASSWORD["bob"])[0] == "OK"
    assert c.xatom("ID", '("name" "clients_imap")')[0] == "OK"
    assert c._simple_command("ENABLE", "UTF8=ACCEPT")[0] == "OK"
    typ, ns = c.namespace()
    assert typ == "OK" and b'(("" ' in ns[0], ns
    typ, data = c.select("INBOX")
    assert typ == "OK" and int(data[0]) == 2, data
    assert c.check()[0] == "OK"
    _, data = c.search(None, "ALL")
    assert data[0].split() == [b"1", b"2"], data
    _, data = c.search(None, "FROM", d.address["alice"], "SUBJECT", "second", "UNSEEN")
    assert data[0].split() == [b"2"], data
    _, data = c.fetch("1:2", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)")
    assert len([x for x in data if isinstance(x, bytes) and b"ENVELOPE" in x]) == 2, data
    _, data = c.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Subject: second " + TAG.encode() in data[0][1], data
    _, data = c.fetch("2", "(BODY[TEXT]<0.8>)")
    assert data[0][1] == b"body two", data
    _, data = c.fetch("2", "(FLAGS)")
    assert b"\\Seen" in data[0], data
    assert c.store("1", "+FLAGS", "(\\Flagged $label1)")[0] == "OK"
    _, data = c.search(None, "FLAGGED")
    assert data[0].split() == [b"1"], data
    _, data = c.uid("SEARCH", None, "ALL")
    uids = data[0].split()
    assert len(uids) == 2 and int(uids[0]) < int(uids[1]), uids
    _, data = c.uid("FETCH", uids[1], "(FLAGS)")
    assert b"UID " + uids[1] in data[0], data
    assert c.uid("STORE", uids[1], "-FLAGS", "(\\Seen)")[0] == "OK"

    # Folders: CREATE, RENAME, SUBSCRIBE, LSUB, STATUS, COPY, UID COPY, MOVE, APPEND, DELETE.
    assert c.create("Projects-" + TAG)[0] == "OK"
    assert c.rename("Projects-" + TAG, "Archive/" + TAG)[0] == "OK"
    assert c.subscribe("Archive/" + TAG)[0] == "OK"
    _, data = c.lsub()
    assert any(("Archive/" + TAG).encode() in x for x in data), data
    assert c.unsubscribe("Archive/" + TAG)[0] == "OK"
    _, data = c.list()
    names = b" ".join(data)
    assert ("Archive/" + TAG).encode() in names and ("Projects-" + TAG).encode() not in names, data
    typ, data = c.copy("1", "Archive/" + TAG)
    assert typ == "OK" and b"COPYUID" in data[0], data
    assert c.uid("COPY", uids[1], "Archive/" + TAG)[0] == "OK"
    _, data = c.status("Archive/" + TAG, "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
    assert b"MESSAGES 2" in data[0], data
    msg = "From: %s\r\nTo: %s\r\nSubject: draft %s\r\n\r\nunsent draft\r\n" % (bob, bob, TAG)
    typ, data = c.append("Drafts", "(\\Draft)", imaplib.Time2Internaldate(time.time()), msg.encode())
    assert typ == "OK" and b"APPENDUID" in data[0], data

    # EXAMINE is read-only; CLOSE and EXPUNGE remove \Deleted messages.
    typ, _ = c.select("Archive/" + TAG, readonly=True)
    assert typ == "OK"
    try:
        refused = c.store("1", "+FLAGS", "(\\Deleted)")[0] != "OK"
    except imaplib.IMAP4.error:
        refused = True
    assert refused, "STORE succeeded in a mailbox opened with EXAMINE"
    c.select("Archive/" + TAG)
    assert c.store("1", "+FLAGS", "(\\Deleted)")[0] == "OK"
    typ, data = c.expunge()
    assert typ == "OK" and data == [b"1"], data
    assert c._simple_command("MOVE", "1", "Trash")[0] == "OK"
    assert c.close()[0] == "OK"
    assert c.delete("Archive/" + TAG)[0] == "OK"
    _, data = c.status("Trash", "(MESSAGES)")
    assert b"MESSAGES 1" in data[0], data

    # Bad input gets BAD and the session goes on.
    c.select("INBOX")
    try:
        c.fetch("1:x", "(FLAGS)")
        raise Failure("an invalid sequence set was accepted")
    except imaplib.IMAP4.error as e:
        assert "BAD" in str(e), e
    assert c.noop()[0] == "OK"
    assert c.logout()[0] == "BYE"

    # AUTHENTICATE PLAIN on a fresh connection.
    a = imaplib.IMAP4("127.0.0.1", d.imap_port, timeout=20)
    assert a.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (bob, PASSWORD["bob"])).encode())[0] == "OK"
    assert a.select("INBOX", readonly=True)[0] == "OK"
    a.logout()
    print("ok: imaplib session (CAPABILITY NOOP LOGIN ID ENABLE NAMESPACE SELECT CHECK SEARCH FETCH STORE UID "
          "CREATE RENAME SUBSCRIBE LSUB UNSUBSCRIBE LIST COPY STATUS APPEND EXAMINE EXPUNGE MOVE CLOSE DELETE "
          "LOGOUT AUTHENTICATE)")


class RawImap(LineConnection):
    def __init__(self, port):
        super().__init__(port, timeout=60, closed=lambda: Failure("IMAP connection closed"))
        self.readline()

    def command(self, tag, text):
        self.send(tag + b" " + text + b"\r\n")
        lines = self.until_tagged(tag)
        if not lines[-1].startswith(tag + b" OK"):
            raise Failure("%r: %r" % (text, lines))
        return lines


def idle_check(d):
    idle = RawImap(d.imap_port)
    idle.command(b"a", b'LOGIN "%s" "%s"' % (d.address["bob"].encode(), PASSWORD["bob"].encode()))
    selected = idle.command(b"b", b"SELECT INBOX")
    exists = int(next(re.match(rb"\* (\d+) EXISTS", l).group(1) for l in selected if re.match(rb"\* \d+ EXISTS", l)))
    # A session that only polls with NOOP (as Apple Mail does) must hear of new mail in its reply.
    nooper = RawImap(d.imap_port)
    nooper.command(b"a", b'LOGIN "%s" "%s"' % (d.address["bob"].encode(), PASSWORD["bob"].encode()))
    nooper.command(b"b", b"SELECT INBOX")
    idle.s.sendall(b"c IDLE\r\n")
    assert idle.readline().startswith(b"+"), "no IDLE continuation"

    # A second session polls STATUS every 20 ms to see when the engine has stored the message.
    stored_at = {}
    stop = threading.Event()

    def poll():
        p = RawImap(d.imap_port)
        p.command(b"a", b'LOGIN "%s" "%s"' % (d.address["bob"].encode(), PASSWORD["bob"].encode()))
        n = 0
        while not stop.is_set():
            n += 1
            lines = p.command(b"s%d" % n, b"STATUS INBOX (MESSAGES)")
            m = re.search(rb"MESSAGES (\d+)", b" ".join(lines))
            if m and int(m.group(1)) > exists:
                stored_at["t"] = time.time()
                return
            time.sleep(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    submitted_at = submit(d, "idle " + TAG, "body idle " + TAG)
    while True:
        line = idle.readline()
        m = re.match(rb"\* (\d+) EXISTS", line)
        if m and int(m.group(1)) > exists:
            noticed_at = time.time()
            break
    poller.join(timeout=10)
    stop.set()
    idle.s.sendall(b"DONE\r\n")
    while not idle.readline().startswith(b"c "):
        pass
    fetched = idle.command(b"d", b"FETCH %d (BODY.PEEK[TEXT])" % int(m.group(1)))
    assert any(b"body idle " + TAG.encode() in l for l in fetched), fetched
    noop = nooper.command(b"n", b"NOOP")
    assert b"* %d EXISTS" % (exists + 1) in noop, ("NOOP did not report the new message", noop)
    assert "t" in stored_at, "the polling session never saw the message"
    delay = noticed_at - stored_at["t"]
    # Both observers see the same commit; IDLE must not lag behind a 20 ms poll by more than a moment.
    assert delay < 0.5, "IDLE reported the new message %.3f s after a STATUS poll saw it" % delay
    print("ok: IDLE reported the new message; NOOP in another selected session reported it too")
    print("figure: IDLE notice came %+.0f ms relative to the first STATUS poll (20 ms period) that saw the stored "
          "message; submission to IDLE notice %.2f s" % (delay * 1000, noticed_at - submitted_at))


def main():
    with Daemon(outbound="auto", requests="auto") as d:
        t0 = submit(d, "first " + TAG, "body one " + TAG)
        first = wait_delivered(d, 1)
        print("figure: first message alice -> bob (new contact: RTS + channel) delivered %.1f s after submission"
              % (time.time() - t0))
        curl_checks(d)
        second = mbsync_checks(d)
        print("figure: second message (channel established) delivered %.1f s after submission" % second)
        imaplib_session(d)
        idle_check(d)
        del first


if __name__ == "__main__":
    run_main(main, timed_as="clients_imap")
