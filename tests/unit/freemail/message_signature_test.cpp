// fcpmail's per-message signature (x-fcpmail-signature) on Freemail channel messages.
#include "freemail/message_signature.h"

#include "crypto/sha256.h"
#include "freemail/rsa_key_file.h"

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <stdexcept>
#include <sstream>

using namespace fcpmail;
using namespace fcpmail::freemail;

namespace {

std::string fixture(const std::string& relative) {
  std::ifstream in(std::string(FCPMAIL_FIXTURES) + "/" + relative, std::ios::binary);
  REQUIRE_MESSAGE(in, "missing fixture " << relative);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const crypto::RsaPrivateKey& key(const std::string& name) {
  static std::map<std::string, crypto::RsaPrivateKey> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    auto k = read_rsa_key_file(fixture("keys/" + name + ".key"));
    REQUIRE(k);
    it = cache.emplace(name, *k).first;
  }
  return it->second;
}

const std::string sender_id = "vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A";
const std::string recipient_id = "XrAUYiUcz6zW9rJq990bwanm7lME-PoK4FQcUX2VfpY";
const std::string channel =
    "SSK@Mp8ZxuCLnBkioGfhs1TuqLdng9UVZ8~n5Q0QtiUY9WI,PuO0yMON89D~5jUgwh4pmeIxTelC-p2ieTQbfHmXBUU,AQECAAE/";
const std::string mail = "Subject: hello\r\nTo: x@y.freemail\r\n\r\nbody\r\n";

MessageSignatureContext context() { return {sender_id, recipient_id, channel}; }

ChannelPayload read(std::string_view bytes) {
  auto p = read_channel_payload(bytes);
  REQUIRE_MESSAGE(p, p.error());
  return *p;
}

}  // namespace

TEST_CASE("signature base: exact bytes") {
  const std::string base = message_signature_base(context(), 7, mail);
  CHECK(base ==
        "fcpmail-message-signature-v1\n"
        "from=vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A\n"
        "to=XrAUYiUcz6zW9rJq990bwanm7lME-PoK4FQcUX2VfpY\n"
        "channel=" + crypto::to_hex(crypto::sha256(channel)) + "\n"
        "id=7\n"
        "mail-length=42\n"
        "\n" + mail);
  // Computed independently (Python): SHA-256 of the base and of alice's PKCS#1 v1.5 signature.
  CHECK(crypto::to_hex(crypto::sha256(base)) ==
        "8ae806996c9e952af7f288e49091194f41b3352692381eb1136027e65f192a0a");
  const std::string value = sign_message(context(), 7, mail, key("alice"));
  CHECK(value.size() == 684);
  const std::string raw = key("alice").sign_pkcs1v15_sha256(base);
  CHECK(crypto::to_hex(crypto::sha256(raw)) ==
        "a99aa9245646a92c8ab60992caa70e47490bc49d32066801de727b38bf320055");
  auto payload = read("messagetype=message\r\nid=7\r\nx-fcpmail-signature=" + value + "\r\n\r\n" + mail);
  CHECK(verify_message_signature(payload, context(), key("alice").public_key()) == SignatureVerdict::valid);
  CHECK_THROWS_AS(message_signature_base({sender_id, "", channel}, 1, mail), std::invalid_argument);
  CHECK_THROWS_AS(message_signature_base({sender_id, recipient_id, "SSK@a b"}, 1, mail), std::invalid_argument);
}

