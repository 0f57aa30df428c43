#include "imap/imap_session.h"
#include "crypto/base64.h"
#include "mail/ascii.h"

#include <algorithm>
#include <array>
#include <chrono>

namespace fcpmail::imap {
namespace {

constexpr std::string_view capabilities =
    "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE SPECIAL-USE NAMESPACE CHILDREN ENABLE ID UNSELECT AUTH=PLAIN";

using ascii::icontains;  // SEARCH matches substrings ignoring ASCII case
using ascii::iequals;

std::string flags_text(const Flags& f, bool recent) {
  std::string r = "(";
  auto add = [&](std::string_view s) {
    if (r.size() > 1) r += ' ';
    r += s;
  };
  if (f.system & flag_answered) add("\\Answered");
  if (f.system & flag_flagged) add("\\Flagged");
  if (f.system & flag_deleted) add("\\Deleted");
  if (f.system & flag_seen) add("\\Seen");
  if (f.system & flag_draft) add("\\Draft");
  if (recent) add("\\Recent");
  for (auto& k : f.keywords) add(k);
  r += ')';
  return r;
}

std::string_view response_code(MailboxError e) {
  switch (e) {
    case MailboxError::no_such_folder: return "[NONEXISTENT] ";
    case MailboxError::folder_exists: return "[ALREADYEXISTS] ";
    case MailboxError::not_permitted: return "[CANNOT] ";
    case MailboxError::too_large: return "[LIMIT] ";
    case MailboxError::locked:
    case MailboxError::storage: return "[UNAVAILABLE] ";
    case MailboxError::corrupt: return "[CORRUPTION] ";
    case MailboxError::invalid_name: return "[CANNOT] ";
    default: return "";
  }
}

// LIST pattern: '*' matches anything, '%' anything but the delimiter.
bool list_match(std::string_view pat, std::string_view name) {
  if (pat.empty()) return name.empty();
  if (pat[0] == '*' || pat[0] == '%') {
    for (std::size_t k = 0; k <= name.size(); ++k) {
      if (list_match(pat.substr(1), name.substr(k))) return true;
      if (k < name.size() && pat[0] == '%' && name[k] == '/') return false;
    }
    return false;
  }
  return !name.empty() && pat[0] == name[0] && list_match(pat.substr(1), name.substr(1));
}

std::string special_attr(SpecialUse s) {
  switch (s) {
    case SpecialUse::sent: return "\\Sent";
    case SpecialUse::drafts: return "\\Drafts";
    case SpecialUse::trash: return "\\Trash";
    default: return "";
  }
}

// "1:3,7" from sorted numbers.
std::string compress_set(const std::vector<std::uint32_t>& v) {
  std::string r;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!r.empty()) r += ',';
    r += std::to_string(v[i]);
    if (j > i) r += ':' + std::to_string(v[j]);
    i = j + 1;
  }
  return r;
}

// ---- SEARCH keys ----------------------------------------------------------------------------

struct SearchKey {
  enum class Op {
    all, and_, or_, not_, seqset, uidset, flag_set, flag_unset, keyword, unkeyword, recent, new_, old,
    before, on, since, sent_before, sent_on, sent_since, larger, smaller,
    from, to, cc, bcc, subject, header, body, text
  };
  Op op = Op::all;
  std::vector<SearchKey> kids;
  std::uint8_t flag = 0;
  std::string a, b;
  std::int64_t n = 0;
  SequenceSet set;
};

class SearchParser {
 public:
  SearchParser(const std::vector<Value>& args, std::size_t i) : args_(args), i_(i) {}

  std::expected<SearchKey, std::string> all() {
    SearchKey root;
    root.op = SearchKey::Op::and_;
    while (i_ < args_.size()) {
      auto k = key(0);
      if (!k) return k;
      root.kids.push_back(std::move(*k));
    }
    if (root.kids.empty()) return std::unexpected("missing search key");
    return root;
  }

 private:
  std::expected<std::string, std::string> astring() {
    if (i_ >= args_.size() || !args_[i_].is_astring()) return std::unexpected("missing search argument");
    return args_[i_++].text;
  }
  std::expected<std::int64_t, std::string> date() {
    auto s = astring();
    if (!s) return std::unexpected(s.error());
    auto d = parse_search_date(*s);
    if (!d) return std::unexpected("invalid date " + s->substr(0, 30));
    return *d;
  }
  std::expected<std::int64_t, std::string> number() {
    auto s = astring();
    if (!s) return std::unexpected(s.error());
    if (s->empty() || s->size() > 10 || !std::all_of(s->begin(), s->end(), ::isdigit))
      return std::unexpected("invalid number");
    return std::stoll(*s);
  }

  std::expected<SearchKey, std::string> key(int depth) {
    using Op = SearchKey::Op;
    if (depth > 64) return std::unexpected("search nested too deeply");
    if (i_ >= args_.size()) return std::unexpected("missing search key");
    const Value& v = args_[i_++];
    SearchKey k;
    if (v.is_list()) {
      SearchParser sub(v.items, 0);
      sub.depth_ = depth + 1;
      k.op = Op::and_;
      while (sub.i_ < v.items.size()) {
        auto kid = sub.key(depth + 1);
        if (!kid) return kid;
        k.kids.push_back(std::move(*kid));
      }
      if (k.kids.empty()) return std::unexpected("empty search list");
      return k;
    }
    if (!v.is_atom()) return std::unexpected("expected a search key");
    std::string u = ascii::to_upper(v.text);
    auto flag = [&](Op op, std::uint8_t f) {
      k.op = op;
      k.flag = f;
      return k;
    };
    auto with_string = [&](Op op) -> std::expected<SearchKey, std::string> {
      k.op = op;
      auto s = astring();
      if (!s) return std::unexpected(s.error());
      k.a = std::move(*s);
      return k;
    };
    auto with_date = [&](Op op) -> std::expected<SearchKey, std::string> {
      k.op = op;
      auto d = date();
      if (!d) return std::unexpected(d.error());
      k.n = *d;
      return k;
    };
    if (u == "ALL") { k.op = Op::all; return k; }
    if (u == "ANSWERED") return flag(Op::flag_set, flag_answered);
    if (u == "DELETED") return flag(Op::flag_set, flag_deleted);
    if (u == "DRAFT") return flag(Op::flag_set, flag_draft);
    if (u == "FLAGGED") return flag(Op::flag_set, flag_flagged);
    if (u == "SEEN") return flag(Op::flag_set, flag_seen);
    if (u == "UNANSWERED") return flag(Op::flag_unset, flag_answered);
    if (u == "UNDELETED") return flag(Op::flag_unset, flag_deleted);
    if (u == "UNDRAFT") return flag(Op::flag_unset, flag_draft);
    if (u == "UNFLAGGED") return flag(Op::flag_unset, flag_flagged);
    if (u == "UNSEEN") return flag(Op::flag_unset, flag_seen);
    if (u == "RECENT") { k.op = Op::recent; return k; }
    if (u == "NEW") { k.op = Op::new_; return k; }
    if (u == "OLD") { k.op = Op::old; return k; }
    if (u == "KEYWORD") return with_string(Op::keyword);
    if (u == "UNKEYWORD") return with_string(Op::unkeyword);
    if (u == "BEFORE") return with_date(Op::before);
    if (u == "ON") return with_date(Op::on);
    if (u == "SINCE") return with_date(Op::since);
    if (u == "SENTBEFORE") return with_date(Op::sent_before);
    if (u == "SENTON") return with_date(Op::sent_on);
    if (u == "SENTSINCE") return with_date(Op::sent_since);
    if (u == "FROM") return with_string(Op::from);
    if (u == "TO") return with_string(Op::to);
    if (u == "CC") return with_string(Op::cc);
    if (u == "BCC") return with_string(Op::bcc);
    if (u == "SUBJECT") return with_string(Op::subject);
    if (u == "BODY") return with_string(Op::body);
    if (u == "TEXT") return with_string(Op::text);
    if (u == "LARGER" || u == "SMALLER") {
      k.op = u == "LARGER" ? Op::larger : Op::smaller;
      auto n = number();
      if (!n) return std::unexpected(n.error());
      k.n = *n;
      return k;
    }
    if (u == "HEADER") {
      k.op = Op::header;
      auto name = astring();
      if (!name) return std::unexpected(name.error());
      auto value = astring();
      if (!value) return std::unexpected(value.error());
      k.a = std::move(*name);
      k.b = std::move(*value);
      return k;
    }
    if (u == "UID") {
      k.op = Op::uidset;
      auto s = astring();
      if (!s) return std::unexpected(s.error());
      auto set = parse_sequence_set(*s);
      if (!set) return std::unexpected("invalid UID set");
      k.set = std::move(*set);
      return k;
    }
    if (u == "NOT") {
      k.op = Op::not_;
      auto kid = key(depth + 1);
      if (!kid) return kid;
      k.kids.push_back(std::move(*kid));
      return k;
    }
    if (u == "OR") {
      k.op = Op::or_;
      for (int j = 0; j < 2; ++j) {
        auto kid = key(depth + 1);
        if (!kid) return kid;
        k.kids.push_back(std::move(*kid));
      }
      return k;
    }
    if (auto set = parse_sequence_set(v.text)) {
      k.op = Op::seqset;
      k.set = std::move(*set);
      return k;
    }
    return std::unexpected("unknown search key " + v.text.substr(0, 40));
  }

