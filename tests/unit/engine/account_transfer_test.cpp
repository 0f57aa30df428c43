// Account export/import: the file codec (round trip, wrong passphrase, every truncation, every
// flipped byte) and the engine path on the in-memory node (export an account with a contact and a
// channel, import it into a fresh engine, mail still arrives there exactly once).
#include <utility>

#include "engine/account_archive.h"

#include <doctest/doctest.h>

using namespace fcpmail;
using namespace fcpmail::engine;
using nlohmann::json;

namespace {

// The smallest accepted cost keeps the every-byte loops fast; the layout is the same.
const crypto::ScryptParams cheap{1u << 10, 1, 1};

json sample_content() {
  json j = {{"format", "fcpmail-account"},
            {"account", {{"address", "alice@x.freemail"}, {"edition", 3}}},
            {"body", json::binary({0x00, 0xff, 0x80, 0x0d, 0x0a})},
            {"text", std::string("caf\xe9 \xff not utf-8", 15)}};
  return j;
}

}  // namespace

TEST_CASE("account archive: round trip keeps every value, bytes included") {
  const auto content = sample_content();
  const auto file = encode_account_archive(content, "correct horse battery", cheap);
  CHECK(file.substr(0, 16) == std::string("FCPMAIL-ACCOUNT\x1a", 16));
  CHECK(static_cast<unsigned char>(file[16]) == account_archive_version);
  CHECK(static_cast<unsigned char>(file[17]) == 10);  // log2 N
  auto back = decode_account_archive(file, "correct horse battery");
  REQUIRE(back.has_value());
  CHECK(*back == content);
  CHECK((*back)["text"].get<std::string>() == std::string("caf\xe9 \xff not utf-8", 15));
  // A second export of the same content differs (fresh salt and nonce) and decodes the same.
  const auto again = encode_account_archive(content, "correct horse battery", cheap);
  CHECK(again != file);
  CHECK(decode_account_archive(again, "correct horse battery").value() == content);
}

TEST_CASE("account archive: the default parameters are written into the header") {
  const auto file = encode_account_archive(json{{"a", 1}}, "passphrase");
  CHECK(static_cast<unsigned char>(file[17]) == 16);
  CHECK(static_cast<unsigned char>(file[18]) == 8);
  CHECK(static_cast<unsigned char>(file[19]) == 1);
  CHECK(decode_account_archive(file, "passphrase").value() == json{{"a", 1}});
}

TEST_CASE("account archive: a wrong passphrase is named as such") {
  const auto file = encode_account_archive(sample_content(), "correct horse battery", cheap);
  for (const char* wrong : {"", "correct horse batter", "Correct horse battery", "correct horse battery "}) {
    auto r = decode_account_archive(file, wrong);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().error == ArchiveError::wrong_passphrase);
    CHECK(r.error().detail.find("wrong passphrase") != std::string::npos);
  }
}

TEST_CASE("account archive: every truncation is refused as truncated") {
  const auto file = encode_account_archive(sample_content(), "pw-for-truncation", cheap);
  for (std::size_t n = 0; n < file.size(); ++n) {
    CAPTURE(n);
    auto r = decode_account_archive(std::string_view(file).substr(0, n), "pw-for-truncation");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().error == ArchiveError::truncated);
  }
}

TEST_CASE("account archive: every flipped byte is refused, never as a wrong passphrase") {
  const auto file = encode_account_archive(sample_content(), "pw-for-flips", cheap);
  for (std::size_t i = 0; i < file.size(); ++i) {
    CAPTURE(i);
    std::string bad = file;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto r = decode_account_archive(bad, "pw-for-flips");
    REQUIRE_FALSE(r.has_value());
    if (i < 16) CHECK(r.error().error == ArchiveError::not_an_archive);
    else if (i == 16) CHECK(r.error().error == ArchiveError::unsupported_version);
    else CHECK(r.error().error == ArchiveError::damaged);
  }
}

