// fcpmail's per-message signature: non-repudiation on top of Freemail 0.2, invisible to Freemail.
//
// Freemail signs only the RTS; a channel message is protected by nothing but the channel SSK,
// which BOTH parties can write, so a recipient can neither prove to a third party who wrote a
// message nor tell its peer's messages from ones it forged itself. fcpmail adds one optional header
// property to `messagetype=message` payloads:
//
//   messagetype=message\r\n
//   id=<id>\r\n
//   x-fcpmail-signature=<base64 (RFC 4648, padded) of the 512-byte signature>\r\n
//   \r\n
//   <mail>
//
// Freemail readers ignore header keys they do not know (spec requirement; Java reads only
// messagetype and id), so Freemail peers still read the message; fcpmail peers verify it.
//
// What is signed — the "signature base", exact bytes (LF line ends, no trailing spaces):
//   fcpmail-message-signature-v1\n          domain separation: never valid as an RTS or anything else
//   from=<sender WoT identity id>\n         Freenet base64, 43 chars
//   to=<recipient WoT identity id>\n        binds the recipient: no forwarding "as if sent to you"
//   channel=<hex SHA-256 of the channel>\n  the RTS `channel` value (SSK insert URI with its '/'),
//                                           which both sides hold verbatim; hashed so a third party
//                                           can check a signature without learning the channel key
//   id=<decimal message id>\n               the id in the payload header (dedup key, ack key)
//   mail-length=<decimal byte count>\n
//   \n
//   <the mail bytes exactly as sent after the payload's empty line>
// A resend on a NEW channel (after the old one's timeout) is signed again for that channel.
//
// With which key: the sender's Freemail RSA key (the one in its mailpage, which also signs its
// RTSs), so a verifier needs nothing new: the key comes from the peer's mailpage.
//
// Which algorithm: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2), not the RTS's textbook RSA over
// a bare hash. Textbook RSA signatures are multiplicative and a 256-bit value in a 4096-bit group is
// exposed to smooth-number forgeries; PKCS#1 v1.5 fills the block with fixed padding and a
// DigestInfo, is deterministic (repeatable vectors) and is what every library and Java's
// "SHA256withRSA" implement. Verification rebuilds the encoded block and compares (no parsing),
// so the e = 17 of Freemail keys is safe against Bleichenbacher-style lax-parser forgeries.
//
// Why base64: 684 characters for 512 bytes (radix 32 would take ~820), and standard everywhere.
#pragma once

#include "crypto/rsa.h"
#include "freemail/channel_message.h"
#include "freemail/props.h"

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace fcpmail::freemail {

inline constexpr std::string_view message_signature_key = "x-fcpmail-signature";

struct MessageSignatureContext {
  std::string_view sender_identity;     // WoT identity id of the writer (Freenet base64)
  std::string_view recipient_identity;  // WoT identity id of the reader
  std::string_view channel;             // the RTS `channel` value, e.g. SSK@...,...,AQECAAE/
};

// The exact bytes that are signed (see above). Identity ids and channel must be printable ASCII
// without spaces (they are always base64 / SSK URIs); anything else is a programmer error and
// throws std::invalid_argument.
std::string message_signature_base(const MessageSignatureContext& context, std::uint64_t id,
                                   std::string_view mail);

// The base64 property value.
std::string sign_message(const MessageSignatureContext& context, std::uint64_t id,
                         std::string_view mail, const crypto::RsaPrivateKey& sender_key);

// The complete signed payload: messagetype=message, id, x-fcpmail-signature, empty line, mail.
std::expected<std::string, std::string> write_signed_message(const MessageSignatureContext& context,
                                                             std::uint64_t id, std::string_view mail,
                                                             const crypto::RsaPrivateKey& sender_key);

enum class SignatureVerdict {
  valid,    // signed by sender_key over exactly this mail, id, channel, sender and recipient
  invalid,  // a signature is there but does not verify (tampered, forged, wrong key, bad base64)
  absent,   // no x-fcpmail-signature (e.g. a Freemail peer): neither proven nor disproven
};

std::string_view to_string(SignatureVerdict verdict);  // "valid", "invalid", "absent"

// Checks a message payload read by read_channel_payload (uses its header, id and body).
// A payload that is not a message is `absent`.
SignatureVerdict verify_message_signature(const ChannelPayload& payload,
                                          const MessageSignatureContext& context,
                                          const crypto::RsaPublicKey& sender_key);

}  // namespace fcpmail::freemail
