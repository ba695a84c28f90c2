#include "trueup/inventory/availability_rules.hpp"

#include <set>
#include <utility>

#include "trueup/model/identifiers.hpp"

namespace trueup::inventory {

using config::bounded;
using config::optional;
using config::required;
using config::section;
using config::section_list;
using config::Type;
using config::with_default;

config::Key availability_section() {
  return section(
      "availability", "The availability engine: what each sales channel may show (docs/availability.md).",
      {
          section_list("sku_groups", "Groups of SKUs that share a safety stock.",
                       {
                           required("name", Type::string, "Group name (a code), used by safety_stock.rules[].group."),
                           optional("skus", Type::string_list, "Canonical SKUs in the group."),
                           optional("sku_prefixes", Type::string_list,
                                    "SKUs starting with one of these are in the group (an exact `skus` entry "
                                    "elsewhere wins; among prefixes the longest wins)."),
                       }),
          section("safety_stock", "Units held back per SKU and location; the most specific rule wins.",
                  {
                      bounded(with_default("default", Type::integer, "0", "Units held back where no rule applies."), 0,
                              1000000000),
                      section_list("rules",
                                   "Overrides. Precedence: group+location, then group, then location, then default.",
                                   {
                                       optional("group", Type::string, "A sku_groups[].name."),
                                       optional("location", Type::string, "A location code."),
                                       bounded(required("quantity", Type::integer, "Units held back."), 0, 1000000000),
                                   }),
                  }),
          section_list(
              "channels", "Sales channels and the locations whose stock they may sell.",
              {
                  required("code", Type::string, "Channel code, e.g. shopify-eu."),
                  required("locations", Type::string_list, "Location codes feeding the channel."),
                  bounded(with_default("share_percent", Type::integer, "100",
                                       "Percentage of the summed stock the channel shows (rounded down)."),
                          0, 100),
                  bounded(optional("cap", Type::integer, "At most this many units, after the share."), 0, 1000000000),
                  bounded(with_default("minimum", Type::integer, "0",
                                       "Below this many units (after share and cap) the channel shows 0."),
                          0, 1000000000),
                  optional("push_connector", Type::string,
                           "Connector instance id (connectors.<type>[].id) whose set_available operation receives "
                           "the channel's quantities. Unset: computed, not pushed."),
                  optional("push_location", Type::string,
                           "Location code whose mapping in that connector shows the channel's quantity (e.g. the "
                           "Shopify location of the web shop). Required with push_connector."),
              }),
          section("tiers", "When changed quantities are pushed to channels.",
                  {
                      optional("hot_skus", Type::string_list, "SKUs always in the hot tier."),
                      bounded(with_default("hot_push_within", Type::duration, "1s",
                                           "A hot SKU's change is pushed within this time."),
                              0, 3600000),
                      bounded(with_default("cold_interval", Type::duration, "5m",
                                           "Other SKUs' changes are pushed on this interval."),
                              1000, 86400000),
                      bounded(with_default("velocity_threshold", Type::integer, "0",
                                           "Sales per hour (over velocity_window) that make a SKU hot; 0 = off."),
                              0, 1000000000),
                      bounded(with_default("velocity_window", Type::duration, "15m",
                                           "Sliding window over which sales velocity is measured."),
                              60000, 86400000),
                  }),
          bounded(with_default("confirmed_ids_kept", Type::integer, "200000",
                               "Movement ids confirmed by the ERP ledger kept in memory, so that a POS event "
                               "arriving after its ERP entry is not counted again."),
                  0, 100000000),
          section("drift", "Reading channel quantities back and repairing what differs.",
                  {
                      bounded(with_default("check_interval", Type::duration, "10m",
                                           "How often each pushed channel's quantities are read back; 0s = never."),
                              0, 86400000),
                      bounded(with_default("exception_after", Type::integer, "3",
                                           "Drift found on the same SKU and channel this many checks in a row "
                                           "opens an availability_drift exception."),
                              1, 1000),
                  }),
      });
}

namespace {

std::string at(std::string_view path, std::string_view key) {
  std::string s(path);
  s += key;
  return s;
}

Status fail(std::string where, std::string_view message) {
  where += ": ";
  where += message;
  return make_error(Errc::invalid_argument, std::move(where));
}

}  // namespace

Status validate(const AvailabilityRules& rules, std::string_view path) {
  const std::string base = std::string(path) + ".";
  std::set<std::string> groups;
  std::set<std::string> grouped_skus;
  std::set<std::string> prefixes;
  for (std::size_t g = 0; g < rules.sku_groups.size(); ++g) {
    const auto& group = rules.sku_groups[g];
    const std::string p = base + "sku_groups[" + std::to_string(g) + "]";
    if (!model::is_code(group.name))
      return fail(p + ".name", "'" + group.name + "' is not a code (1-64 of A-Za-z0-9._:-)");
    if (!groups.insert(group.name).second) return fail(p + ".name", "group '" + group.name + "' is declared twice");
    for (std::size_t i = 0; i < group.skus.size(); ++i) {
      const std::string q = p + ".skus[" + std::to_string(i) + "]";
      if (!model::is_identifier(group.skus[i])) return fail(q, "'" + group.skus[i] + "' is not a SKU identifier");
      if (!grouped_skus.insert(group.skus[i]).second)
        return fail(q, "SKU '" + group.skus[i] + "' is in more than one group");
    }
    for (std::size_t i = 0; i < group.sku_prefixes.size(); ++i) {
      const std::string q = p + ".sku_prefixes[" + std::to_string(i) + "]";
      if (group.sku_prefixes[i].empty()) return fail(q, "an empty prefix would match every SKU");
      if (!prefixes.insert(group.sku_prefixes[i]).second)
        return fail(q, "prefix '" + group.sku_prefixes[i] + "' is used by more than one group");
    }
  }

  if (rules.safety_stock.default_quantity < 0) return fail(at(base, "safety_stock.default"), "must be >= 0");
  std::set<std::pair<std::string, std::string>> scopes;
  for (std::size_t r = 0; r < rules.safety_stock.rules.size(); ++r) {
    const auto& rule = rules.safety_stock.rules[r];
    const std::string p = base + "safety_stock.rules[" + std::to_string(r) + "]";
    if (!rule.group && !rule.location)
      return fail(p, "give a group, a location or both (safety_stock.default covers everything else)");
    if (rule.group && !groups.contains(*rule.group))
      return fail(p + ".group", "'" + *rule.group + "' is not declared in availability.sku_groups");
    if (rule.location && !model::is_code(*rule.location))
      return fail(p + ".location", "'" + *rule.location + "' is not a location code");
    if (rule.quantity < 0) return fail(p + ".quantity", "must be >= 0");
    if (!scopes.emplace(rule.group.value_or(""), rule.location.value_or("")).second)
      return fail(p, "another rule already covers this group and location");
  }

  if (rules.channels.size() > kMaxChannels)
    return fail(at(base, "channels"), "at most " + std::to_string(kMaxChannels) + " channels");
  std::set<std::string> channels;
  for (std::size_t c = 0; c < rules.channels.size(); ++c) {
    const auto& ch = rules.channels[c];
    const std::string p = base + "channels[" + std::to_string(c) + "]";
    if (!model::is_code(ch.code)) return fail(p + ".code", "'" + ch.code + "' is not a channel code");
    if (!channels.insert(ch.code).second) return fail(p + ".code", "channel '" + ch.code + "' is declared twice");
    if (ch.locations.empty()) return fail(p + ".locations", "list at least one location");
    std::set<std::string> locations;
    for (std::size_t i = 0; i < ch.locations.size(); ++i) {
      const std::string q = p + ".locations[" + std::to_string(i) + "]";
      if (!model::is_code(ch.locations[i])) return fail(q, "'" + ch.locations[i] + "' is not a location code");
      if (!locations.insert(ch.locations[i]).second) return fail(q, "'" + ch.locations[i] + "' is listed twice");
    }
    if (ch.share_percent < 0 || ch.share_percent > 100) return fail(p + ".share_percent", "must be within 0..100");
    if (ch.cap && *ch.cap < 0) return fail(p + ".cap", "must be >= 0");
    if (ch.minimum < 0) return fail(p + ".minimum", "must be >= 0");
    if (ch.push_connector.empty() != ch.push_location.empty())
      return fail(p + (ch.push_connector.empty() ? ".push_connector" : ".push_location"),
                  "push_connector and push_location go together");
  }

  std::set<std::string> hot;
  for (std::size_t i = 0; i < rules.tiers.hot_skus.size(); ++i) {
    const std::string q = base + "tiers.hot_skus[" + std::to_string(i) + "]";
    if (!model::is_identifier(rules.tiers.hot_skus[i]))
      return fail(q, "'" + rules.tiers.hot_skus[i] + "' is not a SKU identifier");
    if (!hot.insert(rules.tiers.hot_skus[i]).second)
      return fail(q, "'" + rules.tiers.hot_skus[i] + "' is listed twice");
  }
  if (rules.tiers.hot_push_within.count() < 0) return fail(at(base, "tiers.hot_push_within"), "must be >= 0");
  if (rules.tiers.cold_interval.count() <= 0) return fail(at(base, "tiers.cold_interval"), "must be > 0");
  if (rules.tiers.velocity_threshold < 0) return fail(at(base, "tiers.velocity_threshold"), "must be >= 0");
  if (rules.tiers.velocity_window.count() <= 0) return fail(at(base, "tiers.velocity_window"), "must be > 0");
  return Ok{};
}

Result<AvailabilityRules> availability_rules(const config::Section& s, std::string_view source) {
  AvailabilityRules rules;
  auto list = [](const config::Section& sec, std::string_view key) {
    return sec.has(key) ? sec.string_list(key) : std::vector<std::string>{};
  };
  for (const auto& g : s.sections("sku_groups"))
    rules.sku_groups.push_back(SkuGroup{g.string("name"), list(g, "skus"), list(g, "sku_prefixes")});

  const auto safety = s.section("safety_stock");
  rules.safety_stock.default_quantity = safety.integer("default");
  for (const auto& r : safety.sections("rules")) {
    SafetyStockRule rule;
    if (r.has("group")) rule.group = r.string("group");
    if (r.has("location")) rule.location = r.string("location");
    rule.quantity = r.integer("quantity");
    rules.safety_stock.rules.push_back(std::move(rule));
  }

  for (const auto& c : s.sections("channels")) {
    ChannelRule ch;
    ch.code = c.string("code");
    ch.locations = c.string_list("locations");
    ch.share_percent = static_cast<int>(c.integer("share_percent"));
    if (c.has("cap")) ch.cap = c.integer("cap");
    ch.minimum = c.integer("minimum");
    if (c.has("push_connector")) ch.push_connector = c.string("push_connector");
    if (c.has("push_location")) ch.push_location = c.string("push_location");
    rules.channels.push_back(std::move(ch));
  }

  const auto t = s.section("tiers");
  rules.tiers.hot_skus = list(t, "hot_skus");
  rules.tiers.hot_push_within = t.duration("hot_push_within");
  rules.tiers.cold_interval = t.duration("cold_interval");
  rules.tiers.velocity_threshold = t.integer("velocity_threshold");
  rules.tiers.velocity_window = t.duration("velocity_window");
  rules.confirmed_ids_kept = static_cast<std::size_t>(s.integer("confirmed_ids_kept"));
  rules.drift.check_interval = s.section("drift").duration("check_interval");
  rules.drift.exception_after = static_cast<int>(s.section("drift").integer("exception_after"));

  auto checked = validate(rules, s.path());
  if (!checked) {
    Error e = std::move(checked).error();
    e.message = std::string(source) + ": " + e.message;
    return e;
  }
  return rules;
}

}  // namespace trueup::inventory
