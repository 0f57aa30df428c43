#include "auth/login_gate.h"

#include "auth/login_cache.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

namespace fcpmail::auth {

namespace {

using Clock = LoginThrottle::Clock;

struct Attempt {
  std::string user, password, peer;
  std::string user_key;  // throttle_key(user): what the lanes, the turns and the bounds go by
  boost::asio::any_io_executor executor;
  std::function<void(LoginVerdict)> done;
};

// The attempts of one (user, peer): at most one is being delayed or checked; the rest wait.
struct Lane {
  std::deque<Attempt> waiting;
};

using LaneKey = std::pair<std::string, std::string>;

// An attempt whose penalty is served, waiting for a worker.
struct Ready {
  Attempt attempt;
  std::chrono::milliseconds delayed{0};
};

}  // namespace

struct LoginGateState {
  LoginGateState(LoginCheck& c, LoginPolicy policy)
      : check(c), throttle(policy), cache(policy.cache_ttl, policy.cache_entries) {}

  const LoginPolicy& policy() const { return throttle.policy(); }

  LoginCheck& check;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  LoginThrottle throttle;
  LoginCache cache;
  std::map<LaneKey, Lane> lanes;  // present = an attempt of that key is under way
  // Attempts ready for a worker, by user, and the order in which users take turns: a worker serves
  // the user at the front, who goes to the back if more of theirs are ready. So a user with many
  // attempts (many peers, or an attacker's made-up peers) gets one check per round like any other.
  std::map<std::string, std::deque<Ready>> ready;
  std::deque<std::string> turns;
  // Attempts held, from check() until answered, in all and per user: what the max_queued bounds count.
  std::size_t held = 0;
  std::map<std::string, std::size_t> held_by_user;
};

namespace {

using SharedPtr = std::shared_ptr<LoginGateState>;

LoginVerdict unavailable() {
  LoginVerdict v;
  v.unavailable = true;
  return v;
}

// Wipes the password and posts the verdict to the attempt's executor. Called without the mutex.
void answer(Attempt& attempt, const LoginVerdict& verdict) {
  attempt.password.assign(attempt.password.size(), '\0');
  boost::asio::post(attempt.executor, [done = std::move(attempt.done), verdict] { done(verdict); });
}

// With the mutex held: one more attempt of `user_key` is held, or one fewer.
void hold(LoginGateState& s, const std::string& user_key) {
  ++s.held;
  ++s.held_by_user[user_key];
}
void release(LoginGateState& s, const std::string& user_key) {
  --s.held;
  auto it = s.held_by_user.find(user_key);
  if (it != s.held_by_user.end() && --it->second == 0) s.held_by_user.erase(it);
}

// With the mutex held: the attempts beyond max_waiting in the lane `key`, taken out of it (newest
// first) to be refused as unavailable.
std::vector<Attempt> trim_lane(LoginGateState& s, const LaneKey& key) {
  std::vector<Attempt> refused;
  auto lane = s.lanes.find(key);
  if (lane == s.lanes.end()) return refused;
  auto& waiting = lane->second.waiting;
  while (waiting.size() > s.policy().max_waiting) {
    refused.push_back(std::move(waiting.back()));
    waiting.pop_back();
    release(s, refused.back().user_key);
  }
  return refused;
}

void hand_to_worker(const SharedPtr& shared, Attempt attempt, std::chrono::milliseconds delayed);

// Starts the attempt at the head of its lane: wait out the penalty on the caller's executor, then
// queue it for the workers.
void begin(const SharedPtr& shared, Attempt attempt) {
  std::chrono::milliseconds delay{0};
  std::vector<Attempt> refused;
  {
    std::lock_guard lock(shared->mutex);
    if (shared->stopping) return;
    delay = shared->throttle.before_attempt(attempt.user, attempt.peer, Clock::now()).delay;
    // This pair is being penalised: each attempt behind this one will wait seconds, so only a few
    // may wait (a burst that queued before the failures began is cut back here).
    if (delay.count() > 0) refused = trim_lane(*shared, {attempt.user_key, attempt.peer});
  }
  for (auto& r : refused) answer(r, unavailable());
  if (delay.count() == 0) {
    hand_to_worker(shared, std::move(attempt), delay);
    return;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(attempt.executor, delay);
  timer->async_wait([shared, timer, attempt = std::move(attempt), delay](const boost::system::error_code&) mutable {
    hand_to_worker(shared, std::move(attempt), delay);
  });
}

void hand_to_worker(const SharedPtr& shared, Attempt attempt, std::chrono::milliseconds delayed) {
  {
    std::lock_guard lock(shared->mutex);
    if (shared->stopping) return;
    auto& queue = shared->ready[attempt.user_key];
    if (queue.empty()) shared->turns.push_back(attempt.user_key);
    queue.push_back(Ready{std::move(attempt), delayed});
  }
  shared->wake.notify_one();
}

// With the mutex held and a turn waiting: the next attempt, users taken in turn.
Ready take_next(LoginGateState& s) {
  std::string user = std::move(s.turns.front());
  s.turns.pop_front();
  auto queue = s.ready.find(user);
  Ready job = std::move(queue->second.front());
  queue->second.pop_front();
  if (queue->second.empty()) s.ready.erase(queue);
  else s.turns.push_back(std::move(user));
  return job;
}

void run_worker(const SharedPtr& shared) {
  for (;;) {
    Ready job;
    LoginVerdict verdict;
    std::optional<std::string> cached;
    std::uint64_t cache_generation = 0;
    {
      std::unique_lock lock(shared->mutex);
      shared->wake.wait(lock, [&] { return shared->stopping || !shared->turns.empty(); });
      if (shared->stopping) return;
      job = take_next(*shared);
      const auto now = Clock::now();
      // The lockout is decided now, not when the attempt arrived: other peers may have pushed the
      // user over the limit while this one served its penalty.
      verdict.locked_out = shared->throttle.before_attempt(job.attempt.user, job.attempt.peer, now).locked_out;
      // The cache is asked only here, after the penalty and the lock-out: it saves the scrypt and
      // nothing else (see login_cache.h for why a hit leaks no timing that matters).
      if (!verdict.locked_out) cached = shared->cache.find(job.attempt.user, job.attempt.password, now);
      cache_generation = shared->cache.generation();
    }
    Attempt& attempt = job.attempt;
    verdict.delayed = job.delayed;
    if (!verdict.locked_out) {
      bool checked = true;
      if (cached) {
        verdict.account = std::move(cached);
      } else {
        try {
          verdict.account = shared->check.check_login(attempt.user, attempt.password);
        } catch (...) {
          checked = false;  // the store failed, not the password: refuse for now, count nothing
        }
      }
      std::lock_guard lock(shared->mutex);
      const auto now = Clock::now();
      if (verdict.account) {
        shared->throttle.record_success(attempt.user, attempt.peer, now);
        if (!cached) shared->cache.remember(attempt.user, attempt.password, *verdict.account, cache_generation, now);
      } else if (checked) {
        shared->throttle.record_failure(attempt.user, attempt.peer, now);
        // Locked out from now on: its cached successes go too, so that the first login after the
        // lock-out costs a full check again.
        if (shared->throttle.before_attempt(attempt.user, attempt.peer, now).locked_out) shared->cache.forget(attempt.user);
      } else {
        verdict.unavailable = true;
      }
    }
    answer(attempt, verdict);

    // Next attempt of the same (user, peer), now that this one's result is counted.
    std::optional<Attempt> next;
    {
      std::lock_guard lock(shared->mutex);
      if (shared->stopping) return;
      release(*shared, attempt.user_key);
      auto lane = shared->lanes.find(LaneKey{attempt.user_key, attempt.peer});
      if (lane != shared->lanes.end()) {
        if (lane->second.waiting.empty()) shared->lanes.erase(lane);
        else {
          next = std::move(lane->second.waiting.front());
          lane->second.waiting.pop_front();
        }
      }
    }
    if (next) begin(shared, std::move(*next));
  }
}

}  // namespace

LoginGate::LoginGate(LoginCheck& check, LoginPolicy policy) : shared_(std::make_shared<LoginGateState>(check, policy)) {
  // More threads than cores would only make each scrypt slower; hardware_concurrency may say 0.
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned count = std::clamp(cores, 1u, std::max(1u, policy.max_workers));
  for (unsigned i = 0; i < count; ++i) workers_.emplace_back([shared = shared_] { run_worker(shared); });
}

LoginGate::~LoginGate() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    shared_->ready.clear();
    shared_->turns.clear();
    shared_->lanes.clear();
  }
  shared_->wake.notify_all();
  for (auto& worker : workers_) worker.join();
}

