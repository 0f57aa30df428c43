#include "freemail/mailpage.h"

#include "freemail/radix32.h"

#include <doctest/doctest.h>

using namespace fcpmail::freemail;

namespace {
// Key strings of Freemail's test identity 1 (src/test/java/data/TestId1Data.java).
constexpr std::string_view request_key =
    "USK@vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A,mMhITeChRejfV~jEqKNLzcKsTl6LpmPcT8e4GSxfEDI,AQACAAE";
constexpr std::string_view insert_key =
    "USK@C1N6qfKSm0t5W1C9UoYI1REoPoA2vFmEvs3KcJYykkE,mMhITeChRejfV~jEqKNLzcKsTl6LpmPcT8e4GSxfEDI,AQECAAE";
constexpr std::string_view rts_base = "wuchpeusibcrbprnugngqgjtfymmscsd";

// An odd 2048-bit number standing in for a modulus (the codec does not need a real key).
std::string test_modulus() {
  std::string n(256, '\0');
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<char>(0x80 + (i * 37) % 128);
  n.back() = static_cast<char>(n.back() | 1);
  return n;
}
}  // namespace

TEST_CASE("mailpage: exact bytes, Freemail's order and CRLF") {
  const Mailpage page{std::string(rts_base), test_modulus(), "\x11"};
  const auto text = write_mailpage(page).value();
  CHECK(text == "rtsksk=" + std::string(rts_base) + "\r\nasymkey.modulus=" + radix32_encode(test_modulus()) +
                    "\r\nasymkey.pubexponent=h\r\n");
  CHECK(read_mailpage(text).value() == page);
}

TEST_CASE("mailpage: reader takes any order, LF endings and unknown keys (Freemail test data uses LF)") {
  const std::string modulus = radix32_encode(test_modulus());
  const auto page = read_mailpage("x-extra=1\nasymkey.pubexponent=h\nasymkey.modulus=" + modulus +
                                  "\nrtsksk=" + std::string(rts_base) + "\n")
                        .value();
  CHECK(page.rtsksk == rts_base);
  CHECK(page.modulus == test_modulus());
  CHECK(page.public_exponent == "\x11");
  // Without rtsksk the key is still usable (an RTS receiver only needs the key).
  const auto keyonly = read_mailpage("asymkey.modulus=" + modulus + "\r\nasymkey.pubexponent=h\r\n").value();
  CHECK_FALSE(keyonly.rtsksk);
  CHECK(write_mailpage(keyonly).error() == "a published mailpage needs an rtsksk");
}

TEST_CASE("mailpage: malformed pages, one reason each") {
  const std::string modulus = radix32_encode(test_modulus());
  CHECK(read_mailpage("rtsksk=a\r\nasymkey.pubexponent=h\r\n").error() == "mailpage: asymkey.modulus is missing");
  CHECK(read_mailpage("asymkey.modulus=" + modulus + "\r\n").error() == "mailpage: asymkey.pubexponent is missing");
  CHECK(read_mailpage("asymkey.modulus=-" + modulus + "\r\nasymkey.pubexponent=h\r\n").error() ==
        "mailpage: asymkey.modulus: negative radix-32 number (leading '-') is not allowed");
  CHECK(read_mailpage("asymkey.modulus=" + modulus + "\r\nasymkey.pubexponent=z\r\n").error() ==
        "mailpage: asymkey.pubexponent: invalid radix-32 digit at position 0 (allowed: 0-9, a-v)");
  CHECK(read_mailpage("asymkey.modulus=vvvv\r\nasymkey.pubexponent=h\r\n").error() ==
        "mailpage: asymkey.modulus has 20 bits (accepted: 1024 to 16384)");
  CHECK(read_mailpage("asymkey.modulus=" + modulus.substr(0, modulus.size() - 1) +
                      "0\r\nasymkey.pubexponent=h\r\n")
            .error() == "mailpage: asymkey.modulus is even");
  CHECK(read_mailpage("asymkey.modulus=" + modulus + "\r\nasymkey.pubexponent=g\r\n").error() ==
        "mailpage: asymkey.pubexponent must be odd, above 1 and below 2^32 (Freemail uses 17), not a 5-bit number");
  CHECK(read_mailpage("asymkey.modulus=" + modulus + "\r\nasymkey.pubexponent=1\r\n").error() ==
        "mailpage: asymkey.pubexponent must be odd, above 1 and below 2^32 (Freemail uses 17), not a 1-bit number");
  CHECK(read_mailpage("rtsksk=a/b\r\nasymkey.modulus=" + modulus + "\r\nasymkey.pubexponent=h\r\n").error() ==
        "mailpage: rtsksk contains a character that cannot be part of a KSK name");
  CHECK(read_mailpage("rtsksk=\r\nasymkey.modulus=" + modulus + "\r\nasymkey.pubexponent=h\r\n").error() ==
        "mailpage: rtsksk is empty");
  CHECK(read_mailpage("asymkey.modulus=1\r\nasymkey.modulus=3\r\n").error() ==
        "mailpage: props key 'asymkey.modulus' appears twice (line 2)");
}

