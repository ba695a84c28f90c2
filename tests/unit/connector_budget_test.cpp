// Rate-limit budgets (token and leaky bucket, learning from headers,
// Retry-After in both forms), exponential backoff with full jitter, and the
// circuit breaker. Time is injected everywhere: no sleeps, no timed
// assertions.

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "trueup/connector/backoff.hpp"
#include "trueup/connector/budget.hpp"
#include "trueup/http/outbound.hpp"

namespace trueup::connector {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

const SteadyTime t0 = SteadyTime{} + std::chrono::hours(1000);

// 1994-11-06 08:49:00 UTC, the RFC's example day.
const WallTime kWall = WallTime(std::chrono::sys_days(std::chrono::year(1994) / 11 / 6)) + 8h + 49min;

struct Headers {
  std::map<std::string, std::string, std::less<>> fields;
  HeaderLookup lookup() const { return header_lookup(fields); }
};

const Headers kNoHeaders{};

int take_all(Budget& budget, SteadyTime now) {
  int granted = 0;
  while (budget.try_acquire(now).granted) ++granted;
  return granted;
}

TEST(TokenBucket, StartsFullThenRefillsAtTheRate) {
  Budget budget(BudgetSettings::token_bucket(2, 5));
  EXPECT_EQ(take_all(budget, t0), 5);
  auto refused = budget.try_acquire(t0);
  EXPECT_FALSE(refused.granted);
  EXPECT_EQ(refused.wait, 500ms);  // one token at 2/s
  // Just before the token is there: still refused, told the rest.
  auto early = budget.try_acquire(t0 + 499ms);
  EXPECT_FALSE(early.granted);
  EXPECT_EQ(early.wait, 1ms);
  EXPECT_TRUE(budget.try_acquire(t0 + 500ms).granted);
  EXPECT_FALSE(budget.try_acquire(t0 + 500ms).granted);
  // Waiting exactly what it said is always enough.
  auto next = budget.try_acquire(t0 + 600ms);
  ASSERT_FALSE(next.granted);
  EXPECT_TRUE(budget.try_acquire(t0 + 600ms + next.wait).granted);
}

TEST(TokenBucket, NeverHoldsMoreThanTheBurst) {
  Budget budget(BudgetSettings::token_bucket(2, 5));
  EXPECT_EQ(take_all(budget, t0), 5);
  EXPECT_EQ(take_all(budget, t0 + 1h), 5);
  EXPECT_DOUBLE_EQ(budget.snapshot(t0 + 1h + 1s).remaining, 2.0);
}

TEST(TokenBucket, CostsAndTimeGoingBackwards) {
  Budget budget(BudgetSettings::token_bucket(10, 10));
  EXPECT_TRUE(budget.try_acquire(t0, 4).granted);
  EXPECT_TRUE(budget.try_acquire(t0, 4).granted);
  auto r = budget.try_acquire(t0, 4);  // 2 left, 2 more at 10/s
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.wait, 200ms);
  // An older time from another caller neither refills nor breaks anything.
  EXPECT_FALSE(budget.try_acquire(t0 - 10s, 4).granted);
  EXPECT_DOUBLE_EQ(budget.snapshot(t0).remaining, 2.0);
  // A cost above the capacity takes the whole bucket.
  EXPECT_TRUE(budget.try_acquire(t0 + 1s, 50).granted);
  EXPECT_DOUBLE_EQ(budget.snapshot(t0 + 1s).remaining, 0.0);
}

TEST(LeakyBucket, ShopifyRestBucketOf40Leaking2PerSecond) {
  Budget budget(shopify_rest_budget());
  const auto s = budget.snapshot(t0);
  EXPECT_EQ(s.kind, BudgetSettings::Kind::leaky_bucket);
  EXPECT_DOUBLE_EQ(s.capacity, 40);
  EXPECT_DOUBLE_EQ(s.rate_per_second, 2);
  EXPECT_EQ(take_all(budget, t0), 40);
  EXPECT_EQ(budget.try_acquire(t0).wait, 500ms);
  // Ten seconds leak twenty calls.
  EXPECT_EQ(take_all(budget, t0 + 10s), 20);
}

