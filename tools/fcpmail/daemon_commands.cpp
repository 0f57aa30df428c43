// The daemon-facing commands of the fcpmail CLI: status, account, contacts, requests, outbox,
// queues, send. Each talks to the running fcpmaild through its control API (daemon_client.h) and
// prints either readable text or, with --json, the API's JSON.
#include <fcntl.h>
#include "crypto/base64.h"
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "commands.h"
#include "daemon_client.h"
#include "web/control_api.h"

namespace fcpmail::cli {
namespace {

using nlohmann::json;

// ---- arguments -----------------------------------------------------------------------------------

struct Parsed {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> options;
  std::set<std::string> flags;

  bool flag(const std::string& f) const { return flags.contains(f); }
  std::string option(const std::string& o, const std::string& fallback = "") const {
    auto it = options.find(o);
    return it == options.end() || it->second.empty() ? fallback : it->second.back();
  }
  std::vector<std::string> all(const std::string& o) const {
    auto it = options.find(o);
    return it == options.end() ? std::vector<std::string>{} : it->second;
  }
};

const std::set<std::string> value_options = {"--data-dir", "--account", "--petname", "--identity", "--from",
                                             "--to",       "--file",    "--out",     "--rsa-key", "--passphrase-file"};
const std::set<std::string> flag_options = {"--json", "--all", "--password-stdin", "--passphrase-stdin", "--help", "-h"};

std::expected<Parsed, std::string> parse(const Args& args) {
  Parsed p;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--") {
      p.positional.insert(p.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a.starts_with("-") && a.size() > 1) {
      std::string value;
      bool has_value = false;
      if (const auto eq = a.find('='); eq != std::string::npos && a.starts_with("--")) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_value = true;
      }
      if (flag_options.contains(a)) {
        if (has_value) return std::unexpected(a + " takes no value");
        p.flags.insert(a == "-h" ? "--help" : a);
      } else if (value_options.contains(a)) {
        if (!has_value) {
          if (i + 1 >= args.size()) return std::unexpected(a + " needs a value");
          value = args[++i];
        }
        p.options[a].push_back(value);
      } else {
        return std::unexpected("unknown option " + a);
      }
      continue;
    }
    p.positional.push_back(a);
  }
  return p;
}

// ---- output helpers ------------------------------------------------------------------------------

std::string str(const json& j, const char* key, const std::string& fallback = "") {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump();
}

long long num(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return 0;
  return j[key].get<long long>();
}

std::optional<std::time_t> parse_iso(const std::string& s) {
  std::tm tm{};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

std::string relative(long long seconds) {
  if (seconds == 0) return "now";  // "in 0 s" read as the future for something that just happened
  const long long a = seconds < 0 ? -seconds : seconds;
  std::string amount;
  if (a < 60) amount = std::to_string(a) + " s";
  else if (a < 3600) amount = std::to_string(a / 60) + " min";
  else if (a < 86400 * 2) amount = std::to_string(a / 3600) + " h " + std::to_string(a % 3600 / 60) + " min";
  else amount = std::to_string(a / 86400) + " days";
  return seconds >= 0 ? "in " + amount : amount + " ago";
}

// "2026-11-27 14:02:11 UTC (in 4 min)", or `none` for null.
std::string when(const json& j, const char* key, const std::string& none = "-") {
  const std::string s = str(j, key);
  if (s.empty()) return none;
  const auto t = parse_iso(s);
  if (!t) return s;
  std::string out = s.substr(0, 10) + " " + s.substr(11, 8) + " UTC";
  return out + " (" + relative(static_cast<long long>(*t - std::time(nullptr))) + ")";
}

// Only the relative time: "in 4 min", "2 s ago", or `none`.
std::string ago(const json& j, const char* key, const std::string& none = "-") {
  const auto t = parse_iso(str(j, key));
  if (!t) return none;
  return relative(static_cast<long long>(*t - std::time(nullptr)));
}

std::string plural(long long n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void print_json(const json& j) { std::cout << web::json_text(j, 2) << '\n'; }

// Text from a stored mail (a Subject, a header block) made safe for a terminal: control bytes
// (an escape sequence could rewrite the screen) and NUL become '?'; newlines stay when asked.
std::string printable(std::string text, bool keep_newlines = false) {
  for (auto& c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && !(keep_newlines && (c == '\n' || c == '\r' || c == '\t'))) || u == 0x7f) c = '?';
  }
  return text;
}

