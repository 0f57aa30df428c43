// The account export file: one account's state, encrypted with a passphrase. A pure codec (bytes
// in, values out; no database, no node); account_transfer.cpp fills and reads the content.
//
// Layout (all integers big-endian), 68 header bytes then the sealed content:
//   0  16  magic "FCPMAIL-ACCOUNT\x1a"
//  16   1  format version (1)
//  17   1  scrypt log2(N)        18  1  scrypt r        19  1  scrypt p
//  20  16  scrypt salt (random)
//  36  16  passphrase check: the first 16 bytes of SHA-256("fcpmail account export check\n" || key)
//  52   8  length L of the sealed content that follows
//  60   8  header check: the first 8 bytes of SHA-256 of bytes 0..59
//  68   L  sealed content: nonce (12) || AES-256-GCM ciphertext || tag (16), associated data =
//          bytes 0..67, key = scrypt(passphrase, salt, N, r, p)
// The content is a CBOR document (nlohmann::json::to_cbor), byte strings stored as CBOR bytes.
//
// Why the two checks: the header check tells a damaged header from a wrong passphrase (a changed
// scrypt parameter would otherwise look like one); the passphrase check tells a wrong passphrase
// from damaged content (GCM alone fails the same way for both). Neither weakens the passphrase:
// GCM already lets anyone holding the file test guesses, and scrypt is what slows that down.
#pragma once
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "crypto/sealed_box.h"

namespace fcpmail::engine {

inline constexpr std::uint8_t account_archive_version = 1;
inline constexpr std::size_t account_archive_header_size = 68;

enum class ArchiveError {
  not_an_archive,       // wrong magic: some other file
  unsupported_version,  // a newer (or unknown) format version
  truncated,            // shorter than its header says
  damaged,              // header check, trailing bytes, content authentication or CBOR failed
  wrong_passphrase,     // the passphrase check does not match
};

struct ArchiveFailure {
  ArchiveError error;
  std::string detail;  // one sentence for the user, says that nothing was imported where it applies
};

// scrypt parameters written into new files: N = 2^16, r = 8, p = 1 (64 MiB, ~0.3 s): an export
// file travels between machines, so it gets a slower derivation than the interactive default.
crypto::ScryptParams default_archive_scrypt();

// Encrypts `content` (any JSON value; strings may hold any bytes) under `passphrase`.
std::string encode_account_archive(const nlohmann::json& content, std::string_view passphrase,
                                   const crypto::ScryptParams& params = default_archive_scrypt());

// The content, or why not. Never throws for any input bytes.
std::expected<nlohmann::json, ArchiveFailure> decode_account_archive(std::string_view file,
                                                                     std::string_view passphrase);

std::string_view to_string(ArchiveError e);

}  // namespace fcpmail::engine
