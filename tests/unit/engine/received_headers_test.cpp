// received_message: what a message from a channel peer looks like in the mailbox. The peer's own
// X-Fcpmail-* fields go, ours come first, and From names the peer unless it already did.
#include "engine/received_headers.h"

#include "crypto/base64.h"
#include "freemail/address.h"
#include "store/mime.h"

#include <doctest/doctest.h>

#include <chrono>

using namespace fcpmail;
using namespace fcpmail::engine;
using namespace std::string_literals;

namespace {

std::string domain_of(char fill) { return freemail::identity_from_bytes(std::string(32, fill))->domain(); }

const std::string peer_domain = domain_of('\x11');
const std::string peer = "alice@" + peer_domain;
const std::string other = "x@" + domain_of('\x22');

std::string store(std::string_view message, freemail::SignatureVerdict verdict = freemail::SignatureVerdict::absent) {
  return received_message(message, ReceivedOrigin{verdict, peer, "(fcpmail from a Freemail channel); 2026-12-04T19:00:00Z"}).message;
}

std::size_t count(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string header_section(const std::string& m) {
  const auto root = mime::parse(m);
  return m.substr(root.header.begin, root.header.size());
}

std::string body_of(const std::string& m) {
  const auto root = mime::parse(m);
  return m.substr(root.body.begin);
}

// The names of the header fields as the mailbox's MIME parser (and so IMAP) sees them.
std::vector<std::string> field_names(const std::string& m) {
  std::vector<std::string> out;
  const auto header = header_section(m);
  for (auto& [name, value] : mime::header_fields(header)) out.emplace_back(name);
  return out;
}

std::size_t fields_named(const std::string& m, std::string_view name) {
  std::size_t n = 0;
  for (const auto& f : field_names(m)) {
    std::string a = f, b(name);
    for (auto& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    n += a == b;
  }
  return n;
}

// IMAP's ENVELOPE From: (name adl mailbox host) of the first address.
mime::Address envelope_from(const std::string& m) {
  auto from = mime::header_value(header_section(m), "From");
  REQUIRE(from.has_value());
  auto list = mime::parse_addresses(*from);
  REQUIRE(list.size() == 1);
  return list[0];
}

bool no_fcpmail_field_but_ours(const std::string& m, std::string_view verdict) {
  std::size_t x = 0;
  const auto header = header_section(m);
  for (auto& [name, value] : mime::header_fields(header)) {
    std::string n(name);
    for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!n.starts_with("x-fcpmail-")) continue;
    ++x;
    if (n == "x-fcpmail-signature" && mime::header_value(header_section(m), "X-Fcpmail-Signature") != std::string(verdict)) return false;
    if (n == "x-fcpmail-sender" && mime::header_value(header_section(m), "X-Fcpmail-Sender") != peer) return false;
  }
  return x == 2;
}

}  // namespace

TEST_CASE("received headers: the peer's X-Fcpmail-* fields go, exactly one signature and sender are ours") {
  const std::string forged = "X-Fcpmail-Signature: valid\r\n"
                             "x-FCPMAIL-signature: valid\r\n"
                             "X-Fcpmail-Sender: " + other + "\r\n"
                             "X-Fcpmail-Note: folded\r\n  over two\r\n\tcontinuation lines\r\n"
                             "From: " + peer + "\r\n"
                             "Subject: hello\r\n"
                             "\r\n"
                             "X-Fcpmail-Signature: valid is body text here\r\n";
  const auto r = received_message(forged, ReceivedOrigin{freemail::SignatureVerdict::absent, peer, "now"});
  CHECK(r.removed_fcpmail_fields == 4);
  CHECK_FALSE(r.from_rewritten);
  CHECK(no_fcpmail_field_but_ours(r.message, "absent"));
  CHECK(fields_named(r.message, "X-Fcpmail-Signature") == 1);
  CHECK(fields_named(r.message, "X-Fcpmail-Sender") == 1);
  CHECK(r.message.starts_with("X-Fcpmail-Signature: absent\r\nX-Fcpmail-Sender: " + peer + "\r\nReceived: now\r\n"));
  CHECK(r.message.find("over two") == std::string::npos);
  CHECK(r.message.find("continuation lines") == std::string::npos);
  // The body is never touched, even where it looks like a header.
  CHECK(body_of(r.message) == "X-Fcpmail-Signature: valid is body text here\r\n");
  CHECK(r.message.find("Subject: hello\r\n") != std::string::npos);
  CHECK(fields_named(r.message, "Received") == 1);

  // The verdict is the one given.
  CHECK(no_fcpmail_field_but_ours(store(forged, freemail::SignatureVerdict::valid), "valid"));
}

TEST_CASE("received headers: odd spellings of X-Fcpmail names are removed too") {
  const std::string m = "X-FCPMAIL-SENDER: " + other + "\n"
                        "x-fcpmail-signature : valid\n"         // a blank before the colon
                        "X-Fcpmail-\n Signature: valid\n"       // the name folded
                        "X-Fcpmail-Signature valid\n"           // no colon at all
                        "Subject: s\n\nbody\n";
  const auto out = store(m);
  CHECK(no_fcpmail_field_but_ours(out, "absent"));
  CHECK(count(out, "valid") == 0);
  CHECK(out.find("Subject: s\n") != std::string::npos);
  CHECK(out.ends_with("\nbody\n"));
}

TEST_CASE("received headers: a leading continuation line is not a way in") {
  const std::string out = store(" X-Fcpmail-Signature: valid\r\nFrom: " + peer + "\r\n\r\nb");
  CHECK(count(out, "valid") == 0);
  CHECK(no_fcpmail_field_but_ours(out, "absent"));
}

TEST_CASE("received headers: From naming the peer's identity is kept, whatever its local part and case") {
  for (const std::string& from : {peer, "Alice <" + peer + ">", "\"Alice Q.\" <anything@" + peer_domain + ">",
                                 "someone@" + [] { auto d = peer_domain; for (auto& c : d) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c))); return d; }(),
                                 peer + " (Alice)"}) {
    CAPTURE(from);
    const std::string m = "From: " + from + "\r\nSubject: s\r\n\r\nbody\r\n";
    const auto r = received_message(m, ReceivedOrigin{freemail::SignatureVerdict::valid, peer, "now"});
    CHECK_FALSE(r.from_rewritten);
    CHECK(fields_named(r.message, "From") == 1);
    CHECK(fields_named(r.message, "X-Original-From") == 0);
    CHECK(r.message.find("From: " + from + "\r\n") != std::string::npos);
  }
}

