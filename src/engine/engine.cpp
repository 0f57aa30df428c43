// Engine: construction, the scheduler, status and queues, row loading.
#include "engine/engine_impl.h"
#include "mail/ascii.h"

#include "crypto/sha256.h"
#include "freemail/address.h"
#include "freemail/rsa_key_file.h"

#include <ctime>
#include <iostream>

namespace fcpmail::engine {

namespace asio = boost::asio;

// ---- free helpers ------------------------------------------------------------------------------

std::string utc_day(MillisSinceEpoch ms) {
  const std::time_t seconds = ms / 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[16];
  std::strftime(buffer, sizeof buffer, "%Y%m%d", &tm);
  return buffer;
}

std::string short_address(std::string_view address) {
  const auto at = address.find('@');
  if (at == std::string_view::npos || address.size() < at + 9) return std::string(address);
  return std::string(address.substr(0, at + 9)) + "…";
}

std::string hex_sha256(std::string_view data) { return crypto::to_hex(crypto::sha256(data)); }

TimePoint to_time_point(MillisSinceEpoch ms) { return TimePoint(std::chrono::milliseconds(ms)); }

namespace {
std::optional<TimePoint> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return to_time_point(c.getInt64());
}
std::optional<MillisSinceEpoch> opt_ms(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt64();
}
std::string text_or_empty(const SQLite::Column& c) { return c.isNull() ? std::string() : c.getString(); }
}  // namespace

// ---- Impl basics -------------------------------------------------------------------------------

Engine::Impl::Impl(Engine& s, EngineDeps d, const EngineConfig& config)
    : self(s), deps(std::move(d)), cfg(config), db(deps.db), node(deps.node), secrets(deps.secrets),
      timer(deps.io) {
  node.set_log([this](const std::string& line) { log(line); });
}

MillisSinceEpoch Engine::Impl::now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Engine::Impl::log(const std::string& line) {
  if (deps.log) deps.log(line);
}

void Engine::Impl::warn(const std::string& line) { remember_warning("", line); }

void Engine::Impl::warn_account(std::int64_t account_id, const std::string& line) {
  auto account = account_by_id(account_id);
  remember_warning(account ? account->address : "", line);
}

void Engine::Impl::remember_warning(std::string account, const std::string& line) {
  log(line);
  const auto t = std::chrono::system_clock::now();
  // A problem that recurs every poll is one entry with a count, moved to the end (newest last).
  auto same = std::find_if(warnings.begin(), warnings.end(),
                           [&](const Warning& w) { return w.text == line && w.account == account; });
  Warning w{line, std::move(account), false, 1, t, t};
  if (same != warnings.end()) {
    w.count = same->count + 1;
    w.first = same->first;
    warnings.erase(same);
  }
  warnings.push_back(std::move(w));
  if (warnings.size() > 20) warnings.erase(warnings.begin());
}

void Engine::Impl::spawn(const std::string& key, asio::awaitable<void> work) {
  if (stopping || busy.count(key)) return;
  busy.insert(key);
  asio::co_spawn(deps.io, guarded(key, std::move(work)), asio::detached);
}

asio::awaitable<void> Engine::Impl::guarded(std::string key, asio::awaitable<void> work) {
  try {
    co_await std::move(work);
  } catch (const std::exception& e) {
    warn("internal error in " + key + ": " + e.what());
  }
  busy.erase(key);
}

asio::awaitable<void> Engine::Impl::republish(std::int64_t account_id) { co_await publish_mailsite(account_id); }

void Engine::Impl::arm_timer() {
  if (!running) return;
  timer.expires_after(std::max(cfg.tick, Millis(10)));
  timer.async_wait([this](boost::system::error_code ec) {
    if (ec || !running) return;
    try {
      schedule_pass();
    } catch (const std::exception& e) {
      warn(std::string("scheduler: ") + e.what());
    }
    arm_timer();
  });
}

std::int64_t Engine::Impl::random_ack_delay() {
  const auto max = cfg.intervals.ack_delay_max.count();
  if (max <= 0) return 0;
  return std::uniform_int_distribution<std::int64_t>(0, max)(rng);
}

