#pragma once
// The current fault settings of a simulator and the seeded random decisions
// made from them. Every decision draws the same number of values whatever the
// settings, so one seed and one sequence of requests give the same faults on
// every run (requests that arrive concurrently may take their draws in either
// order). Changing the seed (`replace`/`update` with a seed) restarts the
// sequence; changing anything else keeps it.
//
// Thread-safety: every member function may be called from any thread.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "common/sim/fault_settings.hpp"
#include "trueup/core/error.hpp"

namespace trueup::connectors::sim {

// What happens to one API request.
struct RequestFault {
  enum class Kind { none, error, timeout };
  Kind kind = Kind::none;
  int status = 0;                        // error: the status to answer
  std::chrono::milliseconds latency{0};  // added before the answer
  std::chrono::milliseconds hold{0};     // timeout: how long the answer is held
};

// What happens to one published webhook event.
struct DeliveryFault {
  bool drop = false;
  bool duplicate = false;
  bool new_id_for_duplicate = false;
  std::chrono::milliseconds delay{0};  // before the first attempt
  bool out_of_order = false;
};

class FaultInjector {
 public:
  explicit FaultInjector(FaultSettings settings);

  FaultSettings settings() const;
  // Replaces the settings (reseeds when the seed differs).
  void replace(const FaultSettings& settings);
  // Applies a JSON patch (see fault_settings.hpp); nothing changes on error.
  Result<FaultSettings> update(const nlohmann::json& patch);

  RequestFault next_request();
  DeliveryFault next_delivery();
  // "8-4-4-4-12" lower-case hex, from the seeded sequence (webhook and event
  // ids that are the same on every run).
  std::string next_uuid();

 private:
  double draw();  // [0, 1); caller holds mu_
  void reseed(std::uint64_t seed);

  mutable std::mutex mu_;
  FaultSettings settings_;
  std::mt19937_64 rng_;
  std::mt19937_64 ids_;  // separate, so ids do not shift the fault sequence
};

}  // namespace trueup::connectors::sim
