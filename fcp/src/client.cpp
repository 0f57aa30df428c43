#include "fcp/client.h"

#include <algorithm>
#include <random>
#include <unordered_map>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "fcp/codec.h"
#include "fcp/key_uri.h"

namespace fcp {

namespace asio = boost::asio;
using asio::ip::tcp;

bool Failure::retryable() const {
  switch (kind) {
    case Kind::connection_lost: return true;
    case Kind::get_failed:
    case Kind::put_failed: return !fatal;
    default: return false;
  }
}

std::string Failure::to_string() const {
  std::string out = description.empty() ? std::string("failure") : description;
  if (!extra_description.empty()) out += " (" + extra_description + ")";
  if (code != 0) out += " [code " + std::to_string(code) + "]";
  return out;
}

std::optional<std::string_view> PluginReply::reply(std::string_view key) const {
  std::string full = "Replies.";
  full += key;
  return message.get(full);
}

namespace {

std::string random_hex(std::size_t digits) {
  static constexpr char hex[] = "0123456789abcdef";
  std::random_device device;
  std::mt19937_64 rng((std::uint64_t(device()) << 32) ^ device());
  std::string out;
  for (std::size_t i = 0; i < digits; ++i) out += hex[rng() % 16];
  return out;
}

const char* persistence_name(Persistence p) {
  switch (p) {
    case Persistence::connection: return "connection";
    case Persistence::reboot: return "reboot";
    case Persistence::forever: return "forever";
  }
  return "connection";
}

Failure failure_from(const Message& m, Failure::Kind kind) {
  Failure f;
  f.kind = kind;
  f.code = static_cast<int>(m.get_int("Code").value_or(0));
  f.description = std::string(m.get_or("CodeDescription", m.name));
  f.extra_description = std::string(m.get_or("ExtraDescription", ""));
  f.fatal = m.get_bool("Fatal").value_or(false);
  return f;
}

Failure local_failure(Failure::Kind kind, std::string description, int code = 0) {
  Failure f;
  f.kind = kind;
  f.code = code;
  f.description = std::move(description);
  return f;
}

}  // namespace

class Client::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, ClientConfig config)
      : io_(io), config_(std::move(config)), resolver_(io), socket_(io), timer_(io), backoff_(config_.reconnect_initial),
        duplicate_backoff_(config_.duplicate_name_backoff) {
    if (config_.name.empty()) config_.name = "fcpmail-" + random_hex(12);
    if (config_.identifier_prefix.empty()) config_.identifier_prefix = config_.name + "-" + random_hex(6) + "-";
  }

  // ---- public operations ----------------------------------------------------------------------

  void start() {
    if (state_ != State::idle) return;
    connect();
  }

  void stop() { shut_down(local_failure(Failure::Kind::cancelled, "client stopped"), Failure::Kind::cancelled); }

  Id generate_ssk(std::function<void(Outcome<SskKeypair>)> done) {
    const Id id = next_id();
    Message m("GenerateSSK");
    m.set("Identifier", id);
    submit(id, Request::Kind::generate_ssk, std::move(m), [done = std::move(done)](std::expected<Final, Failure> r) {
      if (!r) return done(std::unexpected(r.error()));
      done(SskKeypair{std::string(r->message.get_or("InsertURI", "")), std::string(r->message.get_or("RequestURI", ""))});
    });
    return id;
  }

  Id put(std::string uri, std::string data, const PutOptions& o, std::function<void(Outcome<PutResult>)> done) {
    const Id id = o.identifier.empty() ? next_id() : o.identifier;
    // fred does not consume the payload of a ClientPut it rejects, which forces a reconnect; refuse
    // what it would reject for its URI here, before anything is sent.
    if (auto problem = insert_uri_problem(uri)) {
      post_call(std::move(done), Outcome<PutResult>(std::unexpected(local_failure(Failure::Kind::invalid_request, *problem))));
      return id;
    }
    Message m("ClientPut");
    m.set("URI", std::move(uri));
    m.set("Identifier", id);
    m.set("MaxRetries", std::int64_t{o.max_retries});
    m.set("PriorityClass", std::int64_t{o.priority_class});
    m.set("UploadFrom", "direct");
    m.set("Persistence", persistence_name(o.persistence));
    m.set("Global", o.global);
    if (o.realtime) m.set("RealTimeFlag", true);
    if (o.local_request_only) m.set("LocalRequestOnly", true);
    if (o.dont_compress) m.set("DontCompress", true);
    if (o.content_type) m.set("Metadata.ContentType", *o.content_type);
    m.set("DataLength", static_cast<std::int64_t>(data.size()));
    m.payload = std::move(data);
    submit(id, Request::Kind::put, std::move(m), [done = std::move(done)](std::expected<Final, Failure> r) {
      if (!r) return done(std::unexpected(r.error()));
      done(PutResult{std::string(r->message.get_or("URI", ""))});
    });
    return id;
  }

  Id get(std::string uri, const GetOptions& o, std::function<void(Outcome<GetResult>)> done) {
    const Id id = o.identifier.empty() ? next_id() : o.identifier;
    Message m("ClientGet");
    m.set("URI", std::move(uri));
    m.set("Identifier", id);
    m.set("ReturnType", "direct");
    m.set("MaxSize", static_cast<std::int64_t>(o.max_size));
    m.set("MaxRetries", std::int64_t{o.max_retries});
    m.set("PriorityClass", std::int64_t{o.priority_class});
    m.set("Persistence", persistence_name(o.persistence));
    m.set("Global", o.global);
    if (o.realtime) m.set("RealTimeFlag", true);
    if (o.ignore_ds) m.set("IgnoreDS", true);
    if (o.ds_only) m.set("DSOnly", true);
    submit(id, Request::Kind::get, std::move(m), [done = std::move(done)](std::expected<Final, Failure> r) {
      if (!r) return done(std::unexpected(r.error()));
      done(GetResult{std::move(r->message.payload).value_or(std::string()), std::move(r->mime), std::move(r->uri),
                     r->redirects});
    }, o.max_size);
    return id;
  }

  Id subscribe_usk(std::string uri, const SubscribeOptions& o, std::function<void(const UskUpdate&)> update,
                   std::function<void(const Failure&)> failed) {
    const Id id = next_id();
    Message m("SubscribeUSK");
    m.set("URI", std::move(uri));
    m.set("Identifier", id);
    m.set("DontPoll", o.dont_poll);
    m.set("SparsePoll", o.sparse_poll);
    m.set("PriorityClass", std::int64_t{o.priority_class});
    m.set("RealTimeFlag", o.realtime);
    if (auto wire = encode(m); !wire) {
      deliver_failure(std::move(failed), local_failure(Failure::Kind::invalid_request, wire.error().detail));
      return id;
    }
    subscriptions_[id] = Subscription{m, std::move(update), std::move(failed)};
    if (state_ == State::ready) send_request(m);
    return id;
  }

  void unsubscribe_usk(const Id& id) {
    if (subscriptions_.erase(id) == 0) return;
    if (state_ == State::ready) send(Message("UnsubscribeUSK").set("Identifier", id));
  }

  Id plugin_message(std::string plugin, std::vector<std::pair<std::string, std::string>> params,
                    std::optional<std::string> data, std::function<void(Outcome<PluginReply>)> done) {
    const Id id = next_id();
    Message m("FCPPluginMessage");
    m.set("Identifier", id);
    m.set("PluginName", std::move(plugin));
    for (auto& [key, value] : params) m.fields.emplace_back("Param." + key, std::move(value));
    if (data) {
      m.set("DataLength", static_cast<std::int64_t>(data->size()));
      m.payload = std::move(data);
    }
    submit(id, Request::Kind::plugin, std::move(m), [done = std::move(done)](std::expected<Final, Failure> r) {
      if (!r) return done(std::unexpected(r.error()));
      auto data = std::move(r->message.payload);
      r->message.payload.reset();
      done(PluginReply{std::move(r->message), std::move(data)});
    });
    return id;
  }

  void remove_request(const Id& id) {
    auto it = requests_.find(id);
    if (it == requests_.end()) return;
    if (it->second.submitted && state_ == State::ready) send_remove(id, it->second.global);
    finish(id, std::unexpected(local_failure(Failure::Kind::cancelled, "request removed")));
  }

  void on_connected(std::function<void(const NodeInfo&)> h) { on_connected_ = std::move(h); }
  void on_disconnected(std::function<void(const Failure&)> h) { on_disconnected_ = std::move(h); }
  void on_unsolicited(std::function<void(const Message&)> h) { on_unsolicited_ = std::move(h); }

  bool connected() const { return state_ == State::ready; }
  std::optional<std::chrono::milliseconds> reconnect_delay() const {
    if (state_ != State::waiting) return std::nullopt;
    return reconnect_delay_;
  }
  const std::optional<NodeInfo>& node() const { return node_; }
  std::size_t in_flight() const { return requests_.size(); }
  const ClientStats& stats() const { return stats_; }
  const std::string& name() const { return config_.name; }

 private:
  enum class State { idle, connecting, handshaking, ready, waiting, stopped };

  // What a finished request hands its typed handler.
  struct Final {
    Message message;  // SSKKeypair / PutSuccessful / AllData / FCPPluginReply
    std::string mime;
    std::string uri;
    int redirects = 0;
  };
  using Done = std::function<void(std::expected<Final, Failure>)>;

  struct Request {
    enum class Kind { generate_ssk, put, get, plugin } kind;
    Message message;            // as sent; sent again after a reconnect when needed
    Done done;
    std::uint64_t sequence = 0;
    bool persistent = false;
    bool global = false;
    bool sent = false;          // sent on the current connection
    bool submitted = false;     // the node has seen it (on some connection)
    bool checking = false;      // GetRequestStatus after reconnect, waiting for the node's answer
    bool data_asked = false;    // GetRequestStatus OnlyData=true sent since the last DataFound
    std::uint64_t max_size = 0;
    int redirects = 0;
    std::string mime;
  };

  struct Subscription {
    Message message;
    std::function<void(const UskUpdate&)> update;
    std::function<void(const Failure&)> failed;
  };

  static std::optional<std::string> insert_uri_problem(std::string_view uri) {
    auto parsed = parse_key_uri(uri);
    if (!parsed) return "cannot insert to '" + std::string(uri) + "': " + parsed.error();
    if ((parsed->type == KeyType::ssk || parsed->type == KeyType::usk) && parsed->has_keys() && !parsed->is_insert())
      return "cannot insert to a request (public) key; an insert URI has the extra AQECAAE";
    return std::nullopt;
  }

  Id next_id() { return config_.identifier_prefix + std::to_string(++id_counter_); }

  template <class Handler, class Value>
  void post_call(Handler handler, Value value) {
    if (!handler) return;
    asio::post(io_, [handler = std::move(handler), value = std::move(value)]() mutable { handler(std::move(value)); });
  }
  void deliver_failure(std::function<void(const Failure&)> handler, Failure f) { post_call(std::move(handler), std::move(f)); }

  void submit(const Id& id, Request::Kind kind, Message m, Done done, std::uint64_t max_size = 0) {
    if (auto wire = encode(m); !wire) {
      post_call(std::move(done), std::expected<Final, Failure>(
                                     std::unexpected(local_failure(Failure::Kind::invalid_request, wire.error().detail))));
      return;
    }
    if (requests_.contains(id)) {
      post_call(std::move(done), std::expected<Final, Failure>(std::unexpected(
                                     local_failure(Failure::Kind::identifier_collision, "identifier already in use: " + id))));
      return;
    }
    if (state_ == State::stopped) {
      post_call(std::move(done), std::expected<Final, Failure>(
                                     std::unexpected(local_failure(Failure::Kind::cancelled, "client stopped"))));
      return;
    }
    Request r;
    r.kind = kind;
    const auto persistence = m.get_or("Persistence", "connection");
    r.persistent = persistence == "reboot" || persistence == "forever";
    r.global = m.get_bool("Global").value_or(false);
    r.max_size = max_size;
    r.message = std::move(m);
    r.done = std::move(done);
    r.sequence = ++sequence_;
    auto& stored = requests_[id] = std::move(r);
    if (state_ == State::ready) {
      send_request(stored.message);
      stored.sent = stored.submitted = true;
    }
  }

  // Completes a request: removes it, then calls its handler (on the io thread, later).
  void finish(const Id& id, std::expected<Final, Failure> outcome) {
    auto it = requests_.find(id);
    if (it == requests_.end()) return;
    Request request = std::move(it->second);
    requests_.erase(it);
    // A finished persistent request stays on the node until removed; remove it so it is not replayed.
    if (request.persistent && request.submitted && state_ == State::ready &&
        !(outcome.has_value() == false && outcome.error().kind == Failure::Kind::cancelled))
      send_remove(id, request.global);
    post_call(std::move(request.done), std::move(outcome));
  }

  void fail(const Id& id, Failure f) { finish(id, std::unexpected(std::move(f))); }

  // ---- connection -----------------------------------------------------------------------------

  void connect() {
    state_ = State::connecting;
    const auto generation = ++generation_;
    auto self = shared_from_this();
    arm_timer(config_.hello_timeout, [this, generation] {
      if (generation == generation_) connection_lost("no NodeHello within the hello timeout");
    });
    resolver_.async_resolve(config_.host, std::to_string(config_.port),
                            [this, self, generation](boost::system::error_code ec, tcp::resolver::results_type results) {
                              if (generation != generation_) return;
                              if (ec) return connection_lost("cannot resolve " + config_.host + ": " + ec.message());
                              asio::async_connect(socket_, results,
                                                  [this, self, generation](boost::system::error_code ec, const tcp::endpoint&) {
                                                    if (generation != generation_) return;
                                                    if (ec)
                                                      return connection_lost("cannot connect to " + config_.host + ":" +
                                                                             std::to_string(config_.port) + ": " +
                                                                             ec.message());
                                                    handshake();
                                                  });
                            });
  }

  void handshake() {
    state_ = State::handshaking;
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    CodecLimits limits;
    limits.max_payload = config_.max_payload;
    parser_ = StreamParser(limits);
    read();
    Message hello("ClientHello");
    hello.set("Name", config_.name).set("ExpectedVersion", "2.0");
    send(hello);
  }

  template <class F>
  void arm_timer(std::chrono::milliseconds after, F f) {
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), f = std::move(f)](boost::system::error_code ec) {
      if (!ec) f();
    });
  }

  void read() {
    const auto generation = generation_;
    socket_.async_read_some(asio::buffer(read_buffer_),
                            [this, self = shared_from_this(), generation](boost::system::error_code ec, std::size_t n) {
                              if (generation != generation_) return;
                              if (ec)
                                return connection_lost(ec == asio::error::eof ? "the node closed the connection"
                                                                              : "read: " + ec.message());
                              parser_.feed(std::string_view(read_buffer_.data(), n));
                              for (;;) {
                                auto next = parser_.next();
                                if (next.need_more()) break;
                                if (next.error) return connection_lost("unreadable message from the node: " + next.error->detail);
                                dispatch(std::move(*next.message));
                                if (generation != generation_) return;  // the message ended this connection
                              }
                              read();
                            });
  }

  void send(const Message& m) {
    auto wire = encode(m);
    if (!wire) return;  // requests are validated when made; nothing else can fail here
    ++stats_.messages_sent;
    outgoing_ += *wire;
    if (!writing_) write();
  }

  void send_request(const Message& m) {
    ++stats_.requests_sent;
    send(m);
  }

  void send_remove(const Id& id, bool global) {
    send(Message("RemoveRequest").set("Identifier", id).set("Global", global));
  }

  void write() {
    if (outgoing_.empty()) return;
    writing_ = true;
    writing_buffer_.swap(outgoing_);
    outgoing_.clear();
    const auto generation = generation_;
    asio::async_write(socket_, asio::buffer(writing_buffer_),
                      [this, self = shared_from_this(), generation](boost::system::error_code ec, std::size_t) {
                        if (generation != generation_) return;
                        writing_ = false;
                        writing_buffer_.clear();
                        if (ec) return connection_lost("write: " + ec.message());
                        write();
                      });
  }

  void close_socket() {
    ++generation_;  // every callback of the old connection is now stale
    boost::system::error_code ignored;
    resolver_.cancel();
    socket_.close(ignored);
    timer_.cancel();
    outgoing_.clear();
    writing_buffer_.clear();
    writing_ = false;
  }

  // The connection ended (or could not be made). Non-persistent requests already sent fail with a
  // retryable failure; unsent and persistent ones wait for the next connection.
  void connection_lost(std::string why) {
    if (state_ == State::stopped) return;
    const bool was_ready = state_ == State::ready;
    // The node did not accept the TCP connection (it is down or restarting). A connection that was
    // accepted and then closed during the hello is a drop, not an outage.
    if (state_ == State::connecting) node_unreachable_ = true;
    if (was_ready) backoff_ = config_.reconnect_initial;
    const auto delay = backoff_;
    backoff_ = std::min(backoff_ * 2, config_.reconnect_max);
    reconnect_after(local_failure(Failure::Kind::connection_lost, std::move(why)), delay);
  }

  // CloseConnectionDuplicateClientName: another client said hello with our Name, and the node
  // closes this connection. It is a drop like any other (the work goes on once we are back, and
  // the Name's persistent requests come back with it), but two clients sharing one Name would
  // knock each other off at every reconnect: the wait starts at duplicate_name_backoff and
  // doubles while the takeovers repeat, so that such a fight costs the node one hello every
  // reconnect_max or so, and the operator reads about each one in the log.
  void name_taken_over() {
    if (state_ == State::stopped) return;
    ++stats_.name_taken_over;
    // A connection that lasted a while before this takeover ends a fight, if there was one.
    if (std::chrono::steady_clock::now() - ready_since_ >= 2 * config_.reconnect_max)
      duplicate_backoff_ = config_.duplicate_name_backoff;
    const auto delay = duplicate_backoff_;
    duplicate_backoff_ = std::min(duplicate_backoff_ * 2, std::max(config_.reconnect_max, config_.duplicate_name_backoff));
    reconnect_after(local_failure(Failure::Kind::duplicate_client_name,
                                  "another client connected to the node with this client's Name (" + config_.name + ")"),
                    delay);
  }

  void reconnect_after(const Failure& why, std::chrono::milliseconds delay) {
    close_socket();
    if (!config_.reconnect) return shut_down(why, why.kind);
    state_ = State::waiting;
    reconnect_delay_ = delay;
    // For the requests the connection took with it, only the retryable part matters.
    Failure lost = why;
    lost.kind = Failure::Kind::connection_lost;
    fail_sent_requests(lost);
    if (on_disconnected_) on_disconnected_(why);
    arm_timer(delay, [this] {
      if (state_ == State::waiting) connect();
    });
  }

  void fail_sent_requests(const Failure& failure) {
    std::vector<Id> lost;
    for (auto& [id, request] : requests_) {
      if (request.persistent) {
        request.sent = false;
        continue;
      }
      if (request.sent) lost.push_back(id);
    }
    std::sort(lost.begin(), lost.end(), [this](const Id& a, const Id& b) {
      return requests_.at(a).sequence < requests_.at(b).sequence;
    });
    for (const auto& id : lost) fail(id, failure);
  }

  // For good: everything pending fails with `kind`, subscriptions end.
  void shut_down(const Failure& why, Failure::Kind kind) {
    if (state_ == State::stopped) return;
    close_socket();
    state_ = State::stopped;
    std::vector<std::pair<std::uint64_t, Id>> ids;
    for (auto& [id, request] : requests_) ids.emplace_back(request.sequence, id);
    std::sort(ids.begin(), ids.end());
    Failure f = why;
    f.kind = kind;
    for (const auto& [seq, id] : ids) fail(id, f);
    auto subscriptions = std::move(subscriptions_);
    subscriptions_.clear();
    for (auto& [id, s] : subscriptions) deliver_failure(std::move(s.failed), f);
    if (on_disconnected_) post_call(on_disconnected_, f);
  }

  // ---- incoming messages ----------------------------------------------------------------------

  void dispatch(Message m) {
    ++stats_.messages_received;
    const std::string& name = m.name;
    if (name == "NodeHello") return node_hello(m);
    if (name == "CloseConnectionDuplicateClientName") return name_taken_over();
    const auto id_field = m.get("Identifier");
    const Id id = id_field ? Id(*id_field) : Id();
    auto it = id_field ? requests_.find(id) : requests_.end();
    if (it == requests_.end()) {
      if (auto sub = id_field ? subscriptions_.find(id) : subscriptions_.end(); sub != subscriptions_.end())
        return subscription_message(sub, m);
      return unsolicited(m);
    }
    Request& request = it->second;
    if (name == "ProtocolError") return request_protocol_error(id, request, m);
    if (name == "IdentifierCollision")
      return fail(id, local_failure(Failure::Kind::identifier_collision, "identifier already in use on the node: " + id));
    if (name == "PersistentGet" || name == "PersistentPut") {
      request.checking = false;  // the node knows it
      return;
    }
    if (name == "PersistentRequestRemoved") return fail(id, local_failure(Failure::Kind::cancelled, "removed on the node"));
    switch (request.kind) {
      case Request::Kind::generate_ssk:
        if (name == "SSKKeypair") finish(id, Final{std::move(m), {}, {}, 0});
        return;
      case Request::Kind::plugin:
        if (name == "FCPPluginReply") finish(id, Final{std::move(m), {}, {}, 0});
        return;
      case Request::Kind::put:
        if (name == "PutSuccessful") finish(id, Final{std::move(m), {}, {}, 0});
        else if (name == "PutFailed") fail(id, failure_from(m, Failure::Kind::put_failed));
        return;
      case Request::Kind::get:
        return get_message(id, request, std::move(m));
    }
  }

  void node_hello(const Message& m) {
    if (state_ != State::handshaking) return unsolicited(m);
    const auto version = m.get_or("FCPVersion", "");
    if (!version.starts_with("2.")) {
      Failure f = local_failure(Failure::Kind::version_mismatch,
                                "the node speaks FCP " + std::string(version.empty() ? "(unknown)" : version) +
                                    ", this client FCP 2.0");
      return shut_down(f, Failure::Kind::version_mismatch);
    }
    timer_.cancel();
    state_ = State::ready;
    ready_since_ = std::chrono::steady_clock::now();
    backoff_ = config_.reconnect_initial;
    ++stats_.connects;
    if (node_unreachable_ && stats_.connects > 1) ++stats_.reconnects_after_outage;
    node_unreachable_ = false;
    NodeInfo info;
    info.node = std::string(m.get_or("Node", ""));
    info.version = std::string(m.get_or("Version", ""));
    info.fcp_version = std::string(version);
    info.build = std::string(m.get_or("Build", ""));
    info.connection_identifier = std::string(m.get_or("ConnectionIdentifier", ""));
    info.testnet = m.get_bool("Testnet").value_or(false);
    info.hello = m;
    node_ = info;
    if (config_.watch_global) send(Message("WatchGlobal").set("Enabled", true).set("VerbosityMask", std::int64_t{0}));
    for (auto& [id, s] : subscriptions_) send_request(s.message);
    // Requests in the order they were made: new ones are sent; persistent ones the node has seen
    // are asked about (a node that lost them answers ProtocolError 15 and they are sent again).
    std::vector<std::pair<std::uint64_t, Id>> order;
    for (auto& [id, request] : requests_) order.emplace_back(request.sequence, id);
    std::sort(order.begin(), order.end());
    for (const auto& [seq, id] : order) {
      Request& request = requests_.at(id);
      if (request.sent) continue;
      if (request.persistent && request.submitted) {
        // OnlyData=false: fred answers with the tag, and for a finished get DataFound and AllData.
        // OnlyData=true is only safe after DataFound (fred builds the AllData around a missing
        // bucket for a get still running), and asking it here once left a get that was still
        // running at the reconnect waiting forever: its later DataFound was taken as already asked.
        // A DataFound without data yet asks for it (a second copy of the data is absorbed).
        request.checking = true;
        request.data_asked = false;
        send(Message("GetRequestStatus").set("Identifier", id).set("Global", request.global).set("OnlyData", false));
      } else {
        send_request(request.message);
      }
      request.sent = request.submitted = true;
    }
    if (on_connected_) on_connected_(info);
  }

  void request_protocol_error(const Id& id, Request& request, const Message& m) {
    const auto code = m.get_int("Code").value_or(0);
    if (request.checking && code == 15) {  // the node forgot it (restart): send it again
      request.checking = false;
      request.data_asked = false;
      send_request(request.message);
      return;
    }
    const bool rejected_payload = request.message.payload && !request.message.payload->empty();
    fail(id, failure_from(m, Failure::Kind::protocol_error));
    // fred does not consume the payload of a data-carrying message it rejects: the stream is out
    // of step, so start afresh.
    if (rejected_payload) connection_lost("resynchronising after a rejected " + request.message.name);
  }

  void get_message(const Id& id, Request& request, Message m) {
    const std::string& name = m.name;
    if (name == "DataFound") {
      request.mime = std::string(m.get_or("Metadata.ContentType", ""));
      if (const auto length = m.get_int("DataLength");
          length && request.max_size > 0 && static_cast<std::uint64_t>(*length) > request.max_size) {
        if (!request.persistent) send_remove(id, request.global);
        return fail(id, local_failure(Failure::Kind::too_big,
                                      "the data is " + std::to_string(*length) + " bytes, above MaxSize " +
                                          std::to_string(request.max_size),
                                      21));
      }
      if (request.persistent && !request.data_asked) {
        request.data_asked = true;
        send(Message("GetRequestStatus").set("Identifier", id).set("Global", request.global).set("OnlyData", true));
      }
      return;
    }
    if (name == "AllData") {
      if (request.mime.empty()) request.mime = std::string(m.get_or("Metadata.ContentType", ""));
      if (request.max_size > 0 && m.payload && m.payload->size() > request.max_size)
        return fail(id, local_failure(Failure::Kind::too_big, "the data is above MaxSize", 21));
      Final result{std::move(m), request.mime, std::string(request.message.get_or("URI", "")), request.redirects};
      return finish(id, std::move(result));
    }
    if (name == "GetFailed") {
      const auto code = m.get_int("Code").value_or(0);
      const auto redirect = m.get("RedirectURI");
      if ((code == 27 || code == 11) && redirect && !redirect->empty()) {
        if (request.redirects >= config_.max_redirects) {
          Failure f = failure_from(m, Failure::Kind::too_many_redirects);
          f.description = "more than " + std::to_string(config_.max_redirects) + " redirects (last to " +
                          std::string(*redirect) + ")";
          return fail(id, f);
        }
        return follow_redirect(id, std::string(*redirect));
      }
      return fail(id, failure_from(m, Failure::Kind::get_failed));
    }
  }

  void follow_redirect(const Id& old_id, std::string uri) {
    auto node = requests_.extract(old_id);
    Request request = std::move(node.mapped());
    if (request.persistent) send_remove(old_id, request.global);
    const Id id = next_id();
    ++request.redirects;
    request.message.set("URI", std::move(uri));
    request.message.set("Identifier", id);
    request.data_asked = false;
    request.checking = false;
    auto& stored = requests_[id] = std::move(request);
    if (state_ == State::ready) {
      send_request(stored.message);
      stored.sent = stored.submitted = true;
    } else {
      stored.sent = stored.submitted = false;
    }
  }

  void subscription_message(std::unordered_map<Id, Subscription>::iterator it, const Message& m) {
    if (m.name == "SubscribedUSKUpdate") {
      UskUpdate update;
      update.edition = m.get_int("Edition").value_or(0);
      update.uri = std::string(m.get_or("URI", ""));
      update.new_known_good = m.get_bool("NewKnownGood").value_or(false);
      update.new_slot_too = m.get_bool("NewSlotToo").value_or(false);
      if (it->second.update) it->second.update(update);
      return;
    }
    if (m.name == "ProtocolError" || m.name == "IdentifierCollision") {
      auto failed = std::move(it->second.failed);
      subscriptions_.erase(it);
      const auto kind =
          m.name == "ProtocolError" ? Failure::Kind::protocol_error : Failure::Kind::identifier_collision;
      if (failed) failed(failure_from(m, kind));
    }
    // SubscribedUSK, SubscribedUSKSendingToNetwork, SubscribedUSKRoundFinished: nothing to do.
  }

  void unsolicited(const Message& m) {
    if (on_unsolicited_) on_unsolicited_(m);
  }

  asio::io_context& io_;
  ClientConfig config_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  StreamParser parser_;
  std::array<char, 64 * 1024> read_buffer_{};
  std::string outgoing_;
  std::string writing_buffer_;
  bool writing_ = false;
  bool node_unreachable_ = false;  // a connect attempt failed since the last hello
  State state_ = State::idle;
  std::uint64_t generation_ = 0;
  std::chrono::milliseconds backoff_;
  std::chrono::milliseconds duplicate_backoff_;  // the wait after the next CloseConnectionDuplicateClientName
  std::chrono::milliseconds reconnect_delay_{0};  // the wait chosen at the last disconnect
  std::chrono::steady_clock::time_point ready_since_{};  // the last NodeHello
  std::uint64_t id_counter_ = 0;
  std::uint64_t sequence_ = 0;
  std::unordered_map<Id, Request> requests_;
  std::unordered_map<Id, Subscription> subscriptions_;
  std::optional<NodeInfo> node_;
  ClientStats stats_;
  std::function<void(const NodeInfo&)> on_connected_;
  std::function<void(const Failure&)> on_disconnected_;
  std::function<void(const Message&)> on_unsolicited_;
};

