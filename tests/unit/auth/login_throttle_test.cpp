#include "auth/login_throttle.h"

#include <doctest/doctest.h>

using namespace fcpmail::auth;
using namespace std::chrono_literals;
using Clock = LoginThrottle::Clock;

TEST_CASE("login throttle: free failures, then a doubling delay capped at max_delay") {
  LoginThrottle t;  // defaults: 3 free, 1 s doubling to 30 s
  const auto t0 = Clock::time_point{} + 1000h;
  CHECK(t.before_attempt("me@x", "127.0.0.1", t0).delay == 0ms);
  const std::chrono::milliseconds expected[] = {0ms, 0ms, 0ms, 1000ms, 2000ms, 4000ms, 8000ms, 16000ms, 30000ms, 30000ms};
  for (int i = 0; i < 10; ++i) {
    CHECK(t.before_attempt("me@x", "127.0.0.1", t0 + i * 1s).delay == expected[i]);
    t.record_failure("me@x", "127.0.0.1", t0 + i * 1s);
  }
  CHECK(t.delay_after(1000) == 30000ms);  // no overflow for huge counts
}

TEST_CASE("login throttle: the delay is per (user, peer); users compare case-insensitively") {
  LoginThrottle t;
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 5; ++i) t.record_failure("Me@X", "10.0.0.1", t0);
  CHECK(t.before_attempt("me@x", "10.0.0.1", t0).delay == 4000ms);
  CHECK(t.before_attempt("me@x", "10.0.0.2", t0).delay == 0ms);
  CHECK(t.before_attempt("you@x", "10.0.0.1", t0).delay == 0ms);
  CHECK_FALSE(t.before_attempt("me@x", "10.0.0.2", t0).locked_out);
}

TEST_CASE("login throttle: a success clears the pair's delay but not the user's lockout count") {
  LoginPolicy p;
  p.lockout_failures = 6;
  LoginThrottle t(p);
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 5; ++i) t.record_failure("me@x", "attacker", t0);
  t.record_success("me@x", "attacker", t0);
  CHECK(t.before_attempt("me@x", "attacker", t0).delay == 0ms);
  CHECK_FALSE(t.before_attempt("me@x", "attacker", t0).locked_out);
  t.record_failure("me@x", "attacker", t0);  // the 6th failure of the user
  CHECK(t.before_attempt("me@x", "owner", t0).locked_out);
}

TEST_CASE("login throttle: lockout across peers, lifted after lockout_for; other users unaffected") {
  LoginPolicy p;
  p.lockout_failures = 20;
  p.lockout_for = 900s;
  LoginThrottle t(p);
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 19; ++i) t.record_failure("me@x", "peer" + std::to_string(i % 7), t0 + i * 1s);
  CHECK_FALSE(t.before_attempt("me@x", "fresh-peer", t0 + 20s).locked_out);
  t.record_failure("me@x", "peer0", t0 + 20s);
  CHECK(t.before_attempt("me@x", "fresh-peer", t0 + 21s).locked_out);
  CHECK(t.before_attempt("ME@X", "peer0", t0 + 21s).locked_out);
  CHECK_FALSE(t.before_attempt("you@x", "peer0", t0 + 21s).locked_out);
  CHECK(t.before_attempt("me@x", "fresh-peer", t0 + 20s + 899s).locked_out);
  CHECK_FALSE(t.before_attempt("me@x", "fresh-peer", t0 + 20s + 900s).locked_out);
  // Old failures are forgotten, so the pair's delay is gone too.
  CHECK(t.before_attempt("me@x", "peer0", t0 + 20s + 900s).delay == 0ms);
}

TEST_CASE("login throttle: memory stays bounded under a flood of distinct users and peers") {
  LoginThrottle t(LoginPolicy{}, 100);
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 10000; ++i) t.record_failure("user" + std::to_string(i), "peer" + std::to_string(i), t0 + i * 1ms);
  CHECK(t.tracked_entries() <= 100);
  // Names that found no room share the overflow count: the flood earns them the penalty, not a
  // fresh start ...
  CHECK(t.before_attempt("user9999", "peer9999", t0 + 10s).locked_out);
  CHECK(t.before_attempt("newcomer", "peer9999", t0 + 10s).delay == 30000ms);
  // ... while a name with its own entry keeps its own count.
  CHECK(t.before_attempt("user0", "peer0", t0 + 10s).delay == 0ms);
  CHECK_FALSE(t.before_attempt("user0", "peer0", t0 + 10s).locked_out);
  // Once the flood is older than lockout_for, everything is forgotten and room is made again.
  const auto later = t0 + 10s + LoginPolicy{}.lockout_for;
  CHECK_FALSE(t.before_attempt("newcomer", "peer9999", later).locked_out);
  CHECK(t.before_attempt("newcomer", "peer9999", later).delay == 0ms);
  for (int i = 0; i < 5; ++i) t.record_failure("newcomer", "peer9999", later);
  CHECK(t.before_attempt("newcomer", "peer9999", later).delay == 4000ms);
  CHECK(t.before_attempt("other", "peer9999", later).delay == 0ms);
  CHECK(t.tracked_entries() <= 100);
}

TEST_CASE("login throttle: failures on made-up names do not wipe the count of the user under attack") {
  LoginThrottle t(LoginPolicy{}, 100);  // room for 50 users and 50 (user, peer) pairs
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 19; ++i) t.record_failure("owner@x", "127.0.0.1", t0 + i * 1ms);
  // Cheap failures (no such user: no scrypt) on enough other names to fill both tables twice.
  for (int i = 0; i < 200; ++i) t.record_failure("nobody" + std::to_string(i), "127.0.0.1", t0 + 1s + i * 1ms);
  CHECK(t.before_attempt("owner@x", "127.0.0.1", t0 + 2s).delay == 30000ms);
  CHECK_FALSE(t.before_attempt("owner@x", "127.0.0.1", t0 + 2s).locked_out);
  t.record_failure("owner@x", "127.0.0.1", t0 + 2s);  // the 20th
  CHECK(t.before_attempt("owner@x", "127.0.0.1", t0 + 3s).locked_out);
  CHECK(t.before_attempt("owner@x", "10.0.0.9", t0 + 3s).locked_out);
}

TEST_CASE("login throttle: a zero first_delay disables delays; a zero lockout_failures disables lockout") {
  LoginPolicy p;
  p.first_delay = 0ms;
  p.lockout_failures = 0;
  LoginThrottle t(p);
  const auto t0 = Clock::time_point{} + 1000h;
  for (int i = 0; i < 50; ++i) t.record_failure("me@x", "p", t0);
  CHECK(t.before_attempt("me@x", "p", t0).delay == 0ms);
  CHECK_FALSE(t.before_attempt("me@x", "p", t0).locked_out);
}
