#include "fcp/codec.h"
#include "fcp/ascii.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace fcp {
namespace {

using ascii::iequals;

bool has_forbidden_char(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// A value shown in an error message: cut short and without control characters.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  if (text.size() > 80) out += "...";
  return out;
}

CodecError error(CodecErrorKind kind, std::string detail) { return CodecError{kind, std::move(detail)}; }

std::optional<std::uint64_t> parse_length(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

bool carries_payload(const Message& message) {
  const std::string_view name = message.name;
  if (name == "AllData") return true;
  if (name == "ClientPut") return iequals(message.get_or("UploadFrom", "direct"), "direct");
  if (name == "FCPPluginMessage" || name == "FCPPluginReply") return message.has("DataLength");
  return false;
}

std::expected<std::string, CodecError> encode(const Message& message) {
  if (message.name.empty()) return std::unexpected(error(CodecErrorKind::empty_name, "empty message name"));
  if (has_forbidden_char(message.name))
    return std::unexpected(error(CodecErrorKind::invalid_value, "message name holds CR, LF or NUL"));
  std::size_t size = message.name.size() + 16;
  for (const auto& [key, value] : message.fields) {
    if (key.empty() || key.find('=') != std::string::npos || has_forbidden_char(key))
      return std::unexpected(error(CodecErrorKind::invalid_value,
                                   "field key '" + shown(key) + "' is empty or holds '=', CR, LF or NUL"));
    if (has_forbidden_char(value))
      return std::unexpected(error(CodecErrorKind::invalid_value, "value of field '" + key + "' holds CR, LF or NUL"));
    size += key.size() + value.size() + 2;
  }
  const bool with_payload = message.payload.has_value() || carries_payload(message);
  const std::string_view payload = message.payload ? std::string_view(*message.payload) : std::string_view();
  std::string out;
  out.reserve(size + payload.size() + 24);
  out += message.name;
  out += '\n';
  bool wrote_length = false;
  for (const auto& [key, value] : message.fields) {
    out += key;
    out += '=';
    if (with_payload && key == "DataLength") {
      if (wrote_length) {  // a repeated DataLength would be ambiguous: write it once
        out.resize(out.size() - key.size() - 1);
        continue;
      }
      out += std::to_string(payload.size());
      wrote_length = true;
    } else {
      out += value;
    }
    out += '\n';
  }
  if (with_payload) {
    if (!wrote_length) {
      out += "DataLength=";
      out += std::to_string(payload.size());
      out += '\n';
    }
    out += "Data\n";
    out += payload;
  } else {
    out += "EndMessage\n";
  }
  return out;
}

StreamParser::StreamParser(CodecLimits limits) : limits_(limits) {}

void StreamParser::feed(std::string_view bytes) {
  compact();
  buffer_.append(bytes);
}

std::size_t StreamParser::buffered() const { return buffer_.size() - read_pos_; }

void StreamParser::compact() {
  if (read_pos_ == 0) return;
  if (read_pos_ == buffer_.size()) {
    buffer_.clear();
    read_pos_ = 0;
  } else if (read_pos_ >= 4096 && read_pos_ * 2 >= buffer_.size()) {
    buffer_.erase(0, read_pos_);
    read_pos_ = 0;
  }
}

StreamParser::Next StreamParser::next() {
  for (;;) {
    const std::size_t available = buffer_.size() - read_pos_;
    switch (phase_) {
      case Phase::skip_payload: {
        const std::size_t drop = std::min<std::size_t>(available, payload_expected_);
        read_pos_ += drop;
        payload_expected_ -= drop;
        if (payload_expected_ > 0) return {};
        phase_ = Phase::name;
        continue;
      }
      case Phase::payload: {
        if (available < payload_expected_) return {};
        partial_->payload = buffer_.substr(read_pos_, payload_expected_);
        read_pos_ += payload_expected_;
        payload_expected_ = 0;
        phase_ = Phase::name;
        Next result;
        result.message = std::move(partial_);
        partial_.reset();
        return result;
      }
      case Phase::skip_line: {
        const void* lf = std::memchr(buffer_.data() + read_pos_, '\n', available);
        if (!lf) {
          read_pos_ = buffer_.size();
          return {};
        }
        read_pos_ = static_cast<std::size_t>(static_cast<const char*>(lf) - buffer_.data()) + 1;
        phase_ = Phase::name;
        continue;
      }
      case Phase::name:
      case Phase::fields:
        break;
    }

    const char* begin = buffer_.data() + read_pos_;
    const void* lf = std::memchr(begin, '\n', available);
    if (!lf) {
      // A line of max_line bytes may still be waiting for its CR LF: only more than max_line + 1
      // bytes (content plus a CR) without LF are surely too long. Deciding earlier made the
      // outcome depend on how the stream was split (found by fuzz/fcp_stream).
      if (available > limits_.max_line + 1) {
        partial_.reset();
        phase_ = Phase::skip_line;
        read_pos_ = buffer_.size();
        Next result;
        result.error = error(CodecErrorKind::line_too_long,
                             "line longer than " + std::to_string(limits_.max_line) + " bytes");
        return result;
      }
      return {};
    }
    const std::size_t line_length = static_cast<std::size_t>(static_cast<const char*>(lf) - begin);
    std::string_view line(begin, line_length);
    read_pos_ += line_length + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits_.max_line) {
      partial_.reset();
      phase_ = Phase::name;
      Next result;
      result.error = error(CodecErrorKind::line_too_long,
                           "line longer than " + std::to_string(limits_.max_line) + " bytes");
      return result;
    }

    if (phase_ == Phase::name) {
      if (line.empty()) continue;
      partial_.emplace(std::string(line));
      phase_ = Phase::fields;
      continue;
    }

    // Phase::fields
    if (line.empty() || line.front() == '#') continue;
    if (const auto eq = line.find('='); eq != std::string_view::npos) {
      if (partial_->fields.size() >= limits_.max_fields) {
        Next result;
        result.error = error(CodecErrorKind::too_many_fields,
                             partial_->name + " has more than " + std::to_string(limits_.max_fields) + " fields");
        partial_.reset();
        phase_ = Phase::name;  // the remaining field lines come back as unknown messages/errors
        return result;
      }
      partial_->fields.emplace_back(std::string(trim(line.substr(0, eq))), std::string(line.substr(eq + 1)));
      continue;
    }

    // The terminator.
    phase_ = Phase::name;
    const bool is_data = line == "Data";
    if (!is_data && !line.starts_with("End")) {
      Next result;
      result.error = error(CodecErrorKind::bad_field_line, "Invalid end marker: " + shown(line));
      partial_.reset();
      return result;
    }
    const auto length_field = partial_->get("DataLength");
    if (!carries_payload(*partial_) && !(is_data && length_field)) {
      Next result;
      result.message = std::move(partial_);
      partial_.reset();
      return result;
    }
    Next result;
    if (!length_field) {
      result.error = error(CodecErrorKind::missing_data_length, partial_->name + " carries data but has no DataLength");
      partial_.reset();
      return result;
    }
    const auto length = parse_length(*length_field);
    if (!length) {
      result.error = error(CodecErrorKind::bad_data_length, "DataLength '" + shown(*length_field) + "' is not a number");
      partial_.reset();
      return result;
    }
    if (*length > limits_.max_payload) {
      result.error = error(CodecErrorKind::payload_too_large,
                           partial_->name + " DataLength " + std::to_string(*length) + " above the limit of " +
                               std::to_string(limits_.max_payload) + " bytes");
      partial_.reset();
      payload_expected_ = static_cast<std::size_t>(*length);
      phase_ = Phase::skip_payload;  // drop the payload to stay in step with the stream
      return result;
    }
    payload_expected_ = static_cast<std::size_t>(*length);
    phase_ = Phase::payload;
  }
}

}  // namespace fcp
