// Availability engine at 1,000,000 positions (200,000 SKUs x 5 locations,
// 3 channels): memory per position (RSS delta from /proc/self/statm and the
// engine's own capacity accounting), full recompute time, and the cost of an
// update plus its drain. Prints the figures; asserts nothing about timing
// (targets: <= 64 bytes per position, recompute <= 1 s).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>

#include "trueup/inventory/availability.hpp"
#include "trueup/inventory/push_schedule.hpp"
#include "unit/inventory_availability_support.hpp"

namespace trueup::inventory {
namespace {

using test::channel;
using test::safety_rule;
using test::sku_group;

constexpr std::size_t kSkus = 200000;
const std::vector<std::string> kLocations{"wh-1", "store-1", "store-2", "store-3", "store-4"};

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0;
  std::size_t resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

AvailabilityRules estate_rules() {
  AvailabilityRules r;
  r.sku_groups.push_back(sku_group("fragile", {}, {"SKU-01"}));
  r.sku_groups.push_back(sku_group("fast", {}, {"SKU-1"}));
  r.safety_stock.default_quantity = 1;
  r.safety_stock.rules.push_back(safety_rule("fragile", std::nullopt, 3));
  r.safety_stock.rules.push_back(safety_rule(std::nullopt, "wh-1", 2));
  r.safety_stock.rules.push_back(safety_rule("fast", "wh-1", 5));
  r.channels.push_back(channel("web", kLocations, 100, std::nullopt, 0));
  r.channels.push_back(channel("marketplace", {"wh-1"}, 50, 100, 0));
  r.channels.push_back(channel("click-collect", {"store-1", "store-2", "store-3", "store-4"}, 90, std::nullopt, 2));
  return r;
}

std::string sku_name(std::size_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "SKU-%06zu", i);
  return buf;
}

void load(AvailabilityEngine& e, std::mt19937& rng) {
  std::uniform_int_distribution<int> qty(0, 60);
  for (std::size_t s = 0; s < kSkus; ++s) {
    const std::string sku = sku_name(s);
    for (const auto& l : kLocations) ASSERT_TRUE(e.set_on_hand(sku, l, qty(rng)));
  }
}

void print_memory(const char* what, const AvailabilityMemory& m, std::size_t positions) {
  std::cout << "[ figures  ] availability_bench " << what << ": accounted " << m.total() / 1048576.0
            << " MiB = " << static_cast<double>(m.total()) / positions << " B/position (positions "
            << static_cast<double>(m.positions) / positions << ", per-SKU "
            << static_cast<double>(m.per_sku) / positions << ", names " << static_cast<double>(m.names) / positions
            << ", side tables " << static_cast<double>(m.side_tables) / positions << ")" << std::endl;
}

TEST(AvailabilityBench, MillionPositions) {
  const std::size_t positions = kSkus * kLocations.size();
  std::mt19937 rng(42);

  const std::size_t rss0 = rss_bytes();
  auto t0 = std::chrono::steady_clock::now();
  AvailabilityEngine e(estate_rules());
  e.reserve(kSkus, positions);
  load(e, rng);
  const double load_s = seconds_since(t0);
  const std::size_t rss1 = rss_bytes();
  ASSERT_EQ(e.counts().positions, positions);
  std::cout << "[ figures  ] availability_bench: " << positions << " positions (" << kSkus << " SKUs x "
            << kLocations.size() << " locations, " << e.counts().channels << " channels) loaded in " << load_s << " s"
            << std::endl;
  std::cout << "[ figures  ] availability_bench memory: RSS delta " << (rss1 - rss0) / 1048576.0
            << " MiB = " << static_cast<double>(rss1 - rss0) / positions << " B/position (target <= 64)" << std::endl;
  print_memory("with reserve()", e.memory(), positions);

  // First publication: every (channel, SKU) was never published.
  t0 = std::chrono::steady_clock::now();
  auto changes = e.drain_changes();
  const double drain_all_s = seconds_since(t0);
  ASSERT_EQ(changes.size(), kSkus * 3);
  t0 = std::chrono::steady_clock::now();
  for (const auto& c : changes) e.mark_published(c.channel, c.sku, c.available);
  const double publish_all_s = seconds_since(t0);
  changes = {};
  std::cout << "[ figures  ] availability_bench first drain: " << kSkus * 3 << " changes in " << drain_all_s
            << " s; mark_published of all: " << publish_all_s << " s" << std::endl;

  // Full recompute, everything in sync (nothing queued).
  std::vector<double> runs;
  for (int i = 0; i < 5; ++i) {
    t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(e.recompute(), 0u);
    runs.push_back(seconds_since(t0));
  }
  std::sort(runs.begin(), runs.end());
  std::cout << "[ figures  ] availability_bench full recompute of " << positions << " positions / " << kSkus * 3
            << " channel values: min " << runs.front() * 1000 << " ms, median " << runs[2] * 1000 << " ms, max "
            << runs.back() * 1000 << " ms (target <= 1000 ms)" << std::endl;

  // Updates: provisional sales on random positions, then one drain.
  constexpr int kUpdates = 200000;
  std::uniform_int_distribution<std::size_t> any_sku(0, kSkus - 1);
  std::uniform_int_distribution<std::size_t> any_location(0, kLocations.size() - 1);
  std::vector<std::string> skus(kUpdates);
  std::vector<std::string> ids(kUpdates);
  std::vector<std::size_t> locs(kUpdates);
  for (int i = 0; i < kUpdates; ++i) {
    skus[i] = sku_name(any_sku(rng));
    ids[i] = "sq-receipt-" + std::to_string(i);
    locs[i] = any_location(rng);
  }
  const auto base = EventTime(std::chrono::hours(1));
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kUpdates; ++i) ASSERT_TRUE(e.apply_provisional(ids[i], skus[i], kLocations[locs[i]], -1, base));
  const double update_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  changes = e.drain_changes();
  const double drain_s = seconds_since(t0);
  std::cout << "[ figures  ] availability_bench " << kUpdates << " provisional sales: " << update_s * 1e9 / kUpdates
            << " ns/update; one drain of " << changes.size() << " changes: " << drain_s * 1000 << " ms ("
            << drain_s * 1e9 / std::max<std::size_t>(1, changes.size()) << " ns/change)" << std::endl;
  for (const auto& c : changes) e.mark_published(c.channel, c.sku, c.available);
  print_memory("with 200,000 provisional sales pending", e.memory(), positions);

