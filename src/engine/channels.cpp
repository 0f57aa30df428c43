// Channels: creation and RTS (initiator), the send chain (CTS, messages, acks), polling the peer's
// chain with a look-ahead window, and what a fetched slot carries.
#include "engine/engine_impl.h"
#include "engine/received_headers.h"

#include "freemail/address.h"
#include "freemail/mailpage.h"
#include "freemail/rsa_key_file.h"
#include "freemail/slot_chain.h"

#include <nlohmann/json.hpp>

namespace fcpmail::engine {

namespace asio = boost::asio;

namespace {

freemail::ChannelSide send_side(const ChannelRow& c) {
  return c.initiator() ? freemail::ChannelSide::initiator : freemail::ChannelSide::responder;
}
freemail::ChannelSide fetch_side(const ChannelRow& c) {
  return c.initiator() ? freemail::ChannelSide::responder : freemail::ChannelSide::initiator;
}

std::string random_slot() { return *freemail::slot_from_bytes(crypto::random_bytes(freemail::slot_bytes)); }

// "SSK@a,b,c/r-XYZ" -> "SSK@a,b,c/"
std::string strip_document(std::string_view uri) {
  auto slash = uri.find('/');
  return std::string(slash == std::string_view::npos ? uri : uri.substr(0, slash)) + "/";
}

std::expected<crypto::RsaPublicKey, std::string> public_key_of(const std::string& page_text) {
  auto page = freemail::read_mailpage(page_text);
  if (!page) return std::unexpected(page.error());
  return crypto::RsaPublicKey::from_bytes(page->modulus, page->public_exponent);
}

// In the caller's transaction: records that `slot` of the peer's chain has been fetched. A skipped
// slot is forgotten; a slot at or past the head moves the head beyond it, and the slots passed over
// stay polled for a while (the peer may still fill them). False if the chain cannot be computed.
bool mark_slot_fetched(SQLite::Database& db, const ChannelRow& channel, const std::string& slot, std::int64_t index,
                       bool was_skipped, std::int64_t t) {
  if (was_skipped) {
    SQLite::Statement d(db, "DELETE FROM skipped_slot WHERE channel_id = ? AND slot = ?");
    d.bind(1, channel.id);
    d.bind(2, slot);
    d.exec();
    return true;
  }
  if (index < channel.fetch_index) return true;
  auto chain = freemail::slot_chain(channel.fetch_slot, static_cast<std::size_t>(index - channel.fetch_index + 2));
  if (!chain) return false;
  for (std::int64_t k = 0; k < index - channel.fetch_index; ++k) {
    SQLite::Statement s(db, "INSERT OR IGNORE INTO skipped_slot (channel_id, slot, slot_index, since_at) VALUES (?, ?, ?, ?)");
    s.bind(1, channel.id);
    s.bind(2, (*chain)[static_cast<std::size_t>(k)]);
    s.bind(3, channel.fetch_index + k);
    s.bind(4, t);
    s.exec();
  }
  SQLite::Statement u(db, "UPDATE channel SET fetch_slot = ?, fetch_index = ?, last_fetch_at = ? WHERE id = ?");
  u.bind(1, chain->back());
  u.bind(2, index + 1);
  u.bind(3, t);
  u.bind(4, channel.id);
  u.exec();
  return true;
}

// The pool's part of reading a slot (Engine::Impl::read_slot_payload): pure, no database.
Engine::Impl::ReadPayload read_payload(std::string_view payload, const std::string& rsa_public, std::string_view peer,
                                       std::string_view sender, std::string_view recipient,
                                       std::string_view channel_key, std::string_view received) {
  Engine::Impl::ReadPayload read;
  read.parsed = wire::parse_payload(payload);
  if (!read.parsed || read.parsed->type != wire::PayloadType::message) return read;
  const auto key = public_key_of(rsa_public);
  if (!key) read.key_problem = key.error();
  read.signature = wire::verify_message(*read.parsed, wire::SignatureContext{sender, recipient, channel_key},
                                        key ? &*key : nullptr);
  if (read.signature == wire::SignatureVerdict::invalid) return read;
  auto message = received_message(read.parsed->body(), ReceivedOrigin{read.signature, peer, received});
  read.stored = std::move(message.message);
  std::string().swap(read.parsed->read.body);  // stored holds it now; a 32 MiB copy less to carry
  read.removed_fields = message.removed_fcpmail_fields;
  read.from_rewritten = message.from_rewritten;
  return read;
}

}  // namespace

// ---- initiator: channel + RTS ------------------------------------------------------------------

asio::awaitable<Result<std::int64_t>> Engine::Impl::create_channel(const AccountRow& account, const ContactRow& contact) {
  auto keypair = co_await node.generate_ssk();
  if (!keypair) co_return std::unexpected("the node could not generate a channel key: " + keypair.error().description);
  const auto own_mailsite = freemail::mailsite_request_uri(account.request_uri, static_cast<std::uint64_t>(std::max<std::int64_t>(1, account.mailsite_edition)));
  if (!own_mailsite) co_return std::unexpected("own mailsite URI: " + own_mailsite.error());
  const auto t = now();
  nlohmann::json rts = {{"mailsite", *own_mailsite},
                        {"to", contact.identity_id},
                        {"channel", keypair->insert_uri},
                        {"initiatorSlot", random_slot()},
                        {"responderSlot", random_slot()},
                        {"timeout", t + cfg.intervals.channel_send.count()}};
  const std::string key_hash = hex_sha256(keypair->insert_uri);
  SQLite::Transaction tx(db);
  SQLite::Statement i(db, "INSERT INTO channel (account_id, contact_id, role, key_hash, insert_uri_sealed, request_uri, send_slot, fetch_slot, timeout_at, state, rts_json_sealed, rts_next_at, created_at, next_poll_at) "
                          "VALUES (?, ?, 'initiator', ?, ?, ?, ?, ?, ?, 'awaiting_cts', ?, ?, ?, ?)");
  const auto sealed_key = seal(keypair->insert_uri, "channel:" + key_hash);
  const auto sealed_rts = seal(rts.dump(), "channel-rts:" + key_hash);
  i.bind(1, account.id);
  i.bind(2, contact.id);
  i.bind(3, key_hash);
  i.bind(4, sealed_key.data(), static_cast<int>(sealed_key.size()));
  i.bind(5, keypair->request_uri);
  i.bind(6, rts["initiatorSlot"].get<std::string>());
  i.bind(7, rts["responderSlot"].get<std::string>());
  i.bind(8, rts["timeout"].get<std::int64_t>());
  i.bind(9, sealed_rts.data(), static_cast<int>(sealed_rts.size()));
  i.bind(10, t);
  i.bind(11, t);
  i.bind(12, t);
  i.exec();
  const auto id = db.getLastInsertRowid();
  tx.commit();
  log("new channel " + std::to_string(id) + " to " + short_address(contact.address) + " created; RTS follows");
  co_return id;
}

asio::awaitable<void> Engine::Impl::send_rts(std::int64_t channel_id) {
  auto channel = channel_by_id(channel_id);
  if (!channel || channel->state != "awaiting_cts") co_return;
  auto account = account_by_id(channel->account_id);
  auto contact = contact_by_id(channel->contact_id);
  if (!account || !contact) co_return;
  auto retry = [&](const std::string& why) {
    SQLite::Statement u(db, "UPDATE channel SET rts_next_at = ? WHERE id = ?");
    u.bind(1, now() + cfg.intervals.retry.count());
    u.bind(2, channel_id);
    u.exec();
    warn_account(channel->account_id, "RTS to " + short_address(contact->address) + " not sent: " + why + "; retrying later");
  };
  if (contact->rsa_public.empty() || contact->rtsksk.empty()) {
    auto page = co_await ensure_peer_mailpage(*account, contact->id);
    if (!page) {
      retry(page.error());
      co_return;
    }
    contact = contact_by_id(channel->contact_id);
  }
  std::expected<std::string, std::string> rts_text = std::unexpected(std::string("no channel"));
  {
    SQLite::Statement q(db, "SELECT rts_json_sealed, key_hash FROM channel WHERE id = ?");
    q.bind(1, channel_id);
    if (!q.executeStep()) co_return;
    rts_text = open(q.getColumn(0).getString(), "channel-rts:" + q.getColumn(1).getString());
  }
  if (!rts_text) {
    retry("stored RTS unreadable: " + rts_text.error());
    co_return;
  }
  const auto j = nlohmann::json::parse(*rts_text);
  wire::RtsFields f;
  f.mailsite = j["mailsite"];
  f.to = j["to"];
  f.channel = j["channel"];
  f.initiator_slot = j["initiatorSlot"];
  f.responder_slot = j["responderSlot"];
  f.timeout_ms = j["timeout"];
  auto own_key = private_key(account->id);
  auto peer_key = public_key_of(contact->rsa_public);
  if (!own_key || !peer_key) {
    retry(!own_key ? own_key.error() : "peer key: " + peer_key.error());
    co_return;
  }
  auto seal_job = [f, k = *own_key, p = *peer_key] { return wire::seal_rts(f, k, p); };
  auto blob = co_await on_pool(std::move(seal_job));
  if (!blob) {
    retry("cannot build the RTS: " + blob.error());
    co_return;
  }
  const std::string day = utc_day(now());
  std::optional<std::string> inserted_at;
  std::string last_error;
  for (int n = 1; n <= 100 && !inserted_at; ++n) {
    const std::string key = "KSK@" + contact->rtsksk + "-" + day + "-" + std::to_string(n);
    auto r = co_await node.put(key, *blob, "RTS to " + short_address(contact->address));
    if (r) inserted_at = key;
    else if (!r.error().collision()) {
      last_error = r.error().description;
      break;
    }
  }
  if (!inserted_at) {
    retry(last_error.empty() ? std::string("every KSK slot of the day is taken") : last_error);
    co_return;
  }
  SQLite::Statement u(db, "UPDATE channel SET rts_sent_at = ?, rts_next_at = CASE WHEN state = 'awaiting_cts' THEN ? ELSE NULL END, rts_key = ? WHERE id = ?");
  const auto t = now();
  u.bind(1, t);
  u.bind(2, t + cfg.intervals.rts_resend.count());
  u.bind(3, *inserted_at);
  u.bind(4, channel_id);
  u.exec();
  log("RTS to " + contact->address + " inserted at " + *inserted_at);
}

// ---- the send chain ----------------------------------------------------------------------------

asio::awaitable<void> Engine::Impl::insert_send_item(std::int64_t item_id) {
  std::int64_t channel_id = 0, message_id = 0, slot_index = 0;
  std::string kind, slot;
  std::optional<std::int64_t> delivery_id;
  {  // no statement stays open across a suspension
    SQLite::Statement q(db, "SELECT channel_id, kind, delivery_id, message_id, slot, slot_index FROM send_item WHERE id = ?");
    q.bind(1, item_id);
    if (!q.executeStep()) co_return;
    channel_id = q.getColumn(0).getInt64();
    kind = q.getColumn(1).getString();
    if (!q.getColumn(2).isNull()) delivery_id = q.getColumn(2).getInt64();
    message_id = q.getColumn(3).isNull() ? 0 : q.getColumn(3).getInt64();
    slot = q.getColumn(4).isNull() ? "" : q.getColumn(4).getString();
    slot_index = q.getColumn(5).isNull() ? 0 : q.getColumn(5).getInt64();
  }
  auto channel = channel_by_id(channel_id);
  if (!channel || channel->state == "closed") co_return;
  auto contact = contact_by_id(channel->contact_id);
  if (!contact) co_return;

  // The payload.
  std::string payload;
  if (kind == "cts") {
    payload = wire::cts_payload();
  } else if (kind == "ack") {
    payload = wire::ack_payload(message_id);
  } else {
    std::expected<std::string, std::string> body;
    {  // no statement stays open across a suspension
      SQLite::Statement b(db, "SELECT o.id, o.body_sealed, d.state, o.account_id FROM delivery d JOIN outbox_message o ON o.id = d.outbox_id WHERE d.id = ?");
      b.bind(1, delivery_id.value_or(0));
      if (!b.executeStep() || b.getColumn(2).getString() == "cancelled" || b.getColumn(2).getString() == "delivered") {
        b.reset();
        db.exec("DELETE FROM send_item WHERE id = " + std::to_string(item_id));
        co_return;
      }
      body = open(b.getColumn(1).getString(), outbox_aad(b.getColumn(3).getInt64(), b.getColumn(0).getInt64(), "body"));
    }
    if (!body) {  // altered or moved from another row: never sent, and said so once
      const std::string why = "the outbox message does not open (" + body.error() + "); it was altered and is not sent";
      warn_account(channel->account_id, "message " + std::to_string(message_id) + " to " + short_address(contact->address) + ": " + why);
      db.exec("DELETE FROM send_item WHERE id = " + std::to_string(item_id));
      SQLite::Statement f(db, "UPDATE delivery SET state = 'failed', error = ?, next_at = NULL WHERE id = ?");
      f.bind(1, why);
      f.bind(2, delivery_id.value_or(0));
      f.exec();
      co_return;
    }
    // Signed here, not at submission: the signature binds this channel, the recipient and the id.
    auto account = account_by_id(channel->account_id);
    auto key = private_key(channel->account_id);
    if (!account || !key) {
      warn_account(channel->account_id, "channel " + std::to_string(channel_id) + ": no signing key for its account" + (key ? "" : ": " + key.error()));
      co_return;
    }
    auto sign = [sender = account->identity_id, recipient = contact->identity_id,
                 channel_key = insert_uri_of_channel(channel_id), id = message_id, mail = std::move(*body),
                 k = std::move(*key)] {
      return wire::signed_message_payload(wire::SignatureContext{sender, recipient, channel_key}, id, mail, k);
    };
    auto signed_payload = co_await on_pool(std::move(sign));
    if (!signed_payload) {
      warn_account(channel->account_id, "channel " + std::to_string(channel_id) + ": message " + std::to_string(message_id) + " " + signed_payload.error());
      co_return;
    }
    payload = std::move(*signed_payload);
  }

  // A slot: assigned once (same slot on retries), from the head of our chain.
  if (slot.empty()) {
    SQLite::Transaction tx(db);
    auto fresh = channel_by_id(channel_id);
    slot = fresh->send_slot;
    slot_index = fresh->send_index;
    auto next = freemail::next_slot(slot);
    if (!next) co_return;
    SQLite::Statement u(db, "UPDATE channel SET send_slot = ?, send_index = send_index + 1 WHERE id = ?");
    u.bind(1, *next);
    u.bind(2, channel_id);
    u.exec();
    SQLite::Statement s(db, "UPDATE send_item SET slot = ?, slot_index = ? WHERE id = ?");
    s.bind(1, slot);
    s.bind(2, slot_index);
    s.bind(3, item_id);
    s.exec();
    tx.commit();
  }
  auto uri = freemail::slot_uri(insert_uri_of_channel(channel_id), send_side(*channel), slot);
  if (!uri) {
    warn_account(channel->account_id, "channel " + std::to_string(channel_id) + ": " + uri.error());
    co_return;
  }
  const std::string what = (kind == "message" ? "message " + std::to_string(message_id)
                            : kind == "ack"   ? "ack of message " + std::to_string(message_id)
                                              : std::string("CTS")) +
                           " to " + short_address(contact->address) + " on slot " + std::to_string(slot_index);
  auto r = co_await node.put(*uri, payload, what);
  const auto t = now();
  if (!r) {
    SQLite::Statement u(db, r.error().collision()
                                ? "UPDATE send_item SET slot = NULL, slot_index = NULL, attempts = attempts + 1, last_error = ?, due_at = ? WHERE id = ?"
                                : "UPDATE send_item SET attempts = attempts + 1, last_error = ?, due_at = ? WHERE id = ?");
    u.bind(1, r.error().description);
    u.bind(2, r.error().collision() ? t : t + cfg.intervals.retry.count());
    u.bind(3, item_id);
    u.exec();
    log(what + " failed (" + r.error().description + ")" + (r.error().collision() ? "; moving to the next slot" : "; retrying later"));
    co_return;
  }
  SQLite::Transaction tx(db);
  db.exec("DELETE FROM send_item WHERE id = " + std::to_string(item_id));
  if (kind == "message" && delivery_id) {
    SQLite::Statement u(db, "UPDATE delivery SET state = CASE WHEN state = 'inserting' THEN 'awaiting_ack' ELSE state END, inserted_at = ?, slot_index = ?, attempts = attempts + 1, next_at = ? WHERE id = ?");
    u.bind(1, t);
    u.bind(2, slot_index);
    u.bind(3, t + cfg.intervals.message_resend.count());
    u.bind(4, *delivery_id);
    u.exec();
  }
  if (kind == "cts" && channel->request_uri.empty()) {
    // The node tells us the channel's public key: the request URI of what we just inserted.
    SQLite::Statement u(db, "UPDATE channel SET request_uri = ?, next_poll_at = ? WHERE id = ?");
    u.bind(1, strip_document(*r));
    u.bind(2, t);
    u.bind(3, channel_id);
    u.exec();
  }
  tx.commit();
  log(what + " inserted");
}

// ---- polling the peer's chain ------------------------------------------------------------------

asio::awaitable<void> Engine::Impl::poll_channel(std::int64_t channel_id) {
  auto channel = channel_by_id(channel_id);
  if (!channel || channel->request_uri.empty()) co_return;
  auto contact = contact_by_id(channel->contact_id);
  if (!contact) co_return;
  const std::size_t max_size = cfg.max_message_size + 4096;
  auto fetch = [&](const std::string& slot, std::int64_t index) -> asio::awaitable<NodeResult<std::string>> {
    auto uri = freemail::slot_uri(channel->request_uri, fetch_side(*channel), slot);
    if (!uri) co_return std::unexpected(NodeError{NodeError::Kind::failed, 20, uri.error()});
    ++requests_by_purpose["channel-poll"];
    co_return co_await node.get(*uri, max_size, "slot " + std::to_string(index) + " from " + short_address(contact->address));
  };
  bool network_trouble = false;
  // 1. The head slot, again at once after every find (a burst of messages is read in one pass).
  for (int burst = 0; burst < 64; ++burst) {
    channel = channel_by_id(channel_id);
    if (!channel || channel->state == "closed") co_return;
    auto r = co_await fetch(channel->fetch_slot, channel->fetch_index);
    // The contact may have been removed (the channel with it) while the fetch was out.
    channel = channel_by_id(channel_id);
    if (!channel || channel->state == "closed") co_return;
    if (!r && refused_content(r.error())) {
      // Something we will never read (larger than MaxSize, broken metadata): not downloaded, the
      // slot is passed over so later messages still arrive. Never acked: the peer sees it undelivered.
      SQLite::Transaction tx(db);
      if (!mark_slot_fetched(db, *channel, channel->fetch_slot, channel->fetch_index, false, now())) break;
      tx.commit();
      warn_account(channel->account_id, "slot " + std::to_string(channel->fetch_index) + " from " + short_address(contact->address) + " refused (" +
           r.error().description + "; limit " + std::to_string(max_size) + " bytes); skipped, not acknowledged");
      continue;
    }
    if (!r) {
      network_trouble = !r.error().not_found();
      break;
    }
    const auto read = co_await read_slot_payload(channel_id, std::move(*r));
    channel = channel_by_id(channel_id);
    if (!channel || channel->state == "closed") co_return;
    handle_slot_payload(*channel, channel->fetch_slot, channel->fetch_index, false, read);
  }
  // 2. The look-ahead window and skipped slots, less often.
  const auto t = now();
  channel = channel_by_id(channel_id);  // the burst may have moved the head slot on
  if (!channel) co_return;
  if (!network_trouble && channel->next_window_at <= t) {
    auto window = freemail::slot_chain(channel->fetch_slot, static_cast<std::size_t>(cfg.channel_lookahead + 1));
    bool found = false;
    if (window) {
      for (std::size_t k = 1; k < window->size() && !found; ++k) {
        auto r = co_await fetch((*window)[k], channel->fetch_index + static_cast<std::int64_t>(k));
        if (!channel_by_id(channel_id)) co_return;
        if (r) {
          const auto read = co_await read_slot_payload(channel_id, std::move(*r));
          if (!channel_by_id(channel_id)) co_return;
          handle_slot_payload(*channel, (*window)[k], channel->fetch_index + static_cast<std::int64_t>(k), false, read);
          found = true;
        }
      }
    }
    std::vector<std::pair<std::string, std::int64_t>> skipped;
    {
      SQLite::Statement s(db, "SELECT slot, slot_index FROM skipped_slot WHERE channel_id = ? AND since_at > ?");
      s.bind(1, channel_id);
      s.bind(2, t - cfg.intervals.slot_lifetime.count());
      while (s.executeStep()) skipped.emplace_back(s.getColumn(0).getString(), s.getColumn(1).getInt64());
    }
    for (const auto& [slot, index] : skipped) {
      auto r = co_await fetch(slot, index);
      if (!channel_by_id(channel_id)) co_return;
      if (r) {
        const auto read = co_await read_slot_payload(channel_id, std::move(*r));
        if (!channel_by_id(channel_id)) co_return;
        handle_slot_payload(*channel_by_id(channel_id), slot, index, true, read);
      } else if (refused_content(r.error())) {
        SQLite::Transaction tx(db);
        mark_slot_fetched(db, *channel, slot, index, true, now());
        tx.commit();
        warn_account(channel->account_id, "skipped slot " + std::to_string(index) + " from " + short_address(contact->address) + " refused (" +
             r.error().description + "); dropped");
      }
    }
    SQLite::Statement d(db, "DELETE FROM skipped_slot WHERE channel_id = ? AND since_at <= ?");
    d.bind(1, channel_id);
    d.bind(2, t - cfg.intervals.slot_lifetime.count());
    d.exec();
    SQLite::Statement u(db, "UPDATE channel SET next_window_at = ? WHERE id = ?");
    u.bind(1, found ? t : t + cfg.intervals.channel_window_poll.count());
    u.bind(2, channel_id);
    u.exec();
  }
  SQLite::Statement u(db, "UPDATE channel SET next_poll_at = ? WHERE id = ?");
  u.bind(1, now() + (network_trouble ? cfg.intervals.retry : cfg.intervals.channel_poll).count());
  u.bind(2, channel_id);
  u.exec();
}

// The CPU work on a fetched payload, on the worker pool: parsing it, hashing a message for its
// signature and rewriting its headers are linear in its size, and a contact may send up to the
// channel's MaxSize. What needs the database (the peer's key, the channel key) is read here first.
asio::awaitable<Engine::Impl::ReadPayload> Engine::Impl::read_slot_payload(std::int64_t channel_id, std::string payload) {
  auto channel = channel_by_id(channel_id);
  auto contact = channel ? contact_by_id(channel->contact_id) : std::nullopt;
  auto account = channel ? account_by_id(channel->account_id) : std::nullopt;
  if (!channel || !contact || !account) {
    ReadPayload gone;
    gone.parsed = std::unexpected(std::string("the channel is gone"));
    co_return gone;
  }
  // The peer's key comes from its mailpage (fetched for the RTS either way round); the channel is
  // the RTS `channel` value both ends hold, so the sender signed exactly this context.
  // The job owns copies of everything it reads (SignatureContext only holds views).
  auto read_job = [payload = std::move(payload), rsa_public = contact->rsa_public, peer = contact->address,
                   sender = contact->identity_id, recipient = account->identity_id,
                   channel_key = insert_uri_of_channel(channel_id),
                   received = "(fcpmail from a Freemail channel); " + iso8601(to_time_point(now()))]() -> ReadPayload {
    ReadPayload read;
    // An exception escaping a pool thread would end the daemon: the slot is then unreadable.
    try {
      read = read_payload(payload, rsa_public, peer, sender, recipient, channel_key, received);
    } catch (const std::exception& e) {
      read = ReadPayload{};
      read.parsed = std::unexpected(std::string("internal error reading it: ") + e.what());
    }
    return read;
  };
  co_return co_await on_pool(std::move(read_job));
}

// One transaction: the slot is marked fetched together with everything its payload causes.
void Engine::Impl::handle_slot_payload(const ChannelRow& channel, const std::string& slot, std::int64_t index,
                                       bool was_skipped, const ReadPayload& read) {
  auto contact = contact_by_id(channel.contact_id);
  auto account = account_by_id(channel.account_id);
  if (!contact || !account) return;
  const auto t = now();
  SQLite::Transaction tx(db);
  if (!mark_slot_fetched(db, channel, slot, index, was_skipped, t)) return;
  const auto& parsed = read.parsed;
  if (!parsed) {
    log("slot " + std::to_string(index) + " from " + short_address(contact->address) + " unreadable (" + parsed.error() + "); skipped");
    tx.commit();
    return;
  }
  switch (parsed->type) {
    case wire::PayloadType::cts:
    case wire::PayloadType::ack: {
      if (channel.initiator() && channel.state == "awaiting_cts") {
        db.exec("UPDATE channel SET state = 'open', rts_next_at = NULL WHERE id = " + std::to_string(channel.id));
        log("CTS from " + contact->address + " received: channel " + std::to_string(channel.id) + " open");
      }
      if (parsed->type == wire::PayloadType::cts) break;
      for (auto id : parsed->ids) {
        SQLite::Statement u(db, "UPDATE delivery SET state = 'delivered', delivered_at = ?, next_at = NULL WHERE contact_id = ? AND message_id = ? AND state IN ('released', 'inserting', 'awaiting_ack')");
        u.bind(1, t);
        u.bind(2, contact->id);
        u.bind(3, id);
        if (u.exec() > 0) {
          SQLite::Statement d(db, "DELETE FROM send_item WHERE kind = 'message' AND message_id = ? AND delivery_id IN (SELECT id FROM delivery WHERE contact_id = ?)");
          d.bind(1, id);
          d.bind(2, contact->id);
          d.exec();
          log("ack from " + short_address(contact->address) + ": message " + std::to_string(id) + " delivered");
        }
      }
      break;
    }
    case wire::PayloadType::message: {
      if (contact->state != "accepted") {
        log("message from " + short_address(contact->address) + " dropped: permission revoked");
        break;
      }
      if (!parsed->ids.empty()) store_incoming(channel, *contact, *account, read);
      break;
    }
    case wire::PayloadType::unknown:
      log("slot " + std::to_string(index) + " from " + short_address(contact->address) + " carries an unknown message type; skipped");
      break;
  }
  tx.commit();
}

// In the caller's transaction: refuse a forged message, dedup by (account, peer, id), deliver what
// read_slot_payload made of it, queue the ack.
//
// A message whose x-fcpmail-signature does not verify is refused outright: not stored, not acked,
// and its id not recorded. Only the two channel ends hold the channel's insert key, so such a
// message is forged (leaked channel key), altered, or from a peer whose key no longer matches its
// mailpage. Storing it would put a lie in the mailbox; acking it would tell the genuine sender that
// its message with that id arrived; recording the id would make us drop the genuine message with
// that id as a duplicate. Refused this way, a genuine sender keeps the message as undelivered and
// its next resend (correctly signed) still gets through, and the user sees a warning.
// Messages without a signature (every Freemail peer) are delivered as `absent`.
void Engine::Impl::store_incoming(const ChannelRow& channel, const ContactRow& contact, const AccountRow& account,
                                  const ReadPayload& read) {
  const auto t = now();
  const std::int64_t message_id = read.parsed->ids.front();
  const auto signature = read.signature;
  if (signature == wire::SignatureVerdict::invalid) {
    warn_account(account.id, "message " + std::to_string(message_id) + " from " + contact.address + " refused: its x-fcpmail-signature " +
         (read.key_problem.empty() ? "does not verify with the sender's key (forged or altered)"
                                   : "cannot be checked (the sender's key is unknown: " + read.key_problem + ")") +
         "; not stored, not acknowledged");
    return;
  }
  SQLite::Statement seen(db, "INSERT OR IGNORE INTO seen_message (account_id, contact_id, message_id, received_at) VALUES (?, ?, ?, ?)");
  seen.bind(1, account.id);
  seen.bind(2, contact.id);
  seen.bind(3, message_id);
  seen.bind(4, t);
  const bool is_new = seen.exec() > 0;
  if (is_new) {
    if (deps.mailbox) {
      auto r = deps.mailbox->deliver(account.address, "INBOX", read.stored, Flags{}, t / 1000);
      if (!r) throw std::runtime_error("mailbox refused the message: " + std::string(describe(r.error())));
    }
    db.exec("UPDATE contact SET last_message_at = " + std::to_string(t) + " WHERE id = " + std::to_string(contact.id));
    log("message " + std::to_string(message_id) + " from " + contact.address + " stored in INBOX (signature " +
        std::string(wire::to_string(signature)) + ")" +
        (read.removed_fields ? "; " + std::to_string(read.removed_fields) + " X-Fcpmail field(s) of its own removed" : "") +
        (read.from_rewritten ? "; From did not name the sender: rewritten, the original kept as X-Original-From" : ""));
  } else {
    log("message " + std::to_string(message_id) + " from " + short_address(contact.address) + " is a duplicate; acknowledging again");
  }
  SQLite::Statement ack(db, "INSERT INTO send_item (channel_id, kind, message_id, due_at) VALUES (?, 'ack', ?, ?)");
  ack.bind(1, channel.id);
  ack.bind(2, message_id);
  ack.bind(3, t + random_ack_delay());
  ack.exec();
}

}  // namespace fcpmail::engine
