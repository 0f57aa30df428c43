#include "store/mailbox_store.h"

#include "imap/imap_session.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <doctest/doctest.h>

#include <map>
#include <thread>
#include <unistd.h>

using namespace fcpmail;

namespace {

const std::string alice = "alice@test.freemail";

crypto::Key256 test_key(std::uint8_t seed) {
  crypto::Key256 k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i);
  return k;
}

std::string message(int n) {
  return "From: Bob <bob@example.org>\r\nTo: alice@test.freemail\r\nSubject: message " + std::to_string(n) +
         "\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n\r\nbody " + std::to_string(n) + "\r\n";
}

struct Fixture {
  SQLite::Database db{":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
  MailboxStore store{db};
  Fixture() {
    store.unlock(alice, test_key(1));
    REQUIRE(store.ensure_account(alice));
  }
};

std::vector<std::uint32_t> uids_of(const std::vector<MessageInfo>& v) {
  std::vector<std::uint32_t> r;
  for (auto& m : v) r.push_back(m.uid);
  return r;
}

}  // namespace

TEST_CASE("ensure_account creates the standard folders once, with special use") {
  Fixture f;
  REQUIRE(f.store.ensure_account(alice));
  auto folders = f.store.list_folders(alice);
  REQUIRE(folders);
  std::vector<std::string> names;
  for (auto& fi : *folders) names.push_back(fi.name);
  CHECK(names == std::vector<std::string>{"Drafts", "INBOX", "Outbox", "Sent", "Trash"});
  for (auto& fi : *folders) {
    if (fi.name == "Sent") CHECK(fi.special_use == SpecialUse::sent);
    if (fi.name == "Trash") CHECK(fi.special_use == SpecialUse::trash);
    if (fi.name == "Outbox") CHECK(fi.read_only);
  }
  CHECK(f.store.list_folders("nobody@x").error() == MailboxError::no_such_account);
}

TEST_CASE("deliver: UIDs increase, are never reused, bodies and metadata round-trip") {
  Fixture f;
  auto u1 = f.store.deliver(alice, "inbox", message(1), {}, 1000);
  auto u2 = f.store.deliver(alice, "INBOX", message(2), {flag_seen, {"$Label1"}}, 2000);
  REQUIRE(u1);
  REQUIRE(u2);
  CHECK(*u1 == 1);
  CHECK(*u2 == 2);
  CHECK(f.store.read_message(alice, "INBOX", 2) == message(2));
  auto meta = f.store.message_meta(alice, "INBOX", 1);
  REQUIRE(meta);
  CHECK(meta->subject == "message 1");
  CHECK(meta->from == "Bob <bob@example.org>");
  CHECK(meta->sent_date == 1057049557);
  auto list = f.store.messages(alice, "INBOX");
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[1].flags == Flags{flag_seen, {"$Label1"}});
  CHECK((*list)[1].internal_date == 2000);
  CHECK((*list)[1].size == message(2).size());
  // Expunge and deliver again: the UID keeps increasing.
  std::vector<std::uint32_t> two{2};
  REQUIRE(f.store.store_flags(alice, "INBOX", two, FlagOp::add, {flag_deleted, {}}));
  CHECK(f.store.expunge(alice, "INBOX") == std::vector<std::uint32_t>{2});
  CHECK(f.store.deliver(alice, "INBOX", message(3), {}, 3000) == 3u);
  auto st = f.store.folder_status(alice, "INBOX");
  CHECK(st->uidnext == 4);
  CHECK(st->messages == 2);
}

TEST_CASE("bodies are sealed at rest and need the account's key") {
  Fixture f;
  REQUIRE(f.store.deliver(alice, "INBOX", message(7), {}, 1));
  SQLite::Statement q(f.db, "SELECT b.body, m.meta FROM mbx_body b JOIN mbx_meta m ON m.id = b.id");
  REQUIRE(q.executeStep());
  std::string body = q.getColumn(0).getString();
  std::string meta = q.getColumn(1).getString();
  CHECK(body.find("body 7") == std::string::npos);
  CHECK(meta.find("message 7") == std::string::npos);
  CHECK_FALSE(q.executeStep());
  f.store.lock(alice);
  CHECK(f.store.read_message(alice, "INBOX", 1).error() == MailboxError::locked);
  CHECK(f.store.deliver(alice, "INBOX", message(8), {}, 1).error() == MailboxError::locked);
  f.store.unlock(alice, test_key(9));  // the wrong key
  CHECK(f.store.read_message(alice, "INBOX", 1).error() == MailboxError::corrupt);
  f.store.unlock(alice, test_key(1));
  CHECK(f.store.read_message(alice, "INBOX", 1) == message(7));
}

TEST_CASE("bare LF line ends are stored as CRLF") {
  Fixture f;
  REQUIRE(f.store.deliver(alice, "INBOX", "Subject: x\n\nline\n", {}, 1));
  CHECK(f.store.read_message(alice, "INBOX", 1) == "Subject: x\r\n\r\nline\r\n");
  CHECK(f.store.messages(alice, "INBOX")->at(0).size == 20);
}

TEST_CASE("flags: add, remove, replace, keywords case-insensitive; only changes are reported") {
  Fixture f;
  for (int i = 1; i <= 3; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {}, i));
  std::vector<std::uint32_t> all{1, 2, 3, 99};
  auto r = f.store.store_flags(alice, "INBOX", all, FlagOp::add, {flag_seen, {"Work"}});
  REQUIRE(r);
  CHECK(r->size() == 3);
  r = f.store.store_flags(alice, "INBOX", all, FlagOp::add, {flag_seen, {"work"}});
  CHECK(r->empty());
  std::vector<std::uint32_t> one{1};
  r = f.store.store_flags(alice, "INBOX", one, FlagOp::remove, {0, {"WORK"}});
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].flags == Flags{flag_seen, {}});
  r = f.store.store_flags(alice, "INBOX", one, FlagOp::replace, {flag_flagged | flag_answered, {"b", "a"}});
  CHECK((*r)[0].flags == Flags{flag_flagged | flag_answered, {"a", "b"}});
  CHECK(f.store.folder_status(alice, "INBOX")->unseen == 1);
}

