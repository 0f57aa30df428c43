#include "fcp/key_uri.h"
#include "fcp/ascii.h"

#include <charconv>

#include "fcp/freenet_base64.h"

namespace fcp {
namespace {

constexpr std::size_t key_bytes = 32;
constexpr std::size_t extra_bytes = 5;
const std::string ssk_request_extra("\x01\x00\x02\x00\x01", 5);

using ascii::istarts_with;
using ascii::upper;

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

// Strip what fred strips before the key type: whitespace, http(s)://host[:port]/, [ext+|web+]scheme:
std::string_view strip_prefixes(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  if (const auto q = text.find('?'); q != std::string_view::npos) text = text.substr(0, q);
  for (std::string_view scheme : {"http://", "https://"}) {
    if (istarts_with(text, scheme)) {
      text.remove_prefix(scheme.size());
      const auto slash = text.find('/');
      text = slash == std::string_view::npos ? std::string_view() : text.substr(slash + 1);
      break;
    }
  }
  for (std::string_view ext : {"ext+", "web+"})
    if (istarts_with(text, ext)) text.remove_prefix(ext.size());
  for (std::string_view scheme : {"freenet:", "hyphanet:", "hypha:"})
    if (istarts_with(text, scheme)) {
      text.remove_prefix(scheme.size());
      break;
    }
  return text;
}

std::expected<std::string, std::string> decode_part(std::string_view text, std::string_view what) {
  auto bytes = freenet_base64_decode(text);
  if (!bytes) return std::unexpected(std::string(what) + ": " + bytes.error());
  return bytes;
}

}  // namespace

std::string_view key_type_name(KeyType type) {
  switch (type) {
    case KeyType::chk: return "CHK";
    case KeyType::ssk: return "SSK";
    case KeyType::usk: return "USK";
    case KeyType::ksk: return "KSK";
  }
  return "?";
}

std::string url_encode_component(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    const bool safe = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '*' || c == '~' || c == '+' || c == ',' || c == '=';
    if (safe) {
      out += c;
    } else {
      out += '%';
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  }
  return out;
}

std::expected<std::string, std::string> url_decode_component(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::unexpected("truncated %-escape in '" + std::string(text) + "'");
    const int hi = hex_value(text[i + 1]);
    const int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::unexpected("bad %-escape in '" + std::string(text) + "'");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool KeyUri::is_insert() const {
  if (type == KeyType::ksk) return true;
  if (type == KeyType::chk) return !has_keys();
  if (!has_keys()) return true;
  return extra.size() == extra_bytes && extra[1] == 1;
}

std::string KeyUri::to_string() const {
  std::string out(key_type_name(type));
  out += '@';
  if (type == KeyType::ksk) {
    out += url_encode_component(docname);
  } else if (has_keys()) {
    out += freenet_base64_encode(routing_key);
    out += ',';
    out += freenet_base64_encode(crypto_key);
    out += ',';
    out += freenet_base64_encode(extra);
  }
  if (type == KeyType::ssk || type == KeyType::usk) {
    if (has_docname || type == KeyType::usk) {
      out += '/';
      out += url_encode_component(docname);
    }
    if (type == KeyType::usk && edition) {
      out += '/';
      out += std::to_string(*edition);
    }
  }
  for (const auto& meta : meta_strings) {
    out += '/';
    out += url_encode_component(meta);
  }
  return out;
}

KeyUri KeyUri::usk_to_ssk() const {
  KeyUri ssk = *this;
  if (type != KeyType::usk) return ssk;
  ssk.type = KeyType::ssk;
  const std::int64_t n = edition.value_or(0);
  ssk.docname = docname + "-" + std::to_string(n < 0 ? -n : n);
  ssk.has_docname = true;
  ssk.edition.reset();
  return ssk;
}

KeyUri KeyUri::to_usk(std::string site, std::int64_t new_edition) const {
  KeyUri usk = *this;
  usk.type = KeyType::usk;
  usk.docname = std::move(site);
  usk.has_docname = true;
  usk.edition = new_edition;
  usk.meta_strings.clear();
  return usk;
}

KeyUri KeyUri::with_edition(std::int64_t new_edition) const {
  KeyUri copy = *this;
  copy.edition = new_edition;
  return copy;
}

KeyUri KeyUri::with_docname(std::string new_docname) const {
  KeyUri copy = *this;
  copy.docname = std::move(new_docname);
  copy.has_docname = true;
  return copy;
}

std::expected<KeyUri, std::string> parse_key_uri(std::string_view input) {
  const std::string_view text = strip_prefixes(input);
  const auto at = text.find('@');
  if (at == std::string_view::npos) return std::unexpected("there is no '@' in the URI '" + std::string(input) + "'");
  std::string type_name;
  for (char c : text.substr(0, at)) type_name += upper(c);
  KeyUri uri;
  if (type_name == "CHK") uri.type = KeyType::chk;
  else if (type_name == "SSK") uri.type = KeyType::ssk;
  else if (type_name == "USK") uri.type = KeyType::usk;
  else if (type_name == "KSK") uri.type = KeyType::ksk;
  else return std::unexpected("unknown key type '" + std::string(text.substr(0, at)) + "' (expected CHK, SSK, USK or KSK)");

  std::string_view rest = text.substr(at + 1);
  const auto slash = rest.find('/');
  std::string_view key_part = rest.substr(0, slash);
  std::vector<std::string> path;
  if (slash != std::string_view::npos) {
    for (auto component : split(rest.substr(slash + 1), '/')) {
      auto decoded = url_decode_component(component);
      if (!decoded) return std::unexpected(decoded.error());
      path.push_back(std::move(*decoded));
    }
  }
  // A trailing '/' after the docname or edition adds an empty last component; fred drops it.
  const std::size_t needed = uri.type == KeyType::usk ? 2 : (uri.type == KeyType::chk ? 0 : 1);
  while (path.size() > needed && path.back().empty()) path.pop_back();

  if (uri.type == KeyType::ksk) {
    auto keyword = url_decode_component(key_part);
    if (!keyword) return std::unexpected(keyword.error());
    if (keyword->empty()) return std::unexpected("KSK URI without a keyword");
    uri.docname = std::move(*keyword);
    uri.has_docname = true;
    uri.meta_strings = std::move(path);
    return uri;
  }

  if (uri.type == KeyType::chk) {
    // Old "file extension" convention: anything after the last '.' of the key part goes.
    if (const auto dot = key_part.rfind('.'); dot != std::string_view::npos) key_part = key_part.substr(0, dot);
  }
  if (!key_part.empty()) {
    const auto parts = split(key_part, ',');
    if (parts.size() != 3)
      return std::unexpected(type_name + " key must be <routing key>,<crypto key>,<extra>; got " +
                             std::to_string(parts.size()) + " part(s)");
    auto routing = decode_part(parts[0], type_name + " routing key");
    if (!routing) return std::unexpected(routing.error());
    auto crypto = decode_part(parts[1], type_name + " crypto key");
    if (!crypto) return std::unexpected(crypto.error());
    auto extra = decode_part(parts[2], type_name + " extra");
    if (!extra) return std::unexpected(extra.error());
    if (routing->empty()) return std::unexpected(type_name + " routing key is empty");
    if (crypto->size() != key_bytes)
      return std::unexpected(type_name + " crypto key must be 32 bytes, got " + std::to_string(crypto->size()));
    if (extra->size() != extra_bytes)
      return std::unexpected(type_name + " extra must be 5 bytes, got " + std::to_string(extra->size()));
    if (uri.type == KeyType::chk) {
      if (routing->size() != key_bytes)
        return std::unexpected("CHK routing key must be 32 bytes, got " + std::to_string(routing->size()));
    } else {
      const char kind = (*extra)[1];
      if ((*extra)[0] != 1 || (kind != 0 && kind != 1) || (*extra)[2] != 2)
        return std::unexpected(type_name + " extra is neither a request (AQACAAE) nor an insert (AQECAAE) key");
      if (kind == 0 && *extra != ssk_request_extra)
        return std::unexpected(type_name + " request key extra must be AQACAAE");
      if (kind == 0 && routing->size() != key_bytes)
        return std::unexpected(type_name + " routing key must be 32 bytes, got " + std::to_string(routing->size()));
    }
    uri.routing_key = std::move(*routing);
    uri.crypto_key = std::move(*crypto);
    uri.extra = std::move(*extra);
  }

  if (uri.type == KeyType::chk) {
    uri.meta_strings = std::move(path);
    return uri;
  }
  if (slash == std::string_view::npos) {
    if (uri.type == KeyType::ssk && !uri.has_keys()) return uri;  // "SSK@": the node picks a random key
    return std::unexpected(type_name + " URIs must have a document name");
  }
  uri.docname = path.empty() ? std::string() : path.front();
  uri.has_docname = true;
  if (uri.type == KeyType::usk) {
    if (path.size() < 2 || path[1].empty()) return std::unexpected("No suggested edition number for USK");
    std::int64_t edition = 0;
    const auto& text_edition = path[1];
    auto [end, ec] = std::from_chars(text_edition.data(), text_edition.data() + text_edition.size(), edition);
    if (ec != std::errc{} || end != text_edition.data() + text_edition.size())
      return std::unexpected("USK edition '" + text_edition + "' is not a 64-bit number");
    uri.edition = edition;
    uri.meta_strings.assign(path.begin() + 2, path.end());
  } else if (!path.empty()) {
    uri.meta_strings.assign(path.begin() + 1, path.end());
  }
  return uri;
}

}  // namespace fcp
