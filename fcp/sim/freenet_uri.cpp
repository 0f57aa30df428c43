#include "freenet_uri.h"

#include <fcp/ascii.h>

#include <cryptopp/sha.h>

#include <algorithm>
#include <charconv>

namespace fcp::sim {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~-";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '~') return 62;
  if (c == '-') return 63;
  return -1;
}

std::string trim_java(std::string_view s) {  // String.trim(): drops chars <= ' ' at both ends
  std::size_t b = 0, e = s.size();
  while (b < e && static_cast<unsigned char>(s[b]) <= ' ') ++b;
  while (e > b && static_cast<unsigned char>(s[e - 1]) <= ' ') --e;
  return std::string(s.substr(b, e - b));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding. Tolerant mode keeps an invalid escape literally; strict mode reports it.
std::optional<std::string> url_decode(std::string_view s, bool tolerant) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
          hex_value(s[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
        i += 2;
        continue;
      }
      if (!tolerant) return std::nullopt;
    }
    out.push_back(s[i]);
  }
  return out;
}

// fred's URLEncoder.encode(s, "/", false): keeps *-_. and alphanumerics and non-ASCII bytes.
std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '*' || c == '-' || c == '_' || c == '.' || c >= 0x80;
    if (safe) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string strip_scheme(std::string s) {
  std::string l = fcp::ascii::to_lower(s);
  if (l.starts_with("http://") || l.starts_with("https://")) {
    const auto host_start = l.find("//") + 2;
    const auto slash = l.find('/', host_start);
    if (slash != std::string::npos) {
      auto end = slash;
      while (end < l.size() && l[end] == '/') ++end;
      s = s.substr(end);
      l = l.substr(end);
    }
  }
  for (std::string_view p : {"ext+", "web+"}) {
    if (l.starts_with(p)) {
      for (std::string_view scheme : {"freenet:", "hyphanet:", "hypha:"}) {
        if (l.substr(p.size()).starts_with(scheme)) return s.substr(p.size() + scheme.size());
      }
    }
  }
  for (std::string_view scheme : {"freenet:", "hyphanet:", "hypha:"}) {
    if (l.starts_with(scheme)) return s.substr(scheme.size());
  }
  return s;
}

Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
std::string to_string_bytes(const Bytes& b) { return std::string(b.begin(), b.end()); }

const Bytes kRequestExtra = {0x01, 0x00, 0x02, 0x00, 0x01};  // AQACAAE
const Bytes kInsertExtra = {0x01, 0x01, 0x02, 0x00, 0x01};   // AQECAAE

}  // namespace

