#include "sim_node.h"

#include "node.h"

#include <fcp/ascii.h>

#include <nlohmann/json.hpp>

#include <boost/asio/post.hpp>

#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace fcp::sim {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string frame(const fcp::Message& message) {
  std::string out = message.name + "\n";
  for (const auto& [k, v] : message.fields) out += k + "=" + v + "\n";
  if (message.payload) {
    out += "Data\n";
    out += *message.payload;
  } else {
    out += "EndMessage\n";
  }
  return out;
}

namespace {

const char* protocol_error_text(int code) {
  switch (code) {
    case 1: return "ClientHello must be first message";
    case 2: return "No late ClientHello's accepted";
    case 3: return "Unknown message parsing error";
    case 4: return "Error parsing freenet URI";
    case 5: return "Missing field";
    case 6: return "Error parsing a numeric field";
    case 7: return "Don't know what to do with message";
    case 8: return "Invalid field value";
    case 9: return "File not found, not a file or not readable";
    case 15: return "No such identifier";
    case 16: return "Not supported";
    case 17: return "Internal error";
    case 24: return "Access denied";
    case 25: return "Direct Disk Access operation denied: did you send a FileHash field ? Did you use TestDDA?";
    case 32: return "No such plugin";
    case 36: return "Not supported for that return type";
    default: return "(Unknown)";
  }
}

struct FailureText {
  const char* long_text;
  const char* short_text;
  bool fatal;
};

FailureText fetch_failure(int code) {
  switch (code) {
    case 6: return {"Failed to decode a block", "Block decode error", true};
    case 11: return {"Too many path components - not a manifest? Try removing one", "Too many path components", true};
    case 13: return {"Data not found", "Data not found", false};
    case 14: return {"Route not found - could not find enough nodes to be sure the data doesn't exist", "Route not found", false};
    case 15: return {"A node was overloaded or timed out", "Timeout or overload", false};
    case 17: return {"Internal error, probably a bug", "Internal error", true};
    case 20: return {"Invalid URI", "Invalid URI", true};
    case 21: return {"Too big", "Too big", true};
    case 24: return {"Give more path components in URI", "Not enough path components", true};
    case 25: return {"Cancelled", "Cancelled by caller", true};
    case 27: return {"Permanent redirect: use the new URI", "New URI", true};
    case 28: return {"Some of the data was found, but not enough to fetch the key.", "Not enough data found", false};
    case 30: return {"The request was terminated by a node because it had recently received a request for the same key and that request had failed",
                     "Data not found (recently failed)", false};
    default: return {"Internal error, probably a bug", "Internal error", true};
  }
}

}  // namespace

fcp::Message protocol_error(int code, std::optional<std::string> extra, std::optional<std::string> identifier, bool fatal,
                            bool global) {
  // Field order as fred 1506 wrote it (fred-recorded/11-protocol-errors.txt).
  fcp::Message m("ProtocolError");
  if (identifier) m.set("Identifier", *identifier);
  m.set("CodeDescription", protocol_error_text(code));
  m.set("Fatal", fatal);
  m.set("Code", static_cast<std::int64_t>(code));
  if (extra) m.set("ExtraDescription", *extra);
  m.set("Global", global);
  return m;
}

