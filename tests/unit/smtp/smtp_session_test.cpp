#include "crypto/base64.h"
#include "smtp/smtp_session.h"

#include <doctest/doctest.h>

#include "smtp/smtp_parser.h"
#include "smtp_fakes.h"

using namespace fcpmail::smtp;
using namespace smtp_test;

namespace {

struct Fixture {
  Options options;
  FakeSubmission submission;
  FakeLogin login;
  FakeSent sent;
  std::vector<std::string> log;
  Session session;

  explicit Fixture(Options o = make_options())
      : options(std::move(o)), session(options, submission, sent.copy(), [this](std::string_view l) { log.emplace_back(l); }) {}

  static Options make_options() {
    Options o;
    o.hostname = "test.local";
    o.max_message_size = 1000;
    o.max_command_line = 200;
    o.now = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(1795788000)); };
    o.make_message_id_local = [] { return std::string("fixed-id"); };
    return o;
  }

  // What the server does with a Step::login, done synchronously with the fake.
  Step resolve(const LoginRequest& request) {
    return session.login_finished({login.check_login(request.user, request.password), false});
  }

  // Feeds bytes and returns every reply, answering logins and honouring pending input the way the
  // server does.
  std::string say(std::string_view bytes) {
    Step step = session.feed(bytes);
    std::string out;
    last_delay = {};
    for (;;) {
      out += step.output;
      last_delay = std::max(last_delay, step.delay);
      last_close = step.close;
      if (step.close) break;
      if (step.login) {
        step = resolve(*step.login);
        continue;
      }
      if (!session.has_pending_input()) break;
      step = session.feed({});
    }
    return out;
  }
  std::string plain(std::string_view user, std::string_view password) {
    std::string raw;
    raw += '\0';
    raw += user;
    raw += '\0';
    raw += password;
    return fcpmail::crypto::base64_encode(raw);
  }
  void authenticated() {
    REQUIRE(say("EHLO client\r\n").starts_with("250-test.local"));
    REQUIRE(say("AUTH PLAIN " + plain("alice@aaaaaaaa.freemail", "secret") + "\r\n") ==
            "235 2.7.0 Authentication successful\r\n");
  }

  std::chrono::milliseconds last_delay{0};
  bool last_close = false;
};

}  // namespace

TEST_CASE("greeting and EHLO advertise the extensions") {
  Fixture f;
  CHECK(f.session.greeting() == "220 test.local ESMTP fcpmail submission service ready\r\n");
  const auto ehlo = f.say("EHLO client.example\r\n");
  CHECK(ehlo ==
        "250-test.local greets client.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n"
        "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n");
  CHECK(f.say("HELO client\r\n") == "250 test.local\r\n");
  CHECK(f.say("EHLO\r\n").starts_with("501 5.5.4"));
}

TEST_CASE("a whole submission with AUTH PLAIN, dot-unstuffing, Sent copy") {
  Fixture f;
  f.authenticated();
  CHECK(f.say("MAIL FROM:<Alice@AAAAAAAA.freemail> BODY=8BITMIME SIZE=100\r\n") ==
        "250 2.1.0 Sender <alice@aaaaaaaa.freemail> ok\r\n");
  CHECK(f.say("RCPT TO:<bob>\r\n") == "250 2.1.5 Recipient <bob@bbbbbbbb.freemail> ok\r\n");
  CHECK(f.say("RCPT TO:<carol@dddddddd.freemail>\r\n") == "250 2.1.5 Recipient <carol@dddddddd.freemail> ok\r\n");
  CHECK(f.say("RCPT TO:<bob@bbbbbbbb.freemail>\r\n").starts_with("250 "));  // duplicate, kept once
  CHECK(f.say("DATA\r\n") == "354 End data with <CR><LF>.<CR><LF>\r\n");
  CHECK(f.say("Subject: hi\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <x@y>\r\n\r\n..dotted\r\n..\r\nend\r\n")
            .empty());
  CHECK(f.say(".\r\n") == "250 2.0.0 Queued as 1 in the fcpmail outbox; see `fcpmail outbox show 1`\r\n");
  REQUIRE(f.submission.submitted.size() == 1);
  const auto& s = f.submission.submitted[0];
  CHECK(s.account == "alice@aaaaaaaa.freemail");
  CHECK(s.recipients == std::vector<std::string>{"bob@bbbbbbbb.freemail", "carol@dddddddd.freemail"});
  CHECK(s.message == "Subject: hi\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <x@y>\r\n\r\n.dotted\r\n.\r\nend\r\n");
  REQUIRE(f.sent.appended.size() == 1);
  CHECK(f.sent.appended[0].account == "alice@aaaaaaaa.freemail");
  CHECK(f.sent.appended[0].time == 1795788000);
  CHECK(f.sent.appended[0].message == s.message);
  // A second transaction on the same session.
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\n").starts_with("250 "));
  CHECK(f.say("QUIT\r\n") == "221 2.0.0 Bye\r\n");
  CHECK(f.last_close);
  CHECK(f.session.closed());
}

