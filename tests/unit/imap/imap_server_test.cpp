// The Asio IMAP server with real sockets on 127.0.0.1: logins off the I/O thread (through the login
// gate), the connection cap, the login deadline and idle timeout, and hostile input (a 100 MB line,
// a literal that never ends) that may only end the session that sent it.
#include "imap/imap_server.h"
#include "store/mailbox_store.h"

#include "auth/login_gate.h"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

using namespace fcpmail;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

const std::string alice = "alice@test.freemail";

// A password check as slow as scrypt can be on a loaded machine.
class SlowLogin final : public LoginCheck {
 public:
  explicit SlowLogin(std::chrono::milliseconds delay) : delay_(delay) {}
  std::optional<std::string> check_login(const std::string& user, const std::string& password) override {
    std::this_thread::sleep_for(delay_);
    ++calls;
    if (user == alice && password == "secret") return alice;
    return std::nullopt;
  }
  std::atomic<int> calls{0};

 private:
  std::chrono::milliseconds delay_;
};

struct World {
  SQLite::Database db{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
  MailboxStore store{db};
  World() {
    crypto::Key256 k{};
    k[0] = 7;
    store.unlock(alice, k);
    REQUIRE(store.ensure_account(alice));
    REQUIRE(store.deliver(alice, "INBOX", "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n", {}, 1000000000));
  }
};

// The server on its own io thread; stopped and joined on destruction.
struct Running {
  asio::io_context io;
  std::optional<auth::LoginGate> own_gate;  // when the test gives a LoginCheck: a gate with the default policy
  std::optional<imap::Server> server;
  std::thread thread;
  Running(World& w, auth::LoginGate& gate, imap::ServerOptions options) {
    server.emplace(io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}, w.store, gate, options);
    thread = std::thread([this] { io.run(); });
  }
  Running(World& w, LoginCheck& login, imap::ServerOptions options) : own_gate(std::in_place, login) {
    server.emplace(io, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}, w.store, *own_gate, options);
    thread = std::thread([this] { io.run(); });
  }
  ~Running() {
    asio::post(io, [this] {
      server->stop();
    });
    // Let the connections close, then end the loop.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    io.stop();
    thread.join();
    server.reset();
  }
  unsigned short port() const { return server->port(); }
};

// A blocking client.
struct Conn {
  asio::io_context io;
  tcp::socket socket{io};
  asio::streambuf in;
  explicit Conn(unsigned short port) { socket.connect({asio::ip::make_address("127.0.0.1"), port}); }
  void send(std::string_view bytes) { asio::write(socket, asio::buffer(bytes)); }
  // One line (empty at end of stream).
  std::string line() {
    boost::system::error_code ec;
    asio::read_until(socket, in, "\r\n", ec);
    if (ec && in.size() == 0) return {};
    std::istream is(&in);
    std::string l;
    std::getline(is, l);
    return l;
  }
  // Lines up to and including the one starting with `tag ` (or end of stream).
  std::string until(const std::string& tag) {
    std::string all;
    while (true) {
      auto l = line();
      if (l.empty()) return all;
      all += l + "\n";
      if (l.starts_with(tag + " ")) return all;
    }
  }
  bool at_eof() {
    boost::system::error_code ec;
    char c;
    while (true) {
      if (in.size() > 0) {
        in.consume(in.size());
        continue;
      }
      socket.read_some(asio::buffer(&c, 1), ec);
      if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
    }
  }
  std::size_t available() { return in.size() + socket.available(); }
};

bool has(const std::string& out, const std::string& what) { return out.find(what) != std::string::npos; }

long peak_rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.starts_with("VmHWM:")) return std::stol(line.substr(6));
  return 0;
}

imap::ServerOptions quick_options() {
  imap::ServerOptions o;
  o.login_timeout = std::chrono::seconds(30);
  return o;
}

}  // namespace

