// fcpmail-sim: a simulated Hyphanet node speaking FCP 2.0 over TCP like fred build 1506, with the
// WebOfTrust plugin subset Freemail uses. It runs on the caller's io_context (single thread) and
// never blocks it; delays are asio timers. The same engine is embedded by `fcpmaild --embedded-node`.
#pragma once
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace fcp::sim {

struct SimConfig {
  std::string listen_host = "127.0.0.1";
  std::uint16_t port = 0;                 // 0: pick a free port (see SimNode::port())
  std::optional<std::string> state_file;  // SQLite file: inserted keys, WoT, persistent requests
  int insert_delay_ms = 0;                // before PutSuccessful
  int fetch_delay_ms = 0;                 // before DataFound / GetFailed
  double dnf_rate = 0;                    // probability that a fetch of present data fails (13/28)
  int drop_every = 0;                     // close the connection carrying every Nth message (node-wide)
  // Fault injection aimed at transfers, by node-wide count (1 = the first): at each listed ClientPut
  // the insert is taken (its data stored) and the connection closes before the reply, i.e. in the
  // middle of the insert; each listed AllData is cut off half-way through its payload, i.e. in the
  // middle of the fetch. Listed counts, not "every Nth": a client that re-sends what a drop took
  // down must not be made to hit the same fault again and again.
  std::set<std::uint64_t> drop_on_puts;
  std::set<std::uint64_t> cut_all_data;
  int reply_delay_ms = 0;                 // every message the node sends leaves this much later
  std::uint64_t seed = 1;                 // keys, connection ids, fault decisions
};

class Node;

class SimNode {
 public:
  // Binds and starts accepting. Throws std::runtime_error on bind or state-open failure.
  SimNode(boost::asio::io_context& io, SimConfig config);
  ~SimNode();
  SimNode(const SimNode&) = delete;
  SimNode& operator=(const SimNode&) = delete;

  std::uint16_t port() const;
  // Stops accepting, closes every connection and cancels pending timers, so io.run() can return.
  void stop();
  // Closes every open connection at once, as a node going away would; keeps accepting.
  void drop_connections();
  // FCP requests served: every message after ClientHello that the node executed (ClientPut,
  // ClientGet, GenerateSSK, SubscribeUSK, FCPPluginMessage, GetRequestStatus, ...).
  std::size_t request_count() const;
  // Connections currently open.
  std::size_t connection_count() const;

 private:
  std::shared_ptr<Node> node_;
};

}  // namespace fcp::sim
