#include "daemon_config.hpp"

#include <unistd.h>

#include <cctype>
#include <set>

#include "trueup/connector/connector.hpp"
#include "trueup/model/order.hpp"

namespace trueup::app {

using config::bounded;
using config::choice;
using config::optional;
using config::required;
using config::section;
using config::section_list;
using config::Type;
using config::with_default;

namespace {
// One list per registered connector type (connectors/<system>/ registers it).
config::Key connectors_section() {
  std::vector<config::Key> types;
  for (const auto& t : connector::registered_types()) {
    std::vector<config::Key> keys{required("id", Type::string,
                                           "Instance id: 1-64 of a-z, 0-9 and '-', starting with a letter; the "
                                           "webhook path /v1/webhooks/{id}, the inbox source and a metric label.")};
    keys.insert(keys.end(), t.settings.begin(), t.settings.end());
    types.push_back(section_list(t.name, t.description, std::move(keys)));
  }
  return section("connectors", "Connected systems, by type; each type takes a list of instances.", std::move(types));
}
}  // namespace

std::shared_ptr<const config::Schema> daemon_schema() {
  static const auto schema = std::make_shared<const config::Schema>(std::vector<config::Key>{
      optional("instance_id", Type::string, "Name of this instance in logs and events. Default: the host name."),
      section("log", "Logging to standard error.",
              {
                  choice("level", {"trace", "debug", "info", "warn", "error", "off"}, "info",
                         "Lowest level written. `--log-level` overrides it."),
                  choice("format", {"json", "text"}, "json", "JSON lines for machines, or text for people."),
              }),
      section("http", "The HTTP server: webhooks, system API, /metrics, /healthz, /readyz.",
              {
                  with_default("listen_address", Type::string, "127.0.0.1", "Address to bind; 0.0.0.0 for all."),
                  bounded(with_default("port", Type::integer, "8080", "TCP port; 0 picks a free one."), 0, 65535),
                  bounded(with_default("threads", Type::integer, "0", "I/O threads; 0 = one per core."), 0, 256),
                  bounded(with_default("max_connections", Type::integer, "1024",
                                       "Open connections beyond which new ones get 503 and are closed."),
                          1, 1000000),
                  bounded(with_default("max_body_bytes", Type::integer, "1048576",
                                       "Largest accepted request body; larger ones get 413."),
                          1024, 1073741824),
                  bounded(with_default("max_header_bytes", Type::integer, "16384",
                                       "Largest accepted request header block; larger ones get 431."),
                          1024, 1048576),
                  bounded(with_default("header_timeout", Type::duration, "10s",
                                       "Time allowed for a new connection to send its first request's headers."),
                          1, 3600000),
                  bounded(with_default("read_timeout", Type::duration, "30s", "Time allowed to read a request body."),
                          1, 3600000),
                  bounded(with_default("idle_timeout", Type::duration, "60s",
                                       "Time a keep-alive connection may stay idle between requests."),
                          1, 3600000),
                  bounded(with_default("write_timeout", Type::duration, "30s", "Time allowed to write a response."), 1,
                          3600000),
                  with_default("access_log", Type::boolean, "true", "Log one line per request (with its request id)."),
              }),
      section("shutdown", "Stopping on SIGTERM or SIGINT.",
              {
                  bounded(with_default("grace_period", Type::duration, "15s",
                                       "Time in-flight requests get to finish before connections are closed."),
                          0, 600000),
              }),
      section(
          "health", "Readiness checks behind /readyz.",
          {
              bounded(
                  with_default("check_interval", Type::duration, "2s", "How often the store and the bus are checked."),
                  100, 600000),
              bounded(with_default("check_timeout", Type::duration, "2s", "Time allowed for one check."), 100, 60000),
          }),
      section(
          "store", "Durable state. PostgreSQL when `store.postgres` is set, else an SQLite file.",
          {
              with_default("migrate_on_start", Type::boolean, "true",
                           "Apply pending migrations when `serve` starts; else refuse to start if any is pending."),
              section("postgres", "PostgreSQL (production, several instances).",
                      {
                          required("url", Type::secret,
                                   "Connection URL, postgresql://user:password@host:port/db, from ${ENV} or file:."),
                          bounded(with_default("pool_size", Type::integer, "4",
                                               "Connections, one thread each; with 3 or more, one serves only the "
                                               "intake commits that HTTP requests wait on (docs/store.md)."),
                                  1, 256),
                          bounded(with_default("connect_timeout", Type::duration, "5s", "Time allowed to connect."),
                                  1000, 600000),
                          bounded(with_default("queue_capacity", Type::integer, "10000",
                                               "Work items waiting for a connection before callers get `overloaded`."),
                                  1, 10000000),
                          with_default("prepared_statements", Type::boolean, "true",
                                       "Prepare each statement on its connection at its second use, so the server "
                                       "parses and plans it once; false behind a pooler that does not keep them "
                                       "(PgBouncer transaction mode before 1.21)."),
                          bounded(with_default("yield_above", Type::duration, "0ms",
                                               "A request that waited longer than this for its intake commit "
                                               "makes background transactions (workflow steps, relay, "
                                               "availability) run one at a time, one more per second without "
                                               "another such wait; 0 = they never yield. Trades catching up for "
                                               "intake latency (docs/store.md)."),
                                  0, 60000),
                      }),
              section("sqlite", "SQLite (embedded default, one instance).",
                      {
                          with_default("path", Type::string, "trueup.db", "Database file."),
                          bounded(with_default("busy_timeout", Type::duration, "5s", "Wait for a locked database."), 0,
                                  600000),
                          bounded(with_default("queue_capacity", Type::integer, "10000",
                                               "Work items waiting before callers get `overloaded`."),
                                  1, 10000000),
                      }),
          }),
      section(
          "api", "The system API under /v1 (intake, workflows, exceptions, crosswalk).",
          {
              section_list("keys", "API keys, stored as SHA-256 hashes (`trueup api-key hash KEY` prints one).",
                           {
                               required("name", Type::string, "Who holds the key; shown as `resolved_by` and in logs."),
                               required("sha256", Type::string, "Hex SHA-256 of the key (64 hex digits)."),
                               choice("scope", {"read", "operate", "admin"}, "read",
                                      "read: GET; operate: intake and operator actions; admin: everything."),
                           }),
              with_default("allow_anonymous", Type::boolean, "false",
                           "Treat requests without a key as admin. Only for `trueup dev` on loopback."),
              bounded(
                  with_default("workers", Type::integer, "4", "Threads running API handlers that wait on the store."),
                  1, 256),
              bounded(with_default("queue_capacity", Type::integer, "1000",
                                   "Requests waiting for a handler thread before 503."),
                      1, 1000000),
              bounded(with_default("max_batch", Type::integer, "1000", "Items per intake request."), 1, 100000),
              bounded(with_default("commit_max_items", Type::integer, "2000",
                                   "Intake items written in one group-commit transaction (a request is never split)."),
                      1, 100000),
              bounded(with_default("commit_in_flight", Type::integer, "2",
                                   "Group-commit transactions running at once; requests arriving meanwhile wait "
                                   "and go together in the next one."),
                      1, 64),
              bounded(with_default("idempotency_retention", Type::duration, "72h",
                                   "How long an Idempotency-Key and its response are kept."),
                      60000, 2592000000),
              bounded(with_default("idempotency_lock_timeout", Type::duration, "60s",
                                   "After this, a key whose request never finished may be used again."),
                      1000, 3600000),
          }),
      section("workflow", "The durable workflow engine.",
              {
                  bounded(with_default("workers", Type::integer, "4", "Worker threads running steps."), 1, 256),
                  bounded(with_default("poll_interval", Type::duration, "1s",
                                       "Fallback wake-up when no notification arrives."),
                          10, 600000),
                  bounded(with_default("lease", Type::duration, "60s",
                                       "How long a claim lasts before another instance may take the work over."),
                          1000, 3600000),
                  bounded(with_default("claim_batch", Type::integer, "32", "Workflows claimed per query and worker."),
                          1, 10000),
                  bounded(with_default("step_log_limit", Type::integer, "50", "Step attempts kept per workflow."), 1,
                          10000),
              }),
      section(
          "relay", "The outbox relay publishing events to the bus.",
          {
              bounded(with_default("batch_size", Type::integer, "2000", "Events per publishing pass."), 1, 100000),
              bounded(with_default("pipeline_depth", Type::integer, "4",
                                   "Batches produced and not yet marked published; 1 = one batch at a time "
                                   "(the smallest window in which a failed event's successors are already sent)."),
                      1, 64),
              bounded(with_default("poll_interval", Type::duration, "200ms",
                                   "How often other instances' events are looked for."),
                      10, 600000),
              bounded(with_default("retry_backoff", Type::duration, "1s", "Pause after a failed pass."), 10, 600000),
              bounded(with_default("delivery_timeout", Type::duration, "60s",
                                   "Time a batch may wait for delivery reports."),
                      1000, 3600000),
              bounded(with_default("retention", Type::duration, "24h",
                                   "Published events are deleted once they were appended this long ago."),
                      60000, 2592000000),
          }),
      section("crosswalk", "The ID crosswalk cache.",
              {
                  bounded(with_default("cache_capacity", Type::integer, "100000", "Mappings kept in memory."), 0,
                          100000000),
                  bounded(with_default("cache_ttl", Type::duration, "60s",
                                       "How long a cached mapping is trusted (misses always ask the store)."),
                          0, 86400000),
              }),
      section(
          "bus", "Events. Apache Kafka when `bus.kafka` is set, else the embedded in-process bus.",
          {
              with_default("create_topics", Type::boolean, "true",
                           "Create missing topics on start; else a missing topic stops the start with an error."),
              section_list(
                  "topics", "Topics to ensure besides the built-in `trueup.system.v1`.",
                  {
                      required("name", Type::string, "Topic name, e.g. retail.inventory.v1."),
                      bounded(with_default("partitions", Type::integer, "3", "Partitions when created."), 1, 10000),
                      bounded(with_default("replication_factor", Type::integer, "1", "Replicas when created."), 1, 16),
                  }),
              section("kafka", "Apache Kafka.",
                      {
                          required("bootstrap_servers", Type::string, "host:port[,host:port...]"),
                          with_default("client_id", Type::string, "trueup", "client.id sent to the brokers."),
                          bounded(with_default("request_timeout", Type::duration, "10s",
                                               "Time allowed for metadata and admin requests."),
                                  100, 600000),
                          optional("properties", Type::string_map,
                                   "Extra librdkafka properties (security.protocol, sasl.*); values may be "
                                   "${ENV} or file:."),
                      }),
              section("embedded", "The in-process bus.",
                      {
                          bounded(with_default("default_partitions", Type::integer, "3",
                                               "Partitions of topics created without a count."),
                                  1, 1024),
                      }),
          }),
      section("webhooks", "Webhook ingress: POST /v1/webhooks/{connector id}.",
              {
                  optional("public_base_url", Type::string,
                           "The public URL senders post to, without the path (https://trueup.example.com); Square "
                           "signs it. Default: http:// and the request's Host header."),
              }),
      connectors_section(),
      inventory::availability_section(),
      section(
          "erp", "Booking channel sales and returns in the ERP.",
          {
              optional("connector", Type::string,
                       "Instance id (connectors.<type>[].id) of the ERP connector; every recorded order of the "
                       "channels below in a status below is booked there once (its post_sale operation, external "
                       "document number = the order's external_reference, or the batch's: see `posting`). Unset: "
                       "nothing is booked."),
              optional("post_channels", Type::string_list,
                       "Canonical channels whose orders and returns are booked, e.g. [pos]. Unset: every channel."),
              optional("post_statuses", Type::string_list,
                       "Order statuses that book the sale. Unset: [closed, fulfilled] (a POS receipt is closed "
                       "when paid; a web order once fulfilled)."),
              choice("posting", {"per_receipt", "per_store_batch"}, "per_receipt",
                     "per_receipt: one sales document per order. per_store_batch: the orders of one location "
                     "recorded while its batch is open are one sales document, lines summed per SKU and unit price, "
                     "external document number <location>-<yyyymmdd>-<n>."),
              bounded(with_default("batch_interval", Type::duration, "15m",
                                   "per_store_batch: how long a location's batch takes orders after its first one; "
                                   "then it is booked."),
                      1000, 86400000),
              bounded(with_default("batch_max_lines", Type::integer, "500",
                                   "per_store_batch: lines (SKU and unit price) of one batch document; an order "
                                   "that would pass it closes the batch and opens the next."),
                      1, 10000),
              with_default("post_returns", Type::boolean, "true",
                           "Book returns that put stock back (a POS return order, a channel refund with restock: "
                           "return movements with an order id) as credit memos through the connector's post_return, "
                           "once per returned order (external document number = its external id). Refunds without "
                           "restock are not booked."),
              bounded(with_default("return_window", Type::duration, "5s",
                                   "Return lines of one order recorded within this time of its first one are one "
                                   "credit memo; later ones make another (number suffix -2, -3, ...)."),
                      0, 3600000),
          }),
  });
  return schema;
}

Result<DaemonSettings> daemon_settings(const config::Config& config) {
  DaemonSettings s;
  auto root = config.root();
  if (root.has("instance_id")) {
    s.instance_id = root.string("instance_id");
  } else {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    s.instance_id = host[0] != '\0' ? host : "trueup";
  }

  auto log_section = root.section("log");
  log::parse_level(log_section.string("level"), s.log.level);
  s.log.format = log_section.string("format") == "text" ? log::Format::text : log::Format::json;

  auto h = root.section("http");
  s.http.address = h.string("listen_address");
  s.http.port = static_cast<std::uint16_t>(h.integer("port"));
  s.http.threads = static_cast<int>(h.integer("threads"));
  s.http.max_connections = static_cast<std::size_t>(h.integer("max_connections"));
  s.http.max_body_bytes = static_cast<std::size_t>(h.integer("max_body_bytes"));
  s.http.max_header_bytes = static_cast<std::size_t>(h.integer("max_header_bytes"));
  s.http.header_timeout = h.duration("header_timeout");
  s.http.read_timeout = h.duration("read_timeout");
  s.http.idle_timeout = h.duration("idle_timeout");
  s.http.write_timeout = h.duration("write_timeout");
  s.http.access_log = h.boolean("access_log");

  s.grace_period = root.section("shutdown").duration("grace_period");
  s.health_interval = root.section("health").duration("check_interval");
  s.health_timeout = root.section("health").duration("check_timeout");

  // Presence of a section selects the engine; both at once is ambiguous.
  auto st = root.section("store");
  s.migrate_on_start = st.boolean("migrate_on_start");
  const bool has_pg = st.present("postgres");
  const bool has_sqlite = st.present("sqlite");
  if (has_pg && has_sqlite) {
    return make_error(Errc::invalid_argument,
                      config.source() + ": store.postgres and store.sqlite are both set; keep the one to use");
  }
  if (has_pg) {
    auto pg = st.section("postgres");
    store::PostgresSettings p;
    p.url = pg.string("url");
    p.pool_size = static_cast<int>(pg.integer("pool_size"));
    p.connect_timeout = pg.duration("connect_timeout");
    p.queue_capacity = static_cast<std::size_t>(pg.integer("queue_capacity"));
    p.prepared_statements = pg.boolean("prepared_statements");
    p.yield_above = pg.duration("yield_above");
    s.postgres = p;
  }
  auto sq = st.section("sqlite");
  s.sqlite.path = sq.string("path");
  s.sqlite.busy_timeout = sq.duration("busy_timeout");
  s.sqlite.queue_capacity = static_cast<std::size_t>(sq.integer("queue_capacity"));

  auto a = root.section("api");
  for (const auto& k : a.sections("keys")) {
    api::ApiKey key{k.string("name"), k.string("sha256"), *api::parse_scope(k.string("scope"))};
    bool hex = key.sha256_hex.size() == 64;
    for (char& c : key.sha256_hex) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      hex = hex && std::isxdigit(static_cast<unsigned char>(c));
    }
    if (!hex)
      return make_error(Errc::invalid_argument, config.source() + ": " + k.path() +
                                                    ".sha256: expected 64 hex digits (trueup api-key hash KEY)");
    s.api_keys.push_back(std::move(key));
  }
  s.allow_anonymous = a.boolean("allow_anonymous");
  s.api_workers = static_cast<int>(a.integer("workers"));
  s.api_queue_capacity = static_cast<std::size_t>(a.integer("queue_capacity"));
  s.max_batch = static_cast<std::size_t>(a.integer("max_batch"));
  s.commit_max_items = static_cast<std::size_t>(a.integer("commit_max_items"));
  s.commit_in_flight = static_cast<std::size_t>(a.integer("commit_in_flight"));
  s.idempotency.retention = std::chrono::duration_cast<std::chrono::seconds>(a.duration("idempotency_retention"));
  s.idempotency.lock_timeout = std::chrono::duration_cast<std::chrono::seconds>(a.duration("idempotency_lock_timeout"));

