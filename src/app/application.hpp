#pragma once
// The composition root: starts the daemon's services in dependency order
// (store, migrations, bus, topics, health checks, HTTP server) and stops them
// in reverse. Work is done by the modules; this file only connects them.

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "daemon_config.hpp"
#include "trueup/api/handler_pool.hpp"
#include "trueup/api/system_api.hpp"
#include "trueup/bus/bus.hpp"
#include "trueup/connector/hub.hpp"
#include "trueup/crosswalk/crosswalk.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/http/router.hpp"
#include "trueup/http/server.hpp"
#include "trueup/messaging/idempotency.hpp"
#include "trueup/messaging/inbox.hpp"
#include "trueup/messaging/outbox.hpp"
#include "trueup/messaging/relay.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/store/pg_singleton.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/clock.hpp"
#include "trueup/workflow/engine.hpp"
#include "trueup/workflow/exceptions.hpp"

namespace trueup::app {

class AvailabilityService;

// Opens the configured store engine (no migrations).
Result<std::unique_ptr<store::Store>> open_store(const DaemonSettings& settings);

class Application {
 public:
  explicit Application(DaemonSettings settings);
  ~Application();

  // Starts everything; on error, what was started is stopped again.
  Status start();
  // Drains HTTP within the grace period, then stops the rest. Returns true
  // when every connection finished within the grace period.
  bool stop();

  std::uint16_t port() const { return server_ ? server_->port() : 0; }
  metrics::Registry& registry() { return registry_; }
  // "GET /healthz", ... every route served (after start()).
  std::vector<std::string> routes() const { return router_.describe(); }

 private:
  struct DependencyState {
    std::atomic<bool> up{false};
    std::atomic<long long> checked_at_ms{0};
    std::mutex mutex;
    std::string error;
  };

  void add_routes();
  void health_loop();
  void check_dependencies();
  http::Response readiness();
  void announce();
  Status start_core();
  Status book_sale(store::Transaction& tx, const model::Order& order);
  Status start_availability();
  Status start_connectors(const std::string& source);
  Status register_instance();
  void add_store_metrics();  // trueup_store_* gauges, read from the store at each scrape
  void heartbeat();
  void deregister_instance();

  DaemonSettings settings_;
  std::string process_id_;  // this process in trueup_instance: instance id, pid, random suffix
  metrics::Registry registry_;
  http::Router router_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<bus::Bus> bus_;
  std::unique_ptr<http::Server> server_;

  // The durable core, in dependency order (destroyed in reverse).
  workflow::SystemClock clock_;
  std::unique_ptr<bus::Producer> relay_producer_;
  std::unique_ptr<workflow::ExceptionQueue> exceptions_;
  std::unique_ptr<workflow::Engine> engine_;
  std::unique_ptr<messaging::Inbox> inbox_;
  std::unique_ptr<messaging::Outbox> outbox_;
  std::unique_ptr<messaging::IdempotencyKeys> idempotency_;
  std::unique_ptr<crosswalk::Crosswalk> crosswalk_;
  std::unique_ptr<http::OutboundClient> outbound_;
  connector::BudgetRegistry budgets_;
  std::unique_ptr<connector::Hub> hub_;
  std::vector<std::unique_ptr<store::PgSingleton>> poll_locks_;
  std::unique_ptr<store::PgSingleton> relay_lock_;
  std::unique_ptr<store::PgSingleton> availability_lock_;
  std::unique_ptr<AvailabilityService> availability_;
  std::unique_ptr<messaging::Relay> relay_;
  std::unique_ptr<api::Authenticator> auth_;
  std::unique_ptr<api::HandlerPool> handler_pool_;
  std::unique_ptr<api::SystemApi> system_api_;
  int housekeeping_ticks_ = 0;

  DependencyState store_state_;
  DependencyState bus_state_;
  std::thread health_thread_;
  std::mutex health_mutex_;
  std::condition_variable health_cv_;
  bool stopping_ = false;
};

}  // namespace trueup::app
