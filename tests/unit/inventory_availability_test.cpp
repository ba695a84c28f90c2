// The availability engine: rules from YAML, safety stock precedence, share,
// cap and minimum, reservations, provisional/confirmed replacement in both
// orders, ERP corrections, change coalescing, and the SLA push tiers.
#include <gtest/gtest.h>

#include <chrono>

#include "trueup/inventory/availability.hpp"
#include "trueup/inventory/push_schedule.hpp"
#include "unit/inventory_availability_support.hpp"

namespace trueup::inventory {
namespace {

using test::channel;
using test::safety_rule;
using test::sku_group;

using namespace std::chrono_literals;

EventTime at_minute(int m) { return EventTime(std::chrono::minutes(m)); }

// The worked example of docs/availability.md.
AvailabilityRules example_rules() {
  AvailabilityRules r;
  r.sku_groups.push_back(sku_group("apparel", {"HAT-1"}, {"TSHIRT-"}));
  r.safety_stock.default_quantity = 0;
  r.safety_stock.rules.push_back(safety_rule("apparel", std::nullopt, 2));
  r.safety_stock.rules.push_back(safety_rule(std::nullopt, "store-2", 1));
  r.safety_stock.rules.push_back(safety_rule("apparel", "wh-1", 5));
  r.channels.push_back(channel("web", {"wh-1", "store-1", "store-2"}, 80, 50, 3));
  r.channels.push_back(channel("marketplace", {"wh-1"}, 50, 10, 0));
  return r;
}

int64_t avail(const AvailabilityEngine& e, std::string_view channel, std::string_view sku) {
  auto r = e.available(channel, sku);
  EXPECT_TRUE(r) << r.error().describe();
  return r ? *r : -999;
}

std::shared_ptr<const config::Schema> schema() {
  return std::make_shared<const config::Schema>(std::vector<config::Key>{availability_section()});
}

Result<AvailabilityRules> rules_from(const std::string& yaml) {
  auto loaded = config::load_text(schema(), yaml, "t.yaml");
  if (!loaded.config) {
    std::string all;
    for (const auto& d : loaded.diagnostics) all += d.format() + "\n";
    return make_error(Errc::invalid_argument, all);
  }
  return availability_rules(loaded.config->root().section("availability"), "t.yaml");
}

TEST(AvailabilityRules, ReadsTheYamlSection) {
  auto r = rules_from(R"(availability:
  sku_groups:
    - name: apparel
      skus: [HAT-1]
      sku_prefixes: [TSHIRT-]
  safety_stock:
    default: 1
    rules:
      - group: apparel
        quantity: 2
      - location: store-2
        quantity: 1
      - group: apparel
        location: wh-1
        quantity: 5
  channels:
    - code: web
      locations: [wh-1, store-1, store-2]
      share_percent: 80
      cap: 50
      minimum: 3
    - code: marketplace
      locations: [wh-1]
  tiers:
    hot_skus: [TSHIRT-M]
    velocity_threshold: 30
)");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->sku_groups.size(), 1u);
  EXPECT_EQ(r->sku_groups[0].sku_prefixes, std::vector<std::string>{"TSHIRT-"});
  EXPECT_EQ(r->safety_stock.default_quantity, 1);
  ASSERT_EQ(r->safety_stock.rules.size(), 3u);
  EXPECT_EQ(r->safety_stock.rules[2].group, "apparel");
  EXPECT_EQ(r->safety_stock.rules[2].location, "wh-1");
  EXPECT_EQ(r->safety_stock.rules[1].group, std::nullopt);
  ASSERT_EQ(r->channels.size(), 2u);
  EXPECT_EQ(r->channels[0].share_percent, 80);
  EXPECT_EQ(r->channels[0].cap, 50);
  EXPECT_EQ(r->channels[0].minimum, 3);
  EXPECT_EQ(r->channels[1].share_percent, 100);
  EXPECT_EQ(r->channels[1].cap, std::nullopt);
  EXPECT_EQ(r->tiers.hot_skus, std::vector<std::string>{"TSHIRT-M"});
  EXPECT_EQ(r->tiers.hot_push_within, 1s);
  EXPECT_EQ(r->tiers.cold_interval, 5min);
  EXPECT_EQ(r->tiers.velocity_threshold, 30);
  EXPECT_EQ(r->tiers.velocity_window, 15min);
}

TEST(AvailabilityRules, ErrorsNameTheKey) {
  auto unknown_group = rules_from(R"(availability:
  safety_stock:
    rules:
      - group: shoes
        quantity: 2
)");
  ASSERT_FALSE(unknown_group);
  EXPECT_EQ(unknown_group.error().message,
            "t.yaml: availability.safety_stock.rules[0].group: 'shoes' is not declared in availability.sku_groups");

  auto twice = rules_from(R"(availability:
  channels:
    - code: web
      locations: [wh-1]
    - code: web
      locations: [wh-1, wh-1]
)");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "t.yaml: availability.channels[1].code: channel 'web' is declared twice");

  auto neither = rules_from(R"(availability:
  safety_stock:
    rules:
      - quantity: 2
)");
  ASSERT_FALSE(neither);
  EXPECT_NE(neither.error().message.find("availability.safety_stock.rules[0]: give a group, a location or both"),
            std::string::npos);

  // Bounds are the schema's, with file and line.
  auto share = rules_from(
      "availability:\n  channels:\n    - code: web\n      locations: [wh-1]\n"
      "      share_percent: 120\n");
  ASSERT_FALSE(share);
  EXPECT_NE(share.error().message.find("t.yaml:5:"), std::string::npos) << share.error().message;
  EXPECT_NE(share.error().message.find("availability.channels[0].share_percent"), std::string::npos);
}

TEST(Availability, SafetyStockMostSpecificWins) {
  AvailabilityEngine e(example_rules());
  EXPECT_EQ(e.safety_stock("TSHIRT-M", "wh-1"), 5);     // group + location
  EXPECT_EQ(e.safety_stock("TSHIRT-M", "store-1"), 2);  // group
  EXPECT_EQ(e.safety_stock("TSHIRT-M", "store-2"), 2);  // group beats location
  EXPECT_EQ(e.safety_stock("HAT-1", "wh-1"), 5);        // exact SKU in the group
  EXPECT_EQ(e.safety_stock("MUG-1", "store-2"), 1);     // location
  EXPECT_EQ(e.safety_stock("MUG-1", "wh-1"), 0);        // default
  auto rules = example_rules();
  rules.safety_stock.default_quantity = 4;
  ASSERT_TRUE(e.set_rules(rules));
  EXPECT_EQ(e.safety_stock("MUG-1", "wh-1"), 4);
  EXPECT_EQ(e.safety_stock("MUG-1", "new-store"), 4);  // a location not seen yet
  ASSERT_TRUE(e.set_on_hand("MUG-1", "store-2", 3));
  EXPECT_EQ(e.position("MUG-1", "store-2"), (PositionFigures{3, 0, 0, 1}));
  // A location first seen after the rules: its row follows the same precedence.
  rules.safety_stock.rules.push_back(safety_rule(std::nullopt, "store-9", 7));
  ASSERT_TRUE(e.set_rules(rules));
  ASSERT_TRUE(e.set_on_hand("TSHIRT-S", "store-9", 3));
  ASSERT_TRUE(e.set_on_hand("MUG-1", "store-9", 3));
  EXPECT_EQ(e.position("TSHIRT-S", "store-9").safety_stock, 2);
  EXPECT_EQ(e.position("MUG-1", "store-9").safety_stock, 7);
}

TEST(Availability, ExactGroupEntryBeatsPrefixAndLongestPrefixWins) {
  AvailabilityRules r;
  r.sku_groups.push_back(sku_group("short", {}, {"A-"}));
  r.sku_groups.push_back(sku_group("long", {}, {"A-B"}));
  r.sku_groups.push_back(sku_group("exact", {"A-B-7"}, {}));
  r.safety_stock.rules = {safety_rule("short", std::nullopt, 1), safety_rule("long", std::nullopt, 2),
                          safety_rule("exact", std::nullopt, 3)};
  AvailabilityEngine e(r);
  EXPECT_EQ(e.safety_stock("A-X", "l"), 1);
  EXPECT_EQ(e.safety_stock("A-B-1", "l"), 2);
  EXPECT_EQ(e.safety_stock("A-B-7", "l"), 3);
  EXPECT_EQ(e.safety_stock("B-1", "l"), 0);
}

TEST(Availability, WorkedExampleShareCapAndMinimum) {
  AvailabilityEngine e(example_rules());
  ASSERT_TRUE(e.set_on_hand("TSHIRT-M", "wh-1", 40));
  ASSERT_TRUE(e.reserve("order-1/line-1", "TSHIRT-M", "wh-1", 3));
  ASSERT_TRUE(e.set_on_hand("TSHIRT-M", "store-1", 6));
  ASSERT_TRUE(e.apply_provisional("sq-receipt-9", "TSHIRT-M", "store-1", -1, at_minute(1)));
  ASSERT_TRUE(e.set_on_hand("TSHIRT-M", "store-2", 1));
  ASSERT_TRUE(e.set_on_hand("TSHIRT-M", "outlet", 100));  // feeds no channel
  // wh-1: 40 - 3 - 5 = 32; store-1: 6 - 1 - 2 = 3; store-2: 1 - 2 < 0 -> 0.
  // web: 35 * 80% = 28 (cap 50, minimum 3); marketplace: 32 * 50% = 16, cap 10.
  EXPECT_EQ(avail(e, "web", "TSHIRT-M"), 28);
  EXPECT_EQ(avail(e, "marketplace", "TSHIRT-M"), 10);

  // Below the minimum the channel shows 0: 3 units * 80% = 2 < 3.
  ASSERT_TRUE(e.set_on_hand("MUG-1", "store-1", 3));
  EXPECT_EQ(avail(e, "web", "MUG-1"), 0);
  ASSERT_TRUE(e.set_on_hand("MUG-1", "store-1", 4));  // 4 * 80% = 3.2 -> 3
  EXPECT_EQ(avail(e, "web", "MUG-1"), 3);
  // The cap.
  ASSERT_TRUE(e.set_on_hand("MUG-1", "wh-1", 1000));
  EXPECT_EQ(avail(e, "web", "MUG-1"), 50);
  EXPECT_EQ(avail(e, "marketplace", "MUG-1"), 10);
  // Unknown SKU shows 0, unknown channel is an error.
  EXPECT_EQ(avail(e, "web", "NOPE"), 0);
  auto unknown = e.available("amazon", "MUG-1");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Errc::not_found);
}

TEST(Availability, NegativeOnHandAtOneLocationDoesNotEatAnother) {
  AvailabilityRules r;
  r.channels.push_back(channel("web", {"a", "b"}, 100, std::nullopt, 0));
  AvailabilityEngine e(r);
  ASSERT_TRUE(e.set_on_hand("S", "a", -4));  // oversold at a
  ASSERT_TRUE(e.set_on_hand("S", "b", 5));
  EXPECT_EQ(avail(e, "web", "S"), 5);
}

TEST(Availability, ReservationsReduceUntilReleased) {
  AvailabilityRules r;
  r.channels.push_back(channel("web", {"wh"}, 100, std::nullopt, 0));
  AvailabilityEngine e(r);
  ASSERT_TRUE(e.set_on_hand("S", "wh", 10));
  ASSERT_TRUE(e.reserve("o1/1", "S", "wh", 3));
  ASSERT_TRUE(e.reserve("o2/1", "S", "wh", 2));
  EXPECT_EQ(avail(e, "web", "S"), 5);
  ASSERT_TRUE(e.reserve("o1/1", "S", "wh", 4));  // a new version of the order line replaces
  EXPECT_EQ(avail(e, "web", "S"), 4);
  EXPECT_EQ(e.position("S", "wh").reserved, 6);
  EXPECT_TRUE(e.release("o2/1"));
  EXPECT_FALSE(e.release("o2/1"));
  EXPECT_EQ(avail(e, "web", "S"), 6);
  ASSERT_TRUE(e.reserve("o1/1", "S", "wh", 0));  // 0 releases
  EXPECT_EQ(avail(e, "web", "S"), 10);
  EXPECT_EQ(e.counts().reservations, 0u);
  EXPECT_FALSE(e.reserve("o3/1", "S", "wh", -1));
}

class Provisional : public ::testing::Test {
 protected:
  Provisional() : e(rules()) { EXPECT_TRUE(e.set_on_hand("S", "store", 10)); }
  static AvailabilityRules rules() {
    AvailabilityRules r;
    r.channels.push_back(channel("web", {"store"}, 100, std::nullopt, 0));
    return r;
  }
  AvailabilityEngine e;
};

TEST_F(Provisional, PosFirstThenErpLedgerReplacesItOnce) {
  EXPECT_EQ(*e.apply_provisional("r-1", "S", "store", -2, at_minute(1)), MovementOutcome::applied);
  EXPECT_EQ(*e.apply_provisional("r-1", "S", "store", -2, at_minute(1)), MovementOutcome::duplicate);
  EXPECT_EQ(avail(e, "web", "S"), 8);
  EXPECT_EQ(*e.apply_erp_movement("r-1", "S", "store", -2), MovementOutcome::replaced);
  EXPECT_EQ(e.position("S", "store"), (PositionFigures{8, 0, 0, 0}));
  EXPECT_EQ(avail(e, "web", "S"), 8);
  EXPECT_EQ(*e.apply_erp_movement("r-1", "S", "store", -2), MovementOutcome::duplicate);
  EXPECT_EQ(*e.apply_provisional("r-1", "S", "store", -2, at_minute(1)), MovementOutcome::superseded);
  EXPECT_EQ(avail(e, "web", "S"), 8);
  EXPECT_EQ(e.counts().pending_provisional, 0u);
}

TEST_F(Provisional, ErpLedgerFirstThenLatePosEventIsNotCounted) {
  EXPECT_EQ(*e.apply_erp_movement("r-2", "S", "store", -3), MovementOutcome::applied);
  EXPECT_EQ(*e.apply_provisional("r-2", "S", "store", -3, at_minute(1)), MovementOutcome::superseded);
  EXPECT_EQ(e.position("S", "store"), (PositionFigures{7, 0, 0, 0}));
  EXPECT_EQ(avail(e, "web", "S"), 7);
}

TEST_F(Provisional, TheErpFigureStandsWhenItDiffers) {
  ASSERT_TRUE(e.apply_provisional("r-3", "S", "store", -2, at_minute(1)));
  EXPECT_EQ(*e.apply_erp_movement("r-3", "S", "store", -1), MovementOutcome::replaced);
  EXPECT_EQ(avail(e, "web", "S"), 9);
}

TEST_F(Provisional, ListsMovementsTheErpHasNotShownForLong) {
  ASSERT_TRUE(e.apply_provisional("late", "S", "store", -1, at_minute(20)));
  ASSERT_TRUE(e.apply_provisional("old", "S", "store", -1, at_minute(1)));
  ASSERT_TRUE(e.apply_provisional("older", "S", "store", -1, at_minute(0)));
  EXPECT_EQ(e.pending_before(at_minute(10)), (std::vector<std::string>{"older", "old"}));
  ASSERT_TRUE(e.apply_erp_movement("old", "S", "store", -1));
  EXPECT_EQ(e.pending_before(at_minute(10)), std::vector<std::string>{"older"});
}

TEST_F(Provisional, ReturnsAddBack) {
  ASSERT_TRUE(e.apply_provisional("ret-1", "S", "store", 1, at_minute(1)));
  EXPECT_EQ(avail(e, "web", "S"), 11);
  ASSERT_TRUE(e.apply_erp_movement("ret-1", "S", "store", 1));
  EXPECT_EQ(avail(e, "web", "S"), 11);
}

TEST_F(Provisional, ConfirmWhenTheErpBalanceAlreadyIncludesIt) {
  ASSERT_TRUE(e.apply_provisional("r-4", "S", "store", -1, at_minute(1)));
  ASSERT_TRUE(e.apply_provisional("r-5", "S", "store", -1, at_minute(2)));
  // The ERP's balance now includes r-4 (9), not r-5.
  ASSERT_TRUE(e.set_on_hand("S", "store", 9));
  EXPECT_EQ(avail(e, "web", "S"), 7);  // both still provisional until told
  EXPECT_EQ(e.confirm("r-4"), MovementOutcome::replaced);
  EXPECT_EQ(avail(e, "web", "S"), 8);
  EXPECT_EQ(e.confirm("r-9"), MovementOutcome::applied);  // not seen yet: remembered
  EXPECT_EQ(*e.apply_provisional("r-9", "S", "store", -1, at_minute(3)), MovementOutcome::superseded);
  EXPECT_EQ(avail(e, "web", "S"), 8);
}

TEST_F(Provisional, ErpCountWinsOverEarlierProvisional) {
  ASSERT_TRUE(e.apply_provisional("before", "S", "store", -2, at_minute(1)));
  ASSERT_TRUE(e.apply_provisional("after", "S", "store", -1, at_minute(10)));
  EXPECT_EQ(avail(e, "web", "S"), 7);
  // Counted at minute 5: the shelf shows 6, "before" is in it, "after" is not.
  EXPECT_EQ(*e.apply_count("count-1", "S", "store", 6, at_minute(5)), MovementOutcome::applied);
  EXPECT_EQ(e.position("S", "store"), (PositionFigures{6, -1, 0, 0}));
  EXPECT_EQ(avail(e, "web", "S"), 5);
  // A re-delivered POS event of a settled movement is not counted again.
  EXPECT_EQ(*e.apply_provisional("before", "S", "store", -2, at_minute(1)), MovementOutcome::superseded);
  EXPECT_EQ(*e.apply_count("count-1", "S", "store", 6, at_minute(5)), MovementOutcome::duplicate);
  // An adjustment in the ERP wins too.
  ASSERT_TRUE(e.apply_erp_movement("adj-1", "S", "store", -4));
  EXPECT_EQ(avail(e, "web", "S"), 1);
}

TEST_F(Provisional, TransfersMoveOnHandBetweenLocations) {
  ASSERT_TRUE(e.apply_erp_transfer("t-1", "S", "store", "wh", 4));
  EXPECT_EQ(e.position("S", "store").on_hand, 6);
  EXPECT_EQ(e.position("S", "wh").on_hand, 4);
  EXPECT_EQ(*e.apply_erp_transfer("t-1", "S", "store", "wh", 4), MovementOutcome::duplicate);
  EXPECT_FALSE(e.apply_erp_transfer("t-2", "S", "store", "store", 1));
}

TEST_F(Provisional, CanonicalMovementsAndFractionalQuantities) {
  model::InventoryMovement sale;
  sale.movement_id = "sq-1";
  sale.kind = model::MovementKind::sale;
  sale.sku = "S";
  sale.location = "store";
  sale.quantity_delta = *Quantity::parse("-2");
  sale.occurred_at = model::Timestamp::from_utc(at_minute(1));
  EXPECT_EQ(*e.apply_provisional(sale), MovementOutcome::applied);
  EXPECT_EQ(*e.apply_erp(sale), MovementOutcome::replaced);
  EXPECT_EQ(avail(e, "web", "S"), 8);

  model::InventoryMovement deli = sale;
  deli.movement_id = "sq-2";
  deli.quantity_delta = *Quantity::parse("-1.5");
  auto refused = e.apply_provisional(deli);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  EXPECT_NE(refused.error().message.find("-1.5 is not a whole number"), std::string::npos);
  EXPECT_EQ(avail(e, "web", "S"), 8);

  model::InventoryMovement count = sale;
  count.movement_id = "bc-count-1";
  count.kind = model::MovementKind::count;
  count.quantity_delta.reset();
  count.counted_quantity = *Quantity::parse("12");
  EXPECT_EQ(*e.apply_erp(count), MovementOutcome::applied);
  EXPECT_EQ(avail(e, "web", "S"), 12);
  EXPECT_FALSE(e.apply_provisional(count));  // a count is the ERP's
}

TEST_F(Provisional, ForgetsTheOldestConfirmedIdsBeyondTheLimit) {
  auto r = rules();
  r.confirmed_ids_kept = 2;
  ASSERT_TRUE(e.set_rules(r));
  ASSERT_TRUE(e.apply_erp_movement("m1", "S", "store", -1));
  ASSERT_TRUE(e.apply_erp_movement("m2", "S", "store", -1));
  ASSERT_TRUE(e.apply_erp_movement("m3", "S", "store", -1));
  EXPECT_EQ(*e.apply_provisional("m3", "S", "store", -1, at_minute(1)), MovementOutcome::superseded);
  EXPECT_EQ(*e.apply_provisional("m1", "S", "store", -1, at_minute(1)), MovementOutcome::applied);
}

TEST(AvailabilityChanges, CoalescedPerSkuAndChannel) {
  AvailabilityEngine e(example_rules());
  const ChannelId web = *e.channel_id("web");
  const ChannelId market = *e.channel_id("marketplace");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(e.set_on_hand("MUG-1", "wh-1", 20 + i));
  ASSERT_TRUE(e.set_on_hand("MUG-1", "store-1", 5));
  const SkuId mug = *e.find_sku("MUG-1");
  auto changes = e.drain_changes();
  // 34 * 80% = 27; 29 * 50% = 14, cap 10.
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0], (AvailabilityChange{web, mug, 27, kNeverPublished}));
  EXPECT_EQ(changes[1], (AvailabilityChange{market, mug, 10, kNeverPublished}));
  EXPECT_TRUE(e.drain_changes().empty());

  e.mark_published(web, mug, 27);
  e.mark_published(market, mug, 10);
  // A sale and its return: nothing to publish.
  ASSERT_TRUE(e.apply_provisional("s1", "MUG-1", "store-1", -1, at_minute(1)));
  ASSERT_TRUE(e.apply_provisional("r1", "MUG-1", "store-1", 1, at_minute(2)));
  EXPECT_TRUE(e.drain_changes().empty());
  // Two sales at the warehouse: web changes once, the capped marketplace not.
  ASSERT_TRUE(e.apply_provisional("s2", "MUG-1", "wh-1", -1, at_minute(3)));
  ASSERT_TRUE(e.apply_provisional("s3", "MUG-1", "wh-1", -1, at_minute(4)));
  changes = e.drain_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], (AvailabilityChange{web, mug, 25, 27}));  // 32 * 80% = 25.6

  // Changed while the push was under way: marking the older value re-queues.
  ASSERT_TRUE(e.apply_provisional("s4", "MUG-1", "wh-1", -5, at_minute(5)));
  e.mark_published(web, mug, 25);
  changes = e.drain_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].available, 21);  // 27 * 80%
  e.mark_published(web, mug, 21);

  // Drift: the channel shows 30; the next drain repairs it.
  e.mark_published(web, mug, 30);
  changes = e.drain_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], (AvailabilityChange{web, mug, 21, 30}));
}

