// In-memory stand-ins for the engine's interfaces, shared by the SMTP unit tests.
#pragma once
#include <map>
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

  std::expected<std::string, std::string> resolve_recipient(const std::string&, std::string_view typed) override {
    const std::string t(typed);
    if (t.ends_with(".freemail") && t.find('@') != std::string::npos) return t;
    if (auto it = contacts.find(t); it != contacts.end()) return it->second;
    std::vector<std::string> matches;
    for (const auto& [petname, address] : contacts)
      if (petname.starts_with(t)) matches.push_back(address);
    if (matches.size() == 1) return matches.front();
    return std::unexpected(std::string("no contact called that; add it with `fcpmail contacts add`"));
  }
  std::expected<std::string, std::string> submit(const std::string& account, const std::vector<std::string>& recipients,
                                                 std::string rfc822) override {
    if (refuse) return std::unexpected(std::string("the outbox is closed"));
    submitted.push_back({account, recipients, std::move(rfc822)});
    return std::to_string(submitted.size());
  }
};

class FakeLogin : public fcpmail::LoginCheck {
 public:
  std::string user = "alice@aaaaaaaa.freemail";
  std::string password = "secret";
  int calls = 0;
  std::optional<std::string> check_login(const std::string& u, const std::string& p) override {
    ++calls;
    if (u.size() == user.size() && std::equal(u.begin(), u.end(), user.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }) && p == password)
      return user;
    return std::nullopt;
  }
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
