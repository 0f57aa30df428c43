// LoginThrottle: the pure policy behind the login gate. It counts failed logins per (user, peer) and
// per user and says, for the next attempt, how long to hold it back and whether the user is locked
// out. No clock of its own: every call takes `now`, so tests step time instead of sleeping.
#pragma once
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <utility>

namespace fcpmail::auth {

struct LoginPolicy {
  int free_failures = 3;                        // failures per (user, peer) before any delay
  std::chrono::milliseconds first_delay{1000};  // then 1 s, doubling per failure ...
  std::chrono::milliseconds max_delay{30000};   // ... up to 30 s
  int lockout_failures = 20;                    // per user, across peers: locked for lockout_for
  std::chrono::seconds lockout_for{900};
  // Attempts of one (user, peer) are checked one after another, so parallel guesses each wait out
  // their penalty. While that pair is being penalised, at most this many wait behind the current
  // one; further ones are refused at once as unavailable instead of queueing for hours. Without a
  // penalty (a client opening many connections with the right password) they all queue.
  std::size_t max_waiting = 8;
  // Attempts the gate holds at once (waiting, serving a penalty or being checked), in all and per
  // user: beyond either the attempt is refused as unavailable (try again shortly), so memory stays
  // bounded and one user's burst cannot fill the queue for everyone else.
  std::size_t max_queued = 1024;
  std::size_t max_queued_per_user = 256;
  // Threads running the slow check: this many at most, and no more than the machine has cores
  // (each scrypt takes one core and 32 MiB while it runs).
  unsigned max_workers = 2;
  // Successful checks remembered (LoginCache) for this long, this many at most; 0 entries: none.
  std::chrono::seconds cache_ttl{300};
  std::size_t cache_entries = 1024;
};

// What to do with the next attempt of (user, peer).
struct AttemptRule {
  bool locked_out = false;  // refuse without checking the password
  std::chrono::milliseconds delay{0};
};

class LoginThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  // max_entries bounds the memory an attacker can make us spend (one entry per distinct user or
  // (user, peer) pair, half of it for each kind). A live entry is never forgotten to make room:
  // otherwise failures on max_entries / 2 made-up names (cheap: no scrypt for an unknown user)
  // would wipe the count of the user under attack and restart its free guesses and its lockout.
  // When a table is full of live entries, every name not in it shares one overflow count instead,
  // so a flood earns all untracked names the penalty, never a fresh start.
  explicit LoginThrottle(LoginPolicy policy = {}, std::size_t max_entries = 4096);

  // The rule for an attempt starting at `now`, from the failures recorded so far.
  AttemptRule before_attempt(const std::string& user, const std::string& peer, Clock::time_point now) const;
  void record_failure(const std::string& user, const std::string& peer, Clock::time_point now);
  // A right password clears the (user, peer) count. The per-user count stays: a success from one
  // peer must not reset the lockout an attacker on another peer is running into.
  void record_success(const std::string& user, const std::string& peer, Clock::time_point now);

  // Penalty after `failures` earlier failures of one (user, peer): 0 for the free ones, then
  // first_delay doubling up to max_delay.
  std::chrono::milliseconds delay_after(int failures) const;
  std::size_t tracked_entries() const { return pairs_.size() + users_.size(); }
  const LoginPolicy& policy() const { return policy_; }

 private:
  struct Failures {
    int count = 0;
    Clock::time_point last{};
  };
  using PairKey = std::pair<std::string, std::string>;

  // Failures older than lockout_for are forgotten (count as 0).
  int live_count(const Failures& f, Clock::time_point now) const;
  // The count that applies to `key`: its own entry, else the overflow when the table is full.
  template <class Map, class Key>
  const Failures* lookup(const Map& map, const Key& key, const Failures& overflow) const;
  template <class Map, class Key>
  void bump(Map& map, const Key& key, Failures& overflow, Clock::time_point now);
  std::size_t capacity() const { return max_entries_ / 2; }

  LoginPolicy policy_;
  std::size_t max_entries_;
  std::map<PairKey, Failures> pairs_;
  std::map<std::string, Failures> users_;
  Failures pair_overflow_, user_overflow_;
};

// The key a user is throttled under: addresses compare case-insensitively, so "Me@X" and "me@x"
// share one count.
std::string throttle_key(const std::string& user);

}  // namespace fcpmail::auth
