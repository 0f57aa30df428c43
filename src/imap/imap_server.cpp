#include "imap/imap_server.h"

#include "auth/login_gate.h"
#include "net/listener.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <atomic>
#include <malloc.h>

namespace fcpmail::imap {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

class Connection final : public net::Session, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Mailbox& mailbox, const ServerOptions& options, std::weak_ptr<auth::LoginGate*> gate)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        session_(mailbox, no_direct_login(), session_options(options)),
        idle_timeout_(options.idle_timeout),
        login_deadline_(std::chrono::steady_clock::now() + options.login_timeout),
        gate_(std::move(gate)) {}

  void start() override {
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

  // Full, and nobody can give way. A fresh socket's send buffer takes these bytes without blocking.
  void refuse() override {
    boost::system::error_code ignored;
    asio::write(socket_, asio::buffer(std::string_view("* BYE too many connections\r\n")), ignored);
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  void close() override {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->shutdown(); });
  }

  // May this connection make room for a newcomer? Only if it has not logged in and is not in the
  // middle of a login. Read from the acceptor's thread, hence atomics.
  bool evictable() const override { return evictable_.load(); }
  std::chrono::steady_clock::time_point last_active() const override {
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(last_active_.load()));
  }
  void evict() override {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      // It may have started or finished a login since it was chosen: then it stays.
      if (!self->evictable_.load() || self->closing_) return;
      self->send("* BYE too many connections: closing this one, which has not logged in\r\n");
      self->closing_ = true;
      self->maybe_finish();
    });
  }

 private:
  // The sessions log in only through the gate (async_login), so this is never asked.
  static LoginCheck& no_direct_login() {
    struct Never final : LoginCheck {
      std::optional<std::string> check_login(const std::string&, const std::string&) override { return std::nullopt; }
    };
    static Never never;
    return never;
  }

  static SessionOptions session_options(const ServerOptions& o) {
    SessionOptions s = o.session;
    s.async_login = true;
    return s;
  }

  // Before login: the deadline counted from connect (input does not extend it); after: idle time.
  void arm_timer() {
    if (session_.state() == imap::Session::State::not_authenticated) timer_.expires_at(login_deadline_);
    else timer_.expires_after(idle_timeout_);
    timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        if (self->session_.state() == imap::Session::State::not_authenticated && !self->session_.login_pending())
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
    evictable_ = session_.state() == imap::Session::State::not_authenticated && !session_.login_pending() && !done_ &&
                 !closing_;
    last_active_ = std::chrono::steady_clock::now().time_since_epoch().count();
  }

  void read() {
    note_state();
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec) return self->shutdown();
      if (self->done_) return;
      net::acknowledge_now(self->socket_);  // see imap_server.h: TCP_QUICKACK after every read
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
    auto gate = gate_.lock();
    if (!request || !gate) return shutdown();
    // The pending check keeps the connection alive (no read or write is outstanding meanwhile).
    (*gate)->check(std::move(request->user), std::move(request->password), peer_, socket_.get_executor(),
                   [self = shared_from_this()](auth::LoginVerdict verdict) {
                     if (self->done_) return;
                     // A correct password is never answered as wrong: a refusal that checked no
                     // password says it is temporary.
                     std::string out =
                         verdict.unavailable  ? self->session_.login_unavailable("too many logins at once; try again in a moment")
                         : verdict.locked_out ? self->session_.login_unavailable(
                                                    "too many failed logins for this account; it is locked for a while")
                                              : self->session_.login_finished(verdict.account);
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
  imap::Session session_;
  std::chrono::seconds idle_timeout_;
  std::chrono::steady_clock::time_point login_deadline_;
  std::weak_ptr<auth::LoginGate*> gate_;  // gone once the server is destroyed: pending logins then close
  std::string peer_;
  std::array<char, 16384> buffer_{};
  std::string pending_, in_flight_;
  bool writing_ = false;
  bool closing_ = false;
  bool done_ = false;
  std::atomic<bool> evictable_{true};
  std::atomic<std::int64_t> last_active_{std::chrono::steady_clock::now().time_since_epoch().count()};
};

}  // namespace

struct Server::Impl {
  Impl(asio::io_context& io, const tcp::endpoint& ep, Mailbox& mailbox, auth::LoginGate& gate, ServerOptions opts)
      : options(std::move(opts)),
        gate(std::make_shared<auth::LoginGate*>(&gate)),
        listener(io, ep, listener_options(options),
                 [this, &mailbox](tcp::socket s) {
                   return std::make_shared<Connection>(std::move(s), mailbox, options, this->gate);
                 }) {}

  static net::ListenerOptions listener_options(const ServerOptions& o) {
    net::ListenerOptions l;
    l.max_connections = o.max_connections;
    l.name = "imap";
    return l;
  }

  ServerOptions options;
  std::shared_ptr<auth::LoginGate*> gate;
  net::Listener listener;
};

Server::Server(asio::io_context& io, const tcp::endpoint& endpoint, Mailbox& mailbox, auth::LoginGate& login_gate,
               ServerOptions options)
    : impl_(std::make_unique<Impl>(io, endpoint, mailbox, login_gate, std::move(options))) {
  impl_->listener.start();
}

Server::~Server() {
  stop();
  // Connections still waiting for a verdict find no gate and close.
  impl_->gate.reset();
}

unsigned short Server::port() const { return impl_->listener.port(); }
std::size_t Server::connections() const { return impl_->listener.connections(); }
void Server::stop() { impl_->listener.stop(); }

}  // namespace fcpmail::imap