int fail(const ApiFailure& f) {
  std::cerr << "fcpmail: " << f.message << '\n';
  return 1;
}

int usage_error(const std::string& group, const std::string& why, const std::string& usage) {
  std::cerr << "fcpmail " << group << ": " << why << "\nusage: " << usage << '\n';
  return 2;
}

std::expected<std::string, std::string> read_file(const std::string& path) {
  if (path == "-") {
    std::ostringstream s;
    s << std::cin.rdbuf();
    return s.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The account a command is about: --account, else the only account the daemon has.
std::expected<std::string, std::string> pick_account(const DaemonClient& client, const Parsed& p) {
  if (auto a = p.option("--account"); !a.empty()) return a;
  auto accounts = client.get("/api/accounts");
  if (!accounts) return std::unexpected(accounts.error().message);
  const auto& list = (*accounts)["accounts"];
  if (list.size() == 1) return str(list[0], "address");
  if (list.empty()) return std::unexpected(std::string("there is no account yet; create one with `fcpmail account create NAME`"));
  return std::unexpected(std::string("there are several accounts; choose one with --account ADDRESS"));
}

// ---- status --------------------------------------------------------------------------------------

int status(const DaemonClient& client, const Parsed& p) {
  auto s = client.get("/api/status");
  if (!s) return fail(s.error());
  if (p.flag("--json")) return print_json(*s), 0;
  const json& n = (*s)["node"];
  std::cout << "fcpmail " << str(*s, "version") << ", daemon at " << client.address() << "\n\n";
  std::cout << "Node:     ";
  const std::string where = n.value("embedded", false) ? "embedded simulated node" : "node";
  if (n.value("connected", false)) {
    std::cout << "connected to the " << where << " at " << str(n, "host") << ":" << num(n, "port") << " ("
              << str(n, "version") << ") since " << when(n, "connected_since") << "\n";
  } else {
    std::cout << "NOT connected to the " << where << " at " << str(n, "host") << ":" << num(n, "port") << "\n";
  }
  std::cout << "WoT:      " << (n.value("wot_available", false) ? "WebOfTrust answers" : "WebOfTrust is not available")
            << "\n";
  std::cout << "FCP:      " << plural(num(*s, "fcp_requests_total"), "request", "requests") << " sent since start\n\n";
  const auto& accounts = (*s)["accounts"];
  std::cout << "Accounts (" << accounts.size() << "):\n";
  if (accounts.empty()) std::cout << "  none yet; create one with `fcpmail account create NAME`\n";
  for (const auto& a : accounts) {
    std::cout << "  " << str(a, "address") << "\n    " << str(a, "state");
    if (num(a, "mailsite_edition") > 0) std::cout << ", mailsite edition " << num(a, "mailsite_edition");
    std::cout << ", next republish " << when(a, "next_republish") << "\n";
  }
  const auto& c = (*s)["counts"];
  std::cout << "\nQueues:   " << num(c, "held") << " held, " << num(c, "awaiting_cts") << " awaiting CTS, "
            << num(c, "awaiting_ack") << " awaiting ack, " << num(c, "delivered") << " delivered, " << num(c, "failed")
            << " failed\n";
  std::cout << "          " << plural(num(c, "contact_requests"), "contact request", "contact requests") << ", "
            << plural(num(c, "channels"), "channel", "channels") << ", "
            << plural(num(c, "fcp_in_flight"), "FCP request", "FCP requests") << " in flight\n";
  if (num(c, "held") > 0) std::cout << "          release held mail with `fcpmail outbox approve ID` (see `fcpmail outbox list`)\n";
  if (num(c, "contact_requests") > 0) std::cout << "          answer requests with `fcpmail requests list`\n";
  const auto& warnings = (*s)["warnings"];
  if (!warnings.empty()) {
    std::cout << "\nWarnings:\n";
    for (const auto& w : warnings) {
      std::cout << "  ! " << printable(str(w, "text"));
      if (num(w, "count") > 1) std::cout << " (" << num(w, "count") << " times, last " << when(w, "last") << ")";
      std::cout << "\n";
    }
  }
  return 0;
}

// ---- account -------------------------------------------------------------------------------------

constexpr const char* account_usage =
    "fcpmail account create NAME [--identity WOT_ID] [--password-stdin] [--rsa-key FILE]\n"
    "       fcpmail account list\n"
    "       fcpmail account export ADDRESS --out FILE [--passphrase-file F | --passphrase-stdin]\n"
    "       fcpmail account import FILE [--passphrase-file F | --passphrase-stdin]\n"
    "\n"
    "export writes ONE file (mode 0600), encrypted with a passphrase (scrypt + AES-256-GCM): the\n"
    "account's WebOfTrust identity (insert and request URIs), Freemail RSA key, mailsite edition,\n"
    "password hash, contacts (petnames, accepted/revoked/denied), pending contact requests, channels\n"
    "(keys, slot positions), unfinished sends and acks owed. It moves the identity, NOT the mailbox:\n"
    "mail already in your IMAP folders is not in the file (copy it with your mail client first).\n"
    "Stop the old daemon after exporting. import refuses an account this data dir already has; on a\n"
    "node whose WebOfTrust lacks the identity it restores it from the insert URI, then republishes\n"
    "the mailsite. The passphrase is read from --passphrase-file (first line), --passphrase-stdin, or\n"
    "asked on the terminal (export asks twice); export needs at least 8 characters.";

std::string read_secret_line(const std::string& what) {
  if (isatty(STDIN_FILENO)) std::cerr << what << ": " << std::flush;
  std::string line;
  std::getline(std::cin, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// The export passphrase: --passphrase-file F (its first line), --passphrase-stdin, or asked on the
// terminal without echo (twice when `confirm`). Never taken from the command line (ps shows it).
std::expected<std::string, std::string> read_passphrase(const Parsed& p, bool confirm) {
  std::string passphrase;
  if (auto path = p.option("--passphrase-file"); !path.empty()) {
    std::ifstream in(path);
    if (!in) return std::unexpected("cannot read the passphrase file " + path);
    std::getline(in, passphrase);
  } else if (p.flag("--passphrase-stdin") || !isatty(STDIN_FILENO)) {
    if (!p.flag("--passphrase-stdin"))
      return std::unexpected(std::string("no terminal to ask the passphrase on; use --passphrase-file F or --passphrase-stdin"));
    std::getline(std::cin, passphrase);
  } else {
    auto ask = [](const char* prompt) {
      termios old{};
      tcgetattr(STDIN_FILENO, &old);
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
      std::cerr << prompt << std::flush;
      std::string line;
      std::getline(std::cin, line);
      tcsetattr(STDIN_FILENO, TCSANOW, &old);
      std::cerr << "\n";
      return line;
    };
    passphrase = ask(confirm ? "passphrase for the export file: " : "passphrase of the export file: ");
    if (confirm && ask("the same passphrase again: ") != passphrase)
      return std::unexpected(std::string("the two passphrases differ"));
  }
  if (!passphrase.empty() && passphrase.back() == '\r') passphrase.pop_back();
  if (passphrase.empty()) return std::unexpected(std::string("the passphrase is empty"));
  if (confirm && passphrase.size() < 8) return std::unexpected(std::string("choose a passphrase of at least 8 characters"));
  return passphrase;
}

// Writes `bytes` to `path` readable by the owner only: a 0600 temporary file beside it, then
// renamed over it, so a reader never sees half a file and the mode is never wider.
std::expected<void, std::string> write_private_file(const std::string& path, const std::string& bytes) {
  const std::string partial = path + ".partial";
  // A stale partial from an interrupted run is removed, then the name is created afresh and never
  // followed: a symlink planted there (say in /tmp) cannot redirect the write.
  ::unlink(partial.c_str());
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected("cannot write " + path + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      ::unlink(partial.c_str());
      return std::unexpected("cannot write " + path + ": " + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || ::rename(partial.c_str(), path.c_str()) != 0) {
    ::unlink(partial.c_str());
    return std::unexpected("cannot write " + path + ": " + std::strerror(errno));
  }
  return {};
}

// Polls a job and prints each new stage with the time since the start; returns the final job.
std::expected<json, ApiFailure> follow_job(const DaemonClient& client, long long id, bool quiet) {
  const auto start = std::chrono::steady_clock::now();
  std::size_t shown = 0;
  for (;;) {
    auto job = client.get("/api/jobs/" + std::to_string(id));
    if (!job) return job;
    const auto& progress = (*job)["progress"];
    for (; shown < progress.size(); ++shown) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!quiet) {
        char elapsed[32];
        std::snprintf(elapsed, sizeof elapsed, "%6.1fs", seconds);
        std::cerr << "  " << elapsed << "  " << str(progress[shown], "stage") << ": " << str(progress[shown], "detail")
                  << "\n";
      }
    }
    if ((*job)["done"].get<bool>()) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int account(const DaemonClient& client, const Parsed& p) {
  const std::string sub = p.positional.empty() ? "" : p.positional[0];
  const bool as_json = p.flag("--json");
  if (sub == "list") {
    auto r = client.get("/api/accounts");
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    const auto& list = (*r)["accounts"];
    if (list.empty()) std::cout << "No accounts yet; create one with `fcpmail account create NAME`.\n";
    for (const auto& a : list) {
      std::cout << str(a, "address") << "\n  nickname " << str(a, "nickname") << ", " << str(a, "state");
      if (num(a, "mailsite_edition") > 0)
        std::cout << ", mailsite edition " << num(a, "mailsite_edition") << " published " << when(a, "mailsite_published");
      std::cout << "\n";
    }
    return 0;
  }
  if (sub == "create") {
    if (p.positional.size() != 2) return usage_error("account", "give the account's name", account_usage);
    json body = {{"nickname", p.positional[1]}};
    if (auto id = p.option("--identity"); !id.empty()) body["identity"] = id;
    if (auto key = p.option("--rsa-key"); !key.empty()) body["rsa_key_file"] = key;
    if (p.flag("--password-stdin")) {
      const std::string password = read_secret_line("password");
      if (password.empty()) return usage_error("account", "the password on stdin is empty", account_usage);
      body["password"] = password;
    }
    auto started = client.post("/api/accounts", body);
    if (!started) return fail(started.error());
    if (!as_json) std::cerr << "Creating account " << p.positional[1] << " (this can take a minute):\n";
    auto job = follow_job(client, num(*started, "job"), as_json);
    if (!job) return fail(job.error());
    if (!(*job)["error"].is_null()) return fail({500, "account creation failed: " + str(*job, "error")});
    const json& result = (*job)["result"];
    if (as_json) return print_json(result), 0;
    const json& a = result["account"];
    std::cout << "\nYour address: " << str(a, "address") << "\n\n";
    std::cout << "Mail client settings (user name = the address above):\n";
    std::cout << "  IMAP  " << str(result["imap"], "host") << " port " << num(result["imap"], "port")
              << ", no encryption (loopback only), password authentication\n";
    std::cout << "  SMTP  " << str(result["smtp"], "host") << " port " << num(result["smtp"], "port")
              << ", no encryption (loopback only), AUTH PLAIN or LOGIN\n";
    if (result.value("password_generated", false)) {
      std::cout << "  Password: " << str(result, "password") << "\n"
                << "  (generated for you and shown only this once: write it down)\n";
    } else {
      std::cout << "  Password: the one you gave\n";
    }
    std::cout << "\nNext: give your address to a friend, add theirs with `fcpmail contacts add ADDRESS --petname NAME`.\n";
    return 0;
  }
  if (sub == "export") {
    if (p.positional.size() != 2 || p.option("--out").empty())
      return usage_error("account", "give the account and --out FILE", account_usage);
    const std::string out_path = p.option("--out");
    auto passphrase = read_passphrase(p, true);
    if (!passphrase) return usage_error("account", passphrase.error(), account_usage);
    auto r = client.post("/api/accounts/export", {{"account", p.positional[1]}, {"passphrase", *passphrase}});
    if (!r) return fail(r.error());
    if (!as_json) std::cerr << "Exporting " << p.positional[1] << ":\n";
    auto job = follow_job(client, num(*r, "job"), as_json);
    if (!job) return fail(job.error());
    if (!(*job)["error"].is_null()) return fail({500, "export failed: " + str(*job, "error")});
    const json& result = (*job)["result"];
    auto file = fcpmail::crypto::base64_decode(str(result, "file_base64"));
    if (!file) return fail({0, "the daemon sent an unreadable export file"});
    if (auto written = write_private_file(out_path, *file); !written) return fail({0, written.error()});
    if (as_json)
      return print_json({{"account", str(result, "account")}, {"file", out_path}, {"bytes", file->size()}}), 0;
    std::cout << "Exported " << str(result, "account") << " to " << out_path << " (" << file->size()
              << " bytes, mode 0600, encrypted with your passphrase).\n"
              << "It holds the identity, keys, password, contacts, contact requests, channels and unfinished\n"
              << "sends. Mail already in your folders is NOT in it: keep a copy with your mail client.\n"
              << "Stop this daemon before you import the file elsewhere (two daemons polling one account\n"
              << "would race for its mail).\n";
    return 0;
  }
  if (sub == "import") {
    if (p.positional.size() != 2) return usage_error("account", "give the export file", account_usage);
    auto file = read_file(p.positional[1]);
    if (!file) return fail({0, file.error()});
    auto passphrase = read_passphrase(p, false);
    if (!passphrase) return usage_error("account", passphrase.error(), account_usage);
    auto r = client.post("/api/accounts/import", {{"file_base64", fcpmail::crypto::base64_encode(*file)}, {"passphrase", *passphrase}});
    if (!r) return fail(r.error());
    if (!as_json) std::cerr << "Importing " << p.positional[1] << ":\n";
    auto job = follow_job(client, num(*r, "job"), as_json);
    if (!job) return fail(job.error());
    if (!(*job)["error"].is_null()) return fail({500, "import failed: " + str(*job, "error")});
    const json& a = (*job)["result"];
    if (as_json) return print_json(a), 0;
    std::cout << "Imported " << str(a, "address") << " (" << str(a, "state");
    if (num(a, "mailsite_edition") > 0) std::cout << ", mailsite edition " << num(a, "mailsite_edition");
    std::cout << ").\nLog in over IMAP and SMTP with the account's existing password; `fcpmail status` shows\n"
              << "the ports. Mail from the old machine's folders was not part of the export.\n";
    return 0;
  }
  return usage_error("account", sub.empty() ? "missing subcommand" : "unknown subcommand " + sub, account_usage);
}

// ---- contacts and requests -----------------------------------------------------------------------

constexpr const char* contacts_usage =
    "fcpmail contacts list [--account A]\n"
    "       fcpmail contacts add ADDRESS [--petname NAME] [--account A]\n"
    "       fcpmail contacts remove|revoke CONTACT [--account A]";

int contacts(const DaemonClient& client, const Parsed& p) {
  const std::string sub = p.positional.empty() ? "list" : p.positional[0];
  const bool as_json = p.flag("--json");
  if (sub == "list") {
    const std::string account = p.option("--account");
    auto r = client.get("/api/contacts" + (account.empty() ? "" : "?account=" + url_encode(account)));
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    const auto& list = (*r)["contacts"];
    if (list.empty()) std::cout << "No contacts yet; add one with `fcpmail contacts add ADDRESS --petname NAME`.\n";
    for (const auto& c : list) {
      std::cout << (str(c, "petname").empty() ? "(no petname)" : str(c, "petname")) << "  " << str(c, "address") << "\n";
      std::cout << "  " << str(c, "state");
      if (!str(c, "nickname").empty()) std::cout << ", WoT nickname " << str(c, "nickname");
      std::cout << ", added " << when(c, "added") << ", last message " << when(c, "last_message", "never") << "\n";
    }
    return 0;
  }
  if (sub == "add" || sub == "remove" || sub == "revoke") {
    if (p.positional.size() != 2) return usage_error("contacts", "give the contact", contacts_usage);
    auto account = pick_account(client, p);
    if (!account) return fail({0, account.error()});
    if (sub == "add") {
      auto r = client.post("/api/contacts",
                           {{"account", *account}, {"address", p.positional[1]}, {"petname", p.option("--petname")}});
      if (!r) return fail(r.error());
      if (as_json) return print_json(*r), 0;
      std::cout << "Added " << str(*r, "address");
      if (!str(*r, "petname").empty()) std::cout << " as " << str(*r, "petname");
      std::cout << ". You can now write to " << (str(*r, "petname").empty() ? "them" : str(*r, "petname"))
                << " from your mail client.\n";
      return 0;
    }
    auto r = client.post("/api/contacts/" + sub, {{"account", *account}, {"contact", p.positional[1]}});
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    if (sub == "remove") std::cout << "Removed " << p.positional[1] << " from your contacts.\n";
    else std::cout << "Revoked " << p.positional[1] << ": their channel is no longer polled and nothing more from them reaches your mailbox.\n";
    return 0;
  }
  return usage_error("contacts", "unknown subcommand " + sub, contacts_usage);
}

constexpr const char* requests_usage = "fcpmail requests list [--account A]\n       fcpmail requests approve|deny ID";

int requests(const DaemonClient& client, const Parsed& p) {
  const std::string sub = p.positional.empty() ? "list" : p.positional[0];
  const bool as_json = p.flag("--json");
  if (sub == "list") {
    const std::string account = p.option("--account");
    auto r = client.get("/api/requests" + (account.empty() ? "" : "?account=" + url_encode(account)));
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    const auto& list = (*r)["requests"];
    if (list.empty()) std::cout << "No contact requests.\n";
    for (const auto& q : list) {
      std::cout << "#" << num(q, "id") << "  " << str(q, "from") << "\n";
      std::cout << "  " << str(q, "state") << ", received " << when(q, "received");
      if (!str(q, "nickname").empty()) std::cout << ", WoT nickname " << str(q, "nickname");
      std::cout << ", to " << str(q, "account") << "\n";
      if (str(q, "state") == "pending")
        std::cout << "  accept with `fcpmail requests approve " << num(q, "id") << "`, refuse with `fcpmail requests deny "
                  << num(q, "id") << "`\n";
    }
    return 0;
  }
  if (sub == "approve" || sub == "deny") {
    if (p.positional.size() != 2) return usage_error("requests", "give the request id", requests_usage);
    auto r = client.post("/api/requests/" + sub, {{"id", p.positional[1]}});
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    if (sub == "approve")
      std::cout << "Approved request #" << num(*r, "id") << " from " << str(*r, "from")
                << ": they are now a contact and their channel will be confirmed (CTS).\n";
    else
      std::cout << "Denied request #" << num(*r, "id") << " from " << str(*r, "from")
                << ": no CTS is sent and nothing from them is delivered.\n";
    return 0;
  }
  return usage_error("requests", "unknown subcommand " + sub, requests_usage);
}

// ---- outbox --------------------------------------------------------------------------------------

constexpr const char* outbox_usage =
    "fcpmail outbox list [--account A]\n"
    "       fcpmail outbox show ID\n"
    "       fcpmail outbox approve ID | --all [--account A]\n"
    "       fcpmail outbox cancel ID";

void print_entry(const json& m) {
  std::cout << "#" << num(m, "id") << "  " << (str(m, "subject").empty() ? "(no subject)" : printable(str(m, "subject"))) << "\n";
  std::cout << "  from " << str(m, "account") << ", " << num(m, "size") << " bytes, submitted " << when(m, "submitted")
            << "\n";
  bool held = false;
  for (const auto& r : m["recipients"]) {
    std::cout << "  -> " << str(r, "recipient") << "\n     " << str(r, "state");
    if (!str(r, "next_action").empty())
      std::cout << "; next: " << str(r, "next_action_text", "action") << " " << when(r, "next_action");
    if (num(r, "attempts") > 0) std::cout << "; " << plural(num(r, "attempts"), "insert", "inserts") << " so far";
    if (!str(r, "delivered_at").empty()) std::cout << "; delivered " << when(r, "delivered_at");
    std::cout << "\n";
    held = held || str(r, "code") == "held";
  }
  if (held) std::cout << "  held for your approval: `fcpmail outbox approve " << num(m, "id") << "`\n";
}

int outbox(const DaemonClient& client, const Parsed& p) {
  const std::string sub = p.positional.empty() ? "list" : p.positional[0];
  const bool as_json = p.flag("--json");
  if (sub == "list") {
    const std::string account = p.option("--account");
    auto r = client.get("/api/outbox" + (account.empty() ? "" : "?account=" + url_encode(account)));
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    const auto& list = (*r)["outbox"];
    if (list.empty()) std::cout << "The outbox is empty.\n";
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i) std::cout << "\n";
      print_entry(list[i]);
    }
    return 0;
  }
  if (sub == "show") {
    if (p.positional.size() != 2) return usage_error("outbox", "give the message id", outbox_usage);
    auto r = client.get("/api/outbox/" + url_encode(p.positional[1]));
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    print_entry(*r);
    std::cout << "\n" << printable(str(*r, "headers"), true);
    return 0;
  }
  if (sub == "approve" && p.flag("--all")) {
    json body = {{"all", true}};
    if (auto a = p.option("--account"); !a.empty()) body["account"] = a;
    auto r = client.post("/api/outbox/approve", body);
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    std::cout << "Released " << plural(num(*r, "released"), "message", "messages") << ".\n";
    return 0;
  }
  if (sub == "approve" || sub == "cancel") {
    if (p.positional.size() != 2) return usage_error("outbox", "give the message id", outbox_usage);
    auto r = client.post("/api/outbox/" + sub, {{"id", p.positional[1]}});
    if (!r) return fail(r.error());
    if (as_json) return print_json(*r), 0;
    std::cout << (sub == "approve" ? "Released" : "Cancelled") << " message #" << num(*r, "id") << ":\n";
    print_entry(*r);
    return 0;
  }
  return usage_error("outbox", "unknown subcommand " + sub, outbox_usage);
}

// ---- queues and send -----------------------------------------------------------------------------

int queues(const DaemonClient& client, const Parsed& p) {
  const std::string account = p.option("--account");
  auto r = client.get("/api/queues" + (account.empty() ? "" : "?account=" + url_encode(account)));
  if (!r) return fail(r.error());
  if (p.flag("--json")) return print_json(*r), 0;
  const auto& rts = (*r)["rts"];
  std::cout << "RTS keys polled (" << rts.size() << "):\n";
  if (rts.empty()) std::cout << "  none\n";
  std::string last_account;
  for (const auto& q : rts) {
    if (str(q, "account") != last_account) {
      last_account = str(q, "account");
      std::cout << "  " << last_account << "\n";
    }
    std::cout << "    " << str(q, "date") << " slot " << num(q, "slot") << "  " << str(q, "last_result");
    if (!str(q, "last_poll").empty()) std::cout << ", polled " << ago(q, "last_poll");
    if (!str(q, "next_poll").empty()) std::cout << "; next poll " << ago(q, "next_poll");
    std::cout << "\n";
  }
  const auto& channels = (*r)["channels"];
  std::cout << "\nChannels (" << channels.size() << "):\n";
  if (channels.empty()) std::cout << "  none\n";
  for (const auto& c : channels) {
    std::cout << "  #" << num(c, "id") << "  " << str(c, "account") << " <-> " << str(c, "peer") << "\n"
              << "    " << str(c, "role") << ", " << str(c, "state") << "; next send slot " << num(c, "next_send_slot")
              << "; polling " << str(c, "polled_window") << "\n"
              << "    " << plural(num(c, "awaiting_ack"), "message", "messages") << " awaiting ack, "
              << plural(num(c, "acks_pending"), "ack", "acks") << " owed; last fetch " << when(c, "last_fetch", "never")
              << "; next retry " << when(c, "next_retry") << "\n";
  }
  const auto& in_flight = (*r)["in_flight"];
  std::cout << "\nFCP requests in flight (" << in_flight.size() << "):\n";
  if (in_flight.empty()) std::cout << "  none\n";
  for (const auto& f : in_flight) {
    char age[32];
    std::snprintf(age, sizeof age, "%.0f s", f.value("age_seconds", 0.0));
    std::cout << "  " << str(f, "kind") << "  " << str(f, "what") << "  (" << age << ")\n";
  }
  return 0;
}

constexpr const char* send_usage = "fcpmail send [--from ADDR] --to ADDR [--to ADDR...] --file MSG|-";

int send(const DaemonClient& client, const Parsed& p) {
  std::vector<std::string> to;
  for (const auto& t : p.all("--to")) {
    std::stringstream list(t);
    std::string one;
    while (std::getline(list, one, ','))
      if (!one.empty()) to.push_back(one);
  }
  if (to.empty() || p.option("--file").empty()) return usage_error("send", "give --to and --file", send_usage);
  auto message = read_file(p.option("--file"));
  if (!message) return fail({0, message.error()});
  Parsed with_from = p;
  if (auto from = p.option("--from"); !from.empty()) with_from.options["--account"] = {from};
  auto from = pick_account(client, with_from);
  if (!from) return fail({0, from.error()});
  // As base64: a message need not be UTF-8 (a Latin-1 Subject), and a JSON string must be.
  auto r = client.post("/api/send", {{"from", *from}, {"to", to}, {"rfc822_base64", fcpmail::crypto::base64_encode(*message)}});
  if (!r) return fail(r.error());
  if (p.flag("--json")) return print_json(*r), 0;
  std::cout << "Queued as outbox message #" << num(*r, "id") << "; release it with `fcpmail outbox approve "
            << num(*r, "id") << "`.\n";
  return 0;
}

// ---- web -----------------------------------------------------------------------------------------

constexpr const char* web_usage =
    "fcpmail web login [--account A]\n"
    "\n"
    "Prints a one-time link that opens the web UI with the right to approve and cancel mail and to\n"
    "answer contact requests. The link works once, within 5 minutes, from this machine. Logging in\n"
    "with the mail password only lets you look: your mail client holds that password too.";

int web(const DaemonClient& client, const Parsed& p) {
  const std::string sub = p.positional.empty() ? "" : p.positional[0];
  if (sub != "login" || p.positional.size() != 1)
    return usage_error("web", sub.empty() ? "missing subcommand" : "unknown subcommand " + sub, web_usage);
  json body = json::object();
  if (auto a = p.option("--account"); !a.empty()) body["account"] = a;
  auto r = client.post("/api/web/login", body);
  if (!r) return fail(r.error());
  if (p.flag("--json")) return print_json(*r), 0;
  std::cout << "Open this link in your browser within " << relative(num(*r, "expires_in")).substr(3)
            << "; it works once and logs you in as " << str(*r, "account")
            << " with the right to approve mail and answer contact requests:\n\n  " << str(*r, "url") << "\n";
  return 0;
}

constexpr const char* common_help =
    "\nOptions for every command: --data-dir DIR (else $FCPMAIL_DATA_DIR, else ~/.fcpmail), --json\n";

}  // namespace

int run_daemon_command(const std::string& group, const Args& args) {
  auto parsed = parse(args);
  if (!parsed) {
    std::cerr << "fcpmail " << group << ": " << parsed.error() << "\nRun `fcpmail " << group << " --help`.\n";
    return 2;
  }
  const Parsed& p = *parsed;
  if (p.flag("--help")) {
    static const std::map<std::string, std::string> usages = {
        {"status", "fcpmail status"}, {"account", account_usage}, {"contacts", contacts_usage},
        {"requests", requests_usage}, {"outbox", outbox_usage},   {"queues", "fcpmail queues [--account A]"},
        {"send", send_usage}, {"web", web_usage}};
    std::cout << "usage: " << usages.at(group) << common_help;
    return 0;
  }
  auto client = DaemonClient::open(p.option("--data-dir"));
  if (!client) {
    std::cerr << "fcpmail: " << client.error() << '\n';
    return 1;
  }
  if (group == "status") return status(*client, p);
  if (group == "account") return account(*client, p);
  if (group == "contacts") return contacts(*client, p);
  if (group == "requests") return requests(*client, p);
  if (group == "outbox") return outbox(*client, p);
  if (group == "queues") return queues(*client, p);
  if (group == "send") return send(*client, p);
  if (group == "web") return web(*client, p);
  std::cerr << "fcpmail: unknown command " << group << '\n';
  return 2;
}

}  // namespace fcpmail::cli
