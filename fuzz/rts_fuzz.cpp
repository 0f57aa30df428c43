// RTS decoding (freemail::open_rts and what follows it): an RTS is whatever anyone inserted under
// our KSK, so every byte is hostile. Fixed test keys: the recipient of raw blobs is TestId2
// (fixtures/rts/testid2.key, RSA-4096 like every Freemail key), the sender key TestId1's.
//
// Control byte (mode % 3):
//   0  the rest is a raw RTS blob: size checks, RSA block, AES, lines, fields.
//   1  the rest is the plaintext (props header, empty line, signature): it is sealed under a fixed
//      IV and AES key first, so the fuzzer reaches the line and field parser behind the RSA and
//      AES layers (a mutated raw blob almost never decrypts). Then signature and recipient checks.
//      The recipient here is a fixed RSA-1024 test key (fuzz/keys/rts-recipient-1024.key): one
//      4096-bit private operation per input would hold the fuzzer to ~15 inputs/s under ASan, and
//      open_rts works with the key's own block size, so nothing behind the RSA layer changes.
//   2  rts_date / rts_ksk / the USK and SSK shape checks on arbitrary numbers and text.
#include "crypto/aes_cbc.h"
#include "freemail/rsa_key_file.h"
#include "freemail/rts.h"
#include "fuzz_support.h"

#include <cstring>

namespace fm = fcpmail::freemail;
namespace crypto = fcpmail::crypto;

namespace {

struct Keys {
  crypto::RsaPrivateKey own;    // TestId2, RSA-4096: mode 0
  crypto::RsaPrivateKey small;  // RSA-1024 e=17: mode 1
  crypto::RsaPublicKey sender;
  std::string key_material;  // IV (16) || AES-256 key (32), bytes 0x80..0xaf as in §8.2
  std::string key_block;     // key_material^e mod n of `small`: the RSA part of every mode-1 RTS
};

const Keys& keys() {
  static const Keys k = [] {
    const std::string dir = FCPMAIL_FIXTURES "/rts/";
    auto own = fm::read_rsa_key_file(fuzz::read_file(dir + "testid2.key"));
    auto sender = fm::read_rsa_key_file(fuzz::read_file(dir + "testid1.key"));
    auto small = fm::read_rsa_key_file(fuzz::read_file(FCPMAIL_FUZZ_DIR "/keys/rts-recipient-1024.key"));
    if (!own || !sender || !small) std::abort();
    std::string material;
    for (int b = 0x80; b <= 0xaf; ++b) material.push_back(static_cast<char>(b));
    auto block = small->public_key().raw_public(material);
    if (!block) std::abort();
    return Keys{*own, *small, sender->public_key(), material, *block};
  }();
  return k;
}

constexpr std::string_view own_identity = "XrAUYiUcz6zW9rJq990bwanm7lME-PoK4FQcUX2VfpY";

void check_opened(const fm::OpenedRts& opened) {
  // What open_rts promises the engine: the fields it names are there and usable.
  FUZZ_CHECK(!opened.fields.mailsite.empty());
  FUZZ_CHECK(fm::is_freemail_usk(opened.fields.mailsite));
  FUZZ_CHECK(fm::is_freemail_ssk(opened.fields.channel));
  FUZZ_CHECK(!opened.fields.to.empty());
  FUZZ_CHECK(opened.signed_region.ends_with('\n'));
  (void)opened.sender_identity();
  (void)fm::verify_rts_signature(opened, keys().sender);
  (void)fm::check_rts_recipient(opened, own_identity, 1'700'000'000'000);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)keys();  // read the keys before the first input, not inside its timing
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input input(data, size);
  const std::uint8_t mode = input.byte() % 3;
  const std::string_view rest = input.rest();
  const Keys& k = keys();

  if (mode == 0) {
    if (auto opened = fm::open_rts(rest, k.own)) check_opened(*opened);
    return 0;
  }
  if (mode == 1) {
    if (rest.size() > 64 * 1024) return 0;  // the size limit itself is mode 0's business
    const std::string_view iv = std::string_view(k.key_material).substr(0, 16);
    const std::string_view aes_key = std::string_view(k.key_material).substr(16, 32);
    const std::string blob = k.key_block + crypto::aes_cbc_encrypt(aes_key, iv, rest);
    auto opened = fm::open_rts(blob, k.small);
    FUZZ_CHECK(opened || opened.error().error != fm::RtsError::bad_key_block);
    if (opened) {
      check_opened(*opened);
      // The plaintext we sealed is what open_rts saw: signed region + trailer.
      FUZZ_CHECK(opened->signed_region + opened->trailer == rest);
    }
    return 0;
  }
  // mode 2
  std::int64_t epoch_ms = 0;
  if (!rest.empty()) std::memcpy(&epoch_ms, rest.data(), std::min(rest.size(), sizeof epoch_ms));
  const std::string_view text = rest.size() > sizeof epoch_ms ? rest.substr(sizeof epoch_ms) : "";
  (void)fm::rts_date(epoch_ms);
  (void)fm::rts_ksk(text, epoch_ms, static_cast<unsigned>(epoch_ms));
  (void)fm::is_freemail_usk(text);
  (void)fm::is_freemail_ssk(text);
  return 0;
}
