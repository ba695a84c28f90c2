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
#include <memory>
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
};

// One poll: what changed since the cursor, and where the next poll starts.
struct PollResult {
  std::vector<Inbound> messages;  // dedupe keys stable across polls (an overlap brings the same again)
  std::string cursor;             // persisted with the messages, in one transaction
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