TEST(AvailabilityChanges, RecomputeQueuesWhatDiffersAndDrainHonoursTheLimit) {
  AvailabilityEngine e(example_rules());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(e.set_on_hand("MUG-" + std::to_string(i), "wh-1", 10));
  EXPECT_EQ(e.drain_changes(3).size(), 4u);  // whole SKUs: 2 channels each
  auto rest = e.drain_changes();
  EXPECT_EQ(rest.size(), 6u);
  EXPECT_EQ(e.recompute(), 10u);  // nothing was marked published
  for (const auto& c : e.drain_changes()) e.mark_published(c.channel, c.sku, c.available);
  EXPECT_EQ(e.recompute(), 0u);
  EXPECT_TRUE(e.drain_changes().empty());

  // New rules: the marketplace keeps its published values; web's share changes.
  auto rules = example_rules();
  rules.channels[0].share_percent = 50;
  ASSERT_TRUE(e.set_rules(rules));
  auto changes = e.drain_changes();
  ASSERT_EQ(changes.size(), 5u);
  for (const auto& c : changes) {
    EXPECT_EQ(c.channel, *e.channel_id("web"));
    EXPECT_EQ(c.available, 5);
    EXPECT_EQ(c.published, 8);
  }
}

TEST(AvailabilityEngineMemory, PositionsAreCompact) {
  AvailabilityEngine e(example_rules());
  e.reserve(1000, 5000);
  for (int s = 0; s < 1000; ++s)
    for (const char* l : {"wh-1", "store-1", "store-2", "store-3", "store-4"})
      ASSERT_TRUE(e.set_on_hand("SKU-" + std::to_string(s), l, 5));
  EXPECT_EQ(e.counts().positions, 5000u);
  const auto m = e.memory();
  EXPECT_EQ(m.positions, 5000u * 32u);
  EXPECT_LE(m.total() / 5000, 64u);
}

