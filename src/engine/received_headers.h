// What a message received on a channel looks like in the mailbox: the peer's RFC 822 text with the
// headers that speak about its origin made to tell the truth. Pure: bytes in, bytes out, linear in
// the size of the message, never throws on any input (NUL, 8-bit, no blank line, CRLF or bare LF).
//
// The header section is what the mailbox's MIME parser takes for one (store/mime.h): every line up
// to the first empty line, or the whole text when there is none; a line starting with SP or TAB
// continues the field before it. The body is never looked at and is copied byte for byte.
//
//  * Every incoming field whose name starts with `X-Fcpmail-` (any case, surrounding blanks
//    ignored) is removed with its continuation lines: only the engine says what it verified.
//  * Ours go first: exactly one `X-Fcpmail-Signature: <verdict>`, one `X-Fcpmail-Sender: <peer>`
//    and the `Received:` line.
//  * From: kept as it is when the message has exactly one From field naming exactly one address
//    whose Freemail identity (the base32 label of `<local>@<label>.freemail`, any case) is the
//    peer's: Freemail's local part is free, so it is the identity that is compared. Otherwise
//    (another address, several, a group, a non-Freemail address, unparsable, several From fields)
//    each From field is renamed `X-Original-From` in place and one
//    `From: "<claimed name or address> (via <peer>)" <peer>` goes first; the claimed text is
//    decoded from RFC 2047, cleaned (no control characters nor bidirectional overrides, invalid
//    UTF-8 replaced) and capped, and written as a quoted string, or as RFC 2047 UTF-8 words when it is not ASCII. A message
//    without From gets `From: <peer>`.
//  * Sender: the same test; a Sender that names anyone but the peer is renamed
//    `X-Original-Sender` (IMAP's ENVELOPE then takes the sender from From).
//  * Reply-To is left alone: the mail client shows it when the user replies.
#pragma once
#include "freemail/message_signature.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace fcpmail::engine {

// What the engine verified about a received message.
struct ReceivedOrigin {
  freemail::SignatureVerdict signature = freemail::SignatureVerdict::absent;
  std::string_view peer_address;  // the channel peer, canonical `local@label.freemail`
  std::string_view received;      // the value of our Received: field
};

struct ReceivedMessage {
  std::string message;                   // what goes into the mailbox
  std::size_t removed_fcpmail_fields = 0;  // incoming X-Fcpmail-* fields dropped
  bool from_rewritten = false;           // From did not name the peer (or was missing)
  bool sender_moved = false;             // a Sender naming someone else became X-Original-Sender
};

// The longest claimed name kept in a rewritten From's display name (bytes of UTF-8).
inline constexpr std::size_t max_claimed_name = 100;

ReceivedMessage received_message(std::string_view rfc822, const ReceivedOrigin& origin);

}  // namespace fcpmail::engine
