#include "freenet_uri.h"

#include <doctest/doctest.h>

#include <regex>

using namespace fcp::sim;

TEST_CASE("freenet base64 round-trips and uses ~ and -") {
  const Bytes bytes = {0xfb, 0xff, 0xbf, 0x00, 0x01};
  const std::string text = base64_encode(bytes);
  CHECK(text.find('~') != std::string::npos);
  CHECK(text.find('=') == std::string::npos);
  CHECK(base64_decode(text) == bytes);
  CHECK(base64_decode(text + "=") == bytes);
  CHECK(base64_encode(Bytes{0x01, 0x00, 0x02, 0x00, 0x01}) == "AQACAAE");
  CHECK(base64_encode(Bytes{0x01, 0x01, 0x02, 0x00, 0x01}) == "AQECAAE");
  CHECK_FALSE(base64_decode("A").has_value());
  CHECK_FALSE(base64_decode("ab+c").has_value());
}

TEST_CASE("URIs from the recordings parse and print back unchanged") {
  for (const char* text : {
           "SSK@HVQm2vbET~Oerw-CmFMbd4~sNI6ddk5yammhZ8WWGgY,aS9u~acdSmnll3qth~YTRdetANMNL~AwWe77UPro080,AQACAAE/rec-doc",
           "CHK@qSXV0fhgu6yjRK2Mojdl-zyeP9bihaGniGp5-i0LuSY,xTegHW0NvTYfylNUqxMzP-Y4hA79ru0NjsoVCVQl5tE,AAMA--8",
           "USK@j1m5G5v5ihA4sD7KfPIb0XGUCEyu82sF1nNEt4elaAw,lqlBHi51zkDH7bGudVC9HjAWaOuyqbTvHld3HuJmG-s,AQACAAE/rec-usk/-1",
           "KSK@fredrec-132645-ksk",
           "SSK@ALBaFQ~3CfCr~sn8odqun-skrPu6ZVwR94QqnmhPBMCi,Vnpg~n~GgYens2XEtF1fmoeaFf3~viV~KjFXIKLnI3Q,AQECAAE/",
       }) {
    auto uri = parse_uri(text);
    REQUIRE_MESSAGE(uri.has_value(), text);
    CHECK(uri->to_string() == text);
  }
}

TEST_CASE("URI parse errors carry fred's messages") {
  CHECK(parse_uri("notakey").error() == "There is no @ in that URI! (notakey)");
  CHECK(parse_uri("FOO@bar/x").error() == "Invalid key type: FOO");
  CHECK(parse_uri("KSK@").has_value());
  auto usk = parse_uri("USK@j1m5G5v5ihA4sD7KfPIb0XGUCEyu82sF1nNEt4elaAw,lqlBHi51zkDH7bGudVC9HjAWaOuyqbTvHld3HuJmG-s,AQACAAE/site");
  REQUIRE_FALSE(usk.has_value());
  CHECK(usk.error() == "No suggested edition number for USK");
  CHECK(parse_uri("CHK@abc,def").error() == "Bad URI: Routing key should be 32 bytes long");
  CHECK(parse_uri("SSK@/doc").error() == "Bad URI: Routing key missing");
}

TEST_CASE("USK editions, meta-strings and scheme prefixes") {
  auto uri = parse_uri("freenet:USK@j1m5G5v5ihA4sD7KfPIb0XGUCEyu82sF1nNEt4elaAw,lqlBHi51zkDH7bGudVC9HjAWaOuyqbTvHld3HuJmG-s,AQACAAE/mailsite/-1/mailpage");
  REQUIRE(uri.has_value());
  CHECK(uri->type == "USK");
  CHECK(uri->docname == "mailsite");
  CHECK(uri->edition == -1);
  REQUIRE(uri->meta.size() == 1);
  CHECK(uri->meta[0] == "mailpage");
  CHECK(slot_of(*uri) == slot_of(*parse_uri("SSK@j1m5G5v5ihA4sD7KfPIb0XGUCEyu82sF1nNEt4elaAw,lqlBHi51zkDH7bGudVC9HjAWaOuyqbTvHld3HuJmG-s,AQACAAE/mailsite-1")));
  auto edition = usk_edition_of_slot(slot_of(*uri));
  REQUIRE(edition.has_value());
  CHECK(edition->edition == 1);
  CHECK(edition->base == usk_base(*uri));
}

TEST_CASE("generated SSK keypairs have fred's shape and a deterministic request key") {
  std::mt19937_64 rng(7);
  const std::regex insert_shape("SSK@[A-Za-z0-9~-]{42,44},([A-Za-z0-9~-]{43}),AQECAAE/");
  const std::regex request_shape("SSK@[A-Za-z0-9~-]{43},([A-Za-z0-9~-]{43}),AQACAAE/");
  for (int i = 0; i < 50; ++i) {
    const auto pair = generate_ssk(rng);
    std::smatch a, b;
    REQUIRE(std::regex_match(pair.insert_uri, a, insert_shape));
    REQUIRE(std::regex_match(pair.request_uri, b, request_shape));
    CHECK(a[1] == b[1]);  // same crypto key
    auto insert = parse_uri(pair.insert_uri + "doc");
    REQUIRE(insert.has_value());
    CHECK(insert->is_insert_key());
    CHECK(to_request_form(*insert).to_string() == pair.request_uri + "doc");
  }
  // A Java BigInteger with a leading zero byte names the same key as without it.
  CHECK(derive_public_key_hash(Bytes{0x00, 0x80, 0x01}) == derive_public_key_hash(Bytes{0x80, 0x01}));
}

TEST_CASE("CHKs are convergent and carry fred's extra") {
  const auto a = chk_for("same bytes", "", false);
  const auto b = chk_for("same bytes", "", false);
  CHECK(a.to_string() == b.to_string());
  CHECK(a.to_string().ends_with(",AAMA--8"));
  CHECK(chk_for("same bytes", "text/plain", true).to_string().ends_with(",AAMC--8"));
  CHECK(chk_for("other bytes", "", false).to_string() != a.to_string());
}