  const std::vector<Value>& args_;
  std::size_t i_;
  int depth_ = 0;
};

FramerLimits unauthenticated_limits(const SessionOptions& o) {
  FramerLimits l = o.limits;
  l.max_literal = std::min(l.max_literal, o.max_literal_unauthenticated);
  l.max_command = std::min(l.max_command, l.max_line + o.max_literal_unauthenticated);
  return l;
}

}  // namespace

// ---- construction --------------------------------------------------------------------------

class Session::OwnWrite {
 public:
  explicit OwnWrite(Watch& w) : w_(w) {
    std::lock_guard lock(w_.mutex);
    w_.own_write = true;
    w_.writer = std::this_thread::get_id();
  }
  ~OwnWrite() {
    std::lock_guard lock(w_.mutex);
    w_.own_write = false;
  }
  OwnWrite(const OwnWrite&) = delete;
  OwnWrite& operator=(const OwnWrite&) = delete;

 private:
  Watch& w_;
};

Session::Session(Mailbox& mailbox, LoginCheck& login, SessionOptions options)
    : mailbox_(mailbox), login_(login), options_(options), framer_(unauthenticated_limits(options)),
      watch_(std::make_shared<Watch>()) {
  // The listener may run on any thread, even after this session is gone: it holds the Watch only.
  std::weak_ptr<Watch> weak = watch_;
  listener_id_ = mailbox_.add_listener([weak](const MailboxEvent& e) {
    auto w = weak.lock();
    if (!w) return;
    std::function<void()> wake;
    {
      std::lock_guard lock(w->mutex);
      if (w->folder.empty() || e.account != w->account) return;
      if (e.kind != MailboxEvent::Kind::folders_changed && e.folder != w->folder) return;
      if (e.kind != MailboxEvent::Kind::folders_changed && w->own_write && w->writer == std::this_thread::get_id())
        return;
      w->dirty = true;
      wake = w->wake;
    }
    if (wake) wake();
  });
}

Session::~Session() { mailbox_.remove_listener(listener_id_); }

void Session::set_wake(std::function<void()> wake) {
  std::lock_guard lock(watch_->mutex);
  watch_->wake = std::move(wake);
}

std::string Session::greeting() const {
  return "* OK [CAPABILITY " + std::string(capabilities) + "] fcpmail IMAP4rev1 ready\r\n";
}

// ---- input ---------------------------------------------------------------------------------

std::string Session::receive(std::string_view bytes) {
  std::string out;
  if (closed_) return out;
  framer_.feed(bytes);
  if (login_waiting_) {
    // Kept for after the verdict, within bounds.
    if (framer_.buffered() > options_.max_buffered_while_pending) {
      out += "* BYE too much input while logging in\r\n";
      closed_ = true;
      state_ = State::logout;
    }
    return out;
  }
  drain(out);
  return out;
}

void Session::drain(std::string& out) {
  while (!closed_ && !login_waiting_) {
    auto ev = framer_.next();
    if (std::holds_alternative<CommandFramer::NeedMore>(ev)) break;
    if (std::holds_alternative<CommandFramer::Continue>(ev)) {
      out += "+ Ready for literal data\r\n";
      continue;
    }
    if (auto* r = std::get_if<CommandFramer::Reject>(&ev)) {
      bad(out, r->tag, r->text);
      if (r->close && !closed_) {
        out += "* BYE literal too large\r\n";
        closed_ = true;
        state_ = State::logout;
      }
      continue;
    }
    auto& cmd = std::get<CommandFramer::Command>(ev);
    if (pending_ != Pending::none) handle_continuation_line(cmd.raw, out);
    else handle_command(cmd.raw, out);
  }
}

std::optional<LoginRequest> Session::take_login_request() {
  auto r = std::move(login_request_);
  login_request_.reset();
  return r;
}

std::string Session::login_finished(const std::optional<std::string>& account) {
  std::string out;
  if (!login_waiting_) return out;
  login_waiting_ = false;
  login_request_.reset();
  auto request = std::exchange(login_checking_, {});
  complete_login(std::exchange(login_tag_, {}), account, request, login_is_authenticate_, out);
  if (!closed_) drain(out);
  return out;
}

std::string Session::login_unavailable(std::string_view why) {
  std::string out;
  if (!login_waiting_) return out;
  login_waiting_ = false;
  login_request_.reset();
  login_checking_ = {};
  consecutive_bad_ = 0;
  out += std::exchange(login_tag_, {}) + " NO [UNAVAILABLE] " + std::string(why) + "\r\n";
  if (!closed_) drain(out);
  return out;
}

std::string Session::poll() {
  std::string out;
  if (pending_ == Pending::idle && state_ == State::selected) sync(out, true);
  return out;
}

void Session::handle_continuation_line(const std::string& raw, std::string& out) {
  std::string_view line = raw;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  auto tag = std::exchange(pending_tag_, {});
  auto what = std::exchange(pending_, Pending::none);
  if (what == Pending::idle) {
    if (!iequals(line, "DONE")) {
      bad(out, tag, "expected DONE");
      return;
    }
    if (state_ == State::selected) sync(out, true);
    ok(out, tag, "IDLE terminated");
    return;
  }
  // AUTHENTICATE response.
  if (line == "*") {
    bad(out, tag, "AUTHENTICATE cancelled");
    return;
  }
  finish_authenticate(tag, line, out);
}

void Session::handle_command(const std::string& raw, std::string& out) {
  if (options_.trace) options_.trace(std::string_view(raw).substr(0, std::min<std::size_t>(raw.find('\n'), 300)));
  auto parsed = parse_command(raw);
  if (!parsed) {
    bad(out, parsed.error().tag, parsed.error().text);
    return;
  }
  dispatch(*parsed, out);
}

void Session::bad(std::string& out, const std::string& tag, std::string_view text) {
  out += tag + " BAD " + std::string(text) + "\r\n";
  if (++consecutive_bad_ >= options_.max_consecutive_bad) {
    out += "* BYE too many invalid commands\r\n";
    closed_ = true;
    state_ = State::logout;
  }
}

void Session::ok(std::string& out, const std::string& tag, std::string_view text) {
  consecutive_bad_ = 0;
  out += tag + " OK " + std::string(text) + "\r\n";
}

void Session::no(std::string& out, const std::string& tag, MailboxError e, std::string_view what) {
  consecutive_bad_ = 0;
  out += tag + " NO " + std::string(response_code(e)) + std::string(what) + ": " + std::string(describe(e)) + "\r\n";
}

