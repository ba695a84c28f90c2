#include "common/sim/fault_injector.hpp"

namespace trueup::connectors::sim {

FaultInjector::FaultInjector(FaultSettings settings) : settings_(settings) { reseed(settings.seed); }

void FaultInjector::reseed(std::uint64_t seed) {
  rng_.seed(seed);
  ids_.seed(seed ^ 0x9E3779B97F4A7C15ULL);
}

FaultSettings FaultInjector::settings() const {
  std::lock_guard lock(mu_);
  return settings_;
}

void FaultInjector::replace(const FaultSettings& settings) {
  std::lock_guard lock(mu_);
  if (settings.seed != settings_.seed) reseed(settings.seed);
  settings_ = settings;
}

Result<FaultSettings> FaultInjector::update(const nlohmann::json& patch) {
  std::lock_guard lock(mu_);
  auto next = apply_fault_json(settings_, patch);
  if (!next) return next;
  // A seed named in the patch restarts the sequence even when unchanged, so a
  // test can replay the same faults.
  if (patch.is_object() && patch.contains("seed")) reseed(next->seed);
  settings_ = *next;
  return next;
}

double FaultInjector::draw() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

RequestFault FaultInjector::next_request() {
  std::lock_guard lock(mu_);
  const double error = draw();
  const double timeout = draw();
  RequestFault f;
  f.latency = settings_.latency;
  if (error < settings_.error_share) {
    f.kind = RequestFault::Kind::error;
    f.status = settings_.error_status;
  } else if (timeout < settings_.timeout_share) {
    f.kind = RequestFault::Kind::timeout;
    f.hold = settings_.timeout_hold;
  }
  return f;
}

DeliveryFault FaultInjector::next_delivery() {
  std::lock_guard lock(mu_);
  const auto& w = settings_.webhooks;
  const double drop = draw();
  const double duplicate = draw();
  const double late = draw();
  DeliveryFault f;
  f.drop = drop < w.drop_share;
  f.duplicate = duplicate < w.duplicate_share;
  f.new_id_for_duplicate = w.duplicate_new_id;
  if (late < w.late_share) f.delay = w.late_delay;
  f.out_of_order = w.out_of_order;
  return f;
}

std::string FaultInjector::next_uuid() {
  std::lock_guard lock(mu_);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  std::uint64_t parts[2] = {ids_(), ids_()};
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
    out += kHex[(parts[i / 16] >> ((i % 16) * 4)) & 0xf];
  }
  return out;
}

}  // namespace trueup::connectors::sim
