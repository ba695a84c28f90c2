#include "trueup/messaging/outbox.hpp"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "sql_support.hpp"
#include "trueup/core/time.hpp"

namespace trueup::messaging {

std::string make_uuid_v4() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed: no entropy for UUIDs");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  auto hex = detail::hex_encode(std::string_view(reinterpret_cast<const char*>(b), sizeof b));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20);
}

Outbox::Outbox(store::Store& store, Clock clock)
    : postgres_(detail::dialect_of(store).postgres), clock_(std::move(clock)) {}

Result<AppendedEvent> Outbox::append(store::Transaction& tx, OutboxEvent event) {
  if (event.topic.empty()) return make_error(Errc::invalid_argument, "outbox: event topic is empty");
  if (event.type.empty()) return make_error(Errc::invalid_argument, "outbox: event type (ce_type) is empty");
  if (event.source.empty()) return make_error(Errc::invalid_argument, "outbox: event source (ce_source) is empty");
  if (!nlohmann::json::accept(event.data))
    return make_error(Errc::invalid_argument, "outbox: data of " + event.type + " is not JSON");
  const auto now = now_of(clock_);
  if (event.id.empty()) event.id = make_uuid_v4();
  if (event.time.empty()) event.time = format_utc(now, 3);
  const detail::Dialect d{postgres_};
  auto opt = [](const std::string& s) -> store::Param {
    if (s.empty()) return std::monostate{};
    return s;
  };
  auto r = tx.exec(
      "INSERT INTO trueup_outbox (id, topic, key, type, source, subject, time, data, traceparent, "
      "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, " +
          d.ts(10) + ") RETURNING seq",
      {event.id, event.topic, event.key, event.type, event.source, opt(event.subject), event.time, event.data,
       opt(event.traceparent), detail::timestamp(now)});
  if (!r) return std::move(r).error();
  auto seq = r->rows.empty() ? std::nullopt : detail::to_int(r->rows[0][0]);
  if (!seq) return make_error(Errc::internal, "outbox: insert returned no sequence");
  return AppendedEvent{*seq, std::move(event.id)};
}

}  // namespace trueup::messaging
