#include "fcp/key_uri.h"

#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "recordings.h"

namespace {
const std::string request_ssk =
    "SSK@HVQm2vbET~Oerw-CmFMbd4~sNI6ddk5yammhZ8WWGgY,aS9u~acdSmnll3qth~YTRdetANMNL~AwWe77UPro080,AQACAAE/";
const std::string insert_ssk =
    "SSK@BTByR~lBNN56IuBJUt5rWD58lOX-fX7pR8Z9u4XMWLs,aS9u~acdSmnll3qth~YTRdetANMNL~AwWe77UPro080,AQECAAE/";
const std::string usk_base =
    "USK@j1m5G5v5ihA4sD7KfPIb0XGUCEyu82sF1nNEt4elaAw,lqlBHi51zkDH7bGudVC9HjAWaOuyqbTvHld3HuJmG-s,AQACAAE/";
}  // namespace

TEST_CASE("every key URI fred wrote in the recordings parses and formats back unchanged") {
  const std::regex uri_pattern(R"((CHK|SSK|USK|KSK)@[A-Za-z0-9~,\-./]*)");
  std::set<std::string> uris;
  for (const auto& file : fcp::test::recording_files()) {
    const auto bytes = fcp::test::read_bytes(file);
    for (std::sregex_iterator it(bytes.begin(), bytes.end(), uri_pattern), end; it != end; ++it) uris.insert(it->str());
  }
  REQUIRE(uris.size() > 30);
  for (const auto& text : uris) {
    if (text == "KSK@") continue;
    CAPTURE(text);
    auto uri = fcp::parse_key_uri(text);
    REQUIRE(uri);
    CHECK(uri->to_string() == text);
  }
}

TEST_CASE("SSK request and insert forms") {
  auto request = fcp::parse_key_uri(request_ssk + "rec-doc").value();
  CHECK(request.type == fcp::KeyType::ssk);
  CHECK(request.routing_key.size() == 32);
  CHECK(request.crypto_key.size() == 32);
  CHECK_FALSE(request.is_insert());
  CHECK(request.docname == "rec-doc");
  auto insert = fcp::parse_key_uri(insert_ssk).value();
  CHECK(insert.is_insert());
  CHECK(insert.has_docname);
  CHECK(insert.docname.empty());
  CHECK(insert.with_docname("outbox-7").to_string() == insert_ssk + "outbox-7");
  CHECK(insert.crypto_key == request.crypto_key);
  CHECK(insert.to_usk("site", 3).to_string() ==
        "USK@BTByR~lBNN56IuBJUt5rWD58lOX-fX7pR8Z9u4XMWLs,aS9u~acdSmnll3qth~YTRdetANMNL~AwWe77UPro080,AQECAAE/site/3");
  // 33-byte private key (leading zero), as fred sometimes writes it.
  auto long_key = fcp::parse_key_uri(
      "SSK@AI8RA68T3oANVQpQ1d5m1BVFEJn4uv3BP6I6ATTC0If0,Ryziq3lhFB55Z-qZd-~aex6AH8fld1cZOm6lKxNQRbs,AQECAAE/");
  REQUIRE(long_key);
  CHECK(long_key->routing_key.size() == 33);
  // A bare SSK@ asks the node for a random key.
  auto bare = fcp::parse_key_uri("SSK@").value();
  CHECK_FALSE(bare.has_keys());
  CHECK(bare.to_string() == "SSK@");
}

TEST_CASE("USK editions, negative ones and the SSK behind an edition") {
  auto latest = fcp::parse_key_uri(usk_base + "rec-usk/-1").value();
  CHECK(latest.type == fcp::KeyType::usk);
  CHECK(latest.docname == "rec-usk");
  CHECK(latest.edition == -1);
  CHECK(latest.with_edition(7).to_string() == usk_base + "rec-usk/7");
  CHECK(latest.usk_to_ssk().to_string() ==
        "SSK@j1m5G5v5ihA4sD7KfPIb0XGUCEyu82sF1nNEt4elaAw,lqlBHi51zkDH7bGudVC9HjAWaOuyqbTvHld3HuJmG-s,AQACAAE/rec-usk-1");
  auto with_meta = fcp::parse_key_uri(usk_base + "site/3/mailpage").value();
  CHECK(with_meta.edition == 3);
  REQUIRE(with_meta.meta_strings.size() == 1);
  CHECK(with_meta.meta_strings[0] == "mailpage");
  CHECK(with_meta.to_string() == usk_base + "site/3/mailpage");
  CHECK(fcp::parse_key_uri(usk_base + "site/9223372036854775807").value().edition == INT64_MAX);
}

