// Where the time goes when a contact's channel payload of the full channel size (32 MiB) arrives:
// each step the engine takes, in this thread's CPU time. parse, verify and received_headers run on
// the engine's worker pool; mailbox deliver runs on the I/O thread, inside the engine's
// transaction. Figures only, never pass/fail.
//   bench_channel_payload_bench [MIB]     (default 32)
#include "bench_support.h"
#include "crypto/sealed_box.h"
#include "engine/received_headers.h"
#include "engine/wire.h"
#include "freemail/address.h"
#include "freemail/channel_message.h"
#include "freemail/message_signature.h"
#include "freemail/rsa_key_file.h"
#include "store/database.h"
#include "store/mailbox_store.h"

#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

using namespace fcpmail;
using bench::fixture;
using bench::thread_cpu_seconds;

namespace {

template <typename Op>
void measure(const char* what, Op op) {
  const double start = thread_cpu_seconds();
  op();
  std::cout << "  " << what << ": " << static_cast<long>((thread_cpu_seconds() - start) * 1000) << " ms\n";
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t mib = argc > 1 ? std::stoul(argv[1]) : 32;
  const auto key = freemail::read_rsa_key_file(fixture("keys/bob.key"));
  if (!key) return 1;
  const std::string peer = "bob@" + freemail::identity_from_bytes(std::string(32, '\x11'))->domain();
  std::string mail = "From: Someone Else <x@example.org>\r\nX-Fcpmail-Signature: valid\r\nSubject: big\r\n\r\n";
  const std::string line = std::string(998, 'x') + "\r\n";
  while (mail.size() + line.size() < mib * 1024 * 1024 - 1024) mail += line;
  const std::string sender = "sender-id", recipient = "recipient-id", channel = "SSK@a,b,AQECAAE/";
  const freemail::MessageSignatureContext context{sender, recipient, channel};
  const auto payload = *freemail::write_signed_message(context, 1, mail, *key);
  std::cout << "a signed channel payload of " << payload.size() << " bytes:\n";

  std::expected<engine::wire::ChannelPayload, std::string> parsed;
  measure("parse (pool)", [&] { parsed = engine::wire::parse_payload(payload); });
  const auto public_key = key->public_key();
  measure("verify signature (pool)", [&] { (void)engine::wire::verify_message(*parsed, context, &public_key); });
  engine::ReceivedMessage stored;
  measure("received headers (pool)", [&] {
    stored = engine::received_message(parsed->body(), engine::ReceivedOrigin{freemail::SignatureVerdict::valid, peer, "now"});
  });
  auto db = store::open_memory_database();
  MailboxStore mailbox(*db);
  crypto::Key256 account_key{};
  mailbox.unlock("bob", account_key);
  (void)mailbox.ensure_account("bob");
  measure("mailbox deliver (I/O thread)", [&] { (void)mailbox.deliver("bob", "INBOX", stored.message, Flags{}, 0); });
  return 0;
}
