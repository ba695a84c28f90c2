#include "common/sim/fault_settings.hpp"

#include <functional>
#include <map>
#include <string>

namespace trueup::connectors::sim {
namespace {

using nlohmann::json;
using Member = std::function<Status(const json& value, const std::string& at)>;

Error invalid(const std::string& at, std::string_view what) {
  return make_error(Errc::invalid_argument, (at.empty() ? "/" : at) + ": " + std::string(what));
}

// Applies each member of `object` through its reader; unknown members fail.
Status read_members(const json& object, const std::string& at, const std::map<std::string, Member>& readers) {
  if (!object.is_object()) return invalid(at, "expected an object");
  for (const auto& [name, value] : object.items()) {
    auto reader = readers.find(name);
    if (reader == readers.end()) return invalid(at + "/" + name, "unknown member");
    if (auto st = reader->second(value, at + "/" + name); !st) return st;
  }
  return Ok{};
}

Member share(double& out) {
  return [&out](const json& v, const std::string& at) -> Status {
    if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1)
      return invalid(at, "expected a share between 0 and 1");
    out = v.get<double>();
    return Ok{};
  };
}

Member flag(bool& out) {
  return [&out](const json& v, const std::string& at) -> Status {
    if (!v.is_boolean()) return invalid(at, "expected true or false");
    out = v.get<bool>();
    return Ok{};
  };
}

Member millis(std::chrono::milliseconds& out, std::int64_t max) {
  return [&out, max](const json& v, const std::string& at) -> Status {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > max)
      return invalid(at, "expected milliseconds between 0 and " + std::to_string(max));
    out = std::chrono::milliseconds(v.get<std::int64_t>());
    return Ok{};
  };
}

}  // namespace

Result<FaultSettings> apply_fault_json(const FaultSettings& base, const json& patch, std::string_view pointer) {
  FaultSettings s = base;
  WebhookFaults& w = s.webhooks;
  const std::map<std::string, Member> webhook_members{
      {"drop_share", share(w.drop_share)},
      {"duplicate_share", share(w.duplicate_share)},
      {"duplicate_new_id", flag(w.duplicate_new_id)},
      {"late_share", share(w.late_share)},
      {"late_delay_ms", millis(w.late_delay, 24LL * 3600 * 1000)},
      {"out_of_order", flag(w.out_of_order)},
  };
  const std::map<std::string, Member> members{
      {"seed",
       [&s](const json& v, const std::string& at) -> Status {
         if (!v.is_number_unsigned()) return invalid(at, "expected a non-negative integer");
         s.seed = v.get<std::uint64_t>();
         return Ok{};
       }},
      {"latency_ms", millis(s.latency, 60000)},
      {"error_share", share(s.error_share)},
      {"error_status",
       [&s](const json& v, const std::string& at) -> Status {
         if (!v.is_number_integer() || v.get<int>() < 500 || v.get<int>() > 599)
           return invalid(at, "expected a status between 500 and 599");
         s.error_status = v.get<int>();
         return Ok{};
       }},
      {"timeout_share", share(s.timeout_share)},
      {"timeout_hold_ms", millis(s.timeout_hold, 120000)},
      {"rate_limit", flag(s.rate_limit)},
      {"webhooks",
       [&webhook_members](const json& v, const std::string& at) { return read_members(v, at, webhook_members); }},
  };
  if (auto st = read_members(patch, std::string(pointer), members); !st) return st.error();
  return s;
}

json fault_json(const FaultSettings& s) {
  return json{{"seed", s.seed},
              {"latency_ms", s.latency.count()},
              {"error_share", s.error_share},
              {"error_status", s.error_status},
              {"timeout_share", s.timeout_share},
              {"timeout_hold_ms", s.timeout_hold.count()},
              {"rate_limit", s.rate_limit},
              {"webhooks",
               {{"drop_share", s.webhooks.drop_share},
                {"duplicate_share", s.webhooks.duplicate_share},
                {"duplicate_new_id", s.webhooks.duplicate_new_id},
                {"late_share", s.webhooks.late_share},
                {"late_delay_ms", s.webhooks.late_delay.count()},
                {"out_of_order", s.webhooks.out_of_order}}}};
}

}  // namespace trueup::connectors::sim
