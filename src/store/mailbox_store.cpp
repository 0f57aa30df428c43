#include "store/mailbox_store.h"

#include "mail/ascii.h"
#include "store/mime.h"

#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <unordered_map>

namespace fcpmail {

std::string_view describe(MailboxError e) {
  switch (e) {
    case MailboxError::no_such_account: return "no such account";
    case MailboxError::locked: return "the account is locked (unlock it first)";
    case MailboxError::no_such_folder: return "no such folder";
    case MailboxError::folder_exists: return "the folder already exists";
    case MailboxError::invalid_name: return "invalid folder name";
    case MailboxError::not_permitted: return "not permitted on this folder";
    case MailboxError::no_such_message: return "no such message";
    case MailboxError::too_large: return "the message is too large";
    case MailboxError::corrupt: return "stored data failed authentication";
    case MailboxError::storage: return "the database failed";
  }
  return "unknown error";
}

namespace {

constexpr const char* standard_folders[] = {"INBOX", "Sent", "Drafts", "Trash", "Outbox"};

SpecialUse special_of(std::string_view name) {
  if (name == "Sent") return SpecialUse::sent;
  if (name == "Drafts") return SpecialUse::drafts;
  if (name == "Trash") return SpecialUse::trash;
  if (name == "Outbox") return SpecialUse::outbox;
  return SpecialUse::none;
}

using ascii::iequals;

// "inbox" and "Inbox/x" are INBOX; nullopt for a name that cannot be a folder.
std::optional<std::string> normalize_name(const std::string& name) {
  if (name.empty() || name.size() > 512 || name.front() == '/' || name.back() == '/' ||
      name.find("//") != std::string::npos)
    return std::nullopt;
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  if (iequals(name, "INBOX")) return std::string("INBOX");
  if (name.size() > 6 && iequals(name.substr(0, 6), "INBOX/")) return "INBOX" + name.substr(5);
  return name;
}

// Keywords deduplicated case-insensitively and sorted; at most what fits a sane flag list.
std::vector<std::string> normalize_keywords(std::vector<std::string> k) {
  std::sort(k.begin(), k.end(), [](const std::string& a, const std::string& b) { return ascii::iless(a, b); });
  k.erase(std::unique(k.begin(), k.end(), [](auto& a, auto& b) { return iequals(a, b); }), k.end());
  return k;
}

std::string join_keywords(const std::vector<std::string>& k) {
  std::string r;
  for (auto& w : k) {
    if (!r.empty()) r += ' ';
    r += w;
  }
  return r;
}

std::vector<std::string> split_keywords(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    auto sp = s.find(' ', i);
    if (sp == std::string::npos) sp = s.size();
    if (sp > i) out.push_back(s.substr(i, sp - i));
    i = sp + 1;
  }
  return out;
}

Flags apply(const Flags& cur, FlagOp op, const Flags& f) {
  Flags r = cur;
  switch (op) {
    case FlagOp::replace:
      r.system = f.system;
      r.keywords = f.keywords;
      break;
    case FlagOp::add:
      r.system |= f.system;
      r.keywords.insert(r.keywords.end(), f.keywords.begin(), f.keywords.end());
      break;
    case FlagOp::remove:
      r.system &= static_cast<std::uint8_t>(~f.system);
      std::erase_if(r.keywords, [&](const std::string& k) {
        return std::any_of(f.keywords.begin(), f.keywords.end(), [&](auto& x) { return iequals(x, k); });
      });
      break;
  }
  r.keywords = normalize_keywords(std::move(r.keywords));
  return r;
}

// ---- meta serialisation: u32 length-prefixed strings and i64 numbers, little-endian ----------

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, const std::string& s) {
  std::uint32_t n = static_cast<std::uint32_t>(s.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += s;
}
bool get_u64(std::string_view& in, std::uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(8);
  return true;
}
bool get_str(std::string_view& in, std::string& s) {
  if (in.size() < 4) return false;
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(4);
  if (in.size() < n) return false;
  s.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

std::string serialize(const MessageMeta& m) {
  std::string out;
  out.push_back(1);  // format version
  for (auto* s : {&m.envelope, &m.bodystructure, &m.body, &m.from, &m.to, &m.cc, &m.bcc, &m.subject,
                  &m.message_id})
    put_str(out, *s);
  put_u64(out, m.header_size);
  put_u64(out, static_cast<std::uint64_t>(m.sent_date));
  put_u64(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(m.sent_date_zone)));
  return out;
}

std::optional<MessageMeta> deserialize(std::string_view in) {
  MessageMeta m;
  if (in.empty() || in[0] != 1) return std::nullopt;
  in.remove_prefix(1);
  for (auto* s : {&m.envelope, &m.bodystructure, &m.body, &m.from, &m.to, &m.cc, &m.bcc, &m.subject,
                  &m.message_id})
    if (!get_str(in, *s)) return std::nullopt;
  std::uint64_t hs = 0, sd = 0, sz = 0;
  if (!get_u64(in, hs) || !get_u64(in, sd) || !get_u64(in, sz)) return std::nullopt;
  m.header_size = static_cast<std::uint32_t>(hs);
  m.sent_date = static_cast<std::int64_t>(sd);
  m.sent_date_zone = static_cast<std::int32_t>(static_cast<std::int64_t>(sz));
  return m;
}

// What a sealed body or metadata value is bound to (its AES-GCM associated data): the account
// and the message's content id, the rowid its mbx_body and mbx_meta rows share. A value copied
// into another row, of the same account or not, or an older value of another message put back in
// place of this one, fails to open. The id goes first: it is digits only, so the text cannot be
// read two ways whatever the account name holds.
std::string body_ad(const std::string& account, std::int64_t content) {
  return "mbx-body-v2:" + std::to_string(content) + ":" + account;
}
std::string meta_ad(const std::string& account, std::int64_t content) {
  return "mbx-meta-v2:" + std::to_string(content) + ":" + account;
}
// The first format bound a value to the account only, so values could be swapped between the
// account's messages. Only upgrade_sealing() opens these, to reseal them in the current format.
std::string legacy_body_ad(const std::string& account) { return "mbx-body:" + account; }
std::string legacy_meta_ad(const std::string& account) { return "mbx-meta:" + account; }

// The sealing format an account's rows are in (mbx_seal_format.version).
constexpr int legacy_seal_format = 1;      // no row in mbx_seal_format: bound to the account only
constexpr int current_seal_format = 2;     // bound to (account, content id)

std::string_view blob_of(const SQLite::Column& col) {
  return {static_cast<const char*>(col.getBlob()), static_cast<std::size_t>(col.getBytes())};
}

// One SAVEPOINT per mutating call: nests inside a transaction the engine may hold.
class Atomic {
 public:
  explicit Atomic(SQLite::Database& db) : db_(db) { db_.exec("SAVEPOINT mbx"); }
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;
  void commit() {
    db_.exec("RELEASE mbx");
    done_ = true;
  }
  ~Atomic() {
    if (done_) return;
    try {
      db_.exec("ROLLBACK TO mbx");
      db_.exec("RELEASE mbx");
    } catch (...) {
      // The connection is broken; nothing more to undo here.
    }
  }

 private:
  SQLite::Database& db_;
  bool done_ = false;
};

// Runs `f`, turning a database exception into MailboxError::storage.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception&) {
    return std::unexpected(MailboxError::storage);
  }
}

}  // namespace

