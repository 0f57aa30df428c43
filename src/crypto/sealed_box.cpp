#include "crypto/sealed_box.h"
#include "crypto/base64.h"

#include <cryptopp/aes.h>
#include <cryptopp/filters.h>
#include <cryptopp/gcm.h>
#include <cryptopp/misc.h>
#include <cryptopp/scrypt.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace fcpmail::crypto {

namespace {

const CryptoPP::byte* bytes(std::string_view s) {
  return reinterpret_cast<const CryptoPP::byte*>(s.data());
}
CryptoPP::byte* bytes(std::string& s) { return reinterpret_cast<CryptoPP::byte*>(s.data()); }

constexpr std::size_t password_salt_size = 16;
constexpr std::size_t password_hash_size = 32;
// Upper bounds accepted for scrypt parameters (also those read back from a stored hash), so a
// corrupted or hostile value cannot make verify_password allocate gigabytes or spin for minutes.
constexpr std::uint64_t max_n = 1u << 22;
constexpr std::uint32_t max_r = 32;
constexpr std::uint32_t max_p = 16;
constexpr std::uint64_t max_memory = 1ull << 30;  // scrypt needs 128 * N * r bytes

bool valid_params(const ScryptParams& p) {
  if (p.n < 2 || (p.n & (p.n - 1)) != 0 || p.n > max_n) return false;
  if (p.r < 1 || p.r > max_r || p.p < 1 || p.p > max_p) return false;
  return 128ull * p.n * p.r <= max_memory;
}

void scrypt(std::string_view password, std::string_view salt, const ScryptParams& params,
            CryptoPP::byte* out, std::size_t out_len) {
  CryptoPP::Scrypt kdf;
  kdf.DeriveKey(out, out_len, bytes(password), password.size(), bytes(salt), salt.size(),
                params.n, params.r, params.p);
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

SealedBox::SealedBox(const Key256& key) : key_(key) {}

SealedBox::~SealedBox() { CryptoPP::SecureWipeArray(key_.data(), key_.size()); }

std::string SealedBox::seal(std::string_view plaintext, std::string_view associated_data) const {
  std::string out = random_bytes(nonce_size);
  out.resize(nonce_size + plaintext.size() + tag_size);
  CryptoPP::byte* nonce = bytes(out);
  CryptoPP::byte* ciphertext = nonce + nonce_size;
  CryptoPP::byte* tag = ciphertext + plaintext.size();
  CryptoPP::GCM<CryptoPP::AES>::Encryption gcm;
  gcm.SetKeyWithIV(key_.data(), key_.size(), nonce, nonce_size);
  gcm.EncryptAndAuthenticate(ciphertext, tag, tag_size, nonce, nonce_size, bytes(associated_data),
                             associated_data.size(), bytes(plaintext), plaintext.size());
  return out;
}

std::expected<std::string, std::string> SealedBox::open(std::string_view sealed,
                                                        std::string_view associated_data) const {
  if (sealed.size() < overhead) return std::unexpected(std::string("sealed value too short"));
  const std::size_t n = sealed.size() - overhead;
  const CryptoPP::byte* nonce = bytes(sealed);
  const CryptoPP::byte* ciphertext = nonce + nonce_size;
  const CryptoPP::byte* tag = ciphertext + n;
  std::string plain(n, '\0');
  CryptoPP::GCM<CryptoPP::AES>::Decryption gcm;
  gcm.SetKeyWithIV(key_.data(), key_.size(), nonce, nonce_size);
  bool ok = gcm.DecryptAndVerify(bytes(plain), tag, tag_size, nonce, nonce_size,
                                 bytes(associated_data), associated_data.size(), ciphertext, n);
  if (!ok) {
    CryptoPP::SecureWipeBuffer(bytes(plain), plain.size());
    return std::unexpected(std::string("authentication failed (wrong key or tampered data)"));
  }
  return plain;
}

Key256 derive_key(std::string_view password, std::string_view salt) {
  return derive_key(password, salt, ScryptParams{});
}

Key256 derive_key(std::string_view password, std::string_view salt, const ScryptParams& params) {
  if (!valid_params(params)) throw std::invalid_argument("derive_key: invalid scrypt parameters");
  Key256 key{};
  scrypt(password, salt, params, key.data(), key.size());
  return key;
}

std::string hash_password(std::string_view password) {
  return hash_password(password, ScryptParams{});
}

std::string hash_password(std::string_view password, const ScryptParams& params) {
  if (!valid_params(params)) throw std::invalid_argument("hash_password: invalid scrypt parameters");
  const std::string salt = random_bytes(password_salt_size);
  std::string hash(password_hash_size, '\0');
  scrypt(password, salt, params, bytes(hash), hash.size());
  return "scrypt$" + std::to_string(params.n) + "$" + std::to_string(params.r) + "$" +
         std::to_string(params.p) + "$" + base64_encode(salt) + "$" + base64_encode(hash);
}

bool verify_password(std::string_view password, std::string_view stored) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t pos = stored.find('$', start);
    if (pos == std::string_view::npos) {
      parts.push_back(stored.substr(start));
      break;
    }
    parts.push_back(stored.substr(start, pos - start));
    start = pos + 1;
  }
  if (parts.size() != 6 || parts[0] != "scrypt") return false;
  ScryptParams params;
  if (!parse_number(parts[1], params.n) || !parse_number(parts[2], params.r) ||
      !parse_number(parts[3], params.p) || !valid_params(params)) {
    return false;
  }
  auto salt = base64_decode(parts[4]);
  auto expected = base64_decode(parts[5]);
  if (!salt || !expected || salt->empty() || expected->size() != password_hash_size) {
    return false;
  }
  std::string actual(expected->size(), '\0');
  scrypt(password, *salt, params, bytes(actual), actual.size());
  return CryptoPP::VerifyBufsEqual(bytes(actual), bytes(*expected), actual.size());
}

}  // namespace fcpmail::crypto
