// fcpmail-sim: runs the simulated Hyphanet node until SIGINT/SIGTERM.
#include "sim_node.h"

#include <boost/asio/signal_set.hpp>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kUsage =
    "usage: fcpmail-sim --listen HOST:PORT [options]\n"
    "A simulated Hyphanet node speaking FCP 2.0 like fred build 1506, with the WebOfTrust subset.\n"
    "\n"
    "  --listen HOST:PORT   address to listen on (PORT 0 picks a free port); default 127.0.0.1:9481\n"
    "  --state FILE         keep inserted keys, WebOfTrust and persistent requests in this SQLite file\n"
    "  --insert-delay MS    delay before PutSuccessful (default 0)\n"
    "  --fetch-delay MS     delay before DataFound / GetFailed (default 0)\n"
    "  --dnf-rate P         probability 0..1 that a fetch of present data fails transiently (13 or 28)\n"
    "  --drop-every N       close the connection carrying every Nth FCP message (fault injection)\n"
    "  --drop-on-put N,...  take the Nth ClientPut (node-wide, 1 = first), then close the connection\n"
    "                       before its reply (mid-insert); several counts separated by commas\n"
    "  --cut-all-data N,... send the Nth AllData only half-way through its payload, then close (mid-fetch)\n"
    "  --reply-delay MS     send every reply this many milliseconds late (a slow node)\n"
    "  --seed S             seed for keys, connection identifiers and fault decisions (default 1)\n"
    "  --help               this text\n"
    "\n"
    "Prints `listening on HOST:PORT` once it accepts connections.\n";

template <typename T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

int usage_error(const std::string& message) {
  std::cerr << "fcpmail-sim: " << message << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  fcp::sim::SimConfig config;
  config.port = 9481;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (i + 1 >= argc) return usage_error("missing value for " + std::string(arg));
    const std::string_view value = argv[++i];
    if (arg == "--listen") {
      const auto colon = value.rfind(':');
      unsigned port = 0;
      if (colon == std::string_view::npos || !parse_number(value.substr(colon + 1), port) || port > 65535)
        return usage_error("--listen needs HOST:PORT, got " + std::string(value));
      config.listen_host = std::string(value.substr(0, colon));
      config.port = static_cast<std::uint16_t>(port);
    } else if (arg == "--state") {
      config.state_file = std::string(value);
    } else if (arg == "--insert-delay") {
      if (!parse_number(value, config.insert_delay_ms) || config.insert_delay_ms < 0)
        return usage_error("--insert-delay needs milliseconds");
    } else if (arg == "--fetch-delay") {
      if (!parse_number(value, config.fetch_delay_ms) || config.fetch_delay_ms < 0)
        return usage_error("--fetch-delay needs milliseconds");
    } else if (arg == "--dnf-rate") {
      char* end = nullptr;
      const std::string text(value);
      config.dnf_rate = std::strtod(text.c_str(), &end);
      if (end != text.c_str() + text.size() || config.dnf_rate < 0 || config.dnf_rate > 1)
        return usage_error("--dnf-rate needs a probability between 0 and 1");
    } else if (arg == "--drop-every") {
      if (!parse_number(value, config.drop_every) || config.drop_every < 0)
        return usage_error("--drop-every needs a count");
    } else if (arg == "--drop-on-put" || arg == "--cut-all-data") {
      auto& counts = arg == "--drop-on-put" ? config.drop_on_puts : config.cut_all_data;
      std::string_view rest = value;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        std::uint64_t n = 0;
        if (!parse_number(rest.substr(0, comma), n) || n == 0)
          return usage_error(std::string(arg) + " needs counts from 1 up, separated by commas, got " + std::string(value));
        counts.insert(n);
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    } else if (arg == "--reply-delay") {
      if (!parse_number(value, config.reply_delay_ms) || config.reply_delay_ms < 0)
        return usage_error("--reply-delay needs milliseconds");
    } else if (arg == "--seed") {
      if (!parse_number(value, config.seed)) return usage_error("--seed needs a number");
    } else {
      return usage_error("unknown option " + std::string(arg));
    }
  }

  boost::asio::io_context io;
  try {
    fcp::sim::SimNode node(io, config);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { node.stop(); });
    std::cout << "listening on " << config.listen_host << ":" << node.port() << std::endl;
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "fcpmail-sim: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
