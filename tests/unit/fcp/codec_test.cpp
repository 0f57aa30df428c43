#include "fcp/codec.h"

#include <doctest/doctest.h>

#include <random>

#include "recordings.h"

namespace {

struct Parsed {
  std::vector<fcp::Message> messages;
  std::vector<fcp::CodecError> errors;
  std::vector<int> order;  // 0 = message, 1 = error, in stream order
  std::size_t left_over = 0;
};

Parsed parse_all(std::string_view bytes, const std::vector<std::size_t>& cuts = {}, fcp::CodecLimits limits = {}) {
  fcp::StreamParser parser(limits);
  Parsed out;
  auto drain = [&] {
    for (int guard = 0; guard < 1'000'000; ++guard) {
      auto next = parser.next();
      if (next.need_more()) return;
      if (next.message) {
        out.messages.push_back(std::move(*next.message));
        out.order.push_back(0);
      }
      if (next.error) {
        out.errors.push_back(*next.error);
        out.order.push_back(1);
      }
    }
    FAIL("parser did not ask for more input");
  };
  std::size_t at = 0;
  for (auto cut : cuts) {
    parser.feed(bytes.substr(at, cut - at));
    drain();
    at = cut;
  }
  parser.feed(bytes.substr(at));
  drain();
  out.left_over = parser.buffered();
  return out;
}

bool same(const fcp::Message& a, const fcp::Message& b) {
  return a.name == b.name && a.fields == b.fields && a.payload == b.payload;
}

std::string encode_all(const std::vector<fcp::Message>& messages) {
  std::string out;
  for (const auto& m : messages) out += fcp::encode(m).value();
  return out;
}

bool is_malformed_recording(const std::filesystem::path& p) {
  // Scenario 11 sends malformed messages on purpose (client side only).
  return p.filename().string().starts_with("11-") && p.filename().string().find(".c2n.") != std::string::npos;
}

}  // namespace

TEST_CASE("every recording parses completely and re-encodes to the same bytes") {
  const auto files = fcp::test::recording_files();
  REQUIRE(files.size() >= 40);
  std::size_t total_messages = 0;
  for (const auto& file : files) {
    CAPTURE(file.filename().string());
    const auto bytes = fcp::test::read_bytes(file);
    REQUIRE_FALSE(bytes.empty());
    const auto parsed = parse_all(bytes);
    CHECK(parsed.left_over == 0);
    CHECK_FALSE(parsed.messages.empty());
    total_messages += parsed.messages.size();
    if (is_malformed_recording(file)) continue;
    CHECK(parsed.errors.empty());
    CHECK(encode_all(parsed.messages) == bytes);
  }
  CHECK(total_messages > 150);
}

TEST_CASE("recorded messages carry the fields and payloads fred sent") {
  const auto dir = fcp::test::recordings_dir();
  {
    const auto hello = parse_all(fcp::test::read_bytes(dir / "01-hello.n2c.bin"));
    REQUIRE(hello.messages.size() == 1);
    const auto& m = hello.messages[0];
    CHECK(m.name == "NodeHello");
    CHECK(m.get_or("FCPVersion", "") == "2.0");
    CHECK(m.get_int("Build") == 1506);
    CHECK(m.get_or("Version", "") == "Fred,0.7,1.0,1506");
    CHECK(m.get_bool("Testnet") == false);
    CHECK(m.get_or("CompressionCodecs", "") == "4 - GZIP(0), BZIP2(1), LZMA(2), LZMA_NEW(3)");
  }
  {
    const auto big = parse_all(fcp::test::read_bytes(dir / "10-ssk-2500-bytes.conn2.n2c.bin"));
    const fcp::Message* all_data = nullptr;
    const fcp::Message* data_found = nullptr;
    for (const auto& m : big.messages) {
      if (m.name == "AllData") all_data = &m;
      if (m.name == "DataFound") data_found = &m;
    }
    REQUIRE(all_data);
    REQUIRE(data_found);
    REQUIRE(all_data->payload);
    CHECK(all_data->payload->size() == 2500);
    CHECK_FALSE(data_found->payload);  // DataFound has DataLength but no payload
    CHECK(data_found->get_int("DataLength") == 2500);
  }
  {
    const auto persistent = parse_all(fcp::test::read_bytes(dir / "13-persistent-get.n2c.bin"));
    std::vector<std::string> names;
    for (const auto& m : persistent.messages) names.push_back(m.name);
    const std::vector<std::string> expected{"NodeHello", "PersistentGet", "PersistentGet", "DataFound", "AllData",
                                            "CompatibilityMode", "ExpectedMIME", "ExpectedDataLength"};
    CHECK(names == expected);
    CHECK(persistent.messages[4].payload == "fred-recorded KSK payload 132645\n");
    CHECK(persistent.messages[5].get_or("Min.Number", "") == "0");
  }
}

