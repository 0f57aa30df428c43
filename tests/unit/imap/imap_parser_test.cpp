#include "imap/imap_parser.h"

#include <doctest/doctest.h>

#include <random>

using namespace fcpmail::imap;

namespace {

std::vector<CommandFramer::Event> feed_all(CommandFramer& f, std::string_view bytes) {
  f.feed(bytes);
  std::vector<CommandFramer::Event> out;
  while (true) {
    auto e = f.next();
    if (std::holds_alternative<CommandFramer::NeedMore>(e)) break;
    out.push_back(std::move(e));
  }
  return out;
}

Command parse_ok(std::string_view raw) {
  auto c = parse_command(raw);
  REQUIRE_MESSAGE(c.has_value(), std::string(raw));
  return *c;
}

std::string parse_err(std::string_view raw) {
  auto c = parse_command(raw);
  REQUIRE_MESSAGE(!c.has_value(), std::string(raw));
  return c.error().tag + ": " + c.error().text;
}

}  // namespace

TEST_CASE("framer: whole lines, split input, several commands in one read") {
  CommandFramer f;
  auto ev = feed_all(f, "a1 NOOP\r\na2 CAPA");
  REQUIRE(ev.size() == 1);
  CHECK(std::get<CommandFramer::Command>(ev[0]).raw == "a1 NOOP\r\n");
  ev = feed_all(f, "BILITY\r\n");
  REQUIRE(ev.size() == 1);
  CHECK(std::get<CommandFramer::Command>(ev[0]).raw == "a2 CAPABILITY\r\n");
  CHECK(f.buffered() == 0);
}

TEST_CASE("framer: a synchronising literal asks for a continuation, LITERAL+ does not") {
  CommandFramer f;
  auto ev = feed_all(f, "a LOGIN {5}\r\n");
  REQUIRE(ev.size() == 1);
  CHECK(std::holds_alternative<CommandFramer::Continue>(ev[0]));
  ev = feed_all(f, "al\r\nc");   // literal bytes may contain CRLF
  CHECK(ev.empty());
  ev = feed_all(f, " {3+}\r\npw\n\r\n");
  REQUIRE(ev.size() == 1);
  CHECK(std::get<CommandFramer::Command>(ev[0]).raw == "a LOGIN {5}\r\nal\r\nc {3+}\r\npw\n\r\n");
  auto c = parse_ok(std::get<CommandFramer::Command>(ev[0]).raw);
  REQUIRE(c.args.size() == 2);
  CHECK(c.args[0].text == "al\r\nc");
  CHECK(c.args[0].literal);
  CHECK(c.args[1].text == "pw\n");
}

TEST_CASE("framer: over-long line is rejected and the next command still works") {
  CommandFramer f(FramerLimits{100, 1000, 2000});
  auto ev = feed_all(f, "t1 NOOP " + std::string(200, 'x'));
  REQUIRE(ev.size() == 1);
  auto& r = std::get<CommandFramer::Reject>(ev[0]);
  CHECK(r.tag == "t1");
  CHECK_FALSE(r.close);
  ev = feed_all(f, std::string(500, 'y') + "\r\nt2 NOOP\r\n");
  REQUIRE(ev.size() == 1);
  CHECK(std::get<CommandFramer::Command>(ev[0]).raw == "t2 NOOP\r\n");
}

TEST_CASE("framer: too large literals: BAD without continuation, or close for LITERAL+") {
  CommandFramer f(FramerLimits{100, 1000, 2000});
  auto ev = feed_all(f, "t1 APPEND INBOX {5000}\r\nt2 NOOP\r\n");
  REQUIRE(ev.size() == 2);
  CHECK(std::get<CommandFramer::Reject>(ev[0]).text == "literal too large");
  CHECK_FALSE(std::get<CommandFramer::Reject>(ev[0]).close);
  CHECK(std::get<CommandFramer::Command>(ev[1]).raw == "t2 NOOP\r\n");
  CommandFramer g(FramerLimits{100, 1000, 2000});
  ev = feed_all(g, "t1 APPEND INBOX {5000+}\r\n");
  REQUIRE(ev.size() == 1);
  CHECK(std::get<CommandFramer::Reject>(ev[0]).close);
  // Several literals adding up past the command limit.
  CommandFramer h(FramerLimits{100, 1000, 1500});
  ev = feed_all(h, "t1 X {900+}\r\n" + std::string(900, 'a') + " {900+}\r\n");
  REQUIRE(ev.size() == 1);
  CHECK(std::holds_alternative<CommandFramer::Reject>(ev[0]));
}

