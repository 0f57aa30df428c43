// The engine end to end on an in-memory node: handshake with consent, approvals, exchange both
// ways, acks, denial, revocation, Freemail-format messages, transient faults, request budget.
#include <utility>

#include "engine/engine.h"
#include "engine_world.h"
#include "memory_node.h"

#include "crypto/sealed_box.h"
#include "freemail/channel_message.h"
#include "freemail/message_signature.h"
#include "freemail/rsa_key_file.h"
#include "freemail/slot_chain.h"
#include "store/database.h"
#include "store/mailbox_store.h"

#include <SQLiteCpp/Statement.h>
#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

using namespace fcpmail;
using namespace fcpmail::engine;
using fcpmail::engine::test::MemoryNode;

namespace {

using fcpmail::engine::test::fast_config;
using fcpmail::engine::test::fixture_key;

struct World : test::EngineWorld<MemoryNode> {
  explicit World(EngineConfig config = fast_config()) : EngineWorld(config) {}

  std::string identity_of(const std::string& address) {
    SQLite::Statement q(*db, "SELECT identity_id FROM account WHERE address = ?");
    q.bind(1, address);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getString();
  }

  std::size_t cts_puts() const {
    std::size_t n = 0;
    for (const auto& u : node.put_log) n += u.find("/r-") != std::string::npos;
    return n;
  }
};

}  // namespace

TEST_CASE("two accounts: consent, approvals, handshake and mail both ways") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  CHECK(w.engine.accounts().size() == 2);
  CHECK(w.node.identities.size() == 2);
  CHECK(test::login_as(*w.db, alice, "secret-alice") == alice);
  CHECK_FALSE(test::login_as(*w.db, alice, "wrong"));

  // Held until approved: nothing goes to the network.
  auto id = w.engine.send(alice, {bob}, w.mail(alice, bob, "hello bob", "first message"));
  REQUIRE(id.has_value());
  w.run_until([] { return false; }, std::chrono::milliseconds(100));
  CHECK(w.state_of(*id) == "held");
  CHECK(w.node.puts_starting_with("KSK@") == 0);
  CHECK(w.mailbox.messages(alice, "Outbox")->size() == 1);  // the mail client sees it waiting

  REQUIRE(w.engine.outbox_approve(*id).has_value());
  CHECK(w.mailbox.messages(alice, "Outbox")->empty());
  // Bob's engine sees the RTS and asks: no CTS before approval.
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
  auto request = w.engine.requests(bob)->front();
  CHECK(request.from_address.ends_with(alice.substr(alice.find('@'))));
  w.run_until([] { return false; }, std::chrono::milliseconds(100));
  CHECK(w.cts_puts() == 0);
  CHECK(w.inbox(bob).empty());

  REQUIRE(w.engine.approve_request(request.id).has_value());
  REQUIRE(w.run_until([&] { return w.state_of(*id) == "delivered"; }));
  auto bob_inbox = w.inbox(bob);
  REQUIRE(bob_inbox.size() == 1);
  CHECK(bob_inbox[0].find("first message") != std::string::npos);
  CHECK(bob_inbox[0].find("X-Fcpmail-Signature: valid") != std::string::npos);
  CHECK(bob_inbox[0].find("X-Fcpmail-Sender: " + alice) != std::string::npos);
  CHECK(w.cts_puts() >= 1);

  // Bob answers on the same channel; Alice accepted Bob by writing to him: no request for her.
  auto reply = w.engine.send(bob, {alice}, w.mail(bob, alice, "re: hello", "reply from bob"));
  REQUIRE(reply.has_value());
  REQUIRE(w.engine.outbox_approve_all(bob).value() == 1);
  REQUIRE(w.run_until([&] { return w.state_of(*reply) == "delivered"; }));
  CHECK(w.engine.requests(alice)->empty());
  auto alice_inbox = w.inbox(alice);
  REQUIRE(alice_inbox.size() == 1);
  CHECK(alice_inbox[0].find("reply from bob") != std::string::npos);
  CHECK(alice_inbox[0].find("X-Fcpmail-Signature: valid") != std::string::npos);

  // Several more, both ways: each exactly once.
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(*w.engine.send(alice, {"bob"}, w.mail(alice, bob, "n" + std::to_string(i), "alice " + std::to_string(i))));
    ids.push_back(*w.engine.send(bob, {alice}, w.mail(bob, alice, "m" + std::to_string(i), "bob " + std::to_string(i))));
  }
  CHECK(w.engine.outbox_approve_all(std::nullopt).value() == 10);
  REQUIRE(w.run_until([&] {
    for (auto i : ids) if (w.state_of(i) != "delivered") return false;
    return true;
  }));
  CHECK(w.inbox(bob).size() == 6);
  CHECK(w.inbox(alice).size() == 6);

  // What the control surface shows.
  auto q = w.engine.queues();
  CHECK(q.channels.size() == 2);  // one channel, seen from each side
  CHECK_FALSE(q.rts.empty());
  auto status = w.engine.status(std::nullopt);
  CHECK(status.counts.delivered == 12);
  CHECK(status.counts.held == 0);
}

