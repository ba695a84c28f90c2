#pragma once
// The ID crosswalk: every external identifier maps to a canonical one through
// (system, entity, external id). Unknown identifiers never drop a message: the
// caller parks it; adding the mapping replays what was parked for it.
//
// Lookups are cached (positive answers only, for `cache_ttl`, at most
// `cache_capacity` entries); a miss always asks the store, so a mapping added
// by another instance is seen at once, and a changed mapping within the TTL.
//
// Thread-safety: all members are safe from any thread. Blocking: every call
// that is not given a Transaction does a store round trip; call it from a
// store-safe thread (never an I/O thread).

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/store/store.hpp"

namespace trueup::metrics {
class Registry;
class Counter;
}  // namespace trueup::metrics

namespace trueup::crosswalk {

struct Key {
  std::string system;       // square, shopify, business-central, ...
  std::string entity;       // sku, location, channel, ...
  std::string external_id;  // as the system spells it
};

struct Mapping {
  Key key;
  std::string canonical_id;
  std::string updated_at;
  std::string updated_by;
};

struct ParkedMessage {
  std::int64_t id = 0;
  Key key;             // the identifier that was not known
  std::string source;  // who replays it
  std::string content_type;
  std::string payload;
  std::string parked_at;
};

struct Settings {
  std::size_t cache_capacity = 100000;
  std::chrono::milliseconds cache_ttl{60000};
};

struct ImportReport {
  std::size_t rows = 0;       // mappings written (new or changed)
  std::size_t unchanged = 0;  // already mapped the same way
  std::size_t replayed = 0;   // parked messages replayed because of them
};

// Replays a parked message now that its identifier maps; an error keeps it
// parked (with the error recorded) for the next mapping change or a retry.
using Replayer = std::function<Status(const ParkedMessage&)>;

// Called after a parked message was replayed successfully (e.g. to resolve
// its exception).
using ReplayListener = std::function<void(const ParkedMessage&)>;

// Validates the parts of a key (non-empty, no control characters, bounded).
Status validate(const Key& key);

class Crosswalk {
 public:
  Crosswalk(store::Store& store, Settings settings, metrics::Registry& registry);

  // The canonical id, nullopt when unmapped. Errors: the store's.
  Result<std::optional<std::string>> resolve(const Key& key);
  Result<std::optional<Mapping>> get(const Key& key);
  // Mappings filtered by any of system/entity/canonical id, at most `limit`.
  Result<std::vector<Mapping>> list(const std::string& system, const std::string& entity,
                                    const std::string& canonical_id, std::size_t limit);

  // Adds or changes a mapping, then replays what was parked for it.
  // Returns true when the mapping was new or changed.
  Result<bool> put(const Key& key, const std::string& canonical_id, const std::string& by);

  // Imports "system,entity,external_id,canonical_id" CSV (header line
  // required; RFC 4180 quoting) in one transaction: all rows or none. Errors
  // name the line. Then replays parked messages of the imported keys.
  Result<ImportReport> import_csv(const std::string& csv_text, const std::string& by);

  // Parks a message in the caller's transaction; returns its id.
  // Errc::conflict (retryable) when the key has been mapped in the meantime:
  // map the message again instead. Parking and writing a key's mapping are
  // serialised, so a parked message is never missed by the replay that
  // follows its mapping.
  Result<std::int64_t> park(store::Transaction& tx, const Key& key, const std::string& source,
                            const std::string& content_type, const std::string& payload);
  // Replays every waiting parked message of `key` through its source's
  // replayer. Returns how many were replayed.
  Result<std::size_t> replay(const Key& key);

  void set_replayer(const std::string& source, Replayer replayer);
  void on_replayed(ReplayListener listener);

 private:
  struct CacheEntry {
    std::string canonical_id;
    std::chrono::steady_clock::time_point expires;
    std::list<std::string>::iterator lru;
  };
  static std::string cache_key(const Key& key);
  void remember(const Key& key, const std::string& canonical_id);
  void forget(const Key& key);

  store::Store& store_;
  Settings settings_;
  std::mutex mutex_;
  std::unordered_map<std::string, CacheEntry> cache_;
  std::list<std::string> lru_;  // front = most recent
  std::map<std::string, Replayer> replayers_;
  std::vector<ReplayListener> listeners_;
  metrics::Counter& hits_;
  metrics::Counter& misses_;
  metrics::Counter& replayed_;
};

}  // namespace trueup::crosswalk
