#include "web/control_api.h"

#include <doctest/doctest.h>

#include "crypto/base64.h"
#include "fake_control.h"

using namespace fcpmail::web;
using web_test::FakeControl;

TEST_CASE("url_decode and parse_query") {
  CHECK(url_decode("a%40b.freemail") == "a@b.freemail");
  CHECK(url_decode("x+y") == "x y");
  CHECK_FALSE(url_decode("%4"));
  CHECK_FALSE(url_decode("%zz"));
  const auto q = parse_query("account=a%40b&empty=&bad=%x&=nokey&flag");
  CHECK(q.at("account") == "a@b");
  CHECK(q.at("empty").empty());
  CHECK(q.at("flag").empty());
  CHECK_FALSE(q.contains("bad"));
  CHECK(q.size() == 3);
}

TEST_CASE("status, accounts and queues map onto the control surface") {
  FakeControl control;
  control.seed();
  ControlApi api(control);
  auto status = api.handle("GET", "/api/status", "");
  CHECK(status.status == 200);
  CHECK(status.body["counts"]["held"] == 1);
  CHECK(status.body["counts"]["contact_requests"] == 1);
  CHECK(status.body["node"]["connected"] == true);
  auto accounts = api.handle("GET", "/api/accounts", "");
  CHECK(accounts.body["accounts"].size() == 1);
  auto queues = api.handle("GET", "/api/queues", "");
  CHECK(queues.body["rts"].size() == 2);
  CHECK(queues.body["channels"][0]["polled_window"] == "slots 0..5");
  auto other = api.handle("GET", "/api/queues?account=someone%40else.freemail", "");
  CHECK(other.body["rts"].empty());
  CHECK(other.body["channels"].empty());
}

TEST_CASE("outbox: list, show, approve, cancel, approve all") {
  FakeControl control;
  control.seed();
  ControlApi api(control);
  auto list = api.handle("GET", "/api/outbox", "");
  REQUIRE(list.body["outbox"].size() == 1);
  CHECK(list.body["outbox"][0]["recipients"][0]["code"] == "held");
  auto show = api.handle("GET", "/api/outbox/1", "");
  CHECK(show.status == 200);
  CHECK(show.body["headers"].get<std::string>().find("Subject: Hello Bob") != std::string::npos);
  CHECK(api.handle("GET", "/api/outbox/99", "").status == 404);
  CHECK(api.handle("GET", "/api/outbox/x1", "").status == 404);
  auto approved = api.handle("POST", "/api/outbox/approve", R"({"id":1})");
  CHECK(approved.status == 200);
  CHECK(approved.body["recipients"][0]["code"] == "awaiting_cts");
  auto again = api.handle("POST", "/api/outbox/approve", R"({"id":"1"})");
  CHECK(again.status == 400);
  CHECK(again.body["error"] == "message 1 is not held");
  control.send(control.me(), {"bob"}, "Subject: two\r\n\r\n");
  control.send(control.me(), {"bob"}, "Subject: three\r\n\r\n");
  auto all = api.handle("POST", "/api/outbox/approve", R"({"all":true})");
  CHECK(all.body["released"] == 2);
  auto cancelled = api.handle("POST", "/api/outbox/cancel", R"({"id":2})");
  CHECK(cancelled.body["recipients"][0]["code"] == "cancelled");
  CHECK(api.handle("POST", "/api/outbox/cancel", R"({})").status == 400);
  CHECK(api.handle("POST", "/api/outbox/cancel", R"({"id":true})").status == 400);
}

