// How fred's FCP input handler reads a connection, as a pure incremental reader.
// It differs from a client-side parser on purpose: the node reads a header (name line, fields,
// end marker) and only then decides, from the message type and its validity, whether a payload
// follows. A rejected ClientPut therefore leaves its payload in the stream to be read as the next
// message, exactly as fred does (fred-recorded/11-protocol-errors.txt, connection 3).
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcp::sim {

struct NodeHeader {
  std::string name;
  std::vector<std::pair<std::string, std::string>> fields;  // repeated keys joined with ';'
  std::optional<std::string> end_marker;                    // the first line without '='

  std::optional<std::string_view> get(std::string_view key) const;
};

class NodeReader {
 public:
  // fred: message name lines up to 128 bytes, field lines up to 4096 bytes.
  static constexpr std::size_t kMaxNameLine = 128;
  static constexpr std::size_t kMaxFieldLine = 4096;

  enum class Event { need_more, header, payload, too_long };

  void feed(std::string_view bytes);

  // Advances: a complete header, a complete payload (after expect_payload), a line over fred's
  // limit (fred drops the connection silently), or nothing yet.
  Event next();
  NodeHeader take_header() { return std::move(header_); }
  std::string take_payload() { return std::move(payload_); }

  // After a header: the next `length` bytes are the message's payload.
  void expect_payload(std::size_t length);
  bool awaiting_payload() const { return state_ == State::payload; }

  std::size_t buffered() const { return buffer_.size() - pos_; }

 private:
  enum class State { name, fields, payload };
  std::optional<std::string> take_line(std::size_t limit, bool& too_long);
  void compact();

  std::string buffer_;
  std::size_t pos_ = 0;
  State state_ = State::name;
  NodeHeader header_;
  std::string payload_;
  std::size_t payload_wanted_ = 0;
};

}  // namespace fcp::sim
