#include "net/listener.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#ifdef __linux__
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif

namespace fcpmail::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

struct Listener::State : std::enable_shared_from_this<Listener::State> {
  State(asio::io_context& io, ListenerOptions o, MakeSession make)
      : io(io), acceptor(io), retry(io), options(std::move(o)), make_session(std::move(make)) {}

  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // after a failed accept
  ListenerOptions options;
  MakeSession make_session;
  mutable std::mutex mutex;  // guards `sessions` and `stopped` (connections() may be asked from any thread)
  std::vector<std::weak_ptr<Session>> sessions;
  bool stopped = false;

  void log(const std::string& line) const {
    if (options.log) options.log(options.name + ": " + line);
  }

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
      if (ec) {
        // Out of file descriptors or similar: accepting again at once would spin; wait a little.
        self->log("accept failed (" + ec.message() + "); retrying in " +
                  std::to_string(self->options.retry_delay.count()) + " ms");
        self->retry.expires_after(self->options.retry_delay);
        self->retry.async_wait([self](error_code e) {
          if (!e && self->acceptor.is_open()) self->accept();
        });
        return;
      }
      self->admit(std::move(socket));
      self->accept();
    });
  }

  void admit(tcp::socket socket) {
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // failing is harmless
    auto session = make_session(std::move(socket));
    if (!session) return;
    bool admitted = false;
    {
      std::lock_guard lock(mutex);
      if (stopped) return;
      forget_closed();
      if (sessions.size() >= options.max_connections) make_room();
      if (sessions.size() < options.max_connections) {
        sessions.push_back(session);
        admitted = true;
      }
    }
    if (admitted) {
      session->start();
    } else {
      log("too many connections, refusing one");
      session->refuse();
    }
  }

  void forget_closed() {
    std::erase_if(sessions, [](const std::weak_ptr<Session>& w) { return w.expired(); });
  }

  // The longest-idle evictable connection gives way. Called with `mutex` held.
  void make_room() {
    std::shared_ptr<Session> oldest;
    std::size_t at = 0;
    for (std::size_t i = 0; i < sessions.size(); ++i) {
      auto s = sessions[i].lock();
      if (!s || !s->evictable()) continue;
      if (!oldest || s->last_active() < oldest->last_active()) {
        oldest = std::move(s);
        at = i;
      }
    }
    if (!oldest) return;
    sessions.erase(sessions.begin() + static_cast<std::ptrdiff_t>(at));
    log("at the connection limit; closing the longest-idle connection that has not logged in");
    oldest->evict();
  }
};

Listener::Listener(asio::io_context& io, const tcp::endpoint& endpoint, ListenerOptions options, MakeSession make_session)
    : state_(std::make_shared<State>(io, std::move(options), std::move(make_session))) {
  auto& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen();
}

Listener::~Listener() { stop(); }

void Listener::start() { state_->accept(); }

void Listener::stop() {
  std::vector<std::weak_ptr<Session>> sessions;
  {
    std::lock_guard lock(state_->mutex);
    if (state_->stopped) return;
    state_->stopped = true;
    error_code ignored;
    state_->acceptor.close(ignored);
    state_->retry.cancel();
    sessions.swap(state_->sessions);
  }
  for (auto& weak : sessions)
    if (auto s = weak.lock()) s->close();
}

unsigned short Listener::port() const { return local_endpoint().port(); }

tcp::endpoint Listener::local_endpoint() const {
  error_code ec;
  auto endpoint = state_->acceptor.local_endpoint(ec);
  return ec ? tcp::endpoint{} : endpoint;
}

std::size_t Listener::connections() const {
  std::lock_guard lock(state_->mutex);
  return static_cast<std::size_t>(std::count_if(state_->sessions.begin(), state_->sessions.end(),
                                                [](const std::weak_ptr<Session>& w) { return !w.expired(); }));
}

#ifdef __linux__
namespace {
// The socket option for Asio's set_option (it has no TCP_QUICKACK of its own).
class QuickAck {
 public:
  template <class Protocol> int level(const Protocol&) const { return IPPROTO_TCP; }
  template <class Protocol> int name(const Protocol&) const { return TCP_QUICKACK; }
  template <class Protocol> const void* data(const Protocol&) const { return &on_; }
  template <class Protocol> std::size_t size(const Protocol&) const { return sizeof(on_); }

 private:
  int on_ = 1;
};
}  // namespace
#endif

void acknowledge_now([[maybe_unused]] tcp::socket& socket) {
#ifdef __linux__
  error_code ignored;
  socket.set_option(QuickAck{}, ignored);
#endif
}

}  // namespace fcpmail::net
