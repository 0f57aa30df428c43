// Private to the engine: the state behind Engine and the helpers its source files share.
// engine.cpp: scheduler, status, queues; accounts.cpp: creation and mailsite; outbox.cpp:
// submission, approval, dispatch; channels.cpp: send items, channel polling, RTS sending;
// rts_receiver.cpp: RTS polling and processing, contact requests; contacts.cpp: contacts.
#pragma once
#include <utility>

#include "crypto/rsa.h"
#include "crypto/sealed_box.h"
#include "engine/engine.h"
#include "engine/wire.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>

namespace fcpmail::engine {

using MillisSinceEpoch = std::int64_t;

struct AccountRow {
  std::int64_t id = 0;
  std::string address, nickname, identity_id, request_uri, rtsksk;
  std::int64_t mailsite_edition = 0;
  std::optional<MillisSinceEpoch> mailsite_published_at;
  MillisSinceEpoch mailsite_next_at = 0;
  bool wot_announced = false;
};

struct ContactRow {
  std::int64_t id = 0, account_id = 0;
  std::string identity_id, address, petname, nickname, state;
  std::string request_uri, mailsite_uri, rsa_public, rtsksk;  // "" when unknown
  std::int64_t next_message_id = 0;
  MillisSinceEpoch added_at = 0;
  std::optional<MillisSinceEpoch> last_message_at;
};

struct ChannelRow {
  std::int64_t id = 0, account_id = 0, contact_id = 0;
  std::string role, state, request_uri;  // request_uri "" until known
  std::string send_slot, fetch_slot;
  std::int64_t send_index = 0, fetch_index = 0;
  MillisSinceEpoch timeout_at = 0;
  std::optional<MillisSinceEpoch> rts_next_at, rts_sent_at, last_fetch_at;
  std::string rts_key;
  MillisSinceEpoch next_poll_at = 0, next_window_at = 0, created_at = 0;
  bool initiator() const { return role == "initiator"; }
};

struct Engine::Impl {
  Impl(Engine& self, EngineDeps deps, const EngineConfig& config);

  Engine& self;
  EngineDeps deps;
  const EngineConfig& cfg;
  SQLite::Database& db;
  Node& node;
  const crypto::SealedBox& secrets;
  boost::asio::thread_pool pool{2};
  boost::asio::steady_timer timer;
  bool running = false;
  bool stopping = false;
  std::set<std::string> busy;  // keys of work in progress: never two coroutines for one thing
  std::mt19937_64 rng{std::random_device{}()};
  std::map<std::int64_t, crypto::RsaPrivateKey> private_keys;  // unsealed once per account
  std::optional<TimePoint> connected_since;
  std::vector<Warning> warnings;  // recent problems, one entry per (account, text), last seen last
  bool wot_seen = false;              // WebOfTrust has answered at least once
  std::map<std::string, std::uint64_t> requests_by_purpose;
  std::uint64_t node_outages_seen = 0;  // Node::outages() when the last store check started
  // A small document only this process inserted (a CHK of random content), "" until inserted:
  // if the node cannot find it after an outage, it lost what we inserted before.
  std::string store_canary;

  // ---- basics ----
  static MillisSinceEpoch now();
  void log(const std::string& line);
  // A warning about no one account, or naming one only in words: shown to the owner only (the
  // control API with control.token), never in an account's web UI view.
  void warn(const std::string& line);
  // A warning about one account: shown to the owner and to that account's web UI session.
  void warn_account(std::int64_t account_id, const std::string& line);
  void remember_warning(std::string account, const std::string& line);
  // Runs `work` (a coroutine not started yet) unless work under `key` is already running.
  // Coroutines here are member functions with by-value parameters, never lambdas with captures:
  // g++ 12 mishandles the lifetime of capturing coroutine lambdas.
  void spawn(const std::string& key, boost::asio::awaitable<void> work);
  boost::asio::awaitable<void> guarded(std::string key, boost::asio::awaitable<void> work);
  boost::asio::awaitable<void> republish(std::int64_t account_id);
  boost::asio::awaitable<void> create_account_job(AccountCreateRequest request, Progress progress,
                                                  std::function<void(Result<AccountCreated>)> done);
  bool is_busy(const std::string& key) const { return busy.count(key) > 0; }
  // After the node was unreachable: are our own inserts still there? A node that lost its store
  // gets the mailpage republished and unacknowledged mail and RTSs sent again at once.
  boost::asio::awaitable<void> check_own_inserts();
  boost::asio::awaitable<void> insert_store_canary();
  void schedule_pass();
  void arm_timer();

