// The control API: HTTP method + target + JSON body -> status + JSON, mapped onto the engine's
// Control surface. No sockets here (http_server.h carries the bytes), so it is tested directly.
//
// Routes (all JSON; errors are {"error": "one sentence"} with a 4xx/5xx status):
//   GET  /api/status                      GET  /api/queues
//   GET  /api/accounts                    POST /api/accounts {nickname, password?, identity?, rsa_key_file?}
//                                              -> 202 {"job": ID}; GET /api/jobs/ID -> progress and result
//   POST /api/accounts/export {account, passphrase (>= 8 chars)} -> 202 {"job": ID}; the job's result:
//        {account, file_base64 (the encrypted export file), bytes}
//   POST /api/accounts/import {file_base64, passphrase} -> 202 {"job": ID}; the job's result: the account
//   GET  /api/contacts[?account=A]        POST /api/contacts {account, address, petname?}
//   POST /api/contacts/remove {account, contact}    POST /api/contacts/revoke {account, contact}
//   GET  /api/requests[?account=A]        POST /api/requests/approve {id}   POST /api/requests/deny {id}
//   GET  /api/outbox[?account=A]          GET  /api/outbox/ID
//   POST /api/outbox/approve {id} | {all: true, account?}              POST /api/outbox/cancel {id}
//   POST /api/send {from, to: [..], rfc822 | rfc822_base64}  (the CLI sends base64: a message need
//        not be UTF-8, and a JSON string must be)
// With an account scope (the web UI's logged-in user) lists show only that account and actions
// on another account's items are refused; status and queues show only that account's counts,
// warnings and queues, nothing of the daemon's FCP traffic (see engine::Status::scope).
// (POST /api/web/login, the one-time web UI login link, is answered by http_server.cpp: it needs
// the web UI, which this class does not know.)
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/control.h"

namespace fcpmail::web {

struct ApiResponse {
  int status = 200;
  nlohmann::json body;
};

class ControlApi {
 public:
  explicit ControlApi(engine::Control& control);

  // `target` is the request target ("/api/outbox?account=x"). `scope`: limit to one account.
  ApiResponse handle(std::string_view method, std::string_view target, std::string_view body,
                     const std::optional<std::string>& scope = std::nullopt);

  engine::Control& control() { return control_; }

  struct Job {
    std::vector<std::pair<std::string, std::string>> progress;  // stage, detail
    bool done = false;
    nlohmann::json result;  // AccountCreated when done without error
    std::string error;
  };
  using Jobs = std::map<std::int64_t, Job>;

 private:
  ApiResponse route(std::string_view method, std::string_view path, const std::map<std::string, std::string>& query,
                    const nlohmann::json& body, const std::optional<std::string>& scope);

  engine::Control& control_;
  std::shared_ptr<Jobs> jobs_;
  std::int64_t next_job_ = 1;
};

// The one serialisation of every JSON reply (API, web UI, CLI output): invalid UTF-8 in stored data
// (a Latin-1 byte in a Subject) becomes U+FFFD instead of throwing.
std::string json_text(const nlohmann::json& value, int indent = -1);

// Percent-decoding of a URL component ('+' as space); nothing if malformed.
std::optional<std::string> url_decode(std::string_view text);
// "a=1&b=x%20y" -> {a:1, b:"x y"}; malformed pairs are skipped.
std::map<std::string, std::string> parse_query(std::string_view query);

}  // namespace fcpmail::web
