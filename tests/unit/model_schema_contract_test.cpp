// Contract: what the codecs write validates against docs/schemas/ with a
// validator nobody here wrote (Python `jsonschema`, Debian python3-jsonschema,
// installed by scripts/setup), draft 2020-12 with format checking; and the
// schemas reject what the codecs reject (float money, unknown members, ...).
// docs/asyncapi.yaml names every event of the catalogue.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model_samples.hpp"
#include "support/process.hpp"
#include "support/test_env.hpp"
#include "trueup/model/erp_posting.hpp"
#include "trueup/model/events.hpp"
#include "trueup/model/inventory_movement.hpp"
#include "trueup/model/order.hpp"
#include "trueup/model/refund.hpp"
#include "trueup/model/return.hpp"
#include "trueup/model/settlement_line.hpp"
#include "trueup/model/shipment.hpp"
#include "trueup/model/stock_position.hpp"
#include "trueup/model/tender.hpp"

namespace trueup::model {
namespace {

using nlohmann::json;

// Loads every *.schema.json into a registry keyed by $id (new `referencing`
// API, or RefResolver on older jsonschema such as Debian 12's 4.10), then
// validates each manifest entry and prints one JSON result per entry.
constexpr const char* kValidator = R"PY(
import json, pathlib, sys
import jsonschema
schemas_dir, manifest = sys.argv[1], sys.argv[2]
V = jsonschema.Draft202012Validator
store = {}
for p in sorted(pathlib.Path(schemas_dir).glob("*.schema.json")):
    s = json.loads(p.read_text())
    V.check_schema(s)
    store[p.name] = s
def validator(name):
    s = store[name]
    try:
        from referencing import Registry, Resource
        reg = Registry().with_resources([(x["$id"], Resource.from_contents(x)) for x in store.values()])
        return V(s, registry=reg, format_checker=V.FORMAT_CHECKER)
    except ImportError:
        res = jsonschema.RefResolver(base_uri=s["$id"], referrer=s, store={x["$id"]: x for x in store.values()})
        return V(s, resolver=res, format_checker=V.FORMAT_CHECKER)
out = {"schemas": sorted(store), "formats": sorted(V.FORMAT_CHECKER.checkers), "results": []}
for item in json.load(open(manifest)):
    inst = json.load(open(item["file"]))
    errs = list(validator(item["schema"]).iter_errors(inst))
    out["results"].append({"name": item["name"], "valid": not errs,
        "errors": ["/" + "/".join(str(x) for x in e.absolute_path) + ": " + e.message for e in errs[:3]]})
print(json.dumps(out))
)PY";

std::string python() {
  // Prefer Debian's interpreter: python3-jsonschema is installed for it.
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

struct Case {
  std::string name;
  std::string schema;
  json doc;
  bool expect_valid;
};

// The codec's output for `doc`, or the codec's error.
Result<json> reencode(const std::string& schema, const json& doc) {
  auto via = [&]<class T>(const T*) -> Result<json> {
    auto v = from_json<T>(doc);
    if (!v) return std::move(v).error();
    return to_json(*v);
  };
  if (schema == "order.schema.json") return via(static_cast<Order*>(nullptr));
  if (schema == "tender.schema.json") return via(static_cast<Tender*>(nullptr));
  if (schema == "shipment.schema.json") return via(static_cast<Shipment*>(nullptr));
  if (schema == "return.schema.json") return via(static_cast<Return*>(nullptr));
  if (schema == "refund.schema.json") return via(static_cast<Refund*>(nullptr));
  if (schema == "inventory-movement.schema.json") return via(static_cast<InventoryMovement*>(nullptr));
  if (schema == "stock-position.schema.json") return via(static_cast<StockPosition*>(nullptr));
  if (schema == "settlement-line.schema.json") return via(static_cast<SettlementLine*>(nullptr));
  if (schema == "erp-posting.schema.json") return via(static_cast<ErpPosting*>(nullptr));
  if (schema == "exception-opened.schema.json") return via(static_cast<ExceptionOpened*>(nullptr));
  if (schema == "exception-resolved.schema.json") return via(static_cast<ExceptionResolved*>(nullptr));
  if (schema == "instance-started.schema.json") return via(static_cast<InstanceStarted*>(nullptr));
  return make_error(Errc::not_found, "no codec for " + schema);
}

// Run the document through the codec so that the validated text is what
// Trueup writes, not what the test author typed.
json encode(const std::string& schema, const json& canonical) {
  auto out = reencode(schema, canonical);
  EXPECT_TRUE(out.ok()) << schema << ": " << (out.ok() ? "" : out.error().message);
  return out.ok() ? *out : json();
}

bool codecs_reject(const std::string& schema, const json& doc) {
  auto out = reencode(schema, doc);
  return !out.ok() && out.error().code == Errc::invalid_argument;
}

TEST(ModelSchemaContract, CodecOutputValidatesAndSchemasRejectWhatCodecsReject) {
  const std::string schemas = testing::source_dir() + "/docs/schemas";
  ASSERT_TRUE(std::filesystem::is_directory(schemas)) << schemas;

  std::vector<Case> cases;
  const auto all = samples::all();
  for (const auto& s : all) cases.push_back({s.name, s.schema, encode(s.schema, s.doc), true});

  // Every event's data goes through the payload builder too.
  EventContext ctx{"id-1", "/trueup/test", *Timestamp::parse("2026-03-01T00:00:00Z"), ""};
  cases.push_back({"event_stock_changed", "stock-position.schema.json",
                   json::parse(stock_changed(*from_json<StockPosition>(all[10].doc), ctx).value), true});
  cases.push_back({"event_order_accepted", "order.schema.json",
                   json::parse(order_accepted(*from_json<Order>(all[1].doc), ctx).value), true});

  // Negative checks: the schema must refuse these (the codec does too).
  auto bad = [&](const char* name, std::size_t sample, auto mutate) {
    json doc = all.at(sample).doc;
    mutate(doc);
    auto codec_view = codecs_reject(all.at(sample).schema, doc);
    EXPECT_TRUE(codec_view) << name << ": the codec accepted it";
    cases.push_back({name, all.at(sample).schema, doc, false});
  };
  bad("float_money", 0, [](json& j) { j["lines"][0]["unit_price"] = 19.99; });
  bad("integer_money", 1, [](json& j) { j["totals"]["grand_total"] = 3000; });
  bad("float_tender_money", 3, [](json& j) { j["amount"] = 1.2345; });
  bad("float_quantity", 7, [](json& j) { j["quantity_delta"] = -1.5; });
  bad("numeric_id", 0, [](json& j) { j["external_reference"] = 9223372036854775807LL; });
  bad("unknown_member", 10, [](json& j) { j["reserved"] = "1"; });
  bad("missing_member", 12, [](json& j) { j.erase("external_document_number"); });
  bad("timestamp_without_offset", 10, [](json& j) { j["as_of"] = "2026-03-01T10:15:00"; });
  bad("restock_without_location", 5, [](json& j) { j["lines"][0].erase("location"); });
  bad("count_with_delta", 9, [](json& j) { j["quantity_delta"] = "1"; });
  bad("transfer_without_to", 8, [](json& j) { j.erase("to_location"); });
  bad("sale_with_to", 7, [](json& j) { j["to_location"] = "X"; });

  const std::string dir = testing::make_temp_dir("model_contract");
  json manifest = json::array();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string file = dir + "/" + std::to_string(i) + "-" + cases[i].name + ".json";
    testing::write_file(file, cases[i].doc.dump(2));
    manifest.push_back({{"name", cases[i].name}, {"schema", cases[i].schema}, {"file", file}});
  }
  testing::write_file(dir + "/manifest.json", manifest.dump());

  auto run = testing::run_process({python(), "-c", kValidator, schemas, dir + "/manifest.json"});
  ASSERT_EQ(run.exit_code, 0) << "python jsonschema failed (scripts/setup installs python3-jsonschema):\n" << run.err;
  const json out = json::parse(run.out);
  // Every schema file is loaded and well-formed (check_schema), and the
  // common definitions file exists beside them.
  EXPECT_NE(std::find(out["schemas"].begin(), out["schemas"].end(), "common.schema.json"), out["schemas"].end());
  EXPECT_NE(std::find(out["formats"].begin(), out["formats"].end(), "uuid"), out["formats"].end());
  ASSERT_EQ(out["results"].size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& r = out["results"][i];
    EXPECT_EQ(r["valid"].get<bool>(), cases[i].expect_valid)
        << cases[i].name << " against " << cases[i].schema << ": " << r["errors"].dump() << "\n"
        << cases[i].doc.dump();
  }
  std::filesystem::remove_all(dir);
}

TEST(ModelSchemaContract, EverySchemaFileIsUsedAndAsyncApiNamesEveryEvent) {
  const std::string root = testing::source_dir();
  std::ifstream in(root + "/docs/asyncapi.yaml");
  ASSERT_TRUE(in) << "docs/asyncapi.yaml is missing";
  std::stringstream text;
  text << in.rdbuf();
  const std::string yaml = text.str();
  for (const auto& spec : event_catalogue()) {
    EXPECT_TRUE(std::filesystem::exists(root + "/docs/schemas/" + std::string(spec.schema))) << spec.schema;
    EXPECT_NE(yaml.find(std::string(spec.type)), std::string::npos) << spec.type;
    EXPECT_NE(yaml.find(std::string(spec.topic)), std::string::npos) << spec.topic;
    EXPECT_NE(yaml.find("schemas/" + std::string(spec.schema)), std::string::npos) << spec.schema;
  }
  for (const char* header :
       {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type", "traceparent"})
    EXPECT_NE(yaml.find(header), std::string::npos) << header;
}

}  // namespace
}  // namespace trueup::model
