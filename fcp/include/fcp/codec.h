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
  empty_name,         // an empty message name line
};

struct CodecError {
  CodecErrorKind kind;
  std::string detail;  // human-readable, names the offending line or field
};

struct CodecLimits {
  std::size_t max_line = 64 * 1024;              // fred limits field lines (fcp-protocol.md §1.4)
  std::size_t max_payload = 64 * 1024 * 1024;    // callers bound it further by MaxSize
};

// Which messages carry a payload after `Data`, decided by message name as fred does:
// e.g. AllData always; ClientPut when UploadFrom is direct (the default); FCPPluginMessage and
// FCPPluginReply when a DataLength is given.
bool carries_payload(const Message& message);

// Serialize. Refuses (returns an error, writes nothing) a message whose name/key/value holds
// CR, LF or NUL. A message with a payload is written with DataLength set to its size and `Data`.
std::expected<std::string, CodecError> encode(const Message& message);

// Incremental parser over a byte stream: feed any split of the input, get the same messages.
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
  struct State;
  CodecLimits limits_;
  std::string buffer_;
  std::size_t read_pos_ = 0;
  // parsing state of the message in progress
  std::optional<Message> partial_;
  std::size_t payload_expected_ = 0;
  bool in_payload_ = false;
};

}  // namespace fcp
