#include "trueup/api/system_api.hpp"

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "group_commit.hpp"
#include "trueup/connector/hub.hpp"
#include "trueup/core/digest.hpp"
#include "trueup/crosswalk/crosswalk.hpp"
#include "trueup/http/query.hpp"
#include "trueup/inventory/ledger.hpp"
#include "trueup/log/log.hpp"
#include "trueup/messaging/idempotency.hpp"
#include "trueup/messaging/inbox.hpp"
#include "trueup/messaging/outbox.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/events.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/store/store.hpp"
#include "trueup/workflow/engine.hpp"
#include "trueup/workflow/exceptions.hpp"

namespace trueup::api {
namespace {

using http::Request;
using http::Response;
using nlohmann::json;

// Expected failures as problem+json; the status says whether to retry.
Response error_response(const Error& e) {
  switch (e.code) {
    case Errc::invalid_argument:
      return http::problem(400, "/problems/invalid-request", "Bad Request", e.message);
    case Errc::not_found:
      return http::problem(404, "/problems/not-found", "Not Found", e.message);
    case Errc::conflict:
    case Errc::already_exists:
      return http::problem(409, "/problems/conflict", "Conflict", e.message);
    case Errc::unsupported:
      return http::problem(501, "/problems/not-implemented", "Not Implemented", e.message);
    case Errc::unauthenticated:
      return http::problem(401, "/problems/unauthenticated", "Unauthorized", e.message);
    case Errc::unavailable:
    case Errc::timeout:
    case Errc::overloaded: {
      // Nothing was accepted: the sender retries. The cause (which may name
      // internal hosts) goes to the log, not to the caller.
      log::warn("request not accepted: a dependency is unavailable", {{"error", e.describe()}});
      auto r =
          http::problem(503, "/problems/unavailable", "Service Unavailable",
                        std::string("not accepted, retry later: ") +
                            (e.code == Errc::overloaded ? "the store's queue is full" : "the store is unavailable"));
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    default:
      return http::problem(500, "/problems/internal", "Internal Server Error", e.describe());
  }
}

using ApiFunction = std::function<Response(const Request&, const Principal&)>;
using Reply = std::function<void(Response)>;
// Answers through `reply`, now or later (from any thread), exactly once.
using AsyncApiFunction = std::function<void(const Request&, const Principal&, Reply)>;

// Authenticates on the I/O thread, then runs `fn` on the handler pool.
http::Handler guarded_async(const SystemApi& api, Scope scope, AsyncApiFunction fn) {
  return [&api, scope, fn = std::move(fn)](Request& request, http::Respond respond) {
    auto who = api.auth.authenticate(request, scope);
    if (auto* refusal = std::get_if<Response>(&who)) {
      respond(std::move(*refusal));
      return;
    }
    // The request is copied: the job may outlive the connection.
    auto job = [req = request, principal = std::get<Principal>(who), fn, respond]() mutable {
      try {
        fn(req, principal, [respond](Response r) { respond(std::move(r)); });
      } catch (const std::exception& e) {
        log::error("api handler failed", {{"request_id", req.request_id}, {"error", e.what()}});
        respond(http::problem(500, "/problems/internal", "Internal Server Error", "the request failed unexpectedly"));
      }
    };
    if (!api.pool.submit(std::move(job))) {
      auto r = http::problem(503, "/problems/overloaded", "Service Unavailable",
                             "too many requests are waiting; retry later (raise api.queue_capacity or api.workers)");
      r.headers.emplace_back("Retry-After", "1");
      respond(std::move(r));
    }
  };
}

http::Handler guarded(const SystemApi& api, Scope scope, ApiFunction fn) {
  return guarded_async(
      api, scope, [fn = std::move(fn)](const Request& r, const Principal& p, const Reply& reply) { reply(fn(r, p)); });
}

Result<json> parse_json_body(const Request& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return make_error(Errc::invalid_argument, "the body is not valid JSON");
  return j;
}

std::optional<std::map<std::string, std::string>> query_of(const Request& r) { return http::parse_query(r.query); }

Response bad_query() {
  return http::problem(400, "/problems/invalid-request", "Bad Request", "the query string has a malformed %-escape");
}

std::string param(const Request& r, const char* name) {
  auto decoded = http::percent_decode(r.params.at(name));
  return decoded.value_or(r.params.at(name));
}

Result<std::size_t> limit_of(const std::map<std::string, std::string>& q) {
  auto it = q.find("limit");
  if (it == q.end()) return std::size_t{100};
  try {
    std::size_t used = 0;
    long v = std::stol(it->second, &used);
    if (used == it->second.size() && v >= 1 && v <= 1000) return static_cast<std::size_t>(v);
  } catch (const std::exception&) {
  }
  return make_error(Errc::invalid_argument, "limit must be a whole number from 1 to 1000");
}

std::optional<std::string> get(const std::map<std::string, std::string>& q, const char* name) {
  auto it = q.find(name);
  if (it == q.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

model::EventContext event_context(const SystemApi& api, const Request& r) {
  const auto* tp = r.header("traceparent");
  return inventory::new_event_context(api.event_source, tp != nullptr ? *tp : std::string());
}

// What the intake of one entity kind needs to know.
template <class T>
struct IntakeKind {
  const char* inbox_source;  // "api.movements"
  const char* workflow_type;
  std::function<std::string(const T&)> id;
  std::function<std::string(const T&)> correlation;
  std::function<model::EventRecord(const T&, const model::EventContext&)> accepted_event;
};

// Called by a request's processing exactly once: the response, and Ok or the
// failure (a failure releases the Idempotency-Key so a retry is processed anew).
using Finish = std::function<void(Response, Status)>;

// The Idempotency-Key dance around `process` (IETF draft
// "The Idempotency-Key HTTP Header Field"): a replay returns the first
// response; 409 while the first is in flight; 422 for the key with another body.
void with_idempotency(const SystemApi& api, const Request& r, const Principal& who, Reply reply,
                      const std::function<void(const messaging::IdempotencyClaim*, Finish)>& process) {
  const std::string* key = r.header("idempotency-key");
  if (key == nullptr) {
    process(nullptr, [reply](Response response, const Status&) { reply(std::move(response)); });
    return;
  }
  if (key->empty() || key->size() > 255)
    return reply(
        http::problem(400, "/problems/invalid-request", "Bad Request", "Idempotency-Key must be 1 to 255 characters"));
  const std::string scope = who.name + " " + r.method + " " + r.path;
  auto begun = api.idempotency.begin(*key, scope, messaging::request_fingerprint(r.method, r.path, r.body));
  if (!begun) return reply(error_response(begun.error()));
  if (std::holds_alternative<messaging::idempotency::InFlight>(*begun)) {
    auto p = http::problem(409, "/problems/idempotency-key-in-flight", "Conflict",
                           "a request with this Idempotency-Key is still being processed; retry later");
    p.headers.emplace_back("Retry-After", "1");
    return reply(std::move(p));
  }
  if (std::holds_alternative<messaging::idempotency::Mismatch>(*begun)) {
    return reply(http::problem(422, "/problems/idempotency-key-reused", "Unprocessable Content",
                               "this Idempotency-Key was used with another request body; use a new key"));
  }
  if (const auto* done = std::get_if<messaging::idempotency::Completed>(&*begun)) {
    Response replay;
    replay.status = done->response.status;
    replay.body = done->response.body;
    for (const auto& [k, v] : done->response.headers) {
      if (k == "Content-Type")
        replay.content_type = v;
      else
        replay.headers.emplace_back(k, v);
    }
    replay.headers.emplace_back("Idempotent-Replayed", "true");
    return reply(std::move(replay));
  }
  const auto claim = std::get<messaging::idempotency::New>(*begun).claim;
  process(&claim, [&api, claim, reply, request_id = r.request_id](Response response, const Status& failed) {
    if (failed) return reply(std::move(response));
    // Releasing the key is a blocking store call, and this may run on a store
    // thread: release on the handler pool, then answer.
    auto answer = std::make_shared<Response>(std::move(response));
    const bool queued = api.pool.submit([&api, claim, reply, request_id, answer] {
      if (auto st = api.idempotency.abandon(claim); !st)
        log::warn("idempotency key not released", {{"request_id", request_id}, {"error", st.error().describe()}});
      reply(std::move(*answer));
    });
    if (!queued) {
      log::warn("idempotency key left claimed until its lock times out (handler queue full)",
                {{"request_id", request_id}});
      reply(std::move(*answer));
    }
  });
}

template <class T>
void intake(const SystemApi& api, detail::GroupCommitter& committer, const IntakeKind<T>& kind, const Request& r,
            const Principal& who, Reply reply) {
  // The key is checked before the body, so a reused key with another body
  // is 422 whatever that body holds; a body that fails validation releases
  // the key again.
  with_idempotency(api, r, who, std::move(reply), [&](const messaging::IdempotencyClaim* claim, Finish finish) {
    auto body = parse_json_body(r);
    if (!body) return finish(error_response(body.error()), body.error());
    auto items = model::batch_from_json<T>(*body, api.max_batch);
    if (!items)
      return finish(http::problem(400, "/problems/invalid-body", "Bad Request", items.error().message), items.error());
    if (items->empty())
      return finish(http::problem(400, "/problems/invalid-body", "Bad Request", "the batch is empty"),
                    make_error(Errc::invalid_argument, "empty batch"));
    detail::Job job;
    job.items.reserve(items->size());
    for (const auto& item : *items) {
      const std::string id = kind.id(item);
      std::string document = model::to_json(item).dump();
      job.items.push_back(detail::IntakeItem{
          messaging::InboxMessage{kind.inbox_source, id, "application/json", document, {}},
          workflow::StartRequest{kind.workflow_type, kind.correlation(item), std::move(document), id},
          inventory::to_outbox(kind.accepted_event(item, event_context(api, r)))});
    }
    std::optional<messaging::IdempotencyClaim> held;
    if (claim != nullptr) held = *claim;
    job.finish = [&api, held](store::Transaction& tx,
                              const std::vector<detail::ItemOutcome>& outcomes) -> Result<std::string> {
      json result_items = json::array();
      std::size_t accepted = 0;
      for (const auto& o : outcomes) {
        accepted += o.inserted ? 1 : 0;
        result_items.push_back(
            {{"id", o.id}, {"status", o.inserted ? "accepted" : "duplicate"}, {"workflow_id", o.workflow_id}});
      }
      std::string text =
          json{{"accepted", accepted}, {"duplicates", outcomes.size() - accepted}, {"items", result_items}}.dump();
      if (held) {
        messaging::StoredResponse stored{202, {{"Content-Type", "application/json"}}, text};
        if (auto c = api.idempotency.complete(tx, *held, stored); !c) return std::move(c).error();
      }
      return text;
    };
    job.done = [finish](Result<std::string> text) {
      if (text)
        finish(Response::json(202, std::move(*text)), Ok{});
      else
        finish(error_response(text.error()), text.error());
    };
    committer.submit(std::move(job));
  });
}

// A webhook delivery: the connector checks its signature on the raw body and
// cuts it into messages; they are recorded (inbox + inbound workflow, group
// commit) before the sender gets 200. A duplicate delivery gets 200 as well.
void webhook(const SystemApi& api, detail::GroupCommitter& committer, const Request& r, Reply reply) {
  const std::string id = param(r, "connector");
  connector::Connector* c = api.connectors != nullptr ? api.connectors->find(id) : nullptr;
  if (c == nullptr)
    return reply(http::problem(404, "/problems/not-found", "Not Found", "no connector " + id + " is configured"));
  const std::string* host = r.header("host");
  connector::WebhookRequest delivery{r.body, connector::header_lookup(r.headers),
                                     api.webhook_base_url.empty()
                                         ? "http://" + (host != nullptr ? *host : std::string("localhost")) + r.target
                                         : api.webhook_base_url + r.target};
  connector::ConnectorMetrics* metrics = api.connectors->metrics(id);
  auto outcome = c->receive_webhook(delivery);
  if (!outcome) {
    if (metrics != nullptr && outcome.error().code == Errc::unauthenticated)
      metrics->record_webhook(connector::WebhookOutcome::rejected);
    log::warn("webhook refused", {{"connector", id}, {"request_id", r.request_id}, {"error", outcome.error().message}});
    return reply(error_response(outcome.error()));
  }
  if (outcome->messages.empty() && outcome->reply_body)
    return reply(Response::text(200, std::move(*outcome->reply_body), outcome->reply_content_type));
  if (outcome->messages.empty()) return reply(Response::json(200, R"({"received":0,"duplicates":0})"));
  detail::Job job;
  for (const auto& m : outcome->messages) {
    auto in = connector::Hub::intake(*c, m);
    job.items.push_back(detail::IntakeItem{std::move(in.message), std::move(in.start), std::nullopt});
  }
  // New and duplicate messages, counted once the delivery is committed.
  auto counts = std::make_shared<std::pair<std::size_t, std::size_t>>();
  job.finish = [counts](store::Transaction&, const std::vector<detail::ItemOutcome>& outcomes) -> Result<std::string> {
    std::size_t fresh = 0;
    for (const auto& o : outcomes) fresh += o.inserted ? 1 : 0;
    *counts = {fresh, outcomes.size() - fresh};
    return json{{"received", fresh}, {"duplicates", outcomes.size() - fresh}}.dump();
  };
  job.done = [reply, metrics, counts](Result<std::string> text) {
    if (text && metrics != nullptr) {
      for (std::size_t i = 0; i < counts->first; ++i) metrics->record_webhook(connector::WebhookOutcome::accepted);
      for (std::size_t i = 0; i < counts->second; ++i) metrics->record_webhook(connector::WebhookOutcome::duplicate);
    }
    reply(text ? Response::json(200, std::move(*text)) : error_response(text.error()));
  };
  committer.submit(std::move(job));
}

Response workflow_action(const SystemApi& api, const Request& r, const std::string& action) {
  const std::string id = param(r, "id");
  Result<workflow::WorkflowSummary> out = action == "retry"    ? api.engine.retry(id)
                                          : action == "pause"  ? api.engine.pause(id)
                                          : action == "resume" ? api.engine.resume(id)
                                                               : api.engine.cancel(id);
  if (!out) return error_response(out.error());
  if (api.after_commit) api.after_commit();
  return Response::json(200, out->to_json().dump());
}

Response exception_action(const SystemApi& api, const Request& r, const Principal& who, const std::string& action) {
  auto body = parse_json_body(r);
  if (!body) return error_response(body.error());
  if (!body->is_object() || !body->contains("reason") || !(*body)["reason"].is_string() ||
      (*body)["reason"].get<std::string>().empty()) {
    return http::problem(400, "/problems/invalid-body", "Bad Request", "/reason: a non-empty string is required");
  }
  const std::string reason = (*body)["reason"];
  const std::string id = param(r, "id");
  auto out = action == "retry"     ? api.exceptions.retry(id, who.name, reason)
             : action == "resolve" ? api.exceptions.resolve(id, who.name, reason)
                                   : api.exceptions.ignore(id, who.name, reason);
  if (!out) return error_response(out.error());
  if (api.after_commit) api.after_commit();
  return Response::json(200, out->to_json().dump());
}

json connector_json(const connector::Connector& c) {
  json ops = json::array();
  for (const auto& op : c.operations())
    ops.push_back({{"name", op.name},
                   {"description", op.description},
                   {"idempotency", std::string(connector::to_string(op.idempotency))},
                   {"idempotency_detail", op.idempotency_detail}});
  return {{"id", c.id()},
          {"type", c.type()},
          {"webhook_path", "/v1/webhooks/" + c.id()},
          {"poll_interval_ms", c.poll_interval().count()},
          {"operations", ops}};
}

// Starts an outbound operation: one "connector_outbound" workflow per
// Idempotency-Key (or, without one, per request body), committed together
// with the key's stored response.
void outbound_operation(const SystemApi& api, const Request& r, const Principal& who, Reply reply) {
  if (api.connectors == nullptr)
    return reply(http::problem(404, "/problems/not-found", "Not Found", "no connectors are configured"));
  with_idempotency(api, r, who, std::move(reply), [&](const messaging::IdempotencyClaim* claim, Finish finish) {
    auto body = parse_json_body(r);
    if (!body) return finish(error_response(body.error()), body.error());
    if (!body->is_object()) {
      auto e = make_error(Errc::invalid_argument, "the body must be a JSON object: the operation's input");
      return finish(http::problem(400, "/problems/invalid-body", "Bad Request", e.message), e);
    }
    connector::OutboundRequest request;
    request.connector = param(r, "connector");
    request.operation = param(r, "operation");
    request.input = std::move(*body);
    const std::string* key = r.header("idempotency-key");
    request.dedupe_key = key != nullptr ? "key:" + *key : "sha256:" + sha256_hex(request.input.dump());
    std::string text;
    auto st = api.store.transact([&](store::Transaction& tx) -> Status {
      auto started = api.connectors->request(tx, request);
      if (!started) return std::move(started).error();
      text = json{{"workflow_id", started->id},
                  {"created", started->created},
                  {"connector", request.connector},
                  {"operation", request.operation}}
                 .dump();
      if (claim != nullptr) {
        messaging::StoredResponse stored{202, {{"Content-Type", "application/json"}}, text};
        if (auto c = api.idempotency.complete(tx, *claim, stored); !c) return std::move(c).error();
      }
      return Ok{};
    });
    if (!st) return finish(error_response(st.error()), st.error());
    if (api.after_commit) api.after_commit();
    finish(Response::json(202, std::move(text)), Ok{});
  });
}

json mapping_json(const crosswalk::Mapping& m) {
  return {{"system", m.key.system},         {"entity", m.key.entity},     {"external_id", m.key.external_id},
          {"canonical_id", m.canonical_id}, {"updated_at", m.updated_at}, {"updated_by", m.updated_by}};
}

}  // namespace

void add_system_api(http::Router& router, const SystemApi& api) {
  router.add_sync("GET", "/v1/openapi.json", [](const Request&) { return Response::json(200, openapi_json()); });

  static const IntakeKind<model::InventoryMovement> movements{
      "api.movements", inventory::kMovementWorkflow, [](const auto& m) { return m.movement_id; },
      [](const auto& m) { return m.sku; }, &model::inventory_movement_accepted};
  // An order's versions are told apart by updated_at: a new version is
  // applied (it replaces the recorded one), a repeat of one is a duplicate.
  static const IntakeKind<model::Order> orders{
      "api.orders", inventory::kOrderWorkflow,
      [](const auto& o) { return o.updated_at ? o.id + "@" + o.updated_at->to_utc_string() : o.id; },
      [](const auto& o) { return o.id; }, &model::order_accepted};
  // Shared by the routes (so it lives as long as the router).
  auto committer = std::make_shared<detail::GroupCommitter>(
      api.store, api.inbox, api.engine, api.outbox, api.registry, api.after_commit,
      detail::GroupCommitSettings{api.commit_max_items, api.commit_max_in_flight});
  router.add("POST", "/v1/inventory/movements",
             guarded_async(api, Scope::operate, [&api, committer](const Request& r, const Principal& p, Reply reply) {
               intake(api, *committer, movements, r, p, std::move(reply));
             }));
  router.add("POST", "/v1/orders",
             guarded_async(api, Scope::operate, [&api, committer](const Request& r, const Principal& p, Reply reply) {
               intake(api, *committer, orders, r, p, std::move(reply));
             }));

  // Webhooks authenticate by their signature, not by API key.
  router.add("POST", "/v1/webhooks/{connector}", [&api, committer](Request& request, http::Respond respond) {
    auto job = [&api, committer, req = request, respond]() {
      webhook(api, *committer, req, [respond](Response r) { respond(std::move(r)); });
    };
    if (!api.pool.submit(std::move(job))) {
      auto r = http::problem(503, "/problems/overloaded", "Service Unavailable",
                             "too many requests are waiting; retry later");
      r.headers.emplace_back("Retry-After", "1");
      respond(std::move(r));
    }
  });

  router.add("GET", "/v1/connectors", guarded(api, Scope::read, [&api](const Request&, const Principal&) {
               json items = json::array();
               if (api.connectors != nullptr)
                 for (const auto& id : api.connectors->ids())
                   items.push_back(connector_json(*api.connectors->find(id)));
               return Response::json(200, json{{"items", items}}.dump());
             }));
  router.add("POST", "/v1/connectors/{connector}/operations/{operation}",
             guarded_async(api, Scope::operate, [&api](const Request& r, const Principal& p, Reply reply) {
               outbound_operation(api, r, p, std::move(reply));
             }));

  router.add("GET", "/v1/workflows", guarded(api, Scope::read, [&api](const Request& r, const Principal&) {
               auto q = query_of(r);
               if (!q) return bad_query();
               workflow::WorkflowFilter f;
               if (auto s = get(*q, "state")) {
                 f.state = workflow::parse_state(*s);
                 if (!f.state)
                   return http::problem(400, "/problems/invalid-request", "Bad Request",
                                        "state must be one of pending, running, waiting, retrying, paused, failed, "
                                        "compensated, completed, cancelled");
               }
               f.type = get(*q, "type");
               f.correlation_key = get(*q, "correlation");
               f.cursor = get(*q, "cursor");
               auto limit = limit_of(*q);
               if (!limit) return error_response(limit.error());
               f.limit = *limit;
               auto page = api.engine.list(f);
               if (!page) return error_response(page.error());
               return Response::json(200, page->to_json().dump());
             }));
  router.add("GET", "/v1/workflows/{id}", guarded(api, Scope::read, [&api](const Request& r, const Principal&) {
               auto w = api.engine.get(param(r, "id"));
               if (!w) return error_response(w.error());
               return Response::json(200, w->to_json().dump());
             }));
  for (const char* action : {"retry", "pause", "resume", "cancel"}) {
    const Scope scope = std::string(action) == "cancel" ? Scope::admin : Scope::operate;
    router.add("POST", std::string("/v1/workflows/{id}/") + action,
               guarded(api, scope, [&api, a = std::string(action)](const Request& r, const Principal&) {
                 return workflow_action(api, r, a);
               }));
  }

  router.add("GET", "/v1/exceptions", guarded(api, Scope::read, [&api](const Request& r, const Principal&) {
               auto q = query_of(r);
               if (!q) return bad_query();
               workflow::ExceptionFilter f;
               f.kind = get(*q, "kind");
               f.state = get(*q, "state");
               f.cursor = get(*q, "cursor");
               auto limit = limit_of(*q);
               if (!limit) return error_response(limit.error());
               f.limit = *limit;
               auto page = api.exceptions.list(f);
               if (!page) return error_response(page.error());
               return Response::json(200, page->to_json().dump());
             }));
  router.add("GET", "/v1/exceptions/{id}", guarded(api, Scope::read, [&api](const Request& r, const Principal&) {
               auto e = api.exceptions.get(param(r, "id"));
               if (!e) return error_response(e.error());
               return Response::json(200, e->to_json().dump());
             }));
  for (const char* action : {"retry", "resolve", "ignore"}) {
    router.add("POST", std::string("/v1/exceptions/{id}/") + action,
               guarded(api, Scope::operate, [&api, a = std::string(action)](const Request& r, const Principal& p) {
                 return exception_action(api, r, p, a);
               }));
  }

  router.add("GET", "/v1/crosswalk", guarded(api, Scope::read, [&api](const Request& r, const Principal&) {
               auto q = query_of(r);
               if (!q) return bad_query();
               auto limit = limit_of(*q);
               if (!limit) return error_response(limit.error());
               auto list = api.crosswalk.list(get(*q, "system").value_or(""), get(*q, "entity").value_or(""),
                                              get(*q, "canonical_id").value_or(""), *limit);
               if (!list) return error_response(list.error());
               json items = json::array();
               for (const auto& m : *list) items.push_back(mapping_json(m));
               return Response::json(200, json{{"items", items}}.dump());
             }));
  router.add("GET", "/v1/crosswalk/{system}/{entity}/{external_id}",
             guarded(api, Scope::read, [&api](const Request& r, const Principal&) {
               crosswalk::Key key{param(r, "system"), param(r, "entity"), param(r, "external_id")};
               auto m = api.crosswalk.get(key);
               if (!m) return error_response(m.error());
               if (!*m)
                 return http::problem(404, "/problems/not-found", "Not Found",
                                      "no mapping for " + key.system + "/" + key.entity + "/" + key.external_id);
               return Response::json(200, mapping_json(**m).dump());
             }));
  router.add("PUT", "/v1/crosswalk/{system}/{entity}/{external_id}",
             guarded(api, Scope::operate, [&api](const Request& r, const Principal& p) {
               auto body = parse_json_body(r);
               if (!body) return error_response(body.error());
               if (!body->is_object() || body->size() != 1 || !body->contains("canonical_id") ||
                   !(*body)["canonical_id"].is_string())
                 return http::problem(400, "/problems/invalid-body", "Bad Request",
                                      "expected {\"canonical_id\": \"...\"} and nothing else");
               crosswalk::Key key{param(r, "system"), param(r, "entity"), param(r, "external_id")};
               auto changed = api.crosswalk.put(key, (*body)["canonical_id"], p.name);
               if (!changed) return error_response(changed.error());
               auto m = api.crosswalk.get(key);
               if (!m || !*m) return error_response(m ? make_error(Errc::internal, "mapping vanished") : m.error());
               auto out = mapping_json(**m);
               out["changed"] = *changed;
               return Response::json(200, out.dump());
             }));
  router.add(
      "POST", "/v1/crosswalk/import", guarded(api, Scope::operate, [&api](const Request& r, const Principal& p) {
        auto report = api.crosswalk.import_csv(r.body, p.name);
        if (!report) return error_response(report.error());
        return Response::json(
            200, json{{"rows", report->rows}, {"unchanged", report->unchanged}, {"replayed", report->replayed}}.dump());
      }));
}

}  // namespace trueup::api