TEST_CASE("copy and move keep flags and dates and report the UID mapping") {
  Fixture f;
  for (int i = 1; i <= 3; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {flag_seen, {}}, 100 * i));
  REQUIRE(f.store.create_folder(alice, "Archive"));
  std::vector<std::uint32_t> sel{3, 1};
  auto c = f.store.copy(alice, "INBOX", sel, "Archive");
  REQUIRE(c);
  CHECK(c->source_uids == std::vector<std::uint32_t>{1, 3});
  CHECK(c->dest_uids == std::vector<std::uint32_t>{1, 2});
  CHECK(c->uidvalidity == f.store.folder_status(alice, "Archive")->uidvalidity);
  auto m = f.store.move(alice, "INBOX", std::vector<std::uint32_t>{2}, "Archive");
  REQUIRE(m);
  CHECK(m->dest_uids == std::vector<std::uint32_t>{3});
  CHECK(uids_of(*f.store.messages(alice, "INBOX")) == std::vector<std::uint32_t>{1, 3});
  auto arch = f.store.messages(alice, "Archive");
  CHECK(arch->at(2).internal_date == 200);
  CHECK(arch->at(2).flags.system == flag_seen);
  CHECK(f.store.read_message(alice, "Archive", 3) == message(2));
  CHECK(f.store.copy(alice, "INBOX", sel, "Nope").error() == MailboxError::no_such_folder);
  CHECK(f.store.copy(alice, "INBOX", sel, "Outbox").error() == MailboxError::not_permitted);
}

TEST_CASE("folders: create with parents, rename with children, delete keeps a parent as \\Noselect") {
  Fixture f;
  REQUIRE(f.store.create_folder(alice, "a/b/c"));
  CHECK(f.store.create_folder(alice, "a/b").error() == MailboxError::folder_exists);
  CHECK(f.store.create_folder(alice, "bad//name").error() == MailboxError::invalid_name);
  auto v1 = f.store.folder_status(alice, "a/b/c")->uidvalidity;
  REQUIRE(f.store.rename_folder(alice, "a", "x"));
  auto names = [&] {
    std::vector<std::string> r;
    auto folders = f.store.list_folders(alice);
    for (auto& fi : *folders) r.push_back(fi.name + (fi.noselect ? "!" : "") + (fi.has_children ? "+" : ""));
    return r;
  };
  CHECK(names() == std::vector<std::string>{"Drafts", "INBOX", "Outbox", "Sent", "Trash", "x+", "x/b+", "x/b/c"});
  CHECK(f.store.folder_status(alice, "x/b/c")->uidvalidity == v1);  // renaming keeps UIDVALIDITY
  REQUIRE(f.store.delete_folder(alice, "x/b"));
  CHECK(names() == std::vector<std::string>{"Drafts", "INBOX", "Outbox", "Sent", "Trash", "x+", "x/b!+", "x/b/c"});
  CHECK(f.store.folder_status(alice, "x/b").error() == MailboxError::no_such_folder);
  REQUIRE(f.store.create_folder(alice, "x/b"));  // selectable again, with a new UIDVALIDITY
  CHECK(f.store.delete_folder(alice, "INBOX").error() == MailboxError::not_permitted);
  CHECK(f.store.delete_folder(alice, "Sent").error() == MailboxError::not_permitted);
  CHECK(f.store.rename_folder(alice, "x", "x/y").error() == MailboxError::invalid_name);
}

TEST_CASE("renaming INBOX moves its messages and leaves it empty") {
  Fixture f;
  REQUIRE(f.store.deliver(alice, "INBOX", message(1), {}, 1));
  REQUIRE(f.store.rename_folder(alice, "INBOX", "Old"));
  CHECK(f.store.messages(alice, "INBOX")->empty());
  CHECK(f.store.read_message(alice, "Old", 1) == message(1));
  CHECK(f.store.deliver(alice, "INBOX", message(2), {}, 1) == 2u);
}

TEST_CASE("UIDVALIDITY differs for a folder deleted and created again") {
  Fixture f;
  REQUIRE(f.store.create_folder(alice, "Tmp"));
  auto v1 = f.store.folder_status(alice, "Tmp")->uidvalidity;
  REQUIRE(f.store.delete_folder(alice, "Tmp"));
  REQUIRE(f.store.create_folder(alice, "Tmp"));
  CHECK(f.store.folder_status(alice, "Tmp")->uidvalidity != v1);
}

TEST_CASE("the Outbox: the engine delivers and removes; IMAP may not append or expunge") {
  Fixture f;
  auto uid = f.store.deliver(alice, "Outbox", message(1), {}, 1);
  REQUIRE(uid);
  CHECK(f.store.append(alice, "Outbox", message(2), {}, 1).error() == MailboxError::not_permitted);
  CHECK(f.store.expunge(alice, "Outbox").error() == MailboxError::not_permitted);
  std::vector<std::uint32_t> u{*uid};
  REQUIRE(f.store.remove(alice, "Outbox", u));
  CHECK(f.store.messages(alice, "Outbox")->empty());
}

