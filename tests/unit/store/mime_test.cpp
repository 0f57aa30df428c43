#include "store/mime.h"

#include <doctest/doctest.h>

using namespace fcpmail::mime;

namespace {

const std::string nested =
    "From: \"Erin E.\" <erin@example.org>\r\n"
    "To: alice@test.freemail, Bob <bob@example.org>\r\n"
    "Subject: =?utf-8?q?Nested?=\r\n"
    "Date: Wed, 9 Feb 1994 12:30:00 +0100\r\n"
    "Message-ID: <n1@example.org>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"in ner\"\r\n"
    "\r\n"
    "--in ner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "plain body\r\n"
    "--in ner\r\n"
    "Content-Type: text/html\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "<p>html</p>\r\n"
    "--in ner--\r\n"
    "--outer\r\n"
    "Content-Type: application/pdf; name=\"a.pdf\"\r\n"
    "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-ID: <pdf@x>\r\n"
    "\r\n"
    "JVBERi0=\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: frank@example.org\r\n"
    "Subject: Inner\r\n"
    "\r\n"
    "inner text\r\n"
    "--outer--\r\n"
    "epilogue\r\n";

}  // namespace

TEST_CASE("envelope of a message with display names, lists and encoded words left as they are") {
  auto root = parse(nested);
  CHECK(envelope(nested, root) ==
        "(\"Wed, 9 Feb 1994 12:30:00 +0100\" \"=?utf-8?q?Nested?=\" ((\"Erin E.\" NIL \"erin\" \"example.org\")) "
        "((\"Erin E.\" NIL \"erin\" \"example.org\")) ((\"Erin E.\" NIL \"erin\" \"example.org\")) "
        "((NIL NIL \"alice\" \"test.freemail\")(\"Bob\" NIL \"bob\" \"example.org\")) NIL NIL NIL \"<n1@example.org>\")");
}

TEST_CASE("bodystructure of nested multipart with an attachment and an encapsulated message") {
  auto root = parse(nested);
  REQUIRE(root.children.size() == 3);
  CHECK(bodystructure(nested, root, true) ==
        "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL)"
        "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"quoted-printable\" 11 1 NIL NIL NIL NIL) "
        "\"alternative\" (\"boundary\" \"in ner\") NIL NIL NIL)"
        "(\"application\" \"pdf\" (\"name\" \"a.pdf\") \"<pdf@x>\" NIL \"base64\" 8 NIL (\"attachment\" (\"filename\" \"a.pdf\")) NIL NIL)"
        "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 53 "
        "(NIL \"Inner\" ((NIL NIL \"frank\" \"example.org\")) ((NIL NIL \"frank\" \"example.org\")) "
        "((NIL NIL \"frank\" \"example.org\")) NIL NIL NIL NIL NIL) "
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL) "
        "\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)");
  CHECK(bodystructure(nested, root, false) ==
        "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 10 1)"
        "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"quoted-printable\" 11 1) \"alternative\")"
        "(\"application\" \"pdf\" (\"name\" \"a.pdf\") \"<pdf@x>\" NIL \"base64\" 8)"
        "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 53 "
        "(NIL \"Inner\" ((NIL NIL \"frank\" \"example.org\")) ((NIL NIL \"frank\" \"example.org\")) "
        "((NIL NIL \"frank\" \"example.org\")) NIL NIL NIL NIL NIL) "
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 1) 4) \"mixed\")");
}

