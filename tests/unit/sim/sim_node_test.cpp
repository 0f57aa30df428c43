// fcpmail-sim over real TCP, checked against the sequences recorded from fred build 1506
// (../shared/reference/fred-recorded/).
#include "sim_test_client.h"

#include <filesystem>
#include <random>
#include <regex>

using namespace sim_test;
using namespace std::chrono_literals;

namespace {

std::string incompressible(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

struct Keypair {
  std::string insert, request;
};

Keypair generate(Client& c, const std::string& id = "gen") {
  c.send(Message("GenerateSSK").set("Identifier", id));
  auto reply = c.next();
  REQUIRE(reply.name == "SSKKeypair");
  return {field(reply, "InsertURI"), field(reply, "RequestURI")};
}

std::string usk_of(const std::string& ssk, const std::string& site, std::int64_t edition) {
  return "USK@" + ssk.substr(4) + site + "/" + std::to_string(edition);  // ssk ends in '/'
}

}  // namespace

TEST_CASE("hello: NodeHello as fred 1506 sends it") {
  RunningSim sim;
  Client c(sim.port());
  c.send(Message("ClientHello").set("Name", "hello-test").set("ExpectedVersion", "2.0"));
  auto hello = c.next();
  CHECK(hello.name == "NodeHello");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"CompressionCodecs", "4 - GZIP(0), BZIP2(1), LZMA(2), LZMA_NEW(3)"},
      {"Revision", "build01506"}, {"Testnet", "false"}, {"Version", "Fred,0.7,1.0,1506"}, {"Build", "1506"},
      {"Node", "Fred"}, {"ExtBuild", "29"}, {"FCPVersion", "2.0"}, {"NodeLanguage", "ENGLISH"},
      {"ExtRevision", "v29-local"}};
  for (const auto& [k, v] : expected) CHECK(field(hello, k) == v);
  CHECK(std::regex_match(field(hello, "ConnectionIdentifier"), std::regex("[0-9a-f]{32}")));
  CHECK(hello.fields.size() == 11);
}

TEST_CASE("the first message must be a valid ClientHello, else ProtocolError 1 and EOF") {
  RunningSim sim;
  {
    Client c(sim.port());
    c.send(Message("GenerateSSK").set("Identifier", "pe-nohello"));
    auto e = c.next();
    CHECK(e.name == "ProtocolError");
    CHECK(field(e, "Code") == "1");
    CHECK(field(e, "Fatal") == "true");
    CHECK(field(e, "CodeDescription") == "ClientHello must be first message");
    CHECK_FALSE(e.has("Identifier"));
    CHECK(c.closed_by_node());
  }
  {
    Client c(sim.port());
    c.send(Message("ClientHello").set("ExpectedVersion", "2.0"));  // no Name
    CHECK(field(c.next(), "Code") == "1");
    CHECK(c.closed_by_node());
  }
}

TEST_CASE("a second connection with the same Name closes the first") {
  RunningSim sim;
  Client first(sim.port(), "dup-name");
  Client second(sim.port(), "dup-name");
  auto close = first.next();
  CHECK(close.name == "CloseConnectionDuplicateClientName");
  CHECK(close.fields.empty());
  CHECK(first.closed_by_node());
  generate(second, "dup-probe");
}

