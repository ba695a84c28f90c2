// The Shopify connector type: webhook ingress (orders/create, orders/updated,
// refunds/create, inventory_levels/update) with X-Shopify-Hmac-Sha256 checked
// on the raw body against the current and previous app secrets, dedupe on
// X-Shopify-Webhook-Id, and mapping to the canonical model
// (shopify_mapping.hpp). Registered as "shopify" under `connectors:`.
//
// Outbound: set_available (REST inventory_levels/set.json, through the REST
// leaky bucket) and set_available_batch (GraphQL inventorySetQuantities,
// up to 250 quantities a call, through GraphQL's cost-based budget: each
// answer's extensions.cost.throttleStatus is learned, a THROTTLED answer
// pauses the budget until the points are back and the call is made again
// with the same idempotency key).

#include <algorithm>
#include <array>
#include <mutex>
#include <unordered_map>

#include "common/exact_json.hpp"
#include "shopify_mapping.hpp"
#include "shopify_payloads.hpp"
#include "trueup/connector/connector.hpp"
#include "trueup/connector/operations.hpp"
#include "trueup/connector/signature.hpp"
#include "trueup/connector/target.hpp"
#include "trueup/core/digest.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/log/log.hpp"

namespace trueup::connectors::shopify {
namespace {

using config::Type;

using connector::Canonical;
using connector::Inbound;
using connector::WebhookReceipt;
using connector::WebhookRequest;

// GraphQL Admin API limits (standard plan): a bucket of 2000 points restored
// at 100 a second; a mutation costs 10.
constexpr double kGraphqlPoints = 2000;
constexpr double kGraphqlRestorePerSecond = 100;
constexpr double kMutationCost = 10;
// How long a pushed SKU's (or location's) Shopify id is used without asking
// the crosswalk again, and how many are kept.
constexpr auto kMappingTtl = std::chrono::seconds(60);
constexpr std::size_t kMappingsKept = 200000;

constexpr std::array<std::string_view, 4> kTopics{"orders/create", "orders/updated", "refunds/create",
                                                  "inventory_levels/update"};

// The one resource of a webhook body, or invalid_payload.
template <class T>
Mapped<T> single(Result<std::vector<T>> decoded, std::string_view what) {
  if (!decoded) return invalid_payload(decoded.error());
  if (decoded->size() != 1) return invalid_payload(std::string("expected one ") + std::string(what) + " resource");
  return std::move(decoded->front());
}

// The URL of rel="next" in a Link header, or "".
std::string next_link(std::string_view link) {
  for (std::size_t at = 0; at < link.size();) {
    const auto open = link.find('<', at), close = link.find('>', at);
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) return {};
    const auto end = link.find(',', close);
    const auto params =
        link.substr(close + 1, end == std::string_view::npos ? std::string_view::npos : end - close - 1);
    if (params.find("rel=\"next\"") != std::string_view::npos)
      return std::string(link.substr(open + 1, close - open - 1));
    if (end == std::string_view::npos) return {};
    at = end + 1;
  }
  return {};
}

struct PollSettings {
  std::string base_url;  // "https://shop.myshopify.com" (or a simulator)
  std::string access_token;
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds overlap{120000};
  std::chrono::milliseconds first_lookback{86400000};
};

class ShopifyConnector final : public connector::Connector {
 public:
  ShopifyConnector(std::string id, model::ChannelCode channel, connector::SecretSet secrets, PollSettings poll,
                   connector::Services& services)
      : Connector(std::move(id), "shopify"),
        channel_(std::move(channel)),
        secrets_(std::move(secrets)),
        poll_(std::move(poll)),
        ids_(services.ids),
        target_(target_settings(this->id(), poll_), services.budgets, services.http, services.metrics),
        graphql_(graphql_settings(this->id(), poll_), services.budgets, services.http, services.metrics) {}

  std::chrono::milliseconds poll_interval() const override { return poll_.interval; }