// The scheduler: look for due work in the database, start what is not running yet.
void Engine::Impl::schedule_pass() {
  if (stopping) return;
  const auto t = now();
  if (node.connected() && !connected_since) connected_since = std::chrono::system_clock::now();
  if (!node.connected()) connected_since.reset();
  if (node.connected() && node.outages() != node_outages_seen && !is_busy("store-check")) {
    node_outages_seen = node.outages();
    spawn("store-check", check_own_inserts());
  }
  if (node.connected() && store_canary.empty() && !is_busy("store-check") && !is_busy("store-canary"))
    spawn("store-canary", insert_store_canary());

  for (const auto& account : all_accounts()) {
    if (account.mailsite_next_at <= t)
      if (!is_busy("mailsite:" + std::to_string(account.id)))
        spawn("mailsite:" + std::to_string(account.id), republish(account.id));
    ensure_rts_days(account);
  }

  {  // RTS days due for polling
    SQLite::Statement q(db, "SELECT account_id, day FROM rts_day WHERE next_poll_at <= ? AND (passes < ? OR day = ?)");
    q.bind(1, t);
    q.bind(2, cfg.rts_passes_per_day);
    q.bind(3, utc_day(t));
    while (q.executeStep()) {
      const auto account_id = q.getColumn(0).getInt64();
      const std::string day = q.getColumn(1).getString();
      const std::string key = "rts-poll:" + std::to_string(account_id) + ":" + day;
      if (!is_busy(key)) spawn(key, poll_rts_day(account_id, day));
    }
  }
  {  // fetched RTSs to check
    SQLite::Statement q(db, "SELECT id FROM rts_inbox WHERE next_at <= ?");
    q.bind(1, t);
    while (q.executeStep()) {
      const auto id = q.getColumn(0).getInt64();
      if (!is_busy("rts-process:" + std::to_string(id))) spawn("rts-process:" + std::to_string(id), process_rts(id));
    }
  }
  // Unacked messages whose resend time came: back to dispatch (same id, new slot or new channel).
  {
    SQLite::Statement u(db, "UPDATE delivery SET state = 'released', next_at = ? WHERE state = 'awaiting_ack' AND next_at <= ?");
    u.bind(1, t);
    u.bind(2, t);
    if (u.exec() > 0) log("resending unacknowledged messages");
  }
  {  // released deliveries: find a channel, queue the insert. One per contact at a time.
    SQLite::Statement q(db, "SELECT id, contact_id FROM delivery WHERE state = 'released' AND (next_at IS NULL OR next_at <= ?) ORDER BY id");
    q.bind(1, t);
    while (q.executeStep()) {
      const auto id = q.getColumn(0).getInt64();
      const auto contact_id = q.getColumn(1).getInt64();
      if (!is_busy("contact:" + std::to_string(contact_id))) spawn("contact:" + std::to_string(contact_id), dispatch_delivery(id));
    }
  }
  {  // RTS (re)sends
    SQLite::Statement q(db, "SELECT id FROM channel WHERE role = 'initiator' AND state = 'awaiting_cts' AND rts_next_at IS NOT NULL AND rts_next_at <= ? AND timeout_at > ?");
    q.bind(1, t);
    q.bind(2, t);
    while (q.executeStep()) {
      const auto id = q.getColumn(0).getInt64();
      if (!is_busy("rts-send:" + std::to_string(id))) spawn("rts-send:" + std::to_string(id), send_rts(id));
    }
  }
  {  // send items (CTS, messages, acks); a responder needs nothing more, an initiator neither
    SQLite::Statement q(db, "SELECT s.id FROM send_item s JOIN channel c ON c.id = s.channel_id WHERE s.due_at <= ? AND c.state != 'closed' ORDER BY s.id");
    q.bind(1, t);
    while (q.executeStep()) {
      const auto id = q.getColumn(0).getInt64();
      if (!is_busy("send:" + std::to_string(id))) spawn("send:" + std::to_string(id), insert_send_item(id));
    }
  }
  {  // channels to poll: accepted peer, public key known, not past the polling lifetime
    SQLite::Statement q(db, "SELECT c.id FROM channel c JOIN contact k ON k.id = c.contact_id WHERE c.state != 'closed' AND k.state = 'accepted' AND c.request_uri IS NOT NULL AND c.next_poll_at <= ? AND c.timeout_at + ? > ?");
    q.bind(1, t);
    q.bind(2, static_cast<std::int64_t>(cfg.intervals.channel_poll_extra.count()));
    q.bind(3, t);
    while (q.executeStep()) {
      const auto id = q.getColumn(0).getInt64();
      if (!is_busy("poll:" + std::to_string(id))) spawn("poll:" + std::to_string(id), poll_channel(id));
    }
  }
  {  // channels past their polling lifetime are closed
    SQLite::Statement u(db, "UPDATE channel SET state = 'closed' WHERE state != 'closed' AND timeout_at + ? <= ?");
    u.bind(1, static_cast<std::int64_t>(cfg.intervals.channel_poll_extra.count()));
    u.bind(2, t);
    u.exec();
  }
}

