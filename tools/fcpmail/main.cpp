// fcpmail: the command-line face of fcpmail. Dispatches to one command group per source file.
#include "commands.h"

#include <iostream>
#include <string_view>

namespace {

constexpr std::string_view usage = R"(usage: fcpmail COMMAND [ARGS...] [--json]

Talking to a Hyphanet node directly (FCP 2.0, default --fcp 127.0.0.1:9481):
  node hello|genssk|put|get      check a node connection, insert and fetch keys

Offline Freemail tools (no node, no daemon):
  address parse ADDRESS          split a Freemail address into its parts
  rts encode|decode ...          build or inspect a request-to-send blob
  slots next SLOT [--count N]    follow a channel's slot chain
  keygen --out FILE              write a Freemail RSA-4096 key file

Talking to the running daemon (--data-dir DIR or FCPMAIL_DATA_DIR):
  status                         node connection, accounts, queue counts
  account create|list|export|import
  contacts list|add|remove|revoke
  requests list|approve|deny     strangers who asked to mail you
  outbox list|show|approve|cancel
  queues                         RTS slots, channel slots, requests in flight
  send --from ADDR --to ADDR --file MSG
  web login [--account ADDR]     a one-time link to the web UI with the right to approve

Run `fcpmail COMMAND --help` for the options of one command.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace fcpmail::cli;
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  const std::string group = argv[1];
  const Args args(argv + 2, argv + argc);
  if (group == "--help" || group == "-h" || group == "help") {
    std::cout << usage;
    return 0;
  }
  if (group == "node") return run_node(args);
  if (group == "address") return run_address(args);
  if (group == "slots") return run_slots(args);
  if (group == "rts") return run_rts(args);
  if (group == "keygen") return run_keygen(args);
  if (group == "status" || group == "account" || group == "contacts" || group == "requests" ||
      group == "outbox" || group == "queues" || group == "send" || group == "web") {
    return run_daemon_command(group, args);
  }
  std::cerr << "fcpmail: unknown command '" << group << "'\n\n" << usage;
  return 2;
}
