#include "simulator.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "common/exact_json.hpp"
#include "common/sim/config_document.hpp"
#include "shopify_payloads.hpp"
#include "trueup/connector/signature.hpp"
#include "trueup/core/digest.hpp"
#include "trueup/core/money.hpp"
#include "trueup/core/time.hpp"
#include "trueup/http/query.hpp"
#include "trueup/metrics/registry.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors::shopify {
namespace {

using nlohmann::json;
using sim::exact_json_response;
using WallClock = std::function<std::chrono::system_clock::time_point()>;

constexpr std::size_t kMaxLimit = 250;
constexpr std::size_t kDefaultLimit = 50;

http::Response shopify_error(int status, json errors) { return exact_json_response(status, json{{"errors", errors}}); }
http::Response not_found() { return shopify_error(404, "Not Found"); }

Error invalid(const std::string& at, std::string_view what) {
  return make_error(Errc::invalid_argument, (at.empty() ? "/" : at) + ": " + std::string(what));
}

std::optional<std::int64_t> parse_id_text(std::string_view text) {
  std::int64_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v <= 0) return std::nullopt;
  return v;
}

// An id from an integer number or a string of digits; never through a double.
Result<std::int64_t> read_id(const json& object, std::string_view name, const std::string& at) {
  const std::string where = at + "/" + std::string(name);
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return invalid(where, "required id is missing");
  std::optional<std::int64_t> id;
  if (it->is_number_integer() && it->get<std::int64_t>() > 0 &&
      (!it->is_number_unsigned() || it->get<std::uint64_t>() <= static_cast<std::uint64_t>(INT64_MAX)))
    id = it->get<std::int64_t>();
  else if (it->is_string())
    id = parse_id_text(it->get<std::string>());
  if (!id) return invalid(where, "expected a positive 64-bit integer id");
  return *id;
}

std::optional<std::int64_t> optional_id(const json& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::nullopt;
  auto id = read_id(object, name, "");
  return id ? std::optional<std::int64_t>(*id) : std::nullopt;
}

std::vector<std::int64_t> id_list(const std::string& text) {
  std::vector<std::int64_t> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ','))
    if (auto id = parse_id_text(part)) out.push_back(*id);
  return out;
}

// `limit` from a query: default 50, 1..250; nullopt when out of range.
std::optional<std::size_t> page_limit(const std::map<std::string, std::string>& query) {
  auto it = query.find("limit");
  if (it == query.end()) return kDefaultLimit;
  std::size_t v = 0;
  auto r = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (r.ec != std::errc() || r.ptr != it->second.data() + it->second.size() || v < 1 || v > kMaxLimit)
    return std::nullopt;
  return v;
}

// Whether an order is in the `status` filter: open, closed, cancelled, any.
bool in_status(const json& order, std::string_view status) {
  const bool cancelled = !order.value("cancelled_at", json()).is_null();
  const bool closed = !order.value("closed_at", json()).is_null();
  return status == "any" || (status == "open" && !cancelled && !closed) || (status == "closed" && closed) ||
         (status == "cancelled" && cancelled);
}

// The id of "<id>.json" (a {file} route parameter).
std::optional<std::int64_t> id_of_file(std::string_view file) {
  if (!file.ends_with(".json")) return std::nullopt;
  return parse_id_text(file.substr(0, file.size() - 5));
}

std::string gid(std::string_view kind, std::int64_t id) {
  return "gid://shopify/" + std::string(kind) + "/" + std::to_string(id);
}

json money_set(const std::string& amount, std::string_view currency) {
  json m{{"amount", amount}, {"currency_code", currency}};
  return json{{"shop_money", m}, {"presentment_money", m}};
}

// A field and its _set twin, as Shopify writes amounts.
void put_money(json& object, const std::string& name, const Money& amount) {
  const std::string text = amount.to_decimal_string();
  object[name] = text;
  object[name + "_set"] = money_set(text, amount.currency().code());
}

class Tokens {
 public:
  // Opaque, URL-safe cursor: the hex of a small JSON document.
  static std::string encode(const json& cursor) { return hex_encode(cursor.dump()); }
  static std::optional<json> decode(std::string_view token) {
    if (token.size() % 2 != 0 || token.size() > 4096) return std::nullopt;
    std::string raw;
    for (std::size_t i = 0; i < token.size(); i += 2) {
      unsigned v = 0;
      auto r = std::from_chars(token.data() + i, token.data() + i + 2, v, 16);
      if (r.ec != std::errc() || r.ptr != token.data() + i + 2) return std::nullopt;
      raw += static_cast<char>(v);
    }
    auto j = json::parse(raw, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
  }
};

struct Level {
  std::int64_t available = 0;
  std::string updated_at;
};

}  // namespace

// The shop's state and what the endpoints do with it. Every member runs under
// mu_; webhook events are collected and published after it is released.
class ShopifySimulator::Shop {
 public:
  Shop(const ShopifySimulatorSettings& settings, sim::SimulatorCore& core) : settings_(settings), core_(core) {
    domain_ = settings.shop_domain;
    refill_graphql_points();
  }

  Status load(const json& seed);
  const std::string& domain() const { return domain_; }

  std::mutex mu_;  // every endpoint below runs under it

  http::Response list_orders(const http::Request& request);
  http::Response get_order(const http::Request& request);
  http::Response list_locations(const http::Request& request);
  http::Response get_variant(const http::Request& request);
  http::Response list_levels(const http::Request& request);
  http::Response set_level(const http::Request& request);

  http::Response admin_create_orders(const http::Request& request);
  http::Response admin_update_order(const http::Request& request);
  http::Response admin_create_refund(const http::Request& request);
  http::Response admin_set_level(const http::Request& request);
  http::Response graphql(const http::Request& request);
  // The GraphQL points back to full (POST /_sim/reset).
  void refill_graphql_points();

 private:
  using Events = std::vector<sim::WebhookEvent>;

  std::string now_text() const {
    const auto now = settings_.wall_clock ? settings_.wall_clock() : std::chrono::system_clock::now();
    auto text = model::Timestamp::from_utc(std::chrono::floor<std::chrono::seconds>(now), offset_minutes_).to_string();
    if (!text.empty() && text.back() == 'Z') text.replace(text.size() - 1, 1, "+00:00");
    return text;
  }
  // A write's wall time with microseconds, for the write log: when the shop
  // applied it (benchmarks measure latency to it).
  std::string applied_at() const {
    const auto now = settings_.wall_clock ? settings_.wall_clock() : std::chrono::system_clock::now();
    return format_utc(std::chrono::floor<std::chrono::microseconds>(now), 6);
  }
  std::chrono::steady_clock::time_point steady_now() const {
    return settings_.clock ? settings_.clock() : std::chrono::steady_clock::now();
  }
  std::int64_t new_id() { return next_id_++; }
  void event(Events& events, std::string topic, const json& body) {
    events.push_back(
        sim::WebhookEvent{std::move(topic), core_.webhooks().new_event_id(), dump_exact(body),
                          settings_.wall_clock ? settings_.wall_clock() : std::chrono::system_clock::now()});
  }
  void publish(Events& events) {
    for (auto& e : events) core_.webhooks().publish(std::move(e));
  }

  Status load_location(const json& spec, const std::string& at);
  Status load_product(const json& spec, const std::string& at);
  Result<json> build_order(const json& spec, const std::string& at, Events* events);
  json level_json(std::int64_t item, std::int64_t location) const;
  // Sets a level; returns whether it changed.
  bool put_level(std::int64_t item, std::int64_t location, std::int64_t available);
  json variant_json(const json& variant) const;
  std::optional<std::int64_t> default_location() const {
    return locations_.empty() ? std::nullopt : std::optional<std::int64_t>(locations_.begin()->first);
  }
  http::Response level_change(const http::Request& request, bool from_api);