TEST_CASE("parser: tags, names, atoms, quoted strings, NIL, nested lists") {
  auto c = parse_ok("A001 fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> (x (y)))\r\n");
  CHECK(c.tag == "A001");
  CHECK(c.name == "FETCH");
  REQUIRE(c.args.size() == 2);
  CHECK(c.args[0].text == "1:*");
  REQUIRE(c.args[1].is_list());
  REQUIRE(c.args[1].items.size() == 3);
  CHECK(c.args[1].items[1].text == "BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100>");
  CHECK(c.args[1].items[2].items[1].items[0].text == "y");
  auto q = parse_ok("b LOGIN \"us\\\"er\" \"p\\\\w\"\r\n");
  CHECK(q.args[0].text == "us\"er");
  CHECK(q.args[1].text == "p\\w");
  CHECK(parse_ok("c ID NIL\r\n").args[0].is_nil());
  CHECK(parse_ok("d LIST \"\" *\r\n").args[1].text == "*");
  CHECK(parse_ok("e STORE 1 +FLAGS (\\Seen)\r\n").args[2].items[0].text == "\\Seen");
  CHECK(parse_ok("f NOOP \r\n").args.empty());  // a trailing space is tolerated
}

TEST_CASE("parser: every malformed class gets an error with the tag when there is one") {
  CHECK(parse_err("\r\n").starts_with("*:"));
  CHECK(parse_err("NOOP\r\n").starts_with("*:"));            // no tag
  CHECK(parse_err("a+b NOOP\r\n").starts_with("*:"));        // '+' is not a tag character
  CHECK(parse_err("tag \r\n").starts_with("tag:"));          // no command
  CHECK(parse_err("tag N@OP\r\n").starts_with("tag:"));      // invalid command name
  CHECK(parse_err("t X (a b\r\n").find("unclosed") != std::string::npos);
  CHECK(parse_err("t X a)\r\n").starts_with("t:"));
  CHECK(parse_err("t X \"abc\r\n").find("unterminated") != std::string::npos);
  CHECK(parse_err("t X \"a\\bc\"\r\n").find("escape") != std::string::npos);
  CHECK(parse_err("t X {5}\r\nab\r\n").find("shorter") != std::string::npos);
  CHECK(parse_err("t X {x}\r\nab\r\n").find("literal") != std::string::npos);
  CHECK(parse_err("t X {2} ab\r\n").find("line") != std::string::npos);
  CHECK(parse_err(std::string("t X a\x01") + "b\r\n").find("atom") != std::string::npos);
  CHECK(parse_err("t X BODY[HEADER\r\n").find("'['") != std::string::npos);
  CHECK(parse_err("t X " + std::string(40, '(') + std::string(40, ')') + "\r\n").find("deeply") != std::string::npos);
  CHECK(parse_err("t X \"a\"\"b\"\r\n").starts_with("t:"));  // no space between arguments
}

TEST_CASE("parser survives random bytes (a small built-in fuzz)") {
  std::mt19937 rng(12345);
  const std::string alphabet = "a1 ()[]{}<>\"\\*%+:.,\r\nNILBODY";
  for (int i = 0; i < 20000; ++i) {
    std::string s = "t ";
    int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) s += (rng() % 10 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    auto c = parse_command(s);
    (void)c;
    CommandFramer f(FramerLimits{64, 64, 256});
    f.feed(s);
    for (int k = 0; k < 10; ++k)
      if (std::holds_alternative<CommandFramer::NeedMore>(f.next())) break;
    if (c) {
      for (auto& a : c->args)
        if (a.is_list() || a.is_atom()) (void)parse_fetch_items(a);
    }
  }
  CHECK(true);
}