TEST_CASE("ProtocolError codes and stream quirks as recorded (11-protocol-errors)") {
  RunningSim sim;
  SUBCASE("missing Identifier -> 5, connection stays usable") {
    Client c(sim.port(), "pe0");
    c.send(Message("ClientGet").set("URI", "KSK@fredrec-x"));
    auto e = c.next();
    CHECK(field(e, "Code") == "5");
    CHECK(field(e, "ExtraDescription") == "No Identifier");
    CHECK(field(e, "Fatal") == "false");
    generate(c, "probe-0");
  }
  SUBCASE("ClientGet without URI -> 4 No URI specified") {
    Client c(sim.port(), "pe1");
    c.send(Message("ClientGet").set("Identifier", "pe-nouri"));
    auto e = c.next();
    CHECK(field(e, "Code") == "4");
    CHECK(field(e, "Identifier") == "pe-nouri");
    CHECK(field(e, "ExtraDescription") == "No URI specified");
  }
  SUBCASE("malformed ClientPut URI -> 4, its payload is then read as a message name") {
    Client c(sim.port(), "pe2");
    c.send_raw("ClientPut\nURI=notakey\nIdentifier=pe-baduri\nUploadFrom=direct\nDataLength=3\nData\nabc");
    auto e = c.next();
    CHECK(field(e, "Code") == "4");
    CHECK(field(e, "Fatal") == "false");
    CHECK(field(e, "ExtraDescription") == "There is no @ in that URI! (notakey)");
    c.send(Message("GenerateSSK").set("Identifier", "probe-2"));
    auto e2 = c.next();
    CHECK(field(e2, "Code") == "7");
    CHECK(field(e2, "ExtraDescription") == "Unknown message name abcGenerateSSK");
  }
  SUBCASE("unknown message name -> 7") {
    Client c(sim.port(), "pe3");
    c.send(Message("FooBarMessage").set("Identifier", "pe-unknown"));
    auto e = c.next();
    CHECK(field(e, "Code") == "7");
    CHECK(field(e, "ExtraDescription") == "Unknown message name FooBarMessage");
    CHECK_FALSE(e.has("Identifier"));
    generate(c, "probe-3");
  }
  SUBCASE("late ClientHello -> 2") {
    Client c(sim.port(), "pe4");
    c.send(Message("ClientHello").set("Name", "second").set("ExpectedVersion", "2.0"));
    auto e = c.next();
    CHECK(field(e, "Code") == "2");
    CHECK(field(e, "CodeDescription") == "No late ClientHello's accepted");
    generate(c, "probe-4");
  }
  SUBCASE("a line without '=' is an invalid end marker and desynchronises the stream") {
    Client c(sim.port(), "pe5");
    c.send_raw("ClientGet\nIdentifier=pe-noeq\nURI=KSK@fredrec-y\nThisLineHasNoEquals\nEndMessage\n");
    auto e = c.next();
    CHECK(field(e, "Code") == "3");
    CHECK(field(e, "ExtraDescription") == "Invalid end marker: ThisLineHasNoEquals");
    c.send(Message("GenerateSSK").set("Identifier", "probe-5"));
    auto e2 = c.next();
    CHECK(field(e2, "ExtraDescription") == "Invalid end marker: GenerateSSK");
    auto e3 = c.next();
    CHECK(field(e3, "Code") == "7");
    CHECK(field(e3, "ExtraDescription") == "Unknown message name Identifier=probe-5");
  }
  SUBCASE("ClientPut to a request URI -> 4 SSK not a private key, payload consumed") {
    Client c(sim.port(), "pe6");
    auto keys = generate(c);
    c.send(put(keys.request + "doc", "put-oops", "hello"));
    auto e = c.next();
    CHECK(field(e, "Code") == "4");
    CHECK(field(e, "Fatal") == "true");
    CHECK(field(e, "ExtraDescription") == "SSK not a private key");
    generate(c, "after");
  }
  SUBCASE("a name line over 128 bytes drops the connection silently") {
    Client c(sim.port(), "pe7");
    c.send_raw(std::string(300, 'x') + "\n");
    CHECK(c.closed_by_node());
  }
}

TEST_CASE("GenerateSSK: fred's shape, and puts report the derived request URI") {
  RunningSim sim;
  Client c(sim.port(), "genssk");
  auto keys = generate(c, "gen-1");
  CHECK(std::regex_match(keys.insert, std::regex("SSK@[A-Za-z0-9~-]{42,44},[A-Za-z0-9~-]{43},AQECAAE/")));
  CHECK(std::regex_match(keys.request, std::regex("SSK@[A-Za-z0-9~-]{43},[A-Za-z0-9~-]{43},AQACAAE/")));
  c.send(put(keys.insert + "rec-doc", "put-ssk", "fred-recorded SSK payload\n"));
  auto seq = c.until("PutSuccessful");
  CHECK(names(seq) == std::vector<std::string>{"URIGenerated", "PutSuccessful"});
  CHECK(field(seq[0], "URI") == keys.request + "rec-doc");
  CHECK(field(seq[1], "URI") == keys.request + "rec-doc");
}

TEST_CASE("KSK put with Verbosity=1023: the recorded sequence (03-ksk-put)") {
  RunningSim sim;
  Client c(sim.port(), "kskput");
  Message m = put("KSK@fredrec-ksk", "put-ksk", "fred-recorded KSK payload 132645\n");
  m.set("Verbosity", "1023");
  c.send(m);
  auto seq = c.until("PutSuccessful");
  CHECK(names(seq) == std::vector<std::string>{"ExpectedHashes", "FinishedCompression", "SimpleProgress",
                                               "SimpleProgress", "URIGenerated", "PutSuccessful"});
  CHECK(field(seq[0], "Hashes.SHA256") == "4a8bfdca583fc2fe24ced484ef5352f041a98f9e7266412d33f7508456beea6e");
  CHECK(field(seq[1], "Codec") == "-1");
  CHECK(field(seq[1], "Codec.Name") == "NONE");
  CHECK(field(seq[1], "CompressedSize") == "33");
  CHECK(field(seq[2], "Total") == "1");
  CHECK(field(seq[2], "FinalizedTotal") == "true");
  CHECK(field(seq[2], "MinSuccessFetchBlocks") == "1");
  CHECK(field(seq[4], "URI") == "KSK@fredrec-ksk");
  CHECK(field(seq[5], "URI") == "KSK@fredrec-ksk");
  CHECK(seq[5].has("StartupTime"));
  CHECK(seq[5].has("CompletionTime"));
}

