#include "dev_estate.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "common/exact_json.hpp"

namespace trueup::app::dev {
namespace {

using nlohmann::json;

constexpr std::array<const char*, 5> kSizes{"XS", "S", "M", "L", "XL"};
constexpr std::array<const char*, 10> kStyles{"TEE",  "POLO",  "SHIRT", "KNIT", "HOOD",
                                              "JEAN", "CHINO", "SKIRT", "COAT", "SOCK"};
constexpr std::array<const char*, 10> kStyleNames{"Organic tee",   "Pique polo", "Oxford shirt", "Merino knit",
                                                  "Zip hoodie",    "Slim jeans", "Chinos",       "Pleated skirt",
                                                  "Wool overcoat", "Rib socks"};
constexpr std::array<const char*, 9> kStoreNames{"Fifth Avenue",    "SoHo",        "Williamsburg",
                                                 "Upper West Side", "Astoria",     "Park Slope",
                                                 "Hoboken",         "Jersey City", "Flushing"};
constexpr const char* kCurrency = "USD";
constexpr std::int64_t kShopifyLocation = 68000000001;
constexpr std::int64_t kFirstVariant = 44000000001;
constexpr std::int64_t kFirstInventoryItem = 46000000001;
constexpr const char* kCompanyId = "7b2a63d6-2f1f-4c8e-9d3e-5c2a8f3b1d01";

std::string padded(int n, int width) {
  std::string s = std::to_string(n);
  return std::string(static_cast<std::size_t>(std::max(0, width - static_cast<int>(s.size()))), '0') + s;
}

// "25.50" from 2550.
std::string decimal_price(std::int64_t cents) {
  return std::to_string(cents / 100) + "." + padded(static_cast<int>(cents % 100), 2);
}

}  // namespace

Estate make_estate(const EstateSpec& spec) {
  Estate e;
  e.spec = spec;
  e.shopify_location_id = kShopifyLocation;
  e.bc_company_id = kCompanyId;
  std::mt19937_64 random(spec.seed);
  const auto between = [&random](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random); };

  for (int s = 1; s <= spec.stores; ++s)
    e.stores.push_back(EstateStore{"ST" + std::to_string(s),
                                   std::string("Store ") + kStoreNames[(s - 1) % kStoreNames.size()],
                                   "LTRUEUPDEVST" + std::to_string(s)});

  const int products = std::max(1, spec.skus / static_cast<int>(kSizes.size()));
  json square_items = json::array();
  json shopify_products = json::array();
  json bc_items = json::array();
  json square_counts = json::array();
  json shopify_levels = json::array();
  std::ostringstream csv;
  csv << "system,entity,external_id,canonical_id\n";
  for (const auto& store : e.stores) csv << "square,location," << store.square_location_id << "," << store.code << "\n";
  csv << "shopify,location," << kShopifyLocation << "," << e.warehouse << "\n";
  csv << "business-central,location," << e.warehouse << "," << e.warehouse << "\n";
  for (const auto& store : e.stores) csv << "business-central,location," << store.code << "," << store.code << "\n";

