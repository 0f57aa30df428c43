#include "engine/config.h"

#include <algorithm>

namespace fcpmail::engine {

Intervals Intervals::scaled(double factor) const {
  auto scale = [factor](Millis m) {
    return Millis(std::max<long long>(1, static_cast<long long>(static_cast<double>(m.count()) * factor)));
  };
  Intervals s;
  s.mailsite_republish = scale(mailsite_republish);
  s.rts_poll = scale(rts_poll);
  s.rts_resend = scale(rts_resend);
  s.ack_delay_max = scale(ack_delay_max);
  s.channel_send = scale(channel_send);
  s.channel_poll_extra = scale(channel_poll_extra);
  s.message_resend = scale(message_resend);
  s.channel_poll = scale(channel_poll);
  s.channel_window_poll = scale(channel_window_poll);
  s.retry = scale(retry);
  s.slot_lifetime = scale(slot_lifetime);
  return s;
}

}  // namespace fcpmail::engine