asio::awaitable<void> Engine::Impl::insert_store_canary() {
  // A CHK of random content: a key no one else inserts, learnt from the node's answer.
  static constexpr char hex[] = "0123456789abcdef";
  std::string content = "fcpmail store canary ";
  for (int i = 0; i < 32; ++i) content += hex[rng() % 16];
  auto r = co_await node.put("CHK@", content + "\n", "store canary");
  if (r && !r->empty()) store_canary = *r;  // otherwise the next pass tries again
}

asio::awaitable<void> Engine::Impl::check_own_inserts() {
  if (store_canary.empty()) co_return;  // nothing inserted yet that could have been lost
  log("the node is reachable again after an outage; checking that it still has what we inserted before");
  auto found = co_await node.get(store_canary, 1024, "store canary");
  if (found) {
    log("the node still has what we inserted before the outage; nothing to re-send");
    co_return;
  }
  if (found.error().kind == NodeError::Kind::disconnected) {
    // The connection kept dropping: check again on the next pass once it is back.
    log("the store check was cut off by the connection (" + found.error().description + "); checking again");
    --node_outages_seen;
    co_return;
  }
  if (!found.error().not_found()) {
    log("cannot check the node's store after the outage (" + found.error().description + "); the usual resends cover it");
    co_return;
  }
  store_canary.clear();  // a new one is inserted on the next pass
  // Whatever we inserted before may be gone: mailpages, RTSs, messages on channels. Each is sent
  // again now rather than after its usual resend interval; every re-send is idempotent (same data
  // to the same key, or the same message id, which the peer deduplicates).
  const auto t = now();
  for (const auto& account : all_accounts()) {
    SQLite::Transaction tx(db);
    SQLite::Statement a(db, "UPDATE account SET mailsite_next_at = ?, wot_announced = 0 WHERE id = ?");
    a.bind(1, t);
    a.bind(2, account.id);
    a.exec();
    SQLite::Statement d(db, "UPDATE delivery SET state = 'released', next_at = ? WHERE state = 'awaiting_ack' AND "
                            "outbox_id IN (SELECT id FROM outbox_message WHERE account_id = ?)");
    d.bind(1, t);
    d.bind(2, account.id);
    const int resent = d.exec();
    SQLite::Statement r(db, "UPDATE channel SET rts_next_at = ? WHERE account_id = ? AND role = 'initiator' AND state = 'awaiting_cts'");
    r.bind(1, t);
    r.bind(2, account.id);
    const int rts = r.exec();
    tx.commit();
    warn_account(account.id, "the node lost its store during the outage: republishing the mailpage of " + short_address(account.address) +
         ", re-sending " + std::to_string(resent) + " unacknowledged message(s) and " + std::to_string(rts) + " RTS(s)");
  }
  schedule_pass();
}

// ---- rows --------------------------------------------------------------------------------------

