#pragma once
// What a simulator does wrong on purpose: the fault settings every simulator
// (Shopify, Square, Business Central) shares, and their JSON form, which is
// the same in the simulator's config file (`faults:`) and in the body of
// `PUT /_sim/faults`.
//
// JSON form (every member optional; a patch changes only what it names):
//   {"seed": 1, "latency_ms": 0, "error_share": 0.0, "error_status": 503,
//    "timeout_share": 0.0, "timeout_hold_ms": 10000, "rate_limit": true,
//    "webhooks": {"drop_share": 0.0, "duplicate_share": 0.0,
//                 "duplicate_new_id": false, "late_share": 0.0,
//                 "late_delay_ms": 0, "out_of_order": false}}
// Shares are in [0, 1]. Unknown members, wrong types and values out of bounds
// are Errc::invalid_argument naming the member's JSON Pointer.
//
// Thread-safety: plain values and pure functions.

#include <chrono>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "trueup/core/error.hpp"

namespace trueup::connectors::sim {

// Faults of outgoing webhook deliveries, decided once per published event.
struct WebhookFaults {
  double drop_share = 0;       // never delivered (the real services do not guarantee delivery)
  double duplicate_share = 0;  // delivered twice
  // A duplicate keeps the delivery id of the original (a redelivery, which is
  // what at-least-once services send); true gives it a new delivery id with
  // the same event id (the same merchant action delivered as two webhooks).
  bool duplicate_new_id = false;
  double late_share = 0;                    // held back for late_delay before the first attempt
  std::chrono::milliseconds late_delay{0};  // at most 24 h
  // Each delivery waits for the next one (at most kReorderWindow) and is sent
  // after it: consecutive deliveries arrive swapped.
  bool out_of_order = false;
};

// Faults of the simulated API, decided once per request.
struct FaultSettings {
  std::uint64_t seed = 1;                // of every random decision: same seed, same requests -> same faults
  std::chrono::milliseconds latency{0};  // added to every API answer; at most 60 s
  double error_share = 0;                // answered error_status without doing anything
  int error_status = 503;                // 500..599
  // Done, but answered only after timeout_hold (beyond a client's timeout):
  // the client cannot tell whether the write happened. At most 120 s.
  double timeout_share = 0;
  std::chrono::milliseconds timeout_hold{10000};
  bool rate_limit = true;  // 429 with Retry-After when the simulated bucket is empty
  WebhookFaults webhooks;
};

// `base` with the members of `patch` applied. `pointer` prefixes error
// locations ("/faults" when read from a config file).
Result<FaultSettings> apply_fault_json(const FaultSettings& base, const nlohmann::json& patch,
                                       std::string_view pointer = "");

// The full JSON form.
nlohmann::json fault_json(const FaultSettings& settings);

}  // namespace trueup::connectors::sim
