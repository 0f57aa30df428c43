// The one TCP listener under IMAP, SMTP and the HTTP server (after Boost.Beast's listener/session
// split): it binds, accepts, caps the number of connections and closes them on stop(); each
// protocol supplies the Session that serves one connection.
//
//   net::Listener listener(io, endpoint, {.max_connections = 512},
//                          [&](tcp::socket s) { return std::make_shared<MyConnection>(std::move(s)); });
//   listener.start();
//
// Accepting: each accepted socket gets TCP_NODELAY (a reply written in pieces must not wait ~40 ms
// for the client's delayed ACK) and its own strand. An accept that fails (out of file descriptors,
// EMFILE, and the like) is retried after `retry_delay` rather than at once, which would spin.
//
// The cap: at `max_connections`, the connection idle longest among those whose Session says it is
// evictable (has not logged in and is not logging in) gives way: Session::evict() says the
// protocol's goodbye (IMAP `* BYE`, SMTP 421, HTTP closes). A silent local program holding sockets
// thus cannot lock the user's mail client out, and a logged-in session is never cut for a
// newcomer. If nobody can give way, the newcomer's Session::refuse() answers and closes it.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace fcpmail::net {

// One connection as the listener sees it. evictable() and last_active() are read on the
// listener's thread while the connection runs on its strand: make them thread-safe (atomics).
class Session {
 public:
  virtual ~Session() = default;
  virtual void start() = 0;
  // The server is full and nobody can give way: answer so (or just close).
  virtual void refuse() = 0;
  // May this connection make room for a newcomer (not logged in, not logging in, not busy)?
  virtual bool evictable() const = 0;
  virtual std::chrono::steady_clock::time_point last_active() const = 0;
  // Chosen to make room: say the protocol's goodbye and close (unless it stopped being evictable).
  virtual void evict() = 0;
  // stop(): close now.
  virtual void close() = 0;
};

using MakeSession = std::function<std::shared_ptr<Session>(boost::asio::ip::tcp::socket)>;

struct ListenerOptions {
  std::size_t max_connections = 512;
  std::chrono::milliseconds retry_delay{100};       // after a failed accept
  std::function<void(std::string_view)> log;        // one line per notable event (may be empty)
  std::string name = "net";                         // the log lines' prefix: "imap", "smtp", "http"
};

class Listener {
 public:
  // Binds and listens at once (throws boost::system::system_error if the address is taken);
  // accepting begins with start().
  Listener(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, ListenerOptions options,
           MakeSession make_session);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  void start();
  // Stops accepting and closes every connection (Session::close). Idempotent.
  void stop();
  unsigned short port() const;
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  // Connections being served now.
  std::size_t connections() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// TCP_QUICKACK on Linux (nothing elsewhere): acknowledge what has arrived now rather than up to
// 40 ms later. Linux drops back to delayed ACKs by itself, so a session that wants it sets it after
// every read (IMAP does: see imap_server.cpp).
void acknowledge_now(boost::asio::ip::tcp::socket& socket);

}  // namespace fcpmail::net
