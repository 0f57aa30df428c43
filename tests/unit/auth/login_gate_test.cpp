#include "auth/login_gate.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace fcpmail;
using namespace fcpmail::auth;
using namespace std::chrono_literals;

namespace {

// A slow check like scrypt: one right password per user; records the thread it ran on.
class SlowCheck : public LoginCheck {
 public:
  std::optional<std::string> check_login(const std::string& user, const std::string& password) override {
    std::this_thread::sleep_for(delay);
    {
      std::lock_guard lock(mutex);
      threads.push_back(std::this_thread::get_id());
    }
    ++calls;
    if ((user == "me@x" && password == "right") || (user == "you@x" && password == "yours")) return user;
    return std::nullopt;
  }
  std::chrono::milliseconds delay = 20ms;
  std::mutex mutex;
  std::vector<std::thread::id> threads;
  std::atomic<int> calls{0};
};

struct Result {
  LoginVerdict verdict;
  std::thread::id answered_on;
  std::chrono::steady_clock::duration took{};
};

// Runs handlers until `done()` holds (or 5 s pass). The io_context runs out of work while the
// gate's worker is busy, so it is restarted each time round.
template <class Pred>
void run_until(boost::asio::io_context& io, Pred done) {
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    if (io.stopped()) io.restart();
    if (io.run_one_for(10ms) == 0) std::this_thread::sleep_for(1ms);
  }
}

LoginPolicy quick_policy() {
  LoginPolicy p;
  p.free_failures = 2;
  p.first_delay = 100ms;
  p.max_delay = 400ms;
  p.lockout_failures = 6;
  p.lockout_for = 60s;
  return p;
}

}  // namespace

TEST_CASE("login gate: the check runs on the worker, the answer on the caller's io_context") {
  SlowCheck check;
  boost::asio::io_context io;
  std::vector<Result> results;
  {
    LoginGate gate(check, quick_policy());
    const auto start = std::chrono::steady_clock::now();
    gate.check("me@x", "right", "127.0.0.1", io.get_executor(), [&](LoginVerdict v) {
      results.push_back({v, std::this_thread::get_id(), std::chrono::steady_clock::now() - start});
    });
    gate.check("me@x", "wrong", "127.0.0.2", io.get_executor(), [&](LoginVerdict v) {
      results.push_back({v, std::this_thread::get_id(), std::chrono::steady_clock::now() - start});
    });
    // The caller returns at once: nothing has been answered yet.
    CHECK(results.empty());
    run_until(io, [&] { return results.size() >= 2; });
  }
  REQUIRE(results.size() == 2);
  // Two workers may check both at once: the answers come in either order.
  if (!results[0].verdict.account) std::swap(results[0], results[1]);
  CHECK(results[0].verdict.account == std::optional<std::string>("me@x"));
  CHECK_FALSE(results[1].verdict.account);
  CHECK_FALSE(results[1].verdict.locked_out);
  for (const auto& r : results) CHECK(r.answered_on == std::this_thread::get_id());
  REQUIRE(check.threads.size() == 2);
  CHECK(check.threads[0] != std::this_thread::get_id());
}

