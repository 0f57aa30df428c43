// fcpmaild: the fcpmail daemon. Wiring only: data dir checks, the database, the node connection
// (or the embedded simulated node), the engine, and the IMAP, SMTP and HTTP listeners.
#include <cstring>
#include <utility>

#include "auth/login_gate.h"
#include "crypto/sealed_box.h"
#include "crypto/random.h"
#include "daemon/data_dir.h"
#include "engine/engine.h"
#include "engine/fcp_node.h"
#include "engine/password_login.h"
#include "fcp/client.h"
#include "imap/imap_server.h"
#include "sim_node.h"
#include "smtp/smtp_server.h"
#include "store/database.h"
#include "store/mailbox_store.h"
#include "web/control_files.h"
#include "web/http_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <sys/resource.h>
#include <sys/stat.h>

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace fcpmail;

namespace {

constexpr const char* usage = R"(usage: fcpmaild --data-dir DIR (--fcp HOST:PORT | --embedded-node) [options]

fcpmail's daemon: a bridge between mail clients (IMAP, SMTP) and Hyphanet, speaking Freemail 0.2.

  --data-dir DIR              where everything is kept (created 0700; refused if others can read it,
                              while another fcpmaild holds it, or if its fcpmail.db has lost secret.key)
  --fcp HOST:PORT             the Hyphanet node's FCP port (fred: 127.0.0.1:9481)
  --embedded-node             run the simulated node inside the daemon, state in DIR/node.db
  --imap-listen ADDR:PORT     IMAP for mail clients          (default 127.0.0.1:9143)
  --smtp-listen ADDR:PORT     SMTP submission                (default 127.0.0.1:9025)
  --http-listen ADDR:PORT     control API + web UI           (default 127.0.0.1:9080)
                              (ports chosen not to collide with fred 8888/9481 or Freemail
                              3025/3143/4025/4143; port 0 picks a free one, see DIR/control.json)
  --no-imap, --no-smtp, --no-http   do not open that listener
  --interval-scale F          multiply every protocol interval (defaults are Freemail's: mailsite
                              republish 1 h, RTS poll 5 min, RTS resend 24 h, ack delay 0-12 h,
                              channel send 7 d + poll 7 d, message resend 24 h); tests use 0.002
  --outbound-approval manual|auto   submitted mail waits for `fcpmail outbox approve` (default manual)
  --contact-requests manual|auto    RTSs from strangers wait for `fcpmail requests approve` (default manual)
  --sim-faults DNF,DROP       (tests) the embedded node fails fetches of present data with
                              probability DNF and drops the connection every DROP-th message
  --help                      this text
)";

std::string timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

void log_line(std::string_view line) { std::cerr << timestamp() << " " << line << std::endl; }

[[noreturn]] void fail(const std::string& why, int code = 1) {
  std::cerr << "fcpmaild: " << why << "\n";
  std::exit(code);
}

