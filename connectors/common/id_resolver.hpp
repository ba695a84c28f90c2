#pragma once
// From external ids to canonical ones, for the mapping of connector payloads
// to the canonical model.
//
// `IdResolver` is what the mapping asks: (entity, external id) -> canonical id
// (the crosswalk answers it at run time; tests use a map). The system is
// implied by the connector. Each connector's README lists the entities it
// asks for (e.g. Shopify "variant", Square "item_variation", BC "item").
//
// A mapping never drops what it cannot resolve and never puts an external id
// where a canonical one belongs: it fails with a MappingError whose kind says
// what is missing (`unmapped_sku`, `unmapped_location`) and which lists EVERY
// unresolved id of the payload with its JSON Pointer, so the message can be
// parked once and replayed when the mappings exist. A payload that is
// malformed or breaks a canonical rule fails with `invalid_payload`; one that
// is well formed but carries nothing the canonical model holds (a FAILED
// refund) with `unsupported`.
//
// Thread-safety: IdResolver implementations say their own; the mapping
// functions are pure apart from the resolver calls.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/model/codec.hpp"
#include "trueup/model/identifiers.hpp"

namespace trueup::connectors {

class IdResolver {
 public:
  virtual ~IdResolver() = default;
  // The canonical id of `external_id`, or nullopt when there is no mapping.
  virtual std::optional<std::string> lookup(std::string_view entity, std::string_view external_id) const = 0;
};

enum class MappingErrorKind { unmapped_sku, unmapped_location, invalid_payload, unsupported };
// "unmapped_sku", "unmapped_location", "invalid_payload", "unsupported" (exception kinds).
std::string_view to_string(MappingErrorKind kind) noexcept;

struct UnmappedId {
  std::string entity;       // as asked of the resolver, e.g. "variant"
  std::string external_id;  // as the system spells it
  std::string pointer;      // where in the payload, e.g. "/line_items/0/variant_id"

  friend bool operator==(const UnmappedId&, const UnmappedId&) = default;
};

struct MappingError {
  MappingErrorKind kind = MappingErrorKind::invalid_payload;
  std::string message;
  std::vector<UnmappedId> unmapped;  // every unresolved id (empty for invalid_payload)

  // Errc::not_found for unmapped ids (replay once mapped), invalid_argument
  // otherwise; the message starts with the kind.
  Error to_error() const;
};

// Either the mapped value or a MappingError.
template <class T>
class [[nodiscard]] Mapped {
 public:
  Mapped(T value) : v_(std::in_place_index<0>, std::move(value)) {}             // NOLINT
  Mapped(MappingError error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T* operator->() const { return &value(); }
  const T& operator*() const& { return value(); }
  const MappingError& error() const& { return std::get<1>(v_); }

 private:
  std::variant<T, MappingError> v_;
};

// Resolves the ids of one payload, remembering every miss. Entities whose
// misses are SKU-like or location-like are told apart by the connector.
class IdMapping {
 public:
  explicit IdMapping(const IdResolver& resolver) : resolver_(resolver) {}

  // The canonical SKU, or "" with the miss recorded (unmapped_sku).
  model::Sku sku(std::string_view entity, std::string_view external_id, std::string_view pointer);
  // The canonical location code, or "" with the miss recorded (unmapped_location).
  model::LocationCode location(std::string_view entity, std::string_view external_id, std::string_view pointer);

  bool complete() const noexcept { return skus_.empty() && locations_.empty(); }
  // unmapped_sku when any SKU is missing (the location misses are listed too),
  // else unmapped_location. Precondition: !complete().
  MappingError error() const;

 private:
  std::string resolve(std::string_view entity, std::string_view external_id, std::string_view pointer, bool is_code,
                      std::vector<UnmappedId>& misses);
  const IdResolver& resolver_;
  std::vector<UnmappedId> skus_;
  std::vector<UnmappedId> locations_;
};

// What a mapping needs besides the payload.
struct MappingContext {
  model::ChannelCode channel;  // the canonical channel the payload came from, e.g. "shopify-eu"
  const IdResolver& resolver;
};

// invalid_payload with the given message.
MappingError invalid_payload(std::string message);
MappingError invalid_payload(const Error& error);

// unsupported with the given message.
MappingError unsupported(std::string message);

// `value` if the canonical codec accepts it (identifiers, codes, non-negative
// counts, restock locations...), else invalid_payload naming the rule broken.
template <class T>
Mapped<T> canonical(T value) {
  auto back = model::from_json<T>(to_json(value));
  if (!back) return invalid_payload("the mapped entity breaks a canonical rule: " + back.error().message);
  return value;
}

// The canonical id of a channel order: "<channel>:<external order id>", so that
// refunds and returns name their order without a lookup.
std::string canonical_order_id(std::string_view channel, std::string_view external_order_id);

}  // namespace trueup::connectors
