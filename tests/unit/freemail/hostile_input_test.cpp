// Random and mutated bytes into every reader of the layer: each either succeeds or returns a
// non-empty reason; nothing crashes, hangs or throws. (Run under FCPMAIL_SANITIZE for the full check.)
#include "freemail/address.h"
#include "freemail/base32.h"
#include "freemail/channel_message.h"
#include "freemail/header_filter.h"
#include "freemail/mailpage.h"
#include "freemail/props.h"
#include "freemail/radix32.h"
#include "freemail/slot_chain.h"

#include <doctest/doctest.h>

#include <random>

using namespace fcpmail::freemail;

namespace {
template <typename Result>
void check_outcome(const Result& r) {
  if (!r) CHECK_FALSE(r.error().empty());
}

// Random bytes biased towards the characters the formats care about.
std::string hostile_bytes(std::mt19937& rng) {
  static constexpr std::string_view interesting = "=\r\n:@<>()\".,-+ \t0123456789abcAZ27messagetypeid";
  std::string out(rng() % 300, '\0');
  for (auto& c : out) {
    c = (rng() % 3 == 0) ? static_cast<char>(rng()) : interesting[rng() % interesting.size()];
  }
  return out;
}

std::string mutate(std::string text, std::mt19937& rng) {
  if (text.empty()) return text;
  for (int n = 1 + rng() % 4; n > 0; --n) {
    const std::size_t at = rng() % text.size();
    switch (rng() % 3) {
      case 0: text[at] = static_cast<char>(rng()); break;
      case 1: text.erase(at, 1 + rng() % 3); break;
      default: text.insert(at, 1, "\r\n=:@"[rng() % 5]); break;
    }
    if (text.empty()) break;
  }
  return text;
}
}  // namespace

TEST_CASE("hostile input: every reader answers a value or a reason") {
  std::mt19937 rng(2024);
  const std::string seeds[] = {
      "messagetype=message\r\nid=12\r\n\r\nFrom: a@b\r\nSubject: x\r\n\r\nbody",
      "messagetype=ack\r\nid=1,2\r\n\r\n",
      "rtsksk=abc\r\nasymkey.modulus=" + std::string(205, 'v') + "\r\nasymkey.pubexponent=h\r\n",
      "Bob <bob@xvgbignamvo3gdsz3bjk7edfv4mrs7b63nighfetum2bzvqkg5qa.freemail>",
      "Date: Tue, 10 Jul 2012 16:37:19 +0200\r\nMessage-ID: <a@b.freemail>\r\nReferences:\r\n <x>\r\n\r\nbody"};
  HeaderFilterPolicy policy;
  policy.sender = identity_from_bytes(std::string(32, 'x')).value();
  for (int n = 0; n < 3000; ++n) {
    const std::string input = (n % 2 == 0) ? hostile_bytes(rng) : mutate(seeds[rng() % std::size(seeds)], rng);
    check_outcome(base32_decode(input));
    check_outcome(radix32_decode(input));
    check_outcome(read_props(input));
    check_outcome(read_props_header(input));
    check_outcome(read_channel_payload(input));
    check_outcome(read_mailpage(input));
    check_outcome(parse_address(input));
    check_outcome(next_slot(input));
    check_outcome(identity_from_label(input));
    check_outcome(identity_from_base64_id(input));
    check_outcome(mailsite_request_uri(input, 1));
    check_outcome(filter_mail_headers(input, policy));
    (void)parse_mail_date(input);
  }
}