TEST_CASE("account archive: other files and extra bytes") {
  const auto file = encode_account_archive(sample_content(), "pw", cheap);
  CHECK(decode_account_archive("From: someone\r\n\r\nhello", "pw").error().error == ArchiveError::not_an_archive);
  CHECK(decode_account_archive(file + "x", "pw").error().error == ArchiveError::damaged);
  CHECK(decode_account_archive(file + file, "pw").error().error == ArchiveError::damaged);
  std::string v2 = file;
  v2[16] = 2;
  auto r = decode_account_archive(v2, "pw");
  CHECK(r.error().error == ArchiveError::unsupported_version);
  CHECK(r.error().detail.find("version 2") != std::string::npos);
}

// ---- the engine path ---------------------------------------------------------------------------

#include "engine/engine.h"
#include "engine_world.h"
#include "memory_node.h"

#include "store/database.h"
#include "store/mailbox_store.h"

#include <SQLiteCpp/Statement.h>

#include <list>

using fcpmail::engine::test::MemoryNode;

namespace {

using fcpmail::engine::test::fast_config;

// Another machine's node on the same network: it shares the MemoryNode's data (puts, gets) but has
// its own WebOfTrust with no own identities until one is restored from its insert URI (WoT's
// CreateIdentity with InsertURI; the public half is looked up in the network's identities, as
// fred derives it from the private key).
class FreshWotNode final : public Node {
 public:
  explicit FreshWotNode(MemoryNode& network) : network_(network) {}
  std::vector<std::string> own;  // identity ids restored here
  int restores = 0;
  std::string restored_nickname;  // the Nickname of the last restore

  asio::awaitable<NodeResult<SskKeypair>> generate_ssk() override { return network_.generate_ssk(); }
  asio::awaitable<NodeResult<std::string>> put(std::string uri, std::string data, std::string what) override {
    return network_.put(std::move(uri), std::move(data), std::move(what));
  }
  asio::awaitable<NodeResult<std::string>> get(std::string uri, std::size_t max, std::string what) override {
    return network_.get(std::move(uri), max, std::move(what));
  }
  asio::awaitable<NodeResult<WotFields>> wot(WotFields p) override {
    if (p["Message"] == "GetOwnIdentities") {
      WotFields out{{"Message", "OwnIdentities"}};
      for (std::size_t i = 0; i < own.size(); ++i) {
        const auto& id = network_.identities.at(own[i]);
        out["Identity" + std::to_string(i)] = id.id;
        out["RequestURI" + std::to_string(i)] = id.request_uri;
        out["InsertURI" + std::to_string(i)] = id.insert_uri;
        out["Nickname" + std::to_string(i)] = id.nickname;
      }
      co_return out;
    }
    if (p["Message"] == "CreateIdentity" && p.count("InsertURI")) {
      ++restores;
      restored_nickname = p["Nickname"];
      for (const auto& [id, identity] : network_.identities)
        if (identity.insert_uri == p["InsertURI"]) {
          own.push_back(id);
          co_return WotFields{{"Message", "IdentityCreated"}, {"ID", id}, {"RequestURI", identity.request_uri},
                              {"InsertURI", identity.insert_uri}};
        }
      co_return std::unexpected(NodeError{NodeError::Kind::plugin_error, 0, "not an insert URI this network knows"});
    }
    co_return co_await network_.wot(std::move(p));
  }
  bool connected() const override { return true; }
  std::string version() const override { return "FreshWotNode"; }
  std::uint64_t requests_sent() const override { return network_.requests_sent(); }
  std::vector<InFlight> in_flight() const override { return {}; }

 private:
  MemoryNode& network_;
};

struct Daemon {
  std::unique_ptr<SQLite::Database> db = store::open_memory_database();
  MailboxStore mailbox{*db};
  crypto::Key256 key{};
  std::unique_ptr<crypto::SealedBox> box;
  std::unique_ptr<Engine> engine;

