// The WebOfTrust subset over FCPPluginMessage, against fred-recorded/14-wot-plugin.txt.
#include "sim_test_client.h"

#include <filesystem>
#include <random>

using namespace sim_test;

namespace {

Message wot(Client& c, const std::string& id, std::vector<std::pair<std::string, std::string>> params) {
  Message m("FCPPluginMessage");
  m.set("Identifier", id);
  m.set("PluginName", "plugins.WebOfTrust.WebOfTrust");
  for (auto& [k, v] : params) m.set("Param." + k, v);
  c.send(m);
  auto reply = c.next();
  REQUIRE(reply.name == "FCPPluginReply");
  CHECK(field(reply, "PluginName") == "plugins.WebOfTrust.WebOfTrust");
  CHECK(field(reply, "Identifier") == id);
  return reply;
}

struct Created {
  std::string id, insert, request;
};

Created create(Client& c, const std::string& nickname, const std::string& context = "Freemail") {
  auto r = wot(c, "create-" + nickname,
               {{"Message", "CreateIdentity"}, {"Nickname", nickname}, {"Context", context}, {"PublishTrustList", "false"}});
  CHECK(field(r, "Success") == "true");
  CHECK(field(r, "Replies.Message") == "IdentityCreated");
  return {field(r, "Replies.ID"), field(r, "Replies.InsertURI"), field(r, "Replies.RequestURI")};
}

}  // namespace

TEST_CASE("CreateIdentity gives a WoT USK keypair whose ID is the request routing key") {
  RunningSim sim;
  Client c(sim.port(), "wot-create");
  auto alice = create(c, "alice");
  CHECK(alice.request == "USK@" + alice.id + alice.request.substr(4 + alice.id.size()));
  CHECK(alice.request.ends_with(",AQACAAE/WebOfTrust/0"));
  CHECK(alice.insert.ends_with(",AQECAAE/WebOfTrust/0"));
  // The identity's keys are a working SSK pair: the mailsite goes in with the insert key
  // and comes out with the request key.
  const std::string insert_ssk = "SSK@" + alice.insert.substr(4, alice.insert.find('/') - 4) + "/mailsite-1/mailpage";
  c.send(put(insert_ssk, "mailsite", "mailpage"));
  auto generated = c.until("PutSuccessful").front();
  CHECK(field(generated, "URI") == "SSK@" + alice.request.substr(4, alice.request.find('/') - 4) + "/mailsite-1");
}

