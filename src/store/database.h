// The engine's SQLite database: opening it (WAL, foreign keys, busy timeout) and bringing its
// schema up to date. The engine owns the one connection and is the only writer; the mailbox store
// (mailbox_store.h) shares it.
#pragma once
#include <SQLiteCpp/Database.h>

#include <expected>
#include <filesystem>
#include <memory>
#include <string>

namespace fcpmail::store {

// The newest schema version this build knows.
int schema_version();

// Opens (creating if needed) the database file with mode 0600, switches it to WAL and applies every
// migration not yet applied, each in its own transaction. A database written by a newer build is
// refused with a sentence saying so.
std::expected<std::unique_ptr<SQLite::Database>, std::string> open_database(
    const std::filesystem::path& file);

// An in-memory database with the full schema (unit tests).
std::unique_ptr<SQLite::Database> open_memory_database();

// Milliseconds since the Unix epoch, the time unit of every column named *_at / *_ms.
using Millis = std::int64_t;

}  // namespace fcpmail::store
