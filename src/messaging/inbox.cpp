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
  using Key = std::pair<std::string_view, std::string_view>;
  auto key_of = [&](std::size_t i) { return Key{messages[i].source, messages[i].dedupe_key}; };
  // Rows go in key order, so two transactions inserting overlapping batches
  // take the unique-index locks in the same order (no deadlock). A key given
  // twice is inserted once; its later copies are duplicates of the first.
  std::vector<std::size_t> order(messages.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key_of(a) < key_of(b); });
  std::vector<std::size_t> firsts;  // one index per distinct key, in key order
  for (std::size_t i : order)
    if (firsts.empty() || key_of(firsts.back()) != key_of(i)) firsts.push_back(i);

  std::map<Key, std::pair<std::int64_t, bool>> ids;  // key -> (id, inserted by us)
  for (std::size_t from = 0; from < firsts.size(); from += store::kMaxRowsPerStatement) {
    const std::size_t n = std::min(store::kMaxRowsPerStatement, firsts.size() - from);
    std::vector<store::Param> params;
    params.reserve(n * 5);
    for (std::size_t k = 0; k < n; ++k) {
      const auto& m = messages[firsts[from + k]];
      const auto received = m.received_at == std::chrono::system_clock::time_point{} ? now : m.received_at;
      params.insert(params.end(),
                    {m.source, m.dedupe_key, m.content_type, d.bytes_param(m.payload), detail::timestamp(received)});
    }
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same key to
    // commit or roll back, so exactly one transaction sees its row inserted.
    auto inserted =
        tx.exec("INSERT INTO trueup_inbox (source, dedupe_key, content_type, payload, received_at) VALUES " +
                    store::values_tuples(n, 5, 1,
                                         [&](std::size_t c, int p) {
                                           return c == 3 ? d.bytes_in(p) : c == 4 ? d.ts(p) : "$" + std::to_string(p);
                                         }) +
                    " ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id, source, dedupe_key",
                params);
    if (!inserted) return std::move(inserted).error();
    for (const auto& row : inserted->rows) {
      auto id = detail::to_int(row[0]);
      if (!id || !row[1] || !row[2]) return make_error(Errc::internal, "inbox: insert returned no id");
      auto i = std::find_if(firsts.begin() + static_cast<std::ptrdiff_t>(from),
                            firsts.begin() + static_cast<std::ptrdiff_t>(from + n), [&](std::size_t j) {
                              return key_of(j) == Key{*row[1], *row[2]};
                            });
      if (i == firsts.begin() + static_cast<std::ptrdiff_t>(from + n))
        return make_error(Errc::internal, "inbox: insert returned an unknown key");
      ids[key_of(*i)] = {*id, true};
    }
    if (inserted->rows.size() == n) continue;
    // Duplicates. Under READ COMMITTED this statement gets a fresh snapshot,
    // so it sees the rows committed by the transactions we waited for.
    std::vector<store::Param> keys;
    std::size_t missing = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const auto& m = messages[firsts[from + k]];
      if (ids.count(key_of(firsts[from + k]))) continue;
      keys.insert(keys.end(), {m.source, m.dedupe_key});
      ++missing;
    }
    auto existing = tx.exec("SELECT id, source, dedupe_key FROM trueup_inbox WHERE (source, dedupe_key) IN (VALUES " +
                                store::values_tuples(missing, 2) + ")",
                            keys);
    if (!existing) return std::move(existing).error();
    for (const auto& row : existing->rows) {
      auto id = detail::to_int(row[0]);
      if (!id || !row[1] || !row[2]) return make_error(Errc::internal, "inbox: bad id");
      for (std::size_t k = 0; k < n; ++k) {
        const Key key = key_of(firsts[from + k]);
        if (key == Key{*row[1], *row[2]}) ids[key] = {*id, false};
      }
    }
  }

  std::vector<InboxRecord> out;
  out.reserve(messages.size());
  std::map<Key, bool> reported;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    auto it = ids.find(key_of(i));
    if (it == ids.end()) return make_error(Errc::conflict, "inbox: duplicate of a message not yet visible; retry");
    // Only the first copy of a key in this batch counts as inserted.
    const bool inserted = it->second.second && reported.emplace(it->first, true).second;
    auto& c = counters(messages[i].source);
    (inserted ? c.messages : c.duplicates)->inc();
    out.push_back(InboxRecord{it->second.first, inserted});
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
