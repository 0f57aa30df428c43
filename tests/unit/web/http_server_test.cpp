#include "web/http_server.h"

#include <doctest/doctest.h>

#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "fake_control.h"

using namespace fcpmail::web;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

class NoLogin : public fcpmail::LoginCheck {
 public:
  std::optional<std::string> check_login(const std::string&, const std::string&) override { return std::nullopt; }
};

struct Running {
  web_test::FakeControl control;
  NoLogin login;
  asio::io_context io;
  fcpmail::auth::LoginGate gate{login};  // outlives the server, dies before io
  std::unique_ptr<Server> server;
  std::thread thread;
  const std::string token = std::string(64, 'a');

  Running() {
    control.seed();
    control.io = &io;
    ServerOptions o;
    o.token = token;
    o.max_body = 4096;
    server = std::make_unique<Server>(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), control, gate, o);
    thread = std::thread([this] { io.run(); });
  }
  ~Running() {
    asio::post(io, [this] { server->stop(); });
    asio::post(io, [this] { io.stop(); });
    thread.join();
  }

  http::response<http::string_body> request(http::verb verb, const std::string& target, const std::string& body = "",
                                            const std::string& bearer = "", const std::string& host = "127.0.0.1") {
    asio::io_context client_io;
    beast::tcp_stream stream(client_io);
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->port()));
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host);
    if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return res;
  }
};

}  // namespace

TEST_CASE("http: the control API needs the bearer token") {
  Running r;
  auto none = r.request(http::verb::get, "/api/status");
  CHECK(none.result_int() == 401);
  CHECK(none[http::field::www_authenticate] == "Bearer");
  CHECK(nlohmann::json::parse(none.body())["error"].get<std::string>().find("control token") != std::string::npos);
  CHECK(r.request(http::verb::get, "/api/status", "", std::string(64, 'b')).result_int() == 401);
  CHECK(r.request(http::verb::get, "/api/status", "", "short").result_int() == 401);
  auto ok = r.request(http::verb::get, "/api/status", "", r.token);
  CHECK(ok.result_int() == 200);
  CHECK(ok[http::field::content_type] == "application/json");
  CHECK(nlohmann::json::parse(ok.body())["counts"]["held"] == 1);
  auto approved = r.request(http::verb::post, "/api/outbox/approve", R"({"id":1})", r.token);
  CHECK(approved.result_int() == 200);
}

TEST_CASE("http: foreign Host headers, oversized bodies and garbage are refused cleanly") {
  Running r;
  CHECK(r.request(http::verb::get, "/api/status", "", r.token, "evil.example:9080").result_int() == 421);
  CHECK(r.request(http::verb::get, "/", "", "", "evil.example").result_int() == 421);
  CHECK(r.request(http::verb::get, "/api/status", "", r.token, "localhost:1234").result_int() == 200);
  CHECK(r.request(http::verb::post, "/api/send", std::string(10000, 'x'), r.token).result_int() == 413);
  {
    asio::io_context client_io;
    tcp::socket socket(client_io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), r.server->port()));
    asio::write(socket, asio::buffer(std::string("\x01\x02 garbage\r\n\r\n")));
    std::string reply;
    boost::system::error_code ec;
    asio::read(socket, asio::dynamic_buffer(reply), ec);
    CHECK(reply.starts_with("HTTP/1.1 400"));
  }
  // Still serving.
  CHECK(r.request(http::verb::get, "/api/queues", "", r.token).result_int() == 200);
}

TEST_CASE("http: the web UI is served with its security headers") {
  Running r;
  auto page = r.request(http::verb::get, "/");
  CHECK(page.result_int() == 200);
  CHECK(std::string(page["Content-Security-Policy"]).find("default-src 'none'") != std::string::npos);
  CHECK(page["X-Frame-Options"] == "DENY");
  CHECK(page.body().find("Log in") != std::string::npos);
  CHECK(r.request(http::verb::post, "/ui/api/outbox/approve", R"({"id":1})").result_int() == 401);
}

namespace {

// A login check as slow as scrypt ought to be, to show that it does not hold up other requests.
class SlowLogin : public fcpmail::LoginCheck {
 public:
  std::optional<std::string> check_login(const std::string& user, const std::string& password) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    if (user == "me@x" && password == "pw") return user;
    return std::nullopt;
  }
};

std::string login_form_token(const std::string& html) {
  const std::string marker = "name=\"csrf\" value=\"";
  const auto at = html.find(marker);
  REQUIRE(at != std::string::npos);
  return html.substr(at + marker.size(), 32);
}

}  // namespace

