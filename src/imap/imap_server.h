// The IMAP4rev1 server: accepts connections on 127.0.0.1 and runs one Session per connection on
// the daemon's io_context (each connection on its own strand).
//
// Default port: 9143 (fcpmail::imap::Server::default_port). It avoids the ports of a local
// Hyphanet node (fred: 8888 web, 9481 FCP) and of Freemail (3025/3143 SMTP/IMAP, 4025/4143 TLS),
// so fcpmail can run beside both.
//
//   boost::asio::io_context io;
//   fcpmail::imap::Server imap(io, {boost::asio::ip::make_address("127.0.0.1"), 9143}, mailbox, login_gate);
//   imap.port();   // the bound port (useful with port 0)
//
// A connection that sends garbage or drops mid-literal only ends itself. Connections idle for
// longer than `idle_timeout` (default 31 min, RFC 3501 §5.4 asks for at least 30) are closed; a
// connection that has not logged in within `login_timeout` of connecting is closed too. At most
// `max_connections` are served at once (src/net/listener.h): at the cap, the connection idle longest among those that
// have not logged in (and are not logging in) is closed with `* BYE` to make room, so silent
// connections cannot lock the user's client out; if every one is logged in, the newcomer gets
// `* BYE too many connections` and is closed at once.
//
// LOGIN and AUTHENTICATE end in a pending login that goes through the login gate shared with SMTP
// and the web UI (src/auth/login_gate.h: the password check on the gate's worker, a growing delay after
// failures, lock-out) and whose verdict comes back to the connection's strand; other sessions are
// served meanwhile. While a login is pending the connection reads nothing more (the client waits
// for its answer anyway). A refusal that judged no password (the gate is full, or the user is
// locked out) is NO [UNAVAILABLE], never NO [AUTHENTICATIONFAILED].
//
// Accepted sockets use TCP_NODELAY, and on Linux TCP_QUICKACK after every read (see QuickAck in
// net::acknowledge_now: without it a command written in pieces, as imaplib writes literals, stalls ~40 ms).
#pragma once
#include "fcpmail/mailbox.h"
#include "imap/imap_session.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>

namespace fcpmail::auth {
class LoginGate;
}

namespace fcpmail::imap {

struct ServerOptions {
  SessionOptions session;                        // async_login is always on in the server
  std::chrono::seconds idle_timeout{31 * 60};
  std::chrono::seconds login_timeout{60};        // from connect to a successful login
  std::size_t max_connections = 512;
};

class Server {
 public:
  static constexpr unsigned short default_port = 9143;

  // Binds and starts accepting at once; throws boost::system::system_error if the port is taken.
  // `login_gate`: the gate shared with SMTP and the web UI (so failures count across them, and the
  // slow check runs on the gate's worker); it must outlive the server.
  Server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, Mailbox& mailbox,
         auth::LoginGate& login_gate, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const;
  // Stops accepting and closes every connection.
  void stop();

  // Connections being served now.
  std::size_t connections() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fcpmail::imap
