#pragma once
// The durable flows behind the system API's intake, as workflow types:
//
// - "inventory_movement": applies an accepted InventoryMovement to the stock
//   ledger once (inventory_ledger, keyed by movement id) and to the on-hand
//   position per SKU and location (stock_position), and emits
//   com.trueup.stock.changed.v1 for every position it changed — all in the
//   transaction that records the step as done.
// - "channel_order": records the accepted order (channel_order; a later
//   version of an order replaces the earlier one) and, in the same
//   transaction, calls `on_recorded` (the daemon starts the order's ERP
//   posting there: see `erp:` in docs/configuration.md).
//
// The availability engine and connector pushes (next issues) add steps after
// these; the ledger step stays the first.

#include <functional>
#include <string>

#include "trueup/messaging/outbox.hpp"
#include "trueup/model/events.hpp"
#include "trueup/model/order.hpp"
#include "trueup/workflow/definition.hpp"

namespace trueup::inventory {

inline constexpr const char* kMovementWorkflow = "inventory_movement";
inline constexpr const char* kOrderWorkflow = "channel_order";

// `source` is the ce_source of the events it emits ("/trueup/instances/{id}").
// `outbox` must outlive the returned types.
workflow::WorkflowType movement_workflow(messaging::Outbox& outbox, std::string source);
// Called in the transaction that records an order version (the ERP posting
// of channel sales starts there, so it commits with the order or not at all).
using OrderRecorded = std::function<Status(store::Transaction&, const model::Order&)>;
workflow::WorkflowType order_workflow(OrderRecorded on_recorded = {});

// The outbox row for a model event record (its ce_* headers become columns).
messaging::OutboxEvent to_outbox(const model::EventRecord& record);

// CloudEvents attributes of a new event: a fresh ce_id, `source`, now.
model::EventContext new_event_context(std::string source, std::string traceparent = {});

}  // namespace trueup::inventory
