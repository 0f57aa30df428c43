// Freenet key URIs as the simulated node sees them: parsing with fred's rules and messages,
// Freenet base64, and the sim's deterministic key derivations (SSK request key from insert key,
// CHK from content). Pure: no I/O, no clock.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace fcp::sim {

using Bytes = std::vector<std::uint8_t>;

// Freenet's base64: alphabet A-Z a-z 0-9 ~ -, no padding on output, trailing '=' accepted.
std::string base64_encode(const Bytes& bytes);
std::optional<Bytes> base64_decode(std::string_view text);

std::string sha256(std::string_view data);        // raw 32 bytes
std::string hex(std::string_view bytes);          // lower-case hex

struct FreenetUri {
  std::string type;  // CHK, SSK, USK, KSK
  std::optional<Bytes> routing_key, crypto_key, extra;
  std::optional<std::string> docname;  // SSK/USK site name, KSK keyword
  std::int64_t edition = -1;           // USK suggested edition
  std::vector<std::string> meta;       // meta-strings after the docname (and edition)

  // Request-form or insert-form: an SSK/USK whose extra byte 1 is 1 is an insert (private) key.
  bool is_insert_key() const;
  // fred's FreenetURI.toString(): keys in Freenet base64, docname and meta-strings URL-encoded.
  std::string to_string() const;
  FreenetUri without_meta() const;
  FreenetUri with_meta(std::vector<std::string> meta_strings) const;
};

// Parses like fred's FreenetURI(String); the error text is fred's MalformedURLException message.
std::expected<FreenetUri, std::string> parse_uri(std::string_view text);

// The request (public) form of an SSK/USK insert URI; KSK and CHK are returned unchanged.
FreenetUri to_request_form(const FreenetUri& insert);

// A fresh SSK keypair of fred's shape: insert key = a 256-bit private exponent written as Java's
// BigInteger.toByteArray (31-33 bytes), request key = 32-byte hash derived from it.
struct SskKeypair {
  std::string insert_uri;   // SSK@<priv>,<crypto>,AQECAAE/
  std::string request_uri;  // SSK@<pubhash>,<crypto>,AQACAAE/
};
SskKeypair generate_ssk(std::mt19937_64& rng);

// The request routing key (public key hash) for an insert routing key. Deterministic, so the same
// insert key always publishes under the same request key.
Bytes derive_public_key_hash(const Bytes& private_key);

// A CHK for `data` (convergent: same bytes and MIME give the same key), fred's extra layout:
// 00 03 <flags> FF FF, flags 0x02 when the top block is metadata.
FreenetUri chk_for(std::string_view data, std::string_view mime, bool metadata);

// Where a document lives in the sim's store: the request form without extras or meta-strings.
// USK edition N is the SSK `site-N`, so both spellings name the same slot.
std::string slot_of(const FreenetUri& request_uri);

// A SSK docname `site-N` seen as USK edition N of `site`.
struct UskEdition {
  std::string base;  // "SSK@<pub>,<crypto>/<site>"
  std::int64_t edition;
};
std::optional<UskEdition> usk_edition_of_slot(std::string_view slot);
std::string usk_base(const FreenetUri& request_uri);  // for USK or SSK-with-site

}  // namespace fcp::sim
