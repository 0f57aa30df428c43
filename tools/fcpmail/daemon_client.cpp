#include "daemon_client.h"

#include <cctype>
#include <cstdlib>


#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/host_port.h"
#include "web/control_api.h"
#include "web/control_files.h"

namespace fcpmail::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string DaemonClient::default_data_dir(const std::string& option) {
  if (!option.empty()) return option;
  if (const char* env = std::getenv("FCPMAIL_DATA_DIR"); env && *env) return env;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.fcpmail";
  return ".fcpmail";
}

std::expected<DaemonClient, std::string> DaemonClient::open(const std::string& option) {
  const std::string dir = default_data_dir(option);
  auto endpoints = web::read_control_file(dir);
  if (!endpoints) return std::unexpected(endpoints.error());
  auto token = web::read_token(dir);
  if (!token) return std::unexpected(token.error());
  auto where = net::split_host_port(endpoints->http);
  if (!where) return std::unexpected("control.json in " + dir + " has a bad address: " + where.error());
  DaemonClient client;
  client.host_ = where->first;
  client.port_ = std::to_string(where->second);
  client.http_ = endpoints->http;
  client.token_ = *token;
  return client;
}

std::expected<nlohmann::json, ApiFailure> DaemonClient::get(const std::string& target) const {
  return request(false, target, "");
}

std::expected<nlohmann::json, ApiFailure> DaemonClient::post(const std::string& target, const nlohmann::json& body) const {
  return request(true, target, web::json_text(body));
}

std::expected<nlohmann::json, ApiFailure> DaemonClient::request(bool post, const std::string& target,
                                                                const std::string& body) const {
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    boost::system::error_code ec;
    const auto endpoints = resolver.resolve(host_, port_, ec);
    if (ec) return std::unexpected(ApiFailure{0, "cannot resolve " + host_ + ": " + ec.message()});
    stream.connect(endpoints, ec);
    if (ec) {
      return std::unexpected(ApiFailure{0, "fcpmaild is not answering at " + http_ + " (" + ec.message() +
                                               "); is it running?"});
    }
    http::request<http::string_body> req{post ? http::verb::post : http::verb::get, target, 11};
    req.set(http::field::host, http_);
    req.set(http::field::user_agent, "fcpmail-cli");
    req.set(http::field::authorization, "Bearer " + token_);
    if (post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256 * 1024 * 1024);
    http::read(stream, buffer, parser);
    const auto& res = parser.get();
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    auto parsed = nlohmann::json::parse(res.body(), nullptr, false);
    const int status = static_cast<int>(res.result_int());
    if (status >= 200 && status < 300) {
      if (parsed.is_discarded()) return std::unexpected(ApiFailure{status, "the daemon sent a reply that is not JSON"});
      return parsed;
    }
    std::string message = "the daemon answered HTTP " + std::to_string(status);
    if (!parsed.is_discarded() && parsed.is_object() && parsed.contains("error") && parsed["error"].is_string())
      message = parsed["error"].get<std::string>();
    return std::unexpected(ApiFailure{status, message});
  } catch (const boost::system::system_error& e) {
    return std::unexpected(ApiFailure{0, "talking to fcpmaild at " + http_ + " failed: " + e.code().message()});
  } catch (const std::exception& e) {
    return std::unexpected(ApiFailure{0, "talking to fcpmaild at " + http_ + " failed: " + e.what()});
  }
}

std::string url_encode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '@') {
      out += static_cast<char>(c);
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace fcpmail::cli
