// An in-memory engine::Control for the web unit tests and fcpmail-web-testserver: one account, a
// few contacts, contact requests and outbox messages whose states move the way the engine's do
// (held -> awaiting CTS on approve, -> cancelled on cancel). Account creation reports its stages
// through the io_context, later, like the engine.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "engine/control.h"

namespace web_test {

using namespace fcpmail::engine;

class FakeControl : public Control {
 public:
  // Fixed times make the output deterministic.
  TimePoint t0 = TimePoint(std::chrono::seconds(1795788000));  // 2026-11-27T14:00:00Z
  boost::asio::io_context* io = nullptr;                      // for create_account; may be null
  std::chrono::milliseconds stage_delay{50};

  std::vector<AccountSummary> account_list;
  std::vector<Contact> contact_list;
  std::vector<ContactRequest> request_list;
  std::vector<OutboxEntry> outbox_list;
  std::int64_t next_outbox = 1;
  int creates = 0;

  explicit FakeControl(std::string address = "alice@aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffffgggg.freemail") {
    AccountSummary a;
    a.address = std::move(address);
    a.nickname = a.address.substr(0, a.address.find('@'));
    a.identity_id = "AliceIdentityId~x";
    a.state = "ready";
    a.mailsite_edition = 1;
    a.mailsite_published = t0;
    a.next_republish = t0 + std::chrono::hours(1);
    account_list.push_back(a);
  }

  const std::string& me() const { return account_list.front().address; }

  // A contact, a pending request and a held message, like a daemon a few minutes after start.
  void seed() {
    Contact bob;
    bob.account = me();
    bob.address = "bob@bobbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.freemail";
    bob.petname = "bob";
    bob.nickname = "bob";
    bob.state = "accepted";
    bob.added = t0;
    contact_list.push_back(bob);
    ContactRequest r;
    r.id = 7;
    r.account = me();
    r.from_address = "carol@carolcccccccccccccccccccccccccccccccccccccccccccc.freemail";
    r.nickname = "carol";
    r.identity_id = "CarolId";
    r.received = t0 + std::chrono::minutes(3);
    r.state = "pending";
    request_list.push_back(r);
    auto id = send(me(), {"bob"}, "From: " + me() + "\r\nTo: bob\r\nSubject: Hello Bob\r\n\r\nhi\r\n");
    (void)id;
  }

  // Warnings as the engine keeps them (tests add to it); status() filters them like the engine.
  std::vector<Warning> warning_list;
  std::vector<std::optional<std::string>> status_scopes;  // every status() call's account

  Status status(const std::optional<std::string>& account) override {
    status_scopes.push_back(account);
    Status s;
    s.version = "0.1.0";
    s.scope = account;
    s.node = {"127.0.0.1", 9481, true, true, "Fred,0.7,1.0,1506", t0, true};
    s.accounts = account_list;
    if (account) std::erase_if(s.accounts, [&](const auto& a) { return a.address != *account; });
    for (const auto& w : warning_list)
      if (!account || w.account == *account || (w.account.empty() && w.for_everyone)) s.warnings.push_back(w);
    for (const auto& m : outbox_list) {
      if (account && m.account != *account) continue;
      for (const auto& r : m.recipients) {
        if (r.code == "held") ++s.counts.held;
        else if (r.code == "awaiting_cts") ++s.counts.awaiting_cts;
        else if (r.code == "awaiting_ack") ++s.counts.awaiting_ack;
        else if (r.code == "delivered") ++s.counts.delivered;
        else if (r.code == "failed") ++s.counts.failed;
      }
    }
    s.counts.contact_requests = static_cast<int>(std::count_if(request_list.begin(), request_list.end(), [&](const auto& r) {
      return r.state == "pending" && (!account || r.account == *account);
    }));
    s.counts.channels = 1;
    s.counts.fcp_in_flight = 1;
    s.fcp_requests_total = 42;
    return s;
  }

  void create_account(AccountCreateRequest request, Progress progress,
                      std::function<void(Result<AccountCreated>)> done) override {
    ++creates;
    if (request.nickname == "fail") {
      boost::asio::post(*io, [done] { done(std::unexpected(std::string("the node refused the identity"))); });
      return;
    }
    auto timer = std::make_shared<boost::asio::steady_timer>(*io);
    auto stages = std::make_shared<std::vector<std::pair<std::string, std::string>>>(
        std::vector<std::pair<std::string, std::string>>{{"identity", "creating the WebOfTrust identity"},
                                                         {"rsa-key", "generating the RSA-4096 key"},
                                                         {"mailsite", "inserting the mailpage"},
                                                         {"wot-property", "setting Freemail.mailsite"}});
    auto step = std::make_shared<std::function<void(std::size_t)>>();
    *step = [this, timer, stages, progress, done, request, step](std::size_t i) {
      if (i == stages->size()) {
        AccountSummary a;
        a.address = request.nickname + "@newnewnewnewnewnewnewnewnewnewnewnewnewnewnewnewnewnew.freemail";
        a.nickname = request.nickname;
        a.state = "ready";
        account_list.push_back(a);
        AccountCreated created{a, request.password.value_or("generated-pw-1234"), !request.password,
                               "127.0.0.1", 9143, "127.0.0.1", 9025};
        progress("done", "the account is ready");
        done(created);
        *step = nullptr;  // break the cycle
        return;
      }
      progress((*stages)[i].first, (*stages)[i].second);
      timer->expires_after(stage_delay);
      timer->async_wait([step, i](auto) {
        if (*step) (*step)(i + 1);
      });
    };
    boost::asio::post(*io, [step] { (*step)(0); });
  }

