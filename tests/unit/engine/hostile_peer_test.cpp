// Hostile peers against the engine, on an in-process node where any bytes can be put on any key.
// Every case: refused with a log line that says why, nothing reaches the mailbox, no contact
// request / channel / CTS where there should be none, and the engine keeps serving (a legitimate
// message afterwards still arrives).
//
// The cast: alice and bob are accounts of the engine under test (fixture keys); "mallory" is a
// stranger who knows bob's mailpage (so his rtsksk and public key) and signs with fixtures/keys/
// mallory.key, publishing whatever mailpage suits the attack.
#include <utility>

#include "engine/engine.h"
#include "engine_world.h"
#include "memory_node.h"

#include "crypto/sealed_box.h"
#include "fcp/freenet_base64.h"
#include "freemail/channel_message.h"
#include "freemail/message_signature.h"
#include "freemail/radix32.h"
#include "freemail/rsa_key_file.h"
#include "freemail/rts.h"
#include "freemail/slot_chain.h"
#include "store/database.h"
#include "store/mailbox_store.h"

#include <SQLiteCpp/Statement.h>
#include <boost/asio/steady_timer.hpp>
#include <doctest/doctest.h>

#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <sstream>

using namespace fcpmail;
using namespace fcpmail::engine;
using fcpmail::engine::test::MemoryNode;

namespace {

constexpr std::int64_t day_ms = 86'400'000;

using fcpmail::engine::test::fixture_key;
using fcpmail::engine::test::fixture_text;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string random_b64(std::size_t n = 32) { return fcp::freenet_base64_encode(crypto::random_bytes(n)); }
std::string random_slot() { return *freemail::slot_from_bytes(crypto::random_bytes(freemail::slot_bytes)); }

// A node that honours MaxSize the way fred does (GetFailed 21, nothing handed over) and records
// every request's MaxSize, around the MemoryNode the other engine tests use.
class SizeLimitedNode final : public Node {
 public:
  explicit SizeLimitedNode(boost::asio::io_context& io) : memory(io), io_(io) {}
  MemoryNode memory;
  // Mailpage fetches (USK@...) answer this late: long enough for two RTS checks to overlap.
  std::chrono::milliseconds mailpage_delay{0};
  std::vector<std::pair<std::string, std::size_t>> gets;  // URI, MaxSize
  std::vector<std::string> refused;                       // URIs answered with code 21

  asio::awaitable<NodeResult<SskKeypair>> generate_ssk() override { co_return co_await memory.generate_ssk(); }
  asio::awaitable<NodeResult<std::string>> put(std::string uri, std::string data, std::string what) override {
    co_return co_await memory.put(std::move(uri), std::move(data), std::move(what));
  }
  asio::awaitable<NodeResult<std::string>> get(std::string uri, std::size_t max_size, std::string what) override {
    gets.emplace_back(uri, max_size);
    if (uri.starts_with("USK@") && mailpage_delay.count() > 0) {
      boost::asio::steady_timer late(io_, mailpage_delay);
      co_await late.async_wait(boost::asio::use_awaitable);
    }
    auto r = co_await memory.get(uri, max_size, std::move(what));
    if (r && r->size() > max_size) {
      refused.push_back(uri);
      co_return std::unexpected(NodeError{NodeError::Kind::failed, 21, "Too big (code 21)"});
    }
    co_return r;
  }
  asio::awaitable<NodeResult<WotFields>> wot(WotFields params) override { co_return co_await memory.wot(std::move(params)); }
  bool connected() const override { return true; }
  std::string version() const override { return "SizeLimitedNode"; }
  std::uint64_t requests_sent() const override { return memory.requests_sent(); }
  std::vector<InFlight> in_flight() const override { return {}; }

  // Requests for `uri` among gets[from...].
  std::size_t gets_of(const std::string& uri, std::size_t from) const {
    std::size_t n = 0;
    for (std::size_t i = from; i < gets.size(); ++i) n += gets[i].first == uri;
    return n;
  }

