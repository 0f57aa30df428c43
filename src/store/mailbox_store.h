// MailboxStore: the SQLite implementation of fcpmail::Mailbox (include/fcpmail/mailbox.h).
//
// Tables (prefixed mbx_, created with CREATE TABLE IF NOT EXISTS in the daemon's one database):
//   mbx_folder  (account, name) -> uidvalidity, uidnext, recent mark, special use, subscription
//   mbx_message (folder, uid) -> flags, keywords, internal date, size, content id
//   mbx_body, mbx_meta (content id) -> sealed body, sealed metadata
//   mbx_seal_format (account) -> the sealing format of the account's content
// Message bodies and their pre-parsed metadata (ENVELOPE, BODYSTRUCTURE, search headers) are
// sealed with the account's storage key (crypto::SealedBox, AES-256-GCM) bound to the account and
// the message's content id as associated data; flags, sizes and dates stay in clear so listings
// never decrypt anything. Reading or writing messages of an account whose key is not loaded
// (unlock()) fails `locked`.
//
// What the binding promises, against someone who can write the database file: a message's body
// and metadata are the ones stored for it, together, or reading them fails `corrupt` (never other
// content). Swapping sealed values between messages, or putting back an older value of another
// message, is detected. The content id is the message's stable name: MOVE and folder renames
// (INBOX's too) keep it, so nothing is resealed; COPY makes new content and reseals it under its
// own id; expunge deletes it with the message row. What is not promised: which content a message
// row points to, like its flags and UID, is in clear, so such a writer can still reorder, drop or
// restore whole messages. A database written before the binding is upgraded by unlock().
//
// In memory, per folder, the store keeps an index of the listing (UIDs, flags, dates, sizes) and,
// within a byte budget, the opened metadata of the messages read so far or delivered since: SELECT
// then copies a vector instead of scanning SQLite, and FETCH ENVELOPE/BODYSTRUCTURE or SEARCH decrypt
// each message's metadata once per daemon run rather than once per command. Nothing of it reaches
// the disk (the database stays sealed). The index only ever holds committed rows: while a
// transaction of the engine's is open on the connection (a delivery inside it could still be rolled
// back) a changed folder's index is dropped and not rebuilt until the transaction has ended.
// lock(account) drops that account's index, plaintext metadata included.
//
// Stored messages have CRLF line ends: a bare LF in delivered or appended mail becomes CRLF, so
// RFC822.SIZE and every BODY[section] offset agree with what a client receives.
#pragma once
#include "crypto/sealed_box.h"
#include "fcpmail/mailbox.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace fcpmail {

class MailboxStore final : public Mailbox {
 public:
  static constexpr std::size_t default_max_message_size = 64u << 20;
  static constexpr std::size_t default_meta_cache_bytes = 48u << 20;

  // `db` is owned by the daemon (WAL mode) and must outlive the store. Creates the tables.
  explicit MailboxStore(SQLite::Database& db, std::size_t max_message_size = default_max_message_size);
  ~MailboxStore() override;

  // Loads / forgets the account's storage key (given by the engine when the account is unlocked).
  // The first unlock of an account whose content is in the legacy sealing format (bound to the
  // account only) reseals it in the current one, in one transaction (see upgrade_sealing).
  void unlock(const std::string& account, const crypto::Key256& key);
  void lock(const std::string& account);
  bool is_unlocked(const std::string& account) const;
  // The budget for opened metadata kept in memory (0: none is kept).
  void set_meta_cache_limit(std::size_t bytes);
  // Bytes of opened metadata held now (for tests and status).
  std::size_t meta_cache_bytes() const;

  MailboxResult<void> ensure_account(const std::string& account) override;
  MailboxResult<std::uint32_t> deliver(const std::string& account, const std::string& folder,
                                       std::string_view rfc822, const Flags& flags,
                                       std::int64_t internal_date) override;
  MailboxResult<void> remove(const std::string& account, const std::string& folder,
                             std::span<const std::uint32_t> uids) override;

  MailboxResult<std::vector<FolderInfo>> list_folders(const std::string& account) override;
  MailboxResult<FolderStatus> folder_status(const std::string& account, const std::string& folder) override;
  MailboxResult<void> create_folder(const std::string& account, const std::string& folder) override;
  MailboxResult<void> delete_folder(const std::string& account, const std::string& folder) override;
  MailboxResult<void> rename_folder(const std::string& account, const std::string& from,
                                    const std::string& to) override;
  MailboxResult<void> set_subscribed(const std::string& account, const std::string& folder,
                                     bool subscribed) override;
  MailboxResult<std::uint32_t> take_recent(const std::string& account, const std::string& folder) override;

