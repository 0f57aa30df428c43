#include "freemail/message_signature.h"
#include "crypto/base64.h"

#include "crypto/sha256.h"


#include <stdexcept>

namespace fcpmail::freemail {

namespace {

void require_token(std::string_view what, std::string_view value) {
  if (value.empty()) throw std::invalid_argument(std::string(what) + " is empty");
  for (char c : value) {
    if (c <= ' ' || c > '~') {
      throw std::invalid_argument(std::string(what) + " must be printable ASCII without spaces");
    }
  }
}

}  // namespace

std::string message_signature_base(const MessageSignatureContext& context, std::uint64_t id,
                                   std::string_view mail) {
  require_token("sender identity", context.sender_identity);
  require_token("recipient identity", context.recipient_identity);
  require_token("channel", context.channel);
  std::string base;
  base.reserve(256 + mail.size());
  base += "fcpmail-message-signature-v1\n";
  base.append("from=").append(context.sender_identity).append("\n");
  base.append("to=").append(context.recipient_identity).append("\n");
  base.append("channel=").append(crypto::to_hex(crypto::sha256(context.channel))).append("\n");
  base.append("id=").append(std::to_string(id)).append("\n");
  base.append("mail-length=").append(std::to_string(mail.size())).append("\n");
  base += "\n";
  base.append(mail);
  return base;
}

std::string sign_message(const MessageSignatureContext& context, std::uint64_t id,
                         std::string_view mail, const crypto::RsaPrivateKey& sender_key) {
  return crypto::base64_encode(sender_key.sign_pkcs1v15_sha256(message_signature_base(context, id, mail)));
}

std::expected<std::string, std::string> write_signed_message(const MessageSignatureContext& context,
                                                             std::uint64_t id, std::string_view mail,
                                                             const crypto::RsaPrivateKey& sender_key) {
  Props extra;
  extra.add(std::string(message_signature_key), sign_message(context, id, mail, sender_key));
  return write_message(id, mail, extra);
}

std::string_view to_string(SignatureVerdict verdict) {
  switch (verdict) {
    case SignatureVerdict::valid: return "valid";
    case SignatureVerdict::invalid: return "invalid";
    case SignatureVerdict::absent: return "absent";
  }
  return "invalid";
}

SignatureVerdict verify_message_signature(const ChannelPayload& payload,
                                          const MessageSignatureContext& context,
                                          const crypto::RsaPublicKey& sender_key) {
  if (payload.type != ChannelPayloadType::message) return SignatureVerdict::absent;
  auto value = payload.header.get(message_signature_key);
  if (!value) return SignatureVerdict::absent;
  auto signature = crypto::base64_decode(*value);
  if (!signature) return SignatureVerdict::invalid;
  std::string base;
  try {
    base = message_signature_base(context, payload.id, payload.body);
  } catch (const std::invalid_argument&) {
    return SignatureVerdict::invalid;
  }
  return sender_key.verify_pkcs1v15_sha256(base, *signature) ? SignatureVerdict::valid
                                                              : SignatureVerdict::invalid;
}

}  // namespace fcpmail::freemail
