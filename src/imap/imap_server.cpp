#include "imap/imap_server.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <malloc.h>
#include <mutex>
#include <set>

namespace fcpmail::imap {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Mailbox& mailbox, LoginCheck& login, const ServerOptions& options)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        session_(mailbox, login, options.session),
        idle_timeout_(options.idle_timeout) {}

  void start() {
    std::weak_ptr<Connection> weak = weak_from_this();
    auto executor = socket_.get_executor();
    // Mailbox changes may be signalled from any thread: hop onto this connection's strand.
    session_.set_wake([weak, executor] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->send(self->session_.poll());
      });
    });
    send(session_.greeting());
    arm_timer();
    read();
  }

  void close() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->shutdown(); });
  }

 private:
  void arm_timer() {
    timer_.expires_after(idle_timeout_);
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->send("* BYE autologout: idle for too long\r\n");
        self->closing_ = true;
        self->maybe_finish();
      }
    });
  }

  void read() {
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec) return self->shutdown();
      self->arm_timer();
      self->send(self->session_.receive(std::string_view(self->buffer_.data(), n)));
      if (self->session_.closed()) {
        self->closing_ = true;
        self->maybe_finish();
        return;
      }
      self->read();
    });
  }

  void send(std::string bytes) {
    if (bytes.empty() || done_) return;
    if (pending_.empty()) pending_ = std::move(bytes);
    else pending_ += bytes;
    if (!writing_) write();
  }

  void write() {
    writing_ = true;
    in_flight_ = std::move(pending_);
    pending_.clear();
    asio::async_write(socket_, asio::buffer(in_flight_), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->writing_ = false;
      // A large reply (FETCH 1:* of a big folder) should not stay resident once sent.
      if (self->in_flight_.capacity() > (1u << 20)) {
        std::string().swap(self->in_flight_);
        ::malloc_trim(0);
      }
      if (ec) return self->shutdown();
      if (!self->pending_.empty()) return self->write();
      self->maybe_finish();
    });
  }

  void maybe_finish() {
    if (closing_ && !writing_ && pending_.empty()) shutdown();
  }

  void shutdown() {
    if (done_) return;
    done_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  Session session_;
  std::chrono::seconds idle_timeout_;
  std::array<char, 16384> buffer_{};
  std::string pending_, in_flight_;
  bool writing_ = false;
  bool closing_ = false;
  bool done_ = false;
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io, const tcp::endpoint& ep, Mailbox& mb, LoginCheck& lc, ServerOptions opts)
      : io(io), acceptor(io, ep), port(acceptor.local_endpoint().port()), mailbox(mb), login(lc),
        options(std::move(opts)) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
      if (!self->acceptor.is_open()) return;
      if (!ec) {
        std::lock_guard lock(self->mutex);
        std::erase_if(self->connections, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
        if (self->connections.size() >= self->options.max_connections) {
          boost::system::error_code ignored;
          asio::write(s, asio::buffer(std::string_view("* BYE too many connections\r\n")), ignored);
          s.close(ignored);
        } else {
          auto c = std::make_shared<Connection>(std::move(s), self->mailbox, self->login, self->options);
          self->connections.push_back(c);
          c->start();
        }
      }
      self->accept();
    });
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  unsigned short port;
  Mailbox& mailbox;
  LoginCheck& login;
  ServerOptions options;
  std::mutex mutex;
  std::vector<std::weak_ptr<Connection>> connections;
};

Server::Server(asio::io_context& io, const tcp::endpoint& endpoint, Mailbox& mailbox, LoginCheck& login,
               ServerOptions options)
    : impl_(std::make_shared<Impl>(io, endpoint, mailbox, login, std::move(options))) {
  impl_->accept();
}

Server::~Server() { stop(); }

unsigned short Server::port() const { return impl_->port; }

void Server::stop() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  std::lock_guard lock(impl_->mutex);
  for (auto& w : impl_->connections)
    if (auto c = w.lock()) c->close();
  impl_->connections.clear();
}

}  // namespace fcpmail::imap
