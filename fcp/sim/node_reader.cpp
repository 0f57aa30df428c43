#include "node_reader.h"

namespace fcp::sim {

std::optional<std::string_view> NodeHeader::get(std::string_view key) const {
  for (const auto& [k, v] : fields)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

void NodeReader::feed(std::string_view bytes) { buffer_.append(bytes); }

void NodeReader::compact() {
  if (pos_ > 64 * 1024 || pos_ == buffer_.size()) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
}

std::optional<std::string> NodeReader::take_line(std::size_t limit, bool& too_long) {
  const auto lf = buffer_.find('\n', pos_);
  if (lf == std::string::npos) {
    too_long = buffer_.size() - pos_ > limit;
    return std::nullopt;
  }
  std::string line = buffer_.substr(pos_, lf - pos_);
  pos_ = lf + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();  // fred accepts CRLF
  too_long = line.size() > limit;
  return line;
}

void NodeReader::expect_payload(std::size_t length) {
  state_ = State::payload;
  payload_wanted_ = length;
  payload_.clear();
}

NodeReader::Event NodeReader::next() {
  for (;;) {
    bool too_long = false;
    switch (state_) {
      case State::name: {
        auto line = take_line(kMaxNameLine, too_long);
        if (too_long) return Event::too_long;
        if (!line) {
          compact();
          return Event::need_more;
        }
        if (line->empty()) continue;  // blank lines between messages are skipped
        header_ = NodeHeader{};
        header_.name = std::move(*line);
        state_ = State::fields;
        continue;
      }
      case State::fields: {
        auto line = take_line(kMaxFieldLine, too_long);
        if (too_long) return Event::too_long;
        if (!line) {
          compact();
          return Event::need_more;
        }
        if (line->empty() || line->front() == '#') continue;
        const auto eq = line->find('=');
        if (eq == std::string::npos) {
          header_.end_marker = std::move(*line);
          state_ = State::name;
          return Event::header;
        }
        std::string key = line->substr(0, eq);
        const auto first = key.find_first_not_of(" \t");
        const auto last = key.find_last_not_of(" \t");
        key = first == std::string::npos ? std::string() : key.substr(first, last - first + 1);
        std::string value = line->substr(eq + 1);
        bool merged = false;
        for (auto& [k, v] : header_.fields) {
          if (k == key) {
            v += ";" + value;
            merged = true;
            break;
          }
        }
        if (!merged) header_.fields.emplace_back(std::move(key), std::move(value));
        continue;
      }
      case State::payload: {
        const std::size_t available = buffer_.size() - pos_;
        const std::size_t wanted = payload_wanted_ - payload_.size();
        const std::size_t take = available < wanted ? available : wanted;
        payload_.append(buffer_, pos_, take);
        pos_ += take;
        compact();
        if (payload_.size() < payload_wanted_) return Event::need_more;
        state_ = State::name;
        return Event::payload;
      }
    }
  }
}

}  // namespace fcp::sim