  // Each daemon has its own data dir secret, so an import must seal everything again.
  Daemon(boost::asio::io_context& io, Node& node, std::uint8_t secret) {
    key.fill(secret);
    box = std::make_unique<crypto::SealedBox>(key);
    engine = std::make_unique<Engine>(
        EngineDeps{io, *db, node, &mailbox, *box, {}, NodeStatus{"memory", 0, true, true, "", std::nullopt, true},
                   [this](const std::string& account, const std::array<std::uint8_t, 32>& k) { mailbox.unlock(account, k); }},
        fast_config());
    engine->start();
  }
};

struct Network {
  boost::asio::io_context io;
  MemoryNode node{io};
  FreshWotNode other_machine{node};
  std::list<Daemon> daemons;  // destroyed before the nodes

  Daemon& daemon(std::uint8_t secret) { return daemons.emplace_back(io, node, secret); }
  Daemon& daemon_on_other_machine(std::uint8_t secret) { return daemons.emplace_back(io, other_machine, secret); }

  ~Network() {
    for (auto& d : daemons) d.engine->stop();
    io.run_for(std::chrono::milliseconds(100));
    io.stop();
  }

  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(15000)) {
    return test::run_io_until(io, pred, limit);
  }

  std::string create(Daemon& d, const std::string& name) {
    return test::create_fixture_account(io, *d.engine, name, std::chrono::milliseconds(15000));
  }

  Result<std::string> export_account(Daemon& d, const std::string& account, const std::string& passphrase,
                                     std::vector<std::string>* stages = nullptr) {
    std::optional<Result<std::string>> result;
    d.engine->export_account(
        account, passphrase,
        [stages](std::string_view stage, std::string_view) { if (stages) stages->emplace_back(stage); },
        [&](Result<std::string> r) { result = std::move(r); });
    REQUIRE(run_until([&] { return result.has_value(); }));
    return *result;
  }

  Result<AccountSummary> import_account(Daemon& d, const std::string& file, const std::string& passphrase,
                                        std::vector<std::string>* stages = nullptr) {
    std::optional<Result<AccountSummary>> result;
    d.engine->import_account(
        file, passphrase,
        [stages](std::string_view stage, std::string_view) { if (stages) stages->emplace_back(stage); },
        [&](Result<AccountSummary> r) { result = std::move(r); });
    REQUIRE(run_until([&] { return result.has_value(); }));
    return *result;
  }

  static std::string mail(const std::string& from, const std::string& to, const std::string& body) {
    return test::mail_text(from, to, "transfer", body);
  }

  // Sends and releases; returns the outbox id.
  std::int64_t send(Daemon& d, const std::string& from, const std::string& to, const std::string& body) {
    auto id = d.engine->send(from, {to}, mail(from, to, body));
    REQUIRE(id.has_value());
    REQUIRE(d.engine->outbox_approve(*id).has_value());
    return *id;
  }

  static std::string state_of(Daemon& d, std::int64_t id) {
    auto e = d.engine->outbox_show(id);
    if (!e || e->entry.recipients.empty()) return "?";
    return e->entry.recipients.front().code;
  }

  static std::vector<std::string> inbox(Daemon& d, const std::string& account) {
    return test::inbox_of(d.mailbox, account);
  }

  static std::size_t count_containing(const std::vector<std::string>& mails, const std::string& text) {
    return static_cast<std::size_t>(std::count_if(mails.begin(), mails.end(), [&](const auto& m) {
      return m.find(text) != std::string::npos;
    }));
  }
};

}  // namespace

