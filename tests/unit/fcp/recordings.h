// Test helper: the fred recordings copied into fixtures/fred-recorded/.
#pragma once
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace fcp::test {

inline std::filesystem::path recordings_dir() { return std::filesystem::path(FCPMAIL_FIXTURES) / "fred-recorded"; }

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every recorded byte stream (*.c2n.bin and *.n2c.bin), sorted by name.
inline std::vector<std::filesystem::path> recording_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(recordings_dir()))
    if (entry.path().extension() == ".bin") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace fcp::test
