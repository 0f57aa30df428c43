#include "command_line.h"

#include <algorithm>

namespace fcpmail::cli {

std::string CommandLine::value(const std::string& name, const std::string& fallback) const {
  const auto it = values.find(name);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> CommandLine::all(const std::string& name) const {
  const auto it = values.find(name);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

std::string UsageError::text() const {
  return "fcpmail: " + message + " for '" + path + "' (see fcpmail " + path + " --help)";
}

UsageError usage_error_for(const CommandLine& line, std::string message) {
  return UsageError{line.path, std::move(message)};
}

namespace {

const OptionSpec* find_option(const Syntax& syntax, std::string_view name) {
  const auto it = std::ranges::find_if(syntax.options, [&](const OptionSpec& o) { return o.name == name; });
  return it == syntax.options.end() ? nullptr : &*it;
}

bool is_option_word(const std::string& word) { return word.size() > 1 && word.starts_with('-'); }

// The command path as far as the words name it: the command, plus the subcommand when the first
// positional is one the command knows.
std::string path_of(const Syntax& syntax, const Args& words) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--") break;
    if (is_option_word(w)) {
      const auto* spec = find_option(syntax, w);
      if (spec && spec->takes_value) ++i;
      continue;
    }
    if (std::ranges::find(syntax.subcommands, w) != syntax.subcommands.end()) return syntax.command + " " + w;
    break;
  }
  return syntax.command;
}

}  // namespace

std::expected<CommandLine, UsageError> parse_command_line(const Syntax& syntax, const Args& words) {
  CommandLine line;
  line.path = path_of(syntax, words);
  auto error = [&](std::string message) { return std::unexpected(UsageError{line.path, std::move(message)}); };
  // Help is asked for before anything else is judged (`outbox list --bogus --help` helps), but
  // not by a word after "--", which is a positional.
  const auto options_end = std::ranges::find(words, std::string("--"));
  if (std::any_of(words.begin(), options_end, [](const std::string& w) { return w == "--help" || w == "-h"; })) {
    line.help = true;
    return line;
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string word = words[i];
    if (word == "--") {
      line.positionals.insert(line.positionals.end(), words.begin() + static_cast<long>(i) + 1, words.end());
      break;
    }
    if (!is_option_word(word)) {
      line.positionals.push_back(word);
      continue;
    }
    std::string inline_value;
    bool has_inline_value = false;
    if (const auto eq = word.find('='); eq != std::string::npos && word.starts_with("--")) {
      inline_value = word.substr(eq + 1);
      word.resize(eq);
      has_inline_value = true;
    }
    const auto* spec = find_option(syntax, word);
    if (!spec) return error("unknown option '" + word + "'");
    if (!spec->takes_value) {
      if (has_inline_value) return error("option '" + word + "' takes no value");
      line.flags.insert(word);
      continue;
    }
    if (!has_inline_value) {
      if (i + 1 >= words.size()) return error("option '" + word + "' needs a value");
      inline_value = words[++i];
    }
    line.values[word].push_back(inline_value);
  }
  return line;
}

std::expected<GlobalSplit, std::string> split_global_options(const Args& words) {
  static const std::set<std::string> with_value = {"--data-dir", "--fcp"};
  static const std::set<std::string> bare = {"--json"};
  GlobalSplit split;
  Args globals;
  std::size_t i = 0;
  for (; i < words.size(); ++i) {
    std::string word = words[i];
    const auto eq = word.find('=');
    const std::string name = eq == std::string::npos ? word : word.substr(0, eq);
    if (bare.contains(word)) {
      globals.push_back(word);
    } else if (with_value.contains(name)) {
      globals.push_back(word);
      if (eq == std::string::npos) {
        if (i + 1 >= words.size()) return std::unexpected("option '" + word + "' needs a value");
        globals.push_back(words[++i]);
      }
    } else {
      break;
    }
  }
  if (i < words.size()) {
    split.command = words[i];
    split.rest.assign(words.begin() + static_cast<long>(i) + 1, words.end());
  }
  // Behind the command's own words, but before a "--" so they stay options.
  const auto dashes = std::ranges::find(split.rest, std::string("--"));
  split.rest.insert(dashes, globals.begin(), globals.end());
  return split;
}

}  // namespace fcpmail::cli
