// FcpNode: the engine's Node over fcp::Client (a real fred or fcpmail-sim over TCP).
#pragma once
#include "engine/node.h"
#include "fcp/client.h"

#include <list>

namespace fcpmail::engine {

class FcpNode final : public Node {
 public:
  explicit FcpNode(fcp::Client& client) : client_(client) {}

  asio::awaitable<NodeResult<SskKeypair>> generate_ssk() override;
  asio::awaitable<NodeResult<std::string>> put(std::string uri, std::string data, std::string what) override;
  asio::awaitable<NodeResult<std::string>> get(std::string uri, std::size_t max_size, std::string what) override;
  asio::awaitable<NodeResult<WotFields>> wot(WotFields params) override;

  bool connected() const override { return client_.connected(); }
  std::string version() const override;
  std::uint64_t requests_sent() const override { return client_.requests_sent(); }
  std::vector<InFlight> in_flight() const override;

 private:
  // Registers a request for in_flight() for as long as the returned guard lives.
  struct Tracked;
  std::list<InFlight>::iterator track(std::string kind, std::string what);

  fcp::Client& client_;
  std::list<InFlight> in_flight_;
};

// fcp::Failure -> NodeError.
NodeError to_node_error(const fcp::Failure& failure);

}  // namespace fcpmail::engine