TEST_CASE("the malformed client messages of scenario 11 fail as fred's reader fails") {
  const auto dir = fcp::test::recordings_dir();
  // Connection 6: a field line with no '=' is taken as the end marker, the stream stays out of step.
  const auto noeq = parse_all(fcp::test::read_bytes(dir / "11-protocol-errors.conn6.c2n.bin"));
  REQUIRE(noeq.errors.size() == 2);
  CHECK(noeq.errors[0].kind == fcp::CodecErrorKind::bad_field_line);
  CHECK(noeq.errors[0].detail == "Invalid end marker: ThisLineHasNoEquals");
  CHECK(noeq.errors[1].detail == "Invalid end marker: GenerateSSK");
  REQUIRE(noeq.messages.size() == 2);
  CHECK(noeq.messages[0].name == "ClientHello");
  CHECK(noeq.messages[1].name == "Identifier=probe-5");  // fred: "Unknown message name Identifier=probe-5"
  // Connection 3: a direct ClientPut with its 3-byte payload, then the probe.
  const auto put = parse_all(fcp::test::read_bytes(dir / "11-protocol-errors.conn3.c2n.bin"));
  CHECK(put.errors.empty());
  REQUIRE(put.messages.size() == 3);
  CHECK(put.messages[1].name == "ClientPut");
  CHECK(put.messages[1].payload == "abc");
  CHECK(put.messages[2].name == "GenerateSSK");
}

TEST_CASE("any split of a recorded stream gives the same messages") {
  std::mt19937 rng(2026);
  for (const auto& file : fcp::test::recording_files()) {
    CAPTURE(file.filename().string());
    const auto bytes = fcp::test::read_bytes(file);
    const auto whole = parse_all(bytes);
    for (int round = 0; round < 6; ++round) {
      std::vector<std::size_t> cuts;
      if (round == 0) {
        for (std::size_t i = 1; i < bytes.size(); ++i) cuts.push_back(i);  // byte by byte
      } else {
        for (std::size_t at = 0;;) {
          at += 1 + rng() % (round * 40);
          if (at >= bytes.size()) break;
          cuts.push_back(at);
        }
      }
      const auto split = parse_all(bytes, cuts);
      REQUIRE(split.messages.size() == whole.messages.size());
      for (std::size_t i = 0; i < whole.messages.size(); ++i) CHECK(same(split.messages[i], whole.messages[i]));
      CHECK(split.order == whole.order);
      CHECK(split.errors.size() == whole.errors.size());
    }
  }
}

