#include "trueup/crosswalk/crosswalk.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include "trueup/core/time.hpp"
#include "trueup/log/log.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::crosswalk {
namespace {

constexpr std::size_t kMaxPart = 512;

// Timestamps read back as RFC 3339 UTC text on both engines.
std::string ts_column(const store::Store& store, const char* column) {
  if (store.engine() == "postgres")
    return std::string("to_char(") + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
  return column;
}

std::string value(const store::Row& row, std::size_t i) { return row[i].value_or(""); }

// RFC 4180 fields of one CSV record; `pos` advances past the record.
// Returns false on an unterminated quote.
bool next_record(const std::string& text, std::size_t& pos, std::vector<std::string>& fields) {
  fields.clear();
  std::string field;
  bool quoted = false, in_quotes = false;
  while (pos < text.size()) {
    char c = text[pos];
    if (in_quotes) {
      if (c == '"') {
        if (pos + 1 < text.size() && text[pos + 1] == '"') {
          field += '"';
          pos += 2;
          continue;
        }
        in_quotes = false;
        ++pos;
        continue;
      }
      field += c;
      ++pos;
      continue;
    }
    if (c == '"' && field.empty() && !quoted) {
      in_quotes = quoted = true;
      ++pos;
      continue;
    }
    if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
      quoted = false;
      ++pos;
      continue;
    }
    if (c == '\r' || c == '\n') {
      if (c == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') ++pos;
      ++pos;
      break;
    }
    field += c;
    ++pos;
  }
  if (in_quotes) return false;
  fields.push_back(std::move(field));
  return true;
}

}  // namespace

namespace {
// One identifier part: non-empty, bounded, no control characters.
Status validate_part(const std::string& part, const char* name) {
  if (part.empty()) return make_error(Errc::invalid_argument, std::string(name) + " is empty");
  if (part.size() > kMaxPart)
    return make_error(Errc::invalid_argument, std::string(name) + " is longer than 512 characters");
  for (unsigned char c : part)
    if (c < 0x20 || c == 0x7f)
      return make_error(Errc::invalid_argument, std::string(name) + " has a control character");
  return Ok{};
}
}  // namespace

Status validate(const Key& key) {
  if (auto s = validate_part(key.system, "system"); !s) return s;
  if (auto s = validate_part(key.entity, "entity"); !s) return s;
  return validate_part(key.external_id, "external_id");
}

Crosswalk::Crosswalk(store::Store& store, Settings settings, metrics::Registry& registry)
    : store_(store),
      settings_(settings),
      hits_(registry.counter("trueup_crosswalk_lookups_total", "Crosswalk lookups by result.", {{"result", "cached"}})),
      misses_(
          registry.counter("trueup_crosswalk_lookups_total", "Crosswalk lookups by result.", {{"result", "store"}})),
      replayed_(registry.counter("trueup_parked_messages_replayed_total",
                                 "Parked messages replayed after their mapping was added.")) {}

std::string Crosswalk::cache_key(const Key& key) {
  std::string k;
  k.reserve(key.system.size() + key.entity.size() + key.external_id.size() + 2);
  k += key.system;
  k += '\x1f';
  k += key.entity;
  k += '\x1f';
  k += key.external_id;
  return k;
}

void Crosswalk::remember(const Key& key, const std::string& canonical_id) {
  if (settings_.cache_capacity == 0) return;
  std::lock_guard lock(mutex_);
  auto k = cache_key(key);
  auto it = cache_.find(k);
  if (it != cache_.end()) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
  }
  lru_.push_front(k);
  cache_.emplace(k, CacheEntry{canonical_id, std::chrono::steady_clock::now() + settings_.cache_ttl, lru_.begin()});
  while (cache_.size() > settings_.cache_capacity) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

void Crosswalk::forget(const Key& key) {
  std::lock_guard lock(mutex_);
  auto it = cache_.find(cache_key(key));
  if (it == cache_.end()) return;
  lru_.erase(it->second.lru);
  cache_.erase(it);
}

