#include "engine/received_headers.h"

#include "crypto/base64.h"
#include "freemail/address.h"
#include "mail/ascii.h"
#include "store/mime.h"

#include <optional>

namespace fcpmail::engine {
namespace {

// A From or Sender value longer than this is not parsed (no genuine one comes near it): it cannot
// name the peer, and the claimed text is taken from its first bytes.
constexpr std::size_t max_parsed_value = 16 * 1024;
// Bytes of one RFC 2047 word's text: 45 bytes are 60 base64 characters, a word of 72.
constexpr std::size_t encoded_word_bytes = 45;

using ascii::iends_with;
using ascii::iequals;
using ascii::istarts_with;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

// One header field: its first line and every continuation line, line ends included.
struct Field {
  std::size_t begin = 0, end = 0;
  std::size_t colon = std::string_view::npos;  // offset of the first ':' in the message
  std::string_view name;                       // before the colon, trimmed ("" without a colon)
  std::string_view text;                       // the whole field
  std::string_view value() const { return colon == std::string_view::npos ? std::string_view{} : text.substr(colon - begin + 1); }
};

// Whether the line at `pos` is the empty line that ends the header section ("\n", "\r\n", or a
// lone "\r" at the very end), as store/mime.h reads it.
bool empty_line_at(std::string_view m, std::size_t pos) {
  if (m[pos] == '\n') return true;
  return m[pos] == '\r' && (pos + 1 == m.size() || m[pos + 1] == '\n');
}

// The field starting at `pos` (which is not the empty line).
Field field_at(std::string_view m, std::size_t pos) {
  Field f;
  f.begin = pos;
  std::size_t eol = m.find('\n', pos);
  while (eol != std::string_view::npos && eol + 1 < m.size() && (m[eol + 1] == ' ' || m[eol + 1] == '\t'))
    eol = m.find('\n', eol + 1);
  f.end = eol == std::string_view::npos ? m.size() : eol + 1;
  f.text = m.substr(f.begin, f.end - f.begin);
  const auto colon = f.text.find(':');
  if (colon != std::string_view::npos) {
    f.colon = f.begin + colon;
    f.name = trim(f.text.substr(0, colon));
  }
  return f;
}

bool is_ours(const Field& f) { return istarts_with(trim(f.text), "x-fcpmail-"); }

std::string unfold(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v)
    if (c != '\r' && c != '\n') out += c;
  return out;
}

// Whether `value` (a From or Sender value) names exactly one address, of the peer's identity.
bool names_only(std::string_view value, const std::optional<freemail::Identity>& peer, std::string_view peer_address) {
  if (value.size() > max_parsed_value) return false;
  const auto list = mime::parse_addresses(unfold(value));
  if (list.size() != 1 || !list[0].mailbox || !list[0].host || list[0].adl) return false;
  const std::string& host = *list[0].host;
  if (!peer) return iequals(*list[0].mailbox + "@" + host, peer_address);
  if (!iends_with(host, freemail::freemail_tld)) return false;
  const auto identity = freemail::identity_from_label(host);
  return identity && *identity == *peer;
}

// Appends the code point `cp` as UTF-8.
void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The code point of the UTF-8 sequence at s[i] and its length; nothing for an invalid, overlong or
// surrogate sequence.
std::optional<std::pair<std::uint32_t, std::size_t>> utf8_at(std::string_view s, std::size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return std::pair<std::uint32_t, std::size_t>{b, 1};
  std::size_t n = 0;
  std::uint32_t cp = 0, min = 0;
  if ((b & 0xE0) == 0xC0) { n = 2; cp = b & 0x1F; min = 0x80; }
  else if ((b & 0xF0) == 0xE0) { n = 3; cp = b & 0x0F; min = 0x800; }
  else if ((b & 0xF8) == 0xF0) { n = 4; cp = b & 0x07; min = 0x10000; }
  else return std::nullopt;
  if (i + n > s.size()) return std::nullopt;
  for (std::size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  return std::pair<std::uint32_t, std::size_t>{cp, n};
}

// Characters that change how the text after them is drawn: the bidirectional marks, embeddings,
// overrides and isolates, and the line and paragraph separators. In a claimed name they would draw
// the " (via <peer>)" that follows it reversed or on a line of its own.
bool is_layout_control(std::uint32_t cp) {
  return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

// The claimed text as a display name may show it: valid UTF-8 (anything else becomes U+FFFD),
// control characters (layout controls too) as spaces, blanks collapsed, at most max_claimed_name
// bytes ("..." when cut).
std::string clean_claimed(std::string_view raw) {
  std::string out;
  bool cut = false;
  for (std::size_t i = 0; i < raw.size();) {
    std::string piece;
    if (auto cp = utf8_at(raw, i)) {
      const bool control =
          cp->first < 0x20 || cp->first == 0x7F || (cp->first >= 0x80 && cp->first < 0xA0) || is_layout_control(cp->first);
      if (control) piece = " ";
      else piece = std::string(raw.substr(i, cp->second));
      i += cp->second;
    } else {
      append_utf8(piece, 0xFFFD);
      ++i;
    }
    if (piece == " " && (out.empty() || out.back() == ' ')) continue;
    if (out.size() + piece.size() > max_claimed_name) {
      cut = true;
      break;
    }
    out += piece;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (cut) out += "...";
  return out;
}

// What the From claims, for the display name: each address's name, or its address when it has
// none, joined by ", "; the raw value when nothing in it parses.
std::string claimed_by(std::string_view from_value) {
  std::string unfolded = unfold(from_value.substr(0, max_parsed_value));
  std::string claimed;
  for (const auto& a : mime::parse_addresses(unfolded)) {
    if (!a.host && !a.name) continue;  // a group's markers
    std::string piece;
    if (a.name && !trim(*a.name).empty()) piece = *a.name;
    else if (a.mailbox) piece = *a.mailbox + (a.host ? "@" + *a.host : "");
    else continue;
    if (!claimed.empty()) claimed += ", ";
    claimed += piece;
    if (claimed.size() > 4 * max_claimed_name) break;
  }
  if (claimed.empty()) claimed = std::string(trim(unfolded));
  return clean_claimed(mime::decode_encoded_words(claimed));
}

std::string quoted_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// RFC 2047 B words of UTF-8 text, split on character boundaries, folded onto their own lines.
std::string encoded_words(std::string_view utf8) {
  std::string out;
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::size_t end = i;
    while (end < utf8.size()) {
      auto cp = utf8_at(utf8, end);
      const std::size_t n = cp ? cp->second : 1;
      if (end + n - i > encoded_word_bytes) break;
      end += n;
    }
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + crypto::base64_encode(utf8.substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

// The From that goes first when the message's own From does not name the peer.
std::string rewritten_from(std::string_view claimed, std::string_view peer) {
  if (claimed.empty()) return "From: <" + std::string(peer) + ">\r\n";
  const std::string via = " (via " + std::string(peer) + ")";
  std::string name = is_ascii(claimed) ? quoted_string(std::string(claimed) + via)
                                       : encoded_words(claimed) + "\r\n " + quoted_string(via.substr(1));
  return "From: " + name + " <" + std::string(peer) + ">\r\n";
}

}  // namespace

ReceivedMessage received_message(std::string_view m, const ReceivedOrigin& origin) {
  std::optional<freemail::Identity> peer;
  if (auto a = freemail::parse_address(origin.peer_address)) peer = a->identity;

  // 1. What the header section says about its origin.
  std::size_t from_fields = 0, sender_fields = 0;
  std::string_view first_from, first_sender;
  std::size_t header_end = 0;
  while (header_end < m.size() && !empty_line_at(m, header_end)) {
    const Field f = field_at(m, header_end);
    header_end = f.end;
    if (is_ours(f)) continue;
    if (iequals(f.name, "From") && from_fields++ == 0) first_from = f.value();
    if (iequals(f.name, "Sender") && sender_fields++ == 0) first_sender = f.value();
  }
  const bool keep_from = from_fields == 1 && names_only(first_from, peer, origin.peer_address);
  const bool move_sender = sender_fields > 0 && !(sender_fields == 1 && names_only(first_sender, peer, origin.peer_address));

  // 2. Ours first, then the peer's fields (renamed where they lie, dropped where they are ours),
  // then the rest of the message as it came.
  ReceivedMessage r;
  r.from_rewritten = !keep_from;
  r.sender_moved = move_sender;
  r.message.reserve(m.size() + 512);
  r.message += "X-Fcpmail-Signature: " + std::string(freemail::to_string(origin.signature)) + "\r\n";
  r.message += "X-Fcpmail-Sender: " + std::string(origin.peer_address) + "\r\n";
  r.message += "Received: " + std::string(origin.received) + "\r\n";
  if (!keep_from) r.message += rewritten_from(from_fields ? claimed_by(first_from) : "", origin.peer_address);
  for (std::size_t pos = 0; pos < header_end;) {
    const Field f = field_at(m, pos);
    pos = f.end;
    if (is_ours(f)) {
      ++r.removed_fcpmail_fields;
    } else if (!keep_from && iequals(f.name, "From")) {
      r.message += "X-Original-From";
      r.message += m.substr(f.colon, f.end - f.colon);
    } else if (move_sender && iequals(f.name, "Sender")) {
      r.message += "X-Original-Sender";
      r.message += m.substr(f.colon, f.end - f.colon);
    } else {
      r.message += f.text;
    }
  }
  r.message += m.substr(header_end);
  return r;
}

}  // namespace fcpmail::engine