TEST_CASE("engine: an exported account imported on another machine keeps its channel, contacts and reachability") {
  Network net;
  Daemon& a = net.daemon(1);
  Daemon& c = net.daemon(3);
  const auto alice = net.create(a, "alice");
  const auto bob = net.create(c, "bob");

  // Bob writes to Alice; she approves; they have a channel and she has one mail.
  const auto first = net.send(c, bob, alice, "before the move");
  REQUIRE(net.run_until([&] { return a.engine->requests(alice)->size() == 1; }));
  REQUIRE(a.engine->approve_request(a.engine->requests(alice)->front().id).has_value());
  REQUIRE(net.run_until([&] { return Network::state_of(c, first) == "delivered"; }));
  REQUIRE(Network::inbox(a, alice).size() == 1);
  REQUIRE(a.engine->add_contact(alice, bob, "bobby").has_value());
  const auto contacts_before = a.engine->contacts(alice).value();

  std::vector<std::string> export_stages;
  auto file = net.export_account(a, alice, "a long export passphrase", &export_stages);
  REQUIRE_MESSAGE(file.has_value(), (file ? "" : file.error()));
  CHECK(file->starts_with(std::string("FCPMAIL-ACCOUNT\x1a", 16)));
  CHECK(export_stages.front() == "collect");
  CHECK(export_stages.back() == "done");
  MESSAGE("export file of one account with one contact and one channel: " << file->size() << " bytes");
  // Nothing in the clear: not the RSA key, not the identity insert URI.
  CHECK(file->find("asymkey") == std::string::npos);
  CHECK(file->find("USK@") == std::string::npos);
  CHECK(net.export_account(a, "nobody@nowhere.freemail", "pw pw pw pw").error().find("no account") != std::string::npos);

  a.engine->stop();  // the old machine is switched off
  Daemon& b = net.daemon_on_other_machine(2);

  auto wrong = net.import_account(b, *file, "not the passphrase");
  REQUIRE_FALSE(wrong.has_value());
  CHECK(wrong.error().find("wrong passphrase") != std::string::npos);
  std::string tampered = *file;
  tampered[tampered.size() / 2] ^= 0x20;
  auto damaged = net.import_account(b, tampered, "a long export passphrase");
  REQUIRE_FALSE(damaged.has_value());
  CHECK(damaged.error().find("damaged") != std::string::npos);
  CHECK(b.engine->accounts().empty());
  CHECK(net.other_machine.restores == 0);

  std::vector<std::string> import_stages;
  auto imported = net.import_account(b, *file, "a long export passphrase", &import_stages);
  REQUIRE_MESSAGE(imported.has_value(), (imported ? "" : imported.error()));
  CHECK(imported->address == alice);
  CHECK(net.other_machine.restores == 1);  // the WoT identity came back from its insert URI
  CHECK(import_stages.front() == "decrypt");
  CHECK(std::find(import_stages.begin(), import_stages.end(), "identity") != import_stages.end());
  CHECK(import_stages.back() == "done");
  CHECK(imported->mailsite_edition >= 1);
  CHECK(test::login_as(*b.db, alice, "secret-alice") == alice);  // the same password
  CHECK_FALSE(test::login_as(*b.db, alice, "wrong"));
  const auto contacts_after = b.engine->contacts(alice).value();
  REQUIRE(contacts_after.size() == contacts_before.size());
  CHECK(contacts_after.front().address == bob);
  CHECK(contacts_after.front().petname == "bobby");
  CHECK(contacts_after.front().state == contacts_before.front().state);
  CHECK(Network::inbox(b, alice).empty());  // stored mail stays with the old mailbox

  auto again = net.import_account(b, *file, "a long export passphrase");
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().find("already exists") != std::string::npos);
  CHECK(b.engine->accounts().size() == 1);

  // Bob writes again on the same channel: it arrives on the new machine exactly once.
  const auto second = net.send(c, bob, alice, "after the move");
  REQUIRE(net.run_until([&] { return Network::state_of(c, second) == "delivered"; }));
  CHECK(b.engine->requests(alice)->empty());  // no new consent needed
  // And Alice answers from the new machine on the same channel.
  const auto answer = net.send(b, alice, bob, "answer from the new machine");
  REQUIRE(net.run_until([&] { return Network::state_of(b, answer) == "delivered"; }));
  net.run_until([] { return false; }, std::chrono::milliseconds(300));
  auto got = Network::inbox(b, alice);
  CHECK(Network::count_containing(got, "after the move") == 1);
  CHECK(Network::count_containing(got, "before the move") == 0);
  CHECK(Network::count_containing(Network::inbox(c, bob), "answer from the new machine") == 1);

  // A stranger finds her through the mailsite and RTS on the new machine.
  const auto carol = net.create(c, "carol");
  const auto hello = net.send(c, carol, alice, "hello from a stranger");
  REQUIRE(net.run_until([&] { return b.engine->requests(alice)->size() == 1; }));
  REQUIRE(b.engine->approve_request(b.engine->requests(alice)->front().id).has_value());
  REQUIRE(net.run_until([&] { return Network::state_of(c, hello) == "delivered"; }));
  CHECK(Network::count_containing(Network::inbox(b, alice), "hello from a stranger") == 1);
}

