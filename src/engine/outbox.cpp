// Outbox: submission (SMTP, CLI), the approval queue, and dispatch of released mail onto channels.
#include "engine/engine_impl.h"

#include "freemail/address.h"
#include "freemail/mailpage.h"
#include "mail/ascii.h"

#include <algorithm>

namespace fcpmail::engine {

namespace asio = boost::asio;

namespace {
using ascii::to_lower;
std::string time_of_day(MillisSinceEpoch ms) {
  auto s = iso8601(to_time_point(ms));  // 2026-11-27T14:02:11Z
  return s.size() >= 19 ? s.substr(11, 8) : s;
}
}  // namespace

std::string outbox_aad(std::int64_t account_id, std::int64_t outbox_id, std::string_view part) {
  return "account:" + std::to_string(account_id) + ":outbox:" + std::to_string(outbox_id) + ":" + std::string(part);
}

// ---- submission --------------------------------------------------------------------------------

std::expected<std::string, RecipientRefusal> Engine::Impl::resolve(const AccountRow& account, std::string_view typed_view) {
  auto unknown = [](std::string sentence) {
    return std::unexpected(RecipientRefusal{RecipientRefusal::Reason::unknown, std::move(sentence)});
  };
  // A contact the user revoked or denied is named, then refused with the way back.
  auto allowed = [](const ContactRow& c) -> std::expected<std::string, RecipientRefusal> {
    if (auto why = consent_refusal(c)) return std::unexpected(RecipientRefusal{RecipientRefusal::Reason::not_allowed, *why});
    return c.address;
  };
  std::string typed(typed_view);
  // strip "Name <addr>" forms to the address for matching
  if (auto lt = typed.find('<'); lt != std::string::npos) {
    auto gt = typed.find('>', lt);
    typed = typed.substr(lt + 1, gt == std::string::npos ? std::string::npos : gt - lt - 1);
  }
  const std::string want = to_lower(typed);
  if (want.empty()) return unknown("empty recipient");
  // 1. a contact by address, petname or unique prefix
  std::vector<std::int64_t> prefix;
  {
    SQLite::Statement q(db, "SELECT id, address, lower(petname) FROM contact WHERE account_id = ? AND state IN ('accepted', 'revoked')");
    q.bind(1, account.id);
    std::optional<std::int64_t> exact;
    while (q.executeStep()) {
      const auto id = q.getColumn(0).getInt64();
      const std::string address = q.getColumn(1).getString();
      const std::string petname = q.getColumn(2).getString();
      if (address == want || (!petname.empty() && petname == want)) {
        exact = id;
        break;
      }
      if (address.starts_with(want) || (!petname.empty() && petname.starts_with(want))) prefix.push_back(id);
    }
    q.reset();
    if (exact)
      if (auto c = contact_by_id(*exact)) return allowed(*c);
  }
  // 2. a full Freemail address: its identity decides (a known contact keeps the address it is
  // known under; one the user removed is written to like a stranger)
  if (auto parsed = freemail::parse_address(typed)) {
    if (auto c = contact_by_identity(account.id, parsed->identity.base64_id()); c && c->state != "removed") return allowed(*c);
    return parsed->address();
  }
  if (prefix.size() == 1)
    if (auto c = contact_by_id(prefix.front())) return allowed(*c);
  if (prefix.size() > 1) return unknown("\"" + typed + "\" matches several contacts; type more of it");
  return unknown("\"" + typed + "\" is not a contact or a Freemail address; add it with `fcpmail contacts add ADDRESS --petname NAME`");
}

std::expected<std::string, RecipientRefusal> Engine::resolve_recipient(const std::string& account, std::string_view typed) {
  auto a = impl_->account_by_address(account);
  if (!a) return std::unexpected(RecipientRefusal{RecipientRefusal::Reason::unknown, "no account " + account});
  return impl_->resolve(*a, typed);
}

// Submission creates no contact and changes none: each delivery names its recipient by address
// and gets its contact only when it is released (release_held).
Result<std::int64_t> Engine::Impl::submit_message(const AccountRow& account, const std::vector<std::string>& recipients,
                                                  std::string rfc822) {
  if (recipients.empty()) return std::unexpected(std::string("no recipients"));
  if (rfc822.size() > cfg.max_message_size) return std::unexpected(std::string("the message is too large"));
  std::vector<std::string> resolved;  // canonical addresses
  for (const auto& r : recipients) {
    auto address = resolve(account, r);
    if (!address) return std::unexpected(address.error().sentence);
    auto parsed = freemail::parse_address(*address);
    if (!parsed) return std::unexpected("bad recipient " + *address + ": " + parsed.error());
    if (parsed->identity.base64_id() == account.identity_id)
      return std::unexpected(std::string("sending to your own address is not supported"));
    if (std::find(resolved.begin(), resolved.end(), parsed->address()) == resolved.end()) resolved.push_back(parsed->address());
  }
  // Refused now rather than stuck later: the key signs the message when it goes out on a channel.
  if (auto key = private_key(account.id); !key) return std::unexpected(key.error());
  const auto t = now();
  auto filtered = wire::filter_outgoing(rfc822, account.address, t);
  if (!filtered) return std::unexpected("the message cannot be sent as it is: " + filtered.error());
  const std::string subject = wire::subject_of(*filtered);
  const bool release = cfg.outbound_auto;
  std::int64_t outbox_id = 0;
  {
    SQLite::Transaction tx(db);
    SQLite::Statement i(db, "INSERT INTO outbox_message (account_id, size, body_sealed, subject_sealed, submitted_at) VALUES (?, ?, x'', x'', ?)");
    i.bind(1, account.id);
    i.bind(2, static_cast<std::int64_t>(filtered->size()));
    i.bind(3, t);
    i.exec();
    outbox_id = db.getLastInsertRowid();
    const auto sealed_body = seal(*filtered, outbox_aad(account.id, outbox_id, "body"));
    const auto sealed_subject = seal(subject, outbox_aad(account.id, outbox_id, "subject"));
    SQLite::Statement u(db, "UPDATE outbox_message SET body_sealed = ?, subject_sealed = ? WHERE id = ?");
    u.bind(1, sealed_body.data(), static_cast<int>(sealed_body.size()));
    u.bind(2, sealed_subject.data(), static_cast<int>(sealed_subject.size()));
    u.bind(3, outbox_id);
    u.exec();
    if (!release && deps.mailbox) {
      // Visible in the mail client while it waits for approval.
      Flags seen;
      seen.system = flag_seen;
      if (auto uid = deps.mailbox->deliver(account.address, "Outbox", *filtered, seen, t / 1000)) {
        SQLite::Statement o(db, "UPDATE outbox_message SET outbox_uid = ? WHERE id = ?");
        o.bind(1, static_cast<std::int64_t>(*uid));
        o.bind(2, outbox_id);
        o.exec();
      } else {
        warn_account(account.id, "cannot show message " + std::to_string(outbox_id) + " in the Outbox folder: " + std::string(describe(uid.error())));
      }
    }
    for (const auto& address : resolved) {
      SQLite::Statement d(db, "INSERT INTO delivery (outbox_id, contact_id, recipient, state, next_at) VALUES (?, NULL, ?, 'held', ?)");
      d.bind(1, outbox_id);
      d.bind(2, address);
      d.bind(3, t);
      d.exec();
    }
    // --outbound-approval auto: the user's standing approval releases it now.
    std::vector<std::string> refused;
    if (release && release_held(outbox_id, refused) == 0)
      return std::unexpected(refused.empty() ? std::string("nothing to release") : refused.front());
    tx.commit();
  }
  std::string to;
  for (const auto& address : resolved) to += (to.empty() ? "" : ", ") + short_address(address);
  if (release)
    log("message " + std::to_string(outbox_id) + " to " + to + " released (outbound approval: auto)");
  else
    log("message " + std::to_string(outbox_id) + " to " + to + " held for approval (`fcpmail outbox approve " +
        std::to_string(outbox_id) + "`)");
  return outbox_id;
}

int Engine::Impl::release_held(std::int64_t outbox_id, std::vector<std::string>& refused) {
  struct Held {
    std::int64_t id = 0, account_id = 0;
    std::string recipient;
  };
  std::vector<Held> held;
  {
    SQLite::Statement q(db, "SELECT d.id, o.account_id, d.recipient FROM delivery d JOIN outbox_message o ON o.id = d.outbox_id "
                            "WHERE d.outbox_id = ? AND d.state = 'held' ORDER BY d.id");
    q.bind(1, outbox_id);
    while (q.executeStep()) held.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getString()});
  }
  auto keep_held = [&](const Held& h, const std::string& why) {
    SQLite::Statement u(db, "UPDATE delivery SET error = ? WHERE id = ?");
    u.bind(1, why);
    u.bind(2, h.id);
    u.exec();
    refused.push_back(why);
  };
  int released = 0;
  for (const auto& h : held) {
    auto parsed = freemail::parse_address(h.recipient);
    if (!parsed) {
      keep_held(h, "the recipient " + h.recipient + " is not a usable address (" + parsed.error() + ")");
      continue;
    }
    const std::string identity_id = parsed->identity.base64_id();
    auto before = contact_by_identity(h.account_id, identity_id);
    if (before)
      if (auto why = consent_refusal(*before)) {
        keep_held(h, *why);
        continue;
      }
    const auto contact_id = accept_contact(h.account_id, h.recipient, identity_id);
    if (!before || before->state != "accepted")
      log("contact " + short_address(h.recipient) + " accepted: you released mail to them");
    SQLite::Statement u(db, "UPDATE delivery SET state = 'released', contact_id = ?, next_at = ?, error = NULL WHERE id = ?");
    u.bind(1, contact_id);
    u.bind(2, now());
    u.bind(3, h.id);
    u.exec();
    ++released;
  }
  return released;
}

