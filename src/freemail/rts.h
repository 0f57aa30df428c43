// The Freemail 0.2 RTS ("request to send"): how one Freemail user opens a channel to another.
// Byte-compatible with hyphanet/plugin-Freemail (sender: transport/Channel.java RTSSender;
// receiver: RTSFetcher.handle_rts). Pure: no clock (callers pass "now"), no network.
//
// Plaintext, UTF-8, CRLF, this order, ended by an empty line:
//   mailsite=<sender's USK@.../mailsite/-N/mailpage>
//   to=<recipient WoT identity id, Freenet base64>
//   channel=<channel SSK insert URI, with trailing '/'>
//   initiatorSlot=<52-char upper-case base32>
//   responderSlot=<52-char upper-case base32>
//   timeout=<epoch milliseconds, decimal>
//   <empty line>
// Signature: s = SHA-256(plaintext)^d mod n with the sender's key, raw RSA (no padding, no
// DigestInfo), left-padded to the sender's modulus length (512 bytes). Signed = plaintext || s.
// Encryption: P = 48 random bytes (IV = P[0..16), AES-256 key = P[16..48)); the RTS is
//   P^e mod n_recipient (512 bytes, raw RSA) || AES-256-CBC-PKCS#7(key, IV, signed).
// It is inserted at KSK@<recipient's rtsksk>-<yyyyMMdd UTC>-<n>, n = 1, 2, ... (rts_ksk).
//
// Java quirks (reference §4.10), and what we do about them:
//  Q1  The Java receiver strips leading zero bytes from the decrypted P; when P[0] == 0 it mis-splits
//      IV and key and drops the RTS. Our sender draws P until P[0] != 0; our receiver left-pads to 48.
//  Q2  The Java receiver compares the first 32 bytes of the minimal form of s^e mod n with the hash;
//      when hash[0] == 0 it drops the RTS. Our sender lowers `timeout` by 1 ms until hash[0] != 0
//      (encode_rts returns the fields as sent); our receiver checks s^e mod n == hash as integers.
//  Also: every line is at most 200 bytes before its LF (Java drops longer lines), `timeout` is
//  always sent, the channel is exactly SSK@<key>,<key>,<extra>/ (what Java's sender asserts).
#pragma once

