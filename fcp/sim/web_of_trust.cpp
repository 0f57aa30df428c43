#include "web_of_trust.h"

#include "freenet_uri.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <climits>
#include <deque>
#include <map>

namespace fcp::sim {
namespace {

// A WoT handler failure: the text WoT puts in ErrorMessage and Replies.Description
// (the Java exception's toString()).
struct WotFailure {
  std::string description;
};

constexpr std::string_view kInvalidParameter = "plugins.WebOfTrust.exceptions.InvalidParameterException: ";
constexpr std::string_view kUnknownIdentity = "plugins.WebOfTrust.exceptions.UnknownIdentityException: ";

void put(Fields& out, const std::string& key, std::string value) {  // SimpleFieldSet.putOverwrite
  for (auto& [k, v] : out)
    if (k == key) {
      v = std::move(value);
      return;
    }
  out.emplace_back(key, std::move(value));
}

const std::string* find(const Fields& fields, std::string_view key) {
  for (const auto& [k, v] : fields)
    if (k == key) return &v;
  return nullptr;
}

const std::string& mandatory(const Fields& params, std::string_view key) {
  if (const auto* v = find(params, key)) return *v;
  throw WotFailure{"java.lang.IllegalArgumentException: Missing mandatory parameter: " + std::string(key)};
}

bool plain_name(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

void check_context(std::string_view context) {
  if (context.empty()) throw WotFailure{std::string(kInvalidParameter) + "A blank context cannot be added to an identity."};
  if (context.size() > 32)
    throw WotFailure{std::string(kInvalidParameter) + "Context names must not be longer than 32 characters."};
  if (!plain_name(context))
    throw WotFailure{std::string(kInvalidParameter) + "Context names must be latin letters and numbers only"};
}

void check_property(std::string_view name, std::string_view value) {
  if (name.empty()) throw WotFailure{std::string(kInvalidParameter) + "Property names must not be empty."};
  if (name.size() > 256)
    throw WotFailure{std::string(kInvalidParameter) + "Property names must not be longer than 256 characters."};
  for (char c : name)
    if (!(plain_name(std::string_view(&c, 1)) || c == '.'))
      throw WotFailure{std::string(kInvalidParameter) + "Property names must contain only latin letters, numbers and periods."};
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string_view::npos)
    throw WotFailure{std::string(kInvalidParameter) +
                     "Property names which contain periods must have at least one character before and after each period."};
  if (value.empty()) throw WotFailure{std::string(kInvalidParameter) + "Property values must not be empty."};
  if (value.size() > 10 * 1024)
    throw WotFailure{std::string(kInvalidParameter) + "Property values must not be longer than 10240 characters"};
}

// The capacity WoT gives a truster by its rank in the trust tree.
int capacity_for_rank(int rank) {
  static constexpr int kCapacities[] = {100, 40, 16, 6, 2, 1};
  return rank < 6 ? kCapacities[rank] : 1;
}

std::string with_edition(std::string uri_text) {  // USK@…/WebOfTrust/N from any SSK/USK form
  auto parsed = parse_uri(uri_text);
  if (!parsed) return uri_text;
  FreenetUri u = *parsed;
  if (u.type == "SSK") {
    u.type = "USK";
    u.docname = "WebOfTrust";
    u.edition = 0;
  }
  u.meta.clear();
  return u.to_string();
}

}  // namespace

WebOfTrust::WebOfTrust(Datastore& store, std::mt19937_64& rng) : store_(store), rng_(rng) { load(); }

std::string WebOfTrust::uuid() {
  std::uint8_t b[16];
  for (auto& x : b) x = static_cast<std::uint8_t>(rng_());
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0F) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3F) | 0x80);
  const std::string h = hex(std::string_view(reinterpret_cast<const char*>(b), 16));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

