// `fcpmail node hello|genssk|put|get`: talk FCP 2.0 to a node directly, for people checking their
// node connection. One connection, no reconnects: a failure prints fred's code and description.
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "command_line.h"
#include "commands.h"
#include "web/control_api.h"
#include "fcp/client.h"

namespace fcpmail::cli {
namespace {

constexpr std::string_view node_usage = R"(usage: fcpmail node COMMAND [--fcp HOST:PORT] [--json]

  hello                 connect and print the node's name, version and build
  genssk                print a new SSK insert URI and its request URI
  put URI [--file F]    insert data (stdin by default) at URI; prints the final URI
  get URI [--out F]     fetch URI; data to stdout by default
      [--max-size N]    refuse data larger than N bytes (default 4194304)

  --fcp HOST:PORT       the node's FCP address (default 127.0.0.1:9481)
  --json                machine-readable output; errors as {"error":{"code":N,"description":"..."}}
)";

struct Options {
  std::string command;
  std::string uri;
  std::string host = "127.0.0.1";
  std::uint16_t port = 9481;
  bool json = false;
  std::optional<std::string> file;
  std::optional<std::string> out;
  std::uint64_t max_size = 4 * 1024 * 1024;
};

int usage_error(const std::string& message) {
  std::cerr << "fcpmail node: " << message << "\n\n" << node_usage;
  return 2;
}

const Syntax node_syntax{"node", {"hello", "genssk", "put", "get"},
                         {{"--json", false}, {"--fcp", true}, {"--file", true}, {"--out", true}, {"--max-size", true}}};

// The options' values checked and the subcommand's arguments counted; the message on failure.
std::optional<std::string> read_options(const CommandLine& line, Options& o) {
  o.json = line.flag("--json");
  if (line.has("--fcp")) {
    const std::string v = line.value("--fcp");
    const auto colon = v.rfind(':');
    if (colon == std::string::npos || colon == 0) return "--fcp needs HOST:PORT, got '" + v + "'";
    o.host = v.substr(0, colon);
    try {
      const int port = std::stoi(v.substr(colon + 1));
      if (port <= 0 || port > 65535) throw std::out_of_range("port");
      o.port = static_cast<std::uint16_t>(port);
    } catch (const std::exception&) {
      return "bad port in --fcp '" + v + "'";
    }
  }
  if (line.has("--file")) o.file = line.value("--file");
  if (line.has("--out")) o.out = line.value("--out");
  if (line.has("--max-size")) {
    const std::string v = line.value("--max-size");
    try {
      o.max_size = std::stoull(v);
    } catch (const std::exception&) {
      return "bad --max-size '" + v + "'";
    }
  }
  const auto& positional = line.positionals;
  if (positional.empty()) return "missing command";
  o.command = positional[0];
  const bool wants_uri = o.command == "put" || o.command == "get";
  if (o.command != "hello" && o.command != "genssk" && !wants_uri) return "unknown command '" + o.command + "'";
  if (wants_uri) {
    if (positional.size() != 2) return o.command + " needs exactly one URI";
    o.uri = positional[1];
  } else if (positional.size() != 1) {
    return o.command + " takes no arguments";
  }
  return std::nullopt;
}

int report_failure(const Options& o, const fcp::Failure& f) {
  if (o.json) {
    nlohmann::json j;
    std::string description = f.description;
    if (!f.extra_description.empty()) description += " (" + f.extra_description + ")";
    j["error"] = {{"code", f.code}, {"description", description}};
    std::cout << web::json_text(j) << "\n";
  } else {
    std::cerr << "fcpmail node " << o.command << ": " << f.to_string() << "\n";
  }
  return 1;
}

}  // namespace

int run_node(const Args& args) {
  auto line = parse_command_line(node_syntax, args);
  if (!line) return report_usage_error(line.error());
  if (line->help || line->positional(0) == "help") {
    std::cout << node_usage;
    return 0;
  }
  Options o;
  if (auto error = read_options(*line, o)) return usage_error(*error);

  std::string data;
  if (o.command == "put") {
    if (o.file) {
      std::ifstream in(*o.file, std::ios::binary);
      if (!in) {
        std::cerr << "fcpmail node put: cannot read " << *o.file << "\n";
        return 1;
      }
      data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else {
      std::ostringstream buffer;
      buffer << std::cin.rdbuf();
      data = buffer.str();
    }
  }

  boost::asio::io_context io;
  fcp::ClientConfig config;
  config.host = o.host;
  config.port = o.port;
  config.reconnect = false;
  config.max_payload = o.max_size + 1024;
  fcp::Client client(io, config);
  int exit_code = 1;
  std::optional<fcp::Failure> failure;
  auto finish = [&](int code) {
    exit_code = code;
    client.stop();
  };
  auto failed = [&](const fcp::Failure& f) {
    if (!failure) failure = f;
    finish(1);
  };
  client.on_disconnected([&](const fcp::Failure& f) {
    if (exit_code != 0) failed(f);
  });

  if (o.command == "hello") {
    client.on_connected([&](const fcp::NodeInfo& info) {
      if (o.json) {
        nlohmann::json j{{"node", info.node},
                         {"version", info.version},
                         {"build", info.build},
                         {"fcp_version", info.fcp_version},
                         {"testnet", info.testnet}};
        std::cout << web::json_text(j) << "\n";
      } else {
        std::cout << "node: " << info.node << "\nversion: " << info.version << "\nbuild: " << info.build
                  << "\nfcp version: " << info.fcp_version << "\n";
      }
      finish(0);
    });
  } else if (o.command == "genssk") {
    client.generate_ssk([&](fcp::Outcome<fcp::SskKeypair> r) {
      if (!r) return failed(r.error());
      if (o.json)
        std::cout << web::json_text(nlohmann::json{{"insert_uri", r->insert_uri}, {"request_uri", r->request_uri}}) << "\n";
      else
        std::cout << "insert URI:  " << r->insert_uri << "\nrequest URI: " << r->request_uri << "\n";
      finish(0);
    });
  } else if (o.command == "put") {
    client.put(o.uri, std::move(data), {}, [&](fcp::Outcome<fcp::PutResult> r) {
      if (!r) return failed(r.error());
      if (o.json)
        std::cout << web::json_text(nlohmann::json{{"uri", r->uri}}) << "\n";
      else
        std::cout << r->uri << "\n";
      finish(0);
    });
  } else {  // get
    fcp::GetOptions options;
    options.max_size = o.max_size;
    client.get(o.uri, options, [&](fcp::Outcome<fcp::GetResult> r) {
      if (!r) return failed(r.error());
      if (o.out) {
        std::ofstream out(*o.out, std::ios::binary | std::ios::trunc);
        out.write(r->data.data(), static_cast<std::streamsize>(r->data.size()));
        if (!out) {
          fcp::Failure f;
          f.kind = fcp::Failure::Kind::invalid_request;
          f.description = "cannot write " + *o.out;
          return failed(f);
        }
        if (o.json)
          std::cout << web::json_text(nlohmann::json{{"uri", r->uri}, {"mime", r->mime}, {"size", r->data.size()}, {"file", *o.out}})
                    << "\n";
      } else {
        std::cout.write(r->data.data(), static_cast<std::streamsize>(r->data.size()));
        std::cout.flush();
      }
      finish(0);
    });
  }
  client.start();
  io.run();
  if (exit_code != 0) {
    if (!failure) {
      failure = fcp::Failure{};
      failure->description = "the connection ended before an answer";
    }
    return report_failure(o, *failure);
  }
  return 0;
}

}  // namespace fcpmail::cli