namespace {
constexpr const char* account_columns =
    "id, address, nickname, identity_id, request_uri, rtsksk, mailsite_edition, mailsite_published_at, "
    "mailsite_next_at, wot_announced";
AccountRow read_account(SQLite::Statement& q) {
  AccountRow a;
  a.id = q.getColumn(0).getInt64();
  a.address = q.getColumn(1).getString();
  a.nickname = q.getColumn(2).getString();
  a.identity_id = q.getColumn(3).getString();
  a.request_uri = q.getColumn(4).getString();
  a.rtsksk = q.getColumn(5).getString();
  a.mailsite_edition = q.getColumn(6).getInt64();
  a.mailsite_published_at = opt_ms(q.getColumn(7));
  a.mailsite_next_at = q.getColumn(8).getInt64();
  a.wot_announced = q.getColumn(9).getInt() != 0;
  return a;
}
constexpr const char* contact_columns =
    "id, account_id, identity_id, address, petname, nickname, state, request_uri, mailsite_uri, rsa_public, "
    "rtsksk, next_message_id, added_at, last_message_at";
ContactRow read_contact(SQLite::Statement& q) {
  ContactRow c;
  c.id = q.getColumn(0).getInt64();
  c.account_id = q.getColumn(1).getInt64();
  c.identity_id = q.getColumn(2).getString();
  c.address = q.getColumn(3).getString();
  c.petname = q.getColumn(4).getString();
  c.nickname = q.getColumn(5).getString();
  c.state = q.getColumn(6).getString();
  c.request_uri = text_or_empty(q.getColumn(7));
  c.mailsite_uri = text_or_empty(q.getColumn(8));
  c.rsa_public = text_or_empty(q.getColumn(9));
  c.rtsksk = text_or_empty(q.getColumn(10));
  c.next_message_id = q.getColumn(11).getInt64();
  c.added_at = q.getColumn(12).getInt64();
  c.last_message_at = opt_ms(q.getColumn(13));
  return c;
}
constexpr const char* channel_columns =
    "id, account_id, contact_id, role, state, request_uri, send_slot, fetch_slot, send_index, fetch_index, "
    "timeout_at, rts_next_at, rts_sent_at, last_fetch_at, rts_key, next_poll_at, next_window_at, created_at";
ChannelRow read_channel(SQLite::Statement& q) {
  ChannelRow c;
  c.id = q.getColumn(0).getInt64();
  c.account_id = q.getColumn(1).getInt64();
  c.contact_id = q.getColumn(2).getInt64();
  c.role = q.getColumn(3).getString();
  c.state = q.getColumn(4).getString();
  c.request_uri = text_or_empty(q.getColumn(5));
  c.send_slot = q.getColumn(6).getString();
  c.fetch_slot = q.getColumn(7).getString();
  c.send_index = q.getColumn(8).getInt64();
  c.fetch_index = q.getColumn(9).getInt64();
  c.timeout_at = q.getColumn(10).getInt64();
  c.rts_next_at = opt_ms(q.getColumn(11));
  c.rts_sent_at = opt_ms(q.getColumn(12));
  c.last_fetch_at = opt_ms(q.getColumn(13));
  c.rts_key = text_or_empty(q.getColumn(14));
  c.next_poll_at = q.getColumn(15).getInt64();
  c.next_window_at = q.getColumn(16).getInt64();
  c.created_at = q.getColumn(17).getInt64();
  return c;
}
}  // namespace