Fields WebOfTrust::handle(const Fields& params) {
  const std::string* message = find(params, "Message");
  try {
    if (!message) throw WotFailure{"java.lang.NullPointerException"};
    Fields replies = dispatch(*message, params);
    Fields out{{"Success", "true"}};
    for (auto& [k, v] : replies) out.emplace_back("Replies." + k, std::move(v));
    return out;
  } catch (const WotFailure& failure) {
    Fields out{{"ErrorCode", "InternalError"}, {"ErrorMessage", failure.description}, {"Success", "false"},
               {"Replies.Description", failure.description}, {"Replies.Message", "Error"}};
    if (message) out.emplace_back("Replies.OriginalMessage", *message);
    return out;
  }
}

Fields WebOfTrust::dispatch(const std::string& message, const Fields& params) {
  if (message == "CreateIdentity") return create_identity(params);
  if (message == "GetOwnIdentities") return get_own_identities();
  if (message == "GetIdentity") return get_identity(params);
  if (message == "GetIdentities") return get_identities(params);
  if (message == "AddIdentity") return add_identity(params);
  if (message == "SetTrust") return set_trust(params);
  if (message == "RemoveTrust") return remove_trust(params);
  if (message == "GetTrust") return get_trust(params);
  if (message == "GetScore") return get_score(params);
  if (message == "Ping") return {{"Message", "Pong"}};
  if (message == "AddContext" || message == "RemoveContext") {
    Identity& id = own_identity(mandatory(params, "Identity"));
    const std::string& context = mandatory(params, "Context");
    if (message == "AddContext") {
      check_context(context);
      if (std::find(id.contexts.begin(), id.contexts.end(), context) == id.contexts.end()) id.contexts.push_back(context);
    } else {
      std::erase(id.contexts, context);
    }
    id.version_id = uuid();
    save();
    return {{"Message", message == "AddContext" ? "ContextAdded" : "ContextRemoved"}};
  }
  if (message == "SetProperty") {
    Identity& id = own_identity(mandatory(params, "Identity"));
    const std::string& name = mandatory(params, "Property");
    const std::string& value = mandatory(params, "Value");
    check_property(name, value);
    auto it = std::find_if(id.properties.begin(), id.properties.end(), [&](const auto& p) { return p.first == name; });
    if (it != id.properties.end())
      it->second = value;
    else
      id.properties.emplace_back(name, value);
    id.version_id = uuid();
    save();
    return {{"Message", "PropertyAdded"}};
  }
  if (message == "GetProperty" || message == "RemoveProperty") {
    Identity& id = message == "GetProperty" ? identity(mandatory(params, "Identity"))
                                            : own_identity(mandatory(params, "Identity"));
    const std::string& name = mandatory(params, "Property");
    auto it = std::find_if(id.properties.begin(), id.properties.end(), [&](const auto& p) { return p.first == name; });
    if (it == id.properties.end())
      throw WotFailure{std::string(kInvalidParameter) + "The property '" + name + "' isn't set on this identity."};
    if (message == "GetProperty") return {{"Message", "PropertyValue"}, {"Property", it->second}};
    id.properties.erase(it);
    id.version_id = uuid();
    save();
    return {{"Message", "PropertyRemoved"}};
  }
  throw WotFailure{"java.lang.Exception: Unknown message (" + message + ")"};
}

WebOfTrust::Identity& WebOfTrust::identity(const std::string& id) {
  for (auto& i : identities_)
    if (i.id == id) return i;
  throw WotFailure{std::string(kUnknownIdentity) + id};
}

WebOfTrust::Identity& WebOfTrust::own_identity(const std::string& id) {
  for (auto& i : identities_)
    if (i.id == id && i.own) return i;
  throw WotFailure{std::string(kUnknownIdentity) + id};
}

