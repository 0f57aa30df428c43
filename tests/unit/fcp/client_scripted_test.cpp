// The client against a scripted peer that answers as fred does in the recordings.
#include <doctest/doctest.h>

#include "fcp/client.h"
#include "scripted_node.h"

using fcp::test::ScriptedNode;
using fcp::test::run_until;
using Conn = ScriptedNode::Connection;

namespace {

fcp::ClientConfig config_for(const ScriptedNode& node) {
  fcp::ClientConfig config;
  config.port = node.port();
  config.name = "test-client";
  config.reconnect_initial = std::chrono::milliseconds(10);
  config.reconnect_max = std::chrono::milliseconds(50);
  return config;
}

// Answers ClientHello with NodeHello and hands everything else to `then`.
ScriptedNode::Handler with_hello(std::function<void(Conn&, const fcp::Message&)> then) {
  return [then](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientHello") return c.send(ScriptedNode::node_hello());
    if (then) then(c, m);
  };
}

fcp::Message reply(std::string name, const fcp::Message& request) {
  fcp::Message m(std::move(name));
  m.set("Identifier", std::string(request.get_or("Identifier", "")));
  m.set("Global", "false");
  return m;
}

fcp::Message get_failed(const fcp::Message& request, int code, std::string description) {
  auto m = reply("GetFailed", request);
  m.set("CodeDescription", std::move(description)).set("Fatal", code == 27 ? "true" : "false").set("Code", std::int64_t{code});
  return m;
}

void answer_data(Conn& c, const fcp::Message& request, std::string data) {
  auto found = reply("DataFound", request);
  found.set("DataLength", static_cast<std::int64_t>(data.size())).set("Metadata.ContentType", "text/plain");
  c.send(found);
  auto all = reply("AllData", request);
  all.set("DataLength", static_cast<std::int64_t>(data.size())).set("Metadata.ContentType", "text/plain");
  all.payload = std::move(data);
  c.send(all);
}

}  // namespace

TEST_CASE("hello, GenerateSSK and the node's identity") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name != "GenerateSSK") return;
    auto keys = reply("SSKKeypair", m);
    keys.set("InsertURI", "SSK@priv,crypto,AQECAAE/").set("RequestURI", "SSK@pub,crypto,AQACAAE/");
    c.send(keys);
  }));
  fcp::Client client(io, config_for(node));
  std::optional<fcp::NodeInfo> info;
  client.on_connected([&](const fcp::NodeInfo& i) { info = i; });
  std::optional<fcp::Outcome<fcp::SskKeypair>> keys;
  client.generate_ssk([&](auto r) { keys = std::move(r); });  // queued before the hello
  client.start();
  REQUIRE(run_until(io, [&] { return keys.has_value(); }));
  REQUIRE(keys->has_value());
  CHECK((*keys)->insert_uri == "SSK@priv,crypto,AQECAAE/");
  CHECK((*keys)->request_uri == "SSK@pub,crypto,AQACAAE/");
  REQUIRE(info);
  CHECK(info->version == "Fred,0.7,1.0,1506");
  CHECK(info->build == "1506");
  CHECK(info->fcp_version == "2.0");
  const auto sent = node.all_received();
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].name == "ClientHello");
  CHECK(sent[0].get_or("Name", "") == "test-client");
  CHECK(sent[0].get_or("ExpectedVersion", "") == "2.0");
  CHECK(sent[1].name == "GenerateSSK");
  CHECK(client.stats().requests_sent == 1);
  CHECK(client.in_flight() == 0);
}

TEST_CASE("a node that does not speak FCP 2 is refused") {
  boost::asio::io_context io;
  ScriptedNode node(io, [](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientHello") c.send(ScriptedNode::node_hello("3.0"));
  });
  fcp::Client client(io, config_for(node));
  std::optional<fcp::Outcome<fcp::SskKeypair>> keys;
  client.generate_ssk([&](auto r) { keys = std::move(r); });
  client.start();
  REQUIRE(run_until(io, [&] { return keys.has_value(); }));
  REQUIRE_FALSE(keys->has_value());
  CHECK(keys->error().kind == fcp::Failure::Kind::version_mismatch);
  run_until(io, [] { return false; }, std::chrono::milliseconds(100));
  CHECK(node.connections().size() == 1);  // no reconnect loop
}