  const ShopifySimulatorSettings& settings_;
  sim::SimulatorCore& core_;
  std::string domain_;
  std::string currency_ = "USD";
  int offset_minutes_ = 0;
  std::int64_t next_id_ = 9007199254740993;  // 2^53 + 1: ids a double cannot hold
  std::int64_t next_number_ = 1;
  std::map<std::int64_t, json> locations_;
  std::map<std::int64_t, json> variants_;
  std::map<std::int64_t, std::string> product_titles_;
  std::map<std::int64_t, std::int64_t> variant_of_item_;
  std::map<std::pair<std::int64_t, std::int64_t>, Level> levels_;  // (inventory item, location)
  std::map<std::int64_t, json> orders_;
  // GraphQL @idempotent keys: the input they came with and the answer given.
  std::map<std::string, std::pair<std::string, json>> idempotent_;
  // GraphQL's cost-based limit: points in use leak back at the restore rate.
  std::unique_ptr<connector::Budget> graphql_points_;
};

Status ShopifySimulator::Shop::load(const json& seed) {
  if (!seed.is_object()) return invalid("", "the seed must be a JSON object");
  static const std::set<std::string> members{"shop",   "locations",   "products",
                                             "orders", "order_specs", "inventory_levels"};
  for (const auto& [name, value] : seed.items())
    if (!members.contains(name)) return invalid("/" + name, "unknown member");
  if (auto shop = seed.find("shop"); shop != seed.end()) {
    if (!shop->is_object()) return invalid("/shop", "expected an object");
    for (const auto& [name, value] : shop->items()) {
      const std::string at = "/shop/" + name;
      if (name == "domain" && value.is_string()) {
        domain_ = value.get<std::string>();
      } else if (name == "currency" && value.is_string() && Currency::from_code(value.get<std::string>())) {
        currency_ = value.get<std::string>();
      } else if (name == "utc_offset_minutes" && value.is_number_integer() && std::abs(value.get<int>()) <= 14 * 60) {
        offset_minutes_ = value.get<int>();
      } else if (name == "next_id") {
        auto id = read_id(*shop, "next_id", "/shop");
        if (!id) return id.error();
        next_id_ = *id;
      } else if (name == "next_order_number" && value.is_number_integer() && value.get<std::int64_t>() > 0) {
        next_number_ = value.get<std::int64_t>();
      } else {
        return invalid(at,
                       "unknown member or wrong type (domain, currency, utc_offset_minutes, next_id, "
                       "next_order_number)");
      }
    }
  }
  auto each = [&seed](const char* name, const std::function<Status(const json&, const std::string&)>& load_one) {
    return sim::for_each_seed_entry(seed, name, load_one);
  };
  if (auto st = each("locations", [this](const json& j, const std::string& at) { return load_location(j, at); }); !st)
    return st;
  if (auto st = each("products", [this](const json& j, const std::string& at) { return load_product(j, at); }); !st)
    return st;
  auto level = [this](const json& j, const std::string& at) -> Status {
    if (!j.is_object()) return invalid(at, "expected an object");
    auto item = read_id(j, "inventory_item_id", at);
    if (!item) return item.error();
    auto location = read_id(j, "location_id", at);
    if (!location) return location.error();
    if (!variant_of_item_.contains(*item)) return invalid(at + "/inventory_item_id", "no variant has this item");
    if (!locations_.contains(*location)) return invalid(at + "/location_id", "unknown location");
    auto available = j.find("available");
    if (available == j.end() || !available->is_number_integer())
      return invalid(at + "/available", "expected an integer");
    levels_[{*item, *location}] = Level{available->get<std::int64_t>(), now_text()};
    return Ok{};
  };
  if (auto st = each("inventory_levels", level); !st) return st;
  auto order = [this](const json& j, const std::string& at) -> Status {
    if (!j.is_object()) return invalid(at, "expected an object");
    auto id = read_id(j, "id", at);
    if (!id) return id.error();
    for (const char* stamp : {"created_at", "updated_at"}) {
      auto it = j.find(stamp);
      if (it == j.end() || !it->is_string() || !model::Timestamp::parse(it->get<std::string>()))
        return invalid(at + "/" + stamp, "expected an RFC 3339 timestamp");
    }
    orders_[*id] = j;
    orders_[*id]["id"] = *id;  // an id given as a string is kept as the integer Shopify sends
    if (auto n = j.find("number"); n != j.end() && n->is_number_integer())
      next_number_ = std::max(next_number_, n->get<std::int64_t>() + 1);
    next_id_ = std::max(next_id_, *id + 1);
    return Ok{};
  };
  if (auto st = each("orders", order); !st) return st;
  return each("order_specs", [this](const json& j, const std::string& at) -> Status {
    auto built = build_order(j, at, nullptr);
    return built ? Status(Ok{}) : Status(built.error());
  });
}

Status ShopifySimulator::Shop::load_location(const json& spec, const std::string& at) {
  if (!spec.is_object()) return invalid(at, "expected an object");
  auto id = read_id(spec, "id", at);
  if (!id) return id.error();
  const std::string now = now_text();
  json location{{"id", *id},
                {"name", "Location " + std::to_string(*id)},
                {"address1", nullptr},
                {"address2", nullptr},
                {"city", nullptr},
                {"zip", nullptr},
                {"province", nullptr},
                {"country", "US"},
                {"phone", nullptr},
                {"created_at", now},
                {"updated_at", now},
                {"country_code", "US"},
                {"country_name", "United States"},
                {"province_code", nullptr},
                {"legacy", false},
                {"active", true},
                {"admin_graphql_api_id", gid("Location", *id)}};
  for (const auto& [name, value] : spec.items()) location[name] = value;
  location["id"] = *id;
  locations_[*id] = std::move(location);
  return Ok{};
}

Status ShopifySimulator::Shop::load_product(const json& spec, const std::string& at) {
  if (!spec.is_object()) return invalid(at, "expected an object");
  auto product_id = read_id(spec, "id", at);
  if (!product_id) return product_id.error();
  product_titles_[*product_id] = spec.value("title", "Product " + std::to_string(*product_id));
  auto variants = spec.find("variants");
  if (variants == spec.end() || !variants->is_array()) return invalid(at + "/variants", "expected an array");
  for (std::size_t i = 0; i < variants->size(); ++i) {
    const json& v = (*variants)[i];
    const std::string vat = at + "/variants/" + std::to_string(i);
    if (!v.is_object()) return invalid(vat, "expected an object");
    auto id = read_id(v, "id", vat);
    if (!id) return id.error();
    auto item = read_id(v, "inventory_item_id", vat);
    if (!item) return item.error();
    auto price = v.find("price");
    if (price == v.end() || !price->is_string() || !parse_decimal(price->get<std::string>(), currency_))
      return invalid(vat + "/price", "expected a decimal string in the shop currency");
    const std::string now = now_text();
    json variant{{"id", *id},
                 {"product_id", *product_id},
                 {"title", "Default Title"},
                 {"price", *price},
                 {"position", i + 1},
                 {"inventory_policy", "deny"},
                 {"compare_at_price", nullptr},
                 {"option1", "Default Title"},
                 {"option2", nullptr},
                 {"option3", nullptr},
                 {"created_at", now},
                 {"updated_at", now},
                 {"taxable", true},
                 {"barcode", nullptr},
                 {"fulfillment_service", "manual"},
                 {"grams", 0},
                 {"inventory_management", "shopify"},
                 {"requires_shipping", true},
                 {"sku", nullptr},
                 {"weight", 0},
                 {"weight_unit", "kg"},
                 {"inventory_item_id", *item},
                 {"tax_code", nullptr},
                 {"admin_graphql_api_id", gid("ProductVariant", *id)},
                 {"image_id", nullptr}};
    for (const auto& [name, value] : v.items()) variant[name] = value;
    variant["id"] = *id;
    variant["product_id"] = *product_id;
    variant["inventory_item_id"] = *item;
    variants_[*id] = std::move(variant);
    variant_of_item_[*item] = *id;
  }
  return Ok{};
}