TEST_CASE("mailpage: a stranger's public exponent is bounded: odd, above 1, below 2^32") {
  // Every bit of e is a modular multiplication in each signature check with the key; an exponent
  // as large as the modulus would make a stranger's RTS as costly to check as a private operation.
  const std::string modulus = radix32_encode(test_modulus());
  auto with_exponent = [&](std::string_view e) {
    return read_mailpage("asymkey.modulus=" + modulus + "\r\nasymkey.pubexponent=" + radix32_encode(e) + "\r\n");
  };
  CHECK(with_exponent(std::string("\x01\x00\x01", 3)).value().public_exponent == std::string("\x01\x00\x01", 3));
  CHECK(with_exponent("\xff\xff\xff\xff").value().public_exponent == "\xff\xff\xff\xff");  // 2^32 - 1: the largest
  CHECK(with_exponent(std::string("\x01\x00\x00\x00\x01", 5)).error() ==
        "mailpage: asymkey.pubexponent must be odd, above 1 and below 2^32 (Freemail uses 17), not a 33-bit number");
  std::string huge = test_modulus();  // odd and of the modulus's own size, but below it
  huge[0] = static_cast<char>(0x7f);
  CHECK(with_exponent(huge).error() ==
        "mailpage: asymkey.pubexponent must be odd, above 1 and below 2^32 (Freemail uses 17), not a 2047-bit number");
}

TEST_CASE("mailpage: insert and request URIs for edition N") {
  // Freemail: accprops mailsite.privkey = <insert key>/mailsite/, inserted as SSK@…/mailsite-N/mailpage.
  CHECK(mailsite_privkey_value(std::string(insert_key) + "/WebOfTrust/0").value() ==
        std::string(insert_key) + "/mailsite/");
  const std::string ssk_insert = "SSK@" + std::string(insert_key.substr(4));
  CHECK(mailsite_insert_uri(std::string(insert_key) + "/mailsite/", 1).value() == ssk_insert + "/mailsite-1/mailpage");
  CHECK(mailsite_insert_uri(std::string(insert_key) + "/WebOfTrust/3", 7).value() ==
        ssk_insert + "/mailsite-7/mailpage");
  CHECK(mailsite_insert_uri(ssk_insert, 12).value() == ssk_insert + "/mailsite-12/mailpage");
  // TestId1Data: REQUEST_KEY + "/mailsite/-1/mailpage".
  CHECK(mailsite_request_uri(std::string(request_key) + "/WebOfTrust/0", 1).value() ==
        std::string(request_key) + "/mailsite/-1/mailpage");
  CHECK(mailsite_request_uri("freenet:" + std::string(request_key), 4).value() ==
        std::string(request_key) + "/mailsite/-4/mailpage");
}

TEST_CASE("mailpage: malformed identity URIs") {
  CHECK(mailsite_insert_uri("CHK@abc", 1).error() == "identity URI 'CHK@abc' is not an SSK@ or USK@ URI");
  CHECK(mailsite_request_uri("USK@abc,def,AQACAAE/WebOfTrust/0", 1).error() ==
        "identity key 'abc,def,AQACAAE' does not have the shape <routing key>,<crypto key>,<7-character extra>");
  CHECK(mailsite_request_uri("USK@vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A,mMhITeChRejfV+jEqKNLzcKsTl6LpmPcT8e4GSxfEDI,AQACAAE", 1)
            .error()
            .find("outside Freenet base64") != std::string::npos);
}
