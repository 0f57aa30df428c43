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
