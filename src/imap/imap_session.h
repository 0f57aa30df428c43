// One IMAP4rev1 connection's state machine (RFC 3501 §3: not authenticated -> authenticated ->
// selected -> logout), with IDLE, UIDPLUS, MOVE, SPECIAL-USE, NAMESPACE, CHILDREN, LITERAL+,
// ENABLE, ID, UNSELECT and SASL-IR.
//
// No sockets: bytes in (receive), bytes out. The Asio server (imap_server.h) shuttles them; tests
// drive a Session directly. The session watches the Mailbox for changes to its selected folder
// (from other sessions or the engine's deliveries) and reports them as untagged EXISTS, EXPUNGE
// and FETCH FLAGS at the end of the next command, or at once while IDLE (see poll()).
#pragma once
#include "fcpmail/login.h"
#include "fcpmail/mailbox.h"
#include "imap/imap_parser.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace fcpmail::imap {

struct SessionOptions {
  FramerLimits limits;
  // Consecutive BAD commands after which the session says BYE (a client sending garbage).
  int max_consecutive_bad = 30;
  // If set, sees the first line of every command (passwords of LOGIN included: for tests only).
  std::function<void(std::string_view)> trace;
  // false: LOGIN/AUTHENTICATE call LoginCheck::check_login inside receive() (unit tests, tools).
  // true: they end in a pending login (see pending_login()) that the caller checks elsewhere (the
  // server runs it through the login gate, off the I/O thread) and answers with login_finished().
  bool async_login = false;
  // Before authentication nobody needs big literals: a larger one is refused (and a LITERAL+ one
  // already on its way closes the session), so an anonymous peer cannot make us buffer megabytes.
  std::size_t max_literal_unauthenticated = 64 * 1024;
  // Bytes of input kept while a login is pending (pipelined commands): more closes the session.
  std::size_t max_buffered_while_pending = 256 * 1024;
};

// A login waiting for its verdict (async_login).
struct LoginRequest {
  std::string user;
  std::string password;
  std::string authzid;   // AUTHENTICATE PLAIN's authorisation identity ("" if none)
};

