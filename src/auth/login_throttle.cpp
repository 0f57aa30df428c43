#include "auth/login_throttle.h"

#include <algorithm>
#include <cctype>

namespace fcpmail::auth {

std::string throttle_key(const std::string& user) {
  std::string key = user;
  std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return key;
}

LoginThrottle::LoginThrottle(LoginPolicy policy, std::size_t max_entries)
    : policy_(policy), max_entries_(std::max<std::size_t>(max_entries, 2)) {}

int LoginThrottle::live_count(const Failures& f, Clock::time_point now) const {
  return now - f.last >= policy_.lockout_for ? 0 : f.count;
}

std::chrono::milliseconds LoginThrottle::delay_after(int failures) const {
  const int over = failures - policy_.free_failures;
  if (failures <= 0 || over < 0 || policy_.first_delay.count() <= 0) return std::chrono::milliseconds(0);
  auto delay = policy_.first_delay;
  // Doubling stops at max_delay (and long before the 64-bit count could overflow).
  for (int i = 0; i < over && delay < policy_.max_delay; ++i) delay *= 2;
  return std::min(delay, policy_.max_delay);
}

AttemptRule LoginThrottle::before_attempt(const std::string& user, const std::string& peer, Clock::time_point now) const {
  const std::string key = throttle_key(user);
  AttemptRule rule;
  if (auto p = pairs_.find({key, peer}); p != pairs_.end()) rule.delay = delay_after(live_count(p->second, now));
  if (auto u = users_.find(key); u != users_.end())
    rule.locked_out = policy_.lockout_failures > 0 && live_count(u->second, now) >= policy_.lockout_failures;
  return rule;
}

template <class Map>
void LoginThrottle::prune(Map& map, Clock::time_point now) {
  if (map.size() < max_entries_ / 2) return;
  std::erase_if(map, [&](const auto& entry) { return live_count(entry.second, now) == 0; });
  while (map.size() >= max_entries_ / 2) {
    auto oldest = std::min_element(map.begin(), map.end(),
                                   [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
    map.erase(oldest);
  }
}

template <class Map, class Key>
void LoginThrottle::bump(Map& map, const Key& key, Clock::time_point now) {
  auto it = map.find(key);
  if (it == map.end()) {
    prune(map, now);
    it = map.emplace(key, Failures{}).first;
  }
  it->second.count = live_count(it->second, now) + 1;
  it->second.last = now;
}

void LoginThrottle::record_failure(const std::string& user, const std::string& peer, Clock::time_point now) {
  const std::string key = throttle_key(user);
  bump(pairs_, PairKey{key, peer}, now);
  bump(users_, key, now);
}

void LoginThrottle::record_success(const std::string& user, const std::string& peer, Clock::time_point) {
  pairs_.erase({throttle_key(user), peer});
}

}  // namespace fcpmail::auth