// What an opened MessageMeta costs in memory, roughly (strings plus allocation overhead).
static std::size_t approximate_size(const MessageMeta& m) {
  std::size_t n = sizeof(MessageMeta) + sizeof(std::shared_ptr<const MessageMeta>) + 32;
  for (auto* s : {&m.envelope, &m.bodystructure, &m.body, &m.from, &m.to, &m.cc, &m.bcc, &m.subject,
                  &m.message_id})
    if (s->size() > 15) n += s->size() + 17;
  return n;
}

MailboxStore::MailboxStore(SQLite::Database& db, std::size_t max_message_size)
    : db_(db), max_message_size_(max_message_size) {
  db_.exec(
      "CREATE TABLE IF NOT EXISTS mbx_folder ("
      " id INTEGER PRIMARY KEY,"
      " account TEXT NOT NULL,"
      " name TEXT NOT NULL,"
      " special INTEGER NOT NULL DEFAULT 0,"
      " subscribed INTEGER NOT NULL DEFAULT 0,"
      " noselect INTEGER NOT NULL DEFAULT 0,"
      " uidvalidity INTEGER NOT NULL,"
      " uidnext INTEGER NOT NULL DEFAULT 1,"
      " recent_uid INTEGER NOT NULL DEFAULT 1,"
      " UNIQUE(account, name))");
  // Messages are small rows clustered by (folder, UID): listings are one range scan and a flag
  // change rewrites a few dozen bytes. The sealed content lives apart (mbx_meta: ENVELOPE etc.,
  // mbx_body: the message), so neither a flag change nor a listing ever touches it.
  db_.exec(
      "CREATE TABLE IF NOT EXISTS mbx_message ("
      " folder_id INTEGER NOT NULL,"
      " uid INTEGER NOT NULL,"
      " flags INTEGER NOT NULL DEFAULT 0,"
      " keywords TEXT NOT NULL DEFAULT '',"
      " internal_date INTEGER NOT NULL,"
      " size INTEGER NOT NULL,"
      " content INTEGER NOT NULL,"
      " PRIMARY KEY (folder_id, uid)) WITHOUT ROWID");
  db_.exec("CREATE TABLE IF NOT EXISTS mbx_meta (id INTEGER PRIMARY KEY, meta BLOB NOT NULL)");
  db_.exec("CREATE TABLE IF NOT EXISTS mbx_body (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  db_.exec(
      "CREATE TRIGGER IF NOT EXISTS mbx_message_content_gone AFTER DELETE ON mbx_message BEGIN"
      " DELETE FROM mbx_meta WHERE id = old.content;"
      " DELETE FROM mbx_body WHERE id = old.content;"
      " END");
  db_.exec("CREATE TABLE IF NOT EXISTS mbx_uidvalidity (account TEXT PRIMARY KEY, last INTEGER NOT NULL)");
  // Which sealing format each account's content is in. Per account, not per table: resealing
  // needs the account's key, which the store only gets at unlock(). No row: the legacy format
  // (a database written before this table existed); unlock() upgrades it and adds the row.
  db_.exec("CREATE TABLE IF NOT EXISTS mbx_seal_format (account TEXT PRIMARY KEY, version INTEGER NOT NULL)");
}

MailboxStore::~MailboxStore() = default;

void MailboxStore::unlock(const std::string& account, const crypto::Key256& key) {
  std::lock_guard lock(mutex_);
  auto& box = boxes_.insert_or_assign(account, crypto::SealedBox(key)).first->second;
  // A failed upgrade (the database failed) has been rolled back: it runs again at the next
  // unlock, and until then the account's legacy rows read as corrupt, never as other content.
  (void)guarded([&]() -> MailboxResult<void> {
    upgrade_sealing(account, box);
    return {};
  });
}

void MailboxStore::upgrade_sealing(const std::string& account, const crypto::SealedBox& box) {
  int version = legacy_seal_format;
  {
    SQLite::Statement q(db_, "SELECT version FROM mbx_seal_format WHERE account = ?");
    q.bind(1, account);
    if (q.executeStep()) version = q.getColumn(0).getInt();
  }
  if (version >= current_seal_format) return;
  // One SAVEPOINT: after a crash either every row and the version row are in the new format or
  // none is, and the next unlock starts again. Every value is tried in the legacy format first;
  // one that opens in the current format already is left as it is (so running twice is harmless),
  // one that opens in neither stays and reads as corrupt. Reads never fall back to the legacy
  // format: only this upgrade accepts it, and only while the account has no version row. (Someone
  // who can write the file could delete that row and put back legacy values from a copy made
  // before the upgrade; that is the same as restoring the old copy, which no sealing prevents.)
  Atomic tx(db_);
  std::vector<std::int64_t> contents;
  {
    SQLite::Statement q(db_,
                        "SELECT x.content FROM mbx_message x JOIN mbx_folder f ON f.id = x.folder_id"
                        " WHERE f.account = ?");
    q.bind(1, account);
    while (q.executeStep()) contents.push_back(q.getColumn(0).getInt64());
  }
  std::sort(contents.begin(), contents.end());
  contents.erase(std::unique(contents.begin(), contents.end()), contents.end());
  std::size_t values = 0, opened = 0;
  auto reseal = [&](const std::string& table, const std::string& column, const std::string& legacy_ad,
                    std::string (*current_ad)(const std::string&, std::int64_t)) {
    SQLite::Statement get(db_, "SELECT " + column + " FROM " + table + " WHERE id = ?");
    SQLite::Statement put(db_, "UPDATE " + table + " SET " + column + " = ? WHERE id = ?");
    for (auto id : contents) {
      get.bind(1, id);
      if (!get.executeStep()) {
        get.reset();
        continue;
      }
      std::string sealed(blob_of(get.getColumn(0)));
      get.reset();
      ++values;
      const std::string ad = current_ad(account, id);
      if (auto plain = box.open(sealed, legacy_ad)) {
        std::string again = box.seal(*plain, ad);
        put.bindNoCopy(1, again.data(), static_cast<int>(again.size()));
        put.bind(2, id);
        put.exec();
        put.reset();
        ++opened;
      } else if (box.open(sealed, ad)) {
        ++opened;
      }
    }
  };
  reseal("mbx_body", "body", legacy_body_ad(account), body_ad);
  reseal("mbx_meta", "meta", legacy_meta_ad(account), meta_ad);
  // Not one value opened: this is not the key the rows were sealed with. Nothing is marked, so
  // the right key still upgrades them later.
  if (values > 0 && opened == 0) return;
  SQLite::Statement mark(db_,
                         "INSERT INTO mbx_seal_format (account, version) VALUES (?, ?)"
                         " ON CONFLICT(account) DO UPDATE SET version = excluded.version");
  mark.bind(1, account);
  mark.bind(2, current_seal_format);
  mark.exec();
  tx.commit();
}

