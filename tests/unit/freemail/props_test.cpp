#include "freemail/props.h"

#include <doctest/doctest.h>

#include <random>

using namespace fcpmail::freemail;

TEST_CASE("props: writer is exact (given order, CRLF, no escaping)") {
  Props p;
  p.add("rtsksk", "abc");
  p.add("asymkey.modulus", "x=y");  // only the first '=' splits, so '=' in a value is fine
  CHECK(write_props(p).value() == "rtsksk=abc\r\nasymkey.modulus=x=y\r\n");
  CHECK(write_props(Props{}).value() == "");
}

TEST_CASE("props: writer refuses what the format cannot carry") {
  Props empty_key;
  empty_key.add("", "v");
  CHECK(write_props(empty_key).error() == "props key is empty");
  Props eq_key;
  eq_key.add("a=b", "v");
  CHECK(write_props(eq_key).error() == "props key 'a=b' contains '='");
  Props newline_value;
  newline_value.add("k", "a\nb");
  CHECK(write_props(newline_value).error() == "value of props key 'k' contains a line break");
  Props cr_key;
  cr_key.add("k\r", "v");
  CHECK(write_props(cr_key).error() == "props key contains a line break");
}

TEST_CASE("props: reader accepts any order and LF, CRLF or CR endings") {
  const auto p = read_props("b=2\na=1\r\nc=3=4\rd=\n\nnoequals\n").value();
  REQUIRE(p.fields.size() == 4);
  CHECK(p.get("a") == "1");
  CHECK(p.get("b") == "2");
  CHECK(p.get("c") == "3=4");
  CHECK(p.get("d") == "");
  CHECK_FALSE(p.get("noequals"));
  CHECK_FALSE(p.get("A"));  // keys are case-sensitive
  CHECK(p.fields[0].key == "b");  // source order kept
}

TEST_CASE("props: reader rejects duplicate keys, long lines and empty keys") {
  CHECK(read_props("a=1\r\nb=2\r\na=3\r\n").error() == "props key 'a' appears twice (line 3)");
  CHECK(read_props("a=" + std::string(20, 'x') + "\n", 10).error() ==
        "props line 1 is 22 bytes long (limit 10)");
  CHECK(read_props("=v\n").error() == "props line 1 has an empty key");
}

TEST_CASE("props header: stops at the first empty line, body offset follows it") {
  const std::string text = "messagetype=message\r\nid=0\r\n\r\nFrom: x\r\n\r\nbody=1\r\n";
  const auto h = read_props_header(text).value();
  CHECK(h.props.fields.size() == 2);
  CHECK(text.substr(h.body_offset) == "From: x\r\n\r\nbody=1\r\n");
  const auto lf = read_props_header("messagetype=cts\n\nrest").value();
  CHECK(lf.body_offset == 17);
  CHECK(read_props_header("messagetype=cts\r\n").error() == "props header is not terminated by an empty line");
  CHECK(read_props_header("").error() == "props header is not terminated by an empty line");
}

TEST_CASE("props: random round trips") {
  std::mt19937 rng(7);
  for (int n = 0; n < 200; ++n) {
    Props p;
    const int count = rng() % 8;
    for (int i = 0; i < count; ++i) {
      std::string key = "k" + std::to_string(i);
      for (int j = rng() % 5; j > 0; --j) key.push_back(static_cast<char>('a' + rng() % 26));
      std::string value;
      for (int j = rng() % 40; j > 0; --j) {
        char c = static_cast<char>(0x20 + rng() % 0x5f);
        value.push_back(c);
      }
      p.add(key, value);
    }
    const auto text = write_props(p).value();
    CHECK(read_props(text).value() == p);
    const auto header = read_props_header(text + "\r\nBODY").value();
    CHECK(header.props == p);
    CHECK(header.body_offset == text.size() + 2);
  }
}
