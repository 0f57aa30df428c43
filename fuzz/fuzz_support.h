// Helpers shared by the libFuzzer targets in fuzz/: reading the input as a few control bytes plus
// a body, splitting a stream at input-chosen points, and a check that aborts (so libFuzzer records
// the input) when a documented property of a parser does not hold.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

// A broken property is a bug like a crash: print what broke and abort so libFuzzer saves the input.
#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (false)

namespace fuzz {

// The fuzz input, consumed from the front: control bytes first, the rest is the body.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : bytes_(reinterpret_cast<const char*>(data), size) {}

  // One control byte (0 once the input is used up).
  std::uint8_t byte() {
    if (bytes_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return b;
  }
  std::string_view rest() const { return bytes_; }

 private:
  std::string_view bytes_;
};

// Chunk sizes (1..max) for feeding a stream in pieces, drawn from `seed` bytes; cycles through them.
inline std::vector<std::size_t> chunk_plan(std::string_view seed, std::size_t max_chunk) {
  std::vector<std::size_t> plan;
  for (unsigned char c : seed) plan.push_back(1 + c % max_chunk);
  if (plan.empty()) plan.push_back(max_chunk);
  return plan;
}

// Whole contents of a fixture file (the targets that need a fixed test key read it once).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz: cannot read %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace fuzz
