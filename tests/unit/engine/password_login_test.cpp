#include "engine/password_login.h"

#include "crypto/sealed_box.h"
#include "store/database.h"

#include <doctest/doctest.h>
#include <SQLiteCpp/Statement.h>

#include <filesystem>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct TempDatabase {
  fs::path dir;
  std::unique_ptr<SQLite::Database> writer;
  TempDatabase() {
    dir = fs::temp_directory_path() / ("fcpmail-login-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(dir);
    writer = std::move(*fcpmail::store::open_database(dir / "fcpmail.db"));
  }
  ~TempDatabase() {
    writer.reset();
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  }
  void add_account(const std::string& address, const std::string& identity, const std::string& password) {
    // Cheap scrypt parameters: the test checks the lookup, not the cost.
    SQLite::Statement q(*writer,
                        "INSERT INTO account (address, nickname, identity_id, request_uri, insert_uri_sealed, rsa_public,"
                        " rsa_private_sealed, rtsksk, password_hash, created_at) VALUES (?, 'n', ?, 'USK@r', x'00', 'p', x'00', 'k', ?, 0)");
    q.bind(1, address);
    q.bind(2, identity);
    q.bind(3, fcpmail::crypto::hash_password(password, {1u << 4, 8, 1}));
    q.exec();
  }
};

}  // namespace

TEST_CASE("password login: address in any case or identity id, right password only, over its own connection") {
  TempDatabase t;
  const std::string address = "me@abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst.freemail";
  t.add_account(address, "IdEnTiTy~id", "correct horse");

  auto login = fcpmail::engine::PasswordLogin::open(t.dir / "fcpmail.db");
  REQUIRE(login.has_value());
  auto& check = **login;

  CHECK(check.check_login(address, "correct horse") == address);
  CHECK(check.check_login("me@ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRST.FREEMAIL", "correct horse") == address);
  CHECK(check.check_login("IdEnTiTy~id", "correct horse") == address);
  CHECK_FALSE(check.check_login("identity~id", "correct horse"));  // identity ids are case-sensitive
  CHECK_FALSE(check.check_login(address, "correct horse "));
  CHECK_FALSE(check.check_login(address, ""));
  CHECK_FALSE(check.check_login("me", "correct horse"));         // no prefixes or local parts at login
  CHECK_FALSE(check.check_login("", ""));

  // An account created after the login connection was opened is seen.
  t.add_account("you@zz.freemail", "other", "pw2");
  CHECK(check.check_login("you@zz.freemail", "pw2") == std::optional<std::string>("you@zz.freemail"));
}

TEST_CASE("password login: concurrent checks from several threads while the writer writes") {
  TempDatabase t;
  t.add_account("a@x.freemail", "ida", "pa");
  auto login = fcpmail::engine::PasswordLogin::open(t.dir / "fcpmail.db");
  REQUIRE(login.has_value());
  std::atomic<int> right{0}, wrong_refused{0};
  std::vector<std::jthread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      for (int k = 0; k < 20; ++k) {
        if ((**login).check_login("a@x.freemail", "pa")) ++right;
        if (!(**login).check_login("a@x.freemail", "pb")) ++wrong_refused;
      }
    });
  for (int k = 0; k < 20; ++k) t.add_account("b" + std::to_string(k) + "@x.freemail", "idb" + std::to_string(k), "pb");
  threads.clear();
  CHECK(right == 80);
  CHECK(wrong_refused == 80);
}

TEST_CASE("password login: a missing database file is a clear error") {
  auto login = fcpmail::engine::PasswordLogin::open("/nonexistent/dir/fcpmail.db");
  REQUIRE_FALSE(login.has_value());
  CHECK(login.error().find("/nonexistent/dir/fcpmail.db") != std::string::npos);
}

TEST_CASE("password login: an unknown user costs the same scrypt as a wrong password") {
  TempDatabase t;
  // Default (real) parameters here: the point is the cost of the answer.
  SQLite::Statement q(*t.writer,
                      "INSERT INTO account (address, nickname, identity_id, request_uri, insert_uri_sealed, rsa_public,"
                      " rsa_private_sealed, rtsksk, password_hash, created_at) VALUES ('me@x.freemail', 'n', 'id',"
                      " 'USK@r', x'00', 'p', x'00', 'k', ?, 0)");
  q.bind(1, fcpmail::crypto::hash_password("right"));
  q.exec();
  auto login = fcpmail::engine::PasswordLogin::open(t.dir / "fcpmail.db");
  REQUIRE(login.has_value());
  auto& check = **login;
  CHECK_FALSE(check.check_login("nobody@x.freemail", "warm-up"));  // the decoy hash is made once
  auto fastest = [&](const std::string& user) {
    auto best = std::chrono::steady_clock::duration::max();
    for (int i = 0; i < 3; ++i) {
      const auto start = std::chrono::steady_clock::now();
      CHECK_FALSE(check.check_login(user, "wrong"));
      best = std::min(best, std::chrono::steady_clock::now() - start);
    }
    return best;
  };
  const auto known = fastest("me@x.freemail");
  const auto unknown = fastest("nobody@x.freemail");
  // Without the decoy an unknown user answers in microseconds, a known one in ~0.1 s; a loaded
  // machine blurs timings, so only the gross difference is asserted.
  CHECK(unknown * 4 >= known);
}
