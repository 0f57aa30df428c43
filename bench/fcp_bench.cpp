// FCP figures: codec parse throughput over recorded fred traffic, and client <-> fcpmail-sim
// 1 KiB SSK put+get pairs per second with 1, 16 and 256 pairs in flight. Prints, never judges.
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "fcp/client.h"
#include "fcp/codec.h"
#ifdef FCPMAIL_HAVE_SIM
#include "sim_node.h"
#endif

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// All recorded streams (the deliberately malformed client side of scenario 11 left out).
std::string recorded_traffic(std::size_t& messages_per_copy) {
  std::string traffic;
  const auto dir = std::filesystem::path(FCPMAIL_FIXTURES) / "fred-recorded";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const auto name = entry.path().filename().string();
    if (entry.path().extension() == ".bin" && !(name.starts_with("11-") && name.find(".c2n.") != std::string::npos))
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    traffic.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  fcp::StreamParser counter;
  counter.feed(traffic);
  messages_per_copy = 0;
  for (auto next = counter.next(); !next.need_more(); next = counter.next())
    if (next.message) ++messages_per_copy;
  return traffic;
}

void bench_codec() {
  std::size_t per_copy = 0;
  const std::string traffic = recorded_traffic(per_copy);
  std::string stream;
  while (stream.size() < 64 * 1024 * 1024) stream += traffic;
  const std::size_t copies = stream.size() / traffic.size();

  fcp::StreamParser parser;
  std::size_t messages = 0, errors = 0;
  const auto start = Clock::now();
  constexpr std::size_t chunk = 64 * 1024;  // what one socket read hands the parser
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    parser.feed(std::string_view(stream).substr(at, chunk));
    for (auto next = parser.next(); !next.need_more(); next = parser.next()) {
      if (next.message) ++messages;
      else ++errors;
    }
  }
  const double elapsed = seconds_since(start);
  std::printf("codec parse: %zu messages (%zu errors, expected %zu) in %.3f s: %.0f messages/s, %.1f MB/s\n", messages,
              errors, per_copy * copies, elapsed, messages / elapsed, stream.size() / elapsed / 1e6);

  // Encoding the same messages back.
  fcp::StreamParser once;
  once.feed(traffic);
  std::vector<fcp::Message> parsed;
  for (auto next = once.next(); !next.need_more(); next = once.next())
    if (next.message) parsed.push_back(std::move(*next.message));
  std::size_t bytes = 0, encoded = 0;
  const auto encode_start = Clock::now();
  while (seconds_since(encode_start) < 1.0) {
    for (const auto& m : parsed) {
      bytes += fcp::encode(m)->size();
      ++encoded;
    }
  }
  const double encode_elapsed = seconds_since(encode_start);
  std::printf("codec encode: %.0f messages/s, %.1f MB/s\n", encoded / encode_elapsed, bytes / encode_elapsed / 1e6);
}

#ifdef FCPMAIL_HAVE_SIM
void bench_client_sim() {
  boost::asio::io_context io;
  fcp::sim::SimNode sim(io, fcp::sim::SimConfig{});
  fcp::ClientConfig config;
  config.port = sim.port();
  config.name = "fcp-bench";
  fcp::Client client(io, config);
  client.start();

  std::optional<fcp::SskKeypair> keys;
  client.generate_ssk([&](fcp::Outcome<fcp::SskKeypair> r) {
    if (r) keys = *r;
    else std::printf("GenerateSSK failed: %s\n", r.error().to_string().c_str());
  });
  while (!keys && !io.stopped()) io.run_one();
  if (!keys) return;

  std::mt19937 rng(1);
  std::string block(1024, '\0');
  for (auto& b : block) b = static_cast<char>(rng());

  int run = 0;
  for (const int window : {1, 16, 256}) {
    ++run;
    const int total = window == 1 ? 500 : 4000;
    int started = 0, done = 0, failed = 0;
    std::function<void()> start_pair = [&] {
      const int i = started++;
      const std::string doc = "bench-" + std::to_string(run) + "-" + std::to_string(i);
      std::string data = block;
      std::memcpy(data.data(), &i, sizeof i);  // distinct data per slot
      client.put(keys->insert_uri + doc, std::move(data), {}, [&, doc](fcp::Outcome<fcp::PutResult> put) {
        if (!put) {
          ++failed;
          ++done;
          if (started < total) start_pair();
          return;
        }
        fcp::GetOptions options;
        options.max_size = 4096;
        client.get(keys->request_uri + doc, options, [&](fcp::Outcome<fcp::GetResult> get) {
          if (!get || get->data.size() != 1024) ++failed;
          ++done;
          if (started < total) start_pair();
        });
      });
    };
    const auto begin = Clock::now();
    const auto requests_before = client.requests_sent();
    for (int i = 0; i < window && started < total; ++i) start_pair();
    while (done < total) io.run_one();
    const double elapsed = seconds_since(begin);
    std::printf("client<->sim 1 KiB SSK put+get, %3d in flight: %d pairs in %.3f s: %.0f pairs/s (%d failed, %llu requests)\n",
                window, total, elapsed, total / elapsed, failed,
                static_cast<unsigned long long>(client.requests_sent() - requests_before));
  }
  client.stop();
  sim.stop();
  io.run();
}
#endif

}  // namespace

int main() {
  bench_codec();
#ifdef FCPMAIL_HAVE_SIM
  bench_client_sim();
#else
  std::printf("client<->sim: not built (fcp_sim missing)\n");
#endif
  return 0;
}
