// imap-testserver: the IMAP server over a seeded mailbox, for integration tests and by hand.
//
//   imap-testserver [--port N] [--db FILE] [--user ADDR] [--password PW] [--no-seed] [--trace]
//                   [--meta-cache-mb N] [--login-timeout SECONDS] [--max-connections N]
//
// Listens on 127.0.0.1 (port 0 = a free port), prints "PORT <n>" on stdout once listening, and
// serves the account ADDR (default alice@test.freemail, password "secret") whose INBOX holds a few
// messages of different MIME shapes. Lines on stdin act like the engine:
//   deliver FOLDER FILE    stores the file as a new message (as a delivery from the network)
//   quit                   stops
// End of stdin also stops the server. --trace prints every command line to stderr ("C: ...").
#include "auth/login_gate.h"
#include "imap/imap_server.h"
#include "store/mailbox_store.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <fstream>
#include <malloc.h>
#include <iostream>
#include <sstream>
#include <thread>

namespace {

class FixedLogin final : public fcpmail::LoginCheck {
 public:
  FixedLogin(std::string user, std::string password) : user_(std::move(user)), password_(std::move(password)) {}
  std::optional<std::string> check_login(const std::string& user, const std::string& password) override {
    if (user == user_ && password == password_) return user_;
    return std::nullopt;
  }

 private:
  std::string user_, password_;
};

const char* const seed_messages[] = {
    // 1: plain text
    "From: Bob Example <bob@example.freemail>\r\n"
    "To: alice@test.freemail\r\n"
    "Subject: Hello Alice\r\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    "Message-ID: <hello-1@example.freemail>\r\n"
    "\r\n"
    "Hi Alice,\r\nthis is a plain message.\r\n",
    // 2: multipart/mixed with an attachment
    "From: carol@example.freemail\r\n"
    "To: Alice <alice@test.freemail>\r\n"
    "Cc: dave@example.freemail\r\n"
    "Subject: Report attached\r\n"
    "Date: Tue, 8 Feb 1994 10:00:00 +0000\r\n"
    "Message-ID: <report-2@example.freemail>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "See the attachment.\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    "Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "AAECAwQFBgcICQ==\r\n"
    "--XX--\r\n",
    // 3: nested multipart: mixed( alternative(text, html), message/rfc822 )
    "From: Erin <erin@example.freemail>\r\n"
    "To: alice@test.freemail\r\n"
    "Subject: Nested\r\n"
    "Date: Wed, 9 Feb 1994 12:30:00 +0100\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=outer\r\n"
    "\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=inner\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain body\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>html body</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: frank@example.freemail\r\n"
    "Subject: Forwarded\r\n"
    "\r\n"
    "forwarded text\r\n"
    "--outer--\r\n",
};

}  // namespace

int main(int argc, char** argv) {
  // Large replies (several MB) are allocated with mmap and so returned to the system when freed,
  // instead of growing the heap for good (glibc otherwise raises this threshold after the first big
  // free). The bound sits above a session's per-SELECT vectors (~0.6 MB for 10,000 messages): with
  // 256 KiB every SELECT paid for mapping, faulting in and unmapping them, half its time.
  ::mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
  unsigned short port = 0;
  std::string db_path = ":memory:";
  std::string user = "alice@test.freemail", password = "secret";
  bool seed = true;
  bool trace = false;
  long meta_cache_mb = -1;  // the store's default
  fcpmail::imap::ServerOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port") port = static_cast<unsigned short>(std::stoi(value()));
    else if (a == "--db") db_path = value();
    else if (a == "--user") user = value();
    else if (a == "--password") password = value();
    else if (a == "--no-seed") seed = false;
    else if (a == "--trace") trace = true;
    else if (a == "--meta-cache-mb") meta_cache_mb = std::stol(value());
    else if (a == "--login-timeout") options.login_timeout = std::chrono::seconds(std::stol(value()));
    else if (a == "--max-connections") options.max_connections = std::stoul(value());
    else {
      std::cerr << "usage: imap-testserver [--port N] [--db FILE] [--user ADDR] [--password PW] [--no-seed] [--trace]"
                   " [--meta-cache-mb N] [--login-timeout SECONDS] [--max-connections N]\n";
      return 2;
    }
  }
  try {
    SQLite::Database db(db_path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    if (db_path != ":memory:") {
      // As the daemon opens its database (src/store/database.cpp).
      db.exec("PRAGMA journal_mode=WAL");
      db.exec("PRAGMA synchronous=NORMAL");
    }
    fcpmail::MailboxStore store(db);
    if (meta_cache_mb >= 0) store.set_meta_cache_limit(static_cast<std::size_t>(meta_cache_mb) << 20);
    fcpmail::crypto::Key256 key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
    store.unlock(user, key);
    bool fresh = !store.list_folders(user).has_value();
    if (!store.ensure_account(user)) throw std::runtime_error("cannot create the account");
    if (seed && fresh) {
      std::int64_t date = 760000000;
      for (const char* m : seed_messages)
        if (!store.deliver(user, "INBOX", m, {}, date += 3600)) throw std::runtime_error("cannot seed");
    }
    FixedLogin login(user, password);
    boost::asio::io_context io;
    // As in the daemon: logins are checked on the gate's worker, failures slow down guessing.
    fcpmail::auth::LoginGate gate(login);
    if (trace) options.session.trace = [](std::string_view line) { std::cerr << "C: " << line << std::endl; };
    fcpmail::imap::Server server(io, {boost::asio::ip::make_address("127.0.0.1"), port}, store, gate, options);
    std::cout << "PORT " << server.port() << std::endl;

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) {
      server.stop();
      io.stop();
    });
    std::thread control([&] {
      std::string line;
      while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string cmd, folder, file;
        in >> cmd;
        if (cmd == "quit") break;
        if (cmd == "deliver" && in >> folder >> file) {
          std::ifstream f(file, std::ios::binary);
          std::string body((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
          auto uid = store.deliver(user, folder, body, {}, std::time(nullptr));
          std::cout << (uid ? "DELIVERED " + std::to_string(*uid) : "ERROR " + std::string(fcpmail::describe(uid.error())))
                    << std::endl;
        }
      }
      boost::asio::post(io, [&] {
        server.stop();
        io.stop();
      });
    });
    io.run();
    control.detach();  // may still wait on stdin; the process is ending
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "imap-testserver: " << e.what() << "\n";
    return 1;
  }
}
