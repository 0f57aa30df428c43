#include "web/control_api.h"
#include "crypto/base64.h"
#include "mail/ascii.h"


#include <charconv>

namespace fcpmail::web {
namespace {

using nlohmann::json;

ApiResponse error(int status, std::string sentence) { return {status, json{{"error", std::move(sentence)}}}; }

template <class T>
ApiResponse result_or_error(const engine::Result<T>& r, int failure_status = 400) {
  if (!r) return error(failure_status, r.error());
  return {200, json(*r)};
}

std::optional<std::int64_t> parse_id(std::string_view text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id < 0) return std::nullopt;
  return id;
}

// An id given as a JSON number or a decimal string.
std::optional<std::int64_t> id_field(const json& body, const char* key = "id") {
  if (!body.is_object() || !body.contains(key)) return std::nullopt;
  const auto& v = body[key];
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) return parse_id(v.get<std::string>());
  return std::nullopt;
}

std::optional<std::string> string_field(const json& body, const char* key) {
  if (!body.is_object() || !body.contains(key) || !body[key].is_string()) return std::nullopt;
  return body[key].get<std::string>();
}

bool same_account(const std::string& a, const std::string& b) {
  return ascii::iequals(a, b);
}

// Where a long operation's progress and outcome go: the job table entry `id`. Held by the
// operation's `done` callback; the progress callback carries only a plain pointer to it (small and
// trivially copyable, see the account creation route for why), and progress is only reported
// before `done`.
struct JobSink {
  std::weak_ptr<ControlApi::Jobs> jobs;
  std::int64_t id;
  void progress(std::string_view stage, std::string_view detail) const {
    if (auto table = jobs.lock()) (*table)[id].progress.emplace_back(stage, detail);
  }
  void finish(json result) const {
    if (auto table = jobs.lock()) {
      (*table)[id].done = true;
      (*table)[id].result = std::move(result);
    }
  }
  void fail(std::string why) const {
    if (auto table = jobs.lock()) {
      (*table)[id].done = true;
      (*table)[id].error = std::move(why);
    }
  }
};

std::pair<engine::Progress, std::shared_ptr<JobSink>> job_sink(const std::shared_ptr<ControlApi::Jobs>& jobs,
                                                               std::int64_t id) {
  auto sink = std::make_shared<JobSink>(JobSink{jobs, id});
  const JobSink* raw = sink.get();
  return {[raw](std::string_view stage, std::string_view detail) { raw->progress(stage, detail); }, sink};
}

}  // namespace

std::string json_text(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int v = 0;
      const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, v, 16);
      if (ec != std::errc{} || end != text.data() + i + 3) return std::nullopt;
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    auto key = url_decode(pair.substr(0, eq));
    auto value = url_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (key && value && !key->empty()) out[*key] = *value;
  }
  return out;
}

ControlApi::ControlApi(engine::Control& control) : control_(control), jobs_(std::make_shared<Jobs>()) {}

ApiResponse ControlApi::handle(std::string_view method, std::string_view target, std::string_view body,
                               const std::optional<std::string>& scope) {
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const auto query = parse_query(question == std::string_view::npos ? std::string_view{} : target.substr(question + 1));
  json parsed = json::object();
  if (method == "POST" && !body.empty()) {
    parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return error(400, "the request body is not a JSON object");
  }
  return route(method, path, query, parsed, scope);
}

