#include "web/control_files.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

using namespace fcpmail::web;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path;
  TempDir() {
    char name[] = "/tmp/fcpmail-web-test-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { fs::remove_all(path); }
};
}  // namespace

TEST_CASE("the token is created once with mode 0600 and then reused") {
  TempDir dir;
  CHECK_FALSE(read_token(dir.path));
  auto token = load_or_create_token(dir.path);
  REQUIRE(token);
  CHECK(token->size() == 64);
  struct stat st {};
  REQUIRE(::stat((dir.path / token_file_name).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(load_or_create_token(dir.path) == *token);
  CHECK(read_token(dir.path) == *token);
  // Readable by others: refused with advice.
  fs::permissions(dir.path / token_file_name, fs::perms::group_read, fs::perm_options::add);
  auto refused = load_or_create_token(dir.path);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().find("chmod 600") != std::string::npos);
  // A damaged token is replaced.
  fs::permissions(dir.path / token_file_name, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  std::ofstream(dir.path / token_file_name) << "garbage\n";
  CHECK_FALSE(read_token(dir.path));
  auto fresh = load_or_create_token(dir.path);
  REQUIRE(fresh);
  CHECK(*fresh != *token);
}

TEST_CASE("control.json round trip") {
  TempDir dir;
  auto missing = read_control_file(dir.path);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().find("does not seem to be running") != std::string::npos);
  REQUIRE(write_control_file(dir.path, {"127.0.0.1:9080", "127.0.0.1:9025", "", 42}));
  auto read = read_control_file(dir.path);
  REQUIRE(read);
  CHECK(read->http == "127.0.0.1:9080");
  CHECK(read->smtp == "127.0.0.1:9025");
  CHECK(read->imap.empty());
  CHECK(read->pid == 42);
  std::ofstream(dir.path / control_file_name) << "{\"nope\":1}";
  CHECK_FALSE(read_control_file(dir.path));
}

TEST_CASE("secrets_equal, random_hex") {
  CHECK(secrets_equal("abc", "abc"));
  CHECK_FALSE(secrets_equal("abc", "abd"));
  CHECK_FALSE(secrets_equal("abc", "abcd"));
  CHECK(random_hex(16).size() == 32);
  CHECK(random_hex(16) != random_hex(16));
}

TEST_CASE("write_private_file: 0600, no temporary left, replaces; a dir it cannot write in is named") {
  TempDir dir;
  const auto file = dir.path / "secret";
  REQUIRE(write_private_file(file, std::string_view("one\0two", 7)));
  REQUIRE(write_private_file(file, "second"));
  std::ifstream in(file);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "second");
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(fs::exists(dir.path / "secret.tmp"));
  // A temporary that is a symbolic link (left by someone else) is not followed.
  const auto target = dir.path / "target";
  { std::ofstream(target) << "untouched"; }
  fs::create_symlink(target, dir.path / "secret.tmp");
  REQUIRE(write_private_file(file, "third"));
  std::ifstream t(target);
  std::string kept((std::istreambuf_iterator<char>(t)), std::istreambuf_iterator<char>());
  CHECK(kept == "untouched");

  auto r = write_private_file("/nonexistent/fcpmail-dir/x", "y");
  REQUIRE_FALSE(r);
  CHECK(r.error().find("/nonexistent/fcpmail-dir") != std::string::npos);
}
