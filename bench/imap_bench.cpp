// IMAP benchmark: fcpmail's IMAP server against Debian's Dovecot on the same 10,000 messages.
//
//   bench_imap_bench [--messages N] [--rounds N] [--no-dovecot] [--keep]
//
// Generates a mailbox (bench/imap_mail_generator.h: 2-20 KB, one in five with an attachment),
// stores it in an fcpmail mailbox database (sealed, as the engine would) and in a Maildir, starts
// imap-testserver (next to this program) and a private Dovecot (dovecot-imapd, own config, own
// port on 127.0.0.1, started and stopped here), and measures over TCP the same commands on both:
// SELECT, FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE), UID SEARCH FROM, 1,000 random BODY[]
// fetches, STORE 1:* +FLAGS (\Seen), and each server's resident memory. Prints a table with the
// ratio fcpmail/Dovecot (lower is better; the target is <= 1.0). Both servers run at the same
// time and every operation is repeated `--rounds` times (default 5; the 1,000-fetch and STORE
// operations half as often, at least 3), alternating which server goes first, and the medians are
// reported, so load on the machine weighs on both alike. Figures, never pass/fail. tools/bench
// installs Dovecot, builds and runs this.
#include "imap_mail_generator.h"
#include "store/mailbox_store.h"

#include <SQLiteCpp/Transaction.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <pwd.h>
#include <random>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace fs = std::filesystem;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

const std::string account = "alice@test.freemail";
const std::string password = "secret";

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// ---- child processes -------------------------------------------------------------------------

struct Child {
  pid_t pid = -1;
  int in = -1, out = -1;  // our ends of its stdin / stdout
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }
  void stop() {
    if (in >= 0) ::close(in);
    if (out >= 0) ::close(out);
    in = out = -1;
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      for (int i = 0; i < 50; ++i) {
        if (::waitpid(pid, &status, WNOHANG) == pid) { pid = -1; return; }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      pid = -1;
    }
  }
};