void Session::dispatch(const Command& c, std::string& out) {
  const std::string& n = c.name;
  auto need = [&](std::initializer_list<State> states) {
    for (auto s : states)
      if (state_ == s) return true;
    bad(out, c.tag, n + " is not valid in this state");
    return false;
  };
  using S = State;
  if (n != "LOGOUT") ensure_view();
  if (n == "CAPABILITY") return cmd_capability(c, out);
  if (n == "NOOP" || n == "CHECK") {
    if (n == "CHECK" && !need({S::selected})) return;
    if (state_ == S::selected) sync(out, true);
    return ok(out, c.tag, n + " completed");
  }
  if (n == "LOGOUT") {
    out += "* BYE fcpmail logging out\r\n";
    ok(out, c.tag, "LOGOUT completed");
    closed_ = true;
    state_ = S::logout;
    unselect();
    return;
  }
  if (n == "ID") return cmd_id(c, out);
  if (n == "LOGIN") { if (need({S::not_authenticated})) cmd_login(c, out); return; }
  if (n == "AUTHENTICATE") { if (need({S::not_authenticated})) cmd_authenticate(c, out); return; }
  if (n == "STARTTLS") return bad(out, c.tag, "STARTTLS is not offered (loopback only)");
  if (n == "SELECT" || n == "EXAMINE") {
    if (need({S::authenticated, S::selected})) cmd_select(c, out, n == "EXAMINE");
    return;
  }
  if (n == "CREATE") { if (need({S::authenticated, S::selected})) cmd_create(c, out); return; }
  if (n == "DELETE") { if (need({S::authenticated, S::selected})) cmd_delete(c, out); return; }
  if (n == "RENAME") { if (need({S::authenticated, S::selected})) cmd_rename(c, out); return; }
  if (n == "SUBSCRIBE" || n == "UNSUBSCRIBE") {
    if (need({S::authenticated, S::selected})) cmd_subscribe(c, out, n == "SUBSCRIBE");
    return;
  }
  if (n == "LIST" || n == "LSUB") {
    if (need({S::authenticated, S::selected})) cmd_list(c, out, n == "LSUB");
    return;
  }
  if (n == "STATUS") { if (need({S::authenticated, S::selected})) cmd_status(c, out); return; }
  if (n == "APPEND") { if (need({S::authenticated, S::selected})) cmd_append(c, out); return; }
  if (n == "NAMESPACE") { if (need({S::authenticated, S::selected})) cmd_namespace(c, out); return; }
  if (n == "ENABLE") { if (need({S::authenticated, S::selected})) cmd_enable(c, out); return; }
  if (n == "IDLE") { if (need({S::authenticated, S::selected})) cmd_idle(c, out); return; }
  if (n == "CLOSE" || n == "UNSELECT") {
    if (need({S::selected})) cmd_close(c, out, n == "CLOSE");
    return;
  }
  if (n == "EXPUNGE") { if (need({S::selected})) cmd_expunge(c, out, false, 0); return; }
  if (n == "SEARCH") { if (need({S::selected})) cmd_search(c, out, false, 0); return; }
  if (n == "FETCH") { if (need({S::selected})) cmd_fetch(c, out, false, 0); return; }
  if (n == "STORE") { if (need({S::selected})) cmd_store(c, out, false, 0); return; }
  if (n == "COPY" || n == "MOVE") {
    if (need({S::selected})) cmd_copy(c, out, false, 0, n == "MOVE");
    return;
  }
  if (n == "UID") {
    if (!need({S::selected})) return;
    if (c.args.empty() || !c.args[0].is_atom()) return bad(out, c.tag, "UID needs a command");
    std::string sub = ascii::to_upper(c.args[0].text);
    if (sub == "FETCH") return cmd_fetch(c, out, true, 1);
    if (sub == "STORE") return cmd_store(c, out, true, 1);
    if (sub == "SEARCH") return cmd_search(c, out, true, 1);
    if (sub == "COPY") return cmd_copy(c, out, true, 1, false);
    if (sub == "MOVE") return cmd_copy(c, out, true, 1, true);
    if (sub == "EXPUNGE") return cmd_expunge(c, out, true, 1);
    return bad(out, c.tag, "unknown UID command");
  }
  bad(out, c.tag, "unknown command");
}

// ---- any state -----------------------------------------------------------------------------

void Session::cmd_capability(const Command& c, std::string& out) {
  out += "* CAPABILITY " + std::string(capabilities) + "\r\n";
  ok(out, c.tag, "CAPABILITY completed");
}

void Session::cmd_id(const Command& c, std::string& out) {
  if (c.args.size() != 1 || !(c.args[0].is_nil() || c.args[0].is_list())) return bad(out, c.tag, "ID takes NIL or a list");
  out += "* ID (\"name\" \"fcpmail\" \"vendor\" \"fcpmail\" \"support-url\" NIL)\r\n";
  ok(out, c.tag, "ID completed");
}

// ---- not authenticated ---------------------------------------------------------------------

void Session::cmd_login(const Command& c, std::string& out) {
  if (c.args.size() != 2 || !c.args[0].is_astring() || !c.args[1].is_astring())
    return bad(out, c.tag, "LOGIN takes a user name and a password");
  begin_login(c.tag, LoginRequest{c.args[0].text, c.args[1].text, {}}, false, out);
}

void Session::begin_login(const std::string& tag, LoginRequest request, bool authenticate, std::string& out) {
  if (!options_.async_login) {
    auto account = login_.check_login(request.user, request.password);
    return complete_login(tag, account, request, authenticate, out);
  }
  login_waiting_ = true;
  login_tag_ = tag;
  login_is_authenticate_ = authenticate;
  login_checking_ = request;
  login_request_ = std::move(request);
}

void Session::complete_login(const std::string& tag, const std::optional<std::string>& account,
                             const LoginRequest& request, bool authenticate, std::string& out) {
  // PLAIN's authorisation identity may only name the account itself (no proxy logins).
  bool authz_ok = request.authzid.empty() ||
                  (account && (iequals(request.authzid, *account) || iequals(request.authzid, request.user)));
  if (!account || !authz_ok) {
    consecutive_bad_ = 0;
    out += tag + " NO [AUTHENTICATIONFAILED] invalid user name or password\r\n";
    return;
  }
  account_ = *account;
  state_ = State::authenticated;
  framer_.set_limits(options_.limits);
  ok(out, tag, "[CAPABILITY " + std::string(capabilities) + "] " + (authenticate ? "authenticated" : "logged in"));
}

void Session::cmd_authenticate(const Command& c, std::string& out) {
  if (c.args.empty() || c.args.size() > 2 || !c.args[0].is_atom()) return bad(out, c.tag, "AUTHENTICATE takes a mechanism");
  if (!iequals(c.args[0].text, "PLAIN")) {
    consecutive_bad_ = 0;
    out += c.tag + " NO unsupported authentication mechanism\r\n";
    return;
  }
  if (c.args.size() == 2) {  // SASL-IR
    if (!c.args[1].is_astring()) return bad(out, c.tag, "invalid initial response");
    std::string ir = c.args[1].text == "=" ? std::string() : c.args[1].text;
    return finish_authenticate(c.tag, ir, out);
  }
  pending_ = Pending::authenticate;
  pending_tag_ = c.tag;
  out += "+ \r\n";
}

void Session::finish_authenticate(const std::string& tag, std::string_view b64, std::string& out) {
  auto decoded = crypto::base64_decode(b64);
  if (!decoded) return bad(out, tag, "invalid base64");
  // authzid NUL authcid NUL password
  auto first = decoded->find('\0');
  auto second = first == std::string::npos ? std::string::npos : decoded->find('\0', first + 1);
  if (second == std::string::npos) return bad(out, tag, "invalid PLAIN response");
  std::string authz = decoded->substr(0, first);
  std::string user = decoded->substr(first + 1, second - first - 1);
  std::string pass = decoded->substr(second + 1);
  begin_login(tag, LoginRequest{std::move(user), std::move(pass), std::move(authz)}, true, out);
}

// ---- authenticated -------------------------------------------------------------------------

void Session::unselect() {
  {
    std::lock_guard lock(watch_->mutex);
    watch_->folder.clear();
    watch_->account.clear();
    watch_->dirty = false;
  }
  folder_.clear();
  view_.clear();
  pending_listing_.reset();
  plan_meta({});
  loaded_ = {};
  if (state_ == State::selected) state_ = State::authenticated;
}

