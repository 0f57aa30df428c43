// Internals of the simulated node: the node-wide state (store, WoT, clients by name, persistent
// requests, waiting fetches, timers) and one Session per FCP connection.
#pragma once
#include "datastore.h"
#include "freenet_uri.h"
#include "node_reader.h"
#include "sim_node.h"
#include "web_of_trust.h"

#include "fcp/message.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace fcp::sim {

class Session;
using tcp = boost::asio::ip::tcp;

std::int64_t now_ms();
// The node's wire form of a message: LF line ends, `EndMessage`, or `Data` + payload.
std::string frame(const fcp::Message& message);
fcp::Message protocol_error(int code, std::optional<std::string> extra, std::optional<std::string> identifier,
                            bool fatal = false, bool global = false);
fcp::Message get_failed(int code, const std::string& identifier, bool global,
                        std::optional<std::string> extra = std::nullopt);

// A ClientGet or ClientPut in flight. Connection requests report to their session; persistent
// ones (reboot/forever) to whichever connection holds the client name (or watches the global queue).
struct Request {
  std::string identifier;
  bool global = false;
  bool is_get = true;
  std::string persistence = "connection";
  std::weak_ptr<Session> connection;
  std::string owner;  // client name for persistent requests
  bool cancelled = false;
  std::uint64_t token = 0;
  std::int64_t startup_ms = 0;
  fcp::Message fields;  // the client's message, as received (payload dropped)
  // get parameters
  FreenetUri uri;
  std::int64_t max_size = INT64_MAX;
  int max_retries = 0;
  int verbosity = 0;
  std::string return_type = "direct";
  bool persistent() const { return persistence != "connection"; }
};

struct PersistentRequest {
  std::string owner;  // client name, "" for the global queue
  bool global = false;
  std::string identifier;
  bool forever = false;
  bool is_get = true;
  fcp::Message tag;                      // PersistentGet / PersistentPut
  std::vector<fcp::Message> progress;    // replayed before the result (URIGenerated)
  std::optional<fcp::Message> result;    // DataFound / GetFailed / PutSuccessful / PutFailed
  std::vector<fcp::Message> after;       // replayed after the result (CompatibilityMode, ...)
  std::string data_slot;                 // a successful get: where its data lives
  std::string mime;
  std::shared_ptr<Request> running;      // while not finished
  std::uint64_t token = 0;               // the Request that reports for it
};

struct Subscription {
  FreenetUri uri;  // request form, edition as asked
  std::string base;
  bool dont_poll = false;
  std::int64_t reported = -1;    // latest edition announced
  std::int64_t known_good = -1;  // latest edition announced with NewKnownGood=true
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node(boost::asio::io_context& io, SimConfig config);
  void start();
  void stop();
  void drop_connections();

  // Sessions
  void session_closed(std::uint64_t id);
  // Registers `session` under `name`; an older holder gets CloseConnectionDuplicateClientName.
  void claim_name(const std::string& name, const std::shared_ptr<Session>& session);
  std::shared_ptr<Session> holder(const std::string& name);

  // Requests
  void start_put(std::shared_ptr<Request> request, std::string data);
  void start_get(std::shared_ptr<Request> request);
  // Sends one message of a request to whoever should see it; records it for replay when the
  // request is persistent. `kind`: progress (transient), recorded before the result, result,
  // or recorded after the result.
  enum class Record { none, progress, result, after };
  void emit(const std::shared_ptr<Request>& request, fcp::Message message, Record record = Record::none,
            bool deliver = true);
  std::shared_ptr<Request> new_request(const fcp::Message& fields, bool is_get, const std::shared_ptr<Session>& session,
                                       const std::string& owner);
  // Persistent requests
  PersistentRequest* find_persistent(const std::string& owner, const std::string& identifier);
  void register_persistent(const std::shared_ptr<Request>& request, fcp::Message tag);
  void remove_persistent(const std::string& owner, const std::string& identifier);
  void replay(const PersistentRequest& request, Session& to, const std::optional<std::string>& list_id);
  void send_all_data(const PersistentRequest& request, Session& to, bool only_data);
  void save_persistent(const PersistentRequest& request);
  std::vector<const PersistentRequest*> persistent_of(const std::string& owner, bool with_global) const;