TEST_CASE("missing Date and Message-ID are added; a bare LF is accepted as end of line") {
  Fixture f;
  f.authenticated();
  f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nDATA\r\n");
  CHECK(f.say("Subject: x\n\nbody\n.\n").starts_with("250 2.0.0"));
  REQUIRE(f.submission.submitted.size() == 1);
  CHECK(f.submission.submitted[0].message ==
        "Date: Fri, 27 Nov 2026 14:00:00 +0000\r\nMessage-ID: <fixed-id@aaaaaaaa.freemail>\r\nSubject: x\r\n\r\nbody\r\n");
}

TEST_CASE("pipelining: every reply in order from one chunk") {
  Fixture f;
  f.say("EHLO c\r\n");
  const auto out = f.say("AUTH PLAIN " + f.plain("alice@aaaaaaaa.freemail", "secret") +
                         "\r\nMAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nRCPT TO:<nobody>\r\nDATA\r\n"
                         "Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n");
  CHECK(out ==
        "235 2.7.0 Authentication successful\r\n250 2.1.0 Sender <alice@aaaaaaaa.freemail> ok\r\n"
        "250 2.1.5 Recipient <bob@bbbbbbbb.freemail> ok\r\n"
        "550 5.1.1 <nobody>: no contact called that; add it with `fcpmail contacts add`\r\n"
        "354 End data with <CR><LF>.<CR><LF>\r\n"
        "250 2.0.0 Queued as 1 in the fcpmail outbox; see `fcpmail outbox show 1`\r\n221 2.0.0 Bye\r\n");
}

TEST_CASE("bytes split anywhere give the same result") {
  Fixture f;
  const std::string script = "EHLO c\r\nAUTH PLAIN " + f.plain("alice@aaaaaaaa.freemail", "secret") +
                             "\r\nMAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bea>\r\nDATA\r\nSubject: s\r\n\r\n"
                             "..a\r\n.\r\n";
  std::string out;
  for (const char c : script) out += f.say(std::string_view(&c, 1));
  CHECK(out.ends_with("250 2.0.0 Queued as 1 in the fcpmail outbox; see `fcpmail outbox show 1`\r\n"));
  REQUIRE(f.submission.submitted.size() == 1);
  CHECK(f.submission.submitted[0].message.ends_with("\r\n\r\n.a\r\n"));
}

TEST_CASE("AUTH LOGIN, with and without an initial response") {
  Fixture f;
  f.say("EHLO c\r\n");
  CHECK(f.say("AUTH LOGIN\r\n") == "334 VXNlcm5hbWU6\r\n");
  CHECK(f.say(fcpmail::crypto::base64_encode("alice@aaaaaaaa.freemail") + "\r\n") == "334 UGFzc3dvcmQ6\r\n");
  CHECK(f.say(fcpmail::crypto::base64_encode("secret") + "\r\n") == "235 2.7.0 Authentication successful\r\n");
  CHECK(f.session.account() == "alice@aaaaaaaa.freemail");

  Fixture g;
  g.say("EHLO c\r\n");
  CHECK(g.say("AUTH LOGIN " + fcpmail::crypto::base64_encode("alice@aaaaaaaa.freemail") + "\r\n") == "334 UGFzc3dvcmQ6\r\n");
  CHECK(g.say(fcpmail::crypto::base64_encode("secret") + "\r\n") == "235 2.7.0 Authentication successful\r\n");
}

