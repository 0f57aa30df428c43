// Payloads exchanged on a Freemail channel slot (transport/Channel.java). Each is a props header
// ended by an empty line, then (for a message) the RFC 822 mail. Exact bytes Freemail writes:
//   CTS:      messagetype=cts\r\n\r\n
//   message:  messagetype=message\r\nid=<decimal id>\r\n\r\n<RFC 822 mail as sent>
//   ack:      messagetype=ack\r\nid=<decimal id>\r\n\r\n
// No encryption or signature by Freemail: the channel SSK is the only protection. Freemail readers
// ignore header keys they do not know, which is where fcpmail's own optional properties (such as
// a per-message signature) go: the writers append `extra` props after Freemail's, and the reader
// keeps every header prop.
//
// Message ids are Java longs on the Freemail side; fcpmail only writes and accepts 0..2^63-1.
#pragma once

#include "freemail/props.h"

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail::freemail {

enum class ChannelPayloadType { cts, message, ack };

std::string_view to_string(ChannelPayloadType type);  // "cts", "message", "ack"

inline constexpr std::uint64_t max_message_id = 0x7fffffffffffffffULL;  // Java Long.MAX_VALUE

// Writers. `extra` props follow Freemail's own; their keys must not be messagetype or id, must be
// unique, and must obey write_props' rules.
std::expected<std::string, std::string> write_cts(const Props& extra = {});
std::expected<std::string, std::string> write_message(std::uint64_t id, std::string_view mail,
                                                      const Props& extra = {});
std::expected<std::string, std::string> write_ack(std::uint64_t id, const Props& extra = {});

struct ChannelPayload {
  ChannelPayloadType type = ChannelPayloadType::cts;
  std::uint64_t id = 0;                 // message: its id; ack: the first acknowledged id
  std::vector<std::uint64_t> acked_ids; // ack: every id (Freemail receivers accept a comma list)
  Props header;                         // every header prop in wire order, unknown keys included
  std::size_t body_offset = 0;          // where the body starts in the payload (== payload size
                                        // for a CTS/ack without an empty line)
  std::string body;                     // message: the RFC 822 mail; cts/ack: normally empty
};

// Tolerant reader, Freemail's rules: any order, LF or CRLF, unknown keys kept. Errors: no or
// unknown messagetype; a message without its empty line, without id or with an id that is not a
// decimal number in 0..2^63-1 (negative, signed, too large, empty); an ack without id or with a
// malformed entry in its id list; duplicate keys; header lines over `max_line` bytes.
// (Freemail accepts a CTS or ack whose header is not ended by an empty line; so does this.)
std::expected<ChannelPayload, std::string> read_channel_payload(std::string_view payload,
                                                                std::size_t max_line = default_props_max_line);

// Parses a message id as fcpmail accepts it (see above); the error names the problem.
std::expected<std::uint64_t, std::string> parse_message_id(std::string_view text);

}  // namespace fcpmail::freemail
