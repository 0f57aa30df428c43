// The one argument parser of the fcpmail CLI. A command declares its syntax (its name, the
// subcommands it knows, the options it takes with or without a value); parse_command_line turns
// the words after the command name into a CommandLine or a UsageError. No I/O here, so the unit
// tests (tests/unit/cli) check it directly; the handlers in commands/ only read the result.
#pragma once
#include <expected>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail::cli {

using Args = std::vector<std::string>;

struct OptionSpec {
  std::string name;         // "--account"
  bool takes_value = false; // --account ADDR or --account=ADDR; a flag otherwise
};

struct Syntax {
  std::string command;                  // "outbox"
  std::vector<std::string> subcommands; // "list", "show", ...: the first positional names one
  std::vector<OptionSpec> options;      // --help/-h is always known
};

// What a command was given. Options keep every value in order (--to A --to B).
struct CommandLine {
  std::string path;                     // "outbox list": the command and the subcommand given
  std::vector<std::string> positionals; // the subcommand first, when there is one
  std::map<std::string, std::vector<std::string>> values;
  std::set<std::string> flags;
  bool help = false;                    // --help or -h appeared: print the usage, exit 0

  bool flag(const std::string& name) const { return flags.contains(name); }
  bool has(const std::string& name) const { return values.contains(name); }
  // The last value of an option, or `fallback` when it was not given.
  std::string value(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> all(const std::string& name) const;
  std::string positional(std::size_t i, const std::string& fallback = "") const {
    return i < positionals.size() ? positionals[i] : fallback;
  }
};

// A usage error: exit code 2, and a line that names the command and where its help is.
struct UsageError {
  std::string path;     // "outbox list"
  std::string message;  // "unknown option '--x'"
  // "fcpmail: unknown option '--x' for 'outbox list' (see fcpmail outbox list --help)"
  std::string text() const;
};

inline constexpr int usage_exit_code = 2;

// Words are positional unless they start with '-' (and are not "-" alone, which means stdin).
// "--" ends the options: every word after it is positional. --help anywhere wins over errors.
std::expected<CommandLine, UsageError> parse_command_line(const Syntax& syntax, const Args& words);

// The command path for a usage error raised by a handler after parsing ("missing ADDRESS").
UsageError usage_error_for(const CommandLine& line, std::string message);

// The options every daemon or node command may take before the command name as well as after
// it (`fcpmail --data-dir D status`): moves them behind the command name, among its own words.
struct GlobalSplit {
  std::string command;  // empty when none was given
  Args rest;            // the command's words, global options given before it appended
};
std::expected<GlobalSplit, std::string> split_global_options(const Args& words);

}  // namespace fcpmail::cli
