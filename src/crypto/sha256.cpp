#include "crypto/sha256.h"

#include <cryptopp/hmac.h>
#include <cryptopp/sha.h>

namespace fcpmail::crypto {

std::string sha256(std::string_view data) {
  std::string digest(sha256_size, '\0');
  CryptoPP::SHA256 h;
  h.CalculateDigest(reinterpret_cast<CryptoPP::byte*>(digest.data()),
                    reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
  return digest;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string mac(sha256_size, '\0');
  CryptoPP::HMAC<CryptoPP::SHA256> h(reinterpret_cast<const CryptoPP::byte*>(key.data()), key.size());
  h.CalculateDigest(reinterpret_cast<CryptoPP::byte*>(mac.data()), reinterpret_cast<const CryptoPP::byte*>(data.data()),
                    data.size());
  return mac;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

}  // namespace fcpmail::crypto
