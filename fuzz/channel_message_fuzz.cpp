// Channel payloads (freemail::read_channel_payload): CTS, message and ack payloads fetched from a
// channel slot, which both parties can write. Also fcpmail's per-message signature check on the
// payloads that read, with the fixed test keys (a forged or garbage signature must be "invalid",
// never a crash). Properties: the body starts where the reader says; a message re-written with
// write_message reads back with the same id and body; ack ids are all within 0..2^63-1.
#include "freemail/channel_message.h"
#include "freemail/message_signature.h"
#include "freemail/rsa_key_file.h"
#include "fuzz_support.h"

namespace fm = fcpmail::freemail;
namespace crypto = fcpmail::crypto;

namespace {

const crypto::RsaPublicKey& sender_key() {
  static const crypto::RsaPublicKey key = [] {
    auto k = fm::read_rsa_key_file(fuzz::read_file(FCPMAIL_FIXTURES "/keys/bob.key"));
    if (!k) std::abort();
    return k->public_key();
  }();
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)sender_key();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input input(data, size);
  const std::uint8_t mode = input.byte();
  const std::string_view payload = input.rest();
  const std::size_t max_line = (mode & 1) ? 64 : fm::default_props_max_line;

  (void)fm::parse_message_id(payload.substr(0, 32));

  auto read = fm::read_channel_payload(payload, max_line);
  if (!read) return 0;
  FUZZ_CHECK(read->body_offset <= payload.size());
  FUZZ_CHECK(read->id <= fm::max_message_id);
  for (auto id : read->acked_ids) FUZZ_CHECK(id <= fm::max_message_id);
  (void)fm::to_string(read->type);

  if (read->type == fm::ChannelPayloadType::message) {
    FUZZ_CHECK(read->body == payload.substr(read->body_offset));
    auto rewritten = fm::write_message(read->id, read->body);
    FUZZ_CHECK(rewritten.has_value());
    auto again = fm::read_channel_payload(*rewritten);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(again->type == fm::ChannelPayloadType::message);
    FUZZ_CHECK(again->id == read->id);
    FUZZ_CHECK(again->body == read->body);

    const fm::MessageSignatureContext context{
        "vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A", "XrAUYiUcz6zW9rJq990bwanm7lME-PoK4FQcUX2VfpY",
        "SSK@channel,key,AQECAAE/"};
    const auto verdict = fm::verify_message_signature(*read, context, sender_key());
    // No fuzz input can carry a valid signature by Bob's key over this context.
    FUZZ_CHECK(verdict != fm::SignatureVerdict::valid);
  } else if (read->type == fm::ChannelPayloadType::ack) {
    FUZZ_CHECK(!read->acked_ids.empty());
    FUZZ_CHECK(read->acked_ids.front() == read->id);
  }
  return 0;
}
