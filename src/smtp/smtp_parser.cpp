#include "smtp/smtp_parser.h"

#include "mail/ascii.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace fcpmail::smtp {
namespace {

using ascii::iequals;
using ascii::to_upper;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct VerbName {
  std::string_view name;
  Verb verb;
};
constexpr std::array<VerbName, 13> verbs{{{"EHLO", Verb::Ehlo},
                                          {"HELO", Verb::Helo},
                                          {"AUTH", Verb::Auth},
                                          {"MAIL", Verb::Mail},
                                          {"RCPT", Verb::Rcpt},
                                          {"DATA", Verb::Data},
                                          {"RSET", Verb::Rset},
                                          {"NOOP", Verb::Noop},
                                          {"QUIT", Verb::Quit},
                                          {"VRFY", Verb::Vrfy},
                                          {"EXPN", Verb::Expn},
                                          {"HELP", Verb::Help},
                                          {"STARTTLS", Verb::Starttls}}};

bool esmtp_keyword_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-'; }
// esmtp-value: any printable US-ASCII except '=' and space (RFC 5321 4.1.2).
bool esmtp_value_char(char c) { return c >= 33 && c <= 126 && c != '='; }

}  // namespace

Command parse_command(std::string_view line) {
  Command command;
  std::size_t end = 0;
  while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
  const std::string_view verb = line.substr(0, end);
  command.verb_text = std::string(verb.substr(0, 16));
  for (const auto& v : verbs) {
    if (iequals(verb, v.name)) command.verb = v.verb;
  }
  command.argument = std::string(trim(line.substr(end)));
  return command;
}

std::expected<PathArgument, std::string> parse_path_argument(std::string_view argument, std::string_view keyword) {
  std::string_view rest = trim(argument);
  if (rest.size() <= keyword.size() || !iequals(rest.substr(0, keyword.size()), keyword) ||
      rest[keyword.size()] != ':') {
    return std::unexpected("Syntax: " + std::string(keyword == "FROM" ? "MAIL FROM:<address>" : "RCPT TO:<address>"));
  }
  rest = trim(rest.substr(keyword.size() + 1));  // some clients put a space after the colon
  PathArgument result;
  std::string_view path;
  if (!rest.empty() && rest.front() == '<') {
    // Find the closing '>' outside a quoted local part.
    bool quoted = false;
    std::size_t close = std::string_view::npos;
    for (std::size_t i = 1; i < rest.size(); ++i) {
      const char c = rest[i];
      if (quoted && c == '\\') {
        ++i;
        continue;
      }
      if (c == '"') quoted = !quoted;
      else if (!quoted && c == '<') return std::unexpected(std::string("Unexpected '<' inside the address"));
      else if (!quoted && c == '>') {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos) return std::unexpected(std::string("The address has no closing '>'"));
    path = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t')
      return std::unexpected(std::string("Unexpected characters after the address"));
  } else {
    std::size_t end = 0;
    while (end < rest.size() && rest[end] != ' ' && rest[end] != '\t') ++end;
    path = rest.substr(0, end);
    rest = rest.substr(end);
    if (path.empty()) return std::unexpected(std::string("The address is missing"));
    if (path.find_first_of("<>") != std::string_view::npos)
      return std::unexpected(std::string("Unbalanced '<' or '>' in the address"));
  }
  // Source route "@a,@b:user@host" (RFC 5321 allows it and says to ignore it).
  if (!path.empty() && path.front() == '@') {
    const auto colon = path.find(':');
    if (colon == std::string_view::npos) return std::unexpected(std::string("Malformed source route in the address"));
    path = path.substr(colon + 1);
  }
  for (const char c : path) {
    if (static_cast<unsigned char>(c) < 32 || c == 127)
      return std::unexpected(std::string("Control characters are not allowed in an address"));
  }
  result.address = std::string(path);

  rest = trim(rest);
  while (!rest.empty()) {
    std::size_t end = 0;
    while (end < rest.size() && rest[end] != ' ' && rest[end] != '\t') ++end;
    const std::string_view param = rest.substr(0, end);
    rest = trim(rest.substr(end));
    const auto eq = param.find('=');
    const std::string_view key = param.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    if (key.empty() || !std::isalnum(static_cast<unsigned char>(key.front())) ||
        !std::all_of(key.begin(), key.end(), esmtp_keyword_char))
      return std::unexpected("Malformed parameter '" + std::string(param.substr(0, 40)) + "'");
    if (eq != std::string_view::npos && (value.empty() || !std::all_of(value.begin(), value.end(), esmtp_value_char)))
      return std::unexpected("Malformed value of parameter " + to_upper(key));
    result.parameters.push_back({to_upper(key), std::string(value)});
  }
  return result;
}


std::optional<PlainCredentials> parse_sasl_plain(std::string_view decoded) {
  const auto first = decoded.find('\0');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = decoded.find('\0', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (decoded.find('\0', second + 1) != std::string_view::npos) return std::nullopt;
  PlainCredentials credentials{std::string(decoded.substr(0, first)),
                               std::string(decoded.substr(first + 1, second - first - 1)),
                               std::string(decoded.substr(second + 1))};
  if (credentials.authcid.empty()) return std::nullopt;
  return credentials;
}

std::pair<std::string, std::optional<std::string>> split_auth_argument(std::string_view argument) {
  argument = trim(argument);
  std::size_t end = 0;
  while (end < argument.size() && argument[end] != ' ' && argument[end] != '\t') ++end;
  std::string mechanism = to_upper(argument.substr(0, end));
  const std::string_view rest = trim(argument.substr(end));
  if (rest.empty()) return {std::move(mechanism), std::nullopt};
  return {std::move(mechanism), std::string(rest)};
}

std::optional<std::uint64_t> parse_size_value(std::string_view value) {
  if (value.empty() || value.size() > 18) return std::nullopt;
  std::uint64_t n = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

bool same_address(std::string_view a, std::string_view b) { return iequals(a, b); }

}  // namespace fcpmail::smtp