struct Options {
  fs::path data_dir;
  std::optional<std::string> fcp;
  bool embedded = false;
  std::string imap = "127.0.0.1:9143", smtp = "127.0.0.1:9025", http = "127.0.0.1:9080";
  bool no_imap = false, no_smtp = false, no_http = false;
  double scale = 1.0;
  bool outbound_auto = false, requests_auto = false;
  double sim_dnf_rate = 0;
  int sim_drop_every = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) fail(std::string(argv[i]) + " needs a value\n\n" + usage, 2);
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << usage;
      std::exit(0);
    } else if (a == "--data-dir") o.data_dir = value(i);
    else if (a == "--fcp") o.fcp = value(i);
    else if (a == "--embedded-node") o.embedded = true;
    else if (a == "--imap-listen") o.imap = value(i);
    else if (a == "--smtp-listen") o.smtp = value(i);
    else if (a == "--http-listen") o.http = value(i);
    else if (a == "--no-imap") o.no_imap = true;
    else if (a == "--no-smtp") o.no_smtp = true;
    else if (a == "--no-http") o.no_http = true;
    else if (a == "--interval-scale") {
      const auto v = value(i);
      try {
        o.scale = std::stod(v);
      } catch (...) {
        fail("--interval-scale needs a number, not " + v, 2);
      }
      if (!(o.scale > 0)) fail("--interval-scale must be above 0", 2);
    } else if (a == "--outbound-approval" || a == "--contact-requests") {
      const auto v = value(i);
      if (v != "manual" && v != "auto") fail(a + " is manual or auto, not " + v, 2);
      (a == "--outbound-approval" ? o.outbound_auto : o.requests_auto) = v == "auto";
    } else if (a == "--sim-faults") {
      const auto v = value(i);
      const auto comma = v.find(',');
      try {
        o.sim_dnf_rate = std::stod(v.substr(0, comma));
        o.sim_drop_every = comma == std::string::npos ? 0 : std::stoi(v.substr(comma + 1));
      } catch (...) {
        fail("--sim-faults is DNF_RATE,DROP_EVERY, e.g. 0.2,50", 2);
      }
    } else fail("unknown option " + a + "\n\n" + usage, 2);
  }
  if (o.data_dir.empty()) fail(std::string("--data-dir is required\n\n") + usage, 2);
  if (o.embedded == o.fcp.has_value()) fail(std::string("give exactly one of --fcp HOST:PORT and --embedded-node\n\n") + usage, 2);
  return o;
}

// The data dir holds the keys, the mail and the control token: only its owner may enter it. A dir we
// create is 0700 (umask 077); an existing one that group or others can use is refused, not silently
// changed, because the files in it may already have been read.
void check_data_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (!fs::create_directories(dir, ec)) fail("cannot create the data dir " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) fail(dir.string() + " is not a directory");
  if (st.st_uid != ::geteuid()) fail("the data dir " + dir.string() + " belongs to another user (uid " + std::to_string(st.st_uid) + ")");
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    fail(std::string("the data dir ") + dir.string() + " is accessible to other users (mode " + mode +
         "); fix it with: chmod 700 " + dir.string());
  }
}

// Files from older versions or copied in by hand may be group/world-readable; inside a 0700 dir no
// one else can reach them, but tighten them anyway so that a later chmod of the dir exposes nothing.
void tighten_files(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
      ::chmod(entry.path().c_str(), st.st_mode & 0700);
      log_line("made " + entry.path().string() + " private to its owner (it was readable by others)");
    }
  }
}

// Every IMAP, SMTP and HTTP connection is a descriptor; the usual soft limit of 1024 would run out
// before the listeners' own caps (512 + 64 + 64 plus the node and the databases) refuse anyone.
void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = limit.rlim_max == RLIM_INFINITY ? 65536 : std::min<rlim_t>(limit.rlim_max, 65536);
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = wanted;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

asio::ip::tcp::endpoint endpoint_of(const std::string& text, const char* what) {
  auto hp = web::split_host_port(text);
  if (!hp) fail(std::string(what) + ": " + hp.error(), 2);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(hp->first, ec);
  if (ec) fail(std::string(what) + ": not an IP address: " + hp->first, 2);
  return {address, hp->second};
}

std::string to_text(const asio::ip::tcp::endpoint& e) { return e.address().to_string() + ":" + std::to_string(e.port()); }

}  // namespace

