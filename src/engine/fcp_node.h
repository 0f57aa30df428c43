// FcpNode: the engine's Node over fcp::Client (a real fred or fcpmail-sim over TCP).
#pragma once
#include "engine/node.h"
#include "fcp/client.h"

#include <boost/asio/any_io_executor.hpp>

#include <list>
#include <vector>

namespace fcpmail::engine {

class FcpNode final : public Node {
 public:
  explicit FcpNode(fcp::Client& client) : client_(client) {}

  asio::awaitable<NodeResult<SskKeypair>> generate_ssk() override;
  asio::awaitable<NodeResult<std::string>> put(std::string uri, std::string data, std::string what) override;
  asio::awaitable<NodeResult<std::string>> get(std::string uri, std::size_t max_size, std::string what) override;
  asio::awaitable<NodeResult<WotFields>> wot(WotFields params) override;

  bool connected() const override { return client_.connected(); }
  std::uint64_t outages() const override { return client_.stats().reconnects_after_outage; }
  void set_log(std::function<void(const std::string&)> log) override { log_ = std::move(log); }
  std::string version() const override;
  std::uint64_t requests_sent() const override { return client_.requests_sent(); }
  std::vector<InFlight> in_flight() const override;

 private:
  // Registers a request for in_flight() for as long as the returned guard lives.
  struct Tracked;
  std::list<InFlight>::iterator track(std::string kind, std::string what);

  // A request the connection took down with it is made again, up to this many times in all: the
  // caller's work (a mailpage lookup of several hops, an insert) resumes at the step in flight
  // instead of failing as a whole. Only idempotent requests are repeated (every get, put,
  // GenerateSSK and WebOfTrust query the engine makes; not CreateIdentity).
  static constexpr int max_attempts = 6;
  // Re-sends after one drop are reported together, in one sentence, once the burst is over.
  void note_retry(const asio::any_io_executor& executor, std::string what, int attempt);
  void report_retries();

  fcp::Client& client_;
  std::list<InFlight> in_flight_;
  std::function<void(const std::string&)> log_;
  std::vector<std::string> retried_;  // "the insert of X" since the last report
  bool report_posted_ = false;
};

// fcp::Failure -> NodeError.
NodeError to_node_error(const fcp::Failure& failure);

}  // namespace fcpmail::engine