TEST_CASE("reinsert: different data collides with 9, identical data succeeds (07-reinsert-collision)") {
  RunningSim sim;
  Client c(sim.port(), "collide");
  auto keys = generate(c);
  for (const std::string& uri : {std::string("KSK@fredrec-collide"), keys.insert + "rec-doc"}) {
    c.send(put(uri, "first", "fred-recorded payload\n"));
    c.until("PutSuccessful");
    c.send(put(uri, "different", "DIFFERENT data\n"));
    auto seq = c.until("PutFailed");
    CHECK(names(seq) == std::vector<std::string>{"URIGenerated", "PutFailed"});
    CHECK(field(seq[1], "Code") == "9");
    CHECK(field(seq[1], "Fatal") == "true");
    CHECK(field(seq[1], "CodeDescription") == "Insert collided with different, pre-existing data at the same key");
    CHECK(field(seq[1], "ShortCodeDescription") == "Collided with existing data");
    c.send(put(uri, "identical", "fred-recorded payload\n"));
    CHECK(names(c.until("PutSuccessful")) == std::vector<std::string>{"URIGenerated", "PutSuccessful"});
  }
}

TEST_CASE("CHK: URI derived from the content, fetched back from another connection (05, 06)") {
  RunningSim sim;
  Client a(sim.port(), "chk-a");
  a.send(put("CHK@", "put-chk", "fred-recorded CHK payload\n"));
  auto seq = a.until("PutSuccessful");
  const std::string uri = field(seq[0], "URI");
  CHECK(std::regex_match(uri, std::regex("CHK@[A-Za-z0-9~-]{43},[A-Za-z0-9~-]{43},AAMA--8")));
  a.send(put("CHK@", "put-chk-2", "fred-recorded CHK payload\n"));
  CHECK(field(a.until("PutSuccessful").back(), "URI") == uri);

  Client b(sim.port(), "chk-b");
  b.send(get(uri, "get-chk"));
  auto found = b.next();
  CHECK(found.name == "DataFound");
  CHECK(field(found, "DataLength") == "26");
  CHECK(field(found, "Metadata.ContentType") == "application/octet-stream");
  auto all = b.next();
  CHECK(all.name == "AllData");
  REQUIRE(all.payload.has_value());
  CHECK(*all.payload == "fred-recorded CHK payload\n");
  for (const char* k : {"Identifier", "CompletionTime", "StartupTime", "DataLength", "Global", "Metadata.ContentType"})
    CHECK(all.has(k));
}

TEST_CASE("gets: not found 13, too big 21, ReturnType=none") {
  RunningSim sim;
  Client c(sim.port(), "gets");
  c.send(get("KSK@never-inserted", "miss"));
  auto miss = c.next();
  CHECK(miss.name == "GetFailed");
  CHECK(field(miss, "Code") == "13");
  CHECK(field(miss, "Fatal") == "false");
  CHECK(field(miss, "CodeDescription") == "Data not found");

  c.send(put("KSK@sized", "p", std::string(100, 'z')));
  c.until("PutSuccessful");
  c.send(get("KSK@sized", "big").set("MaxSize", "10"));
  auto big = c.next();
  CHECK(field(big, "Code") == "21");
  CHECK(field(big, "ExpectedDataLength") == "100");
  c.send(get("KSK@sized", "none").set("ReturnType", "none"));
  auto found = c.next();
  CHECK(found.name == "DataFound");
  CHECK(c.silent_for(200ms));
}

