#pragma once
// Prometheus metrics: counters, gauges and histograms in labelled families,
// rendered in the text exposition format 0.0.4.
//
// Declare a class's metrics together, register them in its constructor, and
// keep the returned references: they stay valid for the registry's life.
// Updating a metric is lock-free (atomics); registering takes a mutex.
// Label values must have bounded cardinality: never an order id or a SKU.
//
// Registering the same name with another type, help or label names is a
// programming error and throws std::logic_error.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trueup::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double by = 1.0) noexcept;
  double value() const noexcept;
  // For totals counted elsewhere (the kernel's CPU time): sets the value read
  // from the source. Never use it to make a counter go down.
  void set_total(double v) noexcept { value_.store(v, std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void inc(double by = 1.0) noexcept;
  void dec(double by = 1.0) noexcept { inc(-by); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double v) noexcept;
  const std::vector<double>& upper_bounds() const noexcept { return bounds_; }
  // Cumulative counts per bucket, then +Inf (the total count), and the sum.
  std::vector<std::uint64_t> cumulative_counts() const;
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
  std::atomic<std::uint64_t> count_{0};
};

// Latency buckets in seconds, from 0.5 ms to 10 s.
std::vector<double> latency_buckets();

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& buckets,
                       const Labels& labels = {});

  // A function called at each scrape, before rendering, to refresh gauges
  // whose value lives elsewhere (e.g. /proc). It must be cheap and not block.
  void on_scrape(std::function<void()> refresh);

  // The whole registry in text format 0.0.4.
  std::string render() const;

 private:
  enum class Kind { counter, gauge, histogram };
  struct Child {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    Kind kind;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> buckets;
    std::map<std::vector<std::string>, Child> children;  // by label values
  };
  Child& child(std::string_view name, Kind kind, std::string_view help, const Labels& labels,
               const std::vector<double>& buckets);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::function<void()>> refreshers_;
};

// Registers process_* metrics (resident memory, CPU seconds, open fds, max
// fds, start time) and trueup_build_info, refreshed from /proc at scrape.
void register_process_metrics(Registry& registry);

// Escapes a label value for the text format.
std::string escape_label_value(std::string_view v);

}  // namespace trueup::metrics
