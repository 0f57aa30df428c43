#include "smtp/smtp_session.h"

#include "crypto/base64.h"
#include "mail/ascii.h"

#include <ctime>
#include <random>

#include "smtp/smtp_parser.h"

namespace fcpmail::smtp {
namespace {

// One reply line. Its text may quote what the client typed (the engine's sentence about a
// recipient): replies are ASCII (RFC 5321), and a CR or LF in it would start a line of its own, so
// any other byte is sent as '?'.
std::string reply(int code, std::string_view enhanced, std::string_view text) {
  std::string out = std::to_string(code);
  out += ' ';
  if (!enhanced.empty()) {
    out += enhanced;
    out += ' ';
  }
  for (const char c : text) out += (c >= 32 && c < 127) ? c : '?';
  out += "\r\n";
  return out;
}

// Printable, bounded echo of something the client sent, for a reply or the log.
std::string echo(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 80)) out += (c >= 32 && c < 127) ? c : '?';
  if (s.size() > 80) out += "...";
  return out;
}

std::string rfc5322_date(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buffer;
}

std::string random_id() {
  std::random_device device;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string out;
  for (int i = 0; i < 24; ++i) out += "0123456789abcdef"[digit(device)];
  return out;
}

// Local wording, so this library does not need the store linked in (mailbox.h declares describe()).
std::string mailbox_error_text(MailboxError e) {
  switch (e) {
    case MailboxError::no_such_account: return "no such account";
    case MailboxError::locked: return "the account is locked";
    case MailboxError::no_such_folder: return "there is no Sent folder";
    case MailboxError::too_large: return "the message is too large for the store";
    case MailboxError::storage: return "the database failed";
    default: return "error " + std::to_string(static_cast<int>(e));
  }
}

// A DATA line without its end yet is stored in pieces of this size (see feed()).
constexpr std::size_t data_fragment_size = 64 * 1024;

constexpr std::string_view help_text =
    "214-2.0.0 fcpmail submission: log in with AUTH (your .freemail address and password),\r\n"
    "214-2.0.0 then MAIL FROM:<your address>, RCPT TO:<address, petname or prefix>, DATA.\r\n"
    "214 2.0.0 Commands: EHLO HELO AUTH MAIL RCPT DATA RSET NOOP VRFY HELP QUIT\r\n";

}  // namespace

SentCopy sent_copy_to(Mailbox& mailbox) {
  return [&mailbox](const std::string& account, const std::string& rfc822,
                    std::int64_t unix_time) -> std::expected<void, std::string> {
    Flags seen;
    seen.system = flag_seen;
    auto stored = mailbox.append(account, "Sent", rfc822, seen, unix_time);
    if (!stored) return std::unexpected(mailbox_error_text(stored.error()));
    return {};
  };
}

Session::Session(const Options& options, Submission& submission, SentCopy sent_copy, SessionLog log)
    : options_(options), submission_(submission), sent_copy_(std::move(sent_copy)), log_(std::move(log)) {}

std::string Session::greeting() const {
  return "220 " + options_.hostname + " ESMTP fcpmail submission service ready\r\n";
}

std::string Session::timeout_reply() const {
  return reply(421, "4.4.2", options_.hostname + " idle for too long, closing the connection");
}

bool Session::has_pending_input() const {
  return state_ != State::closed && state_ != State::auth_pending && buffer_.find('\n') != std::string::npos;
}