TEST_CASE("login gate: repeated failures are delayed by a timer that does not block the io thread") {
  SlowCheck check;
  boost::asio::io_context io;
  LoginGate gate(check, quick_policy());
  // Sequential guesses from one peer: attempts 1-2 free, then 100, 200 ms.
  std::vector<LoginVerdict> verdicts;
  std::vector<std::chrono::steady_clock::duration> took;
  for (int i = 0; i < 4; ++i) {
    const auto start = std::chrono::steady_clock::now();
    bool done = false;
    gate.check("me@x", "guess" + std::to_string(i), "10.0.0.9", io.get_executor(), [&](LoginVerdict v) {
      verdicts.push_back(v);
      took.push_back(std::chrono::steady_clock::now() - start);
      done = true;
    });
    // While the penalty runs, other work on the same io_context still gets done.
    int ticks = 0;
    boost::asio::steady_timer tick(io, 10ms);
    std::function<void(const boost::system::error_code&)> on_tick = [&](const boost::system::error_code& ec) {
      if (ec || done) return;
      ++ticks;
      tick.expires_after(10ms);
      tick.async_wait(on_tick);
    };
    tick.async_wait(on_tick);
    run_until(io, [&] { return done; });
    tick.cancel();
    io.restart();
    io.run();
    if (i == 3) CHECK(ticks >= 10);
  }
  REQUIRE(verdicts.size() == 4);
  CHECK(verdicts[0].delayed == 0ms);
  CHECK(verdicts[1].delayed == 0ms);
  CHECK(verdicts[2].delayed == 100ms);
  CHECK(verdicts[3].delayed == 200ms);
  CHECK(took[3] >= 200ms);
  for (const auto& v : verdicts) CHECK_FALSE(v.account);
  // Another peer of the same user is not delayed, and the right password works there.
  bool done = false;
  LoginVerdict other;
  gate.check("me@x", "right", "10.0.0.10", io.get_executor(), [&](LoginVerdict v) {
    other = v;
    done = true;
  });
  run_until(io, [&] { return done; });
  CHECK(other.account == std::optional<std::string>("me@x"));
  CHECK(other.delayed == 0ms);
}

TEST_CASE("login gate: parallel guesses from one peer are serialised, each waiting its penalty") {
  SlowCheck check;
  boost::asio::io_context io;
  LoginGate gate(check, quick_policy());
  std::vector<LoginVerdict> verdicts;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i)
    gate.check("me@x", "guess", "10.0.0.9", io.get_executor(), [&](LoginVerdict v) { verdicts.push_back(v); });
  run_until(io, [&] { return verdicts.size() >= 5; });
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(verdicts.size() == 5);
  // 2 free, then 100 + 200 + 400 ms of penalties one after another.
  CHECK(verdicts[4].delayed == 400ms);
  CHECK(took >= 700ms);
}

TEST_CASE("login gate: while a (user, peer) is penalised at most max_waiting attempts queue; more are refused as unavailable") {
  SlowCheck check;
  boost::asio::io_context io;
  auto policy = quick_policy();
  policy.free_failures = 0;  // the first failure earns a delay
  policy.max_waiting = 2;
  LoginGate gate(check, policy);
  std::optional<LoginVerdict> first;
  gate.check("me@x", "guess", "10.0.0.9", io.get_executor(), [&](LoginVerdict v) { first = v; });
  run_until(io, [&] { return first.has_value(); });
  // Now penalised: one under way (serving 100 ms), two waiting; the 4th and 5th are answered first,
  // without a check, as a temporary refusal (not as a wrong password, not as a lock-out).
  std::vector<LoginVerdict> verdicts;
  for (int i = 0; i < 5; ++i)
    gate.check("me@x", "guess", "10.0.0.9", io.get_executor(), [&](LoginVerdict v) { verdicts.push_back(v); });
  run_until(io, [&] { return verdicts.size() >= 2; });
  REQUIRE(verdicts.size() >= 2);
  for (int i = 0; i < 2; ++i) {
    CHECK(verdicts[i].unavailable);
    CHECK_FALSE(verdicts[i].locked_out);
    CHECK_FALSE(verdicts[i].account);
  }
  run_until(io, [&] { return verdicts.size() >= 5; });
  CHECK(verdicts.size() == 5);
  CHECK(check.calls == 1 + 3);
  // Another peer is not affected by that queue.
  std::optional<LoginVerdict> other;
  gate.check("me@x", "right", "10.0.0.10", io.get_executor(), [&](LoginVerdict v) { other = v; });
  run_until(io, [&] { return other.has_value(); });
  CHECK(other->account == std::optional<std::string>("me@x"));
}