// --- SLA tiers ---

using Clock = std::chrono::steady_clock;
const Clock::time_point t0{std::chrono::hours(1)};

TierRules tiers() {
  TierRules t;
  t.hot_push_within = 1s;
  t.cold_interval = 5min;
  t.velocity_threshold = 12;  // sales per hour
  t.velocity_window = 10min;  // so 2 sales within 10 minutes
  return t;
}

TEST(PushSchedule, HotAtOnceColdOnTheTick) {
  PushSchedule s(tiers(), {7}, t0);
  const std::vector<AvailabilityChange> changes{{0, 7, 3, 4}, {0, 8, 9, 10}, {1, 8, 1, 2}};
  s.add(changes, t0 + 10s);
  auto due = s.take_due(0, t0 + 10s, 100);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].sku, 7u);
  EXPECT_TRUE(due[0].hot);
  EXPECT_EQ(due[0].available, 3);
  EXPECT_EQ(due[0].deadline, t0 + 11s);
  EXPECT_EQ(s.next_due(0), t0 + 5min);
  EXPECT_TRUE(s.take_due(0, t0 + 4min + 59s, 100).empty());
  // A newer value coalesces and keeps its tick.
  const std::vector<AvailabilityChange> newer{{0, 8, 6, 10}};
  s.add(newer, t0 + 4min);
  due = s.take_due(0, t0 + 5min, 100);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].sku, 8u);
  EXPECT_EQ(due[0].available, 6);
  EXPECT_FALSE(due[0].hot);
  EXPECT_EQ(due[0].first_seen, t0 + 10s);
  EXPECT_EQ(s.pending(0), 0u);
  EXPECT_EQ(s.pending(1), 1u);  // channels are separate
  EXPECT_EQ(s.next_due(0), std::nullopt);
}