TEST_CASE("signed message: Freemail's reader sees an ordinary message; ours verifies it") {
  auto bytes = write_signed_message(context(), 7, mail, key("alice"));
  REQUIRE(bytes);
  CHECK(bytes->starts_with("messagetype=message\r\nid=7\r\nx-fcpmail-signature="));
  CHECK(bytes->ends_with("\r\n\r\n" + mail));
  const ChannelPayload p = read(*bytes);
  CHECK(p.type == ChannelPayloadType::message);
  CHECK(p.id == 7);
  CHECK(p.body == mail);
  CHECK(verify_message_signature(p, context(), key("alice").public_key()) == SignatureVerdict::valid);
  // Deterministic: the same inputs give the same signature (PKCS#1 v1.5).
  CHECK(*write_signed_message(context(), 7, mail, key("alice")) == *bytes);
  CHECK(p.header.get(message_signature_key) == sign_message(context(), 7, mail, key("alice")));
}

TEST_CASE("every change to what is signed makes the signature invalid") {
  auto bytes = write_signed_message(context(), 7, mail, key("alice"));
  REQUIRE(bytes);
  const ChannelPayload good = read(*bytes);
  const auto& alice = key("alice").public_key();

  SUBCASE("mail bytes") {
    for (std::size_t i = 0; i < mail.size(); ++i) {
      ChannelPayload p = good;
      p.body[i] ^= 0x20;
      CHECK(verify_message_signature(p, context(), alice) == SignatureVerdict::invalid);
    }
    ChannelPayload longer = good;
    longer.body += "\r\n";
    CHECK(verify_message_signature(longer, context(), alice) == SignatureVerdict::invalid);
  }
  SUBCASE("id, channel, sender, recipient") {
    ChannelPayload p = good;
    p.id = 8;
    CHECK(verify_message_signature(p, context(), alice) == SignatureVerdict::invalid);
    const std::string other_channel = channel.substr(0, 10) + "X" + channel.substr(11);
    CHECK(verify_message_signature(good, {sender_id, recipient_id, other_channel}, alice) ==
          SignatureVerdict::invalid);
    CHECK(verify_message_signature(good, {recipient_id, recipient_id, channel}, alice) ==
          SignatureVerdict::invalid);
    CHECK(verify_message_signature(good, {sender_id, sender_id, channel}, alice) ==
          SignatureVerdict::invalid);
  }
  SUBCASE("wrong key: mallory signs in alice's name") {
    CHECK(verify_message_signature(good, context(), key("mallory").public_key()) ==
          SignatureVerdict::invalid);
    auto forged = write_signed_message(context(), 7, mail, key("mallory"));
    REQUIRE(forged);
    CHECK(verify_message_signature(read(*forged), context(), alice) == SignatureVerdict::invalid);
  }
  SUBCASE("garbled property value") {
    const std::string value(*good.header.get(message_signature_key));
    for (std::string bad : {std::string(""), value.substr(0, value.size() - 4), value + "AAAA",
                            "!" + value.substr(1), value.substr(0, 100) + "=" + value.substr(101),
                            std::string(684, 'A')}) {
      auto payload = read("messagetype=message\r\nid=7\r\nx-fcpmail-signature=" + bad + "\r\n\r\n" + mail);
      CHECK(verify_message_signature(payload, context(), alice) == SignatureVerdict::invalid);
    }
  }
}

TEST_CASE("absent: Freemail's own messages, and non-message payloads") {
  // Recorded from Freemail 0.2.9: no fcpmail property.
  const ChannelPayload recorded = read(fixture("freemail/recorded/bob-to-alice.msg0.bin"));
  CHECK(verify_message_signature(recorded, context(), key("bob").public_key()) ==
        SignatureVerdict::absent);
  auto plain = write_message(3, mail);
  REQUIRE(plain);
  CHECK(verify_message_signature(read(*plain), context(), key("alice").public_key()) ==
        SignatureVerdict::absent);
  auto ack = write_ack(3);
  REQUIRE(ack);
  CHECK(verify_message_signature(read(*ack), context(), key("alice").public_key()) ==
        SignatureVerdict::absent);
  CHECK(to_string(SignatureVerdict::valid) == "valid");
  CHECK(to_string(SignatureVerdict::invalid) == "invalid");
  CHECK(to_string(SignatureVerdict::absent) == "absent");
}
