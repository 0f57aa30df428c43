#include "imap/imap_server.h"

#if __has_include("auth/login_gate.h")
#include "auth/login_gate.h"
#define FCPMAIL_IMAP_LOGIN_GATE 1
#endif

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <malloc.h>
#include <mutex>
#include <set>

#ifdef __linux__
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif

namespace fcpmail::imap {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// What a login check said: the account; or nothing (wrong user name or password); or a refusal
// that judged no password (`temporary` says why).
struct LoginAnswer {
  std::optional<std::string> account;
  std::optional<std::string> temporary;
};

// How a connection has a login checked: the answer is posted to `executor`. Held weakly by
// connections, which may outlive the server by a few handlers.
class LoginRunner {
 public:
  using Done = std::function<void(LoginAnswer)>;
  virtual ~LoginRunner() = default;
  virtual void check(LoginRequest request, std::string peer, asio::any_io_executor executor, Done done) = 0;
};

#ifdef FCPMAIL_IMAP_LOGIN_GATE
class GateRunner final : public LoginRunner {
 public:
  explicit GateRunner(auth::LoginGate& gate) : gate_(gate) {}
  void check(LoginRequest request, std::string peer, asio::any_io_executor executor, Done done) override {
    gate_.check(std::move(request.user), std::move(request.password), std::move(peer), std::move(executor),
                [done = std::move(done)](auth::LoginVerdict v) {
                  LoginAnswer answer{std::move(v.account), std::nullopt};
                  // A correct password is never answered as wrong: a refusal that checked no
                  // password says it is temporary.
                  if (v.unavailable) answer.temporary = "too many logins at once; try again in a moment";
                  else if (v.locked_out) answer.temporary = "too many failed logins for this account; it is locked for a while";
                  done(std::move(answer));
                });
  }

 private:
  auth::LoginGate& gate_;
};
#endif

// Without a gate: the check runs on the I/O thread, where it is asked for. The LoginCheck given
// may not be safe on another thread (the engine's reads its own database connection), so the
// server never moves it to one by itself; give it a LoginGate over a thread-safe check instead.
class DirectRunner final : public LoginRunner {
 public:
  explicit DirectRunner(LoginCheck& check) : check_(check) {}
  void check(LoginRequest request, std::string, asio::any_io_executor executor, Done done) override {
    auto account = check_.check_login(request.user, request.password);
    asio::post(executor, [done = std::move(done), account = std::move(account)]() mutable {
      done(LoginAnswer{std::move(account), std::nullopt});
    });
  }

 private:
  LoginCheck& check_;
};

#ifdef __linux__
// TCP_QUICKACK: acknowledge what has arrived now rather than up to 40 ms later. A client that writes
// a command in pieces (imaplib: the literal, then its CRLF in a second write) has the last piece held
// back by its own Nagle algorithm until our ACK of the one before, and we have nothing to answer
// until that last piece comes: with a delayed ACK each such command stalls ~40 ms (imaplib APPEND
// ran at ~20 messages/s). Linux drops back to delayed ACKs by itself, so it is set after every read.
class QuickAck {
 public:
  template <class Protocol> int level(const Protocol&) const { return IPPROTO_TCP; }
  template <class Protocol> int name(const Protocol&) const { return TCP_QUICKACK; }
  template <class Protocol> const void* data(const Protocol&) const { return &on_; }
  template <class Protocol> std::size_t size(const Protocol&) const { return sizeof(on_); }

 private:
  int on_ = 1;
};
#endif

void acknowledge_now([[maybe_unused]] tcp::socket& socket) {
#ifdef __linux__
  boost::system::error_code ignored;
  socket.set_option(QuickAck{}, ignored);
#endif
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Mailbox& mailbox, LoginCheck& login, const ServerOptions& options,
             std::weak_ptr<LoginRunner> runner)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        session_(mailbox, login, session_options(options)),
        idle_timeout_(options.idle_timeout),
        login_deadline_(std::chrono::steady_clock::now() + options.login_timeout),
        runner_(std::move(runner)) {}

