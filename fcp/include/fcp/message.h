// One type for every FCP 2.0 message: a name, ordered fields and an optional payload.
// Typed accessors read what a caller needs; there is no class per message kind.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcp {

struct Message {
  std::string name;
  std::vector<std::pair<std::string, std::string>> fields;  // wire order kept
  std::optional<std::string> payload;                        // raw bytes after a `Data` line

  Message() = default;
  explicit Message(std::string message_name) : name(std::move(message_name)) {}

  // First value of `key`, if present.
  std::optional<std::string_view> get(std::string_view key) const;
  // Value of `key`, or `fallback` when absent.
  std::string_view get_or(std::string_view key, std::string_view fallback) const;
  // Decimal integer value of `key`; nothing if absent or not a number.
  std::optional<std::int64_t> get_int(std::string_view key) const;
  // "true"/"false" (case-insensitive, as fred reads booleans); nothing if absent or neither.
  std::optional<bool> get_bool(std::string_view key) const;
  bool has(std::string_view key) const { return get(key).has_value(); }

  // Replace the first field named `key`, or append it. Returns *this for chaining.
  Message& set(std::string key, std::string value);
  Message& set(std::string key, std::int64_t value) { return set(std::move(key), std::to_string(value)); }
  Message& set(std::string key, bool value) { return set(std::move(key), std::string(value ? "true" : "false")); }
  Message& set(std::string key, const char* value) { return set(std::move(key), std::string(value)); }
};

}  // namespace fcp