TEST_CASE("2,500 incompressible bytes to an SSK: CHK + SSK, the recorded messages (10-ssk-2500-bytes)") {
  RunningSim sim;
  Client c(sim.port(), "big");
  auto keys = generate(c);
  const std::string data = incompressible(2500, 3);
  Message m = put(keys.insert + "big", "put-big", data);
  m.set("Verbosity", "1023");
  c.send(m);
  auto seq = c.until("PutSuccessful");
  CHECK(names(seq) == std::vector<std::string>{"StartedCompression", "StartedCompression", "StartedCompression",
                                               "ExpectedHashes", "FinishedCompression", "SimpleProgress",
                                               "SimpleProgress", "SimpleProgress", "URIGenerated", "SimpleProgress",
                                               "SimpleProgress", "PutFetchable", "PutSuccessful"});
  CHECK(field(seq[0], "Codec") == "GZIP");
  CHECK(field(seq[1], "Codec") == "BZIP2");
  CHECK(field(seq[2], "Codec") == "LZMA_NEW");
  CHECK(field(seq[4], "Codec") == "-1");
  CHECK(field(seq[4], "CompressedSize") == "2500");
  CHECK(field(seq[7], "Total") == "2");
  CHECK(field(seq[7], "FinalizedTotal") == "true");
  CHECK(field(seq[10], "Succeeded") == "2");

  Client g(sim.port(), "big-get");
  g.send(get(keys.request + "big", "get-big").set("Verbosity", "1023"));
  auto got = g.until("AllData");
  CHECK(names(got) == std::vector<std::string>{"SimpleProgress", "SimpleProgress", "SimpleProgress", "SimpleProgress",
                                               "CompatibilityMode", "SimpleProgress", "ExpectedHashes", "DataFound",
                                               "AllData"});
  CHECK(field(got[4], "Min") == "COMPAT_1416");
  CHECK(field(got[4], "Max") == "COMPAT_1468");
  CHECK(field(got[6], "Hashes.SHA256") == field(seq[3], "Hashes.SHA256"));
  CHECK(*got.back().payload == data);
}

TEST_CASE("compressible data over 1 KiB: GZIP is tried and kept") {
  RunningSim sim;
  Client c(sim.port(), "gzip");
  Message m = put("KSK@compressible", "put-gz", std::string(2000, 'a'));
  m.set("Verbosity", "512");
  c.send(m);
  auto seq = c.until("PutSuccessful");
  CHECK(names(seq) == std::vector<std::string>{"StartedCompression", "FinishedCompression", "URIGenerated", "PutSuccessful"});
  CHECK(field(seq[1], "Codec") == "0");
  CHECK(field(seq[1], "Codec.Name") == "GZIP");
  CHECK(std::stoi(field(seq[1], "CompressedSize")) < 1022);
}

TEST_CASE("USK: subscription updates, latest via 27, redirect of older editions (09-usk)") {
  RunningSim sim;
  Client ins(sim.port(), "usk-ins");
  Client sub(sim.port(), "usk-sub");
  auto keys = generate(ins, "gen-usk");
  const std::string site0 = usk_of(keys.request, "rec-usk", 0);
  sub.send(Message("SubscribeUSK").set("URI", site0).set("Identifier", "sub-usk").set("DontPoll", "false"));
  auto subscribed = sub.next();
  CHECK(subscribed.name == "SubscribedUSK");
  CHECK(field(subscribed, "URI") == site0);
  CHECK(field(subscribed, "DontPoll") == "false");
  CHECK(sub.next().name == "SubscribedUSKSendingToNetwork");
  CHECK(sub.next().name == "SubscribedUSKRoundFinished");

  ins.send(put(usk_of(keys.insert, "rec-usk", 0), "put-usk-0", "USK edition 0\n"));
  auto seq0 = ins.until("PutSuccessful");
  CHECK(field(seq0[0], "URI") == site0);
  CHECK(sub.next().name == "SubscribedUSKSendingToNetwork");
  auto update0 = sub.next();
  CHECK(update0.name == "SubscribedUSKUpdate");
  CHECK(field(update0, "Edition") == "0");
  CHECK(field(update0, "NewKnownGood") == "false");
  CHECK(field(update0, "URI") == site0);
  CHECK(sub.next().name == "SubscribedUSKRoundFinished");

  ins.send(put(usk_of(keys.insert, "rec-usk", 1), "put-usk-1", "USK edition 1\n"));
  CHECK(field(ins.until("PutSuccessful").back(), "URI") == usk_of(keys.request, "rec-usk", 1));
  sub.next();
  CHECK(field(sub.next(), "Edition") == "1");
  sub.next();

  sub.send(get(usk_of(keys.request, "rec-usk", -1), "get-usk-latest"));
  auto redirect = sub.next();
  CHECK(redirect.name == "GetFailed");
  CHECK(field(redirect, "Code") == "27");
  CHECK(field(redirect, "Fatal") == "true");
  CHECK(field(redirect, "ShortCodeDescription") == "New URI");
  CHECK(field(redirect, "RedirectURI") == usk_of(keys.request, "rec-usk", 1));

  sub.send(get(usk_of(keys.request, "rec-usk", 0), "get-usk-old"));
  CHECK(field(sub.next(), "RedirectURI") == usk_of(keys.request, "rec-usk", 1));

  sub.send(get(usk_of(keys.request, "rec-usk", 1), "get-usk-redirected"));
  auto got = sub.until("AllData");
  CHECK(*got.back().payload == "USK edition 1\n");
  bool known_good = false;
  for (const auto& m : got)
    if (m.name == "SubscribedUSKUpdate" && field(m, "NewKnownGood") == "true" && field(m, "Edition") == "1") known_good = true;
  CHECK(known_good);

  // The SSK form `site-N` is the same document.
  sub.send(get(keys.request + "rec-usk-1", "get-ssk-form"));
  CHECK(*sub.until("AllData").back().payload == "USK edition 1\n");

  // Inserting an occupied edition with new data moves on to the next one, as fred's USK inserter.
  ins.send(put(usk_of(keys.insert, "rec-usk", 1), "put-usk-again", "USK edition 2\n"));
  CHECK(field(ins.until("PutSuccessful").back(), "URI") == usk_of(keys.request, "rec-usk", 2));
  CHECK(sub.next().name == "SubscribedUSKSendingToNetwork");
  CHECK(field(sub.next(), "Edition") == "2");
  CHECK(sub.next().name == "SubscribedUSKRoundFinished");

  sub.send(Message("UnsubscribeUSK").set("Identifier", "sub-usk"));
  CHECK(sub.silent_for(300ms));
  sub.send(Message("UnsubscribeUSK").set("Identifier", "sub-usk"));
  CHECK(field(sub.next(), "Code") == "15");
}

