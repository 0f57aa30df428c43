#include "store/database.h"

#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <string_view>

namespace fcpmail::store {
namespace {

// Each entry is one migration; entry i brings the schema from version i to i+1. Never edit an
// entry once released: add a new one.
constexpr std::array<std::string_view, 4> migrations = {
    R"sql(
-- An account is a WoT own identity with its Freemail key material.
CREATE TABLE account (
  id INTEGER PRIMARY KEY,
  address TEXT NOT NULL UNIQUE,            -- canonical local@<base32>.freemail
  nickname TEXT NOT NULL,
  identity_id TEXT NOT NULL UNIQUE,        -- WoT id (Freenet base64)
  request_uri TEXT NOT NULL,               -- identity USK (public)
  insert_uri_sealed BLOB NOT NULL,         -- identity insert USK, sealed
  rsa_public TEXT NOT NULL,                -- public key (modulus/exponent, Freemail radix 32 props)
  rsa_private_sealed BLOB NOT NULL,        -- private key file text, sealed
  rtsksk TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  mailsite_edition INTEGER NOT NULL DEFAULT 0,   -- last edition published (0: none yet)
  mailsite_published_at INTEGER,
  mailsite_next_at INTEGER NOT NULL DEFAULT 0,
  wot_announced INTEGER NOT NULL DEFAULT 0,      -- Freemail context + property set this run
  created_at INTEGER NOT NULL
);

-- Everyone an account knows: accepted correspondents, revoked ones, denied requesters.
CREATE TABLE contact (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  identity_id TEXT NOT NULL,
  address TEXT NOT NULL,
  petname TEXT NOT NULL DEFAULT '',
  nickname TEXT NOT NULL DEFAULT '',
  request_uri TEXT,                        -- identity USK, when known
  mailsite_uri TEXT,                       -- USK@…/mailsite/-N/mailpage, when known
  rsa_public TEXT,                         -- from their mailpage
  rtsksk TEXT,                             -- from their mailpage
  state TEXT NOT NULL,                     -- accepted | revoked | denied | removed
  next_message_id INTEGER NOT NULL DEFAULT 0,
  added_at INTEGER NOT NULL,
  last_message_at INTEGER,
  UNIQUE (account_id, identity_id)
);

-- RTSs from senders the user has not accepted: nothing is answered until approval.
CREATE TABLE contact_request (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  identity_id TEXT NOT NULL,
  address TEXT NOT NULL,
  nickname TEXT NOT NULL DEFAULT '',
  mailsite_uri TEXT NOT NULL,
  rsa_public TEXT NOT NULL,
  channel_key_hash TEXT NOT NULL,          -- hex SHA-256 of the channel insert URI
  rts_sealed BLOB NOT NULL,                -- the validated RTS fields, sealed
  received_at INTEGER NOT NULL,
  state TEXT NOT NULL,                     -- pending | approved | denied
  UNIQUE (account_id, channel_key_hash)
);

-- A Freemail channel: one SSK shared by two parties, two slot chains.
CREATE TABLE channel (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  contact_id INTEGER NOT NULL REFERENCES contact(id) ON DELETE CASCADE,
  role TEXT NOT NULL,                      -- initiator | responder
  key_hash TEXT NOT NULL,                  -- hex SHA-256 of the insert URI (duplicate RTS check)
  insert_uri_sealed BLOB NOT NULL,
  request_uri TEXT,                        -- responder: learnt from the CTS insert
  send_slot TEXT NOT NULL,                 -- head of our chain: the next slot to hand out
  send_index INTEGER NOT NULL DEFAULT 0,
  fetch_slot TEXT NOT NULL,                -- first slot of the peer's chain not found yet
  fetch_index INTEGER NOT NULL DEFAULT 0,
  timeout_at INTEGER NOT NULL,             -- no sending after this; polled 7 more days
  state TEXT NOT NULL,                     -- awaiting_cts | open | closed
  rts_json_sealed BLOB,                    -- initiator: RTS fields to (re)send
  rts_next_at INTEGER,                     -- initiator: next RTS insert; NULL once CTS seen
  rts_sent_at INTEGER,
  rts_key TEXT,                            -- where the last RTS went
  next_poll_at INTEGER NOT NULL DEFAULT 0,
  next_window_at INTEGER NOT NULL DEFAULT 0,
  last_fetch_at INTEGER,
  created_at INTEGER NOT NULL,
  UNIQUE (account_id, key_hash)
);

-- Peer slots passed over when a later one was found; polled until they expire.
CREATE TABLE skipped_slot (
  channel_id INTEGER NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
  slot TEXT NOT NULL,
  slot_index INTEGER NOT NULL,
  since_at INTEGER NOT NULL,
  PRIMARY KEY (channel_id, slot)
);

-- Outgoing items on a channel's send chain (CTS, message copies, acks) until inserted.
CREATE TABLE send_item (
  id INTEGER PRIMARY KEY,
  channel_id INTEGER NOT NULL REFERENCES channel(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,                      -- cts | message | ack
  delivery_id INTEGER REFERENCES delivery(id) ON DELETE CASCADE,
  message_id INTEGER,                      -- Freemail id (message, ack)
  slot TEXT,                               -- assigned slot; kept until the insert succeeds
  slot_index INTEGER,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);

-- Submitted mail.
CREATE TABLE outbox_message (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  subject TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL,
  body_sealed BLOB NOT NULL,               -- the mail after the header filter, as it goes out
  signature TEXT NOT NULL DEFAULT '',      -- our signature of it (a channel payload prop)
  submitted_at INTEGER NOT NULL
);

-- One recipient of one outbox message.
CREATE TABLE delivery (
  id INTEGER PRIMARY KEY,
  outbox_id INTEGER NOT NULL REFERENCES outbox_message(id) ON DELETE CASCADE,
  contact_id INTEGER NOT NULL REFERENCES contact(id),
  recipient TEXT NOT NULL,
  state TEXT NOT NULL,       -- held | released | awaiting_cts | inserting | awaiting_ack | delivered | failed | cancelled
  message_id INTEGER,        -- Freemail id, assigned at release
  channel_id INTEGER REFERENCES channel(id) ON DELETE SET NULL,
  slot_index INTEGER,        -- last slot it was inserted on
  inserted_at INTEGER,
  next_at INTEGER,           -- next action (resend, retry)
  attempts INTEGER NOT NULL DEFAULT 0,
  delivered_at INTEGER,
  error TEXT
);
CREATE INDEX delivery_by_state ON delivery(state);

-- Every message id ever stored per peer: duplicates are acked again, never stored again.
CREATE TABLE seen_message (
  account_id INTEGER NOT NULL,
  contact_id INTEGER NOT NULL,
  message_id INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, contact_id, message_id)
);

-- RTS polling per account and UTC day.
CREATE TABLE rts_day (
  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  day TEXT NOT NULL,                       -- yyyyMMdd
  passes INTEGER NOT NULL DEFAULT 0,
  last_result TEXT NOT NULL DEFAULT 'not yet polled',
  last_poll_at INTEGER,
  next_poll_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, day)
);
CREATE TABLE rts_slot (
  account_id INTEGER NOT NULL,
  day TEXT NOT NULL,
  slot INTEGER NOT NULL,
  found_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, day, slot)
);

-- Fetched RTSs waiting to be decrypted and checked (survive a crash between fetch and check).
CREATE TABLE rts_inbox (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  data BLOB NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0
);
)sql",
    R"sql(