void Session::cmd_select(const Command& c, std::string& out, bool examine) {
  if (c.args.size() != 1 || !c.args[0].is_astring()) return bad(out, c.tag, "SELECT takes a mailbox name");
  const std::string& name = c.args[0].text;
  std::string canonical = iequals(name, "INBOX") ? std::string("INBOX") : name;
  if (canonical.size() > 6 && iequals(canonical.substr(0, 6), "INBOX/")) canonical = "INBOX" + canonical.substr(5);
  bool was_selected = state_ == State::selected;
  auto status = mailbox_.folder_status(account_, name);
  // Selecting the folder that is already selected, the same way (clients re-SELECT INBOX to
  // check for mail): the view, kept current by the change listener, is brought up to date
  // silently instead of being listed again.
  bool reuse = was_selected && status && canonical == folder_ && examine == examined_ &&
               status->uidvalidity == uidvalidity_;
  if (!reuse) unselect();
  if (was_selected) out += "* OK [CLOSED] previous mailbox closed\r\n";
  if (!status) return no(out, c.tag, status.error(), "cannot select");
  if (reuse) {
    std::string discarded;
    sync(discarded, true);
  } else {
    bool folder_read_only = false;
    if (auto folders = mailbox_.list_folders(account_)) {
      for (auto& f : *folders)
        if (f.name == canonical) folder_read_only = f.read_only;
    }
    // Register the watch before listing, so no change falls between the two.
    {
      std::lock_guard lock(watch_->mutex);
      watch_->account = account_;
      watch_->folder = canonical;
      watch_->dirty = false;
    }
    auto list = mailbox_.listing(account_, name);
    if (!list) {
      unselect();
      return no(out, c.tag, list.error(), "cannot select");
    }
    std::uint32_t recent_from = status->recent_from_uid;
    if (!examine) {
      if (auto r = mailbox_.take_recent(account_, name)) recent_from = *r;
    }
    folder_ = canonical;
    examined_ = examine;
    read_only_ = examine || folder_read_only;
    uidvalidity_ = status->uidvalidity;
    view_.clear();
    pending_listing_ = std::move(*list);
    pending_recent_from_ = recent_from;
    state_ = State::selected;
  }
  std::uint32_t recent = 0, first_unseen = 0, uidnext = status->uidnext;
  std::size_t exists = 0;
  if (pending_listing_) {
    // Straight from the listing (ascending UIDs): recent ones are a tail, the first unseen is
    // usually near the start.
    const auto& l = *pending_listing_;
    exists = l.size();
    auto tail = std::lower_bound(l.begin(), l.end(), pending_recent_from_,
                                 [](const MessageInfo& m, std::uint32_t u) { return m.uid < u; });
    recent = static_cast<std::uint32_t>(l.end() - tail);
    for (std::size_t i = 0; i < l.size(); ++i)
      if (!(l[i].flags.system & flag_seen)) {
        first_unseen = static_cast<std::uint32_t>(i + 1);
        break;
      }
    if (!l.empty()) uidnext = std::max(uidnext, l.back().uid + 1);
  } else {
    exists = view_.size();
    for (std::size_t i = 0; i < view_.size(); ++i) {
      const Entry& e = view_[i];
      if (e.recent) ++recent;
      if (!first_unseen && !(e.flags.system & flag_seen)) first_unseen = static_cast<std::uint32_t>(i + 1);
      uidnext = std::max(uidnext, e.uid + 1);
    }
  }
  out += "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n";
  if (read_only_) out += "* OK [PERMANENTFLAGS ()] read-only\r\n";
  else out += "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags permitted\r\n";
  out += "* " + std::to_string(exists) + " EXISTS\r\n";
  out += "* " + std::to_string(recent) + " RECENT\r\n";
  if (first_unseen) out += "* OK [UNSEEN " + std::to_string(first_unseen) + "] first unseen\r\n";
  out += "* OK [UIDVALIDITY " + std::to_string(uidvalidity_) + "] UIDs valid\r\n";
  out += "* OK [UIDNEXT " + std::to_string(uidnext) + "] predicted next UID\r\n";
  ok(out, c.tag, std::string(read_only_ ? "[READ-ONLY] " : "[READ-WRITE] ") + (examine ? "EXAMINE" : "SELECT") +
                     " completed");
}

void Session::cmd_create(const Command& c, std::string& out) {
  if (c.args.size() != 1 || !c.args[0].is_astring()) return bad(out, c.tag, "CREATE takes a mailbox name");
  std::string name = c.args[0].text;
  if (name.ends_with('/')) name.pop_back();  // "a/" creates "a" (RFC 3501 §6.3.3)
  if (!valid_mutf7(name)) return no(out, c.tag, MailboxError::invalid_name, "cannot create");
  auto r = mailbox_.create_folder(account_, name);
  if (!r) return no(out, c.tag, r.error(), "cannot create");
  ok(out, c.tag, "CREATE completed");
}

void Session::cmd_delete(const Command& c, std::string& out) {
  if (c.args.size() != 1 || !c.args[0].is_astring()) return bad(out, c.tag, "DELETE takes a mailbox name");
  auto r = mailbox_.delete_folder(account_, c.args[0].text);
  if (!r) return no(out, c.tag, r.error(), "cannot delete");
  if (state_ == State::selected) sync(out, true);
  ok(out, c.tag, "DELETE completed");
}

void Session::cmd_rename(const Command& c, std::string& out) {
  if (c.args.size() != 2 || !c.args[0].is_astring() || !c.args[1].is_astring())
    return bad(out, c.tag, "RENAME takes two mailbox names");
  if (!valid_mutf7(c.args[1].text)) return no(out, c.tag, MailboxError::invalid_name, "cannot rename");
  auto r = mailbox_.rename_folder(account_, c.args[0].text, c.args[1].text);
  if (!r) return no(out, c.tag, r.error(), "cannot rename");
  if (state_ == State::selected) sync(out, true);
  ok(out, c.tag, "RENAME completed");
}

void Session::cmd_subscribe(const Command& c, std::string& out, bool subscribe) {
  if (c.args.size() != 1 || !c.args[0].is_astring()) return bad(out, c.tag, c.name + " takes a mailbox name");
  auto r = mailbox_.set_subscribed(account_, c.args[0].text, subscribe);
  if (!r) return no(out, c.tag, r.error(), subscribe ? "cannot subscribe" : "cannot unsubscribe");
  ok(out, c.tag, c.name + " completed");
}

void Session::cmd_list(const Command& c, std::string& out, bool lsub) {
  // LIST [(selection options)] reference pattern [RETURN (options)]: extended forms are accepted
  // and their options ignored beyond what plain LIST already returns.
  std::size_t i = 0;
  if (!lsub && i < c.args.size() && c.args[i].is_list()) ++i;
  if (c.args.size() < i + 2 || !c.args[i].is_astring()) return bad(out, c.tag, c.name + " takes a reference and a pattern");
  std::string reference = c.args[i].text;
  std::vector<std::string> patterns;
  if (c.args[i + 1].is_list()) {
    for (auto& p : c.args[i + 1].items)
      if (p.is_astring()) patterns.push_back(p.text);
  } else {
    patterns.push_back(c.args[i + 1].text);
  }
  std::size_t j = i + 2;
  if (j < c.args.size()) {
    if (lsub || !c.args[j].is_atom() || ascii::to_upper(c.args[j].text) != "RETURN" || j + 2 != c.args.size() ||
        !c.args[j + 1].is_list())
      return bad(out, c.tag, "unexpected " + c.name + " arguments");
  }
  if (patterns.size() == 1 && patterns[0].empty()) {
    if (!lsub) out += "* LIST (\\Noselect) \"/\" \"\"\r\n";
    return ok(out, c.tag, c.name + " completed");
  }
  auto folders = mailbox_.list_folders(account_);
  if (!folders) {
    if (folders.error() == MailboxError::no_such_account) return ok(out, c.tag, c.name + " completed");
    return no(out, c.tag, folders.error(), "cannot list");
  }
  for (auto& f : *folders) {
    bool matched = false;
    for (auto& p : patterns) {
      std::string full = reference + p;
      if (full.size() >= 5 && iequals(full.substr(0, 5), "INBOX") && (full.size() == 5 || full[5] == '/'))
        full = "INBOX" + full.substr(5);
      if (list_match(full, f.name)) matched = true;
    }
    if (!matched || (lsub && !f.subscribed)) continue;
    std::string attrs;
    auto add = [&](std::string_view a) {
      if (a.empty()) return;
      if (!attrs.empty()) attrs += ' ';
      attrs += a;
    };
    if (f.noselect) add("\\Noselect");
    add(f.has_children ? "\\HasChildren" : "\\HasNoChildren");
    add(special_attr(f.special_use));
    out += "* " + c.name + " (" + attrs + ") \"/\" " + mime::quote(f.name) + "\r\n";
  }
  if (state_ == State::selected) sync(out, true);
  ok(out, c.tag, c.name + " completed");
}

