// The client against fcpmail-sim (the real executable, over TCP on 127.0.0.1).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "fcp/client.h"
#include "fcp/key_uri.h"
#include "scripted_node.h"
#include "sim_process.h"

using fcp::test::run_until;
using fcp::test::SimProcess;

namespace {

fcp::ClientConfig config_for(std::uint16_t port, std::string name = "") {
  fcp::ClientConfig config;
  config.port = port;
  config.name = std::move(name);
  config.reconnect_initial = std::chrono::milliseconds(20);
  config.reconnect_max = std::chrono::milliseconds(200);
  return config;
}

// Runs one request to completion and returns its outcome.
template <class T, class Start>
fcp::Outcome<T> await(boost::asio::io_context& io, Start start) {
  std::optional<fcp::Outcome<T>> result;
  start([&](fcp::Outcome<T> r) { result = std::move(r); });
  REQUIRE(run_until(io, [&] { return result.has_value(); }));
  return std::move(*result);
}

// fcpmail-sim is built from fcp/sim/ by the same build (unit_fcp depends on it). A missing
// binary is a failure, not a skip: a check that did not run must not count as a pass.
bool sim_available() {
  if (std::filesystem::exists(fcp::test::sim_binary())) return true;
  FAIL_CHECK("fcpmail-sim not built at " << fcp::test::sim_binary().string());
  return false;
}

struct Fixture {
  boost::asio::io_context io;
  SimProcess sim;
  fcp::Client client;
  explicit Fixture(std::vector<std::string> options = {}) : sim(std::move(options)), client(io, config_for(sim.port())) {
    client.start();
  }
  fcp::Outcome<fcp::PutResult> put(std::string uri, std::string data, fcp::PutOptions options = {}) {
    return await<fcp::PutResult>(io, [&](auto done) { client.put(uri, data, options, done); });
  }
  fcp::Outcome<fcp::GetResult> get(std::string uri, fcp::GetOptions options = {}) {
    return await<fcp::GetResult>(io, [&](auto done) { client.get(uri, options, done); });
  }
  fcp::SskKeypair keys() {
    auto r = await<fcp::SskKeypair>(io, [&](auto done) { client.generate_ssk(done); });
    REQUIRE(r.has_value());
    return *r;
  }
};

}  // namespace

TEST_CASE("sim: GenerateSSK gives an insert/request pair of fred's shape") {
  if (!sim_available()) return;
  Fixture f;
  const auto keys = f.keys();
  auto insert = fcp::parse_key_uri(keys.insert_uri);
  auto request = fcp::parse_key_uri(keys.request_uri);
  REQUIRE(insert);
  REQUIRE(request);
  CHECK(insert->is_insert());
  CHECK_FALSE(request->is_insert());
  CHECK(insert->crypto_key == request->crypto_key);
  CHECK(keys.insert_uri.ends_with(",AQECAAE/"));
  CHECK(keys.request_uri.ends_with(",AQACAAE/"));
  CHECK(f.client.node()->version == "Fred,0.7,1.0,1506");
}

TEST_CASE("sim: put and get on CHK, SSK and KSK") {
  if (!sim_available()) return;
  Fixture f;
  SUBCASE("CHK") {
    auto put = f.put("CHK@", "content hash keyed");
    REQUIRE(put.has_value());
    CHECK(put->uri.starts_with("CHK@"));
    auto get = f.get(put->uri);
    REQUIRE(get.has_value());
    CHECK(get->data == "content hash keyed");
  }
  SUBCASE("SSK, 1 KiB and larger than a block") {
    const auto keys = f.keys();
    const std::string small(1024, 's');
    std::string large;
    for (int i = 0; i < 2500; ++i) large += static_cast<char>('a' + (i * 7919) % 26);
    auto put = f.put(keys.insert_uri + "outbox-7", small);
    REQUIRE(put.has_value());
    CHECK(put->uri == keys.request_uri + "outbox-7");
    CHECK(f.get(keys.request_uri + "outbox-7").value().data == small);
    REQUIRE(f.put(keys.insert_uri + "big", large).has_value());
    CHECK(f.get(keys.request_uri + "big").value().data == large);
  }
  SUBCASE("KSK") {
    auto put = f.put("KSK@fcp-client-test", "keyword signed");
    REQUIRE(put.has_value());
    CHECK(put->uri == "KSK@fcp-client-test");
    CHECK(f.get("KSK@fcp-client-test").value().data == "keyword signed");
  }
  CHECK(f.client.in_flight() == 0);
}

