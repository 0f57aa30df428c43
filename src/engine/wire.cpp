#include "engine/wire.h"

#include "crypto/random.h"
#include "crypto/sha256.h"
#include "freemail/address.h"
#include "freemail/channel_message.h"
#include "freemail/header_filter.h"

#include <cstring>
#include <stdexcept>

namespace fcpmail::engine::wire {

std::expected<std::string, std::string> seal_rts(const RtsFields& fields, const crypto::RsaPrivateKey& sender,
                                                 const crypto::RsaPublicKey& recipient) {
  auto r = freemail::encode_rts(fields, sender, recipient);
  if (!r) return std::unexpected(r.error().reason);
  return std::move(r->bytes);
}

std::expected<OpenedRts, std::string> open_rts(std::string_view blob, const crypto::RsaPrivateKey& own) {
  auto r = freemail::open_rts(blob, own);
  if (!r) return std::unexpected(std::string(freemail::to_string(r.error().error)) + ": " + r.error().reason);
  return std::move(*r);
}

bool verify_rts(const OpenedRts& rts, const crypto::RsaPublicKey& sender) {
  return freemail::verify_rts_signature(rts, sender).has_value();
}

std::expected<std::string, std::string> identity_of_mailsite(std::string_view uri) {
  if (uri.starts_with("freenet:")) uri.remove_prefix(8);
  if (!uri.starts_with("USK@")) return std::unexpected(std::string("not a USK"));
  const auto comma = uri.find(',');
  if (comma == std::string_view::npos) return std::unexpected(std::string("no key parts"));
  return std::string(uri.substr(4, comma - 4));
}

// ---- channel payloads --------------------------------------------------------------------------

std::string cts_payload() { return *freemail::write_cts(); }
std::string ack_payload(std::int64_t id) { return *freemail::write_ack(static_cast<std::uint64_t>(id)); }

std::expected<ChannelPayload, std::string> parse_payload(std::string_view bytes) {
  auto r = freemail::read_channel_payload(bytes);
  if (!r) return std::unexpected(r.error());
  ChannelPayload out;
  switch (r->type) {
    case freemail::ChannelPayloadType::cts:
      out.type = PayloadType::cts;
      break;
    case freemail::ChannelPayloadType::ack:
      out.type = PayloadType::ack;
      for (auto id : r->acked_ids) out.ids.push_back(static_cast<std::int64_t>(id));
      break;
    case freemail::ChannelPayloadType::message:
      out.type = PayloadType::message;
      out.ids.push_back(static_cast<std::int64_t>(r->id));
      break;
  }
  out.read = std::move(*r);
  return out;
}

std::expected<std::string, std::string> signed_message_payload(const SignatureContext& context, std::int64_t id,
                                                               std::string_view rfc822,
                                                               const crypto::RsaPrivateKey& sender_key) {
  try {
    return freemail::write_signed_message(context, static_cast<std::uint64_t>(id), rfc822, sender_key);
  } catch (const std::invalid_argument& e) {
    return std::unexpected(std::string("cannot sign: ") + e.what());
  }
}

SignatureVerdict verify_message(const ChannelPayload& payload, const SignatureContext& context,
                                const crypto::RsaPublicKey* sender_key) {
  if (sender_key) return freemail::verify_message_signature(payload.read, context, *sender_key);
  return payload.read.header.get(freemail::message_signature_key) ? SignatureVerdict::invalid
                                                                   : SignatureVerdict::absent;
}

std::expected<std::string, std::string> filter_outgoing(std::string_view rfc822, std::string_view sender_address,
                                                        std::int64_t now_ms) {
  auto sender = freemail::parse_address(sender_address);
  if (!sender) return std::unexpected(sender.error());
  freemail::HeaderFilterPolicy policy;
  policy.sender = sender->identity;
  policy.sender_local_part = sender->local_part;
  policy.now_ms = now_ms;
  const auto random = crypto::random_bytes(16);
  std::memcpy(policy.message_id_random, random.data(), 16);
  auto r = freemail::filter_mail_headers(rfc822, policy);
  if (!r) return std::unexpected(r.error());
  return std::move(r->mail);
}

namespace {
std::string_view header_block(std::string_view mail) {
  auto end = mail.find("\r\n\r\n");
  if (end != std::string_view::npos) return mail.substr(0, end + 4);
  end = mail.find("\n\n");
  if (end != std::string_view::npos) return mail.substr(0, end + 2);
  return mail;
}
}  // namespace

std::string headers_of(std::string_view rfc822) { return std::string(header_block(rfc822)); }

std::string subject_of(std::string_view rfc822) {
  const auto headers = header_block(rfc822);
  std::string value;
  bool in_subject = false;
  std::size_t pos = 0;
  while (pos < headers.size()) {
    auto eol = headers.find('\n', pos);
    if (eol == std::string_view::npos) eol = headers.size();
    std::string_view line = headers.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = eol + 1;
    if (in_subject && !line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      value += " ";
      value += line.substr(line.find_first_not_of(" \t"));
      continue;
    }
    in_subject = false;
    if (line.size() >= 8 && strncasecmp(line.data(), "subject:", 8) == 0) {
      in_subject = true;
      auto v = line.substr(8);
      auto first = v.find_first_not_of(" \t");
      value = first == std::string_view::npos ? "" : std::string(v.substr(first));
    }
  }
  return value;
}

}  // namespace fcpmail::engine::wire
