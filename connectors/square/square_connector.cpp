// The Square connector type, registered as "square" under `connectors:`.
//
// Inbound:
// - Webhooks: x-square-hmacsha256-signature checked on the notification URL +
//   raw body against the current and previous signature keys; dedupe on
//   event_id. inventory.count.updated -> count movements; refund.* ->
//   restock movements; order.* events name only id/state/version: complete()
//   fetches the order (GET /v2/orders/{id}) and the message becomes
//   "order.fetched" (payload {"order": <Order>}, dedupe key unchanged).
// - Polling (the reconciliation path for lost webhooks): POST
//   /v2/orders/search by updated_at from the cursor minus the overlap, every
//   page, one "order.fetched" message per order version ("order:<id>@v<n>"),
//   and POST /v2/inventory/counts/batch-retrieve with updated_after, one
//   "inventory.count.fetched" message per IN_STOCK count ({"counts": [..]},
//   "count:<variation>:<location>:<calculated_at>"). Cursor: JSON
//   {"orders": <newest updated_at>, "counts": <newest calculated_at>}.
// - complete() also learns the SKU of every catalog variation the crosswalk
//   does not know (GET /v2/catalog/object/{id}: ITEM_VARIATION sku). Unknown
//   locations are not guessed: the message parks as unmapped_location.
// - "order.fetched" maps to the canonical order (channel_order) and, when the
//   order is COMPLETED, to sale movements per line and return movements per
//   return line (square_mapping.hpp: to_order_movements).
//
// Outbound (perform, idempotency_key = the workflow step's key; Square
// dedupes it): set_count (one PHYSICAL_COUNT) and adjust (one ADJUSTMENT or
// PHYSICAL_COUNT for a canonical movement), POST
// /v2/inventory/changes/batch-create.
//
// Without access_token only the webhook paths that need no call work: order
// events are recorded but not applied, and there are no operations.

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "common/exact_json.hpp"
#include "square_client.hpp"
#include "square_mapping.hpp"
#include "square_payloads.hpp"
#include "trueup/connector/connector.hpp"
#include "trueup/connector/signature.hpp"
#include "trueup/core/digest.hpp"
#include "trueup/log/log.hpp"

namespace trueup::connectors::square {
namespace {

using config::Type;
using connector::Canonical;
using connector::Inbound;
using connector::WebhookReceipt;
using connector::WebhookRequest;
using nlohmann::json;

constexpr std::string_view kFetchedOrderTopic = "order.fetched";             // payload {"order": <Order>}
constexpr std::string_view kFetchedCountsTopic = "inventory.count.fetched";  // payload {"counts": [<InventoryCount>]}
constexpr std::size_t kLocationsPerSearch = 10;                              // SearchOrders takes 1..10 locations
constexpr int kMaxPages = 1000;
// Square refuses an occurred_at older than 24 hours or in the future; a
// margin keeps a retry a little later inside the window.
constexpr auto kOccurredAtWindow = std::chrono::hours(23);
// complete() runs inside the inbound step (60 s timeout): its calls give up
// before that, retryably, and the step runs again later.
constexpr auto kCompleteBudget = std::chrono::seconds(45);

struct PollSettings {
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds overlap{120000};
  std::chrono::milliseconds first_lookback{86400000};
  std::vector<std::string> location_ids;  // empty: every location of the account (GET /v2/locations)
};

// The persisted poll position: the newest updated_at (orders) and
// calculated_at (counts) seen.
struct PollCursor {
  std::optional<model::Timestamp> orders;
  std::optional<model::Timestamp> counts;

  static Result<PollCursor> parse(const std::string& text) {
    PollCursor c;
    if (text.empty()) return c;
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) return make_error(Errc::internal, "stored square poll cursor is not JSON: " + text);
    for (auto [key, slot] : {std::pair{"orders", &c.orders}, std::pair{"counts", &c.counts}}) {
      if (!j.contains(key)) continue;
      auto t = j[key].is_string() ? model::Timestamp::parse(j[key].get<std::string>())
                                  : Result<model::Timestamp>(make_error(Errc::internal, "not a string"));
      if (!t) return make_error(Errc::internal, std::string("stored square poll cursor: ") + key + " is not a time");
      *slot = *t;
    }
    return c;
  }