TEST_CASE("sim: collisions — identical data succeeds again, different data fails with 9") {
  if (!sim_available()) return;
  Fixture f;
  const auto keys = f.keys();
  for (const std::string& uri : {std::string("KSK@slot-collision"), keys.insert_uri + "slot-1"}) {
    CAPTURE(uri);
    REQUIRE(f.put(uri, "first").has_value());
    CHECK(f.put(uri, "first").has_value());
    auto different = f.put(uri, "second");
    REQUIRE_FALSE(different.has_value());
    CHECK(different.error().is_collision());
    CHECK(different.error().code == 9);
  }
}

TEST_CASE("sim: data not found") {
  if (!sim_available()) return;
  Fixture f;
  auto missing = f.get("KSK@never-inserted");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().is_not_found());
  CHECK(missing.error().retryable());
  const auto keys = f.keys();
  CHECK(f.get(keys.request_uri + "nothing-here").error().is_not_found());
}

TEST_CASE("sim: USK latest edition through redirect, and subscription updates") {
  if (!sim_available()) return;
  Fixture f;
  const auto keys = f.keys();
  const auto insert = fcp::parse_key_uri(keys.insert_uri)->to_usk("site", 0);
  const auto request = fcp::parse_key_uri(keys.request_uri)->to_usk("site", 0);
  std::vector<fcp::UskUpdate> updates;
  f.client.subscribe_usk(request.with_edition(0).to_string(), {}, [&](const fcp::UskUpdate& u) { updates.push_back(u); });
  for (int edition = 0; edition < 3; ++edition) {
    auto put = f.put(insert.with_edition(edition).to_string(), "edition " + std::to_string(edition));
    if (!put) FAIL(put.error().to_string());
    CHECK(put->uri == request.with_edition(edition).to_string());
  }
  auto latest = f.get(request.with_edition(-1).to_string());
  REQUIRE(latest.has_value());
  CHECK(latest->data == "edition 2");
  CHECK(latest->redirects >= 1);
  CHECK(latest->uri == request.with_edition(2).to_string());
  // As fred: asking for an older edition when a newer one is known redirects to the newer one;
  // the SSK behind an edition still holds that edition.
  CHECK(f.get(request.with_edition(1).to_string()).value().data == "edition 2");
  CHECK(f.get(request.with_edition(1).usk_to_ssk().to_string()).value().data == "edition 1");
  REQUIRE(run_until(f.io, [&] {
    return std::any_of(updates.begin(), updates.end(), [](const fcp::UskUpdate& u) { return u.edition == 2; });
  }));
}

TEST_CASE("sim: WebOfTrust calls over FCPPluginMessage") {
  if (!sim_available()) return;
  Fixture f;
  auto call = [&](std::vector<std::pair<std::string, std::string>> params, std::string plugin = "plugins.WebOfTrust.WebOfTrust") {
    return await<fcp::PluginReply>(f.io, [&](auto done) { f.client.plugin_message(plugin, params, std::nullopt, done); });
  };
  auto created = call({{"Message", "CreateIdentity"}, {"Nickname", "alice"}, {"Context", "Freemail"}, {"PublishTrustList", "false"}});
  REQUIRE(created.has_value());
  CHECK(created->reply("Message") == "IdentityCreated");
  const std::string id(created->reply("ID").value_or(""));
  CHECK_FALSE(id.empty());
  auto own = call({{"Message", "GetOwnIdentities"}});
  REQUIRE(own.has_value());
  CHECK(own->reply("Message") == "OwnIdentities");
  auto unknown = call({{"Message", "GetIdentity"}, {"Identity", "nobody"}, {"Truster", id}});
  REQUIRE(unknown.has_value());  // the plugin answers, with an error reply
  CHECK(unknown->reply("Message") == "Error");
  CHECK(unknown->message.get_or("Success", "") == "false");
  auto missing = call({{"Message", "Ping"}}, "plugins.NotLoaded");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == 32);
}

