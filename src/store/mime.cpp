#include "store/mime.h"

#include "mail/ascii.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

namespace fcpmail::mime {
namespace {

constexpr int max_depth = 32;   // nesting bound: deeper parts are taken as opaque leaves

using ascii::iequals;
using ascii::to_lower;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string unfold(std::string_view v) {
  std::string r;
  r.reserve(v.size());
  for (char c : v)
    if (c != '\r' && c != '\n') r.push_back(c);
  return r;
}

// End of the header block starting at `begin` within [begin, end): the offset just after the
// blank line, or `end` if there is none.
std::size_t header_end(std::string_view m, std::size_t begin, std::size_t end) {
  std::size_t i = begin;
  // An entity that starts with a blank line has an empty header.
  if (i < end && m[i] == '\n') return i + 1;
  if (i + 1 < end && m[i] == '\r' && m[i + 1] == '\n') return i + 2;
  while (i < end) {
    std::size_t nl = m.find('\n', i);
    if (nl == std::string_view::npos || nl >= end) return end;
    std::size_t next = nl + 1;
    if (next < end && m[next] == '\n') return next + 1;
    if (next + 1 < end && m[next] == '\r' && m[next + 1] == '\n') return next + 2;
    i = next;
  }
  return end;
}

std::size_t count_lines(std::string_view b) {
  std::size_t n = static_cast<std::size_t>(std::count(b.begin(), b.end(), '\n'));
  if (!b.empty() && b.back() != '\n') ++n;
  return n;
}

// ---- structured header values (Content-Type, Content-Disposition) ---------------------------

void skip_cfws(std::string_view s, std::size_t& i) {
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '(') {
      int depth = 0;
      while (i < s.size()) {
        if (s[i] == '\\') { i = std::min(i + 2, s.size()); continue; }  // never past the end
        if (s[i] == '(') ++depth;
        if (s[i] == ')' && --depth == 0) { ++i; break; }
        ++i;
      }
    } else {
      break;
    }
  }
}

bool is_tspecial(char c) {
  return std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos;
}

std::string read_token(std::string_view s, std::size_t& i) {
  std::size_t b = i;
  while (i < s.size() && !is_tspecial(s[i]) && static_cast<unsigned char>(s[i]) > 32 && s[i] != 127) ++i;
  return std::string(s.substr(b, i - b));
}

std::string read_quoted(std::string_view s, std::size_t& i) {  // s[i] == '"'
  std::string r;
  ++i;
  while (i < s.size() && s[i] != '"') {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    if (s[i] != '\r' && s[i] != '\n') r.push_back(s[i]);
    ++i;
  }
  if (i < s.size()) ++i;
  return r;
}