  std::vector<AccountSummary> accounts() override { return account_list; }

  // The fake export file: binary on purpose (NUL and 0xff bytes), so the API's base64 is tested.
  static std::string fake_export(const std::string& account, const std::string& passphrase) {
    return std::string("FAKE\0\xff", 6) + account + "\n" + passphrase;
  }

  void export_account(std::string account, std::string passphrase, Progress progress,
                      std::function<void(Result<std::string>)> done) override {
    auto finish = [this, account, passphrase, progress, done] {
      if (std::none_of(account_list.begin(), account_list.end(), [&](const auto& a) { return a.address == account; })) {
        done(std::unexpected("no account " + account + "; see `fcpmail account list`"));
        return;
      }
      progress("collect", "reading the account");
      progress("encrypt", "encrypting");
      progress("done", "export file ready");
      done(fake_export(account, passphrase));
    };
    if (io) boost::asio::post(*io, finish);
    else finish();
  }

  void import_account(std::string file, std::string passphrase, Progress progress,
                      std::function<void(Result<AccountSummary>)> done) override {
    auto finish = [this, file, passphrase, progress, done] {
      progress("decrypt", "opening the file");
      const auto newline = file.find('\n');
      if (!file.starts_with(std::string("FAKE\0\xff", 6)) || newline == std::string::npos) {
        done(std::unexpected(std::string("this is not an fcpmail account export file")));
        return;
      }
      if (file.substr(newline + 1) != passphrase) {
        done(std::unexpected(std::string("wrong passphrase for this export file; nothing was imported")));
        return;
      }
      AccountSummary a;
      a.address = file.substr(6, newline - 6);
      if (std::any_of(account_list.begin(), account_list.end(), [&](const auto& x) { return x.address == a.address; })) {
        done(std::unexpected("the account " + a.address + " already exists in this data dir; nothing was imported"));
        return;
      }
      a.nickname = a.address.substr(0, a.address.find('@'));
      a.state = "ready";
      a.mailsite_edition = 2;
      account_list.push_back(a);
      progress("done", "imported");
      done(a);
    };
    if (io) boost::asio::post(*io, finish);
    else finish();
  }

  Result<std::vector<Contact>> contacts(std::optional<std::string> account) override {
    std::vector<Contact> out;
    for (const auto& c : contact_list)
      if (!account || c.account == *account) out.push_back(c);
    return out;
  }
  Result<Contact> add_contact(const std::string& account, const std::string& typed, const std::string& petname) override {
    if (!typed.ends_with(".freemail")) return std::unexpected("'" + typed + "' is not a Freemail address");
    Contact c;
    c.account = account;
    c.address = typed;
    c.petname = petname;
    c.state = "accepted";
    c.added = t0;
    contact_list.push_back(c);
    return c;
  }
  std::vector<Contact>::iterator find_contact(const std::string& account, const std::string& typed) {
    return std::find_if(contact_list.begin(), contact_list.end(), [&](const Contact& c) {
      return c.account == account && (c.address == typed || c.petname == typed);
    });
  }
  Result<void> remove_contact(const std::string& account, const std::string& typed) override {
    auto it = find_contact(account, typed);
    if (it == contact_list.end()) return std::unexpected("no contact '" + typed + "'; see `fcpmail contacts list`");
    contact_list.erase(it);
    return {};
  }
  Result<void> revoke_contact(const std::string& account, const std::string& typed) override {
    auto it = find_contact(account, typed);
    if (it == contact_list.end()) return std::unexpected("no contact '" + typed + "'; see `fcpmail contacts list`");
    it->state = "revoked";
    return {};
  }