TEST_CASE("AUTH PLAIN without an initial response, cancel, and a different authzid") {
  Fixture f;
  f.say("EHLO c\r\n");
  CHECK(f.say("AUTH PLAIN\r\n") == "334 \r\n");
  CHECK(f.say("*\r\n") == "501 5.7.0 Authentication cancelled\r\n");
  CHECK(f.say("AUTH PLAIN\r\n") == "334 \r\n");
  CHECK(f.say(f.plain("alice@aaaaaaaa.freemail", "secret") + "\r\n").starts_with("235 "));

  Fixture g;
  g.say("EHLO c\r\n");
  std::string raw = std::string("mallory@x.freemail") + '\0' + "alice@aaaaaaaa.freemail" + '\0' + "secret";
  CHECK(g.say("AUTH PLAIN " + fcpmail::crypto::base64_encode(raw) + "\r\n").starts_with("535 5.7.8"));
  raw = std::string("alice@aaaaaaaa.freemail") + '\0' + "alice@aaaaaaaa.freemail" + '\0' + "secret";
  CHECK(g.say("AUTH PLAIN " + fcpmail::crypto::base64_encode(raw) + "\r\n").starts_with("235 "));
}

TEST_CASE("failed logins are delayed and end the session after the limit") {
  Fixture f;
  f.say("EHLO c\r\n");
  auto out = f.say("AUTH PLAIN " + f.plain("alice@aaaaaaaa.freemail", "wrong") + "\r\n");
  CHECK(out.starts_with("535 5.7.8 Authentication credentials invalid"));
  CHECK(f.last_delay == f.options.auth_failure_delay);
  CHECK_FALSE(f.last_close);
  // Pipelined guesses: the session asks for one check at a time and stops at each failure so the
  // server can delay every one.
  Step step = f.session.feed("AUTH PLAIN " + f.plain("a", "b") + "\r\nAUTH PLAIN " + f.plain("c", "d") + "\r\n");
  REQUIRE(step.login);
  CHECK(step.login->user == "a");
  CHECK(step.output.empty());
  CHECK(f.session.login_pending());
  CHECK_FALSE(f.session.has_pending_input());
  step = f.resolve(*step.login);
  CHECK(step.output.starts_with("535 "));
  CHECK(step.delay.count() > 0);
  CHECK(f.session.has_pending_input());
  step = f.session.feed({});
  REQUIRE(step.login);
  CHECK(step.login->user == "c");
  step = f.resolve(*step.login);
  CHECK(step.output.find("421 4.7.0 Too many failed logins") != std::string::npos);
  CHECK(step.close);
  CHECK(f.session.closed());
  CHECK(f.login.calls == 3);
  CHECK(f.session.feed("NOOP\r\n").output.empty());
}

TEST_CASE("bad base64 and malformed PLAIN in AUTH") {
  Fixture f;
  f.say("EHLO c\r\n");
  CHECK(f.say("AUTH PLAIN !!!notbase64\r\n") == "501 5.5.2 Cannot decode the base64 response\r\n");
  CHECK(f.say("AUTH PLAIN " + fcpmail::crypto::base64_encode("no-nul-here") + "\r\n").starts_with("501 5.5.2 Malformed PLAIN"));
  CHECK(f.say("AUTH PLAIN =\r\n").starts_with("501 5.5.2 Malformed PLAIN"));
  CHECK(f.say("AUTH LOGIN\r\n") == "334 VXNlcm5hbWU6\r\n");
  CHECK(f.say("@@@\r\n") == "501 5.5.2 Cannot decode the base64 response\r\n");
  CHECK(f.say("AUTH CRAM-MD5\r\n").starts_with("504 5.5.4"));
  CHECK(f.say("AUTH\r\n").starts_with("501 5.5.4"));
  CHECK(f.login.calls == 0);
  CHECK(f.say("NOOP\r\n") == "250 2.0.0 Ok\r\n");  // still a working session
}

