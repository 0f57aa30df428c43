// LoginGate: how IMAP, SMTP and the web UI check a password without stalling the I/O thread and
// without letting anyone guess quickly. The slow check (scrypt, ~0.1 s) runs on the gate's own
// worker threads (at most LoginPolicy::max_workers, no more than the machine's cores); a recent
// success of the same (user, password) is answered from a LoginCache instead. Failures of
// (user, peer) earn a growing delay, run as an Asio timer on the caller's executor; too many
// failures of one user across peers lock that user out for a while (see LoginThrottle).
//
// Attempts queue rather than being refused: every local client shares 127.0.0.1, so a mail client
// opening 30 connections at once is 30 attempts of one (user, peer), and each must get its answer.
// The queue is bounded (LoginPolicy::max_queued, per user max_queued_per_user) and the workers take
// users in turn, so one user's burst or one attacked account cannot hold everyone else up; an
// attempt beyond the bounds is refused as `unavailable` (a temporary refusal, not a wrong password).
// Interface agreed in .team/LOGIN_GATE.md.
#pragma once
#include "auth/login_throttle.h"
#include "fcpmail/login.h"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fcpmail::auth {

struct LoginGateState;  // the workers' queue, the lanes, the throttle and the cache (login_gate.cpp)

// At most one of account, locked_out and unavailable is set; none: the user name or password is wrong.
struct LoginVerdict {
  std::optional<std::string> account;    // canonical address on success
  bool locked_out = false;               // refused without checking the password (too many failures)
  // Refused without checking the password because the gate is full, or the check could not run
  // (the account store failed): says nothing about the password; try again shortly. IMAP answers
  // NO [UNAVAILABLE] (RFC 5530), SMTP 454 4.7.0, never "invalid user name or password".
  bool unavailable = false;
  std::chrono::milliseconds delayed{0};  // penalty applied before answering
};

class LoginGate {
 public:
  explicit LoginGate(LoginCheck& check, LoginPolicy policy = {});
  // Joins the workers; pending callbacks are dropped. Destroy the gate before the io_contexts whose
  // executors were passed to check().
  ~LoginGate();
  LoginGate(const LoginGate&) = delete;
  LoginGate& operator=(const LoginGate&) = delete;

  // Applies the penalty for earlier failures of (user, peer) as a timer (not a sleep on a shared
  // thread), runs the check on the gate's own workers (never the caller's thread), then posts
  // done(verdict) to `executor`. Thread-safe; callable from several io_contexts. Attempts of one
  // (user, peer) are taken one after another, so parallel guesses each wait out their penalty.
  void check(std::string user, std::string password, std::string peer, boost::asio::any_io_executor executor,
             std::function<void(LoginVerdict)> done);

  // A password changed (or an account went away): the cached successes of `name` (the account's
  // address, or a name it was logged in under) are dropped, so the old password stops at once.
  void forget(const std::string& name);

  // Failures currently remembered (distinct users plus (user, peer) pairs); for tests and status.
  std::size_t tracked_entries() const;
  // Successful checks currently cached; for tests and status.
  std::size_t cached_logins() const;
  // Threads running checks.
  std::size_t workers() const { return workers_.size(); }

 private:
  std::shared_ptr<LoginGateState> shared_;
  std::vector<std::thread> workers_;
};

}  // namespace fcpmail::auth
