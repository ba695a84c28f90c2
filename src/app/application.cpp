#include "application.hpp"

#include "availability_service.hpp"

#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "trueup/connector/operations.hpp"
#include "trueup/core/time.hpp"
#include "trueup/core/version.hpp"
#include "trueup/inventory/erp_documents.hpp"
#include "trueup/inventory/ledger.hpp"
#include "trueup/log/log.hpp"

namespace trueup::app {
namespace {

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- ERP booking (erp: in docs/configuration.md) --------------------------

bool listed(const std::vector<std::string>& list, std::string_view v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// Whether sales and returns of `channel` are booked (erp.post_channels).
bool posted_channel(const DaemonSettings::Erp& erp, std::string_view channel) {
  return erp.post_channels.empty() || listed(erp.post_channels, channel);
}

// Kept visible rather than failing the recording: what cannot be booked.
Status booking_impossible(workflow::ExceptionQueue& exceptions, store::Transaction& tx, const std::string& connector,
                          const std::string& ref_type, const std::string& ref_id, const std::string& why) {
  auto opened =
      exceptions.open(tx, workflow::ExceptionSpec{"erp_posting_impossible",
                                                  "error",
                                                  {ref_type, ref_id},
                                                  ref_type + " " + ref_id + " cannot be booked in the ERP: " + why,
                                                  {{"connector", connector}}});
  if (!opened) return std::move(opened).error();
  return Ok{};
}

// A movement new to the ledger: a return that put stock back and that the
// ERP has not booked (provisional, or already_confirmed: a late line of a
// return whose credit memo is posted) joins its order's return document.
Status book_return(const DaemonSettings::Erp& erp, workflow::Engine& engine, const workflow::Clock& clock,
                   store::Transaction& tx, const model::InventoryMovement& m, std::string_view status) {
  if (erp.connector.empty() || !erp.post_returns || m.kind != model::MovementKind::return_ || !m.order_id ||
      !m.quantity_delta || m.quantity_delta->scaled() <= 0)
    return Ok{};
  if (status != "provisional" && status != "already_confirmed") return Ok{};
  if (!posted_channel(erp, inventory::order_channel(*m.order_id))) return Ok{};
  auto joined = inventory::join_return(tx, engine, erp.returns, m, clock.now());
  if (!joined) return std::move(joined).error();
  return Ok{};
}

// A closed ERP document (a batch, a return): its post_sale / post_return
// workflow, once per document, in the transaction that closes it.
Status post_erp_document(const DaemonSettings::Erp& erp, connector::Hub& hub, workflow::ExceptionQueue& exceptions,
                         store::Transaction& tx, const inventory::ClosedErpDocument& d) {
  const auto impossible = [&](const std::string& why) {
    return booking_impossible(exceptions, tx, erp.connector, "erp_document", d.id, why);
  };
  if (erp.connector.empty()) return impossible("no erp.connector is configured any more");
  connector::DocumentBooking booking{d.booked_order_id, d.external_document_number, d.location, d.posting_date, {}, {}};
  if (d.currency) {
    auto currency = Currency::from_code(*d.currency);
    if (!currency) return impossible(currency.error().message);
    booking.currency = *currency;
  }
  for (const auto& line : d.lines) {
    connector::DocumentLine l{line.sku, line.quantity, std::nullopt};
    if (line.unit_price_minor && booking.currency)
      l.unit_price = Money::from_minor(*line.unit_price_minor, *booking.currency);
    booking.lines.push_back(std::move(l));
  }
  auto input = connector::document_input(booking);
  if (!input) return impossible(input.error().message);
  const bool credit_memo = d.kind == inventory::ErpDocumentKind::return_;
  auto started = hub.request(
      tx, connector::OutboundRequest{erp.connector, credit_memo ? connector::kPostReturn : connector::kPostSale,
                                     std::move(input).value(), "erp:" + d.id, "erp-document:" + d.id});
  if (!started) return std::move(started).error();
  return Ok{};
}

}  // namespace

Result<std::unique_ptr<store::Store>> open_store(const DaemonSettings& settings) {
  if (settings.postgres) return store::open_postgres(*settings.postgres);
  return store::open_sqlite(settings.sqlite);
}

Application::Application(DaemonSettings settings) : settings_(std::move(settings)) {
  process_id_ = settings_.instance_id + "/" + std::to_string(::getpid()) + "/" + messaging::make_uuid_v4().substr(0, 8);
  metrics::register_process_metrics(registry_);
  add_routes();
}

Application::~Application() { stop(); }

void Application::add_store_metrics() {
  const char* queued_help = "Store transactions waiting for a connection, by lane";
  const char* running_help = "Store transactions running, by lane";
  auto& queued_interactive = registry_.gauge("trueup_store_queued", queued_help, {{"lane", "interactive"}});
  auto& queued_background = registry_.gauge("trueup_store_queued", queued_help, {{"lane", "background"}});
  auto& running_interactive = registry_.gauge("trueup_store_running", running_help, {{"lane", "interactive"}});
  auto& running_background = registry_.gauge("trueup_store_running", running_help, {{"lane", "background"}});
  auto& yielding = registry_.gauge("trueup_store_background_yielding",
                                   "1 while background work yields to slow requests (store.postgres.yield_above)");
  auto& limit = registry_.gauge("trueup_store_background_limit",
                                "Background transactions allowed at once while yielding; 0 when not yielding");
  auto& slow = registry_.counter("trueup_store_slow_requests_total",
                                 "Requests that waited longer than store.postgres.yield_above for their commit");
  registry_.on_scrape([this, &queued_interactive, &queued_background, &running_interactive, &running_background,
                       &yielding, &limit, &slow] {
    if (!store_) return;
    const auto l = store_->load();
    queued_interactive.set(static_cast<double>(l.interactive.queued));
    queued_background.set(static_cast<double>(l.background.queued));
    running_interactive.set(static_cast<double>(l.interactive.running));
    running_background.set(static_cast<double>(l.background.running));
    yielding.set(l.background_limit ? 1.0 : 0.0);
    limit.set(l.background_limit ? static_cast<double>(*l.background_limit) : 0.0);
    slow.set_total(static_cast<double>(l.slow_interactive));
  });
}

Status Application::start() {
  const auto started = std::chrono::steady_clock::now();
  auto store = open_store(settings_);
  if (!store) return std::move(store).error();
  store_ = std::move(store).value();
  log::info("store opened", {{"engine", std::string(store_->engine())}});
  add_store_metrics();

  if (settings_.migrate_on_start) {
    auto report = store_->migrate(store::embedded_migrations(store_->engine()));
    if (!report) return std::move(report).error();
    log::info("migrations checked", {{"applied", std::to_string(report->applied.size())},
                                     {"already_applied", std::to_string(report->already_applied)}});
  }

  if (auto st = register_instance(); !st) return st;

  if (settings_.kafka) {
    auto bus = bus::open_kafka(*settings_.kafka);
    if (!bus) return std::move(bus).error();
    bus_ = std::move(bus).value();
  } else {
    bus_ = bus::open_embedded(settings_.embedded);
  }
  if (auto st = bus_->ensure_topics(settings_.topics, settings_.create_topics); !st) return std::move(st).error();
  log::info("bus opened",
            {{"engine", std::string(bus_->engine())}, {"topics", std::to_string(settings_.topics.size())}});

  if (auto st = start_core(); !st) return st;

  check_dependencies();
  health_thread_ = std::thread([this] { health_loop(); });

  server_ = std::make_unique<http::Server>(settings_.http, router_, registry_);
  if (auto st = server_->start(); !st) return std::move(st).error();

  announce();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  log::info("trueup started", {{"instance_id", settings_.instance_id},
                               {"version", std::string(version())},
                               {"listen", settings_.http.address + ":" + std::to_string(server_->port())},
                               {"store", std::string(store_->engine())},
                               {"bus", std::string(bus_->engine())},
                               {"startup_ms", std::to_string(ms.count())}});
  return Ok{};
}

Status Application::start_connectors(const std::string& source) {
  hub_ = std::make_unique<connector::Hub>(
      connector::HubDeps{*store_, *inbox_, *outbox_, *engine_, *exceptions_, *crosswalk_, source});
  outbound_ = std::make_unique<http::OutboundClient>(http::OutboundSettings{});
  for (const auto& ref : settings_.connectors) {
    const auto* type = connector::find_type(ref.type);
    if (type == nullptr) return make_error(Errc::internal, "connector type " + ref.type + " is not registered");
    auto section = settings_.config->root().section("connectors").sections(ref.type).at(ref.index);
    auto metrics = std::make_unique<connector::ConnectorMetrics>(registry_, ref.id);
    connector::Services services{registry_, *metrics, *outbound_, budgets_, hub_->external_ids()};
    auto made = type->create(ref.id, section, services);
    if (!made)
      return make_error(made.error().code, "connectors." + ref.type + "[" + std::to_string(ref.index) + "] (" + ref.id +
                                               "): " + made.error().message);
    if (auto st = hub_->add(std::move(made).value(), std::move(metrics)); !st) return st;
    log::info("connector ready", {{"id", ref.id}, {"type", ref.type}, {"webhook", "/v1/webhooks/" + ref.id}});
  }
  hub_->define();
  if (!settings_.erp.connector.empty()) {
    auto op = hub_->operation(settings_.erp.connector, connector::kPostSale);
    if (!op) return make_error(Errc::invalid_argument, "erp.connector: " + op.error().message);
    if (settings_.erp.post_returns) {
      auto returns = hub_->operation(settings_.erp.connector, connector::kPostReturn);
      if (!returns)
        return make_error(Errc::invalid_argument, "erp.post_returns: " + returns.error().message +
                                                      " (set erp.post_returns: false to book no returns)");
    }
  }
  return Ok{};
}

// The availability service (availability_service.hpp) when `availability:`
// is configured; on PostgreSQL one instance runs it at a time.
Status Application::start_availability() {
  if (!settings_.availability) return Ok{};
  AvailabilityServiceSettings s;
  s.rules = *settings_.availability;
  for (const auto& c : s.rules.channels)
    if (!c.push_connector.empty()) s.pushes.push_back(ChannelPush{c.code, c.push_connector, c.push_location});
  std::function<bool()> leader = [] { return true; };  // SQLite: one instance
  if (settings_.postgres) {
    store::PgSingletonSettings lock;
    lock.postgres = *settings_.postgres;
    lock.name = "availability";
    auto singleton = store::start_pg_singleton(lock);
    if (!singleton) return std::move(singleton).error();
    availability_lock_ = std::move(singleton).value();
    leader = [lock = availability_lock_.get()] { return lock->held(); };
  }
  availability_ = std::make_unique<AvailabilityService>(*store_, *hub_, *exceptions_, registry_, std::move(s), leader);
  if (auto st = availability_->start(); !st) return st;
  log::info("availability service ready", {{"channels", std::to_string(settings_.availability->channels.size())}});
  return Ok{};
}

// An order version recorded: books the sale in the ERP once, in the same
// transaction. Per receipt: a connector_outbound post_sale workflow (dedupe
// key "erp:<order id>"); per store batch: a place in its location's open
// batch document, booked when the batch closes (inventory/erp_documents.hpp).
// Either way erp_booked_order holds it once, so a sale is booked in one
// document whatever the posting mode was when a later version came.
Status Application::book_sale(store::Transaction& tx, const model::Order& order) {
  const auto& erp = settings_.erp;
  if (erp.connector.empty() || hub_ == nullptr) return Ok{};
  if (!posted_channel(erp, order.channel)) return Ok{};
  if (!listed(erp.post_statuses, model::to_string(order.status))) return Ok{};
  auto input = connector::post_sale_input(order);
  if (!input) return booking_impossible(*exceptions_, tx, erp.connector, "order", order.id, input.error().message);
  if (erp.per_store_batch) {
    auto joined = inventory::join_sale_batch(tx, *engine_, erp.batch, order, clock_.now());
    if (!joined) return std::move(joined).error();
    return Ok{};
  }
  auto claimed = inventory::claim_sale_booking(tx, order.id);
  if (!claimed) return std::move(claimed).error();
  if (!*claimed) return Ok{};
  auto started =
      hub_->request(tx, connector::OutboundRequest{erp.connector, connector::kPostSale, std::move(input).value(),
                                                   "order:" + order.id, "erp:" + order.id});
  if (!started) return std::move(started).error();
  return Ok{};
}

Status Application::start_core() {
  exceptions_ = std::make_unique<workflow::ExceptionQueue>(*store_, registry_, clock_);
  auto engine_settings = settings_.workflow;
  engine_settings.instance_id = process_id_;
  if (settings_.postgres) engine_settings.listen = settings_.postgres;
  engine_ = std::make_unique<workflow::Engine>(*store_, *exceptions_, registry_, clock_, engine_settings);
  inbox_ = std::make_unique<messaging::Inbox>(*store_, registry_);
  outbox_ = std::make_unique<messaging::Outbox>(*store_);
  idempotency_ = std::make_unique<messaging::IdempotencyKeys>(*store_, settings_.idempotency);
  crosswalk_ = std::make_unique<crosswalk::Crosswalk>(*store_, settings_.crosswalk, registry_);
  const std::string source = "/trueup/instances/" + settings_.instance_id;
  // Exceptions opened and closed are events too (trueup.exceptions.v1),
  // committed with the change itself.
  exceptions_->set_listener([this, source](store::Transaction& tx, const workflow::ExceptionChange& c) -> Status {
    const auto ctx = inventory::new_event_context(source);
    const auto opened_at = model::Timestamp::from_system(c.opened_at);
    model::EventRecord record;
    if (c.opened) {
      model::ExceptionOpened e;
      e.exception_id = c.id;
      e.kind = c.kind;
      e.severity = c.severity == "info"       ? model::ExceptionSeverity::info
                   : c.severity == "warning"  ? model::ExceptionSeverity::warning
                   : c.severity == "critical" ? model::ExceptionSeverity::critical
                                              : model::ExceptionSeverity::error;
      e.subject_type = c.refers_to.type;
      e.subject_id = c.refers_to.id;
      e.reason = c.reason;
      e.opened_at = opened_at;
      if (c.refers_to.type == "workflow") e.workflow_id = c.refers_to.id;
      record = model::exception_opened(e, ctx);
    } else {
      model::ExceptionResolved e;
      e.exception_id = c.id;
      e.kind = c.kind;
      e.resolution = c.resolution == "retry"    ? model::ExceptionResolution::retried
                     : c.resolution == "ignore" ? model::ExceptionResolution::ignored
                                                : model::ExceptionResolution::resolved;
      e.resolved_by = c.resolved_by;
      e.reason = c.reason;
      e.opened_at = opened_at;
      e.resolved_at = model::Timestamp::from_system(c.resolved_at.value_or(c.opened_at));
      record = model::exception_resolved(e, ctx);
    }
    auto appended = outbox_->append(tx, inventory::to_outbox(record));
    if (!appended) return std::move(appended).error();
    return Ok{};
  });
  if (auto st = start_connectors(source); !st) return st;
  // With an ERP, its ledger is authoritative for on-hand (see ledger.hpp).
  inventory::LedgerSettings ledger;
  if (const auto* erp = hub_->find(settings_.erp.connector)) ledger.authoritative_system = erp->crosswalk_system();
  // ERP booking: sales when their order is recorded, returns when their
  // movement is, batches and returns when their document closes.
  engine_->define(inventory::movement_workflow(
      *outbox_, source, ledger,
      [this](store::Transaction& tx, const model::InventoryMovement& m, std::string_view status) {
        return book_return(settings_.erp, *engine_, clock_, tx, m, status);
      }));
  engine_->define(inventory::order_workflow(
      [this](store::Transaction& tx, const model::Order& order) { return book_sale(tx, order); }));
  engine_->define(
      inventory::erp_document_workflow([this](store::Transaction& tx, const inventory::ClosedErpDocument& d) {
        return post_erp_document(settings_.erp, *hub_, *exceptions_, tx, d);
      }));

  auto producer = bus_->producer();
  if (!producer) return std::move(producer).error();
  relay_producer_ = std::move(producer).value();
  messaging::Leadership leadership;
  if (settings_.postgres) {
    // One relay publishes at a time across instances (per-key order); the
    // lock moves to another instance when its holder's connection drops.
    store::PgSingletonSettings lock;
    lock.postgres = *settings_.postgres;
    lock.name = "outbox-relay";
    lock.on_change = [this](bool held) {
      log::info(held ? "outbox relay leadership acquired" : "outbox relay leadership lost",
                {{"instance", process_id_}});
      if (held && relay_) relay_->notify();
    };
    auto singleton = store::start_pg_singleton(lock);
    if (!singleton) return std::move(singleton).error();
    relay_lock_ = std::move(singleton).value();
    leadership = [lock = relay_lock_.get()] { return lock->held(); };
  }
  auto relay_settings = settings_.relay;
  relay_settings.instance = process_id_;
  relay_ = std::make_unique<messaging::Relay>(*store_, *relay_producer_, registry_, relay_settings, leadership);
  relay_->start();
  if (auto st = engine_->run(); !st)
    log::warn("workflow wake-ups fall back to polling", {{"error", st.error().describe()}});
  if (auto st = start_availability(); !st) return st;
  hub_->start_polling([this](const std::string& id) -> std::function<bool()> {
    if (!settings_.postgres) return [] { return true; };  // SQLite: one instance
    // One poller per connector instance across processes; the lock moves
    // when its holder's connection drops.
    store::PgSingletonSettings lock;
    lock.postgres = *settings_.postgres;
    lock.name = "connector-poll:" + id;
    auto singleton = store::start_pg_singleton(lock);
    if (!singleton) {
      log::warn("connector polling off: no lock", {{"connector", id}, {"error", singleton.error().describe()}});
      return [] { return false; };
    }
    poll_locks_.push_back(std::move(singleton).value());
    return [lock = poll_locks_.back().get()] { return lock->held(); };
  });

  auth_ = std::make_unique<api::Authenticator>(settings_.api_keys, settings_.allow_anonymous);
  if (settings_.api_keys.empty() && !settings_.allow_anonymous)
    log::warn("no api.keys configured: every /v1 request will get 401");
  handler_pool_ = std::make_unique<api::HandlerPool>(settings_.api_workers, settings_.api_queue_capacity);
  system_api_ = std::make_unique<api::SystemApi>(api::SystemApi{
      *auth_, *handler_pool_, *store_, *inbox_, *outbox_, *idempotency_, *engine_, *exceptions_, *crosswalk_, source,
      settings_.max_batch,
      [this] {
        relay_->notify();
        engine_->wake();
      },
      registry_, settings_.commit_max_items, settings_.commit_in_flight, hub_.get(), settings_.webhook_base_url});
  api::add_system_api(router_, *system_api_);
  return Ok{};
}

bool Application::stop() {
  bool clean = true;
  if (server_) {
    clean = server_->drain(settings_.grace_period);
    server_.reset();
  }
  // In-flight API work finishes before the engine and relay stop.
  if (handler_pool_) handler_pool_->stop();
  if (availability_) availability_->stop();
  if (availability_lock_) availability_lock_->stop();
  if (hub_) hub_->stop();
  for (auto& lock : poll_locks_) lock->stop();
  poll_locks_.clear();
  if (outbound_) outbound_->stop();
  if (engine_) engine_->stop();
  if (relay_) relay_->stop();
  if (relay_lock_) relay_lock_->stop();
  {
    std::lock_guard lock(health_mutex_);
    stopping_ = true;
  }
  health_cv_.notify_all();
  if (health_thread_.joinable()) health_thread_.join();
  if (bus_) {
    bus_->stop();
    bus_.reset();
  }
  if (store_) {
    deregister_instance();
    store_->stop();
    store_.reset();
  }
  return clean;
}

void Application::announce() {
  model::InstanceStarted started{settings_.instance_id, std::string(version()), std::string(store_->engine()),
                                 std::string(bus_->engine()), server_->port()};
  auto record =
      model::instance_started(started, inventory::new_event_context("/trueup/instances/" + settings_.instance_id));
  bus::Message m;
  m.topic = record.topic;
  m.key = record.key;
  m.value = std::move(record.value);
  for (auto& [name, value] : record.headers) m.headers.push_back({name, value});
  // The relay's producer: one Kafka client per process is enough.
  auto delivered = relay_producer_->produce_sync(std::move(m), settings_.health_timeout * 5);
  if (!delivered) log::error("cannot announce this instance on the bus", {{"error", delivered.error().describe()}});
}

Status Application::register_instance() {
  const std::string now = format_utc(std::chrono::system_clock::now(), 3);
  return store_->transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec(
        "INSERT INTO trueup_instance (id, version, started_at, last_seen_at) VALUES ($1, $2, $3, $3) "
        "ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
        {process_id_, std::string(version()), now});
    if (!r) return std::move(r).error();
    return Ok{};
  });
}