TEST_CASE("commands in the wrong state") {
  Fixture f;
  CHECK(f.say("AUTH PLAIN x\r\n").starts_with("503 5.5.1 Send EHLO first"));
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\n").starts_with("503 5.5.1 Send EHLO first"));
  f.say("EHLO c\r\n");
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\n").starts_with("530 5.7.0 Authentication required"));
  CHECK(f.say("RCPT TO:<bob>\r\n").starts_with("503 5.5.1 Send MAIL FROM first"));
  CHECK(f.say("DATA\r\n").starts_with("503 5.5.1"));
  CHECK(f.say("AUTH PLAIN " + f.plain("alice@aaaaaaaa.freemail", "secret") + "\r\n").starts_with("235 "));
  CHECK(f.say("AUTH PLAIN " + f.plain("alice@aaaaaaaa.freemail", "secret") + "\r\n").starts_with("503 5.5.1 Already"));
  CHECK(f.say("DATA\r\n").starts_with("503 5.5.1"));
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\n").starts_with("250 "));
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\n").starts_with("503 5.5.1 Sender already given"));
  CHECK(f.say("DATA\r\n").starts_with("554 5.5.1 No valid recipients"));
  CHECK(f.say("DATA now\r\n").starts_with("501 "));
  CHECK(f.say("RSET\r\n") == "250 2.0.0 Ok\r\n");
  CHECK(f.say("RCPT TO:<bob>\r\n").starts_with("503 "));
}

TEST_CASE("the sender must be the authenticated account") {
  Fixture f;
  f.authenticated();
  CHECK(f.say("MAIL FROM:<mallory@x.freemail>\r\n") ==
        "553 5.7.1 Sender <mallory@x.freemail> is not your account; send as <alice@aaaaaaaa.freemail>\r\n");
  CHECK(f.say("MAIL FROM:<>\r\n").starts_with("553 5.7.1"));
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail> SIZE=5000\r\n").starts_with("552 5.3.4"));
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail> SIZE=abc\r\n").starts_with("501 "));
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail> BODY=BINARYMIME\r\n").starts_with("501 "));
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail> SMTPUTF8\r\n").starts_with("555 5.5.4"));
  CHECK(f.say("MAIL FROM:alice@aaaaaaaa.freemail\r\n").starts_with("250 "));
  CHECK(f.say("RCPT TO:<bob> NOTIFY=NEVER\r\n").starts_with("555 "));
  CHECK(f.say("RCPT TO:<>\r\n").starts_with("501 "));
  CHECK(f.say("RCPT TO:<b>\r\n").starts_with("550 5.1.1 <b>: "));  // ambiguous prefix
  CHECK(f.say("RCPT TO:<bo>\r\n") == "250 2.1.5 Recipient <bob@bbbbbbbb.freemail> ok\r\n");  // unique prefix
}

TEST_CASE("a petname with a bare host name appended (mutt) still resolves; other domains do not") {
  Fixture f;
  f.authenticated();
  f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\n");
  CHECK(f.say("RCPT TO:<bob@myhost>\r\n") == "250 2.1.5 Recipient <bob@bbbbbbbb.freemail> ok\r\n");
  CHECK(f.say("RCPT TO:<nobody@myhost>\r\n").starts_with("550 5.1.1 <nobody@myhost>: no contact"));
  CHECK(f.say("RCPT TO:<bob@gmail.com>\r\n").starts_with("550 5.1.2 <bob@gmail.com> is not a Freemail address"));
}

TEST_CASE("a revoked or denied contact is refused at RCPT with the reason and the way back") {
  Fixture f;
  const std::string revoked = "carl@dddddddd.freemail is revoked: you stopped accepting mail from this contact; "
                              "allow them again with `fcpmail contacts add carl@dddddddd.freemail`";
  f.submission.not_allowed["carl"] = revoked;
  f.submission.not_allowed["carl@dddddddd.freemail"] = revoked;
  f.authenticated();
  f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\n");
  CHECK(f.say("RCPT TO:<carl@dddddddd.freemail>\r\n") == "550 5.7.1 " + revoked + "\r\n");
  CHECK(f.say("RCPT TO:<carl>\r\n") == "550 5.7.1 " + revoked + "\r\n");
  CHECK(f.say("RCPT TO:<carl@myhost>\r\n") == "550 5.7.1 " + revoked + "\r\n");  // mutt's form of the petname
  CHECK(f.say("DATA\r\n").starts_with("554 "));  // no recipient was accepted
  CHECK(f.submission.submitted.empty());
}