class Session {
 public:
  Session(Mailbox& mailbox, LoginCheck& login, SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // The greeting to send first.
  std::string greeting() const;
  // Bytes from the client -> bytes to send back (possibly nothing yet).
  std::string receive(std::string_view bytes);
  // Untagged responses due now (while IDLE: new mail, expunges, flag changes). Call after the
  // wake callback fired, on the session's own thread.
  std::string poll();
  // True once the connection should be closed after sending the last output (LOGOUT, BYE).
  bool closed() const { return closed_; }
  // Called from any thread when the selected folder changed; the server posts to its executor.
  void set_wake(std::function<void()> wake);

  // After receive(): a LOGIN or AUTHENTICATE waits for its verdict (async_login only). Until
  // login_finished() nothing more is answered; further input is kept (bounded) for later.
  bool login_pending() const { return login_waiting_; }
  // The credentials to check (once per pending login; nullopt if none is pending or already taken).
  std::optional<LoginRequest> take_login_request();
  // The verdict: the canonical account on success, nothing on failure. Returns the tagged answer
  // followed by the answers to any commands that arrived meanwhile.
  std::string login_finished(const std::optional<std::string>& account);
  // The login was refused for now without the password being judged (the login gate is full, or
  // the account is locked out for a while): NO [UNAVAILABLE] `why` (RFC 5530), which tells the
  // client to try again later instead of asking the user for another password. Returns the same as
  // login_finished().
  std::string login_unavailable(std::string_view why);

  enum class State { not_authenticated, authenticated, selected, logout };
  State state() const { return state_; }

 private:
  struct Entry {
    std::uint32_t uid = 0;
    Flags flags;
    std::int64_t internal_date = 0;
    std::uint32_t size = 0;
    bool recent = false;
    bool expunged = false;   // gone from the store, not yet reported (no EXPUNGE allowed yet)
  };
  // What the mailbox listener (any thread) shares with the session.
  struct Watch {
    std::mutex mutex;
    std::string account, folder;       // the selected folder, empty if none
    std::atomic<bool> dirty{false};
    std::function<void()> wake;
    // While this session changes messages itself (it updates its own view from the results),
    // the events of that change, delivered on its own thread, do not make it dirty.
    bool own_write = false;
    std::thread::id writer;
  };
  class OwnWrite;

  void handle_command(const std::string& raw, std::string& out);
  void handle_continuation_line(const std::string& raw, std::string& out);
  void dispatch(const Command& c, std::string& out);

  void cmd_capability(const Command& c, std::string& out);
  void cmd_login(const Command& c, std::string& out);
  void cmd_authenticate(const Command& c, std::string& out);
  void finish_authenticate(const std::string& tag, std::string_view base64, std::string& out);
  // Checks at once (sync) or leaves a pending login (async_login).
  void begin_login(const std::string& tag, LoginRequest request, bool authenticate, std::string& out);
  void complete_login(const std::string& tag, const std::optional<std::string>& account, const LoginRequest& request,
                      bool authenticate, std::string& out);
  // Takes commands out of the framer and answers them until input runs out or a login is pending.
  void drain(std::string& out);
  void cmd_select(const Command& c, std::string& out, bool read_only);
  void cmd_create(const Command& c, std::string& out);
  void cmd_delete(const Command& c, std::string& out);
  void cmd_rename(const Command& c, std::string& out);
  void cmd_subscribe(const Command& c, std::string& out, bool subscribe);
  void cmd_list(const Command& c, std::string& out, bool lsub);
  void cmd_status(const Command& c, std::string& out);
  void cmd_append(const Command& c, std::string& out);
  void cmd_namespace(const Command& c, std::string& out);
  void cmd_enable(const Command& c, std::string& out);
  void cmd_id(const Command& c, std::string& out);
  void cmd_idle(const Command& c, std::string& out);
  void cmd_close(const Command& c, std::string& out, bool expunge);
  void cmd_expunge(const Command& c, std::string& out, bool uid, std::size_t arg0);
  void cmd_search(const Command& c, std::string& out, bool uid, std::size_t arg0);
  void cmd_fetch(const Command& c, std::string& out, bool uid, std::size_t arg0);
  void cmd_store(const Command& c, std::string& out, bool uid, std::size_t arg0);
  void cmd_copy(const Command& c, std::string& out, bool uid, std::size_t arg0, bool move);

  // Indices into view_ named by a sequence set (uid = false) or UID set; nullopt = invalid.
  std::optional<std::vector<std::size_t>> resolve(const SequenceSet& set, bool uid) const;
  // Brings view_ up to date with the store and writes the untagged responses.
  void sync(std::string& out, bool allow_expunge, bool force = false);
  void report_expunges(std::string& out);
  // The message is in this view and not known to be expunged.
  bool still_present(std::uint32_t uid) const;
  void unselect();
  void no(std::string& out, const std::string& tag, MailboxError e, std::string_view what);
  void bad(std::string& out, const std::string& tag, std::string_view text);
  void ok(std::string& out, const std::string& tag, std::string_view text);

  // The current message (decrypted and parsed), cached across FETCH items and commands.
  struct Loaded {
    std::uint32_t uid = 0;
    std::string bytes;
    mime::Part root;
  };
  const Loaded* load(std::uint32_t uid);
  // Metadata of view_[idx], loaded in batches along `wanted` (the ascending indices the current
  // command will visit), so a FETCH or SEARCH over 10,000 messages makes ~40 store calls.
  const MessageMeta* meta_at(std::size_t idx);
  void plan_meta(std::vector<std::size_t> wanted);
  struct MetaWindow {
    std::vector<std::size_t> wanted;
    std::size_t first = 0;                       // position in `wanted` of metas[0]
    std::vector<SharedMeta> metas;             // shared with the store's cache, no copies
  };
  MetaWindow metas_;

  Mailbox& mailbox_;
  LoginCheck& login_;
  SessionOptions options_;
  CommandFramer framer_;
  State state_ = State::not_authenticated;
  bool closed_ = false;
  int consecutive_bad_ = 0;
  std::string account_;

  std::string folder_;
  bool read_only_ = false;
  bool examined_ = false;   // selected with EXAMINE
  std::uint32_t uidvalidity_ = 0;
  std::vector<Entry> view_;
  // SELECT answers from the store's shared listing and leaves copying it into view_ to the next
  // command that needs it (ensure_view): a new session's SELECT copies nothing.
  Mailbox::Listing pending_listing_;
  std::uint32_t pending_recent_from_ = 0;
  void ensure_view();

  enum class Pending { none, authenticate, idle };
  Pending pending_ = Pending::none;
  std::string pending_tag_;

  // A login waiting for login_finished() (async_login).
  bool login_waiting_ = false;
  std::optional<LoginRequest> login_request_;   // until take_login_request()
  LoginRequest login_checking_;                  // kept for login_finished (AUTHENTICATE's authzid)
  std::string login_tag_;
  bool login_is_authenticate_ = false;

  std::shared_ptr<Watch> watch_;
  std::uint64_t listener_id_ = 0;
  Loaded loaded_;
};

}  // namespace fcpmail::imap
