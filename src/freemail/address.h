// Freemail 0.2 addresses: `local@<base32 of the 32-byte identity routing key>.freemail`.
// The domain label is the lower-case unpadded RFC 4648 base32 of the WoT identity's routing key
// (52 characters); the same 32 bytes in Freenet base64 (43 characters) are the WoT identity id.
// The local part carries no routing information. Accepted input forms:
//   local@label.freemail         Name <local@label.freemail>      "Name" <local@label.freemail>
//   <local@label.freemail>       local@label.freemail (Name)
// The domain is case-insensitive; local part and label are lower-cased as Freemail does.
#pragma once

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace fcpmail::freemail {

inline constexpr std::size_t identity_size = 32;        // routing key bytes
inline constexpr std::size_t identity_label_size = 52;  // base32 characters of the routing key
inline constexpr std::string_view freemail_tld = ".freemail";

// The 32-byte routing key of a WoT identity, with its two textual forms.
struct Identity {
  std::string bytes;  // exactly identity_size bytes

  std::string label() const;        // lower-case base32, 52 chars
  std::string domain() const;       // label() + ".freemail"
  std::string base64_id() const;    // Freenet base64, 43 chars (the WoT identity id)
  friend bool operator==(const Identity&, const Identity&) = default;
};

// From raw bytes (must be 32), from a WoT identity id (Freenet base64) and from a domain label
// (base32, either case, 52 chars; a trailing ".freemail" is accepted too).
std::expected<Identity, std::string> identity_from_bytes(std::string_view bytes);
std::expected<Identity, std::string> identity_from_base64_id(std::string_view id);
std::expected<Identity, std::string> identity_from_label(std::string_view label_or_domain);

struct Address {
  std::string display_name;  // may be empty; outer quotes removed
  std::string local_part;    // lower case
  Identity identity;

  // `local@label.freemail`
  std::string address() const;
  // With the display name when there is one: `Name <local@label.freemail>`, the name quoted when
  // it holds characters that need it.
  std::string to_string() const;
  friend bool operator==(const Address&, const Address&) = default;
};

// Parses and validates one address; every malformed form has its own message.
std::expected<Address, std::string> parse_address(std::string_view text);

// Builds an address; the local part must be non-empty and made of address characters.
std::expected<Address, std::string> make_address(std::string_view local_part, const Identity& identity,
                                                 std::string_view display_name = {});

// Freemail's proposal for a local part from a nickname: keep only A-Z a-z 0-9 and
// !#$%&'*+-/=?^_`{|}~, lower-case; "mail" if nothing remains.
std::string local_part_from_nickname(std::string_view nickname);

}  // namespace fcpmail::freemail
