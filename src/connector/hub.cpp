#include "trueup/connector/hub.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "trueup/crosswalk/crosswalk.hpp"
#include "trueup/inventory/ledger.hpp"
#include "trueup/log/log.hpp"
#include "trueup/messaging/outbox.hpp"
#include "trueup/model/events.hpp"
#include "trueup/workflow/exceptions.hpp"

namespace trueup::connector {
namespace {

using nlohmann::json;

// Ids through the crosswalk; a store error is kept (the step then fails
// retryably) and reads as "unmapped" meanwhile.
class CrosswalkResolver final : public connectors::IdResolver {
 public:
  CrosswalkResolver(crosswalk::Crosswalk& crosswalk, std::string system)
      : crosswalk_(crosswalk), system_(std::move(system)) {}
  std::optional<std::string> lookup(std::string_view entity, std::string_view external_id) const override {
    auto r = crosswalk_.resolve(crosswalk::Key{system_, std::string(entity), std::string(external_id)});
    if (!r) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = r.error();
      return std::nullopt;
    }
    return *r;
  }
  std::optional<Error> error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  crosswalk::Crosswalk& crosswalk_;
  std::string system_;
  mutable std::mutex mutex_;
  mutable std::optional<Error> error_;
};

// ExternalIds through the crosswalk.
class CrosswalkIds final : public ExternalIds {
 public:
  explicit CrosswalkIds(crosswalk::Crosswalk& crosswalk) : crosswalk_(crosswalk) {}
  Result<std::optional<std::string>> external_id(std::string_view system, std::string_view entity,
                                                 std::string_view canonical_id) override {
    auto found = crosswalk_.list(std::string(system), std::string(entity), std::string(canonical_id), 2);
    if (!found) return std::move(found).error();
    if (found->empty()) return std::optional<std::string>();
    if (found->size() > 1)
      return make_error(Errc::invalid_argument, std::string(system) + " " + std::string(entity) + " " +
                                                    std::string(canonical_id) + " maps to more than one external id (" +
                                                    (*found)[0].key.external_id + ", " + (*found)[1].key.external_id +
                                                    "); keep one mapping");
    return std::optional<std::string>(found->front().key.external_id);
  }
  Result<std::optional<std::string>> canonical_id(std::string_view system, std::string_view entity,
                                                  std::string_view external_id) override {
    return crosswalk_.resolve(crosswalk::Key{std::string(system), std::string(entity), std::string(external_id)});
  }
  Status learn(std::string_view system, std::string_view entity, std::string_view external_id,
               std::string_view canonical_id) override {
    auto put = crosswalk_.put(crosswalk::Key{std::string(system), std::string(entity), std::string(external_id)},
                              std::string(canonical_id), "connector");
    if (!put) return std::move(put).error();
    return Ok{};
  }

 private:
  crosswalk::Crosswalk& crosswalk_;
};

std::string message_ref(const Connector& c, const Inbound& m) { return c.id() + ":" + m.dedupe_key; }

json inbound_json(const Connector& c, const Inbound& m) {
  return {{"connector", c.id()}, {"topic", m.topic}, {"dedupe_key", m.dedupe_key}, {"payload", m.payload}};
}

Result<Inbound> inbound_of(const json& j) {
  if (!j.is_object() || !j.contains("topic") || !j.contains("dedupe_key") || !j.contains("payload") ||
      !j["topic"].is_string() || !j["dedupe_key"].is_string() || !j["payload"].is_string())
    return make_error(Errc::invalid_argument, "not an inbound message record");
  return Inbound{j["dedupe_key"], j["topic"], j["payload"]};
}

std::string unmapped_reason(const Connector& c, const connectors::MappingError& e) {
  std::string ids;
  for (const auto& u : e.unmapped) {
    if (!ids.empty()) ids += ", ";
    ids += u.entity + " " + u.external_id + " (at " + u.pointer + ")";
  }
  return c.type() + " " + (ids.empty() ? std::string("ids") : ids) +
         " not in the crosswalk; add the mapping (PUT /v1/crosswalk/" + c.crosswalk_system() +
         "/{entity}/{external_id} or `trueup crosswalk import`) and the parked message replays by itself";
}

}  // namespace

struct Hub::Impl {
  explicit Impl(HubDeps d) : deps(std::move(d)), ids(deps.crosswalk) {}
  HubDeps deps;
  CrosswalkIds ids;
  std::map<std::string, std::unique_ptr<Connector>, std::less<>> connectors;
  std::map<std::string, std::unique_ptr<ConnectorMetrics>, std::less<>> metrics;
  std::mutex poll_mutex;
  std::condition_variable poll_cv;
  bool stopping = false;
  std::vector<std::thread> pollers;

