#include "auth/login_cache.h"

#include "auth/login_throttle.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

#include <algorithm>

namespace fcpmail::auth {

LoginCache::LoginCache(std::chrono::seconds ttl, std::size_t max_entries)
    : key_(crypto::random_bytes(32)), ttl_(ttl), max_entries_(max_entries) {}

std::string LoginCache::digest(const std::string& user, const std::string& password) const {
  // The user exactly as typed (identity ids are case-sensitive, so "Me" and "me" may be two
  // different logins), length-prefixed so that no (user, password) split collides with another.
  std::string message = std::to_string(user.size()) + ':' + user + password;
  std::string mac = crypto::hmac_sha256(key_, message);
  std::fill(message.begin(), message.end(), '\0');
  return mac;
}

std::optional<std::string> LoginCache::find(const std::string& user, const std::string& password,
                                            Clock::time_point now) {
  if (max_entries_ == 0) return std::nullopt;
  auto it = entries_.find(digest(user, password));
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.account;
}

void LoginCache::remember(const std::string& user, const std::string& password, const std::string& account,
                          std::uint64_t generation, Clock::time_point now) {
  if (max_entries_ == 0 || generation != generation_) return;
  auto key = digest(user, password);
  if (!entries_.contains(key) && entries_.size() >= max_entries_) {
    std::erase_if(entries_, [&](const auto& e) { return e.second.expires <= now; });
    if (entries_.size() >= max_entries_) {
      // Every entry lives as long, so the one expiring first is the oldest.
      auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                     [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
      entries_.erase(oldest);
    }
  }
  entries_.insert_or_assign(std::move(key), Entry{account, throttle_key(user), now + ttl_});
}

void LoginCache::forget(const std::string& name) {
  ++generation_;
  const std::string key = throttle_key(name);
  std::erase_if(entries_, [&](const auto& e) { return e.second.user_key == key || throttle_key(e.second.account) == key; });
}

}  // namespace fcpmail::auth
