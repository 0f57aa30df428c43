#include "freemail/radix32.h"

#include <doctest/doctest.h>

#include <random>

using namespace fcpmail::freemail;

TEST_CASE("radix32: Java BigInteger.toString(32) values") {
  CHECK(radix32_encode("\x11") == "h");  // public exponent 17, as in every Freemail mailpage
  CHECK(radix32_encode("") == "0");
  CHECK(radix32_encode(std::string(3, '\0')) == "0");
  CHECK(radix32_encode("\x1f") == "v");
  CHECK(radix32_encode("\x20") == "10");
  CHECK(radix32_encode(std::string("\x00\x01\x00", 3)) == "80");  // 256 = 8*32
  CHECK(radix32_encode("\xff\xff") == "1vvv");                     // 65535
}

TEST_CASE("radix32: decoding, either case, leading zeros accepted") {
  CHECK(radix32_decode("h").value() == "\x11");
  CHECK(radix32_decode("H").value() == "\x11");
  CHECK(radix32_decode("000h").value() == "\x11");
  CHECK(radix32_decode("0").value() == "");
  CHECK(radix32_decode("1VVV").value() == "\xff\xff");
  CHECK(radix32_decode("80").value() == std::string("\x01\x00", 2));
}

TEST_CASE("radix32: random round trips of big-endian numbers") {
  std::mt19937 rng(99);
  for (int n = 0; n < 300; ++n) {
    std::string bytes(1 + rng() % 600, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    bytes[0] = static_cast<char>(1 + rng() % 255);  // minimal form: no leading zero byte
    const auto text = radix32_encode(bytes);
    CHECK(text.front() != '0');
    CHECK(radix32_decode(text).value() == bytes);
  }
}

TEST_CASE("radix32: malformed numbers") {
  CHECK(radix32_decode("").error() == "empty radix-32 number");
  CHECK(radix32_decode("-h").error().find("negative") != std::string::npos);
  CHECK(radix32_decode("+h").error().find("signed") != std::string::npos);
  CHECK(radix32_decode("12w4").error() == "invalid radix-32 digit at position 2 (allowed: 0-9, a-v)");
  CHECK(radix32_decode("1 2").error().find("position 1") != std::string::npos);
}

TEST_CASE("radix32: values cross-checked with an independent big-integer conversion") {
  std::string bytes;
  for (int i = 1; i <= 32; ++i) bytes.push_back(static_cast<char>(i));
  CHECK(radix32_encode(bytes) == "820c20a1g7104gk2oc1k70u40h289h858m2sc1i6gr3gehs7p0");
  CHECK(radix32_decode("820c20a1g7104gk2oc1k70u40h289h858m2sc1i6gr3gehs7p0").value() == bytes);
  // 2^4095 + 12345: a 4096-bit number is 820 digits.
  std::string big(512, '\0');
  big[0] = '\x80';
  big[510] = '\x30';
  big[511] = '\x39';
  const auto text = radix32_encode(big);
  CHECK(text.size() == 820);
  CHECK(text == "1" + std::string(816, '0') + "c1p");
}