fcp::Message get_failed(int code, const std::string& identifier, bool global, std::optional<std::string> extra) {
  const auto text = fetch_failure(code);
  fcp::Message m("GetFailed");
  m.set("Identifier", identifier);
  m.set("CodeDescription", text.long_text);
  m.set("ShortCodeDescription", text.short_text);
  if (extra) m.set("ExtraDescription", *extra);
  m.set("Fatal", text.fatal);
  m.set("Code", static_cast<std::int64_t>(code));
  m.set("Global", global);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Node

Node::Node(boost::asio::io_context& io_context, SimConfig cfg)
    : io(io_context),
      config(std::move(cfg)),
      rng(config.seed),
      store(config.state_file),
      wot(store, rng),
      acceptor(io_context) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(config.listen_host, ec);
  if (ec) throw std::runtime_error("invalid listen address " + config.listen_host + ": " + ec.message());
  const tcp::endpoint endpoint(address, config.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + config.listen_host + ":" + std::to_string(config.port) + ": " +
                             ec.message());
  bound_port = acceptor.local_endpoint().port();
  // With a state file, every start draws from a new random stream: a restarted node must never
  // hand out an SSK keypair or identity it already gave to someone before the restart.
  if (config.state_file) {
    const auto previous = store.load_value("starts");
    const std::uint64_t starts = previous ? std::strtoull(previous->c_str(), nullptr, 10) + 1 : 1;
    store.save_value("starts", std::to_string(starts));
    rng.seed(config.seed + starts * 0x9E3779B97F4A7C15ULL);
  }
  load_persistent();
}

void Node::start() {
  accept();
  // Forever requests that were still running when the node stopped carry on.
  for (auto& [key, p] : persistent_) {
    if (p.result || !p.running) continue;
    if (p.is_get) {
      start_get(p.running);
    } else {
      // The data of a put is stored when it is encoded; only the success report was pending.
      fcp::Message ok("PutSuccessful");
      ok.set("Identifier", p.identifier);
      ok.set("CompletionTime", now_ms());
      ok.set("StartupTime", p.running->startup_ms);
      std::string uri;
      for (const auto& m : p.progress)
        if (m.name == "URIGenerated") uri = std::string(m.get_or("URI", ""));
      ok.set("URI", uri);
      ok.set("Global", p.global);
      emit(p.running, ok, Record::result);
    }
  }
}

void Node::accept() {
  acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
    if (self->stopped_ || !self->acceptor.is_open()) return;
    if (!ec) {
      const std::uint64_t id = self->next_token++;
      auto session = std::make_shared<Session>(self, std::move(socket), id);
      self->sessions[id] = session;
      session->start();
    }
    self->accept();
  });
}

void Node::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  acceptor.close(ec);
  drop_connections();
  for (const auto& timer : timers_) timer->cancel();
  timers_.clear();
  waiters_.clear();
  waiter_count_ = 0;
}

void Node::drop_connections() {
  auto copy = sessions;
  for (auto& [id, weak] : copy)
    if (auto s = weak.lock()) s->close_now();
}

void Node::session_closed(std::uint64_t id) {
  auto it = sessions.find(id);
  if (it == sessions.end()) return;
  auto session = it->second.lock();
  sessions.erase(it);
  if (!session) return;
  if (!session->name().empty()) {
    auto c = clients.find(session->name());
    if (c != clients.end() && c->second.lock() == session) clients.erase(c);
  }
  // Connection requests die with their connection (fred cancels them, nothing is reported).
  for (auto& [identifier, request] : session->running()) {
    request->cancelled = true;
    cancel_wait(request->token);
  }
  session->running().clear();
  session->subscriptions().clear();
}

void Node::claim_name(const std::string& name, const std::shared_ptr<Session>& session) {
  if (auto old = holder(name); old && old != session) {
    old->send(fcp::Message("CloseConnectionDuplicateClientName"));
    old->close_after_flush();
  }
  clients[name] = session;
}

std::shared_ptr<Session> Node::holder(const std::string& name) {
  auto it = clients.find(name);
  if (it == clients.end()) return nullptr;
  auto s = it->second.lock();
  if (!s || s->closed()) return nullptr;
  return s;
}

void Node::after(int ms, std::function<void()> fn) {
  if (stopped_) return;
  if (ms <= 0) {
    boost::asio::post(io, std::move(fn));
    return;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(ms));
  timers_.insert(timer);
  timer->async_wait([self = shared_from_this(), timer, fn = std::move(fn)](boost::system::error_code ec) {
    self->timers_.erase(timer);
    if (!ec && !self->stopped_) fn();
  });
}