TEST_CASE("encode then parse round-trips names, field order, repeated keys and payloads") {
  std::mt19937 rng(11);
  std::vector<fcp::Message> messages;
  for (int i = 0; i < 300; ++i) {
    const char* names[] = {"ClientPut", "AllData", "SomeFutureMessage", "FCPPluginMessage", "GetFailed"};
    fcp::Message m(names[rng() % 5]);
    const int n = static_cast<int>(rng() % 8);
    for (int f = 0; f < n; ++f) {
      std::string value;
      for (unsigned k = rng() % 20; k > 0; --k) value += static_cast<char>(' ' + rng() % 94);
      m.fields.emplace_back("K" + std::to_string(rng() % 5), value);  // repeated keys on purpose
    }
    if (m.name == "ClientPut" && rng() % 3 == 0) m.set("UploadFrom", "disk");
    if (m.name == "FCPPluginMessage" && rng() % 2) m.set("DataLength", "0");
    if (fcp::carries_payload(m) || rng() % 4 == 0) {
      std::string payload(rng() % 3000, '\0');
      for (auto& b : payload) b = static_cast<char>(rng());  // binary, LFs included
      m.payload = payload;
    }
    messages.push_back(m);
  }
  const auto bytes = encode_all(messages);
  const auto parsed = parse_all(bytes);
  CHECK(parsed.errors.empty());
  REQUIRE(parsed.messages.size() == messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    CAPTURE(i);
    auto expected = messages[i];
    if (fcp::carries_payload(expected) && !expected.payload) expected.payload = "";
    if (expected.payload) expected.set("DataLength", static_cast<std::int64_t>(expected.payload->size()));
    CHECK(same(parsed.messages[i], expected));
  }
}

TEST_CASE("encode writes fred's framing and refuses CR, LF and NUL") {
  fcp::Message hello("ClientHello");
  hello.set("Name", "fcpmail-1").set("ExpectedVersion", "2.0");
  CHECK(fcp::encode(hello).value() == "ClientHello\nName=fcpmail-1\nExpectedVersion=2.0\nEndMessage\n");

  fcp::Message put("ClientPut");
  put.set("URI", "CHK@").set("DataLength", "999").set("Identifier", "p1");
  put.payload = "hello";
  CHECK(fcp::encode(put).value() == "ClientPut\nURI=CHK@\nDataLength=5\nIdentifier=p1\nData\nhello");

  fcp::Message empty_data("AllData");
  empty_data.set("Identifier", "x");
  CHECK(fcp::encode(empty_data).value() == "AllData\nIdentifier=x\nDataLength=0\nData\n");

  for (std::string bad : {std::string("a\nb"), std::string("a\rb"), std::string("a\0b", 3)}) {
    fcp::Message m("ClientGet");
    m.set("Identifier", bad);
    auto result = fcp::encode(m);
    REQUIRE_FALSE(result);
    CHECK(result.error().kind == fcp::CodecErrorKind::invalid_value);
    fcp::Message k("ClientGet");
    k.fields.emplace_back(bad, "v");
    CHECK_FALSE(fcp::encode(k));
    CHECK_FALSE(fcp::encode(fcp::Message(bad)));
  }
  fcp::Message eq("ClientGet");
  eq.fields.emplace_back("A=B", "v");
  CHECK_FALSE(fcp::encode(eq));
  CHECK(fcp::encode(fcp::Message("")).error().kind == fcp::CodecErrorKind::empty_name);
}

TEST_CASE("which messages carry a payload is decided by name, as fred decides") {
  fcp::Message put("ClientPut");
  CHECK(fcp::carries_payload(put));
  put.set("UploadFrom", "DIRECT");
  CHECK(fcp::carries_payload(put));
  put.set("UploadFrom", "disk");
  CHECK_FALSE(fcp::carries_payload(put));
  CHECK(fcp::carries_payload(fcp::Message("AllData")));
  fcp::Message found("DataFound");
  found.set("DataLength", "5");
  CHECK_FALSE(fcp::carries_payload(found));
  fcp::Message plugin("FCPPluginReply");
  CHECK_FALSE(fcp::carries_payload(plugin));
  plugin.set("DataLength", "3");
  CHECK(fcp::carries_payload(plugin));
  // A direct ClientPut reads its payload even after an EndMessage terminator (fred reads by type).
  const auto parsed = parse_all("ClientPut\nURI=CHK@\nDataLength=2\nEndMessage\nhiGenerateSSK\nEndMessage\n");
  REQUIRE(parsed.messages.size() == 2);
  CHECK(parsed.messages[0].payload == "hi");
  CHECK(parsed.messages[1].name == "GenerateSSK");
}

