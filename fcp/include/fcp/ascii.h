// ASCII case helpers for FCP field names and values ("true", "Direct", "CHK"), which Fred compares
// in ASCII only. The fcp library is usable on its own, without fcpmail's src/, so it keeps this
// small copy of src/mail/ascii.h's core rather than depending on it; both are locale-independent
// (std::tolower follows the C locale) and leave bytes >= 0x80 alone.
#pragma once

#include <string>
#include <string_view>

namespace fcp::ascii {

constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

constexpr std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}

constexpr std::string to_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = upper(c);
  return out;
}

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

constexpr bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace fcp::ascii