Step Session::feed(std::string_view bytes) {
  Step step;
  if (state_ == State::closed) return step;
  buffer_.append(bytes);
  std::size_t pos = 0;
  while (state_ != State::closed && state_ != State::auth_pending && step.delay.count() == 0 && !step.close) {
    const std::size_t lf = buffer_.find('\n', pos);
    if (lf == std::string::npos) {
      // No end of line yet. Memory stays bounded: a command line longer than the limit ends the
      // session; a long DATA line is stored (or counted against the size limit) piece by piece.
      const std::size_t waiting = buffer_.size() - pos;
      if (in_command_mode()) {
        if (waiting > options_.max_command_line + 1) {
          line_too_long(step);
          pos = buffer_.size();
        }
      } else if (waiting > data_fragment_size) {
        std::size_t take = waiting;
        if (buffer_.back() == '\r') --take;  // may be the start of the CR LF
        data_fragment(std::string_view(buffer_).substr(pos, take));
        pos += take;
      }
      break;
    }
    std::string_view line(buffer_.data() + pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string owned(line);  // handle_line may not keep views into buffer_
    pos = lf + 1;
    handle_line(owned, step);
  }
  buffer_.erase(0, pos);
  return step;
}

void Session::line_too_long(Step& step) {
  // RFC 5321 4.5.3.1.4: 500. Closing keeps a client that streams one endless line from costing more.
  step.output += reply(500, "5.5.6", "Line too long: the limit is " + std::to_string(options_.max_command_line) +
                                         " octets; closing the connection");
  step.close = true;
  state_ = State::closed;
  if (log_) log_("smtp: command line over " + std::to_string(options_.max_command_line) + " octets, closed");
}

void Session::handle_line(std::string_view line, Step& step) {
  if (state_ == State::data) return handle_data_line(line, step);
  if (line.size() > options_.max_command_line) return line_too_long(step);
  if (state_ == State::auth_plain || state_ == State::auth_login_user || state_ == State::auth_login_password)
    return handle_auth_response(line, step);
  handle_command(line, step);
}

void Session::bad_command(Step& step, std::string text) {
  step.output += text;
  if (++bad_commands_ >= options_.max_bad_commands) {
    step.output += reply(421, "4.7.0", "Too many errors, closing the connection");
    step.close = true;
    state_ = State::closed;
  }
}

void Session::reset_transaction() {
  sender_.reset();
  recipients_.clear();
  message_.clear();
  message_too_big_ = false;
  data_line_open_ = false;
}

void Session::handle_command(std::string_view line, Step& step) {
  const Command command = parse_command(line);
  if (line.empty()) return bad_command(step, reply(500, "5.5.2", "Empty command"));
  switch (command.verb) {
    case Verb::Ehlo:
    case Verb::Helo: {
      if (command.argument.empty()) {
        return bad_command(step, reply(501, "5.5.4", "Syntax: " + command.verb_text + " your-hostname"));
      }
      reset_transaction();
      state_ = State::greeted;
      if (command.verb == Verb::Helo) {
        step.output += "250 " + options_.hostname + "\r\n";
        return;
      }
      step.output += "250-" + options_.hostname + " greets " + echo(command.argument) + "\r\n";
      step.output += "250-PIPELINING\r\n";
      step.output += "250-SIZE " + std::to_string(options_.max_message_size) + "\r\n";
      step.output += "250-8BITMIME\r\n";
      step.output += "250-ENHANCEDSTATUSCODES\r\n";
      step.output += "250-AUTH PLAIN LOGIN\r\n";
      step.output += "250 HELP\r\n";
      return;
    }
    case Verb::Auth: {
      if (state_ == State::fresh) return bad_command(step, reply(503, "5.5.1", "Send EHLO first"));
      if (account_) return bad_command(step, reply(503, "5.5.1", "Already authenticated"));
      if (sender_) return bad_command(step, reply(503, "5.5.1", "AUTH is not allowed during a mail transaction"));
      auto [mechanism, initial] = split_auth_argument(command.argument);
      if (mechanism.empty()) return bad_command(step, reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"));
      if (mechanism == "PLAIN") {
        state_ = State::auth_plain;
        if (initial) return handle_auth_response(*initial == "=" ? std::string_view{} : std::string_view{*initial}, step);
        step.output += "334 \r\n";
        return;
      }
      if (mechanism == "LOGIN") {
        state_ = State::auth_login_user;
        if (initial) return handle_auth_response(*initial == "=" ? std::string_view{} : std::string_view{*initial}, step);
        step.output += "334 " + crypto::base64_encode("Username:") + "\r\n";
        return;
      }
      return bad_command(step, reply(504, "5.5.4", "Unrecognized authentication mechanism " + echo(mechanism) +
                                                       "; use PLAIN or LOGIN"));
    }
    case Verb::Mail: {
      if (state_ == State::fresh) return bad_command(step, reply(503, "5.5.1", "Send EHLO first"));
      if (!account_) {
        return bad_command(step, reply(530, "5.7.0",
                                       "Authentication required: log in with your .freemail address and password"));
      }
      if (sender_) return bad_command(step, reply(503, "5.5.1", "Sender already given; send RSET to start over"));
      auto path = parse_path_argument(command.argument, "FROM");
      if (!path) return bad_command(step, reply(501, "5.5.4", path.error()));
      for (const auto& p : path->parameters) {
        if (p.keyword == "SIZE") {
          const auto size = parse_size_value(p.value);
          if (!size) return bad_command(step, reply(501, "5.5.4", "SIZE needs a decimal number"));
          if (*size > options_.max_message_size) {
            step.output += reply(552, "5.3.4", "Message too big: the limit is " +
                                                   std::to_string(options_.max_message_size) + " octets");
            return;
          }
        } else if (p.keyword == "BODY") {
          if (!same_address(p.value, "7BIT") && !same_address(p.value, "8BITMIME"))
            return bad_command(step, reply(501, "5.5.4", "BODY must be 7BIT or 8BITMIME"));
        } else if (p.keyword == "AUTH") {
          // RFC 4954 section 5: accepted and ignored.
        } else {
          return bad_command(step, reply(555, "5.5.4", "Parameter " + echo(p.keyword) + " is not supported"));
        }
      }
      if (path->address.empty() || !same_address(path->address, *account_)) {
        step.output += reply(553, "5.7.1", "Sender <" + echo(path->address) + "> is not your account; send as <" +
                                               *account_ + ">");
        return;
      }
      sender_ = *account_;
      state_ = State::mail;
      step.output += reply(250, "2.1.0", "Sender <" + *account_ + "> ok");
      return;
    }
    case Verb::Rcpt: {
      if (!sender_) return bad_command(step, reply(503, "5.5.1", "Send MAIL FROM first"));
      auto path = parse_path_argument(command.argument, "TO");
      if (!path) return bad_command(step, reply(501, "5.5.4", path.error()));
      if (!path->parameters.empty()) {
        return bad_command(step, reply(555, "5.5.4", "Parameter " + echo(path->parameters.front().keyword) +
                                                         " is not supported"));
      }
      if (path->address.empty()) return bad_command(step, reply(501, "5.1.3", "The recipient address is empty"));
      if (recipients_.size() >= options_.max_recipients) {
        step.output += reply(452, "4.5.3", "Too many recipients: at most " + std::to_string(options_.max_recipients) +
                                               " per message");
        return;
      }
      auto resolved = submission_.resolve_recipient(*account_, path->address);
      if (!resolved && resolved.error().reason == RecipientRefusal::Reason::unknown) {
        // Clients such as mutt append their own host name to a bare name ("bob" -> "bob@myhost").
        // When the domain is a bare host name (no dot), the part before '@' may be a petname.
        const auto at = path->address.rfind('@');
        if (at != std::string::npos && at > 0 && path->address.find('.', at) == std::string::npos) {
          auto local = submission_.resolve_recipient(*account_, std::string_view(path->address).substr(0, at));
          if (local || local.error().reason == RecipientRefusal::Reason::not_allowed) resolved = std::move(local);
        } else if (at != std::string::npos && !path->address.ends_with(".freemail")) {
          step.output += reply(550, "5.1.2", "<" + echo(path->address) +
                                                 "> is not a Freemail address: fcpmail sends only to .freemail "
                                                 "addresses and to contacts by their petname (write the petname "
                                                 "alone, e.g. bob)");
          return;
        }
      }
      if (!resolved && resolved.error().reason == RecipientRefusal::Reason::not_allowed) {
        // A contact the user revoked or denied: the sentence names them and the way back.
        step.output += reply(550, "5.7.1", resolved.error().sentence);
        return;
      }
      if (!resolved) {
        step.output += reply(550, "5.1.1", "<" + echo(path->address) + ">: " + resolved.error().sentence);
        return;
      }
      bool known = false;
      for (const auto& r : recipients_) known = known || r == *resolved;
      if (!known) recipients_.push_back(*resolved);
      step.output += reply(250, "2.1.5", "Recipient <" + *resolved + "> ok");
      return;
    }
    case Verb::Data: {
      if (!command.argument.empty()) return bad_command(step, reply(501, "5.5.4", "DATA takes no argument"));
      if (!sender_) return bad_command(step, reply(503, "5.5.1", "Send MAIL FROM first"));
      if (recipients_.empty()) return bad_command(step, reply(554, "5.5.1", "No valid recipients"));
      state_ = State::data;
      message_.clear();
      message_too_big_ = false;
      data_line_open_ = false;
      step.output += "354 End data with <CR><LF>.<CR><LF>\r\n";
      return;
    }
    case Verb::Rset:
      reset_transaction();
      if (state_ != State::fresh) state_ = State::greeted;
      step.output += reply(250, "2.0.0", "Ok");
      return;
    case Verb::Noop:
      step.output += reply(250, "2.0.0", "Ok");
      return;
    case Verb::Quit:
      step.output += reply(221, "2.0.0", "Bye");
      step.close = true;
      state_ = State::closed;
      return;
    case Verb::Vrfy:
      step.output += reply(252, "2.5.2", "Cannot VRFY; give the recipient to RCPT TO instead");
      return;
    case Verb::Expn:
      step.output += reply(502, "5.5.1", "EXPN is not available");
      return;
    case Verb::Help:
      step.output += help_text;
      return;
    case Verb::Starttls:
      step.output += reply(502, "5.5.1", "STARTTLS is not offered: this server listens on the loopback interface only");
      return;
    case Verb::Unknown:
      return bad_command(step, reply(500, "5.5.2", "Command not recognized: " + echo(command.verb_text)));
  }
}

void Session::handle_auth_response(std::string_view line, Step& step) {
  const State was = state_;
  if (line == "*") {
    state_ = State::greeted;
    step.output += reply(501, "5.7.0", "Authentication cancelled");
    return;
  }
  const auto decoded = crypto::base64_decode(line, crypto::Base64Padding::optional);
  if (!decoded) {
    state_ = State::greeted;
    return bad_command(step, reply(501, "5.5.2", "Cannot decode the base64 response"));
  }
  if (was == State::auth_plain) {
    const auto credentials = parse_sasl_plain(*decoded);
    if (!credentials) {
      state_ = State::greeted;
      return bad_command(step, reply(501, "5.5.2", "Malformed PLAIN response (expected authzid NUL user NUL password)"));
    }
    return request_login(credentials->authcid, credentials->password, credentials->authzid, step);
  }
  if (was == State::auth_login_user) {
    login_user_ = *decoded;
    state_ = State::auth_login_password;
    step.output += "334 " + crypto::base64_encode("Password:") + "\r\n";
    return;
  }
  request_login(std::move(login_user_), *decoded, "", step);
}

void Session::request_login(std::string user, std::string password, std::string authzid, Step& step) {
  state_ = State::auth_pending;
  login_user_ = user;
  login_authzid_ = std::move(authzid);
  step.login = LoginRequest{std::move(user), std::move(password)};
}

Step Session::login_finished(const LoginOutcome& outcome) {
  Step step;
  if (state_ != State::auth_pending) return step;
  state_ = State::greeted;
  const std::string user = std::move(login_user_);
  const std::string authzid = std::move(login_authzid_);
  login_user_.clear();
  login_authzid_.clear();
  if (outcome.account && (authzid.empty() || same_address(authzid, *outcome.account))) {
    account_ = *outcome.account;
    if (log_) log_("smtp: " + *account_ + " logged in");
    step.output += reply(235, "2.7.0", "Authentication successful");
    return step;
  }
  if (outcome.unavailable) {
    // No password was judged, so this is no failed login: no delay, not counted (RFC 4954 454).
    if (log_) log_("smtp: login as " + echo(user) + " refused for now (too many logins at once)");
    step.output += reply(454, "4.7.0", "Temporary authentication failure: too many logins at once, try again in a moment");
    return step;
  }
  ++auth_failures_;
  if (log_) log_("smtp: failed login as " + echo(user) + (outcome.locked_out ? " (locked out)" : ""));
  step.delay = options_.auth_failure_delay;
  if (outcome.locked_out) {
    step.output += reply(454, "4.7.0",
                         "Too many failed logins for this account: it is locked for a while, try again later");
  } else {
    step.output += reply(535, "5.7.8",
                         "Authentication credentials invalid (the user name is your full .freemail address)");
  }
  if (auth_failures_ >= options_.max_auth_failures) {
    step.output += reply(421, "4.7.0", "Too many failed logins, closing the connection");
    step.close = true;
    state_ = State::closed;
  }
  return step;
}

void Session::handle_data_line(std::string_view line, Step& step) {
  if (!data_line_open_) {
    if (line == ".") return finish_message(step);
    if (!line.empty() && line.front() == '.') line.remove_prefix(1);  // dot-unstuffing (RFC 5321 4.5.2)
  }
  data_line_open_ = false;
  store_data(line, true);
}

void Session::data_fragment(std::string_view fragment) {
  // The start of a line too long to wait for: it cannot be the lone "." that ends DATA.
  if (!data_line_open_ && !fragment.empty() && fragment.front() == '.') fragment.remove_prefix(1);
  data_line_open_ = true;
  store_data(fragment, false);
}

void Session::store_data(std::string_view bytes, bool end_of_line) {
  if (message_too_big_) return;  // only the final 552 is left to say: nothing more is kept
  if (message_.size() + bytes.size() + (end_of_line ? 2 : 0) > options_.max_message_size) {
    message_too_big_ = true;
    message_.clear();
    message_.shrink_to_fit();
    return;
  }
  message_.append(bytes);
  if (end_of_line) message_.append("\r\n");
}

std::string Session::prepare_message() {
  // RFC 6409 section 8: a submission server may add a missing Date and Message-ID.
  std::string_view header(message_);
  const auto end = message_.starts_with("\r\n") ? 0 : message_.find("\r\n\r\n");
  if (end != std::string::npos) header = header.substr(0, end + 2);
  bool has_date = false;
  bool has_message_id = false;
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto next = header.find("\r\n", pos);
    if (next == std::string_view::npos) next = header.size();
    const std::string_view field = header.substr(pos, next - pos);
    has_date = has_date || ascii::istarts_with(field, "date:");
    has_message_id = has_message_id || ascii::istarts_with(field, "message-id:");
    pos = next + 2;
  }
  std::string added;
  const auto now = options_.now ? options_.now() : std::chrono::system_clock::now();
  if (!has_date) added += "Date: " + rfc5322_date(now) + "\r\n";
  if (!has_message_id) {
    const auto at = account_->find('@');
    const std::string domain = at == std::string::npos ? options_.hostname : account_->substr(at + 1);
    const std::string local = options_.make_message_id_local ? options_.make_message_id_local() : random_id();
    added += "Message-ID: <" + local + "@" + domain + ">\r\n";
  }
  if (end == std::string::npos && !message_.empty()) {
    // Headers only, no body: keep it a valid message with an empty body.
    return added + message_ + "\r\n";
  }
  return added + message_;
}

void Session::finish_message(Step& step) {
  state_ = State::greeted;
  if (message_too_big_) {
    reset_transaction();
    step.output += reply(552, "5.3.4", "Message too big: the limit is " + std::to_string(options_.max_message_size) +
                                           " octets");
    return;
  }
  std::string message = prepare_message();
  const auto now = options_.now ? options_.now() : std::chrono::system_clock::now();
  auto id = submission_.submit(*account_, recipients_, message);
  if (!id) {
    reset_transaction();
    step.output += reply(554, "5.3.0", "Not queued: " + id.error());
    return;
  }
  if (log_) {
    log_("smtp: message from " + *account_ + " to " + std::to_string(recipients_.size()) +
         " recipient(s) queued in the outbox as " + *id);
  }
  if (sent_copy_) {
    const auto unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    auto stored = sent_copy_(*account_, message, unix_seconds);
    if (!stored && log_) log_("smtp: could not store a copy in Sent for " + *account_ + ": " + stored.error());
  }
  reset_transaction();
  step.output += reply(250, "2.0.0", "Queued as " + *id + " in the fcpmail outbox; see `fcpmail outbox show " + *id + "`");
}

}  // namespace fcpmail::smtp