TEST_CASE("ClientPut sends MaxRetries and the payload; outcomes carry fred's codes") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name != "ClientPut") return;
    if (m.payload == "different") {
      auto failed = reply("PutFailed", m);
      failed.set("CodeDescription", "Insert collided with different, pre-existing data at the same key")
          .set("ShortCodeDescription", "Collided with existing data")
          .set("Fatal", "true")
          .set("Code", "9");
      return c.send(failed);
    }
    auto generated = reply("URIGenerated", m);
    generated.set("URI", "KSK@slot");
    c.send(generated);
    auto success = reply("PutSuccessful", m);
    success.set("URI", "KSK@slot");
    c.send(success);
  }));
  fcp::Client client(io, config_for(node));
  client.start();
  std::optional<fcp::Outcome<fcp::PutResult>> ok, collided;
  client.put("KSK@slot", "same", {}, [&](auto r) { ok = std::move(r); });
  client.put("KSK@slot", "different", {}, [&](auto r) { collided = std::move(r); });
  REQUIRE(run_until(io, [&] { return ok && collided; }));
  REQUIRE(ok->has_value());
  CHECK((*ok)->uri == "KSK@slot");
  REQUIRE_FALSE(collided->has_value());
  CHECK(collided->error().is_collision());
  CHECK(collided->error().code == 9);
  CHECK(collided->error().fatal);
  CHECK_FALSE(collided->error().retryable());
  const auto sent = node.all_received();
  REQUIRE(sent.size() == 3);
  const auto& put = sent[1];
  CHECK(put.get_or("MaxRetries", "") == "2");
  CHECK(put.get_or("UploadFrom", "") == "direct");
  CHECK(put.get_or("DataLength", "") == "4");
  CHECK_FALSE(put.has("Metadata.ContentType"));
  CHECK(put.payload == "same");
  CHECK(sent[1].get_or("Identifier", "") != sent[2].get_or("Identifier", ""));
}

TEST_CASE("ClientGet options, data, not-found codes and MaxSize") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name != "ClientGet") return;
    const auto uri = m.get_or("URI", "");
    if (uri == "KSK@present") return answer_data(c, m, "hello there");
    if (uri == "KSK@dnf") return c.send(get_failed(m, 13, "Data not found"));
    if (uri == "KSK@rnf") return c.send(get_failed(m, 14, "Route not found"));
    if (uri == "KSK@partial") return c.send(get_failed(m, 28, "Not enough data found"));
    if (uri == "KSK@recent") return c.send(get_failed(m, 30, "Data not found (recently failed)"));
    if (uri == "KSK@huge") {
      auto found = reply("DataFound", m);
      found.set("DataLength", "5000");
      return c.send(found);
    }
  }));
  fcp::Client client(io, config_for(node));
  client.start();
  std::map<std::string, fcp::Outcome<fcp::GetResult>> results;
  fcp::GetOptions options;
  options.max_size = 1000;
  options.max_retries = 0;
  options.priority_class = 1;
  options.realtime = true;
  options.ignore_ds = true;
  options.ds_only = true;
  for (std::string key : {"present", "dnf", "rnf", "partial", "recent", "huge"})
    client.get("KSK@" + key, options, [&, key](auto r) { results.emplace(key, std::move(r)); });
  REQUIRE(run_until(io, [&] { return results.size() == 6; }));
  REQUIRE(results.at("present").has_value());
  CHECK(results.at("present")->data == "hello there");
  CHECK(results.at("present")->mime == "text/plain");
  CHECK(results.at("present")->uri == "KSK@present");
  for (std::string key : {"dnf", "rnf", "partial"}) {
    CAPTURE(key);
    REQUIRE_FALSE(results.at(key).has_value());
    CHECK(results.at(key).error().is_not_found());
    CHECK(results.at(key).error().retryable());
  }
  CHECK(results.at("dnf").error().code == 13);
  CHECK(results.at("rnf").error().code == 14);
  CHECK(results.at("recent").error().is_recently_failed());
  CHECK_FALSE(results.at("recent").error().is_not_found());
  CHECK(results.at("huge").error().kind == fcp::Failure::Kind::too_big);
  CHECK(results.at("huge").error().code == 21);
  const auto get = node.all_received().at(1);
  CHECK(get.get_or("ReturnType", "") == "direct");
  CHECK(get.get_or("MaxSize", "") == "1000");
  CHECK(get.get_or("MaxRetries", "") == "0");
  CHECK(get.get_or("PriorityClass", "") == "1");
  CHECK(get.get_or("RealTimeFlag", "") == "true");
  CHECK(get.get_or("IgnoreDS", "") == "true");
  CHECK(get.get_or("DSOnly", "") == "true");  // not "DSonly": fred ignores that spelling
}

