// `fcpmail contacts list|add|remove|revoke`: the people an account exchanges mail with.
#include <iostream>

#include "commands.h"
#include "commands/daemon_command.h"

namespace fcpmail::cli {
namespace {

constexpr const char* contacts_usage =
    "fcpmail contacts list [--account A]\n"
    "       fcpmail contacts add ADDRESS [--petname NAME] [--account A]\n"
    "       fcpmail contacts remove|revoke CONTACT [--account A]";

int contacts(const DaemonClient& client, const CommandLine& p) {
  const std::string sub = p.positionals.empty() ? "list" : p.positionals[0];
  const bool as_json = p.flag("--json");
  if (sub == "list") {
    const std::string account = p.value("--account");
    auto r = client.get("/api/contacts" + (account.empty() ? "" : "?account=" + url_encode(account)));
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    const auto& list = (*r)["contacts"];
    if (list.empty()) std::cout << "No contacts yet; add one with `fcpmail contacts add ADDRESS --petname NAME`.\n";
    for (const auto& c : list) {
      std::cout << (str(c, "petname").empty() ? "(no petname)" : str(c, "petname")) << "  " << str(c, "address") << "\n";
      std::cout << "  " << str(c, "state");
      if (!str(c, "nickname").empty()) std::cout << ", WoT nickname " << str(c, "nickname");
      std::cout << ", added " << when(c, "added") << ", last message " << when(c, "last_message", "never") << "\n";
    }
    return 0;
  }
  if (sub == "add" || sub == "remove" || sub == "revoke") {
    if (p.positionals.size() != 2) return usage_error("contacts", "give the contact", contacts_usage);
    auto account = pick_account(client, p.value("--account"));
    if (!account) return fail({0, account.error()});
    if (sub == "add") {
      auto r = client.post("/api/contacts",
                           {{"account", *account}, {"address", p.positionals[1]}, {"petname", p.value("--petname")}});
      if (!r) return fail(r.error());
      if (as_json) return print_json(*r), 0;
      std::cout << "Added " << str(*r, "address");
      if (!str(*r, "petname").empty()) std::cout << " as " << str(*r, "petname");
      std::cout << ". You can now write to " << (str(*r, "petname").empty() ? "them" : str(*r, "petname"))
                << " from your mail client.\n";
      return 0;
    }
    auto r = client.post("/api/contacts/" + sub, {{"account", *account}, {"contact", p.positionals[1]}});
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    if (sub == "remove") std::cout << "Removed " << p.positionals[1] << " from your contacts.\n";
    else std::cout << "Revoked " << p.positionals[1] << ": their channel is no longer polled and nothing more from them reaches your mailbox.\n";
    return 0;
  }
  return usage_error("contacts", "unknown subcommand " + sub, contacts_usage);
}

}  // namespace

int run_contacts(const Args& args) {
  return run_daemon_group({{"contacts", {"list", "add", "remove", "revoke"}, {{"--account", true}, {"--petname", true}}}, contacts_usage, contacts}, args);
}

}  // namespace fcpmail::cli