void LoginGate::check(std::string user, std::string password, std::string peer, boost::asio::any_io_executor executor,
                      std::function<void(LoginVerdict)> done) {
  Attempt attempt{std::move(user), std::move(password), std::move(peer), {}, std::move(executor), std::move(done)};
  attempt.user_key = throttle_key(attempt.user);
  enum class Next { start, refuse } next = Next::refuse;
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->stopping) return;
    const auto& policy = shared_->policy();
    auto mine = shared_->held_by_user.find(attempt.user_key);
    const bool full = shared_->held >= policy.max_queued ||
                      (mine != shared_->held_by_user.end() && mine->second >= policy.max_queued_per_user);
    if (!full) {
      auto [lane, fresh] = shared_->lanes.try_emplace(LaneKey{attempt.user_key, attempt.peer});
      if (fresh) {
        hold(*shared_, attempt.user_key);
        next = Next::start;  // outside the lock: begin() takes it
      } else {
        const bool penalised =
            shared_->throttle.before_attempt(attempt.user, attempt.peer, Clock::now()).delay.count() > 0;
        if (!penalised || lane->second.waiting.size() < policy.max_waiting) {
          hold(*shared_, attempt.user_key);
          lane->second.waiting.push_back(std::move(attempt));
          return;
        }
      }
    }
  }
  if (next == Next::start) return begin(shared_, std::move(attempt));
  answer(attempt, unavailable());
}

void LoginGate::forget(const std::string& name) {
  std::lock_guard lock(shared_->mutex);
  shared_->cache.forget(name);
}

std::size_t LoginGate::tracked_entries() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->throttle.tracked_entries();
}

std::size_t LoginGate::cached_logins() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->cache.size();
}

}  // namespace fcpmail::auth
