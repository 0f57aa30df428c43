// AES in CBC mode with PKCS#7 padding (Crypto++), as Freemail encrypts an RTS
// (BouncyCastle PaddedBufferedBlockCipher(CBCBlockCipher(AESEngine), PKCS7Padding)).
// Unauthenticated: only use it where something else (the RTS signature) proves integrity.
#pragma once
#include <expected>
#include <string>
#include <string_view>

namespace fcpmail::crypto {

inline constexpr std::size_t aes_block_size = 16;

// Key of 16, 24 or 32 bytes, IV of 16 bytes (else std::invalid_argument: a programmer error).
// The output is 1..16 bytes longer than the input (always at least one byte of padding).
std::string aes_cbc_encrypt(std::string_view key, std::string_view iv, std::string_view plaintext);

// Errors: "AES key must be 16, 24 or 32 bytes", "AES IV must be 16 bytes",
// "ciphertext is not a non-empty multiple of 16 bytes", "bad PKCS#7 padding".
std::expected<std::string, std::string> aes_cbc_decrypt(std::string_view key, std::string_view iv,
                                                        std::string_view ciphertext);

}  // namespace fcpmail::crypto
