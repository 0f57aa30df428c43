#include "freemail/address.h"

#include <doctest/doctest.h>

#include <random>

using namespace fcpmail::freemail;

namespace {
// Vectors of the reference (§2.1, §8.2), confirmed by Freemail's own tests and welcome message.
constexpr std::string_view spec_id = "D3MrAR-AVMqKJRjXnpKW2guW9z1mw5GZ9BB15mYVkVc";
constexpr std::string_view spec_label = "b5zswai7ybkmvcrfddlz5euw3ifzn5z5m3bzdgpucb26mzqvsflq";
constexpr std::string_view id1 = "vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A";
constexpr std::string_view label1 = "xvgbignamvo3gdsz3bjk7edfv4mrs7b63nighfetum2bzvqkg5qa";
constexpr std::string_view id2 = "XrAUYiUcz6zW9rJq990bwanm7lME-PoK4FQcUX2VfpY";
constexpr std::string_view label2 = "l2ybiyrfdth2zvxwwjvppxi3ygu6n3stat6pucxakqofc7mvp2la";

std::string error_of(std::string_view text) {
  auto r = parse_address(text);
  REQUIRE_FALSE(r);
  return r.error();
}
}  // namespace

TEST_CASE("address: identity id <-> base32 label vectors") {
  CHECK(identity_from_base64_id(spec_id).value().label() == spec_label);
  CHECK(identity_from_base64_id(id1).value().label() == label1);
  CHECK(identity_from_base64_id(id2).value().domain() == std::string(label2) + ".freemail");
  CHECK(identity_from_label(label1).value().base64_id() == id1);
  CHECK(identity_from_label(std::string(label2) + ".FREEMAIL").value().base64_id() == id2);
}

TEST_CASE("address: the forms Freemail accepts") {
  const std::string addr = "zidel@" + std::string(spec_label) + ".freemail";
  auto plain = parse_address(addr).value();
  CHECK(plain.local_part == "zidel");
  CHECK(plain.display_name.empty());
  CHECK(plain.identity.base64_id() == spec_id);
  CHECK(plain.address() == addr);
  CHECK(plain.to_string() == addr);

  auto named = parse_address("Zidel <" + addr + ">").value();
  CHECK(named.display_name == "Zidel");
  CHECK(named.address() == addr);
  CHECK(named.to_string() == "Zidel <" + addr + ">");

  auto quoted = parse_address("  \"Zidel, the <tester>\" <" + addr + ">  ").value();
  CHECK(quoted.display_name == "Zidel, the <tester>");
  CHECK(quoted.to_string() == "\"Zidel, the <tester>\" <" + addr + ">");
  CHECK(parse_address(quoted.to_string()).value() == quoted);

  CHECK(parse_address("<" + addr + ">").value().address() == addr);
  CHECK(parse_address(addr + " (Zidel)").value().display_name == "Zidel");
}

TEST_CASE("address: domain is case-insensitive, local part lower-cased") {
  std::string upper = "Bob@" + std::string(label1) + ".Freemail";
  for (std::size_t i = 4; i < 4 + 52; ++i) upper[i] = static_cast<char>(std::toupper(upper[i]));
  const auto a = parse_address(upper).value();
  CHECK(a.local_part == "bob");
  CHECK(a.identity.base64_id() == id1);
  CHECK(a.address() == "bob@" + std::string(label1) + ".freemail");
}

