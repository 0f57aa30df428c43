// MemoryNode: an in-process stand-in for a Hyphanet node with the WebOfTrust subset, for engine
// unit tests (the integration tests use fcpmail-sim over TCP). Keys behave like fred's: an SSK
// insert URI stores under its request URI, identical re-inserts succeed, different data collides
// (code 9), missing data is code 13, a mailsite USK with a negative edition finds the latest.
#pragma once
#include "engine/node.h"
#include "fcp/freenet_base64.h"
#include "crypto/random.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <map>
#include <set>

namespace fcpmail::engine::test {

class MemoryNode final : public Node {
 public:
  explicit MemoryNode(boost::asio::io_context& io) : io_(io) {}

  std::map<std::string, std::string> store;          // request URI -> data
  std::vector<std::string> put_log, get_log;          // URIs, in order
  std::uint64_t requests = 0;
  int fail_next_puts = 0;                             // transient failures to inject (code 5)

  asio::awaitable<NodeResult<SskKeypair>> generate_ssk() override {
    co_await asio::post(io_, asio::use_awaitable);
    ++requests;
    co_return new_keypair("");
  }

  asio::awaitable<NodeResult<std::string>> put(std::string uri, std::string data, std::string) override {
    co_await asio::post(io_, asio::use_awaitable);
    ++requests;
    put_log.push_back(uri);
    if (fail_next_puts > 0) {
      --fail_next_puts;
      co_return std::unexpected(NodeError{NodeError::Kind::failed, 5, "Route not found (code 5)"});
    }
    const std::string key = request_form(uri);
    auto it = store.find(key);
    if (it != store.end() && it->second != data)
      co_return std::unexpected(NodeError{NodeError::Kind::failed, 9, "Collided with existing data (code 9)"});
    store[key] = data;
    co_return key;
  }

  asio::awaitable<NodeResult<std::string>> get(std::string uri, std::size_t, std::string) override {
    co_await asio::post(io_, asio::use_awaitable);
    ++requests;
    get_log.push_back(uri);
    std::string key = uri;
    if (uri.starts_with("USK@")) key = latest_usk(uri);
    auto it = store.find(key);
    if (it == store.end()) co_return std::unexpected(NodeError{NodeError::Kind::failed, 13, "Data not found (code 13)"});
    co_return it->second;
  }

  asio::awaitable<NodeResult<WotFields>> wot(WotFields p) override {
    co_await asio::post(io_, asio::use_awaitable);
    ++requests;
    const std::string m = p["Message"];
    auto error = [](std::string d) { return std::unexpected(NodeError{NodeError::Kind::plugin_error, 0, std::move(d)}); };
    if (m == "CreateIdentity") {
      auto kp = new_keypair("");
      Identity id;
      id.id = routing(kp.request_uri);
      id.nickname = p["Nickname"];
      id.request_uri = "USK@" + kp.request_uri.substr(4, kp.request_uri.size() - 5) + "/WebOfTrust/0";
      id.insert_uri = "USK@" + kp.insert_uri.substr(4, kp.insert_uri.size() - 5) + "/WebOfTrust/0";
      identities[id.id] = id;
      co_return WotFields{{"Message", "IdentityCreated"}, {"ID", id.id}, {"RequestURI", id.request_uri}, {"InsertURI", id.insert_uri}};
    }
    if (m == "GetIdentity") {
      auto it = identities.find(p["Identity"]);
      if (it == identities.end() || hidden.count(p["Identity"])) co_return error("UnknownIdentityException: " + p["Identity"]);
      co_return WotFields{{"Message", "Identity"}, {"RequestURI", it->second.request_uri}, {"Nickname", it->second.nickname}};
    }
    if (m == "GetProperty") {
      auto it = identities.find(p["Identity"]);
      if (it == identities.end() || !it->second.properties.count(p["Property"])) co_return error("no such property");
      co_return WotFields{{"Message", "PropertyValue"}, {"Property", it->second.properties[p["Property"]]}};
    }
    if (m == "SetProperty") {
      identities[p["Identity"]].properties[p["Property"]] = p["Value"];
      co_return WotFields{{"Message", "PropertyAdded"}};
    }
    if (m == "AddContext") {
      identities[p["Identity"]].contexts.insert(p["Context"]);
      co_return WotFields{{"Message", "ContextAdded"}};
    }
    co_return error("unknown message " + m);
  }

  bool connected() const override { return true; }
  std::string version() const override { return "MemoryNode"; }
  std::uint64_t requests_sent() const override { return requests; }
  std::vector<InFlight> in_flight() const override { return {}; }

  struct Identity {
    std::string id, nickname, request_uri, insert_uri;
    std::map<std::string, std::string> properties;
    std::set<std::string> contexts;
  };
  std::map<std::string, Identity> identities;
  std::set<std::string> hidden;  // identities GetIdentity pretends not to know

  std::size_t puts_starting_with(std::string_view prefix) const {
    std::size_t n = 0;
    for (const auto& u : put_log) n += u.starts_with(prefix);
    return n;
  }

 private:
  static std::string routing(std::string_view uri) {  // "SSK@r,c,x/..." -> r
    auto at = uri.find('@');
    return std::string(uri.substr(at + 1, uri.find(',') - at - 1));
  }
  SskKeypair new_keypair(std::string_view) {
    const auto priv = fcp::freenet_base64_encode(crypto::random_bytes(32));
    const auto pub = fcp::freenet_base64_encode(crypto::random_bytes(32));
    const auto ck = fcp::freenet_base64_encode(crypto::random_bytes(32));
    private_to_public[priv] = pub;
    return {"SSK@" + priv + "," + ck + ",AQECAAE/", "SSK@" + pub + "," + ck + ",AQACAAE/"};
  }
  // Insert URI -> request URI (KSKs are their own request URI).
  std::string request_form(const std::string& uri) const {
    if (!uri.starts_with("SSK@") || uri.find(",AQECAAE") == std::string::npos) return uri;
    const auto priv = routing(uri);
    auto it = private_to_public.find(priv);
    if (it == private_to_public.end()) return uri;
    std::string out = "SSK@" + it->second + uri.substr(4 + priv.size());
    out.replace(out.find(",AQECAAE"), 8, ",AQACAAE");
    return out;
  }
  // USK@k/site/-N/rest -> SSK@k/site-M/rest for the highest stored M >= N.
  std::string latest_usk(const std::string& uri) const {
    const auto first = uri.find('/');
    const auto second = uri.find('/', first + 1);
    const auto third = uri.find('/', second + 1);
    const std::string key = uri.substr(4, first - 4), site = uri.substr(first + 1, second - first - 1);
    const std::string rest = third == std::string::npos ? "" : uri.substr(third);
    long long edition = std::llabs(std::stoll(uri.substr(second + 1, third - second - 1)));
    std::string found;
    for (long long e = edition; e < edition + 50; ++e) {
      const std::string candidate = "SSK@" + key + "/" + site + "-" + std::to_string(e) + rest;
      if (store.count(candidate)) found = candidate;
    }
    return found.empty() ? "SSK@" + key + "/" + site + "-" + std::to_string(edition) + rest : found;
  }

  boost::asio::io_context& io_;
  std::map<std::string, std::string> private_to_public;
};

}  // namespace fcpmail::engine::test
