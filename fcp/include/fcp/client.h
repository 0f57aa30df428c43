// An asynchronous FCP 2.0 client on Boost.Asio.
//
// One Client keeps one connection to a node: it sends ClientHello (checking the node speaks FCP
// 2.x), reads continuously, routes every reply to its request by Identifier and hands the caller
// typed outcomes carrying fred's numeric codes. When the node goes away it reconnects with
// exponential backoff, also when the node closed the connection because another client took our
// Name (CloseConnectionDuplicateClientName; the wait is longer then). No request is ever silently lost: each one either completes, or its handler
// is called with a Failure whose retryable() is true (connection lost before the answer).
// Persistent requests (Persistence=reboot|forever) are kept across reconnects instead: the node's
// replay is absorbed, their data fetched with GetRequestStatus, and a request the node no longer
// knows is sent again.
//
// Threading: every method must be called from the io_context's thread (or before it runs); every
// handler is called on that thread, never from inside the call that started the request.
#pragma once
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "fcp/message.h"

namespace fcp {

// Why a request did not succeed. `code` is fred's number for the kind (GetFailed / PutFailed /
// ProtocolError codes are different tables).
struct Failure {
  enum class Kind {
    get_failed,             // GetFailed: code 13 data not found, 28 all data not found, 21 too big...
    put_failed,             // PutFailed: code 9 collision, 5 route not found, 10 rejected overload...
    protocol_error,         // ProtocolError about this request (4 bad URI, 15 no such identifier, 32 no plugin...)
    identifier_collision,   // IdentifierCollision: the identifier is already in use on the node
    too_many_redirects,     // GetFailed 27/11 followed more than ClientConfig::max_redirects times
    too_big,                // the node announced more data than the request's MaxSize (checked locally)
    connection_lost,        // the connection ended before the answer: retry (code 0)
    duplicate_client_name,  // CloseConnectionDuplicateClientName: another client took our Name (the
                            // client reconnects; requests lost with the connection get connection_lost)
    version_mismatch,       // NodeHello with an FCPVersion other than 2.x
    cancelled,              // remove_request() or stop() before the answer
    invalid_request,        // refused before sending (CR/LF/NUL in a value, bad argument)
  };
  Kind kind = Kind::connection_lost;
  int code = 0;
  std::string description;        // CodeDescription (English, never branch on it)
  std::string extra_description;  // ExtraDescription when fred sent one
  bool fatal = false;             // fred's Fatal flag: advice that retrying the same thing is futile

