// `fcpmail status` and `fcpmail queues`: what the daemon is doing, as text or (--json) the API's JSON.
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "commands/daemon_command.h"

namespace fcpmail::cli {
namespace {

int status(const DaemonClient& client, const CommandLine& p) {
  auto s = client.get("/api/status");
  if (!s) return fail(s.error());
  if (p.flag("--json")) return print_json(*s), 0;
  const json& n = (*s)["node"];
  std::cout << "fcpmail " << str(*s, "version") << ", daemon at " << client.address() << "\n\n";
  std::cout << "Node:     ";
  const std::string where = n.value("embedded", false) ? "embedded simulated node" : "node";
  if (n.value("connected", false)) {
    std::cout << "connected to the " << where << " at " << str(n, "host") << ":" << num(n, "port") << " ("
              << str(n, "version") << ") since " << when(n, "connected_since") << "\n";
  } else {
    std::cout << "NOT connected to the " << where << " at " << str(n, "host") << ":" << num(n, "port") << "\n";
  }
  std::cout << "WoT:      " << (n.value("wot_available", false) ? "WebOfTrust answers" : "WebOfTrust is not available")
            << "\n";
  std::cout << "FCP:      " << plural(num(*s, "fcp_requests_total"), "request", "requests") << " sent since start\n\n";
  const auto& accounts = (*s)["accounts"];
  std::cout << "Accounts (" << accounts.size() << "):\n";
  if (accounts.empty()) std::cout << "  none yet; create one with `fcpmail account create NAME`\n";
  for (const auto& a : accounts) {
    std::cout << "  " << str(a, "address") << "\n    " << str(a, "state");
    if (num(a, "mailsite_edition") > 0) std::cout << ", mailsite edition " << num(a, "mailsite_edition");
    std::cout << ", next republish " << when(a, "next_republish") << "\n";
  }
  const auto& c = (*s)["counts"];
  std::cout << "\nQueues:   " << num(c, "held") << " held, " << num(c, "awaiting_cts") << " awaiting CTS, "
            << num(c, "awaiting_ack") << " awaiting ack, " << num(c, "delivered") << " delivered, " << num(c, "failed")
            << " failed\n";
  std::cout << "          " << plural(num(c, "contact_requests"), "contact request", "contact requests") << ", "
            << plural(num(c, "channels"), "channel", "channels") << ", "
            << plural(num(c, "fcp_in_flight"), "FCP request", "FCP requests") << " in flight\n";
  if (num(c, "held") > 0) std::cout << "          release held mail with `fcpmail outbox approve ID` (see `fcpmail outbox list`)\n";
  if (num(c, "contact_requests") > 0) std::cout << "          answer requests with `fcpmail requests list`\n";
  const auto& warnings = (*s)["warnings"];
  if (!warnings.empty()) {
    std::cout << "\nWarnings:\n";
    for (const auto& w : warnings) {
      std::cout << "  ! " << printable(str(w, "text"));
      if (num(w, "count") > 1) std::cout << " (" << num(w, "count") << " times, last " << when(w, "last") << ")";
      std::cout << "\n";
    }
  }
  return 0;
}

int queues(const DaemonClient& client, const CommandLine& p) {
  const std::string account = p.value("--account");
  auto r = client.get("/api/queues" + (account.empty() ? "" : "?account=" + url_encode(account)));
  if (!r) return fail(r.error());
  if (p.flag("--json")) return print_json(*r), 0;
  const auto& rts = (*r)["rts"];
  std::cout << "RTS keys polled (" << rts.size() << "):\n";
  if (rts.empty()) std::cout << "  none\n";
  std::string last_account;
  for (const auto& q : rts) {
    if (str(q, "account") != last_account) {
      last_account = str(q, "account");
      std::cout << "  " << last_account << "\n";
    }
    std::cout << "    " << str(q, "date") << " slot " << num(q, "slot") << "  " << str(q, "last_result");
    if (!str(q, "last_poll").empty()) std::cout << ", polled " << ago(q, "last_poll");
    if (!str(q, "next_poll").empty()) std::cout << "; next poll " << ago(q, "next_poll");
    std::cout << "\n";
  }
  const auto& channels = (*r)["channels"];
  std::cout << "\nChannels (" << channels.size() << "):\n";
  if (channels.empty()) std::cout << "  none\n";
  for (const auto& c : channels) {
    std::cout << "  #" << num(c, "id") << "  " << str(c, "account") << " <-> " << str(c, "peer") << "\n"
              << "    " << str(c, "role") << ", " << str(c, "state") << "; next send slot " << num(c, "next_send_slot")
              << "; polling " << str(c, "polled_window") << "\n"
              << "    " << plural(num(c, "awaiting_ack"), "message", "messages") << " awaiting ack, "
              << plural(num(c, "acks_pending"), "ack", "acks") << " owed; last fetch " << when(c, "last_fetch", "never")
              << "; next retry " << when(c, "next_retry") << "\n";
  }
  const auto& in_flight = (*r)["in_flight"];
  std::cout << "\nFCP requests in flight (" << in_flight.size() << "):\n";
  if (in_flight.empty()) std::cout << "  none\n";
  for (const auto& f : in_flight) {
    char age[32];
    std::snprintf(age, sizeof age, "%.0f s", f.value("age_seconds", 0.0));
    std::cout << "  " << str(f, "kind") << "  " << str(f, "what") << "  (" << age << ")\n";
  }
  return 0;
}

}  // namespace

int run_status(const Args& args) {
  return run_daemon_group({{"status", {}, {}}, "fcpmail status", status}, args);
}

int run_queues(const Args& args) {
  return run_daemon_group({{"queues", {}, {{"--account", true}}}, "fcpmail queues [--account A]", queues}, args);
}

}  // namespace fcpmail::cli