-- A held message is also shown in the account's IMAP Outbox folder until it is released.
ALTER TABLE outbox_message ADD COLUMN outbox_uid INTEGER;
)sql",
    R"sql(
-- Consent comes only from the user: a held delivery to an address that is not a contact yet has
-- no contact row (contact_id NULL, the recipient address names the identity); approving it
-- accepts the contact. SQLite cannot drop a NOT NULL, so the table is rebuilt (migrate() runs
-- this with foreign keys off, as SQLite's ALTER TABLE documentation prescribes).
CREATE TABLE delivery_v3 (
  id INTEGER PRIMARY KEY,
  outbox_id INTEGER NOT NULL REFERENCES outbox_message(id) ON DELETE CASCADE,
  contact_id INTEGER REFERENCES contact(id),   -- NULL while held for an address not yet a contact
  recipient TEXT NOT NULL,                     -- canonical address (names the identity)
  state TEXT NOT NULL,       -- held | released | awaiting_cts | inserting | awaiting_ack | delivered | failed | cancelled
  message_id INTEGER,        -- Freemail id, assigned at release
  channel_id INTEGER REFERENCES channel(id) ON DELETE SET NULL,
  slot_index INTEGER,        -- last slot it was inserted on
  inserted_at INTEGER,
  next_at INTEGER,           -- next action (resend, retry)
  attempts INTEGER NOT NULL DEFAULT 0,
  delivered_at INTEGER,
  error TEXT
);
INSERT INTO delivery_v3 (id, outbox_id, contact_id, recipient, state, message_id, channel_id, slot_index, inserted_at,
                         next_at, attempts, delivered_at, error)
  SELECT id, outbox_id, contact_id, recipient, state, message_id, channel_id, slot_index, inserted_at,
         next_at, attempts, delivered_at, error FROM delivery;
DROP TABLE delivery;
ALTER TABLE delivery_v3 RENAME TO delivery;
CREATE INDEX delivery_by_state ON delivery(state);

-- Outbox subjects are sealed like bodies, both bound to (account, outbox id). Rows from before
-- (body sealed as "outbox:<id>", subject in plain text) are marked and resealed by the engine,
-- which holds the key, when it starts; `subject` stays empty from then on.
ALTER TABLE outbox_message ADD COLUMN subject_sealed BLOB;
ALTER TABLE outbox_message ADD COLUMN legacy_seal INTEGER NOT NULL DEFAULT 0;
UPDATE outbox_message SET legacy_seal = 1;
)sql",
    R"sql(
