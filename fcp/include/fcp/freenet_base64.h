// Freenet's base64, as fred writes keys: alphabet A-Z a-z 0-9 '~' '-' ('~' for '+', '-' for '/'),
// no padding on output. Pure: bytes in, text out, and back.
#pragma once
#include <expected>
#include <string>
#include <string_view>

namespace fcp {

// Encode raw bytes; never pads.
std::string freenet_base64_encode(std::string_view bytes);

// Decode text written in Freenet's alphabet. Trailing '=' padding is accepted and ignored (fred
// does the same); any other character outside the alphabet, '=' before the end, or a length that
// leaves 1 character over (mod 4) is an error naming the offending position.
std::expected<std::string, std::string> freenet_base64_decode(std::string_view text);

}  // namespace fcp
