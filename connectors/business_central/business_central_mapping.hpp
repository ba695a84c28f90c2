#pragma once
// Business Central payloads -> canonical model (field by field in README.md).
//
// Ids go through the IdResolver (common/id_resolver.hpp) with these entities:
//   item      item number (itemNumber, lineObjectNumber of Item lines) -> SKU
//   location  location code -> canonical location code
// Anything unresolved fails the mapping with unmapped_sku / unmapped_location
// listing every missing id; nothing is dropped.
//
// Thread-safety: pure functions (apart from the resolver calls).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "business_central_payloads.hpp"
#include "common/id_resolver.hpp"
#include "trueup/model/erp_posting.hpp"
#include "trueup/model/inventory_movement.hpp"

namespace trueup::connectors::business_central {

inline constexpr std::string_view kSystem = "business-central";
inline constexpr std::string_view kItemEntity = "item";
inline constexpr std::string_view kLocationEntity = "location";

using connectors::MappingContext;

// An item ledger entry as a signed movement (ERP on-hand per SKU and location
// is the sum of these). The v2.0 page has no location: entries without
// `locationCode` use `default_location` (the BC location code of a company
// that keeps one location); with neither, invalid_payload.
// Kinds: Sale -> sale (negative) or return (positive); Purchase -> receipt;
// everything else (adjustments, transfers, output, consumption) -> adjustment.
// movement_id = "business-central:ile:<id>", occurred_at = postingDate 00:00Z.
Mapped<model::InventoryMovement> to_movement(const ItemLedgerEntry& entry, const MappingContext& context,
                                             const std::optional<std::string>& default_location = std::nullopt);

// A sales order or invoice (lines from `document.lines`, i.e. $expand) as an
// ErpPosting. `local_currency` is the company's currency, used when
// currencyCode is "". Documents without externalDocumentNumber were not made
// by Trueup: invalid_payload "no_external_document_number".
Mapped<model::ErpPosting> to_erp_posting(const SalesDocument& document, SalesDocumentKind kind, Currency local_currency,
                                         const MappingContext& context);

}  // namespace trueup::connectors::business_central
