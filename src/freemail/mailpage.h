// The Freemail mailpage (MailSite.java): three props lines published under the account's identity
// SSK. It tells a sender where to insert RTSs (rtsksk) and which RSA key to encrypt them with.
//   rtsksk=<32 a-z>\r\n
//   asymkey.modulus=<radix-32 n>\r\n
//   asymkey.pubexponent=<radix-32 e>\r\n
// Inserted at SSK@<identity insert key>/mailsite-<N>/mailpage; fetched by others as
// USK@<identity request key>/mailsite/-<N>/mailpage.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace fcpmail::freemail {

struct Mailpage {
  // KSK base name for RTSs. Freemail's RTS receiver does not need it (only senders do), so a
  // mailpage without it still yields a key; the writer requires it.
  std::optional<std::string> rtsksk;
  std::string modulus;          // big-endian unsigned, minimal (no leading zero byte)
  std::string public_exponent;  // big-endian unsigned, minimal; 17 = "\x11" for Freemail keys
  friend bool operator==(const Mailpage&, const Mailpage&) = default;
};

// Exact bytes Freemail publishes: the three lines above in that order, CRLF, nothing else.
std::expected<std::string, std::string> write_mailpage(const Mailpage& page);

// Tolerant reader: any order, LF or CRLF, unknown keys ignored. Requires asymkey.modulus and
// asymkey.pubexponent (valid radix 32, odd modulus of 1024..16384 bits, odd exponent > 1 and below
// 2^32); rtsksk, if present, must be a usable KSK name (printable ASCII without space, '/',
// '@', '?', '#', '%', at most 256 bytes).
std::expected<Mailpage, std::string> read_mailpage(std::string_view text);

// Checks an rtsksk value (the rules of read_mailpage).
std::expected<void, std::string> check_rtsksk(std::string_view rtsksk);

// The insert URI for edition N: SSK@<insert key>/mailsite-<N>/mailpage. `identity_insert_uri` may
// be the WoT insert URI (USK@k,c,x/WebOfTrust/7), Freemail's accprops `mailsite.privkey`
// (USK@k,c,x/mailsite/) or a bare key (SSK@k,c,x); only the part before the first '/' is used.
std::expected<std::string, std::string> mailsite_insert_uri(std::string_view identity_insert_uri,
                                                            std::uint64_t edition);

// The request URI for edition N as senders fetch it: USK@<request key>/mailsite/-<N>/mailpage
// (negative edition: "N or later"). `identity_request_uri` as above, e.g. WoT's RequestURI.
std::expected<std::string, std::string> mailsite_request_uri(std::string_view identity_request_uri,
                                                             std::uint64_t edition);

// Freemail's accprops value `mailsite.privkey`: USK@<insert key>/mailsite/.
std::expected<std::string, std::string> mailsite_privkey_value(std::string_view identity_insert_uri);

}  // namespace fcpmail::freemail
