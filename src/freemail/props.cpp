#include "freemail/props.h"

namespace fcpmail::freemail {
namespace {

struct ParseResult {
  Props props;
  std::size_t end = 0;           // offset after the last consumed terminator
  bool stopped_at_blank = false; // header mode: an empty line was found
};

// Shared line scanner. In header mode the first empty line ends the scan; otherwise empty lines
// are skipped.
std::expected<ParseResult, std::string> scan(std::string_view text, std::size_t max_line, bool header_mode) {
  ParseResult result;
  std::size_t pos = 0;
  std::size_t line_number = 0;
  while (pos < text.size()) {
    ++line_number;
    std::size_t end = pos;
    while (end < text.size() && text[end] != '\n' && text[end] != '\r') ++end;
    const std::string_view line = text.substr(pos, end - pos);
    if (line.size() > max_line) {
      return std::unexpected("props line " + std::to_string(line_number) + " is " +
                             std::to_string(line.size()) + " bytes long (limit " + std::to_string(max_line) +
                             ")");
    }
    std::size_t next = end;
    if (next < text.size()) {
      if (text[next] == '\r' && next + 1 < text.size() && text[next + 1] == '\n') {
        next += 2;
      } else {
        next += 1;
      }
    }
    pos = next;
    if (line.empty()) {
      if (header_mode) {
        result.end = pos;
        result.stopped_at_blank = true;
        return result;
      }
      continue;
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;  // Freemail ignores lines without '='
    if (eq == 0) return std::unexpected("props line " + std::to_string(line_number) + " has an empty key");
    const std::string_view key = line.substr(0, eq);
    if (result.props.contains(key)) {
      return std::unexpected("props key '" + std::string(key) + "' appears twice (line " +
                             std::to_string(line_number) + ")");
    }
    result.props.add(std::string(key), std::string(line.substr(eq + 1)));
  }
  result.end = pos;
  return result;
}

}  // namespace

std::optional<std::string_view> Props::get(std::string_view key) const {
  for (const auto& field : fields) {
    if (field.key == key) return std::string_view(field.value);
  }
  return std::nullopt;
}

std::expected<std::string, std::string> write_props(const Props& props) {
  std::string out;
  for (const auto& [key, value] : props.fields) {
    if (key.empty()) return std::unexpected(std::string("props key is empty"));
    if (key.find('=') != std::string::npos) {
      return std::unexpected("props key '" + key + "' contains '='");
    }
    if (key.find_first_of("\r\n") != std::string::npos) {
      return std::unexpected(std::string("props key contains a line break"));
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      return std::unexpected("value of props key '" + key + "' contains a line break");
    }
    out += key;
    out += '=';
    out += value;
    out += "\r\n";
  }
  return out;
}

std::expected<Props, std::string> read_props(std::string_view text, std::size_t max_line) {
  auto scanned = scan(text, max_line, false);
  if (!scanned) return std::unexpected(scanned.error());
  return std::move(scanned->props);
}

std::expected<PropsHeader, std::string> read_props_header(std::string_view text, std::size_t max_line) {
  auto scanned = scan(text, max_line, true);
  if (!scanned) return std::unexpected(scanned.error());
  if (!scanned->stopped_at_blank) {
    return std::unexpected(std::string("props header is not terminated by an empty line"));
  }
  return PropsHeader{std::move(scanned->props), scanned->end};
}

}  // namespace fcpmail::freemail