std::optional<AccountRow> Engine::Impl::account_by_id(std::int64_t id) {
  SQLite::Statement q(db, std::string("SELECT ") + account_columns + " FROM account WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_account(q);
}

std::vector<AccountRow> Engine::Impl::all_accounts() {
  SQLite::Statement q(db, std::string("SELECT ") + account_columns + " FROM account ORDER BY id");
  std::vector<AccountRow> out;
  while (q.executeStep()) out.push_back(read_account(q));
  return out;
}

std::optional<AccountRow> Engine::Impl::account_by_address(std::string_view typed) {
  const std::string lower = ascii::to_lower(typed);
  std::optional<AccountRow> prefix_match;
  int prefix_matches = 0;
  for (auto& a : all_accounts()) {
    if (a.address == lower || a.identity_id == typed) return a;
    const std::string nick = ascii::to_lower(a.nickname);
    if (!lower.empty() && (a.address.starts_with(lower) || nick == lower)) {
      prefix_match = a;
      ++prefix_matches;
    }
  }
  if (prefix_matches == 1) return prefix_match;
  return std::nullopt;
}

Result<AccountRow> Engine::Impl::account_for(const std::optional<std::string>& typed) {
  if (typed && !typed->empty()) {
    auto a = account_by_address(*typed);
    if (!a) return std::unexpected("no account " + *typed + "; see `fcpmail account list`");
    return *a;
  }
  auto all = all_accounts();
  if (all.size() == 1) return all.front();
  if (all.empty()) return std::unexpected(std::string("there is no account yet; create one with `fcpmail account create NAME`"));
  return std::unexpected(std::string("there are several accounts; say which one with --account ADDRESS"));
}

std::optional<ContactRow> Engine::Impl::contact_by_id(std::int64_t id) {
  SQLite::Statement q(db, std::string("SELECT ") + contact_columns + " FROM contact WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_contact(q);
}

std::optional<ContactRow> Engine::Impl::contact_by_identity(std::int64_t account_id, std::string_view identity_id) {
  SQLite::Statement q(db, std::string("SELECT ") + contact_columns + " FROM contact WHERE account_id = ? AND identity_id = ?");
  q.bind(1, account_id);
  q.bind(2, std::string(identity_id));
  if (!q.executeStep()) return std::nullopt;
  return read_contact(q);
}

std::optional<ChannelRow> Engine::Impl::channel_by_id(std::int64_t id) {
  SQLite::Statement q(db, std::string("SELECT ") + channel_columns + " FROM channel WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_channel(q);
}

std::expected<crypto::RsaPrivateKey, std::string> Engine::Impl::private_key(std::int64_t account_id) {
  if (auto it = private_keys.find(account_id); it != private_keys.end()) return it->second;
  SQLite::Statement q(db, "SELECT rsa_private_sealed FROM account WHERE id = ?");
  q.bind(1, account_id);
  if (!q.executeStep()) return std::unexpected(std::string("no such account"));
  const auto blob = q.getColumn(0).getString();
  auto text = open(blob, "account:" + std::to_string(account_id) + ":rsa");
  if (!text) return std::unexpected("cannot unseal the account's RSA key: " + text.error());
  auto key = freemail::read_rsa_key_file(*text);
  if (!key) return std::unexpected("stored RSA key unreadable: " + key.error());
  private_keys.emplace(account_id, *key);
  return *key;
}

std::string Engine::Impl::insert_uri_of_account(std::int64_t account_id) {
  SQLite::Statement q(db, "SELECT insert_uri_sealed FROM account WHERE id = ?");
  q.bind(1, account_id);
  if (!q.executeStep()) return {};
  auto text = open(q.getColumn(0).getString(), "account:" + std::to_string(account_id) + ":insert-uri");
  return text ? *text : std::string();
}

std::string Engine::Impl::insert_uri_of_channel(std::int64_t channel_id) {
  SQLite::Statement q(db, "SELECT insert_uri_sealed, key_hash FROM channel WHERE id = ?");
  q.bind(1, channel_id);
  if (!q.executeStep()) return {};
  auto text = open(q.getColumn(0).getString(), "channel:" + q.getColumn(1).getString());
  return text ? *text : std::string();
}

std::int64_t Engine::Impl::accept_contact(std::int64_t account_id, const std::string& address,
                                          const std::string& identity_id) {
  if (auto c = contact_by_identity(account_id, identity_id)) {
    if (c->state != "accepted") {
      SQLite::Statement u(db, "UPDATE contact SET state = 'accepted' WHERE id = ?");
      u.bind(1, c->id);
      u.exec();
      log("contact " + short_address(c->address) + " accepted (was " + c->state + ")");
    }
    return c->id;
  }
  SQLite::Statement i(db, "INSERT INTO contact (account_id, identity_id, address, state, added_at) VALUES (?, ?, ?, 'accepted', ?)");
  i.bind(1, account_id);
  i.bind(2, identity_id);
  i.bind(3, address);
  i.bind(4, now());
  i.exec();
  return db.getLastInsertRowid();
}

std::int64_t Engine::Impl::ensure_contact(std::int64_t account_id, const std::string& address,
                                          const std::string& identity_id) {
  if (auto c = contact_by_identity(account_id, identity_id); c && (c->state == "revoked" || c->state == "denied"))
    return c->id;  // only the user gives that consent back (accept_contact)
  return accept_contact(account_id, address, identity_id);
}

// ---- Engine ------------------------------------------------------------------------------------

Engine::Engine(EngineDeps deps, EngineConfig config)
    : config_(std::move(config)), impl_(std::make_unique<Impl>(*this, std::move(deps), config_)) {
  impl_->reseal_legacy_outbox();
}

Engine::~Engine() {
  stop();
  impl_->node.set_log({});
  impl_->pool.join();
}

void Engine::start() {
  if (impl_->deps.unlock_mailbox)
    for (const auto& a : impl_->all_accounts())
      if (auto key = mailbox_key(a.address)) impl_->deps.unlock_mailbox(a.address, *key);
  impl_->running = true;
  impl_->stopping = false;
  asio::post(impl_->deps.io, [this] { wake(); });
  impl_->arm_timer();
}

void Engine::stop() {
  impl_->running = false;
  impl_->stopping = true;
  impl_->timer.cancel();
}

void Engine::set_mail_endpoints(std::string imap_host, int imap_port, std::string smtp_host, int smtp_port) {
  config_.imap_host = std::move(imap_host);
  config_.imap_port = imap_port;
  config_.smtp_host = std::move(smtp_host);
  config_.smtp_port = smtp_port;
}

void Engine::wake() {
  try {
    impl_->schedule_pass();
  } catch (const std::exception& e) {
    impl_->warn(std::string("scheduler: ") + e.what());
  }
}

std::vector<AccountSummary> Engine::accounts() {
  std::vector<AccountSummary> out;
  for (const auto& a : impl_->all_accounts()) {
    AccountSummary s;
    s.address = a.address;
    s.nickname = a.nickname;
    s.identity_id = a.identity_id;
    s.mailsite_edition = a.mailsite_edition;
    if (a.mailsite_published_at) s.mailsite_published = to_time_point(*a.mailsite_published_at);
    s.next_republish = to_time_point(a.mailsite_next_at);
    s.state = a.mailsite_edition > 0 ? "ready" : "publishing mailsite";
    out.push_back(std::move(s));
  }
  return out;
}

Status Engine::status(const std::optional<std::string>& account) {
  auto& db = impl_->db;
  Status s;
  s.version = "0.1.0";
  s.node = impl_->deps.node_status;
  s.node.connected = impl_->node.connected();
  s.node.version = impl_->node.version();
  s.node.connected_since = impl_->connected_since;
  s.node.wot_available = impl_->wot_seen;
  s.accounts = accounts();
  // One account's view: its counts only. An unknown account sees nothing (ids start at 1).
  std::string only_outbox, only_account;
  if (account) {
    auto a = impl_->account_by_address(*account);
    s.scope = a ? a->address : *account;
    const std::string id = std::to_string(a ? a->id : 0);
    std::erase_if(s.accounts, [&](const AccountSummary& x) { return x.address != s.scope; });
    only_outbox = " AND d.outbox_id IN (SELECT id FROM outbox_message WHERE account_id = " + id + ")";
    only_account = " AND account_id = " + id;
  }
  auto count = [&db](const std::string& sql) { return db.execAndGet(sql).getInt(); };
  s.counts.held = count("SELECT COUNT(*) FROM delivery d WHERE d.state = 'held'" + only_outbox);
  s.counts.awaiting_cts = count(
      "SELECT COUNT(*) FROM delivery d LEFT JOIN channel c ON c.id = d.channel_id WHERE (d.state IN ('released','inserting') OR (d.state = 'awaiting_ack' AND c.state = 'awaiting_cts'))" + only_outbox);
  s.counts.awaiting_ack = count(
      "SELECT COUNT(*) FROM delivery d JOIN channel c ON c.id = d.channel_id WHERE d.state = 'awaiting_ack' AND c.state != 'awaiting_cts'" + only_outbox);
  s.counts.delivered = count("SELECT COUNT(*) FROM delivery d WHERE d.state = 'delivered'" + only_outbox);
  s.counts.failed = count("SELECT COUNT(*) FROM delivery d WHERE d.state = 'failed'" + only_outbox);
  s.counts.contact_requests = count("SELECT COUNT(*) FROM contact_request WHERE state = 'pending'" + only_account);
  s.counts.channels = count("SELECT COUNT(*) FROM channel WHERE state != 'closed'" + only_account);
  const auto t = std::chrono::system_clock::now();
  if (!s.node.connected)
    s.warnings.push_back({"not connected to the node at " + s.node.host + ":" + std::to_string(s.node.port), "", true, 1, t, t});
  if (!s.scope) {
    s.counts.fcp_in_flight = static_cast<int>(impl_->node.in_flight().size());
    s.fcp_requests_total = impl_->node.requests_sent();
    s.fcp_requests_by_purpose = impl_->requests_by_purpose;
    if (s.accounts.empty()) s.warnings.push_back({"no account yet: create one with `fcpmail account create NAME`", "", true, 1, t, t});
  }
  for (const auto& w : impl_->warnings)
    if (!s.scope || w.account == *s.scope || (w.account.empty() && w.for_everyone)) s.warnings.push_back(w);
  return s;
}

Queues Engine::queues() {
  auto& db = impl_->db;
  Queues out;
  const auto t = Impl::now();
  {
    SQLite::Statement q(db, "SELECT d.account_id, a.address, a.rtsksk, d.day, d.last_result, d.last_poll_at, d.next_poll_at, d.passes, "
                            "(SELECT COALESCE(MAX(slot), 0) FROM rts_slot s WHERE s.account_id = d.account_id AND s.day = d.day) "
                            "FROM rts_day d JOIN account a ON a.id = d.account_id ORDER BY a.id, d.day DESC");
    while (q.executeStep()) {
      RtsPoll p;
      p.account = q.getColumn(1).getString();
      p.date = q.getColumn(3).getString();
      p.slot = q.getColumn(8).getInt64() + 1;
      p.key = "KSK@" + q.getColumn(2).getString() + "-" + p.date + "-" + std::to_string(p.slot);
      p.last_result = q.getColumn(4).getString();
      p.last_poll = opt_time(q.getColumn(5));
      const bool today = p.date == utc_day(t);
      if (today || q.getColumn(7).getInt() < impl_->cfg.rts_passes_per_day)
        p.next_poll = to_time_point(q.getColumn(6).getInt64());
      out.rts.push_back(std::move(p));
    }
  }
  {
    SQLite::Statement q(db, std::string("SELECT ") + channel_columns + " FROM channel WHERE state != 'closed' ORDER BY id");
    while (q.executeStep()) {
      const ChannelRow c = read_channel(q);
      ChannelQueue v;
      v.id = c.id;
      auto account = impl_->account_by_id(c.account_id);
      auto contact = impl_->contact_by_id(c.contact_id);
      v.account = account ? account->address : "";
      v.peer = contact ? contact->address : "";
      v.role = c.role;
      v.state = c.state == "awaiting_cts" ? "awaiting CTS" : (c.timeout_at <= t ? "read-only" : c.state);
      if (contact && contact->state == "revoked") v.state = "revoked";
      v.next_send_slot = c.send_index;
      const auto skipped = db.execAndGet("SELECT COUNT(*) FROM skipped_slot WHERE channel_id = " + std::to_string(c.id)).getInt();
      v.polled_window = c.request_uri.empty()
                            ? std::string("not polled yet (public key learnt from the CTS insert)")
                            : "slots " + std::to_string(c.fetch_index) + ".." +
                                  std::to_string(c.fetch_index + impl_->cfg.channel_lookahead) +
                                  (skipped ? " (+" + std::to_string(skipped) + " skipped)" : "");
      v.awaiting_ack = db.execAndGet("SELECT COUNT(*) FROM delivery WHERE state = 'awaiting_ack' AND channel_id = " + std::to_string(c.id)).getInt();
      v.acks_pending = db.execAndGet("SELECT COUNT(*) FROM send_item WHERE kind = 'ack' AND channel_id = " + std::to_string(c.id)).getInt();
      if (c.last_fetch_at) v.last_fetch = to_time_point(*c.last_fetch_at);
      auto next = c.next_poll_at;
      if (c.rts_next_at && c.state == "awaiting_cts") next = std::min(next, *c.rts_next_at);
      v.next_retry = to_time_point(next);
      v.send_until = to_time_point(c.timeout_at);
      out.channels.push_back(std::move(v));
    }
  }
  const auto steady_now = std::chrono::steady_clock::now();
  for (const auto& f : impl_->node.in_flight())
    out.in_flight.push_back({f.kind, f.what, std::chrono::duration<double>(steady_now - f.started).count()});
  return out;
}

std::optional<std::array<std::uint8_t, 32>> Engine::mailbox_key(const std::string& account) {
  auto a = impl_->account_by_address(account);
  if (!a) return std::nullopt;
  // A per-account key derived from the engine's secret: seal a fixed label, hash it. The sealed
  // value is random, so instead hash the unsealed RSA key file (secret, stable per account).
  auto key = impl_->private_key(a->id);
  if (!key) return std::nullopt;
  const auto digest = crypto::sha256("fcpmail mailbox key\n" + key->private_exponent());
  std::array<std::uint8_t, 32> out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

}  // namespace fcpmail::engine
