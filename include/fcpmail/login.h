// LoginCheck: how IMAP, SMTP and the web UI check an account's password. engine::PasswordLogin
// implements it over the account table (salted slow hash), and the login gate (auth/login_gate.h)
// calls it on its worker thread; the servers never see how passwords are stored.
#pragma once
#include <optional>
#include <string>

namespace fcpmail {

class LoginCheck {
 public:
  virtual ~LoginCheck() = default;
  // The canonical account address if `user` (address, any case in the domain) and `password`
  // match an account; nothing otherwise. Never says which of the two was wrong.
  virtual std::optional<std::string> check_login(const std::string& user, const std::string& password) = 0;
};

}  // namespace fcpmail
