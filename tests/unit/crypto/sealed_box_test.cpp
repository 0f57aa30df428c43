#include "crypto/sealed_box.h"

#include <doctest/doctest.h>

using namespace fcpmail::crypto;

namespace {
// Cheap parameters so the tests stay fast; the defaults are exercised once.
const ScryptParams fast{.n = 1u << 10, .r = 8, .p = 1};

Key256 key_of(std::uint8_t fill) {
  Key256 k{};
  k.fill(fill);
  return k;
}
}  // namespace

TEST_CASE("sha256: FIPS 180-2 vectors") {
  CHECK(to_hex(sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(to_hex(sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256("abc").size() == 32);
}

TEST_CASE("hmac_sha256: RFC 4231 vectors") {
  CHECK(to_hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("random_bytes: length and variety") {
  CHECK(random_bytes(0).empty());
  CHECK(random_bytes(33).size() == 33);
  CHECK(random_bytes(32) != random_bytes(32));
}

TEST_CASE("SealedBox: round trip, layout, nonce freshness") {
  SealedBox box(key_of(7));
  for (std::size_t len : {0u, 1u, 15u, 16u, 17u, 1000u}) {
    std::string plain = random_bytes(len);
    std::string sealed = box.seal(plain);
    CHECK(sealed.size() == plain.size() + SealedBox::overhead);
    auto opened = box.open(sealed);
    REQUIRE(opened);
    CHECK(*opened == plain);
  }
  CHECK(box.seal("same") != box.seal("same"));
}

TEST_CASE("SealedBox: every flipped byte, wrong key, wrong associated data, truncation fail") {
  SealedBox box(key_of(1));
  const std::string sealed = box.seal("secret account key", "account:1");
  REQUIRE(box.open(sealed, "account:1"));
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string t = sealed;
    t[i] ^= 0x01;
    auto r = box.open(t, "account:1");
    REQUIRE_FALSE(r);
    CHECK(r.error().find("authentication failed") != std::string::npos);
  }
  CHECK_FALSE(SealedBox(key_of(2)).open(sealed, "account:1"));
  CHECK_FALSE(box.open(sealed, "account:2"));
  CHECK_FALSE(box.open(sealed));
  auto short_r = box.open(sealed.substr(0, SealedBox::overhead - 1));
  REQUIRE_FALSE(short_r);
  CHECK(short_r.error() == "sealed value too short");
  CHECK_FALSE(box.open(sealed.substr(0, sealed.size() - 1), "account:1"));
}

TEST_CASE("derive_key: RFC 7914 scrypt vector and determinism") {
  // RFC 7914 section 12, second vector: P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64.
  // Our key is the first 32 bytes of that output.
  Key256 k = derive_key("password", "NaCl", ScryptParams{.n = 1024, .r = 8, .p = 16});
  std::string hex = to_hex(std::string_view(reinterpret_cast<const char*>(k.data()), k.size()));
  CHECK(hex == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162");
  CHECK(derive_key("pw", "salt", fast) == derive_key("pw", "salt", fast));
  CHECK(derive_key("pw", "salt", fast) != derive_key("pw", "salt2", fast));
  CHECK(derive_key("pw", "salt", fast) != derive_key("pw2", "salt", fast));
  CHECK_THROWS(derive_key("pw", "salt", ScryptParams{.n = 1000, .r = 8, .p = 1}));
}

TEST_CASE("hash_password / verify_password") {
  std::string h = hash_password("correct horse", fast);
  CHECK(h.rfind("scrypt$1024$8$1$", 0) == 0);
  CHECK(verify_password("correct horse", h));
  CHECK_FALSE(verify_password("correct horsf", h));
  CHECK_FALSE(verify_password("", h));
  CHECK(hash_password("correct horse", fast) != h);  // salted

  SUBCASE("default parameters") {
    std::string d = hash_password("pw");
    CHECK(d.rfind("scrypt$32768$8$1$", 0) == 0);
    CHECK(verify_password("pw", d));
  }
  SUBCASE("malformed stored values are rejected, never thrown") {
    for (std::string bad : {std::string(""), std::string("scrypt"), std::string("md5$x"),
                            std::string("scrypt$1024$8$1$$"), std::string("scrypt$1000$8$1$AAAA$AAAA"),
                            std::string("scrypt$1024$8$1$!!$AAAA"),
                            std::string("scrypt$4294967296$8$1$AAAAAAAAAAAAAAAAAAAAAA==$") + std::string(44, 'A'),
                            h + "$extra", h.substr(0, h.size() - 4)}) {
      CHECK_FALSE(verify_password("correct horse", bad));
    }
  }
}