TEST_CASE("http: a web UI login is checked off the I/O thread; other requests are served meanwhile") {
  web_test::FakeControl control;
  control.seed();
  SlowLogin login;
  asio::io_context io;
  control.io = &io;
  fcpmail::auth::LoginGate gate(login);
  ServerOptions o;
  o.token = std::string(64, 'a');
  Server server(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), control, gate, o);
  std::thread thread([&] { io.run(); });

  auto exchange = [&](http::verb verb, const std::string& target, const std::string& body) {
    asio::io_context client_io;
    beast::tcp_stream stream(client_io);
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/x-www-form-urlencoded");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return res;
  };

  const auto token = login_form_token(exchange(http::verb::get, "/", "").body());
  http::response<http::string_body> login_reply;
  const auto started = std::chrono::steady_clock::now();
  std::thread logging_in([&] { login_reply = exchange(http::verb::post, "/login", "user=me%40x&password=pw&csrf=" + token); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // While the 400 ms check runs, the server answers another request.
  auto status = exchange(http::verb::get, "/api/status", "");
  const auto status_at = std::chrono::steady_clock::now() - started;
  logging_in.join();
  const auto login_at = std::chrono::steady_clock::now() - started;
  CHECK(status.result_int() == 401);  // no token: refused, but answered
  CHECK(status_at < std::chrono::milliseconds(350));
  CHECK(login_at >= std::chrono::milliseconds(400));
  CHECK(login_reply.result_int() == 303);
  CHECK(std::string(login_reply[http::field::set_cookie]).starts_with("fcpmail_session="));

  const auto token2 = login_form_token(exchange(http::verb::get, "/", "").body());
  auto wrong = exchange(http::verb::post, "/login", "user=me%40x&password=nope&csrf=" + token2);
  CHECK(wrong.result_int() == 401);
  CHECK(wrong[http::field::set_cookie].empty());

  asio::post(io, [&] {
    server.stop();
    io.stop();
  });
  thread.join();
}

TEST_CASE("http: at the connection limit the longest-idle connection makes room for a new request") {
  web_test::FakeControl control;
  control.seed();
  NoLogin login;
  asio::io_context io;
  control.io = &io;
  ServerOptions o;
  o.token = std::string(64, 'a');
  o.max_connections = 3;
  fcpmail::auth::LoginGate gate(login);
  Server server(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), control, gate, o);
  std::thread thread([&] { io.run(); });

  // Three connections that never send anything fill the server.
  asio::io_context client_io;
  std::vector<std::unique_ptr<tcp::socket>> silent;
  for (int i = 0; i < 3; ++i) {
    silent.push_back(std::make_unique<tcp::socket>(client_io));
    silent.back()->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // A real request is still answered.
  beast::tcp_stream stream(client_io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
  http::request<http::string_body> req{http::verb::get, "/api/status", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer " + o.token);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  CHECK(res.result_int() == 200);
  // The first (longest idle) silent connection was closed to make room.
  char byte;
  boost::system::error_code ec;
  silent[0]->read_some(asio::buffer(&byte, 1), ec);
  CHECK(ec == asio::error::eof);

  asio::post(io, [&] {
    server.stop();
    io.stop();
  });
  thread.join();
}

TEST_CASE("http: the control API mints a one-time web UI login link; the link opens an owner session once") {
  Running r;
  CHECK(r.request(http::verb::post, "/api/web/login", "{}").result_int() == 401);  // needs control.token
  CHECK(r.request(http::verb::get, "/api/web/login", "", r.token).result_int() == 405);
  auto minted = r.request(http::verb::post, "/api/web/login", "{}", r.token);
  REQUIRE(minted.result_int() == 200);
  const auto j = nlohmann::json::parse(minted.body());
  CHECK(j["account"] == r.control.me());
  CHECK(j["expires_in"] == 300);
  const std::string url = j["url"];
  const std::string prefix = "http://127.0.0.1:" + std::to_string(r.server->port()) + "/login?once=";
  REQUIRE(url.starts_with(prefix));
  CHECK(url.size() == prefix.size() + 32);
  const std::string target = url.substr(url.find("/login"));
  auto opened = r.request(http::verb::get, target);
  CHECK(opened.result_int() == 303);
  const std::string cookie(opened[http::field::set_cookie]);
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Strict") != std::string::npos);
  auto replay = r.request(http::verb::get, target);
  CHECK(replay.result_int() == 403);
  CHECK(replay[http::field::set_cookie].empty());
  auto unknown = r.request(http::verb::post, "/api/web/login", R"({"account":"nobody@x.freemail"})", r.token);
  CHECK(unknown.result_int() == 400);
}

TEST_CASE("http: an exception below the API is a 500 with a sentence, and the server keeps serving") {
  Running r;
  r.control.queues_throw = true;
  auto broken = r.request(http::verb::get, "/api/queues", "", r.token);
  CHECK(broken.result_int() == 500);
  CHECK(nlohmann::json::parse(broken.body())["error"].get<std::string>().find("internal error") != std::string::npos);
  CHECK(r.request(http::verb::get, "/api/status", "", r.token).result_int() == 200);
  r.control.queues_throw = false;
  CHECK(r.request(http::verb::get, "/api/queues", "", r.token).result_int() == 200);
}

TEST_CASE("http: a Latin-1 or NUL byte in stored mail is replaced in the JSON, never a crash") {
  Running r;
  std::string mail = "From: x\r\nTo: bob\r\nSubject: caf\xe9";
  mail += '\0';
  mail += "\r\n\r\n\xff\r\n";
  asio::post(r.io, [&] { (void)r.control.send(r.control.me(), {"bob"}, mail); });
  for (const std::string target : {"/api/outbox", "/api/outbox/2", "/api/status", "/api/queues"}) {
    auto reply = r.request(http::verb::get, target, "", r.token);
    CHECK(reply.result_int() == 200);
    CHECK_FALSE(nlohmann::json::parse(reply.body(), nullptr, false).is_discarded());
  }
  auto list = nlohmann::json::parse(r.request(http::verb::get, "/api/outbox", "", r.token).body());
  CHECK(list["outbox"][1]["subject"] == std::string("caf\xef\xbf\xbd\0", 7));
  CHECK(r.request(http::verb::post, "/api/outbox/cancel", R"({"id":2})", r.token).result_int() == 200);
}
