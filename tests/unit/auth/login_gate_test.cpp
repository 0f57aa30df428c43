#include "auth/login_gate.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <doctest/doctest.h>

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
    std::this_thread::sleep_for(20ms);
    {
      std::lock_guard lock(mutex);
      threads.push_back(std::this_thread::get_id());
    }
    ++calls;
    if ((user == "me@x" && password == "right") || (user == "you@x" && password == "yours")) return user;
    return std::nullopt;
  }
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

TEST_CASE("login gate: at most max_waiting attempts of one (user, peer) queue; more are refused at once") {
  SlowCheck check;
  boost::asio::io_context io;
  auto policy = quick_policy();
  policy.max_waiting = 2;
  LoginGate gate(check, policy);
  std::vector<LoginVerdict> verdicts;
  for (int i = 0; i < 5; ++i)
    gate.check("me@x", "guess", "10.0.0.9", io.get_executor(), [&](LoginVerdict v) { verdicts.push_back(v); });
  // One under way, two waiting: the 4th and 5th are answered first, without a check.
  run_until(io, [&] { return verdicts.size() >= 2; });
  REQUIRE(verdicts.size() >= 2);
  CHECK(verdicts[0].locked_out);
  CHECK(verdicts[1].locked_out);
  run_until(io, [&] { return verdicts.size() >= 5; });
  CHECK(verdicts.size() == 5);
  CHECK(check.calls == 3);
  // Another peer is not affected by that queue.
  std::optional<LoginVerdict> other;
  gate.check("me@x", "right", "10.0.0.10", io.get_executor(), [&](LoginVerdict v) { other = v; });
  run_until(io, [&] { return other.has_value(); });
  CHECK(other->account == std::optional<std::string>("me@x"));
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
