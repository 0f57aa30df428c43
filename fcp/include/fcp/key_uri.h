// Hyphanet key URIs: CHK@, SSK@ (insert and request forms), USK@ (editions, negative ones too)
// and KSK@. Pure: parse text into parts, format parts back as fred writes them.
//
//   CHK@<routing 32B>,<crypto 32B>,<extra 5B>[/meta...]          or CHK@ (insert: node picks the key)
//   SSK@<routing>,<crypto 32B>,<extra 5B>/<docname>[/meta...]     or SSK@ (insert: random key)
//   USK@<routing>,<crypto 32B>,<extra 5B>/<site>/<edition>[/meta...]
//   KSK@<keyword>[/meta...]
//
// Binary parts are Freenet base64. An SSK/USK extra of 01 00 02 00 01 (AQACAAE) marks a request
// (public) key, 01 01 02 00 01 (AQECAAE) an insert (private) key. Docnames and meta-strings are
// URL-decoded on parse and URL-encoded on format. Prefixes fred strips (freenet:, hyphanet:,
// hypha:, ext+/web+, http(s)://host/) are accepted, and everything from '?' on is dropped.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fcp {

enum class KeyType { chk, ssk, usk, ksk };

struct KeyUri {
  KeyType type = KeyType::chk;
  // Raw bytes (decoded from Freenet base64); all three empty for a bare "CHK@" / "SSK@".
  std::string routing_key;
  std::string crypto_key;
  std::string extra;
  // SSK docname, USK site name, KSK keyword. Empty for CHK. May be empty for SSK (GenerateSSK's
  // URIs end in '/').
  std::string docname;
  bool has_docname = false;            // an SSK "…,AQACAAE/" has an empty docname; "SSK@" has none
  std::optional<std::int64_t> edition;  // USK only (negative: search for the latest)
  std::vector<std::string> meta_strings;

  bool has_keys() const { return !routing_key.empty(); }
  // SSK/USK with an insert (private) extra; KSK URIs are both insert and request URIs.
  bool is_insert() const;
  // The URI as fred writes it (no "freenet:" prefix).
  std::string to_string() const;

  // USK@…/site/N as the SSK fred stores it at: SSK@…/site-N (|N| for negative editions).
  KeyUri usk_to_ssk() const;
  // The USK@ with the same keys: USK@…/site/edition (e.g. from GenerateSSK's SSK@…/).
  KeyUri to_usk(std::string site, std::int64_t edition) const;
  // A copy with another USK edition.
  KeyUri with_edition(std::int64_t edition) const;
  // A copy with another docname (e.g. append "outbox-7" to GenerateSSK's "SSK@…/").
  KeyUri with_docname(std::string docname) const;

  friend bool operator==(const KeyUri&, const KeyUri&) = default;
};

// Parse a key URI; the error says what is wrong ("CHK routing key must be 32 bytes, got 31").
std::expected<KeyUri, std::string> parse_key_uri(std::string_view text);

std::string_view key_type_name(KeyType type);  // "CHK", "SSK", "USK", "KSK"

// URL-encoding of one docname or meta-string component, as used inside URIs.
std::string url_encode_component(std::string_view text);
std::expected<std::string, std::string> url_decode_component(std::string_view text);

}  // namespace fcp
