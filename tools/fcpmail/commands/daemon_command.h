// What the daemon-facing command groups share: running a group (parse, --help, open the control
// API), the readable forms of the API's JSON (times, counts, text from stored mail) and picking
// the account a command is about.
#pragma once
#include <ctime>
#include <expected>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "command_line.h"
#include "daemon_client.h"

namespace fcpmail::cli {

using nlohmann::json;

// One daemon command group: its syntax (--data-dir and --json are added), the usage shown for
// --help and for a wrong subcommand, and the handler that runs once the client is open.
struct DaemonGroup {
  Syntax syntax;
  std::string usage;
  std::function<int(const DaemonClient&, const CommandLine&)> handler;
};
int run_daemon_group(DaemonGroup group, const Args& args);

// ---- output helpers
std::string str(const json& j, const char* key, const std::string& fallback = "");
long long num(const json& j, const char* key);
std::string relative(long long seconds);                                      // "in 4 min", "2 s ago"
std::string when(const json& j, const char* key, const std::string& none = "-");  // date and relative
std::string ago(const json& j, const char* key, const std::string& none = "-");   // relative only
std::string plural(long long n, const std::string& one, const std::string& many);
void print_json(const json& j);
// Text from a stored mail (a Subject, a header block) made safe for a terminal: control bytes
// (an escape sequence could rewrite the screen) and NUL become '?'; newlines stay when asked.
std::string printable(std::string text, bool keep_newlines = false);

// ---- exits
int fail(const ApiFailure& f);  // "fcpmail: MESSAGE", exit 1
int usage_error(const std::string& group, const std::string& why, const std::string& usage);  // exit 2

// The bytes of a file, or of stdin for "-".
std::expected<std::string, std::string> read_input_file(const std::string& path);

// The account a command is about: `chosen` (--account), else the only account the daemon has.
std::expected<std::string, std::string> pick_account(const DaemonClient& client, const std::string& chosen);

}  // namespace fcpmail::cli
