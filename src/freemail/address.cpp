#include "freemail/address.h"

#include "freemail/base32.h"
#include "mail/ascii.h"

#include <fcp/freenet_base64.h>

#include <algorithm>

namespace fcpmail::freemail {
namespace {

bool is_atext(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;  // 8-bit local parts are tolerated (Freemail only logs them)
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~.").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string clean_display_name(std::string_view name) {
  name = trim(name);
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    std::string out;
    for (std::size_t i = 1; i + 1 < name.size(); ++i) {
      if (name[i] == '\\' && i + 2 < name.size()) ++i;  // quoted-pair
      out.push_back(name[i]);
    }
    return out;
  }
  return std::string(name);
}

// Why a label that is not 52 base32 characters was given, for the most common mistakes.
std::string explain_bad_label(std::string_view label) {
  if (label.size() == 43) {
    // A WoT identity id typed into the domain (Freenet base64, case-sensitive).
    if (auto bytes = fcp::freenet_base64_decode(label); bytes && bytes->size() == identity_size) {
      return "the domain label '" + std::string(label) +
             "' is a Freenet base64 identity id; Freemail addresses use its base32 form: ...@" +
             base32_encode(*bytes, Base32Case::lower) + ".freemail";
    }
  }
  if (label.size() > identity_label_size) {
    if (auto text = base32_decode(label);
        text && std::count(text->begin(), text->end(), ',') >= 2 &&
        std::all_of(text->begin(), text->end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
      return "the domain label is a Freemail 0.1 mailsite-key address, which Freemail 0.2 no longer "
             "accepts";
    }
  }
  return "the domain label has " + std::to_string(label.size()) + " characters; a Freemail 0.2 label has " +
         std::to_string(identity_label_size) + " (base32 of the 32-byte identity)";
}

}  // namespace

std::string Identity::label() const { return base32_encode(bytes, Base32Case::lower); }
std::string Identity::domain() const { return label() + std::string(freemail_tld); }
std::string Identity::base64_id() const { return fcp::freenet_base64_encode(bytes); }

std::expected<Identity, std::string> identity_from_bytes(std::string_view bytes) {
  if (bytes.size() != identity_size) {
    return std::unexpected("an identity routing key has " + std::to_string(identity_size) + " bytes, not " +
                           std::to_string(bytes.size()));
  }
  return Identity{std::string(bytes)};
}

std::expected<Identity, std::string> identity_from_base64_id(std::string_view id) {
  if (id.empty()) return std::unexpected(std::string("empty identity id"));
  auto bytes = fcp::freenet_base64_decode(id);
  if (!bytes) return std::unexpected("identity id is not Freenet base64: " + bytes.error());
  if (bytes->size() != identity_size) {
    return std::unexpected("identity id decodes to " + std::to_string(bytes->size()) + " bytes, not " +
                           std::to_string(identity_size));
  }
  return Identity{std::move(*bytes)};
}

std::expected<Identity, std::string> identity_from_label(std::string_view label) {
  if (ascii::iends_with(label, freemail_tld)) label.remove_suffix(freemail_tld.size());
  if (label.empty()) return std::unexpected(std::string("the domain has no identity label before .freemail"));
  if (label.find('.') != std::string_view::npos) {
    return std::unexpected("the domain has more than one label before .freemail ('" + std::string(label) + "')");
  }
  if (label.size() != identity_label_size) return std::unexpected(explain_bad_label(label));
  auto bytes = base32_decode(label);
  if (!bytes) return std::unexpected("the domain label is not base32: " + bytes.error());
  return Identity{std::move(*bytes)};
}

std::string Address::address() const { return local_part + "@" + identity.domain(); }

std::string Address::to_string() const {
  if (display_name.empty()) return address();
  const bool plain = std::all_of(display_name.begin(), display_name.end(), [](char c) {
    return c == ' ' || (is_atext(c) && c != '.');
  });
  if (plain) return display_name + " <" + address() + ">";
  std::string quoted = "\"";
  for (const char c : display_name) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return quoted + "\" <" + address() + ">";
}

std::expected<Address, std::string> make_address(std::string_view local_part, const Identity& identity,
                                                 std::string_view display_name) {
  if (local_part.empty()) return std::unexpected(std::string("the local part (before '@') is empty"));
  for (std::size_t i = 0; i < local_part.size(); ++i) {
    if (!is_atext(local_part[i])) {
      return std::unexpected("the local part contains '" + std::string(1, local_part[i]) +
                             "', which an address cannot hold unquoted");
    }
  }
  if (identity.bytes.size() != identity_size) {
    return std::unexpected(std::string("the identity is not 32 bytes"));
  }
  for (const char c : display_name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return std::unexpected(std::string("the display name contains a control character"));
  }
  return Address{std::string(display_name), ascii::to_lower(local_part), identity};
}

std::expected<Address, std::string> parse_address(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u == 0x7f) {
      return std::unexpected("the address contains a control character at position " + std::to_string(i));
    }
  }
  text = trim(text);
  if (text.empty()) return std::unexpected(std::string("the address is empty"));

  std::string display_name;
  std::string_view spec;  // local@domain
  // Find '<' outside a quoted display name.
  std::size_t open = std::string_view::npos;
  bool in_quotes = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && in_quotes) {
      ++i;
    } else if (text[i] == '"') {
      in_quotes = !in_quotes;
    } else if (text[i] == '<' && !in_quotes) {
      open = i;
      break;
    }
  }
  if (in_quotes) return std::unexpected(std::string("the display name has an unterminated '\"'"));
  if (open != std::string_view::npos) {
    const std::size_t close = text.find('>', open);
    if (close == std::string_view::npos) return std::unexpected(std::string("'<' without a closing '>'"));
    if (!trim(text.substr(close + 1)).empty()) {
      return std::unexpected("unexpected text after '>': '" + std::string(trim(text.substr(close + 1))) + "'");
    }
    display_name = clean_display_name(text.substr(0, open));
    spec = trim(text.substr(open + 1, close - open - 1));
  } else if (text.find('>') != std::string_view::npos) {
    return std::unexpected(std::string("'>' without an opening '<'"));
  } else if (const std::size_t paren = text.find('('); paren != std::string_view::npos) {
    if (text.back() != ')') return std::unexpected(std::string("'(' without a closing ')' at the end"));
    display_name = clean_display_name(text.substr(paren + 1, text.size() - paren - 2));
    spec = trim(text.substr(0, paren));
  } else {
    spec = text;
  }
  if (spec.empty()) return std::unexpected(std::string("no address between '<' and '>'"));
  const std::size_t at = spec.find('@');
  if (at == std::string_view::npos) return std::unexpected("missing '@' in '" + std::string(spec) + "'");
  if (spec.find('@', at + 1) != std::string_view::npos) {
    return std::unexpected(std::string("more than one '@' in the address"));
  }
  const std::string_view local = spec.substr(0, at);
  const std::string_view domain = spec.substr(at + 1);
  if (local.empty()) return std::unexpected(std::string("the local part (before '@') is empty"));
  if (domain.empty()) return std::unexpected(std::string("the domain (after '@') is empty"));
  if (!ascii::iends_with(domain, freemail_tld)) {
    // Allow the Web-UI shortcut of a bare base64 id only to explain itself.
    if (domain.size() == 43) {
      if (auto bytes = fcp::freenet_base64_decode(domain); bytes && bytes->size() == identity_size) {
        return std::unexpected("the domain '" + std::string(domain) +
                               "' is a Freenet base64 identity id; the address is ...@" +
                               base32_encode(*bytes, Base32Case::lower) + ".freemail");
      }
    }
    return std::unexpected("the domain '" + std::string(domain) + "' is not a .freemail domain");
  }
  auto identity = identity_from_label(domain);
  if (!identity) return std::unexpected(identity.error());
  auto address = make_address(local, *identity, display_name);
  if (!address) return std::unexpected(address.error());
  return address;
}

std::string local_part_from_nickname(std::string_view nickname) {
  std::string out;
  for (const char c : nickname) {
    if (static_cast<unsigned char>(c) < 0x80 && is_atext(c) && c != '.') out.push_back(c);
  }
  out = ascii::to_lower(out);
  return out.empty() ? std::string("mail") : out;
}

}  // namespace fcpmail::freemail
