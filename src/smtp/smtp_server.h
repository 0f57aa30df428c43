// The SMTP submission server: accepts connections on one endpoint (127.0.0.1:9025 by default) and
// runs one Session per connection on the caller's io_context. Submission and the Mailbox for Sent
// copies are called on that io_context's thread. Passwords: given an fcpmail::auth::LoginGate, the
// slow check runs on the gate's worker (other sessions are served meanwhile; failures are
// throttled); given a plain LoginCheck (which may not be thread-safe, like the engine's), it is
// called on the I/O thread. All must outlive the server (stop() closes every connection; destroy
// the server before its io_context).
#pragma once
#include <cstddef>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "auth/login_gate.h"
#include "smtp/smtp_session.h"

namespace fcpmail::smtp {

inline constexpr unsigned short default_port = 9025;

class Server {
 public:
  // Binds and listens at once (throws boost::system::system_error if the address is taken).
  // `sent_copy`: the mailbox whose Sent folder receives a copy of every accepted message (or null).
  Server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, Submission& submission,
         LoginCheck& login, Mailbox* sent_copy, Options options = {}, SessionLog log = {});
  // The same with any way of keeping the Sent copy (tests, other stores).
  Server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, Submission& submission,
         LoginCheck& login, SentCopy sent_copy, Options options = {}, SessionLog log = {});
  // Passwords checked off the I/O thread through `gate` (share one with IMAP and the web UI, so
  // failures on one count on all).
  Server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint, Submission& submission,
         auth::LoginGate& gate, SentCopy sent_copy, Options options = {}, SessionLog log = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const;
  // Stops accepting and closes every open connection.
  void stop();
  std::size_t active_sessions() const;

  struct Shared;

 private:
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);

  std::shared_ptr<Shared> shared_;
};

}  // namespace fcpmail::smtp