  // Orders changed since the cursor (minus the overlap), every page; each
  // order version is one message ("order:<id>@<updated_at>": the overlap
  // brings it again and the inbox dedupes it).
  Result<connector::PollResult> poll(const std::string& cursor) override {
    model::Timestamp from = model::Timestamp::from_system(std::chrono::system_clock::now() - poll_.first_lookback);
    if (!cursor.empty()) {
      auto c = model::Timestamp::parse(cursor);
      if (!c) return make_error(Errc::internal, "stored shopify poll cursor is not a time: " + cursor);
      from = model::Timestamp::from_utc(c->utc() - std::chrono::duration_cast<std::chrono::nanoseconds>(poll_.overlap));
    }
    connector::PollResult out;
    model::Timestamp newest = cursor.empty() ? from : *model::Timestamp::parse(cursor);
    std::string url = "/admin/api/2026-07/orders.json?status=any&limit=250&updated_at_min=" +
                      connector::query_escape(from.to_utc_string());
    for (int pages = 0; !url.empty(); ++pages) {
      if (pages >= 1000) return make_error(Errc::internal, "shopify poll: more than 1000 pages; stopped");
      connector::TargetCall call;
      call.operation = "orders.list";
      call.path = url;
      auto reply = target_.send(call);
      if (!reply) return std::move(reply).error();
      if (reply->status != 200) return connector::http_error("shopify orders.list", *reply);
      auto doc = parse_exact(reply->body);
      if (!doc || !doc->is_object() || !doc->contains("orders") || !(*doc)["orders"].is_array())
        return make_error(Errc::unavailable, "shopify poll: the orders answer is not {\"orders\": [...]}");
      for (const auto& order : (*doc)["orders"]) {
        const std::string text = dump_exact(order);
        auto decoded = single(decode_orders(text), "order");
        if (!decoded || !decoded->updated_at) {
          // Kept anyway: mapping will put it in quarantine with the reason.
          out.messages.push_back(Inbound{"order:sha256:" + sha256_hex(text), "orders/updated", text});
          continue;
        }
        out.messages.push_back(
            Inbound{"order:" + decoded->id + "@" + decoded->updated_at->to_utc_string(), "orders/updated", text});
        if (decoded->updated_at->compare_instant(newest) > 0) newest = *decoded->updated_at;
      }
      const std::string* link = reply->headers.find("link");
      url = link != nullptr ? next_link(*link) : std::string();
    }
    out.cursor = newest.to_utc_string();
    return out;
  }

  std::vector<connector::OperationSpec> operations() const override {
    if (poll_.base_url.empty() || poll_.access_token.empty()) return {};
    return {{connector::kSetAvailable,
             "Sets a SKU's available quantity at a location: POST inventory_levels/set.json. Input {sku, location, "
             "available}; ids through the crosswalk (inventory_item, location).",
             connector::Idempotency::set_to_value, "the call sets an absolute value; repeating it changes nothing"},
            {connector::kSetAvailableBatch,
             "Sets up to 250 SKUs' available quantities at a location in one GraphQL inventorySetQuantities call. "
             "Input {location, items: [{sku, available}]}; answer {items: [{sku, result, error?}]}.",
             connector::Idempotency::target_key,
             "@idempotent(key: <the call's key>:<digest of the quantities>), and every quantity is a set-to-value"}};
  }

  // GET inventory_levels.json for the location and up to 50 items a call.
  Result<std::map<std::string, std::int64_t>> read_available(const std::string& location,
                                                             const std::vector<std::string>& skus) override {
    if (operations().empty()) return Connector::read_available(location, skus);
    auto location_id = external(kLocationEntity, location);
    if (!location_id) return std::move(location_id).error();
    std::map<std::string, std::string> sku_of;  // inventory item id -> SKU
    std::vector<std::string> items;
    for (const auto& sku : skus) {
      auto item = ids_.external_id(kSystem, kInventoryItemEntity, sku);
      if (!item) return std::move(item).error();
      if (!*item) continue;  // not in this shop
      sku_of[**item] = sku;
      items.push_back(**item);
    }
    std::map<std::string, std::int64_t> out;
    for (std::size_t at = 0; at < items.size(); at += 50) {
      std::string ids;
      for (std::size_t i = at; i < items.size() && i < at + 50; ++i) ids += (ids.empty() ? "" : ",") + items[i];
      connector::TargetCall c;
      c.operation = "inventory_levels.list";
      c.path = "/admin/api/2026-07/inventory_levels.json?limit=250&location_ids=" + *location_id +
               "&inventory_item_ids=" + connector::query_escape(ids);
      auto reply = target_.send(c);
      if (!reply) return std::move(reply).error();
      if (reply->status != 200) return connector::http_error("shopify inventory_levels.list", *reply);
      auto levels = decode_inventory_levels(reply->body);
      if (!levels) return make_error(Errc::unavailable, "shopify inventory_levels.list: " + levels.error().message);
      for (const auto& level : *levels) {
        auto it = sku_of.find(level.inventory_item_id);
        if (it != sku_of.end() && level.location_id == *location_id && level.available)
          out[it->second] = *level.available;
      }
    }
    return out;
  }

