// Java BigInteger radix-32 text (BigInteger.toString(32) / new BigInteger(s, 32)), the form in
// which Freemail writes RSA numbers: asymkey.modulus, asymkey.pubexponent, asymkey.privexponent.
// Positional base 32 with digits 0-9 a-v, most significant first. NOT RFC 4648 base32.
// Numbers are non-negative and travel as big-endian unsigned byte strings.
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace fcpmail::freemail {

// Lower-case digits, no leading zeros, "0" for zero (or for an empty / all-zero byte string).
// Example: "\x11" (17) -> "h".
std::string radix32_encode(std::string_view big_endian_unsigned);

// Accepts digits of either case and leading zeros, as Java does. Rejects empty text, a sign
// ('-' would be a negative number, which no Freemail key field can be; '+' is refused too) and
// any other character, naming its position. Returns the minimal big-endian bytes (empty for zero).
std::expected<std::string, std::string> radix32_decode(std::string_view text);

}  // namespace fcpmail::freemail