TEST_CASE("contacts and requests") {
  FakeControl control;
  control.seed();
  ControlApi api(control);
  const std::string me = control.me();
  CHECK(api.handle("GET", "/api/contacts", "").body["contacts"].size() == 1);
  auto added = api.handle("POST", "/api/contacts",
                          nlohmann::json{{"account", me}, {"address", "dan@dddd.freemail"}, {"petname", "dan"}}.dump());
  CHECK(added.status == 200);
  CHECK(added.body["petname"] == "dan");
  auto refused = api.handle("POST", "/api/contacts", nlohmann::json{{"account", me}, {"address", "dan@gmail.com"}}.dump());
  CHECK(refused.status == 400);
  CHECK(refused.body["error"] == "'dan@gmail.com' is not a Freemail address");
  CHECK(api.handle("POST", "/api/contacts/revoke", nlohmann::json{{"account", me}, {"contact", "dan"}}.dump()).status == 200);
  CHECK(control.contact_list.back().state == "revoked");
  CHECK(api.handle("POST", "/api/contacts/remove", nlohmann::json{{"account", me}, {"contact", "dan"}}.dump()).status == 200);
  CHECK(api.handle("POST", "/api/contacts/remove", nlohmann::json{{"account", me}, {"contact", "dan"}}.dump()).status == 400);
  CHECK(api.handle("POST", "/api/contacts", "{}").status == 400);

  auto requests = api.handle("GET", "/api/requests", "");
  REQUIRE(requests.body["requests"].size() == 1);
  CHECK(requests.body["requests"][0]["from"].get<std::string>().starts_with("carol@"));
  auto approved = api.handle("POST", "/api/requests/approve", R"({"id":7})");
  CHECK(approved.body["state"] == "approved");
  CHECK(api.handle("POST", "/api/requests/deny", R"({"id":7})").status == 400);
  CHECK(api.handle("POST", "/api/requests/deny", R"({"id":8})").status == 400);
}

TEST_CASE("send") {
  FakeControl control;
  control.seed();
  ControlApi api(control);
  auto sent = api.handle("POST", "/api/send",
                         nlohmann::json{{"from", control.me()}, {"to", nlohmann::json::array({"bob"})}, {"rfc822", "Subject: s\r\n\r\nx"}}.dump());
  CHECK(sent.status == 200);
  CHECK(sent.body["id"] == 2);
  CHECK(api.handle("POST", "/api/send", nlohmann::json{{"from", control.me()}, {"to", nlohmann::json::array()},
                                                        {"rfc822", "x"}}.dump()).status == 400);
  auto unknown = api.handle("POST", "/api/send",
                            nlohmann::json{{"from", control.me()}, {"to", {"zed"}}, {"rfc822", "x"}}.dump());
  CHECK(unknown.status == 400);
  CHECK(unknown.body["error"].get<std::string>().find("fcpmail contacts add") != std::string::npos);
}

TEST_CASE("malformed requests and unknown routes get clean errors") {
  FakeControl control;
  ControlApi api(control);
  CHECK(api.handle("POST", "/api/outbox/approve", "{not json").status == 400);
  CHECK(api.handle("POST", "/api/outbox/approve", "[1,2]").status == 400);
  CHECK(api.handle("GET", "/api/nothing", "").status == 404);
  CHECK(api.handle("DELETE", "/api/outbox", "").status == 405);
  CHECK(api.handle("GET", "/api/send", "").status == 405);
  CHECK(api.handle("POST", "/api/accounts/export", "{}").status == 400);
  CHECK(api.handle("POST", "/api/accounts/import", "{}").status == 400);
  CHECK(api.handle("POST", "/api/accounts/import", R"({"file_base64":"AB=C","passphrase":"x"})").status == 400);
  CHECK(api.handle("POST", "/api/accounts/import", R"({"file_base64":"A","passphrase":"x"})").status == 400);
  CHECK(api.handle("GET", "/api/jobs/12", "").status == 404);
}