 private:
  boost::asio::io_context& io_;
};

EngineConfig hostile_config() {
  EngineConfig c;
  c.intervals = Intervals{}.scaled(0.00002);  // 5 min -> 6 ms, 12 h -> 0.86 s, 7 days -> 12 s
  c.tick = std::chrono::milliseconds(2);
  c.rts_days_back = 1;
  c.rts_passes_per_day = 1'000'000;  // yesterday stays polled: replays land there
  c.max_message_size = 64 * 1024;    // the channel size limit, small enough to exceed cheaply
  return c;
}

struct AccountInfo {
  std::int64_t id = 0;
  std::string identity_id, rtsksk;
};

// A stranger with a mailpage of its choosing.
struct Stranger {
  std::string identity_id, mailsite;  // mailsite: the USK an RTS names
};

struct World : test::EngineWorld<SizeLimitedNode> {
  explicit World(EngineConfig config = hostile_config()) : EngineWorld(config) {}

  void settle(int ms = 300) { run_until([] { return false; }, std::chrono::milliseconds(ms)); }

  AccountInfo info(const std::string& address) {
    SQLite::Statement q(*db, "SELECT id, identity_id, rtsksk FROM account WHERE address = ?");
    q.bind(1, address);
    REQUIRE(q.executeStep());
    return {q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString()};
  }

  std::int64_t count(const std::string& sql) {
    SQLite::Statement q(*db, sql);
    REQUIRE(q.executeStep());
    return q.getColumn(0).getInt64();
  }

  bool inbox_has(const std::string& account, const std::string& word) {
    for (const auto& m : inbox(account))
      if (m.find(word) != std::string::npos) return true;
    return false;
  }

  // Log lines containing every fragment.
  std::size_t logged(std::initializer_list<std::string_view> fragments) const {
    std::size_t n = 0;
    for (const auto& line : log) {
      bool all = true;
      for (auto f : fragments) all = all && line.find(f) != std::string::npos;
      n += all;
    }
    return n;
  }
  std::size_t cts_puts() const {
    std::size_t n = 0;
    for (const auto& u : node.memory.put_log) n += u.find("/r-") != std::string::npos;
    return n;
  }

  // The proof the engine still serves: alice (accepted by bob beforehand) writes, bob receives.
  bool legit_message_arrives(const std::string& from, const std::string& to, const std::string& word) {
    engine.add_contact(to, from, "");  // accepted beforehand (an error if it already is: fine)
    auto id = engine.send(from, {to}, mail(from, to, "legit", word));
    if (!id || !engine.outbox_approve(*id)) return false;
    return run_until([&] { return inbox_has(to, word); }, std::chrono::milliseconds(15000));
  }

  // A stranger publishing `page` as its mailpage.
  Stranger stranger(const std::string& page) {
    Stranger s;
    s.identity_id = random_b64();
    const std::string key = s.identity_id + "," + random_b64() + ",AQACAAE";
    s.mailsite = "USK@" + key + "/mailsite/-1/mailpage";
    node.memory.store["SSK@" + key + "/mailsite-1/mailpage"] = page;
    return s;
  }
};

// A timeout a genuine sender would send: 40 s ahead, well inside what any RTS may carry (Freemail's
// 7 days plus 2 days of clock skew, whatever the test's interval scale).
std::int64_t fresh_timeout() { return now_ms() + 40'000; }

std::string ksk(const AccountInfo& account, int days_back, int slot) {
  return freemail::rts_ksk(account.rtsksk, now_ms() - days_back * day_ms, static_cast<unsigned>(slot));
}

freemail::RtsFields rts_fields(const Stranger& from, const std::string& to, std::int64_t timeout_ms) {
  freemail::RtsFields f;
  f.mailsite = from.mailsite;
  f.to = to;
  f.channel = "SSK@" + random_b64() + "," + random_b64() + ",AQECAAE/";
  f.initiator_slot = random_slot();
  f.responder_slot = random_slot();
  f.timeout_ms = timeout_ms;
  return f;
}

std::string rts_blob(const freemail::RtsFields& f, const crypto::RsaPrivateKey& signer, const crypto::RsaPublicKey& recipient) {
  auto r = freemail::encode_rts(f, signer, recipient);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().reason));
  return r->bytes;
}

