#include "web/control_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

namespace fcpmail::web {
namespace fs = std::filesystem;

namespace {

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

std::expected<void, std::string> write_private_file(const fs::path& path, std::string_view content) {
  const fs::path temporary = path.string() + ".tmp";
  ::unlink(temporary.c_str());  // left by a write that crashed; the caller holds the data dir
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(system_error("cannot create " + temporary.string()));
  std::size_t written = 0;
  while (written < content.size()) {
    const auto n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const auto error = system_error("cannot write " + temporary.string());
      ::close(fd);
      ::unlink(temporary.c_str());
      return std::unexpected(error);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const auto error = system_error("cannot write " + temporary.string());
    ::unlink(temporary.c_str());
    return std::unexpected(error);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const auto error = system_error("cannot rename " + temporary.string() + " to " + path.string());
    ::unlink(temporary.c_str());
    return std::unexpected(error);
  }
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return std::unexpected(system_error("cannot open " + dir.string()));
  const bool synced = ::fsync(dir_fd) == 0;
  const auto error = system_error("cannot sync " + dir.string());
  ::close(dir_fd);
  if (!synced) return std::unexpected(error);
  return {};
}

namespace {

std::expected<std::string, std::string> read_small_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot read " + path.string());
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

bool is_hex_token(std::string_view s) {
  if (s.size() != 64) return false;
  for (const char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::random_device device;  // getrandom(2) on Linux
  std::string out;
  out.reserve(bytes * 2);
  for (std::size_t i = 0; i < bytes; ++i) {
    const unsigned v = device() & 0xff;
    out += "0123456789abcdef"[v >> 4];
    out += "0123456789abcdef"[v & 15];
  }
  return out;
}

bool secrets_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  return difference == 0;
}

std::expected<std::string, std::string> read_token(const fs::path& data_dir) {
  const fs::path path = data_dir / token_file_name;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return std::unexpected("no control token at " + path.string() + "; is fcpmaild running with --data-dir " +
                           data_dir.string() + "?");
  }
  auto content = read_small_file(path);
  if (!content) return std::unexpected(content.error() + " (run fcpmail as the user that runs fcpmaild)");
  std::string token = *content;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (!is_hex_token(token)) return std::unexpected(path.string() + " is damaged; delete it and restart fcpmaild");
  return token;
}

std::expected<std::string, std::string> load_or_create_token(const fs::path& data_dir) {
  const fs::path path = data_dir / token_file_name;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if ((st.st_mode & 077) != 0) {
      return std::unexpected(path.string() + " can be read by other users; run `chmod 600 " + path.string() +
                             "` or delete it");
    }
    auto token = read_token(data_dir);
    if (token) return token;
    // A damaged token file is replaced below.
  }
  const std::string token = random_hex(32);
  auto written = write_private_file(path, token + "\n");
  if (!written) return std::unexpected(written.error());
  return token;
}

std::expected<void, std::string> write_control_file(const fs::path& data_dir, const ControlEndpoints& endpoints) {
  nlohmann::json j = {{"http", endpoints.http}, {"pid", endpoints.pid}};
  if (!endpoints.smtp.empty()) j["smtp"] = endpoints.smtp;
  if (!endpoints.imap.empty()) j["imap"] = endpoints.imap;
  return write_private_file(data_dir / control_file_name, j.dump() + "\n");
}

std::expected<ControlEndpoints, std::string> read_control_file(const fs::path& data_dir) {
  const fs::path path = data_dir / control_file_name;
  auto content = read_small_file(path);
  if (!content) {
    return std::unexpected("fcpmaild does not seem to be running with data dir " + data_dir.string() + " (no " +
                           path.string() + "); start it with tools/run or fcpmaild --data-dir " + data_dir.string());
  }
  const auto j = nlohmann::json::parse(*content, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("http") || !j["http"].is_string())
    return std::unexpected(path.string() + " is damaged; restart fcpmaild");
  ControlEndpoints endpoints;
  endpoints.http = j["http"].get<std::string>();
  if (j.contains("smtp") && j["smtp"].is_string()) endpoints.smtp = j["smtp"].get<std::string>();
  if (j.contains("imap") && j["imap"].is_string()) endpoints.imap = j["imap"].get<std::string>();
  if (j.contains("pid") && j["pid"].is_number_integer()) endpoints.pid = j["pid"].get<long>();
  return endpoints;
}

}  // namespace fcpmail::web