TEST_CASE("mailsite fetch: 27 to the latest edition, then 11 without the extra path component") {
  RunningSim sim;
  Client c(sim.port(), "mailsite");
  auto keys = generate(c);
  c.send(put(keys.insert + "mailsite-1/mailpage", "put-mailpage", "rtsksk=abc\r\n"));
  CHECK(field(c.until("PutSuccessful").back(), "URI") == keys.request + "mailsite-1");

  const std::string base = "USK@" + keys.request.substr(4) + "mailsite/";
  c.send(get(base + "-1/mailpage", "m1"));
  auto first = c.next();
  CHECK(field(first, "Code") == "27");
  CHECK(field(first, "RedirectURI") == base + "1/mailpage");
  c.send(get(field(first, "RedirectURI"), "m2"));
  auto second = c.next();
  CHECK(field(second, "Code") == "11");
  CHECK(field(second, "ShortCodeDescription") == "Too many path components");
  CHECK(field(second, "RedirectURI") == base + "1");
  c.send(get(field(second, "RedirectURI"), "m3"));
  CHECK(*c.until("AllData").back().payload == "rtsksk=abc\r\n");
}

TEST_CASE("MaxRetries=-1 waits until the key is inserted") {
  RunningSim sim;
  Client waiter(sim.port(), "waiter");
  waiter.send(get("KSK@later", "wait").set("MaxRetries", "-1"));
  CHECK(waiter.silent_for(200ms));
  Client inserter(sim.port(), "inserter");
  inserter.send(put("KSK@later", "p", "arrived"));
  inserter.until("PutSuccessful");
  CHECK(*waiter.until("AllData").back().payload == "arrived");
}

