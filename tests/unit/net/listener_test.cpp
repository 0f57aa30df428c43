// net::Listener with real sockets on 127.0.0.1 and scripted sessions: the connection cap, which
// connection gives way at the cap (the longest-idle evictable one; a logged-in one never), the
// retry after a failed accept (out of file descriptors), and stop().
#include "net/listener.h"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace asio = boost::asio;
using asio::ip::tcp;
using fcpmail::net::Listener;
using fcpmail::net::ListenerOptions;
using Clock = std::chrono::steady_clock;

namespace {

// What the listener asked of each session, by the order of acceptance (0, 1, 2 ...).
struct Record {
  std::mutex mutex;
  std::vector<std::string> events;  // "start 0", "evict 2", "refuse 3", "close 1"
  void add(std::string e) {
    std::lock_guard lock(mutex);
    events.push_back(std::move(e));
  }
  bool has(const std::string& e) {
    std::lock_guard lock(mutex);
    return std::find(events.begin(), events.end(), e) != events.end();
  }
  std::size_t count_prefix(const std::string& prefix) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(), [&](const std::string& e) { return e.starts_with(prefix); }));
  }
};

class FakeSession final : public fcpmail::net::Session {
 public:
  FakeSession(tcp::socket socket, int id, Record& record)
      : socket_(std::move(socket)), id_(id), record_(record),
        last_active_(Clock::time_point(std::chrono::seconds(1000 + id))) {}
  void start() override { record_.add("start " + std::to_string(id_)); }
  void refuse() override { record_.add("refuse " + std::to_string(id_)); shut(); }
  bool evictable() const override { return evictable_.load(); }
  Clock::time_point last_active() const override { return last_active_.load(); }
  void evict() override { record_.add("evict " + std::to_string(id_)); shut(); }
  void close() override { record_.add("close " + std::to_string(id_)); shut(); }

 private:
  void shut() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }
  tcp::socket socket_;
  int id_;
  Record& record_;

 public:
  std::atomic<bool> evictable_{true};  // set by the test: false = logged in or logging in
  std::atomic<Clock::time_point> last_active_;
};

// A listener on its own io thread; the sessions are kept alive here (as pending I/O would).
struct Running {
  asio::io_context io;
  Record record;
  std::mutex mutex;
  std::vector<std::shared_ptr<FakeSession>> sessions;
  std::vector<std::string> log;
  std::optional<Listener> listener;
  std::thread thread;

  explicit Running(ListenerOptions options) {
    options.log = [this](std::string_view line) {
      std::lock_guard lock(mutex);
      log.emplace_back(line);
    };
    listener.emplace(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), options, [this](tcp::socket s) {
      std::lock_guard lock(mutex);
      auto session = std::make_shared<FakeSession>(std::move(s), static_cast<int>(sessions.size()), record);
      sessions.push_back(session);
      return session;
    });
    listener->start();
    thread = std::thread([this] { io.run(); });
  }
  ~Running() {
    asio::post(io, [this] { listener->stop(); });
    asio::post(io, [this] { io.stop(); });
    thread.join();
  }
  std::shared_ptr<FakeSession> session(std::size_t i) {
    std::lock_guard lock(mutex);
    return i < sessions.size() ? sessions[i] : nullptr;
  }
  std::size_t log_lines(const std::string& part) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(
        std::count_if(log.begin(), log.end(), [&](const std::string& l) { return l.find(part) != std::string::npos; }));
  }
};