void Engine::Impl::reseal_legacy_outbox() {
  struct Legacy {
    std::int64_t id = 0, account_id = 0;
    std::string subject, body_sealed;
  };
  std::vector<Legacy> rows;
  {
    SQLite::Statement q(db, "SELECT id, account_id, subject, body_sealed FROM outbox_message WHERE legacy_seal = 1 ORDER BY id");
    while (q.executeStep())
      rows.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64(), q.getColumn(2).getString(), q.getColumn(3).getString()});
  }
  if (rows.empty()) return;
  int unreadable = 0;
  SQLite::Transaction tx(db);
  for (const auto& r : rows) {
    auto body = open(r.body_sealed, "outbox:" + std::to_string(r.id));
    // A body that does not open under its old binding is kept as it is: it stays unreadable, and
    // says so wherever it is shown, rather than being sealed again as if it were sound.
    const std::string body_sealed = body ? seal(*body, outbox_aad(r.account_id, r.id, "body")) : r.body_sealed;
    if (!body) {
      ++unreadable;
      warn_account(r.account_id, "outbox message " + std::to_string(r.id) + " could not be sealed again: its body does not open (" + body.error() +
           "); cancel it with `fcpmail outbox cancel " + std::to_string(r.id) + "`");
    }
    const std::string subject_sealed = seal(r.subject, outbox_aad(r.account_id, r.id, "subject"));
    SQLite::Statement u(db, "UPDATE outbox_message SET body_sealed = ?, subject_sealed = ?, subject = '', legacy_seal = 0 WHERE id = ?");
    u.bind(1, body_sealed.data(), static_cast<int>(body_sealed.size()));
    u.bind(2, subject_sealed.data(), static_cast<int>(subject_sealed.size()));
    u.bind(3, r.id);
    u.exec();
  }
  tx.commit();
  log(std::to_string(rows.size() - unreadable) + " outbox message(s) from an older fcpmail sealed again, bound to their account "
      "and id, subject included");
}