TEST_CASE("redirects 27 and 11 are followed, with a bounded number of hops") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name != "ClientGet") return;
    const std::string uri(m.get_or("URI", ""));
    if (uri == "USK@k,c,AQACAAE/site/-1") {
      auto f = get_failed(m, 27, "Permanent redirect: use the new URI");
      f.set("RedirectURI", "USK@k,c,AQACAAE/site/4");
      return c.send(f);
    }
    if (uri == "USK@k,c,AQACAAE/site/4") {
      auto f = get_failed(m, 11, "Too many path components");
      f.set("RedirectURI", "USK@k,c,AQACAAE/site/4/doc");
      return c.send(f);
    }
    if (uri == "USK@k,c,AQACAAE/site/4/doc") return answer_data(c, m, "edition four");
    if (uri.starts_with("KSK@loop")) {  // endless redirects
      auto f = get_failed(m, 27, "Permanent redirect: use the new URI");
      f.set("RedirectURI", uri + "x");
      return c.send(f);
    }
  }));
  auto config = config_for(node);
  config.max_redirects = 3;
  fcp::Client client(io, config);
  client.start();
  std::optional<fcp::Outcome<fcp::GetResult>> latest, loop;
  client.get("USK@k,c,AQACAAE/site/-1", {}, [&](auto r) { latest = std::move(r); });
  client.get("KSK@loop", {}, [&](auto r) { loop = std::move(r); });
  REQUIRE(run_until(io, [&] { return latest && loop; }));
  REQUIRE(latest->has_value());
  CHECK((*latest)->data == "edition four");
  CHECK((*latest)->redirects == 2);
  CHECK((*latest)->uri == "USK@k,c,AQACAAE/site/4/doc");
  REQUIRE_FALSE(loop->has_value());
  CHECK(loop->error().kind == fcp::Failure::Kind::too_many_redirects);
  CHECK(loop->error().code == 27);
  std::size_t loop_gets = 0;
  for (const auto& m : node.all_received())
    if (m.name == "ClientGet" && m.get_or("URI", "").starts_with("KSK@loop")) ++loop_gets;
  CHECK(loop_gets == 4);  // the original and 3 hops
  CHECK(client.stats().requests_sent == 7);
}

TEST_CASE("replies are routed by Identifier whatever their order") {
  boost::asio::io_context io;
  std::vector<fcp::Message> held;
  ScriptedNode node(io, with_hello([&](Conn& c, const fcp::Message& m) {
    if (m.name != "ClientGet") return;
    held.push_back(m);
    if (held.size() == 50)  // answer all at once, last first
      for (auto it = held.rbegin(); it != held.rend(); ++it) answer_data(c, *it, std::string(it->get_or("URI", "")));
  }));
  fcp::Client client(io, config_for(node));
  client.start();
  std::map<int, std::string> got;
  for (int i = 0; i < 50; ++i)
    client.get("KSK@n" + std::to_string(i), {}, [&, i](auto r) { got[i] = r ? r->data : "error"; });
  CHECK(client.in_flight() == 50);
  REQUIRE(run_until(io, [&] { return got.size() == 50; }));
  for (int i = 0; i < 50; ++i) CHECK(got[i] == "KSK@n" + std::to_string(i));
}