TEST_CASE("persistent get: PersistentGet twice, data via GetRequestStatus, replay, list, remove (13)") {
  RunningSim sim;
  {
    Client c(sim.port(), "persist");
    c.send(put("KSK@persist-me", "p", "persistent payload\n"));
    c.until("PutSuccessful");
    c.send(get("KSK@persist-me", "pget-1").set("Persistence", "forever").set("Global", "false"));
    auto seq = c.until("DataFound");
    CHECK(names(seq) == std::vector<std::string>{"PersistentGet", "PersistentGet", "DataFound"});
    CHECK(field(seq[0], "Started") == "false");
    CHECK(field(seq[1], "Started") == "false");
    CHECK(field(seq[0], "MaxSize") == "9223372036854775807");
    CHECK(field(seq[0], "Persistence") == "forever");
    CHECK(c.silent_for(200ms));  // no AllData for a persistent request
    c.send(Message("GetRequestStatus").set("Identifier", "pget-1").set("Global", "false").set("OnlyData", "true"));
    auto data = c.until("ExpectedDataLength");
    CHECK(names(data) == std::vector<std::string>{"AllData", "CompatibilityMode", "ExpectedMIME", "ExpectedDataLength"});
    CHECK(*data[0].payload == "persistent payload\n");
  }
  Client again(sim.port(), "persist");  // a reconnect with the same Name replays on its own
  auto replay = again.until("ExpectedDataLength");
  CHECK(names(replay) == std::vector<std::string>{"PersistentGet", "DataFound", "CompatibilityMode", "ExpectedMIME", "ExpectedDataLength"});
  CHECK(field(replay[0], "Started") == "true");
  again.send(Message("ListPersistentRequests"));
  CHECK(names(again.until("EndListPersistentRequests")) ==
        std::vector<std::string>{"PersistentGet", "DataFound", "CompatibilityMode", "ExpectedMIME", "ExpectedDataLength",
                                 "EndListPersistentRequests"});
  again.send(Message("GetRequestStatus").set("Identifier", "pget-1").set("Global", "false").set("OnlyData", "false"));
  CHECK(names(again.until("ExpectedDataLength")) ==
        std::vector<std::string>{"PersistentGet", "DataFound", "AllData", "CompatibilityMode", "ExpectedMIME", "ExpectedDataLength"});
  again.send(Message("RemoveRequest").set("Identifier", "pget-1").set("Global", "false"));
  auto removed = again.next();
  CHECK(removed.name == "PersistentRequestRemoved");
  CHECK(field(removed, "Identifier") == "pget-1");
  again.send(Message("ListPersistentRequests"));
  CHECK(names(again.until("EndListPersistentRequests")) == std::vector<std::string>{"EndListPersistentRequests"});
  again.send(Message("GetRequestStatus").set("Identifier", "pget-1"));
  CHECK(field(again.next(), "Code") == "15");
}

TEST_CASE("identifier collision on a running connection request") {
  RunningSim sim;
  Client c(sim.port(), "collision-id");
  c.send(get("KSK@not-yet", "same").set("MaxRetries", "-1"));
  c.send(get("KSK@not-yet", "same").set("MaxRetries", "-1"));
  auto m = c.next();
  CHECK(m.name == "IdentifierCollision");
  CHECK(field(m, "Identifier") == "same");
  c.send(Message("RemoveRequest").set("Identifier", "same"));
  CHECK(field(c.next(), "Code") == "25");
}

TEST_CASE("state file: inserted keys and persistent requests survive a restart") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("fcpmail-sim-state-" + std::to_string(std::random_device{}()) + ".sqlite");
  fcp::sim::SimConfig config;
  config.state_file = path.string();
  std::string chk;
  {
    RunningSim sim(config);
    Client c(sim.port(), "state");
    c.send(put("KSK@survives", "p", "kept across restarts"));
    c.until("PutSuccessful");
    c.send(put("CHK@", "p2", "chk kept"));
    chk = field(c.until("PutSuccessful").back(), "URI");
    c.send(get("KSK@survives", "forever-get").set("Persistence", "forever"));
    c.until("DataFound");
  }
  {
    RunningSim sim(config);
    Client c(sim.port(), "state");
    CHECK(names(c.until("ExpectedDataLength")).front() == "PersistentGet");  // replayed after the restart
    c.send(get("KSK@survives", "g"));
    CHECK(*c.until("AllData").back().payload == "kept across restarts");
    c.send(get(chk, "g2"));
    CHECK(*c.until("AllData").back().payload == "chk kept");
    c.send(put("KSK@survives", "collide", "something else"));
    CHECK(field(c.until("PutFailed").back(), "Code") == "9");
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST_CASE("a state file that is not a database is refused at start") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("fcpmail-sim-bad-" + std::to_string(std::random_device{}()) + ".sqlite");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    std::fputs("this is not an sqlite database, just text long enough to be read as a header", f);
    std::fclose(f);
  }
  boost::asio::io_context io;
  fcp::sim::SimConfig config;
  config.state_file = path.string();
  CHECK_THROWS_AS(fcp::sim::SimNode(io, config), std::runtime_error);
  std::filesystem::remove(path);
}

