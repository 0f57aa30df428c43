// Consent changes only by the user's explicit act (contacts add, approving a request, approving
// mail to someone): a submission never creates, re-accepts or un-revokes a contact. And sealed
// outbox rows are bound to (account, outbox id), subject included: rows swapped within an account
// are detected, never shown as each other, never a crash; rows from schema 2 are sealed again.
#include "engine/engine.h"
#include "engine_world.h"
#include "memory_node.h"

#include "crypto/sealed_box.h"
#include "store/database.h"

#include <SQLiteCpp/Statement.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

using namespace fcpmail;
using namespace fcpmail::engine;
using fcpmail::engine::test::MemoryNode;

namespace {

using fcpmail::engine::test::fast_config;

struct World : test::EngineWorld<MemoryNode> {
  explicit World(EngineConfig config = fast_config()) : EngineWorld(config) {}

  std::int64_t account_id(const std::string& address) {
    SQLite::Statement q(*db, "SELECT id FROM account WHERE address = ?");
    q.bind(1, address);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getInt64();
  }
  std::string identity_of(const std::string& address) {
    SQLite::Statement q(*db, "SELECT identity_id FROM account WHERE address = ?");
    q.bind(1, address);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getString();
  }
  // The state of `owner`'s contact row for the account `peer`, "" when there is none.
  std::string contact_state(const std::string& owner, const std::string& peer) {
    SQLite::Statement q(*db, "SELECT state FROM contact WHERE account_id = ? AND identity_id = ?");
    q.bind(1, account_id(owner));
    q.bind(2, identity_of(peer));
    return q.executeStep() ? q.getColumn(0).getString() : std::string();
  }
  std::size_t cts_puts() const {
    std::size_t n = 0;
    for (const auto& u : node.put_log) n += u.find("/r-") != std::string::npos;
    return n;
  }
  void idle(int ms) {
    run_until([] { return false; }, std::chrono::milliseconds(ms));
  }
  // from -> to, approved on both sides, delivered: a channel from `from` to `to` is open.
  void handshake(const std::string& from, const std::string& to) {
    auto id = engine.send(from, {to}, mail(from, to, "hello", "first"));
    REQUIRE(id.has_value());
    REQUIRE(engine.outbox_approve(*id).has_value());
    REQUIRE(run_until([&] { return engine.requests(to)->size() == 1; }));
    REQUIRE(engine.approve_request(engine.requests(to)->front().id).has_value());
    REQUIRE(run_until([&] { return state_of(*id) == "delivered"; }));
  }
};

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// Swaps one sealed column of two outbox rows, as someone with write access to the file could.
void swap_column(SQLite::Database& db, const std::string& column, std::int64_t a, std::int64_t b) {
  auto read = [&](std::int64_t id) {
    SQLite::Statement q(db, "SELECT " + column + " FROM outbox_message WHERE id = ?");
    q.bind(1, id);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getString();
  };
  const std::string va = read(a), vb = read(b);
  REQUIRE(va != vb);
  for (const auto& [id, value] : {std::pair{a, vb}, std::pair{b, va}}) {
    SQLite::Statement u(db, "UPDATE outbox_message SET " + column + " = ? WHERE id = ?");
    u.bind(1, value.data(), static_cast<int>(value.size()));
    u.bind(2, id);
    u.exec();
  }
}

}  // namespace

