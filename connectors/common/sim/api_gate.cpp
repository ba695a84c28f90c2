#include "common/sim/api_gate.hpp"

#include <cmath>

namespace trueup::connectors::sim {

ApiGate::ApiGate(ApiPolicy policy, std::optional<connector::BudgetSettings> bucket, SteadyClock clock,
                 FaultInjector& faults, Inspection& inspection, TaskScheduler& scheduler)
    : policy_(std::move(policy)),
      bucket_settings_(bucket),
      clock_(clock ? std::move(clock) : SteadyClock([] { return std::chrono::steady_clock::now(); })),
      faults_(faults),
      inspection_(inspection),
      scheduler_(scheduler) {
  reset_bucket();
}

void ApiGate::reset_bucket() {
  std::lock_guard lock(mu_);
  bucket_ = bucket_settings_ ? std::make_unique<connector::Budget>(*bucket_settings_) : nullptr;
}

BucketState ApiGate::bucket_state() const {
  std::lock_guard lock(mu_);
  if (!bucket_) return {};
  const auto s = bucket_->snapshot(clock_());
  return BucketState{std::max(0.0, std::ceil(s.capacity - s.remaining - 1e-9)), s.capacity};
}

void ApiGate::answer(http::Respond& respond, http::Response response, std::chrono::milliseconds delay) {
  if (delay.count() > 0) {
    auto shared = std::make_shared<std::pair<http::Respond, http::Response>>(std::move(respond), std::move(response));
    if (scheduler_.post_after(delay, [shared] { shared->first(std::move(shared->second)); })) return;
    respond = std::move(shared->first);
    response = std::move(shared->second);
  }
  respond(std::move(response));
}

http::Handler ApiGate::wrap(std::string operation, std::function<http::Response(const http::Request&)> handler) {
  return [this, operation = std::move(operation), handler = std::move(handler)](http::Request& request,
                                                                                http::Respond respond) {
    inspection_.count_request(operation);
    if (policy_.authenticate) {
      if (auto refused = policy_.authenticate(request)) {
        inspection_.count_unauthorized();
        respond(std::move(*refused));
        return;
      }
    }
    const RequestFault fault = faults_.next_request();
    const bool limiting = faults_.settings().rate_limit;
    auto decorate = [this](http::Response& r) {
      if (policy_.decorate && bucket_settings_) policy_.decorate(r, bucket_state());
    };
    if (limiting) {
      std::unique_lock lock(mu_);
      if (bucket_) {
        const auto admission = bucket_->try_acquire(clock_());
        lock.unlock();
        if (!admission.granted) {
          inspection_.count_throttled();
          http::Response r = policy_.throttled(admission.wait);
          decorate(r);
          answer(respond, std::move(r), fault.latency);
          return;
        }
      }
    }
    if (fault.kind == RequestFault::Kind::error) {
      inspection_.count_injected_error();
      http::Response r = policy_.injected_error(fault.status);
      decorate(r);
      answer(respond, std::move(r), fault.latency);
      return;
    }
    http::Response r = handler(request);
    decorate(r);
    if (fault.kind == RequestFault::Kind::timeout) {
      inspection_.count_timeout();
      answer(respond, std::move(r), fault.latency + fault.hold);
      return;
    }
    answer(respond, std::move(r), fault.latency);
  };
}

}  // namespace trueup::connectors::sim
