#include "freemail/props.h"

#include <doctest/doctest.h>

#include <chrono>
#include <limits>
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

namespace {

// `kN=v` lines with distinct keys, CRLF, about `size` bytes: the shape that made duplicate
// detection quadratic (every key compared with every earlier one).
std::string distinct_lines(std::size_t size) {
  std::string out;
  for (std::size_t n = 0; out.size() < size; ++n) out += "k" + std::to_string(n) + "=v\r\n";
  return out;
}

std::string numbered_fields(int count) {
  std::string out;
  for (int n = 0; n < count; ++n) out += "k" + std::to_string(n) + "=v\r\n";
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("props: at most 64 lines are read; the 65th is refused with a sentence") {
  CHECK(read_props(numbered_fields(64)).value().fields.size() == 64);
  const std::string refusal = "props text has more than 64 lines (Freemail writes about ten); refused without reading further";
  CHECK(read_props(numbered_fields(65)).error() == refusal);
  // Every line counts, not only fields: lines without '=' and empty lines cost as much to scan.
  CHECK(read_props(numbered_fields(2) + std::string(63, '\n')).error() == refusal);
  CHECK(read_props(numbered_fields(2) + std::string(62, '\n')).has_value());
  std::string no_equals;
  for (int n = 0; n < 65; ++n) no_equals += "junk\r\n";
  CHECK(read_props(no_equals).error() == refusal);
  // A header of 64 fields still ends at its empty line (line 65); the body is not counted.
  const std::string body(100'000, '\n');
  const auto header = read_props_header(numbered_fields(64) + "\r\n" + body).value();
  CHECK(header.props.fields.size() == 64);
  CHECK(read_props_header(numbered_fields(65) + "\r\n" + body).error() == refusal);
  // The cap is a parameter: a caller may ask for fewer lines.
  CHECK(read_props(numbered_fields(7), default_props_max_line, 6).error() ==
        "props text has more than 6 lines (Freemail writes about ten); refused without reading further");
}

TEST_CASE("props: keys are at most 128 bytes; a long key is named shortened") {
  CHECK(read_props(std::string(128, 'k') + "=v\n").value().fields.front().key.size() == 128);
  CHECK(read_props(std::string(129, 'k') + "=v\n").error() ==
        "props key '" + std::string(40, 'k') + "...' on line 1 is 129 bytes long (limit 128)");
  // Values are bounded by the line limit only.
  CHECK(read_props("k=" + std::string(4000, 'v') + "\n").value().get("k")->size() == 4000);
}

TEST_CASE("props: refusing 1.2 MB of junk lines takes well under a second") {
  // Anyone can post such a blob to an account's RTS KSK; it was 17 s of CPU before the cap.
  const std::string junk = distinct_lines(1'200'000);
  const auto start = std::chrono::steady_clock::now();
  const auto whole = read_props(junk);
  const auto header = read_props_header(junk + "\r\n");
  const double took = seconds_since(start);
  CHECK(whole.error().starts_with("props text has more than 64 lines"));
  CHECK(header.error().starts_with("props text has more than 64 lines"));
  CHECK_MESSAGE(took < 1.0, "took " << took << " s");
}

TEST_CASE("props: duplicate detection is linear (120 000 distinct keys read without a cap)") {
  // With the cap lifted, the hash set is what keeps this fast: a scan per key took ~35 s here.
  const std::string junk = distinct_lines(1'200'000);
  const auto start = std::chrono::steady_clock::now();
  const auto props = read_props(junk, default_props_max_line, std::numeric_limits<std::size_t>::max());
  const double took = seconds_since(start);
  REQUIRE(props.has_value());
  CHECK(props->fields.size() > 100'000);
  CHECK(read_props(junk + "k77777=again\n", default_props_max_line, std::numeric_limits<std::size_t>::max()).error() ==
        "props key 'k77777' appears twice (line " + std::to_string(props->fields.size() + 1) + ")");
  CHECK_MESSAGE(took < 1.0, "took " << took << " s");
}
