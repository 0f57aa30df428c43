#include "crypto/rsa.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

#include <doctest/doctest.h>

using namespace fcpmail::crypto;

namespace {
// One small key for the whole file: generating even 1024 bits takes a moment.
const RsaPrivateKey& small_key() {
  static const RsaPrivateKey key = RsaPrivateKey::generate(1024, 17);
  return key;
}
}  // namespace

TEST_CASE("generate: exact modulus size and exponent") {
  const auto& k = small_key();
  CHECK(k.public_key().modulus_bits() == 1024);
  CHECK(k.public_key().block_size() == 128);
  CHECK(k.public_key().public_exponent() == std::string("\x11"));
}

TEST_CASE("raw RSA: private then public is the identity, and the reverse") {
  const auto& k = small_key();
  for (int i = 0; i < 20; ++i) {
    std::string m = random_bytes(127);  // < n because shorter than the modulus
    auto s = k.raw_private(m);
    REQUIRE(s);
    CHECK(s->size() == 128);
    auto back = k.public_key().raw_public(*s);
    REQUIRE(back);
    CHECK(back->size() == 128);
    CHECK(strip_leading_zeros(*back) == strip_leading_zeros(m));
    auto c = k.public_key().raw_public(m);
    REQUIRE(c);
    auto plain = k.raw_private(*c);
    REQUIRE(plain);
    CHECK(plain->substr(1) == m);
    CHECK((*plain)[0] == '\0');
  }
}

TEST_CASE("raw RSA: known small values and left padding") {
  const auto& k = small_key();
  auto c = k.public_key().raw_public(std::string("\x02", 1));
  REQUIRE(c);
  // 2^17 = 131072 = 0x020000, left-padded to 128 bytes.
  CHECK(*c == std::string(125, '\0') + std::string("\x02\x00\x00", 3));
  auto zero = k.raw_private(std::string());
  REQUIRE(zero);
  CHECK(*zero == std::string(128, '\0'));
}

TEST_CASE("raw RSA: input out of range is an error, not a crash") {
  const auto& k = small_key();
  const std::string n = k.public_key().modulus();
  auto r1 = k.public_key().raw_public(n);
  REQUIRE_FALSE(r1);
  CHECK(r1.error() == "RSA input is not smaller than the modulus");
  CHECK_FALSE(k.raw_private(std::string(128, '\xff')));
  auto r2 = k.raw_private(std::string(129, '\x01'));
  REQUIRE_FALSE(r2);
  CHECK(r2.error().find("longer than") != std::string::npos);
}

TEST_CASE("from_bytes: recovers the CRT form from (n, e, d) alone") {
  const auto& k = small_key();
  auto again = RsaPrivateKey::from_bytes(k.public_key().modulus(), k.public_key().public_exponent(),
                                         k.private_exponent());
  REQUIRE(again);
  CHECK(again->public_key() == k.public_key());
  std::string m = random_bytes(100);
  CHECK(*again->raw_private(m) == *k.raw_private(m));
}

TEST_CASE("from_bytes: inconsistent or malformed numbers are rejected") {
  const auto& k = small_key();
  const std::string n = k.public_key().modulus();
  const std::string e = k.public_key().public_exponent();
  std::string d = k.private_exponent();
  std::string bad_d = d;
  bad_d.back() ^= 0x02;  // still odd
  CHECK_FALSE(RsaPrivateKey::from_bytes(n, e, bad_d));
  CHECK_FALSE(RsaPrivateKey::from_bytes(n, std::string("\x03"), d));
  CHECK_FALSE(RsaPrivateKey::from_bytes(n, e, std::string("\x01")));
  CHECK_FALSE(RsaPrivateKey::from_bytes(n, e, n));
  std::string even_n = n;
  even_n.back() &= '\xfe';
  CHECK_FALSE(RsaPublicKey::from_bytes(even_n, e));
  CHECK_FALSE(RsaPublicKey::from_bytes(n, std::string("\x10")));
  CHECK_FALSE(RsaPublicKey::from_bytes(n, std::string("\x01")));
  CHECK_FALSE(RsaPublicKey::from_bytes(std::string("\x0f"), std::string("\x03")));
  CHECK_FALSE(RsaPublicKey::from_bytes(n, n));
}

TEST_CASE("RsaPublicKey::from_bytes: the public exponent is odd, at least 3 and below 2^32") {
  // A stranger's key: each exponent bit is a multiplication in every public operation with it.
  const auto& k = small_key();
  const std::string n = k.public_key().modulus();
  CHECK(RsaPublicKey::from_bytes(n, std::string("\x01\x00\x01", 3)));
  CHECK(RsaPublicKey::from_bytes(n, std::string("\xff\xff\xff\xff", 4)));               // 2^32 - 1
  CHECK(RsaPublicKey::from_bytes(n, std::string("\x00\x00\xff\xff\xff\xff", 6)));       // leading zeros
  auto big = RsaPublicKey::from_bytes(n, std::string("\x01\x00\x00\x00\x01", 5));      // 2^32 + 1
  REQUIRE_FALSE(big);
  CHECK(big.error() == "RSA public exponent must be odd, at least 3 and below 2^32");
  std::string below_n = n;
  below_n[0] = static_cast<char>(static_cast<unsigned char>(below_n[0]) >> 1);  // odd, < n, ~n's size
  CHECK_FALSE(RsaPublicKey::from_bytes(n, below_n));
  CHECK(RsaPublicKey::from_bytes(n, std::string("\x01", 1)).error() ==
        "RSA public exponent must be odd, at least 3 and below 2^32");
}

TEST_CASE("strip_leading_zeros") {
  CHECK(strip_leading_zeros(std::string("\0\0\x01\x00", 4)) == std::string("\x01\x00", 2));
  CHECK(strip_leading_zeros(std::string("\0\0", 2)).empty());
  CHECK(strip_leading_zeros("").empty());
}

TEST_CASE("PKCS#1 v1.5 SHA-256 signatures: deterministic, verifiable, strict") {
  const auto& k = small_key();
  const std::string sig = k.sign_pkcs1v15_sha256("hello");
  CHECK(sig.size() == 128);
  CHECK(k.sign_pkcs1v15_sha256("hello") == sig);
  CHECK(k.public_key().verify_pkcs1v15_sha256("hello", sig));
  CHECK_FALSE(k.public_key().verify_pkcs1v15_sha256("hellp", sig));
  CHECK_FALSE(k.public_key().verify_pkcs1v15_sha256("hello", sig.substr(1)));
  CHECK_FALSE(k.public_key().verify_pkcs1v15_sha256("hello", ""));
  std::string bad = sig;
  bad[60] ^= 1;
  CHECK_FALSE(k.public_key().verify_pkcs1v15_sha256("hello", bad));
  // The recovered block is EMSA-PKCS1-v1_5: 00 01 FF.. 00 DigestInfo(SHA-256) H.
  auto em = k.public_key().raw_public(sig);
  REQUIRE(em);
  CHECK(em->substr(0, 2) == std::string("\x00\x01", 2));
  CHECK(to_hex(em->substr(128 - 51, 19)) == "3031300d060960864801650304020105000420");
  CHECK(em->substr(128 - 32) == sha256("hello"));
  // A textbook-RSA signature of the bare hash (the RTS style) is not accepted as PKCS#1.
  CHECK_FALSE(k.public_key().verify_pkcs1v15_sha256("hello", *k.raw_private(sha256("hello"))));
}