// "RTS at <key> dropped: <why>" / "RTS at <key> refused: <why>"
std::string dropped(const std::string& key) { return "RTS at " + key + " dropped: "; }

}  // namespace

TEST_CASE("hostile RTS: valid signature but addressed to someone else") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  const auto b = w.info(bob);
  const auto a = w.info(alice);
  const auto mallory = fixture_key("mallory");
  const auto m = w.stranger(fixture_text("mallory.mailpage"));
  // Signed correctly by mallory, encrypted to bob, put on bob's KSK: but `to` names alice.
  const auto key = ksk(b, 0, 1);
  w.node.memory.store[key] = rts_blob(rts_fields(m, a.identity_id, fresh_timeout()), mallory, fixture_key("bob").public_key());
  REQUIRE(w.run_until([&] { return w.logged({dropped(key), "addressed to someone else", a.identity_id}) == 1; }));
  w.settle();
  CHECK(w.count("SELECT COUNT(*) FROM contact_request") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM channel") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM rts_inbox") == 0);
  CHECK(w.cts_puts() == 0);
  CHECK(w.engine.requests(bob)->empty());
  CHECK(w.engine.requests(alice)->empty());
  CHECK(w.legit_message_arrives(alice, bob, "still-serving-after-wrong-to"));
  CHECK(w.inbox(bob).size() == 1);
}

TEST_CASE("hostile RTS: a replay on another day's slot makes no second request or channel") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  const auto b = w.info(bob);
  const auto mallory = fixture_key("mallory");
  const auto m = w.stranger(fixture_text("mallory.mailpage"));
  const auto blob = rts_blob(rts_fields(m, b.identity_id, fresh_timeout()), mallory, fixture_key("bob").public_key());

  // The same bytes on today's and yesterday's first slot at once: both are found in one pass and
  // checked concurrently (a slow mailpage fetch holds the first check while the second starts).
  w.node.mailpage_delay = std::chrono::milliseconds(400);
  const auto today = ksk(b, 0, 1), yesterday = ksk(b, 1, 1);
  w.node.memory.store[today] = blob;
  w.node.memory.store[yesterday] = blob;
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1 && w.logged({"a repeat of an RTS already handled"}) == 1; }));
  w.settle();
  CHECK(w.engine.requests(bob)->size() == 1);
  CHECK(w.count("SELECT COUNT(*) FROM contact_request") == 1);
  CHECK(w.count("SELECT COUNT(*) FROM rts_inbox") == 0);
  CHECK(w.logged({"internal error"}) == 0);  // the second copy is dropped, not a UNIQUE failure
  w.node.mailpage_delay = std::chrono::milliseconds(0);

  // Approved: one channel, one CTS. The replay found again later changes nothing.
  REQUIRE(w.engine.approve_request(w.engine.requests(bob)->front().id).has_value());
  REQUIRE(w.run_until([&] { return w.cts_puts() == 1; }));
  const auto later = ksk(b, 0, 2);
  w.node.memory.store[later] = blob;
  REQUIRE(w.run_until([&] { return w.logged({dropped(later), "a repeat of an RTS already handled"}) == 1; }));
  w.settle();
  CHECK(w.count("SELECT COUNT(*) FROM channel") == 1);
  CHECK(w.count("SELECT COUNT(*) FROM contact_request") == 1);
  CHECK(w.engine.requests(bob)->empty());
  CHECK(w.cts_puts() == 1);
  CHECK(w.inbox(bob).empty());
  CHECK(w.legit_message_arrives(alice, bob, "still-serving-after-replay"));
}