TEST_CASE("KSK and CHK") {
  auto ksk = fcp::parse_key_uri("freenet:KSK@fredrec-x").value();
  CHECK(ksk.type == fcp::KeyType::ksk);
  CHECK(ksk.docname == "fredrec-x");
  CHECK(ksk.is_insert());
  CHECK(ksk.to_string() == "KSK@fredrec-x");
  CHECK(fcp::parse_key_uri("ksk@a%20b").value().to_string() == "KSK@a%20b");
  CHECK(fcp::parse_key_uri("ksk@a%20b").value().docname == "a b");
  auto chk = fcp::parse_key_uri(
                 "CHK@qSXV0fhgu6yjRK2Mojdl-zyeP9bihaGniGp5-i0LuSY,xTegHW0NvTYfylNUqxMzP-Y4hA79ru0NjsoVCVQl5tE,AAMA--8/f.txt")
                 .value();
  CHECK(chk.type == fcp::KeyType::chk);
  CHECK(chk.extra == std::string("\x00\x03\x00\xff\xff", 5));
  REQUIRE(chk.meta_strings.size() == 1);
  CHECK(chk.meta_strings[0] == "f.txt");
  CHECK(fcp::parse_key_uri("CHK@").value().is_insert());
  CHECK(fcp::parse_key_uri("hyphanet:CHK@?x=1").value().to_string() == "CHK@");
  CHECK(fcp::parse_key_uri("http://127.0.0.1:8888/KSK@abc").value().to_string() == "KSK@abc");
}

TEST_CASE("malformed URIs give clear errors") {
  auto check_error = [](std::string_view text, std::string_view words) {
    auto result = fcp::parse_key_uri(text);
    CAPTURE(text);
    REQUIRE_FALSE(result);
    CAPTURE(result.error());
    CHECK(result.error().find(words) != std::string::npos);
  };
  check_error("notakey", "no '@'");
  check_error("XYZ@abc", "unknown key type");
  check_error("KSK@", "without a keyword");
  check_error("CHK@abc,def", "<routing key>,<crypto key>,<extra>");
  check_error("CHK@AAAA,xTegHW0NvTYfylNUqxMzP-Y4hA79ru0NjsoVCVQl5tE,AAMA--8", "CHK routing key must be 32 bytes");
  check_error("SSK@HVQm2vbET~Oerw-CmFMbd4~sNI6ddk5yammhZ8WWGgY,aS9u+acdSmnll3qth~YTRdetANMNL~AwWe77UPro080,AQACAAE/x",
              "crypto key: freenet base64: invalid character '+'");
  check_error("SSK@HVQm2vbET~Oerw-CmFMbd4~sNI6ddk5yammhZ8WWGgY,aS9u~acdSmnll3qth~YTRdetANMNL~AwWe77UPro080,AQACAAE",
              "must have a document name");
  check_error("SSK@HVQm2vbET~Oerw-CmFMbd4~sNI6ddk5yammhZ8WWGgY,aS9u~acdSmnll3qth~YTRdetANMNL~AwWe77UPro080,AAMA--8/x",
              "neither a request");
  check_error(usk_base + "site", "No suggested edition number");
  check_error(usk_base + "site/", "No suggested edition number");
  check_error(usk_base + "site/abc", "not a 64-bit number");
  check_error(usk_base + "site/99999999999999999999", "not a 64-bit number");
  check_error("KSK@a%2", "truncated %-escape");
  check_error("KSK@a%zz", "bad %-escape");
}
