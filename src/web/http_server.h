// The daemon's HTTP server (Boost.Beast) on 127.0.0.1 (default port 9080): the JSON control API
// under /api/ for the `fcpmail` CLI (bearer token from DIR/control.token), and the local web UI
// everywhere else. One session per connection on the caller's io_context (accepting, the cap and
// making room are src/net/listener.h's: at the cap the longest-idle connection closes); the engine's
// Control is called on that thread. Web UI passwords go through the login gate (checked on the
// gate's worker, delayed after failures of the same (user, peer), user locked out after many).
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "auth/login_gate.h"
#include "engine/control.h"
#include "web/web_ui.h"

namespace fcpmail::net {
class Listener;
}

namespace fcpmail::web {

inline constexpr unsigned short default_port = 9080;

struct ServerOptions {
  std::string token;                          // the control API's bearer token (load_or_create_token)
  std::size_t max_body = 64 * 1024 * 1024;    // request bodies (send, import) above this get 413
  std::chrono::seconds io_timeout{60};        // reading a request / writing a reply
  std::size_t max_connections = 64;
  WebUiOptions ui;
  std::function<void(std::string_view)> log;  // one line per notable event
};

class Server {
 public:
  // Binds and listens at once (throws boost::system::system_error if the address is taken).
  // `login_gate`: the gate shared with IMAP and SMTP (so failures count across them); must outlive
  // the server.
  Server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, engine::Control& control,
         auth::LoginGate& login_gate, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const;
  void stop();

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<net::Listener> listener_;
};

}  // namespace fcpmail::web
