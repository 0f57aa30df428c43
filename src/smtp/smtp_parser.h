// The SMTP command parser: pure functions from the bytes of one line to values. No sockets, no
// state, no clock. The session (smtp_session.h) decides what a command means in its state.
#pragma once
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcpmail::smtp {

enum class Verb { Ehlo, Helo, Auth, Mail, Rcpt, Data, Rset, Noop, Quit, Vrfy, Expn, Help, Starttls, Unknown };

struct Command {
  Verb verb = Verb::Unknown;
  std::string verb_text;  // as sent, for error messages (at most 16 chars)
  std::string argument;   // everything after the verb and its separating space(s), trailing spaces trimmed
};

// One command line (without its CR LF). Never fails: an unknown verb is Verb::Unknown.
Command parse_command(std::string_view line);

// An ESMTP parameter of MAIL or RCPT: keyword upper-cased, value as sent (empty if none).
struct Parameter {
  std::string keyword;
  std::string value;
  bool operator==(const Parameter&) const = default;
};

// The argument of MAIL ("FROM:<path> [params]") or RCPT ("TO:<path> [params]").
struct PathArgument {
  std::string address;  // the mailbox inside <>, source route removed; empty for <>
  std::vector<Parameter> parameters;
};

// `keyword` is "FROM" or "TO". Lenient where real clients are sloppy (a space after the colon,
// a path without angle brackets), strict where ambiguity would hurt (unbalanced brackets, junk).
// The error is a short sentence for a 501 reply.
std::expected<PathArgument, std::string> parse_path_argument(std::string_view argument, std::string_view keyword);


// The decoded SASL PLAIN message: authzid NUL authcid NUL passwd (RFC 4616).
struct PlainCredentials {
  std::string authzid;
  std::string authcid;
  std::string password;
};
std::optional<PlainCredentials> parse_sasl_plain(std::string_view decoded);

// Split the AUTH argument "MECHANISM [initial-response]"; mechanism upper-cased.
std::pair<std::string, std::optional<std::string>> split_auth_argument(std::string_view argument);

// Decimal value of a SIZE parameter; nothing if not a number or absurdly large.
std::optional<std::uint64_t> parse_size_value(std::string_view value);

// Case-insensitive ASCII comparison of two addresses.
bool same_address(std::string_view a, std::string_view b);

}  // namespace fcpmail::smtp