TEST_CASE("login gate: a burst that queued before any failure is cut back to max_waiting once penalised") {
  SlowCheck check;
  boost::asio::io_context io;
  auto policy = quick_policy();
  policy.free_failures = 1;
  policy.max_waiting = 2;
  LoginGate gate(check, policy);
  std::vector<LoginVerdict> verdicts;
  // No failure yet: all five queue. After the first fails, the second serves a penalty and the
  // lane keeps two behind it: the fifth is refused as unavailable.
  for (int i = 0; i < 5; ++i)
    gate.check("me@x", "guess", "10.0.0.9", io.get_executor(), [&](LoginVerdict v) { verdicts.push_back(v); });
  run_until(io, [&] { return verdicts.size() >= 5; });
  REQUIRE(verdicts.size() == 5);
  CHECK(std::count_if(verdicts.begin(), verdicts.end(), [](const LoginVerdict& v) { return v.unavailable; }) == 1);
  CHECK(check.calls == 4);
}

TEST_CASE("login gate: a locked-out user is refused without a check; other users still get in") {
  SlowCheck check;
  boost::asio::io_context io;
  auto policy = quick_policy();
  policy.first_delay = 0ms;  // lockout only, to keep the test fast
  LoginGate gate(check, policy);
  auto attempt = [&](const std::string& user, const std::string& password, const std::string& peer) {
    std::optional<LoginVerdict> out;
    gate.check(user, password, peer, io.get_executor(), [&](LoginVerdict v) { out = v; });
    run_until(io, [&] { return out.has_value(); });
    return *out;
  };
  for (int i = 0; i < 6; ++i) CHECK_FALSE(attempt("me@x", "guess", "peer" + std::to_string(i)).locked_out);
  const int calls_before = check.calls;
  const auto locked = attempt("me@x", "right", "owner-peer");
  CHECK(locked.locked_out);
  CHECK_FALSE(locked.account);
  CHECK(check.calls == calls_before);  // the password was not even checked
  const auto other = attempt("you@x", "yours", "peer0");
  CHECK(other.account == std::optional<std::string>("you@x"));
}

TEST_CASE("login gate: destroying the gate with attempts pending drops their callbacks") {
  SlowCheck check;
  boost::asio::io_context io;
  int answered = 0;
  {
    auto policy = quick_policy();
    policy.free_failures = 0;
    policy.first_delay = 5000ms;
    LoginGate gate(check, policy);
    gate.check("me@x", "guess", "p", io.get_executor(), [&](LoginVerdict) { ++answered; });  // no failure yet: no delay
    gate.check("me@x", "guess", "p", io.get_executor(), [&](LoginVerdict) { ++answered; });  // then 5 s after that failure
    run_until(io, [&] { return answered == 1; });
    io.restart();
    io.run_for(100ms);
  }
  io.restart();
  io.run_for(50ms);  // the 5 s timer of the second attempt is still pending; firing it must not touch the gate
  CHECK(answered == 1);
}

// ---- many logins at once (issue 13): queue, cache, temporary refusals ---------------------------

namespace {

// Sends `count` attempts at once and runs the io_context until all are answered.
std::vector<LoginVerdict> burst(LoginGate& gate, boost::asio::io_context& io, int count, const std::string& user,
                                const std::string& password, const std::string& peer) {
  std::vector<LoginVerdict> verdicts;
  for (int i = 0; i < count; ++i)
    gate.check(user, password, peer, io.get_executor(), [&](LoginVerdict v) { verdicts.push_back(v); });
  run_until(io, [&] { return verdicts.size() >= static_cast<std::size_t>(count); });
  return verdicts;
}

LoginVerdict one(LoginGate& gate, boost::asio::io_context& io, const std::string& user, const std::string& password,
                 const std::string& peer) {
  auto verdicts = burst(gate, io, 1, user, password, peer);
  REQUIRE(verdicts.size() == 1);
  return verdicts[0];
}

}  // namespace