TEST_CASE("too many recipients") {
  Options o = Fixture::make_options();
  o.max_recipients = 2;
  Fixture f(o);
  f.authenticated();
  f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\n");
  CHECK(f.say("RCPT TO:<a@1.freemail>\r\n").starts_with("250 "));
  CHECK(f.say("RCPT TO:<a@2.freemail>\r\n").starts_with("250 "));
  CHECK(f.say("RCPT TO:<a@3.freemail>\r\n").starts_with("452 4.5.3"));
}

TEST_CASE("a message over the size limit is refused after its end, and the session goes on") {
  Fixture f;
  f.authenticated();
  f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nDATA\r\n");
  std::string big;
  for (int i = 0; i < 30; ++i) big += std::string(60, 'x') + "\r\n";
  CHECK(f.say(big).empty());
  CHECK(f.say(".\r\n").starts_with("552 5.3.4 Message too big"));
  CHECK(f.submission.submitted.empty());
  CHECK(f.say("RCPT TO:<bob>\r\n").starts_with("503 "));  // the transaction was reset
  // One single line longer than the whole limit, without a line end for a while.
  f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nDATA\r\n");
  CHECK(f.say(std::string(5000, 'y')).empty());
  CHECK(f.say(std::string(5000, 'y') + "\r\n.\r\n").starts_with("552 5.3.4"));
  f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nDATA\r\n");
  CHECK(f.say("Subject: small\r\n\r\nok\r\n.\r\n").starts_with("250 2.0.0"));
}

TEST_CASE("a command line over the limit gets 500 and the session closes") {
  Fixture f;
  f.say("EHLO c\r\n");
  CHECK(f.say("NOOP " + std::string(300, 'a') + "\r\n") ==
        "500 5.5.6 Line too long: the limit is 200 octets; closing the connection\r\n");
  CHECK(f.last_close);
  CHECK(f.session.closed());
  CHECK(f.say("NOOP\r\n").empty());

  // A line that never ends (100 MB in 1 MB pieces): the error comes as soon as the limit is
  // passed, and nothing of it is kept.
  Fixture g;
  g.say("EHLO c\r\n");
  const std::string piece(1 << 20, 'b');
  std::string out;
  std::size_t most_buffered = 0;
  for (int i = 0; i < 100 && !g.session.closed(); ++i) {
    out += g.say(piece);
    most_buffered = std::max(most_buffered, g.session.buffered_bytes());
  }
  CHECK(out == "500 5.5.6 Line too long: the limit is 200 octets; closing the connection\r\n");
  CHECK(g.session.closed());
  CHECK(g.session.buffered_bytes() == 0);
  CHECK(most_buffered == 0);

  // Inside an AUTH exchange too.
  Fixture h;
  h.say("EHLO c\r\n");
  CHECK(h.say("AUTH PLAIN\r\n") == "334 \r\n");
  CHECK(h.say(std::string(500, 'A') + "\r\n").starts_with("500 5.5.6"));
  CHECK(h.session.closed());
  CHECK(h.login.calls == 0);
}

TEST_CASE("a 100 MB DATA line without an end is counted, not kept, and refused with 552") {
  Fixture f;  // max_message_size 1000
  f.authenticated();
  f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nDATA\r\n");
  const std::string piece(1 << 20, 'z');
  std::size_t most_buffered = 0;
  for (int i = 0; i < 100; ++i) {
    CHECK(f.say(piece).empty());
    most_buffered = std::max(most_buffered, f.session.buffered_bytes());
  }
  CHECK(most_buffered <= 1000);
  CHECK(f.say("\r\n.\r\n").starts_with("552 5.3.4 Message too big"));
  CHECK(f.submission.submitted.empty());
  CHECK(f.say("NOOP\r\n") == "250 2.0.0 Ok\r\n");
}

TEST_CASE("a long DATA line under the size limit is stored in pieces and arrives whole") {
  Options o = Fixture::make_options();
  o.max_message_size = 1 << 20;
  Fixture f(o);
  f.authenticated();
  f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nDATA\r\nSubject: long\r\n\r\n");
  // 300 KB starting with a stuffed dot, fed in odd pieces; a CR at a piece's end is kept for the LF.
  std::string line = ".." + std::string(300000, 'q');
  for (std::size_t at = 0; at < line.size(); at += 70001) CHECK(f.say(line.substr(at, 70001)).empty());
  CHECK(f.session.buffered_bytes() < 310000);
  CHECK(f.say("\r").empty());
  CHECK(f.say("\n.\r\n").starts_with("250 2.0.0"));
  REQUIRE(f.submission.submitted.size() == 1);
  const auto& m = f.submission.submitted[0].message;
  CHECK(m.ends_with("\r\n\r\n." + std::string(300000, 'q') + "\r\n"));
}

