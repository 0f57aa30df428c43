// Freemail's RSA key form: props keys with Java radix-32 numbers (AccountManager.initAccFile),
//   asymkey.modulus=<n>\r\n
//   asymkey.pubexponent=<e>\r\n        ("h" = 17 for every Freemail key)
//   asymkey.privexponent=<d>\r\n
// A Freemail `accprops` file is such a file with more keys (nickname, rtskey, mailsite.*), which
// the reader ignores, so an accprops file works as a key file as is. Freemail stores no CRT
// parameters; crypto::RsaPrivateKey recovers p and q when the key is read.
#pragma once

#include "crypto/rsa.h"
#include "freemail/props.h"

#include <expected>
#include <string>
#include <string_view>

namespace fcpmail::freemail {

inline constexpr std::string_view key_modulus = "asymkey.modulus";
inline constexpr std::string_view key_public_exponent = "asymkey.pubexponent";
inline constexpr std::string_view key_private_exponent = "asymkey.privexponent";

// The three asymkey.* lines above, in that order, CRLF.
std::string write_rsa_key_file(const crypto::RsaPrivateKey& key);

// Reads a key file / accprops text. Errors name the missing or malformed key.
std::expected<crypto::RsaPrivateKey, std::string> read_rsa_key_file(std::string_view text);

// From props already read (asymkey.modulus, asymkey.pubexponent, asymkey.privexponent).
std::expected<crypto::RsaPrivateKey, std::string> rsa_private_key_from_props(const Props& props);

// The public half from props (a mailpage or a key file): asymkey.modulus and asymkey.pubexponent.
std::expected<crypto::RsaPublicKey, std::string> rsa_public_key_from_props(const Props& props);

}  // namespace fcpmail::freemail
