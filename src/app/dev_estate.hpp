#pragma once
// The simulated retail estate of `trueup dev` (docs/dev.md): one warehouse,
// N stores selling through Square POS, one Shopify web shop and Business
// Central as the ERP. make_estate() builds, from a seed number, what each
// simulator starts with (their seed files' JSON), the crosswalk that ties
// their ids to the canonical SKUs and locations, and the daemon configuration
// that connects the three.
//
// The estate is consistent: Business Central's opening stock per item and
// location is what Square counts at the stores; the Shopify shop starts with
// the warehouse quantities and Trueup corrects them to the computed
// availability at start.
//
// Canonical ids: SKUs "<STYLE>-<nnn>-<size>" (e.g. "TEE-004-M"), locations
// "WH" and "ST1".."STn" (also the Business Central location codes), channels
// "pos" (Square) and "web" (Shopify).
//
// Thread-safety: pure functions.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"

namespace trueup::app::dev {

struct EstateSpec {
  int skus = 500;  // rounded down to whole products of 5 sizes
  int stores = 5;  // 1..9
  std::uint64_t seed = 1;
};

struct EstateSku {
  std::string sku;
  std::string title;
  std::int64_t price_cents = 0;
  std::string square_variation_id;
  std::int64_t shopify_variant_id = 0;
  std::int64_t shopify_inventory_item_id = 0;
};

struct EstateStore {
  std::string code;  // canonical and Business Central location code: ST1..
  std::string name;
  std::string square_location_id;
};

struct Estate {
  EstateSpec spec;
  std::vector<EstateSku> skus;
  std::vector<EstateStore> stores;
  std::string warehouse = "WH";
  std::int64_t shopify_location_id = 0;  // the web shop's location (the warehouse)
  std::string bc_company_id;

  nlohmann::json square_seed;
  nlohmann::json shopify_seed;
  nlohmann::json business_central_seed;
  // system,entity,external_id,canonical_id rows (POST /v1/crosswalk/import).
  std::string crosswalk_csv;
};

Estate make_estate(const EstateSpec& spec);

// The connector ids in the estate's configuration.
inline constexpr const char* kSquareConnector = "square";
inline constexpr const char* kShopifyConnector = "shopify";
inline constexpr const char* kErpConnector = "erp";

// The configuration sections connecting the estate (connectors, erp,
// availability), to append to the dev daemon's configuration. Simulator URLs,
// the dev port and the secrets are ${TRUEUP_DEV_*} placeholders
// (dev_environment() gives their values).
std::string estate_config_yaml(const Estate& estate);

struct EstateEndpoints {
  std::string square_url;
  std::string shopify_url;
  std::string business_central_url;
};

// Name/value pairs of the ${TRUEUP_DEV_*} placeholders: the simulators' URLs
// and the estate's secrets (the same fixed values the simulators are given).
std::vector<std::pair<std::string, std::string>> dev_environment(const EstateEndpoints& endpoints);

// Writes the estate to `directory` (created if missing), for running it as
// separate processes (`trueup sim ...` and `trueup serve`): square-seed.json,
// shopify-seed.json, business-central-seed.json, crosswalk.csv, estate.yaml
// (estate_config_yaml) and estate.env (the secrets' placeholders as
// NAME=value lines). Errors: unavailable when a file cannot be written.
Status write_estate(const Estate& estate, const std::string& directory);

// The secrets shared by the simulators and the daemon (loopback only).
inline constexpr const char* kSquareToken = "EAAAdev_trueup_square";
inline constexpr const char* kSquareSignatureKey = "dev-square-signature-key";
inline constexpr const char* kShopifyToken = "shpat_dev_trueup";
inline constexpr const char* kShopifySecret = "shpss_dev_trueup";
inline constexpr const char* kBcToken = "dev-bc-token";

}  // namespace trueup::app::dev
