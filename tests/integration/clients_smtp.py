#!/usr/bin/env python3
"""Real SMTP clients against the real daemon (fcpmaild on its embedded simulated node, two accounts):
swaks with AUTH PLAIN and AUTH LOGIN, curl smtp:// with AUTH, and mutt in batch mode each submit one
message from alice to bob, addressed by petname, unique prefix, full .freemail address and the
petname with mutt's own host name appended. Each submission is held: listed by `fcpmail outbox list`,
shown in alice's IMAP Outbox folder, and copied to her Sent folder. Refusals: an unknown recipient
gets 550 with a sentence saying why and what to do, a sender other than the logged-in account gets
553, a wrong password 535. After `fcpmail outbox approve --all` every message travels over the
simulated network and arrives in bob's INBOX with its content and `X-Fcpmail-Signature: valid`; the
Outbox folder is empty again. Prints the delivery time."""
import os
import smtplib
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.clients import PASSWORD, Daemon, Failure, wait_for, run_main  # noqa: E402


def run(args, what, work, stdin=None, env=None, expect_ok=True):
    r = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60, cwd=work,
                       env=dict(os.environ, **(env or {})))
    if expect_ok and r.returncode != 0:
        raise Failure("%s failed (rc=%d):\n%s\n%s" % (what, r.returncode, r.stdout, r.stderr))
    return r


