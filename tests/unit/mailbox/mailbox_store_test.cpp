#include "store/mailbox_store.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <doctest/doctest.h>

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

TEST_CASE("message_metas: dense and sparse requests, order kept, missing UIDs are nullopt") {
  Fixture f;
  for (int i = 1; i <= 20; ++i) REQUIRE(f.store.deliver(alice, "INBOX", message(i), {}, i));
  std::vector<std::uint32_t> dense{3, 1, 2, 99};
  auto d = f.store.message_metas(alice, "INBOX", dense);
  REQUIRE(d);
  REQUIRE(d->size() == 4);
  CHECK((*d)[0]->subject == "message 3");
  CHECK((*d)[1]->subject == "message 1");
  CHECK_FALSE((*d)[3].has_value());
  std::vector<std::uint32_t> sparse{20, 1, 5000};
  auto s = f.store.message_metas(alice, "INBOX", sparse);
  REQUIRE(s);
  CHECK((*s)[0]->subject == "message 20");
  CHECK((*s)[1]->subject == "message 1");
  CHECK_FALSE((*s)[2].has_value());
  f.store.lock(alice);
  CHECK(f.store.message_metas(alice, "INBOX", dense).error() == MailboxError::locked);
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
  auto r = f.store.message_metas(alice, "INBOX", uids);
  REQUIRE(r);
  CHECK((*r)[0]->subject == "message 3");
  CHECK((*r)[1]->subject == "message 1");
  CHECK((*r)[3]->subject == "message 3");
  CHECK_FALSE((*r)[4].has_value());
  CHECK(f.store.meta_cache_bytes() == 0);
}
