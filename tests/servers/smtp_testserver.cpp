// fcpmail-smtp-testserver: the real SMTP server over an in-memory Submission, for the integration
// tests. Every accepted message (and every Sent copy) is logged as one JSON line to --log.
//
//   fcpmail-smtp-testserver --listen 127.0.0.1:0 --port-file F --log F
//       --user ADDRESS --password PW [--contact PETNAME=ADDRESS]... [--auth-delay-ms N]
//       [--max-size N] [--max-line N] [--idle-seconds N]
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>

#include "smtp/smtp_parser.h"
#include "smtp/smtp_server.h"

namespace {

class LogFile {
 public:
  explicit LogFile(const std::string& path) : out_(path, std::ios::app) {
    if (!out_) throw std::runtime_error("cannot open log file " + path);
  }
  void write(const nlohmann::json& j) { out_ << j.dump() << '\n' << std::flush; }

 private:
  std::ofstream out_;
};

class FakeSubmission : public fcpmail::Submission {
 public:
  FakeSubmission(LogFile& log, std::map<std::string, std::string> contacts) : log_(log), contacts_(std::move(contacts)) {}

  std::expected<std::string, fcpmail::RecipientRefusal> resolve_recipient(const std::string&, std::string_view typed) override {
    auto unknown = [](std::string sentence) {
      return std::unexpected(fcpmail::RecipientRefusal{fcpmail::RecipientRefusal::Reason::unknown, std::move(sentence)});
    };
    const std::string t(typed);
    if (t.ends_with(".freemail") && t.find('@') != std::string::npos) return t;
    if (auto it = contacts_.find(t); it != contacts_.end()) return it->second;
    std::vector<std::string> matches;
    for (const auto& [petname, address] : contacts_) {
      if (petname.starts_with(t) || address.starts_with(t)) matches.push_back(address);
    }
    if (matches.size() == 1) return matches.front();
    if (matches.size() > 1) return unknown("'" + t + "' matches several contacts; type more of the name");
    return unknown("no contact is called '" + t +
                           "'; add them with `fcpmail contacts add ADDRESS --petname NAME` or use their full address");
  }

  std::expected<std::string, std::string> submit(const std::string& account, const std::vector<std::string>& recipients,
                                                 std::string rfc822) override {
    if (rfc822.find("X-Test-Refuse: yes") != std::string::npos) return std::unexpected("the test asked for a refusal");
    const std::string id = std::to_string(++next_id_);
    log_.write({{"kind", "submit"}, {"id", id}, {"account", account}, {"recipients", recipients}, {"message", rfc822}});
    return id;
  }

 private:
  LogFile& log_;
  std::map<std::string, std::string> contacts_;
  int next_id_ = 0;
};

// Thread-safe (immutable after construction): the login gate calls it on its worker thread.
class FakeLogin : public fcpmail::LoginCheck {
 public:
  FakeLogin(std::string user, std::string password) : user_(std::move(user)), password_(std::move(password)) {}
  std::optional<std::string> check_login(const std::string& user, const std::string& password) override {
    if (fcpmail::smtp::same_address(user, user_) && password == password_) return user_;
    return std::nullopt;
  }

 private:
  std::string user_, password_;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "fcpmail-smtp-testserver: " << why << "\n"
            << "usage: fcpmail-smtp-testserver --log FILE --user ADDRESS --password PW [--listen ADDR:PORT]\n"
            << "       [--port-file FILE] [--contact PETNAME=ADDRESS]... [--auth-delay-ms N] [--max-size N]\n"
            << "       [--max-line N] [--idle-seconds N] [--max-sessions N]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", port_file, log_path, user, password;
  std::map<std::string, std::string> contacts;
  fcpmail::smtp::Options options;
  options.auth_failure_delay = std::chrono::milliseconds(200);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--listen") listen = value();
    else if (arg == "--port-file") port_file = value();
    else if (arg == "--log") log_path = value();
    else if (arg == "--user") user = value();
    else if (arg == "--password") password = value();
    else if (arg == "--contact") {
      const std::string c = value();
      const auto eq = c.find('=');
      if (eq == std::string::npos) usage("--contact takes PETNAME=ADDRESS");
      contacts[c.substr(0, eq)] = c.substr(eq + 1);
    } else if (arg == "--auth-delay-ms") options.auth_failure_delay = std::chrono::milliseconds(std::stol(value()));
    else if (arg == "--max-size") options.max_message_size = std::stoul(value());
    else if (arg == "--max-line") options.max_command_line = std::stoul(value());
    else if (arg == "--idle-seconds") options.idle_timeout = std::chrono::seconds(std::stol(value()));
    else if (arg == "--max-sessions") options.max_sessions = std::stoul(value());
    else usage("unknown option " + arg);
  }
  if (log_path.empty() || user.empty() || password.empty()) usage("--log, --user and --password are required");
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) usage("--listen takes ADDRESS:PORT");

  try {
    LogFile log(log_path);
    FakeSubmission submission(log, contacts);
    FakeLogin login(user, password);
    // The Sent copy, logged like a submission.
    auto sent = [&log](const std::string& account, const std::string& message,
                       std::int64_t) -> std::expected<void, std::string> {
      log.write({{"kind", "append"}, {"account", account}, {"folder", "Sent"}, {"message", message}});
      return {};
    };
    boost::asio::io_context io;
    // Passwords go through a LoginGate, as in the daemon: checked off the I/O thread, throttled.
    fcpmail::auth::LoginGate gate(login);
    const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address(listen.substr(0, colon)),
                                                  static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))));
    fcpmail::smtp::Server server(io, endpoint, submission, gate, fcpmail::smtp::SentCopy(sent), options,
                                 [](std::string_view line) { std::cerr << line << '\n'; });
    if (!port_file.empty()) {
      std::ofstream(port_file + ".tmp") << server.port() << '\n';
      std::rename((port_file + ".tmp").c_str(), port_file.c_str());
    }
    std::cout << "listening on " << endpoint.address().to_string() << ":" << server.port() << std::endl;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) {
      server.stop();
      io.stop();
    });
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "fcpmail-smtp-testserver: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
