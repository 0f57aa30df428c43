// SHA-256 (Crypto++), returned as the 32 raw digest bytes.
#pragma once
#include <string>
#include <string_view>

namespace fcpmail::crypto {

inline constexpr std::size_t sha256_size = 32;

// The 32-byte SHA-256 digest of `data`, as raw bytes (not hex).
std::string sha256(std::string_view data);

// HMAC-SHA256 of `data` under `key` (RFC 2104), as the 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

// Lower-case hex of any byte string (for logs, fixtures and test vectors).
std::string to_hex(std::string_view bytes);

}  // namespace fcpmail::crypto