TEST_CASE("a denied request gets no CTS and nothing is delivered") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  auto id = w.engine.send(alice, {bob}, w.mail(alice, bob, "hi", "unwanted"));
  w.engine.outbox_approve(*id);
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
  auto denied = w.engine.deny_request(w.engine.requests(bob)->front().id);
  REQUIRE(denied.has_value());
  CHECK(denied->state == "denied");
  w.run_until([] { return false; }, std::chrono::milliseconds(1500));  // RTS resends come and go
  CHECK(w.cts_puts() == 0);
  CHECK(w.inbox(bob).empty());
  CHECK(w.engine.requests(bob)->empty());
  CHECK(w.state_of(*id) != "delivered");
}

TEST_CASE("after revocation later mail is not delivered") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  auto first = w.engine.send(alice, {bob}, w.mail(alice, bob, "1", "before revoke"));
  w.engine.outbox_approve(*first);
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
  w.engine.approve_request(w.engine.requests(bob)->front().id);
  REQUIRE(w.run_until([&] { return w.state_of(*first) == "delivered"; }));
  REQUIRE(w.engine.revoke_contact(bob, alice).has_value());
  auto contacts = w.engine.contacts(bob).value();
  REQUIRE(contacts.size() == 1);
  CHECK(contacts[0].state == "revoked");
  auto second = w.engine.send(alice, {bob}, w.mail(alice, bob, "2", "after revoke"));
  w.engine.outbox_approve(*second);
  w.run_until([] { return false; }, std::chrono::milliseconds(1000));
  CHECK(w.inbox(bob).size() == 1);
  CHECK(w.state_of(*second) != "delivered");
}

TEST_CASE("a message in Freemail's exact format (no signature) is stored and marked absent") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  auto id = w.engine.send(alice, {bob}, w.mail(alice, bob, "hi", "signed one"));
  w.engine.outbox_approve(*id);
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
  w.engine.approve_request(w.engine.requests(bob)->front().id);
  REQUIRE(w.run_until([&] { return w.state_of(*id) == "delivered"; }));

  // Bob's side of the channel (responder): its public URI and the head of its send chain.
  SQLite::Statement q(*w.db, "SELECT c.request_uri, c.send_slot, c.id FROM channel c JOIN account a ON a.id = c.account_id WHERE a.address = ?");
  q.bind(1, bob);
  REQUIRE(q.executeStep());
  const std::string request_uri = q.getColumn(0).getString();
  const std::string slot = q.getColumn(1).getString();
  const auto channel_id = q.getColumn(2).getInt64();
  // Take that slot away from Bob's engine, as a Freemail peer's own chain would be its own.
  w.db->exec("UPDATE channel SET send_slot = '" + *freemail::next_slot(slot) + "', send_index = send_index + 1 WHERE id = " + std::to_string(channel_id));
  const std::string freemail_mail = "Subject: from freemail\r\nFrom: " + bob + "\r\nTo: " + alice + "\r\n\r\nplain freemail body\r\n";
  w.node.store[*freemail::slot_uri(request_uri, freemail::ChannelSide::responder, slot)] = *freemail::write_message(0, freemail_mail);
  REQUIRE(w.run_until([&] { return w.inbox(alice).size() == 1; }));
  auto stored = w.inbox(alice).front();
  CHECK(stored.find("X-Fcpmail-Signature: absent") != std::string::npos);
  CHECK(stored.find("plain freemail body") != std::string::npos);
}

