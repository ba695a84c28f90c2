#pragma once
// Availability rules: safety stock, which locations feed which channel and
// how much of it each channel may show, and the SLA tiers of channel pushes.
// Plain structs; `availability_section()` declares the `availability:` YAML
// section and `availability_rules()` reads a validated one. docs/availability.md
// has the whole model with an example.
//
// Quantities are whole units (int64): the engine refuses fractional stock
// rather than round it (see availability.hpp).
//
// Safety stock precedence, most specific first (the first that matches wins):
//   1. a rule with both `group` and `location`   (the SKU's group at that location)
//   2. a rule with `group` only                  (the SKU's group, any location)
//   3. a rule with `location` only               (any SKU at that location)
//   4. `safety_stock.default`
// A SKU's group: its exact entry in some group's `skus`, else the group with
// the longest matching `sku_prefixes` entry, else none.
//
// Thread-safety: plain values and pure functions.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/config/schema.hpp"
#include "trueup/core/error.hpp"

namespace trueup::inventory {

struct SkuGroup {
  std::string name;                       // code
  std::vector<std::string> skus;          // exact canonical SKUs
  std::vector<std::string> sku_prefixes;  // SKUs starting with one of these
};

struct SafetyStockRule {
  std::optional<std::string> group;     // a SkuGroup name
  std::optional<std::string> location;  // a location code
  std::int64_t quantity = 0;            // units held back per location, >= 0
};

struct SafetyStockRules {
  std::int64_t default_quantity = 0;
  std::vector<SafetyStockRule> rules;  // at least one of group/location each
};

struct ChannelRule {
  std::string code;                    // channel code, e.g. "shopify-eu"
  std::vector<std::string> locations;  // locations whose stock feeds the channel
  int share_percent = 100;             // floor(sum * share_percent / 100)
  std::optional<std::int64_t> cap;     // then at most this many
  std::int64_t minimum = 0;            // then below this, the channel shows 0
  // Where the daemon pushes the channel's quantities: a connector instance
  // with a set_available operation, and the location code (mapped by that
  // connector) that shows them. Empty: computed, not pushed.
  std::string push_connector;
  std::string push_location;
};

struct TierRules {
  std::vector<std::string> hot_skus;                          // always hot
  std::chrono::milliseconds hot_push_within{1000};            // deadline of a hot push
  std::chrono::milliseconds cold_interval{5 * 60 * 1000};     // cold pushes go out on this tick
  std::int64_t velocity_threshold = 0;                        // sales/hour that make a SKU hot; 0 = off
  std::chrono::milliseconds velocity_window{15 * 60 * 1000};  // over this sliding window
};

// Most channels a rule set may declare (a location's channels are a 64-bit mask).
inline constexpr std::size_t kMaxChannels = 64;

struct AvailabilityRules {
  std::vector<SkuGroup> sku_groups;
  SafetyStockRules safety_stock;
  std::vector<ChannelRule> channels;
  TierRules tiers;
  // Movement ids the ERP ledger confirmed, remembered so that a POS event
  // arriving after its ERP entry is not counted (oldest forgotten first).
  std::size_t confirmed_ids_kept = 200000;
  // Drift repair (the daemon's availability service): read each pushed
  // channel back every check_interval (0 = never); the same SKU drifting
  // exception_after checks in a row opens an availability_drift exception.
  struct Drift {
    std::chrono::milliseconds check_interval{600000};
    int exception_after = 3;
  } drift;
};

// The `availability:` section (add it to the daemon schema as is).
config::Key availability_section();

// Reads a validated `availability:` section and checks what the schema cannot
// (codes, duplicates, references between keys). Errors are
// Errc::invalid_argument "<source>: availability.channels[1].locations[0]: ...".
Result<AvailabilityRules> availability_rules(const config::Section& section, std::string_view source);

// The same cross-key checks for rules built in code; `path` prefixes the key
// paths in messages (e.g. "availability").
Status validate(const AvailabilityRules& rules, std::string_view path = "availability");

}  // namespace trueup::inventory