TEST_CASE("sequence sets") {
  auto s = parse_sequence_set("1:3,7,9:*");
  REQUIRE(s);
  CHECK(s->contains(2, 20));
  CHECK(s->contains(20, 20));
  CHECK_FALSE(s->contains(8, 20));
  CHECK(parse_sequence_set("*:4")->contains(5, 6));  // reversed range
  for (auto bad : {"", "0", "1,,2", "1:", ":2", "a", "1:2:3", "4294967296", "01", "1,", "$"})
    CHECK_MESSAGE(!parse_sequence_set(bad), bad);
  CHECK(parse_sequence_set("4294967295"));
}

TEST_CASE("FETCH items: macros, sections, partials, errors") {
  Value all;
  all.text = "ALL";
  auto a = parse_fetch_items(all);
  REQUIRE(a);
  CHECK(a->size() == 4);
  auto c = parse_command("t FETCH 1 (UID BODY.PEEK[1.2.MIME] BODY[]<10.20> BODY[HEADER.FIELDS.NOT (X-A \"X-B\")] RFC822.SIZE)\r\n");
  REQUIRE(c);
  auto items = parse_fetch_items(c->args[1]);
  REQUIRE(items);
  REQUIRE(items->size() == 5);
  CHECK((*items)[1].peek);
  CHECK((*items)[1].section.path == std::vector<std::uint32_t>{1, 2});
  CHECK((*items)[1].section_text == "1.2.MIME");
  CHECK((*items)[2].partial == std::pair<std::uint32_t, std::uint32_t>{10, 20});
  CHECK((*items)[3].section_text == "HEADER.FIELDS.NOT (X-A X-B)");
  CHECK((*items)[3].section.fields == std::vector<std::string>{"X-A", "X-B"});
  for (auto bad : {"(BODY[0])", "(BODY[1.])", "(BODY[MIME])", "(BODY[HEADER.FIELDS ()])", "(BODY[]<1>)",
                   "(BODY[]<1.0>)", "(BINARY[1])", "(FOO)", "()", "(BODY[TEXTX])"}) {
    auto cmd = parse_command(std::string("t FETCH 1 ") + bad + "\r\n");
    REQUIRE(cmd);
    CHECK_MESSAGE(!parse_fetch_items(cmd->args[1]), bad);
  }
}

TEST_CASE("flags and dates") {
  auto c = parse_command("t STORE 1 FLAGS (\\Seen \\deleted $Junk \\Recent)\r\n");
  auto f = parse_flag_list(c->args[2]);
  REQUIRE(f);
  CHECK(f->system == (1 | 8));
  CHECK(f->keywords == std::vector<std::string>{"$Junk"});
  auto bad = parse_command("t STORE 1 FLAGS (\\Bogus)\r\n");
  CHECK_FALSE(parse_flag_list(bad->args[2]));
  CHECK(parse_search_date("1-Feb-1994") == 760060800);
  CHECK_FALSE(parse_search_date("1-Foo-1994"));
  CHECK_FALSE(parse_search_date("31-Feb-1994"));
  CHECK(parse_date_time("17-Jul-1996 02:44:25 -0700") == 837596665);
  CHECK(parse_date_time(" 7-Jul-1996 02:44:25 +0000") == 836707465);
  CHECK_FALSE(parse_date_time("17-Jul-1996 25:44:25 -0700"));
  CHECK(format_date_time(837596665) == "17-Jul-1996 09:44:25 +0000");
  CHECK(valid_mutf7("Entw&APw-rfe"));
  CHECK(valid_mutf7("a&-b"));
  CHECK_FALSE(valid_mutf7("Entw\xc3\xbc" "rfe"));
  CHECK_FALSE(valid_mutf7("a&b"));
}
