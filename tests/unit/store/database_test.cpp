// The engine database: file mode, WAL, schema migrations, refusal of newer schemas.
#include "store/database.h"

#include <SQLiteCpp/Statement.h>
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>

using namespace fcpmail;

namespace {
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/fcpmail-store-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};
}  // namespace

TEST_CASE("a new database is 0600, in WAL mode, with the whole schema") {
  TempDir dir;
  const auto file = dir.path / "fcpmail.db";
  auto db = store::open_database(file);
  REQUIRE(db.has_value());
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK((*db)->execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK((*db)->execAndGet("PRAGMA user_version").getInt() == store::schema_version());
  CHECK((*db)->execAndGet("PRAGMA foreign_keys").getInt() == 1);
  for (const char* table : {"account", "contact", "contact_request", "channel", "skipped_slot", "send_item",
                            "outbox_message", "delivery", "seen_message", "rts_day", "rts_slot", "rts_inbox"}) {
    SQLite::Statement q(**db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    q.bind(1, table);
    REQUIRE(q.executeStep());
    CHECK_MESSAGE(q.getColumn(0).getInt() == 1, table);
  }
  // The never-used outbox_message.signature is gone (migration 4).
  CHECK((*db)->execAndGet("SELECT COUNT(*) FROM pragma_table_info('outbox_message') WHERE name = 'signature'").getInt() == 0);
}

TEST_CASE("reopening keeps the data and applies no migration twice") {
  TempDir dir;
  const auto file = dir.path / "fcpmail.db";
  {
    auto db = store::open_database(file);
    REQUIRE(db.has_value());
    (*db)->exec("INSERT INTO seen_message (account_id, contact_id, message_id, received_at) VALUES (1, 2, 3, 4)");
  }
  auto db = store::open_database(file);
  REQUIRE(db.has_value());
  CHECK((*db)->execAndGet("SELECT COUNT(*) FROM seen_message").getInt() == 1);
  // Dedup is by (account, peer, id): the same id again is ignored.
  CHECK((*db)->exec("INSERT OR IGNORE INTO seen_message (account_id, contact_id, message_id, received_at) VALUES (1, 2, 3, 5)") == 0);
}

TEST_CASE("a database from a newer fcpmail is refused with a sentence") {
  TempDir dir;
  const auto file = dir.path / "fcpmail.db";
  {
    auto db = store::open_database(file);
    REQUIRE(db.has_value());
    (*db)->exec("PRAGMA user_version=" + std::to_string(store::schema_version() + 1));
  }
  auto db = store::open_database(file);
  REQUIRE_FALSE(db.has_value());
  CHECK(db.error().find("newer fcpmail") != std::string::npos);
}

TEST_CASE("a version 1 database is brought up to date") {
  TempDir dir;
  const auto file = dir.path / "fcpmail.db";
  {
    auto db = store::open_database(file);
    REQUIRE(db.has_value());
    // Undo migrations 4, 3 and 2 as an older build would have left it (migration 3's delivery
    // rebuild keeps the same columns, so only the columns it added are dropped).
    (*db)->exec("ALTER TABLE outbox_message ADD COLUMN signature TEXT NOT NULL DEFAULT ''");
    (*db)->exec("ALTER TABLE outbox_message DROP COLUMN legacy_seal");
    (*db)->exec("ALTER TABLE outbox_message DROP COLUMN subject_sealed");
    (*db)->exec("ALTER TABLE outbox_message DROP COLUMN outbox_uid");
    (*db)->exec("PRAGMA user_version=1");
  }
  auto db = store::open_database(file);
  REQUIRE(db.has_value());
  CHECK((*db)->execAndGet("PRAGMA user_version").getInt() == store::schema_version());
  CHECK((*db)->execAndGet("SELECT COUNT(*) FROM pragma_table_info('outbox_message') WHERE name = 'outbox_uid'").getInt() == 1);
  CHECK((*db)->execAndGet("SELECT COUNT(*) FROM pragma_table_info('outbox_message') WHERE name = 'subject_sealed'").getInt() == 1);
  CHECK((*db)->execAndGet("SELECT COUNT(*) FROM pragma_table_info('outbox_message') WHERE name = 'signature'").getInt() == 0);
  CHECK((*db)->execAndGet("SELECT \"notnull\" FROM pragma_table_info('delivery') WHERE name = 'contact_id'").getInt() == 0);
  CHECK((*db)->execAndGet("PRAGMA foreign_keys").getInt() == 1);
}

TEST_CASE("an unwritable location is an error, not a crash") {
  auto db = store::open_database("/nonexistent-dir/fcpmail.db");
  CHECK_FALSE(db.has_value());
}

TEST_CASE("foreign keys hold: a delivery needs its outbox message") {
  auto db = store::open_memory_database();
  CHECK_THROWS(db->exec("INSERT INTO delivery (outbox_id, contact_id, recipient, state) VALUES (42, 1, 'x', 'held')"));
}