// ---------------------------------------------------------------------------------------------
// Requests: where their messages go

std::shared_ptr<Request> Node::new_request(const fcp::Message& fields, bool is_get,
                                           const std::shared_ptr<Session>& session, const std::string& owner) {
  auto r = std::make_shared<Request>();
  r->identifier = std::string(fields.get_or("Identifier", ""));
  r->global = fields.get_bool("Global").value_or(false);
  r->is_get = is_get;
  r->persistence = fcp::ascii::to_lower(fields.get_or("Persistence", "connection"));
  r->connection = session;
  r->owner = r->global ? std::string() : owner;
  r->token = next_token++;
  r->startup_ms = now_ms();
  r->fields = fields;
  r->fields.payload.reset();
  return r;
}

void Node::emit(const std::shared_ptr<Request>& request, fcp::Message message, Record record, bool deliver) {
  if (request->cancelled) return;
  if (!request->persistent()) {
    auto s = request->connection.lock();
    if (!s || s->closed()) return;
    s->send(message);
    if (record == Record::result) {  // a finished connection request frees its identifier
      auto it = s->running().find(request->identifier);
      if (it != s->running().end() && it->second == request) s->running().erase(it);
    }
    return;
  }
  PersistentRequest* p = find_persistent(request->owner, request->identifier);
  if (!p || p->token != request->token) return;
  switch (record) {
    case Record::none: break;
    case Record::progress: p->progress.push_back(message); break;
    case Record::result:
      p->result = message;
      p->tag.set("Started", true);
      p->running.reset();
      break;
    case Record::after: p->after.push_back(message); break;
  }
  if (record != Record::none) save_persistent(*p);
  if (!deliver) return;
  if (request->global) {
    for (auto& [id, weak] : sessions)
      if (auto s = weak.lock(); s && s->watches_global()) s->send(message);
  } else if (auto s = holder(request->owner)) {
    s->send(message);
  }
}

PersistentRequest* Node::find_persistent(const std::string& owner, const std::string& identifier) {
  auto it = persistent_.find({owner, identifier});
  return it == persistent_.end() ? nullptr : &it->second;
}

void Node::register_persistent(const std::shared_ptr<Request>& request, fcp::Message tag) {
  PersistentRequest p;
  p.owner = request->owner;
  p.global = request->global;
  p.identifier = request->identifier;
  p.forever = request->persistence == "forever";
  p.is_get = request->is_get;
  p.tag = std::move(tag);
  p.running = request;
  p.token = request->token;
  auto& stored = persistent_[{p.owner, p.identifier}] = std::move(p);
  save_persistent(stored);
}

void Node::remove_persistent(const std::string& owner, const std::string& identifier) {
  auto it = persistent_.find({owner, identifier});
  if (it == persistent_.end()) return;
  if (it->second.running) {
    it->second.running->cancelled = true;
    cancel_wait(it->second.running->token);
  }
  if (it->second.forever) store.remove_request(owner, identifier);
  persistent_.erase(it);
}

std::vector<const PersistentRequest*> Node::persistent_of(const std::string& owner, bool with_global) const {
  std::vector<const PersistentRequest*> out;
  for (const auto& [key, p] : persistent_)
    if ((!p.global && p.owner == owner) || (p.global && with_global)) out.push_back(&p);
  return out;
}

namespace {
fcp::Message tagged(fcp::Message m, const std::optional<std::string>& list_id) {
  if (list_id) m.set("ListRequestIdentifier", *list_id);
  return m;
}
}  // namespace

void Node::replay(const PersistentRequest& p, Session& to, const std::optional<std::string>& list_id) {
  fcp::Message tag = p.tag;
  tag.set("Started", true);
  to.send(tagged(tag, list_id));
  for (const auto& m : p.progress) to.send(tagged(m, list_id));
  if (p.result) to.send(tagged(*p.result, list_id));
  for (const auto& m : p.after) to.send(tagged(m, list_id));
}

