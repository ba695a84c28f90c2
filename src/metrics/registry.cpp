#include "trueup/metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace trueup::metrics {
namespace {

void add_double(std::atomic<double>& a, double by) noexcept {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + by, std::memory_order_relaxed)) {
  }
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void write_labels(std::string& out, const Labels& labels, const char* extra_name = nullptr,
                  const std::string& extra_value = {}) {
  if (labels.empty() && extra_name == nullptr) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  if (extra_name != nullptr) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void Counter::inc(double by) noexcept { add_double(value_, by); }
double Counter::value() const noexcept { return value_.load(std::memory_order_relaxed); }
void Gauge::inc(double by) noexcept { add_double(value_, by); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size()]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i < bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) noexcept {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  if (it != bounds_.end())
    buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  add_double(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t acc = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  // +Inf is the total count; read it last and never below the finite buckets.
  out[bounds_.size()] = std::max(acc, count_.load(std::memory_order_relaxed));
  return out;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Registry::Child& Registry::child(std::string_view name, Kind kind, std::string_view help, const Labels& labels,
                                 const std::vector<double>& buckets) {
  if (!valid_name(name)) throw std::logic_error("invalid metric name: " + std::string(name));
  std::vector<std::string> names, values;
  for (const auto& [k, v] : labels) {
    if (!valid_name(k)) throw std::logic_error("invalid label name " + k + " on " + std::string(name));
    names.push_back(k);
    values.push_back(v);
  }
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{kind, std::string(help), names, buckets, {}}).first;
  } else if (it->second.kind != kind || it->second.label_names != names || it->second.help != help) {
    throw std::logic_error("metric " + std::string(name) + " registered twice with different type, help or labels");
  }
  auto& family = it->second;
  auto cit = family.children.find(values);
  if (cit == family.children.end()) {
    Child c;
    c.labels = labels;
    switch (kind) {
      case Kind::counter:
        c.counter = std::make_unique<Counter>();
        break;
      case Kind::gauge:
        c.gauge = std::make_unique<Gauge>();
        break;
      case Kind::histogram:
        c.histogram = std::make_unique<Histogram>(family.buckets);
        break;
    }
    cit = family.children.emplace(values, std::move(c)).first;
  }
  return cit->second;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  return *child(name, Kind::counter, help, labels, {}).counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  return *child(name, Kind::gauge, help, labels, {}).gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, const std::vector<double>& buckets,
                               const Labels& labels) {
  return *child(name, Kind::histogram, help, labels, buckets).histogram;
}

void Registry::on_scrape(std::function<void()> refresh) {
  std::lock_guard lock(mutex_);
  refreshers_.push_back(std::move(refresh));
}

std::string Registry::render() const {
  std::vector<std::function<void()>> refreshers;
  {
    std::lock_guard lock(mutex_);
    refreshers = refreshers_;
  }
  for (auto& r : refreshers) r();

  std::string out;
  out.reserve(4096);
  std::lock_guard lock(mutex_);
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + escape_help(family.help) + "\n";
    const char* type = family.kind == Kind::counter ? "counter" : family.kind == Kind::gauge ? "gauge" : "histogram";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& [values, c] : family.children) {
      switch (family.kind) {
        case Kind::counter:
        case Kind::gauge: {
          out += name;
          write_labels(out, c.labels);
          out += ' ';
          out += format_number(family.kind == Kind::counter ? c.counter->value() : c.gauge->value());
          out += '\n';
          break;
        }
        case Kind::histogram: {
          auto counts = c.histogram->cumulative_counts();
          const auto& bounds = c.histogram->upper_bounds();
          for (std::size_t i = 0; i <= bounds.size(); ++i) {
            out += name + "_bucket";
            write_labels(out, c.labels, "le", i < bounds.size() ? format_number(bounds[i]) : "+Inf");
            out += ' ' + std::to_string(counts[i]) + '\n';
          }
          out += name + "_sum";
          write_labels(out, c.labels);
          out += ' ' + format_number(c.histogram->sum()) + '\n';
          out += name + "_count";
          write_labels(out, c.labels);
          out += ' ' + std::to_string(counts[bounds.size()]) + '\n';
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace trueup::metrics