  // GetFailed 13, 14 and 28: the data is not there (yet). A tiny network answers 14 where a real
  // one answers 13; treat them alike.
  bool is_not_found() const { return kind == Kind::get_failed && (code == 13 || code == 14 || code == 28); }
  // GetFailed 30: our node saw a DNF for this key recently and cut the request short; wait ~5 min.
  bool is_recently_failed() const { return kind == Kind::get_failed && code == 30; }
  // PutFailed 9: the slot holds different data.
  bool is_collision() const { return kind == Kind::put_failed && code == 9; }
  // Worth trying the same request again later.
  bool retryable() const;
  // "description (code N)" for people.
  std::string to_string() const;
};

template <class T>
using Outcome = std::expected<T, Failure>;

struct ClientConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9481;
  // ClientHello Name. Must be unique among the node's connections (a second connection with the
  // same Name kicks the first) and stable across reconnects (persistent requests belong to it).
  // Empty: "fcpmail-" and random hex.
  std::string name;
  // Identifiers are "<prefix><counter>"; empty: the Name, '-' and a random per-process tag.
  std::string identifier_prefix;
  bool watch_global = false;  // send WatchGlobal Enabled=true after every hello
  bool reconnect = true;      // false: a lost connection fails everything and stays down
  std::chrono::milliseconds reconnect_initial{100};
  std::chrono::milliseconds reconnect_max{30'000};
  // The first wait after the node closed our connection for another client with our Name; it
  // doubles (up to reconnect_max or this, whichever is longer) while such takeovers repeat.
  std::chrono::milliseconds duplicate_name_backoff{2'000};
  std::chrono::milliseconds hello_timeout{15'000};  // TCP connect + NodeHello
  int max_redirects = 5;                             // GetFailed 27/11 hops followed per get
  std::size_t max_payload = 64 * 1024 * 1024;        // any single payload from the node
};

enum class Persistence { connection, reboot, forever };

struct PutOptions {
  int max_retries = 2;  // always sent: fred's default 0 fails with 5 or 8 on a small network
  int priority_class = 2;
  bool realtime = false;
  bool local_request_only = false;
  bool dont_compress = false;
  std::optional<std::string> content_type;  // omitted by default (keeps a small SSK in one block)
  Persistence persistence = Persistence::connection;
  bool global = false;
  std::string identifier;  // empty: generated
};

struct GetOptions {
  std::uint64_t max_size = 4 * 1024 * 1024;  // MaxSize; larger data fails with too_big / code 21
  int max_retries = 2;
  int priority_class = 2;
  bool realtime = false;
  bool ignore_ds = false;
  bool ds_only = false;
  Persistence persistence = Persistence::connection;
  bool global = false;
  std::string identifier;  // empty: generated
};

struct SubscribeOptions {
  bool dont_poll = false;
  bool sparse_poll = false;
  int priority_class = 4;
  bool realtime = false;
};

struct NodeInfo {
  std::string node;                   // "Fred"
  std::string version;                // "Fred,0.7,1.0,1506"
  std::string fcp_version;            // "2.0"
  std::string build;                  // "1506"
  std::string connection_identifier;  // changes with every connection
  bool testnet = false;
  Message hello;  // the whole NodeHello
};

struct SskKeypair {
  std::string insert_uri;   // SSK@<private>,<crypto>,AQECAAE/
  std::string request_uri;  // SSK@<public hash>,<crypto>,AQACAAE/
};

struct PutResult {
  std::string uri;  // the request URI from PutSuccessful (CHK@... for CHK@ inserts)
};

struct GetResult {
  std::string data;
  std::string mime;  // Metadata.ContentType
  std::string uri;   // the URI finally fetched (after redirects)
  int redirects = 0;
};

struct UskUpdate {
  std::int64_t edition = 0;
  std::string uri;
  bool new_known_good = false;
  bool new_slot_too = false;
};

struct PluginReply {
  Message message;  // the whole FCPPluginReply (Replies.*, Success, ErrorCode...)
  std::optional<std::string> data;
  // Replies.<key>, or nothing.
  std::optional<std::string_view> reply(std::string_view key) const;
};

struct ClientStats {
  std::uint64_t requests_sent = 0;  // ClientGet, ClientPut, GenerateSSK, SubscribeUSK, FCPPluginMessage
                                    // (redirect hops and re-sends after reconnect included)
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t connects = 0;  // successful hellos
  // Successful hellos that came after at least one failed connect attempt: the node had been
  // unreachable (restarted, or its port closed), not just this connection dropped.
  std::uint64_t reconnects_after_outage = 0;
  std::uint64_t name_taken_over = 0;  // CloseConnectionDuplicateClientName received
};

class Client {
 public:
  Client(boost::asio::io_context& io, ClientConfig config);
  ~Client();  // stops; pending handlers are called with `cancelled`
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connect (and keep reconnecting if config.reconnect). Requests made before the hello are queued.
  void start();
  // Close for good. Every pending request fails with `cancelled`.
  void stop();

  // Called after every successful hello (reconnects included).
  void on_connected(std::function<void(const NodeInfo&)> handler);
  // Called whenever the connection ends (with why), and when a connect attempt fails. Unless the
  // client is stopped (or config.reconnect is false), reconnect_delay() then says when it tries again.
  void on_disconnected(std::function<void(const Failure&)> handler);
  // Messages that belong to no request of ours: replays of finished persistent requests, global
  // requests (WatchGlobal), plugin-initiated FCPPluginReply, connection-level ProtocolError.
  void on_unsolicited(std::function<void(const Message&)> handler);

  using Id = std::string;

  Id generate_ssk(std::function<void(Outcome<SskKeypair>)> done);
  // Direct upload of `data` to `uri` (CHK@, SSK@.../name, USK@.../name/N, KSK@name).
  Id put(std::string uri, std::string data, PutOptions options, std::function<void(Outcome<PutResult>)> done);
  // Direct fetch; follows GetFailed 27/11 (RedirectURI) up to config.max_redirects hops.
  Id get(std::string uri, GetOptions options, std::function<void(Outcome<GetResult>)> done);
  // SubscribeUSK; `update` is called for every SubscribedUSKUpdate until unsubscribe_usk().
  // The subscription is renewed after every reconnect. `failed` is called if the node refuses it.
  Id subscribe_usk(std::string uri, SubscribeOptions options, std::function<void(const UskUpdate&)> update,
                   std::function<void(const Failure&)> failed = {});
  void unsubscribe_usk(const Id& id);
  // FCPPluginMessage to `plugin` with Param.<key>=<value> for each param (and a payload if given).
  Id plugin_message(std::string plugin, std::vector<std::pair<std::string, std::string>> params,
                    std::optional<std::string> data, std::function<void(Outcome<PluginReply>)> done);
  // RemoveRequest; a pending request's handler is called with `cancelled`.
  void remove_request(const Id& id);

  bool connected() const;
  // While waiting to reconnect: how long the wait chosen at the last disconnect is.
  std::optional<std::chrono::milliseconds> reconnect_delay() const;
  std::optional<NodeInfo> node() const;  // from the last NodeHello
  std::size_t in_flight() const;         // requests waiting for an answer (subscriptions excluded)
  ClientStats stats() const;
  std::uint64_t requests_sent() const { return stats().requests_sent; }
  const std::string& name() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fcp