TEST(LeakyBucket, LearnsLevelAndSizeFromTheCallLimitHeader) {
  Budget budget(shopify_rest_budget());
  budget.observe(200, Headers{{{"x-shopify-shop-api-call-limit", "32/40"}}}.lookup(), t0, kWall);
  EXPECT_DOUBLE_EQ(budget.snapshot(t0).remaining, 8);
  EXPECT_EQ(take_all(budget, t0), 8);

  // A larger plan's bucket is learned from the size.
  Budget plus(shopify_rest_budget());
  plus.observe(200, Headers{{{"x-shopify-shop-api-call-limit", "1/400"}}}.lookup(), t0, kWall);
  EXPECT_DOUBLE_EQ(plus.snapshot(t0).capacity, 400);
  EXPECT_DOUBLE_EQ(plus.snapshot(t0).remaining, 399);

  // The target's count misses calls still in flight: a lower count than ours
  // does not hand out calls we already made.
  Budget ours(shopify_rest_budget());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(ours.try_acquire(t0).granted);
  ours.observe(200, Headers{{{"x-shopify-shop-api-call-limit", "5/40"}}}.lookup(), t0, kWall);
  EXPECT_DOUBLE_EQ(ours.snapshot(t0).remaining, 10);

  // Malformed values are ignored.
  for (const char* bad : {"", "40", "x/40", "3/0", "-1/40", "3/40/5", "1/inf", "nan/40"}) {
    Budget b(shopify_rest_budget());
    b.observe(200, Headers{{{"x-shopify-shop-api-call-limit", bad}}}.lookup(), t0, kWall);
    EXPECT_DOUBLE_EQ(b.snapshot(t0).remaining, 40) << bad;
  }
}

TEST(CallLimitHeader, Parses) {
  auto limit = parse_shopify_call_limit("32/40");
  ASSERT_TRUE(limit);
  EXPECT_DOUBLE_EQ(limit->used, 32);
  EXPECT_DOUBLE_EQ(limit->size, 40);
  EXPECT_FALSE(parse_shopify_call_limit("32"));
  EXPECT_FALSE(parse_shopify_call_limit("/40"));
}

TEST(RetryAfter, DelaySecondsAndAllThreeHttpDateForms) {
  EXPECT_EQ(parse_retry_after("120", kWall), milliseconds(120000));
  EXPECT_EQ(parse_retry_after(" 2 ", kWall), milliseconds(2000));
  EXPECT_EQ(parse_retry_after("0", kWall), milliseconds(0));
  // Shopify REST writes a fraction.
  EXPECT_EQ(parse_retry_after("2.0", kWall), milliseconds(2000));
  EXPECT_EQ(parse_retry_after("1.5", kWall), milliseconds(1500));
  // 37 seconds after kWall, in IMF-fixdate, RFC 850 and asctime.
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kWall), milliseconds(37000));
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", kWall), milliseconds(37000));
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", kWall), milliseconds(37000));
  EXPECT_EQ(parse_retry_after("Mon, 07 Nov 1994 08:49:00 GMT", kWall), milliseconds(86400000));
  // A date in the past means now.
  EXPECT_EQ(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", kWall), milliseconds(0));
  // Beyond a day is a day.
  EXPECT_EQ(parse_retry_after("99999999999999999999999", kWall), milliseconds(86400000));
  EXPECT_EQ(parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", kWall), milliseconds(86400000));
}

TEST(RetryAfter, RejectsWhatIsNeither) {
  for (const char* bad :
       {"", "soon", "-1", ".5", "1.", "1.2.3", "+3", "Sun, 06 Nov 1994 25:00:00 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun Nov  6 08:49:37", "Sun Nov  6 08:49:37 -994", "2026-11-26T23:00:00Z"}) {
    EXPECT_EQ(parse_retry_after(bad, kWall), std::nullopt) << bad;
  }
}

TEST(RetryAfter, TwoDigitYearsMoreThanFiftyYearsAheadAreThePastCentury) {
  const WallTime in_2026 = WallTime(std::chrono::sys_days(std::chrono::year(2026) / 11 / 26));
  // "26" is 2026; "99" would be 2099 (73 years ahead), so it is 1999: past.
  EXPECT_EQ(parse_retry_after("Thursday, 26-Nov-26 00:00:10 GMT", in_2026), milliseconds(10000));
  EXPECT_EQ(parse_retry_after("Friday, 31-Dec-99 23:59:59 GMT", in_2026), milliseconds(0));
}

TEST(Budget, TooManyRequestsEmptiesAndPausesUntilRetryAfterSeconds) {
  Budget budget(BudgetSettings::token_bucket(2, 5));
  budget.observe(429, Headers{{{"retry-after", "7"}}}.lookup(), t0, kWall);
  auto r = budget.try_acquire(t0);
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.wait, 7s);
  EXPECT_EQ(budget.snapshot(t0 + 2s).paused_for, 5s);
  EXPECT_FALSE(budget.try_acquire(t0 + 7s - 1ns).granted);
  // By then the bucket has refilled (it was emptied at t0).
  EXPECT_EQ(take_all(budget, t0 + 7s), 5);
}