TEST_CASE("hostile RTS: an expired timeout and one absurdly far ahead") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  const auto b = w.info(bob);
  const auto mallory = fixture_key("mallory");
  const auto bob_public = fixture_key("bob").public_key();
  const auto m = w.stranger(fixture_text("mallory.mailpage"));
  const auto expired = ksk(b, 0, 1), far = ksk(b, 0, 2), huge = ksk(b, 0, 3);
  w.node.memory.store[expired] = rts_blob(rts_fields(m, b.identity_id, now_ms() - 60'000), mallory, bob_public);
  w.node.memory.store[far] = rts_blob(rts_fields(m, b.identity_id, now_ms() + 3650 * day_ms), mallory, bob_public);
  w.node.memory.store[huge] = rts_blob(rts_fields(m, b.identity_id, std::numeric_limits<std::int64_t>::max()), mallory, bob_public);
  REQUIRE(w.run_until([&] {
    return w.logged({dropped(expired), "expired: its channel timed out at"}) == 1 &&
           w.logged({dropped(far), "is too far ahead"}) == 1 && w.logged({dropped(huge), "is too far ahead"}) == 1;
  }));
  w.settle();
  CHECK(w.count("SELECT COUNT(*) FROM contact_request") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM channel") == 0);
  CHECK(w.cts_puts() == 0);
  CHECK(w.legit_message_arrives(alice, bob, "still-serving-after-expired"));
  CHECK(w.inbox(bob).size() == 1);
}

TEST_CASE("hostile RTS: garbage, truncated, altered and misaddressed blobs") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  const auto b = w.info(bob);
  const auto mallory = fixture_key("mallory");
  const auto m = w.stranger(fixture_text("mallory.mailpage"));
  const auto genuine = rts_blob(rts_fields(m, b.identity_id, fresh_timeout()), mallory, fixture_key("bob").public_key());
  auto altered = genuine;
  altered[700] = static_cast<char>(altered[700] ^ 0x40);  // inside the AES part
  std::vector<std::pair<std::string, std::string>> blobs = {   // what, bytes
      {"random bytes", crypto::random_bytes(genuine.size())},
      {"empty", ""},
      {"one RSA block only", genuine.substr(0, 512)},
      {"cut inside an AES block", genuine.substr(0, 1000)},
      {"cut to 100 bytes", genuine.substr(0, 100)},
      {"text", "messagetype=rts\r\nto=" + b.identity_id + "\r\n\r\n"},
      {"encrypted to mallory's key", rts_blob(rts_fields(m, b.identity_id, fresh_timeout()), mallory, mallory.public_key())},
      {"one bit flipped", altered},
  };
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    keys.push_back(ksk(b, 0, static_cast<int>(i + 1)));
    w.node.memory.store[keys.back()] = blobs[i].second;
  }
  REQUIRE(w.run_until([&] {
    for (const auto& k : keys)
      if (w.logged({dropped(k)}) != 1) return false;
    return true;
  }));
  for (std::size_t i = 0; i + 1 < blobs.size(); ++i)  // a flipped bit may also surface as a bad field or signature
    CHECK_MESSAGE(w.logged({dropped(keys[i]), "not readable with our key ("}) == 1, blobs[i].first);
  w.settle();
  CHECK(w.count("SELECT COUNT(*) FROM contact_request") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM channel") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM rts_inbox") == 0);
  CHECK(w.cts_puts() == 0);
  CHECK(w.legit_message_arrives(alice, bob, "still-serving-after-garbage"));
}