TEST_CASE("WoT calls Freemail makes, with the recorded reply fields") {
  RunningSim sim;
  Client c(sim.port(), "wot-main");
  auto alice = create(c, "alice");
  auto bob = create(c, "bob", "RecordingTest");

  SUBCASE("GetOwnIdentities") {
    auto r = wot(c, "wot-own", {{"Message", "GetOwnIdentities"}});
    CHECK(field(r, "Replies.Message") == "OwnIdentities");
    CHECK(field(r, "Replies.Amount") == "2");
    CHECK(field(r, "Replies.Identity0") == alice.id);
    CHECK(field(r, "Replies.Nickname0") == "alice");
    CHECK(field(r, "Replies.RequestURI0") == alice.request);
    CHECK(field(r, "Replies.InsertURI0") == alice.insert);
    CHECK(field(r, "Replies.Contexts0.Context0") == "Freemail");
    CHECK(field(r, "Replies.Identity1") == bob.id);
  }
  SUBCASE("GetIdentity of an own identity") {
    wot(c, "setprop", {{"Message", "SetProperty"}, {"Identity", alice.id}, {"Property", "Freemail.mailsite"}, {"Value", "1"}});
    auto r = wot(c, "wot-get-own", {{"Message", "GetIdentity"}, {"Identity", alice.id}, {"Truster", alice.id}});
    CHECK(field(r, "Replies.Message") == "Identity");
    CHECK(field(r, "Replies.Type") == "OwnIdentity");
    CHECK(field(r, "Replies.Nickname") == "alice");
    CHECK(field(r, "Replies.RequestURI") == alice.request);
    CHECK(field(r, "Replies.InsertURI") == alice.insert);
    CHECK(field(r, "Replies.ID") == alice.id);
    CHECK(field(r, "Replies.Identity0") == alice.id);
    CHECK(field(r, "Replies.CurrentEditionFetchState") == "Fetched");
    CHECK(field(r, "Replies.Context0") == "Freemail");
    CHECK(field(r, "Replies.Property0.Name") == "Freemail.mailsite");
    CHECK(field(r, "Replies.Property0.Value") == "1");
    CHECK(field(r, "Replies.Properties.0.Name") == "Freemail.mailsite");
    CHECK(field(r, "Replies.Contexts.0.Name") == "Freemail");
    CHECK(field(r, "Replies.Identities.Amount") == "1");
    CHECK(field(r, "Replies.Identities.0.Nickname") == "alice");
    CHECK(field(r, "Replies.Score") == "2147483647");
    CHECK(field(r, "Replies.Rank") == "0");
    CHECK(field(r, "Replies.Trust") == "null");
    CHECK(field(r, "Replies.Trusts.0.Value") == "Nonexistent");
    CHECK(field(r, "Replies.Scores.0.Capacity") == "100");
    CHECK(r.has("Replies.VersionID"));
  }
  SUBCASE("GetIdentity of an unknown identity is an Error reply") {
    const std::string unknown = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    auto r = wot(c, "wot-get-unknown", {{"Message", "GetIdentity"}, {"Identity", unknown}, {"Truster", alice.id}});
    const std::string description = "plugins.WebOfTrust.exceptions.UnknownIdentityException: " + unknown;
    CHECK(field(r, "Success") == "false");
    CHECK(field(r, "ErrorCode") == "InternalError");
    CHECK(field(r, "ErrorMessage") == description);
    CHECK(field(r, "Replies.Description") == description);
    CHECK(field(r, "Replies.Message") == "Error");
    CHECK(field(r, "Replies.OriginalMessage") == "GetIdentity");
  }
  SUBCASE("GetIdentities by context, AddContext") {
    auto r = wot(c, "ids", {{"Message", "GetIdentities"}, {"Context", "Freemail"}});
    CHECK(field(r, "Replies.Message") == "Identities");
    CHECK(field(r, "Replies.Identities.Amount") == "1");
    CHECK(field(r, "Replies.Identities.0.ID") == alice.id);
    CHECK(field(r, "Replies.Identities.0.Type") == "OwnIdentity");
    auto added = wot(c, "addctx", {{"Message", "AddContext"}, {"Identity", bob.id}, {"Context", "Freemail"}});
    CHECK(field(added, "Replies.Message") == "ContextAdded");
    auto again = wot(c, "ids2", {{"Message", "GetIdentities"}, {"Context", "Freemail"}});
    CHECK(field(again, "Replies.Identities.Amount") == "2");
    CHECK(field(again, "Replies.Identities.1.Nickname") == "bob");
    CHECK(field(again, "Replies.Identities.1.Contexts.Amount") == "2");
  }
  SUBCASE("SetProperty / GetProperty") {
    auto set = wot(c, "wot-setprop", {{"Message", "SetProperty"}, {"Identity", alice.id}, {"Property", "Freemail.mailsite"}, {"Value", "3"}});
    CHECK(field(set, "Replies.Message") == "PropertyAdded");
    auto get = wot(c, "wot-getprop", {{"Message", "GetProperty"}, {"Identity", alice.id}, {"Property", "Freemail.mailsite"}});
    CHECK(field(get, "Replies.Message") == "PropertyValue");
    CHECK(field(get, "Replies.Property") == "3");
    auto missing = wot(c, "wot-getprop-none", {{"Message", "GetProperty"}, {"Identity", bob.id}, {"Property", "Freemail.mailsite"}});
    CHECK(field(missing, "Replies.Message") == "Error");
  }
  SUBCASE("AddIdentity, known identity error, SetTrust and the truster's view") {
    Client other(sim.port(), "wot-other");
    other.send(Message("GenerateSSK").set("Identifier", "gen-wot"));
    const std::string request = field(other.next(), "RequestURI");
    const std::string usk = "USK@" + request.substr(4) + "WebOfTrust/0";
    auto added = wot(other, "wot-addid", {{"Message", "AddIdentity"}, {"RequestURI", usk}});
    CHECK(field(added, "Replies.Message") == "IdentityAdded");
    const std::string carol = field(added, "Replies.ID");
    CHECK(usk.starts_with("USK@" + carol + ","));
    auto known = wot(other, "wot-addid-known", {{"Message", "AddIdentity"}, {"RequestURI", alice.request}});
    CHECK(field(known, "Replies.Message") == "Error");
    CHECK(field(known, "Replies.Description") ==
          "plugins.WebOfTrust.exceptions.InvalidParameterException: We already have this identity");
    CHECK(field(known, "Replies.OriginalMessage") == "AddIdentity");

    auto trust = wot(other, "wot-settrust",
                     {{"Message", "SetTrust"}, {"Truster", alice.id}, {"Trustee", carol}, {"Value", "100"}, {"Comment", "test"}});
    CHECK(field(trust, "Replies.Message") == "TrustSet");
    CHECK(field(trust, "Replies.Truster") == alice.id);
    CHECK(field(trust, "Replies.Trustee") == carol);
    CHECK(field(trust, "Replies.Value") == "100");
    CHECK(field(trust, "Replies.Comment") == "test");
    auto view = wot(c, "wot-get-carol", {{"Message", "GetIdentity"}, {"Identity", carol}, {"Truster", alice.id}});
    CHECK(field(view, "Replies.Type") == "Identity");
    CHECK(field(view, "Replies.CurrentEditionFetchState") == "NotFetched");
    CHECK(field(view, "Replies.Trust") == "100");
    CHECK(field(view, "Replies.Score") == "100");
    CHECK(field(view, "Replies.Rank") == "1");
    CHECK(field(view, "Replies.Scores.0.Capacity") == "40");
    CHECK(field(view, "Replies.Trusts.0.Comment") == "test");
    CHECK(field(view, "Replies.Trusts.Amount") == "1");
    auto bad = wot(c, "wot-bad-trust",
                   {{"Message", "SetTrust"}, {"Truster", alice.id}, {"Trustee", carol}, {"Value", "101"}, {"Comment", "x"}});
    CHECK(field(bad, "Success") == "false");
  }
  SUBCASE("missing parameters and unknown messages are Error replies") {
    auto r = wot(c, "noparam", {{"Message", "GetIdentity"}});
    CHECK(field(r, "Replies.Description") == "java.lang.IllegalArgumentException: Missing mandatory parameter: Identity");
    auto u = wot(c, "unknown", {{"Message", "Frobnicate"}});
    CHECK(field(u, "Replies.Description") == "java.lang.Exception: Unknown message (Frobnicate)");
    auto ping = wot(c, "ping", {{"Message", "Ping"}});
    CHECK(field(ping, "Replies.Message") == "Pong");
  }
}

