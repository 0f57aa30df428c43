// `fcpmail send`: submit a message file to the outbox, as a mail client does over SMTP.
#include <iostream>
#include <sstream>

#include "crypto/base64.h"

#include "commands.h"
#include "commands/daemon_command.h"

namespace fcpmail::cli {
namespace {

constexpr const char* send_usage = "fcpmail send [--from ADDR] --to ADDR [--to ADDR...] --file MSG|-";

int send(const DaemonClient& client, const CommandLine& p) {
  std::vector<std::string> to;
  for (const auto& t : p.all("--to")) {
    std::stringstream list(t);
    std::string one;
    while (std::getline(list, one, ','))
      if (!one.empty()) to.push_back(one);
  }
  if (to.empty() || p.value("--file").empty()) return usage_error("send", "give --to and --file", send_usage);
  auto message = read_input_file(p.value("--file"));
  if (!message) return fail({0, message.error()});
  // --from names the sending account; --account is the older spelling of the same choice.
  auto from = pick_account(client, p.value("--from", p.value("--account")));
  if (!from) return fail({0, from.error()});
  // As base64: a message need not be UTF-8 (a Latin-1 Subject), and a JSON string must be.
  auto r = client.post("/api/send", {{"from", *from}, {"to", to}, {"rfc822_base64", fcpmail::crypto::base64_encode(*message)}});
  if (!r) return fail(r.error());
  if (p.flag("--json")) return print_json(*r), 0;
  std::cout << "Queued as outbox message #" << num(*r, "id") << "; release it with `fcpmail outbox approve "
            << num(*r, "id") << "`.\n";
  return 0;
}

}  // namespace

int run_send(const Args& args) {
  return run_daemon_group({{"send", {}, {{"--from", true}, {"--to", true}, {"--file", true}, {"--account", true}}}, send_usage, send}, args);
}

}  // namespace fcpmail::cli
