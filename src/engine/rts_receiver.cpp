// Receiving RTSs: poll KSK@<rtsksk>-<day>-<n>, keep what is found, decrypt on the worker pool,
// validate, then either open the channel (accepted sender, or --contact-requests auto) or hold a
// contact request until the user decides. No CTS ever goes out before that.
#include "engine/engine_impl.h"

#include "freemail/address.h"
#include "freemail/mailpage.h"
#include "freemail/slot_chain.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace fcpmail::engine {

namespace asio = boost::asio;

bool refused_content(const NodeError& e) {
  if (e.kind != NodeError::Kind::failed) return false;
  switch (e.code) {
    case 1:   // too deep archive recursion
    case 2:   // unknown splitfile metadata
    case 3:   // unknown metadata
    case 4:   // invalid metadata
    case 6:   // block decode error
    case 7:   // too many metadata levels
    case 9:   // too much recursion (a get never collides)
    case 16:  // too many redirects
    case 21:  // too big: above the MaxSize of the request
    case 22:  // metadata too big
    case 23:  // too many blocks per segment
      return true;
    default:
      return false;
  }
}

namespace {

// What a peer sends is judged by Freemail's protocol constants, never by --interval-scale: the
// scale speeds up our own schedules (tests), but a real Freemail peer still writes its values by
// the book, and an RTS refused here is gone for good (its slot is marked used; Freemail 0.2.8+
// does not resend).
//
// A channel kept open (and polled) for years is a cost a stranger should not be able to impose.
// Freemail's RTS timeout is always its creation + 7 days (Channel.CHANNEL_TIMEOUT); 2 days more
// allow for a sender whose clock runs ahead of ours. Anything later is refused.
constexpr std::int64_t rts_timeout_clock_skew_ms = 2 * 86'400'000;
constexpr std::int64_t latest_rts_timeout_ahead_ms = freemail::channel_timeout_ms + rts_timeout_clock_skew_ms;
// The sender's mailpage may take a while to become fetchable (the network's pace, not ours): a
// failed fetch is retried after the retry interval, doubling each time up to Freemail's own
// TASK_RETRY_DELAY of 5 minutes, and given up after 15 attempts: half an hour of real time at
// scale 0.002 (70 minutes at scale 1), where a fixed scaled interval gave up after 9 s.
constexpr std::int64_t mailpage_retry_cap_ms = 5 * 60'000;
constexpr int mailpage_attempts = 15;
// Anyone can fill an account's RTS KSK slots, each with up to 2 MiB, and every found RTS not yet
// checked is decrypted at once (its blob copied into the worker pool's queue). A poll pass stops
// fetching while this many wait for their first check, so what a flood costs at a time is bounded
// per account, not by the number of slots filled. (RTSs waiting for their sender's mailpage do
// not count: they are retried spread out in time, and must not let a flood hold the KSK shut.)
constexpr std::int64_t max_unchecked_rts = 16;
// A mailpage is three short lines; 64 KiB leaves room for any sane key size.
constexpr std::size_t max_mailpage_size = 64 * 1024;

std::string refusal_reason(const NodeError& e, std::size_t limit) {
  if (e.code == 21 || e.code == 22)
    return "larger than the " + std::to_string(limit) + "-byte limit, not downloaded (" + e.description + ")";
  return "unusable content (" + e.description + ")";
}

// A peer's epoch-ms value for a log line: ISO 8601 when it is a plausible date, else the number
// (converting an arbitrary int64 of ms to the clock's nanoseconds would overflow).
std::string describe_time(std::int64_t ms) {
  constexpr std::int64_t year_9999 = 253'402'300'799'999;
  if (ms < 0 || ms > year_9999) return std::to_string(ms) + " ms since 1970";
  return iso8601(to_time_point(ms));
}

// The WoT nickname a stranger chose, as the CLI, the log and the web UI may show it: without
// control characters (C0, DEL, C1). WoT refuses them in a nickname, but what reaches the user's
// terminal must not depend on the node's plugin: an escape sequence in the nickname of a contact
// request could rewrite the lines the user reads before approving it.
std::string shown_nickname(std::string_view raw) {
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c < 0x20 || c == 0x7F) continue;
    if (c == 0xC2 && i + 1 < raw.size() && static_cast<unsigned char>(raw[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(raw[i + 1]) < 0xA0) {  // U+0080..U+009F in UTF-8
      ++i;
      continue;
    }
    out += raw[i];
  }
  return out;
}

}  // namespace