json ShopifySimulator::Shop::level_json(std::int64_t item, std::int64_t location) const {
  const Level& l = levels_.at({item, location});
  return json{{"inventory_item_id", item},
              {"location_id", location},
              {"available", l.available},
              {"updated_at", l.updated_at},
              {"admin_graphql_api_id", "gid://shopify/InventoryLevel/" + std::to_string(location) +
                                           "?inventory_item_id=" + std::to_string(item)}};
}

bool ShopifySimulator::Shop::put_level(std::int64_t item, std::int64_t location, std::int64_t available) {
  auto [it, inserted] = levels_.try_emplace({item, location});
  const bool changed = inserted || it->second.available != available;
  it->second.available = available;
  if (changed || it->second.updated_at.empty()) it->second.updated_at = now_text();
  return changed;
}

json ShopifySimulator::Shop::variant_json(const json& variant) const {
  json out = variant;
  std::int64_t quantity = 0;
  const std::int64_t item = variant.at("inventory_item_id").get<std::int64_t>();
  for (const auto& [key, level] : levels_)
    if (key.first == item) quantity += level.available;
  out["inventory_quantity"] = quantity;
  out["old_inventory_quantity"] = quantity;
  out["presentment_prices"] = json::array({json{
      {"price", {{"amount", variant.at("price")}, {"currency_code", currency_}}}, {"compare_at_price", nullptr}}});
  return out;
}

// An order from a compact spec (SIMULATOR.md), as a full REST order like the
// official examples. With `events`, stock is taken from the order's location
// and the webhooks are collected.
Result<json> ShopifySimulator::Shop::build_order(const json& spec, const std::string& at, Events* events) {
  if (!spec.is_object()) return invalid(at, "expected an object");
  static const std::set<std::string> members{"id",         "currency",    "email",          "financial_status",
                                             "line_items", "location_id", "shipping_lines", "source_name",
                                             "created_at", "updated_at",  "note",           "tags"};
  for (const auto& [name, value] : spec.items())
    if (!members.contains(name)) return invalid(at + "/" + name, "unknown member");
  const std::string currency_code = spec.value("currency", currency_);
  auto currency = Currency::from_code(currency_code);
  if (!currency) return invalid(at + "/currency", currency.error().message);
  std::int64_t id = 0;
  if (spec.contains("id")) {
    auto given = read_id(spec, "id", at);
    if (!given) return given.error();
    if (orders_.contains(*given)) return invalid(at + "/id", "an order with this id exists");
    id = *given;
    next_id_ = std::max(next_id_, id + 1);
  } else {
    id = new_id();
  }
  std::optional<std::int64_t> location;
  if (spec.contains("location_id")) {
    auto given = read_id(spec, "location_id", at);
    if (!given) return given.error();
    if (!locations_.contains(*given)) return invalid(at + "/location_id", "unknown location");
    location = *given;
  }
  std::string created = now_text();
  for (const char* stamp : {"created_at", "updated_at"}) {
    if (auto it = spec.find(stamp); it != spec.end())
      if (!it->is_string() || !model::Timestamp::parse(it->get<std::string>()))
        return invalid(at + "/" + stamp, "expected an RFC 3339 timestamp");
  }
  created = spec.value("created_at", created);
  const std::string updated = spec.value("updated_at", created);

  auto lines = spec.find("line_items");
  if (lines == spec.end() || !lines->is_array() || lines->empty())
    return invalid(at + "/line_items", "expected a non-empty array");
  Money subtotal = Money::zero(*currency);
  json line_items = json::array();
  std::vector<std::pair<std::int64_t, std::int64_t>> taken;  // (inventory item, quantity)
  for (std::size_t i = 0; i < lines->size(); ++i) {
    const json& l = (*lines)[i];
    const std::string lat = at + "/line_items/" + std::to_string(i);
    if (!l.is_object()) return invalid(lat, "expected an object");
    const json* variant = nullptr;
    if (l.contains("variant_id")) {
      auto vid = read_id(l, "variant_id", lat);
      if (!vid) return vid.error();
      auto it = variants_.find(*vid);
      if (it == variants_.end()) return invalid(lat + "/variant_id", "unknown variant");
      variant = &it->second;
    } else if (auto sku = l.find("sku"); sku != l.end() && sku->is_string()) {
      for (const auto& [vid, v] : variants_)
        if (v.value("sku", json()).is_string() && v["sku"] == *sku) variant = &v;
      if (variant == nullptr) return invalid(lat + "/sku", "no variant has this sku");
    } else {
      return invalid(lat, "give variant_id or sku");
    }
    auto quantity = l.find("quantity");
    if (quantity == l.end() || !quantity->is_number_integer() || quantity->get<std::int64_t>() < 1 ||
        quantity->get<std::int64_t>() > 1000000)
      return invalid(lat + "/quantity", "expected a positive integer");
    const std::int64_t q = quantity->get<std::int64_t>();
    const json price_text = l.contains("price") ? l["price"] : (*variant)["price"];
    if (!price_text.is_string()) return invalid(lat + "/price", "expected a decimal string");
    auto price = parse_decimal(price_text.get<std::string>(), *currency);
    if (!price) return invalid(lat + "/price", price.error().message);
    auto extended = price->multiply(q);
    if (!extended) return invalid(lat + "/quantity", extended.error().message);
    auto sum = subtotal.add(*extended);
    if (!sum) return invalid(lat, sum.error().message);
    subtotal = *sum;
    const std::int64_t product_id = (*variant)["product_id"].get<std::int64_t>();
    const std::string title = product_titles_.count(product_id) ? product_titles_[product_id] : "Product";
    const std::string variant_title = (*variant).value("title", "");
    const std::int64_t line_id = new_id();
    json line{
        {"id", line_id},
        {"admin_graphql_api_id", gid("LineItem", line_id)},
        {"attributed_staffs", json::array()},
        {"current_quantity", q},
        {"fulfillable_quantity", q},
        {"fulfillment_service", "manual"},
        {"fulfillment_status", nullptr},
        {"gift_card", false},
        {"grams", (*variant).value("grams", 0)},
        {"name", variant_title.empty() || variant_title == "Default Title" ? title : title + " - " + variant_title},
        {"product_exists", true},
        {"product_id", product_id},
        {"properties", json::array()},
        {"quantity", q},
        {"requires_shipping", true},
        {"sku", (*variant)["sku"]},
        {"taxable", true},
        {"title", title},
        {"variant_id", (*variant)["id"]},
        {"variant_inventory_management", "shopify"},
        {"variant_title", variant_title},
        {"vendor", nullptr},
        {"tax_lines", json::array()},
        {"duties", json::array()},
        {"discount_allocations", json::array()}};
    put_money(line, "price", *price);
    put_money(line, "total_discount", Money::zero(*currency));
    line_items.push_back(std::move(line));
    taken.emplace_back((*variant)["inventory_item_id"].get<std::int64_t>(), q);
  }
  Money shipping = Money::zero(*currency);
  json shipping_lines = json::array();
  if (auto sl = spec.find("shipping_lines"); sl != spec.end()) {
    if (!sl->is_array()) return invalid(at + "/shipping_lines", "expected an array");
    for (std::size_t i = 0; i < sl->size(); ++i) {
      const json& s = (*sl)[i];
      const std::string sat = at + "/shipping_lines/" + std::to_string(i);
      if (!s.is_object() || !s.value("price", json()).is_string())
        return invalid(sat + "/price", "expected a decimal string");
      auto price = parse_decimal(s["price"].get<std::string>(), *currency);
      if (!price) return invalid(sat + "/price", price.error().message);
      auto sum = shipping.add(*price);
      if (!sum) return invalid(sat, sum.error().message);
      shipping = *sum;
      const std::int64_t sid = new_id();
      json line{{"id", sid},
                {"carrier_identifier", nullptr},
                {"code", s.value("code", s.value("title", "Standard"))},
                {"discounted_price", s["price"]},
                {"discounted_price_set", money_set(price->to_decimal_string(), currency_code)},
                {"is_removed", false},
                {"phone", nullptr},
                {"source", "shopify"},
                {"title", s.value("title", "Standard")},
                {"tax_lines", json::array()},
                {"discount_allocations", json::array()}};
      put_money(line, "price", *price);
      shipping_lines.push_back(std::move(line));
    }
  }
  auto total = subtotal.add(shipping);
  if (!total) return invalid(at, total.error().message);
  const std::int64_t number = next_number_++;
  const Money zero = Money::zero(*currency);
  json order{{"id", id},
             {"admin_graphql_api_id", gid("Order", id)},
             {"app_id", nullptr},
             {"browser_ip", nullptr},
             {"buyer_accepts_marketing", false},
             {"cancel_reason", nullptr},
             {"cancelled_at", nullptr},
             {"cart_token", nullptr},
             {"checkout_id", nullptr},
             {"checkout_token", nullptr},
             {"client_details", nullptr},
             {"closed_at", nullptr},
             {"confirmation_number", nullptr},
             {"confirmed", true},
             {"contact_email", spec.value("email", json())},
             {"created_at", created},
             {"currency", currency_code},
             {"current_total_additional_fees_set", nullptr},
             {"current_total_duties_set", nullptr},
             {"customer_locale", nullptr},
             {"device_id", nullptr},
             {"discount_codes", json::array()},
             {"duties_included", false},
             {"email", spec.value("email", "")},
             {"estimated_taxes", false},
             {"financial_status", spec.value("financial_status", "paid")},
             {"fulfillment_status", nullptr},
             {"landing_site", nullptr},
             {"landing_site_ref", nullptr},
             {"location_id", location ? json(*location) : json()},
             {"merchant_of_record_app_id", nullptr},
             {"name", "#" + std::to_string(1000 + number)},
             {"note", spec.value("note", json())},
             {"note_attributes", json::array()},
             {"number", number},
             {"order_number", 1000 + number},
             {"original_total_additional_fees_set", nullptr},
             {"original_total_duties_set", nullptr},
             {"payment_gateway_names", json::array({"bogus"})},
             {"phone", nullptr},
             {"po_number", nullptr},
             {"presentment_currency", currency_code},
             {"processed_at", created},
             {"reference", nullptr},
             {"referring_site", nullptr},
             {"source_identifier", nullptr},
             {"source_name", spec.value("source_name", location ? "pos" : "web")},
             {"source_url", nullptr},
             {"tags", spec.value("tags", "")},
             {"tax_exempt", false},
             {"tax_lines", json::array()},
             {"taxes_included", false},
             {"test", false},
             {"token", hex_encode(sha256(std::to_string(id))).substr(0, 32)},
             {"total_outstanding", "0.00"},
             {"total_tip_received", "0.00"},
             {"total_weight", 0},
             {"updated_at", updated},
             {"user_id", nullptr},
             {"billing_address", nullptr},
             {"customer", nullptr},
             {"discount_applications", json::array()},
             {"fulfillments", json::array()},
             {"line_items", std::move(line_items)},
             {"payment_terms", nullptr},
             {"refunds", json::array()},
             {"shipping_address", nullptr},
             {"shipping_lines", std::move(shipping_lines)}};
  put_money(order, "current_subtotal_price", subtotal);
  put_money(order, "current_total_discounts", zero);
  put_money(order, "current_total_price", *total);
  put_money(order, "current_total_tax", zero);
  put_money(order, "subtotal_price", subtotal);
  put_money(order, "total_discounts", zero);
  put_money(order, "total_line_items_price", subtotal);
  put_money(order, "total_price", *total);
  put_money(order, "total_tax", zero);
  order["total_shipping_price_set"] = money_set(shipping.to_decimal_string(), currency_code);
  order["total_cash_rounding_payment_adjustment_set"] = money_set(zero.to_decimal_string(), currency_code);
  order["total_cash_rounding_refund_adjustment_set"] = money_set(zero.to_decimal_string(), currency_code);
  orders_[id] = order;
  if (events != nullptr) {
    event(*events, "orders/create", order);
    // Selling takes stock at the order's location (the first one for web orders).
    if (auto from = location ? location : default_location()) {
      for (const auto& [item, q] : taken) {
        auto it = levels_.find({item, *from});
        if (it == levels_.end()) continue;
        put_level(item, *from, it->second.available - q);
        event(*events, "inventory_levels/update", level_json(item, *from));
      }
    }
  }
  return order;
}

