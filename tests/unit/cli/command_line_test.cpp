// The CLI's one argument parser (tools/fcpmail/command_line.h): options with and without values,
// positionals, --, --help, and usage errors that name the command and where its help is.
#include <doctest/doctest.h>

#include "command_line.h"

using namespace fcpmail::cli;

namespace {

const Syntax outbox{"outbox", {"list", "show", "approve", "cancel"},
                    {{"--account", true}, {"--all", false}, {"--json", false}, {"--data-dir", true}}};

}  // namespace

TEST_CASE("options with values, flags and positionals in any order") {
  auto line = parse_command_line(outbox, {"approve", "--account", "a@b.freemail", "7", "--json"});
  REQUIRE(line);
  CHECK(line->path == "outbox approve");
  CHECK(line->positionals == Args{"approve", "7"});
  CHECK(line->value("--account") == "a@b.freemail");
  CHECK(line->flag("--json"));
  CHECK_FALSE(line->flag("--all"));
  CHECK_FALSE(line->help);
  CHECK(line->positional(1) == "7");
  CHECK(line->positional(2, "none") == "none");
}

TEST_CASE("--name=value and repeated options keep every value, the last one wins for value()") {
  const Syntax send{"send", {}, {{"--to", true}, {"--file", true}}};
  auto line = parse_command_line(send, {"--to=a", "--to", "b", "--file=-"});
  REQUIRE(line);
  CHECK(line->all("--to") == Args{"a", "b"});
  CHECK(line->value("--to") == "b");
  CHECK(line->value("--file") == "-");
  CHECK(line->value("--absent", "fallback") == "fallback");
  CHECK_FALSE(line->has("--absent"));
  CHECK(line->all("--absent").empty());
}

TEST_CASE("an unknown option is a usage error naming the command path and its help") {
  auto line = parse_command_line(outbox, {"list", "--x"});
  REQUIRE_FALSE(line);
  CHECK(line.error().path == "outbox list");
  CHECK(line.error().text() == "fcpmail: unknown option '--x' for 'outbox list' (see fcpmail outbox list --help)");
  CHECK(usage_exit_code == 2);
}

TEST_CASE("the path names the command alone when no known subcommand is given") {
  auto unknown = parse_command_line(outbox, {"--bogus"});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().path == "outbox");
  auto line = parse_command_line(outbox, {"frobnicate"});
  REQUIRE(line);
  CHECK(line->path == "outbox");
  CHECK(line->positionals == Args{"frobnicate"});
  // An option's value is not mistaken for the subcommand.
  auto after_value = parse_command_line(outbox, {"--account", "show", "list"});
  REQUIRE(after_value);
  CHECK(after_value->path == "outbox list");
}

TEST_CASE("a missing value and a value given to a flag are usage errors") {
  auto missing = parse_command_line(outbox, {"list", "--account"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message == "option '--account' needs a value");
  auto flag_value = parse_command_line(outbox, {"approve", "--all=yes"});
  REQUIRE_FALSE(flag_value);
  CHECK(flag_value.error().message == "option '--all' takes no value");
}

TEST_CASE("a value may start with a dash; \"-\" alone is a positional") {
  auto line = parse_command_line(outbox, {"show", "--account", "-odd", "-"});
  REQUIRE(line);
  CHECK(line->value("--account") == "-odd");
  CHECK(line->positionals == Args{"show", "-"});
  CHECK_FALSE(parse_command_line(outbox, {"show", "-x"}));
}

TEST_CASE("-- ends the options") {
  auto line = parse_command_line(outbox, {"show", "--", "--json", "-h"});
  REQUIRE(line);
  CHECK(line->positionals == Args{"show", "--json", "-h"});
  CHECK_FALSE(line->flag("--json"));
  CHECK_FALSE(line->help);
}

TEST_CASE("--help or -h anywhere asks for help, even beside an error") {
  for (const Args& words : {Args{"--help"}, Args{"list", "-h"}, Args{"list", "--bogus", "--help"}}) {
    auto line = parse_command_line(outbox, words);
    REQUIRE(line);
    CHECK(line->help);
  }
}

TEST_CASE("usage_error_for names the command path of a parsed line") {
  auto line = parse_command_line(outbox, {"show"});
  REQUIRE(line);
  CHECK(usage_error_for(*line, "give the message id").text() ==
        "fcpmail: give the message id for 'outbox show' (see fcpmail outbox show --help)");
}

TEST_CASE("global options before the command move behind it") {
  auto split = split_global_options({"--data-dir", "D", "--json", "status"});
  REQUIRE(split);
  CHECK(split->command == "status");
  CHECK(split->rest == Args{"--data-dir", "D", "--json"});

  auto after = split_global_options({"outbox", "list", "--json"});
  REQUIRE(after);
  CHECK(after->command == "outbox");
  CHECK(after->rest == Args{"list", "--json"});

  auto inline_value = split_global_options({"--fcp=127.0.0.1:1", "node", "hello"});
  REQUIRE(inline_value);
  CHECK(inline_value->command == "node");
  CHECK(inline_value->rest == Args{"hello", "--fcp=127.0.0.1:1"});

  // Kept before a "--", so they stay options of the command.
  auto dashes = split_global_options({"--json", "address", "parse", "--", "-x@y"});
  REQUIRE(dashes);
  CHECK(dashes->rest == Args{"parse", "--json", "--", "-x@y"});
}

TEST_CASE("global option errors and an empty command line") {
  auto missing = split_global_options({"--data-dir"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == "option '--data-dir' needs a value");
  auto none = split_global_options({"--json"});
  REQUIRE(none);
  CHECK(none->command.empty());
  auto empty = split_global_options({});
  REQUIRE(empty);
  CHECK(empty->command.empty());
}