void Engine::Impl::ensure_rts_days(const AccountRow& account) {
  const auto t = now();
  for (int back = 0; back <= cfg.rts_days_back; ++back) {
    const auto day_ms = t - static_cast<std::int64_t>(back) * 86'400'000;
    SQLite::Statement i(db, "INSERT OR IGNORE INTO rts_day (account_id, day, next_poll_at) VALUES (?, ?, 0)");
    i.bind(1, account.id);
    i.bind(2, utc_day(day_ms));
    i.exec();
  }
  // Days that fell out of the window are forgotten.
  SQLite::Statement d(db, "DELETE FROM rts_day WHERE account_id = ? AND day < ?");
  d.bind(1, account.id);
  d.bind(2, utc_day(t - static_cast<std::int64_t>(cfg.rts_days_back) * 86'400'000));
  d.exec();
}

asio::awaitable<void> Engine::Impl::poll_rts_day(std::int64_t account_id, std::string day) {
  auto account = account_by_id(account_id);
  if (!account) co_return;
  std::set<std::int64_t> found;
  {
    SQLite::Statement q(db, "SELECT slot FROM rts_slot WHERE account_id = ? AND day = ?");
    q.bind(1, account_id);
    q.bind(2, day);
    while (q.executeStep()) found.insert(q.getColumn(0).getInt64());
  }
  bool clean = true;
  int new_rts = 0;
  std::string last_result = "nothing new";
  const auto highest = [&] { return found.empty() ? 0 : *found.rbegin(); };
  // A slot found (or refused) is never fetched again for this day.
  const auto mark_slot_used = [&](std::int64_t n) {
    SQLite::Statement s(db, "INSERT OR IGNORE INTO rts_slot (account_id, day, slot, found_at) VALUES (?, ?, ?, ?)");
    s.bind(1, account_id);
    s.bind(2, day);
    s.bind(3, n);
    s.bind(4, now());
    s.exec();
  };
  const auto unchecked = [&] {
    SQLite::Statement c(db, "SELECT COUNT(*) FROM rts_inbox WHERE account_id = ? AND attempts = 0");
    c.bind(1, account_id);
    c.executeStep();
    return c.getColumn(0).getInt64();
  };
  for (std::int64_t n = 1; n <= highest() + cfg.rts_lookahead; ++n) {
    if (found.count(n)) continue;
    if (unchecked() >= max_unchecked_rts) {
      // The rest of the day's slots wait until these are checked (a later pass): not counted as a
      // clean pass, so a past day stays polled.
      clean = false;
      last_result = std::to_string(max_unchecked_rts) + " RTSs waiting to be checked; slot " + std::to_string(n) +
                    " and later fetched after them";
      log("RTS slots of " + short_address(account->address) + " from " + day + "-" + std::to_string(n) +
          " wait: " + last_result.substr(0, last_result.find(';')));
      break;
    }
    const std::string key = "KSK@" + account->rtsksk + "-" + day + "-" + std::to_string(n);
    ++requests_by_purpose["rts-poll"];
    auto r = co_await node.get(key, cfg.max_rts_size, "RTS slot " + day + "-" + std::to_string(n) + " of " + short_address(account->address));
    if (!r && refused_content(r.error())) {
      // Used up by something we will never read (e.g. a 2 MiB + 1 blob, refused by MaxSize): mark
      // it found so the look-ahead moves past it and it is not fetched again on every pass.
      mark_slot_used(n);
      found.insert(n);
      last_result = "slot " + std::to_string(n) + " refused";
      log("RTS at " + key + " refused: " + refusal_reason(r.error(), cfg.max_rts_size) + "; slot skipped");
      continue;
    }
    if (!r) {
      if (!r.error().not_found()) {
        clean = false;
        last_result = r.error().description;
      }
      continue;
    }
    // Found: keep the bytes and the fact, together.
    SQLite::Transaction tx(db);
    mark_slot_used(n);
    SQLite::Statement i(db, "INSERT INTO rts_inbox (account_id, key, data) VALUES (?, ?, ?)");
    i.bind(1, account_id);
    i.bind(2, key);
    i.bind(3, r->data(), static_cast<int>(r->size()));
    i.exec();
    tx.commit();
    found.insert(n);
    ++new_rts;
    last_result = "RTS found at slot " + std::to_string(n);
    log("RTS found at " + key);
  }
  const auto t = now();
  SQLite::Statement u(db, "UPDATE rts_day SET last_poll_at = ?, next_poll_at = ?, last_result = ?, passes = passes + ? WHERE account_id = ? AND day = ?");
  u.bind(1, t);
  u.bind(2, t + cfg.intervals.rts_poll.count());
  u.bind(3, last_result);
  u.bind(4, (clean && day != utc_day(t)) ? 1 : 0);
  u.bind(5, account_id);
  u.bind(6, day);
  u.exec();
  if (new_rts) schedule_pass();
}