  Result<nlohmann::json> perform(const connector::OutboundCall& call) override {
    if (call.operation == connector::kSetAvailable && !operations().empty()) return set_available(call);
    if (call.operation == connector::kSetAvailableBatch && !operations().empty()) return set_available_batch(call);
    return Connector::perform(call);
  }

  Result<WebhookReceipt> receive_webhook(const WebhookRequest& request) override {
    const auto check =
        connector::verify_shopify_webhook(request.body, connector::shopify_hmac_header(request.headers), secrets_);
    if (check != connector::SignatureCheck::ok)
      return make_error(Errc::unauthenticated, std::string("shopify webhook signature: ") +
                                                   std::string(connector::signature_check_name(check)));
    const auto topic = connector::shopify_header(request.headers, "topic");
    const auto delivery = connector::shopify_header(request.headers, "webhook-id");
    if (!topic || topic->empty() || !delivery || delivery->empty())
      return make_error(Errc::invalid_argument, "a Shopify webhook needs X-Shopify-Topic and X-Shopify-Webhook-Id");
    WebhookReceipt out;
    for (auto t : kTopics)
      if (*topic == t)
        out.messages.push_back(Inbound{std::string(*delivery), std::string(t), std::string(request.body)});
    return out;
  }

  Mapped<Canonical> map(const Inbound& message, const IdResolver& resolver) override {
    const MappingContext context{channel_, resolver};
    Canonical out;
    if (message.topic == "orders/create" || message.topic == "orders/updated") {
      auto order = single(decode_orders(message.payload), "order");
      if (!order) return order.error();
      auto mapped = to_order(*order, context);
      if (!mapped) return mapped.error();
      out.orders.push_back(std::move(mapped).value());
    } else if (message.topic == "refunds/create") {
      auto refund = single(decode_refunds(message.payload), "refund");
      if (!refund) return refund.error();
      auto mapped = to_refund(*refund, context);
      if (!mapped) return mapped.error();
      out.movements = connector::restock_movements(*mapped, kSystem);
    } else if (message.topic == "inventory_levels/update") {
      auto level = single(decode_inventory_levels(message.payload), "inventory_level");
      if (!level) return level.error();
      auto mapped = to_count_movement(*level, context);
      if (!mapped) return mapped.error();
      out.movements.push_back(std::move(mapped).value());
    } else {
      return unsupported("topic " + message.topic + " is not taken by the shopify connector");
    }
    return out;
  }

 private:
  static connector::TargetSettings target_settings(const std::string& id, const PollSettings& poll) {
    connector::TargetSettings t;
    t.name = "shopify:" + id;
    t.base_url = poll.base_url;
    t.budget = connector::shopify_rest_budget();
    t.headers.add("X-Shopify-Access-Token", poll.access_token);
    t.headers.add("Accept", "application/json");
    return t;
  }

  // GraphQL Admin API: its own budget, cost-based (standard plan: 2000
  // points, 100 restored a second; the capacity is learned from each
  // answer's throttleStatus).
  static connector::TargetSettings graphql_settings(const std::string& id, const PollSettings& poll) {
    connector::TargetSettings t = target_settings(id, poll);
    t.name = "shopify-graphql:" + id;
    t.budget = connector::BudgetSettings::leaky_bucket(kGraphqlPoints, kGraphqlRestorePerSecond);
    return t;
  }

