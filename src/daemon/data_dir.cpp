#include "daemon/data_dir.h"

#include "web/control_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace fcpmail::daemon {
namespace fs = std::filesystem;

namespace {

std::string error_text(int error) { return std::strerror(error); }

// The pid in a lock file, or nothing (the holder may not have written it yet).
std::optional<long> pid_in(int fd) {
  char buffer[32] = {};
  const auto n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return std::nullopt;
  long pid = 0;
  for (ssize_t i = 0; i < n && buffer[i] != '\n'; ++i) {
    if (buffer[i] < '0' || buffer[i] > '9' || pid > 100'000'000) return std::nullopt;
    pid = pid * 10 + (buffer[i] - '0');
  }
  return pid > 0 ? std::optional<long>(pid) : std::nullopt;
}

// fcpmail.db and its WAL: where sealed values live. (node.db, the embedded node's store, holds
// nothing sealed with the key.)
std::optional<fs::path> sealed_data_in(const fs::path& dir) {
  for (const char* name : {"fcpmail.db", "fcpmail.db-wal"}) {
    struct stat st {};
    if (::lstat((dir / name).c_str(), &st) == 0) return dir / name;
  }
  return std::nullopt;
}

std::string restore_advice(const fs::path& dir, const fs::path& sealed) {
  return ": the key seals every private key and mailbox in " + sealed.filename().string() +
         "; restore secret.key from your backup (or move the data dir " + dir.string() + " away to start afresh)";
}

}  // namespace

std::expected<DataDirLock, std::string> DataDirLock::acquire(const fs::path& dir) {
  const fs::path path = dir / lock_file_name;
  // O_NOFOLLOW: a symlink planted here must not make us create or lock a file elsewhere.
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    if (error == ELOOP) return std::unexpected(path.string() + " is a symbolic link; remove it and start fcpmaild again");
    return std::unexpected("cannot open " + path.string() + ": " + error_text(error));
  }
  DataDirLock lock(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return std::unexpected(path.string() + " is not a regular file; remove it and start fcpmaild again");
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EINTR) continue;
    if (error != EWOULDBLOCK)
      return std::unexpected("cannot lock " + path.string() + ": " + error_text(error));
    // The holder writes its pid right after it locks; give it a moment if we came in between.
    auto pid = pid_in(fd);
    for (int i = 0; !pid && i < 20; ++i) {
      ::usleep(10'000);
      pid = pid_in(fd);
    }
    const std::string who = pid ? "pid " + std::to_string(*pid) : std::string("pid unknown");
    return std::unexpected(dir.string() + " is already in use by another fcpmaild (" + who + "); stop it first" +
                           (pid ? " (kill " + std::to_string(*pid) + ")" : std::string()) +
                           ", or give this one another --data-dir");
  }
  const std::string pid = std::to_string(static_cast<long>(::getpid())) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    return std::unexpected("cannot write " + path.string() + ": " + error_text(errno));
  return lock;
}

DataDirLock& DataDirLock::operator=(DataDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

std::expected<crypto::Key256, std::string> load_or_create_secret_key(const fs::path& dir) {
  const fs::path file = dir / secret_key_file_name;
  crypto::Key256 key{};
  const auto sealed = sealed_data_in(dir);
  const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    struct stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    std::size_t got = 0;
    bool read_failed = false;
    while (regular && got < key.size()) {
      const auto n = ::read(fd, key.data() + got, key.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) read_failed = true;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (!regular) return std::unexpected(file.string() + " is not a regular file");
    if (st.st_mode & (S_IRWXG | S_IRWXO))
      return std::unexpected(file.string() + " is readable by others; fix it with: chmod 600 " + file.string());
    if (read_failed) return std::unexpected("cannot read " + file.string());
    if (got != key.size() || static_cast<std::size_t>(st.st_size) != key.size()) {
      const std::string what = st.st_size == 0 ? "is empty" : "has " + std::to_string(st.st_size) + " bytes where a key has 32";
      return std::unexpected(file.string() + " " + what + (sealed ? restore_advice(dir, *sealed) : std::string(
                                 "; restore it from your backup, or remove it if this data dir holds no mail yet")));
    }
    return key;
  }
  const int error = errno;
  if (error == ELOOP) return std::unexpected(file.string() + " is a symbolic link; put the key file itself there");
  if (error != ENOENT) return std::unexpected("cannot read " + file.string() + ": " + error_text(error));
  if (sealed)
    return std::unexpected(file.string() + " is missing but " + sealed->string() + " exists" + restore_advice(dir, *sealed));

  // A fresh data dir: a new key.
  const auto bytes = crypto::random_bytes(key.size());
  std::copy(bytes.begin(), bytes.end(), key.begin());
  // Written durably (temporary file, fsync, rename, directory fsync): without the directory sync a
  // crash soon after could lose the rename while fcpmail.db (written next) survives, exactly the
  // keyless data dir refused above.
  const std::string_view bytes_view(reinterpret_cast<const char*>(key.data()), key.size());
  if (auto written = web::write_private_file(file, bytes_view); !written) return std::unexpected(written.error());
  return key;
}

}  // namespace fcpmail::daemon