  for (int p = 0; p < products; ++p) {
    const std::size_t style = static_cast<std::size_t>(p) % kStyles.size();
    const std::string product_code = std::string(kStyles[style]) + "-" + padded(p + 1, 3);
    const std::string product_name = std::string(kStyleNames[style]) + " " + padded(p + 1, 3);
    const std::int64_t price = 1500 + static_cast<std::int64_t>(p % 20) * 250;
    json variations = json::array();
    json variants = json::array();
    for (std::size_t z = 0; z < kSizes.size(); ++z) {
      const int index = p * static_cast<int>(kSizes.size()) + static_cast<int>(z);
      EstateSku sku;
      sku.sku = product_code + "-" + kSizes[z];
      sku.title = product_name + " " + kSizes[z];
      sku.price_cents = price;
      sku.square_variation_id = "VARTRUEUPDEV" + padded(index + 1, 6);
      sku.shopify_variant_id = kFirstVariant + index;
      sku.shopify_inventory_item_id = kFirstInventoryItem + index;

      variations.push_back({{"id", sku.square_variation_id},
                            {"name", kSizes[z]},
                            {"sku", sku.sku},
                            {"price_money", {{"amount", price}, {"currency", kCurrency}}}});
      variants.push_back({{"id", sku.shopify_variant_id},
                          {"sku", sku.sku},
                          {"title", kSizes[z]},
                          {"price", decimal_price(price)},
                          {"inventory_item_id", sku.shopify_inventory_item_id}});
      json inventory = json::object();
      const int warehouse = between(20, 120);
      inventory[e.warehouse] = warehouse;
      shopify_levels.push_back({{"inventory_item_id", sku.shopify_inventory_item_id},
                                {"location_id", kShopifyLocation},
                                {"available", warehouse}});
      for (const auto& store : e.stores) {
        const int on_hand = between(6, 24);
        inventory[store.code] = on_hand;
        square_counts.push_back({{"catalog_object_id", sku.square_variation_id},
                                 {"location_id", store.square_location_id},
                                 {"quantity", std::to_string(on_hand)}});
      }
      bc_items.push_back({{"number", sku.sku},
                          {"displayName", sku.title},
                          {"unitPrice", connectors::decimal_text(decimal_price(price))},
                          {"taxPercent", 0},
                          {"type", "Inventory"},
                          {"baseUnitOfMeasureCode", "PCS"},
                          {"inventory", std::move(inventory)}});
      csv << "square,item_variation," << sku.square_variation_id << "," << sku.sku << "\n";
      csv << "shopify,variant," << sku.shopify_variant_id << "," << sku.sku << "\n";
      csv << "shopify,inventory_item," << sku.shopify_inventory_item_id << "," << sku.sku << "\n";
      csv << "business-central,item," << sku.sku << "," << sku.sku << "\n";
      e.skus.push_back(std::move(sku));
    }
    square_items.push_back(
        {{"id", "ITEMTRUEUPDEV" + padded(p + 1, 6)}, {"name", product_name}, {"variations", std::move(variations)}});
    shopify_products.push_back({{"id", 9000000001 + p}, {"title", product_name}, {"variants", std::move(variants)}});
  }

  json square_locations = json::array();
  json bc_locations = json::array({{{"code", e.warehouse}, {"displayName", "Warehouse"}}});
  for (const auto& store : e.stores) {
    square_locations.push_back({{"id", store.square_location_id}, {"name", store.name}, {"type", "PHYSICAL"}});
    bc_locations.push_back({{"code", store.code}, {"displayName", store.name}});
  }
  e.square_seed = {{"merchant", {{"id", "MLTRUEUPDEV01"}, {"currency", kCurrency}}},
                   {"locations", std::move(square_locations)},
                   {"items", std::move(square_items)},
                   {"inventory_counts", std::move(square_counts)}};
  e.shopify_seed = {{"shop", {{"domain", "trueup-dev.myshopify.com"}, {"currency", kCurrency}}},
                    {"locations", json::array({{{"id", kShopifyLocation}, {"name", "Warehouse"}}})},
                    {"products", std::move(shopify_products)},
                    {"inventory_levels", std::move(shopify_levels)}};
  e.business_central_seed = {{"company",
                              {{"id", kCompanyId},
                               {"name", "Trueup Dev Retail"},
                               {"currency", kCurrency},
                               {"default_location_code", e.warehouse}}},
                             {"locations", std::move(bc_locations)},
                             {"customers", json::array({{{"number", "POS"}, {"displayName", "Store and web sales"}}})},
                             {"items", std::move(bc_items)}};
  e.crosswalk_csv = csv.str();
  return e;
}