TEST_CASE("listeners see deliveries, flag changes and expunges of every writer") {
  Fixture f;
  std::vector<MailboxEvent> seen;
  auto id = f.store.add_listener([&](const MailboxEvent& e) { seen.push_back(e); });
  REQUIRE(f.store.deliver(alice, "INBOX", message(1), {}, 1));
  REQUIRE(f.store.store_flags(alice, "INBOX", std::vector<std::uint32_t>{1}, FlagOp::add, {flag_deleted, {}}));
  REQUIRE(f.store.expunge(alice, "INBOX"));
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].kind == MailboxEvent::Kind::appended);
  CHECK(seen[0].folder == "INBOX");
  CHECK(seen[0].uids == std::vector<std::uint32_t>{1});
  CHECK(seen[1].kind == MailboxEvent::Kind::flags_changed);
  CHECK(seen[2].kind == MailboxEvent::Kind::expunged);
  f.store.remove_listener(id);
  REQUIRE(f.store.deliver(alice, "INBOX", message(2), {}, 1));
  CHECK(seen.size() == 3);
}

TEST_CASE("take_recent gives recent messages to one session only") {
  Fixture f;
  REQUIRE(f.store.deliver(alice, "INBOX", message(1), {}, 1));
  CHECK(f.store.take_recent(alice, "INBOX") == 1u);
  CHECK(f.store.take_recent(alice, "INBOX") == 2u);
  REQUIRE(f.store.deliver(alice, "INBOX", message(2), {}, 1));
  CHECK(f.store.take_recent(alice, "INBOX") == 2u);
}

TEST_CASE("deliver inside the engine's own transaction commits or rolls back with it") {
  Fixture f;
  {
    SQLite::Transaction tx(f.db);
    REQUIRE(f.store.deliver(alice, "INBOX", message(1), {}, 1));
    // rolled back: not committed
  }
  CHECK(f.store.messages(alice, "INBOX")->empty());
  CHECK(f.store.folder_status(alice, "INBOX")->uidnext == 1);
  {
    SQLite::Transaction tx(f.db);
    REQUIRE(f.store.deliver(alice, "INBOX", message(1), {}, 1));
    tx.commit();
  }
  CHECK(f.store.messages(alice, "INBOX")->size() == 1);
}

TEST_CASE("persistence: flags, UIDVALIDITY and UIDNEXT survive reopening the database") {
  auto path = std::string("/tmp/fcpmail_mailbox_store_test_") + std::to_string(::getpid()) + ".db";
  std::remove(path.c_str());
  std::uint32_t validity = 0;
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    MailboxStore s(db);
    s.unlock(alice, test_key(1));
    REQUIRE(s.ensure_account(alice));
    REQUIRE(s.deliver(alice, "INBOX", message(1), {flag_flagged, {"k"}}, 5));
    validity = s.folder_status(alice, "INBOX")->uidvalidity;
  }
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    MailboxStore s(db);
    s.unlock(alice, test_key(1));
    auto st = s.folder_status(alice, "INBOX");
    CHECK(st->uidvalidity == validity);
    CHECK(st->uidnext == 2);
    CHECK(s.messages(alice, "INBOX")->at(0).flags == Flags{flag_flagged, {"k"}});
  }
  std::remove(path.c_str());
}

TEST_CASE("concurrent writers from several threads keep UIDs unique") {
  Fixture f;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) (void)f.store.deliver(alice, "INBOX", message(t * 100 + i), {}, 1);
    });
  for (auto& t : threads) t.join();
  auto list = f.store.messages(alice, "INBOX");
  REQUIRE(list->size() == 100);
  CHECK(list->back().uid == 100);
}

TEST_CASE("shared_metas: dense and sparse requests, order kept, missing UIDs are null") {
  Fixture f;
  for (int i = 1; i <= 20; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {}, i));
  std::vector<std::uint32_t> dense{3, 1, 2, 99};
  auto d = f.store.shared_metas(alice, "INBOX", dense);
  REQUIRE(d);
  REQUIRE(d->size() == 4);
  CHECK((*d)[0]->subject == "message 3");
  CHECK((*d)[1]->subject == "message 1");
  CHECK((*d)[3] == nullptr);
  std::vector<std::uint32_t> sparse{20, 1, 5000};
  auto s = f.store.shared_metas(alice, "INBOX", sparse);
  REQUIRE(s);
  CHECK((*s)[0]->subject == "message 20");
  CHECK((*s)[1]->subject == "message 1");
  CHECK((*s)[2] == nullptr);
  f.store.lock(alice);
  CHECK(f.store.shared_metas(alice, "INBOX", dense).error() == MailboxError::locked);
}

TEST_CASE("expunged and deleted messages leave no sealed content behind; copies keep their own") {
  Fixture f;
  for (int i = 1; i <= 3; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {flag_deleted, {}}, i));
  REQUIRE(f.store.create_folder(alice, "Keep"));
  REQUIRE(f.store.copy(alice, "INBOX", std::vector<std::uint32_t>{1}, "Keep"));
  REQUIRE(f.store.move(alice, "INBOX", std::vector<std::uint32_t>{2}, "Keep"));
  auto rows = [&](const char* table) {
    return f.db.execAndGet(std::string("SELECT COUNT(*) FROM ") + table).getInt();
  };
  CHECK(rows("mbx_body") == 4);
  REQUIRE(f.store.expunge(alice, "INBOX"));  // 1 and 3
  CHECK(rows("mbx_body") == 2);
  CHECK(rows("mbx_meta") == 2);
  CHECK(f.store.read_message(alice, "Keep", 1) == message(1));
  CHECK(f.store.read_message(alice, "Keep", 2) == message(2));
  REQUIRE(f.store.delete_folder(alice, "Keep"));
  CHECK(rows("mbx_body") == 0);
  CHECK(rows("mbx_meta") == 0);
}

// ---- the in-memory index and the opened-metadata cache ---------------------------------------

