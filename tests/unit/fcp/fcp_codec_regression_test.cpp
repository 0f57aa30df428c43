// Regressions found by fuzz/fcp_stream_fuzz.cpp (inputs under fixtures/fuzz-regressions/fcp_stream/).
#include "fcp/codec.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(FCPMAIL_FIXTURES) + "/fuzz-regressions/" + name, std::ios::binary);
  REQUIRE(in);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Names of the messages, and "error:<kind>" for errors, in order.
std::vector<std::string> outcome(const std::string& stream, const fcp::CodecLimits& limits,
                                 std::size_t chunk) {
  fcp::StreamParser parser(limits);
  std::vector<std::string> out;
  for (std::size_t pos = 0; pos < stream.size(); pos += chunk) {
    parser.feed(std::string_view(stream).substr(pos, chunk));
    for (auto next = parser.next(); !next.need_more(); next = parser.next()) {
      if (next.message) out.push_back(next.message->name);
      if (next.error) out.push_back("error:" + std::to_string(static_cast<int>(next.error->kind)));
    }
  }
  return out;
}

fcp::CodecLimits fuzz_limits() {  // the limits fuzz/fcp_stream_fuzz.cpp uses
  fcp::CodecLimits limits;
  limits.max_line = 256;
  limits.max_payload = 4096;
  limits.max_fields = 32;
  return limits;
}

}  // namespace

TEST_CASE("a line of exactly max_line bytes ended by CR LF is accepted however the stream is split") {
  fcp::CodecLimits limits;
  limits.max_line = 10;
  const std::string stream = "ABCDEFGHIJ\r\nKey=v\r\nEndMessage\r\n";
  const std::vector<std::string> expected{"ABCDEFGHIJ"};
  CHECK(outcome(stream, limits, stream.size()) == expected);
  // Byte by byte the parser once saw "ABCDEFGHIJ\r" (11 bytes, no LF yet) and called it too long.
  CHECK(outcome(stream, limits, 1) == expected);
  CHECK(outcome(stream, limits, 11) == expected);
}

TEST_CASE("a line one byte over max_line is refused however the stream is split") {
  fcp::CodecLimits limits;
  limits.max_line = 10;
  const std::string stream = "ABCDEFGHIJK\r\nKey=v\r\nEndMessage\r\nNext\nEndMessage\n";
  const auto whole = outcome(stream, limits, stream.size());
  REQUIRE_FALSE(whole.empty());
  CHECK(whole.front() == "error:" + std::to_string(static_cast<int>(fcp::CodecErrorKind::line_too_long)));
  CHECK(whole.back() == "Next");
  for (std::size_t chunk : {1u, 2u, 5u, 11u, 12u}) CHECK(outcome(stream, limits, chunk) == whole);
}

TEST_CASE("fuzz input: split-dependent outcome at the max_line boundary") {
  const std::string input = fixture("fcp_stream/line-of-max-line-plus-cr");
  REQUIRE(input.size() > 4);
  const std::string stream = input.substr(4);  // four chunk-size bytes of the fuzz target
  const auto whole = outcome(stream, fuzz_limits(), stream.size());
  for (std::size_t chunk = 1; chunk <= 64; ++chunk) {
    CAPTURE(chunk);
    CHECK(outcome(stream, fuzz_limits(), chunk) == whole);
  }
}