TEST_CASE("a login is pending until the server hands back the outcome; pipelined commands wait") {
  Fixture f;
  f.say("EHLO c\r\n");
  Step step = f.session.feed("AUTH PLAIN " + f.plain("alice@aaaaaaaa.freemail", "secret") +
                             "\r\nMAIL FROM:<alice@aaaaaaaa.freemail>\r\n");
  REQUIRE(step.login);
  CHECK(step.login->user == "alice@aaaaaaaa.freemail");
  CHECK(step.login->password == "secret");
  CHECK(step.output.empty());
  CHECK(f.session.login_pending());
  CHECK_FALSE(f.session.has_pending_input());
  // Bytes that arrive meanwhile are kept, not answered.
  CHECK(f.session.feed("RCPT TO:<bob>\r\n").output.empty());
  CHECK(f.login.calls == 0);  // the session never checks a password itself
  step = f.session.login_finished({std::string("alice@aaaaaaaa.freemail"), false});
  CHECK(step.output == "235 2.7.0 Authentication successful\r\n");
  CHECK_FALSE(f.session.login_pending());
  REQUIRE(f.session.has_pending_input());
  CHECK(f.say("") == "250 2.1.0 Sender <alice@aaaaaaaa.freemail> ok\r\n250 2.1.5 Recipient <bob@bbbbbbbb.freemail> ok\r\n");
  // An outcome nobody asked for changes nothing.
  CHECK(f.session.login_finished({std::string("mallory@x.freemail"), false}).output.empty());
  CHECK(f.session.account() == "alice@aaaaaaaa.freemail");
}

TEST_CASE("a locked-out user gets 454 and the failure counts") {
  Options o = Fixture::make_options();
  o.max_auth_failures = 2;
  Fixture f(o);
  f.say("EHLO c\r\n");
  Step step = f.session.feed("AUTH PLAIN " + f.plain("alice@aaaaaaaa.freemail", "secret") + "\r\n");
  REQUIRE(step.login);
  step = f.session.login_finished({std::nullopt, true});
  CHECK(step.output.starts_with("454 4.7.0 Too many failed logins for this account"));
  CHECK(step.delay == o.auth_failure_delay);
  CHECK_FALSE(step.close);
  CHECK_FALSE(f.session.account());
  step = f.session.feed("AUTH LOGIN " + fcpmail::crypto::base64_encode("alice@aaaaaaaa.freemail") + "\r\n" + fcpmail::crypto::base64_encode("x") + "\r\n");
  CHECK(step.output == "334 UGFzc3dvcmQ6\r\n");
  if (!step.login) step = f.session.feed({});
  REQUIRE(step.login);
  CHECK(step.login->password == "x");
  step = f.session.login_finished({std::nullopt, false});
  CHECK(step.output.find("421 4.7.0") != std::string::npos);
  CHECK(step.close);
}

TEST_CASE("a login refused for load gets 454 at once and is no failure; the right password then gets in") {
  Options o = Fixture::make_options();
  o.max_auth_failures = 1;  // one real failure would close the session
  Fixture f(o);
  f.say("EHLO c\r\n");
  for (int i = 0; i < 3; ++i) {
    Step step = f.session.feed("AUTH PLAIN " + f.plain("alice@aaaaaaaa.freemail", "secret") + "\r\n");
    REQUIRE(step.login);
    step = f.session.login_finished({std::nullopt, false, true});
    CHECK(step.output.starts_with("454 4.7.0 Temporary authentication failure"));
    CHECK(step.delay == std::chrono::milliseconds(0));
    CHECK_FALSE(step.close);
  }
  Step step = f.session.feed("AUTH PLAIN " + f.plain("alice@aaaaaaaa.freemail", "secret") + "\r\n");
  REQUIRE(step.login);
  CHECK(f.resolve(*step.login).output.starts_with("235 "));
}

