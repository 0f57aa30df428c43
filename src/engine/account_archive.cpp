#include "engine/account_archive.h"

#include <array>
#include <bit>
#include <cstring>

namespace fcpmail::engine {
namespace {

constexpr std::string_view magic{"FCPMAIL-ACCOUNT\x1a", 16};
constexpr std::size_t salt_size = 16;
constexpr std::size_t passphrase_check_size = 16;
constexpr std::size_t header_check_size = 8;
constexpr std::size_t header_check_offset = account_archive_header_size - header_check_size;  // 60
// Parameters accepted when reading: a damaged or hostile header must not make us allocate
// gigabytes. 2^10..2^22 covers every sane choice; memory is 128 * N * r bytes.
constexpr unsigned min_log2_n = 10, max_log2_n = 22;
constexpr std::uint64_t max_scrypt_memory = 1ull << 30;

std::string passphrase_check(const crypto::Key256& key) {
  std::string input = "fcpmail account export check\n";
  input.append(reinterpret_cast<const char*>(key.data()), key.size());
  return crypto::sha256(input).substr(0, passphrase_check_size);
}

std::string header_check(std::string_view header_without_check) {
  return crypto::sha256(header_without_check).substr(0, header_check_size);
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::uint64_t get_u64(std::string_view in) {
  std::uint64_t v = 0;
  for (unsigned char c : in.substr(0, 8)) v = (v << 8) | c;
  return v;
}

bool acceptable(const crypto::ScryptParams& p) {
  if (p.n < (1u << min_log2_n) || p.n > (1u << max_log2_n) || !std::has_single_bit(p.n)) return false;
  if (p.r < 1 || p.r > 32 || p.p < 1 || p.p > 16) return false;
  return 128ull * p.n * p.r <= max_scrypt_memory;
}

ArchiveFailure failure(ArchiveError e, std::string detail) { return ArchiveFailure{e, std::move(detail)}; }

// The file key and the plain content (it holds the account's private keys) are cleared as soon as
// they are no longer needed, not left for the allocator to hand out again.
struct Wiped {
  void* data;
  std::size_t size;
  ~Wiped() { ::explicit_bzero(data, size); }
};

}  // namespace

crypto::ScryptParams default_archive_scrypt() { return crypto::ScryptParams{1u << 16, 8, 1}; }

std::string encode_account_archive(const nlohmann::json& content, std::string_view passphrase,
                                   const crypto::ScryptParams& params) {
  if (!acceptable(params)) throw std::invalid_argument("encode_account_archive: unacceptable scrypt parameters");
  std::vector<std::uint8_t> cbor = nlohmann::json::to_cbor(content);
  std::string plain(cbor.begin(), cbor.end());
  const Wiped wipe_plain{plain.data(), plain.size()};
  const Wiped wipe_cbor{cbor.data(), cbor.size()};
  const std::string salt = crypto::random_bytes(salt_size);
  crypto::Key256 key = crypto::derive_key(passphrase, salt, params);
  const Wiped wipe_key{key.data(), key.size()};

  std::string header(magic);
  header.push_back(static_cast<char>(account_archive_version));
  header.push_back(static_cast<char>(std::countr_zero(params.n)));
  header.push_back(static_cast<char>(params.r));
  header.push_back(static_cast<char>(params.p));
  header += salt;
  header += passphrase_check(key);
  put_u64(header, plain.size() + crypto::SealedBox::overhead);
  header += header_check(header);
  return header + crypto::SealedBox(key).seal(plain, header);
}

std::expected<nlohmann::json, ArchiveFailure> decode_account_archive(std::string_view file,
                                                                     std::string_view passphrase) {
  if (file.empty()) return std::unexpected(failure(ArchiveError::truncated, "the export file is empty"));
  const std::string_view head = file.substr(0, magic.size());
  if (head != magic.substr(0, head.size()))
    return std::unexpected(failure(ArchiveError::not_an_archive, "this is not an fcpmail account export file"));
  if (file.size() < account_archive_header_size)
    return std::unexpected(failure(ArchiveError::truncated,
                                   "the export file is truncated (" + std::to_string(file.size()) +
                                       " bytes, not even a whole header); copy it again"));
  const auto version = static_cast<std::uint8_t>(file[16]);
  if (version != account_archive_version)
    return std::unexpected(failure(ArchiveError::unsupported_version,
                                   "this export file has format version " + std::to_string(version) +
                                       "; this fcpmail reads version " + std::to_string(account_archive_version)));
  const std::string_view header = file.substr(0, account_archive_header_size);
  if (header_check(header.substr(0, header_check_offset)) != header.substr(header_check_offset))
    return std::unexpected(failure(ArchiveError::damaged, "the export file's header is damaged; nothing was imported"));

  const unsigned log2_n = static_cast<std::uint8_t>(file[17]);
  crypto::ScryptParams params{log2_n < 64 ? (1ull << log2_n) : 0, static_cast<std::uint8_t>(file[18]),
                              static_cast<std::uint8_t>(file[19])};
  if (!acceptable(params))
    return std::unexpected(failure(ArchiveError::damaged, "the export file asks for unusable key-derivation "
                                                          "parameters; nothing was imported"));
  const std::string_view salt = file.substr(20, salt_size);
  const std::string_view check = file.substr(36, passphrase_check_size);
  const std::uint64_t sealed_size = get_u64(file.substr(52, 8));
  const std::uint64_t available = file.size() - account_archive_header_size;
  if (sealed_size < crypto::SealedBox::overhead)
    return std::unexpected(failure(ArchiveError::damaged, "the export file's header is damaged; nothing was imported"));
  if (available < sealed_size)
    return std::unexpected(failure(ArchiveError::truncated,
                                   "the export file is truncated (" + std::to_string(file.size()) + " of " +
                                       std::to_string(sealed_size + account_archive_header_size) +
                                       " bytes); copy it again"));
  if (available > sealed_size)
    return std::unexpected(failure(ArchiveError::damaged, "the export file has " + std::to_string(available - sealed_size) +
                                                              " unexpected bytes at its end; nothing was imported"));

  crypto::Key256 key{};
  const Wiped wipe_key{key.data(), key.size()};
  try {
    key = crypto::derive_key(passphrase, salt, params);
  } catch (const std::exception& e) {
    return std::unexpected(failure(ArchiveError::damaged, std::string("cannot derive the file key: ") + e.what()));
  }
  if (passphrase_check(key) != check)
    return std::unexpected(failure(ArchiveError::wrong_passphrase, "wrong passphrase for this export file; nothing was imported"));
  auto plain = crypto::SealedBox(key).open(file.substr(account_archive_header_size), header);
  if (!plain)
    return std::unexpected(failure(ArchiveError::damaged,
                                   "the export file is damaged or was altered (its content fails authentication); "
                                   "nothing was imported"));
  const Wiped wipe_plain{plain->data(), plain->size()};
  auto content = nlohmann::json::from_cbor(plain->begin(), plain->end(), true, false);
  if (content.is_discarded())
    return std::unexpected(failure(ArchiveError::damaged, "the export file's content is not readable; nothing was imported"));
  return content;
}

std::string_view to_string(ArchiveError e) {
  switch (e) {
    case ArchiveError::not_an_archive: return "not an export file";
    case ArchiveError::unsupported_version: return "unsupported version";
    case ArchiveError::truncated: return "truncated";
    case ArchiveError::damaged: return "damaged";
    case ArchiveError::wrong_passphrase: return "wrong passphrase";
  }
  return "unknown";
}

}  // namespace fcpmail::engine