Client::Client(asio::io_context& io, ClientConfig config) : impl_(std::make_shared<Impl>(io, std::move(config))) {}
Client::~Client() { impl_->stop(); }
void Client::start() { impl_->start(); }
void Client::stop() { impl_->stop(); }
void Client::on_connected(std::function<void(const NodeInfo&)> h) { impl_->on_connected(std::move(h)); }
void Client::on_disconnected(std::function<void(const Failure&)> h) { impl_->on_disconnected(std::move(h)); }
void Client::on_unsolicited(std::function<void(const Message&)> h) { impl_->on_unsolicited(std::move(h)); }
Client::Id Client::generate_ssk(std::function<void(Outcome<SskKeypair>)> done) {
  return impl_->generate_ssk(std::move(done));
}
Client::Id Client::put(std::string uri, std::string data, PutOptions options, std::function<void(Outcome<PutResult>)> done) {
  return impl_->put(std::move(uri), std::move(data), options, std::move(done));
}
Client::Id Client::get(std::string uri, GetOptions options, std::function<void(Outcome<GetResult>)> done) {
  return impl_->get(std::move(uri), options, std::move(done));
}
Client::Id Client::subscribe_usk(std::string uri, SubscribeOptions options, std::function<void(const UskUpdate&)> update,
                                 std::function<void(const Failure&)> failed) {
  return impl_->subscribe_usk(std::move(uri), options, std::move(update), std::move(failed));
}
void Client::unsubscribe_usk(const Id& id) { impl_->unsubscribe_usk(id); }
Client::Id Client::plugin_message(std::string plugin, std::vector<std::pair<std::string, std::string>> params,
                                  std::optional<std::string> data, std::function<void(Outcome<PluginReply>)> done) {
  return impl_->plugin_message(std::move(plugin), std::move(params), std::move(data), std::move(done));
}
void Client::remove_request(const Id& id) { impl_->remove_request(id); }
bool Client::connected() const { return impl_->connected(); }
std::optional<std::chrono::milliseconds> Client::reconnect_delay() const { return impl_->reconnect_delay(); }
std::optional<NodeInfo> Client::node() const { return impl_->node(); }
std::size_t Client::in_flight() const { return impl_->in_flight(); }
ClientStats Client::stats() const { return impl_->stats(); }
const std::string& Client::name() const { return impl_->name(); }

}  // namespace fcp
