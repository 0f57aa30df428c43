// A peer's RTS is judged by Freemail's protocol constants, not by --interval-scale. Freemail's RTS
// always says timeout = now + 7 days (Channel.CHANNEL_TIMEOUT), whatever our scale; refusing it
// loses it for good (the slot is marked used and Freemail 0.2.8+ never resends). Our own
// schedules stay scaled: the same RTS must be accepted at scale 1, 0.002 and the unit tests'
// 0.00002, and a timeout beyond 7 days + 2 days of clock skew refused at each of them.
#include "engine_world.h"
#include "memory_node.h"

#include "fcp/freenet_base64.h"
#include "freemail/rts.h"
#include "freemail/slot_chain.h"

#include <SQLiteCpp/Statement.h>
#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace fcpmail;
using namespace fcpmail::engine;
using fcpmail::engine::test::fixture_key;
using fcpmail::engine::test::fixture_text;
using fcpmail::engine::test::MemoryNode;

namespace {

constexpr std::int64_t day_ms = 86'400'000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string random_b64() { return fcp::freenet_base64_encode(crypto::random_bytes(32)); }
std::string random_slot() { return *freemail::slot_from_bytes(crypto::random_bytes(freemail::slot_bytes)); }

EngineConfig config_at_scale(double scale) {
  EngineConfig c;
  c.intervals = Intervals{}.scaled(scale);
  c.tick = std::chrono::milliseconds(2);
  c.rts_days_back = 1;
  return c;
}

struct World : test::EngineWorld<MemoryNode> {
  explicit World(double scale) : EngineWorld(config_at_scale(scale)) {}

  std::int64_t count(const std::string& sql) {
    SQLite::Statement q(*db, sql);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getInt64();
  }
  std::size_t logged(std::string_view a, std::string_view b = "") const {
    std::size_t n = 0;
    for (const auto& line : log) n += line.find(a) != std::string::npos && line.find(b) != std::string::npos;
    return n;
  }
  std::string rtsksk_of(const std::string& address) {
    SQLite::Statement q(*db, "SELECT rtsksk FROM account WHERE address = ?");
    q.bind(1, address);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getString();
  }
  // Puts `blob` on bob's RTS KSK slot `slot` of today and makes today's KSK due for polling now
  // (at scale 1 the next poll after account creation would be 5 minutes away).
  std::string post_rts(const std::string& address, unsigned slot, const std::string& blob) {
    const auto ksk = freemail::rts_ksk(rtsksk_of(address), now_ms(), slot);
    node.store[ksk] = blob;
    db->exec("UPDATE rts_day SET next_poll_at = 0");
    return ksk;
  }
  bool put_was_made(std::string_view suffix) const {
    for (const auto& uri : node.put_log)
      if (uri.ends_with(suffix)) return true;
    return false;
  }
  std::string identity_of(const std::string& address) {
    SQLite::Statement q(*db, "SELECT identity_id FROM account WHERE address = ?");
    q.bind(1, address);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getString();
  }
};

// mallory (fixtures/keys/mallory.*) as a stock Freemail sender: its mailpage published where its
// RTS's mailsite points, an RTS with Freemail's fields, signed by it and encrypted to bob.
struct FreemailSender {
  std::string identity_id = random_b64();
  std::string key = identity_id + "," + random_b64() + ",AQACAAE";
  std::string mailsite = "USK@" + key + "/mailsite/-1/mailpage";

  void publish_mailpage(MemoryNode& node) const {
    node.store["SSK@" + key + "/mailsite-1/mailpage"] = fixture_text("mallory.mailpage");
  }
  freemail::EncodedRts rts(const std::string& to, std::int64_t timeout_ms) const {
    freemail::RtsFields f;
    f.mailsite = mailsite;
    f.to = to;
    f.channel = "SSK@" + random_b64() + "," + random_b64() + ",AQECAAE/";
    f.initiator_slot = random_slot();
    f.responder_slot = random_slot();
    f.timeout_ms = timeout_ms;
    auto r = freemail::encode_rts(f, fixture_key("mallory"), fixture_key("bob").public_key());
    REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().reason));
    return *r;
  }
};

}  // namespace

TEST_CASE("a stock Freemail RTS (timeout now + 7 days) is accepted at any --interval-scale") {
  for (const double scale : {1.0, 0.002, 0.00002}) {
    CAPTURE(scale);
    World w(scale);
    const auto bob = w.create("bob");
    const FreemailSender mallory;
    mallory.publish_mailpage(w.node);
    const auto sent = mallory.rts(w.identity_of(bob), now_ms() + freemail::channel_timeout_ms);
    const auto ksk = w.post_rts(bob, 1, sent.bytes);

    REQUIRE_MESSAGE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }),
                    "RTS not turned into a request; log: " << (w.log.empty() ? "" : w.log.back()));
    CHECK(w.logged("RTS at " + ksk + " dropped") == 0);
    CHECK(w.count("SELECT COUNT(*) FROM rts_inbox") == 0);
    // Approved: the channel keeps the peer's timeout as sent (the peer sends on it until then).
    REQUIRE(w.engine.approve_request(w.engine.requests(bob)->front().id).has_value());
    REQUIRE(w.run_until([&] { return w.count("SELECT COUNT(*) FROM channel") == 1; }));
    CHECK(w.count("SELECT timeout_at FROM channel") == sent.fields.timeout_ms);
    // And the CTS goes out on the peer's responder slot.
    CHECK(w.run_until([&] { return w.put_was_made("/r-" + sent.fields.responder_slot); }));
  }
}

