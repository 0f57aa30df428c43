// The mail header filter (freemail::filter_mail_headers) and the RFC 5322 date parser behind it:
// mail from a local client (possibly compromised) on its way to a channel. Properties: the body
// passes byte for byte; filtering is a fixed point (filtering the result changes nothing); the
// date formatter's output parses back to the same second.
#include "freemail/header_filter.h"
#include "fuzz_support.h"

#include <cstring>

namespace fm = fcpmail::freemail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input input(data, size);
  const std::uint8_t mode = input.byte();
  const std::string_view mail = input.rest();

  std::int64_t now_ms = 0;
  if (mail.size() >= sizeof now_ms) std::memcpy(&now_ms, mail.data(), sizeof now_ms);
  // Keep the clock in years 1..9999 (what format_mail_date is for).
  constexpr std::int64_t year_9999_ms = 253'402'300'799'000;
  constexpr std::int64_t year_1_ms = -62'135'596'800'000;
  now_ms = year_1_ms + static_cast<std::int64_t>(static_cast<std::uint64_t>(now_ms) %
                                                 static_cast<std::uint64_t>(year_9999_ms - year_1_ms));

  fm::HeaderFilterPolicy policy;
  policy.sender.bytes = std::string(fm::identity_size, '\x42');
  policy.now_ms = now_ms;
  policy.message_id_random[0] = 0x8000000000000000ULL;
  policy.message_id_random[1] = 12345;
  policy.add_missing = mode & 1;

  if (auto filtered = fm::filter_mail_headers(mail, policy)) {
    auto twice = fm::filter_mail_headers(filtered->mail, policy);
    FUZZ_CHECK(twice.has_value());
    FUZZ_CHECK(twice->mail == filtered->mail);
  }

  if (auto when = fm::parse_mail_date(mail)) {
    // Only dates the formatter can write (years 1..9999) are required to round-trip.
    if (*when >= year_1_ms && *when <= year_9999_ms) {
      const std::string text = fm::format_mail_date(*when);
      auto again = fm::parse_mail_date(text);
      FUZZ_CHECK(again.has_value());
      if (*when % 1000 == 0) FUZZ_CHECK(*again == *when);
    }
  }
  (void)fm::format_mail_date(now_ms);
  return 0;
}
