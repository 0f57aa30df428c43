// RSA-4096 (e = 17, as Freemail) and full RTS decode throughput, printed beside OpenSSL's own
// `openssl speed -seconds 3 rsa4096` run in the same invocation. Figures only, never pass/fail.
//   bench_rsa_bench [SECONDS]     (default 3 per measurement)
#include "bench_support.h"
#include "crypto/random.h"
#include "crypto/rsa.h"
#include "freemail/rsa_key_file.h"
#include "freemail/rts.h"

#include <array>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

using namespace fcpmail;
using bench::fixture;
using bench::load_key;
using bench::thread_cpu_seconds;

namespace {

// Runs `op` repeatedly for `seconds` of this thread's CPU time; returns operations per CPU second.
// CPU time, not wall time, because `openssl speed` reports per user-CPU second too, and the
// machine may be shared: both sides are then measured the same way.
template <typename Op>
double rate(double seconds, Op op) {
  const double start = thread_cpu_seconds();
  long n = 0;
  double now = start;
  do {
    op();
    ++n;
    now = thread_cpu_seconds();
  } while (now - start < seconds);
  return n / (now - start);
}

struct OpenSslFigures {
  double sign_per_s = 0;
  double verify_per_s = 0;
  std::string raw;
};

OpenSslFigures run_openssl(int seconds) {
  OpenSslFigures out;
  const std::string cmd = "openssl speed -seconds " + std::to_string(seconds) + " rsa4096 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get())) {
    std::string line = buf.data();
    out.raw += line;
    // "rsa 4096 bits 0.003582s 0.000061s    279.2  16515.4"
    if (line.rfind("rsa 4096 bits", 0) == 0) {
      std::istringstream s(line.substr(13));
      std::string sign_time, verify_time;
      s >> sign_time >> verify_time >> out.sign_per_s >> out.verify_per_s;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const auto alice = load_key("alice");
  const auto bob = load_key("bob");

  // Inputs below the modulus: 511 random bytes.
  const std::string input = crypto::random_bytes(511);
  const std::string signature = *alice.raw_private(input);
  const double private_rate = rate(seconds, [&] { (void)alice.raw_private(input); });
  const double public_rate = rate(seconds, [&] { (void)alice.public_key().raw_public(signature); });

  freemail::RtsFields fields;
  fields.mailsite = "USK@vUwUGaBlXbMOWdhSr5BlrxkZfD7bUGOUk6M0HNYKN2A,mMhITeChRejfV~jEqKNLzcKsTl6LpmPcT8e4GSxfEDI,AQACAAE/mailsite/-1/mailpage";
  fields.to = "XrAUYiUcz6zW9rJq990bwanm7lME-PoK4FQcUX2VfpY";
  fields.channel = "SSK@Mp8ZxuCLnBkioGfhs1TuqLdng9UVZ8~n5Q0QtiUY9WI,PuO0yMON89D~5jUgwh4pmeIxTelC-p2ieTQbfHmXBUU,AQECAAE/";
  fields.initiator_slot = "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPQ";
  fields.responder_slot = "EAQSEIZEEUTCOKBJFIVSYLJOF4YDCMRTGQ2TMNZYHE5DWPB5HY7Q";
  fields.timeout_ms = 4102444800000;  // 2100-01-01
  const auto rts = freemail::encode_rts(fields, alice, bob.public_key());
  if (!rts) {
    std::cerr << "encode failed: " << rts.error().reason << "\n";
    return 1;
  }
  const double decode_rate = rate(seconds, [&] {
    auto r = freemail::accept_rts(rts->bytes, bob, alice.public_key(), fields.to, 0);
    if (!r) std::abort();
  });
  const double encode_rate = rate(seconds, [&] {
    (void)freemail::encode_rts(fields, alice, bob.public_key());
  });
  // Decrypt and parse only (what a poller does before it has the sender's mailpage).
  const double open_rate = rate(seconds, [&] { (void)freemail::open_rts(rts->bytes, bob); });

  std::cout << "running `openssl speed -seconds " << seconds << " rsa4096` ...\n" << std::flush;
  const OpenSslFigures ossl = run_openssl(seconds);

  std::printf("\nRSA-4096, one thread, %d CPU-seconds per figure, operations per CPU-second\n", seconds);
  std::printf("%-44s %12s %12s\n", "", "fcpmail", "openssl");
  std::printf("%-44s %12.1f %12.1f\n", "private op/s (CRT, blinded; openssl: sign)", private_rate,
              ossl.sign_per_s);
  std::printf("%-44s %12.1f %12.1f\n", "public op/s (ours e=17; openssl: verify e=65537)", public_rate,
              ossl.verify_per_s);
  std::printf("%-44s %12.1f\n", "RTS decode+verify+check/s (1488 B)", decode_rate);
  std::printf("%-44s %12.1f\n", "RTS encode/s (sign + encrypt)", encode_rate);
  std::printf("%-44s %12.1f\n", "RTS open (decrypt + parse)/s", open_rate);
  if (ossl.sign_per_s > 0) {
    const double ratio = ossl.sign_per_s / private_rate;
    std::printf("\nprivate-op time relative to OpenSSL: %.2fx (target <= 1.5x): %s\n", ratio,
                ratio <= 1.5 ? "within target" : "OUTSIDE target");
  } else {
    std::printf("\n(openssl speed not available: %s)\n", ossl.raw.empty() ? "no output" : ossl.raw.c_str());
  }
  return 0;
}
