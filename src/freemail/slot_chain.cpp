#include "freemail/slot_chain.h"

#include "freemail/base32.h"

#include <cryptopp/sha.h>

namespace fcpmail::freemail {

std::string_view side_code(ChannelSide side) { return side == ChannelSide::initiator ? "i" : "r"; }

std::expected<void, std::string> check_slot(std::string_view slot) {
  if (slot.size() != slot_length) {
    return std::unexpected("a slot has " + std::to_string(slot_length) + " base32 characters, not " +
                           std::to_string(slot.size()));
  }
  auto bytes = base32_decode(slot);
  if (!bytes) return std::unexpected("slot is not base32: " + bytes.error());
  return {};
}

std::expected<std::string, std::string> slot_from_bytes(std::string_view random_bytes) {
  if (random_bytes.size() != slot_bytes) {
    return std::unexpected("a slot is made from " + std::to_string(slot_bytes) + " random bytes, not " +
                           std::to_string(random_bytes.size()));
  }
  return base32_encode(random_bytes, Base32Case::upper);
}

std::expected<std::string, std::string> next_slot(std::string_view slot) {
  if (auto ok = check_slot(slot); !ok) return std::unexpected(ok.error());
  const std::string bytes = base32_decode(slot).value();
  std::string digest(CryptoPP::SHA256::DIGESTSIZE, '\0');
  CryptoPP::SHA256().CalculateDigest(reinterpret_cast<CryptoPP::byte*>(digest.data()),
                                     reinterpret_cast<const CryptoPP::byte*>(bytes.data()), bytes.size());
  return base32_encode(digest, Base32Case::upper);
}

std::expected<std::vector<std::string>, std::string> slot_chain(std::string_view first, std::size_t count) {
  if (auto ok = check_slot(first); !ok) return std::unexpected(ok.error());
  std::vector<std::string> chain;
  chain.reserve(count);
  if (count == 0) return chain;
  chain.emplace_back(first);
  while (chain.size() < count) chain.push_back(next_slot(chain.back()).value());
  return chain;
}

std::string slot_document_name(ChannelSide side, std::string_view slot) {
  return std::string(side_code(side)) + "-" + std::string(slot);
}

std::expected<std::string, std::string> slot_uri(std::string_view channel_ssk, ChannelSide side,
                                                 std::string_view slot) {
  if (!channel_ssk.starts_with("SSK@")) {
    return std::unexpected("channel key '" + std::string(channel_ssk) + "' is not an SSK@ URI");
  }
  if (!channel_ssk.ends_with("/") || channel_ssk.find('/') != channel_ssk.size() - 1) {
    return std::unexpected("channel key '" + std::string(channel_ssk) +
                           "' must end with its only '/' (SSK@<key>,<crypto>,<extra>/)");
  }
  if (auto ok = check_slot(slot); !ok) return std::unexpected(ok.error());
  return std::string(channel_ssk) + slot_document_name(side, slot);
}

}  // namespace fcpmail::freemail