TEST_CASE("index: listings and status follow every change (flags, deliver, expunge, move, rename, delete)") {
  Fixture f;
  for (int i = 1; i <= 5; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {}, 1000 + i));
  REQUIRE(f.store.messages(alice, "INBOX"));  // loads the index
  std::uint32_t two[] = {2, 4};
  REQUIRE(f.store.store_flags(alice, "INBOX", two, FlagOp::add, Flags{flag_seen | flag_deleted, {"$Work"}}));
  auto st = f.store.folder_status(alice, "INBOX");
  REQUIRE(st);
  CHECK(st->messages == 5);
  CHECK(st->unseen == 3);
  auto list = f.store.messages(alice, "INBOX");
  REQUIRE(list);
  CHECK((*list)[1].flags.system == (flag_seen | flag_deleted));
  CHECK((*list)[1].flags.keywords == std::vector<std::string>{"$Work"});
  REQUIRE(f.store.deliver(alice, "INBOX", message(6), {}, 2000));
  CHECK(uids_of(*f.store.messages(alice, "INBOX")) == std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6});
  CHECK(f.store.folder_status(alice, "INBOX")->unseen == 4);
  REQUIRE(f.store.expunge(alice, "INBOX"));
  CHECK(uids_of(*f.store.messages(alice, "INBOX")) == std::vector<std::uint32_t>{1, 3, 5, 6});
  REQUIRE(f.store.create_folder(alice, "Archive"));
  REQUIRE(f.store.messages(alice, "Archive"));
  std::uint32_t one[] = {1};
  REQUIRE(f.store.move(alice, "INBOX", one, "Archive"));
  CHECK(uids_of(*f.store.messages(alice, "INBOX")) == std::vector<std::uint32_t>{3, 5, 6});
  CHECK(uids_of(*f.store.messages(alice, "Archive")) == std::vector<std::uint32_t>{1});
  REQUIRE(f.store.rename_folder(alice, "Archive", "Old"));
  CHECK(uids_of(*f.store.messages(alice, "Old")) == std::vector<std::uint32_t>{1});
  REQUIRE(f.store.delete_folder(alice, "Old"));
  REQUIRE(f.store.create_folder(alice, "Fresh"));  // may reuse the deleted folder's row id
  CHECK(f.store.messages(alice, "Fresh")->empty());
  // What the index says is what the database says (a second store over the same connection).
  MailboxStore fresh(f.db);
  fresh.unlock(alice, test_key(1));
  CHECK(uids_of(*fresh.messages(alice, "INBOX")) == uids_of(*f.store.messages(alice, "INBOX")));
  CHECK(fresh.folder_status(alice, "INBOX")->unseen == f.store.folder_status(alice, "INBOX")->unseen);
}

TEST_CASE("index: a delivery inside the engine's transaction that is rolled back never shows") {
  Fixture f;
  REQUIRE(f.store.deliver(alice, "INBOX", message(1), {}, 1000));
  REQUIRE(f.store.messages(alice, "INBOX"));  // index loaded
  {
    SQLite::Transaction tx(f.db);
    REQUIRE(f.store.deliver(alice, "INBOX", message(2), {}, 1001));
    // Inside the transaction the connection sees the new row.
    CHECK(f.store.messages(alice, "INBOX")->size() == 2);
    std::uint32_t both[] = {1, 2};
    CHECK(f.store.shared_metas(alice, "INBOX", both)->at(1) != nullptr);
    // no commit: rolled back
  }
  CHECK(uids_of(*f.store.messages(alice, "INBOX")) == std::vector<std::uint32_t>{1});
  CHECK(f.store.folder_status(alice, "INBOX")->messages == 1);
  std::uint32_t two[] = {2};
  CHECK(f.store.shared_metas(alice, "INBOX", two)->at(0) == nullptr);
  // The UID comes again for the next message, with that message's own metadata.
  REQUIRE(f.store.deliver(alice, "INBOX", message(3), {}, 1002) == 2u);
  auto m = f.store.message_meta(alice, "INBOX", 2);
  REQUIRE(m);
  CHECK(m->subject == "message 3");
  // A committed transaction keeps its delivery.
  {
    SQLite::Transaction tx(f.db);
    REQUIRE(f.store.deliver(alice, "INBOX", message(4), {}, 1003));
    tx.commit();
  }
  CHECK(uids_of(*f.store.messages(alice, "INBOX")) == std::vector<std::uint32_t>{1, 2, 3});
}

TEST_CASE("metadata cache: opened once, shared, bounded by its budget, dropped by lock()") {
  Fixture f;
  for (int i = 1; i <= 20; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {}, 1000 + i));
  std::vector<std::uint32_t> uids;
  for (std::uint32_t u = 1; u <= 20; ++u) uids.push_back(u);
  auto a = f.store.shared_metas(alice, "INBOX", uids);
  REQUIRE(a);
  auto b = f.store.shared_metas(alice, "INBOX", uids);
  REQUIRE(b);
  CHECK((*a)[7] == (*b)[7]);  // the same object: opened once
  CHECK((*a)[7]->subject == "message 8");
  CHECK(f.store.meta_cache_bytes() > 0);
  // Corrupting the sealed row does not matter while the cache holds the opened value ...
  f.db.exec("UPDATE mbx_meta SET meta = X'00'");
  CHECK(f.store.message_meta(alice, "INBOX", 8)->subject == "message 8");
  // ... and lock() forgets it: locked, then (unlocked again) the corrupt row is reported.
  f.store.lock(alice);
  CHECK(f.store.meta_cache_bytes() == 0);
  CHECK(f.store.message_meta(alice, "INBOX", 8).error() == MailboxError::locked);
  f.store.unlock(alice, test_key(1));
  CHECK(f.store.message_meta(alice, "INBOX", 8).error() == MailboxError::corrupt);
}

