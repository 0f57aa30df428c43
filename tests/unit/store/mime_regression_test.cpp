// Regressions found by fuzz/mime_fuzz.cpp (inputs under fixtures/fuzz-regressions/mime/).
#include "store/mime.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace mime = fcpmail::mime;

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(FCPMAIL_FIXTURES) + "/fuzz-regressions/" + name, std::ios::binary);
  REQUIRE(in);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

TEST_CASE("a stray ')' in an address list ends instead of looping forever") {
  // Before the fix each of these never returned (an empty token was pushed without advancing).
  auto addresses = mime::parse_addresses("a) b <c@d>");
  REQUIRE(addresses.size() == 1);
  CHECK(addresses[0].mailbox == "c");
  CHECK(addresses[0].host == "d");
  CHECK(addresses[0].name == "a b");

  CHECK(mime::parse_addresses(")").empty());
  auto plain = mime::parse_addresses("x@y)");
  REQUIRE(plain.size() == 1);
  CHECK(plain[0].mailbox == "x");
  CHECK(plain[0].host == "y");
}

TEST_CASE("a backslash ending a comment does not read past the value") {
  auto addresses = mime::parse_addresses("x@y (comment\\");
  REQUIRE(addresses.size() == 1);
  CHECK(addresses[0].mailbox == "x");
}

TEST_CASE("fuzz input: stray ')' in the Date header of a multipart message") {
  const std::string input = fixture("mime/stray-paren-in-date");
  REQUIRE(input.size() > 2);
  const std::string message = input.substr(2);  // two control bytes of fuzz/mime_fuzz.cpp
  const mime::Part root = mime::parse(message);
  CHECK(root.is_multipart());
  const std::string envelope = mime::envelope(message, root);
  CHECK(envelope.find("\"Bob B.\"") != std::string::npos);
  const std::string header = message.substr(root.header.begin, root.header.size());
  for (const auto& [name, value] : mime::header_fields(header)) {
    (void)name;
    (void)mime::parse_addresses(value);  // must return, for every header
  }
  CHECK_FALSE(mime::bodystructure(message, root, true).empty());
}