Fields WebOfTrust::create_identity(const Fields& params) {
  const std::string& nickname = mandatory(params, "Nickname");
  const std::string& context = mandatory(params, "Context");
  const std::string& publishes = mandatory(params, "PublishTrustList");
  if (nickname.empty()) throw WotFailure{std::string(kInvalidParameter) + "Nickname cannot be empty."};
  if (nickname.size() > 30)
    throw WotFailure{std::string(kInvalidParameter) + "Nickname is too long, the limit is 30 characters."};
  check_context(context);

  FreenetUri insert;
  if (const auto* given = find(params, "InsertURI")) {
    auto parsed = parse_uri(*given);
    if (!parsed) throw WotFailure{"java.net.MalformedURLException: " + parsed.error()};
    if (!parsed->is_insert_key() || !parsed->routing_key || !parsed->crypto_key)
      throw WotFailure{std::string(kInvalidParameter) + "The given URI is not an insert URI."};
    insert = *parsed;
  } else {
    auto keypair = generate_ssk(rng_);
    insert = *parse_uri(keypair.insert_uri);
  }
  insert.type = "USK";
  insert.docname = "WebOfTrust";
  insert.edition = 0;
  insert.meta.clear();
  const FreenetUri request = to_request_form(insert);
  const std::string id = base64_encode(*request.routing_key);

  Identity* target = nullptr;
  for (auto& i : identities_)
    if (i.id == id) target = &i;
  if (target && target->own)
    throw WotFailure{std::string(kInvalidParameter) + "There is already an own identity with the given URI pair."};
  if (!target) {
    identities_.push_back(Identity{});
    target = &identities_.back();
  }
  target->id = id;
  target->nickname = nickname;
  target->own = true;
  target->request_uri = request.to_string();
  target->insert_uri = insert.to_string();
  target->publishes_trust_list = publishes == "true" || publishes == "yes";
  if (std::find(target->contexts.begin(), target->contexts.end(), context) == target->contexts.end())
    target->contexts.push_back(context);
  target->version_id = uuid();
  save();
  return {{"Message", "IdentityCreated"},
          {"InsertURI", target->insert_uri},
          {"RequestURI", target->request_uri},
          {"ID", target->id}};
}

Fields WebOfTrust::get_own_identities() {
  Fields out{{"Message", "OwnIdentities"}};
  int i = 0;
  for (const auto& id : identities_) {
    if (!id.own) continue;
    const std::string n = std::to_string(i);
    out.emplace_back("Identity" + n, id.id);
    out.emplace_back("RequestURI" + n, id.request_uri);
    out.emplace_back("InsertURI" + n, id.insert_uri);
    out.emplace_back("Nickname" + n, id.nickname);
    int c = 0;
    for (const auto& context : id.contexts) out.emplace_back("Contexts" + n + ".Context" + std::to_string(c++), context);
    int p = 0;
    for (const auto& [name, value] : id.properties) {
      out.emplace_back("Properties" + n + ".Property" + std::to_string(p) + ".Name", name);
      out.emplace_back("Properties" + n + ".Property" + std::to_string(p++) + ".Value", value);
    }
    ++i;
  }
  out.emplace_back("Amount", std::to_string(i));
  return out;
}

void WebOfTrust::add_identity_fields(Fields& out, const Identity& id, const std::string& prefix,
                                     const std::string& suffix) {
  put(out, prefix + "Type" + suffix, id.own ? "OwnIdentity" : "Identity");
  if (!id.nickname.empty()) put(out, prefix + "Nickname" + suffix, id.nickname);
  put(out, prefix + "RequestURI" + suffix, id.request_uri);
  put(out, prefix + "Identity" + suffix, id.id);
  put(out, prefix + "ID" + suffix, id.id);
  put(out, prefix + "VersionID" + suffix, id.version_id);
  put(out, prefix + "PublishesTrustList" + suffix, id.publishes_trust_list ? "true" : "false");
  if (id.own) put(out, prefix + "InsertURI" + suffix, id.insert_uri);
  // WoT: own identities count as fetched; others are fetched from the network, which the sim
  // does not do, so their state is what a freshly added identity shows.
  put(out, prefix + "CurrentEditionFetchState" + suffix, id.own ? "Fetched" : "NotFetched");
  int c = 0, p = 0;
  if (suffix.empty()) {
    for (const auto& context : id.contexts) put(out, prefix + "Context" + std::to_string(c++), context);
    for (const auto& [name, value] : id.properties) {
      put(out, prefix + "Property" + std::to_string(p) + ".Name", name);
      put(out, prefix + "Property" + std::to_string(p++) + ".Value", value);
    }
  } else {
    for (const auto& context : id.contexts)
      put(out, prefix + "Contexts" + suffix + ".Context" + std::to_string(c++), context);
    for (const auto& [name, value] : id.properties) {
      put(out, prefix + "Properties" + suffix + ".Property" + std::to_string(p) + ".Name", name);
      put(out, prefix + "Properties" + suffix + ".Property" + std::to_string(p++) + ".Value", value);
    }
  }
  c = p = 0;
  for (const auto& context : id.contexts) put(out, prefix + "Contexts." + std::to_string(c++) + ".Name", context);
  for (const auto& [name, value] : id.properties) {
    put(out, prefix + "Properties." + std::to_string(p) + ".Name", name);
    put(out, prefix + "Properties." + std::to_string(p++) + ".Value", value);
  }
  put(out, prefix + "Contexts" + suffix + ".Amount", std::to_string(c));
  put(out, prefix + "Properties" + suffix + ".Amount", std::to_string(p));
  put(out, "Identities.Amount", "1");
}