http::Response ShopifySimulator::Shop::list_orders(const http::Request& request) {
  auto query = http::parse_query(request.query);
  if (!query) return shopify_error(400, "malformed query string");
  const auto limit_given = page_limit(*query);
  if (!limit_given) return shopify_error(400, json{{"limit", "must be between 1 and 250"}});
  const std::size_t limit = *limit_given;
  // Filters: from the query, or from the cursor (which allows only limit and fields beside it).
  json filters = json::object();
  std::string direction = "next";
  std::optional<std::int64_t> cursor;
  if (auto page = query->find("page_info"); page != query->end()) {
    for (const auto& [name, value] : *query)
      if (name != "page_info" && name != "limit" && name != "fields")
        return shopify_error(400, json{{"page_info", "cannot be combined with " + name}});
    auto token = Tokens::decode(page->second);
    if (!token || !token->contains("f") || !token->contains("c") || !token->contains("d"))
      return shopify_error(400, json{{"page_info", "Invalid value."}});
    filters = (*token)["f"];
    direction = (*token)["d"].get<std::string>();
    cursor = (*token)["c"].get<std::int64_t>();
  } else {
    for (const char* name : {"status", "updated_at_min", "updated_at_max", "created_at_min", "created_at_max",
                             "since_id", "ids", "financial_status"})
      if (auto it = query->find(name); it != query->end()) filters[name] = it->second;
  }
  const std::string status = filters.value("status", "open");
  if (status != "open" && status != "closed" && status != "cancelled" && status != "any")
    return shopify_error(400, json{{"status", "must be open, closed, cancelled or any"}});
  std::map<std::string, model::Timestamp> bounds;
  for (const char* name : {"updated_at_min", "updated_at_max", "created_at_min", "created_at_max"}) {
    if (!filters.contains(name)) continue;
    auto t = model::Timestamp::parse(filters[name].get<std::string>());
    if (!t) return shopify_error(400, json{{name, "must be an ISO 8601 time"}});
    bounds.emplace(name, *t);
  }
  std::optional<std::set<std::int64_t>> ids;
  if (filters.contains("ids")) {
    auto list = id_list(filters["ids"].get<std::string>());
    ids.emplace(list.begin(), list.end());
  }
  std::optional<std::int64_t> since;
  if (filters.contains("since_id")) since = parse_id_text(filters["since_id"].get<std::string>());

  auto matches = [&](const json& order) {
    if (!in_status(order, status)) return false;
    const std::int64_t id = order["id"].get<std::int64_t>();
    if (ids && !ids->contains(id)) return false;
    if (since && id <= *since) return false;
    if (filters.contains("financial_status") && filters["financial_status"] != "any" &&
        order.value("financial_status", json()) != filters["financial_status"])
      return false;
    for (const auto& [name, bound] : bounds) {
      auto t = model::Timestamp::parse(order.value(name.substr(0, 10), ""));
      if (!t) return false;
      const auto cmp = t->compare_instant(bound);
      if (name.ends_with("_min") ? cmp < 0 : cmp > 0) return false;
    }
    return true;
  };
  std::vector<const json*> selected;
  for (const auto& [id, order] : orders_)
    if (matches(order)) selected.push_back(&order);
  // The page: ascending id, after the cursor (next) or the last `limit` before it (previous).
  std::size_t begin = 0, end = selected.size();
  if (cursor && direction == "next") {
    while (begin < end && selected[begin]->at("id").get<std::int64_t>() <= *cursor) ++begin;
    end = std::min(end, begin + limit);
  } else if (cursor) {
    while (end > 0 && selected[end - 1]->at("id").get<std::int64_t>() >= *cursor) --end;
    begin = end > limit ? end - limit : 0;
  } else {
    end = std::min(end, limit);
  }
  std::set<std::string> fields;
  if (auto it = query->find("fields"); it != query->end()) {
    std::stringstream in(it->second);
    for (std::string f; std::getline(in, f, ',');)
      if (!f.empty()) fields.insert(f);
  }
  json out = json::array();
  for (std::size_t i = begin; i < end; ++i) {
    if (fields.empty()) {
      out.push_back(*selected[i]);
    } else {
      json picked = json::object();
      for (const auto& f : fields)
        if (selected[i]->contains(f)) picked[f] = (*selected[i])[f];
      out.push_back(std::move(picked));
    }
  }
  http::Response response = exact_json_response(200, json{{"orders", out}});
  const std::string* host = request.header("host");
  const std::string base = "http://" + (host ? *host : std::string("127.0.0.1")) + "/admin/api/" +
                           settings_.api_version + "/orders.json?limit=" + std::to_string(limit) +
                           (fields.empty() ? "" : "&fields=" + query->at("fields")) + "&page_info=";
  std::vector<std::string> links;
  if (begin > 0 && begin < selected.size())
    links.push_back("<" + base + Tokens::encode(json{{"f", filters}, {"d", "prev"}, {"c", selected[begin]->at("id")}}) +
                    ">; rel=\"previous\"");
  if (end < selected.size() && end > begin)
    links.push_back("<" + base +
                    Tokens::encode(json{{"f", filters}, {"d", "next"}, {"c", selected[end - 1]->at("id")}}) +
                    ">; rel=\"next\"");
  if (!links.empty()) {
    std::string link = links[0];
    for (std::size_t i = 1; i < links.size(); ++i) link += ", " + links[i];
    response.headers.emplace_back("Link", link);
  }
  return response;
}

