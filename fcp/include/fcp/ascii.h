// ASCII case helpers: FCP field names and values ("true", "Direct", "CHK"), IMAP atoms, SMTP verbs,
// header names, MIME tokens and addresses are all case-insensitive in ASCII only (RFC 3501, 5321,
// 5322, 2045; Fred compares in ASCII). std::tolower/std::toupper depend on the C locale and take an
// int that must be an unsigned char, so files used to carry their own wrappers; this is the one
// definition: locale-independent, bytes >= 0x80 left as they are, constexpr and header-only. It
// lives in fcp/ because fcp is usable on its own and is the lowest library; fcpmail's areas reach
// it as src/mail/ascii.h (fcpmail::ascii), which sees this header and no other of fcp's.
#pragma once

#include <algorithm>
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

constexpr bool iends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

// Where `needle` first occurs in `hay` ignoring case, or npos; an empty needle is found at 0.
constexpr std::size_t ifind(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (iequals(hay.substr(i, needle.size()), needle)) return i;
  return std::string_view::npos;
}

constexpr bool icontains(std::string_view hay, std::string_view needle) {
  return ifind(hay, needle) != std::string_view::npos;
}

// Strict weak order that ignores case (compares the lower-cased bytes), for sorting keywords.
constexpr bool iless(std::string_view a, std::string_view b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return lower(x) < lower(y); });
}

}  // namespace fcp::ascii
