#pragma once
// What a simulator saw and did, for tests to read (`GET /_sim/inspect`):
// API requests and writes per operation, how often each idempotency key,
// external document number or (inventory item, location) pair was written,
// the 429s it sent, the faults it injected and every webhook delivery
// attempt. Operation names are the simulator's own ("inventory_levels/set").
//
// Bounded: the write log and the delivery log keep the latest kLogLimit
// entries (the counters keep counting).
//
// Thread-safety: every member function may be called from any thread.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace trueup::connectors::sim {

// One attempt to deliver a webhook.
struct DeliveryAttempt {
  std::string delivery_id;  // the receiver's dedupe key (X-Shopify-Webhook-Id)
  std::string event_id;     // shared by deliveries of one action
  std::string topic;
  int attempt = 1;         // 1 for the first try, 2 for the first retry, ...
  bool duplicate = false;  // the second copy a duplicate fault made
  int status = 0;          // HTTP status; 0 when no answer came
  std::string error;       // transport error when no answer came
  std::string sent_at;     // RFC 3339 UTC
};

class Inspection {
 public:
  static constexpr std::size_t kLogLimit = 10000;

  void count_request(std::string_view operation);
  // A write the API accepted, with what it wrote (kept in the write log).
  void record_write(std::string_view operation, nlohmann::json what);
  // One more write under `key` of `family` ("idempotency_key",
  // "external_document_number", "inventory_item_location").
  void count_key(std::string_view family, std::string_view key);
  void count_throttled();
  void count_injected_error();
  void count_timeout();
  void count_unauthorized();

  void count_event_published();
  void count_event_dropped();
  void count_event_undeliverable();  // no webhook URL configured
  void record_attempt(DeliveryAttempt attempt);
  void count_delivery_done(bool delivered);  // final outcome of one delivery

  std::uint64_t writes(std::string_view operation) const;
  std::uint64_t key_count(std::string_view family, std::string_view key) const;
  std::uint64_t throttled() const;
  std::uint64_t injected_errors() const;

  // {"requests": {op: n}, "writes": {op: n}, "write_log": [{operation, body}],
  //  "keys": {family: {key: n}}, "throttled_429": n, "injected_5xx": n,
  //  "timeouts": n, "unauthorized": n,
  //  "webhooks": {"published": n, "dropped": n, "undeliverable": n,
  //               "delivered": n, "failed": n, "attempts": [...]}}
  nlohmann::json to_json() const;
  void reset();

 private:
  void bump(std::uint64_t& counter);
  std::uint64_t read(const std::uint64_t& counter) const;

  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t, std::less<>> requests_;
  std::map<std::string, std::uint64_t, std::less<>> writes_;
  std::deque<nlohmann::json> write_log_;
  std::map<std::string, std::map<std::string, std::uint64_t, std::less<>>, std::less<>> keys_;
  std::uint64_t throttled_ = 0, injected_ = 0, timeouts_ = 0, unauthorized_ = 0;
  std::uint64_t published_ = 0, dropped_ = 0, undeliverable_ = 0, delivered_ = 0, failed_ = 0;
  std::deque<DeliveryAttempt> attempts_;
};

}  // namespace trueup::connectors::sim