const WebOfTrust::Trust* WebOfTrust::find_trust(const std::string& truster, const std::string& trustee) const {
  for (const auto& t : trusts_)
    if (t.truster == truster && t.trustee == trustee) return &t;
  return nullptr;
}

// WoT's score of `trustee` in the trust tree of own identity `truster`: ranks by breadth-first
// search over positive trust, capacities by rank, score = sum of trust * capacity / 100.
std::optional<WebOfTrust::Score> WebOfTrust::score(const std::string& truster, const std::string& trustee) const {
  if (truster == trustee) return Score{INT_MAX, 0, 100};
  std::map<std::string, int> rank{{truster, 0}};
  std::deque<std::string> queue{truster};
  while (!queue.empty()) {
    const std::string u = queue.front();
    queue.pop_front();
    for (const auto& t : trusts_) {
      if (t.truster != u || t.value <= 0 || rank.contains(t.trustee)) continue;
      if (const Trust* direct = find_trust(truster, t.trustee); direct && direct->value <= 0) continue;
      rank[t.trustee] = rank[u] + 1;
      queue.push_back(t.trustee);
    }
  }
  auto capacity = [&](const std::string& id) {
    if (id == truster) return 100;
    if (!rank.contains(id)) return 0;
    if (const Trust* direct = find_trust(truster, id); direct && direct->value <= 0) return 0;
    return capacity_for_rank(rank[id]);
  };
  bool found = false;
  int total = 0, best_rank = INT_MAX;
  for (const auto& t : trusts_) {
    if (t.trustee != trustee) continue;
    const int cap = capacity(t.truster);
    if (cap == 0) continue;
    found = true;
    total += t.value * cap / 100;
    if (rank.contains(t.truster)) best_rank = std::min(best_rank, rank[t.truster] + 1);
  }
  if (!found) return std::nullopt;
  Score s;
  s.value = total;
  s.rank = best_rank;
  s.capacity = (total > 0 && rank.contains(trustee)) ? capacity(trustee) : 0;
  return s;
}

void WebOfTrust::add_trust_fields(Fields& out, const std::string& truster, const std::string& trustee,
                                  const std::string& suffix) {
  const std::string prefix = "Trusts." + suffix + ".";
  const Trust* t = find_trust(truster, trustee);
  if (!t) {
    put(out, prefix + "Value", "Nonexistent");
    return;
  }
  put(out, prefix + "Truster", t->truster);
  put(out, prefix + "Trustee", t->trustee);
  put(out, prefix + "Value", std::to_string(t->value));
  put(out, prefix + "Comment", t->comment);
  put(out, prefix + "TrusterEdition", "0");
  put(out, prefix + "VersionID", t->version_id);
  put(out, "Trusts.Amount", "1");
}