std::int64_t MailboxStore::next_content_id() {
  // Chosen before the insert because the sealed values name it. The store's mutex and the one
  // connection make MAX + 1 safe; both tables are asked in case one holds a stray row.
  SQLite::Statement q(db_,
                      "SELECT MAX(COALESCE((SELECT MAX(id) FROM mbx_body), 0),"
                      " COALESCE((SELECT MAX(id) FROM mbx_meta), 0)) + 1");
  q.executeStep();
  return q.getColumn(0).getInt64();
}

void MailboxStore::lock(const std::string& account) {
  std::lock_guard lock(mutex_);
  boxes_.erase(account);
  // The opened metadata must not outlive the key.
  for (auto it = index_.begin(); it != index_.end();) {
    if (it->second.account == account) {
      for (auto& m : it->second.messages)
        if (m.meta) meta_bytes_ -= std::min(meta_bytes_, approximate_size(*m.meta));
      it = index_.erase(it);
    } else {
      ++it;
    }
  }
}

void MailboxStore::set_meta_cache_limit(std::size_t bytes) {
  std::lock_guard lock(mutex_);
  meta_limit_ = bytes;
}

std::size_t MailboxStore::meta_cache_bytes() const {
  std::lock_guard lock(mutex_);
  return meta_bytes_;
}

bool MailboxStore::committed() const { return sqlite3_get_autocommit(db_.getHandle()) != 0; }

MailboxStore::FolderIndex* MailboxStore::index_of(const std::string& account, const Folder& f) {
  if (auto it = index_.find(f.id); it != index_.end()) return &it->second;
  if (!committed()) return nullptr;
  FolderIndex ix;
  ix.account = account;
  SQLite::Statement q(db_,
                      "SELECT uid, flags, keywords, internal_date, size, content FROM mbx_message"
                      " WHERE folder_id = ? ORDER BY uid");
  q.bind(1, f.id);
  while (q.executeStep()) {
    Indexed m;
    m.info.uid = static_cast<std::uint32_t>(q.getColumn(0).getInt64());
    m.info.flags.system = static_cast<std::uint8_t>(q.getColumn(1).getInt());
    const char* kw = q.getColumn(2).getText();
    if (kw && *kw) m.info.flags.keywords = split_keywords(kw);
    m.info.internal_date = q.getColumn(3).getInt64();
    m.info.size = static_cast<std::uint32_t>(q.getColumn(4).getInt64());
    m.content = q.getColumn(5).getInt64();
    ix.messages.push_back(std::move(m));
  }
  return &index_.insert_or_assign(f.id, std::move(ix)).first->second;
}

MailboxStore::Indexed* MailboxStore::indexed(FolderIndex& ix, std::uint32_t uid) {
  auto it = std::lower_bound(ix.messages.begin(), ix.messages.end(), uid,
                             [](const Indexed& m, std::uint32_t u) { return m.info.uid < u; });
  return it != ix.messages.end() && it->info.uid == uid ? &*it : nullptr;
}

void MailboxStore::forget_index(std::int64_t folder_id) {
  auto it = index_.find(folder_id);
  if (it == index_.end()) return;
  for (auto& m : it->second.messages)
    if (m.meta) meta_bytes_ -= std::min(meta_bytes_, approximate_size(*m.meta));
  index_.erase(it);
}

template <class F>
void MailboxStore::update_index(std::int64_t folder_id, F&& apply) {
  auto it = index_.find(folder_id);
  if (it == index_.end()) return;
  if (!committed()) return forget_index(folder_id);
  it->second.unseen.reset();  // recounted when next asked for
  it->second.snapshot.reset();
  apply(it->second);
}

void MailboxStore::add_to_index(std::int64_t folder_id, Indexed added) {
  update_index(folder_id, [&](FolderIndex& ix) {
    SharedMeta meta = std::move(added.meta);
    if (!ix.messages.empty() && ix.messages.back().info.uid >= added.info.uid) return forget_index(folder_id);
    ix.messages.push_back(std::move(added));
    keep_meta(ix.messages.back(), std::move(meta));
  });
}

void MailboxStore::drop_from_index(std::int64_t folder_id, const std::vector<std::uint32_t>& sorted_uids) {
  if (sorted_uids.empty()) return;
  update_index(folder_id, [&](FolderIndex& ix) {
    std::erase_if(ix.messages, [&](const Indexed& m) {
      if (!std::binary_search(sorted_uids.begin(), sorted_uids.end(), m.info.uid)) return false;
      if (m.meta) meta_bytes_ -= std::min(meta_bytes_, approximate_size(*m.meta));
      return true;
    });
  });
}

void MailboxStore::keep_meta(Indexed& m, SharedMeta meta) {
  if (!meta || m.meta) return;
  std::size_t size = approximate_size(*meta);
  if (meta_bytes_ + size > meta_limit_) return;
  meta_bytes_ += size;
  m.meta = std::move(meta);
}

bool MailboxStore::is_unlocked(const std::string& account) const {
  std::lock_guard lock(mutex_);
  return boxes_.contains(account);
}

MailboxResult<const crypto::SealedBox*> MailboxStore::box(const std::string& account) const {
  auto it = boxes_.find(account);
  if (it == boxes_.end()) return std::unexpected(MailboxError::locked);
  return &it->second;
}

std::uint32_t MailboxStore::next_uidvalidity(const std::string& account) {
  // Strictly increasing per account, remembered even after the folder that had it is deleted, so
  // a folder created again under an old name never reuses a UIDVALIDITY.
  std::int64_t last = 0;
  {
    SQLite::Statement q(db_, "SELECT last FROM mbx_uidvalidity WHERE account = ?");
    q.bind(1, account);
    if (q.executeStep()) last = q.getColumn(0).getInt64();
  }
  {
    SQLite::Statement q(db_, "SELECT COALESCE(MAX(uidvalidity), 0) FROM mbx_folder WHERE account = ?");
    q.bind(1, account);
    q.executeStep();
    last = std::max(last, q.getColumn(0).getInt64());
  }
  auto now = static_cast<std::int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::int64_t next = std::max(last + 1, now);
  if (next > 0xffffffffLL) next = last + 1;  // never past 32 bits
  SQLite::Statement up(db_,
                       "INSERT INTO mbx_uidvalidity (account, last) VALUES (?, ?)"
                       " ON CONFLICT(account) DO UPDATE SET last = excluded.last");
  up.bind(1, account);
  up.bind(2, next);
  up.exec();
  return static_cast<std::uint32_t>(next);
}

MailboxResult<MailboxStore::Folder> MailboxStore::find_folder(const std::string& account,
                                                              const std::string& folder) {
  auto name = normalize_name(folder);
  if (!name) return std::unexpected(MailboxError::no_such_folder);
  // Prepared once: every command of every session looks its folder up here.
  if (!find_statement_)
    find_statement_ = std::make_unique<SQLite::Statement>(
        db_, "SELECT id, uidvalidity, uidnext, recent_uid, special, noselect FROM mbx_folder"
             " WHERE account = ? AND name = ?");
  SQLite::Statement& q = *find_statement_;
  q.reset();
  q.bind(1, account);
  q.bind(2, *name);
  struct ResetAfter {
    SQLite::Statement& q;
    ~ResetAfter() {
      try {
        q.reset();
      } catch (...) {
        // A statement that failed stays failed; the next use resets it again.
      }
    }
  } reset_after{q};
  if (!q.executeStep()) {
    SQLite::Statement any(db_, "SELECT 1 FROM mbx_folder WHERE account = ? LIMIT 1");
    any.bind(1, account);
    return std::unexpected(any.executeStep() ? MailboxError::no_such_folder : MailboxError::no_such_account);
  }
  Folder f;
  f.id = q.getColumn(0).getInt64();
  f.uidvalidity = static_cast<std::uint32_t>(q.getColumn(1).getInt64());
  f.uidnext = static_cast<std::uint32_t>(q.getColumn(2).getInt64());
  f.recent_uid = static_cast<std::uint32_t>(q.getColumn(3).getInt64());
  f.special = static_cast<SpecialUse>(q.getColumn(4).getInt());
  f.noselect = q.getColumn(5).getInt() != 0;
  return f;
}