TEST_CASE("engine: an unfinished send and a pending request move with the account") {
  Network net;
  Daemon& a = net.daemon(1);
  Daemon& c = net.daemon(3);
  const auto alice = net.create(a, "alice");
  const auto bob = net.create(c, "bob");
  const auto carol = net.create(c, "carol");
  // Carol asks Alice (pending request); Alice writes to Bob, held (never released on A).
  net.send(c, carol, alice, "carol asks");
  REQUIRE(net.run_until([&] { return a.engine->requests(alice)->size() == 1; }));
  auto held = a.engine->send(alice, {bob}, Network::mail(alice, bob, "written on the old machine"));
  REQUIRE(held.has_value());

  auto file = net.export_account(a, alice, "another passphrase");
  REQUIRE(file.has_value());
  a.engine->stop();
  Daemon& b = net.daemon_on_other_machine(2);
  REQUIRE(net.import_account(b, *file, "another passphrase").has_value());

  auto outbox = b.engine->outbox(alice).value();
  REQUIRE(outbox.size() == 1);
  CHECK(outbox.front().recipients.front().code == "held");
  CHECK(outbox.front().subject == "transfer");  // sealed again under the new key, account and id
  CHECK(b.engine->contacts(alice)->empty());    // held mail to bob made him no contact, here either
  REQUIRE(b.engine->outbox_approve(outbox.front().id).has_value());
  REQUIRE(net.run_until([&] { return c.engine->requests(bob)->size() == 1; }));
  REQUIRE(c.engine->approve_request(c.engine->requests(bob)->front().id).has_value());
  REQUIRE(net.run_until([&] { return Network::state_of(b, outbox.front().id) == "delivered"; }));
  CHECK(Network::count_containing(Network::inbox(c, bob), "written on the old machine") == 1);

  auto requests = b.engine->requests(alice).value();
  REQUIRE(requests.size() == 1);
  CHECK(requests.front().from_address == carol);
  REQUIRE(b.engine->approve_request(requests.front().id).has_value());
  REQUIRE(net.run_until([&] { return Network::count_containing(Network::inbox(b, alice), "carol asks") == 1; }));
}

