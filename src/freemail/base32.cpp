#include "freemail/base32.h"

#include <cstdint>

namespace fcpmail::freemail {
namespace {

constexpr std::string_view upper_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::string_view lower_alphabet = "abcdefghijklmnopqrstuvwxyz234567";

// Value of a base32 character of either case, or -1.
int digit_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

std::string describe_char(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x21 && byte < 0x7f) return std::string("'") + c + "'";
  static constexpr char hex[] = "0123456789abcdef";
  return std::string("byte 0x") + hex[byte >> 4] + hex[byte & 0xf];
}

}  // namespace

std::string base32_encode(std::string_view bytes, Base32Case letter_case) {
  const std::string_view alphabet = letter_case == Base32Case::upper ? upper_alphabet : lower_alphabet;
  std::string out;
  out.reserve(base32_encoded_length(bytes.size()));
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(alphabet[(buffer >> bits) & 0x1f]);
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (5 - bits)) & 0x1f]);
  return out;
}

std::expected<std::string, std::string> base32_decode(std::string_view text) {
  const std::size_t remainder = text.size() % 8;
  if (remainder == 1 || remainder == 3 || remainder == 6) {
    return std::unexpected("invalid base32 length " + std::to_string(text.size()) +
                           ": no byte string encodes to that many characters");
  }
  std::string out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int value = digit_value(text[i]);
    if (value < 0) {
      if (text[i] == '=') {
        return std::unexpected("base32 padding '=' at position " + std::to_string(i) +
                               " is not allowed (Freemail base32 is unpadded)");
      }
      return std::unexpected("invalid base32 character " + describe_char(text[i]) + " at position " +
                             std::to_string(i));
    }
    buffer = (buffer << 5) | static_cast<std::uint32_t>(value);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
      buffer &= (1u << bits) - 1;
    }
  }
  if (buffer != 0) {
    return std::unexpected("base32 text has non-zero unused bits in its last character (position " +
                           std::to_string(text.size() - 1) + ")");
  }
  return out;
}

}  // namespace fcpmail::freemail
