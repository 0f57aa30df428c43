#include "auth/login_throttle.h"

#include "mail/ascii.h"

#include <algorithm>

namespace fcpmail::auth {

namespace {
// Counts stop here (far above any threshold) so a long flood cannot overflow an int.
constexpr int max_count = 1'000'000;
}  // namespace

std::string throttle_key(const std::string& user) {
  return ascii::to_lower(user);
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

template <class Map, class Key>
const LoginThrottle::Failures* LoginThrottle::lookup(const Map& map, const Key& key, const Failures& overflow) const {
  if (auto it = map.find(key); it != map.end()) return &it->second;
  return map.size() >= capacity() ? &overflow : nullptr;
}

AttemptRule LoginThrottle::before_attempt(const std::string& user, const std::string& peer, Clock::time_point now) const {
  const std::string key = throttle_key(user);
  AttemptRule rule;
  if (const auto* p = lookup(pairs_, PairKey{key, peer}, pair_overflow_)) rule.delay = delay_after(live_count(*p, now));
  if (const auto* u = lookup(users_, key, user_overflow_))
    rule.locked_out = policy_.lockout_failures > 0 && live_count(*u, now) >= policy_.lockout_failures;
  return rule;
}

template <class Map, class Key>
void LoginThrottle::bump(Map& map, const Key& key, Failures& overflow, Clock::time_point now) {
  auto it = map.find(key);
  if (it == map.end()) {
    if (map.size() >= capacity())
      std::erase_if(map, [&](const auto& entry) { return live_count(entry.second, now) == 0; });
    if (map.size() >= capacity()) {
      overflow.count = std::min(live_count(overflow, now), max_count) + 1;
      overflow.last = now;
      return;
    }
    it = map.emplace(key, Failures{}).first;
  }
  it->second.count = std::min(live_count(it->second, now), max_count) + 1;
  it->second.last = now;
}

void LoginThrottle::record_failure(const std::string& user, const std::string& peer, Clock::time_point now) {
  const std::string key = throttle_key(user);
  bump(pairs_, PairKey{key, peer}, pair_overflow_, now);
  bump(users_, key, user_overflow_, now);
}

void LoginThrottle::record_success(const std::string& user, const std::string& peer, Clock::time_point) {
  pairs_.erase({throttle_key(user), peer});
}

}  // namespace fcpmail::auth