  std::string dump() const {
    json j = json::object();
    if (orders) j["orders"] = orders->to_utc_string();
    if (counts) j["counts"] = counts->to_utc_string();
    return j.dump();
  }
};

model::Timestamp now_utc() { return model::Timestamp::from_system(std::chrono::system_clock::now()); }

model::Timestamp minus(const model::Timestamp& t, std::chrono::milliseconds d) {
  return model::Timestamp::from_utc(t.utc() - std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

void keep_newest(std::optional<model::Timestamp>& newest, const model::Timestamp& t) {
  if (!newest || t.compare_instant(*newest) > 0) newest = t;
}

// Unmapped ids of two mappings of one message, listed together.
MappingError merged(MappingError a, const MappingError& b) {
  for (const auto& u : b.unmapped)
    if (std::find(a.unmapped.begin(), a.unmapped.end(), u) == a.unmapped.end()) a.unmapped.push_back(u);
  if (b.kind == MappingErrorKind::unmapped_sku) {
    a.kind = MappingErrorKind::unmapped_sku;
    a.message = b.message;
  }
  return a;
}

bool unmapped(const MappingError& e) {
  return e.kind == MappingErrorKind::unmapped_sku || e.kind == MappingErrorKind::unmapped_location;
}

// A fetched Order as a message payload ({"order": ...}, the RetrieveOrder answer's shape).
std::string order_payload(const json& order) { return dump_exact(json{{"order", order}}); }

class SquareConnector final : public connector::Connector {
 public:
  SquareConnector(std::string id, model::ChannelCode channel, connector::SecretSet keys, std::string notification_url,
                  std::optional<SquareApiSettings> api, PollSettings poll, connector::Services& services)
      : Connector(std::move(id), "square"),
        channel_(std::move(channel)),
        keys_(std::move(keys)),
        notification_url_(std::move(notification_url)),
        poll_(std::move(poll)),
        ids_(services.ids) {
    if (api) client_ = std::make_unique<SquareClient>(*api, services.budgets, services.http, services.metrics);
  }

  std::chrono::milliseconds poll_interval() const override { return client_ ? poll_.interval : poll_.interval.zero(); }

  Result<WebhookReceipt> receive_webhook(const WebhookRequest& request) override {
    const std::string& url = notification_url_.empty() ? request.url : notification_url_;
    const auto check =
        connector::verify_square_webhook(url, request.body, request.headers(connector::kSquareSignatureHeader), keys_);
    if (check != connector::SignatureCheck::ok)
      return make_error(Errc::unauthenticated, std::string("square webhook signature: ") +
                                                   std::string(connector::signature_check_name(check)) +
                                                   " (signed URL " + url + ")");
    // Only the envelope is read here. An authentic body without an event id
    // is still kept: keyed by its content, it goes on to quarantine.
    auto envelope = json::parse(request.body, nullptr, false);
    std::string event_id, type;
    if (envelope.is_object()) {
      if (envelope.contains("event_id") && envelope["event_id"].is_string()) event_id = envelope["event_id"];
      if (envelope.contains("type") && envelope["type"].is_string()) type = envelope["type"];
    }
    if (event_id.empty()) event_id = "sha256:" + sha256_hex(request.body);
    WebhookReceipt out;
    out.messages.push_back(Inbound{event_id, type.empty() ? "unknown" : type, std::string(request.body)});
    return out;
  }

  Result<Inbound> complete(const Inbound& message) override {
    if (!client_) return message;
    const auto deadline = std::chrono::steady_clock::now() + kCompleteBudget;
    if (message.topic.starts_with("order.") && message.topic != kFetchedOrderTopic) {
      auto event = decode_webhook_event(message.payload);
      const auto* change = event ? std::get_if<OrderChange>(&event->payload) : nullptr;
      if (change == nullptr) return message;  // map() says what is wrong with it
      auto order = client_->retrieve_order(change->order_id, deadline);
      if (!order) return std::move(order).error();
      Inbound fetched{message.dedupe_key, std::string(kFetchedOrderTopic), order_payload(*order)};
      if (auto st = learn_variations(fetched, deadline); !st) return std::move(st).error();
      return fetched;
    }
    if (auto st = learn_variations(message, deadline); !st) return std::move(st).error();
    return message;
  }

  Mapped<Canonical> map(const Inbound& message, const IdResolver& resolver) override {
    const MappingContext context{channel_, resolver};
    if (message.topic == kFetchedOrderTopic) return map_order(message.payload, context);
    Canonical out;
    if (message.topic == kFetchedCountsTopic) {
      auto counts = decode_inventory_counts_response(message.payload);
      if (!counts) return invalid_payload(counts.error());
      auto mapped = to_count_movements(counts->counts, context);
      if (!mapped) return mapped.error();
      out.movements = std::move(mapped).value();
      return out;
    }
    auto event = decode_webhook_event(message.payload);
    if (!event) {
      if (event.error().message.rfind("unsupported_event_type", 0) == 0) return unsupported(event.error().message);
      return invalid_payload(event.error());
    }
    if (const auto* counts = std::get_if<std::vector<InventoryCount>>(&event->payload)) {
      auto mapped = to_count_movements(*counts, context);
      if (!mapped) return mapped.error();
      out.movements = std::move(mapped).value();
    } else if (const auto* refund = std::get_if<PaymentRefund>(&event->payload)) {
      auto mapped = to_refund(*refund, context);
      if (!mapped) return mapped.error();
      out.movements = connector::restock_movements(*mapped, kSystem);
    } else if (std::holds_alternative<OrderChange>(event->payload)) {
      return unsupported("square " + event->type +
                         ": the event names only the order; without access_token it cannot be fetched");
    } else {
      return unsupported("square " + event->type + ": payments are not used for stock (settlement is not built yet)");
    }
    return out;
  }

  Result<connector::PollResult> poll(const std::string& cursor_text) override {
    if (!client_) return Connector::poll(cursor_text);
    auto cursor = PollCursor::parse(cursor_text);
    if (!cursor) return std::move(cursor).error();
    const model::Timestamp first = minus(now_utc(), poll_.first_lookback);
    auto locations = poll_locations();
    if (!locations) return std::move(locations).error();
    connector::PollResult out;
    PollCursor next = *cursor;
    if (!next.orders) next.orders = first;
    if (!next.counts) next.counts = first;
    if (auto st = poll_orders(*locations, cursor->orders ? minus(*cursor->orders, poll_.overlap) : first, out, next);
        !st)
      return std::move(st).error();
    if (auto st = poll_counts(cursor->counts ? minus(*cursor->counts, poll_.overlap) : first, out, next); !st)
      return std::move(st).error();
    out.cursor = next.dump();
    return out;
  }

  std::vector<connector::OperationSpec> operations() const override {
    if (!client_) return {};
    const std::string detail =
        "idempotency_key = the workflow step's key (hashed when over 128 bytes); Square dedupes it";
    return {{"set_count",
             "Sets a SKU's on-hand count at a location: one PHYSICAL_COUNT (IN_STOCK) through POST "
             "/v2/inventory/changes/batch-create. Input {sku, location, quantity (decimal string or integer), "
             "occurred_at?}; ids through the crosswalk (item_variation, location).",
             connector::Idempotency::target_key, detail},
            {"adjust",
             "Applies a canonical inventory movement (InventoryMovement JSON) to Square's stock: one ADJUSTMENT "
             "(NONE->IN_STOCK up, IN_STOCK->SOLD for sales, IN_STOCK->WASTE otherwise down) or PHYSICAL_COUNT "
             "(count), through POST /v2/inventory/changes/batch-create.",
             connector::Idempotency::target_key, detail}};
  }

  Result<json> perform(const connector::OutboundCall& call) override {
    if (!client_) return Connector::perform(call);
    if (call.operation == "set_count") return set_count(call);
    if (call.operation == "adjust") return adjust(call);
    return Connector::perform(call);
  }

 private:
  Mapped<Canonical> map_order(const std::string& payload, const MappingContext& context) {
    auto doc = parse_exact(payload);
    if (!doc || !doc->is_object() || !doc->contains("order"))
      return invalid_payload("order.fetched: the payload is not {\"order\": {...}}");
    const json& j = (*doc)["order"];
    auto order = decode_order(j, "/order");
    if (!order) return invalid_payload(order.error());
    auto returns = decode_order_returns(j);
    if (!returns) return invalid_payload(returns.error());
    auto movements = to_order_movements(*order, *returns, context);
    // An order holding only returns (Square's return orders) has no line
    // items and so no canonical order: its stock moves all the same.
    std::optional<Mapped<model::Order>> mapped;
    if (!order->line_items.empty()) mapped.emplace(to_order(*order, context));
    if (!movements && !unmapped(movements.error())) return movements.error();
    if (mapped && !*mapped && !unmapped(mapped->error())) return mapped->error();
    if (!movements && mapped && !*mapped) return merged(movements.error(), mapped->error());
    if (!movements) return movements.error();
    if (mapped && !*mapped) return mapped->error();
    Canonical out;
    out.movements = std::move(movements).value();
    if (mapped) out.orders.push_back(std::move(*mapped).value());
    return out;
  }

  // Learns the SKU of every catalog variation of `message` (a fetched order,
  // fetched counts or an inventory.count.updated event) that the crosswalk
  // does not know. A variation Square does not have, or one without a SKU,
  // stays unknown and the message parks as unmapped_sku.
  Status learn_variations(const Inbound& message, connector::SteadyTime deadline) {
    std::set<std::string> ids;
    if (message.topic == kFetchedOrderTopic) {
      auto doc = parse_exact(message.payload);
      if (!doc || !doc->is_object() || !doc->contains("order")) return Ok{};
      auto order = decode_order((*doc)["order"]);
      auto returns = decode_order_returns((*doc)["order"]);
      if (!order || !returns) return Ok{};
      for (const auto& line : order->line_items)
        if (line.catalog_object_id) ids.insert(*line.catalog_object_id);
      for (const auto& line : *returns)
        if (line.catalog_object_id) ids.insert(*line.catalog_object_id);
    } else if (message.topic == kFetchedCountsTopic) {
      auto counts = decode_inventory_counts_response(message.payload);
      if (!counts) return Ok{};
      for (const auto& c : counts->counts) ids.insert(c.catalog_object_id);
    } else if (message.topic == "inventory.count.updated") {
      auto event = decode_webhook_event(message.payload);
      const auto* counts = event ? std::get_if<std::vector<InventoryCount>>(&event->payload) : nullptr;
      if (counts == nullptr) return Ok{};
      for (const auto& c : *counts) ids.insert(c.catalog_object_id);
    }
    for (const auto& id : ids) {
      auto known = ids_.canonical_id(crosswalk_system(), kItemVariationEntity, id);
      if (!known) return std::move(known).error();
      if (*known) continue;
      auto sku = client_->variation_sku(id, deadline);
      if (!sku) {
        if (sku.error().retryable()) return std::move(sku).error();
        log::warn("square catalog variation not looked up; the message parks as unmapped_sku",
                  {{"connector", this->id()}, {"catalog_object_id", id}, {"error", sku.error().describe()}});
        continue;
      }
      if (!*sku) continue;
      if (auto st = ids_.learn(crosswalk_system(), kItemVariationEntity, id, **sku); !st) return st;
      log::info("square catalog variation learned",
                {{"connector", this->id()}, {"catalog_object_id", id}, {"sku", **sku}});
    }
    return Ok{};
  }

  // The locations to search: configured, else the account's (asked once).
  Result<std::vector<std::string>> poll_locations() {
    if (!poll_.location_ids.empty()) return poll_.location_ids;
    std::lock_guard lock(locations_mutex_);
    if (!discovered_locations_.empty()) return discovered_locations_;
    auto found = client_->location_ids();
    if (!found) return std::move(found).error();
    discovered_locations_ = std::move(found).value();
    return discovered_locations_;
  }

  Status poll_orders(const std::vector<std::string>& locations, const model::Timestamp& from,
                     connector::PollResult& out, PollCursor& next) {
    for (std::size_t at = 0; at < locations.size(); at += kLocationsPerSearch) {
      SearchOrdersRequest request;
      request.location_ids.assign(
          locations.begin() + static_cast<std::ptrdiff_t>(at),
          locations.begin() + static_cast<std::ptrdiff_t>(std::min(locations.size(), at + kLocationsPerSearch)));
      request.time_field = "UPDATED_AT";
      request.start_at = from;
      request.sort_order = "ASC";
      request.limit = 500;
      for (int pages = 0;; ++pages) {
        if (pages >= kMaxPages) return make_error(Errc::internal, "square orders poll: more than 1000 pages; stopped");
        auto page = client_->search_orders(request);
        if (!page) return std::move(page).error();
        for (const auto& j : page->items) {
          const std::string payload = order_payload(j);
          auto order = decode_order(j);
          if (!order || !order->id) {
            // Kept anyway: mapping puts it in quarantine with the reason.
            out.messages.push_back(
                Inbound{"order:sha256:" + sha256_hex(payload), std::string(kFetchedOrderTopic), payload});
            continue;
          }
          const std::string version = order->version      ? "v" + std::to_string(*order->version)
                                      : order->updated_at ? order->updated_at->to_utc_string()
                                                          : "sha256:" + sha256_hex(payload);
          out.messages.push_back(
              Inbound{"order:" + *order->id + "@" + version, std::string(kFetchedOrderTopic), payload});
          if (order->updated_at) keep_newest(next.orders, *order->updated_at);
        }
        if (!page->cursor) break;
        request.cursor = page->cursor;
      }
    }
    return Ok{};
  }

  Status poll_counts(const model::Timestamp& from, connector::PollResult& out, PollCursor& next) {
    BatchRetrieveInventoryCountsRequest request;
    request.location_ids = poll_.location_ids;  // empty: every location
    request.updated_after = from;
    for (int pages = 0;; ++pages) {
      if (pages >= kMaxPages) return make_error(Errc::internal, "square counts poll: more than 1000 pages; stopped");
      auto page = client_->retrieve_counts(request);
      if (!page) return std::move(page).error();
      for (const auto& j : page->items) {
        const std::string payload = dump_exact(json{{"counts", json::array({j})}});
        auto count = decode_inventory_count(j);
        if (!count) {
          out.messages.push_back(
              Inbound{"count:sha256:" + sha256_hex(payload), std::string(kFetchedCountsTopic), payload});
          continue;
        }
        keep_newest(next.counts, count->calculated_at);
        if (count->state != "IN_STOCK") continue;  // not stock on hand
        out.messages.push_back(Inbound{
            "count:" + count->catalog_object_id + ":" + count->location_id + ":" + count->calculated_at.to_utc_string(),
            std::string(kFetchedCountsTopic), payload});
      }
      if (!page->cursor) break;
      request.cursor = page->cursor;
    }
    return Ok{};
  }

  // The Square id of a canonical one, or not_found saying what to map.
  Result<std::string> external(std::string_view entity, const std::string& canonical) {
    return ids_.require(crosswalk_system(), entity, canonical);
  }

  // Square's ids for (sku, location) and a time Square accepts: `wanted` when
  // within the last 23 hours and not in the future, else now.
  Result<ChangeTarget> change_target(const std::string& sku, const std::string& location,
                                     const std::optional<model::Timestamp>& wanted) {
    auto variation = external(kItemVariationEntity, sku);
    if (!variation) return std::move(variation).error();
    auto location_id = external(kLocationEntity, location);
    if (!location_id) return std::move(location_id).error();
    const model::Timestamp now = now_utc();
    model::Timestamp at = now;
    if (wanted && wanted->compare_instant(now) <= 0 &&
        wanted->compare_instant(minus(now, std::chrono::duration_cast<std::chrono::milliseconds>(kOccurredAtWindow))) >
            0)
      at = *wanted;
    return ChangeTarget{std::move(variation).value(), std::move(location_id).value(), at};
  }

  // Sends one change; the counts Square answered. IDEMPOTENCY_KEY_REUSED
  // means an earlier attempt of this call (with another occurred_at) was
  // taken: the current count is read back instead.
  Result<json> send_change(const connector::OutboundCall& call, InventoryChange change, const ChangeTarget& target) {
    BatchChangeInventoryRequest request;
    request.idempotency_key =
        call.idempotency_key.size() <= 128 ? call.idempotency_key : sha256_hex(call.idempotency_key);
    request.changes.push_back(std::move(change));
    auto answer = client_->change_inventory(request, call.deadline);
    if (!answer) return std::move(answer).error();
    json out = {{"idempotency_key", request.idempotency_key}, {"counts", answer->counts}};
    if (answer->key_reused) {
      BatchRetrieveInventoryCountsRequest read;
      read.catalog_object_ids = {target.catalog_object_id};
      read.location_ids = {target.location_id};
      auto counts = client_->retrieve_counts(read);
      if (!counts) return std::move(counts).error();
      out["counts"] = counts->items;
      out["already_applied"] = true;
    }
    return out;
  }

  Result<json> set_count(const connector::OutboundCall& call) {
    const json& in = call.input;
    const auto string_at = [&](const char* key) {
      return in.is_object() && in.contains(key) && in[key].is_string() ? std::optional(in[key].get<std::string>())
                                                                       : std::nullopt;
    };
    const auto sku = string_at("sku"), location = string_at("location");
    std::optional<Quantity> quantity;
    if (auto text = string_at("quantity")) {
      auto q = Quantity::parse(*text);
      if (q) quantity = *q;
    } else if (in.is_object() && in.contains("quantity") && in["quantity"].is_number_integer()) {
      auto q = Quantity::parse(std::to_string(in["quantity"].get<std::int64_t>()));
      if (q) quantity = *q;
    }
    std::optional<model::Timestamp> occurred_at;
    if (auto text = string_at("occurred_at")) {
      auto t = model::Timestamp::parse(*text);
      if (!t) return make_error(Errc::invalid_argument, "set_count: occurred_at is not an RFC 3339 time: " + *text);
      occurred_at = *t;
    }
    if (!sku || !location || !quantity)
      return make_error(Errc::invalid_argument,
                        "set_count takes {\"sku\": string, \"location\": string, \"quantity\": decimal string or "
                        "integer (at most 5 decimals), \"occurred_at\"?: RFC 3339}");
    auto target = change_target(*sku, *location, occurred_at);
    if (!target) return std::move(target).error();
    auto change = physical_count(*target, *quantity, call.idempotency_key.substr(0, 255));
    if (!change) return make_error(Errc::invalid_argument, "set_count: " + change.error().message);
    return send_change(call, std::move(change).value(), *target);
  }

  Result<json> adjust(const connector::OutboundCall& call) {
    auto movement = model::from_json<model::InventoryMovement>(call.input, "");
    if (!movement)
      return make_error(Errc::invalid_argument,
                        "adjust takes a canonical inventory movement: " + movement.error().message);
    auto target = change_target(movement->sku, movement->location, movement->occurred_at);
    if (!target) return std::move(target).error();
    auto change = to_inventory_change(*movement, *target);
    if (!change) return make_error(Errc::invalid_argument, "adjust: " + change.error().message);
    return send_change(call, std::move(change).value(), *target);
  }

  model::ChannelCode channel_;
  connector::SecretSet keys_;
  std::string notification_url_;
  PollSettings poll_;
  connector::ExternalIds& ids_;
  std::unique_ptr<SquareClient> client_;  // null without access_token
  std::mutex locations_mutex_;
  std::vector<std::string> discovered_locations_;
};

const connector::Registrar registrar{connector::ConnectorType{
    "square",
    "Square POS accounts: webhooks and polling for orders and inventory counts; outbound stock counts and "
    "adjustments.",
    {
        config::required("channel", Type::string, "Canonical channel code of the stores' sales, e.g. pos."),
        config::required("signature_key", Type::secret,
                         "The webhook subscription's signature key: x-square-hmacsha256-signature is checked with it."),
        config::optional("previous_signature_key", Type::secret, "The key before a rotation, still accepted."),
        config::optional("notification_url", Type::string,
                         "The URL exactly as registered in the Square subscription (Square signs it). Default: "
                         "webhooks.public_base_url + /v1/webhooks/{id}."),
        config::with_default("api_base_url", Type::string, std::string(kDefaultApiBaseUrl),
                             "Square API base URL (https://connect.squareupsandbox.com for the sandbox); a "
                             "simulator's URL in tests."),
        config::optional("access_token", Type::secret,
                         "Access token (Authorization: Bearer). Needed to fetch orders named by order.* events, "
                         "look up catalog variations, poll and perform set_count / adjust; without it order events "
                         "are recorded but not applied."),
        config::with_default("api_version", Type::string, std::string(kDefaultApiVersion),
                             "Square-Version header of every call (the payloads are read as of this version)."),
        config::bounded(config::with_default("poll_interval", Type::duration, "0s",
                                             "How often orders (by updated_at) and inventory counts (updated_after) "
                                             "are polled: the reconciliation path for lost webhooks; 0s = no "
                                             "polling."),
                        0, 86400000),
        config::bounded(config::with_default("poll_overlap", Type::duration, "2m",
                                             "Each poll starts this long before the newest updated_at / calculated_at "
                                             "seen; the inbox dedupes what the overlap brings twice."),
                        0, 86400000),
        config::bounded(
            config::with_default("poll_first_lookback", Type::duration, "24h", "How far back the first poll reaches."),
            0, 2592000000),
        config::optional("poll_location_ids", Type::string_list,
                         "Square location ids whose orders and counts are polled. Default: every location of the "
                         "account (GET /v2/locations at the first poll)."),
        config::bounded(config::with_default("rate_limit_per_second", Type::integer, "10",
                                             "Calls a second to the account (token bucket refill). Square publishes "
                                             "no limits; a 429 RATE_LIMITED (no Retry-After) pauses the budget 1 s, "
                                             "doubled per 429 in a row up to 60 s."),
                        1, 1000),
        config::bounded(config::with_default("rate_limit_burst", Type::integer, "20",
                                             "Calls the account may take at once (token bucket size)."),
                        1, 10000),
    },
    [](const std::string& id, const config::Section& settings,
       connector::Services& services) -> Result<std::unique_ptr<connector::Connector>> {
      connector::SecretSet keys({settings.string("signature_key")});
      if (settings.present("previous_signature_key")) keys.add(settings.string("previous_signature_key"));
      PollSettings poll;
      poll.interval = settings.duration("poll_interval");
      poll.overlap = settings.duration("poll_overlap");
      poll.first_lookback = settings.duration("poll_first_lookback");
      if (settings.present("poll_location_ids")) poll.location_ids = settings.string_list("poll_location_ids");
      std::optional<SquareApiSettings> api;
      if (settings.present("access_token")) {
        api.emplace();
        api->target_name = "square:" + id;
        api->base_url = settings.string("api_base_url");
        api->access_token = settings.string("access_token");
        api->api_version = settings.string("api_version");
        api->budget =
            connector::BudgetSettings::token_bucket(static_cast<double>(settings.integer("rate_limit_per_second")),
                                                    static_cast<double>(settings.integer("rate_limit_burst")));
      }
      if (poll.interval.count() > 0 && !api)
        return make_error(Errc::invalid_argument, "poll_interval is set: access_token is needed to poll Square");
      return std::unique_ptr<connector::Connector>(std::make_unique<SquareConnector>(
          id, settings.string("channel"), std::move(keys),
          settings.present("notification_url") ? settings.string("notification_url") : std::string(), std::move(api),
          std::move(poll), services));
    }}};

}  // namespace
}  // namespace trueup::connectors::square
