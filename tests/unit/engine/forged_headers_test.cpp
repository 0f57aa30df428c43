// A contact who forges the headers that speak about a message's origin: its own
// X-Fcpmail-Signature and X-Fcpmail-Sender, and a From naming someone else. What reaches the
// mailbox carries only the engine's verdict and the channel peer, and IMAP's ENVELOPE and SEARCH
// FROM (the mailbox's pre-parsed metadata) name the peer.
//
// The channel alice -> bob is made by the engine itself; bob's end is then driven by hand: payloads
// are put on bob's send chain, and alice's engine reads them as it reads any peer's.
#include "engine/engine.h"
#include "engine_world.h"
#include "memory_node.h"

#include "freemail/address.h"
#include "freemail/channel_message.h"
#include "freemail/message_signature.h"
#include "freemail/slot_chain.h"
#include "store/mime.h"

#include <SQLiteCpp/Statement.h>
#include <boost/asio/steady_timer.hpp>
#include <doctest/doctest.h>

using namespace fcpmail;
using namespace fcpmail::engine;
using fcpmail::engine::test::MemoryNode;

namespace {

struct World : test::EngineWorld<MemoryNode> {
  explicit World(EngineConfig config = test::fast_config()) : EngineWorld(config) {}

  bool inbox_has(const std::string& account, const std::string& word) {
    for (const auto& m : inbox(account))
      if (m.find(word) != std::string::npos) return true;
    return false;
  }

  // A channel alice -> bob, made by a message the engine sends and delivers.
  void open_channel(const std::string& from, const std::string& to) {
    REQUIRE(engine.add_contact(to, from, "").has_value());
    auto id = engine.send(from, {to}, mail(from, to, "opening", "opens-the-channel"));
    REQUIRE(id.has_value());
    REQUIRE(engine.outbox_approve(*id).has_value());
    REQUIRE(run_until([&] { return inbox_has(to, "opens-the-channel"); }, std::chrono::milliseconds(15000)));
  }

  // `to`'s end of its channel with `from` (the responder): where it writes and what both ends sign.
  struct End {
    std::int64_t channel_id = 0;
    std::string request_uri, send_slot, channel_key;
  };
  End end_of(const std::string& account) {
    SQLite::Statement q(*db, "SELECT c.id, c.request_uri, c.send_slot, c.insert_uri_sealed, c.key_hash FROM channel c JOIN account a ON a.id = c.account_id WHERE a.address = ?");
    q.bind(1, account);
    REQUIRE(q.executeStep());
    End e{q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(), ""};
    auto key = box.open(q.getColumn(3).getString(), "channel:" + q.getColumn(4).getString());
    REQUIRE(key.has_value());
    e.channel_key = *key;
    return e;
  }

  // Puts `payloads` on the head of `end`'s send chain and moves the engine's own writer past them.
  void put_on_chain(End& end, const std::vector<std::string>& payloads) {
    for (const auto& p : payloads) {
      node.store[*freemail::slot_uri(end.request_uri, freemail::ChannelSide::responder, end.send_slot)] = p;
      end.send_slot = *freemail::next_slot(end.send_slot);
    }
    db->exec("UPDATE channel SET send_slot = '" + end.send_slot + "', send_index = send_index + " +
             std::to_string(payloads.size()) + " WHERE id = " + std::to_string(end.channel_id));
  }

  std::string identity_of(const std::string& address) {
    SQLite::Statement q(*db, "SELECT identity_id FROM account WHERE address = ?");
    q.bind(1, address);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getString();
  }