TEST_CASE("engine: a file with foreign or inconsistent content is refused and nothing is imported") {
  Network net;
  Daemon& a = net.daemon(1);
  const auto alice = net.create(a, "alice");
  const auto bob = net.create(a, "bob");
  REQUIRE(a.engine->add_contact(alice, bob, "bob").has_value());
  auto file = net.export_account(a, alice, "a passphrase");
  REQUIRE(file.has_value());
  const json content = decode_account_archive(*file, "a passphrase").value();
  CHECK(content["format"] == "fcpmail-account");
  CHECK(content["contacts"].size() == 1);
  a.engine->stop();
  Daemon& b = net.daemon_on_other_machine(2);
  auto import_changed = [&](const std::function<void(json&)>& change) {
    json changed = content;
    change(changed);
    return net.import_account(b, encode_account_archive(changed, "pw", cheap), "pw");
  };

  auto other = import_changed([](json& c) { c["format"] = "something-else"; });
  CHECK(other.error().find("does not hold an fcpmail account") != std::string::npos);
  auto newer = import_changed([](json& c) { c["content_version"] = 99; });
  CHECK(newer.error().find("version 99") != std::string::npos);
  auto foreign_address = import_changed([&](json& c) { c["account"]["address"] = bob; });
  CHECK(foreign_address.error().find("does not belong to its identity") != std::string::npos);
  auto no_key = import_changed([](json& c) { c["account"]["rsa_private"] = "not a key"; });
  CHECK(no_key.error().find("RSA key") != std::string::npos);
  CHECK(net.other_machine.restores == 0);  // none of these reached the node
  // A row that points nowhere fails inside the one transaction: the account row is rolled back.
  auto dangling = import_changed([](json& c) {
    c["seen_messages"] = json::array({json{{"contact_id", 999999}, {"message_id", 1}, {"received_at", 1}}});
  });
  REQUIRE_FALSE(dangling.has_value());
  CHECK(dangling.error().find("nothing was imported") != std::string::npos);
  CHECK(b.engine->accounts().empty());
  SQLite::Statement rows(*b.db, "SELECT (SELECT COUNT(*) FROM account) + (SELECT COUNT(*) FROM contact)");
  REQUIRE(rows.executeStep());
  CHECK(rows.getColumn(0).getInt() == 0);
  // The unchanged content still imports.
  CHECK(import_changed([](json&) {}).has_value());
  CHECK(b.engine->contacts(alice).value().size() == 1);
}

TEST_CASE("engine: an imported account's mailsite is due from the commit on (a stop before the republish loses nothing)") {
  Network net;
  Daemon& a = net.daemon(1);
  const auto alice = net.create(a, "alice");
  auto file = net.export_account(a, alice, "a passphrase");
  REQUIRE(file.has_value());
  a.engine->stop();
  Daemon& b = net.daemon_on_other_machine(2);
  // What the database holds when the republish starts is what a daemon stopped at that moment
  // would find on its next start: the mailsite must be due then, not scheduled for never.
  std::optional<std::int64_t> next_at_during_publish;
  std::optional<Result<AccountSummary>> result;
  b.engine->import_account(
      *file, "a passphrase",
      [&](std::string_view stage, std::string_view) {
        if (stage != "mailsite" || next_at_during_publish) return;
        SQLite::Statement q(*b.db, "SELECT mailsite_next_at FROM account");
        REQUIRE(q.executeStep());
        next_at_during_publish = q.getColumn(0).getInt64();
      },
      [&](Result<AccountSummary> r) { result = std::move(r); });
  REQUIRE(net.run_until([&] { return result.has_value(); }));
  REQUIRE(result->has_value());
  REQUIRE(next_at_during_publish.has_value());
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(*next_at_during_publish <= now_ms);
}

TEST_CASE("engine: the identity is restored with its nickname as it is, multi-byte characters included") {
  Network net;
  Daemon& a = net.daemon(1);
  // 29 characters, 35 bytes: within WoT's 30-character limit, beyond 30 bytes.
  const std::string nickname = "J\u00fcrgen \u00c4\u00f6\u00fc M\u00fcller-L\u00fcdenscheid";
  std::optional<Result<AccountCreated>> created;
  AccountCreateRequest r;
  r.nickname = nickname;
  r.password = "secret";
  r.rsa_key_file = std::string(FCPMAIL_FIXTURES) + "/keys/alice.key";
  a.engine->create_account(r, {}, [&](Result<AccountCreated> c) { created = std::move(c); });
  REQUIRE(net.run_until([&] { return created.has_value(); }));
  REQUIRE_MESSAGE(created->has_value(), (created->has_value() ? "" : created->error()));
  auto file = net.export_account(a, (*created)->account.address, "a passphrase");
  REQUIRE(file.has_value());
  a.engine->stop();
  Daemon& b = net.daemon_on_other_machine(2);
  auto imported = net.import_account(b, *file, "a passphrase");
  REQUIRE_MESSAGE(imported.has_value(), (imported ? "" : imported.error()));
  CHECK(net.other_machine.restores == 1);
  CHECK(net.other_machine.restored_nickname == nickname);
}