http::Response ShopifySimulator::Shop::get_order(const http::Request& request) {
  const std::string& file = request.params.at("file");
  if (file == "count.json") {
    auto query = http::parse_query(request.query).value_or(std::map<std::string, std::string>{});
    const std::string status = query.count("status") ? query["status"] : "open";
    std::size_t n = 0;
    for (const auto& [id, order] : orders_) n += in_status(order, status);
    return exact_json_response(200, json{{"count", n}});
  }
  auto id = id_of_file(file);
  if (!id) return not_found();
  auto it = orders_.find(*id);
  if (it == orders_.end()) return not_found();
  return exact_json_response(200, json{{"order", it->second}});
}

http::Response ShopifySimulator::Shop::list_locations(const http::Request&) {
  json out = json::array();
  for (const auto& [id, location] : locations_) out.push_back(location);
  return exact_json_response(200, json{{"locations", out}});
}

http::Response ShopifySimulator::Shop::get_variant(const http::Request& request) {
  auto id = id_of_file(request.params.at("file"));
  if (!id) return not_found();
  auto it = variants_.find(*id);
  if (it == variants_.end()) return not_found();
  return exact_json_response(200, json{{"variant", variant_json(it->second)}});
}

http::Response ShopifySimulator::Shop::list_levels(const http::Request& request) {
  auto query = http::parse_query(request.query);
  if (!query) return shopify_error(400, "malformed query string");
  const auto items_it = query->find("inventory_item_ids");
  const auto locations_it = query->find("location_ids");
  if (items_it == query->end() && locations_it == query->end())
    return shopify_error(422, "must specify at least one of inventory_item_ids or location_ids");
  const auto limit_given = page_limit(*query);
  if (!limit_given) return shopify_error(400, json{{"limit", "must be between 1 and 250"}});
  const std::size_t limit = *limit_given;
  std::optional<std::set<std::int64_t>> items, locations;
  if (items_it != query->end()) {
    auto list = id_list(items_it->second);
    items.emplace(list.begin(), list.end());
  }
  if (locations_it != query->end()) {
    auto list = id_list(locations_it->second);
    locations.emplace(list.begin(), list.end());
  }
  json out = json::array();
  for (const auto& [key, level] : levels_) {
    if (out.size() >= limit) break;
    if (items && !items->contains(key.first)) continue;
    if (locations && !locations->contains(key.second)) continue;
    out.push_back(level_json(key.first, key.second));
  }
  return exact_json_response(200, json{{"inventory_levels", out}});
}

http::Response ShopifySimulator::Shop::level_change(const http::Request& request, bool from_api) {
  auto body = decode_inventory_level_set(request.body);
  if (!body) return shopify_error(400, body.error().message);
  const auto item = parse_id_text(body->inventory_item_id);
  const auto location = parse_id_text(body->location_id);
  if (!item || !variant_of_item_.contains(*item)) return shopify_error(404, "Not Found");
  if (!location || !locations_.contains(*location)) return shopify_error(404, "Not Found");
  const std::string key = std::to_string(*item) + "@" + std::to_string(*location);
  if (from_api) {
    core_.inspection().count_key("inventory_item_location", key);
    core_.inspection().record_write("inventory_levels/set", json{{"inventory_item_id", *item},
                                                                 {"location_id", *location},
                                                                 {"available", body->available},
                                                                 {"applied_at", applied_at()}});
  }
  const bool changed = put_level(*item, *location, body->available);
  json level = level_json(*item, *location);
  // The real shop tells every subscriber about a change, the app that made it included.
  Events events;
  if (changed || !from_api) event(events, "inventory_levels/update", level);
  publish(events);
  return exact_json_response(200, json{{"inventory_level", level}});
}

http::Response ShopifySimulator::Shop::set_level(const http::Request& request) { return level_change(request, true); }
http::Response ShopifySimulator::Shop::admin_set_level(const http::Request& request) {
  return level_change(request, false);
}

namespace {

// "gid://shopify/<kind>/<id>" -> id.
std::optional<std::int64_t> gid_id(const json& value, std::string_view kind) {
  if (!value.is_string()) return std::nullopt;
  const std::string prefix = "gid://shopify/" + std::string(kind) + "/";
  const std::string& text = value.get_ref<const std::string&>();
  if (!text.starts_with(prefix)) return std::nullopt;
  return parse_id_text(std::string_view(text).substr(prefix.size()));
}

// The key of `@idempotent(key: "...")` or `@idempotent(key: $name)` in a
// query; nullopt without the directive.
std::optional<std::string> idempotency_key(const std::string& query, const json& variables) {
  const auto at = query.find("@idempotent");
  if (at == std::string::npos) return std::nullopt;
  const auto key = query.find("key", at);
  const auto colon = key == std::string::npos ? key : query.find(':', key);
  if (colon == std::string::npos) return std::nullopt;
  auto i = query.find_first_not_of(" \t\r\n", colon + 1);
  if (i == std::string::npos) return std::nullopt;
  if (query[i] == '"') {
    const auto end = query.find('"', i + 1);
    if (end == std::string::npos) return std::nullopt;
    return query.substr(i + 1, end - i - 1);
  }
  if (query[i] == '$') {
    auto end = i + 1;
    while (end < query.size() && (std::isalnum(static_cast<unsigned char>(query[end])) || query[end] == '_')) ++end;
    auto v = variables.find(query.substr(i + 1, end - i - 1));
    if (v != variables.end() && v->is_string()) return v->get<std::string>();
  }
  return std::nullopt;
}

json graphql_errors(const std::string& message, std::string_view code) {
  return json{{"errors", json::array({json{{"message", message}, {"extensions", {{"code", code}}}}})}};
}

// extensions.cost as Shopify writes it; actual is null when nothing ran.
json graphql_cost(double requested, std::optional<double> actual, const connector::BudgetSnapshot& points) {
  const auto whole = [](double v) { return static_cast<std::int64_t>(std::floor(v)); };
  return json{{"cost",
               {{"requestedQueryCost", whole(requested)},
                {"actualQueryCost", actual ? json(whole(*actual)) : json(nullptr)},
                {"throttleStatus",
                 {{"maximumAvailable", points.capacity},
                  {"currentlyAvailable", whole(points.remaining)},
                  {"restoreRate", points.rate_per_second}}}}}};
}

json set_quantities_payload(json group, json user_errors) {
  return json{{"data",
               {{"inventorySetQuantities",
                 {{"inventoryAdjustmentGroup", std::move(group)}, {"userErrors", std::move(user_errors)}}}}}};
}

}  // namespace