  MailboxResult<std::vector<MessageInfo>> messages(const std::string& account,
                                                   const std::string& folder) override;
  MailboxResult<Listing> listing(const std::string& account, const std::string& folder) override;
  // One message's metadata, or why it has none (no_such_message, corrupt, locked): what a null
  // entry of shared_metas means. Not part of Mailbox (sessions only batch); kept for the store's
  // tests and the engine's, which check a stored message's ENVELOPE fields and its failure reason.
  MailboxResult<MessageMeta> message_meta(const std::string& account, const std::string& folder,
                                          std::uint32_t uid);
  MailboxResult<std::vector<SharedMeta>> shared_metas(const std::string& account, const std::string& folder,
                                                      std::span<const std::uint32_t> uids) override;
  MailboxResult<std::string> read_message(const std::string& account, const std::string& folder,
                                          std::uint32_t uid) override;
  MailboxResult<AppendResult> append(const std::string& account, const std::string& folder,
                                     std::string_view rfc822, const Flags& flags,
                                     std::int64_t internal_date) override;
  MailboxResult<std::vector<FlagUpdate>> store_flags(const std::string& account, const std::string& folder,
                                                     std::span<const std::uint32_t> uids, FlagOp op,
                                                     const Flags& flags) override;
  MailboxResult<std::vector<std::uint32_t>> expunge(
      const std::string& account, const std::string& folder,
      std::optional<std::span<const std::uint32_t>> only_uids = std::nullopt) override;
  MailboxResult<CopyResult> copy(const std::string& account, const std::string& from,
                                 std::span<const std::uint32_t> uids, const std::string& to) override;
  MailboxResult<CopyResult> move(const std::string& account, const std::string& from,
                                 std::span<const std::uint32_t> uids, const std::string& to) override;

  std::uint64_t add_listener(MailboxListener listener) override;
  void remove_listener(std::uint64_t id) override;

  // The metadata computed for a message (exposed for tests and the benchmark).
  static MessageMeta compute_meta(std::string_view rfc822);
  // Bare LF -> CRLF (a lone CR is kept).
  static std::string normalize_line_ends(std::string_view rfc822);

 private:
  struct Folder {
    std::int64_t id = 0;
    std::uint32_t uidvalidity = 0, uidnext = 1, recent_uid = 1;
    SpecialUse special = SpecialUse::none;
    bool noselect = false;
  };
  // One message of a folder's in-memory index.
  struct Indexed {
    MessageInfo info;
    std::int64_t content = 0;
    SharedMeta meta;                 // null until opened (or not kept: over budget)
  };
  struct FolderIndex {
    std::string account;
    std::vector<Indexed> messages;   // ascending UID
    std::optional<std::uint32_t> unseen;  // counted on demand, reset by every change
    Listing snapshot;                     // built on demand, reset by every change
  };

  MailboxResult<Folder> find_folder(const std::string& account, const std::string& folder);
  // True when no transaction is open on the connection: what is read now is committed.
  bool committed() const;
  // The folder's index, loaded if needed; null if it cannot be kept now (a transaction is open).
  FolderIndex* index_of(const std::string& account, const Folder& f);
  Indexed* indexed(FolderIndex& ix, std::uint32_t uid);
  // After a committed change: `apply` updates the folder's index if it is loaded; inside an outer
  // transaction the index is dropped instead.
  template <class F>
  void update_index(std::int64_t folder_id, F&& apply);
  void forget_index(std::int64_t folder_id);
  void add_to_index(std::int64_t folder_id, Indexed added);
  void drop_from_index(std::int64_t folder_id, const std::vector<std::uint32_t>& sorted_uids);
  // Keeps the opened metadata with the message if the budget allows.
  void keep_meta(Indexed& m, SharedMeta meta);
  MailboxResult<Listing> listing_locked(const std::string& account, const Folder& f);
  // Null entries for UIDs not in the folder and for values that fail to open (then *any_corrupt).
  MailboxResult<std::vector<SharedMeta>> metas_locked(const std::string& account, const Folder& f,
                                                      std::span<const std::uint32_t> uids,
                                                      bool* any_corrupt = nullptr);
  // Reseals the account's content from the legacy format, once (mbx_seal_format says when done).
  // Throws on a database failure (rolled back, tried again at the next unlock).
  void upgrade_sealing(const std::string& account, const crypto::SealedBox& box);
  // The id a new message's content rows get (its sealed values name it, so it is chosen first).
  std::int64_t next_content_id();
  MailboxResult<const crypto::SealedBox*> box(const std::string& account) const;
  MailboxResult<Indexed> insert_message(const std::string& account, const Folder& f, std::string_view rfc822,
                                        const Flags& flags, std::int64_t internal_date);
  MailboxResult<CopyResult> copy_locked(const std::string& account, const std::string& from,
                                        std::span<const std::uint32_t> uids, const std::string& to,
                                        bool move, std::vector<MailboxEvent>& events);
  std::uint32_t next_uidvalidity(const std::string& account);
  void notify(const std::vector<MailboxEvent>& events);

  SQLite::Database& db_;
  std::size_t max_message_size_;
  mutable std::mutex mutex_;
  std::map<std::string, crypto::SealedBox> boxes_;
  std::unordered_map<std::int64_t, FolderIndex> index_;   // by folder id
  std::unique_ptr<SQLite::Statement> find_statement_;
  std::size_t meta_limit_ = default_meta_cache_bytes;
  std::size_t meta_bytes_ = 0;
  std::mutex listeners_mutex_;
  std::map<std::uint64_t, MailboxListener> listeners_;
  std::uint64_t next_listener_ = 1;
};

}  // namespace fcpmail
