// Accounts: creation (WoT identity, RSA key, rtsksk, password), mailsite publishing, WoT property
// and context.
#include "engine/engine_impl.h"

#include "freemail/address.h"
#include "freemail/mailpage.h"
#include "freemail/rsa_key_file.h"

#include <fstream>
#include <sstream>

namespace fcpmail::engine {

namespace asio = boost::asio;

namespace {

std::string random_letters(std::size_t n) {
  const auto bytes = crypto::random_bytes(n);
  std::string out;
  for (unsigned char b : bytes) out.push_back(static_cast<char>('a' + b % 26));  // 256 % 26 bias is negligible here
  return out;
}

std::string generated_password() {
  static constexpr std::string_view alphabet = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY345679";
  const auto bytes = crypto::random_bytes(20);
  std::string out;
  for (unsigned char b : bytes) out.push_back(alphabet[b % alphabet.size()]);
  return out;
}

std::string key_part(std::string_view uri) {  // "USK@a,b,c/WebOfTrust/0" -> "a,b,c"
  auto at = uri.find('@');
  auto slash = uri.find('/');
  if (at == std::string_view::npos) return {};
  return std::string(uri.substr(at + 1, slash == std::string_view::npos ? std::string_view::npos : slash - at - 1));
}

std::string identity_of_request_uri(std::string_view uri) {
  auto k = key_part(uri);
  return k.substr(0, k.find(','));
}

}  // namespace

void Engine::create_account(AccountCreateRequest request, Progress progress,
                            std::function<void(Result<AccountCreated>)> done) {
  if (!progress) progress = [](std::string_view, std::string_view) {};
  asio::co_spawn(impl_->deps.io, impl_->create_account_job(std::move(request), std::move(progress), std::move(done)),
                 asio::detached);
}

asio::awaitable<void> Engine::Impl::create_account_job(AccountCreateRequest request, Progress progress,
                                                       std::function<void(Result<AccountCreated>)> done) {
  Result<AccountCreated> result = std::unexpected(std::string("account creation failed"));
  try {
    result = co_await create_account_flow(std::move(request), progress);
  } catch (const std::exception& e) {
    result = std::unexpected(std::string("account creation failed: ") + e.what());
  }
  if (done) done(std::move(result));
}

asio::awaitable<Result<AccountCreated>> Engine::Impl::create_account_flow(AccountCreateRequest request,
                                                                          Progress progress) {
  // 1. The WebOfTrust identity: adopt or create.
  std::string identity_id, request_uri, insert_uri, nickname = request.nickname;
  if (request.identity) {
    progress("identity", "looking up WebOfTrust own identity " + *request.identity);
    WotFields wot_params_0{{"Message", "GetOwnIdentities"}};
    auto r = co_await node.wot(std::move(wot_params_0));
    if (!r) co_return std::unexpected("WebOfTrust did not answer: " + r.error().description);
    for (int i = 0; r->count("Identity" + std::to_string(i)); ++i) {
      const auto n = std::to_string(i);
      if ((*r)["Identity" + n] == *request.identity) {
        identity_id = (*r)["Identity" + n];
        request_uri = (*r)["RequestURI" + n];
        insert_uri = (*r)["InsertURI" + n];
        if (nickname.empty()) nickname = (*r)["Nickname" + n];
      }
    }
    if (identity_id.empty())
      co_return std::unexpected("WebOfTrust has no own identity " + *request.identity + "; see its own identities in the WoT web interface");
  } else {
    if (nickname.empty()) co_return std::unexpected(std::string("an account needs a name: `fcpmail account create NAME`"));
    progress("identity", "creating WebOfTrust identity " + nickname);
    WotFields wot_params_1{{"Message", "CreateIdentity"}, {"Nickname", nickname}, {"Context", "Freemail"},
                                {"PublishTrustList", "true"}};
    auto r = co_await node.wot(std::move(wot_params_1));
    if (!r) co_return std::unexpected("WebOfTrust could not create the identity: " + r.error().description);
    wot_seen = true;
    request_uri = (*r)["RequestURI"];
    insert_uri = (*r)["InsertURI"];
    identity_id = r->count("ID") ? (*r)["ID"] : identity_of_request_uri(request_uri);
  }
  if (account_by_address(identity_id)) co_return std::unexpected("identity " + identity_id + " already has an account");
  auto identity = freemail::identity_from_base64_id(identity_id);
  if (!identity) co_return std::unexpected("WebOfTrust gave an unusable identity id: " + identity.error());
  auto address = freemail::make_address(freemail::local_part_from_nickname(nickname), *identity);
  if (!address) co_return std::unexpected("cannot form an address: " + address.error());
  progress("identity", "identity " + identity_id + ", address " + address->address());

  // 2. The RSA key.
  std::optional<crypto::RsaPrivateKey> key;
  if (request.rsa_key_file) {
    std::ifstream in(*request.rsa_key_file);
    std::stringstream text;
    text << in.rdbuf();
    auto k = freemail::read_rsa_key_file(text.str());
    if (!in || !k) co_return std::unexpected("cannot read the RSA key file " + *request.rsa_key_file + (k ? "" : ": " + k.error()));
    key = *k;
    progress("rsa-key", "RSA key read from " + *request.rsa_key_file);
  } else {
    progress("rsa-key", "generating an RSA-4096 key (this takes up to a minute)");
    auto generate = [] { return crypto::RsaPrivateKey::generate(4096, 17); };
    key = co_await on_pool(std::move(generate));
    progress("rsa-key", "RSA key generated");
  }
  const std::string key_text = freemail::write_rsa_key_file(*key);
  freemail::Mailpage public_page{std::nullopt, key->public_key().modulus(), key->public_key().public_exponent()};
  const std::string rtsksk = random_letters(32);
  public_page.rtsksk = rtsksk;
  auto public_text = freemail::write_mailpage(public_page);
  if (!public_text) co_return std::unexpected("cannot write the public key: " + public_text.error());

  // 3. Password and the row, in one transaction.
  const bool generated = !request.password || request.password->empty();
  const std::string password = generated ? generated_password() : *request.password;
  auto hash = [password] { return crypto::hash_password(password); };
  const std::string password_hash = co_await on_pool(std::move(hash));
  std::int64_t account_id = 0;
  {
    SQLite::Transaction tx(db);
    SQLite::Statement i(db, "INSERT INTO account (address, nickname, identity_id, request_uri, insert_uri_sealed, rsa_public, rsa_private_sealed, rtsksk, password_hash, created_at, mailsite_next_at) "
                            "VALUES (?, ?, ?, ?, x'', ?, x'', ?, ?, ?, ?)");
    i.bind(1, address->address());
    i.bind(2, nickname);
    i.bind(3, identity_id);
    i.bind(4, request_uri);
    i.bind(5, *public_text);
    i.bind(6, rtsksk);
    i.bind(7, password_hash);
    i.bind(8, now());
    i.bind(9, std::numeric_limits<std::int64_t>::max());  // published below, then scheduled
    i.exec();
    account_id = db.getLastInsertRowid();
    const auto sealed_insert = seal(insert_uri, "account:" + std::to_string(account_id) + ":insert-uri");
    const auto sealed_key = seal(key_text, "account:" + std::to_string(account_id) + ":rsa");
    SQLite::Statement u(db, "UPDATE account SET insert_uri_sealed = ?, rsa_private_sealed = ? WHERE id = ?");
    u.bind(1, sealed_insert.data(), static_cast<int>(sealed_insert.size()));
    u.bind(2, sealed_key.data(), static_cast<int>(sealed_key.size()));
    u.bind(3, account_id);
    u.exec();
    tx.commit();
  }
  private_keys.emplace(account_id, *key);
  if (deps.unlock_mailbox)
    if (auto k = self.mailbox_key(address->address())) deps.unlock_mailbox(address->address(), *k);
  if (deps.mailbox) {
    if (auto r = deps.mailbox->ensure_account(address->address()); !r)
      warn_account(account_id, "mailbox for " + address->address() + ": " + std::string(describe(r.error())));
  }
  log("account " + address->address() + " created");

  // 4. Mailsite and WoT announcement.
  progress("mailsite", "publishing the mailpage");
  const bool published = co_await publish_mailsite(account_id);
  if (published) {
    auto a = account_by_id(account_id);
    progress("mailsite", "mailpage published at edition " + std::to_string(a ? a->mailsite_edition : 0));
    progress("wot-property", "Freemail.mailsite property and Freemail context set in WebOfTrust");
  } else {
    progress("mailsite", "mailpage not published yet; it will be retried in the background");
  }

  AccountCreated created;
  for (auto& s : self.accounts())
    if (s.address == address->address()) created.account = s;
  created.password = password;
  created.password_generated = generated;
  created.imap_host = cfg.imap_host;
  created.imap_port = cfg.imap_port;
  created.smtp_host = cfg.smtp_host;
  created.smtp_port = cfg.smtp_port;
  progress("done", "account " + address->address() + " ready");
  co_return created;
}

// Inserts the mailpage at SSK@<identity insert key>/mailsite-N/mailpage (collision: N+1), records
// the edition, then tells WoT (Freemail.mailsite property, Freemail context).
asio::awaitable<bool> Engine::Impl::publish_mailsite(std::int64_t account_id) {
  auto account = account_by_id(account_id);
  if (!account) co_return false;
  std::string page;
  {  // no statement stays open across a suspension
    SQLite::Statement q(db, "SELECT rsa_public FROM account WHERE id = ?");
    q.bind(1, account_id);
    if (!q.executeStep()) co_return false;
    page = q.getColumn(0).getString();
  }
  const std::string insert_uri = insert_uri_of_account(account_id);
  std::int64_t edition = std::max<std::int64_t>(1, account->mailsite_edition);
  std::optional<NodeError> failure;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto uri = freemail::mailsite_insert_uri(insert_uri, static_cast<std::uint64_t>(edition));
    if (!uri) {
      warn_account(account_id, "cannot form the mailsite URI of " + account->address + ": " + uri.error());
      co_return false;
    }
    auto r = co_await node.put(*uri, page, "mailpage of " + short_address(account->address) + " edition " + std::to_string(edition));
    if (r) {
      failure.reset();
      break;
    }
    failure = r.error();
    if (!r.error().collision()) break;
    log("mailsite edition " + std::to_string(edition) + " of " + short_address(account->address) + " is taken; trying the next");
    ++edition;
  }
  const auto t = now();
  if (failure) {
    warn_account(account_id, "mailpage of " + short_address(account->address) + " not published: " + failure->description + "; retrying later");
    SQLite::Statement u(db, "UPDATE account SET mailsite_next_at = ? WHERE id = ?");
    u.bind(1, t + cfg.intervals.retry.count());
    u.bind(2, account_id);
    u.exec();
    co_return false;
  }
  const bool changed = edition != account->mailsite_edition;
  {
    SQLite::Statement u(db, "UPDATE account SET mailsite_edition = ?, mailsite_published_at = ?, mailsite_next_at = ?, wot_announced = CASE WHEN ? THEN 0 ELSE wot_announced END WHERE id = ?");
    u.bind(1, edition);
    u.bind(2, t);
    u.bind(3, t + cfg.intervals.mailsite_republish.count());
    u.bind(4, changed ? 1 : 0);
    u.bind(5, account_id);
    u.exec();
  }
  if (changed) log("mailpage of " + account->address + " published at edition " + std::to_string(edition));
  if (changed || !account->wot_announced) co_await announce_on_wot(account_id);
  co_return true;
}