void Session::cmd_status(const Command& c, std::string& out) {
  if (c.args.size() != 2 || !c.args[0].is_astring() || !c.args[1].is_list())
    return bad(out, c.tag, "STATUS takes a mailbox name and a list of items");
  std::vector<std::string> items;
  for (auto& it : c.args[1].items) {
    if (!it.is_atom()) return bad(out, c.tag, "invalid STATUS item");
    std::string u = ascii::to_upper(it.text);
    if (u != "MESSAGES" && u != "RECENT" && u != "UIDNEXT" && u != "UIDVALIDITY" && u != "UNSEEN")
      return bad(out, c.tag, "unknown STATUS item " + it.text.substr(0, 30));
    items.push_back(u);
  }
  auto st = mailbox_.folder_status(account_, c.args[0].text);
  if (!st) return no(out, c.tag, st.error(), "cannot get status");
  std::string r;
  for (auto& u : items) {
    if (!r.empty()) r += ' ';
    std::uint32_t v = 0;
    if (u == "MESSAGES") v = st->messages;
    else if (u == "UIDNEXT") v = st->uidnext;
    else if (u == "UIDVALIDITY") v = st->uidvalidity;
    else if (u == "UNSEEN") v = st->unseen;
    else if (u == "RECENT") {
      if (auto list = mailbox_.messages(account_, c.args[0].text))
        v = static_cast<std::uint32_t>(std::count_if(list->begin(), list->end(),
                                                     [&](auto& m) { return m.uid >= st->recent_from_uid; }));
    }
    r += u + ' ' + std::to_string(v);
  }
  std::string name = c.args[0].text;
  if (iequals(name, "INBOX")) name = "INBOX";
  out += "* STATUS " + mime::quote(name) + " (" + r + ")\r\n";
  if (state_ == State::selected) sync(out, true);
  ok(out, c.tag, "STATUS completed");
}

void Session::cmd_append(const Command& c, std::string& out) {
  // APPEND mailbox [flags] [date-time] literal
  if (c.args.size() < 2 || c.args.size() > 4 || !c.args[0].is_astring())
    return bad(out, c.tag, "APPEND takes a mailbox, optional flags and date, and a message");
  Flags flags;
  std::int64_t date = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  std::size_t i = 1;
  if (c.args[i].is_list()) {
    auto f = parse_flag_list(c.args[i]);
    if (!f) return bad(out, c.tag, f.error());
    flags.system = f->system;
    flags.keywords = f->keywords;
    ++i;
  }
  if (i + 1 < c.args.size()) {
    if (!c.args[i].is_string() || c.args[i].literal) return bad(out, c.tag, "invalid APPEND date-time");
    auto d = parse_date_time(c.args[i].text);
    if (!d) return bad(out, c.tag, "invalid APPEND date-time");
    date = *d;
    ++i;
  }
  if (i + 1 != c.args.size() || !c.args[i].is_string()) return bad(out, c.tag, "APPEND needs the message as a literal");
  const std::string& message = c.args[i].text;
  if (message.empty()) return bad(out, c.tag, "empty message");
  auto r = mailbox_.append(account_, c.args[0].text, message, flags, date);
  if (!r) {
    if (r.error() == MailboxError::no_such_folder) {
      consecutive_bad_ = 0;
      out += c.tag + " NO [TRYCREATE] no such mailbox\r\n";
      return;
    }
    return no(out, c.tag, r.error(), "cannot append");
  }
  if (state_ == State::selected) sync(out, true);
  ok(out, c.tag, "[APPENDUID " + std::to_string(r->uidvalidity) + " " + std::to_string(r->uid) + "] APPEND completed");
}

void Session::cmd_namespace(const Command& c, std::string& out) {
  out += "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n";
  ok(out, c.tag, "NAMESPACE completed");
}

void Session::cmd_enable(const Command& c, std::string& out) {
  if (c.args.empty()) return bad(out, c.tag, "ENABLE takes capability names");
  out += "* ENABLED\r\n";  // none of the capabilities we offer needs enabling
  ok(out, c.tag, "ENABLE completed");
}

void Session::cmd_idle(const Command& c, std::string& out) {
  if (!c.args.empty()) return bad(out, c.tag, "IDLE takes no arguments");
  pending_ = Pending::idle;
  pending_tag_ = c.tag;
  out += "+ idling\r\n";
  if (state_ == State::selected) sync(out, true);
}

// ---- selected ------------------------------------------------------------------------------

void Session::cmd_close(const Command& c, std::string& out, bool expunge) {
  if (!c.args.empty()) return bad(out, c.tag, c.name + " takes no arguments");
  if (expunge && !read_only_) (void)mailbox_.expunge(account_, folder_);
  unselect();
  ok(out, c.tag, c.name + " completed");
}

std::optional<std::vector<std::size_t>> Session::resolve(const SequenceSet& set, bool uid) const {
  std::vector<std::size_t> idx;
  if (view_.empty()) {
    // "*" or any number on an empty mailbox: nothing for UID sets, an error for sequence numbers.
    if (uid) return idx;
    return std::nullopt;
  }
  if (!uid) {
    std::uint32_t n = static_cast<std::uint32_t>(view_.size());
    for (auto r : set.ranges) {
      std::uint32_t lo = r.lo == 0 ? n : r.lo, hi = r.hi == 0 ? n : r.hi;
      if (lo > hi) std::swap(lo, hi);
      if (hi > n) return std::nullopt;
      for (std::uint32_t s = lo; s <= hi; ++s) idx.push_back(s - 1);
    }
  } else {
    std::uint32_t star = view_.back().uid;
    for (auto r : set.ranges) {
      std::uint32_t lo = r.lo == 0 ? star : r.lo, hi = r.hi == 0 ? star : r.hi;
      if (lo > hi) std::swap(lo, hi);
      auto b = std::lower_bound(view_.begin(), view_.end(), lo, [](const Entry& e, std::uint32_t u) { return e.uid < u; });
      for (auto it = b; it != view_.end() && it->uid <= hi; ++it) idx.push_back(static_cast<std::size_t>(it - view_.begin()));
    }
  }
  std::sort(idx.begin(), idx.end());
  idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
  return idx;
}

void Session::report_expunges(std::string& out) {
  std::size_t removed = 0;
  for (std::size_t i = 0; i < view_.size(); ++i) {
    if (view_[i].expunged) {
      out += "* " + std::to_string(i + 1 - removed) + " EXPUNGE\r\n";
      ++removed;
    }
  }
  if (removed) {
    std::erase_if(view_, [](const Entry& e) { return e.expunged; });
    plan_meta({});  // indices moved
  }
}

bool Session::still_present(std::uint32_t uid) const {
  auto it = std::lower_bound(view_.begin(), view_.end(), uid, [](const Entry& e, std::uint32_t x) { return e.uid < x; });
  return it != view_.end() && it->uid == uid && !it->expunged;
}

void Session::ensure_view() {
  if (!pending_listing_) return;
  auto listing = std::move(pending_listing_);
  pending_listing_.reset();
  view_.clear();
  view_.reserve(listing->size());
  for (const auto& m : *listing)
    view_.push_back(Entry{m.uid, m.flags, m.internal_date, m.size, m.uid >= pending_recent_from_, false});
}