TEST_CASE("address: random identities round-trip through every form") {
  std::mt19937 rng(42);
  for (int n = 0; n < 200; ++n) {
    std::string bytes(32, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    const auto identity = identity_from_bytes(bytes).value();
    CHECK(identity.label().size() == 52);
    CHECK(identity.base64_id().size() == 43);
    CHECK(identity_from_label(identity.label()).value() == identity);
    CHECK(identity_from_base64_id(identity.base64_id()).value() == identity);
    const auto address = make_address("user" + std::to_string(n), identity, "Name " + std::to_string(n)).value();
    CHECK(parse_address(address.to_string()).value() == address);
  }
}

TEST_CASE("address: every malformed form has its own reason") {
  const std::string label(label1);
  CHECK(error_of("") == "the address is empty");
  CHECK(error_of("   ") == "the address is empty");
  CHECK(error_of("a\tb@" + label + ".freemail") == "the address contains a control character at position 1");
  CHECK(error_of("zidel") == "missing '@' in 'zidel'");
  CHECK(error_of("a@b@" + label + ".freemail") == "more than one '@' in the address");
  CHECK(error_of("@" + label + ".freemail") == "the local part (before '@') is empty");
  CHECK(error_of("zidel@") == "the domain (after '@') is empty");
  CHECK(error_of("zidel@example.com") == "the domain 'example.com' is not a .freemail domain");
  CHECK(error_of("zidel@.freemail") == "the domain has no identity label before .freemail");
  CHECK(error_of("zidel@x." + label + ".freemail").starts_with("the domain has more than one label"));
  CHECK(error_of("zidel@abc.freemail") ==
        "the domain label has 3 characters; a Freemail 0.2 label has 52 (base32 of the 32-byte identity)");
  CHECK(error_of("zidel@" + label.substr(0, 51) + "1.freemail") ==
        "the domain label is not base32: invalid base32 character '1' at position 51");
  CHECK(error_of("zidel@" + label.substr(0, 51) + "b.freemail").find("non-zero unused bits") !=
        std::string::npos);
  CHECK(error_of("zidel@" + std::string(id1) + ".freemail")
            .starts_with("the domain label '" + std::string(id1) + "' is a Freenet base64 identity id"));
  CHECK(error_of("zidel@" + std::string(id1)).find(label) != std::string::npos);
  CHECK(error_of("Zidel <zidel@" + label + ".freemail") == "'<' without a closing '>'");
  CHECK(error_of("zidel@" + label + ".freemail>") == "'>' without an opening '<'");
  CHECK(error_of("Zidel <zidel@" + label + ".freemail> x") == "unexpected text after '>': 'x'");
  CHECK(error_of("Zidel <>") == "no address between '<' and '>'");
  CHECK(error_of("\"Zidel <zidel@" + label + ".freemail>") == "the display name has an unterminated '\"'");
  CHECK(error_of("zidel@" + label + ".freemail (Zidel") == "'(' without a closing ')' at the end");
  CHECK(error_of("zi del@" + label + ".freemail") ==
        "the local part contains ' ', which an address cannot hold unquoted");
}

TEST_CASE("address: Freemail 0.1 mailsite-key addresses are recognised and refused") {
  // 0.1 label = base32 of the ASCII text "<routing>,<crypto>,<extra>" of the mailsite SSK.
  const std::string text = std::string(id1) + "," + std::string(id2) + ",AQACAAE";
  std::string label;
  {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char c : text) {
      buffer = (buffer << 8) | c;
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        label.push_back(alphabet[(buffer >> bits) & 31]);
      }
      buffer &= (1u << bits) - 1;
    }
    if (bits) label.push_back(alphabet[(buffer << (5 - bits)) & 31]);
  }
  CHECK(error_of("x@" + label + ".freemail").find("Freemail 0.1") != std::string::npos);
}

TEST_CASE("address: identity constructors reject wrong sizes and encodings") {
  CHECK(identity_from_bytes("abc").error() == "an identity routing key has 32 bytes, not 3");
  CHECK(identity_from_base64_id("").error() == "empty identity id");
  CHECK(identity_from_base64_id("AAAA").error() == "identity id decodes to 3 bytes, not 32");
  CHECK(identity_from_base64_id("vUwU*aBl").error().starts_with("identity id is not Freenet base64: "));
}

TEST_CASE("address: local part proposed from a nickname (Freemail's cleanLocalPart, lower-cased)") {
  CHECK(local_part_from_nickname("Zidel") == "zidel");
  CHECK(local_part_from_nickname("Bob Smith (test).") == "bobsmithtest");
  CHECK(local_part_from_nickname("a+b_c{d}") == "a+b_c{d}");
  CHECK(local_part_from_nickname("äöü  ") == "mail");
}
