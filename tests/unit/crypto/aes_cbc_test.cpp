#include "crypto/aes_cbc.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace fcpmail::crypto;

namespace {
std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}
}  // namespace

TEST_CASE("AES-256-CBC: NIST SP 800-38A F.2.5 first block, plus PKCS#7 padding block") {
  const std::string key = unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  const std::string iv = unhex("000102030405060708090a0b0c0d0e0f");
  const std::string plain = unhex("6bc1bee22e409f96e93d7e117393172a");
  const std::string c = aes_cbc_encrypt(key, iv, plain);
  REQUIRE(c.size() == 32);  // a full padding block follows a whole-block plaintext
  CHECK(to_hex(c.substr(0, 16)) == "f58c4c04d6e5f1ba779eabfb5f7bfbd6");
  auto back = aes_cbc_decrypt(key, iv, c);
  REQUIRE(back);
  CHECK(*back == plain);
}

TEST_CASE("AES-CBC: round trips for every length mod 16, 128/192/256-bit keys") {
  for (std::size_t key_size : {16u, 24u, 32u}) {
    const std::string key = random_bytes(key_size);
    const std::string iv = random_bytes(16);
    for (std::size_t n = 0; n < 40; ++n) {
      const std::string p = random_bytes(n);
      const std::string c = aes_cbc_encrypt(key, iv, p);
      CHECK(c.size() == (n / 16 + 1) * 16);
      auto d = aes_cbc_decrypt(key, iv, c);
      REQUIRE(d);
      CHECK(*d == p);
    }
  }
}

TEST_CASE("AES-CBC: errors") {
  const std::string key = random_bytes(32), iv = random_bytes(16);
  CHECK(aes_cbc_decrypt(random_bytes(20), iv, std::string(16, 'x')).error() ==
        "AES key must be 16, 24 or 32 bytes");
  CHECK(aes_cbc_decrypt(key, random_bytes(8), std::string(16, 'x')).error() == "AES IV must be 16 bytes");
  CHECK(aes_cbc_decrypt(key, iv, "").error() == "ciphertext is not a non-empty multiple of 16 bytes");
  CHECK(aes_cbc_decrypt(key, iv, std::string(17, 'x')).error() ==
        "ciphertext is not a non-empty multiple of 16 bytes");
  // Whole-block plaintext ending in 0x00 with its padding block removed: bad padding.
  std::string c = aes_cbc_encrypt(key, iv, std::string(15, 'a') + std::string(1, '\0'));
  CHECK(aes_cbc_decrypt(key, iv, c.substr(0, 16)).error() == "bad PKCS#7 padding");
  // Padding byte 0x11 (> 16).
  c = aes_cbc_encrypt(key, iv, std::string(15, 'a') + std::string(1, '\x11'));
  CHECK(aes_cbc_decrypt(key, iv, c.substr(0, 16)).error() == "bad PKCS#7 padding");
  // Inconsistent padding bytes: ... 03 02 03 would need three 03s.
  c = aes_cbc_encrypt(key, iv, std::string(13, 'a') + std::string("\x03\x02\x03", 3));
  CHECK(aes_cbc_decrypt(key, iv, c.substr(0, 16)).error() == "bad PKCS#7 padding");
  CHECK_THROWS_AS(aes_cbc_encrypt(random_bytes(5), iv, "x"), std::invalid_argument);
}