TEST_CASE("ProtocolError, IdentifierCollision and refused values") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientGet") {
      auto e = reply("ProtocolError", m);
      e.set("CodeDescription", "Error parsing freenet URI").set("Fatal", "false").set("Code", "4")
          .set("ExtraDescription", "There is no @ in that URI!");
      c.send(e);
    }
    if (m.name == "GenerateSSK") c.send(reply("IdentifierCollision", m));
  }));
  fcp::Client client(io, config_for(node));
  client.start();
  std::optional<fcp::Outcome<fcp::GetResult>> bad_uri;
  std::optional<fcp::Outcome<fcp::SskKeypair>> collision;
  std::optional<fcp::Outcome<fcp::PutResult>> injected, bad_put, public_key;
  client.get("notakey", {}, [&](auto r) { bad_uri = std::move(r); });
  client.generate_ssk([&](auto r) { collision = std::move(r); });
  client.put("KSK@a\nIdentifier=evil", "x", {}, [&](auto r) { injected = std::move(r); });
  client.put("notakey", "abc", {}, [&](auto r) { bad_put = std::move(r); });  // fred would desync on this one
  client.put("SSK@HVQm2vbET~Oerw-CmFMbd4~sNI6ddk5yammhZ8WWGgY,aS9u~acdSmnll3qth~YTRdetANMNL~AwWe77UPro080,AQACAAE/x", "abc",
             {}, [&](auto r) { public_key = std::move(r); });
  REQUIRE(run_until(io, [&] { return bad_uri && collision && injected && bad_put && public_key; }));
  CHECK(bad_put->error().kind == fcp::Failure::Kind::invalid_request);
  CHECK(bad_put->error().description.find("no '@'") != std::string::npos);
  CHECK(public_key->error().kind == fcp::Failure::Kind::invalid_request);
  CHECK(bad_uri->error().kind == fcp::Failure::Kind::protocol_error);
  CHECK(bad_uri->error().code == 4);
  CHECK(bad_uri->error().extra_description == "There is no @ in that URI!");
  CHECK(collision->error().kind == fcp::Failure::Kind::identifier_collision);
  CHECK(injected->error().kind == fcp::Failure::Kind::invalid_request);
  for (const auto& m : node.all_received()) CHECK(m.name != "ClientPut");
}

// fred-recorded/12: the node tells the old connection CloseConnectionDuplicateClientName and closes
// it. The client must come back (a daemon that stays off the node stops delivering for good), but
// not at once: two clients with one Name would knock each other off at every reconnect.
TEST_CASE("CloseConnectionDuplicateClientName: the client reconnects after a wait that doubles while takeovers repeat") {
  using Clock = std::chrono::steady_clock;
  boost::asio::io_context io;
  // The first two connections are taken over at their first ClientGet; the third one answers.
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name != "ClientGet") return;
    if (c.index < 2) {
      c.send(fcp::Message("CloseConnectionDuplicateClientName"));
      return c.close();
    }
    answer_data(c, m, "back on the node");
  }));
  auto config = config_for(node);
  config.duplicate_name_backoff = std::chrono::milliseconds(200);
  // Takeovers count as repeated while the connection between them lasted under 2 x reconnect_max:
  // 2 s, so that a slow machine does not make a fresh incident of the second one.
  config.reconnect_max = std::chrono::milliseconds(1000);
  fcp::Client client(io, config);
  std::vector<fcp::Failure> disconnects;
  std::vector<Clock::time_point> disconnected_at, connected_at;
  std::vector<std::chrono::milliseconds> delays;
  client.on_disconnected([&](const fcp::Failure& f) {
    disconnects.push_back(f);
    disconnected_at.push_back(Clock::now());
    delays.push_back(client.reconnect_delay().value_or(std::chrono::milliseconds(-1)));
  });
  client.on_connected([&](const fcp::NodeInfo&) { connected_at.push_back(Clock::now()); });
  client.start();
  std::vector<fcp::Outcome<fcp::GetResult>> results;
  std::function<void()> fetch = [&] {
    client.get("KSK@x", {}, [&](auto r) {
      const bool lost = !r && r.error().retryable();
      results.push_back(std::move(r));
      if (lost) fetch();  // as FcpNode does: a request the connection took down is made again
    });
  };
  fetch();
  REQUIRE(run_until(io, [&] { return !results.empty() && results.back().has_value(); }));
  REQUIRE(results.size() == 3);
  for (int i = 0; i < 2; ++i) {
    REQUIRE_FALSE(results[i].has_value());
    CHECK(results[i].error().kind == fcp::Failure::Kind::connection_lost);  // retryable, the work goes on
    CHECK(results[i].error().description.find("test-client") != std::string::npos);
  }
  CHECK(results[2]->data == "back on the node");
  REQUIRE(disconnects.size() == 2);
  for (const auto& f : disconnects) CHECK(f.kind == fcp::Failure::Kind::duplicate_client_name);
  CHECK(delays == std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(200), std::chrono::milliseconds(400)});
  REQUIRE(connected_at.size() == 3);
  CHECK(connected_at[1] - disconnected_at[0] >= std::chrono::milliseconds(200));  // not at once
  CHECK(connected_at[2] - disconnected_at[1] >= std::chrono::milliseconds(400));  // and longer the second time
  CHECK(client.stats().name_taken_over == 2);
  CHECK(client.connected());
  REQUIRE(node.connections().size() == 3);
  for (const auto& c : node.connections()) CHECK(c->received.at(0).get_or("Name", "") == "test-client");  // same Name
}

