// A deterministic generator of realistic mail for the IMAP benchmark: 2-20 KB messages with
// a From among 50 senders, a few recipients, a subject, text bodies, and one in five a
// multipart/mixed with a base64 attachment. Header-only: every bench/*.cpp is its own program.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace fcpmail::bench {

inline std::vector<std::string> generate_mailbox(std::size_t count, std::uint32_t seed = 20240601) {
  static const char* const words[] = {
      "freenet", "hyphanet", "mail", "node", "key", "slot", "channel", "message", "contact", "identity",
      "trust", "insert", "request", "fetch", "route", "peer", "darknet", "opennet", "store", "cache",
      "privacy", "anonymous", "network", "update", "report", "meeting", "tomorrow", "project", "draft", "release"};
  const std::size_t nwords = sizeof words / sizeof words[0];
  std::mt19937 rng(seed);
  auto word = [&] { return std::string(words[rng() % nwords]); };
  auto sentence = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i) s += ' ';
      s += word();
    }
    return s;
  };
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<std::string> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::size_t target = 2048 + rng() % (18 * 1024);
    bool attachment = rng() % 5 == 0;
    unsigned sender = rng() % 50;
    std::string m;
    m += "From: Sender " + std::to_string(sender) + " <sender" + std::to_string(sender) + "@example" +
         std::to_string(sender % 7) + ".freemail>\r\n";
    m += "To: alice@test.freemail, bob" + std::to_string(rng() % 20) + "@example.freemail\r\n";
    if (rng() % 4 == 0) m += "Cc: carol" + std::to_string(rng() % 10) + "@example.freemail\r\n";
    m += "Subject: " + sentence(3 + static_cast<int>(rng() % 5)) + "\r\n";
    int day = 1 + static_cast<int>(i % 28), hour = static_cast<int>(rng() % 24), minute = static_cast<int>(rng() % 60);
    static const char* const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char* const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun"};
    char date[80];
    std::snprintf(date, sizeof date, "Date: %s, %d %s 2024 %02d:%02d:00 +0000\r\n", days[i % 7], day,
                  months[(i / 28) % 6], hour, minute);
    m += date;
    m += "Message-ID: <bench-" + std::to_string(i) + "@example.freemail>\r\n";
    m += "MIME-Version: 1.0\r\n";
    auto text_until = [&](std::size_t size) {
      std::string t;
      while (t.size() < size) t += sentence(8 + static_cast<int>(rng() % 6)) + "\r\n";
      return t;
    };
    if (!attachment) {
      m += "Content-Type: text/plain; charset=utf-8\r\n\r\n";
      m += text_until(target > m.size() ? target - m.size() : 64);
    } else {
      std::string boundary = "=_bench_" + std::to_string(i);
      m += "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n";
      m += "This is a multi-part message in MIME format.\r\n";
      m += "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
      m += text_until(512 + rng() % 1024);
      m += "--" + boundary + "\r\nContent-Type: application/pdf; name=\"report-" + std::to_string(i) +
           ".pdf\"\r\nContent-Disposition: attachment; filename=\"report-" + std::to_string(i) +
           ".pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n";
      while (m.size() + 80 < target) {
        for (int k = 0; k < 76; ++k) m += b64[rng() % 64];
        m += "\r\n";
      }
      m += "--" + boundary + "--\r\n";
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace fcpmail::bench
