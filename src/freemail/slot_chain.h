// Channel slots (transport/Channel.java): a slot is 32 bytes written as 52 upper-case unpadded
// base32 characters, and next(slot) = base32_upper(SHA-256(base32_decode(slot))) — the hash is
// over the 32 decoded bytes, not over the text. Each side writes its own chain: the initiator
// (who sent the RTS) at document names "i-<slot>", the responder at "r-<slot>", directly after the
// channel SSK's trailing '/'.
//
// Freemail uses the first slot string of a chain verbatim as a document name (case-sensitive)
// and recomputes every later one in upper case; these functions do the same: document names keep
// the slot text as given, next_slot always answers upper case.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail::freemail {

inline constexpr std::size_t slot_bytes = 32;
inline constexpr std::size_t slot_length = 52;

// Which side of a channel writes a chain: the RTS sender ("i") or its recipient ("r").
enum class ChannelSide { initiator, responder };

// "i" or "r".
std::string_view side_code(ChannelSide side);

// Checks a slot string: 52 base32 characters (either case) encoding 32 bytes.
std::expected<void, std::string> check_slot(std::string_view slot);

// A fresh slot from 32 random bytes supplied by the caller (this layer has no randomness).
std::expected<std::string, std::string> slot_from_bytes(std::string_view random_bytes);

// The slot after `slot` (upper case).
std::expected<std::string, std::string> next_slot(std::string_view slot);

// `count` slots starting with `first` itself (kept verbatim), each the next of the previous.
std::expected<std::vector<std::string>, std::string> slot_chain(std::string_view first, std::size_t count);

// "i-<slot>" / "r-<slot>".
std::string slot_document_name(ChannelSide side, std::string_view slot);

// <channel SSK URI ending in '/'> + "i-"/"r-" + slot. Works for the insert URI (AQECAAE, used to
// write) and the request URI (AQACAAE, used to read) alike: Freemail appends the document name
// directly after the '/'.
std::expected<std::string, std::string> slot_uri(std::string_view channel_ssk, ChannelSide side,
                                                 std::string_view slot);

}  // namespace fcpmail::freemail