Result<std::optional<std::string>> Crosswalk::resolve(const Key& key) {
  {
    std::lock_guard lock(mutex_);
    auto it = cache_.find(cache_key(key));
    if (it != cache_.end() && it->second.expires > std::chrono::steady_clock::now()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      hits_.inc();
      return std::optional<std::string>(it->second.canonical_id);
    }
  }
  misses_.inc();
  auto m = get(key);
  if (!m) return std::move(m).error();
  if (!*m) {
    forget(key);
    return std::optional<std::string>();
  }
  remember(key, (*m)->canonical_id);
  return std::optional<std::string>((*m)->canonical_id);
}

Result<std::optional<Mapping>> Crosswalk::get(const Key& key) {
  if (auto s = validate(key); !s) return std::move(s).error();
  std::optional<Mapping> out;
  auto st = store_.transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec("SELECT canonical_id, " + ts_column(store_, "updated_at") +
                         ", updated_by FROM crosswalk WHERE system = $1 AND entity = $2 AND external_id = $3",
                     {key.system, key.entity, key.external_id});
    if (!r) return std::move(r).error();
    if (!r->rows.empty()) {
      const auto& row = r->rows.front();
      out = Mapping{key, value(row, 0), value(row, 1), value(row, 2)};
    }
    return Ok{};
  });
  if (!st) return std::move(st).error();
  return out;
}

Result<std::vector<Mapping>> Crosswalk::list(const std::string& system, const std::string& entity,
                                             const std::string& canonical_id, std::size_t limit) {
  std::vector<Mapping> out;
  auto st = store_.transact([&](store::Transaction& tx) -> Status {
    // Empty filters match everything.
    auto r =
        tx.exec("SELECT system, entity, external_id, canonical_id, " + ts_column(store_, "updated_at") +
                    ", updated_by FROM crosswalk"
                    " WHERE ($1 = '' OR system = $1) AND ($2 = '' OR entity = $2) AND ($3 = '' OR canonical_id = $3)"
                    " ORDER BY system, entity, external_id LIMIT $4",
                {system, entity, canonical_id, static_cast<std::int64_t>(limit)});
    if (!r) return std::move(r).error();
    for (const auto& row : r->rows)
      out.push_back(
          Mapping{{value(row, 0), value(row, 1), value(row, 2)}, value(row, 3), value(row, 4), value(row, 5)});
    return Ok{};
  });
  if (!st) return std::move(st).error();
  return out;
}

namespace {
// Serialises writing a key's mapping with parking a message under that key
// (PostgreSQL: a transaction-scoped advisory lock on the key; SQLite has one
// writer anyway), so a message parked while its mapping is written is either
// seen by the replay that follows the mapping, or sees the mapping itself.
Status lock_key(store::Store& store, store::Transaction& tx, const Key& key) {
  if (store.engine() != "postgres") return Ok{};
  auto r = tx.exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
                   {key.system + '\x1f' + key.entity + '\x1f' + key.external_id});
  if (!r) return std::move(r).error();
  return Ok{};
}

// Writes one mapping; true when it was new or changed.
Result<bool> upsert(store::Transaction& tx, const Key& key, const std::string& canonical_id, const std::string& by,
                    const std::string& now) {
  auto r = tx.exec(
      "INSERT INTO crosswalk (system, entity, external_id, canonical_id, updated_at, updated_by)"
      " VALUES ($1, $2, $3, $4, $5, $6)"
      " ON CONFLICT (system, entity, external_id) DO UPDATE SET canonical_id = excluded.canonical_id,"
      " updated_at = excluded.updated_at, updated_by = excluded.updated_by"
      " WHERE crosswalk.canonical_id <> excluded.canonical_id",
      {key.system, key.entity, key.external_id, canonical_id, now, by});
  if (!r) return std::move(r).error();
  return r->affected > 0;
}
}  // namespace