TEST_CASE("server: a slow login does not hold up other sessions") {
  World w;
  SlowLogin slow(std::chrono::milliseconds(1500));
  auth::LoginGate gate(slow);
  auto o = quick_options();
  Running r(w, gate, o);
  Conn a(r.port()), b(r.port());
  CHECK(a.line().starts_with("* OK"));
  CHECK(b.line().starts_with("* OK"));
  auto start = Clock::now();
  a.send("a1 LOGIN alice@test.freemail secret\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the check is under way
  b.send("b1 NOOP\r\n");
  CHECK(has(b.until("b1"), "b1 OK"));
  // B was answered while A's check was still running.
  CHECK(a.available() == 0);
  CHECK(Clock::now() - start < std::chrono::milliseconds(1500));
  CHECK(has(a.until("a1"), "a1 OK"));
  CHECK(Clock::now() - start >= std::chrono::milliseconds(1500));
  a.send("a2 SELECT INBOX\r\n");
  CHECK(has(a.until("a2"), "a2 OK [READ-WRITE]"));
}

TEST_CASE("server: repeated failed logins are answered NO after the gate's delay") {
  World w;
  SlowLogin quick(std::chrono::milliseconds(0));
  auth::LoginPolicy policy;
  policy.free_failures = 1;
  policy.first_delay = std::chrono::milliseconds(400);
  policy.max_delay = std::chrono::milliseconds(400);
  auth::LoginGate gate(quick, policy);
  auto o = quick_options();
  {
    Running r(w, gate, o);
    Conn a(r.port()), b(r.port());
    a.line();
    b.line();
    a.send("a1 LOGIN alice@test.freemail wrong\r\n");
    CHECK(has(a.until("a1"), "a1 NO [AUTHENTICATIONFAILED]"));
    auto start = Clock::now();
    a.send("a2 LOGIN alice@test.freemail wrong\r\n");
    b.send("b1 NOOP\r\n");
    CHECK(has(b.until("b1"), "b1 OK"));  // not held up by a's penalty
    CHECK(has(a.until("a2"), "a2 NO [AUTHENTICATIONFAILED]"));
    CHECK(Clock::now() - start >= std::chrono::milliseconds(400));
    CHECK(quick.calls == 2);
    // The session still works: the right password (after its penalty) logs in.
    a.send("a3 LOGIN alice@test.freemail secret\r\n");
    CHECK(has(a.until("a3"), "a3 OK"));
  }
}

TEST_CASE("server: a login refused for load says NO [UNAVAILABLE], never AUTHENTICATIONFAILED; a lock-out likewise") {
  World w;
  SlowLogin slow(std::chrono::milliseconds(500));
  auth::LoginPolicy policy;
  policy.max_queued = 1;  // one login at a time, to fill the gate with two connections
  policy.free_failures = 0;
  policy.first_delay = std::chrono::milliseconds(0);
  policy.lockout_failures = 1;
  auth::LoginGate gate(slow, policy);
  auto o = quick_options();
  Running r(w, gate, o);
  Conn a(r.port()), b(r.port());
  a.line();
  b.line();
  a.send("a1 LOGIN alice@test.freemail secret\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a's check is under way
  b.send("b1 LOGIN alice@test.freemail secret\r\n");
  CHECK(has(b.until("b1"), "b1 NO [UNAVAILABLE]"));
  CHECK(has(a.until("a1"), "a1 OK"));
  // Again now there is room: from the cache, without a second check.
  b.send("b2 LOGIN alice@test.freemail secret\r\n");
  CHECK(has(b.until("b2"), "b2 OK"));
  CHECK(slow.calls == 1);
  // One failure locks alice out here: then even the right password is refused as temporary.
  Conn c(r.port());
  c.line();
  c.send("c1 LOGIN alice@test.freemail wrong\r\n");
  CHECK(has(c.until("c1"), "c1 NO [AUTHENTICATIONFAILED]"));
  c.send("c2 LOGIN alice@test.freemail secret\r\n");
  CHECK(has(c.until("c2"), "c2 NO [UNAVAILABLE]"));
}

TEST_CASE("server: through a default gate the LoginCheck answers LOGIN and AUTHENTICATE (pipelined commands after it)") {
  World w;
  SlowLogin login(std::chrono::milliseconds(0));
  Running r(w, login, quick_options());
  Conn a(r.port());
  a.line();
  a.send("a1 LOGIN alice@test.freemail wrong\r\na2 LOGIN alice@test.freemail secret\r\na3 SELECT INBOX\r\n");
  CHECK(has(a.until("a1"), "a1 NO [AUTHENTICATIONFAILED]"));
  CHECK(has(a.until("a2"), "a2 OK"));
  CHECK(has(a.until("a3"), "a3 OK [READ-WRITE]"));
  Conn b(r.port());
  b.line();
  b.send("b1 AUTHENTICATE PLAIN AGFsaWNlQHRlc3QuZnJlZW1haWwAc2VjcmV0\r\n");
  CHECK(has(b.until("b1"), "b1 OK"));
}

TEST_CASE("server: at the cap a silent connection makes room; with everyone logged in the newcomer gets BYE") {
  World w;
  SlowLogin login(std::chrono::milliseconds(0));
  auto o = quick_options();
  o.max_connections = 3;
  Running r(w, login, o);
  std::vector<std::unique_ptr<Conn>> users;
  for (int i = 0; i < 3; ++i) {
    users.push_back(std::make_unique<Conn>(r.port()));
    CHECK(users.back()->line().starts_with("* OK"));
    users.back()->send("l LOGIN alice@test.freemail secret\r\n");
    CHECK(has(users.back()->until("l"), "l OK"));
  }
  Conn extra(r.port());
  CHECK(extra.line() == "* BYE too many connections\r");
  CHECK(extra.at_eof());
  users[0]->send("x LOGOUT\r\n");
  CHECK(has(users[0]->until("x"), "x OK"));
  users.erase(users.begin());
  // The server notices the closed connection; then a new one is served.
  for (int i = 0; i < 100 && r.server->connections() >= 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Conn silent(r.port());
  CHECK(silent.line().starts_with("* OK"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // Full again (two logged in, one silent): a newcomer is served, the silent one gives way.
  Conn next(r.port());
  CHECK(next.line().starts_with("* OK"));
  CHECK(has(silent.line(), "* BYE too many connections"));
  CHECK(silent.at_eof());
  next.send("l LOGIN alice@test.freemail secret\r\n");
  CHECK(has(next.until("l"), "l OK"));
  users[1]->send("y NOOP\r\n");
  CHECK(has(users[1]->until("y"), "y OK"));
}

TEST_CASE("server: 1,000 simultaneous connections: at most 512 kept, logged-in sessions and newcomers served") {
  World w;
  SlowLogin login(std::chrono::milliseconds(0));
  Running r(w, login, quick_options());  // default cap: 512
  Conn keeper(r.port());
  keeper.line();
  keeper.send("k LOGIN alice@test.freemail secret\r\n");
  CHECK(has(keeper.until("k"), "k OK"));
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < 1000; ++i) conns.push_back(std::make_unique<Conn>(r.port()));
  int greeted = 0;
  for (auto& c : conns)
    if (c->line().starts_with("* OK")) ++greeted;
  CHECK(greeted == 1000);
  // The oldest silent ones were closed to make room: 1,000 - 511 of them.
  int evicted = 0;
  for (int round = 0; round < 200 && evicted < 489; ++round) {
    evicted = 0;
    for (auto& c : conns)
      if (c->available() > 0) ++evicted;
    if (evicted < 489) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(evicted == 489);
  CHECK(r.server->connections() <= 512);
  keeper.send("n NOOP\r\n");
  CHECK(has(keeper.until("n"), "n OK"));
  // The user's client gets in during the flood.
  Conn client(r.port());
  CHECK(client.line().starts_with("* OK"));
  client.send("a LOGIN alice@test.freemail secret\r\nb SELECT INBOX\r\n");
  CHECK(has(client.until("a"), "a OK"));
  CHECK(has(client.until("b"), "b OK [READ-WRITE]"));
  conns.clear();
  for (int i = 0; i < 200 && r.server->connections() > 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(r.server->connections() == 2);
}

TEST_CASE("server: a 100 MB line is refused with BAD, memory stays bounded, the session goes on") {
  World w;
  SlowLogin login(std::chrono::milliseconds(0));
  Running r(w, login, quick_options());
  Conn a(r.port()), b(r.port());
  a.line();
  b.line();
  a.send("a1 LOGIN alice@test.freemail secret\r\n");
  CHECK(has(a.until("a1"), "a1 OK"));
  long before = peak_rss_kb();
  std::string chunk(1 << 20, 'x');
  // The answer is read while sending, so neither side's buffers fill up.
  std::string answer;
  std::thread reader([&] { answer = a.until("a2"); });
  a.send("a2 NOOP ");
  for (int i = 0; i < 100; ++i) a.send(chunk);
  a.send("\r\na3 NOOP\r\n");
  reader.join();
  CHECK(has(answer, "a2 BAD line too long"));
  CHECK(has(a.until("a3"), "a3 OK"));
  // The server (same process) did not buffer the line: far less than 100 MB more at peak.
  CHECK(peak_rss_kb() - before < 32 * 1024);
  b.send("b1 NOOP\r\n");
  CHECK(has(b.until("b1"), "b1 OK"));
}

TEST_CASE("server: a literal that never ends is cut off by the login deadline or the idle timeout") {
  World w;
  SlowLogin login(std::chrono::milliseconds(0));
  imap::ServerOptions o;
  o.login_timeout = std::chrono::seconds(1);
  o.idle_timeout = std::chrono::seconds(1);
  Running r(w, login, o);
  Conn anon(r.port()), user(r.port());
  anon.line();
  user.line();
  user.send("u1 LOGIN alice@test.freemail secret\r\n");
  CHECK(has(user.until("u1"), "u1 OK"));
  auto start = Clock::now();
  anon.send("a1 LOGIN {100}\r\n");
  CHECK(anon.line().starts_with("+ "));
  anon.send("0123456789");
  user.send("u2 APPEND INBOX {1000}\r\n");
  CHECK(user.line().starts_with("+ "));
  user.send("0123456789");
  CHECK(has(anon.line(), "* BYE login timeout"));
  CHECK(anon.at_eof());
  CHECK(has(user.line(), "* BYE autologout"));
  CHECK(user.at_eof());
  auto took = Clock::now() - start;
  CHECK(took >= std::chrono::milliseconds(900));
  CHECK(took < std::chrono::seconds(10));
}

TEST_CASE("server: an unauthenticated session is closed at the login deadline even if it keeps talking") {
  World w;
  SlowLogin login(std::chrono::milliseconds(0));
  imap::ServerOptions o;
  o.login_timeout = std::chrono::seconds(1);
  Running r(w, login, o);
  Conn c(r.port());
  c.line();
  auto start = Clock::now();
  std::string seen;
  for (int i = 0; i < 40; ++i) {
    c.send("n NOOP\r\n");
    auto l = c.line();
    if (!l.starts_with("n OK")) {
      seen = l;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(has(seen, "* BYE login timeout"));
  CHECK(c.at_eof());
  CHECK(Clock::now() - start < std::chrono::seconds(3));
  // A session that logs in in time is not affected.
  Conn d(r.port());
  d.line();
  d.send("l LOGIN alice@test.freemail secret\r\n");
  CHECK(has(d.until("l"), "l OK"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  d.send("m NOOP\r\n");
  CHECK(has(d.until("m"), "m OK"));
}
