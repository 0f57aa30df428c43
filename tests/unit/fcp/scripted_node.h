// Test helper: a tiny scripted FCP peer over real TCP on 127.0.0.1. Each test decides how it
// answers each client message; it uses the library's own codec on both sides.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fcp/codec.h"

namespace fcp::test {

class ScriptedNode {
 public:
  struct Connection {
    boost::asio::ip::tcp::socket socket;
    fcp::StreamParser parser;
    std::array<char, 8192> buffer{};
    std::vector<fcp::Message> received;
    std::size_t index = 0;  // which connection this is (0, 1, ...)
    bool open = true;

    explicit Connection(boost::asio::ip::tcp::socket s) : socket(std::move(s)) {}
    void send_raw(std::string bytes) {
      auto data = std::make_shared<std::string>(std::move(bytes));
      boost::asio::async_write(socket, boost::asio::buffer(*data), [data](auto, auto) {});
    }
    void send(const fcp::Message& m) { send_raw(fcp::encode(m).value()); }
    void close() {
      open = false;
      boost::system::error_code ignored;
      socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    }
  };
  using Handler = std::function<void(Connection&, const fcp::Message&)>;

  // port 0: a free one. A given port: a node coming back where an earlier one was.
  ScriptedNode(boost::asio::io_context& io, Handler handler, std::uint16_t port = 0)
      : io_(io), acceptor_(io, {boost::asio::ip::make_address("127.0.0.1"), port}), handler_(std::move(handler)) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::shared_ptr<Connection>>& connections() { return connections_; }
  // Every message the client sent, on all connections, in order.
  std::vector<fcp::Message> all_received() const {
    std::vector<fcp::Message> all;
    for (auto& c : connections_) all.insert(all.end(), c->received.begin(), c->received.end());
    return all;
  }
  void close_all() {
    for (auto& c : connections_)
      if (c->open) c->close();
  }
  void stop_accepting() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }
  ~ScriptedNode() {
    close_all();
    stop_accepting();
  }

  // fred's NodeHello as recorded (01-hello), or with another FCPVersion.
  static fcp::Message node_hello(std::string fcp_version = "2.0") {
    fcp::Message m("NodeHello");
    m.set("CompressionCodecs", "4 - GZIP(0), BZIP2(1), LZMA(2), LZMA_NEW(3)")
        .set("Revision", "build01506")
        .set("Testnet", "false")
        .set("Version", "Fred,0.7,1.0,1506")
        .set("Build", "1506")
        .set("ConnectionIdentifier", "0fabd2fee57e293d184ce633ead3555e")
        .set("Node", "Fred")
        .set("ExtBuild", "29")
        .set("FCPVersion", fcp_version)
        .set("NodeLanguage", "ENGLISH")
        .set("ExtRevision", "v29-local");
    return m;
  }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket socket) {
      if (ec) return;
      auto c = std::make_shared<Connection>(std::move(socket));
      c->index = connections_.size();
      connections_.push_back(c);
      read(c);
      accept();
    });
  }
  void read(std::shared_ptr<Connection> c) {
    c->socket.async_read_some(boost::asio::buffer(c->buffer), [this, c](boost::system::error_code ec, std::size_t n) {
      if (ec || !c->open) {
        c->open = false;
        return;
      }
      c->parser.feed(std::string_view(c->buffer.data(), n));
      for (auto next = c->parser.next(); !next.need_more(); next = c->parser.next()) {
        if (!next.message) continue;
        c->received.push_back(*next.message);
        handler_(*c, *next.message);
        if (!c->open) return;
      }
      read(c);
    });
  }

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
  std::vector<std::shared_ptr<Connection>> connections_;
};

// Runs `io` until `done()` holds or `limit` passes; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace fcp::test
