// The header policy applied to a mail before it goes onto a channel, with Freemail's rules
// (MailHeaderFilter.java), so that a peer sees what a Freemail sender would send:
//  * folded headers are joined as `first line\r\n <trimmed continuation>`;
//  * passed unchanged (names compared case-insensitively): To, CC, Subject, MIME-Version,
//    Content-Type, Content-Transfer-Encoding, In-Reply-To, References;
//  * Date: parsed and rewritten in UTC as `EEE, dd MMM yyyy HH:mm:ss +0000`; unparsable: dropped;
//  * Message-ID: kept when its domain part ends in ".freemail", else replaced by
//    `<signed long>.<signed long>@<sender domain>` made from caller-supplied random numbers;
//  * From: kept verbatim when its address is in the sender's domain, else replaced by
//    `<sender local part>@<sender domain>`;
//  * everything else (Bcc, Reply-To, Received, User-Agent, X-*, ...) is dropped, as are headers
//    whose name has an 8-bit byte, lines without ':' and a continuation with nothing to continue;
//  * the body is passed through byte for byte.
// One addition to Freemail, on by default (`add_missing`): a mail that ends up without Date,
// From or Message-ID gets one (Date from `now_ms`), as RFC 5322 requires; Freemail would send it
// without. The function is pure: the clock and the randomness come from the caller.
#pragma once

#include "freemail/address.h"

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail::freemail {

struct HeaderFilterPolicy {
  Identity sender;                        // the sending account's identity (its .freemail domain)
  std::string sender_local_part = "mail"; // local part of a rewritten or added From
  std::int64_t now_ms = 0;                // Unix time in ms, for an added Date
  std::uint64_t message_id_random[2] = {0, 0};  // for a generated Message-ID (printed as signed longs)
  bool add_missing = true;                // add Date, From, Message-ID when the mail has none
};

struct FilteredMail {
  std::string mail;                  // filtered header, CRLF line ends, empty line, original body
  std::vector<std::string> dropped;  // names of the headers removed (for logs; values left out)
  std::vector<std::string> rewritten;  // names of the headers whose value was replaced or added
};

// Error only when the mail has no empty line ending its header (Freemail refuses to send those).
std::expected<FilteredMail, std::string> filter_mail_headers(std::string_view mail, const HeaderFilterPolicy& policy);

// RFC 5322 date-time as Freemail's parser accepts it ("[Day,] d Mon yyyy HH:mm[:ss] zone", zone
// as +hhmm/-hhmm or UT, GMT, UTC, Z, EST/EDT/CST/CDT/MST/MDT/PST/PDT; trailing comments ignored)
// -> Unix time in ms. Nothing when it cannot be parsed or names an impossible date.
std::optional<std::int64_t> parse_mail_date(std::string_view text);

// `EEE, dd MMM yyyy HH:mm:ss +0000` in UTC, English names.
std::string format_mail_date(std::int64_t unix_ms);

}  // namespace fcpmail::freemail
