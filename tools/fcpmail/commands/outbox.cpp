// `fcpmail outbox list|show|approve|cancel`: mail submitted and not yet delivered, held for the
// owner's approval or on its way.
#include <iostream>

#include "commands.h"
#include "commands/daemon_command.h"

namespace fcpmail::cli {
namespace {

constexpr const char* outbox_usage =
    "fcpmail outbox list [--account A]\n"
    "       fcpmail outbox show ID\n"
    "       fcpmail outbox approve ID | --all [--account A]\n"
    "       fcpmail outbox cancel ID";

void print_entry(const json& m) {
  std::cout << "#" << num(m, "id") << "  " << (str(m, "subject").empty() ? "(no subject)" : printable(str(m, "subject"))) << "\n";
  std::cout << "  from " << str(m, "account") << ", " << num(m, "size") << " bytes, submitted " << when(m, "submitted")
            << "\n";
  bool held = false;
  for (const auto& r : m["recipients"]) {
    std::cout << "  -> " << str(r, "recipient") << "\n     " << str(r, "state");
    if (!str(r, "next_action").empty())
      std::cout << "; next: " << str(r, "next_action_text", "action") << " " << when(r, "next_action");
    if (num(r, "attempts") > 0) std::cout << "; " << plural(num(r, "attempts"), "insert", "inserts") << " so far";
    if (!str(r, "delivered_at").empty()) std::cout << "; delivered " << when(r, "delivered_at");
    std::cout << "\n";
    held = held || str(r, "code") == "held";
  }
  if (held) std::cout << "  held for your approval: `fcpmail outbox approve " << num(m, "id") << "`\n";
}

int outbox(const DaemonClient& client, const CommandLine& p) {
  const std::string sub = p.positionals.empty() ? "list" : p.positionals[0];
  const bool as_json = p.flag("--json");
  if (sub == "list") {
    const std::string account = p.value("--account");
    auto r = client.get("/api/outbox" + (account.empty() ? "" : "?account=" + url_encode(account)));
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    const auto& list = (*r)["outbox"];
    if (list.empty()) std::cout << "The outbox is empty.\n";
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i) std::cout << "\n";
      print_entry(list[i]);
    }
    return 0;
  }
  if (sub == "show") {
    if (p.positionals.size() != 2) return usage_error("outbox", "give the message id", outbox_usage);
    auto r = client.get("/api/outbox/" + url_encode(p.positionals[1]));
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    print_entry(*r);
    std::cout << "\n" << printable(str(*r, "headers"), true);
    return 0;
  }
  if (sub == "approve" && p.flag("--all")) {
    json body = {{"all", true}};
    if (auto a = p.value("--account"); !a.empty()) body["account"] = a;
    auto r = client.post("/api/outbox/approve", body);
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    std::cout << "Released " << plural(num(*r, "released"), "message", "messages") << ".\n";
    return 0;
  }
  if (sub == "approve" || sub == "cancel") {
    if (p.positionals.size() != 2) return usage_error("outbox", "give the message id", outbox_usage);
    auto r = client.post("/api/outbox/" + sub, {{"id", p.positionals[1]}});
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    std::cout << (sub == "approve" ? "Released" : "Cancelled") << " message #" << num(*r, "id") << ":\n";
    print_entry(*r);
    return 0;
  }
  return usage_error("outbox", "unknown subcommand " + sub, outbox_usage);
}

}  // namespace

int run_outbox(const Args& args) {
  return run_daemon_group({{"outbox", {"list", "show", "approve", "cancel"}, {{"--account", true}, {"--all", false}}}, outbox_usage, outbox}, args);
}

}  // namespace fcpmail::cli
