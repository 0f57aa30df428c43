// The local web UI: a login page (account address + password), then one page that shows the
// node status, the account's address (with a copy button), queue counts, contact requests, the
// outbox with approve/cancel buttons and the protocol queues. No external assets: CSS and
// JavaScript are inline, and the Content-Security-Policy forbids everything else.
//
// Passwords: WebUi never checks one itself. A login form that passes the CSRF check comes back from
// handle() as a LoginAttempt; the server runs it through the login gate (src/auth/login_gate.h: off
// the I/O thread, delayed after failures, lock-out) and hands the verdict to finish_login().
//
// Two rights. The mail password is also stored in the user's mail client, so a hijacked mail
// client knows it: a session opened with it may only look (view only); its approve, cancel and
// request answers are refused with 403 and a sentence naming `fcpmail web login`. The owner right
// (approve and cancel outbox mail, approve or deny contact requests) comes only from a one-time
// login link: `fcpmail web login` asks the control API (bearer control.token, which the mail
// client does not have) to mint_login_link(); the link `/login?once=<128-bit random>` is good for
// one use within login_link_lifetime, compared in constant time, and opening it starts an owner
// session for its account.
//
// Security: a session cookie (HttpOnly, SameSite=Strict) after login; every state-changing
// request (login included) must carry a CSRF token bound to the session (or, for login, to the
// login form) — in the X-CSRF-Token header or a `csrf` form field — or it is refused with 403.
// The engine is reached through ControlApi with the account as scope, so a user sees and acts
// on their own account only.
#pragma once
#include <chrono>
#include <expected>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <variant>

#include "auth/login_gate.h"
#include "web/control_api.h"

namespace fcpmail::web {

struct HttpRequestView {
  std::string_view method;
  std::string_view target;
  std::string_view cookie;        // the Cookie header
  std::string_view csrf_header;   // X-CSRF-Token
  std::string_view content_type;
  std::string_view body;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra: Set-Cookie, Location, ...
};

// A login form that passed the CSRF check: the password still has to be checked.
struct LoginAttempt {
  std::string user, password;
};

struct WebUiOptions {
  std::chrono::seconds session_lifetime{8 * 3600};
  std::chrono::seconds login_form_lifetime{3600};
  std::size_t max_sessions = 256;
  std::chrono::seconds login_link_lifetime{300};
  std::size_t max_login_links = 16;  // unused links kept at once; minting one more drops the oldest
  std::function<std::chrono::steady_clock::time_point()> now;  // injected for tests
};

// A minted one-time login link: `path_and_query` is "/login?once=TOKEN" (the server adds
// http://HOST:PORT).
struct LoginLink {
  std::string account;
  std::string path_and_query;
  std::chrono::seconds lifetime;
};

class WebUi {
 public:
  explicit WebUi(ControlApi& api, WebUiOptions options = {});

  // Every request. POST /login with a valid form gives a LoginAttempt; everything else a reply.
  std::variant<HttpReply, LoginAttempt> handle(const HttpRequestView& request);
  // The answer to a LoginAttempt: a session cookie and a redirect, or the login page again.
  HttpReply finish_login(const auth::LoginVerdict& verdict);
  // A one-time owner login link for `account` (nothing: the only account). The error is a sentence
  // (no such account, several accounts and none chosen).
  std::expected<LoginLink, std::string> mint_login_link(const std::optional<std::string>& account);

  static constexpr std::string_view cookie_name = "fcpmail_session";

 private:
  struct Session {
    std::string account;
    std::string csrf;
    std::chrono::steady_clock::time_point expires;
    bool owner = false;  // opened with a login link, not with the mail password
  };
  struct PendingLink {
    std::string token;
    std::string account;
    std::chrono::steady_clock::time_point expires;
  };

  std::chrono::steady_clock::time_point now() const;
  void expire();
  Session* session_for(std::string_view cookie_header);
  HttpReply login_page(std::string_view message, int status = 200);
  std::variant<HttpReply, LoginAttempt> login(const HttpRequestView& request);
  HttpReply logout(const HttpRequestView& request);
  HttpReply redeem_login_link(std::string_view query);
  HttpReply start_session(const std::string& account, bool owner);
  HttpReply app_page(const Session& session);
  HttpReply state(const Session& session);
  HttpReply action(const HttpRequestView& request, Session& session, std::string_view api_path);

  ControlApi& api_;
  WebUiOptions options_;
  std::map<std::string, Session> sessions_;                                 // by cookie value
  std::map<std::string, std::chrono::steady_clock::time_point> login_forms_;  // login CSRF tokens
  std::vector<PendingLink> login_links_;                                    // minted, not yet used
};

// Helpers shared with the tests.
std::map<std::string, std::string> parse_form(std::string_view body);
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);
std::string html_escape(std::string_view text);

}  // namespace fcpmail::web
