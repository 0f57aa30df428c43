#include "engine/password_login.h"

#include "crypto/sealed_box.h"
#include "mail/ascii.h"

#include <SQLiteCpp/Statement.h>


namespace fcpmail::engine {

std::expected<std::unique_ptr<PasswordLogin>, std::string> PasswordLogin::open(const std::filesystem::path& database_file) {
  try {
    auto db = std::make_unique<SQLite::Database>(database_file.string(), SQLite::OPEN_READONLY);
    db->setBusyTimeout(5000);
    return std::make_unique<PasswordLogin>(std::move(db));
  } catch (const std::exception& e) {
    return std::unexpected("cannot open " + database_file.string() + " for logins: " + e.what());
  }
}

std::optional<StoredLogin> find_login(SQLite::Database& db, const std::string& user) {
  // Addresses are stored canonical (lower case); identity ids are case-sensitive Freenet base64.
  const std::string lowered = ascii::to_lower(user);
  SQLite::Statement q(db, "SELECT address, password_hash FROM account WHERE address = ? OR identity_id = ?");
  q.bind(1, lowered);
  q.bind(2, user);
  if (!q.executeStep()) return std::nullopt;
  return StoredLogin{q.getColumn(0).getString(), q.getColumn(1).getString()};
}

std::optional<std::string> PasswordLogin::check_login(const std::string& user, const std::string& password) {
  std::optional<StoredLogin> stored;
  {
    std::lock_guard lock(mutex_);
    try {
      stored = find_login(*db_, user);
    } catch (const std::exception&) {
      return std::nullopt;  // a busy or damaged database refuses the login; it never lets one through
    }
  }
  // The slow part runs outside the lock so that concurrent checks only wait for the lookup.
  if (!stored) {
    (void)crypto::verify_password(password, decoy_hash());
    return std::nullopt;
  }
  if (!crypto::verify_password(password, stored->password_hash)) return std::nullopt;
  return stored->address;
}

const std::string& PasswordLogin::decoy_hash() {
  // Default parameters, as account creation uses; the password is random and then forgotten.
  std::call_once(decoy_once_, [this] { decoy_hash_ = crypto::hash_password(crypto::random_bytes(32)); });
  return decoy_hash_;
}

}  // namespace fcpmail::engine