void ShopifySimulator::Shop::refill_graphql_points() {
  graphql_points_ = std::make_unique<connector::Budget>(
      connector::BudgetSettings::leaky_bucket(settings_.graphql_bucket_size, settings_.graphql_restore_rate));
}

// POST graphql.json: only the inventorySetQuantities mutation, with its input
// in `variables.input` (API 2026-04 rules: @idempotent key required, every
// quantity names changeFromQuantity, null opting out of the check; at most
// 250 quantities), under the cost-based limit: a mutation takes
// graphql_mutation_cost points, and without them the answer is THROTTLED
// and nothing runs.
http::Response ShopifySimulator::Shop::graphql(const http::Request& request) {
  auto body = parse_exact(request.body);
  if (!body || !body->is_object() || !body->value("query", json()).is_string())
    return exact_json_response(400, graphql_errors("Invalid request body: expected {query, variables}", "BAD_REQUEST"));
  const std::string query = (*body)["query"].get<std::string>();
  const json variables = body->value("variables", json::object());
  if (query.find("inventorySetQuantities") == std::string::npos)
    return exact_json_response(
        200, graphql_errors("The simulator answers only the inventorySetQuantities mutation", "NOT_SIMULATED"));
  const double cost = settings_.graphql_mutation_cost;
  const auto now = steady_now();
  if (core_.faults().settings().rate_limit && !graphql_points_->try_acquire(now, cost).granted) {
    core_.inspection().count_throttled();
    json throttled = graphql_errors("Throttled", "THROTTLED");
    throttled["errors"][0]["extensions"]["documentation"] = "https://shopify.dev/api/usage/rate-limits";
    throttled["extensions"] = graphql_cost(cost, std::nullopt, graphql_points_->snapshot(now));
    return exact_json_response(200, throttled);
  }
  const auto with_cost = [&](json answer) {
    answer["extensions"] = graphql_cost(cost, cost, graphql_points_->snapshot(now));
    return exact_json_response(200, answer);
  };
  const auto key = idempotency_key(query, variables);
  if (!key || key->empty())
    return with_cost(
        graphql_errors("The @idempotent directive with a key is required for this mutation", "BAD_REQUEST"));
  const json input = variables.value("input", json());
  if (!input.is_object() || !input.value("quantities", json()).is_array())
    return with_cost(
        graphql_errors("Variable $input of type InventorySetQuantitiesInput! was "
                       "provided invalid value (quantities)",
                       "INVALID_VARIABLE"));
  if (input["quantities"].size() > kMaxSetQuantities)
    return with_cost(graphql_errors("The input array size of " + std::to_string(input["quantities"].size()) +
                                        " is greater than the maximum allowed of " + std::to_string(kMaxSetQuantities) +
                                        ".",
                                    "MAX_INPUT_SIZE_EXCEEDED"));
  core_.inspection().count_key("idempotency_key", *key);
  const std::string fingerprint = dump_exact(input);
  if (auto seen = idempotent_.find(*key); seen != idempotent_.end()) {
    if (seen->second.first != fingerprint)
      return with_cost(
          graphql_errors("The idempotency key was already used with different parameters", "IDEMPOTENCY_CONFLICT"));
    return with_cost(seen->second.second);  // the first answer again, nothing applied twice
  }
  const std::string name = input.value("name", "");
  json user_errors = json::array();
  auto user_error = [&user_errors](json field, std::string code, std::string message) {
    user_errors.push_back(
        json{{"field", std::move(field)}, {"code", std::move(code)}, {"message", std::move(message)}});
  };
  if (name != "available" && name != "on_hand")
    user_error(json::array({"input", "name"}), "INVALID_NAME", "The quantity name must be available or on_hand.");
  struct Change {
    std::int64_t item, location, quantity, before;
  };
  std::vector<Change> changes;
  // Every quantity is checked and each faulty one named; any error and
  // nothing is applied.
  const json& quantities = input["quantities"];
  for (std::size_t i = 0; i < quantities.size(); ++i) {
    const json& q = quantities[i];
    const json field = json::array({"input", "quantities", std::to_string(i)});
    auto with = [&field](const char* member) {
      json f = field;
      f.push_back(member);
      return f;
    };
    const auto item = gid_id(q.value("inventoryItemId", json()), "InventoryItem");
    const auto location = gid_id(q.value("locationId", json()), "Location");
    if (!item || !variant_of_item_.contains(*item)) {
      user_error(with("inventoryItemId"), "INVALID_INVENTORY_ITEM", "The specified inventory item could not be found.");
      continue;
    }
    if (!location || !locations_.contains(*location)) {
      user_error(with("locationId"), "INVALID_LOCATION", "The specified location could not be found.");
      continue;
    }
    if (!q.value("quantity", json()).is_number_integer()) {
      user_error(with("quantity"), "INVALID_QUANTITY", "The quantity must be an integer.");
      continue;
    }
    auto level = levels_.find({*item, *location});
    const std::int64_t before = level == levels_.end() ? 0 : level->second.available;
    if (!q.contains("changeFromQuantity")) {
      user_error(with("changeFromQuantity"), "CHANGE_FROM_QUANTITY_REQUIRED",
                 "changeFromQuantity is required; pass null to skip the check.");
      continue;
    }
    const json& from = q["changeFromQuantity"];
    if (!from.is_null() && (!from.is_number_integer() || from.get<std::int64_t>() != before)) {
      user_error(with("changeFromQuantity"), "CHANGE_FROM_QUANTITY_STALE",
                 "The specified compare quantity does not match the current quantity.");
      continue;
    }
    changes.push_back(Change{*item, *location, q["quantity"].get<std::int64_t>(), before});
  }
  json answer;
  Events events;
  if (!user_errors.empty()) {
    answer = set_quantities_payload(nullptr, std::move(user_errors));
  } else {
    json group_changes = json::array();
    for (const auto& c : changes) {
      if (put_level(c.item, c.location, c.quantity))
        event(events, "inventory_levels/update", level_json(c.item, c.location));
      core_.inspection().count_key("inventory_item_location",
                                   std::to_string(c.item) + "@" + std::to_string(c.location));
      group_changes.push_back(json{{"name", name},
                                   {"delta", c.quantity - c.before},
                                   {"quantityAfterChange", c.quantity},
                                   {"item", {{"id", gid("InventoryItem", c.item)}}},
                                   {"location", {{"id", gid("Location", c.location)}}}});
    }
    core_.inspection().record_write(
        "inventorySetQuantities",
        json{{"idempotency_key", *key}, {"input", json::parse(fingerprint)}, {"applied_at", applied_at()}});
    answer = set_quantities_payload(json{{"createdAt", now_text()},
                                         {"reason", input.value("reason", "correction")},
                                         {"referenceDocumentUri", input.value("referenceDocumentUri", json())},
                                         {"changes", std::move(group_changes)}},
                                    json::array());
  }
  idempotent_[*key] = {fingerprint, answer};
  publish(events);
  return with_cost(std::move(answer));
}

http::Response ShopifySimulator::Shop::admin_create_orders(const http::Request& request) {
  auto spec = parse_exact(request.body);
  if (!spec || !spec->is_object())
    return http::problem(400, "/problems/invalid-json", "Bad Request", "the body is not a JSON object");
  std::int64_t count = 1;
  if (auto it = spec->find("count"); it != spec->end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > 10000)
      return http::problem(400, "/problems/invalid-order", "Bad Request", "/count: expected 1..10000");
    count = it->get<std::int64_t>();
    spec->erase("count");
  }
  Events events;
  json created = json::array();
  for (std::int64_t i = 0; i < count; ++i) {
    auto order = build_order(*spec, "", &events);
    if (!order) return http::problem(400, "/problems/invalid-order", "Bad Request", order.error().message);
    created.push_back(std::move(*order));
    if (spec->contains("id")) break;
  }
  publish(events);
  return exact_json_response(201, json{{"orders", created}});
}