  void start() {
    std::weak_ptr<Connection> weak = weak_from_this();
    auto executor = socket_.get_executor();
    boost::system::error_code ec;
    auto remote = socket_.remote_endpoint(ec);
    peer_ = ec ? std::string("unknown") : remote.address().to_string();
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

  // May this connection make room for a newcomer? Only if it has not logged in and is not in the
  // middle of a login. Read from the acceptor's thread, hence atomics.
  bool evictable() const { return evictable_.load(); }
  std::int64_t last_active() const { return last_active_.load(); }
  void evict() {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      // It may have started or finished a login since it was chosen: then it stays.
      if (!self->evictable_.load() || self->closing_) return;
      self->send("* BYE too many connections: closing this one, which has not logged in\r\n");
      self->closing_ = true;
      self->maybe_finish();
    });
  }

 private:
  static SessionOptions session_options(const ServerOptions& o) {
    SessionOptions s = o.session;
    s.async_login = true;
    return s;
  }

  // Before login: the deadline counted from connect (input does not extend it); after: idle time.
  void arm_timer() {
    if (session_.state() == Session::State::not_authenticated) timer_.expires_at(login_deadline_);
    else timer_.expires_after(idle_timeout_);
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        if (self->session_.state() == Session::State::not_authenticated && !self->session_.login_pending())
          self->send("* BYE login timeout: log in sooner after connecting\r\n");
        else if (self->session_.login_pending())
          return;  // the verdict re-arms the timer
        else
          self->send("* BYE autologout: idle for too long\r\n");
        self->closing_ = true;
        self->maybe_finish();
      }
    });
  }

  void note_state() {
    evictable_ = session_.state() == Session::State::not_authenticated && !session_.login_pending() && !done_ &&
                 !closing_;
    last_active_ = std::chrono::steady_clock::now().time_since_epoch().count();
  }

  void read() {
    note_state();
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec) return self->shutdown();
      if (self->done_) return;
      acknowledge_now(self->socket_);
      self->last_active_ = std::chrono::steady_clock::now().time_since_epoch().count();
      self->evictable_ = false;  // busy until the next read is posted
      self->arm_timer();
      self->after(self->session_.receive(std::string_view(self->buffer_.data(), n)));
    });
  }

  // Sends the session's answer and decides what comes next: close, a login check, or more input.
  void after(std::string output) {
    send(std::move(output));
    if (session_.closed()) {
      closing_ = true;
      maybe_finish();
      return;
    }
    if (session_.login_pending()) return check_login();
    read();
  }

  void check_login() {
    note_state();
    auto request = session_.take_login_request();
    auto runner = runner_.lock();
    if (!request || !runner) return shutdown();
    // The pending check keeps the connection alive (no read or write is outstanding meanwhile).
    runner->check(std::move(*request), peer_, socket_.get_executor(),
                  [self = shared_from_this()](LoginAnswer answer) {
                    if (self->done_) return;
                    std::string out = answer.temporary ? self->session_.login_unavailable(*answer.temporary)
                                                       : self->session_.login_finished(answer.account);
                    self->arm_timer();
                    self->after(std::move(out));
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
    evictable_ = false;
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  Session session_;
  std::chrono::seconds idle_timeout_;
  std::chrono::steady_clock::time_point login_deadline_;
  std::weak_ptr<LoginRunner> runner_;
  std::string peer_;
  std::array<char, 16384> buffer_{};
  std::string pending_, in_flight_;
  bool writing_ = false;
  bool closing_ = false;
  bool done_ = false;
  std::atomic<bool> evictable_{true};
  std::atomic<std::int64_t> last_active_{std::chrono::steady_clock::now().time_since_epoch().count()};
};

std::shared_ptr<LoginRunner> make_runner(LoginCheck& check, [[maybe_unused]] auth::LoginGate* gate) {
#ifdef FCPMAIL_IMAP_LOGIN_GATE
  if (gate) return std::make_shared<GateRunner>(*gate);
#endif
  return std::make_shared<DirectRunner>(check);
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io, const tcp::endpoint& ep, Mailbox& mb, LoginCheck& lc, ServerOptions opts)
      : io(io), acceptor(io, ep), retry(io), port(acceptor.local_endpoint().port()), mailbox(mb), login(lc),
        options(std::move(opts)), runner(make_runner(lc, options.login_gate)) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
      if (!self->acceptor.is_open()) return;
      if (ec) {
        // Out of file descriptors or similar: try again shortly instead of spinning.
        self->retry.expires_after(std::chrono::milliseconds(100));
        self->retry.async_wait([self](boost::system::error_code e) {
          if (!e && self->acceptor.is_open()) self->accept();
        });
        return;
      }
      {
        // Replies go out as soon as they are written: with Nagle's algorithm a client that sends a
        // command in two pieces (a literal, imaplib's APPEND) waits ~40 ms for a delayed ACK each time.
        boost::system::error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
      }
      {
        std::lock_guard lock(self->mutex);
        std::erase_if(self->connections, [](const std::weak_ptr<Connection>& w) { return w.expired(); });
        if (self->connections.size() >= self->options.max_connections) self->make_room();
        if (self->connections.size() >= self->options.max_connections) {
          boost::system::error_code ignored;
          // A fresh socket's send buffer takes these bytes without blocking.
          asio::write(s, asio::buffer(std::string_view("* BYE too many connections\r\n")), ignored);
          s.shutdown(tcp::socket::shutdown_both, ignored);
          s.close(ignored);
        } else {
          auto c = std::make_shared<Connection>(std::move(s), self->mailbox, self->login, self->options, self->runner);
          self->connections.push_back(c);
          c->start();
        }
      }
      self->accept();
    });
  }

  // At the cap, the connection idle longest among those that have not logged in gives way, so
  // a flood of silent connections cannot keep the user's mail client out; logged-in sessions (and
  // logins under way) are never closed for a newcomer. Called with `mutex` held.
  void make_room() {
    std::shared_ptr<Connection> oldest;
    std::size_t at = 0;
    for (std::size_t i = 0; i < connections.size(); ++i) {
      auto c = connections[i].lock();
      if (!c || !c->evictable()) continue;
      if (!oldest || c->last_active() < oldest->last_active()) {
        oldest = std::move(c);
        at = i;
      }
    }
    if (!oldest) return;
    connections.erase(connections.begin() + static_cast<std::ptrdiff_t>(at));
    oldest->evict();
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  unsigned short port;
  Mailbox& mailbox;
  LoginCheck& login;
  ServerOptions options;
  std::shared_ptr<LoginRunner> runner;
  mutable std::mutex mutex;
  std::vector<std::weak_ptr<Connection>> connections;
};

Server::Server(asio::io_context& io, const tcp::endpoint& endpoint, Mailbox& mailbox, LoginCheck& login,
               ServerOptions options)
    : impl_(std::make_shared<Impl>(io, endpoint, mailbox, login, std::move(options))) {
  impl_->accept();
}

Server::~Server() {
  stop();
  // Connections still waiting for a verdict find no runner and close.
  impl_->runner.reset();
}

unsigned short Server::port() const { return impl_->port; }

std::size_t Server::connections() const {
  std::lock_guard lock(impl_->mutex);
  return static_cast<std::size_t>(std::count_if(impl_->connections.begin(), impl_->connections.end(),
                                                [](const std::weak_ptr<Connection>& w) { return !w.expired(); }));
}

void Server::stop() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->retry.cancel();
  std::lock_guard lock(impl_->mutex);
  for (auto& w : impl_->connections)
    if (auto c = w.lock()) c->close();
  impl_->connections.clear();
}

}  // namespace fcpmail::imap
