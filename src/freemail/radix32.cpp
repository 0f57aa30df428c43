#include "freemail/radix32.h"

#include <cstdint>

namespace fcpmail::freemail {
namespace {

constexpr std::string_view digits = "0123456789abcdefghijklmnopqrstuv";

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'v') return c - 'a' + 10;
  if (c >= 'A' && c <= 'V') return c - 'A' + 10;
  return -1;
}

}  // namespace

// Radix 32 is a power of two, so the conversion is a regrouping of bits: 5 per digit, counted
// from the least significant end. No big-number arithmetic is needed.
std::string radix32_encode(std::string_view bytes) {
  std::string reversed;  // least significant digit first
  std::uint32_t buffer = 0;
  int bits = 0;
  for (auto it = bytes.rbegin(); it != bytes.rend(); ++it) {
    buffer |= static_cast<std::uint32_t>(static_cast<unsigned char>(*it)) << bits;
    bits += 8;
    while (bits >= 5) {
      reversed.push_back(digits[buffer & 0x1f]);
      buffer >>= 5;
      bits -= 5;
    }
  }
  if (bits > 0) reversed.push_back(digits[buffer & 0x1f]);
  while (reversed.size() > 1 && reversed.back() == '0') reversed.pop_back();
  if (reversed.empty()) return "0";
  return std::string(reversed.rbegin(), reversed.rend());
}

std::expected<std::string, std::string> radix32_decode(std::string_view text) {
  if (text.empty()) return std::unexpected(std::string("empty radix-32 number"));
  if (text.front() == '-') {
    return std::unexpected(std::string("negative radix-32 number (leading '-') is not allowed"));
  }
  if (text.front() == '+') {
    return std::unexpected(std::string("signed radix-32 number (leading '+') is not allowed"));
  }
  std::string reversed;  // least significant byte first
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = text.size(); i-- > 0;) {
    const int value = digit_value(text[i]);
    if (value < 0) {
      return std::unexpected("invalid radix-32 digit at position " + std::to_string(i) +
                             " (allowed: 0-9, a-v)");
    }
    buffer |= static_cast<std::uint32_t>(value) << bits;
    bits += 5;
    if (bits >= 8) {
      reversed.push_back(static_cast<char>(buffer & 0xff));
      buffer >>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) reversed.push_back(static_cast<char>(buffer & 0xff));
  while (!reversed.empty() && reversed.back() == '\0') reversed.pop_back();
  return std::string(reversed.rbegin(), reversed.rend());
}

}  // namespace fcpmail::freemail
