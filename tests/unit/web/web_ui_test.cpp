#include "web/web_ui.h"

#include <doctest/doctest.h>

#include <regex>

#include "fake_control.h"

using namespace fcpmail::web;
using web_test::FakeControl;

namespace {

class OneLogin : public fcpmail::LoginCheck {
 public:
  std::string user, password;
  int calls = 0;
  std::optional<std::string> check_login(const std::string& u, const std::string& p) override {
    ++calls;
    if (u == user && p == password) return user;
    return std::nullopt;
  }
};

struct Fixture {
  FakeControl control;
  OneLogin login;
  ControlApi api{control};
  std::chrono::steady_clock::time_point clock{};
  WebUi ui;

  Fixture() : ui(api, options()) {
    control.seed();
    login.user = control.me();
    login.password = "pw";
  }
  WebUiOptions options() {
    WebUiOptions o;
    o.now = [this] { return clock; };
    o.session_lifetime = std::chrono::seconds(100);
    return o;
  }

  // The server's part, synchronously: a login attempt is checked at once (the gate's delays and
  // lock-out are tested in tests/unit/auth).
  HttpReply handle(const HttpRequestView& request) {
    auto step = ui.handle(request);
    if (auto* attempt = std::get_if<LoginAttempt>(&step)) {
      fcpmail::auth::LoginVerdict verdict;
      verdict.account = login.check_login(attempt->user, attempt->password);
      return ui.finish_login(verdict);
    }
    return std::get<HttpReply>(step);
  }

  HttpReply get(std::string_view target, std::string_view cookie = "") {
    return handle({"GET", target, cookie, "", "", ""});
  }
  HttpReply post(std::string_view target, std::string_view body, std::string_view cookie = "", std::string_view csrf = "") {
    return handle({"POST", target, cookie, csrf, "application/json", body});
  }
  static std::string meta_csrf(const std::string& html) {
    std::smatch m;
    REQUIRE(std::regex_search(html, m, std::regex("<meta name=\"csrf\" content=\"([0-9a-f]+)\">")));
    return m[1];
  }
  static std::string header(const HttpReply& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }
  // Logs in; returns the cookie header and the page's CSRF token.
  std::pair<std::string, std::string> log_in() {
    const std::string form_token = meta_csrf(get("/").body);
    auto r = handle({"POST", "/login", "", "", "application/x-www-form-urlencoded",
                        "user=" + std::regex_replace(control.me(), std::regex("@"), "%40") + "&password=pw&csrf=" +
                            form_token});
    REQUIRE(r.status == 303);
    const std::string set_cookie = header(r, "Set-Cookie");
    REQUIRE(set_cookie.find("HttpOnly") != std::string::npos);
    REQUIRE(set_cookie.find("SameSite=Strict") != std::string::npos);
    const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
    auto page = get("/", "other=1; " + cookie);
    REQUIRE(page.status == 200);
    return {cookie, meta_csrf(page.body)};
  }
  // Opens a one-time login link as `fcpmail web login` prints it; returns the cookie and CSRF token.
  std::pair<std::string, std::string> log_in_with_link() {
    auto link = ui.mint_login_link(std::nullopt);
    REQUIRE(link);
    auto r = get(link->path_and_query);
    REQUIRE(r.status == 303);
    const std::string set_cookie = header(r, "Set-Cookie");
    REQUIRE(set_cookie.find("HttpOnly") != std::string::npos);
    REQUIRE(set_cookie.find("SameSite=Strict") != std::string::npos);
    const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
    auto page = get("/", cookie);
    REQUIRE(page.status == 200);
    return {cookie, meta_csrf(page.body)};
  }
};

}  // namespace

