// One SMTP submission session as a state machine: bytes in, replies out. No sockets, no timers and
// no password checks: the server (smtp_server.h) owns those and obeys what a Step asks for (check a
// login and hand the outcome back, a delay before the reply after a failed login, closing the
// connection). The clock and message ids are injected.
//
// Protocol: RFC 5321 (SMTP), RFC 6409 (submission), RFC 4954 + RFC 4616 (AUTH PLAIN, and LOGIN),
// RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2920 (PIPELINING), RFC 2034/3463 (ENHANCEDSTATUSCODES).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fcpmail/mailbox.h"
#include "fcpmail/submission.h"

namespace fcpmail::smtp {

struct Options {
  std::string hostname = "localhost";               // in the greeting and the EHLO reply
  std::size_t max_command_line = 4096;              // octets without CR LF (RFC 5321 minimum: 512);
                                                    // a longer command line gets 500 and the session closes
  std::size_t max_message_size = 10 * 1024 * 1024;  // advertised with SIZE
  std::size_t max_recipients = 100;
  int max_auth_failures = 3;                        // then 421 and close
  int max_bad_commands = 20;                        // then 421 and close
  std::chrono::milliseconds auth_failure_delay{1000};
  std::chrono::seconds idle_timeout{300};          // RFC 5321 4.5.3.2: at least 5 minutes
  std::size_t max_sessions = 64;                    // concurrent connections; more get 421
  // Injected so tests are deterministic. Defaults: system clock, random ids.
  std::function<std::chrono::system_clock::time_point()> now;
  std::function<std::string()> make_message_id_local;  // the part left of '@' in a Message-ID
};

// A password to check (AUTH PLAIN or LOGIN reached its end). The check is slow (scrypt), so the
// session never runs it itself: the server runs it off the I/O thread and calls login_finished().
struct LoginRequest {
  std::string user;
  std::string password;
};

// What the password check said.
struct LoginOutcome {
  std::optional<std::string> account;  // canonical address when user and password matched
  bool locked_out = false;             // refused unchecked: too many recent failures for this user
  bool unavailable = false;            // refused unchecked for now: too many logins at once, or the check failed
};

// What the server must do after feeding bytes.
struct Step {
  std::string output;                      // replies to send, in order (may be empty)
  std::chrono::milliseconds delay{0};      // wait this long before sending output
  bool close = false;                      // close after sending output
  // Send `output`, then check this login and call Session::login_finished(); until then the
  // session takes no further command (bytes fed meanwhile wait in its buffer).
  std::optional<LoginRequest> login;
};

// A one-line note for the daemon's log about something that happened in the session.
using SessionLog = std::function<void(std::string_view)>;

// Stores the copy of an accepted message in the account's Sent folder (`unix_time`: when it was
// accepted). The error is a sentence for the log; the submission stands either way.
using SentCopy = std::function<std::expected<void, std::string>(const std::string& account, const std::string& rfc822,
                                                                std::int64_t unix_time)>;
// A SentCopy that appends to the Mailbox's "Sent" folder with \Seen.
SentCopy sent_copy_to(Mailbox& mailbox);

class Session {
 public:
  // `sent_copy` may be empty (no copy is kept).
  Session(const Options& options, Submission& submission, SentCopy sent_copy, SessionLog log = {});

  std::string greeting() const;
  // The reply sent when the client was idle for too long (the server then closes).
  std::string timeout_reply() const;

  // Appends bytes from the client and handles every complete line, stopping early when a reply
  // must be delayed or the session closes. Call again with empty input while has_pending_input()
  // after honouring the delay.
  Step feed(std::string_view bytes);
  bool has_pending_input() const;
  // The outcome of the Step::login the session asked for: 235, or 535/454 (delayed, and closing
  // after too many failures); then call feed({}) while has_pending_input().
  Step login_finished(const LoginOutcome& outcome);
  bool login_pending() const { return state_ == State::auth_pending; }
  bool closed() const { return state_ == State::closed; }

  // For tests and the log.
  const std::optional<std::string>& account() const { return account_; }
  // Bytes held for this session (unhandled input and the message being received): bounded by
  // the line and size limits whatever the client sends.
  std::size_t buffered_bytes() const { return buffer_.size() + message_.size(); }

 private:
  enum class State { fresh, greeted, auth_plain, auth_login_user, auth_login_password, auth_pending, mail, data, closed };

  void handle_line(std::string_view line, Step& step);
  void handle_command(std::string_view line, Step& step);
  void handle_data_line(std::string_view line, Step& step);
  void handle_auth_response(std::string_view line, Step& step);
  void request_login(std::string user, std::string password, std::string authzid, Step& step);
  void data_fragment(std::string_view fragment);
  void finish_message(Step& step);
  void bad_command(Step& step, std::string reply);
  void reset_transaction();
  bool in_command_mode() const { return state_ != State::data; }
  void line_too_long(Step& step);
  void store_data(std::string_view bytes, bool end_of_line);
  std::string prepare_message();

  const Options& options_;
  Submission& submission_;
  SentCopy sent_copy_;
  SessionLog log_;

  State state_ = State::fresh;
  std::string buffer_;              // bytes not yet handled (bounded: see feed())
  std::optional<std::string> account_;
  std::string login_user_;          // AUTH LOGIN: the user name between the two prompts
  std::string login_authzid_;       // AUTH PLAIN: the identity asked for, checked once the login is known
  int auth_failures_ = 0;
  int bad_commands_ = 0;

  // The transaction (MAIL .. end of DATA).
  std::optional<std::string> sender_;
  std::vector<std::string> recipients_;
  std::string message_;
  bool message_too_big_ = false;
  bool data_line_open_ = false;     // part of the current DATA line is in message_ already (a very long line)
};

}  // namespace fcpmail::smtp
