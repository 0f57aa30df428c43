// The three text codecs under every key and slot: RFC 4648 base32 (Freemail slots and address
// labels), Java radix-32 (RSA numbers in mailpages and key files) and Freenet base64 (key URIs,
// identity ids). Properties: decode(encode(b)) == b for any bytes b; whatever decodes re-encodes
// to text that decodes to the same bytes; nothing crashes on any text.
#include "fcp/freenet_base64.h"
#include "freemail/base32.h"
#include "freemail/radix32.h"
#include "fuzz_support.h"

namespace fm = fcpmail::freemail;

namespace {

// radix-32 numbers are minimal big-endian: drop leading zero bytes to compare.
std::string_view minimal(std::string_view bytes) {
  while (!bytes.empty() && bytes.front() == '\0') bytes.remove_prefix(1);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  // base32, both cases.
  for (auto letter_case : {fm::Base32Case::upper, fm::Base32Case::lower}) {
    const std::string text = fm::base32_encode(bytes, letter_case);
    FUZZ_CHECK(text.size() == fm::base32_encoded_length(bytes.size()));
    auto back = fm::base32_decode(text);
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(*back == bytes);
  }
  if (auto decoded = fm::base32_decode(bytes)) {
    auto again = fm::base32_decode(fm::base32_encode(*decoded));
    FUZZ_CHECK(again.has_value() && *again == *decoded);
  }

  // Java radix 32 (big numbers: keep the encode side to RSA sizes and a bit more).
  if (bytes.size() <= 1024) {
    const std::string text = fm::radix32_encode(bytes);
    auto back = fm::radix32_decode(text);
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(*back == minimal(bytes));
  }
  if (bytes.size() <= 2048) {
    if (auto decoded = fm::radix32_decode(bytes)) {
      FUZZ_CHECK(minimal(*decoded) == *decoded);
      auto again = fm::radix32_decode(fm::radix32_encode(*decoded));
      FUZZ_CHECK(again.has_value() && *again == *decoded);
    }
  }

  // Freenet base64.
  {
    const std::string text = fcp::freenet_base64_encode(bytes);
    auto back = fcp::freenet_base64_decode(text);
    FUZZ_CHECK(back.has_value());
    FUZZ_CHECK(*back == bytes);
  }
  if (auto decoded = fcp::freenet_base64_decode(bytes)) {
    auto again = fcp::freenet_base64_decode(fcp::freenet_base64_encode(*decoded));
    FUZZ_CHECK(again.has_value() && *again == *decoded);
  }
  return 0;
}
