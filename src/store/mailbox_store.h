// MailboxStore: the SQLite implementation of fcpmail::Mailbox (include/fcpmail/mailbox.h).
//
// Tables (prefixed mbx_, created with CREATE TABLE IF NOT EXISTS in the daemon's one database):
//   mbx_folder  (account, name) -> uidvalidity, uidnext, recent mark, special use, subscription
//   mbx_message (folder, uid) -> flags, keywords, internal date, size, sealed meta, sealed body
// Message bodies and their pre-parsed metadata (ENVELOPE, BODYSTRUCTURE, search headers) are
// sealed with the account's storage key (crypto::SealedBox, AES-256-GCM) bound to the account as
// associated data; flags, sizes and dates stay in clear so listings never decrypt anything.
// Reading or writing messages of an account whose key is not loaded (unlock()) fails `locked`.
//
// Stored messages have CRLF line ends: a bare LF in delivered or appended mail becomes CRLF, so
// RFC822.SIZE and every BODY[section] offset agree with what a client receives.
#pragma once
#include "crypto/sealed_box.h"
#include "fcpmail/mailbox.h"

#include <SQLiteCpp/Database.h>

#include <map>
#include <mutex>

namespace fcpmail {

class MailboxStore final : public Mailbox {
 public:
  static constexpr std::size_t default_max_message_size = 64u << 20;

  // `db` is owned by the daemon (WAL mode) and must outlive the store. Creates the tables.
  explicit MailboxStore(SQLite::Database& db, std::size_t max_message_size = default_max_message_size);
  ~MailboxStore() override;

  // Loads / forgets the account's storage key (given by the engine when the account is unlocked).
  void unlock(const std::string& account, const crypto::Key256& key);
  void lock(const std::string& account);
  bool is_unlocked(const std::string& account) const;

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
  MailboxResult<MessageMeta> message_meta(const std::string& account, const std::string& folder,
                                          std::uint32_t uid) override;
  MailboxResult<std::vector<std::optional<MessageMeta>>> message_metas(
      const std::string& account, const std::string& folder, std::span<const std::uint32_t> uids) override;
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
  MailboxResult<Folder> find_folder(const std::string& account, const std::string& folder);
  MailboxResult<const crypto::SealedBox*> box(const std::string& account) const;
  MailboxResult<std::uint32_t> insert_message(const std::string& account, const Folder& f,
                                              std::string_view rfc822, const Flags& flags,
                                              std::int64_t internal_date);
  MailboxResult<CopyResult> copy_locked(const std::string& account, const std::string& from,
                                        std::span<const std::uint32_t> uids, const std::string& to,
                                        bool move, std::vector<MailboxEvent>& events);
  std::uint32_t next_uidvalidity(const std::string& account);
  void notify(const std::vector<MailboxEvent>& events);

  SQLite::Database& db_;
  std::size_t max_message_size_;
  mutable std::mutex mutex_;
  std::map<std::string, crypto::SealedBox> boxes_;
  std::mutex listeners_mutex_;
  std::map<std::uint64_t, MailboxListener> listeners_;
  std::uint64_t next_listener_ = 1;
};

}  // namespace fcpmail