TEST_CASE("helpers: cookies, forms, escaping") {
  CHECK(cookie_value("a=1; fcpmail_session=xyz; b=2", "fcpmail_session") == "xyz");
  CHECK_FALSE(cookie_value("a=1", "fcpmail_session"));
  CHECK(parse_form("user=a%40b&password=p+q").at("password") == "p q");
  CHECK(html_escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST_CASE("without a session: login page, and the state and actions are refused") {
  Fixture f;
  auto page = f.get("/");
  CHECK(page.status == 200);
  CHECK(page.body.find("<form class=\"login\"") != std::string::npos);
  CHECK(page.body.find("<script") == std::string::npos);
  CHECK(f.get("/ui/api/state").status == 401);
  CHECK(f.post("/ui/api/outbox/approve", R"({"id":1})").status == 401);
  CHECK(f.get("/nothing").status == 404);
}

TEST_CASE("login needs the form's CSRF token; the password goes to the gate, not checked by the UI") {
  Fixture f;
  auto no_token = f.handle({"POST", "/login", "", "", "", "user=x&password=pw"});
  CHECK(no_token.status == 403);
  CHECK(f.login.calls == 0);
  const std::string token = Fixture::meta_csrf(f.get("/").body);
  // The UI hands the attempt out instead of checking it on the I/O thread.
  auto step = f.ui.handle({"POST", "/login", "", "", "", "user=x%40y&password=p+w&csrf=" + token});
  REQUIRE(std::holds_alternative<LoginAttempt>(step));
  CHECK(std::get<LoginAttempt>(step).user == "x@y");
  CHECK(std::get<LoginAttempt>(step).password == "p w");
  CHECK(f.login.calls == 0);
  // The form token was used up.
  CHECK(f.handle({"POST", "/login", "", "", "", "user=x&password=bad&csrf=" + token}).status == 403);

  const std::string token2 = Fixture::meta_csrf(f.get("/").body);
  auto wrong = f.handle({"POST", "/login", "", "", "", "user=x&password=bad&csrf=" + token2});
  CHECK(wrong.status == 401);
  CHECK(wrong.body.find("Wrong address or password.") != std::string::npos);
  CHECK(Fixture::header(wrong, "Set-Cookie").empty());

  fcpmail::auth::LoginVerdict locked;
  locked.locked_out = true;
  auto refused = f.ui.finish_login(locked);
  CHECK(refused.status == 429);
  CHECK(refused.body.find("Too many failed logins") != std::string::npos);
  CHECK(Fixture::header(refused, "Set-Cookie").empty());
  fcpmail::auth::LoginVerdict busy;  // the login gate is full: temporary, not a wrong password
  busy.unavailable = true;
  CHECK(f.ui.finish_login(busy).status == 503);

  auto [cookie, csrf] = f.log_in();  // right after failures: delays are the gate's business
  CHECK(csrf.size() == 64);
}

TEST_CASE("the logged-in page, the state, and actions with and without the CSRF token") {
  Fixture f;
  auto [cookie, csrf] = f.log_in();
  auto page = f.get("/", cookie);
  CHECK(page.body.find("id=\"address\">" + f.control.me()) != std::string::npos);
  CHECK(page.body.find("id=\"copy\"") != std::string::npos);
  CHECK(page.body.find("src=") == std::string::npos);  // no external assets
  auto state = f.get("/ui/api/state", cookie);
  REQUIRE(state.status == 200);
  auto j = nlohmann::json::parse(state.body);
  CHECK(j["account"] == f.control.me());
  CHECK(j["outbox"].size() == 1);
  CHECK(j["requests"].size() == 1);
  CHECK(j["status"]["counts"]["held"] == 1);
  CHECK(j["queues"]["channels"].size() == 1);

  CHECK(j["owner"] == false);
  CHECK(page.body.find("id=\"view-only\">") != std::string::npos);  // the banner is shown

  // The mail password's session only looks: every action is refused, with the way to do it.
  for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
           {"/ui/api/outbox/approve", R"({"id":1})"}, {"/ui/api/outbox/approve", R"({"all":true})"},
           {"/ui/api/outbox/cancel", R"({"id":1})"}, {"/ui/api/requests/approve", R"({"id":7})"},
           {"/ui/api/requests/deny", R"({"id":7})"}}) {
    auto refused = f.post(path, body, cookie, csrf);
    CHECK(refused.status == 403);
    CHECK(refused.body.find("fcpmail web login") != std::string::npos);
  }
  CHECK(f.control.outbox_list[0].recipients[0].code == "held");
  CHECK(f.control.request_list[0].state == "pending");

  // The owner's session, from a one-time link.
  std::tie(cookie, csrf) = f.log_in_with_link();
  page = f.get("/", cookie);
  CHECK(page.body.find("id=\"view-only\" hidden>") != std::string::npos);
  CHECK(nlohmann::json::parse(f.get("/ui/api/state", cookie).body)["owner"] == true);
  CHECK(f.post("/ui/api/outbox/approve", R"({"id":1})", cookie).status == 403);
  CHECK(f.post("/ui/api/outbox/approve", R"({"id":1})", cookie, std::string(64, '0')).status == 403);
  CHECK(f.control.outbox_list[0].recipients[0].code == "held");
  auto approved = f.post("/ui/api/outbox/approve", R"({"id":1})", cookie, csrf);
  CHECK(approved.status == 200);
  CHECK(f.control.outbox_list[0].recipients[0].code == "awaiting_cts");
  CHECK(f.post("/ui/api/requests/deny", R"({"id":7})", cookie, csrf).status == 200);
  CHECK(f.control.request_list[0].state == "denied");
  CHECK(f.post("/ui/api/send", R"({})", cookie, csrf).status == 404);  // not a UI action
  CHECK(f.post("/ui/api/outbox/cancel", R"({"id":42})", cookie, csrf).status == 404);
}