void Session::sync(std::string& out, bool allow_expunge, bool force) {
  if (state_ != State::selected) return;
  ensure_view();
  bool dirty = watch_->dirty.exchange(false);
  if (!dirty && !force) {
    if (allow_expunge) report_expunges(out);
    return;
  }
  auto list = mailbox_.messages(account_, folder_);
  if (!list) {
    // The folder is gone (deleted or renamed away): every message is expunged.
    for (auto& e : view_) e.expunged = true;
    if (allow_expunge) report_expunges(out);
    return;
  }
  std::uint32_t max_uid = view_.empty() ? 0 : view_.back().uid;
  std::size_t j = 0;  // walks `list` (ascending UIDs) beside view_
  for (std::size_t i = 0; i < view_.size(); ++i) {
    auto& e = view_[i];
    while (j < list->size() && (*list)[j].uid < e.uid) ++j;
    if (j < list->size() && (*list)[j].uid == e.uid) {
      if (!e.expunged && (*list)[j].flags != e.flags) {
        e.flags = (*list)[j].flags;
        out += "* " + std::to_string(i + 1) + " FETCH (UID " + std::to_string(e.uid) + " FLAGS " +
               flags_text(e.flags, e.recent) + ")\r\n";
      }
    } else {
      e.expunged = true;
    }
  }
  std::uint32_t recent_from = UINT32_MAX;
  bool any_new = false;
  for (auto& m : *list) {
    if (m.uid <= max_uid) continue;
    if (!any_new) {
      any_new = true;
      if (!read_only_) {
        if (auto r = mailbox_.take_recent(account_, folder_)) recent_from = *r;
      }
    }
    view_.push_back(Entry{m.uid, m.flags, m.internal_date, m.size, m.uid >= recent_from, false});
  }
  if (allow_expunge) report_expunges(out);
  if (any_new) {
    out += "* " + std::to_string(view_.size()) + " EXISTS\r\n";
    auto recent = std::count_if(view_.begin(), view_.end(), [](const Entry& e) { return e.recent && !e.expunged; });
    out += "* " + std::to_string(recent) + " RECENT\r\n";
  }
}

void Session::cmd_expunge(const Command& c, std::string& out, bool uid, std::size_t a0) {
  std::optional<std::vector<std::uint32_t>> only;
  if (uid) {
    if (c.args.size() != a0 + 1 || !c.args[a0].is_atom()) return bad(out, c.tag, "UID EXPUNGE takes a UID set");
    auto set = parse_sequence_set(c.args[a0].text);
    if (!set) return bad(out, c.tag, "invalid UID set");
    auto idx = resolve(*set, true);
    only.emplace();
    for (auto i : *idx) only->push_back(view_[i].uid);
  } else if (c.args.size() != a0) {
    return bad(out, c.tag, "EXPUNGE takes no arguments");
  }
  if (read_only_) {
    consecutive_bad_ = 0;
    out += c.tag + " NO [READ-ONLY] mailbox is read-only\r\n";
    return;
  }
  std::optional<OwnWrite> own(std::in_place, *watch_);
  auto r = only ? mailbox_.expunge(account_, folder_, std::span<const std::uint32_t>(*only))
                : mailbox_.expunge(account_, folder_);
  own.reset();
  if (!r) return no(out, c.tag, r.error(), "cannot expunge");
  for (auto u : *r) {
    auto it = std::lower_bound(view_.begin(), view_.end(), u, [](const Entry& e, std::uint32_t x) { return e.uid < x; });
    if (it != view_.end() && it->uid == u) it->expunged = true;
  }
  sync(out, true);
  report_expunges(out);
  ok(out, c.tag, c.name == "UID" ? "UID EXPUNGE completed" : "EXPUNGE completed");
}

const Session::Loaded* Session::load(std::uint32_t uid) {
  if (loaded_.uid == uid && uid != 0) return &loaded_;
  auto bytes = mailbox_.read_message(account_, folder_, uid);
  if (!bytes) return nullptr;
  loaded_.uid = uid;
  loaded_.bytes = std::move(*bytes);
  loaded_.root = mime::parse(loaded_.bytes);
  return &loaded_;
}

void Session::plan_meta(std::vector<std::size_t> wanted) {
  metas_.wanted = std::move(wanted);
  metas_.first = 0;
  metas_.metas.clear();
}

const MessageMeta* Session::meta_at(std::size_t idx) {
  constexpr std::size_t batch = 2048;  // shared references: a window costs little
  auto& w = metas_;
  auto pos = static_cast<std::size_t>(std::lower_bound(w.wanted.begin(), w.wanted.end(), idx) - w.wanted.begin());
  if (pos >= w.wanted.size() || w.wanted[pos] != idx) {
    // Not planned: load it alone.
    plan_meta({idx});
    pos = 0;
  }
  if (pos < w.first || pos >= w.first + w.metas.size()) {
    std::vector<std::uint32_t> uids;
    std::size_t end = std::min(w.wanted.size(), pos + batch);
    for (std::size_t k = pos; k < end; ++k) uids.push_back(view_[w.wanted[k]].uid);
    auto r = mailbox_.shared_metas(account_, folder_, uids);
    w.first = pos;
    w.metas.clear();
    if (r) w.metas = std::move(*r);
    else w.metas.assign(uids.size(), nullptr);
  }
  return w.metas[pos - w.first].get();
}

