#pragma once
// The connector runtime contract: what one configured connector instance
// (a Shopify shop, a Square account, a Business Central company) does for the
// daemon, and the registry that finds a connector type by the name used in
// YAML.
//
// A type registers itself from its own folder (connectors/<system>/) with a
// static `connector::Registrar`; the daemon builds its `connectors:` config
// section from the registered types, so adding a system touches no core code.
//
//   connectors:
//     shopify:                  # the type name
//       - id: shop-eu           # the instance id: /v1/webhooks/shop-eu, metric label, inbox source
//         ...                   # the type's own keys (ConnectorType::settings)
//
// Webhooks: the daemon hands the raw request to receive_webhook() before any
// parsing; the connector checks the signature (constant time, every secret of
// its rotation list) and cuts the delivery into messages with their dedupe
// keys. The daemon records them in the inbox and starts a "connector_inbound"
// workflow for each new one (the HTTP answer comes after that commit). The
// workflow calls map() and starts the canonical workflows (movements, orders)
// — or parks the message with an unmapped_* exception, or quarantines it with
// malformed_payload. See docs/connectors/sdk.md.
//
// Thread-safety: a Connector's members may be called from any thread at once.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/id_resolver.hpp"
#include "trueup/config/schema.hpp"
#include "trueup/connector/budget.hpp"
#include "trueup/connector/headers.hpp"
#include "trueup/connector/metrics.hpp"
#include "trueup/core/error.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/model/refund.hpp"

namespace trueup::metrics {
class Registry;
}
namespace trueup::http {
class OutboundClient;
}

namespace trueup::connector {

// One webhook delivery as received.
struct WebhookRequest {
  std::string_view body;  // raw bytes, unparsed
  HeaderLookup headers;   // by lower-case name
  std::string url;        // the public URL it was sent to (some systems sign it): webhooks.public_base_url + path
};

// One inbound message (from a webhook, later from a poll or a file).
struct Inbound {
  std::string dedupe_key;  // the source's delivery or event id
  std::string topic;       // the source's event name: "orders/create", "inventory.count.updated"
  std::string payload;     // the raw JSON text
};

struct WebhookReceipt {
  std::vector<Inbound> messages;  // empty: nothing to process (a topic this connector does not take)
  // With no messages: the 200 answer's body instead of the counts, for
  // handshakes that must echo a token (Business Central's validationToken).
  std::optional<std::string> reply_body;
  std::string reply_content_type = "text/plain; charset=utf-8";
};

// One poll: what changed since the cursor, and where the next poll starts.
struct PollResult {
  std::vector<Inbound> messages;  // dedupe keys stable across polls (an overlap brings the same again)
  std::string cursor;             // persisted with the messages, in one transaction
};

// Outbound operations: what Trueup asks a target system to do (set a
// channel's availability, post a sale to the ERP, adjust POS stock). Each
// runs as a "connector_outbound" workflow (Hub::request) whose one step calls
// Connector::perform with the step's stable idempotency key, so a retry after
// a crash or a timeout repeats the same call, and the target (or the
// connector) makes it count once.

// How an operation stays exactly-once under retries.
enum class Idempotency {
  target_key,    // the target dedupes on a key sent with the call (Square idempotency_key, Shopify GraphQL)
  natural_key,   // a lookup by a natural key before creating (Business Central externalDocumentNumber)
  set_to_value,  // the call sets an absolute value: repeating it changes nothing (Shopify inventory_levels/set)
};
std::string_view to_string(Idempotency idempotency) noexcept;  // "target_key", "natural_key", "set_to_value"

struct OperationSpec {
  std::string name;         // "set_available", "post_sale", ...: a metric label, part of the API path
  std::string description;  // one line: what it does at the target, and its input
  Idempotency idempotency = Idempotency::target_key;
  std::string idempotency_detail;  // how exactly, e.g. "idempotency_key = the workflow step's key"
};

struct OutboundCall {
  std::string operation;
  nlohmann::json input;                            // the operation's input, in canonical ids (the connector maps them)
  std::string idempotency_key;                     // stable across every retry of this call
  std::chrono::steady_clock::time_point deadline;  // finish (or give up retryably) by then
};

// Canonical <-> external ids for connectors, through the crosswalk (under the
// connector's crosswalk_system). Blocking (store round trip on a cache miss).
class ExternalIds {
 public:
  virtual ~ExternalIds() = default;
  // The external id of a canonical one (outbound calls): nullopt when
  // unmapped. invalid_argument when several external ids map to it (the
  // target cannot be chosen). Errors: the store's.
  virtual Result<std::optional<std::string>> external_id(std::string_view system, std::string_view entity,
                                                         std::string_view canonical_id) = 0;
  // The canonical id of an external one, nullopt when unmapped.
  virtual Result<std::optional<std::string>> canonical_id(std::string_view system, std::string_view entity,
                                                          std::string_view external_id) = 0;
  // Records a mapping the connector learned from the target (Square: a
  // catalog variation's SKU); replays messages parked for it.
  virtual Status learn(std::string_view system, std::string_view entity, std::string_view external_id,
                       std::string_view canonical_id) = 0;