void WebOfTrust::add_score_fields(Fields& out, const std::string& truster, const std::string& trustee,
                                  const std::string& suffix) {
  const std::string prefix = "Scores." + suffix + ".";
  const auto s = score(truster, trustee);
  if (!s) {
    put(out, prefix + "Value", "Nonexistent");
    return;
  }
  put(out, prefix + "Truster", truster);
  put(out, prefix + "Trustee", trustee);
  put(out, prefix + "Capacity", std::to_string(s->capacity));
  put(out, prefix + "Rank", std::to_string(s->rank));
  put(out, prefix + "Value", std::to_string(s->value));
  put(out, prefix + "VersionID", uuid());
  put(out, "Scores.Amount", "1");
}

Fields WebOfTrust::get_identity(const Fields& params) {
  const std::string* truster_id = find(params, "Truster");
  const Identity& id = identity(mandatory(params, "Identity"));
  const Identity* truster = truster_id ? &own_identity(*truster_id) : nullptr;
  Fields out;
  add_identity_fields(out, id, "", "0");
  add_identity_fields(out, id, "", "");
  add_identity_fields(out, id, "Identities.0.", "");
  if (truster) {
    add_trust_fields(out, truster->id, id.id, "0");
    add_score_fields(out, truster->id, id.id, "0");
    const Trust* t = find_trust(truster->id, id.id);
    const auto s = score(truster->id, id.id);
    for (const char* suffix : {"0", ""}) {
      put(out, std::string("Trust") + suffix, t ? std::to_string(t->value) : "null");
      put(out, std::string("Score") + suffix, s ? std::to_string(s->value) : "null");
      put(out, std::string("Rank") + suffix, s ? std::to_string(s->rank) : "null");
    }
  }
  out.insert(out.begin(), {"Message", "Identity"});
  return out;
}

Fields WebOfTrust::get_identities(const Fields& params) {
  const std::string* context = find(params, "Context");
  const bool all = !context || context->empty();
  Fields out{{"Message", "Identities"}};
  int i = 0;
  for (const auto& id : identities_) {
    if (!all && std::find(id.contexts.begin(), id.contexts.end(), *context) == id.contexts.end()) continue;
    add_identity_fields(out, id, "Identities." + std::to_string(i) + ".", "");
    ++i;
  }
  put(out, "Identities.Amount", std::to_string(i));
  return out;
}

Fields WebOfTrust::add_identity(const Fields& params) {
  const std::string& request_uri = mandatory(params, "RequestURI");
  auto parsed = parse_uri(request_uri);
  if (!parsed) throw WotFailure{"java.net.MalformedURLException: " + parsed.error()};
  if ((parsed->type != "USK" && parsed->type != "SSK") || !parsed->routing_key || !parsed->crypto_key)
    throw WotFailure{"java.net.MalformedURLException: Invalid identity request URI, it is neither USK nor SSK: " +
                     request_uri};
  const std::string id = base64_encode(*parsed->routing_key);
  for (const auto& i : identities_)
    if (i.id == id) throw WotFailure{std::string(kInvalidParameter) + "We already have this identity"};
  Identity added;
  added.id = id;
  added.request_uri = with_edition(request_uri);
  added.version_id = uuid();
  identities_.push_back(std::move(added));
  save();
  return {{"Message", "IdentityAdded"}, {"ID", id}};
}

