#include "common/id_resolver.hpp"

namespace trueup::connectors {

std::string_view to_string(MappingErrorKind kind) noexcept {
  switch (kind) {
    case MappingErrorKind::unmapped_sku:
      return "unmapped_sku";
    case MappingErrorKind::unmapped_location:
      return "unmapped_location";
    case MappingErrorKind::unsupported:
      return "unsupported";
    case MappingErrorKind::invalid_payload:
      break;
  }
  return "invalid_payload";
}

Error MappingError::to_error() const {
  const bool unmapped = kind == MappingErrorKind::unmapped_sku || kind == MappingErrorKind::unmapped_location;
  const Errc code = unmapped ? Errc::not_found : Errc::invalid_argument;
  return make_error(code, std::string(to_string(kind)) + ": " + message);
}

std::string IdMapping::resolve(std::string_view entity, std::string_view external_id, std::string_view pointer,
                               bool is_code, std::vector<UnmappedId>& misses) {
  auto found = resolver_.lookup(entity, external_id);
  // A mapping that is not a valid canonical id counts as missing: the
  // canonical model must never carry it.
  if (found && (is_code ? model::is_code(*found) : model::is_identifier(*found))) return *found;
  misses.push_back(UnmappedId{std::string(entity), std::string(external_id), std::string(pointer)});
  return {};
}

model::Sku IdMapping::sku(std::string_view entity, std::string_view external_id, std::string_view pointer) {
  return resolve(entity, external_id, pointer, false, skus_);
}

model::LocationCode IdMapping::location(std::string_view entity, std::string_view external_id,
                                        std::string_view pointer) {
  return resolve(entity, external_id, pointer, true, locations_);
}

MappingError IdMapping::error() const {
  MappingError e;
  e.kind = skus_.empty() ? MappingErrorKind::unmapped_location : MappingErrorKind::unmapped_sku;
  e.unmapped = skus_;
  e.unmapped.insert(e.unmapped.end(), locations_.begin(), locations_.end());
  for (const auto& u : e.unmapped) {
    if (!e.message.empty()) e.message += ", ";
    e.message += u.pointer + " (" + u.entity + " " + u.external_id + ")";
  }
  e.message = "no canonical id for " + e.message;
  return e;
}

MappingError invalid_payload(std::string message) {
  return MappingError{MappingErrorKind::invalid_payload, std::move(message), {}};
}

MappingError invalid_payload(const Error& error) { return invalid_payload(error.message); }

MappingError unsupported(std::string message) {
  return MappingError{MappingErrorKind::unsupported, std::move(message), {}};
}

std::string canonical_order_id(std::string_view channel, std::string_view external_order_id) {
  std::string out(channel);
  out += ':';
  out += external_order_id;
  return out;
}

}  // namespace trueup::connectors