TEST_CASE("transient insert failures: everything still arrives exactly once") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  w.engine.add_contact(bob, alice, "al");  // bob accepts alice in advance: no request
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(*w.engine.send(alice, {bob}, w.mail(alice, bob, std::to_string(i), "body " + std::to_string(i))));
  w.node.fail_next_puts = 6;
  w.engine.outbox_approve_all(alice);
  REQUIRE(w.run_until([&] {
    for (auto i : ids) if (w.state_of(i) != "delivered") return false;
    return true;
  }));
  CHECK(w.engine.requests(bob)->empty());
  CHECK(w.inbox(bob).size() == 4);
}

TEST_CASE("an idle channel stays within its FCP request budget") {
  // Default intervals scaled by 1/5000: one hour lasts 720 ms.
  EngineConfig config;
  config.intervals = Intervals{}.scaled(0.0002);
  config.intervals.ack_delay_max = std::chrono::milliseconds(20);  // only the idle phase is measured
  config.tick = std::chrono::milliseconds(2);
  config.rts_days_back = 0;
  World w(config);
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  w.engine.add_contact(bob, alice, "");
  auto id = w.engine.send(alice, {bob}, w.mail(alice, bob, "x", "y"));
  w.engine.outbox_approve(*id);
  // Wait for delivery, then measure the idle phase.
  REQUIRE(w.run_until([&] { return w.state_of(*id) == "delivered"; }, std::chrono::milliseconds(20000)));
  w.run_until([] { return false; }, std::chrono::milliseconds(200));
  auto channel_gets = [&] {
    std::size_t n = 0;
    for (const auto& u : w.node.get_log) n += (u.find("/i-") != std::string::npos || u.find("/r-") != std::string::npos);
    return n;
  };
  const auto before = channel_gets();
  const auto hours = 3.0;
  w.run_until([] { return false; }, std::chrono::milliseconds(static_cast<int>(720 * hours)));
  const double per_channel_hour = static_cast<double>(channel_gets() - before) / hours / 2.0;  // 2 channel ends
  MESSAGE("idle channel: " << per_channel_hour << " FCP requests per channel-hour (Freemail: up to 84)");
  CHECK(per_channel_hour <= 20.0);
  CHECK(per_channel_hour >= 12.0);  // the head slot is still polled every 5 minutes
}