TEST_CASE("a plugin that is not loaded gives ProtocolError 32") {
  RunningSim sim;
  Client c(sim.port(), "noplugin");
  c.send(Message("FCPPluginMessage").set("Identifier", "noplugin").set("PluginName", "plugins.NoSuchPlugin.NoSuchPlugin").set("Param.Message", "Ping"));
  auto e = c.next();
  CHECK(e.name == "ProtocolError");
  CHECK(field(e, "Code") == "32");
  CHECK(field(e, "Identifier") == "noplugin");
  CHECK(field(e, "CodeDescription") == "No such plugin");
  CHECK(field(e, "ExtraDescription") == "plugins.NoSuchPlugin.NoSuchPlugin not found or is not a FCPPlugin");
  c.send(Message("GetPluginInfo").set("Identifier", "info").set("PluginName", "plugins.WebOfTrust.WebOfTrust"));
  auto info = c.next();
  CHECK(info.name == "PluginInfo");
  CHECK(field(info, "IsTalkable") == "true");
}

TEST_CASE("identities are shared by all clients and survive a restart with a state file") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("fcpmail-sim-wot-" + std::to_string(std::random_device{}()) + ".sqlite");
  fcp::sim::SimConfig config;
  config.state_file = path.string();
  Created alice;
  {
    RunningSim sim(config);
    Client a(sim.port(), "wot-a");
    alice = create(a, "alice");
    wot(a, "ctx", {{"Message", "SetProperty"}, {"Identity", alice.id}, {"Property", "Freemail.mailsite"}, {"Value", "4"}});
    Client b(sim.port(), "wot-b");
    auto seen = wot(b, "seen", {{"Message", "GetIdentity"}, {"Identity", alice.id}});
    CHECK(field(seen, "Replies.Nickname") == "alice");
  }
  {
    RunningSim sim(config);
    Client c(sim.port(), "wot-c");
    auto r = wot(c, "after-restart", {{"Message", "GetProperty"}, {"Identity", alice.id}, {"Property", "Freemail.mailsite"}});
    CHECK(field(r, "Replies.Property") == "4");
    auto own = wot(c, "own", {{"Message", "GetOwnIdentities"}});
    CHECK(field(own, "Replies.InsertURI0") == alice.insert);
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}