  Result<std::string> load_cursor(const std::string& id) {
    std::string cursor;
    auto st = deps.store.transact([&](store::Transaction& tx) -> Status {
      auto r = tx.exec("SELECT cursor FROM connector_cursor WHERE connector_id = $1", {id});
      if (!r) return std::move(r).error();
      if (!r->rows.empty() && r->rows[0][0]) cursor = *r->rows[0][0];
      return Ok{};
    });
    if (!st) return std::move(st).error();
    return cursor;
  }

  // Records a poll's messages like webhook deliveries, with the new cursor.
  Result<std::size_t> record_poll(Connector& c, const PollResult& page) {
    std::vector<messaging::InboxMessage> messages;
    std::vector<workflow::StartRequest> starts;
    for (const auto& m : page.messages) {
      auto in = Hub::intake(c, m);
      messages.push_back(std::move(in.message));
      starts.push_back(std::move(in.start));
    }
    std::size_t fresh = 0;
    auto st = deps.store.transact([&](store::Transaction& tx) -> Status {
      fresh = 0;
      auto recorded = deps.inbox.record_batch(tx, messages);
      if (!recorded) return std::move(recorded).error();
      std::vector<workflow::StartRequest> new_starts;
      for (std::size_t i = 0; i < starts.size(); ++i)
        if ((*recorded)[i].inserted) new_starts.push_back(starts[i]);
      fresh = new_starts.size();
      if (auto started = deps.engine.start_batch(tx, new_starts); !started) return std::move(started).error();
      auto cur = tx.exec(
          "INSERT INTO connector_cursor (connector_id, cursor) VALUES ($1, $2) ON CONFLICT (connector_id) DO UPDATE "
          "SET cursor = excluded.cursor, updated_at = CURRENT_TIMESTAMP",
          {c.id(), page.cursor});
      if (!cur) return std::move(cur).error();
      return Ok{};
    });
    if (!st) return std::move(st).error();
    if (fresh > 0) deps.engine.wake();
    return fresh;
  }

  void poll_loop(Connector& c, std::function<bool()> leader) {
    const auto interval = c.poll_interval();
    for (;;) {
      if (leader()) {
        auto cursor = load_cursor(c.id());
        auto page = cursor ? c.poll(*cursor) : Result<PollResult>(cursor.error());
        if (!page) {
          log::warn("connector poll failed; next try at the next interval",
                    {{"connector", c.id()}, {"error", page.error().describe()}});
        } else {
          auto fresh = record_poll(c, *page);
          if (!fresh)
            log::warn("connector poll not recorded", {{"connector", c.id()}, {"error", fresh.error().describe()}});
          else if (*fresh > 0)
            log::info("connector poll", {{"connector", c.id()},
                                         {"messages", std::to_string(page->messages.size())},
                                         {"new", std::to_string(*fresh)}});
        }
      }
      std::unique_lock lock(poll_mutex);
      if (poll_cv.wait_for(lock, interval, [this] { return stopping; })) return;
    }
  }

  // Maps `m` (blocking crosswalk lookups; not inside a transaction).
  std::pair<connectors::Mapped<Canonical>, std::optional<Error>> map(Connector& c, const Inbound& m) {
    CrosswalkResolver resolver(deps.crosswalk, c.crosswalk_system());
    auto mapped = c.map(m, resolver);
    return {std::move(mapped), resolver.error()};
  }

  // What the outcome of a mapping commits (see hub.hpp).
  Status write(store::Transaction& tx, const Connector& c, const Inbound& m,
               const connectors::Mapped<Canonical>& mapped) {
    if (mapped) return start_canonical(tx, m, *mapped);
    const auto& e = mapped.error();
    const std::string ref = message_ref(c, m);
    switch (e.kind) {
      case connectors::MappingErrorKind::unmapped_sku:
      case connectors::MappingErrorKind::unmapped_location: {
        const auto& first = e.unmapped.front();
        auto parked = deps.crosswalk.park(tx, crosswalk::Key{c.crosswalk_system(), first.entity, first.external_id},
                                          c.id(), "application/json", inbound_json(c, m).dump());
        if (!parked) return std::move(parked).error();
        json unmapped = json::array();
        for (const auto& u : e.unmapped)
          unmapped.push_back({{"entity", u.entity}, {"external_id", u.external_id}, {"pointer", u.pointer}});
        auto opened = deps.exceptions.open(
            tx, workflow::ExceptionSpec{
                    std::string(connectors::to_string(e.kind)),
                    "error",
                    {"message", ref},
                    unmapped_reason(c, e),
                    {{"connector", c.id()}, {"topic", m.topic}, {"unmapped", unmapped}, {"parked_id", *parked}}});
        if (!opened) return std::move(opened).error();
        return Ok{};
      }
      case connectors::MappingErrorKind::invalid_payload: {
        auto q = deps.inbox.quarantine(tx, c.id(), m.payload, "application/json", e.message);
        if (!q) return std::move(q).error();
        auto opened = deps.exceptions.open(
            tx, workflow::ExceptionSpec{
                    "malformed_payload",
                    "error",
                    {"message", ref},
                    c.type() + " " + m.topic + " payload kept in quarantine " + std::to_string(*q) + ": " + e.message,
                    {{"connector", c.id()}, {"topic", m.topic}, {"quarantine_id", *q}}});
        if (!opened) return std::move(opened).error();
        return Ok{};
      }
      case connectors::MappingErrorKind::unsupported:
        log::info("inbound message not processed", {{"connector", c.id()}, {"topic", m.topic}, {"why", e.message}});
        return Ok{};
    }
    return Ok{};
  }