  auto w = root.section("workflow");
  s.workflow.workers = static_cast<int>(w.integer("workers"));
  s.workflow.poll_interval = w.duration("poll_interval");
  s.workflow.lease = w.duration("lease");
  s.workflow.claim_batch = static_cast<std::size_t>(w.integer("claim_batch"));
  s.workflow.step_log_limit = static_cast<std::size_t>(w.integer("step_log_limit"));

  auto r = root.section("relay");
  s.relay.batch_size = static_cast<std::size_t>(r.integer("batch_size"));
  s.relay.pipeline_depth = static_cast<std::size_t>(r.integer("pipeline_depth"));
  s.relay.poll_interval = r.duration("poll_interval");
  s.relay.retry_backoff = r.duration("retry_backoff");
  s.relay.delivery_timeout = r.duration("delivery_timeout");
  s.relay.retention = std::chrono::duration_cast<std::chrono::seconds>(r.duration("retention"));

  s.webhook_base_url = root.section("webhooks").has("public_base_url")
                           ? root.section("webhooks").string("public_base_url")
                           : std::string();
  std::set<std::string> connector_ids;
  for (const auto& t : connector::registered_types()) {
    auto list = root.section("connectors").sections(t.name);
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string id = list[i].string("id");
      const std::string where = config.source() + ": connectors." + t.name + "[" + std::to_string(i) + "].id: ";
      if (!connector::valid_instance_id(id))
        return make_error(Errc::invalid_argument,
                          where + "'" + id + "' must be 1-64 of a-z, 0-9 and '-', starting with a letter");
      if (!connector_ids.insert(id).second)
        return make_error(Errc::invalid_argument, where + "'" + id + "' is used by another connector");
      s.connectors.push_back(ConnectorRef{t.name, id, i});
    }
  }
  s.config = std::make_shared<const config::Config>(config);

  if (root.present("availability")) {
    auto rules = inventory::availability_rules(root.section("availability"), config.source());
    if (!rules) return std::move(rules).error();
    for (std::size_t i = 0; i < rules->channels.size(); ++i) {
      const auto& push = rules->channels[i].push_connector;
      if (!push.empty() && !connector_ids.contains(push))
        return make_error(Errc::invalid_argument, config.source() + ": availability.channels[" + std::to_string(i) +
                                                      "].push_connector: no connector has the id '" + push + "'");
    }
    s.availability = std::move(rules).value();
  }

  auto erp = root.section("erp");
  if (erp.present("connector")) {
    s.erp.connector = erp.string("connector");
    if (!connector_ids.contains(s.erp.connector))
      return make_error(Errc::invalid_argument,
                        config.source() + ": erp.connector: no connector has the id '" + s.erp.connector + "'");
  }
  if (erp.present("post_channels")) s.erp.post_channels = erp.string_list("post_channels");
  if (erp.present("post_statuses")) {
    s.erp.post_statuses.clear();
    for (const auto& status : erp.string_list("post_statuses")) {
      if (!model::parse_order_status(status))
        return make_error(Errc::invalid_argument, config.source() + ": erp.post_statuses: '" + status +
                                                      "' is not an order status (pending, open, on_hold, "
                                                      "partially_fulfilled, fulfilled, cancelled, closed)");
      s.erp.post_statuses.push_back(status);
    }
  }
  s.erp.per_store_batch = erp.string("posting") == "per_store_batch";
  s.erp.batch.window = erp.duration("batch_interval");
  s.erp.batch.max_lines = static_cast<std::size_t>(erp.integer("batch_max_lines"));
  s.erp.post_returns = erp.boolean("post_returns");
  s.erp.returns.window = erp.duration("return_window");
  s.erp.returns.max_lines = s.erp.batch.max_lines;

  auto x = root.section("crosswalk");
  s.crosswalk.cache_capacity = static_cast<std::size_t>(x.integer("cache_capacity"));
  s.crosswalk.cache_ttl = x.duration("cache_ttl");

  auto b = root.section("bus");
  s.create_topics = b.boolean("create_topics");
  const bool has_kafka = b.present("kafka");
  const bool has_embedded = b.present("embedded");
  if (has_kafka && has_embedded) {
    return make_error(Errc::invalid_argument,
                      config.source() + ": bus.kafka and bus.embedded are both set; keep the one to use");
  }
  if (has_kafka) {
    auto k = b.section("kafka");
    bus::KafkaSettings ks;
    ks.bootstrap_servers = k.string("bootstrap_servers");
    ks.client_id = k.string("client_id");
    ks.request_timeout = k.duration("request_timeout");
    ks.properties = k.string_map("properties");
    s.kafka = ks;
  }
  s.embedded.default_partitions = static_cast<int>(b.section("embedded").integer("default_partitions"));
  s.topics.push_back(bus::TopicSpec{std::string(kSystemTopic), 1, 1});
  // The topics the durable core publishes to (docs/asyncapi.yaml).
  for (auto t : {model::topics::kInventory, model::topics::kOrders, model::topics::kExceptions})
    s.topics.push_back(bus::TopicSpec{std::string(t), 3, 1});
  for (const auto& t : b.sections("topics")) {
    bus::TopicSpec spec{t.string("name"), static_cast<int>(t.integer("partitions")),
                        static_cast<int>(t.integer("replication_factor"))};
    for (const auto& existing : s.topics) {
      if (existing.name == spec.name)
        return make_error(Errc::invalid_argument, config.source() + ": " + t.path() + ".name: topic " + spec.name +
                                                      " is listed twice (or is the built-in system topic)");
    }
    s.topics.push_back(std::move(spec));
  }
  return s;
}

std::string dev_config_yaml() {
  return R"(# trueup dev: embedded store and bus, everything on loopback.
instance_id: trueup-dev
log:
  level: ${TRUEUP_DEV_LOG_LEVEL:-info}
  format: text
http:
  listen_address: 127.0.0.1
  port: ${TRUEUP_DEV_PORT:-8080}
  access_log: false
shutdown:
  grace_period: 5s
api:
  # trueup dev listens on loopback only: no keys needed there.
  allow_anonymous: true
store:
  sqlite:
    path: ${TRUEUP_DEV_DB:-trueup-dev.db}
bus:
  embedded:
    default_partitions: 3
)";
}

}  // namespace trueup::app
