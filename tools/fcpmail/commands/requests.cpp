// `fcpmail requests list|approve|deny`: strangers who sent an RTS and wait for consent.
#include <iostream>

#include "commands.h"
#include "commands/daemon_command.h"

namespace fcpmail::cli {
namespace {

constexpr const char* requests_usage = "fcpmail requests list [--account A]\n       fcpmail requests approve|deny ID";

int requests(const DaemonClient& client, const CommandLine& p) {
  const std::string sub = p.positionals.empty() ? "list" : p.positionals[0];
  const bool as_json = p.flag("--json");
  if (sub == "list") {
    const std::string account = p.value("--account");
    auto r = client.get("/api/requests" + (account.empty() ? "" : "?account=" + url_encode(account)));
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    const auto& list = (*r)["requests"];
    if (list.empty()) std::cout << "No contact requests.\n";
    for (const auto& q : list) {
      std::cout << "#" << num(q, "id") << "  " << str(q, "from") << "\n";
      std::cout << "  " << str(q, "state") << ", received " << when(q, "received");
      if (!str(q, "nickname").empty()) std::cout << ", WoT nickname " << str(q, "nickname");
      std::cout << ", to " << str(q, "account") << "\n";
      if (str(q, "state") == "pending")
        std::cout << "  accept with `fcpmail requests approve " << num(q, "id") << "`, refuse with `fcpmail requests deny "
                  << num(q, "id") << "`\n";
    }
    return 0;
  }
  if (sub == "approve" || sub == "deny") {
    if (p.positionals.size() != 2) return usage_error("requests", "give the request id", requests_usage);
    auto r = client.post("/api/requests/" + sub, {{"id", p.positionals[1]}});
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    if (sub == "approve")
      std::cout << "Approved request #" << num(*r, "id") << " from " << str(*r, "from")
                << ": they are now a contact and their channel will be confirmed (CTS).\n";
    else
      std::cout << "Denied request #" << num(*r, "id") << " from " << str(*r, "from")
                << ": no CTS is sent and nothing from them is delivered.\n";
    return 0;
  }
  return usage_error("requests", "unknown subcommand " + sub, requests_usage);
}

}  // namespace

int run_requests(const Args& args) {
  return run_daemon_group({{"requests", {"list", "approve", "deny"}, {{"--account", true}}}, requests_usage, requests}, args);
}

}  // namespace fcpmail::cli
