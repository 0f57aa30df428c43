// Account export and import (account_transfer.h says what moves and what does not).
//
// Export reads the account's rows on the io thread (quick), then derives the file key and
// encrypts on the worker pool. Import decrypts on the pool, checks the content, makes sure the
// node's WebOfTrust has the own identity (restoring it from its insert URI if not), writes every
// row in ONE transaction (any failure: nothing is imported), then republishes the mailsite.
#include "engine/account_transfer.h"

#include "engine/account_archive.h"
#include "engine/engine_impl.h"
#include "freemail/address.h"
#include "freemail/rsa_key_file.h"

#include <set>

namespace fcpmail::engine {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// ---- rows as JSON ------------------------------------------------------------------------------

json column_value(const SQLite::Column& c) {
  if (c.isNull()) return nullptr;
  if (c.isInteger()) return c.getInt64();
  if (c.isFloat()) return c.getDouble();
  if (c.isBlob()) {
    const auto* data = static_cast<const std::uint8_t*>(c.getBlob());
    return json::binary(std::vector<std::uint8_t>(data, data + c.getBytes()));
  }
  return c.getString();
}

// Every row of `sql` (one bound integer) as an object keyed by column name.
json rows(SQLite::Database& db, const std::string& sql, std::int64_t key) {
  SQLite::Statement q(db, sql);
  q.bind(1, key);
  json out = json::array();
  while (q.executeStep()) {
    json row = json::object();
    for (int i = 0; i < q.getColumnCount(); ++i) row[q.getColumnName(i)] = column_value(q.getColumn(i));
    out.push_back(std::move(row));
  }
  return out;
}

// Text of a value the export stored as a string (sealed columns, opened) or bytes.
std::string bytes_of(const json& v) {
  if (v.is_binary()) return std::string(v.get_binary().begin(), v.get_binary().end());
  return v.get<std::string>();
}

void bind_value(SQLite::Statement& s, int index, const json& v) {
  if (v.is_null()) s.bind(index);
  else if (v.is_boolean()) s.bind(index, v.get<bool>() ? 1 : 0);
  else if (v.is_number_integer()) s.bind(index, v.get<std::int64_t>());
  else if (v.is_number_float()) s.bind(index, v.get<double>());
  else if (v.is_binary()) {
    // An empty blob must still be a blob: SQLite binds a null pointer as NULL.
    static const char nothing = 0;
    const auto& b = v.get_binary();
    s.bind(index, b.empty() ? static_cast<const void*>(&nothing) : b.data(), static_cast<int>(b.size()));
  }
  else if (v.is_string()) s.bind(index, v.get<std::string>());
  else throw std::runtime_error("a value of an unexpected type");
}

std::set<std::string> table_columns(SQLite::Database& db, const std::string& table) {
  SQLite::Statement q(db, "SELECT name FROM pragma_table_info(?)");
  q.bind(1, table);
  std::set<std::string> out;
  while (q.executeStep()) out.insert(q.getColumn(0).getString());
  return out;
}

// Inserts `row` into `table`: the columns this schema has (others in the file are ignored, so a
// file from an older schema still imports), minus `id`, with `set` overriding. Column names come
// from the schema itself, never from the file. Returns the new row id.
std::int64_t insert_row(SQLite::Database& db, const std::string& table, const json& row, const json& set) {
  if (!row.is_object()) throw std::runtime_error("a " + table + " entry is not an object");
  const auto known = table_columns(db, table);
  std::vector<std::pair<std::string, const json*>> values;
  for (const auto& [name, value] : set.items())
    if (known.contains(name)) values.emplace_back(name, &value);
  for (const auto& [name, value] : row.items())
    if (name != "id" && known.contains(name) && !set.contains(name)) values.emplace_back(name, &value);
  std::string sql = "INSERT INTO " + table + " (", placeholders;
  for (std::size_t i = 0; i < values.size(); ++i) {
    sql += (i ? ", " : "") + values[i].first;
    placeholders += i ? ", ?" : "?";
  }
  SQLite::Statement s(db, sql + ") VALUES (" + placeholders + ")");
  for (std::size_t i = 0; i < values.size(); ++i) bind_value(s, static_cast<int>(i + 1), *values[i].second);
  s.exec();
  return db.getLastInsertRowid();
}

const json& array_of(const json& content, const char* key) {
  static const json empty = json::array();
  if (!content.contains(key)) return empty;
  if (!content[key].is_array()) throw std::runtime_error(std::string("\"") + key + "\" is not a list");
  return content[key];
}

std::int64_t mapped(const std::map<std::int64_t, std::int64_t>& ids, const json& old, const char* what) {
  auto it = ids.find(old.get<std::int64_t>());
  if (it == ids.end()) throw std::runtime_error(std::string("a row refers to a missing ") + what);
  return it->second;
}

json empty_blob() { return json::binary(std::vector<std::uint8_t>{}); }

std::string text(const json& object, const char* key) {
  if (!object.contains(key) || !(object[key].is_string() || object[key].is_binary()))
    throw std::runtime_error(std::string("the account has no ") + key);
  return bytes_of(object[key]);
}

}  // namespace

