#include "smtp/smtp_parser.h"

#include <doctest/doctest.h>

using namespace fcpmail::smtp;

TEST_CASE("parse_command: verbs are case-insensitive, arguments trimmed") {
  auto c = parse_command("ehlo  client.example  ");
  CHECK(c.verb == Verb::Ehlo);
  CHECK(c.argument == "client.example");
  CHECK(parse_command("MAIL FROM:<a@b>").verb == Verb::Mail);
  CHECK(parse_command("Rcpt TO:<a@b>").verb == Verb::Rcpt);
  CHECK(parse_command("DATA").verb == Verb::Data);
  CHECK(parse_command("DATA").argument.empty());
  CHECK(parse_command("StartTLS").verb == Verb::Starttls);
  CHECK(parse_command("QUIT").verb == Verb::Quit);
}

TEST_CASE("parse_command: unknown, empty and binary verbs are Unknown") {
  CHECK(parse_command("").verb == Verb::Unknown);
  CHECK(parse_command("FROB x").verb == Verb::Unknown);
  CHECK(parse_command("MAILFROM:<a@b>").verb == Verb::Unknown);
  CHECK(parse_command(std::string("MA\0L x", 6)).verb == Verb::Unknown);
  auto c = parse_command(std::string(200, 'X'));
  CHECK(c.verb == Verb::Unknown);
  CHECK(c.verb_text.size() == 16);
}

TEST_CASE("parse_path_argument: plain paths and parameters") {
  auto p = parse_path_argument("FROM:<alice@abc.freemail> SIZE=1234 BODY=8BITMIME", "FROM");
  REQUIRE(p);
  CHECK(p->address == "alice@abc.freemail");
  REQUIRE(p->parameters.size() == 2);
  CHECK(p->parameters[0] == Parameter{"SIZE", "1234"});
  CHECK(p->parameters[1] == Parameter{"BODY", "8BITMIME"});

  auto lower = parse_path_argument("to:<bob>", "TO");
  REQUIRE(lower);
  CHECK(lower->address == "bob");

  auto null_path = parse_path_argument("FROM:<>", "FROM");
  REQUIRE(null_path);
  CHECK(null_path->address.empty());

  auto keyword_only = parse_path_argument("FROM:<a@b> SMTPUTF8", "FROM");
  REQUIRE(keyword_only);
  CHECK(keyword_only->parameters[0] == Parameter{"SMTPUTF8", ""});

  auto auth = parse_path_argument("FROM:<a@b> AUTH=<>", "FROM");
  REQUIRE(auth);
  CHECK(auth->parameters[0].value == "<>");
}

TEST_CASE("parse_path_argument: lenient with sloppy clients") {
  auto spaced = parse_path_argument("FROM: <alice@abc.freemail>", "FROM");
  REQUIRE(spaced);
  CHECK(spaced->address == "alice@abc.freemail");
  auto bare = parse_path_argument("TO:bob@x.freemail", "TO");
  REQUIRE(bare);
  CHECK(bare->address == "bob@x.freemail");
  auto routed = parse_path_argument("TO:<@relay1,@relay2:bob@x.freemail>", "TO");
  REQUIRE(routed);
  CHECK(routed->address == "bob@x.freemail");
  auto quoted = parse_path_argument("TO:<\"odd > name\"@x.freemail>", "TO");
  REQUIRE(quoted);
  CHECK(quoted->address == "\"odd > name\"@x.freemail");
}

TEST_CASE("parse_path_argument: malformed arguments are refused with a sentence") {
  CHECK_FALSE(parse_path_argument("", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM", "FROM"));
  CHECK_FALSE(parse_path_argument("TO:<a@b>", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM <a@b>", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM:<a@b", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM:<a<b>", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM:<a@b>junk", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM:a@b>", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM:", "FROM"));
  CHECK_FALSE(parse_path_argument("TO:<@relay>", "TO"));
  CHECK_FALSE(parse_path_argument(std::string("TO:<a\x01@b>"), "TO"));
  CHECK_FALSE(parse_path_argument("FROM:<a@b> =x", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM:<a@b> SIZE=", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM:<a@b> SI_ZE=1", "FROM"));
  CHECK_FALSE(parse_path_argument("FROM:<a@b> SIZE=1=2", "FROM"));
  auto error = parse_path_argument("FROM:<a@b", "FROM");
  CHECK(error.error() == "The address has no closing '>'");
}

TEST_CASE("parse_sasl_plain") {
  auto c = parse_sasl_plain(std::string("\0alice@x.freemail\0secret", 24));
  REQUIRE(c);
  CHECK(c->authzid.empty());
  CHECK(c->authcid == "alice@x.freemail");
  CHECK(c->password == "secret");
  auto z = parse_sasl_plain(std::string("zid\0user\0pw", 11));
  REQUIRE(z);
  CHECK(z->authzid == "zid");
  CHECK_FALSE(parse_sasl_plain("no nuls"));
  CHECK_FALSE(parse_sasl_plain(std::string("one\0nul", 7)));
  CHECK_FALSE(parse_sasl_plain(std::string("\0\0pw", 4)));  // empty user
  CHECK_FALSE(parse_sasl_plain(std::string("a\0b\0c\0d", 7)));
}

TEST_CASE("split_auth_argument and parse_size_value") {
  auto [m, r] = split_auth_argument("plain  AGFiYwBk ");
  CHECK(m == "PLAIN");
  CHECK(r == "AGFiYwBk");
  auto [m2, r2] = split_auth_argument("LOGIN");
  CHECK(m2 == "LOGIN");
  CHECK_FALSE(r2);
  CHECK(parse_size_value("0") == 0u);
  CHECK(parse_size_value("123456") == 123456u);
  CHECK_FALSE(parse_size_value(""));
  CHECK_FALSE(parse_size_value("12a"));
  CHECK_FALSE(parse_size_value("-1"));
  CHECK_FALSE(parse_size_value("99999999999999999999999"));
}
