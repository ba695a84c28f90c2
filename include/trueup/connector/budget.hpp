#pragma once
// Rate-limit budgets: how many calls a target API accepts now, shared by
// every caller of that target in this process (all workflows, pollers and
// webhook follow-ups that call one Shopify shop share one budget).
//
// A budget is a bucket of `capacity` request units that refills at
// `rate_per_second`. The two kinds are the same arithmetic seen from two
// sides and differ only in how the target describes them:
//   token bucket  (Amazon, Business Central, Square): `burst` tokens, `rate`
//                 new tokens a second; a call takes a token.
//   leaky bucket  (Shopify REST): a call adds one to the bucket's level, the
//                 level leaks at `rate` a second, a full bucket answers 429;
//                 remaining = size - level.
//
// The budget learns from every response (`observe`):
//   - `X-Shopify-Shop-Api-Call-Limit: 32/40` sets level 32 and size 40;
//   - `x-amzn-RateLimit-Limit: 0.0167` sets the refill rate;
//   - 429 and 503 empty the bucket (429 only) and pause the budget until
//     `Retry-After` (delay-seconds or an HTTP-date); without Retry-After
//     (Square's RATE_LIMITED, Business Central's 429 and queue-timeout 503)
//     for `throttle_pause`, doubled for each further throttled answer in a
//     row up to `max_throttle_pause`;
//   - any other status ends such a row.
//
// Nothing sleeps: `try_acquire` answers granted or how long to wait, and
// every call takes the time as an argument, so tests drive it without sleeps.
// Concurrency limits (Business Central: 5 requests in flight per user) are
// the HTTP client's job, not the budget's.
//
// Thread-safety: Budget and BudgetRegistry are safe from any thread.
// Budgets live as long as their registry; references to them stay valid.

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/connector/admission.hpp"
#include "trueup/connector/headers.hpp"

namespace trueup::connector {

struct BudgetSettings {
  enum class Kind { token_bucket, leaky_bucket };
  Kind kind = Kind::token_bucket;
  double capacity = 1.0;         // token bucket: burst; leaky bucket: bucket size
  double rate_per_second = 1.0;  // token bucket: refill; leaky bucket: leak
  // The pause after a 429/503 without Retry-After, doubled per further one in
  // a row, at most max_throttle_pause.
  std::chrono::milliseconds throttle_pause{1000};
  std::chrono::milliseconds max_throttle_pause{60000};

  static BudgetSettings token_bucket(double rate_per_second, double burst);
  static BudgetSettings leaky_bucket(double bucket_size, double leak_per_second);
};

std::string_view budget_kind_name(BudgetSettings::Kind kind);  // "token_bucket", "leaky_bucket"

// Settings from the APIs' published limits (../shared/fixtures/NOTES.md).
// Shopify REST, standard plan: a leaky bucket of 40 leaking 2/s per app and
// store (a larger plan's size is learned from the call-limit header).
BudgetSettings shopify_rest_budget();
// Business Central: 6000 requests per user in a 5-minute sliding window. A
// token bucket of 19/s with a burst of 100 never sends more than 5800 in any
// 5 minutes, so the window cannot be exceeded by this process alone.
BudgetSettings business_central_budget();
// Square publishes no limits (not official): 10/s with a burst of 20, and the
// 429 back-off does the rest.
BudgetSettings square_budget();

// `Retry-After` as delay-seconds ("120") or an HTTP-date (IMF-fixdate
// "Sun, 06 Nov 1994 08:49:37 GMT", or the obsolete RFC 850 and asctime
// forms), relative to `now`. A date in the past is zero. nullopt when the
// value is neither.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, WallTime now);

// `X-Shopify-Shop-Api-Call-Limit: used/size`.
struct CallLimit {
  double used = 0;
  double size = 0;
};
std::optional<CallLimit> parse_shopify_call_limit(std::string_view value);

struct BudgetSnapshot {
  BudgetSettings::Kind kind = BudgetSettings::Kind::token_bucket;
  double capacity = 0;
  double remaining = 0;  // whole and partial units available now
  double rate_per_second = 0;
  std::chrono::nanoseconds paused_for{0};  // > 0 while a 429/503 pause lasts
};

class Budget {
 public:
  // Throws std::invalid_argument when capacity or rate is not positive, or a
  // pause is negative (the config schema checks these first).
  explicit Budget(BudgetSettings settings);

  // Takes `cost` units (1 for a REST call) if they are there and no pause is
  // on; otherwise says how long until they will be. A cost above the
  // capacity is treated as the whole capacity. The bucket starts full.
  Admission try_acquire(SteadyTime now, double cost = 1.0);

  // Learns from a response: `status` and its headers, `now` the steady time
  // the response arrived and `wall_now` the wall time (for an HTTP-date
  // Retry-After).
  void observe(int status, const HeaderLookup& headers, SteadyTime now, WallTime wall_now);

  // Sets what the target reported about its bucket outside the headers
  // (Shopify GraphQL `extensions.cost.throttleStatus`): units available
  // now, and the capacity when known.
  void learn(double remaining, std::optional<double> capacity, SteadyTime now);

  // Pauses the budget until `until` (no effect if a later pause is on).
  void pause_until(SteadyTime until);

  BudgetSnapshot snapshot(SteadyTime now) const;

 private:
  double level_at(SteadyTime now) const;
  void refill(SteadyTime now);

  mutable std::mutex mu_;
  BudgetSettings settings_;
  double level_ = 0;  // units in use (leaky bucket level); remaining = capacity - level
  std::optional<SteadyTime> updated_;
  SteadyTime paused_until_{};
  int throttled_in_a_row_ = 0;
};

// The budgets of one process, by target ("shopify:acme.myshopify.com",
// "business-central:PROD/CRONUS"): every caller of a target gets the same
// Budget.
class BudgetRegistry {
 public:
  // The budget for `target`, created with `settings` on first use; later
  // calls return the same budget and ignore `settings`.
  Budget& obtain(std::string_view target, const BudgetSettings& settings);
  // nullptr when no budget for `target` exists.
  Budget* find(std::string_view target);
  std::vector<std::string> targets() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Budget>, std::less<>> budgets_;
};

}  // namespace trueup::connector
