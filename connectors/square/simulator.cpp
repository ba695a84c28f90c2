#include "simulator.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "common/exact_json.hpp"
#include "common/sim/config_document.hpp"
#include "square_payloads.hpp"
#include "trueup/connector/signature.hpp"
#include "trueup/core/digest.hpp"
#include "trueup/core/money.hpp"
#include "trueup/core/time.hpp"
#include "trueup/http/query.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors::square {
namespace {

using nlohmann::json;
using sim::exact_json_response;

constexpr std::int64_t kMaxCountsLimit = 1000;
constexpr std::int64_t kMaxOrdersLimit = 1000;
constexpr std::int64_t kDefaultOrdersLimit = 500;
constexpr std::size_t kMaxBatchOrders = 100;
constexpr std::size_t kMaxSearchLocations = 10;
constexpr std::size_t kMaxChanges = 100;

// Square's error body: {"errors": [{"category", "code", "detail", "field"?}]}.
http::Response square_error(int status, std::string_view category, std::string_view code, std::string_view detail,
                            std::string_view field = "") {
  json e{{"category", category}, {"code", code}, {"detail", detail}};
  if (!field.empty()) e["field"] = field;
  return exact_json_response(status, json{{"errors", json::array({e})}});
}
http::Response bad_request(std::string_view code, std::string_view detail, std::string_view field = "") {
  return square_error(400, "INVALID_REQUEST_ERROR", code, detail, field);
}
http::Response not_found(std::string_view detail, std::string_view field = "") {
  return square_error(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", detail, field);
}
http::Response admin_problem(int status, const std::string& detail) {
  return http::problem(status, status == 404 ? "/problems/not-found" : "/problems/invalid-request",
                       status == 404 ? "Not Found" : "Bad Request", detail);
}

Error invalid(const std::string& at, std::string_view what) {
  return make_error(Errc::invalid_argument, (at.empty() ? "/" : at) + ": " + std::string(what));
}

json money_json(const Money& m) { return json{{"amount", m.minor()}, {"currency", m.currency().code()}}; }

// Square's InventoryState values; NONE, SOLD and UNLINKED_RETURN are not
// tracked (no count is kept or reported for them).
bool known_state(std::string_view s) {
  static const std::set<std::string, std::less<>> states{"CUSTOM",
                                                         "IN_STOCK",
                                                         "SOLD",
                                                         "RETURNED_BY_CUSTOMER",
                                                         "RESERVED_FOR_SALE",
                                                         "SOLD_ONLINE",
                                                         "ORDERED_FROM_VENDOR",
                                                         "RECEIVED_FROM_VENDOR",
                                                         "IN_TRANSIT_TO",
                                                         "NONE",
                                                         "WASTE",
                                                         "UNLINKED_RETURN",
                                                         "COMPOSED",
                                                         "DECOMPOSED",
                                                         "SUPPORTED_BY_NEWER_VERSION",
                                                         "IN_TRANSIT"};
  return states.contains(s);
}
bool tracked_state(std::string_view s) {
  return known_state(s) && s != "NONE" && s != "SOLD" && s != "UNLINKED_RETURN";
}

// A quantity given as a decimal string ("1.5") or a JSON number.
std::optional<Quantity> quantity_of(const json& v) {
  std::optional<std::string> text;
  if (v.is_string())
    text = v.get<std::string>();
  else
    text = number_text(v);
  if (!text) return std::nullopt;
  auto q = Quantity::parse(*text);
  return q ? std::optional<Quantity>(*q) : std::nullopt;
}

// Opaque cursors: base64 of a small JSON document.
std::string encode_cursor(const json& cursor) { return base64_encode(dump_exact(cursor)); }
std::optional<json> decode_cursor(const json& value) {
  if (!value.is_string() || value.get<std::string>().size() > 4096) return std::nullopt;
  auto raw = base64_decode(value.get<std::string>());
  if (!raw) return std::nullopt;
  auto j = json::parse(*raw, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// A list of strings (the body member `name`), or an error answer.
std::optional<http::Response> read_strings(const json& body, std::string_view name, std::size_t max,
                                           std::vector<std::string>& out) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return bad_request("EXPECTED_ARRAY", "Expected an array.", name);
  if (it->size() > max)
    return bad_request("ARRAY_LENGTH_TOO_LONG", "At most " + std::to_string(max) + " values.", name);
  for (const auto& v : *it) {
    if (!v.is_string()) return bad_request("EXPECTED_STRING", "Expected a string.", name);
    out.push_back(v.get<std::string>());
  }
  return std::nullopt;
}

// A text member of an object; "" when absent, null or not text (seed orders
// are kept verbatim and may write null).
std::string text_of(const json& object, std::string_view name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<std::int64_t> int_value(const json& v) {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  return std::nullopt;
}

struct CountKey {
  std::string object, location, state;
  auto operator<=>(const CountKey&) const = default;
};

struct Count {
  Quantity quantity;
  std::string calculated_at;
  model::Timestamp at;
};

}  // namespace

// The account's state and what the endpoints do with it. Every member runs
// under mu_ (held by the route wrapper); webhooks are published under it so
// concurrent requests publish in the order they changed the state.
class SquareSimulator::Account {
 public:
  Account(const SquareSimulatorSettings& settings, sim::SimulatorCore& core)
      : settings_(settings), core_(core), merchant_id_(settings.merchant_id) {}

  Status load(const json& seed);
  const std::string& merchant_id() const { return merchant_id_; }

  std::mutex mu_;

  http::Response batch_change(const http::Request& request);
  http::Response batch_retrieve_counts(const http::Request& request);
  http::Response get_order(const http::Request& request);
  http::Response batch_retrieve_orders(const http::Request& request);
  http::Response search_orders(const http::Request& request);
  http::Response get_catalog_object(const http::Request& request);
  http::Response get_refund(const http::Request& request);
  http::Response list_locations(const http::Request& request);

  http::Response admin_create_sales(const http::Request& request);
  http::Response admin_update_order(const http::Request& request);
  http::Response admin_create_refund(const http::Request& request);
  http::Response admin_set_count(const http::Request& request);

 private:
  using Events = std::vector<sim::WebhookEvent>;
  struct Line {
    std::string variation;
    Quantity quantity;
  };

  std::chrono::system_clock::time_point now() const {
    return settings_.wall_clock ? settings_.wall_clock() : std::chrono::system_clock::now();
  }
  std::string now_text() const { return format_utc(now(), 3); }
  // A Square-style id: `length` characters from a hash of a serial number
  // (the same on every run with the same seed and requests).
  std::string new_id(std::size_t length, bool mixed_case) {
    static constexpr std::string_view kUpper = "ABCDEFGHJKMNPQRSTVWXYZ0123456789";
    static constexpr std::string_view kMixed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const std::string_view alphabet = mixed_case ? kMixed : kUpper;
    std::string out;
    for (int block = 0; out.size() < length; ++block) {
      const std::string h = sha256(merchant_id_ + ":" + std::to_string(serial_) + ":" + std::to_string(block));
      for (unsigned char c : h) {
        if (out.size() == length) break;
        out += alphabet[c % alphabet.size()];
      }
    }
    ++serial_;
    return out;
  }
  void event(Events& events, std::string type, std::string data_type, std::string data_id, json object);
  void order_event(Events& events, std::string_view kind, const json& order);
  void counts_event(Events& events, const std::set<CountKey>& changed);
  void publish(Events& events) {
    for (auto& e : events) core_.webhooks().publish(std::move(e));
  }

  Status load_location(const json& spec, const std::string& at);
  Status load_item(const json& spec, const std::string& at);
  Result<const json*> variation_of(const json& line, const std::string& at) const;
  json count_json(const CountKey& key, const Count& count) const;
  json counts_of(const std::string& object, const std::string& location) const;
  void put_count(const CountKey& key, Quantity quantity);
  // Moves `quantity` from one state to another at a location; untracked
  // states are not counted. Adds the tracked keys it changed.
  Status move(const std::string& object, const std::string& location, const std::string& from, const std::string& to,
              Quantity quantity, std::set<CountKey>& changed);
  Result<json> build_sale(const json& spec, const std::string& at, Events* events);
  // OPEN -> COMPLETED: the tender and the stock taken; version and updated_at are the caller's.
  Status complete(json& order, const json& tender_spec, const std::string& at, std::set<CountKey>& changed);
  std::optional<Money> price_of(const json& variation) const;

  const SquareSimulatorSettings& settings_;
  sim::SimulatorCore& core_;
  std::string merchant_id_;
  std::string currency_ = "USD";
  std::uint64_t serial_ = 1;
  std::map<std::string, json> locations_;
  std::map<std::string, json> items_;       // ITEM catalog objects (without their variations)
  std::map<std::string, json> variations_;  // ITEM_VARIATION catalog objects
  std::map<CountKey, Count> counts_;
  std::map<std::string, json> orders_;
  std::map<std::string, json> refunds_;
  // Units returned so far per (order id, line uid).
  std::map<std::pair<std::string, std::string>, Quantity> returned_;
  // BatchChangeInventory idempotency keys: the request they came with and the answer given.
  std::map<std::string, std::pair<std::string, json>> idempotent_;
};

// ---- Seed -------------------------------------------------------------------

Status SquareSimulator::Account::load(const json& seed) {
  if (!seed.is_object()) return invalid("", "the seed must be a JSON object");
  static const std::set<std::string> members{"merchant", "locations", "items", "inventory_counts", "orders", "sales"};
  for (const auto& [name, value] : seed.items())
    if (!members.contains(name)) return invalid("/" + name, "unknown member");
  if (auto merchant = seed.find("merchant"); merchant != seed.end()) {
    if (!merchant->is_object()) return invalid("/merchant", "expected an object");
    for (const auto& [name, value] : merchant->items()) {
      if (name == "id" && value.is_string() && !value.get<std::string>().empty()) {
        merchant_id_ = value.get<std::string>();
      } else if (name == "currency" && value.is_string() && Currency::from_code(value.get<std::string>())) {
        currency_ = value.get<std::string>();
      } else {
        return invalid("/merchant/" + name, "unknown member or wrong type (id, currency)");
      }
    }
  }
  auto each = [&seed](const char* name, const std::function<Status(const json&, const std::string&)>& load_one) {
    return sim::for_each_seed_entry(seed, name, load_one);
  };
  if (auto st = each("locations", [this](const json& j, const std::string& at) { return load_location(j, at); }); !st)
    return st;
  if (auto st = each("items", [this](const json& j, const std::string& at) { return load_item(j, at); }); !st)
    return st;
  auto count = [this](const json& j, const std::string& at) -> Status {
    if (!j.is_object()) return invalid(at, "expected an object");
    auto variation = variation_of(j, at);
    if (!variation) return variation.error();
    const std::string location = text_of(j, "location_id");
    if (!locations_.contains(location)) return invalid(at + "/location_id", "unknown location");
    const std::string state = j.value("state", "IN_STOCK");
    if (!tracked_state(state))
      return invalid(at + "/state", "expected a tracked InventoryState (IN_STOCK, WASTE, ...)");
    auto q = quantity_of(j.value("quantity", json()));
    if (!q) return invalid(at + "/quantity", "expected a decimal string (at most 5 decimals)");
    put_count(CountKey{(**variation)["id"].get<std::string>(), location, state}, *q);
    return Ok{};
  };
  if (auto st = each("inventory_counts", count); !st) return st;
  auto order = [this](const json& j, const std::string& at) -> Status {
    if (!j.is_object()) return invalid(at, "expected an object");
    if (!j.value("id", json()).is_string()) return invalid(at + "/id", "expected the order id (text)");
    auto decoded = decode_order(j, at);
    if (!decoded) return decoded.error();
    if (!decoded->created_at || !decoded->updated_at)
      return invalid(at + "/created_at", "created_at and updated_at are required");
    orders_[*decoded->id] = j;
    return Ok{};
  };
  if (auto st = each("orders", order); !st) return st;
  return each("sales", [this](const json& j, const std::string& at) -> Status {
    auto built = build_sale(j, at, nullptr);
    return built ? Status(Ok{}) : Status(built.error());
  });
}

Status SquareSimulator::Account::load_location(const json& spec, const std::string& at) {
  if (!spec.is_object()) return invalid(at, "expected an object");
  if (!spec.value("id", json()).is_string() || spec["id"].get<std::string>().empty())
    return invalid(at + "/id", "expected the location id (text)");
  const std::string id = spec["id"].get<std::string>();
  json location{{"id", id},
                {"name", "Location " + id},
                {"address",
                 {{"address_line_1", "1 Market Street"},
                  {"locality", "San Francisco"},
                  {"administrative_district_level_1", "CA"},
                  {"postal_code", "94105"},
                  {"country", "US"}}},
                {"timezone", "America/Los_Angeles"},
                {"capabilities", json::array({"CREDIT_CARD_PROCESSING"})},
                {"status", "ACTIVE"},
                {"created_at", now_text()},
                {"merchant_id", merchant_id_},
                {"country", "US"},
                {"language_code", "en-US"},
                {"currency", currency_},
                {"business_name", "Trueup Simulated Store"},
                {"type", "PHYSICAL"},
                {"mcc", "5699"}};
  for (const auto& [name, value] : spec.items()) location[name] = value;
  locations_[id] = std::move(location);
  return Ok{};
}

std::optional<Money> SquareSimulator::Account::price_of(const json& variation) const {
  const json& data = variation["item_variation_data"];
  auto price = data.find("price_money");
  if (price == data.end()) return std::nullopt;
  auto currency = Currency::from_code((*price)["currency"].get<std::string>());
  return Money::from_minor((*price)["amount"].get<std::int64_t>(), *currency);
}

Status SquareSimulator::Account::load_item(const json& spec, const std::string& at) {
  if (!spec.is_object()) return invalid(at, "expected an object");
  if (!spec.value("id", json()).is_string() || spec["id"].get<std::string>().empty())
    return invalid(at + "/id", "expected the item id (text)");
  const std::string item_id = spec["id"].get<std::string>();
  const std::string name = spec.value("name", "Item " + item_id);
  auto variations = spec.find("variations");
  if (variations == spec.end() || !variations->is_array() || variations->empty())
    return invalid(at + "/variations", "expected a non-empty array");
  const std::string now = now_text();
  const std::int64_t version = 1700000000000;
  for (std::size_t i = 0; i < variations->size(); ++i) {
    const json& v = (*variations)[i];
    const std::string vat = at + "/variations/" + std::to_string(i);
    if (!v.is_object()) return invalid(vat, "expected an object");
    if (!v.value("id", json()).is_string() || v["id"].get<std::string>().empty())
      return invalid(vat + "/id", "expected the variation id (text)");
    const std::string id = v["id"].get<std::string>();
    if (variations_.contains(id)) return invalid(vat + "/id", "a variation with this id exists");
    json data{{"item_id", item_id},
              {"name", v.value("name", "Regular")},
              {"ordinal", i},
              {"pricing_type", "FIXED_PRICING"},
              {"track_inventory", true},
              {"sellable", true},
              {"stockable", true}};
    if (auto sku = v.find("sku"); sku != v.end()) {
      if (!sku->is_string()) return invalid(vat + "/sku", "expected text");
      data["sku"] = *sku;
    }
    if (auto price = v.find("price_money"); price != v.end()) {
      const json amount = price->is_object() ? price->value("amount", json()) : json();
      const std::string code = price->is_object() ? price->value("currency", currency_) : currency_;
      if (!amount.is_number_integer() || !Currency::from_code(code))
        return invalid(vat + "/price_money", "expected {amount: integer minor units, currency}");
      data["price_money"] = json{{"amount", amount}, {"currency", code}};
    } else {
      data["pricing_type"] = "VARIABLE_PRICING";
    }
    variations_[id] = json{{"type", "ITEM_VARIATION"},
                           {"id", id},
                           {"updated_at", now},
                           {"created_at", now},
                           {"version", version},
                           {"is_deleted", false},
                           {"present_at_all_locations", true},
                           {"item_variation_data", std::move(data)}};
  }
  json item_data{{"name", name}, {"product_type", "REGULAR"}, {"is_taxable", true}};
  if (auto d = spec.find("description"); d != spec.end() && d->is_string()) item_data["description"] = *d;
  items_[item_id] = json{{"type", "ITEM"},
                         {"id", item_id},
                         {"updated_at", now},
                         {"created_at", now},
                         {"version", version},
                         {"is_deleted", false},
                         {"present_at_all_locations", true},
                         {"item_data", std::move(item_data)}};
  return Ok{};
}

// The variation a spec names by catalog_object_id or sku.
Result<const json*> SquareSimulator::Account::variation_of(const json& line, const std::string& at) const {
  if (auto id = line.find("catalog_object_id"); id != line.end()) {
    auto it = id->is_string() ? variations_.find(id->get<std::string>()) : variations_.end();
    if (it == variations_.end()) return invalid(at + "/catalog_object_id", "no ITEM_VARIATION has this id");
    return &it->second;
  }
  if (auto sku = line.find("sku"); sku != line.end() && sku->is_string()) {
    for (const auto& [id, v] : variations_)
      if (v["item_variation_data"].value("sku", json()) == *sku) return &v;
    return invalid(at + "/sku", "no variation has this sku");
  }
  return invalid(at, "give catalog_object_id or sku");
}

// ---- Counts -----------------------------------------------------------------

json SquareSimulator::Account::count_json(const CountKey& key, const Count& count) const {
  return json{{"catalog_object_id", key.object},
              {"catalog_object_type", "ITEM_VARIATION"},
              {"state", key.state},
              {"location_id", key.location},
              {"quantity", count.quantity.to_string()},
              {"calculated_at", count.calculated_at}};
}

json SquareSimulator::Account::counts_of(const std::string& object, const std::string& location) const {
  json out = json::array();
  for (auto it = counts_.lower_bound(CountKey{object, location, ""});
       it != counts_.end() && it->first.object == object && it->first.location == location; ++it)
    out.push_back(count_json(it->first, it->second));
  return out;
}

void SquareSimulator::Account::put_count(const CountKey& key, Quantity quantity) {
  const auto t = now();
  counts_[key] = Count{quantity, format_utc(t, 3), model::Timestamp::from_system(t)};
}

Status SquareSimulator::Account::move(const std::string& object, const std::string& location, const std::string& from,
                                      const std::string& to, Quantity quantity, std::set<CountKey>& changed) {
  for (const auto& [state, sign] : {std::pair{from, -1}, std::pair{to, 1}}) {
    if (!tracked_state(state)) continue;
    const CountKey key{object, location, state};
    auto it = counts_.find(key);
    const Quantity before = it == counts_.end() ? Quantity{} : it->second.quantity;
    auto after = sign < 0 ? before.subtract(quantity) : before.add(quantity);
    if (!after) return after.error();
    put_count(key, *after);
    changed.insert(key);
  }
  return Ok{};
}

// ---- Webhooks ---------------------------------------------------------------

void SquareSimulator::Account::event(Events& events, std::string type, std::string data_type, std::string data_id,
                                     json object) {
  const std::string event_id = core_.webhooks().new_event_id();
  json body{{"merchant_id", merchant_id_},
            {"type", type},
            {"event_id", event_id},
            {"created_at", now_text()},
            {"data", {{"type", std::move(data_type)}, {"id", std::move(data_id)}, {"object", std::move(object)}}}};
  events.push_back(sim::WebhookEvent{std::move(type), event_id, dump_exact(body), now()});
}

// order.created / order.updated: only the order's id, state and version (and
// location, timestamps), as Square sends them; the receiver fetches the order.
void SquareSimulator::Account::order_event(Events& events, std::string_view kind, const json& order) {
  const std::string data_type = "order_" + std::string(kind);
  json change{{"order_id", order["id"]},
              {"location_id", order["location_id"]},
              {"state", order["state"]},
              {"version", order["version"]},
              {"created_at", order["created_at"]}};
  if (kind != "created") change["updated_at"] = order["updated_at"];
  event(events, "order." + std::string(kind), data_type, order["id"].get<std::string>(),
        json{{data_type, std::move(change)}});
}

void SquareSimulator::Account::counts_event(Events& events, const std::set<CountKey>& changed) {
  if (changed.empty()) return;
  json counts = json::array();
  for (const auto& key : changed) counts.push_back(count_json(key, counts_.at(key)));
  event(events, "inventory.count.updated", "inventory_counts", core_.faults().next_uuid(),
        json{{"inventory_counts", std::move(counts)}});
}

// ---- Inventory API ----------------------------------------------------------

// POST /v2/inventory/changes/batch-create (BatchChangeInventory).
http::Response SquareSimulator::Account::batch_change(const http::Request& request) {
  auto body = parse_exact(request.body);
  if (!body || !body->is_object()) return bad_request("EXPECTED_JSON_BODY", "The request body is not a JSON object.");
  const json key_value = body->value("idempotency_key", json());
  if (!key_value.is_string() || key_value.get<std::string>().empty())
    return bad_request("MISSING_REQUIRED_PARAMETER", "Field must be set", "idempotency_key");
  const std::string key = key_value.get<std::string>();
  if (key.size() > 128) return bad_request("VALUE_TOO_LONG", "Must be at most 128 characters.", "idempotency_key");
  core_.inspection().count_key("idempotency_key", key);
  const std::string fingerprint = dump_exact(*body);
  if (auto seen = idempotent_.find(key); seen != idempotent_.end()) {
    if (seen->second.first != fingerprint)
      return bad_request("IDEMPOTENCY_KEY_REUSED",
                         "The idempotency key can only be retried with the same request data.", "idempotency_key");
    return exact_json_response(200, seen->second.second);  // the first answer again, nothing applied twice
  }
  auto decoded = decode_batch_change_inventory(request.body);
  if (!decoded) return bad_request("INVALID_VALUE", decoded.error().message);
  if (decoded->changes.empty()) return bad_request("ARRAY_EMPTY", "At least one change is required.", "changes");
  if (decoded->changes.size() > kMaxChanges)
    return bad_request("ARRAY_LENGTH_TOO_LONG", "At most 100 changes.", "changes");
  const bool ignore_unchanged = decoded->ignore_unchanged_counts.value_or(true);
  // Every change is checked before any is applied: a bad one applies nothing.
  for (std::size_t i = 0; i < decoded->changes.size(); ++i) {
    const auto& change = decoded->changes[i];
    const auto* fields = std::visit([](const auto& c) -> const InventoryChangeFields* { return &c; }, change);
    const std::string at = "changes[" + std::to_string(i) + "]." +
                           (std::holds_alternative<PhysicalCount>(change) ? "physical_count" : "adjustment");
    if (!variations_.contains(fields->catalog_object_id))
      return bad_request("INVALID_VALUE", "No ITEM_VARIATION with this id.", at + ".catalog_object_id");
    if (!locations_.contains(fields->location_id))
      return bad_request("INVALID_VALUE", "No location with this id.", at + ".location_id");
    if (const auto* count = std::get_if<PhysicalCount>(&change)) {
      if (!tracked_state(count->state)) return bad_request("INVALID_ENUM_VALUE", "Invalid state.", at + ".state");
      if (count->quantity.is_negative())
        return bad_request("VALUE_TOO_LOW", "The quantity must not be negative.", at + ".quantity");
    } else {
      const auto& adjustment = std::get<InventoryAdjustment>(change);
      if (!known_state(adjustment.from_state))
        return bad_request("INVALID_ENUM_VALUE", "Invalid from_state.", at + ".from_state");
      if (!known_state(adjustment.to_state))
        return bad_request("INVALID_ENUM_VALUE", "Invalid to_state.", at + ".to_state");
      if (adjustment.from_state == adjustment.to_state)
        return bad_request("INVALID_VALUE", "from_state and to_state must differ.", at);
      if (!(adjustment.quantity > Quantity{}))
        return bad_request("VALUE_TOO_LOW", "The quantity must be positive.", at + ".quantity");
    }
  }
  const std::string now = now_text();
  std::set<CountKey> changed;
  std::set<std::pair<std::string, std::string>> referenced;
  json changes = json::array();
  for (const auto& change : decoded->changes) {
    const auto* fields = std::visit([](const auto& c) -> const InventoryChangeFields* { return &c; }, change);
    referenced.emplace(fields->catalog_object_id, fields->location_id);
    core_.inspection().count_key("inventory_item_location", fields->catalog_object_id + "@" + fields->location_id);
    json c{{"id", new_id(32, false)},
           {"catalog_object_id", fields->catalog_object_id},
           {"catalog_object_type", "ITEM_VARIATION"},
           {"location_id", fields->location_id},
           {"quantity", fields->quantity.to_string()},
           {"occurred_at", fields->occurred_at.to_string()},
           {"created_at", now},
           {"source", {{"product", "EXTERNAL_API"}, {"name", "Trueup"}}}};
    if (fields->reference_id) c["reference_id"] = *fields->reference_id;
    if (fields->team_member_id) c["team_member_id"] = *fields->team_member_id;
    if (const auto* count = std::get_if<PhysicalCount>(&change)) {
      const CountKey key{count->catalog_object_id, count->location_id, count->state};
      auto it = counts_.find(key);
      if (ignore_unchanged && it != counts_.end() && it->second.quantity == count->quantity) continue;
      put_count(key, count->quantity);
      changed.insert(key);
      c["state"] = count->state;
      changes.push_back(json{{"type", "PHYSICAL_COUNT"}, {"physical_count", std::move(c)}});
    } else {
      const auto& a = std::get<InventoryAdjustment>(change);
      if (auto st = move(a.catalog_object_id, a.location_id, a.from_state, a.to_state, a.quantity, changed); !st)
        return bad_request("VALUE_TOO_HIGH", st.error().message, "changes");
      c["from_state"] = a.from_state;
      c["to_state"] = a.to_state;
      changes.push_back(json{{"type", "ADJUSTMENT"}, {"adjustment", std::move(c)}});
    }
  }
  json counts = json::array();
  for (const auto& [object, location] : referenced)
    for (auto& c : counts_of(object, location)) counts.push_back(std::move(c));
  json answer{{"counts", std::move(counts)}, {"changes", std::move(changes)}};
  idempotent_[key] = {fingerprint, answer};
  core_.inspection().record_write("inventory.batch_change", *body);
  Events events;
  counts_event(events, changed);
  publish(events);
  return exact_json_response(200, answer);
}

// POST /v2/inventory/counts/batch-retrieve (BatchRetrieveInventoryCounts).
http::Response SquareSimulator::Account::batch_retrieve_counts(const http::Request& request) {
  auto body = request.body.empty() ? Result<json>(json::object()) : parse_exact(request.body);
  if (!body || !body->is_object()) return bad_request("EXPECTED_JSON_BODY", "The request body is not a JSON object.");
  std::vector<std::string> objects, locations, states;
  if (auto e = read_strings(*body, "catalog_object_ids", 1000, objects)) return *e;
  if (auto e = read_strings(*body, "location_ids", 1000, locations)) return *e;
  if (auto e = read_strings(*body, "states", 20, states)) return *e;
  for (const auto& s : states)
    if (!known_state(s)) return bad_request("INVALID_ENUM_VALUE", "Invalid state " + s + ".", "states");
  std::optional<model::Timestamp> after;
  if (auto it = body->find("updated_after"); it != body->end() && !it->is_null()) {
    auto t = it->is_string() ? model::Timestamp::parse(it->get<std::string>()) : Result<model::Timestamp>(Error{});
    if (!t) return bad_request("INVALID_TIME", "Expected an RFC 3339 timestamp.", "updated_after");
    after = *t;
  }
  std::int64_t limit = kMaxCountsLimit;
  if (auto it = body->find("limit"); it != body->end() && !it->is_null()) {
    auto v = int_value(*it);
    if (!v || *v < 1 || *v > kMaxCountsLimit) return bad_request("INVALID_VALUE", "limit must be 1 to 1000.", "limit");
    limit = *v;
  }
  std::optional<CountKey> from;
  if (auto it = body->find("cursor"); it != body->end() && !it->is_null()) {
    auto cursor = decode_cursor(*it);
    const json k = cursor ? cursor->value("after", json()) : json();
    if (!k.is_array() || k.size() != 3 || !k[0].is_string() || !k[1].is_string() || !k[2].is_string())
      return bad_request("INVALID_CURSOR", "The cursor is not valid.", "cursor");
    from = CountKey{k[0].get<std::string>(), k[1].get<std::string>(), k[2].get<std::string>()};
  }
  const std::set<std::string> object_set(objects.begin(), objects.end()),
      location_set(locations.begin(), locations.end()), state_set(states.begin(), states.end());
  json counts = json::array();
  std::optional<CountKey> last;
  bool more = false;
  for (auto it = from ? counts_.upper_bound(*from) : counts_.begin(); it != counts_.end(); ++it) {
    const auto& [key, count] = *it;
    if (!object_set.empty() && !object_set.contains(key.object)) continue;
    if (!location_set.empty() && !location_set.contains(key.location)) continue;
    if (!state_set.empty() && !state_set.contains(key.state)) continue;
    if (after && count.at.compare_instant(*after) <= 0) continue;
    if (static_cast<std::int64_t>(counts.size()) == limit) {
      more = true;
      break;
    }
    counts.push_back(count_json(key, count));
    last = key;
  }
  // Square answers {} when nothing matches.
  json answer = json::object();
  if (!counts.empty()) answer["counts"] = std::move(counts);
  if (more && last) answer["cursor"] = encode_cursor(json{{"after", {last->object, last->location, last->state}}});
  return exact_json_response(200, answer);
}

// ---- Orders API -------------------------------------------------------------

http::Response SquareSimulator::Account::get_order(const http::Request& request) {
  auto it = orders_.find(request.params.at("order_id"));
  if (it == orders_.end()) return not_found("Order not found.", "order_id");
  return exact_json_response(200, json{{"order", it->second}});
}

http::Response SquareSimulator::Account::batch_retrieve_orders(const http::Request& request) {
  auto body = parse_exact(request.body);
  if (!body || !body->is_object()) return bad_request("EXPECTED_JSON_BODY", "The request body is not a JSON object.");
  std::vector<std::string> ids;
  if (auto e = read_strings(*body, "order_ids", kMaxBatchOrders, ids)) return *e;
  if (ids.empty()) return bad_request("MISSING_REQUIRED_PARAMETER", "Field must be set", "order_ids");
  const json location = body->value("location_id", json());
  json orders = json::array();
  for (const auto& id : ids) {
    auto it = orders_.find(id);
    if (it == orders_.end()) continue;
    if (location.is_string() && it->second.value("location_id", json()) != location) continue;
    orders.push_back(it->second);
  }
  json answer = json::object();
  if (!orders.empty()) answer["orders"] = std::move(orders);
  return exact_json_response(200, answer);
}

// POST /v2/orders/search: location_ids (1..10), query.filter.{state_filter,
// date_time_filter.<field>{start_at, end_at}}, query.sort, limit, cursor,
// return_entries. The cursor keeps the position (sort time, id), so orders
// changed between pages are not skipped.
http::Response SquareSimulator::Account::search_orders(const http::Request& request) {
  auto body = parse_exact(request.body);
  if (!body || !body->is_object()) return bad_request("EXPECTED_JSON_BODY", "The request body is not a JSON object.");
  std::vector<std::string> locations;
  if (auto e = read_strings(*body, "location_ids", kMaxSearchLocations, locations)) return *e;
  if (locations.empty()) return bad_request("MISSING_REQUIRED_PARAMETER", "Field must be set", "location_ids");
  for (const auto& l : locations)
    if (!locations_.contains(l))
      return square_error(403, "AUTHENTICATION_ERROR", "FORBIDDEN", "Location " + l + " is not of this merchant.",
                          "location_ids");
  const json query = body->value("query", json::object());
  if (!query.is_object()) return bad_request("EXPECTED_OBJECT", "Expected an object.", "query");
  const json filter = query.value("filter", json::object());
  const json sort = query.value("sort", json::object());
  if (!filter.is_object() || !sort.is_object()) return bad_request("EXPECTED_OBJECT", "Expected an object.", "query");
  const std::string sort_field = sort.value("sort_field", "CREATED_AT");
  const std::string sort_order = sort.value("sort_order", "DESC");
  if (sort_field != "CREATED_AT" && sort_field != "UPDATED_AT" && sort_field != "CLOSED_AT")
    return bad_request("INVALID_ENUM_VALUE", "Invalid sort_field.", "query.sort.sort_field");
  if (sort_order != "ASC" && sort_order != "DESC")
    return bad_request("INVALID_SORT_ORDER", "Invalid sort_order.", "query.sort.sort_order");
  std::string field = sort_field;
  std::transform(field.begin(), field.end(), field.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
  std::optional<model::Timestamp> start, end;
  if (auto dt = filter.find("date_time_filter"); dt != filter.end() && !dt->is_null()) {
    if (!dt->is_object() || dt->size() > 1)
      return bad_request("INVALID_VALUE", "Give one time range.", "query.filter.date_time_filter");
    for (const auto& [name, range] : dt->items()) {
      if (name != field)
        return bad_request("BAD_REQUEST", "The date_time_filter field must match query.sort.sort_field.",
                           "query.sort.sort_field");
      for (const char* bound : {"start_at", "end_at"}) {
        if (!range.is_object() || !range.contains(bound)) continue;
        auto t = range[bound].is_string() ? model::Timestamp::parse(range[bound].get<std::string>())
                                          : Result<model::Timestamp>(Error{});
        if (!t) return bad_request("INVALID_TIME", "Expected an RFC 3339 timestamp.", bound);
        (std::string_view(bound) == "start_at" ? start : end) = *t;
      }
    }
  }
  std::set<std::string> states;
  if (auto sf = filter.find("state_filter"); sf != filter.end() && sf->is_object()) {
    std::vector<std::string> list;
    if (auto e = read_strings(*sf, "states", 10, list)) return *e;
    states.insert(list.begin(), list.end());
  }
  std::int64_t limit = kDefaultOrdersLimit;
  if (auto it = body->find("limit"); it != body->end() && !it->is_null()) {
    auto v = int_value(*it);
    if (!v || *v < 1 || *v > kMaxOrdersLimit) return bad_request("INVALID_VALUE", "limit must be 1 to 1000.", "limit");
    limit = *v;
  }
  const bool entries = body->value("return_entries", false);
  // The cursor belongs to this query.
  const std::string query_hash =
      sha256_hex(dump_exact(json{{"l", locations}, {"q", query}, {"e", entries}})).substr(0, 16);
  std::optional<std::pair<std::int64_t, std::string>> position;
  if (auto it = body->find("cursor"); it != body->end() && !it->is_null()) {
    auto cursor = decode_cursor(*it);
    if (!cursor || cursor->value("q", "") != query_hash || !cursor->value("t", json()).is_number_integer() ||
        !cursor->value("id", json()).is_string())
      return bad_request("INVALID_CURSOR", "The cursor is not valid for this query.", "cursor");
    position.emplace((*cursor)["t"].get<std::int64_t>(), (*cursor)["id"].get<std::string>());
  }
  const std::set<std::string> location_set(locations.begin(), locations.end());
  std::vector<std::pair<std::pair<std::int64_t, std::string>, const json*>> selected;
  for (const auto& [id, order] : orders_) {
    if (!location_set.contains(text_of(order, "location_id"))) continue;
    if (!states.empty() && !states.contains(text_of(order, "state"))) continue;
    auto t = model::Timestamp::parse(text_of(order, field));
    if (!t) continue;  // an order without the field (closed_at of an open order) is not in the sort
    if (start && t->compare_instant(*start) < 0) continue;
    if (end && t->compare_instant(*end) >= 0) continue;
    selected.push_back({{t->utc().time_since_epoch().count(), id}, &order});
  }
  const bool ascending = sort_order == "ASC";
  std::sort(selected.begin(), selected.end(),
            [ascending](const auto& a, const auto& b) { return ascending ? a.first < b.first : a.first > b.first; });
  json out = json::array();
  std::optional<std::pair<std::int64_t, std::string>> last;
  bool more = false;
  for (const auto& [pos, order] : selected) {
    if (position && (ascending ? pos <= *position : pos >= *position)) continue;
    if (static_cast<std::int64_t>(out.size()) == limit) {
      more = true;
      break;
    }
    if (entries)
      out.push_back(json{{"order_id", (*order)["id"]},
                         {"location_id", (*order)["location_id"]},
                         {"version", order->value("version", json(1))}});
    else
      out.push_back(*order);
    last = pos;
  }
  json answer = json::object();
  if (!out.empty()) answer[entries ? "order_entries" : "orders"] = std::move(out);
  if (more && last) answer["cursor"] = encode_cursor(json{{"q", query_hash}, {"t", last->first}, {"id", last->second}});
  return exact_json_response(200, answer);
}

// ---- Catalog, locations, refunds --------------------------------------------

http::Response SquareSimulator::Account::get_catalog_object(const http::Request& request) {
  const std::string& id = request.params.at("object_id");
  auto query = http::parse_query(request.query).value_or(std::map<std::string, std::string>{});
  const bool related = query.count("include_related_objects") && query["include_related_objects"] == "true";
  if (auto v = variations_.find(id); v != variations_.end()) {
    json answer{{"object", v->second}};
    if (related)
      answer["related_objects"] =
          json::array({items_.at(v->second["item_variation_data"]["item_id"].get<std::string>())});
    return exact_json_response(200, answer);
  }
  if (auto i = items_.find(id); i != items_.end()) {
    json item = i->second;
    item["item_data"]["variations"] = json::array();
    for (const auto& [vid, v] : variations_)
      if (v["item_variation_data"]["item_id"] == id) item["item_data"]["variations"].push_back(v);
    return exact_json_response(200, json{{"object", std::move(item)}});
  }
  return not_found("Object with ID `" + id + "` not found.", "object_id");
}

http::Response SquareSimulator::Account::list_locations(const http::Request&) {
  json out = json::array();
  for (const auto& [id, location] : locations_) out.push_back(location);
  return exact_json_response(200, json{{"locations", std::move(out)}});
}

http::Response SquareSimulator::Account::get_refund(const http::Request& request) {
  auto it = refunds_.find(request.params.at("refund_id"));
  if (it == refunds_.end()) return not_found("Refund not found.", "refund_id");
  return exact_json_response(200, json{{"refund", it->second}});
}

// ---- Sales (admin) ----------------------------------------------------------

Status SquareSimulator::Account::complete(json& order, const json& tender_spec, const std::string& at,
                                          std::set<CountKey>& changed) {
  const std::string type = tender_spec.is_object() ? tender_spec.value("type", "CARD") : "CARD";
  if (type != "CARD" && type != "CASH" && type != "OTHER" && type != "SQUARE_GIFT_CARD" && type != "WALLET")
    return invalid(at + "/tender/type", "CARD, CASH, OTHER, SQUARE_GIFT_CARD or WALLET");
  const std::string location = order["location_id"].get<std::string>();
  for (const auto& line : order["line_items"]) {
    if (!line.contains("catalog_object_id")) continue;
    auto q = Quantity::parse(line["quantity"].get<std::string>());
    if (auto st = move(line["catalog_object_id"].get<std::string>(), location, "IN_STOCK", "SOLD", *q, changed); !st)
      return invalid(at, st.error().message);
  }
  const std::string payment_id = new_id(29, true);
  const std::string now = order.value("closed_at", json()).is_string() ? order["closed_at"].get<std::string>()
                                                                       : order["updated_at"].get<std::string>();
  json tender{{"id", payment_id},
              {"location_id", location},
              {"transaction_id", order["id"]},
              {"created_at", now},
              {"amount_money", order["total_money"]},
              {"type", type},
              {"payment_id", payment_id}};
  if (type == "CARD")
    tender["card_details"] = json{{"status", "CAPTURED"},
                                  {"card", {{"card_brand", "VISA"}, {"last_4", "1111"}, {"fingerprint", "sq-1-sim"}}},
                                  {"entry_method", "EMV"}};
  if (type == "CASH")
    tender["cash_details"] =
        json{{"buyer_tendered_money", order["total_money"]},
             {"change_back_money", {{"amount", 0}, {"currency", order["total_money"]["currency"]}}}};
  order["tenders"] = json::array({std::move(tender)});
  order["state"] = "COMPLETED";
  order["closed_at"] = now;
  order["net_amount_due_money"] = json{{"amount", 0}, {"currency", order["total_money"]["currency"]}};
  return Ok{};
}

// An order from a compact sale spec (SIMULATOR.md), as a full Order. With
// `events`, the webhooks are collected: order.created (OPEN, version 1) unless
// the spec says otherwise, order.updated (COMPLETED, version 2) and
// inventory.count.updated for the stock the sale took.
Result<json> SquareSimulator::Account::build_sale(const json& spec, const std::string& at, Events* events) {
  if (!spec.is_object()) return invalid(at, "expected an object");
  static const std::set<std::string> members{"id",          "location_id",        "line_items", "tender",
                                             "state",       "reference_id",       "created_at", "source_name",
                                             "ticket_name", "order_created_event"};
  for (const auto& [name, value] : spec.items())
    if (!members.contains(name)) return invalid(at + "/" + name, "unknown member");
  std::string id;
  if (auto given = spec.find("id"); given != spec.end()) {
    if (!given->is_string() || given->get<std::string>().empty()) return invalid(at + "/id", "expected text");
    id = given->get<std::string>();
    if (orders_.contains(id)) return invalid(at + "/id", "an order with this id exists");
  } else {
    id = new_id(27, true);
  }
  std::string location = locations_.empty() ? std::string() : locations_.begin()->first;
  if (auto given = spec.find("location_id"); given != spec.end()) {
    if (!given->is_string() || !locations_.contains(given->get<std::string>()))
      return invalid(at + "/location_id", "unknown location");
    location = given->get<std::string>();
  }
  if (location.empty()) return invalid(at + "/location_id", "the account has no location");
  const std::string state = spec.value("state", "COMPLETED");
  if (state != "COMPLETED" && state != "OPEN") return invalid(at + "/state", "COMPLETED or OPEN");
  std::string created = now_text();
  if (auto c = spec.find("created_at"); c != spec.end()) {
    if (!c->is_string() || !model::Timestamp::parse(c->get<std::string>()))
      return invalid(at + "/created_at", "expected an RFC 3339 timestamp");
    created = c->get<std::string>();
  }
  const bool created_event = spec.value("order_created_event", true);
  auto lines = spec.find("line_items");
  if (lines == spec.end() || !lines->is_array() || lines->empty())
    return invalid(at + "/line_items", "expected a non-empty array");
  auto currency = Currency::from_code(currency_);
  Money total = Money::zero(*currency);
  json line_items = json::array();
  for (std::size_t i = 0; i < lines->size(); ++i) {
    const json& l = (*lines)[i];
    const std::string lat = at + "/line_items/" + std::to_string(i);
    if (!l.is_object()) return invalid(lat, "expected an object");
    auto variation = variation_of(l, lat);
    if (!variation) return variation.error();
    const json& v = **variation;
    auto q = quantity_of(l.value("quantity", json()));
    if (!q || !(*q > Quantity{})) return invalid(lat + "/quantity", "expected a positive decimal string");
    std::optional<Money> price = price_of(v);
    if (auto given = l.find("base_price_money"); given != l.end()) {
      const json amount = given->is_object() ? given->value("amount", json()) : json();
      if (!amount.is_number_integer()) return invalid(lat + "/base_price_money", "expected {amount, currency}");
      price = Money::from_minor(amount.get<std::int64_t>(), *currency);
    }
    if (!price) return invalid(lat + "/base_price_money", "the variation has no fixed price: give base_price_money");
    if (!(price->currency() == *currency)) return invalid(lat, "the price is not in the merchant's currency");
    auto extended = extend_price(*price, *q);
    if (!extended) return invalid(lat + "/quantity", extended.error().message);
    auto sum = total.add(*extended);
    if (!sum) return invalid(lat, sum.error().message);
    total = *sum;
    const json& data = v["item_variation_data"];
    const json zero = money_json(Money::zero(*currency));
    line_items.push_back(json{{"uid", new_id(22, true)},
                              {"name", items_.at(data["item_id"].get<std::string>())["item_data"]["name"]},
                              {"quantity", q->to_string()},
                              {"catalog_object_id", v["id"]},
                              {"catalog_version", v["version"]},
                              {"variation_name", data["name"]},
                              {"item_type", "ITEM"},
                              {"base_price_money", money_json(*price)},
                              {"variation_total_price_money", money_json(*extended)},
                              {"gross_sales_money", money_json(*extended)},
                              {"total_tax_money", zero},
                              {"total_discount_money", zero},
                              {"total_money", money_json(*extended)},
                              {"total_service_charge_money", zero}});
  }
  const json zero = money_json(Money::zero(*currency));
  json order{{"id", id},
             {"location_id", location},
             {"source", {{"name", spec.value("source_name", "Square Point of Sale")}}},
             {"line_items", std::move(line_items)},
             {"net_amounts",
              {{"total_money", money_json(total)},
               {"tax_money", zero},
               {"discount_money", zero},
               {"tip_money", zero},
               {"service_charge_money", zero}}},
             {"created_at", created},
             {"updated_at", created},
             {"state", "OPEN"},
             {"version", 1},
             {"total_money", money_json(total)},
             {"total_tax_money", zero},
             {"total_discount_money", zero},
             {"total_tip_money", zero},
             {"total_service_charge_money", zero},
             {"net_amount_due_money", money_json(total)}};
  for (const char* text : {"reference_id", "ticket_name"})
    if (auto it = spec.find(text); it != spec.end()) {
      if (!it->is_string()) return invalid(at + "/" + text, "expected text");
      order[text] = *it;
    }
  std::set<CountKey> changed;
  if (events != nullptr && created_event) order_event(*events, "created", order);
  if (state == "COMPLETED") {
    if (auto st = complete(order, spec.value("tender", json::object()), at, changed); !st) return st.error();
    order["version"] = 2;
    if (events != nullptr) order_event(*events, "updated", order);
  }
  orders_[id] = order;
  if (events != nullptr) counts_event(*events, changed);
  return order;
}

http::Response SquareSimulator::Account::admin_create_sales(const http::Request& request) {
  auto spec = parse_exact(request.body);
  if (!spec || !spec->is_object()) return admin_problem(400, "the body is not a JSON object");
  std::int64_t count = 1;
  if (auto it = spec->find("count"); it != spec->end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > 10000)
      return admin_problem(400, "/count: expected 1..10000");
    count = it->get<std::int64_t>();
    spec->erase("count");
  }
  if (count > 1 && spec->contains("id")) return admin_problem(400, "/id: not with count");
  Events events;
  json created = json::array();
  for (std::int64_t i = 0; i < count; ++i) {
    auto order = build_sale(*spec, "", &events);
    if (!order) {
      publish(events);  // the sales made before this one stand
      return admin_problem(400, order.error().message);
    }
    created.push_back(std::move(*order));
  }
  publish(events);
  return exact_json_response(201, json{{"orders", std::move(created)}});
}

// PUT /_sim/orders/{id}: {"state": "COMPLETED" | "CANCELED", "tender"?,
// "reference_id"?, "ticket_name"?}; version + 1, order.updated.
http::Response SquareSimulator::Account::admin_update_order(const http::Request& request) {
  auto it = orders_.find(request.params.at("id"));
  if (it == orders_.end()) return admin_problem(404, "no such order");
  auto patch = parse_exact(request.body);
  if (!patch || !patch->is_object()) return admin_problem(400, "the body is not a JSON object");
  json order = it->second;
  for (const auto& [name, value] : patch->items()) {
    if (name == "reference_id" || name == "ticket_name") {
      if (!value.is_string()) return admin_problem(400, "/" + name + ": expected text");
      order[name] = value;
    } else if (name != "state" && name != "tender") {
      return admin_problem(400, "/" + name + ": unknown member (state, tender, reference_id, ticket_name)");
    }
  }
  const std::string now = now_text();
  order["updated_at"] = now;
  std::set<CountKey> changed;
  if (auto state = patch->find("state"); state != patch->end()) {
    if (order["state"] != "OPEN") return admin_problem(400, "/state: only an OPEN order changes state");
    if (*state == "COMPLETED") {
      order["closed_at"] = now;
      if (auto st = complete(order, patch->value("tender", json::object()), "", changed); !st)
        return admin_problem(400, st.error().message);
    } else if (*state == "CANCELED") {
      order["state"] = "CANCELED";
      order["closed_at"] = now;
    } else {
      return admin_problem(400, "/state: COMPLETED or CANCELED");
    }
  }
  order["version"] = order.value("version", 1) + 1;
  it->second = order;
  Events events;
  order_event(events, "updated", order);
  counts_event(events, changed);
  publish(events);
  return exact_json_response(200, json{{"order", order}});
}

// POST /_sim/refunds: an itemized return of a completed sale: a return order
// (returns[].source_order_id = the sale), a PaymentRefund of its amount
// against the sale's tender, restocked units (SOLD -> IN_STOCK).
http::Response SquareSimulator::Account::admin_create_refund(const http::Request& request) {
  auto spec = parse_exact(request.body);
  if (!spec || !spec->is_object()) return admin_problem(400, "the body is not a JSON object");
  auto order_it = orders_.find(spec->value("order_id", ""));
  if (order_it == orders_.end()) return admin_problem(404, "/order_id: no such order");
  const json& sale = order_it->second;
  if (text_of(sale, "state") != "COMPLETED" || !sale.contains("tenders") || sale["tenders"].empty())
    return admin_problem(400, "/order_id: only a COMPLETED order with a tender is refunded");
  auto lines = spec->find("return_line_items");
  if (lines == spec->end() || !lines->is_array() || lines->empty())
    return admin_problem(400, "/return_line_items: expected a non-empty array");
  const bool restock = spec->value("restock", true);
  const std::string location = sale["location_id"].get<std::string>();
  auto currency = Currency::from_code(sale["total_money"]["currency"].get<std::string>());
  Money total = Money::zero(*currency);
  const json zero = money_json(Money::zero(*currency));
  json return_lines = json::array();
  std::vector<std::tuple<std::string, std::string, Quantity>> taken_back;  // line uid, variation, quantity
  for (std::size_t i = 0; i < lines->size(); ++i) {
    const json& l = (*lines)[i];
    const std::string at = "/return_line_items/" + std::to_string(i);
    if (!l.is_object()) return admin_problem(400, at + ": expected an object");
    const json uid = l.value("source_line_item_uid", json());
    const json* line = nullptr;
    for (const auto& candidate : sale["line_items"])
      if (candidate.value("uid", json()) == uid) line = &candidate;
    if (line == nullptr) return admin_problem(400, at + "/source_line_item_uid: not a line of this order");
    auto q = quantity_of(l.value("quantity", json()));
    const auto sold = Quantity::parse((*line)["quantity"].get<std::string>());
    const Quantity before = returned_[{sale["id"].get<std::string>(), uid.get<std::string>()}];
    auto after = q ? before.add(*q) : Result<Quantity>(Error{});
    if (!q || !(*q > Quantity{}) || !after || !sold || *after > *sold)
      return admin_problem(400, at + "/quantity: more than 0 and at most what was sold and not yet returned");
    auto price = Money::from_minor((*line)["base_price_money"]["amount"].get<std::int64_t>(), *currency);
    auto amount = extend_price(price, *q);
    if (!amount) return admin_problem(400, at + ": " + amount.error().message);
    total = *total.add(*amount);
    json r{{"uid", new_id(22, true)},
           {"source_line_item_uid", uid},
           {"name", (*line)["name"]},
           {"quantity", q->to_string()},
           {"item_type", "ITEM"},
           {"base_price_money", (*line)["base_price_money"]},
           {"variation_total_price_money", money_json(*amount)},
           {"gross_return_money", money_json(*amount)},
           {"total_tax_money", zero},
           {"total_discount_money", zero},
           {"total_money", money_json(*amount)}};
    for (const char* member : {"catalog_object_id", "catalog_version", "variation_name"})
      if (line->contains(member)) r[member] = (*line)[member];
    return_lines.push_back(std::move(r));
    taken_back.emplace_back(uid.get<std::string>(), line->value("catalog_object_id", ""), *q);
  }
  const std::string now = now_text();
  const std::string return_id = new_id(27, true);
  const json& tender = sale["tenders"][0];
  const std::string payment_id = tender.value("payment_id", tender["id"].get<std::string>());
  const std::string refund_id = payment_id + "_" + new_id(44, true);
  const std::string reason = spec->value("reason", "Returned goods");
  json amounts{{"total_money", money_json(total)},
               {"tax_money", zero},
               {"discount_money", zero},
               {"tip_money", zero},
               {"service_charge_money", zero}};
  auto negated = total.negate();
  json net = amounts;
  net["total_money"] = money_json(*negated);
  json return_order{{"id", return_id},
                    {"location_id", location},
                    {"source", {{"name", "Square Point of Sale"}}},
                    {"returns", json::array({json{{"uid", new_id(22, true)},
                                                  {"source_order_id", sale["id"]},
                                                  {"return_line_items", std::move(return_lines)},
                                                  {"return_amounts", amounts}}})},
                    {"return_amounts", amounts},
                    {"net_amounts", net},
                    {"refunds", json::array({json{{"id", refund_id},
                                                  {"location_id", location},
                                                  {"transaction_id", sale["id"]},
                                                  {"tender_id", tender["id"]},
                                                  {"created_at", now},
                                                  {"reason", reason},
                                                  {"amount_money", money_json(total)},
                                                  {"status", "APPROVED"}}})},
                    {"created_at", now},
                    {"updated_at", now},
                    {"closed_at", now},
                    {"state", "COMPLETED"},
                    {"version", 1},
                    {"total_money", zero},
                    {"total_tax_money", zero},
                    {"total_discount_money", zero},
                    {"total_tip_money", zero},
                    {"total_service_charge_money", zero},
                    {"net_amount_due_money", zero}};
  json refund{{"id", refund_id},
              {"status", "PENDING"},
              {"location_id", location},
              {"amount_money", money_json(total)},
              {"payment_id", payment_id},
              {"order_id", return_id},
              {"reason", reason},
              {"destination_type", tender.value("type", "CARD")},
              {"created_at", now},
              {"updated_at", now},
              {"version", 1}};
  std::set<CountKey> changed;
  for (const auto& [uid, variation, q] : taken_back) {
    returned_[{sale["id"].get<std::string>(), uid}] = *returned_[{sale["id"].get<std::string>(), uid}].add(q);
    if (restock && !variation.empty() && variations_.contains(variation))
      if (auto st = move(variation, location, "SOLD", "IN_STOCK", q, changed); !st)
        return admin_problem(400, st.error().message);
  }
  orders_[return_id] = return_order;
  Events events;
  event(events, "refund.created", "refund", refund_id, json{{"refund", refund}});
  refund["status"] = "COMPLETED";
  refund["version"] = 2;
  refund["updated_at"] = now_text();
  event(events, "refund.updated", "refund", refund_id, json{{"refund", refund}});
  refunds_[refund_id] = refund;
  counts_event(events, changed);
  publish(events);
  return exact_json_response(201, json{{"refund", refund}, {"return_order", return_order}});
}

// PUT /_sim/inventory_counts: {catalog_object_id | sku, location_id,
// quantity, state?}: a count set in the Square Dashboard; always
// inventory.count.updated.
http::Response SquareSimulator::Account::admin_set_count(const http::Request& request) {
  auto spec = parse_exact(request.body);
  if (!spec || !spec->is_object()) return admin_problem(400, "the body is not a JSON object");
  auto variation = variation_of(*spec, "");
  if (!variation) return admin_problem(400, variation.error().message);
  const std::string location = text_of(*spec, "location_id");
  if (!locations_.contains(location)) return admin_problem(400, "/location_id: unknown location");
  const std::string state = spec->value("state", "IN_STOCK");
  if (!tracked_state(state)) return admin_problem(400, "/state: a tracked InventoryState");
  auto q = quantity_of(spec->value("quantity", json()));
  if (!q) return admin_problem(400, "/quantity: expected a decimal string");
  const CountKey key{(**variation)["id"].get<std::string>(), location, state};
  put_count(key, *q);
  Events events;
  counts_event(events, {key});
  publish(events);
  return exact_json_response(200, json{{"counts", json::array({count_json(key, counts_.at(key))})}});
}

// ---- Settings and wiring ----------------------------------------------------

Result<SquareSimulatorSettings> apply_simulator_config(const SquareSimulatorSettings& base, const json& config) {
  SquareSimulatorSettings s = base;
  if (!config.is_object()) return invalid("", "the config must be a mapping");
  for (const auto& [name, value] : config.items()) {
    const std::string at = "/" + name;
    if (auto core = sim::apply_core_config_member(name, value, s.faults, s.webhooks)) {
      if (!*core) return core->error();
    } else if (name == "merchant_id" && value.is_string()) {
      s.merchant_id = value.get<std::string>();
    } else if (name == "api_version" && value.is_string()) {
      s.api_version = value.get<std::string>();
    } else if (name == "notification_url" && value.is_string()) {
      s.notification_url = value.get<std::string>();
    } else if ((name == "rate_per_second" || name == "burst") && (value.is_number() || is_decimal_text(value))) {
      const double v = value.is_number() ? value.get<double>() : std::stod(*number_text(value));
      if (!(v > 0) || v > 100000) return invalid(at, "expected a positive number");
      (name == "rate_per_second" ? s.rate_per_second : s.burst) = v;
    } else {
      return invalid(at,
                     "unknown member or wrong type (merchant_id, api_version, notification_url, rate_per_second, "
                     "burst, faults, webhooks)");
    }
  }
  return s;
}

SquareSimulator::SquareSimulator(SquareSimulatorSettings settings) : settings_(std::move(settings)) {}

SquareSimulator::~SquareSimulator() { stop(); }

Result<std::unique_ptr<SquareSimulator>> SquareSimulator::create(SquareSimulatorSettings settings, const json& seed) {
  if (settings.access_token.empty())
    return make_error(Errc::invalid_argument, "the simulator needs an access token (Authorization: Bearer)");
  if (!settings.webhooks.url.empty() && settings.signature_key.empty())
    return make_error(Errc::invalid_argument, "webhooks need the subscription's signature key that signs them");
  std::unique_ptr<SquareSimulator> sim(new SquareSimulator(std::move(settings)));
  const SquareSimulatorSettings& s = sim->settings_;
  SquareSimulator* self = sim.get();

  sim::ApiPolicy policy;
  policy.authenticate = [token = s.access_token](const http::Request& r) -> std::optional<http::Response> {
    const std::string* given = r.header("authorization");
    if (given == nullptr)
      return square_error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED",
                          "Your request did not include an `Authorization` http header with an access token. The "
                          "header value is expected to be of the format \"Bearer TOKEN\" (without quotation marks), "
                          "where TOKEN is to be replaced with your access token (e.g. \"Bearer ABC123def456GHI789jkl0"
                          "\"). For more information, see https://docs.connect.squareup.com/api/connect/v2/"
                          "#requestandresponseheaders. If you are seeing this error message while using one of our "
                          "officially supported SDKs, please report this to developers@squareup.com.");
    if (!given->starts_with("Bearer "))
      return square_error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED",
                          "The `Authorization` http header of your request was malformed. The header value is "
                          "expected to be of the format \"Bearer TOKEN\" (without quotation marks), where TOKEN is "
                          "the access token.");
    if (constant_time_equal(std::string_view(*given).substr(7), token)) return std::nullopt;
    return square_error(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", "This request could not be authorized.");
  };
  // Square sends no Retry-After and no rate-limit headers.
  policy.throttled = [](std::chrono::nanoseconds) {
    return square_error(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Rate limit exceeded; try again later.");
  };
  policy.injected_error = [](int status) {
    return square_error(status, "API_ERROR",
                        status == 503   ? "SERVICE_UNAVAILABLE"
                        : status == 502 ? "BAD_GATEWAY"
                        : status == 504 ? "GATEWAY_TIMEOUT"
                                        : "INTERNAL_SERVER_ERROR",
                        "An internal error has occurred, and the API was unable to service your request.");
  };
  auto signer = [self](const sim::WebhookEvent& e, std::string_view) {
    const SquareSimulatorSettings& s = self->settings_;
    const std::string url = s.notification_url.empty() ? self->core_->webhooks().url() : s.notification_url;
    http::HeaderFields h;
    h.add("Content-Type", "application/json");
    h.add("X-Square-HmacSha256-Signature", connector::sign_square(url, e.body, s.signature_key));
    h.add("Square-Version", s.api_version);
    h.add("Square-Initial-Delivery-Timestamp", format_utc(e.triggered_at, 3));
    h.add("User-Agent", "Square Connect v2");
    return h;
  };
  sim::CoreSettings core;
  core.faults = s.faults;
  core.webhooks = s.webhooks;
  core.bucket = connector::BudgetSettings::token_bucket(s.rate_per_second, s.burst);
  core.clock = s.clock;
  sim->core_ = std::make_unique<sim::SimulatorCore>(core, std::move(policy), std::move(signer));
  sim->account_ = std::make_unique<Account>(sim->settings_, *sim->core_);
  if (auto st = sim->account_->load(seed); !st) return st.error();

  sim->router_ = std::make_unique<http::Router>();
  http::Router& router = *sim->router_;
  sim::ApiGate& gate = sim->core_->gate();
  Account& account = *sim->account_;
  using Member = http::Response (Account::*)(const http::Request&);
  auto locked = [&account](Member member) {
    return [&account, member](const http::Request& r) {
      std::lock_guard lock(account.mu_);
      try {
        return (account.*member)(r);
      } catch (const nlohmann::json::exception& e) {
        // A member of the wrong type in a request (or a seed order of an
        // unexpected shape): the request fails, the simulator stays up.
        return bad_request("BAD_REQUEST", std::string("unexpected JSON shape: ") + e.what());
      }
    };
  };
  router.add("POST", "/v2/inventory/changes/batch-create",
             gate.wrap("inventory.batch_change", locked(&Account::batch_change)));
  router.add("POST", "/v2/inventory/counts/batch-retrieve",
             gate.wrap("inventory.batch_retrieve_counts", locked(&Account::batch_retrieve_counts)));
  router.add("POST", "/v2/orders/search", gate.wrap("orders.search", locked(&Account::search_orders)));
  router.add("POST", "/v2/orders/batch-retrieve",
             gate.wrap("orders.batch_retrieve", locked(&Account::batch_retrieve_orders)));
  router.add("GET", "/v2/orders/{order_id}", gate.wrap("orders.get", locked(&Account::get_order)));
  router.add("GET", "/v2/catalog/object/{object_id}", gate.wrap("catalog.get", locked(&Account::get_catalog_object)));
  router.add("GET", "/v2/locations", gate.wrap("locations.list", locked(&Account::list_locations)));
  router.add("GET", "/v2/refunds/{refund_id}", gate.wrap("refunds.get", locked(&Account::get_refund)));
  router.add_sync("POST", "/_sim/sales", locked(&Account::admin_create_sales));
  router.add_sync("PUT", "/_sim/orders/{id}", locked(&Account::admin_update_order));
  router.add_sync("POST", "/_sim/refunds", locked(&Account::admin_create_refund));
  router.add_sync("PUT", "/_sim/inventory_counts", locked(&Account::admin_set_count));
  sim->core_->add_admin_routes(router);
  return sim;
}

Status SquareSimulator::start() {
  http::ServerSettings server;
  server.address = settings_.address;
  server.port = settings_.port;
  server.threads = settings_.threads;
  server.access_log = settings_.access_log;
  return server_.start(server, *router_);
}

std::uint16_t SquareSimulator::port() const { return server_.port(); }

std::string SquareSimulator::base_url() const { return server_.base_url(); }

sim::SimulatorCore& SquareSimulator::core() { return *core_; }

void SquareSimulator::stop() { server_.stop(core_.get()); }

}  // namespace trueup::connectors::square