void Application::heartbeat() {
  const std::string now = format_utc(std::chrono::system_clock::now(), 3);
  auto st = store_->transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec("UPDATE trueup_instance SET last_seen_at = $2 WHERE id = $1", {process_id_, now});
    if (!r) return std::move(r).error();
    return Ok{};
  });
  if (!st) log::warn("instance heartbeat failed", {{"error", st.error().describe()}});
}

void Application::deregister_instance() {
  auto st = store_->transact([&](store::Transaction& tx) -> Status {
    auto r = tx.exec("DELETE FROM trueup_instance WHERE id = $1", {process_id_});
    if (!r) return std::move(r).error();
    return Ok{};
  });
  if (!st) log::warn("instance deregistration failed", {{"error", st.error().describe()}});
}

void Application::check_dependencies() {
  auto record = [](DependencyState& state, const Status& st) {
    {
      std::lock_guard lock(state.mutex);
      state.error = st ? "" : st.error().describe();
    }
    state.up.store(st.ok());
    state.checked_at_ms.store(now_ms());
  };
  record(store_state_, store_->ping());
  if (store_state_.up.load()) {
    heartbeat();
    // Expired Idempotency-Keys go about once a minute.
    if (idempotency_ && ++housekeeping_ticks_ * settings_.health_interval.count() >= 60000) {
      housekeeping_ticks_ = 0;
      if (auto purged = idempotency_->purge_expired(); !purged)
        log::warn("idempotency key purge failed", {{"error", purged.error().describe()}});
    }
  }
  record(bus_state_, bus_->ping(settings_.health_timeout));
  registry_
      .gauge("trueup_dependency_up", "Whether a dependency answered its last check (1) or not (0).",
             {{"dependency", "store"}})
      .set(store_state_.up.load() ? 1 : 0);
  registry_
      .gauge("trueup_dependency_up", "Whether a dependency answered its last check (1) or not (0).",
             {{"dependency", "bus"}})
      .set(bus_state_.up.load() ? 1 : 0);
}

