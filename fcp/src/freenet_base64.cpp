#include "fcp/freenet_base64.h"

#include <array>
#include <cstdint>

namespace fcp {
namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~-";

constexpr std::array<std::int8_t, 256> make_reverse() {
  std::array<std::int8_t, 256> table{};
  for (auto& entry : table) entry = -1;
  for (std::size_t i = 0; i < alphabet.size(); ++i)
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}
constexpr auto reverse = make_reverse();

}  // namespace

std::string freenet_base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16) |
                            (std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                            std::uint32_t(static_cast<unsigned char>(bytes[i + 2]));
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t(static_cast<unsigned char>(bytes[i])) << 16) |
                            (std::uint32_t(static_cast<unsigned char>(bytes[i + 1])) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

std::expected<std::string, std::string> freenet_base64_decode(std::string_view text) {
  std::size_t length = text.size();
  std::size_t padding = 0;
  while (length > 0 && text[length - 1] == '=') {
    --length;
    ++padding;
  }
  if (padding > 2)
    return std::unexpected("freenet base64: more than two '=' padding characters");
  if (length % 4 == 1)
    return std::unexpected("freenet base64: truncated input (" + std::to_string(length) +
                           " characters leave one over)");
  std::string out;
  out.reserve(length * 3 / 4);
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (std::size_t i = 0; i < length; ++i) {
    const char c = text[i];
    const auto value = reverse[static_cast<unsigned char>(c)];
    if (value < 0) {
      std::string shown = (c >= 0x21 && c < 0x7f) ? std::string("'") + c + "'"
                                                    : "byte " + std::to_string(static_cast<unsigned char>(c));
      return std::unexpected("freenet base64: invalid character " + shown + " at position " +
                             std::to_string(i));
    }
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((accumulator >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace fcp
