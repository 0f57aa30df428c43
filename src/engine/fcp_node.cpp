#include "engine/fcp_node.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
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

void FcpNode::note_retry(const asio::any_io_executor& executor, std::string what, int attempt) {
  if (!log_) return;
  retried_.push_back(attempt > 1 ? what + " (attempt " + std::to_string(attempt + 1) + ")" : std::move(what));
  if (report_posted_) return;
  report_posted_ = true;
  // Every request the drop took down fails in the same turn of the io loop; report after them.
  asio::post(executor, [this] { report_retries(); });
}

void FcpNode::report_retries() {
  report_posted_ = false;
  if (retried_.empty() || !log_) return;
  std::string list;
  const std::size_t shown = std::min<std::size_t>(retried_.size(), 5);
  for (std::size_t i = 0; i < shown; ++i) list += (i == 0 ? "" : ", ") + retried_[i];
  if (retried_.size() > shown) list += " and " + std::to_string(retried_.size() - shown) + " more";
  log_("the node connection was lost during " + std::to_string(retried_.size()) + " request(s): " + list +
       "; sending them again, nothing else is repeated");
  retried_.clear();
}

namespace {
// The connection went down before the answer: the request did not finish and may be made again.
bool lost_with_connection(const fcp::Failure& f) { return f.kind == fcp::Failure::Kind::connection_lost; }
}  // namespace

asio::awaitable<NodeResult<SskKeypair>> FcpNode::generate_ssk() {
  Tracked guard{*this, track("generate-ssk", "new channel key")};
  for (int attempt = 1;; ++attempt) {
    auto start = [this](auto cb) { client_.generate_ssk(std::move(cb)); };
    auto r = co_await await_callback<fcp::Outcome<fcp::SskKeypair>>(std::move(start));
    if (r) co_return SskKeypair{r->insert_uri, r->request_uri};
    if (!lost_with_connection(r.error()) || attempt >= max_attempts) co_return std::unexpected(to_node_error(r.error()));
    note_retry(co_await asio::this_coro::executor, "the generation of a channel key", attempt);
  }
}

asio::awaitable<NodeResult<std::string>> FcpNode::put(std::string uri, std::string data, std::string what) {
  Tracked guard{*this, track("put", what)};
  // The same data to the same key: a repeat of an insert that did finish succeeds again.
  for (int attempt = 1;; ++attempt) {
    auto start = [this, &uri, &data](auto cb) mutable { client_.put(uri, data, fcp::PutOptions{}, std::move(cb)); };
    auto r = co_await await_callback<fcp::Outcome<fcp::PutResult>>(std::move(start));
    if (r) co_return r->uri;
    if (!lost_with_connection(r.error()) || attempt >= max_attempts) co_return std::unexpected(to_node_error(r.error()));
    note_retry(co_await asio::this_coro::executor, "the insert of " + what, attempt);
  }
}

asio::awaitable<NodeResult<std::string>> FcpNode::get(std::string uri, std::size_t max_size, std::string what) {
  Tracked guard{*this, track("get", what)};
  fcp::GetOptions options;
  options.max_size = max_size;
  options.max_retries = 0;  // polling: one attempt per poll, the scheduler decides when to retry
  for (int attempt = 1;; ++attempt) {
    auto start = [this, &uri, options](auto cb) mutable { client_.get(uri, options, std::move(cb)); };
    auto r = co_await await_callback<fcp::Outcome<fcp::GetResult>>(std::move(start));
    if (r) co_return std::move(r->data);
    if (!lost_with_connection(r.error()) || attempt >= max_attempts) co_return std::unexpected(to_node_error(r.error()));
    note_retry(co_await asio::this_coro::executor, "the fetch of " + what, attempt);
  }
}

asio::awaitable<NodeResult<WotFields>> FcpNode::wot(WotFields params) {
  std::string message = params.count("Message") ? params.at("Message") : std::string("?");
  Tracked guard{*this, track("wot", "WebOfTrust " + message)};
  std::vector<std::pair<std::string, std::string>> list(params.begin(), params.end());
  // Message first, as WoT clients do.
  std::stable_partition(list.begin(), list.end(), [](const auto& p) { return p.first == "Message"; });
  // Creating an identity twice would leave a stray one behind; every other message the engine sends
  // is a query or sets a value, and may be repeated.
  const bool repeatable = message != "CreateIdentity" && message != "CreateOwnIdentity";
  fcp::Outcome<fcp::PluginReply> r = std::unexpected(fcp::Failure{});
  for (int attempt = 1;; ++attempt) {
    auto start = [this, &list](auto cb) mutable { client_.plugin_message(wot_plugin, list, std::nullopt, std::move(cb)); };
    r = co_await await_callback<fcp::Outcome<fcp::PluginReply>>(std::move(start));
    if (r || !repeatable || !lost_with_connection(r.error()) || attempt >= max_attempts) break;
    note_retry(co_await asio::this_coro::executor, "the WebOfTrust " + message + " request", attempt);
  }
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