int main(int argc, char** argv) {
  // Large IMAP replies otherwise stay resident: glibc raises its mmap threshold after the first big
  // free, so buffers above 4 MiB go to mmap and return to the system when freed (smaller ones, such
  // as a big folder's SELECT vectors, stay on the heap: mapping them each time halved SELECT speed).
  // The same value as imap-testserver, so the IMAP benchmark matches the daemon.
  ::mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
  // Before any file is made: SQLite creates fcpmail.db, node.db and their -wal/-shm with 0644 less
  // the umask, so 077 makes them (and the token, control.json, secret.key) 0600.
  ::umask(077);
  const Options options = parse(argc, argv);
  check_data_dir(options.data_dir);
  // Before anything else reads or writes the dir (the key, the databases, control.json, the
  // embedded node's store): a second daemon would share them all and fight over the node.
  auto data_dir_lock = daemon::DataDirLock::acquire(options.data_dir);
  if (!data_dir_lock) fail(data_dir_lock.error());
  tighten_files(options.data_dir);
  raise_descriptor_limit();
  const auto secret = daemon::load_or_create_secret_key(options.data_dir);
  if (!secret) fail(secret.error());
  crypto::SealedBox box(*secret);
  auto db = store::open_database(options.data_dir / "fcpmail.db");
  if (!db) fail(db.error());

  asio::io_context io;

  // The node: embedded simulation or a real node over FCP.
  std::unique_ptr<fcp::sim::SimNode> sim;
  std::string fcp_host = "127.0.0.1";
  std::uint16_t fcp_port = 9481;
  if (options.embedded) {
    fcp::sim::SimConfig sc;
    sc.listen_host = "127.0.0.1";
    sc.port = 0;
    sc.state_file = (options.data_dir / "node.db").string();
    // The simulated node derives identity and SSK keys from its seed: a fixed seed would give every
    // fresh data dir on every machine the same "secret" keys.
    const std::string seed_bytes = crypto::random_bytes(sizeof sc.seed);
    std::memcpy(&sc.seed, seed_bytes.data(), sizeof sc.seed);
    sc.dnf_rate = options.sim_dnf_rate;
    sc.drop_every = options.sim_drop_every;
    try {
      sim = std::make_unique<fcp::sim::SimNode>(io, sc);
    } catch (const std::exception& e) {
      fail(std::string("the embedded node did not start: ") + e.what());
    }
    fcp_port = sim->port();
    log_line("embedded simulated node listening on 127.0.0.1:" + std::to_string(fcp_port));
  } else {
    auto hp = web::split_host_port(*options.fcp);
    if (!hp) fail("--fcp: " + hp.error(), 2);
    fcp_host = hp->first;
    fcp_port = hp->second;
  }
  fcp::ClientConfig cc;
  cc.host = fcp_host;
  cc.port = fcp_port;
  cc.name = "fcpmaild-" + std::to_string(std::hash<std::string>{}(fs::absolute(options.data_dir).string()) % 1000000007);
  fcp::Client client(io, cc);
  client.on_connected([&](const fcp::NodeInfo& info) {
    log_line("connected to " + info.version + " at " + fcp_host + ":" + std::to_string(fcp_port) + " as FCP client " +
             client.name());
  });
  client.on_disconnected([&](const fcp::Failure& f) {
    const auto delay = client.reconnect_delay();
    const std::string again =
        delay ? "; reconnecting in " + std::to_string(delay->count()) + " ms" : std::string("; not reconnecting");
    if (f.kind == fcp::Failure::Kind::duplicate_client_name)
      log_line("warning: the node closed our connection because another FCP client said hello with our name (" +
               client.name() + "); is another program using it?" + again);
    else
      log_line("node connection lost: " + f.to_string() + again);
  });
  client.start();
  engine::FcpNode node(client);

  MailboxStore mailbox(**db);
  engine::EngineConfig config;
  config.intervals = engine::Intervals{}.scaled(options.scale);
  config.tick = std::clamp(std::chrono::duration_cast<engine::Millis>(std::chrono::milliseconds(1000) * options.scale),
                           engine::Millis(10), engine::Millis(1000));
  config.outbound_auto = options.outbound_auto;
  config.contact_requests_auto = options.requests_auto;
  const auto imap_endpoint = endpoint_of(options.imap, "--imap-listen");
  const auto smtp_endpoint = endpoint_of(options.smtp, "--smtp-listen");
  const auto http_endpoint = endpoint_of(options.http, "--http-listen");
  config.imap_host = imap_endpoint.address().to_string();
  config.imap_port = imap_endpoint.port();
  config.smtp_host = smtp_endpoint.address().to_string();
  config.smtp_port = smtp_endpoint.port();

  engine::NodeStatus node_status;
  node_status.host = fcp_host;
  node_status.port = fcp_port;
  node_status.embedded = options.embedded;
  engine::Engine engine(engine::EngineDeps{io, **db, node, &mailbox, box, log_line, node_status,
                                           [&](const std::string& account, const std::array<std::uint8_t, 32>& key) {
                                             mailbox.unlock(account, key);
                                           }},
                        config);

  // One gate for IMAP, SMTP and the web UI, so failed logins count across all three. The gate runs
  // the scrypt check on its worker thread, so it gets its own read-only connection to the database:
  // the engine's connection and its statements belong to the I/O thread.
  auto password_login = engine::PasswordLogin::open(options.data_dir / "fcpmail.db");
  if (!password_login) fail(password_login.error());
  auth::LoginGate login_gate(**password_login);

  std::unique_ptr<imap::Server> imap_server;
  std::unique_ptr<smtp::Server> smtp_server;
  std::unique_ptr<web::Server> http_server;
  web::ControlEndpoints endpoints;
  endpoints.pid = static_cast<long>(::getpid());
  try {
    if (!options.no_imap) {
      imap::ServerOptions imap_options;
      imap_options.login_gate = &login_gate;
      imap_server = std::make_unique<imap::Server>(io, imap_endpoint, mailbox, **password_login, imap_options);
      endpoints.imap = to_text({imap_endpoint.address(), imap_server->port()});
      log_line("IMAP listening on " + endpoints.imap);
    }
    if (!options.no_smtp) {
      smtp_server = std::make_unique<smtp::Server>(io, smtp_endpoint, engine, login_gate, smtp::sent_copy_to(mailbox),
                                                   smtp::Options{},
                                                   [](std::string_view line) { log_line(line); });
      endpoints.smtp = to_text({smtp_endpoint.address(), smtp_server->port()});
      log_line("SMTP listening on " + endpoints.smtp);
    }
    if (!options.no_http) {
      auto token = web::load_or_create_token(options.data_dir);
      if (!token) fail(token.error());
      web::ServerOptions wo;
      wo.token = *token;
      wo.log = log_line;
      wo.login_gate = &login_gate;
      http_server = std::make_unique<web::Server>(io, http_endpoint, engine, **password_login, wo);
      endpoints.http = to_text({http_endpoint.address(), http_server->port()});
      log_line("control API and web UI on http://" + endpoints.http + "/");
    }
  } catch (const std::exception& e) {
    fail(std::string("cannot listen: ") + e.what() + " (choose another port with --imap-listen/--smtp-listen/--http-listen)");
  }
  engine.set_mail_endpoints(imap_endpoint.address().to_string(), imap_server ? imap_server->port() : 0,
                            smtp_endpoint.address().to_string(), smtp_server ? smtp_server->port() : 0);
  if (auto w = web::write_control_file(options.data_dir, endpoints); !w) fail(w.error());

  engine.start();
  log_line("fcpmaild running; data in " + options.data_dir.string() +
           (options.embedded ? " (embedded simulated node)" : " (node " + fcp_host + ":" + std::to_string(fcp_port) + ")"));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int signal) {
    log_line(std::string("stopping (") + (signal == SIGINT ? "SIGINT" : "SIGTERM") + ")");
    engine.stop();
    if (http_server) http_server->stop();
    if (smtp_server) smtp_server->stop();
    if (imap_server) imap_server->stop();
    client.stop();
    if (sim) sim->stop();
    io.stop();
  });
  io.run();
  // Pending coroutines may still hold frames; everything on disk is consistent (one transaction per
  // step), so leave without unwinding them.
  std::fflush(nullptr);
  std::_Exit(0);
}
