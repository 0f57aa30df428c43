#include "crypto/rsa.h"

#include <cryptopp/integer.h>
#include <cryptopp/osrng.h>
#include <cryptopp/rsa.h>
#include <cryptopp/sha.h>

#include <stdexcept>

namespace fcpmail::crypto {

namespace {

using CryptoPP::Integer;

CryptoPP::RandomNumberGenerator& thread_rng() {
  thread_local CryptoPP::AutoSeededRandomPool pool;
  return pool;
}

Integer to_integer(std::string_view be) {
  return Integer(reinterpret_cast<const CryptoPP::byte*>(be.data()), be.size(),
                 Integer::UNSIGNED, CryptoPP::BIG_ENDIAN_ORDER);
}

std::string to_bytes(const Integer& x, std::size_t width) {
  std::string out(width, '\0');
  x.Encode(reinterpret_cast<CryptoPP::byte*>(out.data()), width, Integer::UNSIGNED);
  return out;
}

std::string to_minimal_bytes(const Integer& x) { return to_bytes(x, x.MinEncodedSize()); }

}  // namespace

struct RsaPublicKey::Impl {
  CryptoPP::RSAFunction function;
  std::size_t block_size = 0;
};

struct RsaPrivateKey::Impl {
  CryptoPP::InvertibleRSAFunction function;
};

namespace {

std::expected<Integer, std::string> input_integer(std::string_view input, std::size_t block_size,
                                                  const Integer& n) {
  if (input.size() > block_size) {
    return std::unexpected("RSA input of " + std::to_string(input.size()) +
                           " bytes is longer than the " + std::to_string(block_size) +
                           "-byte modulus");
  }
  Integer x = to_integer(input);
  if (x >= n) return std::unexpected(std::string("RSA input is not smaller than the modulus"));
  return x;
}

std::shared_ptr<const RsaPublicKey::Impl> public_impl(const Integer& n, const Integer& e) {
  auto impl = std::make_shared<RsaPublicKey::Impl>();
  impl->function.Initialize(n, e);
  impl->block_size = n.MinEncodedSize();
  return impl;
}

}  // namespace

std::expected<RsaPublicKey, std::string> RsaPublicKey::from_bytes(std::string_view modulus,
                                                                  std::string_view exponent) {
  const Integer n = to_integer(modulus);
  const Integer e = to_integer(exponent);
  if (n.IsEven() || n.BitCount() < 512) {
    return std::unexpected(std::string("RSA modulus must be odd and at least 512 bits"));
  }
  // A public key usually comes from a stranger's mailpage, and every public operation costs
  // about one multiplication per exponent bit: an exponent as large as the modulus would make
  // checking one signature as slow as a private-key operation. Freemail's keys use 17.
  if (e.IsEven() || e < Integer(3) || e.BitCount() > max_public_exponent_bits || e >= n) {
    return std::unexpected(std::string("RSA public exponent must be odd, at least 3 and below 2^32"));
  }
  return RsaPublicKey(public_impl(n, e));
}

std::string RsaPublicKey::modulus() const { return to_minimal_bytes(impl_->function.GetModulus()); }

std::string RsaPublicKey::public_exponent() const {
  return to_minimal_bytes(impl_->function.GetPublicExponent());
}

std::size_t RsaPublicKey::modulus_bits() const { return impl_->function.GetModulus().BitCount(); }

std::size_t RsaPublicKey::block_size() const { return impl_->block_size; }

std::expected<std::string, std::string> RsaPublicKey::raw_public(std::string_view input) const {
  auto x = input_integer(input, impl_->block_size, impl_->function.GetModulus());
  if (!x) return std::unexpected(x.error());
  return to_bytes(impl_->function.ApplyFunction(*x), impl_->block_size);
}

bool RsaPublicKey::verify_pkcs1v15_sha256(std::string_view message,
                                          std::string_view signature) const {
  if (signature.size() != impl_->block_size) return false;
  CryptoPP::RSASS<CryptoPP::PKCS1v15, CryptoPP::SHA256>::Verifier verifier(impl_->function);
  return verifier.VerifyMessage(reinterpret_cast<const CryptoPP::byte*>(message.data()), message.size(),
                                reinterpret_cast<const CryptoPP::byte*>(signature.data()),
                                signature.size());
}

bool operator==(const RsaPublicKey& a, const RsaPublicKey& b) {
  return a.impl_->function.GetModulus() == b.impl_->function.GetModulus() &&
         a.impl_->function.GetPublicExponent() == b.impl_->function.GetPublicExponent();
}

RsaPrivateKey RsaPrivateKey::generate(unsigned bits, unsigned long public_exponent) {
  if (bits < 512 || public_exponent < 3 || public_exponent % 2 == 0) {
    throw std::invalid_argument("RsaPrivateKey::generate: need bits >= 512 and an odd exponent >= 3");
  }
  auto impl = std::make_shared<Impl>();
  // Crypto++ may return a modulus one bit short; draw again until it has exactly `bits` bits,
  // as BouncyCastle's generator guarantees.
  do {
    impl->function.Initialize(thread_rng(), bits, Integer(public_exponent));
  } while (impl->function.GetModulus().BitCount() != bits);
  auto pub = public_impl(impl->function.GetModulus(), impl->function.GetPublicExponent());
  return RsaPrivateKey(std::move(impl), RsaPublicKey(std::move(pub)));
}

std::expected<RsaPrivateKey, std::string> RsaPrivateKey::from_bytes(
    std::string_view modulus, std::string_view public_exponent, std::string_view private_exponent) {
  auto pub = RsaPublicKey::from_bytes(modulus, public_exponent);
  if (!pub) return std::unexpected(pub.error());
  const Integer n = to_integer(modulus);
  const Integer e = to_integer(public_exponent);
  const Integer d = to_integer(private_exponent);
  if (d < Integer(3) || d >= n) {
    return std::unexpected(std::string("RSA private exponent out of range"));
  }
  auto impl = std::make_shared<Impl>();
  try {
    // Factors n from e*d - 1 (Crypto++), giving p, q, dp, dq and q^-1 mod p for CRT.
    impl->function.Initialize(n, e, d);
  } catch (const CryptoPP::Exception&) {
    return std::unexpected(std::string("RSA private exponent does not match the modulus and public exponent"));
  }
  const Integer& p = impl->function.GetPrime1();
  const Integer& q = impl->function.GetPrime2();
  if (p * q != n || p <= Integer::One() || q <= Integer::One()) {
    return std::unexpected(std::string("RSA private exponent does not match the modulus and public exponent"));
  }
  // e*d must be 1 modulo p-1 and q-1, or CRT results would be wrong.
  const Integer ed = e * d;
  if (ed % (p - Integer::One()) != Integer::One() || ed % (q - Integer::One()) != Integer::One()) {
    return std::unexpected(std::string("RSA private exponent does not match the modulus and public exponent"));
  }
  return RsaPrivateKey(std::move(impl), std::move(*pub));
}

std::string RsaPrivateKey::private_exponent() const {
  return to_minimal_bytes(impl_->function.GetPrivateExponent());
}

std::expected<std::string, std::string> RsaPrivateKey::raw_private(std::string_view input) const {
  auto x = input_integer(input, public_.block_size(), impl_->function.GetModulus());
  if (!x) return std::unexpected(x.error());
  return to_bytes(impl_->function.CalculateInverse(thread_rng(), *x), public_.block_size());
}

std::string RsaPrivateKey::sign_pkcs1v15_sha256(std::string_view message) const {
  CryptoPP::RSASS<CryptoPP::PKCS1v15, CryptoPP::SHA256>::Signer signer(impl_->function);
  std::string out(signer.MaxSignatureLength(), '\0');
  const std::size_t n = signer.SignMessage(
      thread_rng(), reinterpret_cast<const CryptoPP::byte*>(message.data()), message.size(),
      reinterpret_cast<CryptoPP::byte*>(out.data()));
  out.resize(n);
  return out;
}

std::string_view strip_leading_zeros(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size() && bytes[i] == '\0') ++i;
  return bytes.substr(i);
}

}  // namespace fcpmail::crypto