TEST_CASE("login gate: 30 concurrent logins of one user from 127.0.0.1 with the right password all succeed") {
  SlowCheck check;  // 20 ms, like a quick scrypt
  boost::asio::io_context io;
  LoginGate gate(check);  // the daemon's default policy
  const auto verdicts = burst(gate, io, 30, "me@x", "right", "127.0.0.1");
  REQUIRE(verdicts.size() == 30);
  for (const auto& v : verdicts) {
    CHECK(v.account == std::optional<std::string>("me@x"));
    CHECK_FALSE(v.locked_out);
    CHECK_FALSE(v.unavailable);
  }
}

TEST_CASE("login gate: a client opening 10 connections costs one password check") {
  SlowCheck check;
  boost::asio::io_context io;
  LoginGate gate(check);
  const auto verdicts = burst(gate, io, 10, "me@x", "right", "127.0.0.1");
  REQUIRE(verdicts.size() == 10);
  for (const auto& v : verdicts) CHECK(v.account == std::optional<std::string>("me@x"));
  CHECK(check.calls == 1);
  CHECK(gate.cached_logins() == 1);
  // Logging in again later (any peer) is answered from the cache too.
  CHECK(one(gate, io, "me@x", "right", "127.0.0.2").account == std::optional<std::string>("me@x"));
  CHECK(check.calls == 1);
  // Only the exact name typed: another spelling is checked once itself (identity ids are case-sensitive).
  CHECK(one(gate, io, "ME@x", "right", "127.0.0.1").account == std::nullopt);
  CHECK(check.calls == 2);
}

TEST_CASE("login gate: a wrong password is never cached and always costs a full check") {
  SlowCheck check;
  boost::asio::io_context io;
  LoginGate gate(check);
  for (int i = 0; i < 3; ++i) CHECK_FALSE(one(gate, io, "me@x", "wrong", "127.0.0.1").account);
  CHECK(check.calls == 3);
  CHECK(gate.cached_logins() == 0);
  // With the right password cached, a wrong one (and an unknown user) is still checked, as slowly.
  CHECK(one(gate, io, "me@x", "right", "127.0.0.1").account);
  const int before = check.calls;
  CHECK_FALSE(one(gate, io, "me@x", "wrong", "127.0.0.1").account);
  CHECK_FALSE(one(gate, io, "me@x", "right ", "127.0.0.1").account);
  CHECK_FALSE(one(gate, io, "nobody@x", "right", "127.0.0.1").account);
  CHECK(check.calls == before + 3);
  CHECK(gate.cached_logins() == 1);
}

TEST_CASE("login gate: a lock-out holds with the cache warm, and clears the cache of that user") {
  SlowCheck check;
  boost::asio::io_context io;
  auto policy = quick_policy();
  policy.first_delay = 0ms;  // lock-out only, to keep the test fast
  LoginGate gate(check, policy);
  CHECK(one(gate, io, "me@x", "right", "owner").account);
  CHECK(one(gate, io, "you@x", "yours", "owner").account);
  CHECK(gate.cached_logins() == 2);
  for (int i = 0; i < 6; ++i) CHECK_FALSE(one(gate, io, "me@x", "guess", "peer" + std::to_string(i)).account);
  // me@x's cached success is gone; you@x's stays.
  CHECK(gate.cached_logins() == 1);
  const int before = check.calls;
  const auto locked = one(gate, io, "me@x", "right", "owner");
  CHECK(locked.locked_out);
  CHECK_FALSE(locked.account);
  CHECK_FALSE(locked.unavailable);
  CHECK(check.calls == before);  // neither checked nor taken from the cache
  CHECK(one(gate, io, "you@x", "yours", "owner").account == std::optional<std::string>("you@x"));
  CHECK(check.calls == before);  // you@x from the cache
}