TEST_CASE("a revoke survives a submission: refused, still revoked, and the next RTS gets no CTS") {
  World w;
  const auto bob = w.create("bob");
  const auto carol = w.create("carol");
  w.handshake(carol, bob);
  REQUIRE(w.engine.revoke_contact(bob, carol).has_value());
  REQUIRE(w.contact_state(bob, carol) == "revoked");

  // Bob's mail client writes to carol: refused with the reason and the way back, nothing queued.
  const auto outbox_before = w.engine.outbox(bob)->size();
  auto refused = w.engine.send(bob, {carol}, w.mail(bob, carol, "re: hello", "are you there?"));
  REQUIRE_FALSE(refused.has_value());
  CHECK(contains(refused.error(), carol + " is revoked"));
  CHECK(contains(refused.error(), "`fcpmail contacts add " + carol + "`"));
  CHECK(w.engine.outbox(bob)->size() == outbox_before);
  CHECK(w.contact_state(bob, carol) == "revoked");
  auto listed = w.engine.contacts(bob).value();
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].state == "revoked");

  // Carol starts a new channel (her old one is gone): her RTS reaches bob and is dropped.
  w.db->exec("UPDATE channel SET state = 'closed'");
  const auto cts_before = w.cts_puts();
  const auto rts_before = w.node.puts_starting_with("KSK@");
  auto again = w.engine.send(carol, {bob}, w.mail(carol, bob, "again", "after the revoke"));
  REQUIRE(again.has_value());
  REQUIRE(w.engine.outbox_approve(*again).has_value());
  REQUIRE(w.run_until([&] { return w.node.puts_starting_with("KSK@") > rts_before; }));
  REQUIRE(w.run_until([&] {
    for (const auto& line : w.log)
      if (contains(line, "dropped: sender") && contains(line, "is revoked")) return true;
    return false;
  }));
  w.idle(1000);
  CHECK(w.cts_puts() == cts_before);
  CHECK(w.engine.requests(bob)->empty());
  CHECK(w.inbox(bob).size() == 1);
  CHECK(w.state_of(*again) != "delivered");
  CHECK(w.contact_state(bob, carol) == "revoked");
}

TEST_CASE("a denied stranger stays denied when the user writes to them") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  auto id = w.engine.send(alice, {bob}, w.mail(alice, bob, "hi", "unwanted"));
  REQUIRE(w.engine.outbox_approve(*id).has_value());
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
  REQUIRE(w.engine.deny_request(w.engine.requests(bob)->front().id).has_value());
  REQUIRE(w.contact_state(bob, alice) == "denied");

  auto refused = w.engine.send(bob, {alice}, w.mail(bob, alice, "re: hi", "who are you?"));
  REQUIRE_FALSE(refused.has_value());
  CHECK(contains(refused.error(), alice + " is denied"));
  CHECK(contains(refused.error(), "`fcpmail contacts add " + alice + "`"));
  CHECK(w.contact_state(bob, alice) == "denied");
  w.idle(1000);  // alice's RTS resends come and go
  CHECK(w.cts_puts() == 0);
  CHECK(w.inbox(bob).empty());

  // `contacts add` is the way back.
  REQUIRE(w.engine.add_contact(bob, alice, "").has_value());
  CHECK(w.contact_state(bob, alice) == "accepted");
  CHECK(w.engine.send(bob, {alice}, w.mail(bob, alice, "re: hi", "welcome after all")).has_value());
}

TEST_CASE("a submission to a new address makes no contact; approving it does, and the mail goes out") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  auto id = w.engine.send(alice, {bob}, w.mail(alice, bob, "hello bob", "first message"));
  REQUIRE(id.has_value());
  w.idle(100);
  CHECK(w.contact_state(alice, bob).empty());  // no row at all, in no state
  CHECK(w.engine.contacts(alice)->empty());
  CHECK(w.state_of(*id) == "held");
  CHECK(w.node.puts_starting_with("KSK@") == 0);
  {
    SQLite::Statement q(*w.db, "SELECT contact_id FROM delivery WHERE outbox_id = ?");
    q.bind(1, *id);
    REQUIRE(q.executeStep());
    CHECK(q.getColumn(0).isNull());
  }

  REQUIRE(w.engine.outbox_approve(*id).has_value());
  CHECK(w.contact_state(alice, bob) == "accepted");
  REQUIRE(w.engine.contacts(alice)->size() == 1);
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
  REQUIRE(w.engine.approve_request(w.engine.requests(bob)->front().id).has_value());
  REQUIRE(w.run_until([&] { return w.state_of(*id) == "delivered"; }));
  REQUIRE(w.inbox(bob).size() == 1);
  CHECK(contains(w.inbox(bob)[0], "first message"));
}

