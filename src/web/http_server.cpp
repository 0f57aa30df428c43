#include "web/http_server.h"

#include <atomic>
#include <variant>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/listener.h"
#include "web/control_api.h"
#include "web/control_files.h"

namespace fcpmail::web {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

namespace {
class Connection;
}

struct Server::Shared : std::enable_shared_from_this<Server::Shared> {
  Shared(engine::Control& control, auth::LoginGate& g, ServerOptions o)
      : api(control), ui(api, o.ui), gate(g), options(std::move(o)) {}
  ControlApi api;
  WebUi ui;
  auth::LoginGate& gate;
  ServerOptions options;
  tcp::endpoint local;  // where the listener is bound (for the login links)
  std::atomic<bool> stopped{false};

  void log(std::string_view line) const {
    if (options.log) options.log(line);
  }
  // Anti DNS-rebinding: a browser page from another site that resolves its name to 127.0.0.1
  // would send its own Host header; only loopback names are ours.
  bool host_allowed(std::string_view host) const {
    std::string_view name = host;
    if (name.starts_with('[')) {
      const auto close = name.find(']');
      if (close != std::string_view::npos) name = name.substr(0, close + 1);
    } else if (const auto colon = name.find(':'); colon != std::string_view::npos) {
      name = name.substr(0, colon);
    }
    return name.empty() || name == "127.0.0.1" || name == "localhost" || name == "[::1]";
  }

  using Response = http::response<http::string_body>;
  // A web UI login waiting for the gate: the response so far (headers, version) and the attempt.
  struct PendingLogin {
    Response response;
    LoginAttempt attempt;
  };
  std::variant<Response, PendingLogin> respond(const http::request<http::string_body>& request);
  // respond() under a handler: an exception from any layer below (a bug, a value the JSON writer
  // cannot take, a database error) becomes a 500 with a sentence, is logged, and the daemon stays up.
  std::variant<Response, PendingLogin> respond_safely(const http::request<http::string_body>& request);
  static Response internal_error(unsigned version, bool keep_alive);
  static Response finish(Response response, HttpReply reply);
};

namespace {

class Connection final : public net::Session, public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Server::Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {
    error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? std::string("unknown") : remote.address().to_string();
  }

  void start() override { read(); }
  // Full and nobody can give way, or chosen to make room: HTTP has no goodbye, the socket closes.
  void refuse() override { close(); }
  void evict() override { close(); }
  void close() override {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  // Waiting for the next request (none in progress, so no login either): such a connection may be
  // closed to make room, since connections that only sit there (opened and silent, or kept alive
  // between requests) must not lock the CLI and the browser out.
  bool evictable() const override { return idle_; }
  std::chrono::steady_clock::time_point last_active() const override { return idle_since_; }

 private:
  void read() {
    idle_ = true;
    idle_since_ = std::chrono::steady_clock::now();
    parser_.emplace();
    parser_->body_limit(shared_->options.max_body);
    stream_.expires_after(shared_->options.io_timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec == http::error::end_of_stream || ec == asio::error::eof) return self->close();
      if (ec == http::error::body_limit) return self->fail(413, "the request body is too large");
      if (ec == beast::error::timeout || ec == asio::error::operation_aborted) return self->close();
      if (ec) return self->fail(400, "malformed HTTP request");
      self->idle_ = false;
      self->respond(self->parser_->release());
    });
  }

  void fail(int status, std::string_view why) {
    response_ = {};
    response_.result(static_cast<http::status>(status));
    response_.version(11);
    response_.set(http::field::content_type, "application/json");
    response_.body() = json_text(nlohmann::json{{"error", why}});
    response_.keep_alive(false);
    response_.prepare_payload();
    write();
  }

  void respond(http::request<http::string_body> request) {
    auto answer = shared_->respond_safely(request);
    if (auto* ready = std::get_if<Server::Shared::Response>(&answer)) {
      response_ = std::move(*ready);
      return write();
    }
    // A login: the gate checks the password off this thread; nothing more is read meanwhile.
    auto& pending = std::get<Server::Shared::PendingLogin>(answer);
    stream_.expires_never();
    shared_->gate.check(std::move(pending.attempt.user), std::move(pending.attempt.password), peer_,
                        stream_.get_executor(),
                        [self = shared_from_this(), response = std::move(pending.response)](auth::LoginVerdict verdict) mutable {
                          if (self->shared_->stopped) return self->close();
                          if (verdict.locked_out) self->shared_->log("http: web UI login refused, the account is locked out");
                          try {
                            self->response_ = Server::Shared::finish(std::move(response), self->shared_->ui.finish_login(verdict));
                          } catch (const std::exception& e) {
                            self->shared_->log(std::string("http: internal error finishing a web UI login: ") + e.what());
                            self->response_ = Server::Shared::internal_error(self->response_.version(), true);
                          }
                          self->write();
                        });
  }

  void write() {
    stream_.expires_after(shared_->options.io_timeout);
    http::async_write(stream_, response_, [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec || !self->response_.keep_alive()) return self->close();
      self->read();
    });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::shared_ptr<Server::Shared> shared_;
  std::string peer_;  // the client's address: failed logins are counted per (user, peer)
  bool idle_ = false;
  std::chrono::steady_clock::time_point idle_since_{};
};

std::string error_body(std::string_view sentence) { return json_text(nlohmann::json{{"error", sentence}}); }

// Boost 1.74's Beast has its own string_view.
std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }

}  // namespace