ApiResponse ControlApi::route(std::string_view method, std::string_view path,
                              const std::map<std::string, std::string>& query, const json& body,
                              const std::optional<std::string>& scope) {
  const bool get = method == "GET";
  const bool post = method == "POST";
  // The account a list is about: the scope, else ?account=, else all.
  std::optional<std::string> account = scope;
  if (!account) {
    if (auto it = query.find("account"); it != query.end() && !it->second.empty()) account = it->second;
  }
  auto outside_scope = [&](const std::string& owner) { return scope && !same_account(owner, *scope); };

  if (path == "/api/status" && get) {
    auto status = control_.status(account);
    if (scope) {
      std::erase_if(status.accounts, [&](const auto& a) { return !same_account(a.address, *scope); });
    }
    return {200, json(status)};
  }
  if (path == "/api/queues" && get) {
    auto queues = control_.queues();
    if (account) {
      std::erase_if(queues.rts, [&](const auto& r) { return !same_account(r.account, *account); });
      std::erase_if(queues.channels, [&](const auto& c) { return !same_account(c.account, *account); });
    }
    // FCP requests carry no account, and what they fetch names other accounts' peers.
    if (scope) queues.in_flight.clear();
    return {200, json(queues)};
  }
  if (path == "/api/accounts" && get) {
    auto accounts = control_.accounts();
    if (scope) std::erase_if(accounts, [&](const auto& a) { return !same_account(a.address, *scope); });
    return {200, json{{"accounts", accounts}}};
  }
  if (path == "/api/accounts" && post) {
    if (scope) return error(403, "accounts are created with the fcpmail CLI");
    engine::AccountCreateRequest request;
    auto nickname = string_field(body, "nickname");
    if (!nickname || nickname->empty()) return error(400, "give the account a nickname");
    request.nickname = *nickname;
    request.identity = string_field(body, "identity");
    request.password = string_field(body, "password");
    request.rsa_key_file = string_field(body, "rsa_key_file");
    const std::int64_t id = next_job_++;
    (*jobs_)[id] = Job{};
    // The progress sink lives as long as the `done` callback (the engine holds that until the
    // operation ends, and progress is only reported before it). The progress callback itself
    // carries only a plain pointer, so it is small and trivially copyable: copying or destroying
    // it never touches the heap (robust even against a caller that destroys a copy twice, as
    // g++ 12 coroutines can with a temporary argument).
    struct Sink {
      std::weak_ptr<Jobs> jobs;
      std::int64_t id;
      void progress(std::string_view stage, std::string_view detail) const {
        if (auto table = jobs.lock()) (*table)[id].progress.emplace_back(stage, detail);
      }
    };
    auto sink = std::make_shared<Sink>(Sink{jobs_, id});
    const Sink* sink_ptr = sink.get();
    control_.create_account(
        std::move(request),
        [sink_ptr](std::string_view stage, std::string_view detail) { sink_ptr->progress(stage, detail); },
        [sink](engine::Result<engine::AccountCreated> result) {
          auto table = sink->jobs.lock();
          if (!table) return;
          auto& job = (*table)[sink->id];
          job.done = true;
          if (result) job.result = json(*result);
          else job.error = result.error();
        });
    return {202, json{{"job", id}}};
  }
  if (path == "/api/accounts/export" && post) {
    // Not from the web UI: it cannot follow jobs, and each export costs a large scrypt run.
    if (scope) return error(403, "accounts are exported with the fcpmail CLI");
    auto target_account = string_field(body, "account");
    auto passphrase = string_field(body, "passphrase");
    if (!target_account || target_account->empty()) return error(400, "give the account to export");
    if (!passphrase || passphrase->size() < 8)
      return error(400, "give a passphrase of at least 8 characters; the export file is encrypted with it");
    const std::int64_t id = next_job_++;
    (*jobs_)[id] = Job{};
    auto [progress, sink] = job_sink(jobs_, id);
    const std::string account_name = *target_account;
    control_.export_account(*target_account, *passphrase, progress,
                            [sink, account_name](engine::Result<std::string> file) {
                              if (file)
                                sink->finish(json{{"account", account_name},
                                                  {"file_base64", crypto::base64_encode(*file)},
                                                  {"bytes", file->size()}});
                              else
                                sink->fail(file.error());
                            });
    return {202, json{{"job", id}}};
  }
  if (path == "/api/accounts/import" && post) {
    if (scope) return error(403, "accounts are imported with the fcpmail CLI");
    auto encoded = string_field(body, "file_base64");
    auto passphrase = string_field(body, "passphrase");
    if (!encoded || !passphrase) return error(400, "give file_base64 (the export file in base64) and passphrase");
    auto file = crypto::base64_decode(*encoded);
    if (!file) return error(400, "file_base64 is not valid base64");
    const std::int64_t id = next_job_++;
    (*jobs_)[id] = Job{};
    auto [progress, sink] = job_sink(jobs_, id);
    control_.import_account(std::move(*file), *passphrase, progress,
                            [sink](engine::Result<engine::AccountSummary> account) {
                              if (account) sink->finish(json(*account));
                              else sink->fail(account.error());
                            });
    return {202, json{{"job", id}}};
  }
  if (path.starts_with("/api/jobs/") && get) {
    if (scope) return error(403, "not available in the web UI");
    const auto id = parse_id(path.substr(10));
    if (!id || !jobs_->contains(*id)) return error(404, "no such job");
    const Job& job = jobs_->at(*id);
    json progress = json::array();
    for (const auto& [stage, detail] : job.progress) progress.push_back({{"stage", stage}, {"detail", detail}});
    json out = {{"id", *id}, {"done", job.done}, {"progress", progress},
                {"result", job.done && job.error.empty() ? job.result : json(nullptr)},
                {"error", job.error.empty() ? json(nullptr) : json(job.error)}};
    // A finished job is reported once more and then forgotten: it may hold a generated password.
    if (job.done) jobs_->erase(*id);
    return {200, out};
  }
  if (path == "/api/contacts" && get) {
    auto contacts = control_.contacts(account);
    if (!contacts) return error(400, contacts.error());
    return {200, json{{"contacts", *contacts}}};
  }
  if (path == "/api/contacts" && post) {
    auto target_account = scope ? scope : string_field(body, "account");
    auto address = string_field(body, "address");
    if (!target_account || !address) return error(400, "give the account and the contact's address");
    return result_or_error(control_.add_contact(*target_account, *address, string_field(body, "petname").value_or("")));
  }
  if ((path == "/api/contacts/remove" || path == "/api/contacts/revoke") && post) {
    auto target_account = scope ? scope : string_field(body, "account");
    auto contact = string_field(body, "contact");
    if (!target_account || !contact) return error(400, "give the account and the contact");
    const auto r = path.ends_with("remove") ? control_.remove_contact(*target_account, *contact)
                                            : control_.revoke_contact(*target_account, *contact);
    if (!r) return error(400, r.error());
    return {200, json{{"ok", true}}};
  }
  if (path == "/api/requests" && get) {
    auto requests = control_.requests(account);
    if (!requests) return error(400, requests.error());
    return {200, json{{"requests", *requests}}};
  }
  if ((path == "/api/requests/approve" || path == "/api/requests/deny") && post) {
    const auto id = id_field(body);
    if (!id) return error(400, "give the request id");
    if (scope) {
      auto mine = control_.requests(scope);
      if (!mine || std::none_of(mine->begin(), mine->end(), [&](const auto& r) { return r.id == *id; }))
        return error(404, "no contact request " + std::to_string(*id) + " for this account");
    }
    return result_or_error(path.ends_with("approve") ? control_.approve_request(*id) : control_.deny_request(*id));
  }
  if (path == "/api/outbox" && get) {
    auto outbox = control_.outbox(account);
    if (!outbox) return error(400, outbox.error());
    return {200, json{{"outbox", *outbox}}};
  }
  if (path.starts_with("/api/outbox/") && get) {
    const auto id = parse_id(path.substr(12));
    if (!id) return error(404, "no such outbox message");
    auto detail = control_.outbox_show(*id);
    if (!detail) return error(404, detail.error());
    if (outside_scope(detail->entry.account)) return error(404, "no outbox message " + std::to_string(*id));
    return {200, json(*detail)};
  }
  if ((path == "/api/outbox/approve" || path == "/api/outbox/cancel") && post) {
    const bool approve = path.ends_with("approve");
    if (approve && body.is_object() && body.value("all", false)) {
      auto target_account = scope ? scope : string_field(body, "account");
      auto released = control_.outbox_approve_all(target_account);
      if (!released) return error(400, released.error());
      return {200, json{{"released", *released}}};
    }
    const auto id = id_field(body);
    if (!id) return error(400, "give the outbox id (or all: true)");
    if (scope) {
      auto detail = control_.outbox_show(*id);
      if (!detail || outside_scope(detail->entry.account))
        return error(404, "no outbox message " + std::to_string(*id) + " for this account");
    }
    return result_or_error(approve ? control_.outbox_approve(*id) : control_.outbox_cancel(*id));
  }
  if (path == "/api/send" && post) {
    auto from = scope ? scope : string_field(body, "from");
    auto rfc822 = string_field(body, "rfc822");
    if (auto encoded = string_field(body, "rfc822_base64")) {
      rfc822 = crypto::base64_decode(*encoded);
      if (!rfc822) return error(400, "rfc822_base64 is not valid base64");
    }
    if (!from || !rfc822 || !body.contains("to") || !body["to"].is_array() || body["to"].empty())
      return error(400, "give from, to (a list) and rfc822");
    std::vector<std::string> to;
    for (const auto& r : body["to"]) {
      if (!r.is_string()) return error(400, "every recipient must be a string");
      to.push_back(r.get<std::string>());
    }
    auto id = control_.send(*from, to, *rfc822);
    if (!id) return error(400, id.error());
    return {200, json{{"id", *id}}};
  }
  static const char* known[] = {"/api/status", "/api/queues", "/api/accounts", "/api/contacts", "/api/requests",
                                "/api/outbox", "/api/send", "/api/jobs"};
  for (const char* k : known) {
    if (path == k || path.starts_with(std::string(k) + "/"))
      return error(405, std::string(method.substr(0, 10)) + " is not allowed on " + std::string(path.substr(0, 100)));
  }
  return error(404, "no such API route: " + std::string(method) + " " + std::string(path.substr(0, 100)));
}

}  // namespace fcpmail::web