TEST_CASE("approve all accepts each recipient; one revoked meanwhile stays held, saying why") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  const auto carol = w.create("carol");
  w.handshake(alice, bob);
  auto to_bob = w.engine.send(alice, {bob}, w.mail(alice, bob, "2", "second"));
  auto to_carol = w.engine.send(alice, {carol}, w.mail(alice, carol, "1", "to carol"));
  REQUIRE(to_bob.has_value());
  REQUIRE(to_carol.has_value());
  REQUIRE(w.engine.revoke_contact(alice, bob).has_value());
  CHECK(w.contact_state(alice, carol).empty());

  CHECK(w.engine.outbox_approve_all(alice).value() == 1);
  CHECK(w.contact_state(alice, carol) == "accepted");
  CHECK(w.contact_state(alice, bob) == "revoked");
  auto held = w.engine.outbox_show(*to_bob).value();
  CHECK(held.entry.recipients.front().code == "held");
  CHECK(contains(held.entry.recipients.front().state, "is revoked"));
  auto again = w.engine.outbox_approve(*to_bob);
  REQUIRE_FALSE(again.has_value());
  CHECK(contains(again.error(), "stays held"));
  CHECK(contains(again.error(), "`fcpmail contacts add " + bob + "`"));

  // Allowed again by the user, then approved: it goes out.
  REQUIRE(w.engine.add_contact(alice, bob, "").has_value());
  REQUIRE(w.engine.outbox_approve(*to_bob).has_value());
  CHECK(w.state_of(*to_bob) != "held");
}

TEST_CASE("revoking a contact holds the mail to them that is not delivered yet") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  w.handshake(alice, bob);
  auto id = w.engine.send(alice, {bob}, w.mail(alice, bob, "2", "second"));
  REQUIRE(w.engine.outbox_approve(*id).has_value());
  REQUIRE(w.engine.revoke_contact(alice, bob).has_value());
  w.idle(500);
  CHECK(w.state_of(*id) == "held");
  CHECK(w.inbox(bob).size() == 1);
}

TEST_CASE("outbound approval auto: the standing approval accepts at release, never a revoked contact") {
  auto config = fast_config();
  config.outbound_auto = true;
  World w(config);
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  auto id = w.engine.send(alice, {bob}, w.mail(alice, bob, "auto", "released at once"));
  REQUIRE(id.has_value());
  CHECK(w.contact_state(alice, bob) == "accepted");
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
  REQUIRE(w.engine.approve_request(w.engine.requests(bob)->front().id).has_value());
  REQUIRE(w.run_until([&] { return w.state_of(*id) == "delivered"; }));

  REQUIRE(w.engine.revoke_contact(alice, bob).has_value());
  auto refused = w.engine.send(alice, {bob}, w.mail(alice, bob, "auto", "after the revoke"));
  REQUIRE_FALSE(refused.has_value());
  CHECK(contains(refused.error(), bob + " is revoked"));
  CHECK(w.contact_state(alice, bob) == "revoked");
}

TEST_CASE("a petname of a revoked contact is refused, not resolved") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  REQUIRE(w.engine.add_contact(alice, bob, "bobby").has_value());
  REQUIRE(w.engine.resolve_recipient(alice, "bobby") == bob);
  REQUIRE(w.engine.revoke_contact(alice, "bobby").has_value());
  auto r = w.engine.resolve_recipient(alice, "bobby");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().reason == RecipientRefusal::Reason::not_allowed);
  CHECK(contains(r.error().sentence, bob + " is revoked: you stopped accepting mail from this contact"));
  auto prefix = w.engine.resolve_recipient(alice, "bob");
  REQUIRE_FALSE(prefix.has_value());
  CHECK(prefix.error().reason == RecipientRefusal::Reason::not_allowed);
  auto stranger = w.engine.resolve_recipient(alice, "nobody");
  REQUIRE_FALSE(stranger.has_value());
  CHECK(stranger.error().reason == RecipientRefusal::Reason::unknown);
  CHECK(w.contact_state(alice, bob) == "revoked");
}

// ---- sealed outbox rows ------------------------------------------------------------------------