  Status start_canonical(store::Transaction& tx, const Inbound& m, const Canonical& canonical) {
    std::vector<workflow::StartRequest> starts;
    std::vector<messaging::OutboxEvent> accepted;
    for (const auto& mv : canonical.movements)
      starts.push_back({inventory::kMovementWorkflow, mv.sku, model::to_json(mv).dump(), mv.movement_id});
    // Every version of an order is applied (the channel_order step replaces
    // the earlier one); the delivery id tells versions apart.
    for (const auto& o : canonical.orders)
      starts.push_back({inventory::kOrderWorkflow, o.id, model::to_json(o).dump(), o.id + "@" + m.dedupe_key});
    if (starts.empty()) return Ok{};
    auto started = deps.engine.start_batch(tx, starts);
    if (!started) return std::move(started).error();
    std::size_t i = 0;
    for (const auto& mv : canonical.movements)
      if ((*started)[i++].created)
        accepted.push_back(inventory::to_outbox(
            model::inventory_movement_accepted(mv, inventory::new_event_context(deps.event_source))));
    for (const auto& o : canonical.orders)
      if ((*started)[i++].created)
        accepted.push_back(
            inventory::to_outbox(model::order_accepted(o, inventory::new_event_context(deps.event_source))));
    auto appended = deps.outbox.append_batch(tx, accepted);
    if (!appended) return std::move(appended).error();
    return Ok{};
  }

  workflow::StepResult run_inbound(workflow::StepContext& ctx) {
    const auto& input = ctx.input();
    auto it = connectors.find(input.value("connector", std::string()));
    if (it == connectors.end())
      return make_error(Errc::unavailable,
                        "connector " + input.value("connector", std::string()) + " is not configured on this instance");
    auto received = inbound_of(input);
    if (!received) return std::move(received).error();
    Connector& c = *it->second;
    auto message = c.complete(*received);
    if (!message) return std::move(message).error();
    auto [mapped, store_error] = map(c, *message);
    if (store_error) return *store_error;
    ctx.on_commit([this, &c, m = std::move(*message), mapped = std::move(mapped)](store::Transaction& tx) {
      return write(tx, c, m, mapped);
    });
    return workflow::StepResult::done();
  }

  // The one step of an outbound workflow: the connector's call with the
  // step's idempotency key; what it returns is kept in the context.
  workflow::StepResult run_outbound(workflow::StepContext& ctx) {
    const auto& input = ctx.input();
    const std::string id = input.value("connector", std::string());
    auto it = connectors.find(id);
    if (it == connectors.end())
      return make_error(Errc::unavailable, "connector " + id + " is not configured on this instance");
    OutboundCall call;
    call.operation = input.value("operation", std::string());
    call.input = input.contains("input") ? input["input"] : json::object();
    call.idempotency_key = ctx.idempotency_key();
    call.deadline = std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(ctx.deadline() - ctx.now());
    auto result = it->second->perform(call);
    if (!result) return std::move(result).error();
    ctx.context()["result"] = std::move(result).value();
    return workflow::StepResult::done();
  }

  // A parked message of connector `c` whose mapping arrived. A conflict (the
  // next missing id was mapped while it was being parked again) maps anew.
  Status replay(Connector& c, const crosswalk::ParkedMessage& parked) {
    auto record = json::parse(parked.payload, nullptr, false);
    auto message = inbound_of(record);
    if (!message) return std::move(message).error();
    Status st = Ok{};
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto [mapped, store_error] = map(c, *message);
      if (store_error) return *store_error;
      st = deps.store.transact([&](store::Transaction& tx) -> Status { return write(tx, c, *message, mapped); });
      if (st) {
        if (mapped) close_unmapped(c, *message);
        return Ok{};
      }
      if (st.error().code != Errc::conflict) return st;
    }
    return st;
  }

  void close_unmapped(const Connector& c, const Inbound& m) {
    workflow::ExceptionFilter f;
    f.state = "open";
    f.refers_to_type = "message";
    f.refers_to_id = message_ref(c, m);
    auto open = deps.exceptions.list(f);
    if (!open) return;
    for (const auto& e : open->items) {
      if (e.kind != "unmapped_sku" && e.kind != "unmapped_location") continue;
      auto r = deps.exceptions.resolve(e.id, "crosswalk", "the missing mappings were added; the message was replayed");
      if (!r) log::warn("exception not resolved after replay", {{"exception", e.id}, {"error", r.error().describe()}});
    }
  }
};

