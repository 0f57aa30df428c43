// `fcpmail address parse` and `fcpmail slots next`: offline views of the Freemail wire layer, for
// people debugging interop. No node, no daemon: pure functions of the arguments.
#include "command_line.h"
#include "commands.h"
#include "web/control_api.h"

#include "freemail/address.h"
#include "freemail/slot_chain.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <iostream>
#include <optional>
#include <string_view>

namespace fcpmail::cli {
namespace {

constexpr std::string_view address_usage = R"(usage: fcpmail address parse ADDRESS [--json]

Splits a Freemail address (local@<52 base32 chars>.freemail, optionally with a display name as
"Name <local@...>") into its parts and shows the WoT identity id (Freenet base64) it names.
Exit 0 for a valid address, 1 with the reason for an invalid one, 2 for a usage error.
)";

constexpr std::string_view slots_usage = R"(usage: fcpmail slots next SLOT [--count N] [--json]

Prints the N slots (default 1) that follow SLOT on a Freemail channel's slot chain:
next = base32(SHA-256(base32-decode(slot))), 52 upper-case characters.
Exit 0 on success, 1 for a malformed slot, 2 for a usage error.
)";

constexpr std::size_t max_slot_count = 100000;

int usage_error(std::string_view message, std::string_view usage) {
  std::cerr << "fcpmail: " << message << "\n\n" << usage;
  return 2;
}

// Reports a failed operation: the reason on stderr, and as JSON on stdout when asked for.
int operation_failed(std::string_view what, const std::string& reason, bool json) {
  if (json) std::cout << web::json_text(nlohmann::json{{"valid", false}, {"error", reason}}, 2) << '\n';
  std::cerr << "fcpmail: " << what << ": " << reason << '\n';
  return 1;
}

}  // namespace

int run_address(const Args& args) {
  auto line = parse_command_line({"address", {"parse"}, {{"--json", false}}}, args);
  if (!line) return report_usage_error(line.error());
  if (line->help) {
    std::cout << address_usage;
    return 0;
  }
  const bool json = line->flag("--json");
  const auto& words = line->positionals;
  if (words.size() > 2) return usage_error("unexpected argument '" + words[2] + "'", address_usage);
  if (words.empty()) return usage_error("missing subcommand", address_usage);
  if (words[0] != "parse") return usage_error("unknown subcommand '" + words[0] + "'", address_usage);
  if (words.size() < 2) return usage_error("missing ADDRESS", address_usage);
  const std::string& address = words[1];

  const auto parsed = freemail::parse_address(address);
  if (!parsed) return operation_failed("invalid address", parsed.error(), json);
  if (json) {
    std::cout << web::json_text(nlohmann::json{{"valid", true},
                                {"address", parsed->address()},
                                {"display_name", parsed->display_name},
                                {"local_part", parsed->local_part},
                                {"domain", parsed->identity.domain()},
                                {"base32", parsed->identity.label()},
                                {"identity_id", parsed->identity.base64_id()}}, 2)
              << '\n';
  } else {
    std::cout << "address:      " << parsed->address() << '\n';
    if (!parsed->display_name.empty()) std::cout << "display name: " << parsed->display_name << '\n';
    std::cout << "local part:   " << parsed->local_part << '\n'
              << "domain:       " << parsed->identity.domain() << '\n'
              << "base32:       " << parsed->identity.label() << '\n'
              << "identity id:  " << parsed->identity.base64_id() << '\n';
  }
  return 0;
}

int run_slots(const Args& args) {
  auto line = parse_command_line({"slots", {"next"}, {{"--json", false}, {"--count", true}}}, args);
  if (!line) return report_usage_error(line.error());
  if (line->help) {
    std::cout << slots_usage;
    return 0;
  }
  const bool json = line->flag("--json");
  std::size_t count = 1;
  if (line->has("--count")) {
    const std::string text = line->value("--count");
    std::size_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value == 0 || value > max_slot_count) {
      return usage_error("--count must be a number from 1 to " + std::to_string(max_slot_count) + ", not '" + text + "'",
                         slots_usage);
    }
    count = value;
  }
  const auto& words = line->positionals;
  if (words.size() > 2) return usage_error("unexpected argument '" + words[2] + "'", slots_usage);
  if (words.empty()) return usage_error("missing subcommand", slots_usage);
  if (words[0] != "next") return usage_error("unknown subcommand '" + words[0] + "'", slots_usage);
  if (words.size() < 2) return usage_error("missing SLOT", slots_usage);
  const std::string& slot = words[1];

  // The chain includes the given slot first; the answer is what follows it.
  const auto chain = freemail::slot_chain(slot, count + 1);
  if (!chain) return operation_failed("invalid slot", chain.error(), json);
  if (json) {
    nlohmann::json next = nlohmann::json::array();
    for (std::size_t i = 1; i < chain->size(); ++i) next.push_back((*chain)[i]);
    std::cout << web::json_text(nlohmann::json{{"valid", true}, {"slot", slot}, {"next", next}}, 2) << '\n';
  } else {
    for (std::size_t i = 1; i < chain->size(); ++i) std::cout << (*chain)[i] << '\n';
  }
  return 0;
}

}  // namespace fcpmail::cli