void Session::cmd_search(const Command& c, std::string& out, bool uid, std::size_t a0) {
  std::size_t i = a0;
  if (i + 1 < c.args.size() && c.args[i].is_atom() && ascii::to_upper(c.args[i].text) == "CHARSET") {
    if (!c.args[i + 1].is_astring()) return bad(out, c.tag, "invalid CHARSET");
    std::string cs = ascii::to_upper(c.args[i + 1].text);
    if (cs != "US-ASCII" && cs != "UTF-8") {
      consecutive_bad_ = 0;
      out += c.tag + " NO [BADCHARSET (US-ASCII UTF-8)] unsupported charset\r\n";
      return;
    }
    i += 2;
  }
  // RETURN options (ESEARCH) are not offered.
  auto key = SearchParser(c.args, i).all();
  if (!key) return bad(out, c.tag, key.error());

  using Op = SearchKey::Op;
  const std::uint32_t n = static_cast<std::uint32_t>(view_.size());
  const std::uint32_t max_uid = view_.empty() ? 0 : view_.back().uid;
  bool failed = false;
  // The header fields come from the store's metadata (opened once, shared by every session), in
  // batches along the folder.
  {
    std::vector<std::size_t> all(view_.size());
    for (std::size_t k = 0; k < all.size(); ++k) all[k] = k;
    plan_meta(std::move(all));
  }
  auto get_fields = [&](std::size_t idx) -> const MessageMeta* {
    auto m = meta_at(idx);
    if (!m) failed = true;
    return m;
  };
  auto day_of = [](std::int64_t t) { return (t >= 0 ? t : t - 86399) / 86400 * 86400; };
  std::function<bool(const SearchKey&, std::size_t)> match = [&](const SearchKey& k, std::size_t idx) -> bool {
    const Entry& e = view_[idx];
    switch (k.op) {
      case Op::all: return true;
      case Op::and_:
        for (auto& kid : k.kids)
          if (!match(kid, idx)) return false;
        return true;
      case Op::or_: return match(k.kids[0], idx) || match(k.kids[1], idx);
      case Op::not_: return !match(k.kids[0], idx);
      case Op::seqset: return k.set.contains(static_cast<std::uint32_t>(idx + 1), n);
      case Op::uidset: return k.set.contains(e.uid, max_uid);
      case Op::flag_set: return (e.flags.system & k.flag) != 0;
      case Op::flag_unset: return (e.flags.system & k.flag) == 0;
      case Op::keyword:
      case Op::unkeyword: {
        bool has = std::any_of(e.flags.keywords.begin(), e.flags.keywords.end(), [&](auto& w) { return iequals(w, k.a); });
        return k.op == Op::keyword ? has : !has;
      }
      case Op::recent: return e.recent;
      case Op::new_: return e.recent && !(e.flags.system & flag_seen);
      case Op::old: return !e.recent;
      case Op::before: return day_of(e.internal_date) < k.n;
      case Op::on: return day_of(e.internal_date) == k.n;
      case Op::since: return day_of(e.internal_date) >= k.n;
      case Op::larger: return e.size > k.n;
      case Op::smaller: return e.size < k.n;
      case Op::sent_before:
      case Op::sent_on:
      case Op::sent_since: {
        auto m = get_fields(idx);
        if (!m || m->sent_date == 0) return false;
        // The date as written (in its own zone), without the time.
        std::int64_t d = day_of(m->sent_date + m->sent_date_zone * 60LL);
        if (k.op == Op::sent_before) return d < k.n;
        if (k.op == Op::sent_on) return d == k.n;
        return d >= k.n;
      }
      case Op::from:
      case Op::to:
      case Op::cc:
      case Op::bcc:
      case Op::subject: {
        auto m = get_fields(idx);
        if (!m) return false;
        const std::string& v = k.op == Op::from ? m->from : k.op == Op::to ? m->to : k.op == Op::cc ? m->cc
                              : k.op == Op::bcc ? m->bcc : m->subject;
        // Encoded words (=?utf-8?q?...?=) are searched as the text they stand for.
        if (v.find("=?") != std::string::npos) return icontains(mime::decode_encoded_words(v), k.a);
        return icontains(v, k.a);
      }
      case Op::header: {
        auto* l = load(e.uid);
        if (!l) { failed = true; return false; }
        std::string_view h(l->bytes.data() + l->root.header.begin, l->root.header.size());
        for (auto& [name, value] : mime::header_fields(h))
          if (iequals(name, k.a) && (icontains(value, k.b) || (value.find("=?") != std::string::npos &&
                                                               icontains(mime::decode_encoded_words(value), k.b))))
            return true;
        return false;
      }
      case Op::body:
      case Op::text: {
        auto* l = load(e.uid);
        if (!l) { failed = true; return false; }
        std::string_view all = l->bytes;
        if (k.op == Op::body) all = all.substr(l->root.body.begin);
        return icontains(all, k.a);
      }
    }
    return false;
  };
  std::string r = "* SEARCH";
  for (std::size_t idx = 0; idx < view_.size(); ++idx) {
    if (view_[idx].expunged) continue;
    if (match(*key, idx)) r += ' ' + std::to_string(uid ? view_[idx].uid : idx + 1);
  }
  out += r + "\r\n";
  if (failed && view_.empty()) failed = false;
  sync(out, uid);
  ok(out, c.tag, uid ? "UID SEARCH completed" : "SEARCH completed");
}

void Session::cmd_fetch(const Command& c, std::string& out, bool uid, std::size_t a0) {
  if (c.args.size() != a0 + 2 || !c.args[a0].is_atom()) return bad(out, c.tag, "FETCH takes a set and items");
  auto set = parse_sequence_set(c.args[a0].text);
  if (!set) return bad(out, c.tag, "invalid sequence set");
  auto items = parse_fetch_items(c.args[a0 + 1]);
  if (!items) return bad(out, c.tag, items.error());
  auto idx = resolve(*set, uid);
  if (!idx) return bad(out, c.tag, "invalid sequence number");
  using K = FetchItem::Kind;
  if (uid && std::none_of(items->begin(), items->end(), [](auto& it) { return it.kind == K::uid; })) {
    FetchItem u;
    u.kind = K::uid;
    items->insert(items->begin(), u);
  }
  bool sets_seen = !read_only_ && std::any_of(items->begin(), items->end(), [](auto& it) {
    return (it.kind == K::body_section && !it.peek) || it.kind == K::rfc822 || it.kind == K::rfc822_text;
  });
  bool wants_flags = std::any_of(items->begin(), items->end(), [](auto& it) { return it.kind == K::flags; });
  bool needs_meta = std::any_of(items->begin(), items->end(), [](auto& it) {
    return it.kind == K::envelope || it.kind == K::bodystructure || it.kind == K::body_structure_nonext;
  });
  // \Seen is set for all the fetched messages at once, before the replies that show it.
  std::vector<bool> seen_now(view_.size(), false);
  if (sets_seen) {
    std::vector<std::uint32_t> unseen;
    for (auto i : *idx)
      if (!view_[i].expunged && !(view_[i].flags.system & flag_seen)) unseen.push_back(view_[i].uid);
    if (!unseen.empty()) {
      Flags f;
      f.system = flag_seen;
      std::optional<OwnWrite> own(std::in_place, *watch_);
      auto stored = mailbox_.store_flags(account_, folder_, unseen, FlagOp::add, f);
      own.reset();
      if (auto& r = stored) {
        for (auto& u : *r) {
          auto it = std::lower_bound(view_.begin(), view_.end(), u.uid, [](const Entry& e, std::uint32_t x) { return e.uid < x; });
          if (it != view_.end() && it->uid == u.uid) {
            it->flags = u.flags;
            seen_now[static_cast<std::size_t>(it - view_.begin())] = true;
          }
        }
      }
    }
  }
  // RFC 2180 section 4.1: a message expunged by another session (known to this view, or found gone
  // when read) is left out of the answer, and the command still succeeds, saying so with
  // [EXPUNGEISSUED] (RFC 5530), as Dovecot does; a NO would make clients retry or give up.
  bool expunged_elsewhere = false;
  std::vector<std::uint32_t> unreadable;  // failed to read: expunged since this view looked, or broken
  if (needs_meta) plan_meta(*idx);
  // A reply to FETCH 1:* of a big folder runs to megabytes: once a few responses show their
  // size, room for all is made at once, instead of the string doubling (and briefly holding
  // old and new copies, 3x the reply) as it grows.
  const std::size_t out_start = out.size();
  std::size_t done = 0;
  for (auto i : *idx) {
    if (++done == 64 && idx->size() > 256) {
      // Capped: the first responses may be large bodies, and a guess of gigabytes would throw.
      constexpr std::size_t max_reserve = 16u << 20;
      const std::size_t per = (out.size() - out_start) / 63 + 1;
      out.reserve(out.size() + std::min(max_reserve, per * (idx->size() - 63) + per * idx->size() / 16));
    }
    Entry& e = view_[i];
    if (e.expunged) { expunged_elsewhere = true; continue; }
    const MessageMeta* m = nullptr;
    if (needs_meta) {
      m = meta_at(i);
      if (!m) { unreadable.push_back(e.uid); continue; }
    }
    std::string r = "* " + std::to_string(i + 1) + " FETCH (";
    bool first = true;
    auto sep = [&] {
      if (!first) r += ' ';
      first = false;
    };
    bool failed = false;
    for (auto& it : *items) {
      switch (it.kind) {
        case K::uid: sep(); r += "UID " + std::to_string(e.uid); break;
        case K::flags: sep(); r += "FLAGS " + flags_text(e.flags, e.recent); break;
        case K::internaldate: sep(); r += "INTERNALDATE \"" + format_date_time(e.internal_date) + "\""; break;
        case K::rfc822_size: sep(); r += "RFC822.SIZE " + std::to_string(e.size); break;
        case K::envelope: sep(); r += "ENVELOPE " + m->envelope; break;
        case K::bodystructure: sep(); r += "BODYSTRUCTURE " + m->bodystructure; break;
        case K::body_structure_nonext: sep(); r += "BODY " + m->body; break;
        case K::rfc822:
        case K::rfc822_header:
        case K::rfc822_text:
        case K::body_section: {
          auto* l = load(e.uid);
          if (!l) { failed = true; break; }
          std::optional<std::string> data;
          std::string label;
          if (it.kind == K::rfc822) { data = l->bytes; label = "RFC822"; }
          else if (it.kind == K::rfc822_header) {
            data = l->bytes.substr(l->root.header.begin, l->root.header.size());
            label = "RFC822.HEADER";
          } else if (it.kind == K::rfc822_text) {
            data = l->bytes.substr(l->root.body.begin, l->root.body.size());
            label = "RFC822.TEXT";
          } else {
            data = mime::section_bytes(l->bytes, l->root, it.section);
            label = "BODY[" + it.section_text + "]";
            if (it.partial) {
              label += "<" + std::to_string(it.partial->first) + ">";
              if (data) {
                if (it.partial->first >= data->size()) data = std::string();
                else data = data->substr(it.partial->first, it.partial->second);
              }
            }
          }
          sep();
          r += label + ' ';
          if (!data) r += "NIL";
          else {
            r += '{' + std::to_string(data->size()) + "}\r\n";
            r += *data;
          }
          break;
        }
      }
      if (failed) break;
    }
    if (failed) { unreadable.push_back(e.uid); continue; }
    if (seen_now[i] && !wants_flags) {
      sep();
      r += "FLAGS " + flags_text(e.flags, e.recent);
    }
    r += ")\r\n";
    out += r;
  }
  // Look at the folder again before calling a message that could not be read an error: it may have
  // been expunged since this view was last brought up to date.
  bool broken = false;
  if (!unreadable.empty()) {
    sync(out, false, true);
    for (auto u : unreadable) {
      if (still_present(u)) broken = true;
      else expunged_elsewhere = true;
    }
  }
  sync(out, uid);
  if (broken) {
    consecutive_bad_ = 0;
    out += c.tag + " NO some messages could not be read\r\n";
    return;
  }
  const std::string completed = uid ? "UID FETCH completed" : "FETCH completed";
  ok(out, c.tag, expunged_elsewhere ? "[EXPUNGEISSUED] " + completed + "; some messages were expunged by another session" : completed);
}

