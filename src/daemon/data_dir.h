// The data dir's lifecycle files: the lock that keeps a second fcpmaild out, and secret.key, the key
// that seals every private key and mailbox in fcpmail.db.
#pragma once
#include "crypto/sealed_box.h"

#include <expected>
#include <filesystem>
#include <string>
#include <utility>

namespace fcpmail::daemon {

inline constexpr const char* lock_file_name = "fcpmaild.lock";
inline constexpr const char* secret_key_file_name = "secret.key";
inline constexpr const char* database_file_name = "fcpmail.db";

// DIR/fcpmaild.lock held with flock(LOCK_EX) for as long as this object (or the process) lives.
// Two daemons on one data dir would both write control.json, share the database and take each
// other's FCP client name off the node. The kernel drops the lock however the process ends
// (kill -9 included), so a lock file left behind never blocks a restart; the file itself stays
// (removing it would let a third daemon lock a new file while the second still holds the old one).
// It holds the holder's pid, for the message a second daemon prints.
class DataDirLock {
 public:
  // The lock, or a sentence for the user: "DIR is already in use by another fcpmaild (pid N); ...".
  static std::expected<DataDirLock, std::string> acquire(const std::filesystem::path& dir);
  DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DataDirLock& operator=(DataDirLock&& other) noexcept;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// DIR/secret.key: 32 random bytes, made on the first start of a fresh dir (written to a temporary
// file, fsynced, renamed, then the dir fsynced, so a crash leaves either no key or the whole key).
// Refused, with a sentence naming what is missing and what to restore, when the key is missing
// although fcpmail.db exists (a new key would make everything sealed in it unreadable), and when
// it is empty, short, not a regular file, unreadable or readable by others. A refusal changes
// nothing in the dir.
std::expected<crypto::Key256, std::string> load_or_create_secret_key(const std::filesystem::path& dir);


}  // namespace fcpmail::daemon
