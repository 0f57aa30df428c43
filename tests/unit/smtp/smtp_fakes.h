// In-memory stand-ins for the engine's interfaces, shared by the SMTP unit tests.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "fcpmail/login.h"
#include "fcpmail/mailbox.h"
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

class FakeSent : public fcpmail::Mailbox {
 public:
  struct Appended {
    std::string account, folder, message;
    std::uint8_t flags;
  };
  std::vector<Appended> appended;

  fcpmail::MailboxResult<fcpmail::AppendResult> append(const std::string& account, const std::string& folder,
                                                       std::string_view rfc822, const fcpmail::Flags& flags,
                                                       std::int64_t) override {
    appended.push_back({account, folder, std::string(rfc822), flags.system});
    return fcpmail::AppendResult{1, static_cast<std::uint32_t>(appended.size())};
  }
  fcpmail::MailboxResult<void> ensure_account(const std::string&) override { return {}; }
  fcpmail::MailboxResult<std::uint32_t> deliver(const std::string&, const std::string&, std::string_view,
                                                const fcpmail::Flags&, std::int64_t) override { return no(); }
  fcpmail::MailboxResult<void> remove(const std::string&, const std::string&, std::span<const std::uint32_t>) override { return no(); }
  fcpmail::MailboxResult<std::vector<fcpmail::FolderInfo>> list_folders(const std::string&) override { return no(); }
  fcpmail::MailboxResult<fcpmail::FolderStatus> folder_status(const std::string&, const std::string&) override { return no(); }
  fcpmail::MailboxResult<void> create_folder(const std::string&, const std::string&) override { return no(); }
  fcpmail::MailboxResult<void> delete_folder(const std::string&, const std::string&) override { return no(); }
  fcpmail::MailboxResult<void> rename_folder(const std::string&, const std::string&, const std::string&) override { return no(); }
  fcpmail::MailboxResult<void> set_subscribed(const std::string&, const std::string&, bool) override { return no(); }
  fcpmail::MailboxResult<std::uint32_t> take_recent(const std::string&, const std::string&) override { return no(); }
  fcpmail::MailboxResult<std::vector<fcpmail::MessageInfo>> messages(const std::string&, const std::string&) override { return no(); }
  fcpmail::MailboxResult<fcpmail::MessageMeta> message_meta(const std::string&, const std::string&, std::uint32_t) override { return no(); }
  fcpmail::MailboxResult<std::string> read_message(const std::string&, const std::string&, std::uint32_t) override { return no(); }
  fcpmail::MailboxResult<std::vector<fcpmail::FlagUpdate>> store_flags(const std::string&, const std::string&,
                                                                        std::span<const std::uint32_t>, fcpmail::FlagOp,
                                                                        const fcpmail::Flags&) override { return no(); }
  fcpmail::MailboxResult<std::vector<std::uint32_t>> expunge(const std::string&, const std::string&,
                                                             std::optional<std::span<const std::uint32_t>>) override { return no(); }
  fcpmail::MailboxResult<fcpmail::CopyResult> copy(const std::string&, const std::string&, std::span<const std::uint32_t>,
                                                   const std::string&) override { return no(); }
  fcpmail::MailboxResult<fcpmail::CopyResult> move(const std::string&, const std::string&, std::span<const std::uint32_t>,
                                                   const std::string&) override { return no(); }
  std::uint64_t add_listener(fcpmail::MailboxListener) override { return 0; }
  void remove_listener(std::uint64_t) override {}

 private:
  static std::unexpected<fcpmail::MailboxError> no() { return std::unexpected(fcpmail::MailboxError::not_permitted); }
};

}  // namespace smtp_test
