// Freemail "props" text: `key=value` lines (utils/PropsFile.java). There is no escaping: a line is
// split at its first '=', keys are case-sensitive, values run to the end of the line.
//
// Writer: exact — the fields in the order given, each line ended by CRLF (what Freemail sends on
// the wire), nothing else. Reader: tolerant of what Freemail accepts — any order, lines ended by
// LF, CRLF or a lone CR (Java BufferedReader.readLine), lines without '=' skipped (Java skips them),
// unknown keys kept for the caller to ignore. Stricter than Java where Java silently loses data:
// a duplicate key, an over-long line or key, or more lines than a props text has any use for is
// an error with a reason. Linear in the input: duplicates are found with a hash set.
//
// Channel payloads and the RTS plaintext are a props *header*: the lines up to the first empty
// line, followed by a body (read_props_header).
#pragma once

#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail::freemail {

struct PropsField {
  std::string key;
  std::string value;
  friend bool operator==(const PropsField&, const PropsField&) = default;
};

// Ordered key/value fields. Keys are unique in anything the reader returns.
struct Props {
  std::vector<PropsField> fields;

  // Value of `key`, or nothing. Exact (case-sensitive) key comparison, like Freemail.
  std::optional<std::string_view> get(std::string_view key) const;
  bool contains(std::string_view key) const { return get(key).has_value(); }
  // Appends a field (the writer checks it).
  void add(std::string key, std::string value) { fields.push_back({std::move(key), std::move(value)}); }

  friend bool operator==(const Props&, const Props&) = default;
};

// Longest line the reader accepts, in bytes without its terminator. A Freemail RSA-4096 modulus
// line is about 840 bytes; 4096 leaves room while bounding what a peer can make us hold per line.
inline constexpr std::size_t default_props_max_line = 4096;

// Most lines the reader looks at before it refuses the text. Every line counts: fields, lines
// without '=' and (in a whole text) empty ones; the empty line that ends a header does not.
// Freemail writes at most about ten (an accprops file, an RTS has six, a mailpage three), and
// every props text but our own key files comes from a peer, so the cap bounds what one blob can
// cost before anything about it is known.
inline constexpr std::size_t default_props_max_lines = 64;

// Longest key the reader accepts, in bytes. Freemail's longest is `asymkey.privexponent` (20).
inline constexpr std::size_t props_max_key = 128;

// `key=value\r\n` per field, in order. Rejects an empty key, a key containing '=', and a key or
// value containing CR or LF (the format has no escaping, so they would corrupt the file).
std::expected<std::string, std::string> write_props(const Props& props);

// Reads a whole props text (e.g. a mailpage or an accprops key file). Empty lines are skipped.
std::expected<Props, std::string> read_props(std::string_view text,
                                             std::size_t max_line = default_props_max_line,
                                             std::size_t max_lines = default_props_max_lines);

struct PropsHeader {
  Props props;
  std::size_t body_offset = 0;  // index of the first byte after the terminator of the empty line
};

// Reads the lines up to the first empty line. Error if the text ends before an empty line.
std::expected<PropsHeader, std::string> read_props_header(std::string_view text,
                                                          std::size_t max_line = default_props_max_line,
                                                          std::size_t max_lines = default_props_max_lines);

}  // namespace fcpmail::freemail