TEST_CASE("a client with reconnect off stays down after CloseConnectionDuplicateClientName") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientGet") {
      c.send(fcp::Message("CloseConnectionDuplicateClientName"));
      c.close();
    }
  }));
  auto config = config_for(node);
  config.reconnect = false;
  fcp::Client client(io, config);
  std::optional<fcp::Failure> disconnected;
  client.on_disconnected([&](const fcp::Failure& f) { disconnected = f; });
  client.start();
  std::optional<fcp::Outcome<fcp::GetResult>> result;
  client.get("KSK@x", {}, [&](auto r) { result = std::move(r); });
  REQUIRE(run_until(io, [&] { return result && disconnected; }));
  CHECK(result->error().kind == fcp::Failure::Kind::duplicate_client_name);
  CHECK(disconnected->kind == fcp::Failure::Kind::duplicate_client_name);
  run_until(io, [] { return false; }, std::chrono::milliseconds(100));
  CHECK(node.connections().size() == 1);
  CHECK_FALSE(client.connected());
}

TEST_CASE("a lost connection fails in-flight requests as retryable and the client reconnects") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name != "ClientGet") return;
    if (c.index == 0) return c.close();  // the node goes away mid-request
    answer_data(c, m, "after reconnect");
  }));
  fcp::Client client(io, config_for(node));
  int connects = 0;
  client.on_connected([&](const fcp::NodeInfo&) { ++connects; });
  client.start();
  std::optional<fcp::Outcome<fcp::GetResult>> first, second;
  client.get("KSK@a", {}, [&](auto r) {
    first = std::move(r);
    client.get("KSK@b", {}, [&](auto r2) { second = std::move(r2); });  // retry from the handler
  });
  REQUIRE(run_until(io, [&] { return first && second; }));
  REQUIRE_FALSE(first->has_value());
  CHECK(first->error().kind == fcp::Failure::Kind::connection_lost);
  CHECK(first->error().retryable());
  REQUIRE(second->has_value());
  CHECK((*second)->data == "after reconnect");
  CHECK(connects == 2);
  CHECK(node.connections().size() == 2);
  CHECK(node.connections()[1]->received.at(0).get_or("Name", "") == "test-client");  // same Name
}

TEST_CASE("requests made while the node is down wait for it; backoff keeps trying") {
  boost::asio::io_context io;
  // Reserve a port, close it: nothing listens there at first.
  std::uint16_t port = 0;
  {
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  fcp::ClientConfig config;
  config.port = port;
  config.name = "waiting-client";
  config.reconnect_initial = std::chrono::milliseconds(10);
  config.reconnect_max = std::chrono::milliseconds(40);
  fcp::Client client(io, config);
  int failed_attempts = 0;
  client.on_disconnected([&](const fcp::Failure& f) {
    CHECK(f.kind == fcp::Failure::Kind::connection_lost);
    ++failed_attempts;
  });
  client.start();
  std::optional<fcp::Outcome<fcp::GetResult>> result;
  client.get("KSK@late", {}, [&](auto r) { result = std::move(r); });
  REQUIRE(run_until(io, [&] { return failed_attempts >= 3; }));
  CHECK_FALSE(result);
  // Now a node appears on that port.
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), port});
  std::shared_ptr<Conn> conn;
  fcp::StreamParser parser;
  std::array<char, 4096> buffer{};
  std::function<void()> read;
  acceptor.async_accept([&](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
    REQUIRE_FALSE(ec);
    conn = std::make_shared<Conn>(std::move(s));
    read = [&] {
      conn->socket.async_read_some(boost::asio::buffer(buffer), [&](boost::system::error_code ec, std::size_t n) {
        if (ec) return;
        parser.feed(std::string_view(buffer.data(), n));
        for (auto next = parser.next(); !next.need_more(); next = parser.next()) {
          if (next.message->name == "ClientHello") conn->send(ScriptedNode::node_hello());
          if (next.message->name == "ClientGet") answer_data(*conn, *next.message, "finally");
        }
        read();
      });
    };
    read();
  });
  REQUIRE(run_until(io, [&] { return result.has_value(); }));
  REQUIRE(result->has_value());
  CHECK((*result)->data == "finally");
  client.stop();
  if (conn) conn->close();
}