// ---- export ------------------------------------------------------------------------------------

namespace {

// Everything of one account (account_transfer.h), sealed columns opened.
Result<json> collect_account(Engine::Impl& impl, const AccountRow& account) {
  auto& db = impl.db;
  const auto id = account.id;
  const std::string where = "account:" + std::to_string(id);
  json content = {{"format", account_export_format},
                  {"content_version", account_export_content_version},
                  {"exported_at", Engine::Impl::now()},
                  {"fcpmail_version", "0.1.0"}};

  json account_row = rows(db, "SELECT * FROM account WHERE id = ?", id).at(0);
  auto insert_uri = impl.open(bytes_of(account_row["insert_uri_sealed"]), where + ":insert-uri");
  auto rsa = impl.open(bytes_of(account_row["rsa_private_sealed"]), where + ":rsa");
  if (!insert_uri || !rsa) return std::unexpected(std::string("cannot open the account's sealed keys with this data dir's secret key"));
  account_row.erase("insert_uri_sealed");
  account_row.erase("rsa_private_sealed");
  account_row["insert_uri"] = *insert_uri;
  account_row["rsa_private"] = *rsa;
  content["account"] = std::move(account_row);

  content["contacts"] = rows(db, "SELECT * FROM contact WHERE account_id = ?", id);

  json requests = rows(db, "SELECT * FROM contact_request WHERE account_id = ?", id);
  for (auto& r : requests) {
    auto rts = impl.open(bytes_of(r["rts_sealed"]), "request:" + r["channel_key_hash"].get<std::string>());
    if (!rts) return std::unexpected("cannot open the stored contact request from " + r["address"].get<std::string>());
    r.erase("rts_sealed");
    r["rts"] = *rts;
  }
  content["contact_requests"] = std::move(requests);

  json channels = rows(db, "SELECT * FROM channel WHERE account_id = ?", id);
  for (auto& c : channels) {
    const std::string key_hash = c["key_hash"].get<std::string>();
    auto key = impl.open(bytes_of(c["insert_uri_sealed"]), "channel:" + key_hash);
    if (!key) return std::unexpected("cannot open the key of channel " + std::to_string(c["id"].get<std::int64_t>()));
    c.erase("insert_uri_sealed");
    c["insert_uri"] = *key;
    if (!c["rts_json_sealed"].is_null()) {
      auto rts = impl.open(bytes_of(c["rts_json_sealed"]), "channel-rts:" + key_hash);
      if (!rts) return std::unexpected("cannot open the RTS of channel " + std::to_string(c["id"].get<std::int64_t>()));
      c["rts_json"] = *rts;
    }
    c.erase("rts_json_sealed");
  }
  content["channels"] = std::move(channels);
  content["skipped_slots"] = rows(db, "SELECT s.* FROM skipped_slot s JOIN channel c ON c.id = s.channel_id WHERE c.account_id = ?", id);

  // Unfinished outbox messages only: delivered/failed/cancelled ones need nothing more.
  const std::string unfinished = "SELECT DISTINCT outbox_id FROM delivery WHERE state NOT IN ('delivered', 'failed', 'cancelled')";
  json outbox = rows(db, "SELECT * FROM outbox_message WHERE account_id = ? AND id IN (" + unfinished + ")", id);
  for (auto& m : outbox) {
    const auto outbox_id = m["id"].get<std::int64_t>();
    auto body = impl.open(bytes_of(m["body_sealed"]), outbox_aad(id, outbox_id, "body"));
    auto subject = m["subject_sealed"].is_null() ? std::expected<std::string, std::string>(std::unexpected(std::string("no sealed subject")))
                                                 : impl.open(bytes_of(m["subject_sealed"]), outbox_aad(id, outbox_id, "subject"));
    if (!body || !subject)
      return std::unexpected("cannot open outbox message " + std::to_string(outbox_id) + " (" + (body ? subject.error() : body.error()) +
                             "); cancel it with `fcpmail outbox cancel " + std::to_string(outbox_id) + "` and export again");
    m.erase("body_sealed");
    m.erase("subject_sealed");
    m.erase("legacy_seal");
    m.erase("outbox_uid");  // the IMAP Outbox copy stays behind with the mailbox
    m["body"] = json::binary(std::vector<std::uint8_t>(body->begin(), body->end()));
    m["subject"] = *subject;  // as content version 1 always had it: opened, like every sealed column
  }
  content["outbox"] = std::move(outbox);
  content["deliveries"] = rows(db, "SELECT d.* FROM delivery d JOIN outbox_message m ON m.id = d.outbox_id WHERE m.account_id = ? AND m.id IN (" + unfinished + ")", id);
  content["send_items"] = rows(db, "SELECT s.* FROM send_item s JOIN channel c ON c.id = s.channel_id WHERE c.account_id = ?", id);
  content["seen_messages"] = rows(db, "SELECT * FROM seen_message WHERE account_id = ?", id);
  content["rts_days"] = rows(db, "SELECT * FROM rts_day WHERE account_id = ?", id);
  content["rts_slots"] = rows(db, "SELECT * FROM rts_slot WHERE account_id = ?", id);
  content["rts_inbox"] = rows(db, "SELECT * FROM rts_inbox WHERE account_id = ?", id);
  return content;
}

std::string counts_sentence(const json& content) {
  auto n = [&](const char* key) { return content.contains(key) ? content[key].size() : 0; };
  return std::to_string(n("contacts")) + " contacts, " + std::to_string(n("contact_requests")) + " contact requests, " +
         std::to_string(n("channels")) + " channels, " + std::to_string(n("outbox")) + " unfinished outbox messages";
}

asio::awaitable<void> export_job(Engine::Impl& impl, std::string typed, std::string passphrase, Progress progress,
                                 std::function<void(Result<std::string>)> done) {
  Result<std::string> result = std::unexpected(std::string("export failed"));
  try {
    auto account = impl.account_by_address(typed);
    if (!account) {
      result = std::unexpected("no account " + typed + "; see `fcpmail account list`");
    } else {
      progress("collect", "reading the keys, identity, contacts, requests and channels of " + account->address);
      auto content = collect_account(impl, *account);
      if (!content) {
        result = std::unexpected(content.error());
      } else {
        progress("collect", counts_sentence(*content));
        progress("encrypt", "deriving the file key from the passphrase (scrypt) and encrypting");
        // The passphrase moves into the job: the coroutine keeps no copy while the file is made.
        auto encrypt = [content = std::move(*content), passphrase = std::move(passphrase)] {
          return encode_account_archive(content, passphrase);
        };
        std::string file = co_await impl.on_pool(std::move(encrypt));
        impl.log("account " + account->address + " exported (" + std::to_string(file.size()) + " bytes)");
        progress("done", "export file ready (" + std::to_string(file.size()) + " bytes)");
        result = std::move(file);
      }
    }
  } catch (const std::exception& e) {
    result = std::unexpected(std::string("export failed: ") + e.what());
  }
  if (done) done(std::move(result));
}

// ---- import ------------------------------------------------------------------------------------

// The account part must be complete and consistent before anything touches the node or the
// database: the identity id and address belong together, the RSA key reads.
Result<void> check_content(const json& content) {
  if (!content.is_object() || content.value("format", "") != account_export_format)
    return std::unexpected(std::string("the export file does not hold an fcpmail account"));
  const int version = content.value("content_version", 0);
  if (version < 1 || version > account_export_content_version)
    return std::unexpected("the export file's content has version " + std::to_string(version) +
                           "; this fcpmail reads up to " + std::to_string(account_export_content_version));
  if (!content.contains("account") || !content["account"].is_object())
    return std::unexpected(std::string("the export file has no account in it"));
  const json& a = content["account"];
  try {
    for (const char* key : {"address", "nickname", "identity_id", "request_uri", "rtsksk", "password_hash", "rsa_public"})
      (void)text(a, key);
    if (!freemail::read_rsa_key_file(text(a, "rsa_private")))
      return std::unexpected(std::string("the RSA key in the export file is unreadable"));
    const std::string insert_uri = text(a, "insert_uri");
    if (!insert_uri.starts_with("USK@") && !insert_uri.starts_with("SSK@"))
      return std::unexpected(std::string("the identity insert URI in the export file is not a USK/SSK"));
    auto identity = freemail::identity_from_base64_id(text(a, "identity_id"));
    if (!identity) return std::unexpected("the identity id in the export file is unusable: " + identity.error());
    auto address = freemail::make_address(freemail::local_part_from_nickname(text(a, "nickname")), *identity);
    if (!address || address->address() != text(a, "address"))
      return std::unexpected(std::string("the address in the export file does not belong to its identity"));
  } catch (const std::exception& e) {
    return std::unexpected(std::string("the export file's account is incomplete: ") + e.what());
  }
  return {};
}

// Makes sure the node's WebOfTrust has the own identity; a fresh node gets it back from its
// insert URI (WoT's CreateIdentity with InsertURI, which is how WoT restores an own identity).
asio::awaitable<Result<std::string>> ensure_own_identity(Engine::Impl& impl, json account) {
  const std::string identity_id = text(account, "identity_id");
  WotFields list_params{{"Message", "GetOwnIdentities"}};
  auto own = co_await impl.node.wot(std::move(list_params));
  if (!own) co_return std::unexpected("WebOfTrust did not answer: " + own.error().description);
  impl.wot_seen = true;
  for (int i = 0; own->count("Identity" + std::to_string(i)); ++i)
    if ((*own)["Identity" + std::to_string(i)] == identity_id)
      co_return std::string("the node's WebOfTrust already has the own identity " + identity_id);
  // WoT accepted this nickname when the identity was made (at most 30 characters, not bytes):
  // restore it as it is; only an overlong one is cut, and never inside a UTF-8 sequence.
  std::string nickname = text(account, "nickname");
  std::size_t characters = 0, cut = 0;
  for (; cut < nickname.size(); ++cut)
    if ((static_cast<unsigned char>(nickname[cut]) & 0xC0) != 0x80 && ++characters > 30) break;
  nickname.resize(cut);
  WotFields restore_params{{"Message", "CreateIdentity"}, {"Nickname", nickname}, {"Context", "Freemail"},
                           {"PublishTrustList", "true"}, {"InsertURI", text(account, "insert_uri")}};
  auto created = co_await impl.node.wot(std::move(restore_params));
  if (!created) co_return std::unexpected("WebOfTrust could not restore the identity: " + created.error().description);
  const std::string got = created->count("ID") ? (*created)["ID"] : std::string();
  if (got != identity_id)
    co_return std::unexpected("WebOfTrust restored a different identity (" + got + ", expected " + identity_id +
                              "); nothing was imported");
  co_return std::string("WebOfTrust own identity " + identity_id + " restored from its insert URI");
}

// Every row, in one transaction. Returns the new account id.
std::int64_t store_account(Engine::Impl& impl, const json& content) {
  auto& db = impl.db;
  SQLite::Transaction tx(db);
  const json& a = content["account"];
  const std::int64_t account_id =
      insert_row(db, "account", a,
                 json{{"insert_uri_sealed", empty_blob()}, {"rsa_private_sealed", empty_blob()},
                      // Due at once: import_flow republishes right after this commit (holding the
                      // busy key so the scheduler waits), and a daemon stopped before that still
                      // republishes on its next start. WoT is told again too.
                      {"mailsite_next_at", 0}, {"wot_announced", 0}});
  {
    const std::string where = "account:" + std::to_string(account_id);
    const auto sealed_insert = impl.seal(text(a, "insert_uri"), where + ":insert-uri");
    const auto sealed_key = impl.seal(text(a, "rsa_private"), where + ":rsa");
    SQLite::Statement u(db, "UPDATE account SET insert_uri_sealed = ?, rsa_private_sealed = ? WHERE id = ?");
    u.bind(1, sealed_insert.data(), static_cast<int>(sealed_insert.size()));
    u.bind(2, sealed_key.data(), static_cast<int>(sealed_key.size()));
    u.bind(3, account_id);
    u.exec();
  }
  auto sealed = [](const std::string& s) { return json::binary(std::vector<std::uint8_t>(s.begin(), s.end())); };

  std::map<std::int64_t, std::int64_t> contacts, channels, outbox, deliveries;
  for (const auto& c : array_of(content, "contacts"))
    contacts[c.at("id").get<std::int64_t>()] = insert_row(db, "contact", c, json{{"account_id", account_id}});
  for (const auto& r : array_of(content, "contact_requests")) {
    const std::string key_hash = r.at("channel_key_hash").get<std::string>();
    insert_row(db, "contact_request", r,
               json{{"account_id", account_id}, {"rts_sealed", sealed(impl.seal(text(r, "rts"), "request:" + key_hash))}});
  }
  for (const auto& c : array_of(content, "channels")) {
    const std::string key_hash = c.at("key_hash").get<std::string>();
    json set = {{"account_id", account_id},
                {"contact_id", mapped(contacts, c.at("contact_id"), "contact")},
                {"insert_uri_sealed", sealed(impl.seal(text(c, "insert_uri"), "channel:" + key_hash))},
                {"rts_json_sealed", nullptr}};
    if (c.contains("rts_json") && !c["rts_json"].is_null())
      set["rts_json_sealed"] = sealed(impl.seal(text(c, "rts_json"), "channel-rts:" + key_hash));
    channels[c.at("id").get<std::int64_t>()] = insert_row(db, "channel", c, set);
  }
  for (const auto& s : array_of(content, "skipped_slots"))
    insert_row(db, "skipped_slot", s, json{{"channel_id", mapped(channels, s.at("channel_id"), "channel")}});
  for (const auto& m : array_of(content, "outbox")) {
    const std::int64_t new_id = insert_row(db, "outbox_message", m,
                                           json{{"account_id", account_id}, {"body_sealed", empty_blob()},
                                                {"subject", ""}, {"subject_sealed", empty_blob()}, {"legacy_seal", 0},
                                                {"outbox_uid", nullptr}});
    // Sealed again under this data dir's key, bound to the new account and outbox ids.
    const auto body = impl.seal(text(m, "body"), outbox_aad(account_id, new_id, "body"));
    const auto subject = impl.seal(m.contains("subject") && m["subject"].is_string() ? m["subject"].get<std::string>() : std::string(),
                                   outbox_aad(account_id, new_id, "subject"));
    SQLite::Statement u(db, "UPDATE outbox_message SET body_sealed = ?, subject_sealed = ? WHERE id = ?");
    u.bind(1, body.data(), static_cast<int>(body.size()));
    u.bind(2, subject.data(), static_cast<int>(subject.size()));
    u.bind(3, new_id);
    u.exec();
    outbox[m.at("id").get<std::int64_t>()] = new_id;
  }
  for (const auto& d : array_of(content, "deliveries")) {
    // A held delivery to an address not yet a contact has none (it gets one when approved).
    const bool has_contact = d.contains("contact_id") && !d["contact_id"].is_null();
    json set = {{"outbox_id", mapped(outbox, d.at("outbox_id"), "outbox message")},
                {"contact_id", has_contact ? json(mapped(contacts, d["contact_id"], "contact")) : json(nullptr)},
                {"channel_id", nullptr}};
    if (d.contains("channel_id") && !d["channel_id"].is_null()) set["channel_id"] = mapped(channels, d["channel_id"], "channel");
    deliveries[d.at("id").get<std::int64_t>()] = insert_row(db, "delivery", d, set);
  }
  for (const auto& s : array_of(content, "send_items")) {
    json set = {{"channel_id", mapped(channels, s.at("channel_id"), "channel")}, {"delivery_id", nullptr}};
    if (s.contains("delivery_id") && !s["delivery_id"].is_null()) {
      // A copy of a message that has been delivered meanwhile needs no insert any more.
      if (!deliveries.contains(s["delivery_id"].get<std::int64_t>())) continue;
      set["delivery_id"] = deliveries.at(s["delivery_id"].get<std::int64_t>());
    }
    insert_row(db, "send_item", s, set);
  }
  for (const auto& s : array_of(content, "seen_messages"))
    insert_row(db, "seen_message", s,
               json{{"account_id", account_id}, {"contact_id", mapped(contacts, s.at("contact_id"), "contact")}});
  for (const auto& d : array_of(content, "rts_days")) insert_row(db, "rts_day", d, json{{"account_id", account_id}});
  for (const auto& s : array_of(content, "rts_slots")) insert_row(db, "rts_slot", s, json{{"account_id", account_id}});
  for (const auto& r : array_of(content, "rts_inbox")) insert_row(db, "rts_inbox", r, json{{"account_id", account_id}});
  tx.commit();
  return account_id;
}

asio::awaitable<Result<AccountSummary>> import_flow(Engine::Impl& impl, std::string file, std::string passphrase,
                                                    Progress progress) {
  progress("decrypt", "deriving the file key from the passphrase (scrypt) and opening the file");
  auto decode = [file = std::move(file), passphrase = std::move(passphrase)] {
    return decode_account_archive(file, passphrase);
  };
  auto content = co_await impl.on_pool(std::move(decode));
  if (!content) co_return std::unexpected(content.error().detail);
  if (auto ok = check_content(*content); !ok) co_return std::unexpected(ok.error() + "; nothing was imported");
  const std::string address = text((*content)["account"], "address");
  const std::string identity_id = text((*content)["account"], "identity_id");
  auto exists = [&] { return impl.account_by_address(address) || impl.account_by_address(identity_id); };
  if (exists())
    co_return std::unexpected("the account " + address + " already exists in this data dir; nothing was imported");
  progress("check", address + ": " + counts_sentence(*content));

  progress("identity", "making sure the node's WebOfTrust has the identity " + identity_id);
  auto identity = co_await ensure_own_identity(impl, (*content)["account"]);
  if (!identity) co_return std::unexpected(identity.error());
  progress("identity", *identity);

  if (exists())  // imported by someone else while we waited for the node
    co_return std::unexpected("the account " + address + " already exists in this data dir; nothing was imported");
  progress("store", "writing the account, contacts, requests and channels (one transaction)");
  std::int64_t account_id = 0;
  try {
    account_id = store_account(impl, *content);
  } catch (const std::exception& e) {
    co_return std::unexpected(std::string("the export file's content does not fit (") + e.what() + "); nothing was imported");
  }
  if (impl.deps.unlock_mailbox)
    if (auto k = impl.self.mailbox_key(address)) impl.deps.unlock_mailbox(address, *k);
  if (impl.deps.mailbox)
    if (auto r = impl.deps.mailbox->ensure_account(address); !r)
      impl.warn_account(account_id, "mailbox for " + address + ": " + std::string(describe(r.error())));
  impl.log("account " + address + " imported");

  progress("mailsite", "republishing the mailpage");
  // The mailsite is due (store_account) and nothing has suspended since the commit, so the
  // scheduler has not seen it yet: keep it off while we publish. (Released by hand, not by a guard
  // object: a frame destroyed after the engine at shutdown must not touch it.)
  const std::string busy_key = "mailsite:" + std::to_string(account_id);
  impl.busy.insert(busy_key);
  bool published = false;
  try {
    published = co_await impl.publish_mailsite(account_id);
  } catch (...) {
    impl.busy.erase(busy_key);
    throw;
  }
  impl.busy.erase(busy_key);
  if (published) {
    auto row = impl.account_by_id(account_id);
    progress("mailsite", "mailpage published at edition " + std::to_string(row ? row->mailsite_edition : 0));
  } else {
    progress("mailsite", "mailpage not published yet; it will be retried in the background");
  }
  impl.self.wake();
  for (auto& s : impl.self.accounts())
    if (s.address == address) {
      progress("done", "account " + address + " imported");
      co_return s;
    }
  co_return std::unexpected(std::string("the imported account vanished"));
}

asio::awaitable<void> import_job(Engine::Impl& impl, std::string file, std::string passphrase, Progress progress,
                                 std::function<void(Result<AccountSummary>)> done) {
  Result<AccountSummary> result = std::unexpected(std::string("import failed"));
  try {
    result = co_await import_flow(impl, std::move(file), std::move(passphrase), progress);
  } catch (const std::exception& e) {
    result = std::unexpected(std::string("import failed: ") + e.what());
  }
  if (done) done(std::move(result));
}

}  // namespace

void Engine::export_account(std::string account, std::string passphrase, Progress progress,
                            std::function<void(Result<std::string>)> done) {
  if (!progress) progress = [](std::string_view, std::string_view) {};
  asio::co_spawn(impl_->deps.io, export_job(*impl_, std::move(account), std::move(passphrase), std::move(progress), std::move(done)),
                 asio::detached);
}

void Engine::import_account(std::string file, std::string passphrase, Progress progress,
                            std::function<void(Result<AccountSummary>)> done) {
  if (!progress) progress = [](std::string_view, std::string_view) {};
  asio::co_spawn(impl_->deps.io, import_job(*impl_, std::move(file), std::move(passphrase), std::move(progress), std::move(done)),
                 asio::detached);
}

}  // namespace fcpmail::engine
