#include "crypto/sha256.h"

#include <cryptopp/sha.h>

namespace fcpmail::crypto {

std::string sha256(std::string_view data) {
  std::string digest(sha256_size, '\0');
  CryptoPP::SHA256 h;
  h.CalculateDigest(reinterpret_cast<CryptoPP::byte*>(digest.data()),
                    reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
  return digest;
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
