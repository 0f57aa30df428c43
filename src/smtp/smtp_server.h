// The SMTP submission server: accepts connections on one endpoint (127.0.0.1:9025 by default) and
// runs one Session per connection on the caller's io_context. Submission and the Mailbox for Sent
// copies are called on that io_context's thread. Passwords go through the shared
// fcpmail::auth::LoginGate: the slow check runs on the gate's worker (other sessions are served
// meanwhile; failures are throttled). Accepting, the connection cap and making room (the longest-idle
// connection that has not logged in gives way with 421) are src/net/listener.h's. All must outlive the server (stop() closes every connection; destroy
// the server before its io_context).
#pragma once
#include <cstddef>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "auth/login_gate.h"
#include "smtp/smtp_session.h"

namespace fcpmail::net {
class Listener;
}

namespace fcpmail::smtp {

inline constexpr unsigned short default_port = 9025;

class Server {
 public:
  // Binds and listens at once (throws boost::system::system_error if the address is taken).
  // Passwords are checked off the I/O thread through `login_gate` (share one with IMAP and the web
  // UI, so failures on one count on all). `sent_copy`: how every accepted message gets its copy in
  // Sent (sent_copy_to(mailbox), or empty for none).
  Server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, Submission& submission,
         auth::LoginGate& login_gate, SentCopy sent_copy, Options options = {}, SessionLog log = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const;
  // Stops accepting and closes every open connection.
  void stop();
  std::size_t active_sessions() const;

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<net::Listener> listener_;
};

}  // namespace fcpmail::smtp
