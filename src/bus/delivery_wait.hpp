#pragma once
// Turns a delivery callback into a value a caller can wait for with a bound
// (Producer::produce_sync in both engines). The slot is shared with the
// callback, so a report that arrives after the caller gave up is harmless.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "trueup/bus/bus.hpp"

namespace trueup::bus::detail {

class DeliverySlot {
 public:
  void set(Result<Delivery> result) {
    {
      std::lock_guard lock(mu_);
      result_.emplace(std::move(result));
    }
    cv_.notify_all();
  }

  Result<Delivery> wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return result_.has_value(); }))
      return make_error(Errc::timeout, "no delivery report within " + std::to_string(timeout.count()) +
                                           " ms; the message may still be stored later");
    return std::move(*result_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Result<Delivery>> result_;
};

inline Result<Delivery> produce_and_wait(Producer& producer, Message message, std::chrono::milliseconds timeout) {
  auto slot = std::make_shared<DeliverySlot>();
  producer.produce(std::move(message), [slot](Result<Delivery> r) { slot->set(std::move(r)); });
  return slot->wait(timeout);
}

}  // namespace trueup::bus::detail
