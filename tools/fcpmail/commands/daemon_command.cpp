#include "commands/daemon_command.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "web/control_api.h"

namespace fcpmail::cli {

namespace {

constexpr const char* common_help =
    "\nOptions for every command: --data-dir DIR (else $FCPMAIL_DATA_DIR, else ~/.fcpmail), --json\n";

std::optional<std::time_t> parse_iso(const std::string& s) {
  std::tm tm{};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

}  // namespace

int run_daemon_group(DaemonGroup group, const Args& args) {
  group.syntax.options.push_back({"--data-dir", true});
  group.syntax.options.push_back({"--json", false});
  auto parsed = parse_command_line(group.syntax, args);
  if (!parsed) return report_usage_error(parsed.error());
  if (parsed->help) {
    std::cout << "usage: " << group.usage << common_help;
    return 0;
  }
  auto client = DaemonClient::open(parsed->value("--data-dir"));
  if (!client) {
    std::cerr << "fcpmail: " << client.error() << '\n';
    return 1;
  }
  return group.handler(*client, *parsed);
}

std::string str(const json& j, const char* key, const std::string& fallback) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump();
}

long long num(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return 0;
  return j[key].get<long long>();
}

std::string relative(long long seconds) {
  if (seconds == 0) return "now";  // "in 0 s" read as the future for something that just happened
  const long long a = seconds < 0 ? -seconds : seconds;
  std::string amount;
  if (a < 60) amount = std::to_string(a) + " s";
  else if (a < 3600) amount = std::to_string(a / 60) + " min";
  else if (a < 86400 * 2) amount = std::to_string(a / 3600) + " h " + std::to_string(a % 3600 / 60) + " min";
  else amount = std::to_string(a / 86400) + " days";
  return seconds >= 0 ? "in " + amount : amount + " ago";
}

// "2026-11-27 14:02:11 UTC (in 4 min)", or `none` for null.
std::string when(const json& j, const char* key, const std::string& none) {
  const std::string s = str(j, key);
  if (s.empty()) return none;
  const auto t = parse_iso(s);
  if (!t) return s;
  std::string out = s.substr(0, 10) + " " + s.substr(11, 8) + " UTC";
  return out + " (" + relative(static_cast<long long>(*t - std::time(nullptr))) + ")";
}

std::string ago(const json& j, const char* key, const std::string& none) {
  const auto t = parse_iso(str(j, key));
  if (!t) return none;
  return relative(static_cast<long long>(*t - std::time(nullptr)));
}

std::string plural(long long n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void print_json(const json& j) { std::cout << web::json_text(j, 2) << '\n'; }

std::string printable(std::string text, bool keep_newlines) {
  for (auto& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && !(keep_newlines && (c == '\n' || c == '\r' || c == '\t'))) || u == 0x7f) c = '?';
  }
  return text;
}

int fail(const ApiFailure& f) {
  std::cerr << "fcpmail: " << f.message << '\n';
  return 1;
}

int usage_error(const std::string& group, const std::string& why, const std::string& usage) {
  std::cerr << "fcpmail " << group << ": " << why << "\nusage: " << usage << '\n';
  return usage_exit_code;
}

std::expected<std::string, std::string> read_input_file(const std::string& path) {
  if (path == "-") {
    std::ostringstream s;
    s << std::cin.rdbuf();
    return s.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::expected<std::string, std::string> pick_account(const DaemonClient& client, const std::string& chosen) {
  if (!chosen.empty()) return chosen;
  auto accounts = client.get("/api/accounts");
  if (!accounts) return std::unexpected(accounts.error().message);
  const auto& list = (*accounts)["accounts"];
  if (list.size() == 1) return str(list[0], "address");
  if (list.empty()) return std::unexpected(std::string("there is no account yet; create one with `fcpmail account create NAME`"));
  return std::unexpected(std::string("there are several accounts; choose one with --account ADDRESS"));
}

}  // namespace fcpmail::cli
