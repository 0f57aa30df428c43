// FCP 2.0 wire codec, pure: bytes in, messages out, and back. No I/O.
// Wire form: `Name\n` `Key=Value\n`... then `EndMessage\n`, or `Data\n` followed by exactly
// DataLength payload bytes (and nothing after them). fred uses bare LF.
#pragma once
#include "fcp/message.h"

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace fcp {

enum class CodecErrorKind {
  invalid_value,      // a name, key or value holds CR, LF or NUL, or a key holds '=' (encode)
  missing_data_length,// a payload-carrying message ended in `Data` with no valid DataLength
  bad_data_length,    // DataLength is not a non-negative decimal number
  payload_too_large,  // DataLength above the parser's limit
  line_too_long,      // a header line above the parser's limit
  bad_field_line,     // a field line with no '=' (fred reports "Invalid end marker")
  empty_name,         // an empty message name (encode; the parser skips empty lines as fred does)
  too_many_fields,    // more field lines in one message than the parser's limit
};

struct CodecError {
  CodecErrorKind kind;
  std::string detail;  // human-readable, names the offending line or field
};

struct CodecLimits {
  std::size_t max_line = 64 * 1024;              // fred limits field lines (fcp-protocol.md §1.4)
  std::size_t max_payload = 64 * 1024 * 1024;    // callers bound it further by MaxSize
  std::size_t max_fields = 4096;                 // keeps one message's memory bounded
};

// Which messages carry a payload after `Data`, decided by message name as fred does:
// e.g. AllData always; ClientPut when UploadFrom is direct (the default); FCPPluginMessage and
// FCPPluginReply when a DataLength is given.
// The parser reads DataLength payload bytes when carries_payload() says so (whatever the
// terminator, as fred does) or when the terminator is `Data` and a DataLength is present (so an
// unknown data-carrying message from a newer node keeps the stream in step). DataFound carries a
// DataLength field but ends with EndMessage and has no payload.
bool carries_payload(const Message& message);

// Serialize. Refuses (returns an error, writes nothing) a message whose name/key/value holds
// CR, LF or NUL. A message with a payload is written with DataLength set to its size and `Data`.
std::expected<std::string, CodecError> encode(const Message& message);

// Incremental parser over a byte stream: feed any split of the input, get the same messages.
// Framing follows fred's reader: LF line ends (a CR before LF is dropped); empty lines before the
// name and inside the field block are skipped; `#` comment lines in the field block are skipped;
// the first '=' splits key (whitespace-trimmed) from value (kept verbatim); the first line with no
// '=' is the terminator: `Data` or anything starting with `End` ends the message, any other line
// is an error (fred: ProtocolError 3 "Invalid end marker") and the next line starts a new message.
// Repeated keys are kept as separate fields in wire order (get() returns the first).
class StreamParser {
 public:
  explicit StreamParser(CodecLimits limits = {});

  void feed(std::string_view bytes);

  // The next complete message, an error for the next malformed one, or nothing if more bytes
  // are needed. After an error the parser resynchronises as fred does (see fcp-protocol.md) and
  // keeps going; it never throws and never hangs.
  struct Next {
    std::optional<Message> message;
    std::optional<CodecError> error;
    bool need_more() const { return !message && !error; }
  };
  Next next();

  std::size_t buffered() const;  // bytes held, for memory accounting

 private:
  enum class Phase { name, fields, payload, skip_line, skip_payload };
  void compact();

  CodecLimits limits_;
  std::string buffer_;
  std::size_t read_pos_ = 0;
  // parsing state of the message in progress
  Phase phase_ = Phase::name;
  std::optional<Message> partial_;
  std::size_t payload_expected_ = 0;  // bytes still to take (payload) or to drop (skip_payload)
};

}  // namespace fcp
