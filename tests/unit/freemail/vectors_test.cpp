// The reference's protocol vectors that need no RSA (fixtures/freemail/vectors.json), end to end
// through this layer's public functions.
#include "freemail/address.h"
#include "freemail/mailpage.h"
#include "freemail/props.h"
#include "freemail/slot_chain.h"

#include <cryptopp/sha.h>
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fstream>

using namespace fcpmail::freemail;

namespace {
nlohmann::json vectors() {
  std::ifstream in(std::string(FCPMAIL_FIXTURES) + "/freemail/vectors.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[CryptoPP::SHA256::DIGESTSIZE];
  CryptoPP::SHA256().CalculateDigest(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : digest) {
    out.push_back(hex[b >> 4]);
    out.push_back(hex[b & 0xf]);
  }
  return out;
}
}  // namespace

TEST_CASE("vectors: addresses") {
  const auto v = vectors();
  REQUIRE(v["addresses"].size() == 3);
  for (const auto& a : v["addresses"]) {
    const auto identity = identity_from_base64_id(a["identity_id"].get<std::string>()).value();
    CHECK(identity.label() == a["label"].get<std::string>());
    const auto parsed = parse_address(a["address"].get<std::string>()).value();
    CHECK(parsed.identity == identity);
    CHECK(parsed.identity.base64_id() == a["identity_id"].get<std::string>());
    CHECK(parsed.address() == a["address"].get<std::string>());
  }
}

TEST_CASE("vectors: slot chains") {
  const auto v = vectors();
  REQUIRE(v["slot_chains"].size() == 2);
  for (const auto& c : v["slot_chains"]) {
    const auto chain = c["chain"].get<std::vector<std::string>>();
    CHECK(slot_from_bytes(from_hex(c["first_bytes_hex"].get<std::string>())).value() == chain.front());
    CHECK(slot_chain(chain.front(), chain.size()).value() == chain);
  }
}

TEST_CASE("vectors: RTS plaintext bytes come out of the props writer exactly") {
  const auto v = vectors()["rts_plaintext"];
  Props props;
  for (const auto& field : v["fields"]) props.add(field[0].get<std::string>(), field[1].get<std::string>());
  const std::string plaintext = write_props(props).value() + "\r\n";
  CHECK(plaintext.size() == v["size"].get<std::size_t>());
  CHECK(sha256_hex(plaintext) == v["sha256_hex"].get<std::string>());
  const auto back = read_props_header(plaintext, 200).value();  // Java's RTS line limit is 200 bytes
  CHECK(back.props == props);
  CHECK(back.body_offset == plaintext.size());
}

TEST_CASE("vectors: mailsite request URI") {
  const auto v = vectors()["mailsite_request_uri"];
  CHECK(mailsite_request_uri(v["identity_request_uri"].get<std::string>(), v["edition"].get<std::uint64_t>()).value() ==
        v["uri"].get<std::string>());
}