TEST_CASE("an RTS timeout is refused only beyond 7 days + 2 days of clock skew, at any scale") {
  for (const double scale : {1.0, 0.002}) {
    CAPTURE(scale);
    World w(scale);
    const auto bob = w.create("bob");
    const FreemailSender skewed, far;
    skewed.publish_mailpage(w.node);
    far.publish_mailpage(w.node);
    const auto t = now_ms();
    // A sender whose clock runs 1 day 20 h ahead: inside the margin.
    w.post_rts(bob, 1, skewed.rts(w.identity_of(bob), t + freemail::channel_timeout_ms + 44 * 3'600'000).bytes);
    // 9 days and an hour ahead: outside.
    const auto far_ksk = w.post_rts(bob, 2, far.rts(w.identity_of(bob), t + 9 * day_ms + 3'600'000).bytes);
    REQUIRE(w.run_until([&] {
      return w.engine.requests(bob)->size() == 1 && w.logged("RTS at " + far_ksk + " dropped: its timeout") == 1;
    }));
    CHECK(w.logged("RTS at " + far_ksk + " dropped: its timeout",
                   "is too far ahead (latest accepted: ") == 1);
    CHECK(w.logged("7 days as Freemail sends plus 2 days for clock skew") == 1);
    CHECK(w.engine.requests(bob)->front().identity_id == skewed.identity_id);
  }
}

TEST_CASE("a stranger's junk RTS is dropped with a sentence naming the line cap, quickly") {
  World w(0.002);
  const auto bob = w.create("bob");
  // 1.2 MB of distinct `kN=v` lines, encrypted to bob (anyone can: his key is on his mailpage).
  std::string junk;
  for (int n = 0; junk.size() < 1'200'000; ++n) junk += "k" + std::to_string(n) + "=v\r\n";
  junk += "\r\n";
  const auto bob_public = fixture_key("bob").public_key();
  auto material = crypto::random_bytes(freemail::rts_key_material_size);
  material[0] = '\x01';
  auto sealed = freemail::seal_rts(junk, fixture_key("mallory"), bob_public, material);
  REQUIRE(sealed.has_value());
  const auto start = std::chrono::steady_clock::now();
  const auto ksk = w.post_rts(bob, 1, *sealed);
  REQUIRE(w.run_until([&] { return w.logged("RTS at " + ksk + " dropped: ") == 1; }));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(w.logged("RTS at " + ksk + " dropped: its plaintext is malformed (too_many_lines: more than 64 lines "
                 "before the empty line (an RTS has six); refused unread)") == 1);
  // Fetched at once, decrypted and refused: the 10 s of CPU it took before are gone. Generous for
  // a loaded machine; the RSA-4096 decryption alone is a few tens of milliseconds.
  CHECK_MESSAGE(took < 5.0, "took " << took << " s");
  CHECK(w.count("SELECT COUNT(*) FROM rts_inbox") == 0);
  CHECK(w.engine.requests(bob)->empty());
}

TEST_CASE("the sender's mailpage may take longer than 15 scaled retries to appear") {
  // At scale 0.0002 the retry interval is 60 ms: 15 fixed retries gave up after 0.9 s, and the RTS
  // was lost for good. Retries now back off towards Freemail's 5 minutes.
  World w(0.0002);
  const auto bob = w.create("bob");
  const FreemailSender mallory;  // mailpage not yet fetchable
  const auto ksk = w.post_rts(bob, 1, mallory.rts(w.identity_of(bob), now_ms() + freemail::channel_timeout_ms).bytes);
  REQUIRE(w.run_until([&] { return w.logged("RTS at " + ksk + ": sender's mailpage not fetched yet") >= 1; }));
  w.run_until([] { return false; }, std::chrono::milliseconds(1500));
  CHECK(w.logged("RTS at " + ksk + " dropped") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM rts_inbox") == 1);
  const auto attempts = w.logged("RTS at " + ksk + ": sender's mailpage not fetched yet");
  CHECK(attempts < 8);  // backing off, not hammering the node every 60 ms
  mallory.publish_mailpage(w.node);
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }, std::chrono::milliseconds(15000)));
  CHECK(w.logged("RTS at " + ksk + " dropped") == 0);
}
