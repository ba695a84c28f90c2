#include "trueup/messaging/outbox.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <map>
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
  auto out = append_batch(tx, std::span<OutboxEvent>(&event, 1));
  if (!out) return std::move(out).error();
  return std::move(out->front());
}

Result<std::vector<AppendedEvent>> Outbox::append_batch(store::Transaction& tx, std::span<OutboxEvent> events) {
  const auto now = now_of(clock_);
  for (auto& event : events) {
    if (event.topic.empty()) return make_error(Errc::invalid_argument, "outbox: event topic is empty");
    if (event.type.empty()) return make_error(Errc::invalid_argument, "outbox: event type (ce_type) is empty");
    if (event.source.empty()) return make_error(Errc::invalid_argument, "outbox: event source (ce_source) is empty");
    if (!nlohmann::json::accept(event.data))
      return make_error(Errc::invalid_argument, "outbox: data of " + event.type + " is not JSON");
    if (event.id.empty()) event.id = make_uuid_v4();
    if (event.time.empty()) event.time = format_utc(now, 3);
  }
  const detail::Dialect d{postgres_};
  auto opt = [](const std::string& s) -> store::Param {
    if (s.empty()) return std::monostate{};
    return s;
  };
  const std::string created = detail::timestamp(now);
  std::vector<AppendedEvent> out;
  out.reserve(events.size());
  for (std::size_t from = 0; from < events.size(); from += store::kMaxRowsPerStatement) {
    const std::size_t n = std::min(store::kMaxRowsPerStatement, events.size() - from);
    std::vector<store::Param> params;
    params.reserve(n * 10);
    for (std::size_t k = 0; k < n; ++k) {
      const auto& e = events[from + k];
      params.insert(params.end(), {e.id, e.topic, e.key, e.type, e.source, opt(e.subject), e.time, e.data,
                                   opt(e.traceparent), created});
    }
    // Sequence numbers are taken row by row in the order given, so events of
    // one key keep the order of `events`. Each event is queued for the relay
    // too (migrations/*/0013: the event row is never updated); on PostgreSQL
    // in the same statement, one round trip, on SQLite (in process, no DML in
    // WITH) in a second one.
    const std::string insert =
        "INSERT INTO trueup_outbox (id, topic, key, type, source, subject, time, data, traceparent, "
        "created_at, queued) VALUES " +
        // created_at, then `queued`: this release queues its events itself
        // (migrations/*/0013 queues rows appended without it).
        store::values_tuples(n, 10, 1,
                             [&](std::size_t c, int p) {
                               if (c < 9) return "$" + std::to_string(p);
                               return d.ts(p) + ", TRUE";  // a keyword on both engines
                             }) +
        " RETURNING seq, id";
    auto r = tx.exec(postgres_ ? "WITH o AS (" + insert +
                                     "), q AS (INSERT INTO trueup_outbox_pending (seq) SELECT seq FROM o) "
                                     "SELECT seq, id FROM o"
                               : insert,
                     params);
    if (!r) return std::move(r).error();
    if (r->rows.size() != n) return make_error(Errc::internal, "outbox: insert returned no sequence");
    std::map<std::string, std::int64_t, std::less<>> seqs;
    for (const auto& row : r->rows) {
      auto seq = detail::to_int(row[0]);
      if (!seq || !row[1]) return make_error(Errc::internal, "outbox: insert returned no sequence");
      seqs.emplace(*row[1], *seq);
    }
    for (std::size_t k = 0; k < n; ++k) {
      auto it = seqs.find(events[from + k].id);
      if (it == seqs.end()) return make_error(Errc::internal, "outbox: insert returned an unknown id");
      out.push_back(AppendedEvent{it->second, events[from + k].id});
    }
    if (!postgres_) {
      std::vector<store::Param> pending;
      pending.reserve(n);
      for (auto a = out.end() - static_cast<std::ptrdiff_t>(n); a != out.end(); ++a) pending.emplace_back(a->sequence);
      auto queued = tx.exec("INSERT INTO trueup_outbox_pending (seq) VALUES " + store::values_tuples(n, 1), pending);
      if (!queued) return std::move(queued).error();
    }
  }
  return out;
}

}  // namespace trueup::messaging