TEST_CASE("fault injection: delays, transient DNF, dropped connections") {
  SUBCASE("fetch and insert delays") {
    fcp::sim::SimConfig config;
    config.insert_delay_ms = 150;
    config.fetch_delay_ms = 150;
    RunningSim sim(config);
    Client c(sim.port(), "delays");
    auto start = std::chrono::steady_clock::now();
    c.send(put("KSK@slow", "p", "x"));
    c.until("PutSuccessful");
    CHECK(std::chrono::steady_clock::now() - start >= 140ms);
    start = std::chrono::steady_clock::now();
    c.send(get("KSK@slow", "g"));
    c.until("AllData");
    CHECK(std::chrono::steady_clock::now() - start >= 140ms);
  }
  SUBCASE("dnf rate 1: present data fails as 13 (one block) or 28 (several)") {
    fcp::sim::SimConfig config;
    config.dnf_rate = 1.0;
    RunningSim sim(config);
    Client c(sim.port(), "dnf");
    c.send(put("KSK@small", "p1", "x"));
    c.until("PutSuccessful");
    c.send(put("KSK@large", "p2", incompressible(3000, 9)));
    c.until("PutSuccessful");
    c.send(get("KSK@small", "g1"));
    CHECK(field(c.next(), "Code") == "13");
    c.send(get("KSK@large", "g2"));
    CHECK(field(c.next(), "Code") == "28");
  }
  SUBCASE("every 3rd message closes its connection") {
    fcp::sim::SimConfig config;
    config.drop_every = 3;
    RunningSim sim(config);
    Client c(sim.port(), "drop");  // message 1
    generate(c);                   // message 2
    c.send(Message("GenerateSSK").set("Identifier", "third"));
    CHECK(c.closed_by_node());
    Client d(sim.port(), "drop-2");  // message 4
    generate(d);                     // message 5
  }
  SUBCASE("the 2nd ClientPut is taken, then its connection closes before the reply") {
    fcp::sim::SimConfig config;
    config.drop_on_puts = {2};
    RunningSim sim(config);
    Client c(sim.port(), "put-drop");
    c.send(put("KSK@first", "p1", "one"));
    c.until("PutSuccessful");
    c.send(put("KSK@second", "p2", "two"));
    bool answered = false;  // URIGenerated may come first; PutSuccessful never does
    while (auto m = c.next_or_eof()) answered |= m->name == "PutSuccessful" || m->name == "PutFailed";
    CHECK_FALSE(answered);
    Client d(sim.port(), "put-drop-2");  // the insert went through: the data is there
    d.send(get("KSK@second", "g"));
    auto got = d.until("AllData");
    CHECK(got.back().payload == "two");
    d.send(put("KSK@third", "p3", "three"));  // only the listed one
    d.until("PutSuccessful");
  }
  SUBCASE("the 2nd AllData is cut off half-way through its payload") {
    fcp::sim::SimConfig config;
    config.cut_all_data = {2};
    RunningSim sim(config);
    Client c(sim.port(), "cut");
    const std::string data = incompressible(1000, 3);
    c.send(put("KSK@cut", "p", data));
    c.until("PutSuccessful");
    c.send(get("KSK@cut", "g1"));
    CHECK(c.until("AllData").back().payload == data);
    c.send(get("KSK@cut", "g2"));
    bool whole_all_data = false;
    while (auto m = c.next_or_eof()) whole_all_data |= m->name == "AllData";
    CHECK_FALSE(whole_all_data);  // the connection ended inside the payload
    Client d(sim.port(), "cut-2");
    d.send(get("KSK@cut", "g3"));
    CHECK(d.until("AllData").back().payload == data);  // the 3rd is whole again
  }
  SUBCASE("reply delay: every reply leaves late, in order, on a connection that stays up") {
    fcp::sim::SimConfig config;
    config.reply_delay_ms = 200;
    RunningSim sim(config);
    auto start = std::chrono::steady_clock::now();
    Client c(sim.port(), "slow");  // waits for NodeHello
    CHECK(std::chrono::steady_clock::now() - start >= 190ms);
    start = std::chrono::steady_clock::now();
    c.send(put("KSK@late", "p", "x"));
    const auto replies = c.until("PutSuccessful");
    CHECK(std::chrono::steady_clock::now() - start >= 190ms);
    c.send(get("KSK@late", "g"));
    CHECK(c.until("AllData").back().payload == "x");
    CHECK(c.silent_for(300ms));
    c.send(get("KSK@late", "g2"));  // the connection is still up
    CHECK(c.until("AllData").back().payload == "x");
  }
  SUBCASE("drop_connections closes everything, new connections still work") {
    RunningSim sim;
    Client c(sim.port(), "dropped");
    sim.drop_connections();
    CHECK(c.closed_by_node());
    Client d(sim.port(), "fresh");
    generate(d);
  }
}

TEST_CASE("request_count counts the requests the node served") {
  RunningSim sim;
  Client c(sim.port(), "count");
  const auto before = sim.request_count();
  generate(c);
  c.send(put("KSK@count", "p", "x"));
  c.until("PutSuccessful");
  c.send(get("KSK@count", "g"));
  c.until("AllData");
  CHECK(sim.request_count() == before + 3);
}

