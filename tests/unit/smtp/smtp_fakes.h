// In-memory stand-ins for the engine's interfaces, shared by the SMTP unit tests.
#pragma once
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fcpmail/login.h"
#include "smtp/smtp_session.h"
#include "fcpmail/submission.h"

namespace smtp_test {

struct Submitted {
  std::string account;
  std::vector<std::string> recipients;
  std::string message;
};

class FakeSubmission : public fcpmail::Submission {
 public:
  std::map<std::string, std::string> contacts{{"bob", "bob@bbbbbbbb.freemail"}, {"bea", "bea@cccccccc.freemail"}};
  std::vector<Submitted> submitted;
  bool refuse = false;

  // Petname -> the sentence a revoked or denied contact is refused with.
  std::map<std::string, std::string> not_allowed;

  std::expected<std::string, fcpmail::RecipientRefusal> resolve_recipient(const std::string&, std::string_view typed) override {
    using fcpmail::RecipientRefusal;
    const std::string t(typed);
    if (auto it = not_allowed.find(t); it != not_allowed.end())
      return std::unexpected(RecipientRefusal{RecipientRefusal::Reason::not_allowed, it->second});
    if (t.ends_with(".freemail") && t.find('@') != std::string::npos) return t;
    if (auto it = contacts.find(t); it != contacts.end()) return it->second;
    std::vector<std::string> matches;
    for (const auto& [petname, address] : contacts)
      if (petname.starts_with(t)) matches.push_back(address);
    if (matches.size() == 1) return matches.front();
    return std::unexpected(RecipientRefusal{RecipientRefusal::Reason::unknown, "no contact called that; add it with `fcpmail contacts add`"});
  }
  std::expected<std::string, std::string> submit(const std::string& account, const std::vector<std::string>& recipients,
                                                 std::string rfc822) override {
    if (refuse) return std::unexpected(std::string("the outbox is closed"));
    submitted.push_back({account, recipients, std::move(rfc822)});
    return std::to_string(submitted.size());
  }
};

// Called on the login gate's worker thread by the server, so `calls` is atomic.
class FakeLogin : public fcpmail::LoginCheck {
 public:
  std::string user = "alice@aaaaaaaa.freemail";
  std::string password = "secret";
  std::atomic<int> calls = 0;
  std::optional<std::string> check_login(const std::string& u, const std::string& p) override {
    ++calls;
    if (u.size() == user.size() && std::equal(u.begin(), u.end(), user.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }) && p == password)
      return user;
    return std::nullopt;
  }
};

// A login check that blocks until released: a stand-in for a slow scrypt check.
class BlockingLogin : public FakeLogin {
 public:
  std::atomic<int> started = 0;
  std::optional<std::string> check_login(const std::string& u, const std::string& p) override {
    ++started;
    std::unique_lock lock(mutex_);
    released_.wait(lock, [this] { return open_; });
    return FakeLogin::check_login(u, p);
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    released_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool open_ = false;
};

// Records the Sent copies the session hands over.
struct FakeSent {
  struct Appended {
    std::string account, message;
    std::int64_t time;
  };
  std::vector<Appended> appended;
  bool fail = false;

  fcpmail::smtp::SentCopy copy() {
    return [this](const std::string& account, const std::string& message,
                  std::int64_t time) -> std::expected<void, std::string> {
      if (fail) return std::unexpected(std::string("the disk is full"));
      appended.push_back({account, message, time});
      return {};
    };
  }
};

}  // namespace smtp_test