TEST_CASE("received headers: From naming someone else becomes the peer, the claim kept visibly") {
  const std::string m = "Subject: s\r\nFrom: Someone Else <" + other + ">\r\nTo: bob@" + peer_domain + "\r\n\r\nbody\r\n";
  const auto r = received_message(m, ReceivedOrigin{freemail::SignatureVerdict::absent, peer, "now"});
  CHECK(r.from_rewritten);
  CHECK(fields_named(r.message, "From") == 1);
  CHECK(r.message.find("From: \"Someone Else (via " + peer + ")\" <" + peer + ">\r\n") != std::string::npos);
  CHECK(r.message.find("X-Original-From: Someone Else <" + other + ">\r\n") != std::string::npos);
  const auto from = envelope_from(r.message);
  CHECK(from.name.value_or("(none)") == "Someone Else (via " + peer + ")");
  CHECK(from.mailbox == "alice");
  CHECK(from.host == peer_domain);
  // SEARCH FROM reads the From value: the forged address is not in it, the peer is.
  const auto value = *mime::header_value(header_section(r.message), "From");
  CHECK(value.find(other) == std::string::npos);
  CHECK(value.find(peer) != std::string::npos);
  // The full ENVELOPE agrees.
  const auto root = mime::parse(r.message);
  const auto envelope = mime::envelope(r.message, root);
  CHECK(envelope.find(other) == std::string::npos);
  CHECK(envelope.find("\"alice\" \"" + peer_domain + "\"") != std::string::npos);
}