std::string read_value(std::string_view s, std::size_t& i) {
  if (i < s.size() && s[i] == '"') return read_quoted(s, i);
  // Lenient: a value may hold characters a token may not (e.g. '/' in unquoted names).
  std::size_t b = i;
  while (i < s.size() && s[i] != ';' && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') ++i;
  return std::string(s.substr(b, i - b));
}

using Params = std::vector<std::pair<std::string, std::string>>;

Params read_params(std::string_view s, std::size_t i) {
  Params out;
  while (i < s.size()) {
    skip_cfws(s, i);
    if (i >= s.size()) break;
    if (s[i] != ';') {  // junk: skip to the next ';'
      std::size_t n = s.find(';', i);
      if (n == std::string_view::npos) break;
      i = n;
    }
    ++i;
    skip_cfws(s, i);
    std::string name = read_token(s, i);
    skip_cfws(s, i);
    if (name.empty() || i >= s.size() || s[i] != '=') continue;
    ++i;
    skip_cfws(s, i);
    std::string value = read_value(s, i);
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

const std::string* find_param(const Params& ps, std::string_view name) {
  for (auto& [k, v] : ps)
    if (iequals(k, name)) return &v;
  return nullptr;
}

void apply_headers(std::string_view m, Part& p, bool digest_parent) {
  auto fields = header_fields(m.substr(p.header.begin, p.header.size()));
  if (digest_parent) { p.type = "message"; p.subtype = "rfc822"; }
  for (auto& [name, raw] : fields) {
    std::string v = unfold(raw);
    if (iequals(name, "Content-Type")) {
      std::size_t i = 0;
      skip_cfws(v, i);
      std::string type = read_token(v, i);
      skip_cfws(v, i);
      if (type.empty() || i >= v.size() || v[i] != '/') continue;  // invalid: keep the default
      ++i;
      skip_cfws(v, i);
      std::string sub = read_token(v, i);
      if (sub.empty()) continue;
      p.type = std::move(type);
      p.subtype = std::move(sub);
      p.params = read_params(v, i);
      p.explicit_type = true;
    } else if (iequals(name, "Content-Transfer-Encoding")) {
      std::string e(trim(v));
      if (!e.empty()) p.encoding = std::move(e);
    } else if (iequals(name, "Content-ID")) {
      p.id = std::string(trim(v));
    } else if (iequals(name, "Content-Description")) {
      p.description = std::string(trim(v));
    } else if (iequals(name, "Content-MD5")) {
      p.md5 = std::string(trim(v));
    } else if (iequals(name, "Content-Language")) {
      p.language = std::string(trim(v));
    } else if (iequals(name, "Content-Location")) {
      p.location = std::string(trim(v));
    } else if (iequals(name, "Content-Disposition")) {
      std::size_t i = 0;
      skip_cfws(v, i);
      std::string d = read_token(v, i);
      if (d.empty()) continue;
      p.disposition = std::move(d);
      p.disposition_params = read_params(v, i);
    }
  }
  // RFC 2045 §5.2: text without a charset is us-ascii (IMAP servers show it).
  if (p.is_text() && !find_param(p.params, "charset")) p.params.insert(p.params.begin(), {"charset", "us-ascii"});
}

// Finds the next delimiter line "--boundary" (at a line start) in [from, end). Returns the
// offset of the line start and sets `closing` for "--boundary--".
std::size_t find_boundary(std::string_view m, std::size_t from, std::size_t end,
                          std::string_view boundary, bool& closing, std::size_t& line_end) {
  std::size_t i = from;
  while (i < end) {
    bool at_line_start = (i == from) || m[i - 1] == '\n';
    if (at_line_start && i + 2 + boundary.size() <= end && m[i] == '-' && m[i + 1] == '-' &&
        m.compare(i + 2, boundary.size(), boundary) == 0) {
      std::size_t after = i + 2 + boundary.size();
      closing = after + 2 <= end && m[after] == '-' && m[after + 1] == '-';
      std::size_t nl = m.find('\n', after);
      line_end = (nl == std::string_view::npos || nl >= end) ? end : nl + 1;
      return i;
    }
    std::size_t nl = m.find('\n', i);
    if (nl == std::string_view::npos || nl >= end) return std::string_view::npos;
    i = nl + 1;
  }
  return std::string_view::npos;
}

// The part content ends before the line break that precedes its delimiter line.
std::size_t strip_crlf_before(std::string_view m, std::size_t begin, std::size_t delim) {
  std::size_t e = delim;
  if (e > begin && m[e - 1] == '\n') --e;
  if (e > begin && m[e - 1] == '\r') --e;
  return e;
}

void parse_entity(std::string_view m, Part& p, std::size_t begin, std::size_t end, bool digest_parent,
                  int depth);

void parse_body(std::string_view m, Part& p, int depth) {
  const std::size_t begin = p.body.begin, end = p.body.end;
  if (depth >= max_depth) return;
  if (p.is_multipart()) {
    const std::string* boundary = find_param(p.params, "boundary");
    if (!boundary || boundary->empty()) return;
    bool digest = iequals(p.subtype, "digest");
    bool closing = false;
    std::size_t line_end = 0;
    std::size_t d = find_boundary(m, begin, end, *boundary, closing, line_end);
    while (d != std::string_view::npos && !closing) {
      std::size_t part_begin = line_end;
      bool next_closing = false;
      std::size_t next_line_end = 0;
      std::size_t next = find_boundary(m, part_begin, end, *boundary, next_closing, next_line_end);
      std::size_t part_end = next == std::string_view::npos ? end : strip_crlf_before(m, part_begin, next);
      Part child;
      parse_entity(m, child, part_begin, std::max(part_begin, part_end), digest, depth + 1);
      p.children.push_back(std::move(child));
      d = next;
      closing = next_closing;
      line_end = next_line_end;
    }
  } else if (p.is_message_rfc822()) {
    Part child;
    parse_entity(m, child, begin, end, false, depth + 1);
    p.children.push_back(std::move(child));
  }
}

void parse_entity(std::string_view m, Part& p, std::size_t begin, std::size_t end, bool digest_parent,
                  int depth) {
  std::size_t he = header_end(m, begin, end);
  p.header = {begin, he};
  p.body = {he, end};
  apply_headers(m, p, digest_parent);
  p.body_lines = count_lines(m.substr(p.body.begin, p.body.size()));
  parse_body(m, p, depth);
}

// ---- output -------------------------------------------------------------------------------

void append_params(std::string& out, const Params& ps) {
  if (ps.empty()) { out += "NIL"; return; }
  out += '(';
  bool first = true;
  for (auto& [k, v] : ps) {
    if (!first) out += ' ';
    first = false;
    append_string(out, k);
    out += ' ';
    append_string(out, v);
  }
  out += ')';
}

void append_ext(std::string& out, const Part& p) {
  out += ' ';
  if (p.disposition) {
    out += '(';
    append_string(out, *p.disposition);
    out += ' ';
    append_params(out, p.disposition_params);
    out += ')';
  } else {
    out += "NIL";
  }
  out += ' ';
  if (p.language) {
    // A list of language tags separated by commas.
    std::vector<std::string> tags;
    std::string_view l = *p.language;
    while (!l.empty()) {
      auto c = l.find(',');
      auto t = trim(l.substr(0, c));
      if (!t.empty()) tags.emplace_back(t);
      if (c == std::string_view::npos) break;
      l.remove_prefix(c + 1);
    }
    if (tags.empty()) {
      out += "NIL";
    } else if (tags.size() == 1) {
      append_string(out, tags[0]);
    } else {
      out += '(';
      for (std::size_t i = 0; i < tags.size(); ++i) {
        if (i) out += ' ';
        append_string(out, tags[i]);
      }
      out += ')';
    }
  } else {
    out += "NIL";
  }
  out += ' ';
  append_nstring(out, p.location);
}

void append_bodystructure(std::string& out, std::string_view m, const Part& p, bool ext, int depth) {
  out += '(';
  if (p.is_multipart() && !p.children.empty() && depth < max_depth) {
    for (auto& c : p.children) append_bodystructure(out, m, c, ext, depth + 1);
    out += ' ';
    append_string(out, p.subtype);
    if (ext) {
      out += ' ';
      append_params(out, p.params);
      append_ext(out, p);
    }
    out += ')';
    return;
  }
  if (p.is_multipart()) {
    // A multipart without parts (no boundary, or none found): RFC 3501 cannot express it; show
    // it as an empty text/plain part the way common servers do.
    out += "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0";
    if (ext) out += " NIL NIL NIL NIL";
    out += ')';
    return;
  }
  append_string(out, p.type);
  out += ' ';
  append_string(out, p.subtype);
  out += ' ';
  append_params(out, p.params);
  out += ' ';
  append_nstring(out, p.id);
  out += ' ';
  append_nstring(out, p.description);
  out += ' ';
  append_string(out, p.encoding);
  out += ' ';
  out += std::to_string(p.body.size());
  if (p.is_message_rfc822() && !p.children.empty() && depth < max_depth) {
    out += ' ';
    out += envelope(m, p.children[0]);
    out += ' ';
    append_bodystructure(out, m, p.children[0], ext, depth + 1);
    out += ' ';
    out += std::to_string(p.body_lines);
  } else if (p.is_text()) {
    out += ' ';
    out += std::to_string(p.body_lines);
  }
  if (ext) {
    out += ' ';
    append_nstring(out, p.md5);
    append_ext(out, p);
  }
  out += ')';
}

// ---- addresses ----------------------------------------------------------------------------

struct Token {
  enum Kind { atom, quoted, special } kind;
  std::string text;
  bool space_before = false;
};

std::vector<Token> tokenize_addresses(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  bool space = false;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') { ++i; space = true; continue; }
    if (c == '(') { skip_cfws(s, i); space = true; continue; }
    if (c == '"') {
      out.push_back({Token::quoted, read_quoted(s, i), space});
    } else if (std::string_view("<>,:;@.[]").find(c) != std::string_view::npos) {
      if (c == '[') {  // domain literal
        std::size_t e = s.find(']', i);
        e = e == std::string_view::npos ? s.size() : e + 1;
        out.push_back({Token::atom, std::string(s.substr(i, e - i)), space});
        i = e;
      } else {
        out.push_back({Token::special, std::string(1, c), space});
        ++i;
      }
    } else {
      std::size_t b = i;
      while (i < s.size() && std::string_view(" \t\r\n()\"<>,:;@.[]").find(s[i]) == std::string_view::npos) ++i;
      if (i == b) {  // a stray ')' starts no token: skip it, or the loop never advances (fuzz: mime)
        ++i;
        continue;
      }
      out.push_back({Token::atom, std::string(s.substr(b, i - b)), space});
    }
    space = false;
  }
  return out;
}

bool is_special(const Token& t, char c) { return t.kind == Token::special && t.text[0] == c; }

// Words joined as a phrase: one space between words, '.' kept as written.
std::optional<std::string> phrase(const std::vector<Token>& ts, std::size_t b, std::size_t e) {
  std::string r;
  for (std::size_t i = b; i < e; ++i) {
    if (!r.empty() && ts[i].space_before) r += ' ';
    r += ts[i].text;
  }
  if (r.empty()) return std::nullopt;
  return r;
}

// addr-spec tokens [b, e) -> mailbox, host (split at the last '@'), whitespace dropped.
void addr_spec(const std::vector<Token>& ts, std::size_t b, std::size_t e, Address& a) {
  std::size_t at = e;
  for (std::size_t i = b; i < e; ++i)
    if (is_special(ts[i], '@')) at = i;
  std::string local, host;
  for (std::size_t i = b; i < at; ++i) local += ts[i].text;
  for (std::size_t i = at + 1; i < e; ++i) host += ts[i].text;
  if (!local.empty()) a.mailbox = local;
  if (at < e && !host.empty()) a.host = host;
}

// One mailbox from tokens [b, e) (no top-level ',' inside). False if empty.
bool parse_mailbox(const std::vector<Token>& ts, std::size_t b, std::size_t e, Address& a) {
  if (b >= e) return false;
  std::size_t lt = e;
  for (std::size_t i = b; i < e; ++i)
    if (is_special(ts[i], '<')) { lt = i; break; }
  if (lt == e) {
    addr_spec(ts, b, e, a);
  } else {
    a.name = phrase(ts, b, lt);
    std::size_t gt = e;
    for (std::size_t i = lt + 1; i < e; ++i)
      if (is_special(ts[i], '>')) { gt = i; break; }
    std::size_t s = lt + 1;
    // An obsolete source route "@a,@b:" before the addr-spec.
    for (std::size_t i = s; i < gt; ++i) {
      if (is_special(ts[i], ':')) {
        std::string route;
        for (std::size_t j = s; j < i; ++j) route += ts[j].text;
        if (!route.empty()) a.adl = route;
        s = i + 1;
        break;
      }
    }
    addr_spec(ts, s, gt, a);
  }
  return a.mailbox || a.host || a.name;
}

}  // namespace

bool Part::is_multipart() const { return iequals(type, "multipart"); }
bool Part::is_message_rfc822() const { return iequals(type, "message") && iequals(subtype, "rfc822"); }
bool Part::is_text() const { return iequals(type, "text"); }

Part parse(std::string_view message) {
  Part root;
  parse_entity(message, root, 0, message.size(), false, 0);
  return root;
}

std::vector<std::pair<std::string_view, std::string_view>> header_fields(std::string_view h) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  std::size_t i = 0;
  while (i < h.size()) {
    std::size_t line_end = h.find('\n', i);
    if (line_end == std::string_view::npos) line_end = h.size();
    std::string_view line = h.substr(i, line_end - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the blank line
    // Continuation lines extend the field.
    std::size_t field_end = line_end;
    while (field_end + 1 < h.size() && (h[field_end + 1] == ' ' || h[field_end + 1] == '\t')) {
      std::size_t n = h.find('\n', field_end + 1);
      field_end = n == std::string_view::npos ? h.size() : n;
    }
    std::string_view field = h.substr(i, field_end - i);
    if (!field.empty() && field.back() == '\r') field.remove_suffix(1);
    std::size_t colon = field.find(':');
    if (colon != std::string_view::npos && colon > 0) {
      std::string_view name = field.substr(0, colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      std::string_view value = field.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      if (!name.empty() && name.find_first_of(" \t") == std::string_view::npos) out.emplace_back(name, value);
    }
    i = field_end + 1;
  }
  return out;
}

std::optional<std::string> header_value(std::string_view header, std::string_view name) {
  for (auto& [n, v] : header_fields(header))
    if (iequals(n, name)) return unfold(v);
  return std::nullopt;
}

std::string quote(std::string_view s) {
  std::string r;
  append_string(r, s);
  return r;
}

void append_string(std::string& out, std::string_view s) {
  bool literal = s.size() > 1024;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || u >= 0x80) { literal = true; break; }
  }
  if (literal) {
    out += '{';
    out += std::to_string(s.size());
    out += "}\r\n";
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_nstring(std::string& out, const std::optional<std::string>& s) {
  if (s) append_string(out, *s);
  else out += "NIL";
}

std::vector<Address> parse_addresses(std::string_view value) {
  std::vector<Address> out;
  auto ts = tokenize_addresses(value);
  std::size_t i = 0;
  bool in_group = false;
  while (i < ts.size()) {
    // One element: up to a top-level ',' or ';' (outside <>), or a ':' that starts a group.
    std::size_t b = i;
    bool in_angle = false;
    std::size_t e = i;
    char stop = 0;
    for (; e < ts.size(); ++e) {
      if (is_special(ts[e], '<')) in_angle = true;
      else if (is_special(ts[e], '>')) in_angle = false;
      else if (!in_angle && (is_special(ts[e], ',') || is_special(ts[e], ';'))) { stop = ts[e].text[0]; break; }
      else if (!in_angle && !in_group && is_special(ts[e], ':')) { stop = ':'; break; }
    }
    if (stop == ':') {
      Address start;
      start.mailbox = phrase(ts, b, e).value_or("");
      out.push_back(std::move(start));
      in_group = true;
      i = e + 1;
      continue;
    }
    Address a;
    if (parse_mailbox(ts, b, e, a)) out.push_back(std::move(a));
    if (stop == ';' && in_group) {
      out.push_back(Address{});
      in_group = false;
    }
    i = e + 1;
  }
  if (in_group) out.push_back(Address{});
  return out;
}

std::string envelope(std::string_view m, const Part& top) {
  std::string_view h = m.substr(top.header.begin, top.header.size());
  std::optional<std::string> date, subject, from, sender, reply_to, to, cc, bcc, in_reply_to, message_id;
  for (auto& [name, raw] : header_fields(h)) {
    auto set = [&](std::optional<std::string>& slot) {
      if (!slot) slot = unfold(raw);
    };
    if (iequals(name, "Date")) set(date);
    else if (iequals(name, "Subject")) set(subject);
    else if (iequals(name, "From")) set(from);
    else if (iequals(name, "Sender")) set(sender);
    else if (iequals(name, "Reply-To")) set(reply_to);
    else if (iequals(name, "To")) set(to);
    else if (iequals(name, "Cc")) set(cc);
    else if (iequals(name, "Bcc")) set(bcc);
    else if (iequals(name, "In-Reply-To")) set(in_reply_to);
    else if (iequals(name, "Message-ID")) set(message_id);
  }
  auto addresses = [](std::string& out, const std::optional<std::string>& v) {
    if (!v) { out += "NIL"; return; }
    auto list = parse_addresses(*v);
    if (list.empty()) { out += "NIL"; return; }
    out += '(';
    for (auto& a : list) {
      out += '(';
      append_nstring(out, a.name);
      out += ' ';
      append_nstring(out, a.adl);
      out += ' ';
      append_nstring(out, a.mailbox);
      out += ' ';
      append_nstring(out, a.host);
      out += ')';
    }
    out += ')';
  };
  // RFC 3501: Sender and Reply-To default to From when absent (or empty).
  auto has_addresses = [](const std::optional<std::string>& v) { return v && !parse_addresses(*v).empty(); };
  if (!has_addresses(sender)) sender = from;
  if (!has_addresses(reply_to)) reply_to = from;
  auto trimmed = [](const std::optional<std::string>& v) -> std::optional<std::string> {
    if (!v) return std::nullopt;
    return std::string(trim(*v));
  };
  std::string out = "(";
  append_nstring(out, trimmed(date));
  out += ' ';
  append_nstring(out, trimmed(subject));
  out += ' ';
  addresses(out, from);
  out += ' ';
  addresses(out, sender);
  out += ' ';
  addresses(out, reply_to);
  out += ' ';
  addresses(out, to);
  out += ' ';
  addresses(out, cc);
  out += ' ';
  addresses(out, bcc);
  out += ' ';
  append_nstring(out, trimmed(in_reply_to));
  out += ' ';
  append_nstring(out, trimmed(message_id));
  out += ')';
  return out;
}

std::string bodystructure(std::string_view message, const Part& part, bool extensible) {
  std::string out;
  append_bodystructure(out, message, part, extensible, 0);
  return out;
}

std::optional<std::pair<std::int64_t, int>> parse_date(std::string_view v) {
  // [day-of-week ","] day month year hour ":" minute [":" second] zone
  std::vector<std::string> words;
  std::string cur;
  std::size_t i = 0;
  while (i < v.size()) {
    char c = v[i];
    if (c == '(') { skip_cfws(v, i); if (!cur.empty()) { words.push_back(cur); cur.clear(); } continue; }
    if (c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n') {
      if (!cur.empty()) { words.push_back(cur); cur.clear(); }
    } else {
      cur.push_back(c);
    }
    ++i;
  }
  if (!cur.empty()) words.push_back(cur);
  std::size_t w = 0;
  if (w < words.size() && !words[w].empty() && std::isalpha(static_cast<unsigned char>(words[w][0]))) ++w;
  if (words.size() < w + 4) return std::nullopt;
  auto num = [](std::string_view s, int& out) {
    if (s.empty() || s.size() > 9) return false;
    int n = 0;
    for (char c : s) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      n = n * 10 + (c - '0');
    }
    out = n;
    return true;
  };
  int day = 0, year = 0, month = 0;
  if (!num(words[w], day) || day < 1 || day > 31) return std::nullopt;
  static constexpr std::array<const char*, 12> months = {"jan", "feb", "mar", "apr", "may", "jun",
                                                         "jul", "aug", "sep", "oct", "nov", "dec"};
  std::string mon = to_lower(words[w + 1]).substr(0, 3);
  for (int k = 0; k < 12; ++k)
    if (mon == months[k]) month = k + 1;
  if (month == 0 || !num(words[w + 2], year)) return std::nullopt;
  if (year < 50) year += 2000;
  else if (year < 1000) year += 1900;
  int hh = 0, mm = 0, ss = 0;
  std::string_view t = words[w + 3];
  auto c1 = t.find(':');
  if (c1 == std::string_view::npos || !num(t.substr(0, c1), hh)) return std::nullopt;
  auto rest = t.substr(c1 + 1);
  auto c2 = rest.find(':');
  if (!num(rest.substr(0, c2), mm)) return std::nullopt;
  if (c2 != std::string_view::npos && !num(rest.substr(c2 + 1), ss)) return std::nullopt;
  if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  int zone = 0;
  if (words.size() > w + 4) {
    std::string_view z = words[w + 4];
    if ((z[0] == '+' || z[0] == '-') && z.size() == 5) {
      int hhmm = 0;
      if (num(z.substr(1), hhmm)) zone = (hhmm / 100) * 60 + hhmm % 100;
      if (z[0] == '-') zone = -zone;
    } else {
      static constexpr std::array<std::pair<const char*, int>, 9> names = {{
          {"ut", 0}, {"gmt", 0}, {"z", 0}, {"est", -300}, {"edt", -240},
          {"cst", -360}, {"cdt", -300}, {"mst", -420}, {"pst", -480}}};
      std::string lz = to_lower(z);
      for (auto& [n, off] : names)
        if (lz == n) zone = off;
    }
  }
  using namespace std::chrono;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                     std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  std::int64_t secs = sys_days{ymd}.time_since_epoch().count() * 86400LL + hh * 3600 + mm * 60 + ss;
  return std::pair{secs - zone * 60LL, zone};
}

std::optional<std::string> section_bytes(std::string_view m, const Part& root, const Section& s) {
  const Part* e = &root;
  bool is_top = true;
  for (std::uint32_t n : s.path) {
    if (!is_top && e->is_message_rfc822()) {
      if (e->children.empty()) return std::nullopt;
      e = &e->children[0];
      is_top = true;
    }
    if (e->is_multipart()) {
      if (n < 1 || n > e->children.size()) return std::nullopt;
      e = &e->children[n - 1];
      is_top = false;
    } else if (is_top && n == 1) {
      is_top = false;  // the body of a single-part message
    } else {
      return std::nullopt;
    }
  }
  using T = Section::Text;
  auto bytes = [&](Span sp) { return std::string(m.substr(sp.begin, sp.size())); };
  if (s.text == T::none) return s.path.empty() ? std::string(m) : bytes(e->body);
  if (s.text == T::mime) {
    if (s.path.empty()) return std::nullopt;
    return bytes(e->header);
  }
  // HEADER, HEADER.FIELDS(.NOT), TEXT: of the message itself or of an encapsulated message.
  const Part* msg = e;
  if (!s.path.empty()) {
    if (!e->is_message_rfc822() || e->children.empty()) return std::nullopt;
    msg = &e->children[0];
  }
  if (s.text == T::text) return bytes(msg->body);
  std::string_view h = m.substr(msg->header.begin, msg->header.size());
  if (s.text == T::header) return std::string(h);
  // HEADER.FIELDS / .NOT: the raw field lines (with folding) of the selected names.
  std::string out;
  std::size_t i = 0;
  while (i < h.size()) {
    std::size_t line_end = h.find('\n', i);
    if (line_end == std::string_view::npos) line_end = h.size();
    std::string_view first = h.substr(i, line_end - i);
    if (first.empty() || first == "\r") break;
    std::size_t field_end = line_end;
    while (field_end + 1 < h.size() && (h[field_end + 1] == ' ' || h[field_end + 1] == '\t')) {
      std::size_t n = h.find('\n', field_end + 1);
      field_end = n == std::string_view::npos ? h.size() : n;
    }
    std::string_view field = h.substr(i, std::min(field_end + 1, h.size()) - i);
    std::size_t colon = field.find(':');
    std::string_view name = colon == std::string_view::npos ? field : field.substr(0, colon);
    name = trim(name);
    bool listed = false;
    for (auto& f : s.fields)
      if (iequals(f, name)) listed = true;
    if (colon != std::string_view::npos && listed == (s.text == T::header_fields)) {
      out += field;
      if (out.back() != '\n') out += "\r\n";
    }
    i = field_end + 1;
  }
  out += "\r\n";
  return out;
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::string> decode_b(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::optional<std::string> decode_q(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '_') out.push_back(' ');
    else if (in[i] == '=') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

std::string latin1_to_utf8(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (c < 0x80) out.push_back(static_cast<char>(c));
    else {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

// One encoded word starting at `at` ("=?"): its decoded text and its length, or nullopt.
std::optional<std::pair<std::string, std::size_t>> encoded_word(std::string_view v, std::size_t at) {
  auto q1 = v.find('?', at + 2);
  if (q1 == std::string_view::npos) return std::nullopt;
  auto q2 = v.find('?', q1 + 1);
  if (q2 == std::string_view::npos || q2 != q1 + 2) return std::nullopt;
  auto end = v.find("?=", q2 + 1);
  if (end == std::string_view::npos) return std::nullopt;
  std::string charset = to_lower(v.substr(at + 2, q1 - at - 2));
  if (auto star = charset.find('*'); star != std::string::npos) charset.resize(star);  // RFC 2231 language
  char enc = ascii::upper(v[q1 + 1]);
  std::string_view text = v.substr(q2 + 1, end - q2 - 1);
  if (text.find(' ') != std::string_view::npos) return std::nullopt;
  std::optional<std::string> raw = enc == 'B' ? decode_b(text) : enc == 'Q' ? decode_q(text) : std::nullopt;
  if (!raw) return std::nullopt;
  std::string decoded;
  if (charset == "utf-8" || charset == "utf8" || charset == "us-ascii") decoded = std::move(*raw);
  else if (charset == "iso-8859-1" || charset == "latin1" || charset == "windows-1252") decoded = latin1_to_utf8(*raw);
  else return std::nullopt;
  return std::make_pair(std::move(decoded), end + 2 - at);
}

}  // namespace

std::string decode_encoded_words(std::string_view v) {
  if (v.find("=?") == std::string_view::npos) return std::string(v);
  std::string out;
  std::size_t i = 0;
  std::size_t after_word = std::string_view::npos;  // where the last decoded word ended
  while (i < v.size()) {
    auto at = v.find("=?", i);
    if (at == std::string_view::npos) {
      out.append(v.substr(i));
      break;
    }
    auto word = encoded_word(v, at);
    if (!word) {
      out.append(v.substr(i, at + 2 - i));
      i = at + 2;
      after_word = std::string_view::npos;
      continue;
    }
    std::string_view between = v.substr(i, at - i);
    bool only_space = between.find_first_not_of(" \t\r\n") == std::string_view::npos;
    if (!(after_word == i && only_space)) out.append(between);
    out += word->first;
    i = at + word->second;
    after_word = i;
  }
  return out;
}

}  // namespace fcpmail::mime