Result<bool> Crosswalk::put(const Key& key, const std::string& canonical_id, const std::string& by) {
  if (auto s = validate(key); !s) return std::move(s).error();
  if (auto s = validate_part(canonical_id, "canonical_id"); !s) return std::move(s).error();
  bool changed = false;
  const std::string now = format_utc(std::chrono::system_clock::now(), 3);
  auto st = store_.transact([&](store::Transaction& tx) -> Status {
    if (auto locked = lock_key(store_, tx, key); !locked) return locked;
    auto r = upsert(tx, key, canonical_id, by, now);
    if (!r) return std::move(r).error();
    changed = *r;
    return Ok{};
  });
  if (!st) return std::move(st).error();
  remember(key, canonical_id);
  if (auto replayed = replay(key); !replayed) {
    log::warn("parked messages not replayed yet",
              {{"system", key.system}, {"entity", key.entity}, {"error", replayed.error().describe()}});
  }
  return changed;
}

Result<ImportReport> Crosswalk::import_csv(const std::string& csv_text, const std::string& by) {
  struct Row {
    Key key;
    std::string canonical_id;
  };
  std::vector<Row> rows;
  std::size_t pos = 0, line = 0;
  std::vector<std::string> fields;
  bool header_seen = false;
  while (pos < csv_text.size()) {
    ++line;
    const std::size_t start = pos;
    if (!next_record(csv_text, pos, fields))
      return make_error(Errc::invalid_argument, "line " + std::to_string(line) + ": unterminated quoted field");
    // A quoted field may span lines: count the newlines it consumed.
    for (std::size_t i = start; i + 1 < pos; ++i)
      if (csv_text[i] == '\n') ++line;
    if (fields.size() == 1 && fields[0].empty()) continue;  // blank line
    if (!header_seen) {
      header_seen = true;
      if (fields != std::vector<std::string>{"system", "entity", "external_id", "canonical_id"})
        return make_error(Errc::invalid_argument, "line " + std::to_string(line) +
                                                      ": the header must be system,entity,external_id,canonical_id");
      continue;
    }
    if (fields.size() != 4)
      return make_error(Errc::invalid_argument,
                        "line " + std::to_string(line) + ": expected 4 fields, found " + std::to_string(fields.size()));
    Row row{{fields[0], fields[1], fields[2]}, fields[3]};
    if (auto s = validate(row.key); !s)
      return make_error(Errc::invalid_argument, "line " + std::to_string(line) + ": " + s.error().message);
    if (row.canonical_id.empty())
      return make_error(Errc::invalid_argument, "line " + std::to_string(line) + ": canonical_id is empty");
    rows.push_back(std::move(row));
  }
  if (!header_seen) return make_error(Errc::invalid_argument, "the file is empty: expected a header line");

  ImportReport report;
  const std::string now = format_utc(std::chrono::system_clock::now(), 3);
  std::set<std::string> seen;
  // Keys locked in one order (no deadlock between two imports).
  std::vector<const Key*> keys;
  for (const auto& row : rows) keys.push_back(&row.key);
  std::sort(keys.begin(), keys.end(), [](const Key* a, const Key* b) {
    return std::tie(a->system, a->entity, a->external_id) < std::tie(b->system, b->entity, b->external_id);
  });
  auto st = store_.transact([&](store::Transaction& tx) -> Status {
    report = ImportReport{};
    for (const Key* key : keys)
      if (auto locked = lock_key(store_, tx, *key); !locked) return locked;
    for (const auto& row : rows) {
      auto r = upsert(tx, row.key, row.canonical_id, by, now);
      if (!r) return std::move(r).error();
      if (*r)
        ++report.rows;
      else
        ++report.unchanged;
    }
    return Ok{};
  });
  if (!st) return std::move(st).error();
  for (const auto& row : rows) {
    remember(row.key, row.canonical_id);
    if (!seen.insert(cache_key(row.key)).second) continue;
    if (auto n = replay(row.key); n) report.replayed += *n;
  }
  return report;
}