std::string base64_encode(const Bytes& bytes) {
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    const unsigned v = bytes[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    const unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  Bytes out;
  unsigned acc = 0;
  int bits = 0;
  for (char c : text) {
    const int v = base64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string sha256(std::string_view data) {
  CryptoPP::SHA256 hash;
  std::string digest(CryptoPP::SHA256::DIGESTSIZE, '\0');
  hash.CalculateDigest(reinterpret_cast<CryptoPP::byte*>(digest.data()),
                       reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
  return digest;
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool FreenetUri::is_insert_key() const {
  return (type == "SSK" || type == "USK") && extra && extra->size() >= 2 && (*extra)[1] == 1;
}

std::string FreenetUri::to_string() const {
  std::string out = type + "@";
  if (type != "KSK") {
    if (routing_key) out += base64_encode(*routing_key);
    if (crypto_key) out += "," + base64_encode(*crypto_key);
    if (extra) out += "," + base64_encode(*extra);
    if (docname) out += "/";
  }
  if (docname) out += url_encode(*docname);
  if (type == "USK") out += "/" + std::to_string(edition);
  for (const auto& m : meta) out += "/" + url_encode(m);
  return out;
}

FreenetUri FreenetUri::without_meta() const {
  FreenetUri copy = *this;
  copy.meta.clear();
  return copy;
}

FreenetUri FreenetUri::with_meta(std::vector<std::string> meta_strings) const {
  FreenetUri copy = *this;
  copy.meta = std::move(meta_strings);
  return copy;
}

std::expected<FreenetUri, std::string> parse_uri(std::string_view text) {
  std::string uri = trim_java(text);
  if (auto q = uri.find('?'); q != std::string::npos) uri.resize(q);
  if (uri.find('@') == std::string::npos || uri.find('/') == std::string::npos) {
    auto decoded = url_decode(uri, false);
    if (!decoded)
      return std::unexpected("Invalid URI: no @ or /, or @ or / is escaped but there are invalid escapes");
    uri = *decoded;
  }
  uri = strip_scheme(uri);
  const auto at = uri.find('@');
  if (at == std::string::npos) return std::unexpected("There is no @ in that URI! (" + uri + ")");
  FreenetUri out;
  out.type = fcp::ascii::to_upper(uri.substr(0, at));
  uri = uri.substr(at + 1);
  if (out.type != "CHK" && out.type != "SSK" && out.type != "USK" && out.type != "KSK")
    return std::unexpected("Invalid key type: " + out.type);
  const bool ssk = out.type == "SSK", usk = out.type == "USK", ksk = out.type == "KSK";

  if (ksk) uri = "/" + uri;
  std::vector<std::string> backwards;  // path components, last first (as fred collects them)
  for (auto slash = uri.rfind('/'); slash != std::string::npos; slash = uri.rfind('/')) {
    backwards.push_back(*url_decode(std::string_view(uri).substr(slash + 1), true));
    uri.resize(slash);
  }
  if (backwards.empty() && (usk || ksk)) return std::unexpected("No docname for " + out.type);
  if ((ssk || usk || ksk) && !backwards.empty()) {
    out.docname = backwards.back();
    backwards.pop_back();
    if (usk) {
      if (backwards.empty()) return std::unexpected("No suggested edition number for USK");
      const std::string& ed = backwards.back();
      std::int64_t value = 0;
      auto [end, ec] = std::from_chars(ed.data(), ed.data() + ed.size(), value);
      if (ed.empty() || ec != std::errc{} || end != ed.data() + ed.size())
        return std::unexpected("Invalid suggested edition: java.lang.NumberFormatException: For input string: \"" +
                               ed + "\"");
      out.edition = value;
      backwards.pop_back();
    }
  }
  out.meta.assign(backwards.rbegin(), backwards.rend());
  if (ksk) return out;

  if (out.type == "CHK") {
    if (auto dot = uri.rfind('.'); dot != std::string::npos) uri.resize(dot);
  }
  std::vector<std::string> tokens;  // StringTokenizer semantics: empty tokens are skipped
  for (std::size_t start = 0; start <= uri.size();) {
    auto comma = uri.find(',', start);
    if (comma == std::string::npos) comma = uri.size();
    if (comma > start) tokens.push_back(uri.substr(start, comma - start));
    start = comma + 1;
  }
  const std::string bad_b64 = "Invalid Base64 quantity: freenet.support.IllegalBase64Exception: illegal Base64 character";
  if (tokens.empty()) {
    if (usk || (ssk && out.docname)) return std::unexpected("Bad URI: Routing key missing");
    return out;
  }
  out.routing_key = base64_decode(tokens[0]);
  if (!out.routing_key) return std::unexpected(bad_b64);
  if (out.type == "CHK" && out.routing_key->size() != 32)
    return std::unexpected("Bad URI: Routing key should be 32 bytes long");
  if (tokens.size() < 2) return out;
  out.crypto_key = base64_decode(tokens[1]);
  if (!out.crypto_key) return std::unexpected(bad_b64);
  if (out.crypto_key->size() != 32) return std::unexpected("Bad URI: Routing key should be 32 bytes long");
  if (tokens.size() < 3) return out;
  out.extra = base64_decode(tokens[2]);
  if (!out.extra) return std::unexpected(bad_b64);
  return out;
}

namespace {
// The magnitude of a Java BigInteger byte array, left-padded to 32 bytes.
Bytes magnitude32(const Bytes& java_bytes) {
  Bytes m = java_bytes;
  while (!m.empty() && m.front() == 0) m.erase(m.begin());
  if (m.size() > 32) m.erase(m.begin(), m.end() - 32);
  Bytes out(32 - m.size(), 0);
  out.insert(out.end(), m.begin(), m.end());
  return out;
}
}  // namespace

Bytes derive_public_key_hash(const Bytes& private_key) {
  const Bytes m = magnitude32(private_key);
  return to_bytes(sha256("fcpmail-sim SSK public key:" + to_string_bytes(m)));
}

FreenetUri to_request_form(const FreenetUri& insert) {
  if (!insert.is_insert_key()) return insert;
  FreenetUri out = insert;
  out.routing_key = derive_public_key_hash(*insert.routing_key);
  out.extra = kRequestExtra;
  return out;
}

SskKeypair generate_ssk(std::mt19937_64& rng) {
  Bytes x(32), crypto(32);
  for (auto& b : x) b = static_cast<std::uint8_t>(rng());
  for (auto& b : crypto) b = static_cast<std::uint8_t>(rng());
  if (std::all_of(x.begin(), x.end(), [](auto b) { return b == 0; })) x[31] = 1;
  // Java's BigInteger.toByteArray: minimal two's complement, so 31-33 bytes for a 256-bit value.
  Bytes java = x;
  while (java.size() > 1 && java[0] == 0 && java[1] < 0x80) java.erase(java.begin());
  if (java[0] >= 0x80) java.insert(java.begin(), 0);
  FreenetUri insert;
  insert.type = "SSK";
  insert.routing_key = java;
  insert.crypto_key = crypto;
  insert.extra = kInsertExtra;
  insert.docname = "";
  const FreenetUri request = to_request_form(insert);
  return {insert.to_string(), request.to_string()};
}

FreenetUri chk_for(std::string_view data, std::string_view mime, bool metadata) {
  std::string material(mime);
  material.push_back('\0');
  material.append(data);
  const std::string crypto = sha256(mime.empty() ? data : std::string_view(material));
  const std::string routing = sha256("fcpmail-sim CHK routing:" + crypto + std::to_string(data.size()));
  FreenetUri out;
  out.type = "CHK";
  out.routing_key = to_bytes(routing);
  out.crypto_key = to_bytes(crypto);
  out.extra = Bytes{0x00, 0x03, static_cast<std::uint8_t>(metadata ? 0x02 : 0x00), 0xFF, 0xFF};
  return out;
}

std::string slot_of(const FreenetUri& uri) {
  if (uri.type == "KSK") return "KSK@" + uri.docname.value_or("");
  std::string keys;
  if (uri.routing_key) keys += base64_encode(*uri.routing_key);
  keys += ",";
  if (uri.crypto_key) keys += base64_encode(*uri.crypto_key);
  if (uri.type == "CHK") return "CHK@" + keys;
  std::string doc = uri.docname.value_or("");
  if (uri.type == "USK") doc += "-" + std::to_string(uri.edition < 0 ? -uri.edition : uri.edition);
  return "SSK@" + keys + "/" + doc;
}

std::string usk_base(const FreenetUri& uri) {
  std::string keys;
  if (uri.routing_key) keys += base64_encode(*uri.routing_key);
  keys += ",";
  if (uri.crypto_key) keys += base64_encode(*uri.crypto_key);
  return "SSK@" + keys + "/" + uri.docname.value_or("");
}

std::optional<UskEdition> usk_edition_of_slot(std::string_view slot) {
  if (!slot.starts_with("SSK@")) return std::nullopt;
  const auto slash = slot.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto dash = slot.rfind('-');
  if (dash == std::string_view::npos || dash < slash + 2 || dash + 1 >= slot.size()) return std::nullopt;
  std::int64_t edition = 0;
  const auto digits = slot.substr(dash + 1);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), edition);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return UskEdition{std::string(slot.substr(0, dash)), edition};
}

}  // namespace fcp::sim
