#include "trueup/messaging/inbox.hpp"

#include "sql_support.hpp"

namespace trueup::messaging {

std::string content_dedupe_key(std::string_view canonical_content) { return detail::sha256_hex(canonical_content); }

Inbox::Inbox(store::Store& store, metrics::Registry& registry, Clock clock)
    : postgres_(detail::dialect_of(store).postgres), registry_(registry), clock_(std::move(clock)) {}

Inbox::SourceCounters& Inbox::counters(const std::string& source) {
  std::lock_guard lock(mu_);
  auto it = counters_.find(source);
  if (it != counters_.end()) return it->second;
  const metrics::Labels labels{{"source", source}};
  SourceCounters c{
      &registry_.counter("trueup_inbox_messages_total", "Inbound messages recorded as new in the inbox", labels),
      &registry_.counter("trueup_inbox_duplicates_total", "Inbound messages recognised as duplicates", labels),
      &registry_.counter("trueup_inbox_quarantined_total",
                         "Authentic inbound payloads kept in quarantine because they could not be parsed or mapped",
                         labels)};
  return counters_.emplace(source, c).first->second;
}

Result<InboxRecord> Inbox::record(store::Transaction& tx, const InboxMessage& message) {
  if (message.source.empty()) return make_error(Errc::invalid_argument, "inbox: source is empty");
  if (message.dedupe_key.empty())
    return make_error(Errc::invalid_argument, "inbox: dedupe key is empty (source " + message.source + ")");
  const detail::Dialect d{postgres_};
  const auto received =
      message.received_at == std::chrono::system_clock::time_point{} ? now_of(clock_) : message.received_at;
  // ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to
  // commit or roll back, so exactly one transaction sees its row inserted.
  auto inserted = tx.exec(
      "INSERT INTO trueup_inbox (source, dedupe_key, content_type, payload, received_at) "
      "VALUES ($1, $2, $3, " +
          d.bytes_in(4) + ", " + d.ts(5) + ") ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id",
      {message.source, message.dedupe_key, message.content_type, d.bytes_param(message.payload),
       detail::timestamp(received)});
  if (!inserted) return std::move(inserted).error();
  auto& c = counters(message.source);
  if (!inserted->rows.empty()) {
    auto id = detail::to_int(inserted->rows[0][0]);
    if (!id) return make_error(Errc::internal, "inbox: insert returned no id");
    c.messages->inc();
    return InboxRecord{*id, true};
  }
  // A duplicate. Under READ COMMITTED this statement gets a fresh snapshot,
  // so it sees the row committed by the transaction we waited for.
  auto existing = tx.exec("SELECT id FROM trueup_inbox WHERE source = $1 AND dedupe_key = $2",
                          {message.source, message.dedupe_key});
  if (!existing) return std::move(existing).error();
  if (existing->rows.empty()) return make_error(Errc::conflict, "inbox: duplicate of a message not yet visible; retry");
  auto id = detail::to_int(existing->rows[0][0]);
  if (!id) return make_error(Errc::internal, "inbox: bad id");
  c.duplicates->inc();
  return InboxRecord{*id, false};
}

Result<std::int64_t> Inbox::quarantine(store::Transaction& tx, std::string_view source, std::string_view raw,
                                       std::string_view content_type, std::string_view reason) {
  if (source.empty()) return make_error(Errc::invalid_argument, "quarantine: source is empty");
  const detail::Dialect d{postgres_};
  auto r = tx.exec(
      "INSERT INTO trueup_quarantine (source, content_type, payload, reason, received_at) "
      "VALUES ($1, $2, " +
          d.bytes_in(3) + ", $4, " + d.ts(5) + ") RETURNING id",
      {std::string(source), std::string(content_type), d.bytes_param(raw), std::string(reason),
       detail::timestamp(now_of(clock_))});
  if (!r) return std::move(r).error();
  auto id = r->rows.empty() ? std::nullopt : detail::to_int(r->rows[0][0]);
  if (!id) return make_error(Errc::internal, "quarantine: insert returned no id");
  counters(std::string(source)).quarantined->inc();
  return *id;
}

}  // namespace trueup::messaging
