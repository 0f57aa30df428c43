// JSON form of the control surface's result types (see control.h).
#include "engine/control.h"

#include <ctime>
#include <nlohmann/json.hpp>

namespace fcpmail::engine {

std::string iso8601(TimePoint t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

namespace {
nlohmann::json time_or_null(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(iso8601(*t)) : nlohmann::json(nullptr);
}
}  // namespace

void to_json(nlohmann::json& j, const NodeStatus& v) {
  j = {{"host", v.host}, {"port", v.port}, {"embedded", v.embedded}, {"connected", v.connected},
       {"version", v.version}, {"connected_since", time_or_null(v.connected_since)},
       {"wot_available", v.wot_available}};
}

void to_json(nlohmann::json& j, const AccountSummary& v) {
  j = {{"address", v.address}, {"nickname", v.nickname}, {"identity_id", v.identity_id},
       {"state", v.state}, {"mailsite_edition", v.mailsite_edition},
       {"mailsite_published", time_or_null(v.mailsite_published)},
       {"next_republish", time_or_null(v.next_republish)}};
}

void to_json(nlohmann::json& j, const QueueCounts& v) {
  j = {{"held", v.held}, {"awaiting_cts", v.awaiting_cts}, {"awaiting_ack", v.awaiting_ack},
       {"delivered", v.delivered}, {"failed", v.failed}, {"contact_requests", v.contact_requests},
       {"channels", v.channels}, {"fcp_in_flight", v.fcp_in_flight}};
}

void to_json(nlohmann::json& j, const Warning& v) {
  j = {{"text", v.text}, {"account", v.account.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.account)},
       {"count", v.count}, {"first", iso8601(v.first)}, {"last", iso8601(v.last)}};
}

void to_json(nlohmann::json& j, const Status& v) {
  j = {{"version", v.version}, {"scope", v.scope ? nlohmann::json(*v.scope) : nlohmann::json(nullptr)},
       {"node", v.node}, {"accounts", v.accounts}, {"counts", v.counts}, {"warnings", v.warnings}};
  if (v.scope) {
    // FCP figures are the whole node's traffic, every account's: not part of one account's view.
    j["counts"].erase("fcp_in_flight");
  } else {
    j["fcp_requests_total"] = v.fcp_requests_total;
    j["fcp_requests_by_purpose"] = v.fcp_requests_by_purpose;
  }
}

void to_json(nlohmann::json& j, const AccountCreated& v) {
  j = {{"account", v.account}, {"password", v.password},
       {"password_generated", v.password_generated},
       {"imap", {{"host", v.imap_host}, {"port", v.imap_port}}},
       {"smtp", {{"host", v.smtp_host}, {"port", v.smtp_port}}}};
}

void to_json(nlohmann::json& j, const Contact& v) {
  j = {{"account", v.account}, {"address", v.address}, {"petname", v.petname},
       {"nickname", v.nickname}, {"identity_id", v.identity_id}, {"state", v.state},
       {"added", time_or_null(v.added)}, {"last_message", time_or_null(v.last_message)}};
}

void to_json(nlohmann::json& j, const ContactRequest& v) {
  j = {{"id", v.id}, {"account", v.account}, {"from", v.from_address}, {"nickname", v.nickname},
       {"identity_id", v.identity_id}, {"received", iso8601(v.received)}, {"state", v.state}};
}

void to_json(nlohmann::json& j, const RecipientDelivery& v) {
  j = {{"recipient", v.recipient}, {"code", v.code}, {"state", v.state},
       {"next_action", time_or_null(v.next_action)}, {"next_action_text", v.next_action_text},
       {"attempts", v.attempts}, {"delivered_at", time_or_null(v.delivered_at)}};
}

void to_json(nlohmann::json& j, const OutboxEntry& v) {
  j = {{"id", v.id}, {"account", v.account}, {"subject", v.subject}, {"size", v.size},
       {"submitted", iso8601(v.submitted)}, {"recipients", v.recipients}};
}

void to_json(nlohmann::json& j, const OutboxDetail& v) {
  to_json(j, v.entry);
  j["headers"] = v.headers;
}

void to_json(nlohmann::json& j, const RtsPoll& v) {
  j = {{"account", v.account}, {"date", v.date}, {"slot", v.slot}, {"key", v.key},
       {"last_result", v.last_result}, {"last_poll", time_or_null(v.last_poll)},
       {"next_poll", time_or_null(v.next_poll)}};
}

void to_json(nlohmann::json& j, const ChannelQueue& v) {
  j = {{"id", v.id}, {"account", v.account}, {"peer", v.peer}, {"role", v.role},
       {"state", v.state}, {"next_send_slot", v.next_send_slot},
       {"polled_window", v.polled_window}, {"awaiting_ack", v.awaiting_ack},
       {"acks_pending", v.acks_pending}, {"last_fetch", time_or_null(v.last_fetch)},
       {"next_retry", time_or_null(v.next_retry)}, {"send_until", time_or_null(v.send_until)}};
}

void to_json(nlohmann::json& j, const InFlightRequest& v) {
  j = {{"kind", v.kind}, {"what", v.what}, {"age_seconds", v.age_seconds}};
}

void to_json(nlohmann::json& j, const Queues& v) {
  j = {{"rts", v.rts}, {"channels", v.channels}, {"in_flight", v.in_flight}};
}

}  // namespace fcpmail::engine