http::Response ShopifySimulator::Shop::admin_update_order(const http::Request& request) {
  const auto id = parse_id_text(request.params.at("id"));
  auto it = id ? orders_.find(*id) : orders_.end();
  if (it == orders_.end()) return http::problem(404, "/problems/not-found", "Not Found", "no such order");
  auto patch = parse_exact(request.body);
  if (!patch || !patch->is_object())
    return http::problem(400, "/problems/invalid-json", "Bad Request", "the body is not a JSON object");
  for (const auto& [name, value] : patch->items())
    if (name == "id" || name == "line_items")
      return http::problem(400, "/problems/invalid-order", "Bad Request", "/" + name + ": cannot be changed");
  for (const auto& [name, value] : patch->items()) it->second[name] = value;
  if (!patch->contains("updated_at")) it->second["updated_at"] = now_text();
  Events events;
  event(events, "orders/updated", it->second);
  publish(events);
  return exact_json_response(200, json{{"order", it->second}});
}

http::Response ShopifySimulator::Shop::admin_create_refund(const http::Request& request) {
  auto bad = [](const std::string& detail) {
    return http::problem(400, "/problems/invalid-refund", "Bad Request", detail);
  };
  auto spec = parse_exact(request.body);
  if (!spec || !spec->is_object()) return bad("the body is not a JSON object");
  auto order_id = read_id(*spec, "order_id", "");
  if (!order_id) return bad(order_id.error().message);
  auto order_it = orders_.find(*order_id);
  if (order_it == orders_.end()) return http::problem(404, "/problems/not-found", "Not Found", "no such order");
  json& order = order_it->second;
  const std::string currency_code = order.value("currency", currency_);
  auto currency = Currency::from_code(currency_code);
  if (!currency) return bad("/currency: " + currency.error().message);
  auto lines = spec->find("refund_line_items");
  if (lines == spec->end() || !lines->is_array() || lines->empty())
    return bad("/refund_line_items: expected a non-empty array");
  const std::string now = now_text();
  const std::int64_t refund_id = new_id();
  Money total = Money::zero(*currency);
  json refund_lines = json::array();
  std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> restocks;  // item, location, quantity
  for (std::size_t i = 0; i < lines->size(); ++i) {
    const json& l = (*lines)[i];
    const std::string at = "/refund_line_items/" + std::to_string(i);
    if (!l.is_object()) return bad(at + ": expected an object");
    auto line_id = read_id(l, "line_item_id", at);
    if (!line_id) return bad(line_id.error().message);
    const json* line = nullptr;
    for (const auto& candidate : order["line_items"])
      if (candidate["id"] == *line_id) line = &candidate;
    if (line == nullptr) return bad(at + "/line_item_id: not a line of this order");
    const std::int64_t q = l.value("quantity", json(1)).is_number_integer() ? l.value("quantity", 1) : 0;
    if (q < 1 || q > (*line)["quantity"].get<std::int64_t>()) return bad(at + "/quantity: 1 up to the line's quantity");
    const std::string restock = l.value("restock_type", "no_restock");
    if (restock != "no_restock" && restock != "return" && restock != "cancel" && restock != "legacy_restock")
      return bad(at + "/restock_type: no_restock, return, cancel or legacy_restock");
    std::optional<std::int64_t> location = optional_id(l, "location_id");
    if (restock != "no_restock") {
      if (!location) location = default_location();
      if (!location || !locations_.contains(*location)) return bad(at + "/location_id: unknown location");
    }
    auto price = parse_decimal((*line)["price"].get<std::string>(), *currency);
    if (!price) return bad(at + ": " + price.error().message);
    auto subtotal = price->multiply(q);
    if (!subtotal) return bad(at + ": " + subtotal.error().message);
    auto sum = total.add(*subtotal);
    if (!sum) return bad(at + ": " + sum.error().message);
    total = *sum;
    const std::int64_t id = new_id();
    json refund_line{{"id", id},
                     {"line_item_id", *line_id},
                     {"location_id", location ? json(*location) : json()},
                     {"quantity", q},
                     {"restock_type", restock},
                     {"subtotal", decimal_text(subtotal->to_decimal_string())},
                     {"subtotal_set", money_set(subtotal->to_decimal_string(), currency_code)},
                     {"total_tax", decimal_text(Money::zero(*currency).to_decimal_string())},
                     {"total_tax_set", money_set(Money::zero(*currency).to_decimal_string(), currency_code)},
                     {"line_item", *line}};
    refund_lines.push_back(std::move(refund_line));
    if (restock != "no_restock" && (*line)["variant_id"].is_number_integer()) {
      auto v = variants_.find((*line)["variant_id"].get<std::int64_t>());
      if (v != variants_.end()) restocks.emplace_back(v->second["inventory_item_id"].get<std::int64_t>(), *location, q);
    }
  }
  const std::int64_t transaction_id = new_id();
  json transaction{{"id", transaction_id},
                   {"order_id", *order_id},
                   {"kind", "refund"},
                   {"gateway", "bogus"},
                   {"status", "success"},
                   {"message", "Bogus Gateway: Forced success"},
                   {"created_at", now},
                   {"test", true},
                   {"authorization", nullptr},
                   {"location_id", nullptr},
                   {"user_id", nullptr},
                   {"parent_id", nullptr},
                   {"processed_at", now},
                   {"device_id", nullptr},
                   {"error_code", nullptr},
                   {"source_name", "web"},
                   {"receipt", json::object()},
                   {"amount", total.to_decimal_string()},
                   {"currency", currency_code},
                   {"payment_id", "c" + std::to_string(*order_id) + ".1"},
                   {"manual_payment_gateway", false},
                   {"amount_rounding", nullptr},
                   {"admin_graphql_api_id", gid("OrderTransaction", transaction_id)}};
  const std::string zero = Money::zero(*currency).to_decimal_string();
  json refund{{"id", refund_id},
              {"order_id", *order_id},
              {"created_at", now},
              {"note", spec->value("note", json())},
              {"user_id", nullptr},
              {"processed_at", now},
              {"duties", json::array()},
              {"total_duties_set", money_set(zero, currency_code)},
              {"return", nullptr},
              {"restock", !restocks.empty()},
              {"additional_fees", json::array()},
              {"total_additional_fees_set", money_set(zero, currency_code)},
              {"refund_shipping_lines", json::array()},
              {"admin_graphql_api_id", gid("Refund", refund_id)},
              {"order_adjustments", json::array()},
              {"refund_line_items", std::move(refund_lines)},
              {"transactions", json::array({transaction})}};
  order["refunds"].push_back(refund);
  // Fully refunded when every unit of every line is refunded.
  std::map<std::int64_t, std::int64_t> refunded;
  for (const auto& r : order["refunds"])
    for (const auto& rl : r["refund_line_items"])
      refunded[rl["line_item_id"].get<std::int64_t>()] += rl["quantity"].get<std::int64_t>();
  bool all = true;
  for (const auto& line : order["line_items"])
    all = all && refunded[line["id"].get<std::int64_t>()] >= line["quantity"].get<std::int64_t>();
  order["financial_status"] = all ? "refunded" : "partially_refunded";
  order["updated_at"] = now;
  Events events;
  event(events, "refunds/create", refund);
  event(events, "orders/updated", order);
  for (const auto& [item, location, q] : restocks) {
    auto it = levels_.find({item, location});
    put_level(item, location, (it == levels_.end() ? 0 : it->second.available) + q);
    event(events, "inventory_levels/update", level_json(item, location));
  }
  publish(events);
  return exact_json_response(201, json{{"refund", refund}});
}