MailboxResult<void> MailboxStore::ensure_account(const std::string& account) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<void> {
    std::lock_guard lock(mutex_);
    Atomic tx(db_);
    bool created = false;
    for (const char* name : standard_folders) {
      SQLite::Statement exists(db_, "SELECT 1 FROM mbx_folder WHERE account = ? AND name = ?");
      exists.bind(1, account);
      exists.bind(2, name);
      if (exists.executeStep()) continue;
      SQLite::Statement ins(db_,
                            "INSERT INTO mbx_folder (account, name, special, subscribed, uidvalidity)"
                            " VALUES (?, ?, ?, 1, ?)");
      ins.bind(1, account);
      ins.bind(2, name);
      ins.bind(3, static_cast<int>(special_of(name)));
      ins.bind(4, static_cast<std::int64_t>(next_uidvalidity(account)));
      ins.exec();
      created = true;
    }
    tx.commit();
    if (created) events.push_back({MailboxEvent::Kind::folders_changed, account, "", {}});
    return {};
  });
  notify(events);
  return r;
}

MessageMeta MailboxStore::compute_meta(std::string_view rfc822) {
  auto root = mime::parse(rfc822);
  MessageMeta m;
  m.envelope = mime::envelope(rfc822, root);
  m.bodystructure = mime::bodystructure(rfc822, root, true);
  m.body = mime::bodystructure(rfc822, root, false);
  m.header_size = static_cast<std::uint32_t>(root.header.size());
  std::string_view h = rfc822.substr(root.header.begin, root.header.size());
  m.from = mime::header_value(h, "From").value_or("");
  m.to = mime::header_value(h, "To").value_or("");
  m.cc = mime::header_value(h, "Cc").value_or("");
  m.bcc = mime::header_value(h, "Bcc").value_or("");
  m.subject = mime::header_value(h, "Subject").value_or("");
  m.message_id = mime::header_value(h, "Message-ID").value_or("");
  if (auto d = mime::header_value(h, "Date")) {
    if (auto parsed = mime::parse_date(*d)) {
      m.sent_date = parsed->first;
      m.sent_date_zone = parsed->second;
    }
  }
  return m;
}

std::string MailboxStore::normalize_line_ends(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
    out += in[i];
  }
  return out;
}

MailboxResult<MailboxStore::Indexed> MailboxStore::insert_message(const std::string& account, const Folder& f,
                                                                   std::string_view rfc822, const Flags& flags,
                                                                   std::int64_t internal_date) {
  auto b = box(account);
  if (!b) return std::unexpected(b.error());
  if (f.noselect) return std::unexpected(MailboxError::no_such_folder);
  std::string msg = normalize_line_ends(rfc822);
  if (msg.size() > max_message_size_) return std::unexpected(MailboxError::too_large);
  MessageMeta meta = compute_meta(msg);
  const std::int64_t content = next_content_id();
  std::string sealed_meta = (*b)->seal(serialize(meta), meta_ad(account, content));
  std::string sealed_body = (*b)->seal(msg, body_ad(account, content));
  std::uint32_t uid = f.uidnext;
  SQLite::Statement body(db_, "INSERT INTO mbx_body (id, body) VALUES (?, ?)");
  body.bind(1, content);
  body.bindNoCopy(2, sealed_body.data(), static_cast<int>(sealed_body.size()));
  body.exec();
  SQLite::Statement meta_row(db_, "INSERT INTO mbx_meta (id, meta) VALUES (?, ?)");
  meta_row.bind(1, content);
  meta_row.bindNoCopy(2, sealed_meta.data(), static_cast<int>(sealed_meta.size()));
  meta_row.exec();
  SQLite::Statement ins(db_,
                        "INSERT INTO mbx_message (folder_id, uid, flags, keywords, internal_date, size, content)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)");
  ins.bind(1, f.id);
  ins.bind(2, static_cast<std::int64_t>(uid));
  ins.bind(3, static_cast<int>(flags.system & 0x1f));
  ins.bind(4, join_keywords(normalize_keywords(flags.keywords)));
  ins.bind(5, internal_date);
  ins.bind(6, static_cast<std::int64_t>(msg.size()));
  ins.bind(7, content);
  ins.exec();
  SQLite::Statement upd(db_, "UPDATE mbx_folder SET uidnext = ? WHERE id = ?");
  upd.bind(1, static_cast<std::int64_t>(uid) + 1);
  upd.bind(2, f.id);
  upd.exec();
  Indexed added;
  added.info.uid = uid;
  added.info.flags.system = static_cast<std::uint8_t>(flags.system & 0x1f);
  added.info.flags.keywords = normalize_keywords(flags.keywords);
  added.info.internal_date = internal_date;
  added.info.size = static_cast<std::uint32_t>(msg.size());
  added.content = content;
  // The metadata is at hand: kept for the first FETCH of the new message (if the index is loaded).
  added.meta = std::make_shared<const MessageMeta>(std::move(meta));
  return added;
}



MailboxResult<std::uint32_t> MailboxStore::deliver(const std::string& account, const std::string& folder,
                                                   std::string_view rfc822, const Flags& flags,
                                                   std::int64_t internal_date) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<std::uint32_t> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    Atomic tx(db_);
    auto added = insert_message(account, *f, rfc822, flags, internal_date);
    if (!added) return std::unexpected(added.error());
    tx.commit();
    std::uint32_t uid = added->info.uid;
    add_to_index(f->id, std::move(*added));
    events.push_back({MailboxEvent::Kind::appended, account, *normalize_name(folder), {uid}});
    return uid;
  });
  notify(events);
  return r;
}

MailboxResult<AppendResult> MailboxStore::append(const std::string& account, const std::string& folder,
                                                 std::string_view rfc822, const Flags& flags,
                                                 std::int64_t internal_date) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<AppendResult> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    if (f->special == SpecialUse::outbox) return std::unexpected(MailboxError::not_permitted);
    Atomic tx(db_);
    auto added = insert_message(account, *f, rfc822, flags, internal_date);
    if (!added) return std::unexpected(added.error());
    tx.commit();
    std::uint32_t uid = added->info.uid;
    add_to_index(f->id, std::move(*added));
    events.push_back({MailboxEvent::Kind::appended, account, *normalize_name(folder), {uid}});
    return AppendResult{f->uidvalidity, uid};
  });
  notify(events);
  return r;
}