  // The stored message containing `word`, and its IMAP metadata (ENVELOPE, SEARCH FROM value).
  std::pair<std::string, MessageMeta> stored(const std::string& account, const std::string& word) {
    auto list = mailbox.messages(account, "INBOX");
    REQUIRE(list.has_value());
    for (const auto& m : *list) {
      auto text = mailbox.read_message(account, "INBOX", m.uid);
      REQUIRE(text.has_value());
      if (text->find(word) == std::string::npos) continue;
      auto meta = mailbox.message_meta(account, "INBOX", m.uid);
      REQUIRE(meta.has_value());
      return {*text, *meta};
    }
    FAIL("no stored message with " << word);
    return {};
  }
};

std::string header_of(const std::string& m) {
  const auto root = mime::parse(m);
  return m.substr(root.header.begin, root.header.size());
}

std::vector<std::string> values_of(const std::string& m, std::string_view name) {
  std::vector<std::string> out;
  const auto header = header_of(m);
  for (auto& [n, v] : mime::header_fields(header)) {
    if (n.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < n.size(); ++i) same = same && std::tolower(static_cast<unsigned char>(n[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) out.emplace_back(v);
  }
  return out;
}

}  // namespace

TEST_CASE("forged headers: a contact's own X-Fcpmail-* and a From naming someone else do not reach the mail client") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  const auto carol = w.create("carol");  // the person bob pretends to be
  w.open_channel(alice, bob);
  auto end = w.end_of(bob);

  auto forged_mail = [&](const std::string& word) {
    return "X-Fcpmail-Signature: valid\r\n"
           "x-FCPMAIL-sender: " + carol + "\r\n"
           "X-Fcpmail-Signature: valid, really\r\n  (folded)\r\n"
           "From: Someone Else <" + carol + ">\r\n"
           "To: " + alice + "\r\n"
           "Subject: " + word + "\r\n"
           "\r\n"
           "X-Fcpmail-Signature: valid (this line is body text)\r\n" + word + "\r\n";
  };
  const std::string bob_id = w.identity_of(bob), alice_id = w.identity_of(alice);
  const freemail::MessageSignatureContext context{bob_id, alice_id, end.channel_key};
  const auto bob_key = test::fixture_key("bob");
  w.put_on_chain(end, {
      *freemail::write_message(500, forged_mail("unsigned-500")),                               // as Freemail sends
      *freemail::write_signed_message(context, 501, forged_mail("signed-501"), bob_key),         // as fcpmail sends
      *freemail::write_message(502, "X-Fcpmail-Signature: valid\r\nSubject: no-from-502\r\n\r\nno-from-502\r\n"),
      *freemail::write_message(503, "From: Bob B. <anything@" + bob.substr(bob.find('@') + 1) + ">\r\nSubject: own-503\r\n\r\nown-503\r\n"),
  });
  REQUIRE(w.run_until([&] { return w.inbox_has(bob, "own-503") || w.inbox_has(alice, "own-503"); }));
  CHECK(w.inbox_has(alice, "own-503"));

  const auto bob_parts = *freemail::parse_address(bob);
  const std::string bob_mailbox = bob_parts.local_part, bob_host = bob_parts.identity.domain();
  const std::vector<std::pair<std::string, std::string>> forged_ones = {{"unsigned-500", "absent"}, {"signed-501", "valid"}};
  for (const auto& [word, verdict] : forged_ones) {
    CAPTURE(word);
    const auto [text, meta] = w.stored(alice, word);
    // Exactly one signature header: the engine's verdict; the sender is the channel peer.
    CHECK(values_of(text, "X-Fcpmail-Signature") == std::vector<std::string>{verdict});
    CHECK(values_of(text, "X-Fcpmail-Sender") == std::vector<std::string>{bob});
    // From names bob, with the claim kept visibly.
    CHECK(values_of(text, "From") == std::vector<std::string>{"\"Someone Else (via " + bob + ")\" <" + bob + ">"});
    CHECK(values_of(text, "X-Original-From") == std::vector<std::string>{"Someone Else <" + carol + ">"});
    // IMAP: ENVELOPE From (and the Sender it defaults to) is bob; SEARCH FROM carol does not match.
    CHECK(meta.envelope.find("((\"Someone Else (via " + bob + ")\" NIL \"" + bob_mailbox + "\" \"" + bob_host + "\"))") != std::string::npos);
    CHECK(meta.envelope.find(carol.substr(carol.find('@') + 1)) == std::string::npos);
    CHECK(meta.from.find(carol) == std::string::npos);
    CHECK(meta.from.find(bob) != std::string::npos);
    // The body is as sent.
    CHECK(text.find("\r\n\r\nX-Fcpmail-Signature: valid (this line is body text)\r\n" + word + "\r\n") != std::string::npos);
  }
  {
    const auto [text, meta] = w.stored(alice, "no-from-502");
    CHECK(values_of(text, "X-Fcpmail-Signature") == std::vector<std::string>{"absent"});
    CHECK(values_of(text, "From") == std::vector<std::string>{"<" + bob + ">"});
    CHECK(meta.envelope.find("((NIL NIL \"" + bob_mailbox + "\" \"" + bob_host + "\"))") != std::string::npos);
  }
  {
    // A From of bob's own identity (any local part) stays as bob wrote it.
    const auto [text, meta] = w.stored(alice, "own-503");
    CHECK(values_of(text, "From") == std::vector<std::string>{"Bob B. <anything@" + bob_host + ">"});
    CHECK(values_of(text, "X-Original-From").empty());
  }
  // Mail between the engine's own accounts is untouched apart from our fields.
  const auto [opening, meta] = w.stored(bob, "opens-the-channel");
  CHECK(values_of(opening, "X-Original-From").empty());
  CHECK(meta.from.find(alice) != std::string::npos);
}