def main():
    with Daemon(outbound="manual", requests="auto") as d:
        alice, bob = d.address["alice"], d.address["bob"]
        server = "127.0.0.1:%d" % d.smtp_port
        tag = uuid.uuid4().hex[:8]
        subjects = {}

        # swaks, AUTH PLAIN, the contact's petname.
        subjects["swaks-plain"] = "swaks plain " + tag
        r = run(["swaks", "--server", server, "--auth", "PLAIN", "--auth-user", alice, "--auth-password",
                 PASSWORD["alice"], "--from", alice, "--to", "bob", "--header", "Subject: " + subjects["swaks-plain"],
                 "--body", "body of swaks plain " + tag], "swaks AUTH PLAIN", d.work)
        assert "235 2.7.0" in r.stdout and "250 2.1.5 Recipient <%s> ok" % bob in r.stdout, r.stdout
        assert "Queued as" in r.stdout, r.stdout
        print("ok: swaks AUTH PLAIN to the petname 'bob'")

        # swaks, AUTH LOGIN, a unique prefix of the petname, with PIPELINING.
        subjects["swaks-login"] = "swaks login " + tag
        r = run(["swaks", "--server", server, "--auth", "LOGIN", "--auth-user", alice, "--auth-password",
                 PASSWORD["alice"], "--pipeline", "--from", alice, "--to", "bo", "--header",
                 "Subject: " + subjects["swaks-login"], "--body", "body of swaks login " + tag], "swaks AUTH LOGIN", d.work)
        assert "334 VXNlcm5hbWU6" in r.stdout and "235 2.7.0" in r.stdout, r.stdout
        assert "Recipient <%s> ok" % bob in r.stdout, r.stdout
        print("ok: swaks AUTH LOGIN to the unique prefix 'bo'")

        # curl smtp:// with AUTH, the full .freemail address; a dot-stuffed line.
        subjects["curl"] = "curl smtp " + tag
        eml = os.path.join(d.work, "curl.eml")
        with open(eml, "w", newline="") as f:
            f.write("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nbody of curl %s\r\n.leading dot %s\r\n"
                    % (alice, bob, subjects["curl"], tag, tag))
        run(["curl", "-sS", "--max-time", "30", "--url", "smtp://" + server, "--user", "%s:%s" % (alice, PASSWORD["alice"]),
             "--mail-from", alice, "--mail-rcpt", bob, "--upload-file", eml], "curl smtp://", d.work)
        print("ok: curl smtp:// with AUTH to the full address")

        # mutt in batch mode: it appends its host name to a bare name ("bob@localhost").
        subjects["mutt"] = "mutt batch " + tag
        muttrc = os.path.join(d.work, "muttrc")
        os.makedirs(os.path.join(d.work, "mutt"))
        with open(muttrc, "w") as f:
            f.write('set smtp_url="smtp://%s@%s/"\nset smtp_pass="%s"\nset from="%s"\nset use_from=yes\n'
                    'set ssl_starttls=no\nset ssl_force_tls=no\nset record=""\nset folder="%s/mutt"\n'
                    'set spoolfile="%s/mutt/inbox"\nset mbox_type=Maildir\nset header_cache=""\n'
                    'set hostname="localhost"\nset message_cachedir=""\n'
                    % (alice.replace("@", "%40"), server, PASSWORD["alice"], alice, d.work, d.work))
        run(["mutt", "-n", "-F", muttrc, "-s", subjects["mutt"], "bob"], "mutt", d.work,
            stdin="body of mutt " + tag + "\n", env={"HOME": d.work})
        print("ok: mutt batch mode to 'bob'")

        # Refusals, with smtplib so each reply can be checked exactly.
        s = smtplib.SMTP("127.0.0.1", d.smtp_port, timeout=20)
        s.ehlo("refusals.test")
        try:
            s.login(alice, "not the password")
            raise Failure("a wrong password was accepted")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e
        s.login(alice, PASSWORD["alice"])
        code, msg = s.mail(bob)
        assert code == 553 and alice.encode() in msg, (code, msg)
        code, msg = s.mail(alice)
        assert code == 250, (code, msg)
        code, msg = s.rcpt("carol")
        text = msg.decode()
        assert code == 550, (code, text)
        assert "carol" in text and "contact" in text and "fcpmail contacts add" in text, text
        code, msg = s.rcpt("carol@example.org")
        assert code == 550 and "not a Freemail address" in msg.decode(), (code, msg)
        code, msg = s.rcpt(bob.upper().replace(".FREEMAIL", ".freemail"))
        assert code == 250, (code, msg)
        code, msg = s.rcpt(bob[:bob.index("@") + 7])  # a unique prefix of the address
        assert code == 250 and bob.encode() in msg, (code, msg)
        s.rset()
        s.quit()
        print("ok: wrong password 535, foreign sender 553, unknown recipient 550 with advice, address prefix 250")

        # Each submission is held: the outbox, alice's IMAP Outbox folder, a copy in Sent.
        entries = d.outbox(alice)
        by_subject = {e["subject"]: e for e in entries}
        for key, subject in subjects.items():
            e = by_subject.get(subject)
            if e is None:
                raise Failure("%s: %r not in the outbox: %r" % (key, subject, [x["subject"] for x in entries]))
            assert [r["recipient"] for r in e["recipients"]] == [bob], (key, e)
            assert [r["code"] for r in e["recipients"]] == ["held"], (key, e)
        assert len(entries) == len(subjects), entries
        listing = d.cli("outbox", "list", "--account", alice)
        assert listing.count("held for your approval") == len(subjects), listing
        outbox_folder = d.folder_messages("alice", "Outbox")
        sent_folder = d.folder_messages("alice", "Sent")
        for key, subject in subjects.items():
            assert sum(subject in m for m in outbox_folder) == 1, (key, "Outbox", len(outbox_folder))
            assert sum(subject in m for m in sent_folder) == 1, (key, "Sent", len(sent_folder))
        assert any(".leading dot " + tag in m and "\r\n..leading" not in m for m in sent_folder), "dot-unstuffing"
        print("ok: %d submissions held (outbox list, IMAP Outbox folder) with copies in Sent" % len(subjects))

        # Nothing leaves before approval.
        time.sleep(1.0)
        assert d.folder_messages("bob", "INBOX") == [], "mail was delivered before approval"

        # Release them all; they travel over the simulated network to bob's INBOX.
        released_at = time.time()
        d.approve_all()

        def all_delivered():
            inbox = d.folder_messages("bob", "INBOX")
            return inbox if all(any(s in m for m in inbox) for s in subjects.values()) else None

        inbox, seconds = wait_for("delivery of every message to bob's INBOX", all_delivered, timeout=60, step=0.2)
        assert len(inbox) == len(subjects), [m[:200] for m in inbox]
        for key, subject in subjects.items():
            m = next(m for m in inbox if subject in m)
            assert "body of " + key.split("-")[0] in m and tag in m, (key, m)
            assert "X-Fcpmail-Signature: valid" in m, (key, m[:800])
            assert "From: " in m and alice in m, (key, m[:800])
        curl_copy = next(m for m in inbox if subjects["curl"] in m)
        assert "\r\n.leading dot " + tag in curl_copy, curl_copy
        codes = {e["subject"]: [r["code"] for r in e["recipients"]] for e in d.outbox(alice)}
        _, acked = wait_for("every outbox entry to show delivered",
                 lambda: all(c == ["delivered"] for c in
                             ({e["subject"]: [r["code"] for r in e["recipients"]] for e in d.outbox(alice)}).values()),
                 timeout=30)
        assert d.folder_messages("alice", "Outbox") == [], "released messages still in the Outbox folder"
        print("ok: all %d messages delivered to bob's INBOX, signatures valid, Outbox empty" % len(subjects))
        print("figure: delivery of %d messages (first contact, RTS + channel) took %.1f s after approval "
              "(--interval-scale %s); outbox codes at arrival: %s; all acknowledged (delivered) %.1f s after arrival"
              % (len(subjects), seconds, d.interval_scale, codes, acked))


if __name__ == "__main__":
    run_main(main, timed_as="clients_smtp")