TEST_CASE("login gate: forget() (a password change) drops the cached success at once") {
  SlowCheck check;
  boost::asio::io_context io;
  LoginGate gate(check);
  CHECK(one(gate, io, "me@x", "right", "127.0.0.1").account);
  CHECK(gate.cached_logins() == 1);
  gate.forget("ME@X");
  CHECK(gate.cached_logins() == 0);
  CHECK(one(gate, io, "me@x", "right", "127.0.0.1").account);
  CHECK(check.calls == 2);
}

TEST_CASE("login gate: a full queue answers unavailable (temporary), never a wrong password") {
  SlowCheck check;
  check.delay = 300ms;  // long enough that the test thread submits everything first, even on a loaded machine
  boost::asio::io_context io;
  auto policy = quick_policy();
  policy.max_queued = 4;
  LoginGate gate(check, policy);
  const auto verdicts = burst(gate, io, 10, "me@x", "right", "127.0.0.1");
  REQUIRE(verdicts.size() == 10);
  int accepted = 0, unavailable = 0;
  for (const auto& v : verdicts) {
    CHECK_FALSE(v.locked_out);
    if (v.account) ++accepted;
    else if (v.unavailable) ++unavailable;
    else FAIL("a right password was answered as wrong");
  }
  CHECK(accepted == 4);
  CHECK(unavailable == 6);
  // The bound counts attempts held, not attempts ever: once answered there is room again.
  CHECK(burst(gate, io, 4, "me@x", "right", "127.0.0.1").size() == 4);
}

TEST_CASE("login gate: one user's burst cannot take every place in the queue") {
  SlowCheck check;
  check.delay = 300ms;  // long enough that the test thread submits everything first, even on a loaded machine
  boost::asio::io_context io;
  auto policy = quick_policy();
  policy.max_queued = 8;
  policy.max_queued_per_user = 5;
  LoginGate gate(check, policy);
  std::vector<LoginVerdict> mine, yours;
  for (int i = 0; i < 8; ++i)
    gate.check("me@x", "right", "127.0.0.1", io.get_executor(), [&](LoginVerdict v) { mine.push_back(v); });
  gate.check("you@x", "yours", "127.0.0.1", io.get_executor(), [&](LoginVerdict v) { yours.push_back(v); });
  run_until(io, [&] { return mine.size() >= 8 && yours.size() >= 1; });
  REQUIRE(yours.size() == 1);
  CHECK(yours[0].account == std::optional<std::string>("you@x"));
  CHECK(std::count_if(mine.begin(), mine.end(), [](const LoginVerdict& v) { return v.unavailable; }) == 3);
}

TEST_CASE("login gate: the workers take users in turn") {
  SlowCheck check;
  check.delay = 300ms;  // long enough that the test thread submits everything first, even on a loaded machine
  boost::asio::io_context io;
  auto policy = quick_policy();
  policy.max_workers = 1;  // one worker, so the order is the queue's
  policy.lockout_failures = 100;
  LoginGate gate(check, policy);
  REQUIRE(gate.workers() == 1);
  // me@x has six attempts ready at once (six peers, wrong passwords: nothing cached); you@x comes after.
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i)
    gate.check("me@x", "guess", "peer" + std::to_string(i), io.get_executor(), [&](LoginVerdict) { order.push_back("me"); });
  gate.check("you@x", "yours", "peer0", io.get_executor(), [&](LoginVerdict) { order.push_back("you"); });
  run_until(io, [&] { return order.size() >= 7; });
  REQUIRE(order.size() == 7);
  const auto position = std::find(order.begin(), order.end(), "you") - order.begin();
  CHECK(position <= 2);  // first come, first served would make it 6
}

TEST_CASE("login gate: checks run on a bounded number of threads, at most one per core") {
  SlowCheck check;
  auto policy = quick_policy();
  policy.max_workers = 64;
  LoginGate many(check, policy);
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  CHECK(many.workers() == std::min<std::size_t>(cores, 64));
  LoginGate standard(check);
  CHECK(standard.workers() >= 1);
  CHECK(standard.workers() <= 2);
}
