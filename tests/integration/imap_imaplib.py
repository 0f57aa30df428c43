"""Python imaplib against imap-testserver: every IMAP command fcpmail offers, several sessions,
IDLE with a delivery, and hostile input over raw sockets."""
import imaplib
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness.imap_testserver import TestServer  # noqa: E402
from harness.lines import LineConnection  # noqa: E402

MESSAGE = (b"From: Zed <zed@example.freemail>\r\nTo: alice@test.freemail\r\n"
           b"Subject: appended\r\nDate: Thu, 10 Feb 1994 08:00:00 +0000\r\n\r\nappended body\r\n")


def connect(srv):
    m = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
    m.login(srv.user, srv.password)
    return m


class RawClient(LineConnection):
    """A line-level client for what imaplib cannot send."""

    def __init__(self, port):
        super().__init__(port, timeout=5)
        self.readline()  # greeting

    def command(self, tag: bytes, text: bytes):
        self.send(tag + b" " + text + b"\r\n")
        return self.until_tagged(tag)

    def close(self):
        self.s.close()


class ImaplibSession(unittest.TestCase):
    def setUp(self):
        self.srv = TestServer().__enter__()

    def tearDown(self):
        self.srv.__exit__(None, None, None)

    def test_every_command(self):
        srv = self.srv
        m = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
        self.assertIn("IMAP4REV1", m.capabilities)
        for cap in ("IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "NAMESPACE", "CHILDREN", "LITERAL+", "ENABLE", "ID"):
            self.assertIn(cap, m.capabilities)
        self.assertEqual(m.noop()[0], "OK")
        self.assertEqual(m.capability()[0], "OK")
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(srv.user, "wrong")
        m.login(srv.user, srv.password)

        typ, data = m.list()
        self.assertEqual(typ, "OK")
        listing = b"\n".join(data)
        self.assertIn(b'(\\HasNoChildren \\Sent) "/" "Sent"', listing)
        self.assertIn(b'\\Drafts', listing)
        self.assertIn(b'\\Trash', listing)
        self.assertIn(b'"Outbox"', listing)
        self.assertEqual(m.namespace()[1][0], b'(("" "/")) NIL NIL')
        self.assertEqual(m.xatom("ID", "NIL")[0], "OK")
        self.assertEqual(m.enable("CONDSTORE")[0], "OK")

        self.assertEqual(m.create("Projects/2024")[0], "OK")
        self.assertEqual(m.create("Scratch")[0], "OK")
        self.assertEqual(m.rename("Scratch", "Scratch2")[0], "OK")
        self.assertEqual(m.delete("Scratch2")[0], "OK")
        self.assertEqual(m.subscribe("Projects/2024")[0], "OK")
        typ, data = m.lsub('""', "*")
        self.assertTrue(any(b"Projects/2024" in d for d in data))
        self.assertEqual(m.unsubscribe("Projects/2024")[0], "OK")
        typ, data = m.lsub('""', "Projects/*")
        self.assertEqual(data, [None])

        typ, data = m.status("INBOX", "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
        self.assertRegex(data[0].decode(), r'"INBOX" \(MESSAGES 3 RECENT 3 UIDNEXT 4 UIDVALIDITY \d+ UNSEEN 3\)')

        typ, data = m.append("INBOX", "(\\Flagged)", imaplib.Time2Internaldate(760000000), MESSAGE)
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"\[APPENDUID \d+ 4\]")

        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual(data, [b"4"])
        self.assertEqual(m.store("1", "+FLAGS", "(\\Seen)")[0], "NO")  # read-only
        typ, data = m.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"4"]))
        self.assertEqual(m.check()[0], "OK")

        typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)")
        self.assertEqual(len(data), 4)
        self.assertIn(b'"Hello Alice"', data[0])
        self.assertIn(b"\\Flagged", data[3])
        typ, data = m.fetch("2", "(BODYSTRUCTURE)")
        self.assertIn(b'("application" "octet-stream" ("name" "data.bin") NIL NIL "base64" 16 NIL '
                      b'("attachment" ("filename" "data.bin")) NIL NIL) "mixed"', data[0])
        typ, data = m.fetch("2", "(BODY.PEEK[2])")
        self.assertEqual(data[0][1], b"AAECAwQFBgcICQ==")
        typ, data = m.fetch("3", "(BODY.PEEK[1.2] BODY.PEEK[2.HEADER.FIELDS (SUBJECT)] BODY.PEEK[1.1.MIME])")
        self.assertEqual(data[0][1], b"<p>html body</p>")
        self.assertEqual(data[1][1], b"Subject: Forwarded\r\n\r\n")
        self.assertEqual(data[2][1], b"Content-Type: text/plain\r\n\r\n")
        typ, data = m.fetch("4", "(RFC822)")
        self.assertEqual(data[0][1], MESSAGE)
        typ, data = m.fetch("1", "(BODY[]<0.4>)")
        self.assertEqual(data[0][1], b"From")
        self.assertIn(b"\\Seen", data[1] if isinstance(data[1], bytes) else data[0][0])

        self.assertEqual(m.search(None, "FROM", "carol")[1], [b"2"])
        self.assertEqual(m.uid("SEARCH", "SUBJECT", "appended")[1], [b"4"])
        self.assertEqual(m.search(None, "SEEN")[1], [b"1 4"])
        self.assertEqual(m.search(None, "OR", "TO", "alice", "NOT", "ALL")[1], [b"1 2 3 4"])
        self.assertEqual(m.search("UTF-8", "TEXT", "forwarded")[1], [b"3"])
        self.assertEqual(m.search(None, "SENTBEFORE", "9-Feb-1994")[1], [b"1 2"])

        typ, data = m.store("1:2", "+FLAGS", "(\\Answered)")
        self.assertEqual(len(data), 2)
        typ, data = m.uid("STORE", "3", "-FLAGS.SILENT", "(\\Recent)")
        self.assertEqual(typ, "OK")

        typ, data = m.copy("1:2", "Projects/2024")
        self.assertRegex(data[0].decode(), r"\[COPYUID \d+ 1:2 1:2\]")
        self.assertEqual(m.uid("COPY", "3", "Projects/2024")[0], "OK")
        self.assertEqual(m.status("Projects/2024", "(MESSAGES UIDNEXT)")[1], [b'"Projects/2024" (MESSAGES 3 UIDNEXT 4)'])
        typ, data = m.uid("MOVE", "4", "Trash")
        self.assertEqual(typ, "OK")
        self.assertEqual(m.select("INBOX")[1], [b"3"])

        m.store("1", "+FLAGS", "(\\Deleted)")
        typ, data = m.expunge()
        self.assertEqual(data, [b"1"])
        m.store("1", "+FLAGS", "(\\Deleted)")
        m.store("2", "+FLAGS", "(\\Deleted)")
        self.assertEqual(m.uid("EXPUNGE", "3")[0], "OK")  # UID 3 is sequence 2
        self.assertEqual(m.response("EXPUNGE")[1], [b"2"])
        self.assertEqual(m.unselect()[0], "OK")
        m.select("Projects/2024")
        m.store("1:*", "+FLAGS", "(\\Deleted)")
        self.assertEqual(m.close()[0], "OK")  # CLOSE expunges silently
        self.assertEqual(m.status("Projects/2024", "(MESSAGES)")[1], [b'"Projects/2024" (MESSAGES 0)'])
        self.assertEqual(m.logout()[0], "BYE")

    def test_authenticate_plain(self):
        m = imaplib.IMAP4("127.0.0.1", self.srv.port, timeout=10)
        typ, _ = m.authenticate("PLAIN", lambda _: b"\0" + self.srv.user.encode() + b"\0" + self.srv.password.encode())
        self.assertEqual(typ, "OK")
        m.logout()

    def test_two_sessions_and_idle(self):
        a = connect(self.srv)
        a.select("INBOX")
        b = RawClient(self.srv.port)
        b.command(b"l", b"LOGIN alice@test.freemail secret")
        b.command(b"s", b"SELECT INBOX")
        b.send(b"i IDLE\r\n")
        self.assertEqual(b.readline(), b"+ idling")
        start = time.monotonic()
        uid = self.srv.deliver("INBOX", b"From: x@y.freemail\r\nSubject: pushed\r\n\r\nnew\r\n")
        self.assertEqual(uid, 4)
        self.assertEqual(b.readline(), b"* 4 EXISTS")
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertEqual(b.readline(), b"* 1 RECENT")
        a.store("1", "+FLAGS", "(\\Flagged)")
        self.assertEqual(b.readline(), b"* 1 FETCH (UID 1 FLAGS (\\Flagged))")
        a.store("2", "+FLAGS", "(\\Deleted)")
        self.assertEqual(b.readline(), b"* 2 FETCH (UID 2 FLAGS (\\Deleted))")
        a.expunge()
        self.assertEqual(b.readline(), b"* 2 EXPUNGE")
        b.send(b"DONE\r\n")
        self.assertEqual(b.readline(), b"i OK IDLE terminated")
        typ, data = a.noop()
        self.assertEqual(typ, "OK")
        a.logout()
        b.close()

    def test_hostile_input_never_hurts_other_sessions(self):
        good = connect(self.srv)
        good.select("INBOX")
        c = RawClient(self.srv.port)
        self.assertTrue(c.command(b"a", b"SELECT INBOX")[-1].startswith(b"a BAD"))       # wrong state
        self.assertTrue(c.command(b"b", b"LOGIN alice@test.freemail secret")[-1].startswith(b"b OK"))
        self.assertTrue(c.command(b"c", b"SELECT INBOX")[-1].startswith(b"c OK"))
        self.assertTrue(c.command(b"d", b"FETCH 0:x FLAGS")[-1].startswith(b"d BAD"))      # invalid set
        self.assertTrue(c.command(b"e", b"FETCH 99 FLAGS")[-1].startswith(b"e BAD"))       # beyond the end
        self.assertTrue(c.command(b"f", b"FETCH 1 (BODY[1.x])")[-1].startswith(b"f BAD"))
        self.assertTrue(c.command(b"g", b"STORE 1 +FLAGS (\\Bogus)")[-1].startswith(b"g BAD"))
        self.assertTrue(c.command(b"h", b"LOGIN again")[-1].startswith(b"h BAD"))          # wrong state
        self.assertTrue(c.command(b"i", b"NOOP (unclosed")[-1].startswith(b"i BAD"))
        self.assertTrue(c.command(b"j", b"X \"unterminated")[-1].startswith(b"j BAD"))
        # A huge line: BAD, then the session goes on.
        c.send(b"k NOOP " + b"x" * 200000 + b"\r\n")
        self.assertTrue(c.until_tagged(b"k")[-1].startswith(b"k BAD"))
        self.assertTrue(c.command(b"l", b"NOOP")[-1].startswith(b"l OK"))
        # A literal bigger than allowed: BAD without a continuation.
        self.assertTrue(c.command(b"m", b"APPEND INBOX {999999999999}")[-1].startswith(b"m BAD"))
        # A broken literal (shorter than announced, then the next command completes it).
        c.send(b"n APPEND INBOX {10+}\r\nabc\r\n")
        c.send(b"o NOOP\r\n")
        self.assertTrue(c.until_tagged(b"n")[-1].startswith(b"n "))
        # Bad base64 in AUTHENTICATE, in a fresh session.
        d = RawClient(self.srv.port)
        d.send(b"a AUTHENTICATE PLAIN\r\n")
        self.assertEqual(d.readline(), b"+ ")
        d.send(b"%%%not base64%%%\r\n")
        self.assertTrue(d.until_tagged(b"a")[-1].startswith(b"a BAD"))
        self.assertTrue(d.command(b"b", b"AUTHENTICATE PLAIN ====")[-1].startswith(b"b BAD"))
        # Disconnect in the middle of a literal.
        e = RawClient(self.srv.port)
        e.command(b"l", b"LOGIN alice@test.freemail secret")
        e.send(b"a APPEND INBOX {5000}\r\n")
        self.assertTrue(e.readline().startswith(b"+"))
        e.send(b"only a little")
        e.close()
        c.close()
        d.close()
        # The well-behaved session never noticed.
        self.assertEqual(good.noop()[0], "OK")
        typ, data = good.fetch("1", "(UID)")
        self.assertEqual(data, [b"1 (UID 1)"])
        good.logout()
        self.assertTrue(self.srv.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