TEST(Budget, ReadsTheOutboundClientsReplyHeadersWhateverTheirCase) {
  http::HeaderFields reply;
  reply.add("Content-Type", "application/json");
  reply.add("X-Shopify-Shop-Api-Call-Limit", "40/40");
  reply.add("Retry-After", "2");
  Budget budget(shopify_rest_budget());
  budget.observe(429, header_lookup(reply), t0, kWall);
  EXPECT_EQ(budget.try_acquire(t0).wait, 2s);
  EXPECT_DOUBLE_EQ(budget.snapshot(t0 + 2s).remaining, 4);  // emptied, then 2 s at 2/s
}

TEST(Budget, RetryAfterAsHttpDate) {
  Budget budget(BudgetSettings::token_bucket(100, 100));
  budget.observe(429, Headers{{{"retry-after", "Sun, 06 Nov 1994 08:49:30 GMT"}}}.lookup(), t0, kWall);
  EXPECT_EQ(budget.try_acquire(t0).wait, 30s);
  EXPECT_TRUE(budget.try_acquire(t0 + 30s).granted);
}

TEST(Budget, ThrottlingWithoutRetryAfterDoublesThePauseUntilASuccess) {
  auto settings = BudgetSettings::token_bucket(1000, 1000);
  settings.throttle_pause = 1s;
  settings.max_throttle_pause = 5s;
  Budget budget(settings);
  SteadyTime now = t0;
  for (auto expected : {1s, 2s, 4s, 5s, 5s}) {
    budget.observe(503, kNoHeaders.lookup(), now, kWall);
    EXPECT_EQ(budget.try_acquire(now).wait, expected);
    now += expected;
  }
  // A 503 does not empty the bucket (Business Central's queue timed out).
  EXPECT_TRUE(budget.try_acquire(now).granted);
  budget.observe(200, kNoHeaders.lookup(), now, kWall);
  budget.observe(429, kNoHeaders.lookup(), now, kWall);  // Square: 429 RATE_LIMITED, no Retry-After
  EXPECT_EQ(budget.try_acquire(now).wait, 1s);
  // An unparseable Retry-After counts as none.
  budget.observe(429, Headers{{{"retry-after", "later"}}}.lookup(), now, kWall);
  EXPECT_EQ(budget.try_acquire(now).wait, 2s);
}

TEST(Budget, AShorterRetryAfterDoesNotCutALongerPause) {
  Budget budget(BudgetSettings::token_bucket(10, 10));
  budget.observe(429, Headers{{{"retry-after", "10"}}}.lookup(), t0, kWall);
  budget.observe(429, Headers{{{"retry-after", "1"}}}.lookup(), t0 + 1s, kWall);
  EXPECT_EQ(budget.try_acquire(t0 + 1s).wait, 9s);
  budget.pause_until(t0 + 20s);
  EXPECT_EQ(budget.try_acquire(t0 + 1s).wait, 19s);
  budget.pause_until(t0 + 2s);
  EXPECT_EQ(budget.try_acquire(t0 + 1s).wait, 19s);
}

