#include "freemail/base32.h"

#include <doctest/doctest.h>

#include <random>

using namespace fcpmail::freemail;

namespace {
std::string bytes_range(int first, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) out.push_back(static_cast<char>(first + i));
  return out;
}
}  // namespace

TEST_CASE("base32: RFC 4648 vectors, unpadded, upper case") {
  CHECK(base32_encode("") == "");
  CHECK(base32_encode("f") == "MY");
  CHECK(base32_encode("fo") == "MZXQ");
  CHECK(base32_encode("foo") == "MZXW6");
  CHECK(base32_encode("foob") == "MZXW6YQ");
  CHECK(base32_encode("fooba") == "MZXW6YTB");
  CHECK(base32_encode("foobar") == "MZXW6YTBOI");
  CHECK(base32_encode("\xff") == "74");  // Freemail's Base32Test
  CHECK(base32_encode("foobar", Base32Case::lower) == "mzxw6ytboi");
}

TEST_CASE("base32: decoding RFC vectors in either case") {
  CHECK(base32_decode("MZXW6YTBOI").value() == "foobar");
  CHECK(base32_decode("mzxw6ytboi").value() == "foobar");
  CHECK(base32_decode("MzXw6YtBoI").value() == "foobar");
  CHECK(base32_decode("MY").value() == "f");
  CHECK(base32_decode("").value() == "");
  CHECK(base32_decode("K7XIDASOVRG3BZSQ").value().size() == 10);  // SASL GSSAPI vector
}

TEST_CASE("base32: the slot vectors of the reference (32 bytes -> 52 chars)") {
  CHECK(base32_encode(bytes_range(0x00, 32)) == "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPQ");
  CHECK(base32_encode(bytes_range(0x20, 32)) == "EAQSEIZEEUTCOKBJFIVSYLJOF4YDCMRTGQ2TMNZYHE5DWPB5HY7Q");
  CHECK(base32_encoded_length(32) == 52);
}

TEST_CASE("base32: random round trips in both cases") {
  std::mt19937 rng(1234);
  for (int n = 0; n < 500; ++n) {
    std::string bytes(rng() % 70, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    const auto upper = base32_encode(bytes);
    const auto lower = base32_encode(bytes, Base32Case::lower);
    REQUIRE(upper.size() == base32_encoded_length(bytes.size()));
    CHECK(base32_decode(upper).value() == bytes);
    CHECK(base32_decode(lower).value() == bytes);
  }
}

TEST_CASE("base32: malformed input is rejected with its reason") {
  SUBCASE("character outside the alphabet") {
    auto r = base32_decode("MZXW1YTB");
    REQUIRE_FALSE(r);
    CHECK(r.error() == "invalid base32 character '1' at position 4");
  }
  SUBCASE("control byte") {
    auto r = base32_decode(std::string("MZ\nW6YTB"));
    REQUIRE_FALSE(r);
    CHECK(r.error() == "invalid base32 character byte 0x0a at position 2");
  }
  SUBCASE("padding") {
    auto r = base32_decode("MY======");
    REQUIRE_FALSE(r);
    CHECK(r.error().find("padding") != std::string::npos);
  }
  SUBCASE("impossible length") {
    auto r = base32_decode("MZX");
    REQUIRE_FALSE(r);
    CHECK(r.error().find("invalid base32 length 3") == 0);
  }
  SUBCASE("non-zero trailing bits") {
    auto r = base32_decode("MZ");  // 'Z' carries low bits that 'f' does not have
    REQUIRE_FALSE(r);
    CHECK(r.error().find("non-zero unused bits") != std::string::npos);
  }
}