MailboxResult<void> MailboxStore::remove(const std::string& account, const std::string& folder,
                                         std::span<const std::uint32_t> uids) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<void> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    Atomic tx(db_);
    SQLite::Statement del(db_, "DELETE FROM mbx_message WHERE folder_id = ? AND uid = ?");
    std::vector<std::uint32_t> removed;
    for (auto uid : uids) {
      del.bind(1, f->id);
      del.bind(2, static_cast<std::int64_t>(uid));
      if (del.exec() > 0) removed.push_back(uid);
      del.reset();
    }
    tx.commit();
    std::sort(removed.begin(), removed.end());
    drop_from_index(f->id, removed);
    if (!removed.empty())
      events.push_back({MailboxEvent::Kind::expunged, account, *normalize_name(folder), std::move(removed)});
    return {};
  });
  notify(events);
  return r;
}

MailboxResult<std::vector<FolderInfo>> MailboxStore::list_folders(const std::string& account) {
  return guarded([&]() -> MailboxResult<std::vector<FolderInfo>> {
    std::lock_guard lock(mutex_);
    SQLite::Statement q(db_,
                        "SELECT name, special, subscribed, noselect FROM mbx_folder WHERE account = ?"
                        " ORDER BY name");
    q.bind(1, account);
    std::vector<FolderInfo> out;
    while (q.executeStep()) {
      FolderInfo fi;
      fi.name = q.getColumn(0).getString();
      fi.special_use = static_cast<SpecialUse>(q.getColumn(1).getInt());
      fi.subscribed = q.getColumn(2).getInt() != 0;
      fi.noselect = q.getColumn(3).getInt() != 0;
      fi.read_only = fi.special_use == SpecialUse::outbox;
      out.push_back(std::move(fi));
    }
    if (out.empty()) return std::unexpected(MailboxError::no_such_account);
    // Sorted by name, so children follow their parent (after siblings sharing the prefix).
    for (auto& parent : out) {
      std::string prefix = parent.name + "/";
      parent.has_children = std::any_of(out.begin(), out.end(),
                                        [&](const FolderInfo& c) { return c.name.starts_with(prefix); });
    }
    return out;
  });
}

MailboxResult<FolderStatus> MailboxStore::folder_status(const std::string& account, const std::string& folder) {
  return guarded([&]() -> MailboxResult<FolderStatus> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    if (f->noselect) return std::unexpected(MailboxError::no_such_folder);
    FolderStatus s;
    s.uidvalidity = f->uidvalidity;
    s.uidnext = f->uidnext;
    s.recent_from_uid = f->recent_uid;
    if (auto it = index_.find(f->id); it != index_.end() && committed()) {
      auto& ix = it->second;
      s.messages = static_cast<std::uint32_t>(ix.messages.size());
      if (!ix.unseen)
        ix.unseen = static_cast<std::uint32_t>(std::count_if(ix.messages.begin(), ix.messages.end(), [](const Indexed& m) {
          return !(m.info.flags.system & flag_seen);
        }));
      s.unseen = *ix.unseen;
      return s;
    }
    SQLite::Statement q(db_,
                        "SELECT COUNT(*), COALESCE(SUM((flags & 1) = 0), 0) FROM mbx_message WHERE folder_id = ?");
    q.bind(1, f->id);
    q.executeStep();
    s.messages = static_cast<std::uint32_t>(q.getColumn(0).getInt64());
    s.unseen = static_cast<std::uint32_t>(q.getColumn(1).getInt64());
    return s;
  });
}

MailboxResult<void> MailboxStore::create_folder(const std::string& account, const std::string& folder) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<void> {
    std::lock_guard lock(mutex_);
    auto name = normalize_name(folder);
    if (!name) return std::unexpected(MailboxError::invalid_name);
    auto existing = find_folder(account, *name);
    if (!existing && existing.error() == MailboxError::no_such_account)
      return std::unexpected(MailboxError::no_such_account);
    Atomic tx(db_);
    if (existing) {
      if (!existing->noselect) return std::unexpected(MailboxError::folder_exists);
      SQLite::Statement upd(db_, "UPDATE mbx_folder SET noselect = 0, uidvalidity = ? WHERE id = ?");
      upd.bind(1, static_cast<std::int64_t>(next_uidvalidity(account)));
      upd.bind(2, existing->id);
      upd.exec();
    } else {
      // Superior names are created too (RFC 3501 §6.3.3).
      std::size_t pos = 0;
      while (true) {
        pos = name->find('/', pos);
        std::string part = pos == std::string::npos ? *name : name->substr(0, pos);
        SQLite::Statement ins(db_,
                              "INSERT OR IGNORE INTO mbx_folder (account, name, special, uidvalidity)"
                              " VALUES (?, ?, 0, ?)");
        ins.bind(1, account);
        ins.bind(2, part);
        ins.bind(3, static_cast<std::int64_t>(next_uidvalidity(account)));
        ins.exec();
        if (pos == std::string::npos) break;
        ++pos;
      }
    }
    tx.commit();
    events.push_back({MailboxEvent::Kind::folders_changed, account, "", {}});
    return {};
  });
  notify(events);
  return r;
}

MailboxResult<void> MailboxStore::delete_folder(const std::string& account, const std::string& folder) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<void> {
    std::lock_guard lock(mutex_);
    auto name = normalize_name(folder);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    if (*name == "INBOX" || f->special != SpecialUse::none) return std::unexpected(MailboxError::not_permitted);
    SQLite::Statement children(db_, "SELECT 1 FROM mbx_folder WHERE account = ? AND substr(name, 1, ?) = ? LIMIT 1");
    children.bind(1, account);
    children.bind(2, static_cast<int>(name->size() + 1));
    children.bind(3, *name + "/");
    bool has_children = children.executeStep();
    if (has_children && f->noselect) return std::unexpected(MailboxError::no_such_folder);
    Atomic tx(db_);
    std::vector<std::uint32_t> uids;
    {
      SQLite::Statement q(db_, "SELECT uid FROM mbx_message WHERE folder_id = ? ORDER BY uid");
      q.bind(1, f->id);
      while (q.executeStep()) uids.push_back(static_cast<std::uint32_t>(q.getColumn(0).getInt64()));
    }
    SQLite::Statement del(db_, "DELETE FROM mbx_message WHERE folder_id = ?");
    del.bind(1, f->id);
    del.exec();
    if (has_children) {
      SQLite::Statement upd(db_, "UPDATE mbx_folder SET noselect = 1 WHERE id = ?");
      upd.bind(1, f->id);
      upd.exec();
    } else {
      SQLite::Statement d(db_, "DELETE FROM mbx_folder WHERE id = ?");
      d.bind(1, f->id);
      d.exec();
    }
    tx.commit();
    forget_index(f->id);
    if (!uids.empty()) events.push_back({MailboxEvent::Kind::expunged, account, *name, std::move(uids)});
    events.push_back({MailboxEvent::Kind::folders_changed, account, "", {}});
    return {};
  });
  notify(events);
  return r;
}

