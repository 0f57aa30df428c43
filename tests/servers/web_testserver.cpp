// fcpmail-web-testserver: the real HTTP server (control API + web UI) over an in-memory Control,
// for the CLI and web UI integration tests. Writes DIR/control.token and DIR/control.json exactly
// as fcpmaild does, so `fcpmail --data-dir DIR ...` finds it.
//
//   fcpmail-web-testserver --data-dir DIR --user ADDRESS --password PW [--seed] [--listen ADDR:PORT]
#include <unistd.h>

#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "fake_control.h"
#include "net/host_port.h"
#include "web/control_files.h"
#include "web/http_server.h"

namespace {

class FakeLogin : public fcpmail::LoginCheck {
 public:
  FakeLogin(std::string user, std::string password) : user_(std::move(user)), password_(std::move(password)) {}
  std::optional<std::string> check_login(const std::string& user, const std::string& password) override {
    if (user == user_ && password == password_) return user_;
    return std::nullopt;
  }

 private:
  std::string user_, password_;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "fcpmail-web-testserver: " << why << "\n"
            << "usage: fcpmail-web-testserver --data-dir DIR --user ADDRESS --password PW [--seed] [--listen ADDR:PORT]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir, user, password, listen = "127.0.0.1:0";
  bool seed = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--data-dir") data_dir = value();
    else if (arg == "--user") user = value();
    else if (arg == "--password") password = value();
    else if (arg == "--listen") listen = value();
    else if (arg == "--seed") seed = true;
    else usage("unknown option " + arg);
  }
  if (data_dir.empty() || user.empty() || password.empty()) usage("--data-dir, --user and --password are required");
  try {
    auto token = fcpmail::web::load_or_create_token(data_dir);
    if (!token) throw std::runtime_error(token.error());
    auto where = fcpmail::net::split_host_port(listen);
    if (!where) usage(where.error());

    boost::asio::io_context io;
    web_test::FakeControl control(user);
    control.io = &io;
    if (seed) control.seed();
    FakeLogin login(user, password);
    fcpmail::web::ServerOptions options;
    options.token = *token;
    options.log = [](std::string_view line) { std::cerr << line << '\n'; };
    fcpmail::auth::LoginGate gate(login);
    fcpmail::web::Server server(io, {boost::asio::ip::make_address(where->first), where->second}, control, gate,
                                options);
    const std::string http = where->first + ":" + std::to_string(server.port());
    auto written = fcpmail::web::write_control_file(data_dir, {http, "", "", static_cast<long>(::getpid())});
    if (!written) throw std::runtime_error(written.error());
    std::cout << "listening on " << http << std::endl;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) {
      server.stop();
      io.stop();
    });
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "fcpmail-web-testserver: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
