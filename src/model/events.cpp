#include "trueup/model/events.hpp"

#include "codec_parts.hpp"

namespace trueup::model {
namespace detail {
namespace {

constexpr EventSpec kCatalogue[] = {
    events::kInventoryMovementAccepted, events::kStockChanged,      events::kOrderAccepted,
    events::kExceptionOpened,           events::kExceptionResolved, events::kInstanceStarted};

constexpr std::pair<std::string_view, ExceptionSeverity> kSeverity[] = {
    {"info", ExceptionSeverity::info},
    {"warning", ExceptionSeverity::warning},
    {"error", ExceptionSeverity::error},
    {"critical", ExceptionSeverity::critical},
};

constexpr std::pair<std::string_view, ExceptionResolution> kResolution[] = {
    {"resolved", ExceptionResolution::resolved},
    {"retried", ExceptionResolution::retried},
    {"ignored", ExceptionResolution::ignored},
};

void read_opened(Problems& p, const json& j, const std::string& path, ExceptionOpened& e) {
  ObjectReader r(p, j, path);
  r.string("exception_id", e.exception_id, StringKind::identifier);
  r.string("kind", e.kind, StringKind::code);
  r.enumeration<ExceptionSeverity>("severity", e.severity, kSeverity);
  r.string("subject_type", e.subject_type, StringKind::code);
  r.string("subject_id", e.subject_id, StringKind::identifier);
  r.string("reason", e.reason, StringKind::text);
  r.timestamp("opened_at", e.opened_at);
  r.string("workflow_id", e.workflow_id, StringKind::identifier);
  r.string("message_id", e.message_id, StringKind::identifier);
  r.finish();
}

void read_resolved(Problems& p, const json& j, const std::string& path, ExceptionResolved& e) {
  ObjectReader r(p, j, path);
  r.string("exception_id", e.exception_id, StringKind::identifier);
  r.string("kind", e.kind, StringKind::code);
  r.enumeration<ExceptionResolution>("resolution", e.resolution, kResolution);
  r.string("resolved_by", e.resolved_by, StringKind::identifier);
  r.string("reason", e.reason, StringKind::text);
  r.timestamp("opened_at", e.opened_at);
  r.timestamp("resolved_at", e.resolved_at);
  r.finish();
}

void read_started(Problems& p, const json& j, const std::string& path, InstanceStarted& e) {
  ObjectReader r(p, j, path);
  r.string("instance_id", e.instance_id, StringKind::identifier);
  r.string("version", e.version, StringKind::identifier);
  r.string("store", e.store, StringKind::code);
  r.string("bus", e.bus, StringKind::code);
  std::int64_t port = 0;
  r.integer("http_port", port, 0, 65535);
  e.http_port = static_cast<int>(port);
  r.finish();
}

EventRecord make_record(const EventSpec& spec, const std::string& key, nlohmann::json data, const EventContext& ctx) {
  EventRecord rec;
  rec.topic = std::string(spec.topic);
  rec.key = key;
  rec.value = data.dump();
  rec.headers = {{"ce_specversion", "1.0"},
                 {"ce_id", ctx.id},
                 {"ce_source", ctx.source},
                 {"ce_type", std::string(spec.type)},
                 {"ce_time", ctx.time.to_utc_string()},
                 {"ce_subject", key},
                 {"content-type", "application/json"}};
  if (!ctx.traceparent.empty()) rec.headers.emplace_back("traceparent", ctx.traceparent);
  return rec;
}

}  // namespace
}  // namespace detail

std::span<const EventSpec> event_catalogue() noexcept { return detail::kCatalogue; }

const EventSpec* find_event(std::string_view type) noexcept {
  for (const auto& spec : detail::kCatalogue)
    if (spec.type == type) return &spec;
  return nullptr;
}

std::string_view to_string(ExceptionSeverity s) noexcept {
  return detail::enum_name<ExceptionSeverity>(detail::kSeverity, s);
}
std::string_view to_string(ExceptionResolution r) noexcept {
  return detail::enum_name<ExceptionResolution>(detail::kResolution, r);
}

template <>
Result<ExceptionOpened> from_json<ExceptionOpened>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<ExceptionOpened>(j, pointer, detail::read_opened);
}
template <>
Result<ExceptionResolved> from_json<ExceptionResolved>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<ExceptionResolved>(j, pointer, detail::read_resolved);
}
template <>
Result<InstanceStarted> from_json<InstanceStarted>(const nlohmann::json& j, std::string_view pointer) {
  return detail::read_document<InstanceStarted>(j, pointer, detail::read_started);
}

nlohmann::json to_json(const ExceptionOpened& e) {
  nlohmann::json j = nlohmann::json::object();
  j["exception_id"] = e.exception_id;
  j["kind"] = e.kind;
  j["severity"] = to_string(e.severity);
  j["subject_type"] = e.subject_type;
  j["subject_id"] = e.subject_id;
  j["reason"] = e.reason;
  j["opened_at"] = e.opened_at.to_string();
  detail::put(j, "workflow_id", e.workflow_id);
  detail::put(j, "message_id", e.message_id);
  return j;
}

nlohmann::json to_json(const ExceptionResolved& e) {
  return nlohmann::json{{"exception_id", e.exception_id},
                        {"kind", e.kind},
                        {"resolution", to_string(e.resolution)},
                        {"resolved_by", e.resolved_by},
                        {"reason", e.reason},
                        {"opened_at", e.opened_at.to_string()},
                        {"resolved_at", e.resolved_at.to_string()}};
}

nlohmann::json to_json(const InstanceStarted& e) {
  return nlohmann::json{{"instance_id", e.instance_id},
                        {"version", e.version},
                        {"store", e.store},
                        {"bus", e.bus},
                        {"http_port", e.http_port}};
}

EventRecord inventory_movement_accepted(const InventoryMovement& m, const EventContext& ctx) {
  return detail::make_record(events::kInventoryMovementAccepted, m.sku, to_json(m), ctx);
}
EventRecord stock_changed(const StockPosition& p, const EventContext& ctx) {
  return detail::make_record(events::kStockChanged, p.sku, to_json(p), ctx);
}
EventRecord order_accepted(const Order& o, const EventContext& ctx) {
  return detail::make_record(events::kOrderAccepted, o.id, to_json(o), ctx);
}
EventRecord exception_opened(const ExceptionOpened& e, const EventContext& ctx) {
  return detail::make_record(events::kExceptionOpened, e.exception_id, to_json(e), ctx);
}
EventRecord exception_resolved(const ExceptionResolved& e, const EventContext& ctx) {
  return detail::make_record(events::kExceptionResolved, e.exception_id, to_json(e), ctx);
}
EventRecord instance_started(const InstanceStarted& e, const EventContext& ctx) {
  return detail::make_record(events::kInstanceStarted, e.instance_id, to_json(e), ctx);
}

}  // namespace trueup::model
