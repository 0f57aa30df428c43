#include "fcp/freenet_base64.h"

#include <doctest/doctest.h>

#include <random>

TEST_CASE("freenet base64 encodes with Freenet's alphabet and no padding") {
  CHECK(fcp::freenet_base64_encode("") == "");
  CHECK(fcp::freenet_base64_encode("f") == "Zg");
  CHECK(fcp::freenet_base64_encode("fo") == "Zm8");
  CHECK(fcp::freenet_base64_encode("foo") == "Zm9v");
  CHECK(fcp::freenet_base64_encode("foob") == "Zm9vYg");
  // 0xfb 0xff: standard base64 is "+/8=", Freenet's is "~-8".
  CHECK(fcp::freenet_base64_encode("\xfb\xff") == "~-8");
  CHECK(fcp::freenet_base64_encode("\xff\xff\xff") == "----");
  CHECK(fcp::freenet_base64_encode("\xfb\xef\xbe") == "~~~~");
}

TEST_CASE("freenet base64 decodes what fred writes") {
  CHECK(fcp::freenet_base64_decode("Zm9vYg").value() == "foob");
  CHECK(fcp::freenet_base64_decode("~-8").value() == "\xfb\xff");
  CHECK(fcp::freenet_base64_decode("Zm9vYg==").value() == "foob");  // padding tolerated
  // The extra field of an SSK request key from the recordings: AQACAAE -> 01 00 02 00 01.
  CHECK(fcp::freenet_base64_decode("AQACAAE").value() == std::string("\x01\x00\x02\x00\x01", 5));
}

TEST_CASE("freenet base64 round-trips random bytes") {
  std::mt19937 rng(7);
  for (int n = 0; n < 200; ++n) {
    std::string bytes(static_cast<std::size_t>(rng() % 70), '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    const auto text = fcp::freenet_base64_encode(bytes);
    CHECK(text.find('=') == std::string::npos);
    CHECK(text.find('+') == std::string::npos);
    CHECK(text.find('/') == std::string::npos);
    CHECK(fcp::freenet_base64_decode(text).value() == bytes);
  }
}

TEST_CASE("freenet base64 decoder is strict") {
  auto err = fcp::freenet_base64_decode("Zm9+");
  REQUIRE_FALSE(err);
  CHECK(err.error().find("'+'") != std::string::npos);
  CHECK(err.error().find("position 3") != std::string::npos);
  CHECK_FALSE(fcp::freenet_base64_decode("Zm9/"));
  CHECK_FALSE(fcp::freenet_base64_decode("Zm9vY"));      // 5 chars: one over
  CHECK_FALSE(fcp::freenet_base64_decode("Zm=9v"));      // '=' inside
  CHECK_FALSE(fcp::freenet_base64_decode("Zm9v Yg"));    // space
  CHECK_FALSE(fcp::freenet_base64_decode("Zg==="));      // too much padding
  CHECK_FALSE(fcp::freenet_base64_decode(std::string("Zg\0A", 4)));
}