TEST_CASE("hostile RTS: 2 MiB + 1 blobs are refused by MaxSize, not downloaded, and do not block the KSK") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  const auto b = w.info(bob);
  const auto mallory = fixture_key("mallory");
  const auto m = w.stranger(fixture_text("mallory.mailpage"));
  const std::size_t limit = 2 * 1024 * 1024;
  // Slots 1-3 (the whole initial look-ahead) taken by oversized blobs; a real RTS on slot 4, where
  // a sender lands after colliding three times. Slot 5: exactly 2 MiB, fetched and then refused.
  const auto gets_before = w.node.gets.size();
  std::vector<std::string> big;
  for (int n = 1; n <= 3; ++n) {
    big.push_back(ksk(b, 0, n));
    w.node.memory.store[big.back()] = std::string(limit + 1, static_cast<char>('a' + n));
  }
  const auto real = ksk(b, 0, 4), exact = ksk(b, 0, 5);
  w.node.memory.store[real] = rts_blob(rts_fields(m, b.identity_id, fresh_timeout()), mallory, fixture_key("bob").public_key());
  w.node.memory.store[exact] = std::string(limit, 'x');
  REQUIRE(w.run_until([&] { return w.engine.requests(bob)->size() == 1; }));
  REQUIRE(w.run_until([&] { return w.logged({dropped(exact), "not readable with our key"}) == 1; }));
  w.settle();
  for (const auto& k : big) {
    CHECK(w.logged({"RTS at " + k + " refused: larger than the 2097152-byte limit, not downloaded"}) == 1);
    CHECK(w.node.gets_of(k, gets_before) == 1);  // marked used: not fetched again on every pass
  }
  for (const auto& [uri, max_size] : w.node.gets)
    if (uri.starts_with("KSK@")) CHECK(max_size == limit);  // every RTS fetch carries MaxSize
  CHECK(w.node.refused.size() == 3);
  CHECK(w.count("SELECT COUNT(*) FROM rts_inbox") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM contact_request") == 1);  // only the real one
  CHECK(w.cts_puts() == 0);
  CHECK(w.legit_message_arrives(alice, bob, "still-serving-after-big-blobs"));
}

