#include "freemail/header_filter.h"

#include "mail/ascii.h"

#include <array>
#include <chrono>
#include <cstdio>

namespace fcpmail::freemail {
namespace {

constexpr std::array<std::string_view, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 12> long_month_names = {
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December"};
// Index = std::chrono::weekday::c_encoding() (0 = Sunday).
constexpr std::array<std::string_view, 7> day_names = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> long_day_names = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                                            "Thursday", "Friday", "Saturday"};

constexpr std::array<std::string_view, 8> passed_headers = {
    "To", "CC", "Subject", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "In-Reply-To", "References"};

using ascii::iequals;

// Java String.trim(): strips every char <= ' ' at both ends.
std::string_view java_trim(std::string_view s) {
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20) s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20) s.remove_suffix(1);
  return s;
}

// --- date parsing --------------------------------------------------------------------------

struct DateScanner {
  std::string_view s;
  std::size_t pos = 0;

  void skip_space() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r' || s[pos] == '\n')) ++pos;
  }
  std::string_view word() {
    skip_space();
    const std::size_t start = pos;
    while (pos < s.size() && ((s[pos] >= 'A' && s[pos] <= 'Z') || (s[pos] >= 'a' && s[pos] <= 'z'))) ++pos;
    return s.substr(start, pos - start);
  }
  // 1..max_digits digits; -1 if none.
  int number(std::size_t max_digits, std::size_t* digits_read = nullptr) {
    skip_space();
    const std::size_t start = pos;
    int value = 0;
    while (pos < s.size() && pos - start < max_digits && s[pos] >= '0' && s[pos] <= '9') {
      value = value * 10 + (s[pos] - '0');
      ++pos;
    }
    if (digits_read) *digits_read = pos - start;
    return pos == start ? -1 : value;
  }
  bool accept(char c) {
    skip_space();
    if (pos < s.size() && s[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  bool at_end_of_token() const {
    return pos >= s.size() || s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\r' || s[pos] == '\n' || s[pos] == '(';
  }
};

std::optional<int> month_index(std::string_view name) {
  for (std::size_t i = 0; i < 12; ++i) {
    if (iequals(name, month_names[i]) || iequals(name, long_month_names[i])) return static_cast<int>(i) + 1;
  }
  return std::nullopt;
}

bool is_day_name(std::string_view name) {
  for (std::size_t i = 0; i < 7; ++i) {
    if (iequals(name, day_names[i]) || iequals(name, long_day_names[i])) return true;
  }
  return false;
}

// Zone offset in minutes east of UTC.
std::optional<int> zone_offset(DateScanner& scan) {
  scan.skip_space();
  if (scan.pos < scan.s.size() && (scan.s[scan.pos] == '+' || scan.s[scan.pos] == '-')) {
    const int sign = scan.s[scan.pos] == '-' ? -1 : 1;
    ++scan.pos;
    std::size_t digits = 0;
    const int hhmm = scan.number(4, &digits);
    if (digits != 4 || !scan.at_end_of_token()) return std::nullopt;
    const int hours = hhmm / 100;
    const int minutes = hhmm % 100;
    if (hours > 23 || minutes > 59) return std::nullopt;
    return sign * (hours * 60 + minutes);
  }
  const std::string_view name = scan.word();
  if (!scan.at_end_of_token()) return std::nullopt;
  struct Named {
    std::string_view name;
    int minutes;
  };
  static constexpr Named zones[] = {{"UT", 0},        {"UTC", 0},       {"GMT", 0},       {"Z", 0},
                                    {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
                                    {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60}};
  for (const auto& zone : zones) {
    if (iequals(name, zone.name)) return zone.minutes;
  }
  return std::nullopt;
}

// --- header handling --------------------------------------------------------------------------

// Java's Message-ID pattern `<?([^@>])*@([^>]*)>?` (whole value) and "group 2 ends with .freemail".
bool message_id_in_freemail_domain(std::string_view value) {
  const std::size_t at = value.find('@');
  if (at == std::string_view::npos) return false;
  std::string_view local = value.substr(0, at);
  if (local.starts_with('<')) local.remove_prefix(1);
  if (local.find('>') != std::string_view::npos) return false;
  std::string_view domain = value.substr(at + 1);
  if (domain.ends_with('>')) domain.remove_suffix(1);
  if (domain.find('>') != std::string_view::npos) return false;
  return domain.ends_with(".freemail");
}

std::string generated_message_id(const HeaderFilterPolicy& policy) {
  return "<" + std::to_string(static_cast<std::int64_t>(policy.message_id_random[0])) + "." +
         std::to_string(static_cast<std::int64_t>(policy.message_id_random[1])) + "@" + policy.sender.domain() + ">";
}

std::string sender_address(const HeaderFilterPolicy& policy) {
  return policy.sender_local_part + "@" + policy.sender.domain();
}

}  // namespace

std::optional<std::int64_t> parse_mail_date(std::string_view text) {
  DateScanner scan{text};
  // Optional day name followed by ','.
  const std::size_t start = scan.pos;
  const std::string_view first = scan.word();
  if (!first.empty()) {
    if (!is_day_name(first) || !scan.accept(',')) return std::nullopt;
  } else {
    scan.pos = start;
  }
  const int day = scan.number(2);
  if (day < 1) return std::nullopt;
  const auto month = month_index(scan.word());
  if (!month) return std::nullopt;
  std::size_t year_digits = 0;
  int year = scan.number(4, &year_digits);
  if (year_digits == 2) {
    year += year < 50 ? 2000 : 1900;  // RFC 5322 obsolete two-digit years
  } else if (year_digits != 4) {
    return std::nullopt;
  }
  std::size_t digits = 0;
  const int hour = scan.number(2, &digits);
  if (digits == 0 || !scan.accept(':')) return std::nullopt;
  const int minute = scan.number(2, &digits);
  if (digits != 2) return std::nullopt;
  int second = 0;
  if (scan.accept(':')) {
    second = scan.number(2, &digits);
    if (digits != 2) return std::nullopt;
  }
  if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const auto offset = zone_offset(scan);
  if (!offset) return std::nullopt;

  using namespace std::chrono;
  const year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(*month)),
                            std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  const auto days_since_epoch = sys_days(date).time_since_epoch().count();
  const std::int64_t seconds = static_cast<std::int64_t>(days_since_epoch) * 86400 + hour * 3600 + minute * 60 +
                               second - static_cast<std::int64_t>(*offset) * 60;
  return seconds * 1000;
}

std::string format_mail_date(std::int64_t unix_ms) {
  using namespace std::chrono;
  const sys_seconds instant = floor<seconds>(sys_time<milliseconds>(milliseconds(unix_ms)));
  const sys_days day = floor<days>(instant);
  const year_month_day date(day);
  const hh_mm_ss<seconds> time(instant - day);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %02u %s %04d %02d:%02d:%02d +0000",
                std::string(day_names[weekday(day).c_encoding()]).c_str(), static_cast<unsigned>(date.day()),
                std::string(month_names[static_cast<unsigned>(date.month()) - 1]).c_str(),
                static_cast<int>(date.year()), static_cast<int>(time.hours().count()),
                static_cast<int>(time.minutes().count()), static_cast<int>(time.seconds().count()));
  return buffer;
}

std::expected<FilteredMail, std::string> filter_mail_headers(std::string_view mail, const HeaderFilterPolicy& policy) {
  // Split the header into logical (unfolded the Freemail way) headers.
  std::vector<std::string> headers;
  std::size_t pos = 0;
  bool found_end = false;
  FilteredMail result;
  while (pos < mail.size()) {
    std::size_t end = pos;
    while (end < mail.size() && mail[end] != '\n' && mail[end] != '\r') ++end;
    const std::string_view line = mail.substr(pos, end - pos);
    pos = end;
    if (pos < mail.size()) pos += (mail[pos] == '\r' && pos + 1 < mail.size() && mail[pos + 1] == '\n') ? 2 : 1;
    if (line.empty()) {
      found_end = true;
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (headers.empty()) {
        result.dropped.emplace_back("(continuation line without a header)");
        continue;
      }
      headers.back() += "\r\n ";
      headers.back() += java_trim(line);
    } else {
      headers.emplace_back(line);
    }
  }
  if (!found_end) return std::unexpected(std::string("the mail has no empty line ending its header"));
  const std::string_view body = mail.substr(pos);

  std::string out_headers;
  bool has_date = false, has_from = false, has_message_id = false;
  for (const auto& header : headers) {
    const std::size_t colon = header.find(':');
    if (colon == std::string::npos) {
      result.dropped.emplace_back("(line without ':')");
      continue;
    }
    const std::string_view name = std::string_view(header).substr(0, colon);
    const std::string_view value = java_trim(std::string_view(header).substr(colon + 1));
    bool eight_bit = false;
    for (const char c : name) eight_bit |= static_cast<unsigned char>(c) >= 0x80;
    if (eight_bit) {
      result.dropped.emplace_back("(name with 8-bit bytes)");
      continue;
    }
    std::string kept;
    bool keep = false;
    for (const auto passed : passed_headers) {
      if (iequals(name, passed)) {
        kept = value;
        keep = true;
      }
    }
    if (keep) {
      // whitelisted, unchanged
    } else if (iequals(name, "Date")) {
      if (const auto when = parse_mail_date(value)) {
        kept = format_mail_date(*when);
        keep = true;
        has_date = true;
        if (kept != value) result.rewritten.emplace_back(name);
      }
    } else if (iequals(name, "Message-ID")) {
      keep = true;
      has_message_id = true;
      if (message_id_in_freemail_domain(value)) {
        kept = value;
      } else {
        kept = generated_message_id(policy);
        result.rewritten.emplace_back(name);
      }
    } else if (iequals(name, "From")) {
      keep = true;
      has_from = true;
      const auto from = parse_address(value);
      if (from && from->identity == policy.sender) {
        kept = value;
      } else {
        kept = sender_address(policy);
        result.rewritten.emplace_back(name);
      }
    }
    if (!keep) {
      result.dropped.emplace_back(name);
      continue;
    }
    out_headers.append(name);
    out_headers.append(": ");
    out_headers.append(kept);
    out_headers.append("\r\n");
  }

  std::string added;
  if (policy.add_missing) {
    if (!has_date) {
      added += "Date: " + format_mail_date(policy.now_ms) + "\r\n";
      result.rewritten.emplace_back("Date");
    }
    if (!has_from) {
      added += "From: " + sender_address(policy) + "\r\n";
      result.rewritten.emplace_back("From");
    }
    if (!has_message_id) {
      added += "Message-ID: " + generated_message_id(policy) + "\r\n";
      result.rewritten.emplace_back("Message-ID");
    }
  }
  result.mail.reserve(added.size() + out_headers.size() + 2 + body.size());
  result.mail += added;
  result.mail += out_headers;
  result.mail += "\r\n";
  result.mail += body;
  return result;
}

}  // namespace fcpmail::freemail
