// Hyphanet key URIs (fcp::parse_key_uri) and URL component coding: key URIs arrive in mailpages,
// RTSs and FCP replies. Beyond "no crash": a parsed URI formats to text that parses back to the
// same value, and url_decode(url_encode(x)) == x.
#include "fcp/key_uri.h"
#include "fuzz_support.h"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto uri = fcp::parse_key_uri(text)) {
    const std::string formatted = uri->to_string();
    auto again = fcp::parse_key_uri(formatted);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(*again == *uri);
    (void)uri->is_insert();
    if (uri->type == fcp::KeyType::usk && uri->edition) {
      (void)uri->usk_to_ssk().to_string();
      const std::int64_t e = *uri->edition;
      (void)uri->with_edition(e == INT64_MIN ? 0 : -e).to_string();
    }
  }

  const std::string encoded = fcp::url_encode_component(text);
  auto decoded = fcp::url_decode_component(encoded);
  FUZZ_CHECK(decoded.has_value());
  FUZZ_CHECK(*decoded == text);
  (void)fcp::url_decode_component(text);
  return 0;
}
