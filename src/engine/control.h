// The engine's control surface: what the HTTP control API, the web UI and the `fcpmail` CLI call.
// Plain result structs (each with to_json) and one abstract class the engine implements, so the
// web layer can be built and tested against a fake.
//
// Threading: every method is called on the daemon's io_context thread (the HTTP server runs on the
// same io_context). Queries read the database synchronously and return at once; long operations
// (account creation) take callbacks that are invoked on that same thread.
//
// Accounts are named by their canonical address (`local@<52 base32>.freemail`). Wherever an
// `account` filter is optional, nothing means "all accounts". Wherever a contact is named, the
// address, the petname, or a unique prefix of either is accepted.
#pragma once
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace fcpmail::engine {

using TimePoint = std::chrono::system_clock::time_point;

// Every failing control call returns one sentence for the user saying what went wrong and, where
// there is one, what to do (e.g. "no contact request 7; see `fcpmail requests list`").
using Error = std::string;
template <class T>
using Result = std::expected<T, Error>;

// ---- status ------------------------------------------------------------------------------------

struct NodeStatus {
  std::string host;                         // "127.0.0.1"
  int port = 0;                             // FCP port
  bool embedded = false;                    // the simulated node runs inside the daemon
  bool connected = false;
  std::string version;                      // NodeHello Version, e.g. "Fred,0.7,1.0,1506"
  std::optional<TimePoint> connected_since;
  bool wot_available = false;               // WebOfTrust answered
};

struct AccountSummary {
  std::string address;                      // canonical address, the IMAP/SMTP user name
  std::string nickname;                     // WoT nickname
  std::string identity_id;                  // WoT identity id (Freenet base64)
  std::string state;                        // "ready", "publishing mailsite", "creating: <stage>"
  std::int64_t mailsite_edition = 0;        // 0 = not yet published
  std::optional<TimePoint> mailsite_published;
  std::optional<TimePoint> next_republish;
};

struct QueueCounts {
  int held = 0;                             // outbox recipients waiting for approval
  int awaiting_cts = 0;                     // released, channel not yet confirmed
  int awaiting_ack = 0;                     // inserted on a slot, no ack yet
  int delivered = 0;
  int failed = 0;
  int contact_requests = 0;                 // pending requests
  int channels = 0;                         // open channels (sending or still polled)
  int fcp_in_flight = 0;
};

// A problem worth the user's eye. The same text about the same account is one entry however often
// it happens: `count` says how often, `last` when last.
struct Warning {
  std::string text;                         // a sentence, e.g. "not connected to the node at …"
  std::string account;                      // the account it concerns; "" = the daemon as a whole
  // Daemon-wide and saying nothing about any account (e.g. the node connection): shown to every
  // account's web UI session. A daemon-wide warning without it is shown to the owner only.
  bool for_everyone = false;
  int count = 1;
  TimePoint first{}, last{};
};

struct Status {
  std::string version;                      // fcpmail version
  // Whose view this is: nothing = the owner's (every account, every warning); an account = only
  // that account's counts and warnings (plus for_everyone ones), no daemon-wide FCP figures.
  std::optional<std::string> scope;
  NodeStatus node;
  std::vector<AccountSummary> accounts;
  QueueCounts counts;
  std::vector<Warning> warnings;            // oldest first
  std::uint64_t fcp_requests_total = 0;     // FCP requests this daemon has sent since start
  // Of those, by purpose: "channel-poll", "rts-poll" (the request budget is read from these).
  std::map<std::string, std::uint64_t> fcp_requests_by_purpose;
};

// ---- accounts ----------------------------------------------------------------------------------

struct AccountCreateRequest {
  std::string nickname;                     // WoT nickname; also the address's local part
  std::optional<std::string> identity;      // adopt this existing WoT own identity (id) instead
  std::optional<std::string> password;      // nothing: generate one and return it once
  // Adopt an existing Freemail RSA key file (accprops form) instead of generating RSA-4096
  // (key generation takes up to a minute; tests use fixtures/keys/*.key).
  std::optional<std::string> rsa_key_file;
};

struct AccountCreated {
  AccountSummary account;
  std::string password;                     // as given, or generated (shown once, never stored)
  bool password_generated = false;
  std::string imap_host;  int imap_port = 0;
  std::string smtp_host;  int smtp_port = 0;
};

// Progress of a long operation: stage is a short machine word ("identity", "rsa-key",
// "mailsite", "wot-property", "done"), detail is a sentence for the user.
using Progress = std::function<void(std::string_view stage, std::string_view detail)>;

// ---- contacts and requests ---------------------------------------------------------------------

struct Contact {
  std::string account;
  std::string address;                      // canonical
  std::string petname;                      // may be empty
  std::string nickname;                     // WoT nickname, if known
  std::string identity_id;
  std::string state;                        // "accepted", "revoked"
  std::optional<TimePoint> added;
  std::optional<TimePoint> last_message;    // last message received from them
};

struct ContactRequest {
  std::int64_t id = 0;
  std::string account;                      // who is being asked
  std::string from_address;
  std::string nickname;                     // WoT nickname if known, else empty
  std::string identity_id;
  TimePoint received{};
  std::string state;                        // "pending", "approved", "denied"
};

// ---- outbox ------------------------------------------------------------------------------------

struct RecipientDelivery {
  std::string recipient;                    // canonical address
  // Machine code: held | resolving | awaiting_cts | inserting | awaiting_ack | delivered |
  // failed | cancelled.
  std::string code;
  // For humans: "held", "awaiting CTS", "inserted on slot 3", "awaiting ack since 14:02:11",
  // "delivered", "failed: <reason>".
  std::string state;
  std::optional<TimePoint> next_action;     // when the engine next acts on it
  std::string next_action_text;             // "RTS resend", "message resend", "retry insert", ...
  int attempts = 0;                         // inserts of this message so far
  std::optional<TimePoint> delivered_at;
};

struct OutboxEntry {
  std::int64_t id = 0;
  std::string account;
  std::string subject;
  std::size_t size = 0;
  TimePoint submitted{};
  std::vector<RecipientDelivery> recipients;
};

struct OutboxDetail {
  OutboxEntry entry;
  std::string headers;                      // the message's header block as it will be sent
};

// ---- queues ------------------------------------------------------------------------------------

struct RtsPoll {
  std::string account;
  std::string date;                         // yyyyMMdd (UTC)
  std::int64_t slot = 0;                    // KSK slot number n
  std::string key;                          // KSK@<rtsksk>-<date>-<n> (the rtsksk is not secret
                                            //   from the user, it is on the mailpage)
  std::string last_result;                  // "not yet polled", "not found", "RTS from …", ...
  std::optional<TimePoint> last_poll;
  std::optional<TimePoint> next_poll;
};

struct ChannelQueue {
  std::int64_t id = 0;
  std::string account;
  std::string peer;                         // peer address
  std::string role;                         // "initiator" or "responder"
  std::string state;                        // "awaiting CTS", "open", "read-only", "revoked"
  std::int64_t next_send_slot = 0;          // index in our send chain (0 = first slot)
  std::string polled_window;                // e.g. "slots 2..8 (+1 skipped)"
  int awaiting_ack = 0;                     // our messages on this channel not yet acked
  int acks_pending = 0;                     // acks we still owe the peer
  std::optional<TimePoint> last_fetch;      // last slot found
  std::optional<TimePoint> next_retry;      // next poll or insert
  std::optional<TimePoint> send_until;      // channel timeout (no sending after)
};

struct InFlightRequest {
  std::string kind;                         // "put", "get", "generate-ssk", "wot"
  std::string what;                         // in user words, never an insert URI
  double age_seconds = 0;
};

struct Queues {
  std::vector<RtsPoll> rts;
  std::vector<ChannelQueue> channels;
  std::vector<InFlightRequest> in_flight;
};

// ---- the surface -------------------------------------------------------------------------------

class Control {
 public:
  virtual ~Control() = default;

  // `account`: nothing = the whole daemon; an account = that account's view (see Status::scope).
  virtual Status status(const std::optional<std::string>& account) = 0;

  // Starts creating an account (WoT identity, RSA key, mailpage, WoT property). `progress` is
  // called for each stage; `done` once at the end. Both on the io thread.
  virtual void create_account(AccountCreateRequest request, Progress progress,
                              std::function<void(Result<AccountCreated>)> done) = 0;
  virtual std::vector<AccountSummary> accounts() = 0;

  // Account transfer (engine/account_transfer.h says what the file holds and what it does not:
  // the identity, keys, contacts, requests and channels move; mail already stored does not).
  // Export: the whole encrypted export file as bytes. Import: refuses an account this data dir
  // already has; restores the WebOfTrust own identity from its insert URI if the node lacks it,
  // then republishes the mailsite. `progress` as for create_account; `done` once, on the io thread.
  virtual void export_account(std::string account, std::string passphrase, Progress progress,
                              std::function<void(Result<std::string>)> done) = 0;
  virtual void import_account(std::string file, std::string passphrase, Progress progress,
                              std::function<void(Result<AccountSummary>)> done) = 0;

  virtual Result<std::vector<Contact>> contacts(std::optional<std::string> account) = 0;
  // `typed`: a Freemail address, or a full identity request URI (USK@…/WebOfTrust/N).
  virtual Result<Contact> add_contact(const std::string& account, const std::string& typed,
                                      const std::string& petname) = 0;
  virtual Result<void> remove_contact(const std::string& account, const std::string& typed) = 0;
  // Withdraws permission: the peer's channels stop being polled, nothing more reaches the mailbox.
  virtual Result<void> revoke_contact(const std::string& account, const std::string& typed) = 0;

  virtual Result<std::vector<ContactRequest>> requests(std::optional<std::string> account) = 0;
  // Approval accepts the sender as a contact, opens the channel and queues the CTS.
  virtual Result<ContactRequest> approve_request(std::int64_t id) = 0;
  // Denial records the refusal; no CTS is ever sent and nothing from that channel is delivered.
  virtual Result<ContactRequest> deny_request(std::int64_t id) = 0;

  virtual Result<std::vector<OutboxEntry>> outbox(std::optional<std::string> account) = 0;
  virtual Result<OutboxDetail> outbox_show(std::int64_t id) = 0;
  // Releases held recipients of one message. Returns the updated entry.
  virtual Result<OutboxEntry> outbox_approve(std::int64_t id) = 0;
  // Releases every held message (of one account, or all). Returns how many messages were released.
  virtual Result<int> outbox_approve_all(std::optional<std::string> account) = 0;
  // Drops a message's recipients that are not delivered yet.
  virtual Result<OutboxEntry> outbox_cancel(std::int64_t id) = 0;

  virtual Queues queues() = 0;

  // `fcpmail send`: the same path as SMTP (recipients resolved like RCPT TO). Returns the outbox id.
  virtual Result<std::int64_t> send(const std::string& from, const std::vector<std::string>& to,
                                    std::string rfc822) = 0;
};

// ---- JSON (nlohmann) ---------------------------------------------------------------------------
// Times are ISO 8601 UTC strings ("2026-11-27T14:02:11Z") or null.

std::string iso8601(TimePoint t);
void to_json(nlohmann::json& j, const NodeStatus& v);
void to_json(nlohmann::json& j, const AccountSummary& v);
void to_json(nlohmann::json& j, const QueueCounts& v);
void to_json(nlohmann::json& j, const Warning& v);
void to_json(nlohmann::json& j, const Status& v);
void to_json(nlohmann::json& j, const AccountCreated& v);
void to_json(nlohmann::json& j, const Contact& v);
void to_json(nlohmann::json& j, const ContactRequest& v);
void to_json(nlohmann::json& j, const RecipientDelivery& v);
void to_json(nlohmann::json& j, const OutboxEntry& v);
void to_json(nlohmann::json& j, const OutboxDetail& v);
void to_json(nlohmann::json& j, const RtsPoll& v);
void to_json(nlohmann::json& j, const ChannelQueue& v);
void to_json(nlohmann::json& j, const InFlightRequest& v);
void to_json(nlohmann::json& j, const Queues& v);

}  // namespace fcpmail::engine