asio::awaitable<void> Engine::Impl::announce_on_wot(std::int64_t account_id) {
  auto account = account_by_id(account_id);
  if (!account) co_return;
  WotFields wot_params_2{{"Message", "SetProperty"}, {"Identity", account->identity_id},
                              {"Property", "Freemail.mailsite"}, {"Value", std::to_string(account->mailsite_edition)}};
  auto p = co_await node.wot(std::move(wot_params_2));
  WotFields wot_params_3{{"Message", "AddContext"}, {"Identity", account->identity_id}, {"Context", "Freemail"}};
  auto c = co_await node.wot(std::move(wot_params_3));
  if (!p || !c) {
    warn_account(account_id, "WebOfTrust did not take the Freemail property/context of " + short_address(account->address) + ": " +
         (!p ? p.error().description : c.error().description));
    co_return;
  }
  wot_seen = true;
  SQLite::Statement u(db, "UPDATE account SET wot_announced = 1 WHERE id = ?");
  u.bind(1, account_id);
  u.exec();
}

Result<void> check_secret_key(SQLite::Database& db, const crypto::SealedBox& secrets) {
  // The private key of an account is sealed in the same transaction that makes the row, so every
  // account has one; one that opens is enough (one that does not is a tampered row, said where it
  // is used).
  SQLite::Statement q(db, "SELECT id, rsa_private_sealed FROM account ORDER BY id");
  int accounts = 0;
  std::string why;
  while (q.executeStep()) {
    ++accounts;
    const std::string blob = q.getColumn(1).getString();
    auto opened = secrets.open(blob, "account:" + std::to_string(q.getColumn(0).getInt64()) + ":rsa");
    if (opened) return {};
    if (why.empty()) why = opened.error();
  }
  if (accounts == 0) return {};
  return std::unexpected("the secret key does not open the private key of any of the " + std::to_string(accounts) +
                         " account(s) in the database (" + why + "): it is not the key this data dir was made with");
}

}  // namespace fcpmail::engine