void Session::cmd_store(const Command& c, std::string& out, bool uid, std::size_t a0) {
  if (c.args.size() < a0 + 3 || !c.args[a0].is_atom() || !c.args[a0 + 1].is_atom())
    return bad(out, c.tag, "STORE takes a set, an action and flags");
  auto set = parse_sequence_set(c.args[a0].text);
  if (!set) return bad(out, c.tag, "invalid sequence set");
  std::string action = ascii::to_upper(c.args[a0 + 1].text);
  FlagOp op = FlagOp::replace;
  if (action.starts_with("+")) { op = FlagOp::add; action.erase(0, 1); }
  else if (action.starts_with("-")) { op = FlagOp::remove; action.erase(0, 1); }
  bool silent = false;
  if (action == "FLAGS.SILENT") silent = true;
  else if (action != "FLAGS") return bad(out, c.tag, "invalid STORE action");
  std::expected<FlagList, std::string> flags;
  if (c.args.size() == a0 + 3) flags = parse_flag_list(c.args[a0 + 2]);
  else flags = parse_flag_atoms(std::vector<Value>(c.args.begin() + static_cast<long>(a0) + 2, c.args.end()));
  if (!flags) return bad(out, c.tag, flags.error());
  auto idx = resolve(*set, uid);
  if (!idx) return bad(out, c.tag, "invalid sequence number");
  if (read_only_) {
    consecutive_bad_ = 0;
    out += c.tag + " NO [READ-ONLY] mailbox is read-only\r\n";
    return;
  }
  std::vector<std::uint32_t> uids;
  for (auto i : *idx)
    if (!view_[i].expunged) uids.push_back(view_[i].uid);
  Flags f;
  f.system = flags->system;
  f.keywords = flags->keywords;
  std::optional<OwnWrite> own(std::in_place, *watch_);
  auto r = mailbox_.store_flags(account_, folder_, uids, op, f);
  own.reset();
  if (!r) return no(out, c.tag, r.error(), "cannot store flags");
  for (auto& u : *r) {
    auto it = std::lower_bound(view_.begin(), view_.end(), u.uid, [](const Entry& e, std::uint32_t x) { return e.uid < x; });
    if (it != view_.end() && it->uid == u.uid) it->flags = u.flags;
  }
  // store_flags skipped the messages another session expunged meanwhile: learn which (without
  // reporting EXPUNGE yet) before answering for them. As for FETCH (RFC 2180 section 4.1), they
  // are left out and the command succeeds with [EXPUNGEISSUED].
  sync(out, false);
  bool expunged_elsewhere = false;
  for (auto i : *idx) {
    const Entry& e = view_[i];
    if (e.expunged) {
      expunged_elsewhere = true;
      continue;
    }
    if (silent) continue;
    out += "* " + std::to_string(i + 1) + " FETCH (";
    if (uid) out += "UID " + std::to_string(e.uid) + " ";
    out += "FLAGS " + flags_text(e.flags, e.recent) + ")\r\n";
  }
  sync(out, uid);
  const std::string completed = uid ? "UID STORE completed" : "STORE completed";
  ok(out, c.tag, expunged_elsewhere ? "[EXPUNGEISSUED] " + completed + "; some messages were expunged by another session" : completed);
}

void Session::cmd_copy(const Command& c, std::string& out, bool uid, std::size_t a0, bool move) {
  if (c.args.size() != a0 + 2 || !c.args[a0].is_atom() || !c.args[a0 + 1].is_astring())
    return bad(out, c.tag, "COPY takes a set and a mailbox");
  auto set = parse_sequence_set(c.args[a0].text);
  if (!set) return bad(out, c.tag, "invalid sequence set");
  auto idx = resolve(*set, uid);
  if (!idx) return bad(out, c.tag, "invalid sequence number");
  if (move && read_only_) {
    consecutive_bad_ = 0;
    out += c.tag + " NO [READ-ONLY] mailbox is read-only\r\n";
    return;
  }
  // Messages another session expunged are not copied; the rest are, and the command succeeds
  // with [EXPUNGEISSUED] (RFC 5530) instead of failing for all: COPYUID names exactly what was
  // copied. (Dovecot answers NO [EXPUNGEISSUED] and copies nothing.)
  std::vector<std::uint32_t> uids;
  bool expunged_elsewhere = false;
  for (auto i : *idx) {
    if (view_[i].expunged) expunged_elsewhere = true;
    else uids.push_back(view_[i].uid);
  }
  auto r = move ? mailbox_.move(account_, folder_, uids, c.args[a0 + 1].text)
                : mailbox_.copy(account_, folder_, uids, c.args[a0 + 1].text);
  if (!r) {
    if (r.error() == MailboxError::no_such_folder) {
      consecutive_bad_ = 0;
      out += c.tag + " NO [TRYCREATE] no such mailbox\r\n";
      return;
    }
    return no(out, c.tag, r.error(), move ? "cannot move" : "cannot copy");
  }
  if (r->source_uids.size() < uids.size()) expunged_elsewhere = true;  // gone since this view looked
  const std::string gone = "some messages were expunged by another session";
  std::string code;
  if (!r->dest_uids.empty()) {
    // Source UIDs ascending, destinations in the same order (both compressible).
    code = "[COPYUID " + std::to_string(r->uidvalidity) + " " + compress_set(r->source_uids) + " " +
           compress_set(r->dest_uids) + "] ";
  }
  std::string verb = std::string(uid ? "UID " : "") + (move ? "MOVE" : "COPY");
  if (move) {
    if (!code.empty()) out += "* OK " + code + "moved\r\n";
    for (auto u : r->source_uids) {
      auto it = std::lower_bound(view_.begin(), view_.end(), u, [](const Entry& e, std::uint32_t x) { return e.uid < x; });
      if (it != view_.end() && it->uid == u) it->expunged = true;
    }
    sync(out, true);
    report_expunges(out);
    ok(out, c.tag, expunged_elsewhere ? "[EXPUNGEISSUED] " + verb + " completed; " + gone : verb + " completed");
    return;
  }
  sync(out, uid);
  std::string text = verb + " completed";
  if (expunged_elsewhere) {
    if (code.empty()) {
      code = "[EXPUNGEISSUED] ";
      text += "; " + gone;
    } else {
      // One response code per response: COPYUID keeps the tagged OK, the news goes just before it.
      out += "* OK [EXPUNGEISSUED] " + gone + " and were not copied\r\n";
    }
  }
  ok(out, c.tag, code + text);
}

}  // namespace fcpmail::imap
