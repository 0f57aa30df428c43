#include "freemail/rsa_key_file.h"

#include "crypto/random.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

using namespace fcpmail;
using namespace fcpmail::freemail;

namespace {
std::string fixture(const std::string& relative) {
  std::ifstream in(std::string(FCPMAIL_FIXTURES) + "/" + relative, std::ios::binary);
  REQUIRE_MESSAGE(in, "missing fixture " << relative);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("the committed test keys are RSA-4096, e = 17, and write back byte for byte") {
  for (std::string name : {"alice", "bob", "carol", "mallory"}) {
    const std::string text = fixture("keys/" + name + ".key");
    auto key = read_rsa_key_file(text);
    REQUIRE_MESSAGE(key, name << ": " << key.error());
    CHECK(key->public_key().modulus_bits() == 4096);
    CHECK(key->public_key().public_exponent() == std::string("\x11"));
    CHECK(write_rsa_key_file(*key) == text);
    // Its mailpage carries the same public key.
    auto page = read_props(fixture("keys/" + name + ".mailpage"));
    REQUIRE(page);
    auto pub = rsa_public_key_from_props(*page);
    REQUIRE(pub);
    CHECK(*pub == key->public_key());
    const std::string m = crypto::random_bytes(64);
    CHECK(*pub->raw_public(*key->raw_private(m)) == std::string(512 - 64, '\0') + m);
  }
}

TEST_CASE("a Freemail accprops file (LF, extra keys, any order) works as a key file") {
  const std::string key_text = fixture("rts/testid1.key");
  auto props = read_props(key_text);
  REQUIRE(props);
  std::string accprops = "nickname=testid1\n";
  for (auto& f : props->fields) accprops = f.key + "=" + f.value + "\n" + accprops;
  accprops += "rtskey=wuchpeusibcrbprnugngqgjtfymmscsd\nmailsite.privkey=USK@x,y,z/mailsite/\n";
  auto key = read_rsa_key_file(accprops);
  REQUIRE_MESSAGE(key, key.error());
  CHECK(write_rsa_key_file(*key) == key_text);
  CHECK(key->public_key().public_exponent() == std::string("\x11"));
}

TEST_CASE("key file errors name the key") {
  const std::string good = fixture("keys/alice.key");
  auto without = [&](std::string_view key) {
    std::string out;
    std::istringstream in(good);
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with(std::string(key) + "=")) out += line + "\n";
    }
    return out;
  };
  CHECK(read_rsa_key_file(without("asymkey.modulus")).error() == "missing asymkey.modulus");
  CHECK(read_rsa_key_file(without("asymkey.pubexponent")).error() == "missing asymkey.pubexponent");
  CHECK(read_rsa_key_file(without("asymkey.privexponent")).error() == "missing asymkey.privexponent");
  auto bad_digit = read_rsa_key_file(without("asymkey.pubexponent") + "asymkey.pubexponent=w\n");
  REQUIRE_FALSE(bad_digit);
  CHECK(bad_digit.error().starts_with("asymkey.pubexponent: "));
  // Another key's private exponent.
  std::string mixed = without("asymkey.privexponent");
  auto bob = read_props(fixture("keys/bob.key"));
  REQUIRE(bob);
  mixed += "asymkey.privexponent=" + std::string(*bob->get("asymkey.privexponent")) + "\n";
  auto r = read_rsa_key_file(mixed);
  REQUIRE_FALSE(r);
  CHECK(r.error().find("does not match") != std::string::npos);
  CHECK_FALSE(read_rsa_key_file(""));
  auto pub = rsa_public_key_from_props(Props{});
  REQUIRE_FALSE(pub);
  CHECK(pub.error() == "missing asymkey.modulus");
}