TEST_CASE("metadata cache: a zero budget keeps nothing and everything still reads") {
  Fixture f;
  f.store.set_meta_cache_limit(0);
  for (int i = 1; i <= 3; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {}, 1000 + i));
  std::uint32_t uids[] = {3, 1, 2, 3, 9};
  auto r = f.store.shared_metas(alice, "INBOX", uids);
  REQUIRE(r);
  CHECK((*r)[0]->subject == "message 3");
  CHECK((*r)[1]->subject == "message 1");
  CHECK((*r)[3]->subject == "message 3");
  CHECK((*r)[4] == nullptr);
  CHECK(f.store.meta_cache_bytes() == 0);
}

// ---- sealed values are bound to their message (account, content id) -------------------------

namespace {

// The id of the content rows (mbx_body, mbx_meta) of a message.
std::int64_t content_of(SQLite::Database& db, const std::string& account, const std::string& folder,
                        std::uint32_t uid) {
  SQLite::Statement q(db,
                      "SELECT x.content FROM mbx_message x JOIN mbx_folder f ON f.id = x.folder_id"
                      " WHERE f.account = ? AND f.name = ? AND x.uid = ?");
  q.bind(1, account);
  q.bind(2, folder);
  q.bind(3, static_cast<std::int64_t>(uid));
  REQUIRE(q.executeStep());
  return q.getColumn(0).getInt64();
}

// table is mbx_body (column body) or mbx_meta (column meta).
std::string sealed_value(SQLite::Database& db, const std::string& table, std::int64_t id) {
  const std::string column = table == "mbx_body" ? "body" : "meta";
  SQLite::Statement q(db, "SELECT " + column + " FROM " + table + " WHERE id = ?");
  q.bind(1, id);
  REQUIRE(q.executeStep());
  return q.getColumn(0).getString();
}

void put_sealed_value(SQLite::Database& db, const std::string& table, std::int64_t id, const std::string& value) {
  const std::string column = table == "mbx_body" ? "body" : "meta";
  SQLite::Statement q(db, "UPDATE " + table + " SET " + column + " = ? WHERE id = ?");
  q.bind(1, value.data(), static_cast<int>(value.size()));
  q.bind(2, id);
  REQUIRE(q.exec() == 1);
}

// What an attacker with write access to the database file does: exchanges two messages' sealed
// values in place, leaving every other column as it is.
void swap_sealed(SQLite::Database& db, const std::string& table, std::int64_t a, std::int64_t b) {
  std::string va = sealed_value(db, table, a), vb = sealed_value(db, table, b);
  put_sealed_value(db, table, a, vb);
  put_sealed_value(db, table, b, va);
}

// The error of a result, or nullopt if it holds a value (so a check never reads the error of a
// value, which a store without the binding returns here).
template <class T>
std::optional<MailboxError> error_of(const MailboxResult<T>& r) {
  if (r) return std::nullopt;
  return r.error();
}

// Compared without printing the sealed bytes on a failure.
bool same(const std::string& a, const std::string& b) { return a == b; }

}  // namespace

TEST_CASE("sealing: bodies swapped between two messages of one account fail to open, the rest reads") {
  Fixture f;
  for (int i = 1; i <= 3; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {}, i));
  swap_sealed(f.db, "mbx_body", content_of(f.db, alice, "INBOX", 1), content_of(f.db, alice, "INBOX", 2));
  auto one = f.store.read_message(alice, "INBOX", 1);
  auto two = f.store.read_message(alice, "INBOX", 2);
  CHECK(error_of(one) == MailboxError::corrupt);
  CHECK(error_of(two) == MailboxError::corrupt);
  CHECK(f.store.read_message(alice, "INBOX", 3) == message(3));
  CHECK(describe(MailboxError::corrupt) == "stored data failed authentication");
}

TEST_CASE("sealing: metadata swapped between two messages fails to open, alone and in a batch") {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  {
    MailboxStore writer(db);
    writer.unlock(alice, test_key(1));
    REQUIRE(writer.ensure_account(alice));
    for (int i = 1; i <= 3; ++i) REQUIRE(writer.deliver(alice, "INBOX", message(i), {}, i));
  }
  swap_sealed(db, "mbx_meta", content_of(db, alice, "INBOX", 1), content_of(db, alice, "INBOX", 2));
  // A store that has opened nothing yet (as after a restart).
  MailboxStore store(db);
  store.unlock(alice, test_key(1));
  auto one = store.message_meta(alice, "INBOX", 1);
  CHECK(error_of(one) == MailboxError::corrupt);
  // A batch keeps the messages that do open (a FETCH 1:* ENVELOPE loses only the bad ones).
  std::uint32_t all[] = {1, 2, 3};
  auto batch = store.shared_metas(alice, "INBOX", all);
  REQUIRE(batch);
  CHECK((*batch)[0] == nullptr);
  CHECK((*batch)[1] == nullptr);
  REQUIRE((*batch)[2] != nullptr);
  CHECK((*batch)[2]->subject == "message 3");
  std::uint32_t sparse[] = {3, 1000, 2};  // the one-by-one path
  auto shared = store.shared_metas(alice, "INBOX", sparse);
  REQUIRE(shared);
  CHECK((*shared)[0] != nullptr);
  CHECK((*shared)[2] == nullptr);
  CHECK(error_of(store.message_meta(alice, "INBOX", 2)) == MailboxError::corrupt);
  CHECK(error_of(store.message_meta(alice, "INBOX", 1000)) == MailboxError::no_such_message);
}

