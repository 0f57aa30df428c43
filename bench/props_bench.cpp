// How long a stranger's junk RTS costs us before it is refused. Anyone who knows an address can
// insert blobs of up to 2 MiB (the fetch MaxSize) at its RTS KSK; each one is decrypted and parsed
// on the worker pool before the signature can be checked, so that work must be linear and bounded.
// Figures only, never pass/fail.
//   bench_props_bench [ROUNDS]     (default 3; the best round is printed)
//
// Cases (all encrypted to bob's fixture key, so they pass the RSA and AES layers):
//   junk props 1.2 MB   short distinct `kN=v` lines (the shape that was quadratic)
//   junk props 2 MiB    the same, as large as a fetch can be
//   no '=' lines 2 MiB  lines Freemail would skip
//   one long line       one 2 MiB line (no line breaks)
//   random 2 MiB        random bytes (refused at the RSA block)
//   read_props 1.2 MB   the props parser alone on the 1.2 MB text (e.g. a mailpage or payload)
#include "bench_support.h"
#include "crypto/aes_cbc.h"
#include "crypto/random.h"
#include "freemail/props.h"
#include "freemail/rsa_key_file.h"
#include "freemail/rts.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>

using namespace fcpmail;
using bench::fixture;
using bench::load_key;
using bench::thread_cpu_seconds;

namespace {

// `kN=v` lines with distinct keys, CRLF, up to `size` bytes, then the empty line.
std::string junk_props(std::size_t size) {
  std::string out;
  out.reserve(size + 16);
  for (std::size_t n = 0; out.size() + 32 < size; ++n) out += "k" + std::to_string(n) + "=v\r\n";
  out += "\r\n";
  return out;
}

std::string no_equals_lines(std::size_t size) {
  std::string out;
  out.reserve(size + 16);
  while (out.size() + 32 < size) out += "junk line without a separator\r\n";
  out += "\r\n";
  return out;
}

// What a stranger inserts: `plaintext` || a junk "signature", sealed to `recipient` exactly as an
// RTS is (RSA block with IV || key, then AES-256-CBC).
std::string seal_to(const std::string& plaintext, const crypto::RsaPublicKey& recipient) {
  std::string material;
  do material = crypto::random_bytes(freemail::rts_key_material_size);
  while (material[0] == '\0');
  auto block = recipient.raw_public(material);
  if (!block) throw std::runtime_error(block.error());
  std::string signed_message = plaintext + std::string(recipient.block_size(), '\x5a');
  return *block + crypto::aes_cbc_encrypt(std::string_view(material).substr(16, 32),
                                          std::string_view(material).substr(0, 16), signed_message);
}

// Keeps the blob at most 2 MiB after encryption (one RSA block, a signature block and padding).
std::size_t plaintext_room(std::size_t total, const crypto::RsaPublicKey& key) {
  return total - 2 * key.block_size() - 2 * crypto::aes_block_size;
}

// Best wall and CPU seconds of `rounds` runs. CPU time is the figure to compare: the machine may
// be shared, which inflates wall time but not the work done.
struct Seconds {
  double wall = 1e300, cpu = 1e300;
};

Seconds best_seconds(int rounds, const std::function<void()>& op) {
  Seconds best;
  for (int i = 0; i < rounds; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = thread_cpu_seconds();
    op();
    const double cpu = thread_cpu_seconds() - cpu_start;
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    best.wall = std::min(best.wall, took.count());
    best.cpu = std::min(best.cpu, cpu);
  }
  return best;
}

void print_row(const char* name, std::size_t size, Seconds s, const std::string& outcome) {
  std::printf("%-20s %8zu bytes  cpu %8.4f s  wall %8.4f s  %s\n", name, size, s.cpu, s.wall,
              outcome.substr(0, 80).c_str());
}

void report_rts(const char* name, const std::string& blob, const crypto::RsaPrivateKey& own, int rounds) {
  std::string outcome;
  const Seconds s = best_seconds(rounds, [&] {
    auto opened = freemail::open_rts(blob, own);
    outcome = opened ? std::string("accepted (!)")
                     : std::string(freemail::to_string(opened.error().error)) + ": " + opened.error().reason;
  });
  print_row(name, blob.size(), s, outcome);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const auto bob = load_key("bob");
  const auto& pub = bob.public_key();
  constexpr std::size_t mib2 = freemail::rts_max_size;

  std::printf("time for open_rts to refuse a stranger's RTS (best of %d)\n", rounds);
  report_rts("junk props 1.2 MB", seal_to(junk_props(1'200'000), pub), bob, rounds);
  report_rts("junk props 2 MiB", seal_to(junk_props(plaintext_room(mib2, pub)), pub), bob, rounds);
  report_rts("no '=' lines 2 MiB", seal_to(no_equals_lines(plaintext_room(mib2, pub)), pub), bob, rounds);
  report_rts("one long line 2 MiB", seal_to(std::string(plaintext_room(mib2, pub), 'x'), pub), bob, rounds);
  report_rts("random 2 MiB", crypto::random_bytes(mib2), bob, rounds);

  const std::string text = junk_props(1'200'000);
  std::string outcome;
  const Seconds s = best_seconds(rounds, [&] {
    auto props = freemail::read_props(text);
    outcome = props ? std::to_string(props->fields.size()) + " fields accepted" : props.error();
  });
  print_row("read_props 1.2 MB", text.size(), s, outcome);
  return 0;
}
