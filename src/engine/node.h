// Node: the narrow view of a Hyphanet node the engine needs. The engine never speaks FCP itself;
// fcp_node.h adapts fcp::Client to this, and unit tests use an in-memory node.
//
// Every call is an Asio coroutine resumed on the engine's io_context. Errors are values: a
// NodeError carries the FCP code so the engine can branch on it (9 = collision, 13/14/28 = not
// found yet, 27/11 are followed by the adapter and never reach the engine).
#pragma once
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

// g++ 12 reports Asio's coroutine frame allocator (operator new with a size tag, matching sized
// delete) as mismatched; a known false positive for every coroutine in a translation unit.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fcpmail::engine {

namespace asio = boost::asio;

struct NodeError {
  enum class Kind {
    failed,         // GetFailed / PutFailed with `code`
    protocol,       // ProtocolError with `code`
    disconnected,   // the connection dropped before an answer; retry later
    plugin_missing, // WebOfTrust is not loaded (ProtocolError 32)
    plugin_error,   // the plugin answered with an error (Replies.Message=Error)
  };
  Kind kind = Kind::failed;
  int code = 0;
  std::string description;

  bool collision() const { return kind == Kind::failed && code == 9; }
  // Data not (yet) there: the ordinary outcome of polling an empty slot.
  bool not_found() const {
    return kind == Kind::failed && (code == 13 || code == 14 || code == 28 || code == 30);
  }
};

template <class T>
using NodeResult = std::expected<T, NodeError>;

struct SskKeypair {
  std::string insert_uri;   // SSK@<priv>,<crypto>,AQECAAE/
  std::string request_uri;  // SSK@<hash>,<crypto>,AQACAAE/
};

// A WebOfTrust message or reply: the parameters without their `Param.` / `Replies.` prefix.
using WotFields = std::map<std::string, std::string>;

struct InFlight {
  std::string kind;  // "put", "get", "generate-ssk", "wot"
  std::string what;  // user words, never an insert URI
  std::chrono::steady_clock::time_point started;
};

class Node {
 public:
  virtual ~Node() = default;

  virtual asio::awaitable<NodeResult<SskKeypair>> generate_ssk() = 0;
  // Insert `data` at `uri`; the result is the request URI the node reports (for an SSK insert URI
  // this is how the engine learns the matching public key). `what` names it in user words.
  virtual asio::awaitable<NodeResult<std::string>> put(std::string uri, std::string data,
                                                       std::string what) = 0;
  // Fetch `uri` (redirects 27/11 followed), at most `max_size` bytes.
  virtual asio::awaitable<NodeResult<std::string>> get(std::string uri, std::size_t max_size,
                                                       std::string what) = 0;
  // A WebOfTrust call (FCPPluginMessage to plugins.WebOfTrust.WebOfTrust).
  virtual asio::awaitable<NodeResult<WotFields>> wot(WotFields params) = 0;

  // For status and queues.
  virtual bool connected() const = 0;
  // How many times the connection came back after the node had been unreachable (at least one
  // connect attempt failed in between). A node restart looks like this, and a restarted node may
  // have lost its store; the engine then checks that its own inserts are still there.
  virtual std::uint64_t outages() const { return 0; }
  // Where the adapter reports, in plain sentences, what it did about faults (a step re-sent after
  // a lost connection). The engine sets it to its log.
  virtual void set_log(std::function<void(const std::string&)>) {}
  virtual std::string version() const = 0;
  virtual std::uint64_t requests_sent() const = 0;
  virtual std::vector<InFlight> in_flight() const = 0;
};

}  // namespace fcpmail::engine