TEST_CASE("received headers: every other From is rewritten") {
  struct Case { std::string what, from_lines, display; };
  const std::vector<Case> cases = {
      {"bare other address", "From: " + other + "\r\n", other},
      {"several addresses", "From: A <" + peer + ">, B <" + other + ">\r\n", "A, B"},
      {"non-Freemail", "From: Bank <support@bank.example>\r\n", "Bank"},
      {"peer's name, another domain", "From: alice@" + peer_domain.substr(0, 52) + ".example\r\n", "alice@" + peer_domain.substr(0, 52) + ".example"},
      {"a group", "From: friends: " + peer + ";\r\n", peer},
      {"unparsable", "From: <<<@@@\r\n", "<<<@@@"},
      {"two From fields, both the peer", "From: " + peer + "\r\nFrom: " + peer + "\r\n", peer},
      {"two From fields", "From: " + peer + "\r\nFrom: " + other + "\r\n", peer},
      {"folded", "From: Someone\r\n Else <" + other + ">\r\n", "Someone Else"},
      {"quotes and backslashes", "From: \"Eve \\\"the\\\" \\\\ one\" <" + other + ">\r\n", "Eve \"the\" \\ one"},
      {"lower-case name", "from: Someone <" + other + ">\r\n", "Someone"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const std::string m = c.from_lines + "Subject: s\r\n\r\nbody\r\n";
    const auto r = received_message(m, ReceivedOrigin{freemail::SignatureVerdict::absent, peer, "now"});
    CHECK(r.from_rewritten);
    CHECK(fields_named(r.message, "From") == 1);
    CHECK(fields_named(r.message, "X-Original-From") == count(c.from_lines, "\r\n") - count(c.from_lines, "\r\n "));
    const auto from = envelope_from(r.message);
    CHECK(from.mailbox == "alice");
    CHECK(from.host == peer_domain);
    CHECK(from.name.value_or("(none)") == c.display + " (via " + peer + ")");
    CHECK(body_of(r.message) == "body\r\n");
  }
}

TEST_CASE("received headers: a missing or empty From becomes the peer") {
  for (const std::string& m : {std::string("Subject: s\r\n\r\nbody\r\n"), std::string("From:\r\nSubject: s\r\n\r\nbody\r\n")}) {
    const auto r = received_message(m, ReceivedOrigin{freemail::SignatureVerdict::absent, peer, "now"});
    CHECK(r.from_rewritten);
    CHECK(r.message.find("From: <" + peer + ">\r\n") != std::string::npos);
    CHECK(fields_named(r.message, "From") == 1);
    const auto from = envelope_from(r.message);
    CHECK_FALSE(from.name.has_value());
    CHECK(from.mailbox == "alice");
  }
}

TEST_CASE("received headers: the claimed name is cleaned: encoded words, 8-bit, control bytes, length") {
  SUBCASE("RFC 2047 in UTF-8 comes out as UTF-8 words") {
    const auto out = store("From: =?utf-8?q?Caf=C3=A9?= <" + other + ">\r\n\r\nb");
    const auto from = envelope_from(out);
    REQUIRE(from.name.has_value());
    CHECK(mime::decode_encoded_words(*from.name) == "Café (via " + peer + ")");
    CHECK(mime::header_value(header_section(out), "From")->find("Caf=C3=A9") == std::string::npos);
    CHECK(out.find("X-Original-From: =?utf-8?q?Caf=C3=A9?=") != std::string::npos);
  }
  SUBCASE("Latin-1 bytes are replaced, never passed on as invalid UTF-8") {
    const auto out = store("From: Caf\xe9 <" + other + ">\r\n\r\nb");
    const auto from = envelope_from(out);
    REQUIRE(from.name.has_value());
    CHECK(mime::decode_encoded_words(*from.name) == "Caf\xEF\xBF\xBD (via " + peer + ")");
    const auto our_from = out.substr(out.find("\r\nFrom: ") + 2);
    CHECK(our_from.substr(0, our_from.find(" <" + peer + ">")).find('\xe9') == std::string::npos);
  }
  SUBCASE("NUL, CR and other controls do not reach the display name") {
    const auto out = store("From: \"a\0b\rc\x01"s + "d\" <" + other + ">\r\n\r\nb");
    const auto from = envelope_from(out);
    CHECK(from.name.value_or("(none)") == "a bc d (via " + peer + ")");  // CR and LF are unfolded away
  }
  SUBCASE("bidirectional overrides cannot turn the \"(via peer)\" around") {
    // U+202E RIGHT-TO-LEFT OVERRIDE, U+2067 RIGHT-TO-LEFT ISOLATE, U+200F RIGHT-TO-LEFT MARK,
    // U+2028 LINE SEPARATOR: each would make a mail client draw what follows the claimed name
    // (the peer's address) reversed or on another line.
    for (const std::string& mark : {"\xE2\x80\xAE"s, "\xE2\x81\xA7"s, "\xE2\x80\x8F"s, "\xE2\x80\xA8"s}) {
      CAPTURE(mark);
      for (const std::string& claim : {"Bob" + mark + "x", "=?utf-8?b?" + crypto::base64_encode("Bob" + mark + "x") + "?="}) {
        const auto out = store("From: " + claim + " <" + other + ">\r\n\r\nb");
        const auto from = envelope_from(out);
        REQUIRE(from.name.has_value());
        CHECK(mime::decode_encoded_words(*from.name) == "Bob x (via " + peer + ")");
      }
    }
  }
  SUBCASE("a long name is capped") {
    const auto out = store("From: " + std::string(5000, 'N') + " <" + other + ">\r\n\r\nb");
    const auto from = envelope_from(out);
    REQUIRE(from.name.has_value());
    CHECK(from.name->size() <= max_claimed_name + 3 + (" (via " + peer + ")").size());
    CHECK(from.name->starts_with(std::string(max_claimed_name, 'N') + "..."));
  }
}

TEST_CASE("received headers: Sender naming someone else moves aside, the peer's stays; Reply-To stays") {
  const auto moved = received_message("From: " + peer + "\r\nSender: " + other + "\r\nReply-To: " + other + "\r\n\r\nb",
                                      ReceivedOrigin{freemail::SignatureVerdict::absent, peer, "now"});
  CHECK(moved.sender_moved);
  CHECK_FALSE(moved.from_rewritten);
  CHECK(fields_named(moved.message, "Sender") == 0);
  CHECK(moved.message.find("X-Original-Sender: " + other + "\r\n") != std::string::npos);
  CHECK(moved.message.find("Reply-To: " + other + "\r\n") != std::string::npos);
  // IMAP's ENVELOPE sender then defaults to From: the peer.
  const auto envelope = mime::envelope(moved.message, mime::parse(moved.message));
  CHECK(count(envelope, "\"alice\" \"" + peer_domain + "\"") == 2);

  const auto kept = received_message("From: " + peer + "\r\nSender: list@" + peer_domain + "\r\n\r\nb",
                                     ReceivedOrigin{freemail::SignatureVerdict::absent, peer, "now"});
  CHECK_FALSE(kept.sender_moved);
  CHECK(kept.message.find("\r\nSender: list@" + peer_domain + "\r\n") != std::string::npos);
}

TEST_CASE("received headers: line ends, no blank line, NUL and 8-bit bytes") {
  SUBCASE("bare LF") {
    const auto out = store("X-Fcpmail-Signature: valid\nFrom: Eve <" + other + ">\nSubject: s\n\nX-Fcpmail-Sender: body\n");
    CHECK(no_fcpmail_field_but_ours(out, "absent"));
    CHECK(out.ends_with("\nSubject: s\n\nX-Fcpmail-Sender: body\n"));
    CHECK(envelope_from(out).mailbox == "alice");
  }
  SUBCASE("no blank line: all of it is header") {
    const auto out = store("From: Eve <" + other + ">\r\nX-Fcpmail-Signature: valid\r\nSubject: s");
    CHECK(no_fcpmail_field_but_ours(out, "absent"));
    CHECK(out.ends_with("\r\nSubject: s"));
    CHECK(envelope_from(out).mailbox == "alice");
    CHECK(out.find("X-Original-From: Eve <" + other + ">\r\n") != std::string::npos);
  }
  SUBCASE("the message ends inside a From field") {
    const auto out = store("Subject: s\r\nFrom: Eve <" + other + ">");
    CHECK(out.ends_with("\r\nX-Original-From: Eve <" + other + ">"));
    CHECK(envelope_from(out).mailbox == "alice");
  }
  SUBCASE("empty and blank-only messages") {
    CHECK(no_fcpmail_field_but_ours(store(""), "absent"));
    CHECK(store("").ends_with("From: <" + peer + ">\r\n"));
    const auto blank = store("\r\n\r\nX-Fcpmail-Signature: valid\r\n");
    CHECK(blank.ends_with(">\r\n\r\n\r\nX-Fcpmail-Signature: valid\r\n"));
    CHECK(no_fcpmail_field_but_ours(blank, "absent"));
  }
  SUBCASE("NUL and Latin-1 bytes in names, values and body are carried or dropped, never a crash") {
    const std::string m = "X-Fcpmail-Sig\0nature: valid\r\nSubject: caf\xe9\0\r\nX-\xff\xfe: \0\0\r\nFrom: "s + peer +
                          "\r\n\r\n\0body\xe9"s;
    const auto out = store(m);
    CHECK(out.find("Subject: caf\xe9\0\r\n"s) != std::string::npos);
    CHECK(out.ends_with("\r\n\r\n\0body\xe9"s));
    CHECK(out.find("nature: valid") == std::string::npos);
    CHECK(no_fcpmail_field_but_ours(out, "absent"));
  }
  SUBCASE("a lone CR at the very end") {
    const auto out = store("From: " + peer + "\r\n\r");
    CHECK(out.ends_with("From: " + peer + "\r\n\r"));
  }
}

TEST_CASE("received headers: every byte value at every position of a small message, without a crash") {
  const std::string base = "From: A <" + other + ">\r\nX-Fcpmail-Sender: x\r\n\r\nb";
  for (std::size_t i = 0; i < base.size(); ++i) {
    for (int b = 0; b < 256; b += 5) {
      std::string m = base;
      m[i] = static_cast<char>(b);
      const auto out = store(m);
      CHECK_MESSAGE(out.starts_with("X-Fcpmail-Signature: absent\r\nX-Fcpmail-Sender: " + peer + "\r\n"), i);
    }
  }
}

TEST_CASE("received headers: a 1 MB header section is handled in linear time") {
  using clock = std::chrono::steady_clock;
  std::string folded = "X-Fcpmail-Signature: valid\r\n";
  while (folded.size() < 1024 * 1024) folded += " more\r\n";
  std::string many;
  while (many.size() < 1024 * 1024) many += "X-Fcpmail-A: 1\r\nFrom: Eve <" + other + ">\r\nK: v\r\n";
  std::string long_from = "From: " + std::string(1024 * 1024, '<') + "\r\n";
  for (const auto& [what, header] : {std::pair{"one folded field", folded}, std::pair{"many fields", many},
                                     std::pair{"one huge From", long_from}}) {
    CAPTURE(what);
    const auto start = clock::now();
    const auto r = received_message(header + "\r\nbody\r\n", ReceivedOrigin{freemail::SignatureVerdict::absent, peer, "now"});
    const auto took = clock::now() - start;
    CHECK(no_fcpmail_field_but_ours(r.message, "absent"));
    CHECK(r.message.ends_with("\r\n\r\nbody\r\n"));
    CHECK(envelope_from(r.message).mailbox == "alice");
    // Linear work on 1 MB is milliseconds; a quadratic pass would be minutes.
    CHECK(took < std::chrono::seconds(2));
  }
}