  // The external id of a canonical one, or not_found saying what to map.
  Result<std::string> external(std::string_view entity, const std::string& canonical) {
    return ids_.require(kSystem, entity, canonical);
  }

  // external() for the pushes, remembered for kMappingTtl: a batch of 250
  // SKUs is 250 crosswalk reads otherwise, each a store round trip that waits
  // for a pool connection behind the workflow workers. A mapping changed in
  // the crosswalk is used within kMappingTtl; an item Shopify does not know
  // (a userError) is forgotten at once. Unmapped ids are not remembered.
  Result<std::string> pushed_external(std::string_view entity, const std::string& canonical) {
    const auto now = std::chrono::steady_clock::now();
    const std::string key = std::string(entity) + '\x1f' + canonical;
    {
      std::lock_guard lock(mappings_mu_);
      if (auto it = mappings_.find(key); it != mappings_.end() && now - it->second.second < kMappingTtl)
        return it->second.first;
    }
    auto found = external(entity, canonical);
    if (!found) return found;
    std::lock_guard lock(mappings_mu_);
    if (mappings_.size() >= kMappingsKept) mappings_.clear();  // bounded; refilled on use
    mappings_[key] = {*found, now};
    return found;
  }
  void forget_external(std::string_view entity, const std::string& canonical) {
    std::lock_guard lock(mappings_mu_);
    mappings_.erase(std::string(entity) + '\x1f' + canonical);
  }

  // set_available: POST inventory_levels/set.json with the absolute value.
  Result<nlohmann::json> set_available(const connector::OutboundCall& call) {
    const auto& in = call.input;
    if (!in.contains("sku") || !in["sku"].is_string() || !in.contains("location") || !in["location"].is_string() ||
        !in.contains("available") || !in["available"].is_number_integer())
      return make_error(Errc::invalid_argument,
                        "set_available takes {\"sku\": string, \"location\": string, \"available\": integer}");
    auto item = pushed_external(kInventoryItemEntity, in["sku"].get<std::string>());
    if (!item) return std::move(item).error();
    auto location = pushed_external(kLocationEntity, in["location"].get<std::string>());
    if (!location) return std::move(location).error();
    auto body = build_inventory_level_set(InventoryLevelSet{*location, *item, in["available"].get<std::int64_t>()});
    if (!body) return make_error(Errc::invalid_argument, "set_available: " + body.error().message);
    connector::TargetCall c;
    c.operation = "inventory_levels.set";
    c.method = "POST";
    c.path = "/admin/api/2026-07/inventory_levels/set.json";
    c.headers.add("Content-Type", "application/json");
    c.body = dump_exact(*body);
    c.deadline = call.deadline;
    auto reply = target_.send(c);
    if (!reply) return std::move(reply).error();
    if (reply->status != 200 && reply->status != 201)
      return connector::http_error("shopify inventory_levels/set", *reply);
    auto doc = parse_exact(reply->body);
    if (!doc || !doc->is_object() || !doc->contains("inventory_level"))
      return make_error(Errc::unavailable, "shopify inventory_levels/set: the answer has no inventory_level");
    return (*doc)["inventory_level"];
  }