std::int64_t Engine::Impl::accept_rts(std::int64_t account_id, std::int64_t contact_id, const wire::RtsFields& f) {
  const std::string key_hash = hex_sha256(f.channel);
  const auto sealed = seal(f.channel, "channel:" + key_hash);
  const auto t = now();
  SQLite::Statement i(db, "INSERT OR IGNORE INTO channel (account_id, contact_id, role, key_hash, insert_uri_sealed, send_slot, fetch_slot, timeout_at, state, created_at) "
                          "VALUES (?, ?, 'responder', ?, ?, ?, ?, ?, 'open', ?)");
  i.bind(1, account_id);
  i.bind(2, contact_id);
  i.bind(3, key_hash);
  i.bind(4, sealed.data(), static_cast<int>(sealed.size()));
  i.bind(5, f.responder_slot);
  i.bind(6, f.initiator_slot);
  i.bind(7, f.timeout_ms);
  i.bind(8, t);
  if (i.exec() == 0) return 0;  // already have it
  const auto channel_id = db.getLastInsertRowid();
  SQLite::Statement c(db, "INSERT INTO send_item (channel_id, kind, due_at) VALUES (?, 'cts', ?)");
  c.bind(1, channel_id);
  c.bind(2, t);
  c.exec();
  return channel_id;
}