TEST_CASE("without reconnect a failed connection fails every request") {
  boost::asio::io_context io;
  std::uint16_t port = 0;
  {
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  fcp::ClientConfig config;
  config.port = port;
  config.reconnect = false;
  fcp::Client client(io, config);
  std::optional<fcp::Outcome<fcp::SskKeypair>> result;
  client.generate_ssk([&](auto r) { result = std::move(r); });
  client.start();
  REQUIRE(run_until(io, [&] { return result.has_value(); }));
  CHECK(result->error().kind == fcp::Failure::Kind::connection_lost);
  CHECK(result->error().description.find("cannot connect") != std::string::npos);
}

TEST_CASE("persistent get: data fetched with GetRequestStatus, replay after reconnect absorbed") {
  boost::asio::io_context io;
  std::vector<std::string> unsolicited;
  ScriptedNode node(io, [&](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientHello") {
      c.send(ScriptedNode::node_hello());
      if (c.index == 1) {
        // fred replays persistent requests on its own after a reconnect with the same Name:
        // the one in flight, and an old finished one this client no longer knows.
        for (std::string id : {"test-client-old-1", "pget"}) {
          fcp::Message pg("PersistentGet");
          pg.set("Identifier", id).set("Persistence", "forever").set("Started", "true").set("Global", "false");
          c.send(pg);
          fcp::Message found("DataFound");
          found.set("Identifier", id).set("DataLength", "33").set("Global", "false")
              .set("Metadata.ContentType", "application/octet-stream");
          c.send(found);
        }
      }
      return;
    }
    if (m.name == "ClientGet") {
      CHECK(m.get_or("Persistence", "") == "forever");
      auto pg = reply("PersistentGet", m);
      pg.set("Persistence", "forever").set("Started", "false");
      c.send(pg);
      c.send(pg);  // fred sends it twice
      return c.close();  // ... and the connection drops before DataFound
    }
    if (m.name == "GetRequestStatus" && m.get_or("OnlyData", "") == "true" && m.get_or("Identifier", "") == "pget") {
      fcp::Message all("AllData");
      all.set("Identifier", "pget").set("DataLength", "33").set("Global", "false")
          .set("Metadata.ContentType", "application/octet-stream");
      all.payload = "fred-recorded KSK payload 132645\n";
      c.send(all);
    }
  });
  fcp::Client client(io, config_for(node));
  client.on_unsolicited([&](const fcp::Message& m) { unsolicited.push_back(m.name + ":" + std::string(m.get_or("Identifier", ""))); });
  client.start();
  fcp::GetOptions options;
  options.persistence = fcp::Persistence::forever;
  options.identifier = "pget";
  std::optional<fcp::Outcome<fcp::GetResult>> result;
  int calls = 0;
  client.get("KSK@fredrec-132645-ksk", options, [&](auto r) {
    ++calls;
    result = std::move(r);
  });
  REQUIRE(run_until(io, [&] { return result.has_value(); }));
  REQUIRE(result->has_value());
  CHECK((*result)->data == "fred-recorded KSK payload 132645\n");
  CHECK((*result)->mime == "application/octet-stream");
  run_until(io, [] { return false; }, std::chrono::milliseconds(100));
  CHECK(calls == 1);  // a duplicate AllData is absorbed
  CHECK(std::find(unsolicited.begin(), unsolicited.end(), "PersistentGet:test-client-old-1") != unsolicited.end());
  // The finished request is removed from the node so it is not replayed again.
  bool removed = false;
  for (const auto& m : node.connections()[1]->received)
    if (m.name == "RemoveRequest" && m.get_or("Identifier", "") == "pget") removed = true;
  CHECK(removed);
}

TEST_CASE("a persistent request the node forgot is sent again after reconnect") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientPut" && c.index == 0) return c.close();  // accepted, then the node restarts
    if (m.name == "GetRequestStatus") {
      auto e = reply("ProtocolError", m);
      e.set("Code", "15").set("CodeDescription", "No such identifier").set("Fatal", "false");
      return c.send(e);
    }
    if (m.name == "ClientPut") {
      auto ok = reply("PutSuccessful", m);
      ok.set("URI", "KSK@p");
      c.send(ok);
    }
  }));
  fcp::Client client(io, config_for(node));
  client.start();
  fcp::PutOptions options;
  options.persistence = fcp::Persistence::reboot;
  std::optional<fcp::Outcome<fcp::PutResult>> result;
  client.put("KSK@p", "data", options, [&](auto r) { result = std::move(r); });
  REQUIRE(run_until(io, [&] { return result.has_value(); }));
  REQUIRE(result->has_value());
  CHECK((*result)->uri == "KSK@p");
  const auto& second = node.connections().at(1)->received;
  REQUIRE(second.size() >= 3);
  CHECK(second[1].name == "GetRequestStatus");
  CHECK(second[2].name == "ClientPut");
  CHECK(second[2].payload == "data");
}

