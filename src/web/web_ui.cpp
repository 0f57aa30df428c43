#include "web/web_ui.h"

#include "mail/ascii.h"


#include "web/control_files.h"

namespace fcpmail::web {
namespace {

using nlohmann::json;

constexpr std::string_view style = R"CSS(
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:.7em 1.2em;display:flex;gap:1em;align-items:center;flex-wrap:wrap}
header h1{font-size:1.2em;margin:0}
main{padding:1em 1.2em;max-width:1200px}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:.6em 1em;margin-bottom:1em}
h2{font-size:1.05em;margin:.3em 0 .6em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #eef0f3;vertical-align:top}
th{font-weight:600;color:#566}
code{font:13px ui-monospace,monospace;word-break:break-all}
button{font:inherit;padding:.2em .8em;border-radius:4px;border:1px solid #8894a8;background:#fff;cursor:pointer}
button.go{background:#1f7a3d;color:#fff;border-color:#1f7a3d}
button.stop{background:#a33;color:#fff;border-color:#a33}
.counts span{display:inline-block;margin-right:1.2em}
.counts b{font-size:1.2em}
.warn{color:#a33}
.muted{color:#778}
#flash{min-height:1.4em}
form.login{max-width:26em;margin:4em auto;background:#fff;padding:1.5em;border:1px solid #dde1e8;border-radius:6px}
form.login input{width:100%;box-sizing:border-box;padding:.4em;margin:.2em 0 .8em;font:inherit}
)CSS";

constexpr std::string_view script = R"JS(
const csrf = document.querySelector('meta[name=csrf]').content;
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'onclick') e.onclick = v; else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
function when(t) { return t ? new Date(t).toLocaleString() : ''; }
function table(id, heads, rows, empty) {
  const box = document.getElementById(id);
  box.replaceChildren();
  if (!rows.length) { box.append(el('p', {class: 'muted'}, empty)); return; }
  const t = el('table', {}, el('tr', {}, ...heads.map(h => el('th', {}, h))));
  for (const r of rows) t.append(el('tr', {}, ...r.map(c => el('td', {}, c))));
  box.append(t);
}
function flash(text, bad) {
  const f = document.getElementById('flash');
  f.textContent = text; f.className = bad ? 'warn' : 'muted';
}
let shownHeld = [];
async function act(path, body) {
  const r = await fetch('/ui/api/' + path, {method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify(body)});
  let j = {};
  try { j = await r.json(); } catch (e) {}
  flash(r.ok ? 'Done: ' + path.replace('/', ' ') : (j.error || ('failed: HTTP ' + r.status)), !r.ok);
  await load();
}
function render(s) {
  document.getElementById('address').textContent = s.account;
  document.getElementById('view-only').hidden = s.owner;
  const n = s.status.node;
  const node = document.getElementById('node');
  node.replaceChildren(n.connected
    ? el('span', {}, 'Connected to ' + (n.embedded ? 'the embedded node' : n.host + ':' + n.port) + ' (' + n.version + ')' +
         (n.connected_since ? ' since ' + when(n.connected_since) : ''))
    : el('span', {class: 'warn'}, 'Not connected to the node at ' + n.host + ':' + n.port));
  const warnings = document.getElementById('warnings');
  warnings.replaceChildren(...s.status.warnings.map(w => el('li', {class: 'warn'}, w.text,
    w.count > 1 ? el('span', {class: 'muted'}, ' (' + w.count + ' times, last ' + when(w.last) + ')') : '')));
  const c = s.status.counts;
  const counts = document.getElementById('counts');
  counts.replaceChildren(...[['held', c.held], ['awaiting CTS', c.awaiting_cts], ['awaiting ack', c.awaiting_ack],
    ['delivered', c.delivered], ['failed', c.failed], ['contact requests', c.contact_requests],
    ['channels', c.channels], ['FCP requests in flight', c.fcp_in_flight]].filter(([k, v]) => v !== undefined)
    .map(([k, v]) => el('span', {}, el('b', {}, v), ' ' + k)));
  table('requests', ['From', 'Nickname', 'Received', 'State', ''], s.requests.map(r => [
    el('code', {}, r.from), r.nickname, when(r.received), r.state,
    r.state === 'pending' && s.owner ? el('span', {},
      el('button', {class: 'go', id: 'approve-request-' + r.id, onclick: () => act('requests/approve', {id: r.id})}, 'Approve'), ' ',
      el('button', {class: 'stop', id: 'deny-request-' + r.id, onclick: () => act('requests/deny', {id: r.id})}, 'Deny')) : ''
  ]), 'No contact requests.');
  table('outbox', ['#', 'Subject', 'Submitted', 'Recipients', ''], s.outbox.map(m => {
    const held = s.owner && m.recipients.some(r => r.code === 'held');
    const open = s.owner && m.recipients.some(r => !['delivered', 'cancelled', 'failed'].includes(r.code));
    return [m.id, m.subject || '(no subject)', when(m.submitted),
      el('div', {}, ...m.recipients.map(r => el('div', {class: 'recipient', 'data-code': r.code},
        el('code', {}, r.recipient), ' — ', r.state,
        r.next_action ? el('span', {class: 'muted'}, ' (' + r.next_action_text + ' ' + when(r.next_action) + ')') : ''))),
      el('span', {},
        held ? el('button', {class: 'go', id: 'approve-' + m.id, onclick: () => act('outbox/approve', {id: m.id})}, 'Approve') : '', ' ',
        open ? el('button', {class: 'stop', id: 'cancel-' + m.id, onclick: () => act('outbox/cancel', {id: m.id})}, 'Cancel') : '')];
  }), 'The outbox is empty.');
  // Approve all releases exactly the messages shown here, not whatever a mail client submitted
  // since the page was drawn.
  shownHeld = s.owner ? s.outbox.filter(m => m.recipients.some(r => r.code === 'held')).map(m => m.id) : [];
  document.getElementById('approve-all').hidden = shownHeld.length === 0;
  table('rts', ['Date', 'Slot', 'Last result', 'Last poll', 'Next poll'], s.queues.rts.map(r =>
    [r.date, r.slot, r.last_result, when(r.last_poll), when(r.next_poll)]), 'No RTS keys are being polled.');
  table('channels', ['Peer', 'Role', 'State', 'Next send slot', 'Polled', 'Awaiting ack', 'Last fetch', 'Next retry'],
    s.queues.channels.map(ch => [el('code', {}, ch.peer), ch.role, ch.state, ch.next_send_slot, ch.polled_window,
      ch.awaiting_ack, when(ch.last_fetch), when(ch.next_retry)]), 'No channels yet.');
  document.getElementById('inflight-section').hidden = s.status.scope !== null;
  table('inflight', ['Kind', 'What', 'Age'], s.queues.in_flight.map(f => [f.kind, f.what, Math.round(f.age_seconds) + ' s']),
    'No FCP requests in flight.');
  document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}
async function load() {
  const r = await fetch('/ui/api/state', {credentials: 'same-origin'});
  if (r.status === 401) { location.reload(); return; }
  if (!r.ok) { flash('cannot load the state: HTTP ' + r.status, true); return; }
  render(await r.json());
}
document.getElementById('copy').onclick = async () => {
  const text = document.getElementById('address').textContent;
  try { await navigator.clipboard.writeText(text); flash('Address copied.'); }
  catch (e) {
    const r = document.createRange(); r.selectNodeContents(document.getElementById('address'));
    getSelection().removeAllRanges(); getSelection().addRange(r);
    flash(document.execCommand('copy') ? 'Address copied.' : 'Select the address and copy it.', false);
  }
};
document.getElementById('approve-all').onclick = async () => {
  const ids = shownHeld.slice();
  for (const id of ids.slice(0, -1))
    await fetch('/ui/api/outbox/approve', {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify({id})});
  if (ids.length) await act('outbox/approve', {id: ids[ids.length - 1]});
};
load();
setInterval(load, 5000);
)JS";

std::string page(std::string_view title, std::string_view csrf, std::string_view body, bool with_script) {
  std::string out = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                    "<meta name=\"csrf\" content=\"" + html_escape(csrf) + "\"><title>" + html_escape(title) +
                    "</title><style>" + std::string(style) + "</style></head><body>" + std::string(body);
  if (with_script) out += "<script>" + std::string(script) + "</script>";
  out += "</body></html>\n";
  return out;
}

HttpReply json_reply(int status, const json& body) {
  HttpReply reply;
  reply.status = status;
  reply.content_type = "application/json";
  reply.body = json_text(body);
  return reply;
}

// What a view-only session is told when it tries to act.
constexpr std::string_view owner_needed =
    "this session was opened with the mail password, which your mail client also holds, so it can only look; "
    "to approve or cancel mail or answer contact requests, run `fcpmail web login` on this machine and open "
    "the link it prints";

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::map<std::string, std::string> parse_form(std::string_view body) { return parse_query(body); }

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
  }
  return std::nullopt;
}

WebUi::WebUi(ControlApi& api, WebUiOptions options) : api_(api), options_(std::move(options)) {}

std::chrono::steady_clock::time_point WebUi::now() const {
  return options_.now ? options_.now() : std::chrono::steady_clock::now();
}

void WebUi::expire() {
  const auto t = now();
  std::erase_if(sessions_, [&](const auto& s) { return s.second.expires <= t; });
  std::erase_if(login_forms_, [&](const auto& f) { return f.second <= t; });
  std::erase_if(login_links_, [&](const PendingLink& l) { return l.expires <= t; });
}

WebUi::Session* WebUi::session_for(std::string_view cookie_header) {
  const auto id = cookie_value(cookie_header, cookie_name);
  if (!id) return nullptr;
  auto it = sessions_.find(*id);
  return it == sessions_.end() ? nullptr : &it->second;
}

std::variant<HttpReply, LoginAttempt> WebUi::handle(const HttpRequestView& request) {
  expire();
  const auto question = request.target.find('?');
  const std::string_view path = request.target.substr(0, question);
  Session* session = session_for(request.cookie);

  if (path == "/" && request.method == "GET") return session ? app_page(*session) : login_page("");
  if (path == "/login" && request.method == "POST") return login(request);
  if (path == "/login" && request.method == "GET")
    return redeem_login_link(question == std::string_view::npos ? std::string_view{} : request.target.substr(question + 1));
  if (path == "/logout" && request.method == "POST") return logout(request);
  if (path == "/ui/api/state" && request.method == "GET") {
    if (!session) return json_reply(401, {{"error", "log in first"}});
    return state(*session);
  }
  if (path.starts_with("/ui/api/") && request.method == "POST") {
    if (!session) return json_reply(401, {{"error", "log in first"}});
    const std::string_view action_path = path.substr(8);
    static constexpr std::string_view allowed[] = {"outbox/approve", "outbox/cancel", "requests/approve",
                                                   "requests/deny"};
    for (const auto a : allowed) {
      if (action_path == a) return action(request, *session, a);
    }
    return json_reply(404, {{"error", "no such action"}});
  }
  if (path == "/favicon.ico") {
    HttpReply reply;
    reply.status = 204;
    return reply;
  }
  HttpReply reply = login_page("");
  reply.status = 404;
  reply.body = page("fcpmail — not found", "", "<main><p>Nothing here. <a href=\"/\">Back to fcpmail</a></p></main>", false);
  return reply;
}

HttpReply WebUi::login_page(std::string_view message, int status) {
  if (login_forms_.size() > 1000) login_forms_.clear();  // someone is fetching forms in a loop
  const std::string token = random_hex(16);
  login_forms_[token] = now() + options_.login_form_lifetime;
  std::string body =
      "<form class=\"login\" method=\"post\" action=\"/login\"><h1>fcpmail</h1>"
      "<p class=\"muted\">Log in with your account's address and password (the same as for IMAP and SMTP) "
      "to <b>look</b>: that password is also in your mail client, so it cannot release mail. To approve mail "
      "or answer contact requests, run <code>fcpmail web login</code> on this machine and open the link it "
      "prints.</p>";
  if (!message.empty()) body += "<p class=\"warn\" id=\"login-error\">" + html_escape(message) + "</p>";
  body += "<label>Address<input name=\"user\" id=\"user\" autocomplete=\"username\" required></label>"
          "<label>Password<input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>"
          "<input type=\"hidden\" name=\"csrf\" value=\"" + token + "\">"
          "<button class=\"go\" id=\"login\" type=\"submit\">Log in</button></form>";
  HttpReply reply;
  reply.status = status;
  reply.body = page("fcpmail — log in", token, body, false);
  return reply;
}

std::variant<HttpReply, LoginAttempt> WebUi::login(const HttpRequestView& request) {
  auto form = parse_form(request.body);
  const auto csrf = form.find("csrf");
  auto known = csrf == form.end() ? login_forms_.end() : login_forms_.find(csrf->second);
  if (known == login_forms_.end()) return login_page("The login form expired or is not ours; please try again.", 403);
  login_forms_.erase(known);
  return LoginAttempt{std::move(form["user"]), std::move(form["password"])};
}

HttpReply WebUi::finish_login(const auth::LoginVerdict& verdict) {
  expire();
  if (verdict.locked_out)
    return login_page("Too many failed logins for this account; try again later.", 429);
  if (verdict.unavailable) return login_page("Too many logins at once; please try again in a moment.", 503);
  if (!verdict.account) return login_page("Wrong address or password.", 401);
  return start_session(*verdict.account, false);
}

HttpReply WebUi::start_session(const std::string& account, bool owner) {
  const auto t = now();
  if (sessions_.size() >= options_.max_sessions) {
    // Drop the session closest to expiry.
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it)
      if (it->second.expires < oldest->second.expires) oldest = it;
    sessions_.erase(oldest);
  }
  const std::string id = random_hex(32);
  sessions_[id] = Session{account, random_hex(32), t + options_.session_lifetime, owner};
  HttpReply reply;
  reply.status = 303;
  reply.headers.emplace_back("Location", "/");
  reply.headers.emplace_back("Set-Cookie", std::string(cookie_name) + "=" + id +
                                               "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                               std::to_string(options_.session_lifetime.count()));
  return reply;
}

std::expected<LoginLink, std::string> WebUi::mint_login_link(const std::optional<std::string>& account) {
  expire();
  const auto accounts = api_.control().accounts();
  std::string chosen;
  if (account && !account->empty()) {
    const std::string lower = ascii::to_lower(*account);  // addresses are canonical in lower case
    // The address, or its local part alone ("me") when only one account has it.
    int local_matches = 0;
    for (const auto& a : accounts) {
      if (a.address == lower) {
        chosen = a.address;
        local_matches = 1;
        break;
      }
      if (lower.find('@') == std::string::npos && a.address.starts_with(lower + "@")) {
        chosen = a.address;
        ++local_matches;
      }
    }
    if (local_matches != 1) chosen.clear();
    if (chosen.empty()) return std::unexpected("no account " + *account + "; see `fcpmail account list`");
  } else if (accounts.size() == 1) {
    chosen = accounts.front().address;
  } else if (accounts.empty()) {
    return std::unexpected(std::string("there is no account yet; create one with `fcpmail account create NAME`"));
  } else {
    return std::unexpected(std::string("there are several accounts; choose one with --account ADDRESS"));
  }
  if (login_links_.size() >= options_.max_login_links) login_links_.erase(login_links_.begin());
  PendingLink link{random_hex(16), chosen, now() + options_.login_link_lifetime};
  LoginLink out{chosen, "/login?once=" + link.token, options_.login_link_lifetime};
  login_links_.push_back(std::move(link));
  return out;
}

HttpReply WebUi::redeem_login_link(std::string_view query) {
  const auto params = parse_query(query);
  const auto once = params.find("once");
  // Every pending link is compared, each in constant time, and the scan does not stop at a match:
  // the time taken says nothing about how much of a guess was right.
  std::optional<std::size_t> match;
  if (once != params.end()) {
    for (std::size_t i = 0; i < login_links_.size(); ++i)
      if (secrets_equal(once->second, login_links_[i].token)) match = i;
  }
  if (!match) {
    HttpReply reply = login_page(
        "This login link is unknown, already used or expired; run `fcpmail web login` for a new one.", 403);
    return reply;
  }
  const std::string account = login_links_[*match].account;
  login_links_.erase(login_links_.begin() + static_cast<std::ptrdiff_t>(*match));  // single use
  return start_session(account, true);
}

HttpReply WebUi::logout(const HttpRequestView& request) {
  Session* session = session_for(request.cookie);
  const auto form = parse_form(request.body);
  const auto csrf = form.find("csrf");
  if (session && (csrf == form.end() || !secrets_equal(csrf->second, session->csrf))) {
    return json_reply(403, {{"error", "missing or wrong CSRF token"}});
  }
  if (session) sessions_.erase(*cookie_value(request.cookie, cookie_name));
  HttpReply reply;
  reply.status = 303;
  reply.headers.emplace_back("Location", "/");
  reply.headers.emplace_back("Set-Cookie", std::string(cookie_name) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
  return reply;
}

HttpReply WebUi::app_page(const Session& session) {
  const std::string body =
      "<header><h1>fcpmail</h1><span>Your address: <code id=\"address\">" + html_escape(session.account) +
      "</code></span><button id=\"copy\" type=\"button\">Copy</button>"
      "<form method=\"post\" action=\"/logout\" style=\"margin-left:auto\"><input type=\"hidden\" name=\"csrf\" value=\"" +
      session.csrf + "\"><button type=\"submit\">Log out</button></form></header><main>"
      "<div id=\"flash\"></div>"
      "<p class=\"warn\" id=\"view-only\"" + std::string(session.owner ? " hidden" : "") +
      ">View only: you logged in with the mail password, which your mail client also holds. To approve or "
      "cancel mail or answer contact requests, run <code>fcpmail web login</code> and open the link it prints.</p>"
      "<section><h2>Status <small class=\"muted\" id=\"updated\"></small></h2><p id=\"node\"></p>"
      "<ul id=\"warnings\"></ul><p class=\"counts\" id=\"counts\"></p></section>"
      "<section><h2>Outbox <button id=\"approve-all\" class=\"go\" type=\"button\" hidden>Approve all</button></h2>"
      "<div id=\"outbox\"></div></section>"
      "<section><h2>Contact requests</h2><div id=\"requests\"></div></section>"
      "<section><h2>RTS keys polled</h2><div id=\"rts\"></div></section>"
      "<section><h2>Channels</h2><div id=\"channels\"></div></section>"
      "<section id=\"inflight-section\"><h2>FCP requests in flight</h2><div id=\"inflight\"></div></section>"
      "</main>";
  HttpReply reply;
  reply.body = page("fcpmail — " + session.account, session.csrf, body, true);
  return reply;
}

HttpReply WebUi::state(const Session& session) {
  json out = {{"account", session.account}, {"owner", session.owner}};
  const std::optional<std::string> scope = session.account;
  for (const auto& [key, target] : {std::pair{"status", "/api/status"}, std::pair{"queues", "/api/queues"},
                                    std::pair{"requests", "/api/requests"}, std::pair{"outbox", "/api/outbox"}}) {
    auto r = api_.handle("GET", target, "", scope);
    if (r.status != 200) return json_reply(r.status, r.body);
    out[key] = (r.body.is_object() && r.body.contains(key) && r.body.size() == 1) ? r.body[key] : r.body;
  }
  return json_reply(200, out);
}

HttpReply WebUi::action(const HttpRequestView& request, Session& session, std::string_view api_path) {
  if (request.csrf_header.empty() || !secrets_equal(request.csrf_header, session.csrf)) {
    return json_reply(403, {{"error", "missing or wrong CSRF token; reload the page"}});
  }
  if (!session.owner) return json_reply(403, {{"error", owner_needed}});
  auto r = api_.handle("POST", "/api/" + std::string(api_path), request.body, session.account);
  return json_reply(r.status, r.body);
}

}  // namespace fcpmail::web
