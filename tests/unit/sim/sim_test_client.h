// Test harness for fcpmail-sim: a SimNode running on its own io thread, and a small blocking
// FCP client that talks to it over real TCP with the project's codec.
#pragma once
#include "sim_node.h"

#include "fcp/codec.h"
#include "fcp/message.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <doctest/doctest.h>
#include <poll.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sim_test {

using fcp::Message;

class RunningSim {
 public:
  explicit RunningSim(fcp::sim::SimConfig config = {}) {
    node_ = std::make_unique<fcp::sim::SimNode>(io_, config);
    port_ = node_->port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningSim() { stop(); }
  RunningSim(const RunningSim&) = delete;
  RunningSim& operator=(const RunningSim&) = delete;

  std::uint16_t port() const { return port_; }

  // Runs `fn` on the sim's io thread and waits for its result.
  template <typename F>
  auto on_io(F fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return result.get();
  }
  std::size_t request_count() {
    return on_io([this] { return node_->request_count(); });
  }
  void drop_connections() {
    on_io([this] {
      node_->drop_connections();
      return 0;
    });
  }
  void stop() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] { node_->stop(); });
    thread_.join();
    node_.reset();
  }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<fcp::sim::SimNode> node_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

class Client {
 public:
  explicit Client(std::uint16_t port, std::optional<std::string> hello_name = std::nullopt) : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    if (hello_name) {
      send(Message("ClientHello").set("Name", *hello_name).set("ExpectedVersion", "2.0"));
      auto hello = next();
      REQUIRE(hello.name == "NodeHello");
    }
  }

  void send(const Message& message) {
    auto bytes = fcp::encode(message);
    REQUIRE(bytes.has_value());
    send_raw(*bytes);
  }
  void send_raw(std::string_view bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size())); }

  // The next message from the node; fails the test after `timeout`.
  Message next(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto m = next_or_eof(timeout);
    if (!m) FAIL("connection closed by the node while a message was expected");
    return *m;
  }
  // The next message, or nothing if the node closed the connection.
  std::optional<Message> next_or_eof(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto n = parser_.next();
      if (n.message) return std::move(*n.message);
      if (n.error) FAIL("node sent malformed FCP: " << n.error->detail);
      if (eof_) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) FAIL("timed out waiting for a message from the node");
      pollfd p{socket_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buffer[65536];
      boost::system::error_code ec;
      const auto n_read = socket_.read_some(boost::asio::buffer(buffer), ec);
      if (ec) {
        eof_ = true;
        continue;
      }
      parser_.feed(std::string_view(buffer, n_read));
    }
  }
  // True if nothing arrives within `quiet` (the node stays silent, e.g. after UnsubscribeUSK).
  bool silent_for(std::chrono::milliseconds quiet) {
    auto n = parser_.next();
    if (n.message || n.error) return false;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(quiet.count())) == 0;
  }
  bool closed_by_node(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return !next_or_eof(timeout).has_value();
  }

  // Sends `message` and collects replies until one named `last` (inclusive).
  std::vector<Message> until(const std::string& last) {
    std::vector<Message> out;
    for (;;) {
      out.push_back(next());
      if (out.back().name == last) return out;
    }
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  fcp::StreamParser parser_;
  bool eof_ = false;
};

inline std::vector<std::string> names(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.name);
  return out;
}

inline std::string field(const Message& m, std::string_view key) {
  auto v = m.get(key);
  if (!v) FAIL("message " << m.name << " lacks field " << key);
  return std::string(*v);
}

inline Message put(std::string uri, std::string identifier, std::string data) {
  Message m("ClientPut");
  m.set("URI", std::move(uri));
  m.set("Identifier", std::move(identifier));
  m.set("MaxRetries", "2");
  m.set("UploadFrom", "direct");
  m.set("DataLength", static_cast<std::int64_t>(data.size()));
  m.payload = std::move(data);
  return m;
}

inline Message get(std::string uri, std::string identifier) {
  return Message("ClientGet")
      .set("URI", std::move(uri))
      .set("Identifier", std::move(identifier))
      .set("MaxRetries", "2")
      .set("ReturnType", "direct");
}

}  // namespace sim_test