TEST_CASE("USK subscription: updates before SubscribedUSK, renewed after reconnect, unsubscribe") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name != "SubscribeUSK") return;
    auto update = reply("SubscribedUSKUpdate", m);
    update.set("NewKnownGood", "false").set("NewSlotToo", "false")
        .set("URI", "USK@k,c,AQACAAE/site/" + std::to_string(c.index)).set("Edition", static_cast<std::int64_t>(c.index));
    c.send(update);  // before the confirmation, as fred may do
    auto confirmed = reply("SubscribedUSK", m);
    confirmed.set("URI", std::string(m.get_or("URI", ""))).set("DontPoll", "false");
    c.send(confirmed);
    if (c.index == 0) c.close();
  }));
  fcp::Client client(io, config_for(node));
  client.start();
  std::vector<fcp::UskUpdate> updates;
  const auto id = client.subscribe_usk("USK@k,c,AQACAAE/site/0", {}, [&](const fcp::UskUpdate& u) { updates.push_back(u); });
  REQUIRE(run_until(io, [&] { return updates.size() == 2; }));
  CHECK(updates[0].edition == 0);
  CHECK(updates[1].edition == 1);
  CHECK(updates[1].uri == "USK@k,c,AQACAAE/site/1");
  client.unsubscribe_usk(id);
  REQUIRE(run_until(io, [&] {
    const auto& r = node.connections()[1]->received;
    return !r.empty() && r.back().name == "UnsubscribeUSK";
  }));
  CHECK(node.connections()[1]->received.back().get_or("Identifier", "") == id);
}

TEST_CASE("FCPPluginMessage: Param fields, reply routing, missing plugin") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name != "FCPPluginMessage") return;
    if (m.get_or("PluginName", "") != "plugins.WebOfTrust.WebOfTrust") {
      auto e = reply("ProtocolError", m);
      e.set("Code", "32").set("CodeDescription", "No such plugin").set("Fatal", "false");
      return c.send(e);
    }
    auto r = reply("FCPPluginReply", m);
    r.set("PluginName", "plugins.WebOfTrust.WebOfTrust").set("Replies.Message", "OwnIdentities")
        .set("Replies.Echo", std::string(m.get_or("Param.Message", "")));
    c.send(r);
  }));
  fcp::Client client(io, config_for(node));
  client.start();
  std::optional<fcp::Outcome<fcp::PluginReply>> wot, missing;
  client.plugin_message("plugins.WebOfTrust.WebOfTrust", {{"Message", "GetOwnIdentities"}}, std::nullopt,
                        [&](auto r) { wot = std::move(r); });
  client.plugin_message("plugins.Nope", {{"Message", "x"}}, std::nullopt, [&](auto r) { missing = std::move(r); });
  REQUIRE(run_until(io, [&] { return wot && missing; }));
  REQUIRE(wot->has_value());
  CHECK((*wot)->reply("Message") == "OwnIdentities");
  CHECK((*wot)->reply("Echo") == "GetOwnIdentities");
  CHECK(missing->error().code == 32);
  CHECK(node.all_received().at(1).get_or("Param.Message", "") == "GetOwnIdentities");
}

TEST_CASE("RemoveRequest cancels a pending request; stop cancels the rest") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello(nullptr));  // never answers
  fcp::Client client(io, config_for(node));
  client.start();
  std::optional<fcp::Outcome<fcp::GetResult>> a, b;
  const auto id = client.get("KSK@a", {}, [&](auto r) { a = std::move(r); });
  client.get("KSK@b", {}, [&](auto r) { b = std::move(r); });
  REQUIRE(run_until(io, [&] { return node.all_received().size() == 3; }));
  client.remove_request(id);
  REQUIRE(run_until(io, [&] { return a.has_value(); }));
  CHECK(a->error().kind == fcp::Failure::Kind::cancelled);
  REQUIRE(run_until(io, [&] { return node.all_received().size() == 4; }));
  CHECK(node.all_received().back().name == "RemoveRequest");
  client.stop();
  REQUIRE(run_until(io, [&] { return b.has_value(); }));
  CHECK(b->error().kind == fcp::Failure::Kind::cancelled);
}