  // external_id(), with an unmapped id as Errc::not_found naming the mapping
  // to add ("no shopify inventory_item is mapped to SKU-1 (PUT
  // /v1/crosswalk/shopify/inventory_item/{id} with canonical_id SKU-1)").
  Result<std::string> require(std::string_view system, std::string_view entity, const std::string& canonical_id);
};

// What a message means in the canonical model.
struct Canonical {
  std::vector<model::InventoryMovement> movements;
  std::vector<model::Order> orders;
};

class Connector {
 public:
  Connector(std::string id, std::string type) : id_(std::move(id)), type_(std::move(type)) {}
  virtual ~Connector() = default;
  Connector(const Connector&) = delete;
  Connector& operator=(const Connector&) = delete;

  const std::string& id() const noexcept { return id_; }
  const std::string& type() const noexcept { return type_; }
  // The `system` of this connector's crosswalk keys (default: the type).
  virtual std::string crosswalk_system() const { return type_; }

  // Checks the delivery's signature on the raw body, then cuts it into
  // messages. Errors: unauthenticated (signature missing or wrong: 401, and
  // nothing is recorded), invalid_argument (authentic but without the headers
  // or envelope that name the message: 400).
  virtual Result<WebhookReceipt> receive_webhook(const WebhookRequest& request) = 0;

  // Polling (the reconciliation path for lost webhooks): 0 = this instance
  // does not poll. poll() fetches what changed since `cursor` ("" = never
  // polled) with the target's rate-limit budget, and returns the messages
  // and the next cursor. It blocks (network); it is called on the hub's
  // poller thread, by one instance at a time.
  virtual std::chrono::milliseconds poll_interval() const { return std::chrono::milliseconds(0); }
  virtual Result<PollResult> poll(const std::string& /*cursor*/) {
    return make_error(Errc::unsupported, type_ + " connectors do not poll");
  }

  // Drift repair: what the channel shows now for `skus` (canonical) at
  // `location` (canonical), mapped like set_available. SKUs the target does
  // not show (unmapped, untracked) are left out. Blocking; errors as for
  // perform. Default: unsupported (no read-back).
  virtual Result<std::map<std::string, std::int64_t>> read_available(const std::string& /*location*/,
                                                                     const std::vector<std::string>& /*skus*/) {
    return make_error(Errc::unsupported, type_ + " connectors cannot read quantities back");
  }

  // The outbound operations this instance can perform (empty: none).
  virtual std::vector<OperationSpec> operations() const { return {}; }
  // Performs one operation; returns what the target answered that is worth
  // keeping (ids, versions) as JSON. Must count once per
  // call.idempotency_key, however often it is repeated. Errors: retryable
  // ones (unavailable, timeout, conflict; a rate-limit pause or an open
  // circuit) make the workflow wait and retry; others fail it permanently
  // and open an exception with the message (invalid_argument: input the
  // operation cannot take; not_found: an id without an external mapping).
  virtual Result<nlohmann::json> perform(const OutboundCall& call) {
    return make_error(Errc::unsupported, type_ + " connector " + id_ + " has no outbound operation " + call.operation);
  }

  // Completes a message that only names what changed (Square order.* events
  // carry id/state/version: the order is fetched), before map(); may also
  // learn missing mappings from the target. Called on a workflow step:
  // blocking is fine; an error fails the step (retryable ones are retried).
  // Default: the message as it is.
  virtual Result<Inbound> complete(const Inbound& message) { return message; }

  // Parses and maps one message. unmapped_* errors park it until the mapping
  // exists; invalid_payload quarantines it; unsupported records it as ignored.
  virtual connectors::Mapped<Canonical> map(const Inbound& message, const connectors::IdResolver& resolver) = 0;

 private:
  std::string id_;
  std::string type_;
};

// What a connector type gets when the daemon creates an instance.
struct Services {
  metrics::Registry& registry;
  ConnectorMetrics& metrics;   // this instance's trueup_connector_* families
  http::OutboundClient& http;  // the process's shared outbound client
  BudgetRegistry& budgets;     // rate-limit budgets per target, shared
  ExternalIds& ids;            // crosswalk lookups both ways (outbound calls, learned mappings)
};

struct ConnectorType {
  std::string name;                   // the YAML key under `connectors:`, e.g. "shopify"
  std::string description;            // one line, for `trueup config reference`
  std::vector<config::Key> settings;  // the keys of one instance, besides `id`
  // Creates an instance from its validated settings. Errors name the key.
  std::function<Result<std::unique_ptr<Connector>>(const std::string& id, const config::Section& settings,
                                                   Services& services)>
      create;
};

// Adds a type (at static initialisation, through Registrar). A second type
// with the same name is a programming error (std::logic_error).
void register_type(ConnectorType type);
// The registered types, by name.
const std::vector<ConnectorType>& registered_types();
const ConnectorType* find_type(std::string_view name);

struct Registrar {
  explicit Registrar(ConnectorType type) { register_type(std::move(type)); }
};

// The stock a refund puts back: one `return` movement per restocked line
// (+quantity at the line's location), movement_id
// "<system>:refund:<refund id>:<line id>". Lines without restock give none.
std::vector<model::InventoryMovement> restock_movements(const model::Refund& refund, std::string_view source_system);

// The instance id rule: 1-64 of [a-z0-9-], starting with a letter (it is a
// URL path segment and a metric label).
bool valid_instance_id(std::string_view id);

}  // namespace trueup::connector