std::unique_ptr<Child> spawn(const std::vector<std::string>& argv) {
  int in_pipe[2], out_pipe[2];
  if (::pipe(in_pipe) != 0 || ::pipe(out_pipe) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_addclose(&fa, in_pipe[1]);
  posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto child = std::make_unique<Child>();
  int rc = posix_spawn(&child->pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  child->in = in_pipe[1];
  child->out = out_pipe[0];
  if (rc != 0) {
    child->pid = -1;
    throw std::runtime_error("cannot start " + argv[0]);
  }
  return child;
}

std::string read_line_fd(int fd) {
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  return line;
}

struct Memory {
  long rss_kb = 0, hwm_kb = 0;
};

Memory memory_of(pid_t pid) {
  Memory m;
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  long value;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    in >> key >> value;
    if (key == "VmRSS:") m.rss_kb = value;
    if (key == "VmHWM:") m.hwm_kb = value;
  }
  return m;
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (!std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream stat(e.path() / "stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close_paren = content.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::istringstream in(content.substr(close_paren + 2));
    char state;
    pid_t ppid = 0;
    in >> state >> ppid;
    if (ppid == parent) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

std::string comm_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(f, s);
  return s;
}

unsigned short free_port() {
  asio::io_context io;
  tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

// ---- a blocking IMAP client that understands literals in responses ---------------------------

class Client {
 public:
  explicit Client(unsigned short port) : socket_(io_) {
    for (int i = 0; i < 100; ++i) {
      boost::system::error_code ec;
      socket_.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
      if (!ec) break;
      socket_.close();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!socket_.is_open()) throw std::runtime_error("cannot connect to port " + std::to_string(port));
    greeting_ = line();
  }

  // Sends one command; returns every response line (literals inlined) up to the tagged one.
  std::vector<std::string> run(const std::string& command) {
    std::string tag = "b" + std::to_string(++counter_);
    std::string wire = tag + " " + command + "\r\n";
    asio::write(socket_, asio::buffer(wire));
    std::vector<std::string> lines;
    while (true) {
      auto l = line();
      if (l.starts_with(tag + " ")) {
        if (!l.starts_with(tag + " OK")) throw std::runtime_error(command.substr(0, 60) + " -> " + l);
        lines.push_back(std::move(l));
        return lines;
      }
      lines.push_back(std::move(l));
    }
  }

  std::size_t bytes_received() const { return received_; }

 private:
  // One response line, with any literal {n} data included.
  std::string line() {
    std::string out;
    while (true) {
      auto nl = buffer_.find("\r\n", pos_);
      while (nl == std::string::npos) {
        fill();
        nl = buffer_.find("\r\n", pos_);
      }
      std::string_view l(buffer_.data() + pos_, nl - pos_);
      out.append(l);
      pos_ = nl + 2;
      // A literal announcement at the end of the line: its bytes follow.
      if (!l.empty() && l.back() == '}') {
        auto open = l.rfind('{');
        if (open != std::string_view::npos) {
          std::size_t n = std::stoul(std::string(l.substr(open + 1, l.size() - open - 2)));
          while (buffer_.size() - pos_ < n) fill();
          out += "\r\n";
          out.append(buffer_, pos_, n);
          pos_ += n;
          continue;
        }
      }
      return out;
    }
  }

  void fill() {
    if (pos_ > 0 && pos_ == buffer_.size()) {
      buffer_.clear();
      pos_ = 0;
    } else if (pos_ > (1u << 20)) {
      buffer_.erase(0, pos_);
      pos_ = 0;
    }
    char chunk[65536];
    std::size_t n = socket_.read_some(asio::buffer(chunk));
    received_ += n;
    buffer_.append(chunk, n);
  }

  asio::io_context io_;
  tcp::socket socket_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::size_t received_ = 0;
  unsigned counter_ = 0;
  std::string greeting_;
};

// ---- the measurements --------------------------------------------------------------------------
//
// Every operation is repeated several times; each repetition runs it once on every server, the
// order alternating from one repetition to the next, and the table reports medians. So a burst of
// load on this (shared) machine hits both servers alike instead of whichever was measured then.

struct Target {
  std::string name;
  unsigned short port = 0;
  std::function<Memory()> server_memory, session_memory;
  std::unique_ptr<Client> session;   // the long-lived session most operations run in
  std::map<std::string, std::vector<double>> samples;
  std::size_t fetch_responses = 0, search_hits = 0, body_bytes = 0;
  Memory server, session_process;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Operation {
  std::string label;
  int repetitions;
  std::function<double(Target&, int repetition)> run;  // returns milliseconds
};

void login(Client& c) { c.run("LOGIN \"" + account + "\" \"" + password + "\""); }

std::vector<Operation> operations(std::size_t count, int rounds) {
  std::vector<Operation> ops;
  ops.push_back({"SELECT INBOX, new session", rounds, [](Target& t, int) {
                   Client fresh(t.port);
                   login(fresh);
                   auto s = Clock::now();
                   fresh.run("SELECT INBOX");
                   double ms = ms_since(s);
                   fresh.run("LOGOUT");
                   return ms;
                 }});
  ops.push_back({"SELECT INBOX again, same session", rounds, [](Target& t, int) {
                   auto s = Clock::now();
                   t.session->run("SELECT INBOX");
                   return ms_since(s);
                 }});
  ops.push_back({"FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)", rounds, [](Target& t, int) {
                   auto s = Clock::now();
                   auto lines = t.session->run("FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)");
                   double ms = ms_since(s);
                   t.fetch_responses = lines.size() - 1;
                   return ms;
                 }});
  ops.push_back({"UID SEARCH FROM", rounds, [](Target& t, int) {
                   auto s = Clock::now();
                   auto lines = t.session->run("UID SEARCH FROM \"sender7@\"");
                   double ms = ms_since(s);
                   t.search_hits = 0;
                   for (auto& l : lines)
                     if (l.starts_with("* SEARCH"))
                       t.search_hits = static_cast<std::size_t>(std::count(l.begin(), l.end(), ' ')) - 1;
                   return ms;
                 }});
  ops.push_back({"1,000 random UID FETCH BODY[]", std::max(3, rounds / 2), [count](Target& t, int r) {
                   std::mt19937 rng(7 + r);  // the same UIDs on both servers
                   std::size_t bytes = 0;
                   auto s = Clock::now();
                   for (int i = 0; i < 1000; ++i) {
                     auto lines = t.session->run("UID FETCH " + std::to_string(1 + rng() % count) + " BODY[]");
                     for (auto& l : lines) bytes += l.size();
                   }
                   double ms = ms_since(s);
                   t.body_bytes = bytes;
                   return ms;
                 }});
  ops.push_back({"STORE 1:* +FLAGS (\\Seen)", std::max(3, rounds / 2), [](Target& t, int) {
                   t.session->run("STORE 1:* -FLAGS.SILENT (\\Seen)");  // untimed: back to unseen
                   auto s = Clock::now();
                   t.session->run("STORE 1:* +FLAGS (\\Seen)");
                   return ms_since(s);
                 }});
  return ops;
}

void measure(std::vector<Target*> targets, std::size_t count, int rounds) {
  for (auto* t : targets) {
    t->session = std::make_unique<Client>(t->port);
    login(*t->session);
    // Warm-up: both servers build their indexes and caches on first use.
    t->session->run("SELECT INBOX");
    t->session->run("FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)");
  }
  for (auto& op : operations(count, rounds)) {
    for (int r = 0; r < op.repetitions; ++r) {
      for (std::size_t k = 0; k < targets.size(); ++k) {
        Target& t = *targets[(r % 2 == 0) ? k : targets.size() - 1 - k];
        t.samples[op.label].push_back(op.run(t, r));
      }
    }
  }
  for (auto* t : targets) {
    t->server = t->server_memory();
    t->session_process = t->session_memory();
    t->session->run("LOGOUT");
    t->session.reset();
  }
}

// ---- the two servers ---------------------------------------------------------------------------

fs::path self_dir() { return fs::read_symlink("/proc/self/exe").parent_path(); }

void fill_fcpmail(const fs::path& db_path, const std::vector<std::string>& mails, std::int64_t base_date) {
  SQLite::Database db(db_path.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  fcpmail::MailboxStore store(db);
  // The storage key imap-testserver uses (see tests/servers/imap_testserver.cpp).
  fcpmail::crypto::Key256 key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  store.unlock(account, key);
  if (!store.ensure_account(account)) throw std::runtime_error("ensure_account failed");
  auto s = Clock::now();
  SQLite::Transaction tx(db);
  for (std::size_t i = 0; i < mails.size(); ++i)
    if (!store.deliver(account, "INBOX", mails[i], {}, base_date + static_cast<std::int64_t>(i) * 60))
      throw std::runtime_error("deliver failed");
  tx.commit();
  double ms = ms_since(s);
  std::printf("fcpmail: stored %zu messages in %.0f ms (%.0f messages/s, sealed, with ENVELOPE/BODYSTRUCTURE)\n",
              mails.size(), ms, mails.size() / (ms / 1000.0));
}

void fill_maildir(const fs::path& maildir, const std::vector<std::string>& mails, std::int64_t base_date) {
  for (auto sub : {"cur", "new", "tmp"}) fs::create_directories(maildir / sub);
  for (std::size_t i = 0; i < mails.size(); ++i) {
    std::int64_t t = base_date + static_cast<std::int64_t>(i) * 60;
    auto name = std::to_string(t) + ".M" + std::to_string(i) + "P1.bench,S=" + std::to_string(mails[i].size()) + ":2,";
    auto path = maildir / "cur" / name;
    std::ofstream(path, std::ios::binary) << mails[i];
    fs::last_write_time(path, fs::file_time_type::clock::now() -
                                  std::chrono::seconds(std::time(nullptr) - t));
  }
}

std::unique_ptr<Child> start_dovecot(const fs::path& dir, unsigned short port) {
  // Dovecot refuses to serve mail as root: as root, the mail belongs to "nobody".
  uid_t uid = ::getuid();
  gid_t gid = ::getgid();
  if (uid == 0) {
    if (const passwd* pw = ::getpwnam("nobody")) {
      uid = pw->pw_uid;
      gid = pw->pw_gid;
    }
    ::chmod(dir.parent_path().c_str(), 0755);
    ::chmod(dir.c_str(), 0755);
    ::chown((dir / "home").c_str(), uid, gid);
    for (auto& e : fs::recursive_directory_iterator(dir / "home")) ::chown(e.path().c_str(), uid, gid);
  }
  fs::create_directories(dir / "run");
  fs::create_directories(dir / "state");
  auto conf = dir / "dovecot.conf";
  std::ofstream c(conf);
  c << "base_dir = " << (dir / "run").string() << "\n"
    << "state_dir = " << (dir / "state").string() << "\n"
    << "log_path = " << (dir / "dovecot.log").string() << "\n"
    << "protocols = imap\n"
    << "listen = 127.0.0.1\n"
    << "ssl = no\n"
    << "disable_plaintext_auth = no\n"
    << "auth_mechanisms = plain login\n"
    << "first_valid_uid = 1\n"
    << "default_internal_user = dovecot\n"
    << "default_login_user = dovenull\n"
    << "mail_location = maildir:" << (dir / "home" / "Maildir").string() << "\n"
    << "passdb {\n  driver = static\n  args = password=" << password << "\n}\n"
    << "userdb {\n  driver = static\n  args = uid=" << uid << " gid=" << gid
    << " home=" << (dir / "home").string() << "\n}\n"
    << "service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = " << port
    << "\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}\n"
    << "service pop3-login {\n  inet_listener pop3 {\n    port = 0\n  }\n}\n";
  c.close();
  return spawn({"/usr/sbin/dovecot", "-F", "-c", conf.string()});
}

void row(const std::string& name, double a, std::optional<double> b, const char* unit) {
  if (b) std::printf("%-46s %11.1f %s %11.1f %s %8.2f\n", name.c_str(), a, unit, *b, unit, *b > 0 ? a / *b : 0.0);
  else std::printf("%-46s %11.1f %s %14s %8s\n", name.c_str(), a, unit, "-", "-");
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 10000;
  int rounds = 5;
  bool with_dovecot = true, keep = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--messages" && i + 1 < argc) count = std::stoul(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::stoi(argv[++i]));
    else if (a == "--no-dovecot") with_dovecot = false;
    else if (a == "--keep") keep = true;
    else {
      std::cerr << "usage: bench_imap_bench [--messages N] [--rounds N] [--no-dovecot] [--keep]\n";
      return 2;
    }
  }
  if (with_dovecot && !fs::exists("/usr/sbin/dovecot")) {
    std::printf("dovecot is not installed (tools/bench installs dovecot-imapd): measuring fcpmail only\n");
    with_dovecot = false;
  }
  char tmpl[] = "/tmp/fcpmail-imap-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) return 1;
  fs::path work = tmpl;
  int rc = 0;
  try {
    auto s = Clock::now();
    auto mails = fcpmail::bench::generate_mailbox(count);
    std::size_t total = 0, with_attachment = 0;
    for (auto& m : mails) {
      total += m.size();
      if (m.find("multipart/mixed") != std::string::npos) ++with_attachment;
    }
    std::printf("generated %zu messages, %.1f MB, %zu with attachments, in %.0f ms\n", count, total / 1e6,
                with_attachment, ms_since(s));
    const std::int64_t base_date = 1700000000;

    fill_fcpmail(work / "fcpmail.db", mails, base_date);
    auto server = spawn({(self_dir() / "imap-testserver").string(), "--port", "0", "--no-seed", "--db",
                         (work / "fcpmail.db").string()});
    std::string first = read_line_fd(server->out);
    if (!first.starts_with("PORT ")) throw std::runtime_error("imap-testserver did not start: " + first);
    Target fcp;
    fcp.name = "fcpmail";
    fcp.port = static_cast<unsigned short>(std::stoi(first.substr(5)));
    pid_t fcp_pid = server->pid;
    fcp.server_memory = [fcp_pid] { return memory_of(fcp_pid); };
    fcp.session_memory = fcp.server_memory;

    std::unique_ptr<Child> dovecot;
    Target dove;
    dove.name = "dovecot";
    if (with_dovecot) {
      fill_maildir(work / "dovecot" / "home" / "Maildir", mails, base_date);
      dove.port = free_port();
      dovecot = start_dovecot(work / "dovecot", dove.port);
      pid_t master = dovecot->pid;
      dove.server_memory = [master] {
        Memory m = memory_of(master);
        for (auto p : children_of(master)) {
          auto pm = memory_of(p);
          m.rss_kb += pm.rss_kb;
          m.hwm_kb += pm.hwm_kb;
        }
        return m;
      };
      dove.session_memory = [master] {
        for (auto p : children_of(master))
          if (comm_of(p) == "imap") return memory_of(p);
        return Memory{};
      };
    }
    std::vector<Target*> targets{&fcp};
    if (with_dovecot) targets.push_back(&dove);
    try {
      measure(targets, count, rounds);
    } catch (const std::exception& e) {
      if (with_dovecot) {
        std::printf("a run failed: %s (dovecot log: %s)\n", e.what(), (work / "dovecot" / "dovecot.log").c_str());
        std::ifstream log(work / "dovecot" / "dovecot.log");
        std::cout << log.rdbuf();
      }
      throw;
    }
    server->stop();
    if (dovecot) dovecot->stop();

    std::string heading = "operation (" + std::to_string(count) + " messages), median";
    std::printf("\n%-46s %14s %14s %8s\n", heading.c_str(), "fcpmail", "dovecot", "ratio");
    for (auto& op : operations(count, rounds)) {
      std::string label = op.label + " (" + std::to_string(op.repetitions) + "x)";
      row(label, median(fcp.samples[op.label]),
          with_dovecot ? std::optional<double>(median(dove.samples[op.label])) : std::nullopt, "ms");
    }
    auto mb = [](long kb) { return kb / 1024.0; };
    row("server RSS after the run", mb(fcp.server.rss_kb),
        with_dovecot ? std::optional<double>(mb(dove.server.rss_kb)) : std::nullopt, "MB");
    row("server peak RSS (VmHWM)", mb(fcp.server.hwm_kb),
        with_dovecot ? std::optional<double>(mb(dove.server.hwm_kb)) : std::nullopt, "MB");
    if (with_dovecot)
      row("  of which the session's imap process (RSS)", mb(fcp.session_process.rss_kb),
          mb(dove.session_process.rss_kb), "MB");
    std::printf("\nchecks: FETCH responses %zu/%zu, SEARCH hits %zu/%zu, BODY[] bytes %zu/%zu (fcpmail/dovecot)\n",
                fcp.fetch_responses, dove.fetch_responses, fcp.search_hits, dove.search_hits, fcp.body_bytes,
                dove.body_bytes);
    std::printf("(each figure: median over repetitions alternating fcpmail and dovecot; fcpmail's server is one\n"
                " process, Dovecot's figure sums master, login, auth and imap processes)\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_imap_bench: %s\n", e.what());
    rc = 1;
  }
  if (!keep) fs::remove_all(work);
  else std::printf("kept %s\n", work.c_str());
  return rc;
}