TEST_CASE("many concurrent connections") {
  RunningSim sim;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 40; ++i) clients.push_back(std::make_unique<Client>(sim.port(), "many-" + std::to_string(i)));
  for (int i = 0; i < 40; ++i) clients[i]->send(put("KSK@many-" + std::to_string(i), "p", "data " + std::to_string(i)));
  for (int i = 0; i < 40; ++i) clients[i]->until("PutSuccessful");
  for (int i = 0; i < 40; ++i) clients[(i + 1) % 40]->send(get("KSK@many-" + std::to_string(i), "g"));
  for (int i = 0; i < 40; ++i)
    CHECK(*clients[(i + 1) % 40]->until("AllData").back().payload == "data " + std::to_string(i));
}

TEST_CASE("malformed input never takes the node down") {
  RunningSim sim;
  std::mt19937 rng(42);
  const std::vector<std::string> pieces = {"ClientHello\nName=f\nExpectedVersion=2.0\nEndMessage\n", "ClientPut\n",
                                           "ClientGet\n", "URI=", "KSK@a", "USK@", "/", "-1", "DataLength=",
                                           "99999999999999999999", "\n", "Data\n", "EndMessage\n", "=", "\r\n",
                                           "FCPPluginMessage\n", "PluginName=plugins.WebOfTrust.WebOfTrust\n",
                                           "Param.Message=GetIdentity\n", "Identifier=x\n", "UploadFrom=direct\n",
                                           std::string(1, '\0'), "\xff\xfe", "SubscribeUSK\n", "%", "@@"};
  for (int round = 0; round < 60; ++round) {
    Client c(sim.port());
    std::string junk;
    for (int i = 0; i < 40; ++i) junk += pieces[rng() % pieces.size()];
    if (round % 3 == 0) junk = pieces[0] + junk;
    try {
      c.send_raw(junk);
    } catch (const std::exception&) {
      // the node may already have closed the connection
    }
  }
  Client ok(sim.port(), "still-alive");
  generate(ok);
}

TEST_CASE("persistent put: PersistentPut twice, replayed with URIGenerated and PutSuccessful") {
  RunningSim sim;
  {
    Client c(sim.port(), "pput");
    Message m = put("KSK@persistent-put", "pput-1", "stored by a persistent put");
    m.set("Persistence", "reboot");
    c.send(m);
    auto seq = c.until("PutSuccessful");
    CHECK(names(seq) == std::vector<std::string>{"PersistentPut", "PersistentPut", "URIGenerated", "PutSuccessful"});
    CHECK(field(seq[0], "Persistence") == "reboot");
    CHECK(field(seq[0], "Started") == "false");
  }
  Client again(sim.port(), "pput");
  auto replay = again.until("PutSuccessful");
  CHECK(names(replay) == std::vector<std::string>{"PersistentPut", "URIGenerated", "PutSuccessful"});
  CHECK(field(replay[0], "Started") == "true");
  again.send(Message("RemoveRequest").set("Identifier", "pput-1"));
  CHECK(again.next().name == "PersistentRequestRemoved");
  again.send(Message("RemoveRequest").set("Identifier", "pput-1"));  // unknown now: no answer
  CHECK(again.silent_for(200ms));
}

TEST_CASE("global requests reach only connections that watch the global queue") {
  RunningSim sim;
  Client owner(sim.port(), "global-owner");
  Client watcher(sim.port(), "global-watcher");
  watcher.send(Message("WatchGlobal").set("Enabled", "true"));
  owner.send(put("KSK@global-data", "p", "global"));
  owner.until("PutSuccessful");
  owner.send(get("KSK@global-data", "gget").set("Persistence", "forever").set("Global", "true"));
  CHECK(names(watcher.until("DataFound")) == std::vector<std::string>{"PersistentGet", "PersistentGet", "DataFound"});
  CHECK(owner.silent_for(200ms));
  owner.send(get("KSK@global-data", "bad").set("Global", "true"));  // global needs persistence
  CHECK(field(owner.next(), "Code") == "16");
}

TEST_CASE("Verbosity bit 2: SendingToNetwork before a miss") {
  RunningSim sim;
  Client c(sim.port(), "verbose-miss");
  c.send(get("KSK@absent", "g").set("Verbosity", "2"));
  CHECK(names(c.until("GetFailed")) == std::vector<std::string>{"SendingToNetwork", "GetFailed"});
}

TEST_CASE("a restarted node with the same seed and state never repeats a keypair") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("fcpmail-sim-keys-" + std::to_string(std::random_device{}()) + ".sqlite");
  fcp::sim::SimConfig config;
  config.state_file = path.string();
  std::string first, second;
  {
    RunningSim sim(config);
    Client c(sim.port(), "keys");
    first = generate(c).insert;
  }
  {
    RunningSim sim(config);
    Client c(sim.port(), "keys");
    second = generate(c).insert;
  }
  CHECK(first != second);
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}