TEST(Budget, LearnsTheAmazonRateAndGraphQLThrottleStatus) {
  Budget budget(BudgetSettings::token_bucket(1, 20));
  EXPECT_EQ(take_all(budget, t0), 20);
  budget.observe(200, Headers{{{"x-amzn-ratelimit-limit", "0.5"}}}.lookup(), t0, kWall);
  EXPECT_EQ(budget.try_acquire(t0).wait, 2s);
  for (const char* bad : {"zero", "0", "-2", "inf", "nan"}) {
    budget.observe(200, Headers{{{"x-amzn-ratelimit-limit", bad}}}.lookup(), t0, kWall);
    EXPECT_DOUBLE_EQ(budget.snapshot(t0).rate_per_second, 0.5) << bad;
  }

  Budget graphql(BudgetSettings::leaky_bucket(1000, 50));
  graphql.learn(/*remaining=*/100, /*capacity=*/2000, t0);
  EXPECT_DOUBLE_EQ(graphql.snapshot(t0).capacity, 2000);
  EXPECT_DOUBLE_EQ(graphql.snapshot(t0).remaining, 100);
  EXPECT_FALSE(graphql.try_acquire(t0, 150).granted);
  EXPECT_EQ(graphql.try_acquire(t0, 150).wait, 1s);
}

TEST(Budget, RejectsNonsenseSettings) {
  EXPECT_THROW(Budget(BudgetSettings::token_bucket(0, 5)), std::invalid_argument);
  EXPECT_THROW(Budget(BudgetSettings::token_bucket(1, 0)), std::invalid_argument);
  EXPECT_THROW(Budget(BudgetSettings::leaky_bucket(-1, 1)), std::invalid_argument);
  auto s = BudgetSettings::token_bucket(1, 1);
  s.max_throttle_pause = 1ms;
  EXPECT_THROW(Budget{s}, std::invalid_argument);
}

TEST(Budget, PresetsFollowThePublishedLimits) {
  // Business Central: never more than 6000 in any 5-minute window.
  const auto bc = business_central_budget();
  EXPECT_LE(bc.capacity + bc.rate_per_second * 300, 6000);
  Budget budget(bc);
  int granted = 0;
  for (auto now = t0; now <= t0 + 300s; now += 100ms) granted += take_all(budget, now);
  EXPECT_LE(granted, 6000);
  EXPECT_GT(granted, 5000);
  EXPECT_EQ(square_budget().kind, BudgetSettings::Kind::token_bucket);
  EXPECT_EQ(budget_kind_name(shopify_rest_budget().kind), "leaky_bucket");
}

TEST(BudgetRegistry, OneBudgetPerTargetSharedByEveryCaller) {
  BudgetRegistry registry;
  Budget& a = registry.obtain("shopify:acme.myshopify.com", shopify_rest_budget());
  // A second caller gets the same budget; its settings are ignored.
  Budget& again = registry.obtain("shopify:acme.myshopify.com", BudgetSettings::token_bucket(1, 1));
  Budget& other = registry.obtain("shopify:other.myshopify.com", shopify_rest_budget());
  EXPECT_EQ(&a, &again);
  EXPECT_NE(&a, &other);
  EXPECT_EQ(take_all(a, t0), 40);
  EXPECT_FALSE(again.try_acquire(t0).granted);
  EXPECT_TRUE(other.try_acquire(t0).granted);
  EXPECT_EQ(registry.find("shopify:acme.myshopify.com"), &a);
  EXPECT_EQ(registry.find("square:main"), nullptr);
  EXPECT_EQ(registry.targets(),
            (std::vector<std::string>{"shopify:acme.myshopify.com", "shopify:other.myshopify.com"}));
}

