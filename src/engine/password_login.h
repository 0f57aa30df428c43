// PasswordLogin: the account password check (LoginCheck) over its own read-only connection to the
// engine's database file. The engine's connection belongs to the I/O thread; this one lets the
// login gate (src/auth/login_gate.h) run the slow scrypt check on its worker thread while the
// engine goes on. Accounts created after it was opened are seen (it reads the committed state).
#pragma once
#include "fcpmail/login.h"

#include <SQLiteCpp/Database.h>

#include <expected>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace fcpmail::engine {

// The account a login name stands for and its stored password hash: `user` is the address (the
// domain in any case) or the WoT identity id, never a prefix. Throws SQLite::Exception.
struct StoredLogin {
  std::string address;
  std::string password_hash;
};
std::optional<StoredLogin> find_login(SQLite::Database& db, const std::string& user);

class PasswordLogin final : public LoginCheck {
 public:
  // Opens `database_file` read-only; the file must exist (open_database created it).
  static std::expected<std::unique_ptr<PasswordLogin>, std::string> open(const std::filesystem::path& database_file);

  // `user` is the account's address (the domain in any case) or its WoT identity id; no prefixes.
  // Thread-safe: calls are serialised on the connection.
  std::optional<std::string> check_login(const std::string& user, const std::string& password) override;

  // Over an already open connection (open() uses it; tests may pass their own).
  explicit PasswordLogin(std::unique_ptr<SQLite::Database> db) : db_(std::move(db)) {}

 private:
  // A hash no password matches, checked for unknown users so that "no such user" costs the same
  // scrypt as a wrong password: the answer time tells no one which addresses exist, and failures
  // on made-up names are no cheaper for a guesser than failures on real ones.
  const std::string& decoy_hash();

  std::mutex mutex_;
  std::unique_ptr<SQLite::Database> db_;
  std::once_flag decoy_once_;
  std::string decoy_hash_;
};

}  // namespace fcpmail::engine
