// Contacts (petnames, revoke) and contact requests (consent before any CTS).
#include "engine/engine_impl.h"

#include "freemail/address.h"
#include "mail/ascii.h"

#include <nlohmann/json.hpp>

namespace fcpmail::engine {

namespace {

using ascii::to_lower;

Contact to_contact(const ContactRow& c, const std::string& account) {
  Contact out;
  out.account = account;
  out.address = c.address;
  out.petname = c.petname;
  out.nickname = c.nickname;
  out.identity_id = c.identity_id;
  out.state = c.state;
  out.added = to_time_point(c.added_at);
  if (c.last_message_at) out.last_message = to_time_point(*c.last_message_at);
  return out;
}

// "USK@<id>,<crypto>,<extra>/WebOfTrust/N" -> id, or nothing.
std::optional<std::string> identity_of_uri(std::string_view uri) {
  if (!(uri.starts_with("USK@") || uri.starts_with("SSK@"))) return std::nullopt;
  auto comma = uri.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  return std::string(uri.substr(4, comma - 4));
}

}  // namespace

std::optional<std::string> consent_refusal(const ContactRow& contact) {
  if (contact.state == "revoked")
    return contact.address + " is revoked: you stopped accepting mail from this contact; allow them again with "
                             "`fcpmail contacts add " + contact.address + "`";
  if (contact.state == "denied")
    return contact.address + " is denied: you refused their contact request; allow them with `fcpmail contacts add " +
           contact.address + "`";
  return std::nullopt;
}

// A contact named by address, identity id, petname, or a unique prefix of address or petname.
static Result<ContactRow> find_contact(Engine::Impl& impl, std::int64_t account_id, const std::string& typed) {
  const std::string want = to_lower(typed);
  // An address names its identity; the local part carries no routing information.
  if (auto parsed = freemail::parse_address(typed)) {
    if (auto c = impl.contact_by_identity(account_id, parsed->identity.base64_id()); c && c->state != "removed") return *c;
  }
  SQLite::Statement q(impl.db, "SELECT id, address, petname, identity_id FROM contact WHERE account_id = ? AND state != 'removed'");
  q.bind(1, account_id);
  std::vector<std::int64_t> prefix;
  while (q.executeStep()) {
    const auto id = q.getColumn(0).getInt64();
    const std::string address = q.getColumn(1).getString();
    const std::string petname = to_lower(q.getColumn(2).getString());
    if (address == want || petname == want || q.getColumn(3).getString() == typed) return *impl.contact_by_id(id);
    if (!want.empty() && (address.starts_with(want) || petname.starts_with(want))) prefix.push_back(id);
  }
  if (prefix.size() == 1) return *impl.contact_by_id(prefix.front());
  if (prefix.size() > 1) return std::unexpected("\"" + typed + "\" matches several contacts; type more of it");
  return std::unexpected("no contact \"" + typed + "\"; see `fcpmail contacts list`");
}

Result<std::vector<Contact>> Engine::contacts(std::optional<std::string> account) {
  std::vector<Contact> out;
  for (const auto& a : impl_->all_accounts()) {
    if (account && !account->empty()) {
      auto wanted = impl_->account_for(account);
      if (!wanted) return std::unexpected(wanted.error());
      if (wanted->id != a.id) continue;
    }
    SQLite::Statement q(impl_->db, "SELECT id FROM contact WHERE account_id = ? AND state IN ('accepted', 'revoked') ORDER BY address");
    q.bind(1, a.id);
    while (q.executeStep()) out.push_back(to_contact(*impl_->contact_by_id(q.getColumn(0).getInt64()), a.address));
  }
  return out;
}

Result<Contact> Engine::add_contact(const std::string& account_typed, const std::string& typed, const std::string& petname) {
  auto account = impl_->account_for(account_typed);
  if (!account) return std::unexpected(account.error());
  std::string identity_id, address, request_uri;
  if (auto id = identity_of_uri(typed)) {
    auto identity = freemail::identity_from_base64_id(*id);
    if (!identity) return std::unexpected("that identity URI does not hold a usable identity: " + identity.error());
    identity_id = *id;
    address = "mail@" + identity->domain();
    request_uri = typed;
  } else {
    auto parsed = freemail::parse_address(typed);
    if (!parsed) return std::unexpected("\"" + typed + "\" is neither a Freemail address nor an identity URI: " + parsed.error());
    identity_id = parsed->identity.base64_id();
    address = parsed->address();
  }
  if (identity_id == account->identity_id) return std::unexpected(std::string("that is this account's own address"));
  if (!petname.empty()) {
    SQLite::Statement q(impl_->db, "SELECT COUNT(*) FROM contact WHERE account_id = ? AND lower(petname) = ? AND identity_id != ? AND state != 'removed'");
    q.bind(1, account->id);
    q.bind(2, to_lower(petname));
    q.bind(3, identity_id);
    q.executeStep();
    if (q.getColumn(0).getInt() > 0) return std::unexpected("the petname \"" + petname + "\" is already taken");
  }
  SQLite::Transaction tx(impl_->db);
  const auto before = impl_->contact_by_identity(account->id, identity_id);
  const auto id = impl_->accept_contact(account->id, address, identity_id);  // the user's act: also un-revokes
  {
    SQLite::Statement u(impl_->db, "UPDATE contact SET petname = CASE WHEN ? = '' THEN petname ELSE ? END, request_uri = COALESCE(?, request_uri), address = ? WHERE id = ?");
    u.bind(1, petname);
    u.bind(2, petname);
    if (request_uri.empty()) u.bind(3); else u.bind(3, request_uri);
    u.bind(4, address);
    u.bind(5, id);
    u.exec();
  }
  tx.commit();
  impl_->log("contact " + address + (petname.empty() ? "" : " (" + petname + ")") + " added to " + short_address(account->address) +
             (before && before->state != "accepted" ? " (was " + before->state + ")" : ""));
  return to_contact(*impl_->contact_by_id(id), account->address);
}

Result<void> Engine::remove_contact(const std::string& account_typed, const std::string& typed) {
  auto account = impl_->account_for(account_typed);
  if (!account) return std::unexpected(account.error());
  auto c = find_contact(*impl_, account->id, typed);
  if (!c) return std::unexpected(c.error());
  // Kept as a row (deliveries refer to it); a later RTS from them is a new contact request.
  SQLite::Transaction tx(impl_->db);
  impl_->db.exec("UPDATE contact SET state = 'removed', petname = '' WHERE id = " + std::to_string(c->id));
  impl_->db.exec("UPDATE channel SET state = 'closed' WHERE contact_id = " + std::to_string(c->id));
  tx.commit();
  impl_->log("contact " + c->address + " removed");
  return {};
}

Result<void> Engine::revoke_contact(const std::string& account_typed, const std::string& typed) {
  auto account = impl_->account_for(account_typed);
  if (!account) return std::unexpected(account.error());
  auto c = find_contact(*impl_, account->id, typed);
  if (!c) return std::unexpected(c.error());
  SQLite::Transaction tx(impl_->db);
  impl_->db.exec("UPDATE contact SET state = 'revoked' WHERE id = " + std::to_string(c->id));
  impl_->db.exec("UPDATE channel SET state = 'closed' WHERE contact_id = " + std::to_string(c->id));
  impl_->db.exec("DELETE FROM send_item WHERE channel_id IN (SELECT id FROM channel WHERE contact_id = " + std::to_string(c->id) + ")");
  // Mail to them not delivered yet waits again, saying why, until the user allows them again.
  auto revoked = *impl_->contact_by_id(c->id);
  SQLite::Statement hold(impl_->db, "UPDATE delivery SET state = 'held', error = ?, next_at = NULL WHERE contact_id = ? AND "
                                    "state IN ('held', 'released', 'inserting', 'awaiting_ack')");
  hold.bind(1, *consent_refusal(revoked));
  hold.bind(2, c->id);
  const int held = hold.exec();
  tx.commit();
  impl_->log("permission for " + c->address + " revoked: its channels are no longer polled" +
             (held ? "; " + std::to_string(held) + " message(s) to them held" : ""));
  return {};
}

// ---- requests ----------------------------------------------------------------------------------

static ContactRequest read_request(SQLite::Statement& q) {
  ContactRequest r;
  r.id = q.getColumn(0).getInt64();
  r.account = q.getColumn(1).getString();
  r.from_address = q.getColumn(2).getString();
  r.nickname = q.getColumn(3).getString();
  r.identity_id = q.getColumn(4).getString();
  r.received = to_time_point(q.getColumn(5).getInt64());
  r.state = q.getColumn(6).getString();
  return r;
}

static constexpr const char* request_select =
    "SELECT r.id, a.address, r.address, r.nickname, r.identity_id, r.received_at, r.state FROM contact_request r "
    "JOIN account a ON a.id = r.account_id ";

Result<std::vector<ContactRequest>> Engine::requests(std::optional<std::string> account) {
  std::optional<std::int64_t> only;
  if (account && !account->empty()) {
    auto a = impl_->account_for(account);
    if (!a) return std::unexpected(a.error());
    only = a->id;
  }
  SQLite::Statement q(impl_->db, std::string(request_select) + "WHERE r.state = 'pending' ORDER BY r.id");
  std::vector<ContactRequest> out;
  while (q.executeStep()) {
    auto r = read_request(q);
    if (only && impl_->account_by_address(r.account)->id != *only) continue;
    out.push_back(std::move(r));
  }
  return out;
}

static std::optional<ContactRequest> load_request(Engine::Impl& impl, std::int64_t id) {
  SQLite::Statement q(impl.db, std::string(request_select) + "WHERE r.id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::nullopt;
  return read_request(q);
}

Result<ContactRequest> Engine::approve_request(std::int64_t id) {
  auto& db = impl_->db;
  SQLite::Statement q(db, "SELECT account_id, identity_id, address, nickname, mailsite_uri, rsa_public, rts_sealed, channel_key_hash, state FROM contact_request WHERE id = ?");
  q.bind(1, id);
  if (!q.executeStep()) return std::unexpected("no contact request " + std::to_string(id) + "; see `fcpmail requests list`");
  if (q.getColumn(8).getString() != "pending")
    return std::unexpected("contact request " + std::to_string(id) + " is already " + q.getColumn(8).getString());
  const auto account_id = q.getColumn(0).getInt64();
  const std::string identity_id = q.getColumn(1).getString();
  const std::string address = q.getColumn(2).getString();
  const std::string nickname = q.getColumn(3).getString();
  const std::string mailsite_uri = q.getColumn(4).getString();
  const std::string rsa_public = q.getColumn(5).getString();
  auto fields_text = impl_->open(q.getColumn(6).getString(), "request:" + q.getColumn(7).getString());
  if (!fields_text) return std::unexpected("the stored request cannot be unsealed: " + fields_text.error());
  auto j = nlohmann::json::parse(*fields_text, nullptr, false);
  wire::RtsFields f;
  f.mailsite = j.value("mailsite", "");
  f.to = j.value("to", "");
  f.channel = j.value("channel", "");
  f.initiator_slot = j.value("initiatorSlot", "");
  f.responder_slot = j.value("responderSlot", "");
  f.timeout_ms = j.value("timeout", std::int64_t{0});

  SQLite::Transaction tx(db);
  const auto contact_id = impl_->accept_contact(account_id, address, identity_id);  // the user's act
  {
    SQLite::Statement u(db, "UPDATE contact SET mailsite_uri = ?, rsa_public = ?, nickname = CASE WHEN nickname = '' THEN ? ELSE nickname END WHERE id = ?");
    u.bind(1, mailsite_uri);
    u.bind(2, rsa_public);
    u.bind(3, nickname);
    u.bind(4, contact_id);
    u.exec();
  }
  impl_->accept_rts(account_id, contact_id, f);
  db.exec("UPDATE contact_request SET state = 'approved' WHERE id = " + std::to_string(id));
  tx.commit();
  impl_->log("contact request " + std::to_string(id) + " from " + address + " approved: channel open, CTS queued");
  wake();
  return *load_request(*impl_, id);
}

Result<ContactRequest> Engine::deny_request(std::int64_t id) {
  auto& db = impl_->db;
  auto r = load_request(*impl_, id);
  if (!r) return std::unexpected("no contact request " + std::to_string(id) + "; see `fcpmail requests list`");
  if (r->state != "pending") return std::unexpected("contact request " + std::to_string(id) + " is already " + r->state);
  SQLite::Statement q(db, "SELECT account_id FROM contact_request WHERE id = ?");
  q.bind(1, id);
  q.executeStep();
  const auto account_id = q.getColumn(0).getInt64();
  SQLite::Transaction tx(db);
  db.exec("UPDATE contact_request SET state = 'denied' WHERE id = " + std::to_string(id));
  // Remember the refusal so later RTSs from them are dropped without asking again (and mail to
  // them is refused until the user allows them).
  if (auto known = impl_->contact_by_identity(account_id, r->identity_id); known && known->state == "removed") {
    db.exec("UPDATE contact SET state = 'denied' WHERE id = " + std::to_string(known->id));
  } else if (!known) {
    SQLite::Statement i(db, "INSERT INTO contact (account_id, identity_id, address, nickname, state, added_at) VALUES (?, ?, ?, ?, 'denied', ?)");
    i.bind(1, account_id);
    i.bind(2, r->identity_id);
    i.bind(3, r->from_address);
    i.bind(4, r->nickname);
    i.bind(5, Impl::now());
    i.exec();
  }
  tx.commit();
  impl_->log("contact request " + std::to_string(id) + " from " + r->from_address + " denied: no CTS is sent");
  return *load_request(*impl_, id);
}

}  // namespace fcpmail::engine