-- outbox_message.signature was never written or read: a message is signed per channel when it is
-- sent (channels.cpp), not at submission.
ALTER TABLE outbox_message DROP COLUMN signature;
)sql",
};

void apply_pragmas(SQLite::Database& db) {
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA foreign_keys=ON");
  db.setBusyTimeout(5000);
}

std::expected<void, std::string> migrate(SQLite::Database& db) {
  const int current = db.execAndGet("PRAGMA user_version").getInt();
  if (current > schema_version())
    return std::unexpected("the database was written by a newer fcpmail (schema " +
                           std::to_string(current) + ", this build knows " +
                           std::to_string(schema_version()) + "); use that version");
  if (current == schema_version()) return {};
  // A migration may rebuild a table that others refer to; with foreign keys on, its DROP TABLE
  // would cascade into the referring rows. So they are off while migrating (the pragma is a no-op
  // inside a transaction) and each migration proves the references still hold before it commits.
  const bool foreign_keys = db.execAndGet("PRAGMA foreign_keys").getInt() != 0;
  db.exec("PRAGMA foreign_keys=OFF");
  std::expected<void, std::string> result;
  for (int v = current; v < schema_version() && result; ++v) {
    SQLite::Transaction tx(db);
    db.exec(std::string(migrations[static_cast<std::size_t>(v)]));
    SQLite::Statement check(db, "PRAGMA foreign_key_check");
    if (check.executeStep()) {
      result = std::unexpected("migrating the database to schema " + std::to_string(v + 1) + " would break a reference from " +
                               check.getColumn(0).getString() + " to " + check.getColumn(2).getString() +
                               "; the database is left at schema " + std::to_string(v));
      break;  // the transaction rolls back
    }
    check.reset();
    db.exec("PRAGMA user_version=" + std::to_string(v + 1));
    tx.commit();
  }
  if (foreign_keys) db.exec("PRAGMA foreign_keys=ON");
  return result;
}

}  // namespace

int schema_version() { return static_cast<int>(migrations.size()); }

std::expected<std::unique_ptr<SQLite::Database>, std::string> open_database(
    const std::filesystem::path& file) {
  // Create the file 0600 before SQLite does (SQLite would honour the umask).
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0) return std::unexpected("cannot open " + file.string());
  ::fchmod(fd, 0600);
  ::close(fd);
  try {
    auto db = std::make_unique<SQLite::Database>(file.string(),
                                                 SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    apply_pragmas(*db);
    if (auto r = migrate(*db); !r) return std::unexpected(r.error());
    return db;
  } catch (const std::exception& e) {
    return std::unexpected("cannot open the database " + file.string() + ": " + e.what());
  }
}

std::unique_ptr<SQLite::Database> open_memory_database() {
  auto db = std::make_unique<SQLite::Database>(":memory:", SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db->exec("PRAGMA foreign_keys=ON");
  if (auto r = migrate(*db); !r) throw std::runtime_error(r.error());
  return db;
}

}  // namespace fcpmail::store