MailboxResult<void> MailboxStore::rename_folder(const std::string& account, const std::string& from,
                                                const std::string& to) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<void> {
    std::lock_guard lock(mutex_);
    auto src_name = normalize_name(from);
    auto dst_name = normalize_name(to);
    if (!dst_name) return std::unexpected(MailboxError::invalid_name);
    auto src = find_folder(account, from);
    if (!src) return std::unexpected(src.error());
    if (find_folder(account, *dst_name)) return std::unexpected(MailboxError::folder_exists);
    if (*dst_name == *src_name || dst_name->starts_with(*src_name + "/"))
      return std::unexpected(MailboxError::invalid_name);
    if (src->special != SpecialUse::none) return std::unexpected(MailboxError::not_permitted);
    Atomic tx(db_);
    if (*src_name == "INBOX") {
      // RFC 3501 §6.3.5: the messages move to the new folder; INBOX stays, empty.
      SQLite::Statement ins(db_,
                            "INSERT INTO mbx_folder (account, name, special, uidvalidity, uidnext)"
                            " VALUES (?, ?, 0, ?, ?)");
      ins.bind(1, account);
      ins.bind(2, *dst_name);
      ins.bind(3, static_cast<std::int64_t>(next_uidvalidity(account)));
      ins.bind(4, static_cast<std::int64_t>(src->uidnext));
      ins.exec();
      auto new_id = db_.getLastInsertRowid();
      std::vector<std::uint32_t> uids;
      {
        SQLite::Statement q(db_, "SELECT uid FROM mbx_message WHERE folder_id = ? ORDER BY uid");
        q.bind(1, src->id);
        while (q.executeStep()) uids.push_back(static_cast<std::uint32_t>(q.getColumn(0).getInt64()));
      }
      SQLite::Statement mv(db_, "UPDATE mbx_message SET folder_id = ? WHERE folder_id = ?");
      mv.bind(1, new_id);
      mv.bind(2, src->id);
      mv.exec();
      if (!uids.empty()) events.push_back({MailboxEvent::Kind::expunged, account, "INBOX", std::move(uids)});
    } else {
      // The folder and every child: prefix replaced.
      SQLite::Statement upd(db_,
                            "UPDATE mbx_folder SET name = ? || substr(name, ?) WHERE account = ? AND"
                            " (name = ? OR substr(name, 1, ?) = ?)");
      upd.bind(1, *dst_name);
      upd.bind(2, static_cast<int>(src_name->size() + 1));
      upd.bind(3, account);
      upd.bind(4, *src_name);
      upd.bind(5, static_cast<int>(src_name->size() + 1));
      upd.bind(6, *src_name + "/");
      upd.exec();
      // Superior names of the new name are created.
      std::size_t pos = 0;
      while ((pos = dst_name->find('/', pos)) != std::string::npos) {
        SQLite::Statement ins(db_,
                              "INSERT OR IGNORE INTO mbx_folder (account, name, special, uidvalidity)"
                              " VALUES (?, ?, 0, ?)");
        ins.bind(1, account);
        ins.bind(2, dst_name->substr(0, pos));
        ins.bind(3, static_cast<std::int64_t>(next_uidvalidity(account)));
        ins.exec();
        ++pos;
      }
    }
    tx.commit();
    // Folder ids stay with their rows (a renamed folder keeps its id and messages); INBOX's moved
    // out. Either way the affected indexes are rebuilt on next use.
    forget_index(src->id);
    events.push_back({MailboxEvent::Kind::folders_changed, account, "", {}});
    return {};
  });
  notify(events);
  return r;
}

MailboxResult<void> MailboxStore::set_subscribed(const std::string& account, const std::string& folder,
                                                 bool subscribed) {
  return guarded([&]() -> MailboxResult<void> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    SQLite::Statement upd(db_, "UPDATE mbx_folder SET subscribed = ? WHERE id = ?");
    upd.bind(1, subscribed ? 1 : 0);
    upd.bind(2, f->id);
    upd.exec();
    return {};
  });
}

MailboxResult<std::uint32_t> MailboxStore::take_recent(const std::string& account, const std::string& folder) {
  return guarded([&]() -> MailboxResult<std::uint32_t> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    if (f->recent_uid != f->uidnext) {
      SQLite::Statement upd(db_, "UPDATE mbx_folder SET recent_uid = uidnext WHERE id = ?");
      upd.bind(1, f->id);
      upd.exec();
    }
    return f->recent_uid;
  });
}

MailboxResult<std::vector<MessageInfo>> MailboxStore::messages(const std::string& account,
                                                               const std::string& folder) {
  auto l = listing(account, folder);
  if (!l) return std::unexpected(l.error());
  return **l;
}

MailboxResult<Mailbox::Listing> MailboxStore::listing(const std::string& account, const std::string& folder) {
  return guarded([&]() -> MailboxResult<Listing> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    return listing_locked(account, *f);
  });
}

MailboxResult<Mailbox::Listing> MailboxStore::listing_locked(const std::string& account, const Folder& f) {
  if (auto* ix = index_of(account, f)) {
    if (!ix->snapshot) {
      auto v = std::make_shared<std::vector<MessageInfo>>();
      v->reserve(ix->messages.size());
      for (auto& m : ix->messages) v->push_back(m.info);
      ix->snapshot = std::move(v);
    }
    return ix->snapshot;
  }
  // Inside a transaction of the engine's: read what the connection sees, keep nothing.
  auto out = std::make_shared<std::vector<MessageInfo>>();
  SQLite::Statement q(db_,
                      "SELECT uid, flags, keywords, internal_date, size FROM mbx_message"
                      " WHERE folder_id = ? ORDER BY uid");
  q.bind(1, f.id);
  while (q.executeStep()) {
    MessageInfo m;
    m.uid = static_cast<std::uint32_t>(q.getColumn(0).getInt64());
    m.flags.system = static_cast<std::uint8_t>(q.getColumn(1).getInt());
    const char* kw = q.getColumn(2).getText();
    if (kw && *kw) m.flags.keywords = split_keywords(kw);
    m.internal_date = q.getColumn(3).getInt64();
    m.size = static_cast<std::uint32_t>(q.getColumn(4).getInt64());
    out->push_back(std::move(m));
  }
  return Listing(std::move(out));
}

MailboxResult<MessageMeta> MailboxStore::message_meta(const std::string& account, const std::string& folder,
                                                      std::uint32_t uid) {
  return guarded([&]() -> MailboxResult<MessageMeta> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    std::uint32_t one[] = {uid};
    bool corrupt = false;
    auto r = metas_locked(account, *f, one, &corrupt);
    if (!r) return std::unexpected(r.error());
    if (!(*r)[0]) return std::unexpected(corrupt ? MailboxError::corrupt : MailboxError::no_such_message);
    return *(*r)[0];
  });
}

MailboxResult<std::vector<SharedMeta>> MailboxStore::shared_metas(const std::string& account,
                                                                  const std::string& folder,
                                                                  std::span<const std::uint32_t> uids) {
  return guarded([&]() -> MailboxResult<std::vector<SharedMeta>> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    return metas_locked(account, *f, uids);
  });
}

