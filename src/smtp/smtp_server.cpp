#include "smtp/smtp_server.h"

#include <array>
#include <list>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace fcpmail::smtp {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {
class Connection;
}

struct Server::Shared : std::enable_shared_from_this<Server::Shared> {
  Shared(asio::io_context& io, Submission& s, LoginCheck& l, SentCopy m, Options o, SessionLog lg)
      : acceptor(io), submission(s), login(l), sent_copy(std::move(m)), options(std::move(o)), log(std::move(lg)) {}
  tcp::acceptor acceptor;
  Submission& submission;
  LoginCheck& login;
  SentCopy sent_copy;
  Options options;
  SessionLog log;
  std::list<std::weak_ptr<Connection>> connections;
  bool stopped = false;

  void accept();
  void forget_closed() {
    connections.remove_if([](const std::weak_ptr<Connection>& c) { return c.expired(); });
  }
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Server::Shared> shared)
      : socket_(std::move(socket)),
        idle_timer_(socket_.get_executor()),
        delay_timer_(socket_.get_executor()),
        shared_(std::move(shared)),
        session_(shared_->options, shared_->submission, shared_->login, shared_->sent_copy, shared_->log) {}

  void start() {
    Step greeting;
    greeting.output = session_.greeting();
    send(std::move(greeting));
  }

  // Refuse politely: the server is full.
  void refuse() {
    Step step;
    step.output = "421 4.7.0 Too many connections, try again later\r\n";
    step.close = true;
    send(std::move(step));
  }

  void close() {
    error_code ignored;
    idle_timer_.cancel();
    delay_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void read() {
    idle_timer_.expires_after(shared_->options.idle_timeout);
    idle_timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      self->timed_out_ = true;
      error_code ignored;
      self->socket_.cancel(ignored);
    });
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](error_code ec, std::size_t n) {
      self->idle_timer_.cancel();
      if (self->timed_out_) {
        Step step;
        step.output = self->session_.timeout_reply();
        step.close = true;
        return self->send(std::move(step));
      }
      if (ec) return self->close();  // client went away (or the server stops)
      self->process(self->session_.feed(std::string_view(self->buffer_.data(), n)));
    });
  }

  void process(Step step) {
    if (step.delay.count() > 0) {
      delay_timer_.expires_after(step.delay);
      step.delay = {};
      delay_timer_.async_wait([self = shared_from_this(), step = std::move(step)](error_code ec) mutable {
        if (ec) return self->close();
        self->send(std::move(step));
      });
      return;
    }
    send(std::move(step));
  }

  void send(Step step) {
    if (step.output.empty()) return after_send(step.close);
    output_ = std::move(step.output);
    asio::async_write(socket_, asio::buffer(output_), [self = shared_from_this(), close = step.close](error_code ec, std::size_t) {
      if (ec) return self->close();
      self->after_send(close);
    });
  }

  void after_send(bool close_now) {
    if (close_now || session_.closed()) return close();
    if (session_.has_pending_input()) return process(session_.feed({}));
    read();
  }

  tcp::socket socket_;
  asio::steady_timer idle_timer_;
  asio::steady_timer delay_timer_;
  std::shared_ptr<Server::Shared> shared_;
  Session session_;
  std::array<char, 16384> buffer_{};
  std::string output_;
  bool timed_out_ = false;
};

}  // namespace

void Server::Shared::accept() {
  acceptor.async_accept([self = shared_from_this()](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || self->stopped) return;
    if (!ec) {
      self->forget_closed();
      auto connection = std::make_shared<Connection>(std::move(socket), self);
      if (self->connections.size() >= self->options.max_sessions) {
        if (self->log) self->log("smtp: too many connections, refusing one");
        connection->refuse();
      } else {
        self->connections.push_back(connection);
        connection->start();
      }
    } else if (self->log) {
      self->log("smtp: accept failed: " + ec.message());
    }
    self->accept();
  });
}

Server::Server(asio::io_context& io, const tcp::endpoint& endpoint, Submission& submission, LoginCheck& login,
               Mailbox* sent_copy, Options options, SessionLog log)
    : Server(io, endpoint, submission, login, sent_copy ? sent_copy_to(*sent_copy) : SentCopy{}, std::move(options),
             std::move(log)) {}

Server::Server(asio::io_context& io, const tcp::endpoint& endpoint, Submission& submission, LoginCheck& login,
               SentCopy sent_copy, Options options, SessionLog log)
    : shared_(std::make_shared<Shared>(io, submission, login, std::move(sent_copy), std::move(options), std::move(log))) {
  shared_->acceptor.open(endpoint.protocol());
  shared_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  shared_->acceptor.bind(endpoint);
  shared_->acceptor.listen();
  shared_->accept();
}

Server::~Server() { stop(); }

unsigned short Server::port() const {
  error_code ec;
  const auto endpoint = shared_->acceptor.local_endpoint(ec);
  return ec ? 0 : endpoint.port();
}

void Server::stop() {
  if (shared_->stopped) return;
  shared_->stopped = true;
  error_code ignored;
  shared_->acceptor.close(ignored);
  for (auto& weak : shared_->connections) {
    if (auto connection = weak.lock()) connection->close();
  }
  shared_->connections.clear();
}

std::size_t Server::active_sessions() const {
  shared_->forget_closed();
  return shared_->connections.size();
}

}  // namespace fcpmail::smtp
