#include "daemon/data_dir.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

using namespace fcpmail::daemon;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/fcpmail-daemon-test-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

std::string content_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& file, const std::string& content) {
  std::ofstream(file, std::ios::binary) << content;
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}
}  // namespace

// flock locks belong to an open file description, so a second acquire in this same process meets
// the first exactly as a second fcpmaild would.
TEST_CASE("the data dir lock: one holder at a time, its pid in the refusal, free again once released") {
  TempDir dir;
  const std::string pid = std::to_string(::getpid());
  {
    auto first = DataDirLock::acquire(dir.path);
    REQUIRE(first);
    struct stat st {};
    REQUIRE(::stat((dir.path / lock_file_name).c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(content_of(dir.path / lock_file_name) == pid + "\n");
    auto second = DataDirLock::acquire(dir.path);
    REQUIRE_FALSE(second);
    CHECK(second.error() == dir.path.string() + " is already in use by another fcpmaild (pid " + pid +
                                "); stop it first (kill " + pid + "), or give this one another --data-dir");
  }
  // Released: the file stays, and it does not stand in the way.
  CHECK(fs::exists(dir.path / lock_file_name));
  CHECK(DataDirLock::acquire(dir.path));
}

TEST_CASE("the data dir lock does not follow a symbolic link") {
  TempDir dir;
  fs::create_symlink(dir.path / "elsewhere", dir.path / lock_file_name);
  auto lock = DataDirLock::acquire(dir.path);
  REQUIRE_FALSE(lock);
  CHECK(lock.error().find("symbolic link") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.path / "elsewhere"));
}

TEST_CASE("a fresh data dir gets a 32-byte 0600 key, read back the same the next time") {
  TempDir dir;
  auto key = load_or_create_secret_key(dir.path);
  REQUIRE(key);
  const fs::path file = dir.path / secret_key_file_name;
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_size == 32);
  CHECK(names_in(dir.path) == std::set<std::string>{"secret.key"});  // no temporary file left
  auto again = load_or_create_secret_key(dir.path);
  REQUIRE(again);
  CHECK(*again == *key);
  // Even with a database beside it now.
  write_file(dir.path / database_file_name, "sqlite");
  CHECK(load_or_create_secret_key(dir.path) == *key);
}

TEST_CASE("a database without its key is refused, with what is missing and what to restore, and nothing written") {
  for (const char* sealed : {"fcpmail.db", "fcpmail.db-wal"}) {
    CAPTURE(sealed);
    TempDir dir;
    write_file(dir.path / sealed, "sealed rows");
    auto key = load_or_create_secret_key(dir.path);
    REQUIRE_FALSE(key);
    CHECK(key.error() == (dir.path / "secret.key").string() + " is missing but " + (dir.path / sealed).string() +
                             " exists: the key seals every private key and mailbox in " + sealed +
                             "; restore secret.key from your backup (or move the data dir " + dir.path.string() +
                             " away to start afresh)");
    CHECK(names_in(dir.path) == std::set<std::string>{sealed});
  }
}

TEST_CASE("an empty, short, long, loose or linked key file is refused and left as it is") {
  TempDir dir;
  write_file(dir.path / database_file_name, "sealed rows");
  const fs::path file = dir.path / secret_key_file_name;
  struct Case {
    std::string content;
    std::string says;
  };
  for (const auto& [content, says] : {Case{"", "is empty"}, Case{"12345", "has 5 bytes where a key has 32"},
                                      Case{std::string(33, 'k'), "has 33 bytes where a key has 32"}}) {
    CAPTURE(says);
    write_file(file, content);
    auto key = load_or_create_secret_key(dir.path);
    REQUIRE_FALSE(key);
    CHECK(key.error().find(says) != std::string::npos);
    CHECK(key.error().find("restore secret.key from your backup") != std::string::npos);
    CHECK(content_of(file) == content);
  }
  write_file(file, std::string(32, 'k'));
  fs::permissions(file, fs::perms::group_read, fs::perm_options::add);
  auto loose = load_or_create_secret_key(dir.path);
  REQUIRE_FALSE(loose);
  CHECK(loose.error().find("chmod 600") != std::string::npos);
  fs::remove(file);
  write_file(dir.path / "real.key", std::string(32, 'k'));
  fs::create_symlink(dir.path / "real.key", file);
  auto linked = load_or_create_secret_key(dir.path);
  REQUIRE_FALSE(linked);
  CHECK(linked.error().find("symbolic link") != std::string::npos);
}