Result<std::int64_t> Crosswalk::park(store::Transaction& tx, const Key& key, const std::string& source,
                                     const std::string& content_type, const std::string& payload) {
  if (auto s = validate(key); !s) return std::move(s).error();
  if (auto locked = lock_key(store_, tx, key); !locked) return std::move(locked).error();
  auto mapped = tx.exec("SELECT 1 FROM crosswalk WHERE system = $1 AND entity = $2 AND external_id = $3",
                        {key.system, key.entity, key.external_id});
  if (!mapped) return std::move(mapped).error();
  if (!mapped->rows.empty())
    return make_error(Errc::conflict, "the mapping of " + key.system + "/" + key.entity + "/" + key.external_id +
                                          " arrived while the message was being parked; map it again");
  auto r = tx.exec(
      "INSERT INTO parked_message (system, entity, external_id, source, content_type, payload, parked_at)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
      {key.system, key.entity, key.external_id, source, content_type, payload,
       format_utc(std::chrono::system_clock::now(), 3)});
  if (!r) return std::move(r).error();
  if (r->rows.empty() || !r->rows[0][0]) return make_error(Errc::internal, "parked message id not returned");
  return std::stoll(*r->rows[0][0]);
}

Result<std::size_t> Crosswalk::replay(const Key& key) {
  std::vector<ParkedMessage> waiting;
  auto st = store_.transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec("SELECT id, source, content_type, payload, " + ts_column(store_, "parked_at") +
                         " FROM parked_message WHERE system = $1 AND entity = $2 AND external_id = $3"
                         " AND replayed_at IS NULL ORDER BY id",
                     {key.system, key.entity, key.external_id});
    if (!r) return std::move(r).error();
    for (const auto& row : r->rows)
      waiting.push_back(
          ParkedMessage{std::stoll(value(row, 0)), key, value(row, 1), value(row, 2), value(row, 3), value(row, 4)});
    return Ok{};
  });
  if (!st) return std::move(st).error();

  std::size_t done = 0;
  for (const auto& message : waiting) {
    Replayer replayer;
    std::vector<ReplayListener> listeners;
    {
      std::lock_guard lock(mutex_);
      auto it = replayers_.find(message.source);
      if (it != replayers_.end()) replayer = it->second;
      listeners = listeners_;
    }
    Status outcome = replayer ? replayer(message)
                              : Status(make_error(Errc::unsupported, "no replayer for source " + message.source));
    // Record the outcome; a message replays once: only the first writer of
    // replayed_at wins, so two instances replaying together do not double it.
    const std::string now = format_utc(std::chrono::system_clock::now(), 3);
    std::int64_t marked = 0;
    auto mark = store_.transact([&](store::Transaction& tx) -> Status {
      auto r = outcome ? tx.exec(
                             "UPDATE parked_message SET replayed_at = $2, last_error = NULL WHERE id = $1"
                             " AND replayed_at IS NULL",
                             {message.id, now})
                       : tx.exec("UPDATE parked_message SET last_error = $2 WHERE id = $1",
                                 {message.id, outcome.error().describe()});
      if (!r) return std::move(r).error();
      marked = r->affected;
      return Ok{};
    });
    if (!mark) return std::move(mark).error();
    if (outcome && marked > 0) {
      ++done;
      replayed_.inc();
      for (const auto& l : listeners) l(message);
    }
  }
  return done;
}

void Crosswalk::set_replayer(const std::string& source, Replayer replayer) {
  std::lock_guard lock(mutex_);
  replayers_[source] = std::move(replayer);
}

void Crosswalk::on_replayed(ReplayListener listener) {
  std::lock_guard lock(mutex_);
  listeners_.push_back(std::move(listener));
}

}  // namespace trueup::crosswalk
