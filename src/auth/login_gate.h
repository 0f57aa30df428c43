// LoginGate: how IMAP, SMTP and the web UI check a password without stalling the I/O thread and
// without letting anyone guess quickly. The slow check (scrypt, ~0.1 s) runs on the gate's own
// worker thread; failures of (user, peer) earn a growing delay, run as an Asio timer on the caller's
// executor; too many failures of one user across peers lock that user out for a while
// (see LoginThrottle for the counting). Interface agreed in .team/LOGIN_GATE.md.
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

namespace fcpmail::auth {

struct LoginGateState;  // the worker's queue, the lanes and the throttle (login_gate.cpp)

struct LoginVerdict {
  std::optional<std::string> account;    // canonical address on success
  bool locked_out = false;               // refused without checking the password (too many failures)
  std::chrono::milliseconds delayed{0};  // penalty applied before answering
};

class LoginGate {
 public:
  explicit LoginGate(LoginCheck& check, LoginPolicy policy = {});
  // Joins the worker; pending callbacks are dropped. Destroy the gate before the io_contexts whose
  // executors were passed to check().
  ~LoginGate();
  LoginGate(const LoginGate&) = delete;
  LoginGate& operator=(const LoginGate&) = delete;

  // Runs the slow check on the gate's own worker thread (never the caller's), applies the penalty for
  // earlier failures of (user, peer) as a timer (not a sleep on a shared thread), then posts
  // done(verdict) to `executor`. Thread-safe; callable from several io_contexts. Attempts of one
  // (user, peer) are taken one after another, so parallel guesses each wait out their penalty.
  void check(std::string user, std::string password, std::string peer, boost::asio::any_io_executor executor,
             std::function<void(LoginVerdict)> done);

  // Failures currently remembered (distinct users plus (user, peer) pairs); for tests and status.
  std::size_t tracked_entries() const;

 private:
  std::shared_ptr<LoginGateState> shared_;
  std::thread worker_;
};

}  // namespace fcpmail::auth
