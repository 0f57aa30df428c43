// Sealed local storage: what fcpmail keeps on disk (account secrets, private keys, stored mail)
// is sealed with a 256-bit key derived from the user's passphrase.
//
//   sealed = nonce (12 random bytes) || AES-256-GCM ciphertext || tag (16 bytes)
//
// The sealed form is 28 bytes longer than the plaintext. `associated_data`, if given, is
// authenticated but not stored: open() must be given the same bytes (use it to bind a sealed
// value to where it lives, e.g. "account:3:rsa-key", so blobs cannot be swapped between rows).
// A random 96-bit nonce per seal() is safe for far more than 2^32 seals under one key.
//
// Key derivation and password hashing use scrypt (Crypto++ Scrypt). The defaults,
// N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s on a desktop core), follow RFC 7914's interactive
// recommendation. Stored password hashes carry their own parameters, so they can be raised later
// without invalidating old hashes.
//
// This header also brings in random_bytes() (crypto/random.h) and sha256() (crypto/sha256.h).
#pragma once
#include "crypto/random.h"
#include "crypto/sha256.h"

#include <array>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace fcpmail::crypto {

using Key256 = std::array<std::uint8_t, 32>;

class SealedBox {
 public:
  static constexpr std::size_t nonce_size = 12;
  static constexpr std::size_t tag_size = 16;
  static constexpr std::size_t overhead = nonce_size + tag_size;

  explicit SealedBox(const Key256& key);
  ~SealedBox();
  SealedBox(const SealedBox&) = default;
  SealedBox& operator=(const SealedBox&) = default;

  // random nonce || AES-256-GCM ciphertext || tag.
  std::string seal(std::string_view plaintext, std::string_view associated_data = {}) const;
  // The plaintext, or an error text: "sealed value too short", "authentication failed (wrong key
  // or tampered data)".
  std::expected<std::string, std::string> open(std::string_view sealed,
                                               std::string_view associated_data = {}) const;

 private:
  Key256 key_;
};

struct ScryptParams {
  std::uint64_t n = 1u << 15;  // CPU/memory cost, a power of two > 1
  std::uint32_t r = 8;         // block size
  std::uint32_t p = 1;         // parallelism
};

// scrypt(password, salt) -> 32 bytes. Use a random salt of >= 16 bytes stored beside the data.
Key256 derive_key(std::string_view password, std::string_view salt);
Key256 derive_key(std::string_view password, std::string_view salt, const ScryptParams& params);

// Salted slow hash in a self-describing text form:
//   scrypt$<N>$<r>$<p>$<base64 salt (16 bytes)>$<base64 hash (32 bytes)>
// e.g. "scrypt$32768$8$1$q2...==$Vx...=". Contains no ':' or whitespace.
std::string hash_password(std::string_view password);
std::string hash_password(std::string_view password, const ScryptParams& params);

// Recomputes the hash with the parameters and salt in `stored` and compares in constant time.
// False for a wrong password and for any malformed `stored` text (never throws).
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace fcpmail::crypto