std::expected<std::string, std::string> Engine::submit(const std::string& account, const std::vector<std::string>& recipients,
                                                       std::string rfc822) {
  auto a = impl_->account_by_address(account);
  if (!a) return std::unexpected("no account " + account);
  auto id = impl_->submit_message(*a, recipients, std::move(rfc822));
  if (!id) return std::unexpected(id.error());
  wake();
  return std::to_string(*id);
}

Result<std::int64_t> Engine::send(const std::string& from, const std::vector<std::string>& to, std::string rfc822) {
  auto a = impl_->account_for(from);
  if (!a) return std::unexpected(a.error());
  auto id = impl_->submit_message(*a, to, std::move(rfc822));
  if (id) wake();
  return id;
}

// ---- the approval queue ------------------------------------------------------------------------

std::optional<OutboxEntry> Engine::Impl::load_outbox_entry(std::int64_t id) {
  SQLite::Statement q(db, "SELECT o.id, a.address, o.subject_sealed, o.size, o.submitted_at, o.account_id FROM outbox_message o JOIN account a ON a.id = o.account_id WHERE o.id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  OutboxEntry e;
  e.id = q.getColumn(0).getInt64();
  e.account = q.getColumn(1).getString();
  // An unreadable row stays listable (and cancellable): its subject says what is wrong.
  auto subject = open(q.getColumn(2).getString(), outbox_aad(q.getColumn(5).getInt64(), e.id, "subject"));
  if (subject) {
    e.subject = std::move(*subject);
  } else {
    e.subject = "(unreadable: " + subject.error() + ")";
    if (unreadable_outbox_reported.insert(e.id).second)
      warn_account(q.getColumn(5).getInt64(), "the subject of outbox message " + std::to_string(e.id) + " does not open (" + subject.error() +
           "): the row was altered or belongs to another; cancel it with `fcpmail outbox cancel " + std::to_string(e.id) + "`");
  }
  e.size = static_cast<std::size_t>(q.getColumn(3).getInt64());
  e.submitted = to_time_point(q.getColumn(4).getInt64());
  q.reset();
  SQLite::Statement d(db,
                      "SELECT d.recipient, d.state, d.next_at, d.attempts, d.delivered_at, d.error, d.inserted_at, d.slot_index, "
                      "c.state, c.rts_next_at, (SELECT slot_index FROM send_item s WHERE s.delivery_id = d.id LIMIT 1) "
                      "FROM delivery d LEFT JOIN channel c ON c.id = d.channel_id WHERE d.outbox_id = ? ORDER BY d.id");
  d.bind(1, id);
  while (d.executeStep()) {
    RecipientDelivery r;
    r.recipient = d.getColumn(0).getString();
    const std::string state = d.getColumn(1).getString();
    std::optional<MillisSinceEpoch> next_at;
    if (!d.getColumn(2).isNull()) next_at = d.getColumn(2).getInt64();
    r.attempts = d.getColumn(3).getInt();
    if (!d.getColumn(4).isNull()) r.delivered_at = to_time_point(d.getColumn(4).getInt64());
    const std::string error = d.getColumn(5).isNull() ? "" : d.getColumn(5).getString();
    const std::string channel_state = d.getColumn(8).isNull() ? "" : d.getColumn(8).getString();
    r.code = state;
    if (state == "held" && !error.empty()) {
      r.state = "held: " + error;
      r.next_action_text = "waits for you to allow the recipient, then `fcpmail outbox approve " + std::to_string(e.id) + "`";
    } else if (state == "held") {
      r.state = "held";
      r.next_action_text = "waits for `fcpmail outbox approve " + std::to_string(e.id) + "`";
    } else if (state == "released") {
      r.code = "resolving";
      r.state = error.empty() ? "looking up the recipient and its channel" : "waiting: " + error;
      if (next_at) r.next_action = to_time_point(*next_at);
      r.next_action_text = error.empty() ? "resolve" : "retry";
    } else if (state == "inserting") {
      const auto slot = d.getColumn(10);
      r.state = slot.isNull() ? std::string("queued for insert") : "inserting on slot " + std::to_string(slot.getInt64());
      if (channel_state == "awaiting_cts") r.state += ", awaiting CTS";
      r.next_action_text = "insert";
    } else if (state == "awaiting_ack") {
      const auto slot = d.getColumn(7).isNull() ? 0 : d.getColumn(7).getInt64();
      if (channel_state == "awaiting_cts") {
        r.code = "awaiting_cts";
        r.state = "inserted on slot " + std::to_string(slot) + ", awaiting CTS";
        if (!d.getColumn(9).isNull()) {
          r.next_action = to_time_point(d.getColumn(9).getInt64());
          r.next_action_text = "RTS resend";
        }
      } else {
        const auto since = d.getColumn(6).isNull() ? 0 : d.getColumn(6).getInt64();
        r.state = "inserted on slot " + std::to_string(slot) + ", awaiting ack since " + time_of_day(since);
        if (next_at) r.next_action = to_time_point(*next_at);
        r.next_action_text = "message resend";
      }
    } else if (state == "delivered") {
      r.state = "delivered";
    } else if (state == "failed") {
      r.state = "failed: " + error;
    } else if (state == "cancelled") {
      r.state = "cancelled";
    } else {
      r.state = state;
    }
    e.recipients.push_back(std::move(r));
  }
  return e;
}

Result<std::vector<OutboxEntry>> Engine::outbox(std::optional<std::string> account) {
  std::optional<std::int64_t> only;
  if (account && !account->empty()) {
    auto a = impl_->account_for(account);
    if (!a) return std::unexpected(a.error());
    only = a->id;
  }
  SQLite::Statement q(impl_->db, "SELECT id, account_id FROM outbox_message ORDER BY id");
  std::vector<OutboxEntry> out;
  while (q.executeStep()) {
    if (only && q.getColumn(1).getInt64() != *only) continue;
    if (auto e = impl_->load_outbox_entry(q.getColumn(0).getInt64())) out.push_back(std::move(*e));
  }
  return out;
}

Result<OutboxDetail> Engine::outbox_show(std::int64_t id) {
  auto e = impl_->load_outbox_entry(id);
  if (!e) return std::unexpected("no outbox message " + std::to_string(id) + "; see `fcpmail outbox list`");
  OutboxDetail detail;
  detail.entry = std::move(*e);
  SQLite::Statement q(impl_->db, "SELECT body_sealed, account_id FROM outbox_message WHERE id = ?");
  q.bind(1, id);
  if (q.executeStep()) {
    auto body = impl_->open(q.getColumn(0).getString(), outbox_aad(q.getColumn(1).getInt64(), id, "body"));
    if (body) {
      detail.headers = wire::headers_of(*body);
    } else {
      detail.headers = "(unreadable: " + body.error() + ")\r\n";
      if (impl_->unreadable_outbox_reported.insert(id).second)
        impl_->warn_account(q.getColumn(1).getInt64(), "outbox message " + std::to_string(id) + " does not open (" + body.error() +
                    "): the row was altered or belongs to another; cancel it with `fcpmail outbox cancel " + std::to_string(id) + "`");
    }
  }
  return detail;
}

namespace {
std::string joined(const std::vector<std::string>& sentences) {
  std::string out;
  for (const auto& s : sentences) out += (out.empty() ? "" : "; ") + s;
  return out;
}
}  // namespace

// Approval is the user's act: it releases the held recipients and accepts them as contacts (a
// recipient the user revoked or denied meanwhile stays held and is named).
Result<OutboxEntry> Engine::outbox_approve(std::int64_t id) {
  if (!impl_->load_outbox_entry(id)) return std::unexpected("no outbox message " + std::to_string(id) + "; see `fcpmail outbox list`");
  std::vector<std::string> refused;
  int released = 0;
  {
    SQLite::Transaction tx(impl_->db);
    released = impl_->release_held(id, refused);
    tx.commit();
  }
  if (released == 0) {
    if (!refused.empty()) return std::unexpected("outbox message " + std::to_string(id) + " stays held: " + joined(refused));
    return std::unexpected("outbox message " + std::to_string(id) + " has nothing held");
  }
  impl_->drop_outbox_copy(id);
  impl_->log("message " + std::to_string(id) + " released by the user" + (refused.empty() ? "" : "; still held: " + joined(refused)));
  wake();
  return *impl_->load_outbox_entry(id);
}

Result<int> Engine::outbox_approve_all(std::optional<std::string> account) {
  std::string sql = "SELECT DISTINCT d.outbox_id FROM delivery d JOIN outbox_message o ON o.id = d.outbox_id WHERE d.state = 'held'";
  std::optional<std::int64_t> only;
  if (account && !account->empty()) {
    auto a = impl_->account_for(account);
    if (!a) return std::unexpected(a.error());
    only = a->id;
    sql += " AND o.account_id = " + std::to_string(*only);
  }
  std::vector<std::int64_t> ids;
  {
    SQLite::Statement q(impl_->db, sql);
    while (q.executeStep()) ids.push_back(q.getColumn(0).getInt64());
  }
  std::vector<std::int64_t> released_ids;
  std::vector<std::string> refused;
  {
    SQLite::Transaction tx(impl_->db);
    for (auto id : ids)
      if (impl_->release_held(id, refused) > 0) released_ids.push_back(id);
    tx.commit();
  }
  for (auto id : released_ids) impl_->drop_outbox_copy(id);
  if (!released_ids.empty()) impl_->log(std::to_string(released_ids.size()) + " held message(s) released by the user");
  if (!refused.empty()) impl_->log("still held: " + joined(refused));
  wake();
  return static_cast<int>(released_ids.size());
}

Result<OutboxEntry> Engine::outbox_cancel(std::int64_t id) {
  if (!impl_->load_outbox_entry(id)) return std::unexpected("no outbox message " + std::to_string(id) + "; see `fcpmail outbox list`");
  SQLite::Transaction tx(impl_->db);
  impl_->db.exec("DELETE FROM send_item WHERE delivery_id IN (SELECT id FROM delivery WHERE outbox_id = " + std::to_string(id) +
                 " AND state NOT IN ('delivered'))");
  const int n = impl_->db.exec("UPDATE delivery SET state = 'cancelled', next_at = NULL WHERE outbox_id = " + std::to_string(id) +
                               " AND state NOT IN ('delivered', 'cancelled', 'failed')");
  tx.commit();
  impl_->drop_outbox_copy(id);
  if (n == 0) return std::unexpected("outbox message " + std::to_string(id) + " has nothing left to cancel");
  impl_->log("message " + std::to_string(id) + " cancelled by the user");
  return *impl_->load_outbox_entry(id);
}

void Engine::Impl::drop_outbox_copy(std::int64_t outbox_id) {
  SQLite::Statement q(db, "SELECT a.address, o.outbox_uid FROM outbox_message o JOIN account a ON a.id = o.account_id WHERE o.id = ? AND o.outbox_uid IS NOT NULL");
  q.bind(1, outbox_id);
  if (!q.executeStep() || !deps.mailbox) return;
  const std::string account = q.getColumn(0).getString();
  const std::uint32_t uid = static_cast<std::uint32_t>(q.getColumn(1).getInt64());
  q.reset();
  // Only when nothing of it is held any more.
  if (db.execAndGet("SELECT COUNT(*) FROM delivery WHERE state = 'held' AND outbox_id = " + std::to_string(outbox_id)).getInt() > 0) return;
  if (auto r = deps.mailbox->remove(account, "Outbox", std::span<const std::uint32_t>(&uid, 1)); !r)
    remember_warning(account, "cannot remove message " + std::to_string(outbox_id) + " from the Outbox folder: " + std::string(describe(r.error())));
  db.exec("UPDATE outbox_message SET outbox_uid = NULL WHERE id = " + std::to_string(outbox_id));
}

// ---- dispatch ----------------------------------------------------------------------------------

// Fetches the peer's mailpage (WoT GetIdentity -> identity USK -> mailsite USK -> mailpage) unless
// we already have it. Each step's result is stored as soon as it is known, so an attempt cut short
// (a lost connection after the FCP client's own re-sends, a DNF) resumes after the last step done
// instead of starting from scratch.
asio::awaitable<Result<void>> Engine::Impl::ensure_peer_mailpage(const AccountRow& account, std::int64_t contact_id) {
  auto contact = contact_by_id(contact_id);
  if (!contact) co_return std::unexpected(std::string("contact vanished"));
  if (!contact->rsa_public.empty() && !contact->rtsksk.empty() && !contact->mailsite_uri.empty()) co_return Result<void>{};
  std::string mailsite = contact->mailsite_uri;
  std::string request_uri = contact->request_uri;
  std::string nickname = contact->nickname;
  if (mailsite.empty()) {
    std::int64_t edition = 1;
    WotFields wot_params_0{{"Message", "GetIdentity"}, {"Identity", contact->identity_id}, {"Truster", account.identity_id}};
    auto identity = co_await node.wot(std::move(wot_params_0));
    if (identity) {
      if (identity->count("RequestURI")) request_uri = (*identity)["RequestURI"];
      if (identity->count("Nickname")) nickname = (*identity)["Nickname"];
      {  // no statement may live across the co_await below
        SQLite::Statement u(db, "UPDATE contact SET request_uri = ?, nickname = ? WHERE id = ?");
        u.bind(1, request_uri);
        u.bind(2, nickname);
        u.bind(3, contact_id);
        u.exec();
      }
      WotFields wot_params_1{{"Message", "GetProperty"}, {"Identity", contact->identity_id}, {"Property", "Freemail.mailsite"}};
      auto property = co_await node.wot(std::move(wot_params_1));
      if (property && property->count("Property")) {
        try {
          edition = std::max<std::int64_t>(1, std::stoll((*property)["Property"]));
        } catch (...) {
        }
      } else if (!property && property.error().kind == NodeError::Kind::disconnected) {
        co_return std::unexpected("the node connection kept dropping while asking WebOfTrust for the mailsite of " +
                                  contact->address + "; the identity is kept, the lookup continues from there");
      }
    } else if (request_uri.empty()) {
      co_return std::unexpected(contact->address + " is not known to your WebOfTrust (" + identity.error().description +
                                "); add them with `fcpmail contacts add <identity request URI>`");
    }
    auto uri = freemail::mailsite_request_uri(request_uri, static_cast<std::uint64_t>(edition));
    if (!uri) co_return std::unexpected("unusable identity URI for " + contact->address + ": " + uri.error());
    mailsite = *uri;
    SQLite::Statement u(db, "UPDATE contact SET mailsite_uri = ? WHERE id = ?");
    u.bind(1, mailsite);
    u.bind(2, contact_id);
    u.exec();
  }
  auto page_bytes = co_await node.get(mailsite, 64 * 1024, "mailpage of " + short_address(contact->address));
  if (!page_bytes) co_return std::unexpected("cannot fetch the mailpage of " + contact->address + ": " + page_bytes.error().description);
  auto page = freemail::read_mailpage(*page_bytes);
  if (!page) co_return std::unexpected("the mailpage of " + contact->address + " is unusable: " + page.error());
  if (!page->rtsksk) co_return std::unexpected("the mailpage of " + contact->address + " has no rtsksk");
  auto public_text = freemail::write_mailpage(*page);
  if (!public_text) co_return std::unexpected(public_text.error());
  SQLite::Statement u(db, "UPDATE contact SET rsa_public = ?, rtsksk = ? WHERE id = ?");
  u.bind(1, *public_text);
  u.bind(2, *page->rtsksk);
  u.bind(3, contact_id);
  u.exec();
  log("mailpage of " + short_address(contact->address) + " fetched from " + mailsite);
  co_return Result<void>{};
}

// A released delivery: make sure there is a channel that can send, give the message its id and
// queue its insert. Runs one at a time per contact (busy key "contact:<id>").
asio::awaitable<void> Engine::Impl::dispatch_delivery(std::int64_t delivery_id) {
  std::int64_t contact_id = 0, account_id = 0;
  {  // no statement stays open across a suspension
    SQLite::Statement q(db, "SELECT d.contact_id, o.account_id, d.state FROM delivery d JOIN outbox_message o ON o.id = d.outbox_id WHERE d.id = ?");
    q.bind(1, delivery_id);
    if (!q.executeStep()) co_return;
    contact_id = q.getColumn(0).getInt64();
    account_id = q.getColumn(1).getInt64();
    if (q.getColumn(2).getString() != "released") co_return;
  }
  auto account = account_by_id(account_id);
  auto contact = contact_by_id(contact_id);
  // Nothing goes to a contact the user revoked or denied since the release: the delivery is held
  // again, saying why, until they allow them again and approve it.
  std::optional<std::string> refusal;
  if (!contact) refusal = "its recipient is not a contact any more; approve it again";
  else refusal = consent_refusal(*contact);
  if (account && refusal) {
    SQLite::Statement u(db, "UPDATE delivery SET state = 'held', error = ?, next_at = NULL WHERE id = ?");
    u.bind(1, *refusal);
    u.bind(2, delivery_id);
    u.exec();
    log("message to " + (contact ? short_address(contact->address) : std::string("?")) + " held again: " + *refusal);
    co_return;
  }
  if (!account) co_return;
  auto retry_later = [&](const std::string& why) {
    SQLite::Statement u(db, "UPDATE delivery SET error = ?, next_at = ? WHERE id = ?");
    u.bind(1, why);
    u.bind(2, now() + cfg.intervals.retry.count());
    u.bind(3, delivery_id);
    u.exec();
    warn_account(account->id, "message to " + short_address(contact->address) + " waits: " + why);
  };
  // A channel we can send on: not closed, before its timeout (with a margin for the insert).
  std::optional<std::int64_t> channel_id;
  {
    SQLite::Statement c(db, "SELECT id FROM channel WHERE contact_id = ? AND state != 'closed' AND timeout_at > ? ORDER BY created_at DESC LIMIT 1");
    c.bind(1, contact_id);
    c.bind(2, now() + cfg.intervals.retry.count());
    if (c.executeStep()) channel_id = c.getColumn(0).getInt64();
  }
  if (!channel_id) {
    auto page = co_await ensure_peer_mailpage(*account, contact_id);
    if (!page) {
      retry_later(page.error());
      co_return;
    }
    auto fresh = contact_by_id(contact_id);
    auto created = co_await create_channel(*account, *fresh);
    if (!created) {
      retry_later(created.error());
      co_return;
    }
    channel_id = *created;
  }
  SQLite::Transaction tx(db);
  SQLite::Statement d(db, "SELECT state, message_id FROM delivery WHERE id = ?");
  d.bind(1, delivery_id);
  if (!d.executeStep() || d.getColumn(0).getString() != "released") co_return;  // cancelled meanwhile
  std::int64_t message_id = 0;
  if (d.getColumn(1).isNull()) {
    message_id = db.execAndGet("SELECT next_message_id FROM contact WHERE id = " + std::to_string(contact_id)).getInt64();
    db.exec("UPDATE contact SET next_message_id = next_message_id + 1 WHERE id = " + std::to_string(contact_id));
  } else {
    message_id = d.getColumn(1).getInt64();
  }
  SQLite::Statement i(db, "INSERT INTO send_item (channel_id, kind, delivery_id, message_id, due_at) VALUES (?, 'message', ?, ?, ?)");
  i.bind(1, *channel_id);
  i.bind(2, delivery_id);
  i.bind(3, message_id);
  i.bind(4, now());
  i.exec();
  SQLite::Statement u(db, "UPDATE delivery SET state = 'inserting', message_id = ?, channel_id = ?, error = NULL, next_at = NULL WHERE id = ?");
  u.bind(1, message_id);
  u.bind(2, *channel_id);
  u.bind(3, delivery_id);
  u.exec();
  tx.commit();
  asio::post(deps.io, [this] { schedule_pass(); });
}

}  // namespace fcpmail::engine