TEST_CASE("account creation runs as a job with progress") {
  boost::asio::io_context io;
  FakeControl control;
  control.io = &io;
  control.stage_delay = std::chrono::milliseconds(1);
  ControlApi api(control);
  CHECK(api.handle("POST", "/api/accounts", "{}").status == 400);
  auto started = api.handle("POST", "/api/accounts", R"({"nickname":"bob","password":"pw"})");
  REQUIRE(started.status == 202);
  const auto job = started.body["job"].get<long long>();
  auto running = api.handle("GET", "/api/jobs/" + std::to_string(job), "");
  CHECK(running.body["done"] == false);
  io.run();
  auto done = api.handle("GET", "/api/jobs/" + std::to_string(job), "");
  CHECK(done.body["done"] == true);
  CHECK(done.body["progress"].size() == 5);
  CHECK(done.body["progress"][1]["stage"] == "rsa-key");
  CHECK(done.body["result"]["password"] == "pw");
  CHECK(done.body["error"].is_null());
  // A finished job is reported once (it may carry a generated password) and then forgotten.
  CHECK(api.handle("GET", "/api/jobs/" + std::to_string(job), "").status == 404);

  auto failing = api.handle("POST", "/api/accounts", R"({"nickname":"fail"})");
  io.restart();
  io.run();
  auto failed = api.handle("GET", "/api/jobs/" + std::to_string(failing.body["job"].get<long long>()), "");
  CHECK(failed.body["error"] == "the node refused the identity");
  CHECK(failed.body["result"].is_null());
}

TEST_CASE("an account scope hides and protects other accounts' items") {
  FakeControl control;
  control.seed();
  ControlApi api(control);
  const std::optional<std::string> mallory = std::string("mallory@mmmm.freemail");
  CHECK(api.handle("GET", "/api/outbox", "", mallory).body["outbox"].empty());
  CHECK(api.handle("GET", "/api/requests", "", mallory).body["requests"].empty());
  CHECK(api.handle("GET", "/api/outbox/1", "", mallory).status == 404);
  CHECK(api.handle("POST", "/api/outbox/approve", R"({"id":1})", mallory).status == 404);
  CHECK(api.handle("POST", "/api/outbox/cancel", R"({"id":1})", mallory).status == 404);
  CHECK(api.handle("POST", "/api/requests/approve", R"({"id":7})", mallory).status == 404);
  CHECK(api.handle("POST", "/api/accounts", R"({"nickname":"x"})", mallory).status == 403);
  CHECK(api.handle("GET", "/api/status", "", mallory).body["accounts"].empty());
  CHECK(control.outbox_list[0].recipients[0].code == "held");
  const std::optional<std::string> alice = control.me();
  CHECK(api.handle("GET", "/api/outbox?account=other", "", alice).body["outbox"].size() == 1);
  CHECK(api.handle("POST", "/api/outbox/approve", R"({"id":1})", alice).status == 200);
}

TEST_CASE("account export and import run as jobs; the file travels as base64") {
  boost::asio::io_context io;
  FakeControl control;
  control.io = &io;
  ControlApi api(control);
  const std::string alice = control.me();
  auto job_of = [&](const ApiResponse& r) {
    REQUIRE(r.status == 202);
    io.restart();
    io.run();
    auto j = api.handle("GET", "/api/jobs/" + std::to_string(r.body["job"].get<long long>()), "");
    REQUIRE(j.body["done"] == true);
    return j.body;
  };

  CHECK(api.handle("POST", "/api/accounts/export", nlohmann::json{{"account", alice}, {"passphrase", "short"}}.dump()).status == 400);
  auto exported = job_of(api.handle("POST", "/api/accounts/export",
                                    nlohmann::json{{"account", alice}, {"passphrase", "long enough"}}.dump()));
  CHECK(exported["error"].is_null());
  CHECK(exported["progress"].size() == 3);
  CHECK(exported["result"]["account"] == alice);
  const std::string expected = FakeControl::fake_export(alice, "long enough");
  CHECK(exported["result"]["bytes"] == expected.size());
  const std::string b64 = exported["result"]["file_base64"];
  CHECK(b64.starts_with("RkFLRQD/"));  // "FAKE\0\xff": binary bytes survive

  auto unknown = job_of(api.handle("POST", "/api/accounts/export",
                                   nlohmann::json{{"account", "nobody"}, {"passphrase", "long enough"}}.dump()));
  CHECK(unknown["error"].get<std::string>().find("no account nobody") != std::string::npos);

  // Importing into the same (fake) daemon: refused as existing; a wrong passphrase is named.
  auto same = job_of(api.handle("POST", "/api/accounts/import",
                                nlohmann::json{{"file_base64", b64}, {"passphrase", "long enough"}}.dump()));
  CHECK(same["error"].get<std::string>().find("already exists") != std::string::npos);
  control.account_list.clear();
  auto wrong = job_of(api.handle("POST", "/api/accounts/import",
                                 nlohmann::json{{"file_base64", b64}, {"passphrase", "wrong one"}}.dump()));
  CHECK(wrong["error"].get<std::string>().find("wrong passphrase") != std::string::npos);
  CHECK(control.account_list.empty());
  auto imported = job_of(api.handle("POST", "/api/accounts/import",
                                    nlohmann::json{{"file_base64", b64}, {"passphrase", "long enough"}}.dump()));
  CHECK(imported["error"].is_null());
  CHECK(imported["result"]["address"] == alice);
  CHECK(imported["progress"].back()["stage"] == "done");
  CHECK(control.account_list.size() == 1);

  // The web UI (an account scope) neither exports (not even its own account) nor imports.
  const std::optional<std::string> mallory = std::string("mallory@mmmm.freemail");
  CHECK(api.handle("POST", "/api/accounts/export", nlohmann::json{{"account", alice}, {"passphrase", "long enough"}}.dump(),
                   mallory).status == 403);
  CHECK(api.handle("POST", "/api/accounts/export", nlohmann::json{{"account", *mallory}, {"passphrase", "long enough"}}.dump(),
                   mallory).status == 403);
  CHECK(api.handle("POST", "/api/accounts/import", nlohmann::json{{"file_base64", b64}, {"passphrase", "long enough"}}.dump(),
                   mallory).status == 403);
}