TEST_CASE("sessions expire, and logout needs the CSRF token") {
  Fixture f;
  auto [cookie, csrf] = f.log_in();
  CHECK(f.handle({"POST", "/logout", cookie, "", "", "csrf=wrong"}).status == 403);
  CHECK(f.get("/ui/api/state", cookie).status == 200);
  auto out = f.handle({"POST", "/logout", cookie, "", "", "csrf=" + csrf});
  CHECK(out.status == 303);
  CHECK(f.get("/ui/api/state", cookie).status == 401);

  auto [cookie2, csrf2] = f.log_in();
  f.clock += std::chrono::seconds(101);
  CHECK(f.get("/ui/api/state", cookie2).status == 401);
  CHECK(f.post("/ui/api/outbox/approve", R"({"id":1})", cookie2, csrf2).status == 401);
}

TEST_CASE("a login link works once, expires, is for its account, and a wrong one is refused") {
  Fixture f;
  auto link = f.ui.mint_login_link(std::nullopt);
  REQUIRE(link);
  CHECK(link->account == f.control.me());
  CHECK(link->lifetime == std::chrono::seconds(300));
  const std::string token = link->path_and_query.substr(std::string("/login?once=").size());
  CHECK(token.size() == 32);  // 128 bits
  CHECK(token.find_first_not_of("0123456789abcdef") == std::string::npos);

  // A wrong token (same length, one digit off), none, and garbage: refused, no cookie.
  std::string off = token;
  off.back() = off.back() == '0' ? '1' : '0';
  for (const std::string& target : {"/login?once=" + off, std::string("/login"), std::string("/login?once="),
                                   "/login?once=" + token.substr(0, 31), "/login?once=" + token + "0"}) {
    auto r = f.get(target);
    CHECK(r.status == 403);
    CHECK(Fixture::header(r, "Set-Cookie").empty());
    CHECK(r.body.find("fcpmail web login") != std::string::npos);
  }
  // The right one, once.
  auto first = f.get(link->path_and_query);
  CHECK(first.status == 303);
  CHECK(Fixture::header(first, "Location") == "/");
  CHECK(!Fixture::header(first, "Set-Cookie").empty());
  auto again = f.get(link->path_and_query);
  CHECK(again.status == 403);
  CHECK(Fixture::header(again, "Set-Cookie").empty());

  // Expired after its lifetime.
  auto late = f.ui.mint_login_link(f.control.me());
  REQUIRE(late);
  f.clock += std::chrono::seconds(301);
  CHECK(f.get(late->path_and_query).status == 403);

  // Accounts: unknown refused; several need a choice; the one chosen is the session's.
  CHECK_FALSE(f.ui.mint_login_link(std::string("nobody@x.freemail")));
  fcpmail::engine::AccountSummary other;
  other.address = "zed@zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz.freemail";
  f.control.account_list.push_back(other);
  auto several = f.ui.mint_login_link(std::nullopt);
  REQUIRE_FALSE(several);
  CHECK(several.error().find("--account") != std::string::npos);
  auto by_local_part = f.ui.mint_login_link(std::string("ZED"));
  REQUIRE(by_local_part);
  CHECK(by_local_part->account == other.address);
  auto zed = f.ui.mint_login_link(other.address);
  REQUIRE(zed);
  auto opened = f.get(zed->path_and_query);
  const std::string cookie = Fixture::header(opened, "Set-Cookie").substr(0, Fixture::header(opened, "Set-Cookie").find(';'));
  auto state = nlohmann::json::parse(f.get("/ui/api/state", cookie).body);
  CHECK(state["account"] == other.address);
  CHECK(state["owner"] == true);
  CHECK(state["outbox"].empty());  // alice's held mail is not zed's
  const std::string csrf = Fixture::meta_csrf(f.get("/", cookie).body);
  CHECK(f.post("/ui/api/outbox/approve", R"({"id":1})", cookie, csrf).status == 404);
  CHECK(f.control.outbox_list[0].recipients[0].code == "held");

  // Only so many unused links are kept: the oldest goes first.
  std::vector<LoginLink> links;
  for (int i = 0; i < 17; ++i) links.push_back(*f.ui.mint_login_link(other.address));
  CHECK(f.get(links.front().path_and_query).status == 403);
  CHECK(f.get(links.back().path_and_query).status == 303);
}