Hub::Hub(HubDeps deps) : impl_(std::make_unique<Impl>(std::move(deps))) {}
Hub::~Hub() { stop(); }

Status Hub::add(std::unique_ptr<Connector> connector, std::unique_ptr<ConnectorMetrics> metrics) {
  const std::string id = connector->id();
  if (!impl_->connectors.emplace(id, std::move(connector)).second)
    return make_error(Errc::already_exists, "two connectors with the id " + id);
  impl_->metrics[id] = std::move(metrics);
  return Ok{};
}

ConnectorMetrics* Hub::metrics(std::string_view id) const {
  auto it = impl_->metrics.find(id);
  return it == impl_->metrics.end() ? nullptr : it->second.get();
}

Connector* Hub::find(std::string_view id) const {
  auto it = impl_->connectors.find(id);
  return it == impl_->connectors.end() ? nullptr : it->second.get();
}

std::vector<std::string> Hub::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, c] : impl_->connectors) out.push_back(id);
  return out;
}

void Hub::define() {
  auto& impl = *impl_;
  workflow::Step map;
  map.name = "map";
  map.run = [&impl](workflow::StepContext& ctx) { return impl.run_inbound(ctx); };
  impl.deps.engine.define(workflow::WorkflowType{kInboundWorkflow, {map}});
  workflow::Step perform;
  perform.name = "perform";
  perform.run = [&impl](workflow::StepContext& ctx) { return impl.run_outbound(ctx); };
  perform.timeout = kOutboundStepTimeout;
  impl.deps.engine.define(workflow::WorkflowType{kOutboundWorkflow, {perform}});
  for (auto& [id, c] : impl.connectors) {
    Connector* connector = c.get();
    impl.deps.crosswalk.set_replayer(
        id, [&impl, connector](const crosswalk::ParkedMessage& parked) { return impl.replay(*connector, parked); });
  }
}

ExternalIds& Hub::external_ids() { return impl_->ids; }

Result<OperationSpec> Hub::operation(std::string_view connector_id, std::string_view operation) const {
  const Connector* c = find(connector_id);
  if (c == nullptr) return make_error(Errc::not_found, "no connector " + std::string(connector_id) + " is configured");
  std::string known;
  for (auto& spec : c->operations()) {
    if (spec.name == operation) return std::move(spec);
    known += (known.empty() ? "" : ", ") + spec.name;
  }
  return make_error(Errc::not_found, c->type() + " connector " + c->id() + " has no operation " +
                                         std::string(operation) + " (it has: " + (known.empty() ? "none" : known) +
                                         ")");
}

Result<workflow::Started> Hub::request(store::Transaction& tx, const OutboundRequest& request) {
  auto spec = operation(request.connector, request.operation);
  if (!spec) return std::move(spec).error();
  if (request.dedupe_key.empty()) return make_error(Errc::invalid_argument, "an outbound request needs a dedupe key");
  const json input{{"connector", request.connector}, {"operation", request.operation}, {"input", request.input}};
  return impl_->deps.engine.start(
      tx, kOutboundWorkflow,
      request.correlation_key.empty() ? request.connector + ":" + request.operation : request.correlation_key, input,
      request.connector + ":" + request.operation + ":" + request.dedupe_key);
}

void Hub::start_polling(Leadership leadership) {
  for (auto& [id, c] : impl_->connectors) {
    if (c->poll_interval().count() <= 0) continue;
    Connector* connector = c.get();
    impl_->pollers.emplace_back([this, connector, leader = leadership(id)] { impl_->poll_loop(*connector, leader); });
  }
}

void Hub::stop() {
  {
    std::lock_guard lock(impl_->poll_mutex);
    impl_->stopping = true;
  }
  impl_->poll_cv.notify_all();
  for (auto& t : impl_->pollers)
    if (t.joinable()) t.join();
  impl_->pollers.clear();
}

InboundIntake Hub::intake(const Connector& connector, const Inbound& message) {
  return InboundIntake{
      messaging::InboxMessage{connector.id(), message.dedupe_key, "application/json", message.payload, {}},
      workflow::StartRequest{kInboundWorkflow, connector.id(), inbound_json(connector, message).dump(),
                             message_ref(connector, message)}};
}

}  // namespace trueup::connector