TEST_CASE("send takes the message as base64 too: a mail need not be UTF-8") {
  FakeControl control;
  control.seed();
  ControlApi api(control);
  const std::string mail = std::string("Subject: caf\xe9\r\n\r\n\0\xff", 19);
  auto sent = api.handle("POST", "/api/send",
                         json_text({{"from", control.me()}, {"to", nlohmann::json::array({"bob"})},
                                    {"rfc822_base64", fcpmail::crypto::base64_encode(mail)}}));
  REQUIRE(sent.status == 200);
  CHECK(control.outbox_list.back().size == mail.size());
  CHECK(control.outbox_list.back().subject == "caf\xe9");
  CHECK(api.handle("POST", "/api/send", json_text({{"from", control.me()}, {"to", nlohmann::json::array({"bob"})}, {"rfc822_base64", "!!"}}))
            .status == 400);
  // And whatever is stored comes out as valid JSON text.
  CHECK(json_text(api.handle("GET", "/api/outbox", "").body).find("caf\xef\xbf\xbd") != std::string::npos);
}

TEST_CASE("status and queues: the owner sees all, an account scope its own view only") {
  FakeControl control;
  control.seed();
  ControlApi api(control);
  CHECK(api.handle("GET", "/api/status", "").body["fcp_requests_total"] == 42);
  CHECK_FALSE(control.status_scopes.back());
  CHECK(api.handle("GET", "/api/status?account=" + control.me(), "").status == 200);
  CHECK(control.status_scopes.back() == control.me());
  auto mine = api.handle("GET", "/api/status", "", control.me());
  CHECK(control.status_scopes.back() == control.me());
  CHECK(mine.body["scope"] == control.me());
  CHECK_FALSE(mine.body.contains("fcp_requests_total"));
  CHECK_FALSE(mine.body["counts"].contains("fcp_in_flight"));
  CHECK(mine.body["counts"]["held"] == 1);
  auto elsewhere = api.handle("GET", "/api/status", "", std::string("zed@z.freemail"));
  CHECK(elsewhere.body["counts"]["held"] == 0);
  CHECK(elsewhere.body["accounts"].empty());
  CHECK_FALSE(api.handle("GET", "/api/queues", "").body["in_flight"].empty());
  CHECK(api.handle("GET", "/api/queues", "", control.me()).body["in_flight"].empty());
}