TEST_CASE("unknown commands, other verbs, and the bad-command limit") {
  Options o = Fixture::make_options();
  o.max_bad_commands = 3;
  Fixture f(o);
  CHECK(f.say("VRFY bob\r\n").starts_with("252 2.5.2"));
  CHECK(f.say("EXPN list\r\n").starts_with("502 "));
  CHECK(f.say("STARTTLS\r\n").starts_with("502 5.5.1"));
  CHECK(f.say("HELP\r\n").starts_with("214-"));
  CHECK(f.say("NOOP\r\n") == "250 2.0.0 Ok\r\n");
  CHECK(f.say("FROB\r\n") == "500 5.5.2 Command not recognized: FROB\r\n");
  CHECK(f.say(std::string("\x01\x02\xff\r\n")) == "500 5.5.2 Command not recognized: ???\r\n");
  CHECK_FALSE(f.last_close);
  const auto out = f.say("\r\n");
  CHECK(out == "500 5.5.2 Empty command\r\n421 4.7.0 Too many errors, closing the connection\r\n");
  CHECK(f.last_close);
}

TEST_CASE("a refused submission says why, and nothing goes to Sent") {
  Fixture f;
  f.submission.refuse = true;
  f.authenticated();
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nDATA\r\nSubject: x\r\n\r\ny\r\n.\r\n")
            .ends_with("554 5.3.0 Not queued: the outbox is closed\r\n"));
  CHECK(f.sent.appended.empty());
}

TEST_CASE("a failing Sent copy is logged and the message stays queued") {
  Fixture f;
  f.sent.fail = true;
  f.authenticated();
  CHECK(f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nDATA\r\nSubject: x\r\n\r\ny\r\n.\r\n")
            .ends_with("250 2.0.0 Queued as 1 in the fcpmail outbox; see `fcpmail outbox show 1`\r\n"));
  CHECK(f.submission.submitted.size() == 1);
  CHECK(f.log.back() == "smtp: could not store a copy in Sent for alice@aaaaaaaa.freemail: the disk is full");
}

TEST_CASE("the session works without a Sent folder") {
  Options o = Fixture::make_options();
  FakeSubmission submission;
  FakeLogin login;
  Session session(o, submission, SentCopy{});
  std::string raw = std::string(1, '\0') + "alice@aaaaaaaa.freemail" + '\0' + "secret";
  Step step = session.feed("EHLO c\r\nAUTH PLAIN " + fcpmail::crypto::base64_encode(raw) +
                           "\r\nMAIL FROM:<alice@aaaaaaaa.freemail>\r\nRCPT TO:<bob>\r\nDATA\r\nS: x\r\n\r\n.\r\n");
  REQUIRE(step.login);
  CHECK(session.login_finished({login.check_login(step.login->user, step.login->password), false}).output.starts_with("235 "));
  std::string out;
  while (session.has_pending_input()) out += session.feed({}).output;
  CHECK(out.ends_with("250 2.0.0 Queued as 1 in the fcpmail outbox; see `fcpmail outbox show 1`\r\n"));
  CHECK(submission.submitted.size() == 1);
}

TEST_CASE("a refusal that quotes what the client typed is sent as printable ASCII, one line") {
  // The engine's sentence names the recipient as typed: 8-bit bytes (allowed in a RCPT address by
  // the parser) or a line break in it must not reach the client raw (RFC 5321 replies are ASCII,
  // and a CR LF would start a reply line of its own).
  Fixture f;
  f.submission.not_allowed["b\xe9" "b"] = "\"b\xe9" "b\" is revoked\r\n250 2.1.5 fake; allow them again";
  f.authenticated();
  REQUIRE(f.say("MAIL FROM:<alice@aaaaaaaa.freemail>\r\n").starts_with("250 "));
  const std::string out = f.say("RCPT TO:<b\xe9" "b>\r\n");
  CHECK(out.starts_with("550 "));
  CHECK(out.ends_with("\r\n"));
  CHECK(out.find("\r\n") == out.size() - 2);
  for (const char c : out.substr(0, out.size() - 2)) CHECK((c >= 32 && c < 127));
  CHECK(out.find("is revoked") != std::string::npos);
}