  // Waiting fetches (MaxRetries=-1): retried when the slot (or USK) gets data.
  void wait_for(const std::string& key, std::uint64_t token, std::function<void()> retry);
  void cancel_wait(std::uint64_t token);
  // Bound on waiting fetches node-wide; beyond it a fetch fails as Data not found at once.
  static constexpr std::size_t kMaxWaiters = 100000;
  std::size_t waiter_count() const { return waiter_count_; }
  // Called after every new document: waiters and USK subscriptions.
  void on_stored(const std::string& slot);
  // A fetch succeeded on a USK edition: subscribers hear NewKnownGood=true.
  void on_fetched_edition(const std::string& base, std::int64_t edition);

  // Runs `fn` after `ms` milliseconds on the io thread (posted at once for 0).
  void after(int ms, std::function<void()> fn);

  boost::asio::io_context& io;
  SimConfig config;
  std::mt19937_64 rng;
  Datastore store;
  WebOfTrust wot;
  tcp::acceptor acceptor;
  std::uint16_t bound_port = 0;
  std::size_t requests_served = 0;
  std::uint64_t messages_seen = 0;
  std::uint64_t puts_seen = 0;      // ClientPut messages run (for drop_on_puts)
  std::uint64_t all_data_sent = 0;  // AllData messages sent (for cut_all_data)
  std::uint64_t next_token = 1;
  std::map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::map<std::string, std::weak_ptr<Session>> clients;

 private:
  void accept();
  void load_persistent();

  bool stopped_ = false;
  std::map<std::pair<std::string, std::string>, PersistentRequest> persistent_;
  struct Waiter {
    std::uint64_t token;
    std::function<void()> retry;
  };
  std::map<std::string, std::vector<Waiter>> waiters_;
  std::size_t waiter_count_ = 0;
  std::set<std::shared_ptr<boost::asio::steady_timer>> timers_;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Node> node, tcp::socket socket, std::uint64_t id);
  void start();
  void send(const fcp::Message& message);
  // Sends what is queued, then closes (CloseConnectionDuplicateClientName, fatal errors).
  void close_after_flush();
  void close_now();
  bool closed() const { return closed_; }

  std::uint64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  bool watches_global() const { return watch_global_; }
  std::map<std::string, Subscription>& subscriptions() { return subscriptions_; }
  std::map<std::string, std::shared_ptr<Request>>& running() { return running_; }

 private:
  void read();
  void write();
  // Queues one framed message; with cut_after set, the connection closes after that many bytes of it.
  void enqueue(std::string framed, std::optional<std::size_t> cut_after);
  void process();
  void handle(NodeHeader header);
  void run(const NodeHeader& header, std::optional<std::string> payload);
  void hello(const NodeHeader& header);
  void client_put(const NodeHeader& header, std::string payload);
  void client_get(const NodeHeader& header);
  void generate_ssk(const NodeHeader& header);
  void subscribe_usk(const NodeHeader& header);
  void unsubscribe_usk(const NodeHeader& header);
  void plugin_message(const NodeHeader& header);
  void plugin_info(const NodeHeader& header);
  void list_persistent(const NodeHeader& header);
  void request_status(const NodeHeader& header);
  void remove_request(const NodeHeader& header);
  // Constructor-time checks of data-carrying messages: an error leaves the payload unread.
  std::optional<fcp::Message> check_put(const NodeHeader& header, std::size_t& data_length);
  std::optional<fcp::Message> check_plugin(const NodeHeader& header, std::optional<std::size_t>& data_length);
  std::optional<fcp::Message> check_get(const NodeHeader& header);

  std::shared_ptr<Node> node_;
  tcp::socket socket_;
  std::uint64_t id_;
  NodeReader reader_;
  std::array<char, 16 * 1024> read_buffer_{};
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool cut_ = false;  // a message was cut off half-way (fault injection): nothing more is sent
  bool hello_done_ = false;
  bool watch_global_ = false;
  std::string name_;
  std::string connection_identifier_;
  std::optional<NodeHeader> awaiting_payload_;
  std::map<std::string, Subscription> subscriptions_;
  std::map<std::string, std::shared_ptr<Request>> running_;
};

}  // namespace fcp::sim
