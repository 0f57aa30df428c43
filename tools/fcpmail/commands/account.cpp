// `fcpmail account create|list|export|import`: the accounts of the daemon, and moving one to
// another machine as one passphrase-encrypted file.
#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <thread>

#include "crypto/base64.h"

#include "commands.h"
#include "commands/daemon_command.h"

namespace fcpmail::cli {
namespace {

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
std::expected<std::string, std::string> read_passphrase(const CommandLine& p, bool confirm) {
  std::string passphrase;
  if (auto path = p.value("--passphrase-file"); !path.empty()) {
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

int account(const DaemonClient& client, const CommandLine& p) {
  const std::string sub = p.positionals.empty() ? "" : p.positionals[0];
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
    if (p.positionals.size() != 2) return usage_error("account", "give the account's name", account_usage);
    json body = {{"nickname", p.positionals[1]}};
    if (auto id = p.value("--identity"); !id.empty()) body["identity"] = id;
    if (auto key = p.value("--rsa-key"); !key.empty()) body["rsa_key_file"] = key;
    if (p.flag("--password-stdin")) {
      const std::string password = read_secret_line("password");
      if (password.empty()) return usage_error("account", "the password on stdin is empty", account_usage);
      body["password"] = password;
    }
    auto started = client.post("/api/accounts", body);
    if (!started) return fail(started.error());
    if (!as_json) std::cerr << "Creating account " << p.positionals[1] << " (this can take a minute):\n";
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
    if (p.positionals.size() != 2 || p.value("--out").empty())
      return usage_error("account", "give the account and --out FILE", account_usage);
    const std::string out_path = p.value("--out");
    auto passphrase = read_passphrase(p, true);
    if (!passphrase) return usage_error("account", passphrase.error(), account_usage);
    auto r = client.post("/api/accounts/export", {{"account", p.positionals[1]}, {"passphrase", *passphrase}});
    if (!r) return fail(r.error());
    if (!as_json) std::cerr << "Exporting " << p.positionals[1] << ":\n";
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
    if (p.positionals.size() != 2) return usage_error("account", "give the export file", account_usage);
    auto file = read_input_file(p.positionals[1]);
    if (!file) return fail({0, file.error()});
    auto passphrase = read_passphrase(p, false);
    if (!passphrase) return usage_error("account", passphrase.error(), account_usage);
    auto r = client.post("/api/accounts/import", {{"file_base64", fcpmail::crypto::base64_encode(*file)}, {"passphrase", *passphrase}});
    if (!r) return fail(r.error());
    if (!as_json) std::cerr << "Importing " << p.positionals[1] << ":\n";
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

}  // namespace

int run_account(const Args& args) {
  return run_daemon_group({{"account", {"create", "list", "export", "import"}, {{"--identity", true}, {"--password-stdin", false}, {"--rsa-key", true}, {"--out", true}, {"--passphrase-file", true}, {"--passphrase-stdin", false}}}, account_usage, account}, args);
}

}  // namespace fcpmail::cli
