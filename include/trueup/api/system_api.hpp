#pragma once
// The system API (/v1): intake of canonical movements and orders, the
// workflow and exception admin operations, the crosswalk, and the OpenAPI
// document. Handlers authenticate on the I/O thread (cheap) and do their store
// work on the HandlerPool, answering through the router's callback.
//
// Intake (POST /v1/inventory/movements, POST /v1/orders): a transaction
// records each item in the inbox (dedupe on its id), starts its workflow,
// appends its "accepted" event to the outbox, and stores the Idempotency-Key
// response; only after that commit does the client get 202. Requests that
// arrive together share one transaction (group commit, src/api/group_commit.hpp).

#include <functional>
#include <string>

#include "trueup/api/auth.hpp"
#include "trueup/api/handler_pool.hpp"
#include "trueup/http/router.hpp"

namespace trueup::store {
class Store;
}
namespace trueup::messaging {
class Inbox;
class Outbox;
class IdempotencyKeys;
}  // namespace trueup::messaging
namespace trueup::workflow {
class Engine;
class ExceptionQueue;
}  // namespace trueup::workflow
namespace trueup::crosswalk {
class Crosswalk;
}
namespace trueup::metrics {
class Registry;
}
namespace trueup::connector {
class Hub;
}
namespace trueup::connector {
class Hub;
}

namespace trueup::api {

struct SystemApi {
  const Authenticator& auth;
  HandlerPool& pool;
  store::Store& store;
  messaging::Inbox& inbox;
  messaging::Outbox& outbox;
  messaging::IdempotencyKeys& idempotency;
  workflow::Engine& engine;
  workflow::ExceptionQueue& exceptions;
  crosswalk::Crosswalk& crosswalk;
  std::string event_source;            // ce_source of intake events
  std::size_t max_batch = 1000;        // items per intake request
  std::function<void()> after_commit;  // wakes the relay and the engine
  metrics::Registry& registry;
  std::size_t commit_max_items = 2000;   // intake items per group-commit transaction
  std::size_t commit_max_in_flight = 2;  // group-commit transactions at once
  connector::Hub* connectors = nullptr;  // webhook ingress (/v1/webhooks/{id}); none when null
  std::string webhook_base_url;          // public base URL webhooks are sent to (some systems sign it)
};

// Registers every /v1 route. `api` must outlive the router's use.
void add_system_api(http::Router& router, const SystemApi& api);

// docs/openapi.yaml as JSON text (embedded at build time).
const std::string& openapi_json();

}  // namespace trueup::api