  // set_available_batch: one inventorySetQuantities call for the items
  // that map; the items a userError names are refused and the others sent
  // again (the mutation applies all or nothing), so one bad item never holds
  // back the rest.
  Result<nlohmann::json> set_available_batch(const connector::OutboundCall& call) {
    auto batch = connector::read_set_available_batch(call.input);
    if (!batch) return std::move(batch).error();
    auto location = pushed_external(kLocationEntity, batch->location);
    if (!location) return std::move(location).error();
    std::vector<connector::ItemOutcome> outcomes;
    std::vector<std::size_t> todo;  // indexes of outcomes still to send
    std::vector<std::string> items(batch->items.size());
    for (std::size_t i = 0; i < batch->items.size(); ++i) {
      outcomes.push_back(connector::ItemOutcome{batch->items[i].sku, connector::ItemResult::retry, ""});
      auto item = pushed_external(kInventoryItemEntity, batch->items[i].sku);
      if (!item) {
        outcomes[i].result = item.error().retryable() ? connector::ItemResult::retry : connector::ItemResult::refused;
        outcomes[i].error = item.error().describe();
        continue;
      }
      items[i] = std::move(item).value();
      todo.push_back(i);
    }
    const bool every_item_sent = todo.size() == outcomes.size();
    while (!todo.empty()) {
      std::vector<QuantitySet> quantities;
      for (auto i : todo) quantities.push_back(QuantitySet{items[i], *location, batch->items[i].available});
      auto answer = set_quantities(quantities, call);
      if (!answer) {
        // Nothing decided yet: the call's error is every item's.
        if (every_item_sent && todo.size() == outcomes.size()) return std::move(answer).error();
        for (auto i : todo) {
          outcomes[i].result =
              answer.error().retryable() ? connector::ItemResult::retry : connector::ItemResult::refused;
          outcomes[i].error = answer.error().describe();
        }
        break;
      }
      std::vector<std::size_t> named;  // positions in `todo` the userErrors name
      std::string unnamed;
      for (const auto& e : answer->user_errors) {
        if (e.quantity && *e.quantity < todo.size()) {
          named.push_back(*e.quantity);
          auto& o = outcomes[todo[*e.quantity]];
          if (e.code == "INVALID_INVENTORY_ITEM") forget_external(kInventoryItemEntity, o.sku);
          if (e.code == "INVALID_LOCATION") forget_external(kLocationEntity, batch->location);
          o.result = connector::ItemResult::refused;
          o.error = "shopify inventorySetQuantities: " + e.code + ": " + e.message;
        } else {
          unnamed += (unnamed.empty() ? "" : "; ") + e.code + ": " + e.message;
        }
      }
      if (!unnamed.empty())
        return make_error(Errc::invalid_argument, "shopify inventorySetQuantities refused the call: " + unnamed);
      if (named.empty()) {
        for (auto i : todo) outcomes[i] = connector::ItemOutcome{outcomes[i].sku, connector::ItemResult::accepted, ""};
        break;
      }
      std::vector<std::size_t> rest;
      for (std::size_t k = 0; k < todo.size(); ++k)
        if (std::find(named.begin(), named.end(), k) == named.end()) rest.push_back(todo[k]);
      todo = std::move(rest);
    }
    return connector::item_outcomes_json(outcomes);
  }

  // One inventorySetQuantities call, made again while Shopify answers
  // THROTTLED (the budget pauses until the points it lacks are restored;
  // past the call's deadline the wait is a retryable timeout). The key is
  // the call's key and a digest of the quantities: the same call with the
  // same quantities is the same key (Shopify applies it once), a call sent
  // again with fewer quantities (after userErrors) is another.
  Result<SetQuantitiesAnswer> set_quantities(const std::vector<QuantitySet>& quantities,
                                             const connector::OutboundCall& call) {
    auto body = build_inventory_set_quantities(quantities, call.idempotency_key);
    if (!body) return make_error(Errc::invalid_argument, "set_available_batch: " + body.error().message);
    (*body)["variables"]["idempotencyKey"] =
        call.idempotency_key + ":" + sha256_hex((*body)["variables"]["input"].dump()).substr(0, 16);
    connector::TargetCall c;
    c.operation = "graphql.inventorySetQuantities";
    c.method = "POST";
    c.path = "/admin/api/2026-07/graphql.json";
    c.headers.add("Content-Type", "application/json");
    c.body = body->dump();
    c.cost = kMutationCost;
    c.deadline = call.deadline;
    for (;;) {
      auto reply = graphql_.send(c);
      if (!reply) return std::move(reply).error();
      if (reply->status != 200) return connector::http_error("shopify graphql inventorySetQuantities", *reply);
      auto answer = decode_inventory_set_quantities_answer(reply->body);
      if (!answer)
        return make_error(Errc::unavailable, "shopify graphql inventorySetQuantities: " + answer.error().message);
      const auto now = std::chrono::steady_clock::now();
      if (answer->cost)
        graphql_.budget().learn(
            answer->cost->currently_available,
            answer->cost->maximum_available > 0 ? std::optional<double>(answer->cost->maximum_available) : std::nullopt,
            now);
      if (answer->throttled()) {
        // The points it lacks, at the restore rate (at least 100 ms).
        double seconds = 1.0;
        if (answer->cost && answer->cost->restore_rate > 0)
          seconds =
              std::max(0.0, answer->cost->requested - answer->cost->currently_available) / answer->cost->restore_rate;
        graphql_.budget().pause_until(
            now + std::max<std::chrono::steady_clock::duration>(
                      std::chrono::milliseconds(100), std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(seconds))));
        continue;  // the budget waits (or gives up at the deadline)
      }
      if (!answer->errors.empty()) {
        const auto& e = answer->errors.front();
        const bool transient = e.code == "INTERNAL_SERVER_ERROR" || e.code == "SERVICE_UNAVAILABLE";
        return make_error(transient ? Errc::unavailable : Errc::invalid_argument,
                          "shopify graphql inventorySetQuantities: " + e.code + ": " + e.message);
      }
      if (!answer->applied)
        return make_error(Errc::unavailable, "shopify graphql inventorySetQuantities: the answer has no data");
      return answer;
    }
  }

