#include "imap/imap_session.h"
#include "store/mailbox_store.h"

#include <doctest/doctest.h>

#include <random>

using namespace fcpmail;
using namespace fcpmail::imap;

namespace {

const std::string alice = "alice@test.freemail";

class TestLogin final : public LoginCheck {
 public:
  std::optional<std::string> check_login(const std::string& user, const std::string& password) override {
    if ((user == alice || user == "ALICE@test.freemail") && password == "secret") return alice;
    return std::nullopt;
  }
};

std::string msg(int n, const std::string& from = "bob@example.org") {
  return "From: " + from + "\r\nTo: alice@test.freemail\r\nSubject: note " + std::to_string(n) +
         "\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\nbody number " + std::to_string(n) + "\r\n";
}

struct World {
  SQLite::Database db{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
  MailboxStore store{db};
  TestLogin login;
  World() {
    crypto::Key256 k{};
    k[0] = 42;
    store.unlock(alice, k);
    REQUIRE(store.ensure_account(alice));
    for (int i = 1; i <= 3; ++i) REQUIRE(store.deliver(alice, "INBOX", msg(i), {}, 1000000000 + i));
  }
};

struct Client {
  Session s;
  explicit Client(World& w) : s(w.store, w.login) {}
  std::string send(const std::string& line) { return s.receive(line + "\r\n"); }
  void login_select() {
    REQUIRE(send("l LOGIN alice@test.freemail secret").find("l OK") != std::string::npos);
    REQUIRE(send("s SELECT INBOX").find("s OK [READ-WRITE]") != std::string::npos);
  }
};

bool has(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

}  // namespace

TEST_CASE("state machine: commands outside their state are BAD, the session goes on") {
  World w;
  Client c(w);
  CHECK(c.s.greeting().starts_with("* OK [CAPABILITY IMAP4rev1"));
  CHECK(has(c.send("a SELECT INBOX"), "a BAD"));
  CHECK(has(c.send("b FETCH 1 FLAGS"), "b BAD"));
  CHECK(has(c.send("c LOGIN alice@test.freemail wrong"), "c NO [AUTHENTICATIONFAILED]"));
  CHECK(has(c.send("d CAPABILITY"), "* CAPABILITY IMAP4rev1"));
  CHECK(has(c.send("e LOGIN alice@test.freemail secret"), "e OK"));
  CHECK(c.s.state() == Session::State::authenticated);
  CHECK(has(c.send("f LOGIN alice@test.freemail secret"), "f BAD"));
  CHECK(has(c.send("g EXPUNGE"), "g BAD"));
  CHECK(has(c.send("h SELECT INBOX"), "h OK [READ-WRITE]"));
  CHECK(c.s.state() == Session::State::selected);
  CHECK(has(c.send("i UNSELECT"), "i OK"));
  CHECK(c.s.state() == Session::State::authenticated);
  auto out = c.send("j LOGOUT");
  CHECK(has(out, "* BYE"));
  CHECK(has(out, "j OK"));
  CHECK(c.s.closed());
}

TEST_CASE("SELECT reports counts, UIDVALIDITY, UIDNEXT, first unseen; EXAMINE is read-only") {
  World w;
  Client c(w);
  c.send("l LOGIN alice@test.freemail secret");
  auto out = c.send("s SELECT inbox");
  CHECK(has(out, "* 3 EXISTS\r\n"));
  CHECK(has(out, "* 3 RECENT\r\n"));
  CHECK(has(out, "* OK [UNSEEN 1]"));
  CHECK(has(out, "* OK [UIDNEXT 4]"));
  CHECK(has(out, "* OK [UIDVALIDITY " + std::to_string(w.store.folder_status(alice, "INBOX")->uidvalidity) + "]"));
  Client d(w);
  d.send("l LOGIN alice@test.freemail secret");
  out = d.send("e EXAMINE INBOX");
  CHECK(has(out, "* 0 RECENT"));  // the first session took them
  CHECK(has(out, "e OK [READ-ONLY]"));
  CHECK(has(d.send("x STORE 1 +FLAGS (\\Seen)"), "x NO [READ-ONLY]"));
  CHECK(has(d.send("y FETCH 1 BODY[TEXT]"), "y OK"));
  CHECK(w.store.messages(alice, "INBOX")->at(0).flags.system == 0);  // EXAMINE never sets \Seen
}

TEST_CASE("FETCH: flags, size, envelope, body sections, partial, \\Seen on non-peek") {
  World w;
  Client c(w);
  c.login_select();
  auto out = c.send("f FETCH 2 (UID FLAGS RFC822.SIZE INTERNALDATE)");
  CHECK(has(out, "* 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE " + std::to_string(msg(2).size()) +
                     " INTERNALDATE \"09-Sep-2001 01:46:42 +0000\")"));
  out = c.send("g FETCH 1 (BODY.PEEK[TEXT])");
  CHECK(has(out, "BODY[TEXT] {15}\r\nbody number 1\r\n)"));
  CHECK_FALSE(has(out, "\\Seen"));
  out = c.send("h UID FETCH 3 (BODY[]<5.10>)");
  CHECK(has(out, "* 3 FETCH (UID 3 BODY[]<5> {10}\r\n" + msg(3).substr(5, 10) + " FLAGS (\\Seen \\Recent))"));
  out = c.send("i FETCH 1:* ENVELOPE");
  CHECK(has(out, "* 1 FETCH (ENVELOPE (\"Tue, 1 Jul 2003 10:52:37 +0200\" \"note 1\" ((NIL NIL \"bob\" \"example.org\"))"));
  CHECK(has(c.send("j FETCH 4 FLAGS"), "j BAD"));
  CHECK(has(c.send("k FETCH 1 (FOO)"), "k BAD"));
  CHECK(has(c.send("l UID FETCH 100:200 FLAGS"), "l OK"));
  out = c.send("m FETCH 2 BODY[1]");
  CHECK(has(out, "BODY[1] {15}"));
}

TEST_CASE("STORE, SEARCH, EXPUNGE and UID EXPUNGE") {
  World w;
  Client c(w);
  c.login_select();
  CHECK(has(c.send("a STORE 1:2 +FLAGS (\\Deleted $Work)"), "* 1 FETCH (FLAGS (\\Deleted \\Recent $Work))"));
  CHECK(c.send("b STORE 3 +FLAGS.SILENT (\\Flagged)") == "b OK STORE completed\r\n");
  CHECK(has(c.send("c SEARCH DELETED"), "* SEARCH 1 2\r\n"));
  CHECK(has(c.send("d UID SEARCH NOT DELETED FLAGGED"), "* SEARCH 3\r\n"));
  CHECK(has(c.send("e SEARCH OR SUBJECT \"note 3\" KEYWORD $work"), "* SEARCH 1 2 3\r\n"));
  CHECK(has(c.send("f SEARCH BODY \"number 2\""), "* SEARCH 2\r\n"));
  CHECK(has(c.send("g SEARCH SENTON 1-Jul-2003 SINCE 1-Jan-2001 LARGER 10 FROM BOB"), "* SEARCH 1 2 3\r\n"));
  CHECK(has(c.send("h SEARCH HEADER Subject \"note 1\""), "* SEARCH 1\r\n"));
  CHECK(has(c.send("i SEARCH UID 2:* 1:2"), "* SEARCH 2\r\n"));
  CHECK(has(c.send("j SEARCH CHARSET KOI8-R ALL"), "j NO [BADCHARSET"));
  CHECK(has(c.send("k SEARCH BOGUS"), "k BAD"));
  CHECK(has(c.send("l SEARCH SINCE 32-Jan-2001"), "l BAD"));
  auto out = c.send("m UID EXPUNGE 2");
  CHECK(has(out, "* 2 EXPUNGE\r\n"));
  CHECK_FALSE(has(out, "* 1 EXPUNGE"));
  out = c.send("n EXPUNGE");
  CHECK(has(out, "* 1 EXPUNGE\r\n"));
  CHECK(has(c.send("o SEARCH ALL"), "* SEARCH 1\r\n"));
}

TEST_CASE("COPY and MOVE answer COPYUID; a missing target says TRYCREATE") {
  World w;
  Client c(w);
  c.login_select();
  CHECK(has(c.send("a CREATE Archive"), "a OK"));
  auto v = w.store.folder_status(alice, "Archive")->uidvalidity;
  CHECK(has(c.send("b COPY 1:2 Archive"), "b OK [COPYUID " + std::to_string(v) + " 1:2 1:2] COPY completed"));
  auto out = c.send("c UID MOVE 3 Archive");
  CHECK(has(out, "* OK [COPYUID " + std::to_string(v) + " 3 3]"));
  CHECK(has(out, "* 3 EXPUNGE"));
  CHECK(has(c.send("d COPY 1 Nowhere"), "d NO [TRYCREATE]"));
  CHECK(has(c.send("e STATUS Archive (MESSAGES UIDNEXT UNSEEN)"), "* STATUS \"Archive\" (MESSAGES 3 UIDNEXT 4 UNSEEN 3)"));
}

TEST_CASE("APPEND with a synchronising literal, flags and date; APPENDUID; TRYCREATE") {
  World w;
  Client c(w);
  c.send("l LOGIN alice@test.freemail secret");
  std::string m = "Subject: appended\r\n\r\nhi\r\n";
  auto out = c.s.receive("a APPEND Sent (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {" + std::to_string(m.size()) + "}\r\n");
  CHECK(out == "+ Ready for literal data\r\n");
  out = c.s.receive(m + "\r\n");
  auto v = w.store.folder_status(alice, "Sent")->uidvalidity;
  CHECK(out == "a OK [APPENDUID " + std::to_string(v) + " 1] APPEND completed\r\n");
  auto list = w.store.messages(alice, "Sent");
  CHECK(list->at(0).internal_date == 837596665);
  CHECK(list->at(0).flags.system == flag_seen);
  out = c.s.receive("b APPEND Nope {2+}\r\nhi\r\n");
  CHECK(has(out, "b NO [TRYCREATE]"));
  CHECK(has(c.s.receive("c APPEND Outbox {2+}\r\nhi\r\n"), "c NO [CANNOT]"));
}

TEST_CASE("AUTHENTICATE PLAIN with and without an initial response; bad base64 is BAD") {
  World w;
  Client c(w);
  // "\0alice@test.freemail\0secret"
  std::string good = "AGFsaWNlQHRlc3QuZnJlZW1haWwAc2VjcmV0";
  CHECK(c.send("a AUTHENTICATE PLAIN") == "+ \r\n");
  CHECK(has(c.send("!!notbase64"), "a BAD invalid base64"));
  CHECK(c.send("b AUTHENTICATE PLAIN") == "+ \r\n");
  CHECK(has(c.send("*"), "b BAD"));
  CHECK(has(c.send("c AUTHENTICATE PLAIN AGFsaWNlQHRlc3QuZnJlZW1haWwAd3Jvbmc="), "c NO [AUTHENTICATIONFAILED]"));
  CHECK(has(c.send("d AUTHENTICATE CRAM-MD5"), "d NO"));
  CHECK(c.send("e AUTHENTICATE PLAIN") == "+ \r\n");
  CHECK(has(c.send(good), "e OK"));
  CHECK(c.s.state() == Session::State::authenticated);
}

TEST_CASE("LIST, LSUB, SPECIAL-USE, CHILDREN, NAMESPACE, subscriptions, RENAME, DELETE") {
  World w;
  Client c(w);
  c.send("l LOGIN alice@test.freemail secret");
  CHECK(has(c.send("a CREATE Projects/2024"), "a OK"));
  auto out = c.send("b LIST \"\" *");
  CHECK(has(out, "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\""));
  CHECK(has(out, "* LIST (\\HasNoChildren \\Trash) \"/\" \"Trash\""));
  CHECK(has(out, "* LIST (\\HasChildren) \"/\" \"Projects\""));
  CHECK(has(out, "* LIST (\\HasNoChildren) \"/\" \"Projects/2024\""));
  out = c.send("c LIST \"\" %");
  CHECK_FALSE(has(out, "Projects/2024"));
  CHECK(has(c.send("d LIST \"\" \"\""), "* LIST (\\Noselect) \"/\" \"\""));
  CHECK(has(c.send("e LIST \"Projects/\" %"), "\"Projects/2024\""));
  CHECK(has(c.send("f NAMESPACE"), "* NAMESPACE ((\"\" \"/\")) NIL NIL"));
  CHECK(has(c.send("g SUBSCRIBE Projects/2024"), "g OK"));
  out = c.send("h LSUB \"\" *");
  CHECK(has(out, "* LSUB (\\HasNoChildren) \"/\" \"Projects/2024\""));
  CHECK_FALSE(has(out, "\"Projects\"\r\n"));
  CHECK(has(c.send("i RENAME Projects Work"), "i OK"));
  CHECK(has(c.send("j LIST \"\" Work/*"), "\"Work/2024\""));
  CHECK(has(c.send("k DELETE Work/2024"), "k OK"));
  CHECK(has(c.send("m DELETE INBOX"), "m NO"));
  CHECK(has(c.send("n CREATE \"caf\xc3\xa9\""), "n NO"));
  CHECK(has(c.send("o LIST \"\" * RETURN (SPECIAL-USE)"), "\\Drafts"));
  CHECK(has(c.send("p ENABLE CONDSTORE"), "* ENABLED"));
  CHECK(has(c.send("q ID (\"name\" \"test\")"), "* ID ("));
}

TEST_CASE("two sessions see each other's changes; IDLE reports a delivery at once") {
  World w;
  Client a(w), b(w);
  a.login_select();
  b.login_select();
  int wakes = 0;
  b.s.set_wake([&] { ++wakes; });
  CHECK(b.send("i IDLE") == "+ idling\r\n");
  REQUIRE(w.store.deliver(alice, "INBOX", msg(4), {}, 5));
  CHECK(wakes >= 1);
  CHECK(b.s.poll() == "* 4 EXISTS\r\n* 1 RECENT\r\n");
  // a learns of the delivery with its next command (STORE may report EXISTS); the message is
  // not \Recent for a, because b's session saw it first.
  CHECK(a.send("n STORE 1 +FLAGS.SILENT (\\Flagged)") == "* 4 EXISTS\r\n* 3 RECENT\r\nn OK STORE completed\r\n");
  CHECK(b.s.poll() == "* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n");
  CHECK(a.send("x NOOP") == "x OK NOOP completed\r\n");
  a.send("d STORE 2 +FLAGS.SILENT (\\Deleted)");
  a.send("e EXPUNGE");
  CHECK(has(b.s.poll(), "* 2 EXPUNGE"));
  CHECK(b.send("DONE") == "i OK IDLE terminated\r\n");
  CHECK(has(b.send("f FETCH 2 UID"), "* 2 FETCH (UID 3)"));
}

TEST_CASE("no EXPUNGE during a non-UID FETCH; it comes with the next command that allows it") {
  World w;
  Client a(w), b(w);
  a.login_select();
  b.login_select();
  a.send("d STORE 1 +FLAGS.SILENT (\\Deleted)");
  a.send("e EXPUNGE");
  auto out = b.send("f FETCH 1:3 UID");
  CHECK_FALSE(has(out, "EXPUNGE"));
  out = b.send("f2 FETCH 1 UID");  // now known to be gone, but still message 1 until reported
  CHECK_FALSE(has(out, "EXPUNGE\r\n"));
  CHECK(has(out, "f2 OK [EXPUNGEISSUED]"));  // RFC 2180 4.1: no data for it, and no NO
  out = b.send("g NOOP");
  CHECK(has(out, "* 1 EXPUNGE"));
  CHECK(has(b.send("h FETCH 1 UID"), "* 1 FETCH (UID 2)"));
}

TEST_CASE("RFC 2180: FETCH of messages another session expunged answers OK [EXPUNGEISSUED], never NO") {
  // Each way of reading a message, each time on a view that has not been told yet: message 1 is
  // still in it, but its text and envelope are gone from the store.
  for (const std::string items : {"BODY.PEEK[]", "ENVELOPE", "(FLAGS BODY.PEEK[HEADER])", "BODY[TEXT]"}) {
    CAPTURE(items);
    World w;
    Client a(w), b(w);
    a.login_select();
    b.login_select();
    a.send("d STORE 1 +FLAGS.SILENT (\\Deleted)");
    a.send("e EXPUNGE");
    auto out = b.send("f FETCH 1:3 " + items);
    CHECK_FALSE(has(out, "f NO"));
    CHECK_FALSE(has(out, "EXPUNGE\r\n"));  // not during a non-UID FETCH
    CHECK_FALSE(has(out, "* 1 FETCH"));
    CHECK(has(out, "* 2 FETCH"));
    CHECK(has(out, "* 3 FETCH"));
    CHECK(has(out, "f OK [EXPUNGEISSUED]"));
    // Now known to be gone: the next FETCH leaves it out at once, still with OK.
    out = b.send("f2 FETCH 1 FLAGS");
    CHECK(has(out, "f2 OK [EXPUNGEISSUED]"));
    CHECK_FALSE(has(out, "* 1 FETCH"));
  }
  World w;
  Client a(w), b(w);
  a.login_select();
  b.login_select();
  a.send("d STORE 1 +FLAGS.SILENT (\\Deleted)");
  a.send("e EXPUNGE");
  // UID FETCH may report the expunge; the expunged UID is left out.
  auto out = b.send("u UID FETCH 1:* BODY.PEEK[]");
  CHECK(has(out, "* 1 EXPUNGE"));
  CHECK_FALSE(has(out, "u NO"));
  CHECK(has(out, "* 2 FETCH (UID 2 "));  // numbered before the EXPUNGE that follows
  // Once reported, nothing was expunged elsewhere: a plain OK.
  CHECK(has(b.send("g FETCH 1:* UID"), "g OK FETCH completed"));
}

TEST_CASE("RFC 2180: STORE, COPY and MOVE of messages another session expunged answer OK [EXPUNGEISSUED]") {
  World w;
  Client a(w), b(w);
  a.login_select();
  b.login_select();
  REQUIRE(has(a.send("c CREATE Archive"), "c OK"));
  a.send("d STORE 1 +FLAGS.SILENT (\\Deleted)");
  a.send("e EXPUNGE");
  auto out = b.send("s STORE 1:3 +FLAGS (\\Flagged)");
  CHECK_FALSE(has(out, "s NO"));
  CHECK_FALSE(has(out, "* 1 FETCH"));
  CHECK(has(out, "* 2 FETCH (FLAGS (\\Flagged))"));
  CHECK(has(out, "* 3 FETCH (FLAGS (\\Flagged))"));
  CHECK(has(out, "s OK [EXPUNGEISSUED]"));
  // COPY copies what is left; COPYUID names exactly that, the expunge is told just before.
  out = b.send("k COPY 1:3 Archive");
  CHECK(has(out, "* OK [EXPUNGEISSUED]"));
  CHECK(has(out, "k OK [COPYUID "));
  CHECK(has(out, " 2:3 1:2] COPY completed"));
  out = b.send("k2 COPY 1 Archive");  // nothing left to copy
  CHECK(has(out, "k2 OK [EXPUNGEISSUED]"));
  out = b.send("m MOVE 1:2 Archive");
  CHECK_FALSE(has(out, "m NO"));
  CHECK(has(out, "m OK [EXPUNGEISSUED]"));
  CHECK(has(out, "* 1 EXPUNGE"));  // MOVE reports expunges (its own and the other session's)
  auto archive = b.send("x STATUS Archive (MESSAGES)");
  CHECK(has(archive, "(MESSAGES 3)"));  // 2 and 3 copied, 2 moved
}

TEST_CASE("hostile input: garbage lines get BAD and finally BYE; mid-literal data is just buffered") {
  World w;
  Client c(w);
  c.send("l LOGIN alice@test.freemail secret");
  for (int i = 0; i < 5; ++i) CHECK(has(c.send("\x01\x02 garbage"), "BAD"));
  CHECK(has(c.send("ok NOOP"), "ok OK"));  // the session goes on
  CHECK(c.s.receive("a APPEND INBOX {100}\r\n") == "+ Ready for literal data\r\n");
  CHECK(c.s.receive("only part of it").empty());
  Client d(w);
  std::string out;
  for (int i = 0; i < 40 && !d.s.closed(); ++i) out += d.send("???");
  CHECK(d.s.closed());
  CHECK(has(out, "* BYE"));
}

TEST_CASE("selecting the selected folder again reports the current state, without EXPUNGE lines") {
  World w;
  Client a(w), b(w);
  a.login_select();
  b.login_select();
  b.send("d STORE 1 +FLAGS.SILENT (\\Deleted \\Seen)");
  b.send("e EXPUNGE");
  REQUIRE(w.store.deliver(alice, "INBOX", msg(9), {}, 5));
  auto out = a.send("s SELECT INBOX");
  CHECK_FALSE(has(out, "EXPUNGE"));
  CHECK(has(out, "* 3 EXISTS\r\n"));
  CHECK(has(out, "* OK [UIDNEXT 5]"));
  CHECK(has(out, "s OK [READ-WRITE]"));
  CHECK(has(a.send("f FETCH 1:* UID"), "* 3 FETCH (UID 4)"));
  CHECK(has(a.send("x EXAMINE INBOX"), "x OK [READ-ONLY]"));
  CHECK(has(a.send("y STORE 1 +FLAGS (\\Seen)"), "y NO [READ-ONLY]"));
}

TEST_CASE("random command soup never breaks a session or the store (a small built-in fuzz)") {
  World w;
  std::mt19937 rng(99);
  const std::vector<std::string> pieces = {
      "a LOGIN alice@test.freemail secret\r\n", "b SELECT INBOX\r\n", "c FETCH 1:* (FLAGS BODY.PEEK[1.MIME])\r\n",
      "d STORE 1:2 +FLAGS (\\Deleted)\r\n", "e EXPUNGE\r\n", "f APPEND INBOX {5}\r\n", "hello", "g IDLE\r\n",
      "DONE\r\n", "h UID SEARCH OR FROM x NOT (SEEN 1:*)\r\n", "i COPY * Trash\r\n", "j UID MOVE 1:* Trash\r\n",
      "k AUTHENTICATE PLAIN\r\n", "*\r\n", "{3+}\r\n", "\r\n", "((((", "\"", "l FETCH 1 BODY[", "m LIST \"\" *\r\n",
      "n CREATE x/y\r\n", "o RENAME x z\r\n", "p DELETE z\r\n", "q CLOSE\r\n", "r EXAMINE Outbox\r\n"};
  for (int round = 0; round < 40; ++round) {
    Session s(w.store, w.login);
    for (int i = 0; i < 60 && !s.closed(); ++i) {
      std::string chunk = pieces[rng() % pieces.size()];
      if (rng() % 4 == 0) chunk.insert(chunk.begin() + static_cast<long>(rng() % (chunk.size() + 1)), static_cast<char>(rng() % 256));
      (void)s.receive(chunk);
      (void)s.poll();
    }
  }
  // The store still answers and its UIDs are consistent.
  auto st = w.store.folder_status(alice, "INBOX");
  REQUIRE(st);
  auto list = w.store.messages(alice, "INBOX");
  REQUIRE(list);
  for (auto& m : *list) CHECK(m.uid < st->uidnext);
}

// ---- logins checked elsewhere (async_login: the server's login gate) ------------------------

namespace {

struct AsyncClient {
  Session s;
  explicit AsyncClient(World& w, SessionOptions o = {}) : s(w.store, w.login, with_async(o)) {}
  static SessionOptions with_async(SessionOptions o) {
    o.async_login = true;
    return o;
  }
  std::string send(const std::string& line) { return s.receive(line + "\r\n"); }
};

// A LoginCheck that must not be called: the verdict comes from outside.
class NeverLogin final : public LoginCheck {
 public:
  int calls = 0;
  std::optional<std::string> check_login(const std::string&, const std::string&) override {
    ++calls;
    return std::nullopt;
  }
};

}  // namespace

TEST_CASE("async login: LOGIN waits for the verdict; pipelined commands are answered after it, in order") {
  World w;
  NeverLogin never;
  SessionOptions o;
  o.async_login = true;
  Session s(w.store, never, o);
  // LOGIN and a pipelined SELECT in one read.
  auto out = s.receive("a LOGIN alice@test.freemail secret\r\nb SELECT INBOX\r\n");
  CHECK(out.empty());
  CHECK(s.login_pending());
  CHECK(never.calls == 0);
  // More input while pending is kept, not answered.
  CHECK(s.receive("c NOOP\r\n").empty());
  auto req = s.take_login_request();
  REQUIRE(req);
  CHECK(req->user == alice);
  CHECK(req->password == "secret");
  CHECK_FALSE(s.take_login_request());  // handed out once
  out = s.login_finished(alice);
  CHECK_FALSE(s.login_pending());
  auto a = out.find("a OK");
  auto b = out.find("b OK [READ-WRITE]");
  auto c = out.find("c OK");
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  REQUIRE(c != std::string::npos);
  CHECK(a < b);
  CHECK(b < c);
  CHECK(has(out, "* 3 EXISTS"));
  CHECK(s.state() == Session::State::selected);
}

TEST_CASE("async login: a refused verdict answers NO and the session can try again") {
  World w;
  AsyncClient c(w);
  CHECK(c.send("a LOGIN alice@test.freemail wrong").empty());
  REQUIRE(c.s.take_login_request());
  auto out = c.s.login_finished(std::nullopt);
  CHECK(has(out, "a NO [AUTHENTICATIONFAILED]"));
  CHECK(c.s.state() == Session::State::not_authenticated);
  CHECK(has(c.send("b SELECT INBOX"), "b BAD"));
  CHECK(c.send("c LOGIN alice@test.freemail secret").empty());
  REQUIRE(c.s.take_login_request());
  CHECK(has(c.s.login_finished(alice), "c OK"));
  CHECK(c.s.state() == Session::State::authenticated);
}

TEST_CASE("async login: AUTHENTICATE PLAIN (continuation and SASL-IR) is pending too; authzid must be the user") {
  World w;
  AsyncClient c(w);
  // "\0alice@test.freemail\0secret"
  std::string ir = "AGFsaWNlQHRlc3QuZnJlZW1haWwAc2VjcmV0";
  CHECK(c.send("a AUTHENTICATE PLAIN").starts_with("+ "));
  CHECK(c.send(ir).empty());
  auto req = c.s.take_login_request();
  REQUIRE(req);
  CHECK(req->user == alice);
  CHECK(has(c.s.login_finished(alice), "a OK"));

  AsyncClient d(w);
  // "bob@x\0alice@test.freemail\0secret": authorising as someone else is refused even with the right password.
  CHECK(d.send("b AUTHENTICATE PLAIN Ym9iQHgAYWxpY2VAdGVzdC5mcmVlbWFpbABzZWNyZXQ=").empty());
  REQUIRE(d.s.take_login_request());
  CHECK(has(d.s.login_finished(alice), "b NO [AUTHENTICATIONFAILED]"));
  CHECK(d.s.state() == Session::State::not_authenticated);
}

TEST_CASE("async login: input piling up while the login is pending closes the session") {
  World w;
  SessionOptions o;
  o.max_buffered_while_pending = 1000;
  AsyncClient c(w, o);
  CHECK(c.send("a LOGIN alice@test.freemail secret").empty());
  std::string junk;
  for (int i = 0; i < 100; ++i) junk += "x NOOP\r\n";
  CHECK(c.s.receive(junk).empty());
  auto out = c.s.receive(junk);
  CHECK(has(out, "* BYE"));
  CHECK(c.s.closed());
}

TEST_CASE("before login only small literals are taken; after login large ones are") {
  World w;
  SessionOptions o;
  o.max_literal_unauthenticated = 1024;
  Session s(w.store, w.login, o);
  auto out = s.receive("a LOGIN {5000}\r\n");
  CHECK(has(out, "a BAD literal too large"));
  CHECK_FALSE(s.closed());
  // A non-synchronising literal already on its way cannot be refused politely: the session ends.
  Session t(w.store, w.login, o);
  out = t.receive("b LOGIN {5000+}\r\n");
  CHECK(has(out, "* BYE"));
  CHECK(t.closed());
  // Logged in, a 5000-byte APPEND goes through.
  CHECK(has(s.receive("c LOGIN alice@test.freemail secret\r\n"), "c OK"));
  std::string m = msg(9) + std::string(5000 - msg(9).size(), 'x');
  out = s.receive("d APPEND INBOX {" + std::to_string(m.size()) + "}\r\n");
  CHECK(has(out, "+ "));
  CHECK(has(s.receive(m + "\r\n"), "d OK [APPENDUID"));
}

TEST_CASE("SELECT answers from the shared listing; changes before the next command are reported against it") {
  World w;
  Client a(w), b(w);
  a.send("l LOGIN alice@test.freemail secret");
  auto sel = a.send("s SELECT INBOX");
  CHECK(has(sel, "* 3 EXISTS"));
  CHECK(has(sel, "* 3 RECENT"));
  CHECK(has(sel, "[UNSEEN 1]"));
  CHECK(has(sel, "[UIDNEXT 4]"));
  // Before a's next command: another session expunges message 2, the engine delivers one.
  b.login_select();
  CHECK(has(b.send("x STORE 2 +FLAGS.SILENT (\\Deleted)"), "x OK"));
  CHECK(has(b.send("y EXPUNGE"), "* 2 EXPUNGE"));
  REQUIRE(w.store.deliver(alice, "INBOX", msg(4), {}, 1000000004));
  auto out = a.send("n NOOP");
  CHECK(has(out, "* 2 EXPUNGE"));
  CHECK(has(out, "* 3 EXISTS"));
  out = a.send("f FETCH 1:* (UID)");
  CHECK(has(out, "* 1 FETCH (UID 1)"));
  CHECK(has(out, "* 2 FETCH (UID 3)"));
  CHECK(has(out, "* 3 FETCH (UID 4)"));
  // A new session sees the new state at once.
  Client c(w);
  c.send("l LOGIN alice@test.freemail secret");
  sel = c.send("s SELECT INBOX");
  CHECK(has(sel, "* 3 EXISTS"));
  CHECK(has(sel, "[UIDNEXT 5]"));
  CHECK(has(c.send("u UID SEARCH ALL"), "* SEARCH 1 3 4"));
}

TEST_CASE("SEARCH matches the decoded text of RFC 2047 encoded words (reported by clients, imap-bugs #1)") {
  World w;
  REQUIRE(w.store.deliver(alice, "INBOX",
                          "From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_Wien?=\r\n"
                          "X-Note: =?utf-8?b?w6Rw?=\r\n\r\nbody\r\n",
                          {}, 1000000009));
  Client c(w);
  c.login_select();
  CHECK(has(c.send("a SEARCH CHARSET UTF-8 SUBJECT {7+}\r\nGrüße"), "* SEARCH 4\r\n"));
  CHECK(has(c.send("b SEARCH FROM \"rgen\""), "* SEARCH 4\r\n"));
  CHECK(has(c.send("c SEARCH SUBJECT \"aus Wien\""), "* SEARCH 4\r\n"));
  CHECK(has(c.send("d SEARCH HEADER X-Note {3+}\r\näp"), "* SEARCH 4\r\n"));
  CHECK(has(c.send("e SEARCH SUBJECT \"note\""), "* SEARCH 1 2 3\r\n"));
}