Result<ShopifySimulatorSettings> apply_simulator_config(const ShopifySimulatorSettings& base, const json& config) {
  ShopifySimulatorSettings s = base;
  if (!config.is_object()) return invalid("", "the config must be a mapping");
  for (const auto& [name, value] : config.items()) {
    const std::string at = "/" + name;
    if (auto core = sim::apply_core_config_member(name, value, s.faults, s.webhooks)) {
      if (!*core) return core->error();
    } else if (name == "shop_domain" && value.is_string()) {
      s.shop_domain = value.get<std::string>();
    } else if (name == "api_version" && value.is_string()) {
      s.api_version = value.get<std::string>();
    } else if (name == "unprefixed_webhook_headers" && value.is_boolean()) {
      s.unprefixed_webhook_headers = value.get<bool>();
    } else if (auto* slot = name == "bucket_size"             ? &s.bucket_size
                            : name == "leak_per_second"       ? &s.leak_per_second
                            : name == "graphql_bucket_size"   ? &s.graphql_bucket_size
                            : name == "graphql_restore_rate"  ? &s.graphql_restore_rate
                            : name == "graphql_mutation_cost" ? &s.graphql_mutation_cost
                                                              : nullptr;
               slot != nullptr && (value.is_number() || is_decimal_text(value))) {
      const double v = value.is_number() ? value.get<double>() : std::stod(*number_text(value));
      if (!(v > 0) || v > 100000) return invalid(at, "expected a positive number");
      *slot = v;
    } else {
      return invalid(at,
                     "unknown member or wrong type (shop_domain, api_version, unprefixed_webhook_headers, "
                     "bucket_size, leak_per_second, graphql_bucket_size, graphql_restore_rate, "
                     "graphql_mutation_cost, faults, webhooks)");
    }
  }
  return s;
}

ShopifySimulator::ShopifySimulator(ShopifySimulatorSettings settings) : settings_(std::move(settings)) {}

ShopifySimulator::~ShopifySimulator() { stop(); }

Result<std::unique_ptr<ShopifySimulator>> ShopifySimulator::create(ShopifySimulatorSettings settings,
                                                                   const json& seed) {
  if (settings.access_token.empty())
    return make_error(Errc::invalid_argument, "the simulator needs an access token (X-Shopify-Access-Token)");
  if (!settings.webhooks.url.empty() && settings.app_secret.empty())
    return make_error(Errc::invalid_argument, "webhooks need the app secret that signs them");
  std::unique_ptr<ShopifySimulator> sim(new ShopifySimulator(std::move(settings)));
  const ShopifySimulatorSettings& s = sim->settings_;
  ShopifySimulator* self = sim.get();

  sim::ApiPolicy policy;
  policy.authenticate = [token = s.access_token](const http::Request& r) -> std::optional<http::Response> {
    const std::string* given = r.header("x-shopify-access-token");
    if (given != nullptr && constant_time_equal(*given, token)) return std::nullopt;
    return shopify_error(401, "[API] Invalid API key or access token (unrecognized login or wrong password)");
  };
  policy.throttled = [](std::chrono::nanoseconds wait) {
    auto r = shopify_error(429,
                           "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                           "uninterrupted service.");
    // Shopify writes seconds with a fraction ("2.0").
    const auto seconds = std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(wait).count());
    r.headers.emplace_back("Retry-After", std::to_string(seconds) + ".0");
    return r;
  };
  policy.injected_error = [](int status) {
    return shopify_error(status, status == 503   ? "Unavailable Shop"
                                 : status == 502 ? "Bad Gateway"
                                 : status == 504 ? "Gateway Timeout"
                                                 : "Internal Server Error");
  };
  policy.decorate = [version = s.api_version](http::Response& r, const sim::BucketState& b) {
    r.headers.emplace_back("X-Shopify-Shop-Api-Call-Limit", std::to_string(static_cast<std::int64_t>(b.used)) + "/" +
                                                                std::to_string(static_cast<std::int64_t>(b.capacity)));
    r.headers.emplace_back("X-Shopify-API-Version", version);
  };
  auto signer = [self](const sim::WebhookEvent& e, std::string_view delivery_id) {
    const ShopifySimulatorSettings& s = self->settings_;
    const std::string p = s.unprefixed_webhook_headers ? "Shopify-" : "X-Shopify-";
    http::HeaderFields h;
    h.add("Content-Type", "application/json");
    h.add(p + "Topic", e.topic);
    h.add(p + "Hmac-Sha256", connector::sign_shopify(e.body, s.app_secret));
    h.add(p + "Shop-Domain", self->shop_->domain());
    h.add(p + "API-Version", s.api_version);
    h.add(p + "Webhook-Id", std::string(delivery_id));
    h.add(p + "Event-Id", e.event_id);
    h.add(p + "Triggered-At", format_utc(e.triggered_at, 9));
    return h;
  };
  sim::CoreSettings core;
  core.faults = s.faults;
  core.webhooks = s.webhooks;
  core.bucket = connector::BudgetSettings::leaky_bucket(s.bucket_size, s.leak_per_second);
  core.clock = s.clock;
  sim::ApiPolicy graphql_policy = policy;
  graphql_policy.decorate = nullptr;
  sim->core_ = std::make_unique<sim::SimulatorCore>(core, std::move(policy), std::move(signer));
  sim->graphql_gate_ =
      std::make_unique<sim::ApiGate>(std::move(graphql_policy), std::nullopt, s.clock, sim->core_->faults(),
                                     sim->core_->inspection(), sim->core_->scheduler());
  sim->shop_ = std::make_unique<Shop>(sim->settings_, *sim->core_);
  if (auto st = sim->shop_->load(seed); !st) return st.error();

  sim->router_ = std::make_unique<http::Router>();
  http::Router& router = *sim->router_;
  sim::ApiGate& gate = sim->core_->gate();
  Shop& shop = *sim->shop_;
  using Member = http::Response (Shop::*)(const http::Request&);
  auto locked = [&shop](Member member) {
    return [&shop, member](const http::Request& r) {
      std::lock_guard lock(shop.mu_);
      try {
        return (shop.*member)(r);
      } catch (const nlohmann::json::exception& e) {
        // A forged page_info or a seed order of an unexpected shape: the
        // request fails, the simulator stays up.
        return shopify_error(400, std::string("unexpected JSON shape: ") + e.what());
      }
    };
  };
  const std::string api = "/admin/api/" + s.api_version;
  router.add("GET", api + "/orders.json", gate.wrap("orders.list", locked(&Shop::list_orders)));
  router.add("GET", api + "/orders/{file}", gate.wrap("orders.get", locked(&Shop::get_order)));
  router.add("GET", api + "/locations.json", gate.wrap("locations.list", locked(&Shop::list_locations)));
  router.add("GET", api + "/variants/{file}", gate.wrap("variants.get", locked(&Shop::get_variant)));
  router.add("GET", api + "/inventory_levels.json", gate.wrap("inventory_levels.list", locked(&Shop::list_levels)));
  router.add("POST", api + "/inventory_levels/set.json", gate.wrap("inventory_levels/set", locked(&Shop::set_level)));
  // GraphQL has its own cost-based limit (in Shop::graphql), not the REST bucket.
  router.add("POST", api + "/graphql.json", sim->graphql_gate_->wrap("graphql", locked(&Shop::graphql)));
  router.add_sync("POST", "/_sim/orders", locked(&Shop::admin_create_orders));
  router.add_sync("PUT", "/_sim/orders/{id}", locked(&Shop::admin_update_order));
  router.add_sync("POST", "/_sim/refunds", locked(&Shop::admin_create_refund));
  router.add_sync("PUT", "/_sim/inventory_levels", locked(&Shop::admin_set_level));
  sim->core_->add_admin_routes(router, [&shop] {
    std::lock_guard lock(shop.mu_);
    shop.refill_graphql_points();
  });
  return sim;
}

Status ShopifySimulator::start() {
  http::ServerSettings server;
  server.address = settings_.address;
  server.port = settings_.port;
  server.threads = settings_.threads;
  server.access_log = settings_.access_log;
  return server_.start(server, *router_);
}

std::uint16_t ShopifySimulator::port() const { return server_.port(); }

std::string ShopifySimulator::base_url() const { return server_.base_url(); }

sim::SimulatorCore& ShopifySimulator::core() { return *core_; }

void ShopifySimulator::stop() { server_.stop(core_.get()); }

}  // namespace trueup::connectors::shopify
