#include "node_reader.h"

#include <doctest/doctest.h>

using fcp::sim::NodeReader;

TEST_CASE("node reader: header, then a payload only when asked") {
  NodeReader r;
  r.feed("ClientPut\nURI=CHK@\nDataLength=3\nData\nabcGenerateSSK\nEndMessage\n");
  REQUIRE(r.next() == NodeReader::Event::header);
  auto h = r.take_header();
  CHECK(h.name == "ClientPut");
  CHECK(h.end_marker == "Data");
  CHECK(h.get("URI") == "CHK@");
  r.expect_payload(3);
  REQUIRE(r.next() == NodeReader::Event::payload);
  CHECK(r.take_payload() == "abc");
  REQUIRE(r.next() == NodeReader::Event::header);
  CHECK(r.take_header().name == "GenerateSSK");
  CHECK(r.next() == NodeReader::Event::need_more);
}

TEST_CASE("node reader: an unread payload becomes the next message name, as in fred") {
  NodeReader r;
  r.feed("ClientPut\nURI=notakey\nDataLength=3\nData\nabcGenerateSSK\nEndMessage\n");
  REQUIRE(r.next() == NodeReader::Event::header);
  r.take_header();
  REQUIRE(r.next() == NodeReader::Event::header);
  CHECK(r.take_header().name == "abcGenerateSSK");
}

TEST_CASE("node reader: a field line without '=' ends the header") {
  NodeReader r;
  r.feed("ClientGet\nIdentifier=x\nThisLineHasNoEquals\nEndMessage\nGenerateSSK\nIdentifier=p\nEndMessage\n");
  REQUIRE(r.next() == NodeReader::Event::header);
  CHECK(r.take_header().end_marker == "ThisLineHasNoEquals");
  REQUIRE(r.next() == NodeReader::Event::header);
  auto h = r.take_header();
  CHECK(h.name == "EndMessage");
  CHECK(h.end_marker == "GenerateSSK");
  REQUIRE(r.next() == NodeReader::Event::header);
  CHECK(r.take_header().name == "Identifier=p");
}

TEST_CASE("node reader: CRLF, blank lines, comments, repeated keys, byte-by-byte feeding") {
  const std::string input = "\n\r\nClientHello\r\n# comment\r\nName=a\r\n\r\nName=b\r\n Key =v=w\r\nEndMessage\r\n";
  NodeReader r;
  for (char c : input) r.feed(std::string_view(&c, 1));
  REQUIRE(r.next() == NodeReader::Event::header);
  auto h = r.take_header();
  CHECK(h.name == "ClientHello");
  CHECK(h.get("Name") == "a;b");
  CHECK(h.get("Key") == "v=w");
  CHECK(h.end_marker == "EndMessage");
}

TEST_CASE("node reader: lines beyond fred's limits are refused") {
  NodeReader r;
  r.feed(std::string(200, 'x'));
  CHECK(r.next() == NodeReader::Event::too_long);
  NodeReader r2;
  r2.feed("ClientGet\nURI=" + std::string(5000, 'y') + "\n");
  CHECK(r2.next() == NodeReader::Event::too_long);
}
