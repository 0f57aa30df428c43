#include "freemail/channel_message.h"

namespace fcpmail::freemail {
namespace {

std::expected<std::string, std::string> write_header(std::string_view type, const std::uint64_t* id,
                                                     const Props& extra) {
  Props props;
  props.add("messagetype", std::string(type));
  if (id != nullptr) {
    if (*id > max_message_id) {
      return std::unexpected("message id " + std::to_string(*id) + " does not fit a Java long");
    }
    props.add("id", std::to_string(*id));
  }
  for (const auto& field : extra.fields) {
    if (field.key == "messagetype" || field.key == "id") {
      return std::unexpected("extra props key '" + field.key + "' would replace Freemail's own");
    }
    if (props.contains(field.key)) return std::unexpected("extra props key '" + field.key + "' appears twice");
    props.fields.push_back(field);
  }
  auto text = write_props(props);
  if (!text) return text;
  *text += "\r\n";
  return text;
}

}  // namespace

std::string_view to_string(ChannelPayloadType type) {
  switch (type) {
    case ChannelPayloadType::cts: return "cts";
    case ChannelPayloadType::message: return "message";
    case ChannelPayloadType::ack: return "ack";
  }
  return "?";
}

std::expected<std::string, std::string> write_cts(const Props& extra) { return write_header("cts", nullptr, extra); }

std::expected<std::string, std::string> write_message(std::uint64_t id, std::string_view mail, const Props& extra) {
  auto header = write_header("message", &id, extra);
  if (!header) return header;
  header->append(mail);
  return header;
}

std::expected<std::string, std::string> write_ack(std::uint64_t id, const Props& extra) {
  return write_header("ack", &id, extra);
}

std::expected<std::uint64_t, std::string> parse_message_id(std::string_view text) {
  if (text.empty()) return std::unexpected(std::string("empty message id"));
  if (text.front() == '-') return std::unexpected("negative message id '" + std::string(text) + "'");
  if (text.front() == '+') return std::unexpected("signed message id '" + std::string(text) + "'");
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::unexpected("message id '" + std::string(text.substr(0, 40)) + "' is not a decimal number");
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max_message_id - digit) / 10) {
      return std::unexpected("message id '" + std::string(text.substr(0, 40)) +
                             "' is larger than a Java long (2^63-1)");
    }
    value = value * 10 + digit;
  }
  return value;
}

std::expected<ChannelPayload, std::string> read_channel_payload(std::string_view payload, std::size_t max_line) {
  ChannelPayload result;
  bool terminated = true;
  if (auto header = read_props_header(payload, max_line)) {
    result.header = std::move(header->props);
    result.body_offset = header->body_offset;
  } else {
    // Either a real error, or a header without its empty line: re-read as a whole props text.
    auto whole = read_props(payload, max_line);
    if (!whole) return std::unexpected(whole.error());
    result.header = std::move(*whole);
    result.body_offset = payload.size();
    terminated = false;
  }
  const auto type = result.header.get("messagetype");
  if (!type) return std::unexpected(std::string("channel payload has no messagetype"));
  if (*type == "cts") {
    result.type = ChannelPayloadType::cts;
  } else if (*type == "message") {
    result.type = ChannelPayloadType::message;
    if (!terminated) return std::unexpected(std::string("message payload has no empty line after its header"));
    const auto id = result.header.get("id");
    if (!id) return std::unexpected(std::string("message payload has no id"));
    auto parsed = parse_message_id(*id);
    if (!parsed) return std::unexpected(parsed.error());
    result.id = *parsed;
  } else if (*type == "ack") {
    result.type = ChannelPayloadType::ack;
    const auto ids = result.header.get("id");
    if (!ids) return std::unexpected(std::string("ack payload has no id"));
    std::string_view rest = *ids;
    while (true) {
      const std::size_t comma = rest.find(',');
      auto parsed = parse_message_id(rest.substr(0, comma));
      if (!parsed) return std::unexpected("ack id list '" + std::string(ids->substr(0, 60)) + "': " + parsed.error());
      result.acked_ids.push_back(*parsed);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    result.id = result.acked_ids.front();
  } else {
    return std::unexpected("unknown channel messagetype '" + std::string(type->substr(0, 40)) + "'");
  }
  result.body.assign(payload.substr(result.body_offset));
  return result;
}

}  // namespace fcpmail::freemail
