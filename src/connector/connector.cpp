#include "trueup/connector/connector.hpp"

#include <algorithm>
#include <stdexcept>

namespace trueup::connector {
namespace {
std::vector<ConnectorType>& types() {
  static std::vector<ConnectorType> all;  // filled at static initialisation, read-only afterwards
  return all;
}
}  // namespace

void register_type(ConnectorType type) {
  auto& all = types();
  if (type.name.empty() || !type.create) throw std::logic_error("a connector type needs a name and a factory");
  if (find_type(type.name) != nullptr) throw std::logic_error("connector type registered twice: " + type.name);
  auto at = std::lower_bound(all.begin(), all.end(), type.name,
                             [](const ConnectorType& t, const std::string& name) { return t.name < name; });
  all.insert(at, std::move(type));
}

const std::vector<ConnectorType>& registered_types() { return types(); }

const ConnectorType* find_type(std::string_view name) {
  for (const auto& t : types())
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<model::InventoryMovement> restock_movements(const model::Refund& refund, std::string_view source_system) {
  std::vector<model::InventoryMovement> out;
  for (const auto& line : refund.lines) {
    if (!line.restock || !line.location) continue;
    model::InventoryMovement m;
    m.movement_id = std::string(source_system) + ":refund:" + refund.id + ":" + line.line_id;
    m.kind = model::MovementKind::return_;
    m.sku = line.sku;
    m.location = *line.location;
    m.quantity_delta = line.quantity;
    m.occurred_at = refund.created_at;
    m.source_system = std::string(source_system);
    m.source_reference = refund.id;
    m.order_id = refund.order_id;
    out.push_back(std::move(m));
  }
  return out;
}

std::string_view to_string(Idempotency idempotency) noexcept {
  switch (idempotency) {
    case Idempotency::target_key:
      return "target_key";
    case Idempotency::natural_key:
      return "natural_key";
    case Idempotency::set_to_value:
      return "set_to_value";
  }
  return "target_key";
}

Result<std::string> ExternalIds::require(std::string_view system, std::string_view entity,
                                         const std::string& canonical_id) {
  auto found = external_id(system, entity, canonical_id);
  if (!found) return std::move(found).error();
  if (!*found)
    return make_error(Errc::not_found, "no " + std::string(system) + " " + std::string(entity) + " is mapped to " +
                                           canonical_id + " (PUT /v1/crosswalk/" + std::string(system) + "/" +
                                           std::string(entity) + "/{id} with canonical_id " + canonical_id + ")");
  return **found;
}

bool valid_instance_id(std::string_view id) {
  if (id.empty() || id.size() > 64 || id.front() < 'a' || id.front() > 'z') return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

}  // namespace trueup::connector