TEST_CASE("sim: killed and restarted mid-request — nothing is silently lost") {
  if (!sim_available()) return;
  const auto state = std::filesystem::temp_directory_path() / ("fcp-client-sim-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(state);
  {
    boost::asio::io_context io;
    SimProcess sim({"--state", state.string(), "--fetch-delay", "300"});
    fcp::Client client(io, config_for(sim.port(), "restart-test"));
    int connects = 0;
    client.on_connected([&](const fcp::NodeInfo&) { ++connects; });
    client.start();
    std::optional<fcp::Outcome<fcp::PutResult>> put;
    client.put("KSK@survives-restart", "kept in the state file", {}, [&](auto r) { put = std::move(r); });
    REQUIRE(run_until(io, [&] { return put.has_value(); }));
    REQUIRE(put->has_value());

    // Three gets in flight: plain, persistent (reboot) and one queued while the node is down.
    std::optional<fcp::Outcome<fcp::GetResult>> plain, persistent, queued;
    client.get("KSK@survives-restart", {}, [&](auto r) { plain = std::move(r); });
    fcp::GetOptions options;
    options.persistence = fcp::Persistence::reboot;
    client.get("KSK@survives-restart", options, [&](auto r) { persistent = std::move(r); });
    REQUIRE(run_until(io, [&] { return client.in_flight() == 2 && client.stats().requests_sent >= 3; }));
    sim.kill_now();  // before the fetch delay ends
    REQUIRE(run_until(io, [&] { return plain.has_value(); }));
    REQUIRE_FALSE(plain->has_value());
    CHECK(plain->error().kind == fcp::Failure::Kind::connection_lost);
    CHECK(plain->error().retryable());
    CHECK_FALSE(persistent.has_value());  // kept for the next connection
    client.get("KSK@survives-restart", {}, [&](auto r) { queued = std::move(r); });
    run_until(io, [] { return false; }, std::chrono::milliseconds(100));  // a few failed reconnects
    sim.restart();
    REQUIRE(run_until(io, [&] { return persistent.has_value() && queued.has_value(); }));
    REQUIRE(persistent->has_value());
    CHECK((*persistent)->data == "kept in the state file");
    REQUIRE(queued->has_value());
    CHECK((*queued)->data == "kept in the state file");
    CHECK(connects == 2);
    CHECK(client.in_flight() == 0);
  }
  std::filesystem::remove(state);
}

TEST_CASE("sim: persistent requests replayed to a new connection with the same Name are absorbed") {
  if (!sim_available()) return;
  boost::asio::io_context io;
  SimProcess sim({"--fetch-delay", "100"});
  REQUIRE(run_until(io, [&] { return true; }));
  {
    fcp::Client first(io, config_for(sim.port(), "replay-test"));
    first.start();
    auto put = await<fcp::PutResult>(io, [&](auto done) { first.put("KSK@replayed", "replayed data", {}, done); });
    REQUIRE(put.has_value());
    fcp::GetOptions options;
    options.persistence = fcp::Persistence::forever;
    options.identifier = "left-behind";
    first.get("KSK@replayed", options, [](auto) {});
    REQUIRE(run_until(io, [&] { return first.stats().requests_sent == 2; }));
    run_until(io, [] { return false; }, std::chrono::milliseconds(50));
  }  // the first client goes away with its persistent request unfinished
  fcp::Client second(io, config_for(sim.port(), "replay-test"));
  std::vector<std::string> unsolicited;
  second.on_unsolicited([&](const fcp::Message& m) {
    if (m.get_or("Identifier", "") == "left-behind") unsolicited.push_back(m.name);
  });
  second.start();
  REQUIRE(run_until(io, [&] {
    return std::find(unsolicited.begin(), unsolicited.end(), "DataFound") != unsolicited.end();
  }));
  CHECK(std::find(unsolicited.begin(), unsolicited.end(), "PersistentGet") != unsolicited.end());
  // The client keeps working normally next to the replay.
  auto get = await<fcp::GetResult>(io, [&](auto done) { second.get("KSK@replayed", {}, done); });
  REQUIRE(get.has_value());
  CHECK(get->data == "replayed data");
}

TEST_CASE("sim: connections dropped every few messages — every request completes or fails retryably") {
  if (!sim_available()) return;
  boost::asio::io_context io;
  SimProcess sim({"--drop-every", "7"});
  fcp::Client client(io, config_for(sim.port(), "drop-test"));
  client.start();
  constexpr int count = 40;
  // At most 4 requests out at once: with every 7th message dropped node-wide, a burst of 40 lets
  // the drop land before the sim has written any reply, every time (a livelock of the fault
  // pattern, not of the client), when the machine is busy enough that the sim reads them together.
  constexpr int window = 4;
  int puts_done = 0, gets_done = 0, retries = 0, not_retryable = 0, next_put = 0, next_get = 0;
  std::function<void(int)> put_one, get_one;
  put_one = [&](int i) {
    client.put("KSK@drop-" + std::to_string(i), "value " + std::to_string(i), {}, [&, i](fcp::Outcome<fcp::PutResult> r) {
      if (r) {
        ++puts_done;
        if (next_put < count) put_one(next_put++);
        return;
      }
      if (!r.error().retryable()) ++not_retryable;
      ++retries;
      put_one(i);  // the identical insert again is harmless
    });
  };
  get_one = [&](int i) {
    client.get("KSK@drop-" + std::to_string(i), {}, [&, i](fcp::Outcome<fcp::GetResult> r) {
      if (r) {
        CHECK(r->data == "value " + std::to_string(i));
        ++gets_done;
        if (next_get < count) get_one(next_get++);
        return;
      }
      if (!r.error().retryable()) ++not_retryable;
      ++retries;
      get_one(i);
    });
  };
  while (next_put < window) put_one(next_put++);
  REQUIRE(run_until(io, [&] { return puts_done == count; }, std::chrono::seconds(30)));
  while (next_get < window) get_one(next_get++);
  REQUIRE(run_until(io, [&] { return gets_done == count; }, std::chrono::seconds(30)));
  CHECK(not_retryable == 0);
  CHECK(retries > 0);  // the drops did happen
  CHECK(client.stats().connects > 1);
  CHECK(client.in_flight() == 0);
}

// fcpmail-sim, as fred, closes the older of two connections with one Name. A client taken over
// comes back after its wait, takes the Name back and works again; the intruder (a client that does
// not reconnect) is the one left off the node.
TEST_CASE("sim: a client whose Name another client took reconnects and works again") {
  if (!sim_available()) return;
  boost::asio::io_context io;
  SimProcess sim;
  auto config = config_for(sim.port(), "shared-name");
  config.duplicate_name_backoff = std::chrono::milliseconds(100);
  fcp::Client first(io, config);
  std::vector<fcp::Failure> first_lost;
  first.on_disconnected([&](const fcp::Failure& f) { first_lost.push_back(f); });
  first.start();
  REQUIRE(run_until(io, [&] { return first.connected(); }));
  auto intruder_config = config_for(sim.port(), "shared-name");
  intruder_config.reconnect = false;
  fcp::Client intruder(io, intruder_config);
  std::optional<fcp::Failure> intruder_lost;
  intruder.on_disconnected([&](const fcp::Failure& f) { intruder_lost = f; });
  intruder.start();
  REQUIRE(run_until(io, [&] { return !first_lost.empty(); }));
  CHECK(first_lost[0].kind == fcp::Failure::Kind::duplicate_client_name);
  // The first client is back, and the node has closed the intruder's connection in turn.
  REQUIRE(run_until(io, [&] { return first.connected() && intruder_lost.has_value(); }));
  CHECK(intruder_lost->kind == fcp::Failure::Kind::duplicate_client_name);
  CHECK_FALSE(intruder.connected());
  std::optional<fcp::Outcome<fcp::SskKeypair>> keys;
  first.generate_ssk([&](auto r) { keys = std::move(r); });
  REQUIRE(run_until(io, [&] { return keys.has_value(); }));
  CHECK(keys->has_value());
  CHECK(first.stats().connects == 2);
  CHECK(first.stats().name_taken_over == 1);
}
