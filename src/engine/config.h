// Engine configuration: every interval of the protocol, with Freemail 0.2's values as defaults,
// and the consent policies. `scaled(f)` multiplies every interval at once (tests use 0.002).
#pragma once
#include <chrono>
#include <string>

namespace fcpmail::engine {

using Millis = std::chrono::milliseconds;

struct Intervals {
  Millis mailsite_republish{std::chrono::hours(1)};     // MAILSITE_UPLOAD_INTERVAL
  Millis rts_poll{std::chrono::minutes(5)};             // MIN_POLL_DURATION
  Millis rts_resend{std::chrono::hours(24)};            // RTSSender
  Millis ack_delay_max{std::chrono::hours(12)};         // MAX_ACK_DELAY (uniform 0..max)
  Millis channel_send{std::chrono::days(7)};            // CHANNEL_TIMEOUT
  Millis channel_poll_extra{std::chrono::days(7)};      // polled after timeout
  Millis message_resend{std::chrono::hours(24)};        // RESEND_TIME
  Millis channel_poll{std::chrono::minutes(5)};         // head slot of each channel
  // The look-ahead window beyond the head slot (and skipped slots) are polled less often: the
  // peer writes its chain in order, so a new message lands on the head slot. This is what keeps an
  // idle channel within its request budget (see .team/engine.md).
  Millis channel_window_poll{std::chrono::hours(1)};
  Millis retry{std::chrono::minutes(5)};                // TASK_RETRY_DELAY
  Millis slot_lifetime{std::chrono::days(7)};           // SLOT_LIFETIME (skipped slots)

  Intervals scaled(double factor) const;
};

struct EngineConfig {
  Intervals intervals;
  bool outbound_auto = false;        // --outbound-approval auto: release at once
  bool contact_requests_auto = false;// --contact-requests auto: accept every valid RTS
  int rts_days_back = 7;             // past UTC days polled for RTSs (Freemail: 29)
  int rts_passes_per_day = 3;        // a past day is polled until this many clean passes
  int rts_lookahead = 3;             // RTS slots beyond the last found
  int channel_lookahead = 6;         // channel slots beyond the head
  std::size_t max_rts_size = 2 * 1024 * 1024;
  std::size_t max_message_size = 32 * 1024 * 1024;
  // Where mail clients reach us (shown after account creation).
  std::string imap_host = "127.0.0.1";
  int imap_port = 9143;
  std::string smtp_host = "127.0.0.1";
  int smtp_port = 9025;
  // Scheduler tick: how often due work is looked for (bounded below by 10 ms).
  Millis tick{std::chrono::seconds(1)};
};

}  // namespace fcpmail::engine