TEST(Backoff, CeilingGrowsByTheMultiplierUpToTheCap) {
  Backoff backoff({.initial = 100ms, .multiplier = 2.0, .cap = 1000ms}, [] { return 0.5; });
  std::vector<milliseconds> ceilings;
  for (int attempt = -1; attempt <= 6; ++attempt) ceilings.push_back(backoff.ceiling(attempt));
  EXPECT_EQ(ceilings, (std::vector<milliseconds>{100ms, 100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms, 1000ms}));
  EXPECT_EQ(backoff.ceiling(100000), 1000ms);  // no overflow
  EXPECT_EQ(backoff.delay(2), 200ms);          // half of 400
}

TEST(Backoff, FullJitterStaysWithinZeroAndTheCeiling) {
  double next = 0;
  Backoff backoff({.initial = 100ms, .multiplier = 3.0, .cap = 5000ms}, [&] { return next; });
  for (double r : {0.0, 0.25, 0.999999, 1.0, 7.0, -3.0}) {
    next = r;
    for (int attempt = 0; attempt < 8; ++attempt) {
      const auto d = backoff.delay(attempt);
      EXPECT_GE(d, 0ms) << r << " " << attempt;
      EXPECT_LT(d, backoff.ceiling(attempt)) << r << " " << attempt;
    }
  }
  next = 0;
  EXPECT_EQ(backoff.delay(3), 0ms);
  EXPECT_EQ(backoff.delay(3, 1500ms), 1500ms);  // Retry-After wins when longer
  next = 0.9;
  EXPECT_EQ(backoff.delay(1, 10ms), 270ms);

  // A seeded generator spreads delays over the whole interval.
  std::mt19937_64 engine(42);
  Backoff seeded({.initial = 1000ms, .multiplier = 2.0, .cap = 1000ms},
                 [&] { return std::uniform_real_distribution<double>(0, 1)(engine); });
  std::set<long> buckets;  // tenths of the interval seen
  for (int i = 0; i < 1000; ++i) {
    const auto d = seeded.delay(0);
    ASSERT_GE(d, 0ms);
    ASSERT_LT(d, 1000ms);
    buckets.insert(d.count() / 100);
  }
  EXPECT_EQ(buckets.size(), 10u);
}

TEST(Backoff, DefaultRandomSourceStaysInBounds) {
  Backoff backoff({.initial = 50ms, .multiplier = 2.0, .cap = 400ms});
  std::set<long> seen;
  for (int i = 0; i < 500; ++i) {
    const auto d = backoff.delay(3);
    ASSERT_GE(d, 0ms);
    ASSERT_LT(d, 400ms);
    seen.insert(d.count());
  }
  EXPECT_GT(seen.size(), 50u);
  EXPECT_THROW(Backoff({.initial = 0ms}), std::invalid_argument);
  EXPECT_THROW(Backoff({.initial = 1ms, .multiplier = 0.5}), std::invalid_argument);
}

CircuitBreakerSettings breaker_settings() {
  CircuitBreakerSettings s;
  s.consecutive_failures = 3;
  s.failure_ratio = 0;  // off unless a test turns it on
  s.open_for = 10s;
  s.probe_timeout = 4s;
  return s;
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresAndMakesCallersWait) {
  CircuitBreaker breaker(breaker_settings());
  EXPECT_EQ(breaker.state(t0), BreakerState::closed);
  breaker.record_failure(t0);
  breaker.record_failure(t0);
  breaker.record_success(t0);  // breaks the run
  breaker.record_failure(t0);
  breaker.record_failure(t0);
  EXPECT_EQ(breaker.state(t0), BreakerState::closed);
  EXPECT_TRUE(breaker.allow(t0).granted);
  breaker.record_failure(t0);
  EXPECT_EQ(breaker.state(t0), BreakerState::open);
  EXPECT_EQ(breaker.times_opened(), 1u);
  auto r = breaker.allow(t0 + 3s);
  EXPECT_FALSE(r.granted);
  EXPECT_EQ(r.wait, 7s);
  // Outcomes of calls that started before it opened change nothing.
  breaker.record_success(t0 + 3s);
  EXPECT_EQ(breaker.state(t0 + 3s), BreakerState::open);
  EXPECT_EQ(breaker.state(t0 + 10s), BreakerState::half_open);
}

