#include "freemail/channel_message.h"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <random>

using namespace fcpmail::freemail;

namespace {
std::string recorded(const std::string& name) {
  std::ifstream in(std::string(FCPMAIL_FIXTURES) + "/freemail/recorded/" + name, std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string error_of(std::string_view payload) {
  auto r = read_channel_payload(payload);
  REQUIRE_FALSE(r);
  return r.error();
}
}  // namespace

TEST_CASE("channel payloads: writers reproduce Freemail 0.2.9's recorded bytes") {
  CHECK(write_cts().value() == recorded("bob-to-carol.cts.bin"));
  CHECK(write_ack(0).value() == recorded("bob-to-alice.ack0.bin"));
  const auto msg = recorded("bob-to-alice.msg0.bin");
  const std::string header = "messagetype=message\r\nid=0\r\n\r\n";
  REQUIRE(msg.starts_with(header));
  CHECK(write_message(0, std::string_view(msg).substr(header.size())).value() == msg);
}

TEST_CASE("channel payloads: reader accepts the recorded payloads") {
  const auto cts = read_channel_payload(recorded("bob-to-carol.cts.bin")).value();
  CHECK(cts.type == ChannelPayloadType::cts);
  CHECK(cts.body.empty());

  const auto ack = read_channel_payload(recorded("bob-to-alice.ack0.bin")).value();
  CHECK(ack.type == ChannelPayloadType::ack);
  CHECK(ack.id == 0);
  CHECK(ack.acked_ids == std::vector<std::uint64_t>{0});

  const auto raw = recorded("bob-to-alice.msg0.bin");
  const auto msg = read_channel_payload(raw).value();
  CHECK(msg.type == ChannelPayloadType::message);
  CHECK(msg.id == 0);
  CHECK(msg.body_offset == 29);
  CHECK(msg.body.starts_with("From: bob@b6icvpad6fuqagn3yylyeisybejdpzcbph22nvrs2yfgwa4mdmia.freemail\r\n"));
  CHECK(msg.body.ends_with("mia.freemail\r\n"));
  CHECK(msg.header.fields.size() == 2);
}

TEST_CASE("channel payloads: extra props follow Freemail's and are readable") {
  Props extra;
  extra.add("x-fcpmail-signature", "c2lnbmF0dXJl");
  const auto bytes = write_message(42, "Subject: hi\r\n\r\nbody\r\n", extra).value();
  CHECK(bytes == "messagetype=message\r\nid=42\r\nx-fcpmail-signature=c2lnbmF0dXJl\r\n\r\nSubject: hi\r\n\r\nbody\r\n");
  const auto parsed = read_channel_payload(bytes).value();
  CHECK(parsed.header.get("x-fcpmail-signature") == "c2lnbmF0dXJl");
  CHECK(parsed.body == "Subject: hi\r\n\r\nbody\r\n");
  CHECK(write_ack(7, extra).value() == "messagetype=ack\r\nid=7\r\nx-fcpmail-signature=c2lnbmF0dXJl\r\n\r\n");
  CHECK(write_cts(extra).value() == "messagetype=cts\r\nx-fcpmail-signature=c2lnbmF0dXJl\r\n\r\n");

  Props clash;
  clash.add("id", "3");
  CHECK(write_message(1, "", clash).error() == "extra props key 'id' would replace Freemail's own");
  Props twice;
  twice.add("x", "1");
  twice.add("x", "2");
  CHECK(write_ack(1, twice).error() == "extra props key 'x' appears twice");
  Props broken;
  broken.add("x", "a\r\nid=9");
  CHECK(write_cts(broken).error() == "value of props key 'x' contains a line break");
}

TEST_CASE("channel payloads: tolerant reading (order, LF, unknown keys, id lists, cts/ack without blank line)") {
  const auto lf = read_channel_payload("id=5\nfoo=bar\nmessagetype=message\n\nmail\n").value();
  CHECK(lf.id == 5);
  CHECK(lf.body == "mail\n");
  CHECK(lf.header.get("foo") == "bar");
  CHECK(read_channel_payload("messagetype=ack\r\nid=1,2,3\r\n\r\n").value().acked_ids ==
        std::vector<std::uint64_t>{1, 2, 3});
  CHECK(read_channel_payload("messagetype=ack\r\nid=9").value().id == 9);
  CHECK(read_channel_payload("messagetype=cts").value().type == ChannelPayloadType::cts);
  CHECK(read_channel_payload("messagetype=message\r\nid=0007\r\n\r\n").value().id == 7);
  CHECK(read_channel_payload("messagetype=message\r\nid=9223372036854775807\r\n\r\n").value().id == max_message_id);
}

TEST_CASE("channel payloads: random round trips") {
  std::mt19937_64 rng(11);
  for (int n = 0; n < 300; ++n) {
    const std::uint64_t id = rng() >> (1 + rng() % 63);  // 1..63: ids up to 2^63-1
    std::string mail(rng() % 200, '\0');
    for (auto& c : mail) c = static_cast<char>(rng());
    const auto bytes = write_message(id, mail).value();
    const auto parsed = read_channel_payload(bytes).value();
    CHECK(parsed.type == ChannelPayloadType::message);
    CHECK(parsed.id == id);
    CHECK(parsed.body == mail);
    const auto ack = read_channel_payload(write_ack(id).value()).value();
    CHECK(ack.acked_ids == std::vector<std::uint64_t>{id});
  }
}

TEST_CASE("channel payloads: malformed payloads, one reason per class") {
  CHECK(error_of("") == "channel payload has no messagetype");
  CHECK(error_of("id=0\r\n\r\nmail") == "channel payload has no messagetype");
  CHECK(error_of("messagetype=rts\r\n\r\n") == "unknown channel messagetype 'rts'");
  CHECK(error_of("messagetype=message\r\nid=0\r\nFrom: x") == "message payload has no empty line after its header");
  CHECK(error_of("messagetype=message\r\n\r\nmail") == "message payload has no id");
  CHECK(error_of("messagetype=message\r\nid=\r\n\r\n") == "empty message id");
  CHECK(error_of("messagetype=message\r\nid=-1\r\n\r\n") == "negative message id '-1'");
  CHECK(error_of("messagetype=message\r\nid=+1\r\n\r\n") == "signed message id '+1'");
  CHECK(error_of("messagetype=message\r\nid=12a\r\n\r\n") == "message id '12a' is not a decimal number");
  CHECK(error_of("messagetype=message\r\nid=9223372036854775808\r\n\r\n") ==
        "message id '9223372036854775808' is larger than a Java long (2^63-1)");
  CHECK(error_of("messagetype=message\r\nid=99999999999999999999999999\r\n\r\n").find("larger than a Java long") !=
        std::string::npos);
  CHECK(error_of("messagetype=ack\r\n\r\n") == "ack payload has no id");
  CHECK(error_of("messagetype=ack\r\nid=1,,2\r\n\r\n") == "ack id list '1,,2': empty message id");
  CHECK(error_of("messagetype=ack\r\nid=1,x\r\n\r\n") == "ack id list '1,x': message id 'x' is not a decimal number");
  CHECK(error_of("messagetype=cts\r\nmessagetype=ack\r\n\r\n") == "props key 'messagetype' appears twice (line 2)");
  CHECK(error_of("messagetype=cts\r\nx=" + std::string(5000, 'a') + "\r\n\r\n") ==
        "props line 2 is 5002 bytes long (limit 4096)");
  CHECK(write_message(max_message_id + 1, "").error() == "message id 9223372036854775808 does not fit a Java long");
}
