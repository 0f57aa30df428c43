#include "smtp/smtp_server.h"

#include "net/listener.h"

#include <array>
#include <chrono>
#include <atomic>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace fcpmail::smtp {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

struct Server::Shared {
  Shared(Submission& s, auth::LoginGate& g, SentCopy m, Options o, SessionLog lg)
      : submission(s), gate(g), sent_copy(std::move(m)), options(std::move(o)), log(std::move(lg)) {}
  Submission& submission;
  auth::LoginGate& gate;  // checks passwords off the I/O thread, with throttling
  SentCopy sent_copy;
  Options options;
  SessionLog log;
  std::atomic<bool> stopped{false};
};

namespace {

class Connection final : public net::Session, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Server::Shared> shared)
      : socket_(std::move(socket)),
        idle_timer_(socket_.get_executor()),
        delay_timer_(socket_.get_executor()),
        shared_(std::move(shared)),
        session_(shared_->options, shared_->submission, shared_->sent_copy, shared_->log) {
    error_code ec;
    const auto remote = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("unknown") : remote.address().to_string();
  }

  void start() override {
    Step greeting;
    greeting.output = session_.greeting();
    send(std::move(greeting));
  }

  // Refuse politely: the server is full.
  void refuse() override {
    Step step;
    step.output = "421 4.7.0 too many connections (at most " + std::to_string(shared_->options.max_sessions) +
                  " at a time), try again later\r\n";
    step.close = true;
    send(std::move(step));
  }

  // May this connection make room for a newcomer when the server is full? Only if it has not
  // authenticated and is not in the middle of a login: a local program holding idle sockets must not
  // keep the user's mail client from sending, and nobody's real session is ever cut.
  bool evictable() const override { return socket_.is_open() && !session_.account() && !session_.login_pending(); }
  std::chrono::steady_clock::time_point last_active() const override { return last_active_; }
  void evict() override {
    Step step;
    step.output = "421 4.7.0 server full: closing this connection, which has not logged in\r\n";
    step.close = true;
    send(std::move(step));
  }

  void close() override {
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
      self->last_active_ = std::chrono::steady_clock::now();
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
    auto login = std::move(step.login);
    if (step.output.empty()) return after_send(step.close, std::move(login));
    output_ = std::move(step.output);
    asio::async_write(socket_, asio::buffer(output_),
                      [self = shared_from_this(), close = step.close, login = std::move(login)](error_code ec, std::size_t) mutable {
                        if (ec) return self->close();
                        self->after_send(close, std::move(login));
                      });
  }

  void after_send(bool close_now, std::optional<LoginRequest> login) {
    if (close_now || session_.closed()) return close();
    if (login) return check_login(std::move(*login));
    if (session_.has_pending_input()) return process(session_.feed({}));
    read();
  }

  // The password check runs on the gate's worker; this connection reads nothing meanwhile (what
  // the client pipelined waits in the session), while every other connection is served as usual.
  void check_login(LoginRequest request) {
    if (shared_->stopped) return close();
    shared_->gate.check(std::move(request.user), std::move(request.password), peer_, socket_.get_executor(),
                        [self = shared_from_this()](auth::LoginVerdict verdict) {
                          if (!self->socket_.is_open()) return;
                          self->process(self->session_.login_finished({verdict.account, verdict.locked_out, verdict.unavailable}));
                        });
  }

  tcp::socket socket_;
  asio::steady_timer idle_timer_;
  asio::steady_timer delay_timer_;
  std::shared_ptr<Server::Shared> shared_;
  smtp::Session session_;
  std::array<char, 16384> buffer_{};
  std::string output_;
  std::string peer_;  // the client's address, for the login gate's failure counting
  bool timed_out_ = false;
  std::chrono::steady_clock::time_point last_active_ = std::chrono::steady_clock::now();
};

}  // namespace

Server::Server(asio::io_context& io, const tcp::endpoint& endpoint, Submission& submission, auth::LoginGate& login_gate,
               SentCopy sent_copy, Options options, SessionLog log)
    : shared_(std::make_shared<Shared>(submission, login_gate, std::move(sent_copy), std::move(options), std::move(log))) {
  net::ListenerOptions listening;
  listening.max_connections = shared_->options.max_sessions;
  listening.name = "smtp";
  if (shared_->log) listening.log = [log = shared_->log](std::string_view line) { log(std::string(line)); };
  listener_ = std::make_unique<net::Listener>(io, endpoint, std::move(listening), [shared = shared_](tcp::socket socket) {
    return std::make_shared<Connection>(std::move(socket), shared);
  });
  listener_->start();
}

Server::~Server() { stop(); }

unsigned short Server::port() const { return listener_->port(); }

void Server::stop() {
  shared_->stopped = true;
  listener_->stop();
}

std::size_t Server::active_sessions() const { return listener_->connections(); }

}  // namespace fcpmail::smtp