std::string estate_config_yaml(const Estate& estate) {
  std::string locations = estate.warehouse;
  for (const auto& store : estate.stores) locations += ", " + store.code;
  std::ostringstream y;
  y << "connectors:\n"
       "  square:\n"
       "    - id: "
    << kSquareConnector
    << "\n"
       "      channel: pos\n"
       "      signature_key: ${TRUEUP_DEV_SQUARE_SIGNATURE_KEY}\n"
       "      notification_url: http://127.0.0.1:${TRUEUP_DEV_PORT:-8080}/v1/webhooks/"
    << kSquareConnector
    << "\n"
       "      api_base_url: ${TRUEUP_DEV_SQUARE_URL}\n"
       "      access_token: ${TRUEUP_DEV_SQUARE_TOKEN}\n"
       "      poll_interval: 30s\n"
       "      poll_overlap: 1m\n"
       "      poll_first_lookback: 1m\n"
       "  shopify:\n"
       "    - id: "
    << kShopifyConnector
    << "\n"
       "      channel: web\n"
       "      webhook_secret: ${TRUEUP_DEV_SHOPIFY_SECRET}\n"
       "      shop_domain: trueup-dev.myshopify.com\n"
       "      api_base_url: ${TRUEUP_DEV_SHOPIFY_URL}\n"
       "      access_token: ${TRUEUP_DEV_SHOPIFY_TOKEN}\n"
       "      poll_interval: 30s\n"
       "      poll_overlap: 1m\n"
       "      poll_first_lookback: 1m\n"
       "  business-central:\n"
       "    - id: "
    << kErpConnector
    << "\n"
       "      api_base_url: ${TRUEUP_DEV_BC_URL}\n"
       "      company_id: "
    << estate.bc_company_id
    << "\n"
       "      access_token: ${TRUEUP_DEV_BC_TOKEN}\n"
       "      customer_number: POS\n"
       "      local_currency: USD\n"
       "      default_location: "
    << estate.warehouse
    << "\n"
       "      poll_interval: 2s\n"
       "      request_timeout: 5s\n"
       "erp:\n"
       "  connector: "
    << kErpConnector
    << "\n"
       "  post_channels: [pos]\n"
       "availability:\n"
       "  safety_stock:\n"
       "    default: 1\n"
       "    rules:\n"
       "      - location: "
    << estate.warehouse
    << "\n"
       "        quantity: 3\n"
       "  channels:\n"
       "    - code: web\n"
       "      locations: ["
    << locations
    << "]\n"
       "      push_connector: "
    << kShopifyConnector
    << "\n"
       "      push_location: "
    << estate.warehouse
    << "\n"
       "  tiers:\n"
       "    hot_push_within: 1s\n"
       "    cold_interval: 30s\n"
       "    velocity_threshold: 1\n"
       "    velocity_window: 10m\n"
       "  drift:\n"
       "    check_interval: 1m\n";
  return y.str();
}

std::vector<std::pair<std::string, std::string>> dev_environment(const EstateEndpoints& endpoints) {
  return {{"TRUEUP_DEV_SQUARE_URL", endpoints.square_url},
          {"TRUEUP_DEV_SHOPIFY_URL", endpoints.shopify_url},
          {"TRUEUP_DEV_BC_URL", endpoints.business_central_url},
          {"TRUEUP_DEV_SQUARE_TOKEN", kSquareToken},
          {"TRUEUP_DEV_SQUARE_SIGNATURE_KEY", kSquareSignatureKey},
          {"TRUEUP_DEV_SHOPIFY_TOKEN", kShopifyToken},
          {"TRUEUP_DEV_SHOPIFY_SECRET", kShopifySecret},
          {"TRUEUP_DEV_BC_TOKEN", kBcToken}};
}

Status write_estate(const Estate& estate, const std::string& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) return make_error(Errc::unavailable, directory + ": " + ec.message());
  std::string env;
  for (const auto& [name, value] : dev_environment(EstateEndpoints{}))
    if (!value.empty()) env += name + "=" + value + "\n";
  const std::vector<std::pair<std::string, std::string>> files{
      {"square-seed.json", connectors::dump_exact(estate.square_seed)},
      {"shopify-seed.json", connectors::dump_exact(estate.shopify_seed)},
      {"business-central-seed.json", connectors::dump_exact(estate.business_central_seed)},
      {"crosswalk.csv", estate.crosswalk_csv},
      {"estate.yaml", estate_config_yaml(estate)},
      {"estate.env", env}};
  for (const auto& [name, content] : files) {
    const std::string path = directory + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) return make_error(Errc::unavailable, path + ": cannot be written");
  }
  return Ok{};
}

}  // namespace trueup::app::dev
