// What the benchmarks share: reading a fixture file (FCPMAIL_FIXTURES, set by bench/CMakeLists.txt),
// loading a fixture RSA key, and this thread's CPU time (the figure the benchmarks print, so that
// other load on the machine does not count). Header-only: every bench/*.cpp is its own program.
#pragma once
#include "crypto/rsa.h"
#include "freemail/rsa_key_file.h"

#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace fcpmail::bench {

inline std::string fixture(const std::string& relative) {
  std::ifstream in(std::string(FCPMAIL_FIXTURES) + "/" + relative, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + relative);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// fixtures/keys/<name>.key.
inline crypto::RsaPrivateKey load_key(const std::string& name) {
  auto k = freemail::read_rsa_key_file(fixture("keys/" + name + ".key"));
  if (!k) throw std::runtime_error(name + ": " + k.error());
  return *k;
}

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace fcpmail::bench
