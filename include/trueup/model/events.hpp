#pragma once
// Event catalogue: CloudEvents 1.0 types, Kafka topics, partition keys and
// data schemas. Types and topics carry their version; a breaking change to a
// payload is a new type (…v2) and, when consumers must opt in, a new topic.
//
// Kafka binary content mode: the value is the JSON data (the payload builders
// below), the key is the partition key, and the attributes travel as headers
// ce_specversion, ce_id, ce_source, ce_type, ce_time, ce_subject,
// content-type (application/json) and traceparent (W3C, when known).
// docs/asyncapi.yaml and docs/model.md describe the same catalogue.
//
// Thread-safety: constants and pure functions.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/identifiers.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/model/stock_position.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::model {

struct EventSpec {
  std::string_view type;    // CloudEvents type
  std::string_view topic;   // Kafka topic
  std::string_view key;     // which data member is the partition key
  std::string_view schema;  // file under docs/schemas/ describing the data
};

namespace topics {
inline constexpr std::string_view kInventory = "retail.inventory.v1";
inline constexpr std::string_view kOrders = "retail.orders.v1";
inline constexpr std::string_view kExceptions = "trueup.exceptions.v1";
inline constexpr std::string_view kSystem = "trueup.system.v1";
}  // namespace topics

namespace events {
inline constexpr EventSpec kInventoryMovementAccepted{"com.trueup.inventory.movement.accepted.v1", topics::kInventory,
                                                      "sku", "inventory-movement.schema.json"};
inline constexpr EventSpec kStockChanged{"com.trueup.stock.changed.v1", topics::kInventory, "sku",
                                         "stock-position.schema.json"};
inline constexpr EventSpec kOrderAccepted{"com.trueup.order.accepted.v1", topics::kOrders, "id", "order.schema.json"};
inline constexpr EventSpec kExceptionOpened{"com.trueup.exception.opened.v1", topics::kExceptions, "exception_id",
                                            "exception-opened.schema.json"};
inline constexpr EventSpec kExceptionResolved{"com.trueup.exception.resolved.v1", topics::kExceptions, "exception_id",
                                              "exception-resolved.schema.json"};
inline constexpr EventSpec kInstanceStarted{"com.trueup.instance.started.v1", topics::kSystem, "instance_id",
                                            "instance-started.schema.json"};
}  // namespace events

// Every event above, in that order.
std::span<const EventSpec> event_catalogue() noexcept;
// The spec for a CloudEvents type, or nullptr.
const EventSpec* find_event(std::string_view type) noexcept;

enum class ExceptionSeverity { info, warning, error, critical };
std::string_view to_string(ExceptionSeverity s) noexcept;

enum class ExceptionResolution { resolved, retried, ignored };
std::string_view to_string(ExceptionResolution r) noexcept;

// Data of com.trueup.exception.opened.v1.
struct ExceptionOpened {
  std::string exception_id;  // identifier
  std::string kind;          // code: unmapped_sku, malformed_payload, step_failed, ...
  ExceptionSeverity severity = ExceptionSeverity::error;
  std::string subject_type;  // code: workflow, message, sku, order, location, ...
  std::string subject_id;    // identifier
  std::string reason;        // plain words
  Timestamp opened_at;
  std::optional<std::string> workflow_id;  // identifier
  std::optional<std::string> message_id;   // identifier (inbox message)

  friend bool operator==(const ExceptionOpened&, const ExceptionOpened&) = default;
};

// Data of com.trueup.exception.resolved.v1.
struct ExceptionResolved {
  std::string exception_id;
  std::string kind;
  ExceptionResolution resolution = ExceptionResolution::resolved;
  std::string resolved_by;  // who: operator name or "system"
  std::string reason;       // plain words
  Timestamp opened_at;
  Timestamp resolved_at;

  friend bool operator==(const ExceptionResolved&, const ExceptionResolved&) = default;
};

// Data of com.trueup.instance.started.v1.
struct InstanceStarted {
  std::string instance_id;
  std::string version;
  std::string store;  // "postgres" | "sqlite"
  std::string bus;    // "kafka" | "embedded"
  int http_port = 0;

  friend bool operator==(const InstanceStarted&, const InstanceStarted&) = default;
};

template <>
Result<ExceptionOpened> from_json<ExceptionOpened>(const nlohmann::json& j, std::string_view pointer);
template <>
Result<ExceptionResolved> from_json<ExceptionResolved>(const nlohmann::json& j, std::string_view pointer);
template <>
Result<InstanceStarted> from_json<InstanceStarted>(const nlohmann::json& j, std::string_view pointer);
nlohmann::json to_json(const ExceptionOpened& e);
nlohmann::json to_json(const ExceptionResolved& e);
nlohmann::json to_json(const InstanceStarted& e);

// A ready-to-publish event: topic, key, value (JSON text) and headers.
struct EventRecord {
  std::string topic;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// CloudEvents attributes not derived from the data.
struct EventContext {
  std::string id;           // ce_id: unique per event (the outbox row id); consumers dedupe on it
  std::string source;       // ce_source: URI reference, e.g. "/trueup/instances/{id}"
  Timestamp time;           // ce_time (written in UTC)
  std::string traceparent;  // W3C traceparent; omitted when empty
};

// Payload builders: the event for each entity, subject = the partition key.
EventRecord inventory_movement_accepted(const InventoryMovement& m, const EventContext& ctx);
EventRecord stock_changed(const StockPosition& p, const EventContext& ctx);
EventRecord order_accepted(const Order& o, const EventContext& ctx);
EventRecord exception_opened(const ExceptionOpened& e, const EventContext& ctx);
EventRecord exception_resolved(const ExceptionResolved& e, const EventContext& ctx);
EventRecord instance_started(const InstanceStarted& e, const EventContext& ctx);

}  // namespace trueup::model