  // CPU-heavy work on the pool; resumes on the io thread. Not a coroutine itself, and callers
  // pass a named callable: g++ 12 destroys a lambda temporary inside a co_await expression twice.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F>> on_pool(F f) {
    using R = std::invoke_result_t<F>;
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
        [this, f = std::move(f)](auto handler) mutable {
          auto done = std::make_shared<decltype(handler)>(std::move(handler));
          boost::asio::post(pool, [this, f = std::move(f), done]() mutable {
            auto result = std::make_shared<R>(f());
            boost::asio::post(deps.io, [done, result]() mutable { (*done)(std::move(*result)); });
          });
        },
        boost::asio::use_awaitable);
  }

  std::string seal(std::string_view plain, std::string_view where) const { return secrets.seal(plain, where); }
  std::expected<std::string, std::string> open(std::string_view sealed, std::string_view where) const {
    return secrets.open(sealed, where);
  }

  // ---- rows ----
  std::optional<AccountRow> account_by_id(std::int64_t id);
  std::optional<AccountRow> account_by_address(std::string_view address);  // also identity id / unique prefix
  std::vector<AccountRow> all_accounts();
  Result<AccountRow> account_for(const std::optional<std::string>& typed);  // nothing: the only one
  std::optional<ContactRow> contact_by_id(std::int64_t id);
  std::optional<ContactRow> contact_by_identity(std::int64_t account_id, std::string_view identity_id);
  std::optional<ChannelRow> channel_by_id(std::int64_t id);
  std::expected<crypto::RsaPrivateKey, std::string> private_key(std::int64_t account_id);
  std::string insert_uri_of_account(std::int64_t account_id);   // unsealed, never logged
  std::string insert_uri_of_channel(std::int64_t channel_id);   // unsealed, never logged
  // Consent changes only by the user's act. accept_contact is that act (`contacts add`, approving
  // a contact request, approving mail to them, or the standing --outbound-approval auto at
  // release): finds or creates the contact for a canonical address and makes it accepted, whatever
  // it was. ensure_contact serves the standing --contact-requests auto: it creates an accepted
  // contact or accepts a removed one again, but never touches a revoked or denied one (its id is
  // returned as it is; the caller has refused such a sender already). In the caller's transaction.
  std::int64_t accept_contact(std::int64_t account_id, const std::string& address, const std::string& identity_id);
  std::int64_t ensure_contact(std::int64_t account_id, const std::string& address, const std::string& identity_id);

  // ---- accounts (accounts.cpp) ----
  boost::asio::awaitable<Result<AccountCreated>> create_account_flow(AccountCreateRequest request, Progress progress);
  boost::asio::awaitable<bool> publish_mailsite(std::int64_t account_id);
  boost::asio::awaitable<void> announce_on_wot(std::int64_t account_id);

  // ---- outbox (outbox.cpp) ----
  Result<std::int64_t> submit_message(const AccountRow& account, const std::vector<std::string>& recipients,
                                      std::string rfc822);
  // What the user typed -> the canonical address; refuses revoked and denied contacts. Reads only.
  std::expected<std::string, RecipientRefusal> resolve(const AccountRow& account, std::string_view typed);
  // Releases the held deliveries of one outbox message (the user's approval, or auto at
  // submission): each recipient becomes an accepted contact, except one the user revoked or
  // denied meanwhile, whose delivery stays held with the reason as its error (appended to
  // `refused`). Returns how many were released. In the caller's transaction.
  int release_held(std::int64_t outbox_id, std::vector<std::string>& refused);
  // Rows sealed before schema 3 (body bound to the outbox id only, subject in plain text) are
  // sealed again bound to (account, outbox id), subject included. Run once at construction.
  void reseal_legacy_outbox();
  std::set<std::int64_t> unreadable_outbox_reported;  // logged once each, not on every listing
  boost::asio::awaitable<void> dispatch_delivery(std::int64_t delivery_id);
  boost::asio::awaitable<Result<void>> ensure_peer_mailpage(const AccountRow& account, std::int64_t contact_id);
  std::optional<OutboxEntry> load_outbox_entry(std::int64_t id);
  // Removes a released or cancelled message's copy from the IMAP Outbox folder.
  void drop_outbox_copy(std::int64_t outbox_id);

  // ---- channels (channels.cpp) ----
  boost::asio::awaitable<Result<std::int64_t>> create_channel(const AccountRow& account, const ContactRow& contact);
  boost::asio::awaitable<void> send_rts(std::int64_t channel_id);
  boost::asio::awaitable<void> insert_send_item(std::int64_t item_id);
  boost::asio::awaitable<void> poll_channel(std::int64_t channel_id);
  // A fetched slot's payload as read on the worker pool (read_slot_payload): parsed, a message's
  // signature checked and its text to store made (received_headers.h), so that a payload as large
  // as the channel's MaxSize never holds up the I/O thread that serves IMAP, SMTP and the API.
  struct ReadPayload {
    std::expected<wire::ChannelPayload, std::string> parsed;
    wire::SignatureVerdict signature = wire::SignatureVerdict::absent;
    std::string key_problem;  // why the peer's key could not be used ("" when it could)
    std::string stored;       // a message that is not refused: what goes into the mailbox
    std::size_t removed_fields = 0;  // the peer's own X-Fcpmail-* fields dropped from it
    bool from_rewritten = false;     // its From did not name the peer
  };
  boost::asio::awaitable<ReadPayload> read_slot_payload(std::int64_t channel_id, std::string payload);
  void handle_slot_payload(const ChannelRow& channel, const std::string& slot, std::int64_t index,
                           bool was_skipped, const ReadPayload& read);
  void store_incoming(const ChannelRow& channel, const ContactRow& contact, const AccountRow& account,
                      const ReadPayload& read);
  std::int64_t random_ack_delay();

  // ---- RTS receiving (rts_receiver.cpp) ----
  void ensure_rts_days(const AccountRow& account);
  boost::asio::awaitable<void> poll_rts_day(std::int64_t account_id, std::string day);
  boost::asio::awaitable<void> process_rts(std::int64_t inbox_id);
  // Opens the responder side of a channel from a validated RTS, queueing the CTS. In the caller's
  // transaction.
  std::int64_t accept_rts(std::int64_t account_id, std::int64_t contact_id, const wire::RtsFields& fields);
};

// Associated data of an outbox row's sealed `part` ("body" or "subject"): bound to the account and
// the outbox id, so sealed values cannot be swapped between rows or accounts undetected.
std::string outbox_aad(std::int64_t account_id, std::int64_t outbox_id, std::string_view part);
// Why mail to `contact` is refused ("bob@… is revoked: …; allow them again with `fcpmail contacts
// add bob@…`"), or nothing when the user allows it (accepted, or removed: not refused, asked again).
std::optional<std::string> consent_refusal(const ContactRow& contact);

// yyyyMMdd (UTC) of a time in ms since the epoch.
std::string utc_day(MillisSinceEpoch ms);
std::string short_address(std::string_view address);  // "bob@abcdefgh…" for logs
std::string hex_sha256(std::string_view data);
TimePoint to_time_point(MillisSinceEpoch ms);
// A fetch failure caused by what is stored at the key, not by the network (too big for our MaxSize,
// unusable metadata...): the slot holds something we will never accept, so it counts as used, as
// Freemail marks a fatally failed slot. Defined in rts_receiver.cpp.
bool refused_content(const NodeError& error);

}  // namespace fcpmail::engine