  Result<std::vector<ContactRequest>> requests(std::optional<std::string> account) override {
    std::vector<ContactRequest> out;
    for (const auto& r : request_list)
      if (!account || r.account == *account) out.push_back(r);
    return out;
  }
  Result<ContactRequest> decide(std::int64_t id, const char* state) {
    for (auto& r : request_list) {
      if (r.id != id) continue;
      if (r.state != "pending") return std::unexpected("request " + std::to_string(id) + " is already " + r.state);
      r.state = state;
      return r;
    }
    return std::unexpected("no contact request " + std::to_string(id) + "; see `fcpmail requests list`");
  }
  Result<ContactRequest> approve_request(std::int64_t id) override { return decide(id, "approved"); }
  Result<ContactRequest> deny_request(std::int64_t id) override { return decide(id, "denied"); }

  Result<std::vector<OutboxEntry>> outbox(std::optional<std::string> account) override {
    std::vector<OutboxEntry> out;
    for (const auto& m : outbox_list)
      if (!account || m.account == *account) out.push_back(m);
    return out;
  }
  OutboxEntry* find_message(std::int64_t id) {
    for (auto& m : outbox_list)
      if (m.id == id) return &m;
    return nullptr;
  }
  Result<OutboxDetail> outbox_show(std::int64_t id) override {
    auto* m = find_message(id);
    if (!m) return std::unexpected("no outbox message " + std::to_string(id) + "; see `fcpmail outbox list`");
    return OutboxDetail{*m, "From: " + m->account + "\r\nSubject: " + m->subject + "\r\n"};
  }
  Result<OutboxEntry> outbox_approve(std::int64_t id) override {
    auto* m = find_message(id);
    if (!m) return std::unexpected("no outbox message " + std::to_string(id) + "; see `fcpmail outbox list`");
    bool any = false;
    for (auto& r : m->recipients) {
      if (r.code != "held") continue;
      any = true;
      r.code = "awaiting_cts";
      r.state = "awaiting CTS";
      r.next_action = t0 + std::chrono::hours(24);
      r.next_action_text = "RTS resend";
    }
    if (!any) return std::unexpected("message " + std::to_string(id) + " is not held");
    return *m;
  }
  Result<int> outbox_approve_all(std::optional<std::string> account) override {
    int n = 0;
    for (auto& m : outbox_list)
      if ((!account || m.account == *account) && outbox_approve(m.id)) ++n;
    return n;
  }
  Result<OutboxEntry> outbox_cancel(std::int64_t id) override {
    auto* m = find_message(id);
    if (!m) return std::unexpected("no outbox message " + std::to_string(id) + "; see `fcpmail outbox list`");
    for (auto& r : m->recipients) {
      if (r.code == "delivered") continue;
      r.code = "cancelled";
      r.state = "cancelled";
      r.next_action.reset();
      r.next_action_text.clear();
    }
    return *m;
  }

  bool queues_throw = false;  // a bug below the API: queues() throws

  Queues queues() override {
    if (queues_throw) throw std::runtime_error("queues exploded");
    Queues q;
    q.rts.push_back({me(), "20261127", 0, "KSK@rtskey-20261127-0", "not found", t0, t0 + std::chrono::minutes(5)});
    q.rts.push_back({me(), "20261127", 1, "KSK@rtskey-20261127-1", "not yet polled", std::nullopt, t0 + std::chrono::minutes(5)});
    ChannelQueue ch;
    ch.id = 1;
    ch.account = me();
    ch.peer = "bob@bobbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.freemail";
    ch.role = "initiator";
    ch.state = "open";
    ch.next_send_slot = 2;
    ch.polled_window = "slots 0..5";
    ch.awaiting_ack = 1;
    ch.last_fetch = t0;
    ch.next_retry = t0 + std::chrono::minutes(10);
    q.channels.push_back(ch);
    q.in_flight.push_back({"get", "poll bob's channel slot 3", 12.5});
    return q;
  }

  Result<std::int64_t> send(const std::string& from, const std::vector<std::string>& to, std::string rfc822) override {
    if (std::none_of(account_list.begin(), account_list.end(), [&](const auto& a) { return a.address == from; }))
      return std::unexpected("no account " + from + "; see `fcpmail account list`");
    OutboxEntry m;
    m.id = next_outbox++;
    m.account = from;
    const auto s = rfc822.find("Subject: ");
    if (s != std::string::npos) m.subject = rfc822.substr(s + 9, rfc822.find("\r\n", s) - s - 9);
    m.size = rfc822.size();
    m.submitted = t0 + std::chrono::minutes(m.id);
    for (const auto& typed : to) {
      std::string address = typed;
      if (!typed.ends_with(".freemail")) {
        auto it = std::find_if(contact_list.begin(), contact_list.end(), [&](const Contact& c) { return c.petname == typed; });
        if (it == contact_list.end())
          return std::unexpected("no contact is called '" + typed + "'; add them with `fcpmail contacts add`");
        address = it->address;
      }
      RecipientDelivery r;
      r.recipient = address;
      r.code = "held";
      r.state = "held";
      m.recipients.push_back(r);
    }
    outbox_list.push_back(m);
    return m.id;
  }
};

}  // namespace web_test
