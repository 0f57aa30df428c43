// The simulated network's storage: every inserted document by slot (see freenet_uri.h slot_of),
// the USK edition index, and small named values (WebOfTrust state, persistent requests).
// One SQLite database: a file with --state (everything survives a restart), else in memory.
#pragma once
#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcp::sim {

struct StoredDocument {
  std::string data;
  std::string mime;  // empty: inserted without Metadata.ContentType
};

class Datastore {
 public:
  // Opens (creating if needed) the state file, or an in-memory database without one.
  // Throws std::runtime_error when the file cannot be opened or is not a sim state file.
  explicit Datastore(const std::optional<std::string>& path);
  ~Datastore();

  std::optional<StoredDocument> find(const std::string& slot);

  // What a block insert meets at its slot: nothing (stored now), the same bytes and type
  // (identical: fred reports success), or different ones (fred: collision, PutFailed 9).
  enum class PutResult { stored, identical, collision };
  PutResult put(const std::string& slot, std::string_view data, std::string_view mime);

  // The highest stored edition of a USK whose editions live at `base-N`.
  std::optional<std::int64_t> latest_edition(const std::string& base);

  std::optional<std::string> load_value(const std::string& name);
  void save_value(const std::string& name, const std::string& value);

  // Persistent (Persistence=forever) requests, keyed by owner (client name or global) + identifier.
  std::vector<std::pair<std::string, std::string>> load_requests();
  void save_request(const std::string& owner, const std::string& identifier, const std::string& value);
  void remove_request(const std::string& owner, const std::string& identifier);

 private:
  SQLite::Database db_;
  std::unique_ptr<SQLite::Statement> find_, insert_, latest_;
};

}  // namespace fcp::sim
