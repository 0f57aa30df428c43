// FCP 2.0 message stream (fcp::StreamParser): what a buggy or hostile node can send us.
// Input: 4 bytes choosing chunk sizes, then the stream. Properties checked beyond "no crash, no
// hang, no leak": any split of the stream gives the same messages and errors as one feed (the
// parser's documented contract), memory held stays bounded, and every parsed message that
// encode() accepts parses back to itself.
#include "fcp/codec.h"
#include "fuzz_support.h"

#include <optional>
#include <string>
#include <vector>

namespace {

struct Outcome {
  std::vector<fcp::Message> messages;
  std::vector<fcp::CodecErrorKind> errors;
  std::vector<int> order;  // 0 = message, 1 = error: the interleaving
};

bool same_message(const fcp::Message& a, const fcp::Message& b) {
  return a.name == b.name && a.fields == b.fields && a.payload == b.payload;
}

// encode() writes exactly one DataLength (the payload's size) for a message with a payload, so a
// repeated DataLength from the wire does not survive the round trip: compare without them.
std::vector<std::pair<std::string, std::string>> fields_for_round_trip(const fcp::Message& m) {
  auto fields = m.fields;
  if (m.payload) std::erase_if(fields, [](const auto& f) { return f.first == "DataLength"; });
  return fields;
}

// Small limits so the fuzzer reaches the limit paths with small inputs.
fcp::CodecLimits small_limits() {
  fcp::CodecLimits limits;
  limits.max_line = 256;
  limits.max_payload = 4096;
  limits.max_fields = 32;
  return limits;
}

void drain(fcp::StreamParser& parser, Outcome& out) {
  for (;;) {
    auto next = parser.next();
    if (next.need_more()) return;
    FUZZ_CHECK(!(next.message && next.error));
    if (next.message) {
      out.messages.push_back(std::move(*next.message));
      out.order.push_back(0);
    } else {
      out.errors.push_back(next.error->kind);
      out.order.push_back(1);
    }
  }
}

Outcome parse_whole(std::string_view stream, const fcp::CodecLimits& limits) {
  fcp::StreamParser parser(limits);
  Outcome out;
  parser.feed(stream);
  drain(parser, out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input input(data, size);
  std::string seed;
  for (int i = 0; i < 4; ++i) seed.push_back(static_cast<char>(input.byte()));
  const std::string_view stream = input.rest();
  const auto limits = small_limits();

  const Outcome whole = parse_whole(stream, limits);

  // The same bytes in pieces.
  fcp::StreamParser parser(limits);
  Outcome pieces;
  const auto plan = fuzz::chunk_plan(seed, 64);
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < stream.size(); ++i) {
    const std::size_t n = std::min(plan[i % plan.size()], stream.size() - pos);
    parser.feed(stream.substr(pos, n));
    pos += n;
    drain(parser, pieces);
    // Bounded memory: never more than one line/payload limit plus one chunk beyond it.
    FUZZ_CHECK(parser.buffered() <= limits.max_payload + limits.max_line + 64);
  }
  FUZZ_CHECK(pieces.order == whole.order);
  FUZZ_CHECK(pieces.errors == whole.errors);
  FUZZ_CHECK(pieces.messages.size() == whole.messages.size());
  for (std::size_t i = 0; i < whole.messages.size(); ++i) {
    FUZZ_CHECK(same_message(pieces.messages[i], whole.messages[i]));
  }

  // Round trip through the encoder with default limits.
  for (const auto& message : whole.messages) {
    auto encoded = fcp::encode(message);
    if (!encoded) continue;
    const Outcome again = parse_whole(*encoded, fcp::CodecLimits{});
    FUZZ_CHECK(again.errors.empty());
    FUZZ_CHECK(again.messages.size() == 1);
    FUZZ_CHECK(again.messages[0].name == message.name);
    FUZZ_CHECK(again.messages[0].payload == message.payload);
    FUZZ_CHECK(fields_for_round_trip(again.messages[0]) == fields_for_round_trip(message));
  }
  return 0;
}
