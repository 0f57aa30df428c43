#include "datastore.h"

#include "freenet_uri.h"

#include <stdexcept>

namespace fcp::sim {
namespace {

SQLite::Database open_database(const std::optional<std::string>& path) {
  try {
    return SQLite::Database(path ? *path : std::string(":memory:"),
                            SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot open state file " + path.value_or(":memory:") + ": " + e.what());
  }
}

}  // namespace

Datastore::Datastore(const std::optional<std::string>& path) : db_(open_database(path)) {
  try {
    if (path) {
      db_.exec("PRAGMA journal_mode=WAL");
      db_.exec("PRAGMA synchronous=NORMAL");
    }
    db_.exec(
        "CREATE TABLE IF NOT EXISTS blocks (slot TEXT PRIMARY KEY, data BLOB NOT NULL, mime TEXT NOT NULL,"
        " usk_base TEXT, edition INTEGER);"
        "CREATE INDEX IF NOT EXISTS blocks_usk ON blocks(usk_base, edition);"
        "CREATE TABLE IF NOT EXISTS named_values (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS persistent_requests (owner TEXT NOT NULL, identifier TEXT NOT NULL,"
        " value TEXT NOT NULL, PRIMARY KEY(owner, identifier));");
    find_ = std::make_unique<SQLite::Statement>(db_, "SELECT data, mime FROM blocks WHERE slot = ?");
    insert_ = std::make_unique<SQLite::Statement>(
        db_, "INSERT INTO blocks (slot, data, mime, usk_base, edition) VALUES (?, ?, ?, ?, ?)");
    latest_ = std::make_unique<SQLite::Statement>(db_, "SELECT MAX(edition) FROM blocks WHERE usk_base = ?");
  } catch (const std::exception& e) {
    throw std::runtime_error("state file " + path.value_or(":memory:") + " is not usable: " + e.what());
  }
}

Datastore::~Datastore() = default;

std::optional<StoredDocument> Datastore::find(const std::string& slot) {
  find_->reset();
  find_->bind(1, slot);
  if (!find_->executeStep()) return std::nullopt;
  const auto data = find_->getColumn(0);
  StoredDocument doc;
  doc.data.assign(static_cast<const char*>(data.getBlob()), static_cast<std::size_t>(data.getBytes()));
  doc.mime = find_->getColumn(1).getString();
  find_->reset();
  return doc;
}

Datastore::PutResult Datastore::put(const std::string& slot, std::string_view data, std::string_view mime) {
  if (auto existing = find(slot)) {
    return existing->data == data && existing->mime == mime ? PutResult::identical : PutResult::collision;
  }
  insert_->reset();
  insert_->bind(1, slot);
  insert_->bind(2, data.data(), static_cast<int>(data.size()));
  insert_->bind(3, std::string(mime));
  if (auto edition = usk_edition_of_slot(slot)) {
    insert_->bind(4, edition->base);
    insert_->bind(5, static_cast<int64_t>(edition->edition));
  } else {
    insert_->bind(4);
    insert_->bind(5);
  }
  insert_->exec();
  insert_->reset();
  return PutResult::stored;
}

std::optional<std::int64_t> Datastore::latest_edition(const std::string& base) {
  latest_->reset();
  latest_->bind(1, base);
  std::optional<std::int64_t> result;
  if (latest_->executeStep() && !latest_->getColumn(0).isNull()) result = latest_->getColumn(0).getInt64();
  latest_->reset();
  return result;
}

std::optional<std::string> Datastore::load_value(const std::string& name) {
  SQLite::Statement q(db_, "SELECT value FROM named_values WHERE name = ?");
  q.bind(1, name);
  if (!q.executeStep()) return std::nullopt;
  return q.getColumn(0).getString();
}

void Datastore::save_value(const std::string& name, const std::string& value) {
  SQLite::Statement q(db_, "INSERT OR REPLACE INTO named_values (name, value) VALUES (?, ?)");
  q.bind(1, name);
  q.bind(2, value);
  q.exec();
}

std::vector<std::pair<std::string, std::string>> Datastore::load_requests() {
  std::vector<std::pair<std::string, std::string>> out;
  SQLite::Statement q(db_, "SELECT owner, value FROM persistent_requests ORDER BY rowid");
  while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
  return out;
}

void Datastore::save_request(const std::string& owner, const std::string& identifier, const std::string& value) {
  SQLite::Statement q(db_, "INSERT OR REPLACE INTO persistent_requests (owner, identifier, value) VALUES (?, ?, ?)");
  q.bind(1, owner);
  q.bind(2, identifier);
  q.bind(3, value);
  q.exec();
}

void Datastore::remove_request(const std::string& owner, const std::string& identifier) {
  SQLite::Statement q(db_, "DELETE FROM persistent_requests WHERE owner = ? AND identifier = ?");
  q.bind(1, owner);
  q.bind(2, identifier);
  q.exec();
}

}  // namespace fcp::sim
