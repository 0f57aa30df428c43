// Freemail props text and the mailpage: a mailpage is fetched from anyone's SSK, so every byte is
// the stranger's. Also the RSA public key read from those props (a 1-bit or even modulus, a huge
// exponent). Properties: whatever read_props accepts, write_props writes and read_props reads back
// identically; a mailpage that reads writes (when it has an rtsksk) and reads back identically.
#include "freemail/mailpage.h"
#include "freemail/props.h"
#include "freemail/rsa_key_file.h"
#include "fuzz_support.h"

namespace fm = fcpmail::freemail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input input(data, size);
  const std::uint8_t mode = input.byte();
  const std::string_view text = input.rest();
  // Small line limits reach the "line too long" paths with small inputs.
  const std::size_t max_line = (mode & 1) ? 64 : fm::default_props_max_line;

  if (auto props = fm::read_props(text, max_line)) {
    if (auto written = fm::write_props(*props)) {
      auto again = fm::read_props(*written, fm::default_props_max_line + 2);
      FUZZ_CHECK(again.has_value());
      FUZZ_CHECK(*again == *props);
    }
    // Public keys from strangers' props: modulus and exponent sizes are the parser's problem.
    (void)fm::rsa_public_key_from_props(*props);
  }

  if (auto header = fm::read_props_header(text, max_line)) {
    FUZZ_CHECK(header->body_offset <= text.size());
  }

  if (auto page = fm::read_mailpage(text)) {
    FUZZ_CHECK(!page->modulus.empty() && page->modulus.front() != '\0');
    if (page->rtsksk) {
      FUZZ_CHECK(fm::check_rtsksk(*page->rtsksk).has_value());
      auto written = fm::write_mailpage(*page);
      FUZZ_CHECK(written.has_value());
      auto again = fm::read_mailpage(*written);
      FUZZ_CHECK(again.has_value());
      FUZZ_CHECK(*again == *page);
    }
  }
  (void)fm::check_rtsksk(text);
  // Mailsite URIs are built from identity URIs that come from WoT (another stranger).
  (void)fm::mailsite_insert_uri(text, mode);
  (void)fm::mailsite_request_uri(text, mode);
  (void)fm::mailsite_privkey_value(text);
  return 0;
}
