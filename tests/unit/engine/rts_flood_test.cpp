// A flood on an account's RTS KSK: anyone can fill its slots with blobs of up to 2 MiB. Every found
// RTS is stored and then decrypted on the worker pool; a poll pass stops fetching while 16 found
// RTSs wait for their first check, so a flood's cost at any moment is bounded per account, and
// the slots after the pause are still fetched (and refused) once those are checked.
#include "engine_world.h"
#include "memory_node.h"

#include "freemail/rts.h"

#include <SQLiteCpp/Statement.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>

using namespace fcpmail;
using namespace fcpmail::engine;
using fcpmail::engine::test::MemoryNode;

TEST_CASE("an RTS flood: at most 16 found RTSs wait for their first check; every slot is still refused") {
  EngineConfig c;
  c.intervals = Intervals{}.scaled(0.002);
  c.tick = std::chrono::milliseconds(2);
  c.rts_days_back = 1;
  test::EngineWorld<MemoryNode> w(c);
  const auto bob = w.create("bob");
  std::string rtsksk;
  {
    SQLite::Statement q(*w.db, "SELECT rtsksk FROM account WHERE address = ?");
    q.bind(1, bob);
    REQUIRE(q.executeStep());
    rtsksk = q.getColumn(0).getString();
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  constexpr unsigned flood = 48;
  for (unsigned n = 1; n <= flood; ++n) w.node.store[freemail::rts_ksk(rtsksk, now, n)] = crypto::random_bytes(1500);
  w.db->exec("UPDATE rts_day SET next_poll_at = 0");

  std::int64_t most_waiting = 0;
  auto dropped = [&] {
    return std::count_if(w.log.begin(), w.log.end(), [](const std::string& l) { return l.find(" dropped: ") != std::string::npos; });
  };
  REQUIRE(w.run_until([&] {
    SQLite::Statement q(*w.db, "SELECT COUNT(*) FROM rts_inbox WHERE attempts = 0");
    q.executeStep();
    most_waiting = std::max<std::int64_t>(most_waiting, q.getColumn(0).getInt64());
    return dropped() == flood;
  }, std::chrono::milliseconds(30000)));
  CHECK(most_waiting <= 16);
  CHECK(std::count_if(w.log.begin(), w.log.end(), [](const std::string& l) {
          return l.find(" wait: 16 RTSs waiting to be checked") != std::string::npos;
        }) >= 1);
  CHECK(w.engine.requests(bob)->empty());
}