void Node::send_all_data(const PersistentRequest& p, Session& to, bool only_data) {
  if (!p.result || p.result->name != "DataFound") {
    if (!only_data) replay(p, to, std::nullopt);
    return;
  }
  auto doc = store.find(p.data_slot);
  if (!only_data) {
    fcp::Message tag = p.tag;
    tag.set("Started", true);
    to.send(tag);
    to.send(*p.result);
  }
  if (doc) {
    fcp::Message all("AllData");
    all.set("Identifier", p.identifier);
    all.set("CompletionTime", std::string(p.result->get_or("CompletionTime", "0")));
    all.set("StartupTime", std::string(p.result->get_or("StartupTime", "0")));
    all.set("DataLength", static_cast<std::int64_t>(doc->data.size()));
    all.set("Global", p.global);
    all.set("Metadata.ContentType", p.mime);
    all.payload = std::move(doc->data);
    to.send(all);
  }
  for (const auto& m : p.after) to.send(m);
}

void Node::save_persistent(const PersistentRequest& p) {
  if (!p.forever) return;
  auto to_json = [](const fcp::Message& m) {
    nlohmann::json fields = nlohmann::json::array();
    for (const auto& [k, v] : m.fields) fields.push_back({k, v});
    return nlohmann::json{{"name", m.name}, {"fields", fields}};
  };
  nlohmann::json j;
  j["owner"] = p.owner;
  j["global"] = p.global;
  j["identifier"] = p.identifier;
  j["is_get"] = p.is_get;
  j["tag"] = to_json(p.tag);
  j["progress"] = nlohmann::json::array();
  for (const auto& m : p.progress) j["progress"].push_back(to_json(m));
  if (p.result) j["result"] = to_json(*p.result);
  j["after"] = nlohmann::json::array();
  for (const auto& m : p.after) j["after"].push_back(to_json(m));
  j["data_slot"] = p.data_slot;
  j["mime"] = p.mime;
  if (p.running) j["request"] = to_json(p.running->fields);
  store.save_request(p.owner, p.identifier, j.dump());
}

void Node::load_persistent() {
  auto from_json = [](const nlohmann::json& j) {
    fcp::Message m(j.value("name", ""));
    for (const auto& f : j.value("fields", nlohmann::json::array()))
      if (f.is_array() && f.size() == 2 && f[0].is_string() && f[1].is_string())
        m.fields.emplace_back(f[0].get<std::string>(), f[1].get<std::string>());
    return m;
  };
  for (const auto& [owner, text] : store.load_requests()) {
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    PersistentRequest p;
    p.owner = j.value("owner", "");
    p.global = j.value("global", false);
    p.identifier = j.value("identifier", "");
    p.forever = true;
    p.is_get = j.value("is_get", true);
    p.tag = from_json(j.value("tag", nlohmann::json::object()));
    for (const auto& m : j.value("progress", nlohmann::json::array())) p.progress.push_back(from_json(m));
    if (j.contains("result")) p.result = from_json(j["result"]);
    for (const auto& m : j.value("after", nlohmann::json::array())) p.after.push_back(from_json(m));
    p.data_slot = j.value("data_slot", "");
    p.mime = j.value("mime", "");
    if (!p.result && j.contains("request")) {
      const fcp::Message fields = from_json(j["request"]);
      auto r = new_request(fields, p.is_get, nullptr, p.owner);
      if (p.is_get) {
        auto uri = parse_uri(fields.get_or("URI", ""));
        if (!uri) continue;
        r->uri = *uri;
        r->max_size = fields.get_int("MaxSize").value_or(INT64_MAX);
        r->max_retries = static_cast<int>(fields.get_int("MaxRetries").value_or(0));
        r->verbosity = static_cast<int>(fields.get_int("Verbosity").value_or(0));
        r->return_type = fcp::ascii::to_lower(fields.get_or("ReturnType", "direct"));
      }
      p.running = r;
      p.token = r->token;
    }
    persistent_[{p.owner, p.identifier}] = std::move(p);
  }
}

