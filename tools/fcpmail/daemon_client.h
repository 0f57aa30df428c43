// How the CLI reaches the running fcpmaild: the data dir (--data-dir, else FCPMAIL_DATA_DIR, else
// ~/.fcpmail) holds control.json (the HTTP address) and control.token (the bearer token); each
// call is one HTTP/1.1 request to the control API with Boost.Beast, JSON in and out.
#pragma once
#include <expected>
#include <optional>
#include <string_view>
#include <string>

#include <nlohmann/json.hpp>

namespace fcpmail::cli {

struct ApiFailure {
  int status = 0;        // HTTP status; 0 when the daemon could not be reached
  std::string message;   // one sentence for the user
};

class DaemonClient {
 public:
  // Reads the data dir's control files. The error says what to do (start the daemon, ...).
  static std::expected<DaemonClient, std::string> open(const std::string& data_dir_option);
  static std::string default_data_dir(const std::string& data_dir_option);

  std::expected<nlohmann::json, ApiFailure> get(const std::string& target) const;
  std::expected<nlohmann::json, ApiFailure> post(const std::string& target, const nlohmann::json& body) const;

  const std::string& address() const { return http_; }

 private:
  std::expected<nlohmann::json, ApiFailure> request(bool post, const std::string& target, const std::string& body) const;
  std::string host_;
  std::string port_;
  std::string http_;
  std::string token_;
};

// Percent-encoding for a query value.
std::string url_encode(const std::string& text);


}  // namespace fcpmail::cli
