// Mailbox: the narrow interface between the engine and the IMAP server.
//
// The store (src/store/mailbox_store.h, SQLite) implements it; the engine delivers received mail
// through deliver() and keeps held outgoing mail in the `Outbox` folder; the IMAP server
// (src/imap) reads and changes folders through the rest. The engine knows nothing about IMAP.
//
// Accounts are canonical addresses (strings). Each account has the folders INBOX, Sent, Drafts,
// Trash (each with its SPECIAL-USE attribute) and Outbox (held outgoing messages: the engine
// delivers into it and remove()s a message once it is released) plus any user folders.
// Folder names are opaque strings (IMAP passes modified UTF-7 through unchanged) with '/' as the
// hierarchy delimiter; "INBOX" is case-insensitive and always spelled "INBOX" in results.
//
// Guarantees: a folder's UIDVALIDITY never changes while the folder exists (a folder deleted and
// created again gets a new one); UIDs only ever increase within a folder (never reused, even
// after expunge); flags persist. Every mutating call is atomic (one SAVEPOINT), so the engine may
// call deliver() inside its own transaction.
//
// Thread safety: every call may be made from any thread; the implementation serialises them.
// Change listeners are called synchronously, after the change and outside the store's lock, on
// the thread that made the change: a listener must be quick and must not call back into the
// store (an IMAP session posts to its own executor and re-reads later).
#pragma once
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fcpmail {

enum class MailboxError {
  no_such_account,   // never created (ensure_account) or unknown address
  locked,            // the account's storage key is not loaded (account not unlocked)
  no_such_folder,
  folder_exists,     // create/rename onto an existing name
  invalid_name,      // empty, leading/trailing/double '/', or a reserved name
  not_permitted,     // e.g. delete or rename a special folder, write into a read-only folder
  no_such_message,   // a UID that is not (or no longer) in the folder
  too_large,         // a message above the store's size limit
  corrupt,           // a stored value failed authentication or parsing
  storage,           // the database failed (disk full, I/O error...)
};

// One sentence, e.g. "no such folder".
std::string_view describe(MailboxError e);

template <class T>
using MailboxResult = std::expected<T, MailboxError>;

enum class SpecialUse { none, sent, drafts, trash, outbox /* not an RFC 6154 attribute */ };

// System flags as a bit set, keywords (RFC 3501 flag-keyword atoms) as strings.
enum SystemFlag : std::uint8_t {
  flag_seen = 1,
  flag_answered = 2,
  flag_flagged = 4,
  flag_deleted = 8,
  flag_draft = 16,
};

struct Flags {
  std::uint8_t system = 0;             // SystemFlag bits
  std::vector<std::string> keywords;   // no duplicates (compared case-insensitively), sorted
  bool operator==(const Flags&) const = default;
};

enum class FlagOp { replace, add, remove };

struct FolderInfo {
  std::string name;                    // full name, e.g. "INBOX", "Archive/2024"
  SpecialUse special_use = SpecialUse::none;
  bool subscribed = false;
  bool has_children = false;
  bool noselect = false;               // a deleted folder kept only as the parent of others
  bool read_only = false;              // Outbox: the engine's, IMAP may only read it
};

struct FolderStatus {
  std::uint32_t uidvalidity = 0;
  std::uint32_t uidnext = 1;           // the UID the next message will get
  std::uint32_t messages = 0;
  std::uint32_t unseen = 0;            // messages without \Seen
  std::uint32_t recent_from_uid = 0;   // messages with UID >= this are "recent" (see take_recent)
};

// What a message listing holds: enough for SELECT, FLAGS, RFC822.SIZE, INTERNALDATE and the
// sequence-number <-> UID map, without touching message bodies.
struct MessageInfo {
  std::uint32_t uid = 0;
  Flags flags;
  std::int64_t internal_date = 0;      // seconds since the Unix epoch (UTC)
  std::uint32_t size = 0;              // RFC822.SIZE: octets of the message as stored
};

// Pre-parsed metadata, computed once when a message is stored (so FETCH ENVELOPE/BODYSTRUCTURE
// and SEARCH on the common headers never decrypt a body). Encrypted at rest like the body.
struct MessageMeta {
  std::string envelope;                // IMAP ENVELOPE, e.g. ("date" "subject" ((...)) ...)
  std::string bodystructure;           // IMAP BODYSTRUCTURE (with extension data)
  std::string body;                    // IMAP BODY (non-extensible BODYSTRUCTURE)
  std::uint32_t header_size = 0;       // octets of the header incl. the blank line
  std::int64_t sent_date = 0;          // the Date: header as Unix seconds (0 if missing/invalid)
  std::int32_t sent_date_zone = 0;     // its offset from UTC in minutes
  // Header values, unfolded, encoded words left as they are (for SEARCH FROM/TO/CC/BCC/SUBJECT).
  std::string from, to, cc, bcc, subject, message_id;
};

// Metadata shared without copying (an implementation that keeps metadata in memory hands out
// references to it).
using SharedMeta = std::shared_ptr<const MessageMeta>;

struct AppendResult {
  std::uint32_t uidvalidity = 0;
  std::uint32_t uid = 0;
};

struct CopyResult {
  std::uint32_t uidvalidity = 0;       // of the destination
  std::vector<std::uint32_t> source_uids;
  std::vector<std::uint32_t> dest_uids;  // same order as source_uids
};

struct FlagUpdate {
  std::uint32_t uid = 0;
  Flags flags;                         // the flags after the change
};

// What changed, for every session that has the folder open (and IDLE).
struct MailboxEvent {
  enum class Kind { appended, flags_changed, expunged, folders_changed };
  Kind kind = Kind::appended;
  std::string account;
  std::string folder;                  // empty for folders_changed
  std::vector<std::uint32_t> uids;     // appended / changed / expunged UIDs
};
using MailboxListener = std::function<void(const MailboxEvent&)>;

class Mailbox {
 public:
  virtual ~Mailbox() = default;

  // ---- the engine's entry points -------------------------------------------------------------

  // Creates the account's standard folders if missing. Idempotent.
  virtual MailboxResult<void> ensure_account(const std::string& account) = 0;

  // Stores one received (or held outgoing) RFC 822 message. `internal_date` is the time it was
  // received (Unix seconds). Returns the new UID. Listeners see Kind::appended at once.
  virtual MailboxResult<std::uint32_t> deliver(const std::string& account, const std::string& folder,
                                               std::string_view rfc822, const Flags& flags,
                                               std::int64_t internal_date) = 0;

  // Removes messages regardless of their flags (the engine releasing Outbox entries).
  virtual MailboxResult<void> remove(const std::string& account, const std::string& folder,
                                     std::span<const std::uint32_t> uids) = 0;

  // ---- folders ---------------------------------------------------------------------------------

  virtual MailboxResult<std::vector<FolderInfo>> list_folders(const std::string& account) = 0;
  virtual MailboxResult<FolderStatus> folder_status(const std::string& account,
                                                    const std::string& folder) = 0;
  virtual MailboxResult<void> create_folder(const std::string& account, const std::string& folder) = 0;
  // Deleting INBOX or a special folder is not_permitted. Deleting a folder with children keeps
  // them (RFC 3501: the name then stays as a \Noselect parent only if it has children).
  virtual MailboxResult<void> delete_folder(const std::string& account, const std::string& folder) = 0;
  // Renames the folder and its children. Renaming INBOX moves its messages to the new folder
  // and leaves INBOX empty (RFC 3501 §6.3.5).
  virtual MailboxResult<void> rename_folder(const std::string& account, const std::string& from,
                                            const std::string& to) = 0;
  virtual MailboxResult<void> set_subscribed(const std::string& account, const std::string& folder,
                                             bool subscribed) = 0;

  // \Recent bookkeeping: returns the first UID that is recent for the caller and marks every
  // message now in the folder as seen by a session (so only one session sees it as recent).
  virtual MailboxResult<std::uint32_t> take_recent(const std::string& account,
                                                   const std::string& folder) = 0;

  // ---- messages --------------------------------------------------------------------------------

  // Every message in the folder in ascending UID order.
  virtual MailboxResult<std::vector<MessageInfo>> messages(const std::string& account,
                                                           const std::string& folder) = 0;
  // The same listing, shared and immutable: implementations that keep an index hand out one
  // snapshot to every caller until the folder changes (a session's SELECT then copies nothing).
  using Listing = std::shared_ptr<const std::vector<MessageInfo>>;
  virtual MailboxResult<Listing> listing(const std::string& account, const std::string& folder) {
    auto r = messages(account, folder);
    if (!r) return std::unexpected(r.error());
    return std::make_shared<const std::vector<MessageInfo>>(std::move(*r));
  }
  // The metadata of many messages at once (FETCH ENVELOPE or SEARCH over a whole folder), shared
  // and immutable: one entry per UID in the order given, null for a UID that is not in the folder
  // or whose stored metadata cannot be read.
  virtual MailboxResult<std::vector<SharedMeta>> shared_metas(const std::string& account,
                                                              const std::string& folder,
                                                              std::span<const std::uint32_t> uids) = 0;
  // The message as stored (RFC 822 octets).
  virtual MailboxResult<std::string> read_message(const std::string& account, const std::string& folder,
                                                  std::uint32_t uid) = 0;

  // APPEND from a mail client (not_permitted into a read-only folder).
  virtual MailboxResult<AppendResult> append(const std::string& account, const std::string& folder,
                                             std::string_view rfc822, const Flags& flags,
                                             std::int64_t internal_date) = 0;

  // Changes flags of the given UIDs (UIDs no longer present are skipped). Returns the new flags
  // of every message whose flags changed.
  virtual MailboxResult<std::vector<FlagUpdate>> store_flags(const std::string& account,
                                                             const std::string& folder,
                                                             std::span<const std::uint32_t> uids,
                                                             FlagOp op, const Flags& flags) = 0;

  // Removes the messages flagged \Deleted (only among `only_uids` if given: UID EXPUNGE).
  // Returns the UIDs removed, ascending.
  virtual MailboxResult<std::vector<std::uint32_t>> expunge(
      const std::string& account, const std::string& folder,
      std::optional<std::span<const std::uint32_t>> only_uids = std::nullopt) = 0;

  // Copies (or moves: copy then remove from the source, atomically) messages with their flags
  // and internal dates. The result pairs every source UID that existed with its new UID.
  virtual MailboxResult<CopyResult> copy(const std::string& account, const std::string& from,
                                         std::span<const std::uint32_t> uids, const std::string& to) = 0;
  virtual MailboxResult<CopyResult> move(const std::string& account, const std::string& from,
                                         std::span<const std::uint32_t> uids, const std::string& to) = 0;

  // ---- change notification ---------------------------------------------------------------------

  // Returns an id for remove_listener. The listener sees every change to every account.
  virtual std::uint64_t add_listener(MailboxListener listener) = 0;
  virtual void remove_listener(std::uint64_t id) = 0;
};

}  // namespace fcpmail