  // The ERP ledger confirms them: each replaces its provisional delta.
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kUpdates; ++i) {
    auto r = e.apply_erp_movement(ids[i], skus[i], kLocations[locs[i]], -1);
    ASSERT_TRUE(r && *r == MovementOutcome::replaced);
  }
  const double confirm_s = seconds_since(t0);
  EXPECT_EQ(e.counts().pending_provisional, 0u);
  EXPECT_TRUE(e.drain_changes().empty());  // the ERP figure equals the provisional one
  std::cout << "[ figures  ] availability_bench ERP entries replacing provisional ones: " << confirm_s * 1e9 / kUpdates
            << " ns/entry; no change to publish" << std::endl;

  // The latency path: one sale, drain, schedule, take, mark published.
  PushSchedule schedule(estate_rules().tiers, {}, std::chrono::steady_clock::now());
  constexpr int kRounds = 100000;
  std::size_t pushed = 0;
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    const std::string id = "pos-" + std::to_string(i);
    ASSERT_TRUE(e.apply_provisional(id, skus[i], kLocations[locs[i]], -1, base));
    const auto now = std::chrono::steady_clock::now();
    schedule.record_sale(*e.find_sku(skus[i]), 1, now);
    auto drained = e.drain_changes();
    schedule.add(drained, now);
    for (ChannelId c = 0; c < 3; ++c) {
      for (const auto& p : schedule.take_due(c, now + std::chrono::minutes(5), 100)) {
        e.mark_published(p.channel, p.sku, p.available);
        ++pushed;
      }
    }
  }
  const double round_s = seconds_since(t0);
  std::cout << "[ figures  ] availability_bench sale -> drain -> schedule -> take -> mark_published: "
            << round_s * 1e9 / kRounds << " ns/sale (" << pushed << " pushes for " << kRounds << " sales)" << std::endl;
}

// Without reserve(): what incremental growth costs (capacity accounting only;
// a separate test so that its freed memory does not blur the RSS figure).
TEST(AvailabilityBench, MillionPositionsGrownWithoutReserve) {
  std::mt19937 rng(7);
  AvailabilityEngine grown(estate_rules());
  load(grown, rng);
  print_memory("grown without reserve()", grown.memory(), kSkus * kLocations.size());
}

}  // namespace
}  // namespace trueup::inventory
