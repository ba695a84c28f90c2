#pragma once
// The daemon's configuration: its schema (every key, documented in
// docs/configuration.md) and the typed settings the composition root uses.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trueup/api/auth.hpp"
#include "trueup/bus/bus.hpp"
#include "trueup/config/schema.hpp"
#include "trueup/core/error.hpp"
#include "trueup/crosswalk/crosswalk.hpp"
#include "trueup/http/server.hpp"
#include "trueup/inventory/availability_rules.hpp"
#include "trueup/inventory/erp_documents.hpp"
#include "trueup/log/log.hpp"
#include "trueup/messaging/idempotency.hpp"
#include "trueup/messaging/relay.hpp"
#include "trueup/model/events.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/engine.hpp"

namespace trueup::app {

std::shared_ptr<const config::Schema> daemon_schema();

// A configured connector instance: connectors.<type>[index].
struct ConnectorRef {
  std::string type;
  std::string id;
  std::size_t index = 0;
};

struct DaemonSettings {
  std::string instance_id;
  log::Settings log;
  http::ServerSettings http;
  std::chrono::milliseconds grace_period{15000};
  std::chrono::milliseconds health_interval{2000};
  std::chrono::milliseconds health_timeout{2000};
  bool migrate_on_start = true;
  std::optional<store::PostgresSettings> postgres;  // else SQLite
  store::SqliteSettings sqlite;
  std::optional<bus::KafkaSettings> kafka;  // else embedded
  bus::EmbeddedSettings embedded;
  bool create_topics = true;
  std::vector<bus::TopicSpec> topics;  // the system topic included
  std::vector<api::ApiKey> api_keys;
  bool allow_anonymous = false;
  int api_workers = 4;
  std::size_t api_queue_capacity = 1000;
  std::size_t max_batch = 1000;
  std::size_t commit_max_items = 2000;
  std::size_t commit_in_flight = 2;
  messaging::IdempotencySettings idempotency;
  workflow::EngineSettings workflow;
  messaging::RelaySettings relay;
  crosswalk::Settings crosswalk;
  std::string webhook_base_url;
  std::vector<ConnectorRef> connectors;
  struct Erp {
    std::string connector;                   // "" = no ERP posting
    std::vector<std::string> post_channels;  // empty = every channel
    std::vector<std::string> post_statuses{"closed", "fulfilled"};
    bool per_store_batch = false;          // erp.posting
    inventory::ErpDocumentSettings batch;  // batch_interval, batch_max_lines
    bool post_returns = true;
    inventory::ErpDocumentSettings returns{std::chrono::milliseconds(5000)};  // return_window
  } erp;
  std::optional<inventory::AvailabilityRules> availability;  // the `availability:` section, when present
  std::shared_ptr<const config::Config> config;              // the connectors' own settings are read from it
};

// The topic every instance announces itself on.
inline constexpr std::string_view kSystemTopic = model::topics::kSystem;

// Typed settings from a validated config. Cross-key rules that the schema
// cannot express fail here with Errc::invalid_argument naming the keys.
Result<DaemonSettings> daemon_settings(const config::Config& config);

// The configuration `trueup dev` runs with (embedded store and bus).
std::string dev_config_yaml();

}  // namespace trueup::app
