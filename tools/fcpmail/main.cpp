// fcpmail: the command-line face of fcpmail. The command table below (after Dovecot's doveadm
// command table) names every command, the group it is listed under, its handler and one line of
// help; `fcpmail --help` is printed from it, so the list cannot drift from what exists.
#include <iostream>
#include <span>
#include <string_view>

#include "commands.h"

namespace {

using namespace fcpmail::cli;

struct Command {
  std::string_view name;
  std::string_view group;
  int (*handler)(const Args&);
  std::string_view synopsis;  // what follows the name in the overview
  std::string_view help;      // one line
};

constexpr std::string_view node_group = "Talking to a Hyphanet node directly (FCP 2.0, default --fcp 127.0.0.1:9481):";
constexpr std::string_view offline_group = "Offline Freemail tools (no node, no daemon):";
constexpr std::string_view daemon_group = "Talking to the running daemon (--data-dir DIR or FCPMAIL_DATA_DIR):";

constexpr Command commands[] = {
    {"node", node_group, run_node, "hello|genssk|put|get", "check a node connection, insert and fetch keys"},
    {"address", offline_group, run_address, "parse ADDRESS", "split a Freemail address into its parts"},
    {"rts", offline_group, run_rts, "encode|decode ...", "build or inspect a request-to-send blob"},
    {"slots", offline_group, run_slots, "next SLOT [--count N]", "follow a channel's slot chain"},
    {"keygen", offline_group, run_keygen, "--out FILE", "write a Freemail RSA-4096 key file"},
    {"status", daemon_group, run_status, "", "node connection, accounts, queue counts"},
    {"account", daemon_group, run_account, "create|list|export|import", "accounts, and moving one to another machine"},
    {"contacts", daemon_group, run_contacts, "list|add|remove|revoke", "the people an account writes to"},
    {"requests", daemon_group, run_requests, "list|approve|deny", "strangers who asked to mail you"},
    {"outbox", daemon_group, run_outbox, "list|show|approve|cancel", "mail held for approval or on its way"},
    {"queues", daemon_group, run_queues, "", "RTS slots, channel slots, requests in flight"},
    {"send", daemon_group, run_send, "--from ADDR --to ADDR --file MSG", "queue a message file in the outbox"},
    {"web", daemon_group, run_web, "login [--account ADDR]", "a one-time link to the web UI with the right to approve"},
};

void print_overview(std::ostream& out) {
  out << "usage: fcpmail [--data-dir DIR] [--fcp HOST:PORT] [--json] COMMAND [ARGS...]\n";
  std::string_view group;
  for (const auto& c : commands) {
    if (c.group != group) {
      group = c.group;
      out << "\n" << group << "\n";
    }
    std::string left = "  " + std::string(c.name) + (c.synopsis.empty() ? "" : " " + std::string(c.synopsis));
    if (left.size() < 33) left.resize(33, ' ');
    else left += "\n" + std::string(33, ' ');
    out << left << c.help << "\n";
  }
  out << "\nGlobal options may come before or after the command. Run `fcpmail COMMAND --help` for the\n"
         "options of one command.\n";
}

}  // namespace

int main(int argc, char** argv) {
  auto split = split_global_options(Args(argv + 1, argv + argc));
  if (!split) {
    std::cerr << "fcpmail: " << split.error() << "\n\n";
    print_overview(std::cerr);
    return usage_exit_code;
  }
  const std::string& name = split->command;
  if (name.empty()) {
    print_overview(std::cerr);
    return usage_exit_code;
  }
  if (name == "--help" || name == "-h" || name == "help") {
    print_overview(std::cout);
    return 0;
  }
  for (const auto& c : commands)
    if (c.name == name) return c.handler(split->rest);
  std::cerr << "fcpmail: unknown command '" << name << "'\n\n";
  print_overview(std::cerr);
  return usage_exit_code;
}
