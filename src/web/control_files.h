// The two files in the data dir through which the `fcpmail` CLI finds the running daemon:
//   control.token  one line of 64 hex digits, mode 0600: the bearer token of the control API
//   control.json   {"http":"127.0.0.1:9080","smtp":"127.0.0.1:9025","imap":"127.0.0.1:9143","pid":N}
// The daemon creates the token once (and reuses it) and writes control.json after its listeners
// are bound; the CLI reads both.
#pragma once
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>

namespace fcpmail::web {

inline constexpr const char* token_file_name = "control.token";
inline constexpr const char* control_file_name = "control.json";

struct ControlEndpoints {
  std::string http;  // "127.0.0.1:9080"
  std::string smtp;  // may be empty
  std::string imap;  // may be empty
  long pid = 0;
};

// Reads DIR/control.token, or creates it (32 random bytes as hex, mode 0600) if missing.
// A token file readable by others is refused (the error says how to fix it).
std::expected<std::string, std::string> load_or_create_token(const std::filesystem::path& data_dir);
// Reads an existing token (the CLI).
std::expected<std::string, std::string> read_token(const std::filesystem::path& data_dir);

// Writes DIR/control.json atomically (temporary file + rename), mode 0600.
std::expected<void, std::string> write_control_file(const std::filesystem::path& data_dir,
                                                    const ControlEndpoints& endpoints);
std::expected<ControlEndpoints, std::string> read_control_file(const std::filesystem::path& data_dir);

// Writes `content` to `path` durably and privately: a temporary file created 0600 (O_EXCL,
// O_NOFOLLOW), fsynced, renamed over `path`, then the directory fsynced so the rename survives a
// crash. Used for control.token, control.json and the data dir's secret.key.
std::expected<void, std::string> write_private_file(const std::filesystem::path& path, std::string_view content);

// Constant-time comparison for secrets (tokens, CSRF tokens).
bool secrets_equal(std::string_view a, std::string_view b);
// `bytes` random bytes from the system's CSPRNG, as lower-case hex.
std::string random_hex(std::size_t bytes);

}  // namespace fcpmail::web