TEST_CASE("a message without MIME headers is text/plain us-ascii 7bit") {
  std::string m = "Subject: hi\r\n\r\nline one\r\nline two\r\n";
  auto root = parse(m);
  CHECK(bodystructure(m, root, true) == "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL)");
  CHECK(envelope(m, root) == "(NIL \"hi\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST_CASE("BODY[section] names the right bytes") {
  auto root = parse(nested);
  auto sec = [&](std::vector<std::uint32_t> path, Section::Text t = Section::Text::none,
                 std::vector<std::string> fields = {}) {
    Section s;
    s.path = std::move(path);
    s.text = t;
    s.fields = std::move(fields);
    return section_bytes(nested, root, s);
  };
  CHECK(sec({}) == nested);
  CHECK(sec({1, 1}) == "plain body");
  CHECK(sec({1, 2}) == "<p>html</p>");
  CHECK(sec({1, 2}, Section::Text::mime) ==
        "Content-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
  CHECK(sec({2}) == "JVBERi0=");
  CHECK(sec({3}) == "From: frank@example.org\r\nSubject: Inner\r\n\r\ninner text");
  CHECK(sec({3}, Section::Text::header) == "From: frank@example.org\r\nSubject: Inner\r\n\r\n");
  CHECK(sec({3}, Section::Text::text) == "inner text");
  CHECK(sec({3, 1}) == "inner text");
  CHECK(sec({}, Section::Text::header_fields, {"subject", "TO"}) ==
        "To: alice@test.freemail, Bob <bob@example.org>\r\nSubject: =?utf-8?q?Nested?=\r\n\r\n");
  auto not_fields = sec({}, Section::Text::header_fields_not, {"From", "To", "Subject", "Date", "Message-ID", "MIME-Version"});
  CHECK(not_fields == "Content-Type: multipart/mixed; boundary=outer\r\n\r\n");
  CHECK(sec({}, Section::Text::text)->starts_with("preamble\r\n--outer"));
  CHECK_FALSE(sec({4}).has_value());
  CHECK_FALSE(sec({1, 3}).has_value());
  CHECK_FALSE(sec({2}, Section::Text::header).has_value());  // not a message/rfc822 part
}

TEST_CASE("a single-part message's part 1 is its body") {
  std::string m = "Subject: x\r\n\r\nbody\r\n";
  auto root = parse(m);
  Section s;
  s.path = {1};
  CHECK(section_bytes(m, root, s) == "body\r\n");
  s.path = {2};
  CHECK_FALSE(section_bytes(m, root, s).has_value());
}

TEST_CASE("addresses: groups, routes, comments, quoted local parts, missing domain") {
  auto a = parse_addresses("Team: a@x.org, \"B b\" <b@y.org>;, (comment) c@z.org (Carl), <@r1,@r2:d@w.org>, \"odd\\\"q\"@q.org, nodomain");
  REQUIRE(a.size() == 8);
  CHECK(a[0].mailbox == "Team");
  CHECK_FALSE(a[0].host.has_value());
  CHECK(a[1].mailbox == "a");
  CHECK(a[1].host == "x.org");
  CHECK(a[2].name == "B b");
  CHECK(a[3].mailbox == std::nullopt);  // group end
  CHECK(a[4].mailbox == "c");
  CHECK(a[4].host == "z.org");
  CHECK(a[5].adl == "@r1,@r2");
  CHECK(a[5].mailbox == "d");
  CHECK(a[6].mailbox == "odd\"q");
  CHECK(a[7].mailbox == "nodomain");
  CHECK_FALSE(a[7].host.has_value());
  CHECK(parse_addresses("").empty());
  CHECK(parse_addresses("undisclosed-recipients:;").size() == 2);
}

TEST_CASE("strings: quoted when possible, literal for CR/LF/8-bit") {
  CHECK(quote("a \"b\" \\c") == "\"a \\\"b\\\" \\\\c\"");
  CHECK(quote("caf\xc3\xa9") == "{5}\r\ncaf\xc3\xa9");
  CHECK(quote("a\r\nb") == "{4}\r\na\r\nb");
}

TEST_CASE("dates: RFC 5322 with zones, obsolete forms and junk") {
  auto d = parse_date("Mon, 7 Feb 1994 21:52:25 -0800");
  REQUIRE(d);
  CHECK(d->first == 760686745);
  CHECK(d->second == -480);
  CHECK(parse_date("7 Feb 94 21:52 GMT")->first == 760657920);
  CHECK_FALSE(parse_date("yesterday").has_value());
  CHECK_FALSE(parse_date("31 Feb 2020 10:00:00 +0000").has_value());
}

TEST_CASE("hostile structure: no boundary, missing close, deep nesting, bare LF") {
  std::string m = "Content-Type: multipart/mixed\r\n\r\nbody\r\n";
  CHECK(bodystructure(m, parse(m), false) == "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
  std::string open = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\npart without end\r\n";
  auto r = parse(open);
  REQUIRE(r.children.size() == 1);
  CHECK(section_bytes(open, r, Section{{1}, Section::Text::none, {}}) == "part without end\r\n");
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  auto dr = parse(deep);
  CHECK_FALSE(bodystructure(deep, dr, true).empty());
  std::string lf = "Subject: lf\n\nbody\n";
  auto lr = parse(lf);
  CHECK(lr.body.begin == 13);
  CHECK(envelope(lf, lr) == "(NIL \"lf\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST_CASE("decode_encoded_words: Q and B words in UTF-8 and Latin-1; others and broken ones stay") {
  using fcpmail::mime::decode_encoded_words;
  CHECK(decode_encoded_words("=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_Wien?=") == "Grüße aus Wien");
  CHECK(decode_encoded_words("=?UTF-8?B?R3LDvMOfZQ==?=") == "Grüße");
  CHECK(decode_encoded_words("=?iso-8859-1?q?caf=E9?= au lait") == "café au lait");
  // Whitespace between two encoded words goes; between a word and text it stays.
  CHECK(decode_encoded_words("=?utf-8?q?a?= =?utf-8?q?b?= c") == "ab c");
  CHECK(decode_encoded_words("x =?utf-8?q?y?=") == "x y");
  CHECK(decode_encoded_words("=?koi8-r?q?=F0?=") == "=?koi8-r?q?=F0?=");
  CHECK(decode_encoded_words("=?utf-8?q?bad=ZZ?=") == "=?utf-8?q?bad=ZZ?=");
  CHECK(decode_encoded_words("=?utf-8?x?what?=") == "=?utf-8?x?what?=");
  CHECK(decode_encoded_words("no words =? here") == "no words =? here");
  CHECK(decode_encoded_words("=?utf-8?q?unterminated") == "=?utf-8?q?unterminated");
}
