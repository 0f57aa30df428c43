#include "crypto/base64.h"

#include <doctest/doctest.h>

using fcpmail::crypto::Base64Padding;
using fcpmail::crypto::base64_decode;
using fcpmail::crypto::base64_encode;

TEST_CASE("base64: the RFC 4648 §10 vectors both ways") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    CHECK(base64_encode(plain) == encoded);
    CHECK(base64_decode(encoded) == std::optional<std::string>(plain));
  }
}

TEST_CASE("base64: every byte value and every length round-trip") {
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    bytes.push_back(static_cast<char>(i * 37 & 0xff));
    const auto text = base64_encode(bytes);
    CHECK(text.size() % 4 == 0);
    REQUIRE(base64_decode(text) == bytes);
  }
}

TEST_CASE("base64: padding required or optional") {
  CHECK_FALSE(base64_decode("Zg"));
  CHECK_FALSE(base64_decode("Zm8"));
  CHECK(base64_decode("Zg", Base64Padding::optional) == std::optional<std::string>("f"));
  CHECK(base64_decode("Zm8", Base64Padding::optional) == std::optional<std::string>("fo"));
  CHECK(base64_decode("Zm8=", Base64Padding::optional) == std::optional<std::string>("fo"));
  CHECK(base64_decode("AHVzZXIAcGFzcw==", Base64Padding::optional) == std::optional<std::string>(std::string("\0user\0pass", 10)));
}

TEST_CASE("base64: malformed input refused") {
  for (const char* bad : {"Z", "Z===", "Zg=", "Zm9v=", "Zg==Zg==", "Z=g=", "Zm 9v", "Zm9\n", "Zm9-", "Zm9_", "====",
                          "Zh==", "Zm9=", "Zg===", "é", "Zm9v!", "=Zg=", "Zg====", "Zm=v", "\xff\xfe", "Zm9vY"}) {
    INFO(bad);
    CHECK_FALSE(base64_decode(bad));
    CHECK_FALSE(base64_decode(bad, Base64Padding::optional));
  }
}