Server::Shared::Response Server::Shared::finish(Response response, HttpReply reply) {
  for (const auto& [name, value] : reply.headers) response.insert(name, value);
  response.result(static_cast<http::status>(reply.status));
  response.set(http::field::content_type, reply.content_type);
  response.body() = std::move(reply.body);
  response.prepare_payload();
  return response;
}

std::variant<Server::Shared::Response, Server::Shared::PendingLogin> Server::Shared::respond(
    const http::request<http::string_body>& request) {
  http::response<http::string_body> response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  response.set(http::field::server, "fcpmail");
  response.set(http::field::cache_control, "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  const std::string target(request.target());
  const std::string method(request.method_string());

  auto finish = [&](int status, std::string content_type, std::string body) {
    response.result(static_cast<http::status>(status));
    response.set(http::field::content_type, content_type);
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
  };

  if (!host_allowed(sv(request[http::field::host]))) {
    log("http: refused a request for host " + std::string(sv(request[http::field::host]).substr(0, 80)));
    return finish(421, "application/json", error_body("this server answers only to 127.0.0.1 and localhost"));
  }

  // The query does not decide which part answers: "/api?x" is the API (and needs the token) too.
  const std::string_view path = std::string_view(target).substr(0, target.find('?'));
  if (path.starts_with("/api/") || path == "/api") {
    const std::string_view authorization = sv(request[http::field::authorization]);
    constexpr std::string_view bearer = "Bearer ";
    if (!authorization.starts_with(bearer) || options.token.empty() ||
        !secrets_equal(authorization.substr(bearer.size()), options.token)) {
      response.set(http::field::www_authenticate, "Bearer");
      log("http: refused an API request without the right token");
      return finish(401, "application/json",
                    error_body("missing or wrong control token (the CLI reads it from control.token in the data dir)"));
    }
    if (path == "/api/web/login") {
      if (method != "POST") return finish(405, "application/json", error_body("use POST /api/web/login"));
      const auto body = nlohmann::json::parse(request.body().empty() ? std::string("{}") : request.body(), nullptr, false);
      std::optional<std::string> account;
      if (body.is_object() && body.contains("account") && body["account"].is_string())
        account = body["account"].get<std::string>();
      auto link = ui.mint_login_link(account);
      if (!link) return finish(400, "application/json", error_body(link.error()));
      const auto where = local;
      const std::string host = where.address().is_v6() ? "[" + where.address().to_string() + "]" : where.address().to_string();
      log("http: minted a one-time web UI login link for " + link->account);
      return finish(200, "application/json",
                    json_text({{"account", link->account},
                               {"url", "http://" + host + ":" + std::to_string(local.port()) + link->path_and_query},
                               {"expires_in", link->lifetime.count()}}));
    }
    const auto reply = api.handle(method, target, request.body());
    return finish(reply.status, "application/json", json_text(reply.body));
  }

  // The web UI: no framing by others, no assets from anywhere but inline.
  response.set("Content-Security-Policy",
               "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; "
               "img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
  response.set("X-Frame-Options", "DENY");
  response.set("Referrer-Policy", "no-referrer");
  HttpRequestView view{sv(request.method_string()), sv(request.target()), sv(request[http::field::cookie]),
                       sv(request["X-CSRF-Token"]), sv(request[http::field::content_type]), request.body()};
  auto step = ui.handle(view);
  if (auto* attempt = std::get_if<LoginAttempt>(&step)) return PendingLogin{std::move(response), std::move(*attempt)};
  return Shared::finish(std::move(response), std::move(std::get<HttpReply>(step)));
}

Server::Shared::Response Server::Shared::internal_error(unsigned version, bool keep_alive) {
  Response response;
  response.version(version);
  response.keep_alive(keep_alive);
  response.result(http::status::internal_server_error);
  response.set(http::field::server, "fcpmail");
  response.set(http::field::cache_control, "no-store");
  response.set(http::field::content_type, "application/json");
  response.body() = error_body("fcpmaild hit an internal error answering this request and keeps running; "
                               "its log says what went wrong");
  response.prepare_payload();
  return response;
}

std::variant<Server::Shared::Response, Server::Shared::PendingLogin> Server::Shared::respond_safely(
    const http::request<http::string_body>& request) {
  try {
    return respond(request);
  } catch (const std::exception& e) {
    log("http: internal error answering " + std::string(sv(request.method_string())) + " " +
        std::string(sv(request.target()).substr(0, 100)) + ": " + e.what());
  }
  return internal_error(request.version(), request.keep_alive());
}

Server::Server(asio::io_context& io, const tcp::endpoint& endpoint, engine::Control& control, auth::LoginGate& login_gate,
               ServerOptions options)
    : shared_(std::make_shared<Shared>(control, login_gate, std::move(options))) {
  net::ListenerOptions listening;
  listening.max_connections = shared_->options.max_connections;
  listening.name = "http";
  listening.log = shared_->options.log;
  listener_ = std::make_unique<net::Listener>(io, endpoint, std::move(listening), [shared = shared_](tcp::socket socket) {
    return std::make_shared<Connection>(std::move(socket), shared);
  });
  shared_->local = listener_->local_endpoint();
  listener_->start();
}

Server::~Server() { stop(); }

unsigned short Server::port() const { return shared_->local.port(); }

void Server::stop() {
  shared_->stopped = true;
  listener_->stop();
}

}  // namespace fcpmail::web
