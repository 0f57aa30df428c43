// Standard base64 (RFC 4648 §4, alphabet A-Z a-z 0-9 + /), the one codec every layer uses: SASL in
// IMAP and SMTP, the x-fcpmail-signature property, password hashes, export files inside JSON.
// (Freenet's own variant, with ~ and -, lives in fcp/freenet_base64.h.)
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace fcpmail::crypto {

// Padded with '=', no line breaks.
std::string base64_encode(std::string_view bytes);

enum class Base64Padding {
  required,  // length a multiple of 4, '=' only as the last one or two characters
  optional,  // the same, or the padding left off (SASL clients that omit it)
};

// The bytes, or nothing for anything but the alphabet and trailing padding, an impossible length,
// or non-canonical input (unused low bits of the last character not zero), so that one byte
// string has exactly one accepted text and a decoded value re-encodes to what was received.
std::optional<std::string> base64_decode(std::string_view text, Base64Padding padding = Base64Padding::required);

}  // namespace fcpmail::crypto