TEST_CASE("hostile RTS: the sender's mailpage has missing keys or an unusable RSA key") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  const auto b = w.info(bob);
  const auto mallory = fixture_key("mallory");
  const auto bob_public = fixture_key("bob").public_key();
  const std::string modulus = freemail::radix32_encode(mallory.public_key().modulus());
  std::string even_modulus_bytes = mallory.public_key().modulus();
  even_modulus_bytes.back() = static_cast<char>(even_modulus_bytes.back() & ~1);
  const std::string rtsksk = "rtsksk=abcdefghijklmnopqrstuvwxyzabcdef\r\n";
  const std::vector<std::pair<std::string, std::string>> pages = {   // what, mailpage
      {"no modulus", rtsksk + "asymkey.pubexponent=h\r\n"},
      {"no exponent", rtsksk + "asymkey.modulus=" + modulus + "\r\n"},
      {"no keys at all", "hello\r\n"},
      {"empty", ""},
      {"1-bit modulus", rtsksk + "asymkey.modulus=1\r\nasymkey.pubexponent=h\r\n"},
      {"tiny modulus 3233", rtsksk + "asymkey.modulus=" + freemail::radix32_encode(std::string("\x0c\xa1", 2)) + "\r\nasymkey.pubexponent=h\r\n"},
      {"even modulus", rtsksk + "asymkey.modulus=" + freemail::radix32_encode(even_modulus_bytes) + "\r\nasymkey.pubexponent=h\r\n"},
      {"e = 1", rtsksk + "asymkey.modulus=" + modulus + "\r\nasymkey.pubexponent=1\r\n"},
      {"modulus not radix 32", rtsksk + "asymkey.modulus=zz!zz\r\nasymkey.pubexponent=h\r\n"},
  };
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < pages.size(); ++i) {
    const auto m = w.stranger(pages[i].second);
    keys.push_back(ksk(b, 0, static_cast<int>(i + 1)));
    w.node.memory.store[keys.back()] = rts_blob(rts_fields(m, b.identity_id, fresh_timeout()), mallory, bob_public);
  }
  // A mailpage too large to be one: refused by MaxSize.
  const auto big = w.stranger(fixture_text("mallory.mailpage") + "padding=" + std::string(70'000, 'p') + "\r\n");
  const auto big_key = ksk(b, 0, static_cast<int>(pages.size() + 1));
  w.node.memory.store[big_key] = rts_blob(rts_fields(big, b.identity_id, fresh_timeout()), mallory, bob_public);
  REQUIRE(w.run_until([&] {
    for (const auto& k : keys)
      if (w.logged({dropped(k)}) != 1) return false;
    return w.logged({dropped(big_key)}) == 1;
  }));
  for (std::size_t i = 0; i < keys.size(); ++i)
    CHECK_MESSAGE(w.logged({dropped(keys[i]), "the sender's mailpage is unusable: "}) == 1, pages[i].first);
  CHECK(w.logged({dropped(big_key), "the sender's mailpage was refused: larger than the 65536-byte limit"}) == 1);
  w.settle();
  CHECK(w.count("SELECT COUNT(*) FROM contact_request") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM channel") == 0);
  CHECK(w.count("SELECT COUNT(*) FROM rts_inbox") == 0);
  CHECK(w.cts_puts() == 0);
  CHECK(w.legit_message_arrives(alice, bob, "still-serving-after-bad-mailpages"));
}

TEST_CASE("hostile channel messages: bad ids, no blank line, duplicates, forged signatures, oversized") {
  World w;
  const auto alice = w.create("alice");
  const auto bob = w.create("bob");
  // A channel alice -> bob, as the engine makes it.
  REQUIRE(w.legit_message_arrives(alice, bob, "opens-the-channel"));

  // Bob's end: its public URI, the head of its send chain and the channel key both ends sign over.
  SQLite::Statement q(*w.db, "SELECT c.request_uri, c.send_slot, c.id, c.insert_uri_sealed, c.key_hash FROM channel c JOIN account a ON a.id = c.account_id WHERE a.address = ?");
  q.bind(1, bob);
  REQUIRE(q.executeStep());
  const std::string request_uri = q.getColumn(0).getString();
  std::string slot = q.getColumn(1).getString();
  const auto bob_channel = q.getColumn(2).getInt64();
  const auto channel_key = w.box.open(q.getColumn(3).getString(), "channel:" + q.getColumn(4).getString());
  REQUIRE(channel_key.has_value());
  q.reset();
  const auto a = w.info(alice), b = w.info(bob);
  const freemail::MessageSignatureContext context{b.identity_id, a.identity_id, *channel_key};
  const auto bob_key = fixture_key("bob"), mallory_key = fixture_key("mallory");
  auto mail = [&](const std::string& word) { return "Subject: " + word + "\r\nFrom: " + bob + "\r\nTo: " + alice + "\r\n\r\n" + word + "\r\n"; };
  auto signed_by = [&](const crypto::RsaPrivateKey& k, std::uint64_t id, const std::string& word) {
    return *freemail::write_signed_message(context, id, mail(word), k);
  };
  auto tampered = signed_by(bob_key, 107, "original-107");
  tampered.replace(tampered.find("original-107"), 12, "replaced-107");

  struct Case { std::string what, payload, log; };
  const std::vector<Case> cases = {
      {"genuine", signed_by(bob_key, 100, "genuine-100"), "stored in INBOX (signature valid)"},
      {"id 2^63", "messagetype=message\r\nid=9223372036854775808\r\n\r\n" + mail("huge-101"), "unreadable (message id"},
      {"id 10^22", "messagetype=message\r\nid=10000000000000000000000\r\n\r\n" + mail("huge-102"), "unreadable (message id"},
      {"negative id", "messagetype=message\r\nid=-5\r\n\r\n" + mail("negative-103"), "unreadable (negative message id"},
      {"no blank line", "messagetype=message\r\nid=104\r\nSubject: no-blank-104\r\nno-blank-104\r\n", "unreadable (message payload has no empty line"},
      {"duplicate id", signed_by(bob_key, 100, "duplicate-100"), "is a duplicate; acknowledging again"},
      {"forged", signed_by(mallory_key, 106, "forged-106"), "refused: its x-fcpmail-signature does not verify"},
      {"tampered", tampered, "refused: its x-fcpmail-signature does not verify"},
      {"genuine with the forged id", signed_by(bob_key, 106, "genuine-106"), "stored in INBOX (signature valid)"},
      {"oversized", *freemail::write_message(109, mail("big-109") + std::string(70 * 1024, 'z')), "refused (Too big (code 21)"},
      {"freemail, unsigned", *freemail::write_message(110, mail("freemail-110")), "stored in INBOX (signature absent)"},
      {"genuine, last", signed_by(bob_key, 111, "after-all-111"), "stored in INBOX (signature valid)"},
  };
  // Bob's engine gives up those slots, as a peer's chain is its own.
  const auto first_index = w.count("SELECT send_index FROM channel WHERE id = " + std::to_string(bob_channel));
  for (const auto& c : cases) {
    w.node.memory.store[*freemail::slot_uri(request_uri, freemail::ChannelSide::responder, slot)] = c.payload;
    slot = *freemail::next_slot(slot);
  }
  w.db->exec("UPDATE channel SET send_slot = '" + slot + "', send_index = send_index + " + std::to_string(cases.size()) +
             " WHERE id = " + std::to_string(bob_channel));
  REQUIRE(w.run_until([&] { return w.inbox_has(alice, "after-all-111"); }));
  w.settle(200);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const bool about_slot = c.log.starts_with("unreadable") || c.log.starts_with("refused (");
    const std::string subject = about_slot ? "slot " + std::to_string(first_index + static_cast<std::int64_t>(i)) + " from " : "";
    CHECK_MESSAGE(w.logged({subject, c.log}) >= 1, (c.what + ": expected a log line with " + c.log));
  }
  const auto got = w.inbox(alice);
  CHECK(got.size() == 4);  // opens-the-channel went to bob: alice's inbox has only these
  for (std::string word : {"genuine-100", "genuine-106", "freemail-110", "after-all-111"}) CHECK_MESSAGE(w.inbox_has(alice, word), word);
  for (std::string word : {"huge-101", "huge-102", "negative-103", "no-blank-104", "duplicate-100", "forged-106", "replaced-107", "original-107", "big-109"})
    CHECK_MESSAGE(!w.inbox_has(alice, word), word);
  CHECK(w.inbox_has(alice, "X-Fcpmail-Signature: absent"));
  CHECK_FALSE(w.inbox_has(alice, "X-Fcpmail-Signature: invalid"));
  // Refused messages leave no trace in the dedup record (so the genuine 106 got through) ...
  CHECK(w.count("SELECT COUNT(*) FROM seen_message WHERE message_id IN (101, 102, 103, 104, 107, 109)") == 0);
  // ... and are never acknowledged; the duplicate is acknowledged again.
  REQUIRE(w.run_until([&] {
    return w.count("SELECT COUNT(*) FROM send_item s JOIN channel c ON c.id = s.channel_id JOIN account a ON a.id = c.account_id WHERE s.kind = 'ack' AND a.address = '" + alice + "'") == 0;
  }));
  std::map<std::string, int> acks;
  for (const auto& [uri, data] : w.node.memory.store)
    if (data.starts_with("messagetype=ack") && uri.find("/i-") != std::string::npos) ++acks[data];
  auto acked = [&](int id) { return acks[*freemail::write_ack(static_cast<std::uint64_t>(id))]; };
  CHECK(acked(100) == 2);
  CHECK(acked(106) == 1);
  CHECK(acked(110) == 1);
  CHECK(acked(111) == 1);
  for (int id : {101, 102, 103, 104, 107, 109}) CHECK_MESSAGE(acked(id) == 0, id);
  CHECK(w.logged({"internal error"}) == 0);

  // The engine keeps serving on that very channel: bob's engine writes after the hostile slots.
  auto reply = w.engine.send(bob, {alice}, w.mail(bob, alice, "reply", "engine-reply-after-hostility"));
  REQUIRE(reply.has_value());
  REQUIRE(w.engine.outbox_approve(*reply).has_value());
  CHECK(w.run_until([&] { return w.inbox_has(alice, "engine-reply-after-hostility"); }));
  CHECK(w.inbox(alice).size() == 5);
}
