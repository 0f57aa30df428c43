// LoginCache: recent successful password checks, so that a mail client opening ten connections (or
// logging in again every minute) costs one scrypt, not ten (after Dovecot's auth cache). Only
// successes are remembered, for a few minutes, and never as the password itself: an entry is found
// by HMAC-SHA256 of (user, password) under a key drawn at random when the cache is made and never
// stored, so a copy of the table (a core dump, swap) is no list of passwords.
//
// The cache only replaces the CPU cost of the check. The login gate looks here after the penalty for
// earlier failures has been served and after the lock-out test, so a cached success neither skips a
// penalty nor gets past a lock-out, and throttling still counts failures only.
//
// Why the cache leaks no timing that matters: a hit happens only for the right (user, password),
// and a hit is answered "logged in", which tells the client more than the faster answer does.
// Every failure - a wrong password, an unknown user (decoy hash) - still costs one full scrypt,
// whether or not the user's right password is cached, so the time of a refusal says nothing about
// which names exist or who logged in lately.
//
// Not thread-safe: the gate calls it under its own lock. Time is passed in.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace fcpmail::auth {

class LoginCache {
 public:
  using Clock = std::chrono::steady_clock;

  // A success is kept for `ttl` from the check that proved it (a hit does not extend it: a
  // password changed behind our back stops working within ttl), at most `max_entries` at once.
  explicit LoginCache(std::chrono::seconds ttl = std::chrono::seconds(300), std::size_t max_entries = 1024);

  // The account a recent check of exactly (user, password) logged in to; nothing for anything else.
  std::optional<std::string> find(const std::string& user, const std::string& password, Clock::time_point now);

  // Remembers that (user, password) logged in to `account`, unless forget() ran since `generation`
  // was read (a check that started before a password change must not put the old password back).
  void remember(const std::string& user, const std::string& password, const std::string& account,
                std::uint64_t generation, Clock::time_point now);

  // Drops every entry logged in under `name` (compared as throttle_key: any case), or to the
  // account `name`: for a password change and for a lock-out.
  void forget(const std::string& name);

  // Read before a check whose success is to be remembered (see remember()).
  std::uint64_t generation() const { return generation_; }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string account;
    std::string user_key;  // throttle_key of the name typed, for forget()
    Clock::time_point expires;
  };
  std::string digest(const std::string& user, const std::string& password) const;

  std::string key_;
  std::chrono::seconds ttl_;
  std::size_t max_entries_;
  std::uint64_t generation_ = 0;
  std::map<std::string, Entry> entries_;  // by digest
};

}  // namespace fcpmail::auth
