#include "fcp/message.h"
#include "fcp/ascii.h"

#include <charconv>

namespace fcp {

std::optional<std::string_view> Message::get(std::string_view key) const {
  for (const auto& [k, v] : fields)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

std::string_view Message::get_or(std::string_view key, std::string_view fallback) const {
  auto value = get(key);
  return value ? *value : fallback;
}

std::optional<std::int64_t> Message::get_int(std::string_view key) const {
  auto value = get(key);
  if (!value || value->empty()) return std::nullopt;
  std::int64_t result = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), result);
  if (ec != std::errc{} || end != value->data() + value->size()) return std::nullopt;
  return result;
}

std::optional<bool> Message::get_bool(std::string_view key) const {
  auto value = get(key);
  if (!value) return std::nullopt;
  const auto v = ascii::to_lower(*value);
  if (v == "true") return true;
  if (v == "false") return false;
  return std::nullopt;
}

Message& Message::set(std::string key, std::string value) {
  for (auto& [k, v] : fields) {
    if (k == key) {
      v = std::move(value);
      return *this;
    }
  }
  fields.emplace_back(std::move(key), std::move(value));
  return *this;
}

}  // namespace fcp
