// The bridge engine: accounts, mailsite publisher, RTS sender and poller, channels, acks and
// retransmission, consent for contacts, outbound approval, scheduler.
//
// Shape: the database is the state; a scheduler looks for due work every tick and starts one
// coroutine per piece of work (publish a mailsite, poll an RTS day, insert a send item, poll a
// channel...), never two for the same thing. Each coroutine talks to the node, then records the
// outcome in one transaction. After a crash the same rows drive the same steps again; every step
// is idempotent (identical re-inserts succeed, fetched slots are recorded with what they carried,
// duplicates are dropped by message id).
//
// Threading: everything runs on the io_context thread, except RSA work (RTS decrypt/sign, key
// generation), which runs on a small worker pool and resumes on the io thread.
#pragma once
#include <utility>

#include "engine/config.h"
#include "engine/control.h"
#include "engine/node.h"
#include "fcpmail/mailbox.h"
#include "fcpmail/submission.h"

#include <SQLiteCpp/Database.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>

namespace fcpmail::crypto { class SealedBox; }

namespace fcpmail::engine {

// Where log lines go: one sentence per event, in user words.
using LogSink = std::function<void(std::string_view line)>;

// Whether `secrets` is the key this database was sealed with: at least one account's private key
// opens with it (a database without accounts has nothing to tell). Otherwise it is a sentence for
// the user. A wrong secret.key (another data dir's, a mismatched backup) would start a daemon whose
// every key, channel and mailbox fails to open, with no word said.
Result<void> check_secret_key(SQLite::Database& db, const crypto::SealedBox& secrets);

struct EngineDeps {
  boost::asio::io_context& io;
  SQLite::Database& db;
  Node& node;
  Mailbox* mailbox = nullptr;         // where received mail goes (nullptr: tests without IMAP)
  const crypto::SealedBox& secrets;   // seals keys and outbox bodies at rest
  LogSink log;
  NodeStatus node_status;             // host/port/embedded for status()
  // Called with each account's mailbox storage key when the engine starts and when an account is
  // created (the daemon passes it to MailboxStore::unlock).
  std::function<void(const std::string& account, const std::array<std::uint8_t, 32>& key)> unlock_mailbox;
};

class Engine final : public Control, public Submission {
 public:
  Engine(EngineDeps deps, EngineConfig config);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts the scheduler on the io_context. stop() ends it (running steps finish or are dropped;
  // nothing is lost, the database says what is left to do).
  void start();
  void stop();

  // Runs one scheduler pass now (tests; also called after user actions so they take effect at once).
  void wake();

  // ---- Control --------------------------------------------------------------------------------
  Status status(const std::optional<std::string>& account) override;
  void create_account(AccountCreateRequest request, Progress progress,
                      std::function<void(Result<AccountCreated>)> done) override;
  std::vector<AccountSummary> accounts() override;
  void export_account(std::string account, std::string passphrase, Progress progress,
                      std::function<void(Result<std::string>)> done) override;
  void import_account(std::string file, std::string passphrase, Progress progress,
                      std::function<void(Result<AccountSummary>)> done) override;
  Result<std::vector<Contact>> contacts(std::optional<std::string> account) override;
  Result<Contact> add_contact(const std::string& account, const std::string& typed,
                              const std::string& petname) override;
  Result<void> remove_contact(const std::string& account, const std::string& typed) override;
  Result<void> revoke_contact(const std::string& account, const std::string& typed) override;
  Result<std::vector<ContactRequest>> requests(std::optional<std::string> account) override;
  Result<ContactRequest> approve_request(std::int64_t id) override;
  Result<ContactRequest> deny_request(std::int64_t id) override;
  Result<std::vector<OutboxEntry>> outbox(std::optional<std::string> account) override;
  Result<OutboxDetail> outbox_show(std::int64_t id) override;
  Result<OutboxEntry> outbox_approve(std::int64_t id) override;
  Result<int> outbox_approve_all(std::optional<std::string> account) override;
  Result<OutboxEntry> outbox_cancel(std::int64_t id) override;
  Queues queues() override;
  Result<std::int64_t> send(const std::string& from, const std::vector<std::string>& to,
                            std::string rfc822) override;

  // ---- Submission -----------------------------------------------------------------------------
  std::expected<std::string, RecipientRefusal> resolve_recipient(const std::string& account,
                                                                 std::string_view typed) override;
  std::expected<std::string, std::string> submit(const std::string& account,
                                                 const std::vector<std::string>& recipients,
                                                 std::string rfc822) override;

  // The per-account key the mailbox store seals bodies with (derived from the engine's secrets).
  std::optional<std::array<std::uint8_t, 32>> mailbox_key(const std::string& account);

  const EngineConfig& config() const { return config_; }
  // Where mail clients reach the daemon, once its listeners are bound (shown after account creation).
  void set_mail_endpoints(std::string imap_host, int imap_port, std::string smtp_host, int smtp_port);

  struct Impl;  // defined in engine_impl.h, private to the engine's sources

 private:
  EngineConfig config_;  // before impl_, which refers to it
  std::unique_ptr<Impl> impl_;
};

}  // namespace fcpmail::engine
