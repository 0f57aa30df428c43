#include "auth/login_gate.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <utility>

namespace fcpmail::auth {

namespace {

struct Attempt {
  std::string user, password, peer;
  boost::asio::any_io_executor executor;
  std::function<void(LoginVerdict)> done;
};

// The attempts of one (user, peer): at most one is being delayed or checked; the rest wait.
struct Lane {
  std::deque<Attempt> waiting;
};

using LaneKey = std::pair<std::string, std::string>;

}  // namespace

struct LoginGateState {
  explicit LoginGateState(LoginCheck& c, LoginPolicy policy) : check(c), throttle(policy) {}

  LoginCheck& check;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  LoginThrottle throttle;
  std::map<LaneKey, Lane> lanes;                            // present = an attempt of that key is under way
  std::deque<std::pair<Attempt, std::chrono::milliseconds>> ready;  // penalty served, awaiting the worker
};

namespace {

using SharedPtr = std::shared_ptr<LoginGateState>;

void hand_to_worker(const SharedPtr& shared, Attempt attempt, std::chrono::milliseconds delayed);

// Starts the attempt at the head of its lane: wait out the penalty on the caller's executor, then
// queue it for the worker.
void begin(const SharedPtr& shared, Attempt attempt) {
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(shared->mutex);
    if (shared->stopping) return;
    delay = shared->throttle.before_attempt(attempt.user, attempt.peer, LoginThrottle::Clock::now()).delay;
  }
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
    shared->ready.emplace_back(std::move(attempt), delayed);
  }
  shared->wake.notify_one();
}

void run_worker(const SharedPtr& shared) {
  for (;;) {
    std::pair<Attempt, std::chrono::milliseconds> job;
    LoginVerdict verdict;
    {
      std::unique_lock lock(shared->mutex);
      shared->wake.wait(lock, [&] { return shared->stopping || !shared->ready.empty(); });
      if (shared->stopping) return;
      job = std::move(shared->ready.front());
      shared->ready.pop_front();
      // The lockout is decided now, not when the attempt arrived: other peers may have pushed the
      // user over the limit while this one served its penalty.
      verdict.locked_out = shared->throttle.before_attempt(job.first.user, job.first.peer, LoginThrottle::Clock::now()).locked_out;
    }
    Attempt& attempt = job.first;
    verdict.delayed = job.second;
    if (!verdict.locked_out) {
      bool checked = true;
      try {
        verdict.account = shared->check.check_login(attempt.user, attempt.password);
      } catch (...) {
        checked = false;  // the store failed, not the password: refuse, but count nothing
      }
      std::lock_guard lock(shared->mutex);
      const auto now = LoginThrottle::Clock::now();
      if (verdict.account) shared->throttle.record_success(attempt.user, attempt.peer, now);
      else if (checked) shared->throttle.record_failure(attempt.user, attempt.peer, now);
    }
    attempt.password.assign(attempt.password.size(), '\0');
    boost::asio::post(attempt.executor, [done = std::move(attempt.done), verdict] { done(verdict); });

    // Next attempt of the same (user, peer), now that this one's result is counted.
    std::optional<Attempt> next;
    {
      std::lock_guard lock(shared->mutex);
      if (shared->stopping) return;
      const LaneKey key{throttle_key(attempt.user), attempt.peer};
      auto lane = shared->lanes.find(key);
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
  worker_ = std::thread([shared = shared_] { run_worker(shared); });
}

LoginGate::~LoginGate() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    shared_->ready.clear();
    shared_->lanes.clear();
  }
  shared_->wake.notify_all();
  worker_.join();
}

void LoginGate::check(std::string user, std::string password, std::string peer, boost::asio::any_io_executor executor,
                      std::function<void(LoginVerdict)> done) {
  Attempt attempt{std::move(user), std::move(password), std::move(peer), std::move(executor), std::move(done)};
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->stopping) return;
    const LaneKey key{throttle_key(attempt.user), attempt.peer};
    auto [lane, fresh] = shared_->lanes.try_emplace(key);
    if (!fresh) {
      if (lane->second.waiting.size() >= shared_->throttle.policy().max_waiting) {
        attempt.password.assign(attempt.password.size(), '\0');
        LoginVerdict refused;
        refused.locked_out = true;
        boost::asio::post(attempt.executor, [done = std::move(attempt.done), refused] { done(refused); });
        return;
      }
      lane->second.waiting.push_back(std::move(attempt));
      return;
    }
  }
  begin(shared_, std::move(attempt));
}

std::size_t LoginGate::tracked_entries() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->throttle.tracked_entries();
}

}  // namespace fcpmail::auth