TEST_CASE("outbox rows swapped within an account are detected: listed as unreadable, never as each other") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  auto first = w.engine.send(alice, {bob}, w.mail(alice, bob, "first subject", "first body"));
  auto second = w.engine.send(alice, {bob}, w.mail(alice, bob, "second subject", "second body"));
  REQUIRE(first.has_value());
  REQUIRE(second.has_value());
  {
    SQLite::Statement q(*w.db, "SELECT subject FROM outbox_message");
    while (q.executeStep()) CHECK(q.getColumn(0).getString().empty());  // no subject in plain text
  }
  CHECK(w.engine.outbox_show(*first)->entry.subject == "first subject");
  CHECK(contains(w.engine.outbox_show(*first)->headers, "Subject: first subject"));

  SUBCASE("subjects swapped") {
    swap_column(*w.db, "subject_sealed", *first, *second);
    auto list = w.engine.outbox(alice);
    REQUIRE(list.has_value());
    REQUIRE(list->size() == 2);
    for (const auto& e : *list) {
      CHECK(e.subject.starts_with("(unreadable: "));
      CHECK_FALSE(contains(e.subject, "subject"));
    }
    bool logged = false;
    for (const auto& line : w.log) logged = logged || (contains(line, "the subject of outbox message") && contains(line, "does not open"));
    CHECK(logged);
    CHECK(w.engine.outbox_cancel(*first).has_value());  // still cancellable
  }
  SUBCASE("bodies swapped") {
    swap_column(*w.db, "body_sealed", *first, *second);
    auto shown = w.engine.outbox_show(*first);
    REQUIRE(shown.has_value());
    CHECK(shown->headers.starts_with("(unreadable: "));
    CHECK_FALSE(contains(shown->headers, "second"));
    CHECK(shown->entry.subject == "first subject");
    // Released, it is never sent as the other one: the delivery fails, saying why.
    REQUIRE(w.engine.outbox_approve(*first).has_value());
    REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
    REQUIRE(w.engine.approve_request(w.engine.requests(bob)->front().id).has_value());
    REQUIRE(w.run_until([&] { return w.state_of(*first) == "failed"; }));
    CHECK(contains(w.engine.outbox_show(*first)->entry.recipients.front().state, "does not open"));
    CHECK(w.inbox(bob).empty());
  }
  SUBCASE("a row moved to another account") {
    const auto carol = w.create("carol");
    w.db->exec("UPDATE outbox_message SET account_id = " + std::to_string(w.account_id(carol)) + " WHERE id = " + std::to_string(*first));
    auto shown = w.engine.outbox_show(*first);
    REQUIRE(shown.has_value());
    CHECK(shown->entry.subject.starts_with("(unreadable: "));
    CHECK(shown->headers.starts_with("(unreadable: "));
  }
}

namespace {

// A data dir's database as schema 2 left it: delivery.contact_id NOT NULL, the outbox subject in
// plain text, the body sealed as "outbox:<id>" (the SQL of schema 2, for the two tables that
// changed; the rest is as schema 3 has it, which schema 2 had too).
void downgrade_to_schema_2(SQLite::Database& db) {
  db.exec("PRAGMA foreign_keys=OFF");
  db.exec(R"sql(
BEGIN;
CREATE TABLE delivery_v2 (
  id INTEGER PRIMARY KEY,
  outbox_id INTEGER NOT NULL REFERENCES outbox_message(id) ON DELETE CASCADE,
  contact_id INTEGER NOT NULL REFERENCES contact(id),
  recipient TEXT NOT NULL,
  state TEXT NOT NULL,
  message_id INTEGER,
  channel_id INTEGER REFERENCES channel(id) ON DELETE SET NULL,
  slot_index INTEGER,
  inserted_at INTEGER,
  next_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  delivered_at INTEGER,
  error TEXT
);
DROP TABLE delivery;
ALTER TABLE delivery_v2 RENAME TO delivery;
CREATE INDEX delivery_by_state ON delivery(state);
ALTER TABLE outbox_message DROP COLUMN subject_sealed;
ALTER TABLE outbox_message DROP COLUMN legacy_seal;
ALTER TABLE outbox_message ADD COLUMN signature TEXT NOT NULL DEFAULT '';
PRAGMA user_version=2;
COMMIT;
)sql");
  db.exec("PRAGMA foreign_keys=ON");
}

}  // namespace