#include "crypto/rsa.h"
#include "freemail/props.h"

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace fcpmail::freemail {

inline constexpr std::size_t rts_max_size = 2 * 1024 * 1024;    // RTSFetcher.RTS_MAX_SIZE
inline constexpr std::size_t rts_max_line = 200;                // readLine(200, ...) incl. CR
inline constexpr std::size_t rts_max_lines = default_props_max_lines;  // ours: an RTS has six
inline constexpr std::int64_t channel_timeout_ms = 604'800'000; // Channel.CHANNEL_TIMEOUT, 7 days
inline constexpr std::size_t rts_key_material_size = 48;        // IV (16) || AES-256 key (32)

struct RtsFields {
  std::string mailsite;        // sender's mailpage USK, e.g. USK@<rk>,<ck>,AQACAAE/mailsite/-1/mailpage
  std::string to;              // recipient's WoT identity id (Freenet base64, 43 chars)
  std::string channel;         // channel SSK insert URI incl. trailing '/'
  std::string initiator_slot;  // first slot of the initiator's chain (i-), used verbatim
  std::string responder_slot;  // first slot of the responder's chain (r-), used verbatim
  std::int64_t timeout_ms = 0; // channel is read-only after this (creation + 7 days)
  friend bool operator==(const RtsFields&, const RtsFields&) = default;
};

enum class RtsError {
  invalid_fields,   // sender side: fields a Java receiver would drop (reason says which)
  too_large,        // more than rts_max_size bytes
  too_short,        // shorter than one RSA block plus one AES block
  bad_key_block,    // the RSA block does not decrypt to IV || AES-256 key with our key
  bad_ciphertext,   // AES part not whole blocks, or bad PKCS#7 padding
  line_too_long,    // a plaintext line longer than 200 bytes before its LF
  too_many_lines,   // more than rts_max_lines lines before the empty line (junk; not read on)
  no_blank_line,    // the plaintext ends before the empty line that precedes the signature
  missing_field,    // mailsite, to, channel, initiatorSlot, responderSlot or timeout absent
  malformed_field,  // mailsite not a USK, channel not an SSK, timeout not a number, duplicate key
  bad_signature,    // signature absent, truncated, or not the sender's signature of the plaintext
  wrong_recipient,  // `to` is not our identity
  expired,          // `timeout` has passed
};

// Stable lower-case name of an error, e.g. "bad_signature" (for logs and the CLI's JSON).
std::string_view to_string(RtsError error);

struct RtsFailure {
  RtsError error;
  std::string reason;  // human-readable detail
};

// ---- sending ----------------------------------------------------------------------------------

// The exact plaintext bytes (no checks). 450 bytes for the reference vector.
std::string rts_plaintext(const RtsFields& fields);

// Checks that a Java receiver would take these fields: mailsite passes Freemail's checkUSK,
// channel is SSK@<42-44>,<42-44>,<7>/ , to and both slots non-empty, only printable ASCII without
// spaces, every line at most 200 bytes including its CR.
std::expected<void, RtsFailure> check_rts_fields(const RtsFields& fields);

// The 512-byte raw-RSA signature of `plaintext` (hash of the whole plaintext incl. the empty line).
std::string sign_rts(std::string_view plaintext, const crypto::RsaPrivateKey& sender);

// Deterministic core: plaintext || signature, encrypted under `key_material` (48 bytes: IV || key)
// for `recipient`. No quirk avoidance: this is what reproduces the reference vectors.
std::expected<std::string, RtsFailure> seal_rts(std::string_view plaintext,
                                                const crypto::RsaPrivateKey& sender,
                                                const crypto::RsaPublicKey& recipient,
                                                std::string_view key_material);

struct EncodedRts {
  std::string bytes;   // what to insert at the KSK
  RtsFields fields;    // as sent: timeout may be a few ms lower than asked (Q2); persist this one
};

// What the engine calls: checks the fields, avoids Q1 and Q2, fresh random IV and key each call.
std::expected<EncodedRts, RtsFailure> encode_rts(const RtsFields& fields,
                                                 const crypto::RsaPrivateKey& sender,
                                                 const crypto::RsaPublicKey& recipient);

// ---- receiving (the order of RTSFetcher.handle_rts) ---------------------------------------------

struct OpenedRts {
  RtsFields fields;
  Props props;                // every field as read, unknown keys included
  std::string signed_region;  // the plaintext up to and including the empty line
  std::string trailer;        // everything after it: the signature (and nothing else from us)
  // The sender's WoT identity id: the text between '@' and the first ',' of `mailsite`.
  std::string sender_identity() const;
};

// Steps 1-5: size, decrypt with our key, line structure, required fields. Afterwards fetch
// `fields.mailsite` to get the sender's key for verify_rts_signature.
std::expected<OpenedRts, RtsFailure> open_rts(std::string_view rts,
                                              const crypto::RsaPrivateKey& own_key);

// Step 7: the first k_sender bytes after the empty line, raised to e_sender mod n_sender, must
// equal SHA-256(signed_region) as an integer.
std::expected<void, RtsFailure> verify_rts_signature(const OpenedRts& rts,
                                                     const crypto::RsaPublicKey& sender_key);

// Step 8 and our timeout check: `to` equals our identity id exactly; now_ms <= timeout.
std::expected<void, RtsFailure> check_rts_recipient(const OpenedRts& rts,
                                                    std::string_view own_identity,
                                                    std::int64_t now_ms);

// All of the above in order, when the sender's key is already at hand.
std::expected<RtsFields, RtsFailure> accept_rts(std::string_view rts,
                                                const crypto::RsaPrivateKey& own_key,
                                                const crypto::RsaPublicKey& sender_key,
                                                std::string_view own_identity,
                                                std::int64_t now_ms);

// ---- where RTSs live --------------------------------------------------------------------------

// yyyyMMdd of the UTC day containing epoch_ms (DateStringFactory.getKeyString).
std::string rts_date(std::int64_t epoch_ms);

// KSK@<rtsksk>-<yyyyMMdd>-<slot>, slot counting from 1.
std::string rts_ksk(std::string_view rtsksk, std::int64_t epoch_ms, unsigned slot);

// Freemail's FreenetURI.checkUSK / checkSSK (the receiver's structure checks), exposed for tests
// and for the engine, which must not send values a Java receiver would refuse.
bool is_freemail_usk(std::string_view uri);
bool is_freemail_ssk(std::string_view uri);

}  // namespace fcpmail::freemail