MailboxResult<std::vector<SharedMeta>> MailboxStore::metas_locked(const std::string& account, const Folder& f,
                                                                  std::span<const std::uint32_t> uids,
                                                                  bool* any_corrupt) {
  auto b = box(account);
  if (!b) return std::unexpected(b.error());
  std::vector<SharedMeta> out(uids.size());
  if (uids.empty()) return out;
  FolderIndex* ix = index_of(account, f);
  // What the index already holds; the rest is read and opened below.
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < uids.size(); ++i) {
    if (ix) {
      auto* m = indexed(*ix, uids[i]);
      if (!m) continue;  // not in the folder
      if (m->meta) {
        out[i] = m->meta;
        continue;
      }
    }
    todo.push_back(i);
  }
  if (todo.empty()) return out;
  // A value that fails to open (tampered, or moved from another row) leaves its entry null: the
  // other messages of the batch still read, and message_meta() of that UID says corrupt.
  auto open = [&](std::int64_t content, const SQLite::Column& col) -> SharedMeta {
    auto plain = (*b)->open(blob_of(col), meta_ad(account, content));
    std::optional<MessageMeta> meta;
    if (plain) meta = deserialize(*plain);
    if (!meta) {
      if (any_corrupt) *any_corrupt = true;
      return nullptr;
    }
    return std::make_shared<const MessageMeta>(std::move(*meta));
  };
  auto keep = [&](std::size_t i, SharedMeta meta) {
    if (!meta) return;
    if (ix)
      if (auto* m = indexed(*ix, uids[i])) keep_meta(*m, meta);
    out[i] = std::move(meta);
  };
  std::uint32_t lo = UINT32_MAX, hi = 0;
  for (auto i : todo) {
    lo = std::min(lo, uids[i]);
    hi = std::max(hi, uids[i]);
  }
  if (static_cast<std::uint64_t>(hi - lo) < todo.size() * 4ull) {
    // Dense: one range scan, matched back to the requested positions.
    std::unordered_multimap<std::uint32_t, std::size_t> where;
    where.reserve(todo.size());
    for (auto i : todo) where.emplace(uids[i], i);
    SQLite::Statement q(db_, "SELECT x.uid, x.content, m.meta FROM mbx_message x LEFT JOIN mbx_meta m ON m.id = x.content"
                             " WHERE x.folder_id = ? AND x.uid BETWEEN ? AND ?");
    q.bind(1, f.id);
    q.bind(2, static_cast<std::int64_t>(lo));
    q.bind(3, static_cast<std::int64_t>(hi));
    while (q.executeStep()) {
      auto [first, last] = where.equal_range(static_cast<std::uint32_t>(q.getColumn(0).getInt64()));
      if (first == last) continue;
      auto m = open(q.getColumn(1).getInt64(), q.getColumn(2));
      for (auto it = first; it != last; ++it) keep(it->second, m);
    }
  } else {
    SQLite::Statement q(db_, "SELECT x.content, m.meta FROM mbx_message x LEFT JOIN mbx_meta m ON m.id = x.content"
                             " WHERE x.folder_id = ? AND x.uid = ?");
    for (auto i : todo) {
      q.bind(1, f.id);
      q.bind(2, static_cast<std::int64_t>(uids[i]));
      if (q.executeStep()) keep(i, open(q.getColumn(0).getInt64(), q.getColumn(1)));
      q.reset();
    }
  }
  return out;
}

MailboxResult<std::string> MailboxStore::read_message(const std::string& account, const std::string& folder,
                                                      std::uint32_t uid) {
  return guarded([&]() -> MailboxResult<std::string> {
    std::lock_guard lock(mutex_);
    auto b = box(account);
    if (!b) return std::unexpected(b.error());
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    SQLite::Statement q(db_, "SELECT x.content, b.body FROM mbx_message x LEFT JOIN mbx_body b ON b.id = x.content"
                             " WHERE x.folder_id = ? AND x.uid = ?");
    q.bind(1, f->id);
    q.bind(2, static_cast<std::int64_t>(uid));
    if (!q.executeStep()) return std::unexpected(MailboxError::no_such_message);
    auto plain = (*b)->open(blob_of(q.getColumn(1)), body_ad(account, q.getColumn(0).getInt64()));
    if (!plain) return std::unexpected(MailboxError::corrupt);
    return std::move(*plain);
  });
}

MailboxResult<std::vector<FlagUpdate>> MailboxStore::store_flags(const std::string& account,
                                                                 const std::string& folder,
                                                                 std::span<const std::uint32_t> uids, FlagOp op,
                                                                 const Flags& flags) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<std::vector<FlagUpdate>> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    std::vector<FlagUpdate> out;
    if (uids.empty()) return out;
    std::set<std::uint32_t> wanted(uids.begin(), uids.end());
    Flags norm{static_cast<std::uint8_t>(flags.system & 0x1f), normalize_keywords(flags.keywords)};
    Atomic tx(db_);
    {
      SQLite::Statement q(db_,
                          "SELECT uid, flags, keywords FROM mbx_message"
                          " WHERE folder_id = ? AND uid BETWEEN ? AND ? ORDER BY uid");
      q.bind(1, f->id);
      q.bind(2, static_cast<std::int64_t>(*wanted.begin()));
      q.bind(3, static_cast<std::int64_t>(*wanted.rbegin()));
      SQLite::Statement upd(db_, "UPDATE mbx_message SET flags = ?, keywords = ? WHERE folder_id = ? AND uid = ?");
      while (q.executeStep()) {
        auto uid = static_cast<std::uint32_t>(q.getColumn(0).getInt64());
        if (!wanted.contains(uid)) continue;
        Flags cur;
        cur.system = static_cast<std::uint8_t>(q.getColumn(1).getInt());
        cur.keywords = split_keywords(q.getColumn(2).getString());
        Flags next = apply(cur, op, norm);
        if (next == cur) continue;
        upd.bind(1, static_cast<int>(next.system));
        upd.bind(2, join_keywords(next.keywords));
        upd.bind(3, f->id);
        upd.bind(4, static_cast<std::int64_t>(uid));
        upd.exec();
        upd.reset();
        out.push_back({uid, std::move(next)});
      }
    }
    tx.commit();
    if (!out.empty()) {
      update_index(f->id, [&](FolderIndex& ix) {
        for (auto& u : out)
          if (auto* m = indexed(ix, u.uid)) m->info.flags = u.flags;
      });
    }
    if (!out.empty()) {
      MailboxEvent e{MailboxEvent::Kind::flags_changed, account, *normalize_name(folder), {}};
      for (auto& u : out) e.uids.push_back(u.uid);
      events.push_back(std::move(e));
    }
    return out;
  });
  notify(events);
  return r;
}

MailboxResult<std::vector<std::uint32_t>> MailboxStore::expunge(
    const std::string& account, const std::string& folder, std::optional<std::span<const std::uint32_t>> only_uids) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<std::vector<std::uint32_t>> {
    std::lock_guard lock(mutex_);
    auto f = find_folder(account, folder);
    if (!f) return std::unexpected(f.error());
    if (f->special == SpecialUse::outbox) return std::unexpected(MailboxError::not_permitted);
    std::vector<std::uint32_t> removed;
    std::set<std::uint32_t> only;
    if (only_uids) only.insert(only_uids->begin(), only_uids->end());
    Atomic tx(db_);
    {
      SQLite::Statement q(db_,
                          "SELECT uid FROM mbx_message"
                          " WHERE folder_id = ? AND (flags & 8) != 0 ORDER BY uid");
      q.bind(1, f->id);
      while (q.executeStep()) {
        auto uid = static_cast<std::uint32_t>(q.getColumn(0).getInt64());
        if (!only_uids || only.contains(uid)) removed.push_back(uid);
      }
      SQLite::Statement del(db_, "DELETE FROM mbx_message WHERE folder_id = ? AND uid = ?");
      for (auto uid : removed) {
        del.bind(1, f->id);
        del.bind(2, static_cast<std::int64_t>(uid));
        del.exec();
        del.reset();
      }
    }
    tx.commit();
    drop_from_index(f->id, removed);
    if (!removed.empty()) events.push_back({MailboxEvent::Kind::expunged, account, *normalize_name(folder), removed});
    return removed;
  });
  notify(events);
  return r;
}