template <class Predicate> bool eventually(Predicate p, std::chrono::milliseconds within = std::chrono::milliseconds(3000)) {
  const auto until = Clock::now() + within;
  while (Clock::now() < until) {
    if (p()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return p();
}

struct Client {
  asio::io_context io;
  tcp::socket socket{io};
  explicit Client(unsigned short port) { socket.connect({asio::ip::make_address("127.0.0.1"), port}); }
  // True once the server closed this connection.
  bool closed_by_server() {
    char c;
    boost::system::error_code ec;
    socket.non_blocking(true);
    socket.read_some(asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
};

ListenerOptions capped(std::size_t cap) {
  ListenerOptions o;
  o.max_connections = cap;
  o.name = "test";
  return o;
}

}  // namespace

TEST_CASE("listener: at the cap with nobody evictable the newcomer is refused; a closed connection frees its place") {
  Running r(capped(2));
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 2; ++i) {
    clients.push_back(std::make_unique<Client>(r.listener->port()));
    REQUIRE(eventually([&] { return r.record.has("start " + std::to_string(i)); }));
    r.session(static_cast<std::size_t>(i))->evictable_ = false;  // logged in
  }
  CHECK(r.listener->connections() == 2);
  Client extra(r.listener->port());
  CHECK(eventually([&] { return r.record.has("refuse 2"); }));
  CHECK(eventually([&] { return extra.closed_by_server(); }));
  CHECK_FALSE(r.record.has("start 2"));
  CHECK(r.record.count_prefix("evict") == 0);
  CHECK(r.listener->connections() == 2);
  CHECK(r.log_lines("test: too many connections") == 1);
  // Session 0 ends (its last reference goes): the next newcomer is served.
  {
    std::lock_guard lock(r.mutex);
    r.sessions[0].reset();
  }
  Client next(r.listener->port());
  CHECK(eventually([&] { return r.record.has("start 3"); }));
  CHECK(r.listener->connections() == 2);
}

TEST_CASE("listener: at the cap the longest-idle evictable connection gives way, one per newcomer, in idle order") {
  Running r(capped(3));
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Client>(r.listener->port()));
    REQUIRE(eventually([&] { return r.record.has("start " + std::to_string(i)); }));
  }
  // Idle longest: 1, then 2, then 0 (the oldest time is the longest idle).
  r.session(0)->last_active_ = Clock::time_point(std::chrono::seconds(300));
  r.session(1)->last_active_ = Clock::time_point(std::chrono::seconds(100));
  r.session(2)->last_active_ = Clock::time_point(std::chrono::seconds(200));
  clients.push_back(std::make_unique<Client>(r.listener->port()));
  CHECK(eventually([&] { return r.record.has("start 3"); }));
  CHECK(r.record.has("evict 1"));
  CHECK(r.record.count_prefix("evict") == 1);
  CHECK(eventually([&] { return clients[1]->closed_by_server(); }));
  r.session(3)->last_active_ = Clock::time_point(std::chrono::seconds(400));
  clients.push_back(std::make_unique<Client>(r.listener->port()));
  CHECK(eventually([&] { return r.record.has("start 4"); }));
  CHECK(r.record.has("evict 2"));
  CHECK(r.record.count_prefix("evict") == 2);
  CHECK(r.listener->connections() == 3);
  CHECK(r.log_lines("test: at the connection limit") == 2);
}

TEST_CASE("listener: a logged-in (or logging-in) connection is never evicted, however long it has been idle") {
  Running r(capped(2));
  Client a(r.listener->port());
  REQUIRE(eventually([&] { return r.record.has("start 0"); }));
  Client b(r.listener->port());
  REQUIRE(eventually([&] { return r.record.has("start 1"); }));
  r.session(0)->evictable_ = false;  // logged in, idle longest
  r.session(0)->last_active_ = Clock::time_point(std::chrono::seconds(1));
  Client c(r.listener->port());
  CHECK(eventually([&] { return r.record.has("start 2"); }));
  CHECK(r.record.has("evict 1"));
  r.session(2)->evictable_ = false;  // now logging in
  Client d(r.listener->port());
  CHECK(eventually([&] { return r.record.has("refuse 3"); }));
  CHECK_FALSE(r.record.has("evict 0"));
  CHECK_FALSE(r.record.has("evict 2"));
  CHECK_FALSE(a.closed_by_server());
}

TEST_CASE("listener: a failed accept (out of file descriptors) is retried after a pause, not in a busy loop") {
  auto o = capped(8);
  o.retry_delay = std::chrono::milliseconds(50);
  Running r(o);
  // The client socket exists before the descriptors run out; connecting needs no new one.
  asio::io_context client_io;
  tcp::socket client(client_io);
  client.open(tcp::v4());
  std::vector<int> hogs;
  for (int i = 0; i < 1'000'000; ++i) {
    const int fd = ::open("/dev/null", O_RDONLY);
    if (fd < 0) break;
    hogs.push_back(fd);
  }
  REQUIRE(!hogs.empty());
  client.connect({asio::ip::make_address("127.0.0.1"), r.listener->port()});
  const bool failed = eventually([&] { return r.log_lines("accept failed") > 0; });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto failures = r.log_lines("accept failed");
  for (int fd : hogs) ::close(fd);
  CHECK(failed);
  // ~300 ms at one try per 50 ms: a handful of tries, not thousands.
  CHECK(failures >= 2);
  CHECK(failures <= 12);
  CHECK(r.log_lines("retrying in 50 ms") == failures);
  // Descriptors again: the waiting connection is accepted.
  CHECK(eventually([&] { return r.record.has("start 0"); }));
  CHECK(r.listener->connections() == 1);
}

TEST_CASE("listener: stop() closes every connection and accepts no more") {
  Running r(capped(8));
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<Client>(r.listener->port()));
    REQUIRE(eventually([&] { return r.record.has("start " + std::to_string(i)); }));
  }
  r.session(1)->evictable_ = false;  // logged in: closed all the same
  const auto port = r.listener->port();
  asio::post(r.io, [&] { r.listener->stop(); });
  for (int i = 0; i < 3; ++i) CHECK(eventually([&] { return r.record.has("close " + std::to_string(i)); }));
  for (auto& c : clients) CHECK(eventually([&] { return c->closed_by_server(); }));
  CHECK(r.listener->connections() == 0);
  asio::io_context client_io;
  tcp::socket late(client_io);
  boost::system::error_code ec;
  late.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  CHECK(ec);
  CHECK(r.record.count_prefix("evict") == 0);
  CHECK(r.record.count_prefix("refuse") == 0);
  // Idempotent (the destructor stops again).
  r.listener->stop();
}