TEST(PushSchedule, LimitAndRequeueNeverOverrideNewerValues) {
  PushSchedule s(tiers(), {1, 2, 3}, t0);
  const std::vector<AvailabilityChange> changes{{0, 1, 10, 0}, {0, 2, 20, 0}, {0, 3, 30, 0}};
  s.add(changes, t0);
  auto first = s.take_due(0, t0, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].sku, 1u);
  EXPECT_EQ(first[1].sku, 2u);
  // The push of SKU 1 failed; SKU 2's too, but a newer value arrived meanwhile.
  const std::vector<AvailabilityChange> newer{{0, 2, 19, 0}};
  s.add(newer, t0 + 100ms);
  s.requeue(first[0], t0 + 200ms);
  s.requeue(first[1], t0 + 200ms);
  auto second = s.take_due(0, t0 + 200ms, 10);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0].sku, 3u);
  EXPECT_EQ(second[1].sku, 2u);
  EXPECT_EQ(second[1].available, 19);
  EXPECT_EQ(second[2].sku, 1u);
  EXPECT_EQ(second[2].available, 10);
  EXPECT_EQ(second[2].first_seen, t0);  // still late against its first deadline
}

TEST(PushSchedule, HotListFromTheEngine) {
  AvailabilityRules rules = example_rules();
  rules.tiers = tiers();
  rules.tiers.hot_skus = {"TSHIRT-M"};
  AvailabilityEngine e(rules);
  ASSERT_TRUE(e.set_on_hand("TSHIRT-M", "store-1", 10));
  ASSERT_TRUE(e.set_on_hand("MUG-1", "store-1", 10));
  PushSchedule s = make_push_schedule(e, rules.tiers, t0);
  s.add(e.drain_changes(), t0);
  const auto due = s.take_due(*e.channel_id("web"), t0, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(e.sku_code(due[0].sku), "TSHIRT-M");
  EXPECT_EQ(due[0].available, 6);                  // (10 - 2) * 80%
  EXPECT_EQ(s.pending(*e.channel_id("web")), 1u);  // MUG-1 waits for the tick
}

TEST(PushSchedule, VelocityPromotesAndDecays) {
  PushSchedule s(tiers(), {}, t0);
  const std::vector<AvailabilityChange> change{{0, 5, 4, 5}};
  s.add(change, t0);
  EXPECT_FALSE(s.is_hot(5, t0));
  EXPECT_TRUE(s.take_due(0, t0 + 1s, 10).empty());
  s.record_sale(5, 1, t0 + 1min);
  EXPECT_EQ(s.sales_per_hour(5, t0 + 1min), 6);
  EXPECT_FALSE(s.is_hot(5, t0 + 1min));
  s.record_sale(5, 1, t0 + 2min);  // 2 in 10 minutes = 12/h: hot
  EXPECT_TRUE(s.is_hot(5, t0 + 2min));
  auto due = s.take_due(0, t0 + 2min, 10);  // the pending cold push is due now
  ASSERT_EQ(due.size(), 1u);
  EXPECT_TRUE(due[0].hot);
  // New changes of a hot SKU are due at once.
  s.add(change, t0 + 3min);
  EXPECT_EQ(s.take_due(0, t0 + 3min, 10).size(), 1u);
  // The sales leave the window: cold again.
  EXPECT_TRUE(s.is_hot(5, t0 + 10min));
  EXPECT_FALSE(s.is_hot(5, t0 + 11min + 1s));
  EXPECT_EQ(s.sales_per_hour(5, t0 + 13min), 0);
  s.add(change, t0 + 13min);
  EXPECT_TRUE(s.take_due(0, t0 + 13min, 10).empty());
  EXPECT_EQ(s.take_due(0, t0 + 15min, 10).size(), 1u);
}

}  // namespace
}  // namespace trueup::inventory