TEST_CASE("a schema 2 database migrates: deliveries and their send items kept, outbox rows sealed again") {
  const auto dir = std::filesystem::temp_directory_path() / ("fcpmail-consent-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "fcpmail.db";
  crypto::Key256 key{};
  key[0] = 7;
  crypto::SealedBox box{key};
  std::int64_t outbox_id = 0;
  {
    auto db = store::open_database(file);
    REQUIRE(db.has_value());
    downgrade_to_schema_2(**db);
    auto& d = **db;
    d.exec("INSERT INTO account (id, address, nickname, identity_id, request_uri, insert_uri_sealed, rsa_public, rsa_private_sealed, "
           "rtsksk, password_hash, created_at) VALUES (1, 'alice@a.freemail', 'alice', 'ida', 'USK@a', x'', '', x'', 'k', 'h', 0)");
    d.exec("INSERT INTO contact (id, account_id, identity_id, address, state, added_at) VALUES (1, 1, 'idb', 'bob@b.freemail', 'accepted', 0)");
    d.exec("INSERT INTO channel (id, account_id, contact_id, role, key_hash, insert_uri_sealed, send_slot, fetch_slot, timeout_at, state, created_at) "
           "VALUES (1, 1, 1, 'initiator', 'kh', x'', 's', 'f', 9999999999999, 'open', 0)");
    d.exec("INSERT INTO outbox_message (id, account_id, subject, size, body_sealed, submitted_at) VALUES (5, 1, 'old subject', 10, x'', 0)");
    outbox_id = 5;
    const auto sealed = box.seal("Subject: old subject\r\n\r\nold body\r\n", "outbox:5");
    SQLite::Statement u(d, "UPDATE outbox_message SET body_sealed = ? WHERE id = 5");
    u.bind(1, sealed.data(), static_cast<int>(sealed.size()));
    u.exec();
    d.exec("INSERT INTO delivery (id, outbox_id, contact_id, recipient, state, message_id, channel_id) VALUES (3, 5, 1, 'bob@b.freemail', 'inserting', 0, 1)");
    d.exec("INSERT INTO send_item (id, channel_id, kind, delivery_id, message_id, due_at) VALUES (9, 1, 'message', 3, 0, 0)");
    REQUIRE(d.execAndGet("PRAGMA user_version").getInt() == 2);
  }
  {
    auto db = store::open_database(file);
    REQUIRE_MESSAGE(db.has_value(), (db.has_value() ? "" : db.error()));
    auto& d = **db;
    CHECK(d.execAndGet("PRAGMA user_version").getInt() == store::schema_version());
    CHECK(d.execAndGet("PRAGMA foreign_keys").getInt() == 1);
    // The rebuilt delivery table kept its row, and the send item that refers to it survived.
    CHECK(d.execAndGet("SELECT COUNT(*) FROM delivery WHERE id = 3 AND contact_id = 1 AND state = 'inserting'").getInt() == 1);
    CHECK(d.execAndGet("SELECT COUNT(*) FROM send_item WHERE id = 9 AND delivery_id = 3").getInt() == 1);
    CHECK(d.execAndGet("SELECT legacy_seal FROM outbox_message WHERE id = 5").getInt() == 1);

    boost::asio::io_context io;
    MemoryNode node{io};
    std::vector<std::string> log;
    Engine engine(EngineDeps{io, d, node, nullptr, box, [&](std::string_view line) { log.emplace_back(line); },
                             NodeStatus{"memory", 0, true, false, "", std::nullopt, true}, {}},
                  fast_config());
    CHECK(d.execAndGet("SELECT legacy_seal FROM outbox_message WHERE id = 5").getInt() == 0);
    CHECK(d.execAndGet("SELECT subject FROM outbox_message WHERE id = 5").getString().empty());
    auto shown = engine.outbox_show(outbox_id);
    REQUIRE(shown.has_value());
    CHECK(shown->entry.subject == "old subject");
    CHECK(contains(shown->headers, "Subject: old subject"));
    // Bound to (account, id) now: the old binding no longer opens it.
    SQLite::Statement q(d, "SELECT body_sealed FROM outbox_message WHERE id = 5");
    REQUIRE(q.executeStep());
    CHECK_FALSE(box.open(q.getColumn(0).getString(), "outbox:5").has_value());
    CHECK(box.open(q.getColumn(0).getString(), "account:1:outbox:5:body").has_value());
  }
  std::filesystem::remove_all(dir);
}