TEST_CASE("the parser follows fred's reader on line details") {
  const auto parsed = parse_all(
      "\n\r\nNodeHello\r\n  Spaced Key  = value with = and spaces \n\n# a comment\nEmpty=\nEnd\n"
      "Next\nA=1\nA=2\nEndMessage\n");
  REQUIRE(parsed.errors.empty());
  REQUIRE(parsed.messages.size() == 2);
  const auto& m = parsed.messages[0];
  CHECK(m.name == "NodeHello");
  REQUIRE(m.fields.size() == 2);
  CHECK(m.fields[0].first == "Spaced Key");
  CHECK(m.fields[0].second == " value with = and spaces ");
  CHECK(m.get_or("Empty", "x") == "");
  CHECK(parsed.messages[1].fields.size() == 2);
  CHECK(parsed.messages[1].get_or("A", "") == "1");
}

TEST_CASE("malformed input gives errors and the parser keeps going") {
  SUBCASE("missing and bad DataLength") {
    const auto parsed = parse_all("AllData\nIdentifier=a\nData\nAllData\nDataLength=-3\nData\nVoid\nEndMessage\n");
    REQUIRE(parsed.errors.size() == 2);
    CHECK(parsed.errors[0].kind == fcp::CodecErrorKind::missing_data_length);
    CHECK(parsed.errors[1].kind == fcp::CodecErrorKind::bad_data_length);
    REQUIRE(parsed.messages.size() == 1);
    CHECK(parsed.messages[0].name == "Void");
  }
  SUBCASE("payload above the limit is skipped, the stream stays in step") {
    fcp::CodecLimits limits;
    limits.max_payload = 10;
    const std::string stream = "AllData\nDataLength=20\nData\n" + std::string(20, 'x') + "Void\nEndMessage\n";
    const auto parsed = parse_all(stream, {30, 31, 40}, limits);
    REQUIRE(parsed.errors.size() == 1);
    CHECK(parsed.errors[0].kind == fcp::CodecErrorKind::payload_too_large);
    REQUIRE(parsed.messages.size() == 1);
    CHECK(parsed.messages[0].name == "Void");
  }
  SUBCASE("overlong lines are refused without buffering them") {
    fcp::CodecLimits limits;
    limits.max_line = 100;
    fcp::StreamParser parser(limits);
    parser.feed("NodeHello\nA=");
    for (int i = 0; i < 100; ++i) parser.feed(std::string(1000, 'y'));
    auto next = parser.next();
    REQUIRE(next.error);
    CHECK(next.error->kind == fcp::CodecErrorKind::line_too_long);
    for (int i = 0; i < 100; ++i) {
      parser.feed(std::string(1000, 'y'));
      CHECK(parser.next().need_more());
    }
    CHECK(parser.buffered() < 2000);
    parser.feed("rest\nVoid\nEndMessage\n");
    next = parser.next();
    REQUIRE(next.message);
    CHECK(next.message->name == "Void");
  }
  SUBCASE("too many fields") {
    fcp::CodecLimits limits;
    limits.max_fields = 3;
    const auto parsed = parse_all("X\nA=1\nB=2\nC=3\nD=4\nEndMessage\n", {}, limits);
    REQUIRE_FALSE(parsed.errors.empty());
    CHECK(parsed.errors[0].kind == fcp::CodecErrorKind::too_many_fields);
  }
}

TEST_CASE("random garbage never crashes or hangs the parser") {
  std::mt19937 rng(99);
  const std::string alphabet = "AllDataDataLength=EndMessage\n\r=0123456789#\0x";
  for (int round = 0; round < 300; ++round) {
    std::string bytes(rng() % 2000, '\0');
    for (auto& b : bytes) b = (rng() % 4 == 0) ? static_cast<char>(rng()) : alphabet[rng() % alphabet.size()];
    std::vector<std::size_t> cuts;
    for (std::size_t at = 0;;) {
      at += 1 + rng() % 50;
      if (at >= bytes.size()) break;
      cuts.push_back(at);
    }
    fcp::CodecLimits limits;
    limits.max_line = 64;
    limits.max_payload = 500;
    const auto parsed = parse_all(bytes, cuts, limits);
    CHECK(parsed.left_over <= bytes.size());
  }
}