// ---------------------------------------------------------------------------------------------
// Waiting fetches and USK subscriptions

void Node::wait_for(const std::string& key, std::uint64_t token, std::function<void()> retry) {
  waiters_[key].push_back(Waiter{token, std::move(retry)});
  ++waiter_count_;
}

void Node::cancel_wait(std::uint64_t token) {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    const auto before = it->second.size();
    std::erase_if(it->second, [&](const Waiter& w) { return w.token == token; });
    waiter_count_ -= before - it->second.size();
    it = it->second.empty() ? waiters_.erase(it) : std::next(it);
  }
}

void Node::on_stored(const std::string& slot) {
  std::vector<std::string> keys{slot};
  const auto edition = usk_edition_of_slot(slot);
  if (edition) keys.push_back("usk:" + edition->base);
  for (const auto& key : keys) {
    auto it = waiters_.find(key);
    if (it == waiters_.end()) continue;
    auto fire = std::move(it->second);
    waiters_.erase(it);
    waiter_count_ -= fire.size();
    for (auto& w : fire) after(0, std::move(w.retry));
  }
  if (!edition) return;
  for (auto& [id, weak] : sessions) {
    auto s = weak.lock();
    if (!s || s->closed()) continue;
    for (auto& [identifier, sub] : s->subscriptions()) {
      if (sub.base != edition->base || edition->edition < sub.uri.edition || edition->edition <= sub.reported) continue;
      sub.reported = edition->edition;
      FreenetUri uri = sub.uri;
      uri.edition = edition->edition;
      // fred's polling finds the new edition on the network: SendingToNetwork, the update, and
      // the end of the round (fred-recorded/09-usk.txt).
      if (!sub.dont_poll) s->send(fcp::Message("SubscribedUSKSendingToNetwork").set("Identifier", identifier));
      fcp::Message update("SubscribedUSKUpdate");
      update.set("NewKnownGood", false);
      update.set("Identifier", identifier);
      update.set("NewSlotToo", false);
      update.set("URI", uri.to_string());
      update.set("Edition", edition->edition);
      s->send(update);
      if (!sub.dont_poll) s->send(fcp::Message("SubscribedUSKRoundFinished").set("Identifier", identifier));
    }
  }
}

void Node::on_fetched_edition(const std::string& base, std::int64_t edition) {
  for (auto& [id, weak] : sessions) {
    auto s = weak.lock();
    if (!s || s->closed()) continue;
    for (auto& [identifier, sub] : s->subscriptions()) {
      if (sub.base != base || edition < sub.uri.edition || edition <= sub.known_good) continue;
      sub.known_good = edition;
      sub.reported = std::max(sub.reported, edition);
      FreenetUri uri = sub.uri;
      uri.edition = edition;
      fcp::Message update("SubscribedUSKUpdate");
      update.set("NewKnownGood", true);
      update.set("Identifier", identifier);
      update.set("NewSlotToo", false);
      update.set("URI", uri.to_string());
      update.set("Edition", edition);
      s->send(update);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SimNode facade

SimNode::SimNode(boost::asio::io_context& io, SimConfig config)
    : node_(std::make_shared<Node>(io, std::move(config))) {
  node_->start();
}

SimNode::~SimNode() { node_->stop(); }

std::uint16_t SimNode::port() const {
  return node_->bound_port;
}

void SimNode::stop() { node_->stop(); }
void SimNode::drop_connections() { node_->drop_connections(); }
std::size_t SimNode::request_count() const { return node_->requests_served; }
std::size_t SimNode::connection_count() const {
  std::size_t n = 0;
  for (const auto& [id, weak] : node_->sessions)
    if (auto s = weak.lock(); s && !s->closed()) ++n;
  return n;
}

}  // namespace fcp::sim