MailboxResult<CopyResult> MailboxStore::copy_locked(const std::string& account, const std::string& from,
                                                    std::span<const std::uint32_t> uids, const std::string& to,
                                                    bool move, std::vector<MailboxEvent>& events) {
  auto src = find_folder(account, from);
  if (!src) return std::unexpected(src.error());
  auto dst = find_folder(account, to);
  if (!dst) return std::unexpected(dst.error());
  if (dst->noselect) return std::unexpected(MailboxError::no_such_folder);
  if (dst->special == SpecialUse::outbox || (move && src->special == SpecialUse::outbox))
    return std::unexpected(MailboxError::not_permitted);
  CopyResult out;
  out.uidvalidity = dst->uidvalidity;
  std::vector<std::uint32_t> sorted(uids.begin(), uids.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::uint32_t next = dst->uidnext;
  const crypto::SealedBox* sealer = nullptr;
  if (!move) {
    auto b = box(account);
    if (!b) return std::unexpected(b.error());
    sealer = *b;
  }
  Atomic tx(db_);
  {
    // Sealed content is bound to (account, content id), not to the folder or the UID: a move
    // only renumbers the small message row and its content opens as before. A copy is a new
    // message with content of its own (expunging either leaves the other whole), so it gets a new
    // content id and is resealed under it. Its values are opened under the source's id first: a
    // tampered source makes the COPY fail (corrupt) instead of being copied. Naming the source's
    // id in the copy's values instead would save the reseal, but then what a value is bound to
    // would outlive the row that named it, and content ids can be reused once their rows are gone.
    SQLite::Statement mv(db_, "UPDATE mbx_message SET folder_id = ?, uid = ? WHERE folder_id = ? AND uid = ?");
    SQLite::Statement row(db_,
                          "SELECT x.flags, x.keywords, x.internal_date, x.size, x.content, b.body, m.meta"
                          " FROM mbx_message x LEFT JOIN mbx_body b ON b.id = x.content"
                          " LEFT JOIN mbx_meta m ON m.id = x.content WHERE x.folder_id = ? AND x.uid = ?");
    SQLite::Statement body(db_, "INSERT INTO mbx_body (id, body) VALUES (?, ?)");
    SQLite::Statement meta(db_, "INSERT INTO mbx_meta (id, meta) VALUES (?, ?)");
    std::int64_t copy = move ? 0 : next_content_id();
    SQLite::Statement ins(db_,
                          "INSERT INTO mbx_message (folder_id, uid, flags, keywords, internal_date, size, content)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?)");
    for (auto uid : sorted) {
      if (move) {
        mv.bind(1, dst->id);
        mv.bind(2, static_cast<std::int64_t>(next));
        mv.bind(3, src->id);
        mv.bind(4, static_cast<std::int64_t>(uid));
        int n = mv.exec();
        mv.reset();
        if (n == 0) continue;
      } else {
        row.bind(1, src->id);
        row.bind(2, static_cast<std::int64_t>(uid));
        if (!row.executeStep()) {
          row.reset();
          continue;
        }
        int flags = row.getColumn(0).getInt();
        std::string keywords = row.getColumn(1).getString();
        std::int64_t date = row.getColumn(2).getInt64();
        std::int64_t size = row.getColumn(3).getInt64();
        std::int64_t content = row.getColumn(4).getInt64();
        auto plain_body = sealer->open(blob_of(row.getColumn(5)), body_ad(account, content));
        auto plain_meta = sealer->open(blob_of(row.getColumn(6)), meta_ad(account, content));
        row.reset();
        if (!plain_body || !plain_meta) return std::unexpected(MailboxError::corrupt);
        std::string sealed_body = sealer->seal(*plain_body, body_ad(account, copy));
        std::string sealed_meta = sealer->seal(*plain_meta, meta_ad(account, copy));
        body.bind(1, copy);
        body.bindNoCopy(2, sealed_body.data(), static_cast<int>(sealed_body.size()));
        body.exec();
        body.reset();
        meta.bind(1, copy);
        meta.bindNoCopy(2, sealed_meta.data(), static_cast<int>(sealed_meta.size()));
        meta.exec();
        meta.reset();
        ins.bind(1, dst->id);
        ins.bind(2, static_cast<std::int64_t>(next));
        ins.bind(3, flags);
        ins.bind(4, keywords);
        ins.bind(5, date);
        ins.bind(6, size);
        ins.bind(7, copy++);
        ins.exec();
        ins.reset();
      }
      out.source_uids.push_back(uid);
      out.dest_uids.push_back(next++);
    }
    SQLite::Statement upd(db_, "UPDATE mbx_folder SET uidnext = ? WHERE id = ?");
    upd.bind(1, static_cast<std::int64_t>(next));
    upd.bind(2, dst->id);
    upd.exec();
  }
  tx.commit();
  // Rare enough to reload: both folders' indexes are rebuilt on next use.
  if (!out.dest_uids.empty()) {
    forget_index(dst->id);
    if (move) forget_index(src->id);
  }
  if (!out.dest_uids.empty()) {
    events.push_back({MailboxEvent::Kind::appended, account, *normalize_name(to), out.dest_uids});
    if (move) events.push_back({MailboxEvent::Kind::expunged, account, *normalize_name(from), out.source_uids});
  }
  return out;
}

MailboxResult<CopyResult> MailboxStore::copy(const std::string& account, const std::string& from,
                                             std::span<const std::uint32_t> uids, const std::string& to) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<CopyResult> {
    std::lock_guard lock(mutex_);
    return copy_locked(account, from, uids, to, false, events);
  });
  notify(events);
  return r;
}

MailboxResult<CopyResult> MailboxStore::move(const std::string& account, const std::string& from,
                                             std::span<const std::uint32_t> uids, const std::string& to) {
  std::vector<MailboxEvent> events;
  auto r = guarded([&]() -> MailboxResult<CopyResult> {
    std::lock_guard lock(mutex_);
    return copy_locked(account, from, uids, to, true, events);
  });
  notify(events);
  return r;
}

std::uint64_t MailboxStore::add_listener(MailboxListener listener) {
  std::lock_guard lock(listeners_mutex_);
  auto id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void MailboxStore::remove_listener(std::uint64_t id) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.erase(id);
}

void MailboxStore::notify(const std::vector<MailboxEvent>& events) {
  if (events.empty()) return;
  std::vector<MailboxListener> copy;
  {
    std::lock_guard lock(listeners_mutex_);
    for (auto& [id, l] : listeners_) copy.push_back(l);
  }
  for (auto& e : events)
    for (auto& l : copy) l(e);
}

}  // namespace fcpmail