  model::ChannelCode channel_;
  connector::SecretSet secrets_;
  PollSettings poll_;
  connector::ExternalIds& ids_;
  connector::Target target_;
  connector::Target graphql_;
  std::mutex mappings_mu_;
  std::unordered_map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> mappings_;
};

const connector::Registrar registrar{connector::ConnectorType{
    "shopify",
    "Shopify shops: webhooks for orders, refunds and inventory levels.",
    {
        config::required("channel", config::Type::string,
                         "Canonical channel code of this shop (orders and availability are per channel)."),
        config::required("webhook_secret", config::Type::secret,
                         "The app's client secret: X-Shopify-Hmac-Sha256 is checked with it."),
        config::optional("previous_webhook_secret", config::Type::secret,
                         "The secret before a rotation, still accepted (Shopify signs with it up to an hour)."),
        config::optional("shop_domain", Type::string, "The shop's myshopify domain, e.g. my-shop.myshopify.com."),
        config::optional("api_base_url", Type::string,
                         "Admin API base URL; default https://{shop_domain}. A simulator's URL in tests."),
        config::optional("access_token", Type::secret,
                         "Admin API access token (X-Shopify-Access-Token); needed for polling and set_available."),
        config::bounded(config::with_default("poll_interval", Type::duration, "0s",
                                             "How often orders are polled by updated_at_min (the reconciliation "
                                             "path for lost webhooks); 0s = no polling."),
                        0, 86400000),
        config::bounded(config::with_default("poll_overlap", Type::duration, "2m",
                                             "Each poll starts this long before the newest updated_at seen; the "
                                             "inbox dedupes what the overlap brings twice."),
                        0, 86400000),
        config::bounded(
            config::with_default("poll_first_lookback", Type::duration, "24h", "How far back the first poll reaches."),
            0, 2592000000),
    },
    [](const std::string& id, const config::Section& settings,
       connector::Services& services) -> Result<std::unique_ptr<connector::Connector>> {
      connector::SecretSet secrets({settings.string("webhook_secret")});
      if (settings.present("previous_webhook_secret")) secrets.add(settings.string("previous_webhook_secret"));
      PollSettings poll;
      poll.interval = settings.duration("poll_interval");
      poll.overlap = settings.duration("poll_overlap");
      poll.first_lookback = settings.duration("poll_first_lookback");
      poll.base_url = settings.present("api_base_url")  ? settings.string("api_base_url")
                      : settings.present("shop_domain") ? "https://" + settings.string("shop_domain")
                                                        : std::string();
      while (!poll.base_url.empty() && poll.base_url.back() == '/') poll.base_url.pop_back();
      if (settings.present("access_token")) poll.access_token = settings.string("access_token");
      if (poll.interval.count() > 0 && (poll.base_url.empty() || poll.access_token.empty()))
        return make_error(Errc::invalid_argument,
                          "poll_interval is set: api_base_url (or shop_domain) and access_token are needed");
      return std::unique_ptr<connector::Connector>(std::make_unique<ShopifyConnector>(
          id, settings.string("channel"), std::move(secrets), std::move(poll), services));
    }}};

}  // namespace
}  // namespace trueup::connectors::shopify
