#pragma once
// Sends a simulator's webhooks to the configured URL the way the real
// service does: one POST per delivery with the system's headers and real
// signature (the `WebhookSigner` the simulator passes in), retried with
// doubling delays while the receiver fails (non-2xx or no answer within
// `timeout`), at most `max_attempts` times. A retry is the same delivery:
// same body, same delivery id, same signature.
//
// The webhook faults (fault_settings.hpp) are decided once per published
// event: dropped, delivered twice (same delivery id, or a new one with the
// same event id), held back, or swapped with the next delivery. Deliveries
// go out one at a time in order (the receiver sees the order the faults
// made). Every attempt is recorded in the Inspection.
//
// Bounded: at most `max_pending` deliveries wait or run; beyond that an event
// is counted as dropped. `stop` abandons what waits (counted failed).
//
// Thread-safety: every member function may be called from any thread. The
// FaultInjector, Inspection, TaskScheduler and OutboundClient must outlive
// the dispatcher; stop the dispatcher before the scheduler and the client.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/sim/fault_injector.hpp"
#include "common/sim/inspection.hpp"
#include "common/sim/task_scheduler.hpp"
#include "trueup/http/outbound.hpp"

namespace trueup::connectors::sim {

// One merchant action to tell the receiver about.
struct WebhookEvent {
  std::string topic;     // "orders/create"
  std::string event_id;  // shared by every delivery of this event
  std::string body;      // raw bytes exactly as sent and signed
  std::chrono::system_clock::time_point triggered_at;
};

// The headers of one delivery (Content-Type included): topic, ids, signature
// over the exact body. Called for every attempt with the same arguments for
// retries of one delivery.
using WebhookSigner = std::function<http::HeaderFields(const WebhookEvent& event, std::string_view delivery_id)>;

struct DeliverySettings {
  std::string url;  // "" = no receiver: events are counted undeliverable
  std::chrono::milliseconds timeout{5000};
  int max_attempts = 8;                         // 1..20
  std::chrono::milliseconds retry_delay{1000};  // doubled per retry
  std::chrono::milliseconds max_retry_delay{60000};
  std::chrono::milliseconds reorder_window{1000};  // out_of_order: longest wait for the next delivery
  std::size_t max_pending = 10000;
};

// Reads {"url", "timeout_ms", "max_attempts", "retry_delay_ms",
// "max_retry_delay_ms"} over `base` (unknown members are errors).
Result<DeliverySettings> apply_delivery_json(const DeliverySettings& base, const nlohmann::json& patch,
                                             std::string_view pointer = "");

class WebhookDispatcher {
 public:
  WebhookDispatcher(DeliverySettings settings, WebhookSigner signer, FaultInjector& faults, Inspection& inspection,
                    TaskScheduler& scheduler, http::OutboundClient& client);
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // Queues the event's deliveries (after the faults); never blocks.
  void publish(WebhookEvent event);
  // A new event id from the seeded sequence.
  std::string new_event_id() { return faults_.next_uuid(); }

  void set_url(std::string url);
  std::string url() const;
  // Deliveries not yet delivered or given up.
  std::size_t pending() const;
  // Waits until nothing is pending, at most `bound`; true when idle.
  bool wait_idle(std::chrono::milliseconds bound) const;
  void stop();

 private:
  struct Delivery;
  void schedule(std::shared_ptr<Delivery> d, std::chrono::milliseconds delay, bool out_of_order);
  void release(std::shared_ptr<Delivery> d, bool out_of_order);
  void send(std::shared_ptr<Delivery> d);
  void finish(bool delivered);

  DeliverySettings settings_;
  WebhookSigner signer_;
  FaultInjector& faults_;
  Inspection& inspection_;
  TaskScheduler& scheduler_;
  http::OutboundClient& client_;

  mutable std::mutex mu_;
  mutable std::condition_variable idle_;
  std::size_t pending_ = 0;
  bool stopped_ = false;
  std::shared_ptr<Delivery> held_;  // out_of_order: waits for the next delivery
  std::uint64_t held_generation_ = 0;
};

}  // namespace trueup::connectors::sim
