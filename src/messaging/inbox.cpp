#include "trueup/messaging/inbox.hpp"

#include <algorithm>
#include <map>

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
  auto out = record_batch(tx, std::span<const InboxMessage>(&message, 1));
  if (!out) return std::move(out).error();
  return out->front();
}

Result<std::vector<InboxRecord>> Inbox::record_batch(store::Transaction& tx, std::span<const InboxMessage> messages) {
  for (const auto& m : messages) {
    if (m.source.empty()) return make_error(Errc::invalid_argument, "inbox: source is empty");
    if (m.dedupe_key.empty())
      return make_error(Errc::invalid_argument, "inbox: dedupe key is empty (source " + m.source + ")");
  }
  const detail::Dialect d{postgres_};
  const auto now = now_of(clock_);
  std::vector<std::pair<std::string, std::string>> keys;
  keys.reserve(messages.size());
  for (const auto& m : messages) keys.emplace_back(m.source, m.dedupe_key);
  const store::KeyedInsert spec{"INSERT INTO trueup_inbox (source, dedupe_key, content_type, payload, received_at)",
                                5,
                                [&](std::size_t c, int p) {
                                  return c == 3 ? d.bytes_in(p) : c == 4 ? d.ts(p) : "$" + std::to_string(p);
                                },
                                "(source, dedupe_key)",
                                "id",
                                "trueup_inbox"};
  auto rows = store::insert_unless_present(tx, spec, keys, [&](std::size_t i, std::vector<store::Param>& out) {
    const auto& m = messages[i];
    const auto received = m.received_at == std::chrono::system_clock::time_point{} ? now : m.received_at;
    out.insert(out.end(),
               {m.source, m.dedupe_key, m.content_type, d.bytes_param(m.payload), detail::timestamp(received)});
  });
  if (!rows) return std::move(rows).error();
  std::vector<InboxRecord> out;
  out.reserve(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto id = detail::to_int((*rows)[i].id);
    if (!id) return make_error(Errc::internal, "inbox: bad id");
    auto& c = counters(messages[i].source);
    ((*rows)[i].inserted ? c.messages : c.duplicates)->inc();
    out.push_back(InboxRecord{*id, (*rows)[i].inserted});
  }
  return out;
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
