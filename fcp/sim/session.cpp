// One FCP connection of the simulated node: fred's input rules (first message, end markers,
// constructor checks before the payload is read) and the node's answer to each message.
#include "node.h"

#include <fcp/ascii.h>

#include <boost/asio/write.hpp>

#include <charconv>

namespace fcp::sim {
namespace {

constexpr std::size_t kMaxQueuedMessages = 1024;          // fred: fcp.maxMessageQueueLength
constexpr std::size_t kMaxPayload = 64 * 1024 * 1024;     // the sim's bound on one ClientPut

// Java's Long.parseLong: optional sign, decimal digits only.
std::optional<std::int64_t> java_long(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  if (text.empty() || text.starts_with('+')) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string number_error(std::string_view field, std::string_view value) {
  return "Error parsing " + std::string(field) + " field: For input string: \"" + std::string(value) + "\"";
}

bool java_true(std::optional<std::string_view> v, bool fallback) {  // SimpleFieldSet.getBoolean(key, default)
  if (!v) return fallback;
  const std::string l = fcp::ascii::to_lower(*v);
  if (fallback) return l != "false";
  return l == "true";
}

using fcp::ascii::to_lower;

fcp::Message to_message(const NodeHeader& h) {
  fcp::Message m(h.name);
  m.fields = h.fields;
  return m;
}

const std::set<std::string, std::less<>> kUnsupportedFredMessages = {
    "AddPeer",       "ClientPutComplexDir", "ClientPutDiskDir", "SendBookmark",  "SendURI",
    "SendText",      "GetConfig",           "GetNode",          "ListPeer",      "LoadPlugin",
    "ModifyConfig",  "ModifyPeer",          "ModifyPeerNote",   "ReloadPlugin",  "RemovePeer",
    "RemovePlugin",  "WatchFeeds",          "TestDDARequest",   "TestDDAResponse", "ProbeRequest",
    "Filter",        "ModifyPersistentRequest"};

}  // namespace

Session::Session(std::shared_ptr<Node> node, tcp::socket socket, std::uint64_t id)
    : node_(std::move(node)), socket_(std::move(socket)), id_(id) {
  std::string bytes(16, '\0');
  for (auto& b : bytes) b = static_cast<char>(node_->rng());
  connection_identifier_ = hex(bytes);
  boost::system::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
}

void Session::start() { read(); }

void Session::read() {
  socket_.async_read_some(boost::asio::buffer(read_buffer_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            if (self->closed_) return;
                            if (ec) {  // EOF or error: fred closes its side too
                              self->close_after_flush();
                              return;
                            }
                            self->reader_.feed(std::string_view(self->read_buffer_.data(), n));
                            self->process();
                            if (!self->closed_ && !self->closing_) self->read();
                          });
}

void Session::process() {
  while (!closed_ && !closing_) {
    const auto event = reader_.next();
    if (event == NodeReader::Event::need_more) return;
    if (event == NodeReader::Event::too_long) {  // fred: TooLongException, dropped without a word
      close_now();
      return;
    }
    if (event == NodeReader::Event::header) {
      handle(reader_.take_header());
    } else {
      NodeHeader header = std::move(*awaiting_payload_);
      awaiting_payload_.reset();
      run(header, reader_.take_payload());
    }
  }
}

void Session::send(const fcp::Message& message) {
  if (closed_ || cut_) return;
  std::optional<std::size_t> cut_after;
  std::string framed = frame(message);
  if (message.name == "AllData" && node_->config.cut_all_data.contains(++node_->all_data_sent))
    cut_after = framed.size() - (message.payload ? message.payload->size() / 2 : 0);  // half the payload
  if (node_->config.reply_delay_ms > 0) {  // a slow node: every reply leaves late, in order
    node_->after(node_->config.reply_delay_ms, [self = shared_from_this(), framed = std::move(framed), cut_after]() mutable {
      self->enqueue(std::move(framed), cut_after);
    });
    return;
  }
  enqueue(std::move(framed), cut_after);
}

void Session::enqueue(std::string framed, std::optional<std::size_t> cut_after) {
  if (closed_ || cut_) return;
  // fred drops new messages silently when a connection's queue is full.
  if (outbox_.size() >= kMaxQueuedMessages) return;
  if (cut_after) {  // fault injection: the connection goes away in the middle of this message
    framed.resize(std::min(*cut_after, framed.size()));
    cut_ = true;
    outbox_.push_back(std::move(framed));
    write();
    close_after_flush();
    return;
  }
  outbox_.push_back(std::move(framed));
  write();
}

void Session::write() {
  if (writing_ || closed_) return;
  if (outbox_.empty()) {
    if (closing_) close_now();
    return;
  }
  auto batch = std::make_shared<std::string>();
  while (!outbox_.empty() && batch->size() < 256 * 1024) {
    *batch += outbox_.front();
    outbox_.pop_front();
  }
  writing_ = true;
  boost::asio::async_write(socket_, boost::asio::buffer(*batch),
                           [self = shared_from_this(), batch](boost::system::error_code ec, std::size_t) {
                             self->writing_ = false;
                             if (ec) {
                               self->close_now();
                               return;
                             }
                             self->write();
                           });
}

void Session::close_after_flush() {
  if (closed_) return;
  closing_ = true;
  if (!writing_ && outbox_.empty()) close_now();
}

void Session::close_now() {
  if (closed_) return;
  closed_ = true;
  outbox_.clear();
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  node_->session_closed(id_);
}

// ---------------------------------------------------------------------------------------------

void Session::handle(NodeHeader h) {
  if (node_->config.drop_every > 0 &&
      ++node_->messages_seen % static_cast<std::uint64_t>(node_->config.drop_every) == 0) {
    close_now();  // fault injection: the connection carrying every Nth message goes away
    return;
  }
  if (!hello_done_) {
    if (h.name == "Void") return;  // fred: a no-op, even before the hello
    if (h.name != "ClientHello" || !h.get("Name") || !h.get("ExpectedVersion")) {
      send(protocol_error(1, std::nullopt, std::nullopt, true));
      close_after_flush();
      return;
    }
    hello(h);
    return;
  }
  if (h.end_marker && !h.end_marker->starts_with("End") && *h.end_marker != "Data") {
    // fred looks the identifier up under the misspelt key "Identifer", so it is never found.
    std::optional<std::string> ident;
    if (auto v = h.get("Identifer")) ident = std::string(*v);
    send(protocol_error(3, "Invalid end marker: " + *h.end_marker, ident, false, java_true(h.get("Global"), false)));
    return;
  }
  if (h.name == "ClientPut") {
    std::size_t length = 0;
    if (auto error = check_put(h, length)) {
      send(*error);  // the payload stays in the stream, as with fred
      return;
    }
    const std::string upload = to_lower(h.get("UploadFrom").value_or("direct"));
    if (upload != "direct") {
      run(h, std::string());
      return;
    }
    if (length > kMaxPayload) {
      send(protocol_error(17, "Payload too large for fcpmail-sim", std::string(*h.get("Identifier")), true));
      close_after_flush();
      return;
    }
    awaiting_payload_ = std::move(h);
    reader_.expect_payload(length);
    return;
  }
  if (h.name == "FCPPluginMessage") {
    std::optional<std::size_t> length;
    if (auto error = check_plugin(h, length)) {
      send(*error);
      return;
    }
    if (length) {
      if (*length > kMaxPayload) {
        close_now();
        return;
      }
      awaiting_payload_ = std::move(h);
      reader_.expect_payload(*length);
      return;
    }
  }
  run(h, std::nullopt);
}

void Session::run(const NodeHeader& h, std::optional<std::string> payload) {
  const std::string& n = h.name;
  if (n == "Void") return;
  if (n == "ClientHello") {
    if (!h.get("Name")) send(protocol_error(5, "ClientHello must contain a Name field", std::nullopt));
    else if (!h.get("ExpectedVersion")) send(protocol_error(5, "ClientHello must contain a ExpectedVersion field", std::nullopt));
    else send(protocol_error(2, std::nullopt, std::nullopt));
    return;
  }
  if (n == "Disconnect") {
    close_after_flush();
    return;
  }
  if (n == "ClientPut") {
    ++node_->requests_served;
    client_put(h, std::move(payload).value_or(std::string()));
    if (node_->config.drop_on_puts.contains(++node_->puts_seen))
      close_now();  // fault injection: the insert is under way (its data taken) when the connection goes
  } else if (n == "ClientGet") {
    if (auto error = check_get(h)) {
      send(*error);
      return;
    }
    ++node_->requests_served;
    client_get(h);
  } else if (n == "GenerateSSK") {
    ++node_->requests_served;
    generate_ssk(h);
  } else if (n == "SubscribeUSK") {
    ++node_->requests_served;
    subscribe_usk(h);
  } else if (n == "UnsubscribeUSK") {
    ++node_->requests_served;
    unsubscribe_usk(h);
  } else if (n == "FCPPluginMessage") {
    ++node_->requests_served;
    NodeHeader with_data = h;
    plugin_message(with_data);
  } else if (n == "GetPluginInfo") {
    ++node_->requests_served;
    plugin_info(h);
  } else if (n == "ListPersistentRequests") {
    ++node_->requests_served;
    list_persistent(h);
  } else if (n == "GetRequestStatus") {
    ++node_->requests_served;
    request_status(h);
  } else if (n == "RemoveRequest" || n == "RemovePersistentRequest") {
    ++node_->requests_served;
    remove_request(h);
  } else if (n == "WatchGlobal") {
    const auto mask = h.get("VerbosityMask");
    if (mask && !java_long(*mask)) {
      send(protocol_error(6, "java.lang.NumberFormatException: For input string: \"" + std::string(*mask) + "\"",
                          std::nullopt));
      return;
    }
    ++node_->requests_served;
    watch_global_ = java_true(h.get("Enabled"), true);
    if (watch_global_)
      for (const auto* p : node_->persistent_of("", true)) node_->replay(*p, *this, std::nullopt);
  } else if (n == "ListPeers" || n == "ListPeerNotes") {
    ++node_->requests_served;  // a simulated node has no peers to list
    fcp::Message end(n == "ListPeers" ? "EndListPeers" : "EndListPeerNotes");
    if (auto id = h.get("Identifier")) end.set("Identifier", std::string(*id));
    send(end);
  } else if (n == "Shutdown") {
    send(protocol_error(24, "fcpmail-sim cannot be shut down over FCP", std::nullopt));
  } else if (kUnsupportedFredMessages.contains(n)) {
    std::optional<std::string> ident;
    if (auto id = h.get("Identifier")) ident = std::string(*id);
    send(protocol_error(16, n + " is not simulated by fcpmail-sim", ident));
  } else {
    send(protocol_error(7, "Unknown message name " + n, std::nullopt));
  }
}

void Session::hello(const NodeHeader& h) {
  name_ = std::string(*h.get("Name"));
  auto self = shared_from_this();
  node_->claim_name(name_, self);  // an older connection with this Name is told and closed first
  fcp::Message hello("NodeHello");  // field order as fred 1506 sent it (fred-recorded/01-hello.txt)
  hello.set("CompressionCodecs", "4 - GZIP(0), BZIP2(1), LZMA(2), LZMA_NEW(3)");
  hello.set("Revision", "build01506");
  hello.set("Testnet", false);
  hello.set("Version", "Fred,0.7,1.0,1506");
  hello.set("Build", "1506");
  hello.set("ConnectionIdentifier", connection_identifier_);
  hello.set("Node", "Fred");
  hello.set("ExtBuild", "29");
  hello.set("FCPVersion", "2.0");
  hello.set("NodeLanguage", "ENGLISH");
  hello.set("ExtRevision", "v29-local");
  send(hello);
  hello_done_ = true;
  // The node replays every persistent request of this Name on its own (fred-recorded/13).
  for (const auto* p : node_->persistent_of(name_, false)) node_->replay(*p, *this, std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// ClientPut

std::optional<fcp::Message> Session::check_put(const NodeHeader& h, std::size_t& data_length) {
  const bool global = java_true(h.get("Global"), false);
  const auto identifier_field = h.get("Identifier");
  if (!identifier_field) return protocol_error(5, "No Identifier", std::nullopt, false, global);
  const std::string identifier(*identifier_field);
  auto err = [&](int code, std::string extra) { return protocol_error(code, std::move(extra), identifier, false, global); };
  const auto uri = h.get("URI");
  if (!uri) return err(5, "No URI");
  if (auto parsed = parse_uri(*uri); !parsed) return err(4, parsed.error());
  if (auto v = h.get("Verbosity"); v && !java_long(*v)) return err(6, number_error("Verbosity", *v));
  if (auto v = h.get("MaxRetries"); v && !java_long(*v)) return err(6, number_error("MaxSize", *v));
  if (auto v = h.get("PriorityClass")) {
    auto p = java_long(*v);
    if (!p) return err(6, number_error("PriorityClass", *v));
    if (*p < 0 || *p > 6) return err(8, "Invalid priority class " + std::to_string(*p) + " - range is 6 to 0");
  }
  const std::string upload = to_lower(h.get("UploadFrom").value_or("direct"));
  if (upload == "direct") {
    const auto length = h.get("DataLength");
    if (!length) return err(5, "Need DataLength on a ClientPut");
    const auto value = java_long(*length);
    if (!value || *value < 0) return err(6, number_error("DataLength", *length));
    data_length = static_cast<std::size_t>(*value);
  } else if (upload == "disk") {
    if (!h.get("Filename")) return err(5, "Missing field Filename");
  } else if (upload == "redirect") {
    const auto target = h.get("TargetURI");
    if (!target) return err(5, "TargetURI missing but UploadFrom=redirect");
    if (auto parsed = parse_uri(*target); !parsed)
      return err(8, "Invalid TargetURI: java.net.MalformedURLException: " + parsed.error());
  } else {
    return err(8, "UploadFrom invalid or unrecognized: " + std::string(*h.get("UploadFrom")));
  }
  if (auto p = h.get("Persistence")) {
    const std::string v = to_lower(*p);
    if (v != "connection" && v != "reboot" && v != "forever")
      return err(6, "Error parsing Persistence field: " + std::string(*p));
  }
  if (auto t = h.get("TargetFilename"); t && t->find('/') != std::string_view::npos)
    return err(8, "TargetFilename must not contain slashes");
  return std::nullopt;
}

void Session::client_put(const NodeHeader& h, std::string payload) {
  const std::string identifier(*h.get("Identifier"));
  const bool global = java_true(h.get("Global"), false);
  const std::string persistence = to_lower(h.get("Persistence").value_or("connection"));
  const std::string owner = global ? std::string() : name_;
  if ((persistence != "connection" && node_->find_persistent(owner, identifier)) ||
      (persistence == "connection" && running_.contains(identifier))) {
    send(fcp::Message("IdentifierCollision").set("Identifier", identifier).set("Global", global));
    return;
  }
  const FreenetUri uri = *parse_uri(*h.get("URI"));
  if ((uri.type == "SSK" || uri.type == "USK") && uri.routing_key && !uri.is_insert_key()) {
    // fred (startClientPut): the payload has been read, the error carries Fatal=true.
    send(protocol_error(4, "SSK not a private key", identifier, true, global));
    return;
  }
  const std::string upload = to_lower(h.get("UploadFrom").value_or("direct"));
  if (upload == "disk") {
    send(protocol_error(25, std::nullopt, identifier, false, global));
    return;
  }
  if (upload == "redirect") {
    send(protocol_error(16, "UploadFrom=redirect is not simulated by fcpmail-sim", identifier, false, global));
    return;
  }
  fcp::Message fields = to_message(h);
  auto request = node_->new_request(fields, false, shared_from_this(), name_);
  if (request->persistent()) {
    fcp::Message tag("PersistentPut");
    tag.set("Identifier", identifier);
    tag.set("URI", to_request_form(uri).to_string());
    tag.set("PrivateURI", std::string(*h.get("URI")));
    tag.set("Verbosity", std::to_string(java_long(h.get("Verbosity").value_or("0")).value_or(0)));
    tag.set("PriorityClass", std::to_string(java_long(h.get("PriorityClass").value_or("2")).value_or(2)));
    tag.set("UploadFrom", "direct");
    tag.set("Persistence", persistence);
    if (auto mime = h.get("Metadata.ContentType")) tag.set("Metadata.ContentType", std::string(*mime));
    tag.set("Global", global);
    tag.set("DataLength", static_cast<std::int64_t>(payload.size()));
    if (auto token = h.get("ClientToken")) tag.set("ClientToken", std::string(*token));
    tag.set("Started", false);
    tag.set("MaxRetries", std::to_string(java_long(h.get("MaxRetries").value_or("0")).value_or(0)));
    tag.set("CompatibilityMode", "COMPAT_1468");
    tag.set("DontCompress", java_true(h.get("DontCompress"), false));
    tag.set("RealTime", java_true(h.get("RealTimeFlag"), false));
    node_->register_persistent(request, tag);
    node_->emit(request, tag);  // fred sends it twice: at registration and at start
    node_->emit(request, tag);
  } else {
    running_[identifier] = request;
  }
  node_->start_put(request, std::move(payload));
}

// ---------------------------------------------------------------------------------------------
// ClientGet

std::optional<fcp::Message> Session::check_get(const NodeHeader& h) {
  const bool global = java_true(h.get("Global"), false);
  const auto identifier_field = h.get("Identifier");
  if (!identifier_field) return protocol_error(5, "No Identifier", std::nullopt, false, global);
  const std::string identifier(*identifier_field);
  auto err = [&](int code, std::string extra) { return protocol_error(code, std::move(extra), identifier, false, global); };
  const auto uri = h.get("URI");
  if (!uri) return err(4, "No URI specified");
  if (auto parsed = parse_uri(*uri); !parsed) return err(4, parsed.error());
  if (auto v = h.get("Verbosity"); v && !java_long(*v)) return err(6, number_error("Verbosity", *v));
  const std::string return_type = to_lower(h.get("ReturnType").value_or("direct"));
  if (return_type == "chunked") return err(3, "Unknown return-type");
  if (return_type != "direct" && return_type != "none" && return_type != "disk") return err(8, "Unknown return-type");
  if (return_type == "disk" && !h.get("Filename")) return err(5, "Missing Filename");
  for (const char* field : {"MaxSize", "MaxTempSize"}) {
    if (auto v = h.get(field)) {
      auto value = java_long(*v);
      if (!value) return err(6, number_error("MaxSize", *v));
      if (*value < 0)
        return err(8, std::string(field) == "MaxSize" ? "Maximum size must be positive" : "Maximum temp size must be positive");
    }
  }
  if (auto v = h.get("MaxRetries")) {
    auto value = java_long(*v);
    if (!value) return err(6, number_error("MaxSize", *v));
    if (*value < -1) return err(8, "Max retries must be -1 or larger");
  }
  if (auto v = h.get("PriorityClass")) {
    auto p = java_long(*v);
    if (!p) return err(6, number_error("PriorityClass", *v));
    if (*p < 0 || *p > 6) return err(8, "Invalid priority class " + std::to_string(*p) + " - range is 6 to 0");
  }
  std::string persistence = "connection";
  if (auto p = h.get("Persistence")) {
    persistence = to_lower(*p);
    if (persistence != "connection" && persistence != "reboot" && persistence != "forever")
      return err(6, "Error parsing Persistence field: " + std::string(*p));
  }
  if (global && persistence == "connection") return err(16, "Global requests must be persistent");
  return std::nullopt;
}

void Session::client_get(const NodeHeader& h) {
  const std::string identifier(*h.get("Identifier"));
  const bool global = java_true(h.get("Global"), false);
  const std::string persistence = to_lower(h.get("Persistence").value_or("connection"));
  const std::string owner = global ? std::string() : name_;
  if ((persistence != "connection" && node_->find_persistent(owner, identifier)) ||
      (persistence == "connection" && running_.contains(identifier))) {
    send(fcp::Message("IdentifierCollision").set("Identifier", identifier).set("Global", global));
    return;
  }
  const std::string return_type = to_lower(h.get("ReturnType").value_or("direct"));
  if (return_type == "disk") {  // no TestDDA in the sim: fred refuses disk access without it
    send(protocol_error(25, std::nullopt, identifier, false, global));
    return;
  }
  auto request = node_->new_request(to_message(h), true, shared_from_this(), name_);
  request->uri = *parse_uri(*h.get("URI"));
  request->max_size = java_long(h.get("MaxSize").value_or("")).value_or(INT64_MAX);
  request->max_retries = static_cast<int>(java_long(h.get("MaxRetries").value_or("0")).value_or(0));
  request->verbosity = static_cast<int>(java_long(h.get("Verbosity").value_or("0")).value_or(0));
  request->return_type = return_type;
  if (request->persistent()) {
    const std::int64_t default_priority = return_type == "direct" ? 2 : 5;
    fcp::Message tag("PersistentGet");  // field order as recorded (fred-recorded/13)
    tag.set("Persistence", persistence);
    tag.set("MaxRetries", static_cast<std::int64_t>(request->max_retries));
    tag.set("BinaryBlob", java_true(h.get("BinaryBlob"), false));
    tag.set("Started", false);
    tag.set("Identifier", identifier);
    tag.set("PriorityClass", java_long(h.get("PriorityClass").value_or("")).value_or(default_priority));
    tag.set("Verbosity", static_cast<std::int64_t>(request->verbosity));
    tag.set("ReturnType", return_type);
    tag.set("URI", request->uri.to_string());
    tag.set("MaxSize", request->max_size);
    tag.set("Global", global);
    tag.set("RealTime", java_true(h.get("RealTimeFlag"), false));
    if (auto token = h.get("ClientToken")) tag.set("ClientToken", std::string(*token));
    node_->register_persistent(request, tag);
    node_->emit(request, tag);  // sent twice, back to back, as recorded
    node_->emit(request, tag);
  } else {
    running_[identifier] = request;
  }
  node_->start_get(request);
}

// ---------------------------------------------------------------------------------------------

void Session::generate_ssk(const NodeHeader& h) {
  const auto keypair = fcp::sim::generate_ssk(node_->rng);
  fcp::Message reply("SSKKeypair");
  if (auto id = h.get("Identifier")) reply.set("Identifier", std::string(*id));
  reply.set("InsertURI", keypair.insert_uri);
  reply.set("RequestURI", keypair.request_uri);
  send(reply);
}

void Session::subscribe_usk(const NodeHeader& h) {
  const auto identifier_field = h.get("Identifier");
  if (!identifier_field) {
    send(protocol_error(5, "No Identifier!", std::nullopt));
    return;
  }
  const std::string identifier(*identifier_field);
  const auto uri_text = h.get("URI");
  if (!uri_text) {
    send(protocol_error(5, "Expected a URI on SubscribeUSK", identifier));
    return;
  }
  auto parsed = parse_uri(*uri_text);
  if (!parsed || parsed->type != "USK" || !parsed->routing_key || !parsed->crypto_key) {
    send(protocol_error(8, "Could not parse URI: java.net.MalformedURLException: " +
                               (parsed ? std::string("Not a USK") : parsed.error()),
                        identifier));
    return;
  }
  if (subscriptions_.contains(identifier)) {
    send(fcp::Message("IdentifierCollision").set("Identifier", identifier).set("Global", false));
    return;
  }
  Subscription sub;
  sub.uri = to_request_form(parsed->without_meta());
  sub.base = usk_base(sub.uri);
  sub.dont_poll = java_true(h.get("DontPoll"), false);
  fcp::Message reply("SubscribedUSK");  // field order as recorded (fred-recorded/09)
  reply.set("DontPoll", sub.dont_poll);
  reply.set("Identifier", identifier);
  reply.set("URI", std::string(*uri_text));
  send(reply);
  const auto latest = node_->store.latest_edition(sub.base);
  const bool known = latest && *latest >= sub.uri.edition;
  if (known) sub.reported = *latest;
  subscriptions_[identifier] = sub;
  auto announce = [this, identifier, sub, latest, known]() {
    if (known) {
      FreenetUri uri = sub.uri;
      uri.edition = *latest;
      fcp::Message update("SubscribedUSKUpdate");
      update.set("NewKnownGood", false);
      update.set("Identifier", identifier);
      update.set("NewSlotToo", false);
      update.set("URI", uri.to_string());
      update.set("Edition", *latest);
      send(update);
    }
  };
  if (sub.dont_poll) {
    announce();
    return;
  }
  // fred polls at once: a round that goes to the network and finishes (fred-recorded/09).
  node_->after(0, [self = shared_from_this(), identifier, announce]() {
    if (self->closed_ || !self->subscriptions_.contains(identifier)) return;
    self->send(fcp::Message("SubscribedUSKSendingToNetwork").set("Identifier", identifier));
    announce();
    self->send(fcp::Message("SubscribedUSKRoundFinished").set("Identifier", identifier));
  });
}

void Session::unsubscribe_usk(const NodeHeader& h) {
  const auto identifier = h.get("Identifier");
  if (!identifier) {
    send(protocol_error(5, "No Identifier!", std::nullopt));
    return;
  }
  if (subscriptions_.erase(std::string(*identifier)) == 0)
    send(protocol_error(15, std::nullopt, std::string(*identifier)));
  // success: no reply, as fred
}

std::optional<fcp::Message> Session::check_plugin(const NodeHeader& h, std::optional<std::size_t>& data_length) {
  const auto identifier = h.get("Identifier");
  if (!identifier) return protocol_error(5, "FCPPluginMessage must contain a Identifier field", std::nullopt);
  const std::string id(*identifier);
  if (!h.get("PluginName")) return protocol_error(5, "FCPPluginMessage must contain a PluginName field", id);
  const bool has_data = h.end_marker && *h.end_marker == "Data";
  const auto length = h.get("DataLength");
  if (length && !has_data) return protocol_error(8, "A nondata message can't have a DataLength field", id);
  if (has_data) {
    if (!length) return protocol_error(5, "Need DataLength on a Datamessage", id);
    const auto value = java_long(*length);
    if (!value || *value < 0) return protocol_error(6, number_error("DataLength", *length), id);
    data_length = static_cast<std::size_t>(*value);
  }
  return std::nullopt;
}

void Session::plugin_message(const NodeHeader& h) {
  const std::string identifier(*h.get("Identifier"));
  const std::string plugin(*h.get("PluginName"));
  if (plugin != WebOfTrust::kPluginName) {
    send(protocol_error(32, plugin + " not found or is not a FCPPlugin", identifier));
    return;
  }
  Fields params;
  for (const auto& [k, v] : h.fields)
    if (k.starts_with("Param.")) params.emplace_back(k.substr(6), v);
  fcp::Message reply("FCPPluginReply");
  reply.set("PluginName", plugin);
  reply.set("Identifier", identifier);
  for (auto& [k, v] : node_->wot.handle(params)) reply.fields.emplace_back(std::move(k), std::move(v));
  send(reply);
}

void Session::plugin_info(const NodeHeader& h) {
  const auto identifier = h.get("Identifier");
  if (!identifier) {
    send(protocol_error(5, "GetPluginInfo must contain an Identifier field", std::nullopt));
    return;
  }
  const auto plugin = h.get("PluginName");
  if (!plugin) {
    send(protocol_error(5, "GetPluginInfo must contain a PluginName field", std::string(*identifier)));
    return;
  }
  if (*plugin != WebOfTrust::kPluginName) {
    send(protocol_error(32, "Plugin '" + std::string(*plugin) + "' does not exist or is not a FCP plugin",
                        std::string(*identifier)));
    return;
  }
  fcp::Message info("PluginInfo");
  info.set("Identifier", std::string(*identifier));
  info.set("PluginName", WebOfTrust::kPluginName);
  info.set("IsTalkable", true);
  info.set("LongVersion", "0.4.5 build0020");
  info.set("Version", "0.4.5");
  if (java_true(h.get("Detailed"), false)) {
    info.set("OriginUri", "plugins.WebOfTrust.WebOfTrust");
    info.set("Started", true);
  }
  send(info);
}

void Session::list_persistent(const NodeHeader& h) {
  std::optional<std::string> list_id;
  if (auto id = h.get("Identifier")) list_id = std::string(*id);
  for (const auto* p : node_->persistent_of(name_, watch_global_)) node_->replay(*p, *this, list_id);
  fcp::Message end("EndListPersistentRequests");
  if (list_id) end.set("Identifier", *list_id);
  send(end);
}

void Session::request_status(const NodeHeader& h) {
  const std::string identifier(h.get("Identifier").value_or(""));
  const bool global = java_true(h.get("Global"), false);
  const PersistentRequest* p = node_->find_persistent(global ? std::string() : name_, identifier);
  if (!p) {  // connection requests and unknown identifiers alike
    send(protocol_error(15, std::nullopt, identifier, false, global));
    return;
  }
  if (!p->result) {  // still running: its tag and progress so far
    node_->replay(*p, *this, std::nullopt);
    return;
  }
  node_->send_all_data(*p, *this, java_true(h.get("OnlyData"), false));
}

void Session::remove_request(const NodeHeader& h) {
  const bool global = java_true(h.get("Global"), false);
  const auto identifier_field = h.get("Identifier");
  if (!identifier_field) {
    send(protocol_error(5, "Must have Identifier", std::nullopt, false, global));
    return;
  }
  const std::string identifier(*identifier_field);
  const std::string owner = global ? std::string() : name_;
  fcp::Message removed("PersistentRequestRemoved");
  removed.set("Identifier", identifier);
  removed.set("Global", global);
  if (PersistentRequest* p = node_->find_persistent(owner, identifier)) {
    if (!p->result) {  // still running: it fails as cancelled first
      if (p->is_get) {
        send(get_failed(25, identifier, global));
      } else {
        fcp::Message failed("PutFailed");
        failed.set("Identifier", identifier);
        failed.set("CodeDescription", "Cancelled by user");
        failed.set("ShortCodeDescription", "Cancelled");
        failed.set("Fatal", true);
        failed.set("Code", std::int64_t{10});
        failed.set("Global", global);
        send(failed);
      }
    }
    node_->remove_persistent(owner, identifier);
    send(removed);
    return;
  }
  if (global) return;
  auto it = running_.find(identifier);
  if (it == running_.end()) return;  // unknown identifier: fred answers nothing
  auto request = it->second;
  running_.erase(it);
  request->cancelled = true;
  node_->cancel_wait(request->token);
  if (request->is_get) {
    send(get_failed(25, identifier, false));  // no PersistentRequestRemoved for a connection get
  } else {
    fcp::Message failed("PutFailed");
    failed.set("Identifier", identifier);
    failed.set("CodeDescription", "Cancelled by user");
    failed.set("ShortCodeDescription", "Cancelled");
    failed.set("Fatal", true);
    failed.set("Code", std::int64_t{10});
    failed.set("Global", false);
    send(failed);
    send(removed);
  }
}

}  // namespace fcp::sim
