// IdMapping reports every unresolved id with its pointer; canonical() applies
// the canonical codec's rules.

#include <gtest/gtest.h>

#include "common/id_resolver.hpp"
#include "fixture_files.hpp"
#include "trueup/model/inventory_movement.hpp"

namespace trueup::connectors {
namespace {

TEST(IdMapping, ListsEveryMissingIdAndPrefersSkuKind) {
  testing::MapResolver resolver;
  resolver.add("variant", "1", "SKU-1");
  IdMapping ids(resolver);
  EXPECT_EQ(ids.sku("variant", "1", "/line_items/0/variant_id"), "SKU-1");
  EXPECT_EQ(ids.sku("variant", "2", "/line_items/1/variant_id"), "");
  EXPECT_EQ(ids.location("location", "655441491", "/location_id"), "");
  ASSERT_FALSE(ids.complete());
  const MappingError e = ids.error();
  EXPECT_EQ(e.kind, MappingErrorKind::unmapped_sku);
  ASSERT_EQ(e.unmapped.size(), 2u);
  EXPECT_EQ(e.unmapped[0], (UnmappedId{"variant", "2", "/line_items/1/variant_id"}));
  EXPECT_EQ(e.unmapped[1], (UnmappedId{"location", "655441491", "/location_id"}));
  EXPECT_EQ(e.to_error().code, Errc::not_found);
  EXPECT_EQ(e.to_error().message.rfind("unmapped_sku: ", 0), 0u);
}

TEST(IdMapping, LocationOnlyMissesAreUnmappedLocation) {
  testing::MapResolver resolver;
  resolver.add("location", "x", "not a code!");  // an invalid mapping counts as missing
  IdMapping ids(resolver);
  EXPECT_EQ(ids.location("location", "x", "/location_id"), "");
  EXPECT_EQ(ids.error().kind, MappingErrorKind::unmapped_location);
}

TEST(Canonical, RejectsWhatTheCodecRejects) {
  model::InventoryMovement m;
  m.movement_id = "m1";
  m.kind = model::MovementKind::count;
  m.sku = "SKU-1";
  m.location = "LOC-1";
  m.counted_quantity = Quantity::from_scaled(-100000);
  m.source_system = "square";
  m.source_reference = "r";
  auto checked = canonical(m);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().kind, MappingErrorKind::invalid_payload);
  EXPECT_NE(checked.error().message.find("counted_quantity"), std::string::npos);
  m.counted_quantity = Quantity::from_scaled(100000);
  EXPECT_TRUE(canonical(m).ok());
}

}  // namespace
}  // namespace trueup::connectors