TEST_CASE("sealing: an older sealed value of another message put back in a message's place is detected") {
  Fixture f;
  f.store.set_meta_cache_limit(0);
  REQUIRE(f.store.deliver(alice, "INBOX", message(1), {flag_deleted, {}}, 1));
  const auto first = content_of(f.db, alice, "INBOX", 1);
  const std::string old_body = sealed_value(f.db, "mbx_body", first);
  const std::string old_meta = sealed_value(f.db, "mbx_meta", first);
  REQUIRE(f.store.expunge(alice, "INBOX"));  // message 1 is gone; its sealed values were kept aside
  REQUIRE(f.store.deliver(alice, "INBOX", message(2), {}, 2));
  REQUIRE(f.store.deliver(alice, "INBOX", message(3), {}, 3));
  const auto third = content_of(f.db, alice, "INBOX", 3);
  put_sealed_value(f.db, "mbx_body", third, old_body);
  put_sealed_value(f.db, "mbx_meta", third, old_meta);
  auto body = f.store.read_message(alice, "INBOX", 3);
  CHECK(error_of(body) == MailboxError::corrupt);
  auto meta = f.store.message_meta(alice, "INBOX", 3);
  CHECK(error_of(meta) == MailboxError::corrupt);
  CHECK(f.store.read_message(alice, "INBOX", 2) == message(2));
  CHECK(f.store.message_meta(alice, "INBOX", 2)->subject == "message 2");
}

TEST_CASE("sealing: IMAP FETCH of a swapped message answers NO, the other messages are fetched") {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  {
    MailboxStore writer(db);
    writer.unlock(alice, test_key(1));
    REQUIRE(writer.ensure_account(alice));
    for (int i = 1; i <= 3; ++i) REQUIRE(writer.deliver(alice, "INBOX", message(i), {}, 1000000000 + i));
  }
  const auto c1 = content_of(db, alice, "INBOX", 1), c2 = content_of(db, alice, "INBOX", 2);
  swap_sealed(db, "mbx_body", c1, c2);
  swap_sealed(db, "mbx_meta", c1, c2);
  MailboxStore store(db);
  store.unlock(alice, test_key(1));
  struct Login final : LoginCheck {
    std::optional<std::string> check_login(const std::string& user, const std::string& password) override {
      if (user == alice && password == "secret") return alice;
      return std::nullopt;
    }
  } login;
  imap::Session s(store, login);
  auto send = [&](const std::string& line) { return s.receive(line + "\r\n"); };
  REQUIRE(send("l LOGIN " + alice + " secret").find("l OK") != std::string::npos);
  REQUIRE(send("s SELECT INBOX").find("s OK") != std::string::npos);
  auto bodies = send("f1 FETCH 1:3 BODY.PEEK[]");
  CHECK(bodies.find("body 3") != std::string::npos);
  CHECK(bodies.find("body 1") == std::string::npos);
  CHECK(bodies.find("body 2") == std::string::npos);
  CHECK(bodies.find("* 1 FETCH") == std::string::npos);
  CHECK(bodies.find("* 2 FETCH") == std::string::npos);
  CHECK(bodies.find("f1 NO ") != std::string::npos);
  auto envelopes = send("f2 FETCH 1:3 ENVELOPE");
  CHECK(envelopes.find("\"message 3\"") != std::string::npos);
  CHECK(envelopes.find("\"message 1\"") == std::string::npos);
  CHECK(envelopes.find("\"message 2\"") == std::string::npos);
  CHECK(envelopes.find("f2 NO ") != std::string::npos);
  // The session goes on: a later command on a good message is answered OK.
  auto later = send("f3 FETCH 3 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
  CHECK(later.find("Subject: message 3") != std::string::npos);
  CHECK(later.find("f3 OK") != std::string::npos);
}

TEST_CASE("sealing: APPEND, COPY, MOVE and renames round-trip; a copy is resealed under its own id") {
  Fixture f;
  auto appended = f.store.append(alice, "INBOX", message(1), {flag_seen, {}}, 10);
  REQUIRE(appended);
  REQUIRE(f.store.deliver(alice, "INBOX", message(2), {}, 20));
  REQUIRE(f.store.create_folder(alice, "Work"));
  std::uint32_t both[] = {1, 2};
  auto copied = f.store.copy(alice, "INBOX", both, "Work");
  REQUIRE(copied);
  REQUIRE(copied->dest_uids == std::vector<std::uint32_t>{1, 2});
  // The copy's content is its own: another id, another sealed value (not the source's bytes).
  const auto src = content_of(f.db, alice, "INBOX", 1), dst = content_of(f.db, alice, "Work", 1);
  CHECK(src != dst);
  CHECK_FALSE(same(sealed_value(f.db, "mbx_body", src), sealed_value(f.db, "mbx_body", dst)));
  CHECK_FALSE(same(sealed_value(f.db, "mbx_meta", src), sealed_value(f.db, "mbx_meta", dst)));
  std::uint32_t two[] = {2};
  REQUIRE(f.store.move(alice, "INBOX", two, "Work"));  // Work: 1, 2 (copies), 3 (moved)
  REQUIRE(f.store.rename_folder(alice, "Work", "Projects/Work"));
  REQUIRE(f.store.rename_folder(alice, "INBOX", "Old"));  // moves INBOX's messages
  // Expunge the copy's source: the copy does not depend on it.
  REQUIRE(f.store.store_flags(alice, "Old", std::vector<std::uint32_t>{1}, FlagOp::add, {flag_deleted, {}}));
  REQUIRE(f.store.expunge(alice, "Old"));
  CHECK(f.store.messages(alice, "Old")->empty());
  // Read through a store that has nothing cached: every value opens from the database.
  MailboxStore fresh(f.db);
  fresh.unlock(alice, test_key(1));
  const int expected[] = {1, 2, 2};
  for (std::uint32_t uid = 1; uid <= 3; ++uid) {
    CAPTURE(uid);
    CHECK(fresh.read_message(alice, "Projects/Work", uid) == message(expected[uid - 1]));
    auto meta = fresh.message_meta(alice, "Projects/Work", uid);
    REQUIRE(meta);
    CHECK(meta->subject == "message " + std::to_string(expected[uid - 1]));
  }
  // A copy's sealed values are bound to the copy: put in place of the moved message's, they fail.
  const auto copy_of_2 = content_of(f.db, alice, "Projects/Work", 2);
  const auto moved_2 = content_of(f.db, alice, "Projects/Work", 3);
  put_sealed_value(f.db, "mbx_body", moved_2, sealed_value(f.db, "mbx_body", copy_of_2));
  CHECK(error_of(fresh.read_message(alice, "Projects/Work", 3)) == MailboxError::corrupt);
  CHECK(fresh.read_message(alice, "Projects/Work", 2) == message(2));
}

TEST_CASE("sealing: COPY of a message whose sealed value fails to open fails and copies nothing") {
  Fixture f;
  for (int i = 1; i <= 2; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {}, i));
  REQUIRE(f.store.create_folder(alice, "Work"));
  swap_sealed(f.db, "mbx_body", content_of(f.db, alice, "INBOX", 1), content_of(f.db, alice, "INBOX", 2));
  std::uint32_t both[] = {1, 2};
  auto r = f.store.copy(alice, "INBOX", both, "Work");
  CHECK(error_of(r) == MailboxError::corrupt);
  CHECK(f.store.messages(alice, "Work")->empty());
  CHECK(f.store.folder_status(alice, "Work")->uidnext == 1);
  CHECK(f.db.execAndGet("SELECT COUNT(*) FROM mbx_body").getInt() == 2);
}