TEST_CASE("x-fcpmail-signature: a peer's signed message is stored as valid, a tampered or forged one refused") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  auto id = w.engine.send(alice, {bob}, w.mail(alice, bob, "hi", "opens the channel"));
  w.engine.outbox_approve(*id);
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
  w.engine.approve_request(w.engine.requests(bob)->front().id);
  REQUIRE(w.run_until([&] { return w.state_of(*id) == "delivered"; }));

  // Bob's end of the channel: its public URI, the head of its send chain and the channel insert
  // URI (the RTS `channel` value both ends sign over).
  SQLite::Statement q(*w.db, "SELECT c.request_uri, c.send_slot, c.id, c.insert_uri_sealed, c.key_hash FROM channel c JOIN account a ON a.id = c.account_id WHERE a.address = ?");
  q.bind(1, bob);
  REQUIRE(q.executeStep());
  const std::string request_uri = q.getColumn(0).getString();
  std::string slot = q.getColumn(1).getString();
  const auto channel_id = q.getColumn(2).getInt64();
  const auto channel_key = w.box.open(q.getColumn(3).getString(), "channel:" + q.getColumn(4).getString());
  REQUIRE(channel_key.has_value());
  q.reset();
  const std::string bob_id = w.identity_of(bob);
  const std::string alice_id = w.identity_of(alice);
  const freemail::MessageSignatureContext context{bob_id, alice_id, *channel_key};
  auto mail = [&](const std::string& body) {
    return "Subject: signed\r\nFrom: " + bob + "\r\nTo: " + alice + "\r\n\r\n" + body + "\r\n";
  };
  const auto bob_key = fixture_key("bob");
  const auto mallory_key = fixture_key("mallory");

  std::vector<std::string> payloads;
  // Signed by Bob over exactly this context: what Bob's own engine writes.
  payloads.push_back(*freemail::write_signed_message(context, 100, mail("genuine"), bob_key));
  // Bob's signature, but the mail changed on the way.
  auto tampered = *freemail::write_signed_message(context, 101, mail("original"), bob_key);
  tampered.replace(tampered.find("original"), 8, "replaced");
  payloads.push_back(tampered);
  // Well-formed signature by a key that is not Bob's.
  payloads.push_back(*freemail::write_signed_message(context, 102, mail("forged"), mallory_key));
  // Bob's signature made for a different recipient (forwarded "as if sent to you").
  payloads.push_back(*freemail::write_signed_message(freemail::MessageSignatureContext{bob_id, bob_id, *channel_key}, 103,
                                                     mail("forwarded"), bob_key));

  // Bob's engine gives up those slots, as a peer's chain is its own.
  for (const auto& p : payloads) {
    w.node.store[*freemail::slot_uri(request_uri, freemail::ChannelSide::responder, slot)] = p;
    slot = *freemail::next_slot(slot);
  }
  w.db->exec("UPDATE channel SET send_slot = '" + slot + "', send_index = send_index + 4 WHERE id = " + std::to_string(channel_id));
  // Only the genuine one reaches the mailbox; each other one is refused with a warning that says
  // why, and is not acknowledged (a genuine sender keeps it as undelivered and resends it).
  auto refusals = [&] {
    std::size_t n = 0;
    for (const auto& line : w.log)
      n += line.find("refused: its x-fcpmail-signature does not verify with the sender's key") != std::string::npos;
    return n;
  };
  REQUIRE(w.run_until([&] { return w.inbox(alice).size() == 1 && refusals() == 3; }));
  w.run_until([] { return false; }, std::chrono::milliseconds(100));
  const auto got = w.inbox(alice);
  REQUIRE(got.size() == 1);
  CHECK(got[0].find("genuine") != std::string::npos);
  CHECK(got[0].find("X-Fcpmail-Signature: valid") != std::string::npos);
  CHECK(got[0].find("X-Fcpmail-Sender: " + bob) != std::string::npos);
  for (std::string id : {"101", "102", "103"}) {
    std::size_t n = 0;
    for (const auto& line : w.log) n += line.starts_with("message " + id + " from " + bob + " refused: ");
    CHECK_MESSAGE(n == 1, id);
  }
  for (const auto& warning : w.engine.status(std::nullopt).warnings) CHECK(warning.text.find("internal error") == std::string::npos);
}

TEST_CASE("status of one account: its counts and warnings only; a repeated warning is one entry with a count") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  REQUIRE(w.engine.send(alice, {bob}, w.mail(alice, bob, "held", "for bob")));
  CHECK(w.engine.status(std::nullopt).counts.held == 1);
  CHECK(w.engine.status(alice).counts.held == 1);
  CHECK(w.engine.status(bob).counts.held == 0);
  CHECK(w.engine.status(bob).accounts.size() == 1);
  CHECK(w.engine.status(bob).scope == bob);
  CHECK_FALSE(w.engine.status(std::nullopt).scope);

  // Alice's mailpage cannot be inserted, again and again.
  w.node.fail_next_puts = 1000;
  w.db->exec("UPDATE account SET mailsite_next_at = 0 WHERE address = '" + alice + "'");
  auto alice_warnings = [&] {
    std::vector<Warning> out;
    for (const auto& x : w.engine.status(alice).warnings)
      if (x.text.find("not published") != std::string::npos) out.push_back(x);
    return out;
  };
  REQUIRE(w.run_until([&] { return !alice_warnings().empty() && alice_warnings().front().count >= 3; },
                      std::chrono::seconds(20)));
  w.node.fail_next_puts = 0;
  const auto seen = alice_warnings();
  CHECK(seen.size() == 1);  // not one entry per retry
  CHECK(seen.front().account == alice);
  CHECK(seen.front().last >= seen.front().first);
  for (const auto& x : w.engine.status(bob).warnings) CHECK(x.text.find("not published") == std::string::npos);
  bool owner_sees = false;
  for (const auto& x : w.engine.status(std::nullopt).warnings) owner_sees |= x.text.find("not published") != std::string::npos;
  CHECK(owner_sees);
}
