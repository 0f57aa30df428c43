// MIME structure of an RFC 822 / RFC 2045 message, and the IMAP views of it: ENVELOPE,
// BODYSTRUCTURE, BODY and the BODY[section] byte ranges (RFC 3501 §6.4.5, §7.4.2).
//
// Pure: bytes in, values out. The parser never fails: whatever is not well-formed MIME is taken
// as the RFC 2045 defaults say (text/plain; charset=us-ascii, 7bit), a header without a blank
// line is all header, a multipart without its closing boundary ends at the end of its parent.
// Encoded words (RFC 2047) are left as they are, as RFC 3501 asks. Nesting is bounded.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcpmail::mime {

// A byte range [begin, end) of the message.
struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t size() const { return end - begin; }
};

struct Part {
  Span header;            // the header lines including the blank line that ends them
  Span body;              // the content (for message/rfc822: the whole encapsulated message)
  std::string type = "text", subtype = "plain";  // as written in the message (case kept)
  std::vector<std::pair<std::string, std::string>> params;  // Content-Type parameters
  bool explicit_type = false;        // a Content-Type header was present
  std::optional<std::string> id, description, md5, location;
  std::string encoding = "7bit";
  std::optional<std::string> disposition;
  std::vector<std::pair<std::string, std::string>> disposition_params;
  std::optional<std::string> language;   // raw Content-Language value
  std::size_t body_lines = 0;
  // multipart: the parts; message/rfc822: exactly one, the encapsulated message's top entity.
  std::vector<Part> children;

  bool is_multipart() const;
  bool is_message_rfc822() const;
  bool is_text() const;
};

// Parses the whole message.
Part parse(std::string_view message);

// Header fields of a header block: names as written, values raw (folded, without the final CRLF).
std::vector<std::pair<std::string_view, std::string_view>> header_fields(std::string_view header);
// The first value of `name` (case-insensitive), unfolded (CRLFs removed, whitespace kept).
std::optional<std::string> header_value(std::string_view header, std::string_view name);

// ---- IMAP views -------------------------------------------------------------------------------

// Appends an IMAP string: quoted when it may be, else a literal {n}\r\n...
void append_string(std::string& out, std::string_view s);
// Appends NIL for nullopt.
void append_nstring(std::string& out, const std::optional<std::string>& s);
std::string quote(std::string_view s);

// A header value with its RFC 2047 encoded words (=?charset?Q|B?text?=) decoded to UTF-8, for
// SEARCH (ENVELOPE keeps them encoded). Charsets: UTF-8, US-ASCII, ISO-8859-1 (and windows-1252
// read as Latin-1); a word in another charset, or malformed, stays as written. Whitespace between
// two encoded words is dropped (RFC 2047 §6.2).
std::string decode_encoded_words(std::string_view value);

// ENVELOPE of a message whose top entity is `top` (the root, or the child of a message/rfc822).
std::string envelope(std::string_view message, const Part& top);
// BODYSTRUCTURE (extensible = true) or BODY (extensible = false).
std::string bodystructure(std::string_view message, const Part& part, bool extensible);

// One address of an address list. Group syntax appears as a start marker (mailbox = group
// name, host = nullopt) and an end marker (all nullopt), as IMAP's ENVELOPE represents it.
struct Address {
  std::optional<std::string> name, adl, mailbox, host;
};
std::vector<Address> parse_addresses(std::string_view value);

// RFC 5322 date-time -> (Unix seconds, zone offset in minutes); nullopt if unparsable.
std::optional<std::pair<std::int64_t, int>> parse_date(std::string_view value);

// ---- BODY[section] ----------------------------------------------------------------------------

struct Section {
  std::vector<std::uint32_t> path;   // part numbers, e.g. {1, 2} for "1.2"
  enum class Text { none, header, header_fields, header_fields_not, mime, text } text = Text::none;
  std::vector<std::string> fields;   // for header_fields(_not)
};

// The octets a section names; nullopt for a part that does not exist (IMAP answers with an
// empty string, not an error). HEADER.FIELDS(.NOT) returns the matching lines plus the blank line.
std::optional<std::string> section_bytes(std::string_view message, const Part& root, const Section& s);

}  // namespace fcpmail::mime
