#include "crypto/aes_cbc.h"

#include <cryptopp/aes.h>
#include <cryptopp/modes.h>

#include <stdexcept>

namespace fcpmail::crypto {

namespace {

const CryptoPP::byte* bytes(std::string_view s) {
  return reinterpret_cast<const CryptoPP::byte*>(s.data());
}

bool valid_key_size(std::size_t n) { return n == 16 || n == 24 || n == 32; }

}  // namespace

std::string aes_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view plaintext) {
  if (!valid_key_size(key.size())) throw std::invalid_argument("AES key must be 16, 24 or 32 bytes");
  if (iv.size() != aes_block_size) throw std::invalid_argument("AES IV must be 16 bytes");
  const std::size_t pad = aes_block_size - plaintext.size() % aes_block_size;
  std::string buffer(plaintext);
  buffer.append(pad, static_cast<char>(pad));
  CryptoPP::CBC_Mode<CryptoPP::AES>::Encryption cbc;
  cbc.SetKeyWithIV(bytes(key), key.size(), bytes(iv), iv.size());
  auto* data = reinterpret_cast<CryptoPP::byte*>(buffer.data());
  cbc.ProcessData(data, data, buffer.size());
  return buffer;
}

std::expected<std::string, std::string> aes_cbc_decrypt(std::string_view key, std::string_view iv,
                                                        std::string_view ciphertext) {
  if (!valid_key_size(key.size())) {
    return std::unexpected(std::string("AES key must be 16, 24 or 32 bytes"));
  }
  if (iv.size() != aes_block_size) return std::unexpected(std::string("AES IV must be 16 bytes"));
  if (ciphertext.empty() || ciphertext.size() % aes_block_size != 0) {
    return std::unexpected(std::string("ciphertext is not a non-empty multiple of 16 bytes"));
  }
  std::string buffer(ciphertext);
  CryptoPP::CBC_Mode<CryptoPP::AES>::Decryption cbc;
  cbc.SetKeyWithIV(bytes(key), key.size(), bytes(iv), iv.size());
  auto* data = reinterpret_cast<CryptoPP::byte*>(buffer.data());
  cbc.ProcessData(data, data, buffer.size());
  const auto pad = static_cast<unsigned char>(buffer.back());
  if (pad == 0 || pad > aes_block_size) return std::unexpected(std::string("bad PKCS#7 padding"));
  for (std::size_t i = buffer.size() - pad; i < buffer.size(); ++i) {
    if (static_cast<unsigned char>(buffer[i]) != pad) {
      return std::unexpected(std::string("bad PKCS#7 padding"));
    }
  }
  buffer.resize(buffer.size() - pad);
  return buffer;
}

}  // namespace fcpmail::crypto
