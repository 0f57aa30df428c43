// `fcpmail web login`: a one-time link that opens the web UI with the right to approve.
#include <iostream>

#include "commands.h"
#include "commands/daemon_command.h"

namespace fcpmail::cli {
namespace {

constexpr const char* web_usage =
    "fcpmail web login [--account A]\n"
    "\n"
    "Prints a one-time link that opens the web UI with the right to approve and cancel mail and to\n"
    "answer contact requests. The link works once, within 5 minutes, from this machine. Logging in\n"
    "with the mail password only lets you look: your mail client holds that password too.";

int web(const DaemonClient& client, const CommandLine& p) {
  const std::string sub = p.positionals.empty() ? "" : p.positionals[0];
  if (sub != "login" || p.positionals.size() != 1)
    return usage_error("web", sub.empty() ? "missing subcommand" : "unknown subcommand " + sub, web_usage);
  json body = json::object();
  if (auto a = p.value("--account"); !a.empty()) body["account"] = a;
  auto r = client.post("/api/web/login", body);
  if (!r) return fail(r.error());
  if (p.flag("--json")) return print_json(*r), 0;
  std::cout << "Open this link in your browser within " << relative(num(*r, "expires_in")).substr(3)
            << "; it works once and logs you in as " << str(*r, "account")
            << " with the right to approve mail and answer contact requests:\n\n  " << str(*r, "url") << "\n";
  return 0;
}

}  // namespace

int run_web(const Args& args) {
  return run_daemon_group({{"web", {"login"}, {{"--account", true}}}, web_usage, web}, args);
}

}  // namespace fcpmail::cli
