#include "freemail/props.h"

#include <unordered_set>

namespace fcpmail::freemail {
namespace {

struct ParseResult {
  Props props;
  std::size_t end = 0;           // offset after the last consumed terminator
  bool stopped_at_blank = false; // header mode: an empty line was found
};

// A key for an error message: keys are the peer's bytes, so long ones are cut.
std::string quoted_key(std::string_view key) {
  constexpr std::size_t shown = 40;
  return "'" + std::string(key.substr(0, shown)) + (key.size() > shown ? "...'" : "'");
}

// Shared line scanner. In header mode the first empty line ends the scan; otherwise empty lines
// are skipped. Linear: each byte is looked at once, each key hashed once.
std::expected<ParseResult, std::string> scan(std::string_view text, std::size_t max_line, std::size_t max_lines,
                                             bool header_mode) {
  ParseResult result;
  std::unordered_set<std::string_view> keys;  // views into `text`
  std::size_t pos = 0;
  std::size_t line_number = 0;
  while (pos < text.size()) {
    ++line_number;
    // Checked before the line is read, so a header that ends at line max_lines + 1 still reads.
    if (line_number > max_lines && !(header_mode && (text[pos] == '\n' || text[pos] == '\r'))) {
      return std::unexpected("props text has more than " + std::to_string(max_lines) +
                             " lines (Freemail writes about ten); refused without reading further");
    }
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
    if (key.size() > props_max_key) {
      return std::unexpected("props key " + quoted_key(key) + " on line " + std::to_string(line_number) + " is " +
                             std::to_string(key.size()) + " bytes long (limit " + std::to_string(props_max_key) +
                             ")");
    }
    if (!keys.insert(key).second) {
      return std::unexpected("props key " + quoted_key(key) + " appears twice (line " +
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

std::expected<Props, std::string> read_props(std::string_view text, std::size_t max_line, std::size_t max_lines) {
  auto scanned = scan(text, max_line, max_lines, false);
  if (!scanned) return std::unexpected(scanned.error());
  return std::move(scanned->props);
}

std::expected<PropsHeader, std::string> read_props_header(std::string_view text, std::size_t max_line,
                                                          std::size_t max_lines) {
  auto scanned = scan(text, max_line, max_lines, true);
  if (!scanned) return std::unexpected(scanned.error());
  if (!scanned->stopped_at_blank) {
    return std::unexpected(std::string("props header is not terminated by an empty line"));
  }
  return PropsHeader{std::move(scanned->props), scanned->end};
}

}  // namespace fcpmail::freemail