// ---- upgrade of a database written in the first format (sealed values bound to the account) -

namespace {

// The tables as the first format created them.
void create_legacy_tables(SQLite::Database& db) {
  db.exec(
      "CREATE TABLE mbx_folder (id INTEGER PRIMARY KEY, account TEXT NOT NULL, name TEXT NOT NULL,"
      " special INTEGER NOT NULL DEFAULT 0, subscribed INTEGER NOT NULL DEFAULT 0,"
      " noselect INTEGER NOT NULL DEFAULT 0, uidvalidity INTEGER NOT NULL,"
      " uidnext INTEGER NOT NULL DEFAULT 1, recent_uid INTEGER NOT NULL DEFAULT 1, UNIQUE(account, name))");
  db.exec(
      "CREATE TABLE mbx_message (folder_id INTEGER NOT NULL, uid INTEGER NOT NULL,"
      " flags INTEGER NOT NULL DEFAULT 0, keywords TEXT NOT NULL DEFAULT '', internal_date INTEGER NOT NULL,"
      " size INTEGER NOT NULL, content INTEGER NOT NULL, PRIMARY KEY (folder_id, uid)) WITHOUT ROWID");
  db.exec("CREATE TABLE mbx_meta (id INTEGER PRIMARY KEY, meta BLOB NOT NULL)");
  db.exec("CREATE TABLE mbx_body (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  db.exec(
      "CREATE TRIGGER mbx_message_content_gone AFTER DELETE ON mbx_message BEGIN"
      " DELETE FROM mbx_meta WHERE id = old.content; DELETE FROM mbx_body WHERE id = old.content; END");
  db.exec("CREATE TABLE mbx_uidvalidity (account TEXT PRIMARY KEY, last INTEGER NOT NULL)");
}

// Metadata serialised as the first format wrote it: a version byte 1, nine u32-length-prefixed
// strings, then header size, sent date and zone as little-endian 64-bit numbers.
std::string legacy_meta_plaintext(const MessageMeta& m) {
  std::string out(1, '\1');
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  auto u64 = [&](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  for (auto* s : {&m.envelope, &m.bodystructure, &m.body, &m.from, &m.to, &m.cc, &m.bcc, &m.subject, &m.message_id}) {
    u32(static_cast<std::uint32_t>(s->size()));
    out += *s;
  }
  u64(m.header_size);
  u64(static_cast<std::uint64_t>(m.sent_date));
  u64(static_cast<std::uint64_t>(static_cast<std::int64_t>(m.sent_date_zone)));
  return out;
}

struct LegacyMessage {
  std::string account, folder;
  std::uint32_t uid;
  int n;  // message(n)
};

// A database as the first format left it: folders, message rows and values sealed with the
// account-only associated data "mbx-body:<account>" / "mbx-meta:<account>".
void write_legacy_database(SQLite::Database& db, const std::vector<LegacyMessage>& messages,
                           const std::map<std::string, crypto::Key256>& keys) {
  create_legacy_tables(db);
  std::int64_t content = 0;
  for (auto& m : messages) {
    SQLite::Statement folder(db,
                             "INSERT OR IGNORE INTO mbx_folder (account, name, special, subscribed, uidvalidity)"
                             " VALUES (?, ?, 0, 1, 1000)");
    folder.bind(1, m.account);
    folder.bind(2, m.folder);
    folder.exec();
    SQLite::Statement next(db, "UPDATE mbx_folder SET uidnext = ? WHERE account = ? AND name = ?");
    next.bind(1, static_cast<std::int64_t>(m.uid) + 1);
    next.bind(2, m.account);
    next.bind(3, m.folder);
    next.exec();
    crypto::SealedBox box(keys.at(m.account));
    const std::string text = message(m.n);
    const std::string body = box.seal(text, "mbx-body:" + m.account);
    const std::string meta = box.seal(legacy_meta_plaintext(MailboxStore::compute_meta(text)), "mbx-meta:" + m.account);
    ++content;
    SQLite::Statement b(db, "INSERT INTO mbx_body (id, body) VALUES (?, ?)");
    b.bind(1, content);
    b.bind(2, body.data(), static_cast<int>(body.size()));
    b.exec();
    SQLite::Statement mt(db, "INSERT INTO mbx_meta (id, meta) VALUES (?, ?)");
    mt.bind(1, content);
    mt.bind(2, meta.data(), static_cast<int>(meta.size()));
    mt.exec();
    SQLite::Statement row(db,
                          "INSERT INTO mbx_message (folder_id, uid, flags, internal_date, size, content)"
                          " SELECT id, ?, 0, ?, ?, ? FROM mbx_folder WHERE account = ? AND name = ?");
    row.bind(1, static_cast<std::int64_t>(m.uid));
    row.bind(2, static_cast<std::int64_t>(1000 + m.n));
    row.bind(3, static_cast<std::int64_t>(text.size()));
    row.bind(4, content);
    row.bind(5, m.account);
    row.bind(6, m.folder);
    row.exec();
  }
}

std::vector<std::string> all_sealed_values(SQLite::Database& db) {
  std::vector<std::string> out;
  SQLite::Statement q(db, "SELECT b.body, m.meta FROM mbx_body b JOIN mbx_meta m ON m.id = b.id ORDER BY b.id");
  while (q.executeStep()) {
    out.push_back(q.getColumn(0).getString());
    out.push_back(q.getColumn(1).getString());
  }
  return out;
}

}  // namespace

TEST_CASE("upgrade: a database sealed in the first format is resealed at unlock and reads back") {
  const std::string bob = "bob@test.freemail";
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  write_legacy_database(db,
                        {{alice, "INBOX", 1, 1}, {alice, "INBOX", 2, 2}, {alice, "Archive", 7, 3}, {bob, "INBOX", 1, 4}},
                        {{alice, test_key(1)}, {bob, test_key(2)}});
  const auto legacy = all_sealed_values(db);
  MailboxStore store(db);
  // The wrong key opens nothing: nothing is resealed or marked, so the right key still upgrades.
  store.unlock(alice, test_key(9));
  CHECK(all_sealed_values(db) == legacy);
  CHECK(error_of(store.read_message(alice, "INBOX", 1)) == MailboxError::corrupt);
  // Inside a transaction of the engine's that is rolled back, the upgrade is rolled back too.
  {
    SQLite::Transaction tx(db);
    store.unlock(alice, test_key(1));
    CHECK(store.read_message(alice, "INBOX", 1) == message(1));
  }
  CHECK(all_sealed_values(db) == legacy);
  store.unlock(alice, test_key(1));
  CHECK(store.read_message(alice, "INBOX", 1) == message(1));
  CHECK(store.read_message(alice, "INBOX", 2) == message(2));
  CHECK(store.read_message(alice, "Archive", 7) == message(3));
  CHECK(store.message_meta(alice, "INBOX", 2)->subject == "message 2");
  CHECK(store.message_meta(alice, "Archive", 7)->sent_date == 1057049557);
  CHECK(db.execAndGet("SELECT version FROM mbx_seal_format WHERE account = '" + alice + "'").getInt() == 2);
  // Only alice's rows changed; bob's wait for bob's key.
  auto after_alice = all_sealed_values(db);
  for (std::size_t i = 0; i < 6; ++i) CHECK_FALSE(same(after_alice[i], legacy[i]));
  CHECK(same(after_alice[6], legacy[6]));
  CHECK(same(after_alice[7], legacy[7]));
  store.unlock(bob, test_key(2));
  CHECK(store.read_message(bob, "INBOX", 1) == message(4));
  CHECK(store.message_meta(bob, "INBOX", 1)->subject == "message 4");
  // Once only: unlocking again (or a restart) changes nothing.
  const auto upgraded = all_sealed_values(db);
  store.lock(alice);
  store.unlock(alice, test_key(1));
  MailboxStore restarted(db);
  restarted.unlock(alice, test_key(1));
  restarted.unlock(bob, test_key(2));
  CHECK(all_sealed_values(db) == upgraded);
  CHECK(restarted.read_message(alice, "INBOX", 2) == message(2));
  // The upgraded values are bound to their messages: a swap is now detected.
  swap_sealed(db, "mbx_body", content_of(db, alice, "INBOX", 1), content_of(db, alice, "INBOX", 2));
  CHECK(error_of(restarted.read_message(alice, "INBOX", 1)) == MailboxError::corrupt);
  // And the account works on as usual: new mail, copies.
  REQUIRE(restarted.ensure_account(alice));
  auto uid = restarted.deliver(alice, "Archive", message(5), {}, 5);
  REQUIRE(uid);
  CHECK(*uid == 8);
  REQUIRE(restarted.copy(alice, "Archive", std::vector<std::uint32_t>{7, 8}, "INBOX"));
  CHECK(restarted.read_message(alice, "INBOX", 3) == message(3));
  CHECK(restarted.read_message(alice, "INBOX", 4) == message(5));
}

TEST_CASE("upgrade: a value that opens in neither format stays and reads as corrupt; the rest upgrades") {
  SQLite::Database db(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  write_legacy_database(db, {{alice, "INBOX", 1, 1}, {alice, "INBOX", 2, 2}}, {{alice, test_key(1)}});
  put_sealed_value(db, "mbx_body", content_of(db, alice, "INBOX", 2), std::string(40, 'x'));
  MailboxStore store(db);
  store.unlock(alice, test_key(1));
  CHECK(store.read_message(alice, "INBOX", 1) == message(1));
  CHECK(error_of(store.read_message(alice, "INBOX", 2)) == MailboxError::corrupt);
  CHECK(store.message_meta(alice, "INBOX", 2)->subject == "message 2");
  CHECK(db.execAndGet("SELECT COUNT(*) FROM mbx_seal_format").getInt() == 1);
}
