// Raw ("textbook") RSA as Freemail uses it: no padding, no DigestInfo, numbers as unsigned
// big-endian byte strings. Thin wrappers over Crypto++ (InvertibleRSAFunction).
//
// Freemail keys are RSA-4096 with public exponent 17 (BouncyCastle RSAKeyPairGenerator) and
// Freemail stores only (n, e, d). RsaPrivateKey::from_bytes recovers p and q from (n, e, d) once,
// so every private operation runs with the Chinese remainder theorem (about 3-4x faster than d
// alone) and with random blinding (Crypto++), which hides timing from an attacker who chooses
// ciphertexts.
//
// Results are always left-padded to the modulus byte length k (512 for RSA-4096), which is what
// BouncyCastle's RSAEngine gives in "encrypt" mode. BouncyCastle in "decrypt" mode strips leading
// zero bytes instead; callers that must mimic that use strip_leading_zeros().
//
// Keys are immutable values; copies share the underlying numbers.
#pragma once
#include <cstddef>
#include <expected>
#include <memory>
#include <string>
#include <string_view>

namespace fcpmail::crypto {

// Public exponents are below 2^32 (Freemail's are 17): a larger one is refused, since it would
// make every public operation with a stranger's key cost as much as a private one.
inline constexpr unsigned max_public_exponent_bits = 32;

class RsaPublicKey {
 public:
  // n and e as unsigned big-endian bytes (leading zeros allowed). Rejects n even or < 2^511,
  // e even, < 3, >= 2^32 or >= n.
  static std::expected<RsaPublicKey, std::string> from_bytes(std::string_view modulus,
                                                             std::string_view exponent);

  std::string modulus() const;          // minimal big-endian bytes
  std::string public_exponent() const;  // minimal big-endian bytes (17 -> "\x11")
  std::size_t modulus_bits() const;
  std::size_t block_size() const;  // k = modulus bytes, 512 for RSA-4096

  // input^e mod n, left-padded to block_size(). `input` is an unsigned big-endian integer of at
  // most block_size() bytes (leading zeros allowed) whose value must be < n.
  std::expected<std::string, std::string> raw_public(std::string_view input) const;

  // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2): true iff `signature` (block_size()
  // bytes) is this key's signature of `message`. Strict: the encoded block is rebuilt and compared.
  bool verify_pkcs1v15_sha256(std::string_view message, std::string_view signature) const;

  friend bool operator==(const RsaPublicKey& a, const RsaPublicKey& b);

  struct Impl;

 private:
  explicit RsaPublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
  friend class RsaPrivateKey;
};

class RsaPrivateKey {
 public:
  // A fresh key with a modulus of exactly `bits` bits. RSA-4096 takes seconds to a minute:
  // run it on a worker thread.
  static RsaPrivateKey generate(unsigned bits = 4096, unsigned long public_exponent = 17);

  // (n, e, d) as Freemail stores them; p and q are recovered (fails if d does not match n, e).
  static std::expected<RsaPrivateKey, std::string> from_bytes(std::string_view modulus,
                                                              std::string_view public_exponent,
                                                              std::string_view private_exponent);

  const RsaPublicKey& public_key() const { return public_; }
  std::string private_exponent() const;  // minimal big-endian bytes

  // input^d mod n (CRT, blinded), left-padded to block_size(). Same input rules as raw_public.
  std::expected<std::string, std::string> raw_private(std::string_view input) const;

  // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 section 8.2): block_size() bytes, deterministic.
  std::string sign_pkcs1v15_sha256(std::string_view message) const;

  struct Impl;

 private:
  RsaPrivateKey(std::shared_ptr<const Impl> impl, RsaPublicKey pub)
      : impl_(std::move(impl)), public_(std::move(pub)) {}
  std::shared_ptr<const Impl> impl_;
  RsaPublicKey public_;
};

// The bytes without their leading zero bytes (BouncyCastle's minimal integer form).
std::string_view strip_leading_zeros(std::string_view bytes);

}  // namespace fcpmail::crypto
