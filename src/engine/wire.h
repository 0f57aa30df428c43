// The Freemail wire pieces the engine needs, in the engine's terms: RTS sealing/opening, channel
// payloads and the per-message signature. Thin adapters over src/freemail and src/crypto, so the
// engine reads as protocol steps.
#pragma once
#include "crypto/rsa.h"
#include "freemail/channel_message.h"
#include "freemail/message_signature.h"
#include "freemail/rts.h"

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail::engine::wire {

using RtsFields = freemail::RtsFields;
using OpenedRts = freemail::OpenedRts;

// Signed by `sender`, encrypted to `recipient`: the bytes to insert at KSK@<rtsksk>-<day>-<n>.
// RSA work: call it on the worker pool.
std::expected<std::string, std::string> seal_rts(const RtsFields& fields,
                                                 const crypto::RsaPrivateKey& sender,
                                                 const crypto::RsaPublicKey& recipient);

// Decrypts and parses (does not check the signature: that needs the sender's mailpage).
std::expected<OpenedRts, std::string> open_rts(std::string_view blob, const crypto::RsaPrivateKey& own);
bool verify_rts(const OpenedRts& rts, const crypto::RsaPublicKey& sender);

// The sender identity id inside a mailsite URI (USK@<id>,<crypto>,<extra>/…).
std::expected<std::string, std::string> identity_of_mailsite(std::string_view mailsite_uri);

enum class PayloadType { message, cts, ack, unknown };
struct ChannelPayload {
  PayloadType type = PayloadType::unknown;
  std::vector<std::int64_t> ids;  // message: one id; ack: one or more
  freemail::ChannelPayload read;  // as read: header props (any x-fcpmail-signature) and the mail
  const std::string& body() const { return read.body; }  // message: the RFC 822 text
};
std::string cts_payload();
std::string ack_payload(std::int64_t id);
std::expected<ChannelPayload, std::string> parse_payload(std::string_view bytes);

// Per-message signatures are freemail/message_signature.h's x-fcpmail-signature, nothing else.
// Both ends name the same context: sender and recipient WoT identity ids and the channel as the
// RTS `channel` value (the channel's SSK insert URI, which both parties hold verbatim).
using SignatureContext = freemail::MessageSignatureContext;
using SignatureVerdict = freemail::SignatureVerdict;
using freemail::to_string;

// A message payload signed by the sender (RSA work: call it on the worker pool). An error only for
// a context that is not printable ASCII (a corrupt row), never for the mail.
std::expected<std::string, std::string> signed_message_payload(const SignatureContext& context, std::int64_t id,
                                                               std::string_view rfc822,
                                                               const crypto::RsaPrivateKey& sender_key);
// `sender_key` null (the peer's mailpage key is unknown or unusable): absent when unsigned, else invalid.
SignatureVerdict verify_message(const ChannelPayload& payload, const SignatureContext& context,
                                const crypto::RsaPublicKey* sender_key);

// Freemail's header policy on the way out (Date rewritten to UTC, unknown headers dropped, From
// kept only for our own address, Message-ID kept only for .freemail).
std::expected<std::string, std::string> filter_outgoing(std::string_view rfc822, std::string_view sender_address,
                                                        std::int64_t now_ms);

// Subject header value (unfolded), or "".
std::string subject_of(std::string_view rfc822);
// Header block (up to and including the blank line), or the whole text.
std::string headers_of(std::string_view rfc822);

}  // namespace fcpmail::engine::wire