Fields WebOfTrust::set_trust(const Fields& params) {
  const std::string& truster = mandatory(params, "Truster");
  const std::string& trustee = mandatory(params, "Trustee");
  const std::string& value_text = mandatory(params, "Value");
  const std::string& comment = mandatory(params, "Comment");
  int value = 0;
  auto [end, ec] = std::from_chars(value_text.data(), value_text.data() + value_text.size(), value);
  if (value_text.empty() || ec != std::errc{} || end != value_text.data() + value_text.size() || value < -128 ||
      value > 127)
    throw WotFailure{"java.lang.NumberFormatException: For input string: \"" + value_text + "\""};
  own_identity(truster);
  identity(trustee);
  if (truster == trustee) throw WotFailure{std::string(kInvalidParameter) + "Trust values cannot be self-referential!"};
  if (value < -100 || value > 100)
    throw WotFailure{std::string(kInvalidParameter) + "Invalid trust value (" + value_text +
                     "). Trust values must be in range of -100 to +100."};
  if (comment.size() > 256)
    throw WotFailure{std::string(kInvalidParameter) + "Comment is too long (maximum is 256 characters)."};
  auto it = std::find_if(trusts_.begin(), trusts_.end(),
                         [&](const Trust& t) { return t.truster == truster && t.trustee == trustee; });
  if (it == trusts_.end()) {
    trusts_.push_back(Trust{truster, trustee, comment, uuid(), value});
  } else {
    it->value = value;
    it->comment = comment;
    it->version_id = uuid();
  }
  save();
  return {{"Message", "TrustSet"}, {"Truster", truster}, {"Trustee", trustee}, {"Value", value_text}, {"Comment", comment}};
}

Fields WebOfTrust::remove_trust(const Fields& params) {
  const std::string& truster = mandatory(params, "Truster");
  const std::string& trustee = mandatory(params, "Trustee");
  own_identity(truster);
  identity(trustee);
  std::erase_if(trusts_, [&](const Trust& t) { return t.truster == truster && t.trustee == trustee; });
  save();
  return {{"Message", "TrustRemoved"}, {"Truster", truster}, {"Trustee", trustee}};
}

Fields WebOfTrust::get_trust(const Fields& params) {
  const std::string& truster = mandatory(params, "Truster");
  const std::string& trustee = mandatory(params, "Trustee");
  identity(truster);
  identity(trustee);
  Fields out{{"Message", "Trust"}};
  add_trust_fields(out, truster, trustee, "0");
  return out;
}

Fields WebOfTrust::get_score(const Fields& params) {
  const std::string& truster = mandatory(params, "Truster");
  const std::string& trustee = mandatory(params, "Trustee");
  own_identity(truster);
  identity(trustee);
  Fields out{{"Message", "Score"}};
  add_score_fields(out, truster, trustee, "0");
  return out;
}

void WebOfTrust::load() {
  const auto text = store_.load_value("web-of-trust");
  if (!text) return;
  const auto state = nlohmann::json::parse(*text, nullptr, false);
  if (state.is_discarded() || !state.is_object()) return;
  for (const auto& j : state.value("identities", nlohmann::json::array())) {
    Identity i;
    i.id = j.value("id", "");
    i.nickname = j.value("nickname", "");
    i.request_uri = j.value("request_uri", "");
    i.insert_uri = j.value("insert_uri", "");
    i.version_id = j.value("version_id", "");
    i.own = j.value("own", false);
    i.publishes_trust_list = j.value("publishes_trust_list", true);
    i.contexts = j.value("contexts", std::vector<std::string>{});
    i.properties = j.value("properties", std::vector<std::pair<std::string, std::string>>{});
    identities_.push_back(std::move(i));
  }
  for (const auto& j : state.value("trusts", nlohmann::json::array()))
    trusts_.push_back(Trust{j.value("truster", ""), j.value("trustee", ""), j.value("comment", ""),
                            j.value("version_id", ""), j.value("value", 0)});
}

void WebOfTrust::save() {
  nlohmann::json state;
  state["identities"] = nlohmann::json::array();
  for (const auto& i : identities_)
    state["identities"].push_back({{"id", i.id}, {"nickname", i.nickname}, {"request_uri", i.request_uri},
                                   {"insert_uri", i.insert_uri}, {"version_id", i.version_id}, {"own", i.own},
                                   {"publishes_trust_list", i.publishes_trust_list}, {"contexts", i.contexts},
                                   {"properties", i.properties}});
  state["trusts"] = nlohmann::json::array();
  for (const auto& t : trusts_)
    state["trusts"].push_back({{"truster", t.truster}, {"trustee", t.trustee}, {"comment", t.comment},
                               {"version_id", t.version_id}, {"value", t.value}});
  store_.save_value("web-of-trust", state.dump());
}

}  // namespace fcp::sim