TEST_CASE("stored bytes that are not UTF-8 (Latin-1, NUL) leave the page and its JSON working") {
  Fixture f;
  std::string mail = "From: \"Ren\xe9\" <x>\r\nTo: bob\r\nSubject: caf\xe9 ";
  mail += '\0';
  mail += "nul\r\n\r\nbody \xff\r\n";
  auto id = f.control.send(f.control.me(), {"bob"}, mail);
  REQUIRE(id);
  REQUIRE(f.control.outbox_list.back().subject.find('\xe9') != std::string::npos);
  auto [cookie, csrf] = f.log_in_with_link();
  auto state = f.get("/ui/api/state", cookie);
  REQUIRE(state.status == 200);
  auto j = nlohmann::json::parse(state.body);  // valid JSON (and so valid UTF-8)
  CHECK(j["outbox"][1]["subject"].get<std::string>().starts_with("caf\xef\xbf\xbd"));  // U+FFFD
  CHECK(f.get("/", cookie).status == 200);
  CHECK(f.post("/ui/api/outbox/cancel", "{\"id\":" + std::to_string(*id) + "}", cookie, csrf).status == 200);
}

TEST_CASE("the web UI's state shows its account's counts and warnings only, repeats once with a count") {
  Fixture f;
  const std::string zed = "zed@zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz.freemail";
  const auto t = f.control.t0;
  f.control.warning_list = {{"mailpage of alice not published", f.control.me(), false, 3, t, t + std::chrono::minutes(2)},
                            {"mailpage of zed not published", zed, false, 1, t, t},
                            {"RTS to someone@x not sent", "", false, 1, t, t},
                            {"the node restarted", "", true, 1, t, t}};
  auto [cookie, csrf] = f.log_in();
  auto j = nlohmann::json::parse(f.get("/ui/api/state", cookie).body);
  REQUIRE(f.control.status_scopes.back() == f.control.me());
  const auto& warnings = j["status"]["warnings"];
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0]["text"] == "mailpage of alice not published");
  CHECK(warnings[0]["count"] == 3);
  CHECK(warnings[0]["last"] == "2026-11-27T14:02:00Z");
  CHECK(warnings[1]["text"] == "the node restarted");
  CHECK(warnings[1]["account"].is_null());
  CHECK_FALSE(j["status"]["counts"].contains("fcp_in_flight"));
  CHECK_FALSE(j["status"].contains("fcp_requests_total"));
  CHECK(j["queues"]["in_flight"].empty());
  CHECK(j["status"]["scope"] == f.control.me());
}
