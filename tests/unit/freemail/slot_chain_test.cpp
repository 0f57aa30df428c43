#include "freemail/slot_chain.h"

#include <doctest/doctest.h>

#include <random>

using namespace fcpmail::freemail;

namespace {
std::string bytes_range(int first) {
  std::string out;
  for (int i = 0; i < 32; ++i) out.push_back(static_cast<char>(first + i));
  return out;
}
constexpr std::string_view initiator0 = "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPQ";
constexpr std::string_view responder0 = "EAQSEIZEEUTCOKBJFIVSYLJOF4YDCMRTGQ2TMNZYHE5DWPB5HY7Q";
}  // namespace

TEST_CASE("slot chain: the reference vectors (§5.2, §8.2)") {
  CHECK(slot_from_bytes(bytes_range(0x00)).value() == initiator0);
  CHECK(slot_from_bytes(bytes_range(0x20)).value() == responder0);
  CHECK(next_slot(initiator0).value() == "MMG42KLGYQZWNEISKRELXMS3J72BFJE4OMW3FSFLYG4FQG6XCDOQ");
  CHECK(next_slot("MMG42KLGYQZWNEISKRELXMS3J72BFJE4OMW3FSFLYG4FQG6XCDOQ").value() ==
        "F4UHWTJ5JEIPNSW2TYN5DNDEQCM6RRJMQGVEU2XL7JX4Q3YZQNHA");
  const auto chain = slot_chain(responder0, 3).value();
  REQUIRE(chain.size() == 3);
  CHECK(chain[0] == responder0);
  CHECK(chain[1] == "OLN3OM3MOZ4AAI7YHWSMGVPS53VIK4Z3CPJUO5UXSF3ZBQJCSCCA");
  CHECK(chain[2] == "IQENNSVN4SCTTXUJ3GHZCXPJD74DCQCCBPC7K4EKP5M2GEKLZROQ");
}

TEST_CASE("slot chain: the hash is over the decoded bytes, so case does not matter for next") {
  std::string lower(initiator0);
  for (auto& c : lower) c = static_cast<char>(std::tolower(c));
  CHECK(next_slot(lower).value() == next_slot(initiator0).value());
  // ...but the first slot is used verbatim as a document name, like Freemail does.
  CHECK(slot_chain(lower, 2).value()[0] == lower);
  CHECK(slot_document_name(ChannelSide::initiator, lower) == "i-" + lower);
}

TEST_CASE("slot chain: document names and URIs") {
  const std::string insert = "SSK@Mp8ZxuCLnBkioGfhs1TuqLdng9UVZ8~n5Q0QtiUY9WI,PuO0yMON89D~5jUgwh4pmeIxTelC-p2ieTQbfHmXBUU,AQECAAE/";
  CHECK(slot_document_name(ChannelSide::responder, responder0) == "r-" + std::string(responder0));
  CHECK(slot_uri(insert, ChannelSide::initiator, initiator0).value() == insert + "i-" + std::string(initiator0));
  CHECK(slot_uri("USK@x/", ChannelSide::initiator, initiator0).error() == "channel key 'USK@x/' is not an SSK@ URI");
  CHECK(slot_uri(insert.substr(0, insert.size() - 1), ChannelSide::initiator, initiator0).error().find(
            "must end with its only '/'") != std::string::npos);
  CHECK(slot_uri(insert + "x/", ChannelSide::initiator, initiator0).error().find("must end with its only '/'") !=
        std::string::npos);
}

TEST_CASE("slot chain: random slots chain deterministically, always 52 upper-case characters") {
  std::mt19937 rng(5);
  for (int n = 0; n < 100; ++n) {
    std::string bytes(32, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    const auto slot = slot_from_bytes(bytes).value();
    const auto chain = slot_chain(slot, 8).value();
    REQUIRE(chain.size() == 8);
    for (std::size_t i = 1; i < chain.size(); ++i) {
      CHECK(chain[i] == next_slot(chain[i - 1]).value());
      CHECK(chain[i].size() == 52);
      CHECK(check_slot(chain[i]));
    }
  }
  CHECK(slot_chain(initiator0, 0).value().empty());
}

TEST_CASE("slot chain: malformed slots") {
  CHECK(slot_from_bytes("short").error() == "a slot is made from 32 random bytes, not 5");
  CHECK(next_slot("ABC").error() == "a slot has 52 base32 characters, not 3");
  CHECK(next_slot(std::string(initiator0.substr(0, 51)) + "1").error() ==
        "slot is not base32: invalid base32 character '1' at position 51");
  CHECK(next_slot(std::string(initiator0.substr(0, 51)) + "R").error().find("non-zero unused bits") !=
        std::string::npos);
  CHECK(slot_chain("", 3).error() == "a slot has 52 base32 characters, not 0");
}