TEST(CircuitBreaker, HalfOpenLetsOneProbeThroughAndItsSuccessCloses) {
  CircuitBreaker breaker(breaker_settings());
  for (int i = 0; i < 3; ++i) breaker.record_failure(t0);
  const auto later = t0 + 10s;
  EXPECT_TRUE(breaker.allow(later).granted);  // the probe
  auto other = breaker.allow(later + 1s);
  EXPECT_FALSE(other.granted);
  EXPECT_EQ(other.wait, 3s);  // until the probe times out at most
  EXPECT_EQ(breaker.state(later + 1s), BreakerState::half_open);
  breaker.record_success(later + 2s);
  EXPECT_EQ(breaker.state(later + 2s), BreakerState::closed);
  EXPECT_TRUE(breaker.allow(later + 2s).granted);
  EXPECT_TRUE(breaker.allow(later + 2s).granted);
  // Closed again from scratch: it takes a full run to reopen.
  breaker.record_failure(later + 3s);
  breaker.record_failure(later + 3s);
  EXPECT_EQ(breaker.state(later + 3s), BreakerState::closed);
}

TEST(CircuitBreaker, AFailedProbeReopensForAnotherCoolDown) {
  CircuitBreaker breaker(breaker_settings());
  for (int i = 0; i < 3; ++i) breaker.record_failure(t0);
  EXPECT_TRUE(breaker.allow(t0 + 10s).granted);
  breaker.record_failure(t0 + 11s);
  EXPECT_EQ(breaker.state(t0 + 11s), BreakerState::open);
  EXPECT_EQ(breaker.times_opened(), 2u);
  EXPECT_EQ(breaker.allow(t0 + 11s).wait, 10s);
  EXPECT_EQ(breaker.state(t0 + 21s), BreakerState::half_open);
}

TEST(CircuitBreaker, AProbeNeverReportedFreesTheSlot) {
  CircuitBreaker breaker(breaker_settings());
  for (int i = 0; i < 3; ++i) breaker.record_failure(t0);
  EXPECT_TRUE(breaker.allow(t0 + 10s).granted);
  EXPECT_FALSE(breaker.allow(t0 + 14s - 1ns).granted);
  EXPECT_TRUE(breaker.allow(t0 + 14s).granted);  // a new probe
  EXPECT_FALSE(breaker.allow(t0 + 14s).granted);
}

TEST(CircuitBreaker, OpensOnTheFailureRatioOnceEnoughCallsAreSeen) {
  auto s = breaker_settings();
  s.consecutive_failures = 0;
  s.failure_ratio = 0.5;
  s.window = 4;
  s.minimum_calls = 4;
  CircuitBreaker breaker(s);
  breaker.record_failure(t0);
  breaker.record_success(t0);
  breaker.record_failure(t0);  // F S F: 2 of 3, but fewer than 4 calls
  EXPECT_EQ(breaker.state(t0), BreakerState::closed);
  breaker.record_success(t0);  // F S F S
  breaker.record_success(t0);  // S S F S: the oldest dropped out, 1 of 4
  EXPECT_EQ(breaker.state(t0), BreakerState::closed);
  breaker.record_failure(t0);  // S F F S: 2 of 4
  EXPECT_EQ(breaker.state(t0), BreakerState::open);
}

TEST(CircuitBreaker, RejectsNonsenseSettingsAndNamesStates) {
  auto s = breaker_settings();
  s.minimum_calls = s.window + 1;
  EXPECT_THROW(CircuitBreaker{s}, std::invalid_argument);
  s = breaker_settings();
  s.failure_ratio = 1.5;
  EXPECT_THROW(CircuitBreaker{s}, std::invalid_argument);
  s = breaker_settings();
  s.open_for = 0ms;
  EXPECT_THROW(CircuitBreaker{s}, std::invalid_argument);
  EXPECT_EQ(breaker_state_name(BreakerState::closed), "closed");
  EXPECT_EQ(breaker_state_name(BreakerState::open), "open");
  EXPECT_EQ(breaker_state_name(BreakerState::half_open), "half_open");
}

}  // namespace
}  // namespace trueup::connector
