#pragma once
// The durable flows behind the system API's intake, as workflow types:
//
// - "inventory_movement": applies an accepted InventoryMovement to the stock
//   ledger once (inventory_ledger, keyed by movement id) and to the on-hand
//   position per SKU and location (stock_position), and emits
//   com.trueup.stock.changed.v1 for every position it changed — all in the
//   transaction that records the step as done.
//
//   With an authoritative system (the ERP), a position is confirmed +
//   provisional = on_hand. The ERP's movements change `confirmed`; other
//   systems' movements change `provisional` until the ERP's movement of the
//   same kind (sale or return) with the same match key (order, SKU,
//   location) arrives, which retires them ("matched") — in either order, a
//   sale is counted once. An ERP entry whose order id is an ERP document
//   that booked several orders (erp_booked_order: a per-store batch,
//   erp_documents.hpp) retires the provisional movements of all of them, and
//   a member's movement arriving after that entry is "already_confirmed".
//   The kind keeps a channel's restock (a return carrying the sale's order
//   id) apart from the sale itself. An ERP count sets
//   `confirmed` and retires the provisional movements of its position that
//   happened at or before it ("superseded"). Counts from other systems are
//   recorded as "observed" and change nothing.
//
//   Without one, a count (a POS's inventory.count.updated) already holds the
//   sales it saw: a movement that happened at or before the position's
//   newest count is recorded as "counted" and changes nothing; a count older
//   than the newest is "stale_count"; a count keeps the movements already
//   applied that happened after it (on_hand = counted + those).
// - "channel_order": records the accepted order (channel_order; a later
//   version of an order replaces the earlier one), holds stock for its
//   lines while it is open (stock_reservation + reservation_dirty, read by
//   the availability service) and, in the same transaction, calls
//   `on_recorded` (the daemon starts the order's ERP
//   posting there: see `erp:` in docs/configuration.md).
//
// The availability engine and connector pushes (next issues) add steps after
// these; the ledger step stays the first.

#include <functional>
#include <string>

#include "trueup/messaging/outbox.hpp"
#include "trueup/model/events.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/workflow/definition.hpp"

namespace trueup::inventory {

inline constexpr const char* kMovementWorkflow = "inventory_movement";
inline constexpr const char* kOrderWorkflow = "channel_order";

struct LedgerSettings {
  // The system whose ledger is authoritative for on-hand (the ERP connector's
  // source_system, e.g. "business-central"); "" = every movement counts as
  // confirmed at once.
  std::string authoritative_system;
};

// How a movement enters the ledger (inventory_ledger.status): "applied"
// (confirmed: the authoritative system's, or any when none is set),
// "provisional" (another system's sale, return, receipt, adjustment or
// transfer, until the authoritative ledger shows it) or "observed" (another
// system's count: recorded, not counted).
std::string_view classify(const model::InventoryMovement& m, const LedgerSettings& settings) noexcept;
// What ties a POS/channel sale or return to the authoritative system's entry
// for the same sale: "<order_id>|<sku>|<location>"; "" without an order id
// or for other kinds.
std::string match_key(const model::InventoryMovement& m);

// Called in the transaction that records a movement new to the ledger, with
// the status it was recorded with (the daemon books POS returns in the ERP
// there: erp_documents.hpp). An error rolls the recording back.
using MovementRecorded =
    std::function<Status(store::Transaction&, const model::InventoryMovement&, std::string_view status)>;

// `source` is the ce_source of the events it emits ("/trueup/instances/{id}").
// `outbox` must outlive the returned types.
workflow::WorkflowType movement_workflow(messaging::Outbox& outbox, std::string source, LedgerSettings settings = {},
                                         MovementRecorded recorded = {});
// Whether an order in this status holds stock for its lines (pending, open,
// on_hold, partially_fulfilled: the whole line quantity, as the canonical
// order does not say how much of a line has shipped).
bool holds_stock(model::OrderStatus status) noexcept;

// Called in the transaction that records an order version (the ERP posting
// of channel sales starts there, so it commits with the order or not at all).
using OrderRecorded = std::function<Status(store::Transaction&, const model::Order&)>;
workflow::WorkflowType order_workflow(OrderRecorded on_recorded = {});

// The outbox row for a model event record (its ce_* headers become columns).
messaging::OutboxEvent to_outbox(const model::EventRecord& record);

// CloudEvents attributes of a new event: a fresh ce_id, `source`, now.
model::EventContext new_event_context(std::string source, std::string traceparent = {});

}  // namespace trueup::inventory
