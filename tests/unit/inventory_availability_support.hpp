#pragma once
// Availability rules built field by field, for the unit tests and the
// benchmark: the rule structs gain members, and aggregate initialisation
// would then trip -Wmissing-field-initializers.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trueup/inventory/availability_rules.hpp"

namespace trueup::inventory::test {

inline ChannelRule channel(std::string code, std::vector<std::string> locations, int share_percent = 100,
                           std::optional<std::int64_t> cap = std::nullopt, std::int64_t minimum = 0) {
  ChannelRule c;
  c.code = std::move(code);
  c.locations = std::move(locations);
  c.share_percent = share_percent;
  c.cap = cap;
  c.minimum = minimum;
  return c;
}

inline SkuGroup sku_group(std::string name, std::vector<std::string> skus, std::vector<std::string> prefixes) {
  SkuGroup g;
  g.name = std::move(name);
  g.skus = std::move(skus);
  g.sku_prefixes = std::move(prefixes);
  return g;
}

inline SafetyStockRule safety_rule(std::optional<std::string> group, std::optional<std::string> location,
                                   std::int64_t quantity) {
  SafetyStockRule r;
  r.group = std::move(group);
  r.location = std::move(location);
  r.quantity = quantity;
  return r;
}

}  // namespace trueup::inventory::test
