#include "imap/imap_parser.h"

#include "mail/ascii.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <limits>

namespace fcpmail::imap {
namespace {

constexpr int max_depth = 32;

bool is_tag_char(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return std::string_view("(){%*\"\\+").find(c) == std::string_view::npos;
}

std::string tag_at(std::string_view s) {
  std::size_t e = 0;
  while (e < s.size() && is_tag_char(s[e])) ++e;
  if (e == 0 || e > 64 || e >= s.size() || s[e] != ' ') return "*";
  return std::string(s.substr(0, e));
}

using ascii::iequals;

bool parse_u32(std::string_view s, std::uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  std::uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n > std::numeric_limits<std::uint32_t>::max()) return false;
  out = static_cast<std::uint32_t>(n);
  return true;
}

// "{123}" or "{123+}" at the end of a line (CR already stripped): the size and whether it is
// non-synchronising; nullopt if the line does not end with a literal announcement.
struct LiteralHead { std::uint64_t size; bool plus; };
std::optional<LiteralHead> literal_at_end(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view inner = line.substr(open + 1, line.size() - open - 2);
  bool plus = !inner.empty() && inner.back() == '+';
  if (plus) inner.remove_suffix(1);
  if (inner.empty() || inner.size() > 12) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : inner) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return LiteralHead{n, plus};
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  std::expected<Command, ParseError> run() {
    // The final line end belongs to the command, not to an argument.
    if (s_.ends_with("\r\n")) s_.remove_suffix(2);
    else if (s_.ends_with("\n")) s_.remove_suffix(1);
    Command c;
    std::size_t e = 0;
    while (e < s_.size() && is_tag_char(s_[e])) ++e;
    if (e == 0 || e > 64 || e >= s_.size() || s_[e] != ' ')
      return std::unexpected(ParseError{"*", "a command starts with a tag and a space"});
    c.tag = std::string(s_.substr(0, e));
    i_ = e + 1;
    std::size_t b = i_;
    while (i_ < s_.size() && std::isalnum(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ == b) return std::unexpected(ParseError{c.tag, "missing command name"});
    if (i_ < s_.size() && s_[i_] != ' ') return std::unexpected(ParseError{c.tag, "invalid command name"});
    c.name = ascii::to_upper(s_.substr(b, i_ - b));
    while (i_ < s_.size()) {
      if (s_[i_] != ' ') return std::unexpected(ParseError{c.tag, error_here("expected a space")});
      while (i_ < s_.size() && s_[i_] == ' ') ++i_;
      if (i_ >= s_.size()) break;  // trailing space: tolerated
      Value v;
      if (auto err = value(v, 0)) return std::unexpected(ParseError{c.tag, *err});
      c.args.push_back(std::move(v));
    }
    return c;
  }

 private:
  std::string error_here(std::string_view what) const { return std::string(what) + " at offset " + std::to_string(i_); }

  // Returns an error text, or nullopt on success.
  std::optional<std::string> value(Value& v, int depth) {
    if (depth > max_depth) return "lists nested too deeply";
    char c = s_[i_];
    if (c == '(') {
      v.kind = Value::Kind::list;
      ++i_;
      while (true) {
        while (i_ < s_.size() && s_[i_] == ' ') ++i_;
        if (i_ >= s_.size()) return "unclosed parenthesis";
        if (s_[i_] == ')') { ++i_; break; }
        Value item;
        if (auto err = value(item, depth + 1)) return err;
        v.items.push_back(std::move(item));
        if (i_ < s_.size() && s_[i_] != ' ' && s_[i_] != ')') return error_here("expected a space or ')'");
      }
      return std::nullopt;
    }
    if (c == ')') return error_here("unexpected ')'");
    if (c == '"') {
      v.kind = Value::Kind::string;
      ++i_;
      while (true) {
        if (i_ >= s_.size()) return "unterminated quoted string";
        char q = s_[i_];
        if (q == '"') { ++i_; break; }
        if (q == '\r' || q == '\n' || q == '\0') return "invalid character in quoted string";
        if (q == '\\') {
          if (i_ + 1 >= s_.size() || (s_[i_ + 1] != '"' && s_[i_ + 1] != '\\'))
            return "invalid escape in quoted string";
          ++i_;
        }
        v.text.push_back(s_[i_]);
        ++i_;
      }
      return std::nullopt;
    }
    if (c == '{') {
      std::size_t close = s_.find('}', i_);
      if (close == std::string_view::npos) return "invalid literal";
      std::string_view inner = s_.substr(i_ + 1, close - i_ - 1);
      if (!inner.empty() && inner.back() == '+') inner.remove_suffix(1);
      std::uint32_t n = 0;
      if (!parse_u32(inner, n)) return "invalid literal size";
      std::size_t data = close + 1;
      if (s_.compare(data, 2, "\r\n") == 0) data += 2;
      else if (s_.compare(data, 1, "\n") == 0) data += 1;
      else return "a literal's size must end its line";
      if (s_.size() - data < n) return "literal shorter than announced";
      v.kind = Value::Kind::string;
      v.literal = true;
      v.text = std::string(s_.substr(data, n));
      i_ = data + n;
      return std::nullopt;
    }
    // An atom; brackets (FETCH's BODY[HEADER.FIELDS (A B)]) may hold spaces and parentheses.
    v.kind = Value::Kind::atom;
    std::size_t b = i_;
    while (i_ < s_.size()) {
      char a = s_[i_];
      auto u = static_cast<unsigned char>(a);
      if (a == ' ' || a == '(' || a == ')') break;
      if (a == '"' || a == '{' || u < 0x20 || u == 0x7f) {
        if (i_ == b || a != '{') return error_here("invalid character in atom");
        break;
      }
      if (a == '[') {
        int level = 0;
        while (i_ < s_.size()) {
          char x = s_[i_];
          if (x == '\r' || x == '\n' || x == '\0') return "invalid character in section";
          if (x == '[') ++level;
          if (x == ']' && --level == 0) break;
          ++i_;
        }
        if (i_ >= s_.size()) return "unclosed '['";
      }
      ++i_;
    }
    if (i_ == b) return error_here("expected an argument");
    v.text = std::string(s_.substr(b, i_ - b));
    return std::nullopt;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace


bool Value::is_nil() const { return kind == Kind::atom && iequals(text, "NIL"); }

// ---- framer -------------------------------------------------------------------------------

void CommandFramer::compact() {
  if (start_ == 0) return;
  if (start_ >= buffer_.size()) {
    buffer_.clear();
    start_ = line_start_ = scan_ = 0;
    return;
  }
  if (start_ < 4096 && start_ < buffer_.size() / 2) return;
  buffer_.erase(0, start_);
  line_start_ -= start_;
  scan_ -= start_;
  start_ = 0;
}

CommandFramer::Event CommandFramer::next() {
  while (true) {
    if (literal_left_ > 0) {
      std::size_t avail = buffer_.size() - scan_;
      if (avail < literal_left_) return NeedMore{};
      scan_ += literal_left_;
      literal_left_ = 0;
      line_start_ = scan_;
      continue;
    }
    std::size_t nl = buffer_.find('\n', scan_);
    if (discarding_) {
      if (nl == std::string::npos) {
        buffer_.clear();
        start_ = line_start_ = scan_ = 0;
        return NeedMore{};
      }
      start_ = line_start_ = scan_ = nl + 1;
      discarding_ = false;
      compact();
      continue;
    }
    if (nl == std::string::npos) {
      if (buffer_.size() - line_start_ > limits_.max_line) {
        Reject r{tag_at(std::string_view(buffer_).substr(start_)), "line too long", false};
        buffer_.clear();
        start_ = line_start_ = scan_ = 0;
        discarding_ = true;
        return r;
      }
      scan_ = buffer_.size();
      return NeedMore{};
    }
    std::string_view line(buffer_.data() + line_start_, nl - line_start_);
    if (line.size() > limits_.max_line) {
      Reject r{tag_at(std::string_view(buffer_).substr(start_)), "line too long", false};
      start_ = line_start_ = scan_ = nl + 1;
      compact();
      return r;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (auto lit = literal_at_end(line)) {
      std::size_t so_far = nl + 1 - start_;
      if (lit->size > limits_.max_literal || so_far + lit->size > limits_.max_command) {
        Reject r{tag_at(std::string_view(buffer_).substr(start_)), "literal too large", lit->plus};
        start_ = line_start_ = scan_ = nl + 1;
        compact();
        return r;
      }
      literal_left_ = static_cast<std::size_t>(lit->size);
      scan_ = line_start_ = nl + 1;
      if (!lit->plus) return Continue{};
      continue;
    }
    Command c{buffer_.substr(start_, nl + 1 - start_)};
    start_ = line_start_ = scan_ = nl + 1;
    compact();
    return c;
  }
}

std::expected<Command, ParseError> parse_command(std::string_view raw) { return Parser(raw).run(); }

// ---- sequence sets ------------------------------------------------------------------------

bool SequenceSet::contains(std::uint32_t n, std::uint32_t star) const {
  for (auto r : ranges) {
    std::uint32_t lo = r.lo == 0 ? star : r.lo, hi = r.hi == 0 ? star : r.hi;
    if (lo > hi) std::swap(lo, hi);
    if (n >= lo && n <= hi) return true;
  }
  return false;
}

std::optional<SequenceSet> parse_sequence_set(std::string_view s) {
  SequenceSet set;
  if (s.empty()) return std::nullopt;
  if (s == "$") return std::nullopt;
  auto number = [](std::string_view t, std::uint32_t& out) {
    if (t == "*") { out = 0; return true; }
    if (!parse_u32(t, out) || out == 0 || t[0] == '0') return false;
    return true;
  };
  std::size_t i = 0;
  while (true) {
    std::size_t comma = s.find(',', i);
    std::string_view item = s.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
    if (item.empty()) return std::nullopt;
    auto colon = item.find(':');
    SequenceSet::Range r{};
    if (colon == std::string_view::npos) {
      if (!number(item, r.lo)) return std::nullopt;
      r.hi = r.lo;
    } else {
      if (!number(item.substr(0, colon), r.lo) || !number(item.substr(colon + 1), r.hi)) return std::nullopt;
    }
    set.ranges.push_back(r);
    if (comma == std::string_view::npos) break;
    i = comma + 1;
    if (set.ranges.size() > 100000) return std::nullopt;
  }
  return set;
}

// ---- FETCH items --------------------------------------------------------------------------

std::expected<mime::Section, std::string> parse_section(std::string_view spec) {
  mime::Section s;
  std::size_t i = 0;
  // Part numbers first.
  while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) {
    std::size_t b = i;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) ++i;
    std::uint32_t n = 0;
    if (!parse_u32(spec.substr(b, i - b), n) || n == 0) return std::unexpected("invalid part number");
    s.path.push_back(n);
    if (s.path.size() > 64) return std::unexpected("section nested too deeply");
    if (i == spec.size()) return s;
    if (spec[i] != '.') return std::unexpected("invalid section");
    ++i;
    if (i == spec.size()) return std::unexpected("invalid section");
  }
  std::string_view rest = spec.substr(i);
  if (rest.empty()) return s;
  using T = mime::Section::Text;
  auto starts = [&](std::string_view word) {
    return rest.size() >= word.size() && iequals(rest.substr(0, word.size()), word);
  };
  if (iequals(rest, "HEADER")) { s.text = T::header; return s; }
  if (iequals(rest, "TEXT")) { s.text = T::text; return s; }
  if (iequals(rest, "MIME")) {
    if (s.path.empty()) return std::unexpected("MIME needs a part number");
    s.text = T::mime;
    return s;
  }
  std::string_view list;
  if (starts("HEADER.FIELDS.NOT ")) {
    s.text = T::header_fields_not;
    list = rest.substr(18);
  } else if (starts("HEADER.FIELDS ")) {
    s.text = T::header_fields;
    list = rest.substr(14);
  } else {
    return std::unexpected("invalid section");
  }
  while (!list.empty() && list.front() == ' ') list.remove_prefix(1);
  if (list.size() < 2 || list.front() != '(' || list.back() != ')') return std::unexpected("invalid header list");
  list = list.substr(1, list.size() - 2);
  // Field names: atoms or quoted strings.
  std::size_t j = 0;
  while (j < list.size()) {
    if (list[j] == ' ') { ++j; continue; }
    std::string name;
    if (list[j] == '"') {
      ++j;
      while (j < list.size() && list[j] != '"') {
        if (list[j] == '\\' && j + 1 < list.size()) ++j;
        name.push_back(list[j++]);
      }
      if (j >= list.size()) return std::unexpected("unterminated header name");
      ++j;
    } else {
      while (j < list.size() && list[j] != ' ') {
        char c = list[j];
        if (c == '(' || c == ')' || c == '"' || c == ':') return std::unexpected("invalid header name");
        name.push_back(list[j++]);
      }
    }
    if (name.empty()) return std::unexpected("empty header name");
    s.fields.push_back(std::move(name));
  }
  if (s.fields.empty()) return std::unexpected("empty header list");
  return s;
}

namespace {

std::expected<FetchItem, std::string> parse_fetch_atom(std::string_view a) {
  FetchItem it;
  using K = FetchItem::Kind;
  std::string head = ascii::to_upper(a.substr(0, a.find('[')));
  if (a.find('[') == std::string_view::npos) {
    if (head == "UID") it.kind = K::uid;
    else if (head == "FLAGS") it.kind = K::flags;
    else if (head == "INTERNALDATE") it.kind = K::internaldate;
    else if (head == "RFC822.SIZE") it.kind = K::rfc822_size;
    else if (head == "ENVELOPE") it.kind = K::envelope;
    else if (head == "BODYSTRUCTURE") it.kind = K::bodystructure;
    else if (head == "BODY") it.kind = K::body_structure_nonext;
    else if (head == "RFC822") it.kind = K::rfc822;
    else if (head == "RFC822.HEADER") it.kind = K::rfc822_header;
    else if (head == "RFC822.TEXT") it.kind = K::rfc822_text;
    else return std::unexpected("unknown FETCH item " + std::string(a.substr(0, 40)));
    return it;
  }
  if (head == "BODY") it.peek = false;
  else if (head == "BODY.PEEK") it.peek = true;
  else return std::unexpected("unknown FETCH item " + std::string(a.substr(0, 40)));
  it.kind = K::body_section;
  std::size_t open = a.find('[');
  std::size_t close = a.rfind(']');
  if (close == std::string_view::npos || close < open) return std::unexpected("unclosed section");
  std::string_view spec = a.substr(open + 1, close - open - 1);
  auto sec = parse_section(spec);
  if (!sec) return std::unexpected(sec.error());
  it.section = std::move(*sec);
  // The section as the reply names it: keywords upper-cased, field names as given.
  std::string text;
  for (auto n : it.section.path) {
    if (!text.empty()) text += '.';
    text += std::to_string(n);
  }
  using T = mime::Section::Text;
  auto add = [&](std::string_view w) {
    if (!text.empty()) text += '.';
    text += w;
  };
  switch (it.section.text) {
    case T::none: break;
    case T::header: add("HEADER"); break;
    case T::text: add("TEXT"); break;
    case T::mime: add("MIME"); break;
    case T::header_fields:
    case T::header_fields_not: {
      add(it.section.text == T::header_fields ? "HEADER.FIELDS (" : "HEADER.FIELDS.NOT (");
      for (std::size_t k = 0; k < it.section.fields.size(); ++k) {
        if (k) text += ' ';
        text += ascii::to_upper(it.section.fields[k]);
      }
      text += ')';
      break;
    }
  }
  it.section_text = std::move(text);
  std::string_view tail = a.substr(close + 1);
  if (!tail.empty()) {
    if (tail.size() < 5 || tail.front() != '<' || tail.back() != '>') return std::unexpected("invalid partial");
    tail = tail.substr(1, tail.size() - 2);
    auto dot = tail.find('.');
    if (dot == std::string_view::npos) return std::unexpected("invalid partial");
    std::uint32_t off = 0, len = 0;
    if (!parse_u32(tail.substr(0, dot), off) || !parse_u32(tail.substr(dot + 1), len) || len == 0)
      return std::unexpected("invalid partial");
    it.partial = std::pair{off, len};
  }
  return it;
}

}  // namespace

std::expected<std::vector<FetchItem>, std::string> parse_fetch_items(const Value& v) {
  using K = FetchItem::Kind;
  std::vector<FetchItem> out;
  auto kinds = [&](std::initializer_list<K> ks) {
    for (auto k : ks) {
      FetchItem it;
      it.kind = k;
      out.push_back(it);
    }
  };
  if (v.is_atom()) {
    std::string u = ascii::to_upper(v.text);
    if (u == "ALL") { kinds({K::flags, K::internaldate, K::rfc822_size, K::envelope}); return out; }
    if (u == "FAST") { kinds({K::flags, K::internaldate, K::rfc822_size}); return out; }
    if (u == "FULL") {
      kinds({K::flags, K::internaldate, K::rfc822_size, K::envelope, K::body_structure_nonext});
      return out;
    }
    auto it = parse_fetch_atom(v.text);
    if (!it) return std::unexpected(it.error());
    out.push_back(std::move(*it));
    return out;
  }
  if (!v.is_list() || v.items.empty()) return std::unexpected("expected FETCH items");
  for (auto& item : v.items) {
    if (!item.is_atom()) return std::unexpected("expected a FETCH item");
    auto it = parse_fetch_atom(item.text);
    if (!it) return std::unexpected(it.error());
    out.push_back(std::move(*it));
  }
  return out;
}

// ---- flags --------------------------------------------------------------------------------

std::expected<FlagList, std::string> parse_flag_atoms(const std::vector<Value>& atoms) {
  FlagList f;
  for (auto& a : atoms) {
    if (!a.is_atom()) return std::unexpected("a flag is an atom");
    std::string u = ascii::to_upper(a.text);
    if (!a.text.empty() && a.text[0] == '\\') {
      if (u == "\\SEEN") f.system |= 1;
      else if (u == "\\ANSWERED") f.system |= 2;
      else if (u == "\\FLAGGED") f.system |= 4;
      else if (u == "\\DELETED") f.system |= 8;
      else if (u == "\\DRAFT") f.system |= 16;
      else if (u == "\\RECENT") continue;  // set by the server only; ignored
      else return std::unexpected("unknown system flag " + a.text.substr(0, 40));
      continue;
    }
    for (char c : a.text) {
      auto x = static_cast<unsigned char>(c);
      if (x <= 0x20 || x >= 0x7f || std::string_view("(){%*\"\\]").find(c) != std::string_view::npos)
        return std::unexpected("invalid keyword");
    }
    if (a.text.size() > 100) return std::unexpected("keyword too long");
    f.keywords.push_back(a.text);
  }
  if (f.keywords.size() > 100) return std::unexpected("too many keywords");
  return f;
}

std::expected<FlagList, std::string> parse_flag_list(const Value& v) {
  if (v.is_list()) return parse_flag_atoms(v.items);
  if (v.is_atom()) return parse_flag_atoms({v});
  return std::unexpected("expected a flag list");
}

// ---- dates --------------------------------------------------------------------------------

namespace {
constexpr std::array<const char*, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::optional<std::int64_t> days_from(int y, int m, int d) {
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(m)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return sys_days{ymd}.time_since_epoch().count();
}

// "d-Mon-yyyy" with 1 or 2 digit day.
std::optional<std::int64_t> parse_day(std::string_view s) {
  auto d1 = s.find('-');
  if (d1 == std::string_view::npos || d1 == 0 || d1 > 2) return std::nullopt;
  auto d2 = s.find('-', d1 + 1);
  if (d2 != d1 + 4 || s.size() != d2 + 5) return std::nullopt;
  std::uint32_t day = 0, yr = 0;
  if (!parse_u32(s.substr(0, d1), day) || !parse_u32(s.substr(d2 + 1), yr)) return std::nullopt;
  int mon = 0;
  for (int k = 0; k < 12; ++k)
    if (iequals(s.substr(d1 + 1, 3), month_names[k])) mon = k + 1;
  if (mon == 0) return std::nullopt;
  return days_from(static_cast<int>(yr), mon, static_cast<int>(day));
}
}  // namespace

std::optional<std::int64_t> parse_search_date(std::string_view s) {
  auto d = parse_day(s);
  if (!d) return std::nullopt;
  return *d * 86400;
}

std::optional<std::int64_t> parse_date_time(std::string_view s) {
  // "dd-Mon-yyyy hh:mm:ss +zzzz", day may be space-padded.
  if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  auto sp = s.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  auto day = parse_day(s.substr(0, sp));
  if (!day) return std::nullopt;
  std::string_view rest = s.substr(sp + 1);
  if (rest.size() != 14 || rest[2] != ':' || rest[5] != ':' || rest[8] != ' ') return std::nullopt;
  std::uint32_t hh = 0, mm = 0, ss = 0, zone = 0;
  if (!parse_u32(rest.substr(0, 2), hh) || !parse_u32(rest.substr(3, 2), mm) || !parse_u32(rest.substr(6, 2), ss) ||
      !parse_u32(rest.substr(10, 4), zone) || (rest[9] != '+' && rest[9] != '-'))
    return std::nullopt;
  if (hh > 23 || mm > 59 || ss > 60 || zone % 100 > 59) return std::nullopt;
  std::int64_t off = (zone / 100) * 3600 + (zone % 100) * 60;
  if (rest[9] == '-') off = -off;
  return *day * 86400 + hh * 3600 + mm * 60 + ss - off;
}

std::string format_date_time(std::int64_t t) {
  using namespace std::chrono;
  std::int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  std::int64_t secs = t - days * 86400;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02u-%s-%04d %02d:%02d:%02d +0000", static_cast<unsigned>(ymd.day()),
                month_names[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

bool valid_mutf7(std::string_view name) {
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c >= 0x7f) return false;
    if (c == '&') {
      std::size_t j = i + 1;
      while (j < name.size() && name[j] != '-') {
        char b = name[j];
        if (!std::isalnum(static_cast<unsigned char>(b)) && b != '+' && b != ',') return false;
        ++j;
      }
      if (j >= name.size()) return false;
      i = j;
    }
  }
  return true;
}

}  // namespace fcpmail::imap
