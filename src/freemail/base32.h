// RFC 4648 base32 (alphabet A-Z 2-7) as Freemail uses it: always unpadded; upper case for channel
// slots, lower case for address domains. Decoding is strict (unlike Freemail's Java decoder, which
// silently skips foreign characters): every malformed input is rejected with a reason.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace fcpmail::freemail {

enum class Base32Case { upper, lower };

// Encodes bytes as unpadded base32 ("" for no bytes). 32 bytes give 52 characters.
std::string base32_encode(std::string_view bytes, Base32Case letter_case = Base32Case::upper);

// Decodes unpadded base32, letters of either case. Rejects: characters outside the alphabet
// (including '=' padding), a length that no byte count produces (length mod 8 of 1, 3 or 6), and
// non-zero bits in the unused tail of the last character. The error names the position.
std::expected<std::string, std::string> base32_decode(std::string_view text);

// Number of base32 characters (unpadded) for `byte_count` bytes: ceil(8 * n / 5).
constexpr std::size_t base32_encoded_length(std::size_t byte_count) {
  return (byte_count * 8 + 4) / 5;
}

}  // namespace fcpmail::freemail
