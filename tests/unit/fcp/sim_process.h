// Test helper: runs the fcpmail-sim executable from the build directory as a child process, so the
// client talks to it over real TCP exactly as it would to fred, and the test can kill and restart it.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <thread>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace fcp::test {

inline std::filesystem::path sim_binary() { return std::filesystem::path(FCPMAIL_BUILD_DIR) / "fcpmail-sim"; }

class SimProcess {
 public:
  // Starts fcpmail-sim on 127.0.0.1:port (0: a free one) with extra options; waits for
  // "listening on HOST:PORT" and remembers the port.
  explicit SimProcess(std::vector<std::string> options = {}, std::uint16_t port = 0) : options_(std::move(options)) {
    start(port);
  }
  ~SimProcess() { kill_now(); }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  std::uint16_t port() const { return port_; }
  bool running() const { return pid_ > 0; }

  // SIGKILL: the node vanishes without a word, as a crash would.
  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    std::error_code ignored;
    if (!log_.empty()) std::filesystem::remove(log_, ignored);
  }
  // Start again on the same port with the same options.
  void restart() {
    kill_now();
    start(port_);
  }

 private:
  void start(std::uint16_t port) {
    // The sim's output goes to a file (a pipe nobody drains could block or kill it later).
    log_ = std::filesystem::temp_directory_path() /
           ("fcp-sim-" + std::to_string(::getpid()) + "-" + std::to_string(++starts_) + ".log");
    std::vector<std::string> args{sim_binary().string(), "--listen", "127.0.0.1:" + std::to_string(port)};
    args.insert(args.end(), options_.begin(), options_.end());
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string line;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(log_);
      while (std::getline(in, line))
        if (line.starts_with("listening on ")) break;
      if (line.starts_with("listening on ")) break;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto colon = line.rfind(':');
    if (!line.starts_with("listening on ") || colon == std::string::npos) {
      kill_now();
      throw std::runtime_error("fcpmail-sim did not start (" + sim_binary().string() + ")");
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
  }

  std::vector<std::string> options_;
  std::filesystem::path log_;
  int starts_ = 0;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace fcp::test