asio::awaitable<void> Engine::Impl::process_rts(std::int64_t inbox_id) {
  std::int64_t account_id = 0;
  std::string key, blob;
  int attempts = 0;
  {  // no statement stays open across a suspension
    SQLite::Statement q(db, "SELECT account_id, key, data, attempts FROM rts_inbox WHERE id = ?");
    q.bind(1, inbox_id);
    if (!q.executeStep()) co_return;
    account_id = q.getColumn(0).getInt64();
    key = q.getColumn(1).getString();
    blob.assign(static_cast<const char*>(q.getColumn(2).getBlob()), static_cast<std::size_t>(q.getColumn(2).getBytes()));
    attempts = q.getColumn(3).getInt();
  }
  auto drop = [&](const std::string& why) {
    db.exec("DELETE FROM rts_inbox WHERE id = " + std::to_string(inbox_id));
    log("RTS at " + key + " dropped: " + why);
  };
  auto account = account_by_id(account_id);
  if (!account) co_return;
  if (blob.size() > cfg.max_rts_size) co_return drop("too large (" + std::to_string(blob.size()) + " bytes, limit " + std::to_string(cfg.max_rts_size) + ")");
  auto own_key = private_key(account_id);
  if (!own_key) co_return drop(own_key.error());
  auto open_job = [blob, k = *own_key] { return freemail::open_rts(blob, k); };
  auto opened = co_await on_pool(std::move(open_job));
  if (!opened) {
    // Size and the two cipher layers: not for us (or not an RTS at all). Past them the bytes were
    // encrypted to our key, so the plaintext itself is at fault (junk, too many lines, bad fields).
    const auto& e = opened.error();
    const bool unreadable = e.error == freemail::RtsError::too_large || e.error == freemail::RtsError::too_short ||
                            e.error == freemail::RtsError::bad_key_block || e.error == freemail::RtsError::bad_ciphertext;
    const std::string what = std::string(freemail::to_string(e.error)) + ": " + e.reason;
    co_return drop(unreadable ? "not readable with our key (" + what + ")" : "its plaintext is malformed (" + what + ")");
  }
  const auto& f = opened->fields;
  if (f.to != account->identity_id)
    co_return drop("addressed to someone else (to=" + f.to + ", we are " + account->identity_id + ")");
  {
    const auto t = now();
    if (f.timeout_ms < t)
      co_return drop("expired: its channel timed out at " + describe_time(f.timeout_ms));
    const auto latest = t + latest_rts_timeout_ahead_ms;
    if (f.timeout_ms > latest)
      co_return drop("its timeout " + describe_time(f.timeout_ms) + " is too far ahead (latest accepted: " +
                     describe_time(latest) + ", 7 days as Freemail sends plus 2 days for clock skew)");
  }
  for (const auto* slot : {&f.initiator_slot, &f.responder_slot})
    if (auto ok = freemail::check_slot(*slot); !ok) co_return drop("bad slot '" + *slot + "': " + ok.error());
  const std::string key_hash = hex_sha256(f.channel);
  // Freemail ignores an RTS for a channel it already has; so do we, whatever day's KSK slot the
  // same blob is found on again, and whether it became a channel or a contact request.
  auto already_handled = [&] {
    SQLite::Statement d(db, "SELECT (SELECT COUNT(*) FROM channel WHERE account_id = ?1 AND key_hash = ?2) + (SELECT COUNT(*) FROM contact_request WHERE account_id = ?1 AND channel_key_hash = ?2)");
    d.bind(1, account_id);
    d.bind(2, key_hash);
    d.executeStep();
    return d.getColumn(0).getInt() > 0;
  };
  if (already_handled()) co_return drop("a repeat of an RTS already handled (same channel)");
  auto sender_id = wire::identity_of_mailsite(f.mailsite);
  if (!sender_id) co_return drop("bad mailsite field: " + sender_id.error());
  auto sender_identity = freemail::identity_from_base64_id(*sender_id);
  if (!sender_identity) co_return drop("bad sender identity: " + sender_identity.error());
  std::string sender_address = "mail@" + sender_identity->domain();  // local part from WoT below
  auto contact = contact_by_identity(account_id, *sender_id);
  if (contact && (contact->state == "denied" || contact->state == "revoked"))
    co_return drop("sender " + contact->address + " is " + contact->state);
  // The sender's mailpage gives the key that must have signed the RTS.
  auto page_bytes = co_await node.get(f.mailsite, max_mailpage_size, "mailpage of RTS sender " + short_address(sender_address));
  if (!page_bytes && refused_content(page_bytes.error()))
    co_return drop("the sender's mailpage was refused: " + refusal_reason(page_bytes.error(), max_mailpage_size));
  if (!page_bytes) {
    if (attempts + 1 >= mailpage_attempts)
      co_return drop("the sender's mailpage stayed unreachable (" + std::to_string(mailpage_attempts) + " attempts)");
    const std::int64_t scaled = cfg.intervals.retry.count();
    const std::int64_t backoff = std::min(scaled << std::min(attempts, 30), mailpage_retry_cap_ms);
    SQLite::Statement u(db, "UPDATE rts_inbox SET attempts = attempts + 1, next_at = ? WHERE id = ?");
    u.bind(1, now() + std::max(scaled, backoff));
    u.bind(2, inbox_id);
    u.exec();
    log("RTS at " + key + ": sender's mailpage not fetched yet (" + page_bytes.error().description + "); retrying later");
    co_return;
  }
  auto page = freemail::read_mailpage(*page_bytes);
  if (!page) co_return drop("the sender's mailpage is unusable: " + page.error());
  auto sender_key = crypto::RsaPublicKey::from_bytes(page->modulus, page->public_exponent);
  if (!sender_key) co_return drop("the sender's key is unusable: " + sender_key.error());
  auto verify_job = [rts = *opened, k = *sender_key] { return wire::verify_rts(rts, k); };
  const bool valid = co_await on_pool(std::move(verify_job));
  if (!valid) co_return drop("the signature does not match the sender's key");
  auto public_text = freemail::write_mailpage(*page);
  if (!public_text) co_return drop(public_text.error());

  // WoT nickname, if WoT knows them (not required).
  std::string nickname;
  WotFields wot_params_0{{"Message", "GetIdentity"}, {"Identity", *sender_id}, {"Truster", account->identity_id}};
  if (auto who = co_await node.wot(std::move(wot_params_0));
      who && who->count("Nickname"))
    nickname = shown_nickname((*who)["Nickname"]);
  if (!nickname.empty()) sender_address = freemail::local_part_from_nickname(nickname) + "@" + sender_identity->domain();

  contact = contact_by_identity(account_id, *sender_id);
  if (contact && (contact->state == "denied" || contact->state == "revoked"))
    co_return drop("sender " + contact->address + " is " + contact->state);
  // A copy of the same RTS (another day's slot) may have been handled while we were waiting on the
  // node: check again, now that nothing suspends until the commit.
  if (already_handled()) co_return drop("a repeat of an RTS already handled (same channel)");
  SQLite::Transaction tx(db);
  if ((contact && contact->state == "accepted") || cfg.contact_requests_auto) {
    const auto contact_id = contact ? contact->id : ensure_contact(account_id, sender_address, *sender_id);
    SQLite::Statement u(db, "UPDATE contact SET mailsite_uri = ?, rsa_public = ?, rtsksk = COALESCE(rtsksk, ?), nickname = CASE WHEN nickname = '' THEN ? ELSE nickname END WHERE id = ?");
    u.bind(1, f.mailsite);
    u.bind(2, *public_text);
    if (page->rtsksk) u.bind(3, *page->rtsksk); else u.bind(3);
    u.bind(4, nickname);
    u.bind(5, contact_id);
    u.exec();
    accept_rts(account_id, contact_id, f);
    db.exec("DELETE FROM rts_inbox WHERE id = " + std::to_string(inbox_id));
    tx.commit();
    log("RTS from " + (contact ? contact->address : sender_address) + " accepted (" +
        (contact ? "known contact" : "contact requests: auto") + "); CTS queued");
    schedule_pass();
    co_return;
  }
  nlohmann::json j = {{"mailsite", f.mailsite}, {"to", f.to}, {"channel", f.channel}, {"initiatorSlot", f.initiator_slot},
                      {"responderSlot", f.responder_slot}, {"timeout", f.timeout_ms}};
  // replace: a stranger's fields may hold any byte; dump() would throw on invalid UTF-8.
  const auto sealed = seal(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "request:" + key_hash);
  SQLite::Statement i(db, "INSERT INTO contact_request (account_id, identity_id, address, nickname, mailsite_uri, rsa_public, channel_key_hash, rts_sealed, received_at, state) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')");
  i.bind(1, account_id);
  i.bind(2, *sender_id);
  i.bind(3, sender_address);
  i.bind(4, nickname);
  i.bind(5, f.mailsite);
  i.bind(6, *public_text);
  i.bind(7, key_hash);
  i.bind(8, sealed.data(), static_cast<int>(sealed.size()));
  i.bind(9, now());
  i.exec();
  const auto request_id = db.getLastInsertRowid();
  db.exec("DELETE FROM rts_inbox WHERE id = " + std::to_string(inbox_id));
  tx.commit();
  log("contact request " + std::to_string(request_id) + " from " + sender_address + (nickname.empty() ? "" : " (" + nickname + ")") +
      " for " + short_address(account->address) + ": approve with `fcpmail requests approve " + std::to_string(request_id) + "`");
}

}  // namespace fcpmail::engine