TEST_CASE("WatchGlobal is sent when asked, and global messages reach the unsolicited handler") {
  boost::asio::io_context io;
  ScriptedNode node(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name == "WatchGlobal") {
      fcp::Message pg("PersistentPut");
      pg.set("Identifier", "someone-elses").set("Global", "true");
      c.send(pg);
    }
  }));
  auto config = config_for(node);
  config.watch_global = true;
  fcp::Client client(io, config);
  std::vector<fcp::Message> seen;
  client.on_unsolicited([&](const fcp::Message& m) { seen.push_back(m); });
  client.start();
  REQUIRE(run_until(io, [&] { return !seen.empty(); }));
  CHECK(seen[0].name == "PersistentPut");
  CHECK(node.all_received().at(1).get_or("Enabled", "") == "true");
}

TEST_CASE("a persistent get still running at the reconnect gets its data when it finishes") {
  boost::asio::io_context io;
  std::vector<std::string> status_only_data;  // OnlyData of every GetRequestStatus, in order
  bool finished = false;                       // the node has sent DataFound
  ScriptedNode node(io, with_hello([&](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientGet") {
      auto pg = reply("PersistentGet", m);
      pg.set("Persistence", "reboot").set("Started", "false");
      c.send(pg);
      return c.close();  // the connection drops while the node keeps fetching
    }
    if (m.name != "GetRequestStatus") return;
    status_only_data.emplace_back(m.get_or("OnlyData", "(none)"));
    if (!finished) {
      // Still running: only the tag (as the sim and fred answer). Then the fetch finishes and
      // DataFound reaches the connection that holds the Name now.
      auto pg = reply("PersistentGet", m);
      pg.set("Persistence", "reboot").set("Started", "true");
      c.send(pg);
      finished = true;
      auto found = reply("DataFound", m);
      found.set("DataLength", "4").set("Metadata.ContentType", "text/plain");
      return c.send(found);
    }
    if (m.get_or("OnlyData", "") == "true") {
      auto all = reply("AllData", m);
      all.set("DataLength", "4").set("Metadata.ContentType", "text/plain");
      all.payload = "late";
      c.send(all);
    }
  }));
  fcp::Client client(io, config_for(node));
  client.start();
  fcp::GetOptions options;
  options.persistence = fcp::Persistence::reboot;
  std::optional<fcp::Outcome<fcp::GetResult>> result;
  client.get("KSK@slow", options, [&](auto r) { result = std::move(r); });
  REQUIRE(run_until(io, [&] { return result.has_value(); }, std::chrono::seconds(3)));
  REQUIRE(result->has_value());
  CHECK((*result)->data == "late");
  // Re-attached without OnlyData=true (unsafe on a get fred has not finished), then the data asked
  // for once DataFound came.
  REQUIRE(status_only_data.size() == 2);
  CHECK(status_only_data[0] == "false");
  CHECK(status_only_data[1] == "true");
  CHECK(node.connections().size() == 2);
}

TEST_CASE("a node that was unreachable between two connections counts as an outage, a plain drop does not") {
  boost::asio::io_context io;
  std::uint16_t port = 0;
  auto first = std::make_unique<ScriptedNode>(io, with_hello([](Conn& c, const fcp::Message& m) {
    if (m.name == "ClientGet") c.close();  // a drop: the node is still there
  }));
  port = first->port();
  fcp::ClientConfig config = config_for(*first);
  fcp::Client client(io, config);
  int connects = 0, refused = 0;
  client.on_connected([&](const fcp::NodeInfo&) { ++connects; });
  client.on_disconnected([&](const fcp::Failure& f) { refused += f.description.find("cannot connect") != std::string::npos; });
  client.start();
  std::optional<fcp::Outcome<fcp::GetResult>> dropped;
  client.get("KSK@x", {}, [&](auto r) { dropped = std::move(r); });
  REQUIRE(run_until(io, [&] { return dropped.has_value() && connects == 2; }));
  CHECK(client.stats().reconnects_after_outage == 0);
  // Now the node goes away altogether (a restart) and comes back on the same port.
  first.reset();
  REQUIRE(run_until(io, [&] { return refused >= 2; }));
  ScriptedNode second(io, with_hello({}), port);
  REQUIRE(run_until(io, [&] { return connects == 3; }));
  CHECK(client.stats().reconnects_after_outage == 1);
  client.stop();
}
