// The engine's adapter over fcp::Client: a request the connection took down with it is made again
// (the step in flight, not the caller's whole task), reported in one plain sentence per drop.
#include <doctest/doctest.h>

#include "engine/fcp_node.h"
#include "../fcp/scripted_node.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

using fcp::test::ScriptedNode;
using fcp::test::run_until;
using Conn = ScriptedNode::Connection;
using fcpmail::engine::FcpNode;
using fcpmail::engine::NodeError;
using fcpmail::engine::NodeResult;
using fcpmail::engine::WotFields;

namespace {

fcp::ClientConfig config_for(const ScriptedNode& node) {
  fcp::ClientConfig config;
  config.port = node.port();
  config.name = "fcp-node-test";
  config.reconnect_initial = std::chrono::milliseconds(10);
  config.reconnect_max = std::chrono::milliseconds(50);
  return config;
}

fcp::Message reply(std::string name, const fcp::Message& request) {
  fcp::Message m(std::move(name));
  m.set("Identifier", std::string(request.get_or("Identifier", "")));
  m.set("Global", "false");
  return m;
}

// Collects what a coroutine returns.
template <class T>
struct Outcome {
  std::optional<T> value;
};

boost::asio::awaitable<void> fetch(FcpNode& node, std::string uri, Outcome<NodeResult<std::string>>& out) {
  out.value = co_await node.get(std::move(uri), 1024, "slot 3 from bob");
}
boost::asio::awaitable<void> insert(FcpNode& node, std::string uri, std::string data, Outcome<NodeResult<std::string>>& out) {
  out.value = co_await node.put(std::move(uri), std::move(data), "message 7 to bob");
}
boost::asio::awaitable<void> wot(FcpNode& node, WotFields params, Outcome<NodeResult<WotFields>>& out) {
  out.value = co_await node.wot(std::move(params));
}

}  // namespace

TEST_CASE("FcpNode: a get and a put cut off by a drop are sent again and succeed; one log line per drop") {
  boost::asio::io_context io;
  int gets = 0, puts = 0;
  ScriptedNode node(io, [&](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientHello") return c.send(ScriptedNode::node_hello());
    if (m.name == "ClientGet" && ++gets == 1) return;  // answered never: the put below drops it
    if (m.name == "ClientPut" && ++puts == 1) return c.close();  // mid-insert
    if (m.name == "ClientGet") {
      auto found = reply("DataFound", m);
      found.set("DataLength", "5");
      c.send(found);
      auto all = reply("AllData", m);
      all.set("DataLength", "5");
      all.payload = "hello";
      return c.send(all);
    }
    if (m.name == "ClientPut") {
      auto ok = reply("PutSuccessful", m);
      ok.set("URI", std::string(m.get_or("URI", "")));
      c.send(ok);
    }
  });
  fcp::Client client(io, config_for(node));
  client.start();
  FcpNode adapter(client);
  std::vector<std::string> log;
  adapter.set_log([&](const std::string& line) { log.push_back(line); });
  Outcome<NodeResult<std::string>> got, put;
  boost::asio::co_spawn(io, fetch(adapter, "KSK@slot", got), boost::asio::detached);
  REQUIRE(run_until(io, [&] { return gets == 1; }));
  boost::asio::co_spawn(io, insert(adapter, "KSK@msg", "body", put), boost::asio::detached);
  REQUIRE(run_until(io, [&] { return got.value && put.value; }));
  REQUIRE(got.value->has_value());
  CHECK(**got.value == "hello");
  REQUIRE(put.value->has_value());
  CHECK(**put.value == "KSK@msg");
  CHECK(gets == 2);  // each sent exactly once more
  CHECK(puts == 2);
  REQUIRE(log.size() == 1);
  CHECK(log[0].find("lost during 2 request(s)") != std::string::npos);
  CHECK(log[0].find("the fetch of slot 3 from bob") != std::string::npos);
  CHECK(log[0].find("the insert of message 7 to bob") != std::string::npos);
}

TEST_CASE("FcpNode: a node that drops every attempt ends in a `disconnected` error after a bounded number of tries") {
  boost::asio::io_context io;
  int gets = 0;
  ScriptedNode node(io, [&](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientHello") return c.send(ScriptedNode::node_hello());
    if (m.name == "ClientGet") {
      ++gets;
      c.close();
    }
  });
  fcp::Client client(io, config_for(node));
  client.start();
  FcpNode adapter(client);
  Outcome<NodeResult<std::string>> got;
  boost::asio::co_spawn(io, fetch(adapter, "KSK@never", got), boost::asio::detached);
  REQUIRE(run_until(io, [&] { return got.value.has_value(); }));
  REQUIRE_FALSE(got.value->has_value());
  CHECK(got.value->error().kind == NodeError::Kind::disconnected);
  CHECK(gets == 6);
}

TEST_CASE("FcpNode: CreateIdentity is not sent twice (a second identity would be left behind)") {
  boost::asio::io_context io;
  int creates = 0, queries = 0;
  ScriptedNode node(io, [&](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientHello") return c.send(ScriptedNode::node_hello());
    if (m.name != "FCPPluginMessage") return;
    const auto message = m.get_or("Param.Message", "");
    if (message == "CreateIdentity") {
      ++creates;
      return c.close();
    }
    if (++queries == 1) return c.close();
    auto r = reply("FCPPluginReply", m);
    r.set("PluginName", "plugins.WebOfTrust.WebOfTrust").set("Replies.Message", "Identity").set("Replies.Nickname", "bob");
    c.send(r);
  });
  fcp::Client client(io, config_for(node));
  client.start();
  FcpNode adapter(client);
  Outcome<NodeResult<WotFields>> created, identity;
  boost::asio::co_spawn(io, wot(adapter, WotFields{{"Message", "CreateIdentity"}, {"Nickname", "x"}}, created), boost::asio::detached);
  REQUIRE(run_until(io, [&] { return created.value.has_value(); }));
  CHECK_FALSE(created.value->has_value());
  CHECK(creates == 1);
  boost::asio::co_spawn(io, wot(adapter, WotFields{{"Message", "GetIdentity"}, {"Identity", "abc"}}, identity), boost::asio::detached);
  REQUIRE(run_until(io, [&] { return identity.value.has_value(); }));
  REQUIRE(identity.value->has_value());
  CHECK((**identity.value)["Nickname"] == "bob");
  CHECK(queries == 2);
}