void Application::health_loop() {
  std::unique_lock lock(health_mutex_);
  while (!stopping_) {
    // A timer, not synchronisation: the checks run every interval until stop.
    health_cv_.wait_for(lock, settings_.health_interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    check_dependencies();
    lock.lock();
  }
}

http::Response Application::readiness() {
  // A check older than three intervals is not trusted: the checker is stuck.
  const long long stale_after = 3 * settings_.health_interval.count() + settings_.health_timeout.count();
  nlohmann::ordered_json checks;
  std::string down;
  auto describe = [&](const char* name, DependencyState& state, std::string_view engine) {
    const bool fresh = now_ms() - state.checked_at_ms.load() <= stale_after;
    const bool up = state.up.load() && fresh;
    nlohmann::ordered_json c;
    c["status"] = up ? "up" : "down";
    c["engine"] = engine;
    if (!up) {
      std::lock_guard lock(state.mutex);
      c["error"] = fresh ? state.error : "no check finished recently";
      down += (down.empty() ? "" : ", ") + std::string(name) + " (" + c["error"].get<std::string>() + ")";
    }
    checks[name] = c;
  };
  describe("store", store_state_, store_ ? store_->engine() : "none");
  describe("bus", bus_state_, bus_ ? bus_->engine() : "none");
  if (down.empty()) {
    nlohmann::ordered_json body;
    body["status"] = "ready";
    body["checks"] = checks;
    return http::Response::json(200, body.dump());
  }
  return http::problem(503, "/problems/not-ready", "Service Unavailable", "not ready: " + down + " unreachable",
                       {{"checks", checks.dump()}});
}

void Application::add_routes() {
  router_.add_sync("GET", "/healthz",
                   [](const http::Request&) { return http::Response::json(200, R"({"status":"alive"})"); });
  router_.add_sync("GET", "/readyz", [this](const http::Request&) { return readiness(); });
  router_.add_sync("GET", "/metrics", [this](const http::Request&) {
    return http::Response::text(200, registry_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace trueup::app
