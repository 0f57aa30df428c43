// The harness the engine unit tests share: an Engine on an in-memory database, mailbox store and
// in-process node, driven by one io_context, plus the helpers every such test needs (run the loop
// until a condition holds, create an account from a fixture key, read an inbox, build a mail).
// Each test file keeps its own node type, config and test-specific helpers.
#pragma once
#include "engine/engine.h"

#include "crypto/sealed_box.h"
#include "engine/password_login.h"
#include "freemail/rsa_key_file.h"
#include "store/database.h"
#include "store/mailbox_store.h"

#include <SQLiteCpp/Database.h>
#include <boost/asio/io_context.hpp>
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail::engine::test {

// The account `password` logs in to as `user`, checked on `db` as the login gate's PasswordLogin
// checks it on its own connection (an in-memory database cannot be opened twice).
inline std::optional<std::string> login_as(SQLite::Database& db, const std::string& user, const std::string& password) {
  auto stored = find_login(db, user);
  if (!stored || !crypto::verify_password(password, stored->password_hash)) return std::nullopt;
  return stored->address;
}

// The text of fixtures/keys/<file>.
inline std::string fixture_text(const std::string& file) {
  std::ifstream in(std::string(FCPMAIL_FIXTURES) + "/keys/" + file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The private key in fixtures/keys/<name>.key; fails the test if it does not parse.
inline crypto::RsaPrivateKey fixture_key(const std::string& name) {
  auto key = freemail::read_rsa_key_file(fixture_text(name + ".key"));
  REQUIRE(key.has_value());
  return *key;
}

// Short enough that handshakes and retries happen within a test's seconds.
inline EngineConfig fast_config() {
  EngineConfig c;
  c.intervals = Intervals{}.scaled(0.00002);  // 12 h -> 0.86 s, 5 min -> 6 ms, 1 h -> 72 ms
  c.tick = std::chrono::milliseconds(2);
  c.rts_days_back = 1;
  return c;
}

// Runs `io` in small steps until `pred` holds or `limit` passes; returns whether it held.
template <class Pred>
bool run_io_until(boost::asio::io_context& io, Pred pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    io.run_for(std::chrono::milliseconds(5));
  }
  return pred();
}

// Creates the account `name` from fixtures/keys/<name>.key (password "secret-<name>"); returns
// its address. Fails the test if creation fails or does not finish within `limit`.
inline std::string create_fixture_account(boost::asio::io_context& io, Engine& engine, const std::string& name,
                                          std::chrono::milliseconds limit) {
  std::optional<Result<AccountCreated>> result;
  AccountCreateRequest r;
  r.nickname = name;
  r.password = "secret-" + name;
  r.rsa_key_file = std::string(FCPMAIL_FIXTURES) + "/keys/" + name + ".key";
  engine.create_account(r, {}, [&](Result<AccountCreated> c) { result = std::move(c); });
  REQUIRE(run_io_until(io, [&] { return result.has_value(); }, limit));
  REQUIRE_MESSAGE(result->has_value(), (result->has_value() ? "" : result->error()));
  return (*result)->account.address;
}

// Every INBOX message of `account`, oldest first.
inline std::vector<std::string> inbox_of(MailboxStore& mailbox, const std::string& account) {
  std::vector<std::string> out;
  auto list = mailbox.messages(account, "INBOX");
  if (!list) return out;
  for (const auto& m : *list) out.push_back(*mailbox.read_message(account, "INBOX", m.uid));
  return out;
}

inline std::string mail_text(const std::string& from, const std::string& to, const std::string& subject,
                             const std::string& body) {
  return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: Fri, 27 Nov 2026 14:00:00 +0000\r\n\r\n" +
         body + "\r\n";
}

// One engine with its own database, mailbox store and node (NodeT is constructed from the
// io_context). Log lines are kept in `log`; ENGINE_TEST_LOG=1 also prints them.
template <class NodeT>
struct EngineWorld {
  boost::asio::io_context io;
  std::unique_ptr<SQLite::Database> db = store::open_memory_database();
  MailboxStore mailbox{*db};
  NodeT node{io};
  crypto::Key256 key{};
  crypto::SealedBox box{key};
  std::vector<std::string> log;
  Engine engine;

  explicit EngineWorld(EngineConfig config)
      : engine(EngineDeps{io, *db, node, &mailbox, box,
                          [this](std::string_view line) {
                            log.emplace_back(line);
                            if (std::getenv("ENGINE_TEST_LOG")) std::cerr << "  | " << line << "\n";
                          },
                          NodeStatus{"memory", 0, true, false, "", std::nullopt, true},
                          [this](const std::string& account, const std::array<std::uint8_t, 32>& k) {
                            mailbox.unlock(account, k);
                          }},
               config) {
    engine.start();
  }

  // Lets running steps finish while the engine starts nothing new, so no coroutine outlives the
  // database it uses.
  ~EngineWorld() {
    engine.stop();
    io.run_for(std::chrono::milliseconds(100));
    io.stop();
  }

  EngineWorld(const EngineWorld&) = delete;
  EngineWorld& operator=(const EngineWorld&) = delete;

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
    return run_io_until(io, pred, limit);
  }

  std::string create(const std::string& name) {
    return create_fixture_account(io, engine, name, std::chrono::milliseconds(10000));
  }

  std::vector<std::string> inbox(const std::string& account) { return inbox_of(mailbox, account); }

  std::string mail(const std::string& from, const std::string& to, const std::string& subject, const std::string& body) {
    return mail_text(from, to, subject, body);
  }

  std::string state_of(std::int64_t outbox_id) {
    auto e = engine.outbox_show(outbox_id);
    if (!e || e->entry.recipients.empty()) return "?";
    return e->entry.recipients.front().code;
  }
};

}  // namespace fcpmail::engine::test
