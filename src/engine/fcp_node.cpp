#include "engine/fcp_node.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

namespace fcpmail::engine {

namespace {

constexpr const char* wot_plugin = "plugins.WebOfTrust.WebOfTrust";

// Turns fcp::Client's callback style into an awaitable: `start(callback)` begins the request.
// A plain function, and callers pass a named callable: g++ 12 destroys a lambda temporary inside
// a co_await expression twice.
template <class T, class Start>
asio::awaitable<T> await_callback(Start start) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
      [start = std::move(start)](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([shared](T value) { (*shared)(std::move(value)); });
      },
      asio::use_awaitable);
}

}  // namespace

NodeError to_node_error(const fcp::Failure& f) {
  NodeError e;
  e.code = f.code;
  e.description = f.to_string();
  using K = fcp::Failure::Kind;
  switch (f.kind) {
    case K::get_failed:
    case K::put_failed:
    case K::too_many_redirects:
    case K::too_big:
      e.kind = NodeError::Kind::failed;
      if (f.kind == K::too_big) e.code = 21;
      break;
    case K::protocol_error:
      e.kind = f.code == 32 ? NodeError::Kind::plugin_missing : NodeError::Kind::protocol;
      break;
    default:
      e.kind = NodeError::Kind::disconnected;
      break;
  }
  return e;
}

struct FcpNode::Tracked {
  FcpNode& node;
  std::list<InFlight>::iterator it;
  ~Tracked() { node.in_flight_.erase(it); }
};

std::list<InFlight>::iterator FcpNode::track(std::string kind, std::string what) {
  in_flight_.push_back({std::move(kind), std::move(what), std::chrono::steady_clock::now()});
  return std::prev(in_flight_.end());
}

std::string FcpNode::version() const {
  auto info = client_.node();
  return info ? info->version : std::string();
}

std::vector<InFlight> FcpNode::in_flight() const { return {in_flight_.begin(), in_flight_.end()}; }

asio::awaitable<NodeResult<SskKeypair>> FcpNode::generate_ssk() {
  Tracked guard{*this, track("generate-ssk", "new channel key")};
  auto start = [this](auto cb) { client_.generate_ssk(std::move(cb)); };
  auto r = co_await await_callback<fcp::Outcome<fcp::SskKeypair>>(std::move(start));
  if (!r) co_return std::unexpected(to_node_error(r.error()));
  co_return SskKeypair{r->insert_uri, r->request_uri};
}

asio::awaitable<NodeResult<std::string>> FcpNode::put(std::string uri, std::string data, std::string what) {
  Tracked guard{*this, track("put", std::move(what))};
  auto start = [this, uri = std::move(uri), data = std::move(data)](auto cb) mutable {
    client_.put(std::move(uri), std::move(data), fcp::PutOptions{}, std::move(cb));
  };
  auto r = co_await await_callback<fcp::Outcome<fcp::PutResult>>(std::move(start));
  if (!r) co_return std::unexpected(to_node_error(r.error()));
  co_return r->uri;
}

asio::awaitable<NodeResult<std::string>> FcpNode::get(std::string uri, std::size_t max_size, std::string what) {
  Tracked guard{*this, track("get", std::move(what))};
  fcp::GetOptions options;
  options.max_size = max_size;
  options.max_retries = 0;  // polling: one attempt per poll, the scheduler decides when to retry
  auto start = [this, uri = std::move(uri), options](auto cb) mutable {
    client_.get(std::move(uri), options, std::move(cb));
  };
  auto r = co_await await_callback<fcp::Outcome<fcp::GetResult>>(std::move(start));
  if (!r) co_return std::unexpected(to_node_error(r.error()));
  co_return std::move(r->data);
}

asio::awaitable<NodeResult<WotFields>> FcpNode::wot(WotFields params) {
  std::string message = params.count("Message") ? params.at("Message") : std::string("?");
  Tracked guard{*this, track("wot", "WebOfTrust " + message)};
  std::vector<std::pair<std::string, std::string>> list(params.begin(), params.end());
  // Message first, as WoT clients do.
  std::stable_partition(list.begin(), list.end(), [](const auto& p) { return p.first == "Message"; });
  auto start = [this, list = std::move(list)](auto cb) mutable {
    client_.plugin_message(wot_plugin, std::move(list), std::nullopt, std::move(cb));
  };
  auto r = co_await await_callback<fcp::Outcome<fcp::PluginReply>>(std::move(start));
  if (!r) co_return std::unexpected(to_node_error(r.error()));
  WotFields replies;
  constexpr std::string_view prefix = "Replies.";
  for (const auto& [key, value] : r->message.fields)
    if (key.starts_with(prefix)) replies[key.substr(prefix.size())] = value;
  const bool failed = r->message.get_or("Success", "true") == "false" ||
                      (replies.count("Message") && replies["Message"] == "Error");
  if (failed) {
    NodeError e;
    e.kind = NodeError::Kind::plugin_error;
    e.description = replies.count("Description") ? replies["Description"]
                                                  : std::string(r->message.get_or("ErrorMessage", "WebOfTrust error"));
    co_return std::unexpected(e);
  }
  co_return replies;
}

}  // namespace fcpmail::engine
