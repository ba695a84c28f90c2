// Open-loop load for the intake benchmark: POSTs batches of canonical
// movements to /v1/inventory/movements at a fixed rate (wrk cannot hold a
// rate; it measures throughput) and prints the accept latency, p50 / p99 /
// max, measured from each request's scheduled send time, so a stall delays
// the requests behind it and counts against them (no coordinated omission).
//
//   intake_load --port P --events-per-second 5000 --batch 50 --seconds 10 --connections 32
//
// Request i is due at start + i * batch / rate and goes on connection
// i % connections; a connection that is still busy sends it late, and the
// lateness is part of its latency. Bounded by --seconds (plus the requests
// in flight). Prints figures only; asserts nothing.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "trueup/http/client.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  double events_per_second = 5000;
  int batch = 50;
  double seconds = 10;
  int connections = 32;
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const char* value = argv[i + 1];
    if (name == "--port")
      o.port = std::atoi(value);
    else if (name == "--events-per-second")
      o.events_per_second = std::atof(value);
    else if (name == "--batch")
      o.batch = std::atoi(value);
    else if (name == "--seconds")
      o.seconds = std::atof(value);
    else if (name == "--connections")
      o.connections = std::atoi(value);
    else
      return false;
  }
  return o.port > 0 && o.events_per_second > 0 && o.batch > 0 && o.seconds > 0 && o.seconds <= 600 &&
         o.connections > 0 && o.connections <= 512;
}

std::string body(const std::string& prefix, long first, int count) {
  std::string out = "[";
  for (int k = 0; k < count; ++k) {
    const long n = first + k;
    if (k > 0) out += ",";
    out += "{\"movement_id\":\"" + prefix + "-" + std::to_string(n) + "\",\"kind\":\"sale\",\"sku\":\"SKU-" +
           std::to_string(n % 500) + "\",\"location\":\"STORE-0" + std::to_string(n % 5) +
           "\",\"quantity_delta\":\"-1\",\"occurred_at\":\"2026-11-26T10:00:00+01:00\",\"source_system\":\"square\","
           "\"source_reference\":\"r-" +
           std::to_string(n) + "\"}";
  }
  return out + "]";
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto at = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(at, sorted.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: intake_load --port P [--events-per-second 5000] [--batch 50] [--seconds 10] "
                 "[--connections 32]\n");
    return 2;
  }
  const double requests_per_second = o.events_per_second / o.batch;
  const long total = static_cast<long>(requests_per_second * o.seconds);
  const auto interval = std::chrono::duration<double>(1.0 / requests_per_second);
  std::mt19937_64 seed(std::random_device{}());
  const std::string prefix = "open-" + std::to_string(seed() % 1000000000);

  std::vector<std::vector<double>> latencies(o.connections);
  std::atomic<long> failures{0};
  std::string first_failure;
  std::atomic<bool> failure_noted{false};
  const auto start = Clock::now() + std::chrono::milliseconds(200);  // every connection opened first
  std::vector<std::thread> threads;
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      trueup::http::BlockingClient client("127.0.0.1", static_cast<std::uint16_t>(o.port));
      (void)client.connect();
      for (long i = c; i < total; i += o.connections) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
        std::this_thread::sleep_until(due);  // the schedule itself, not a synchronisation
        auto reply = client.request("POST", "/v1/inventory/movements", body(prefix, i * o.batch, o.batch),
                                    {{"Content-Type", "application/json"}});
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - due).count();
        if (!reply || reply->status != 202) {
          failures.fetch_add(1);
          if (!failure_noted.exchange(true))
            first_failure =
                reply ? std::to_string(reply->status) + " " + reply->body.substr(0, 200) : reply.error().message;
          client.close();
          continue;
        }
        latencies[c].push_back(ms);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "intake open-loop  target=%.0f events/s (%d items/request, %.1f requests/s, %d connections, %.0fs)  "
      "achieved=%.0f events/s  accept latency p50=%.1fms p99=%.1fms max=%.1fms  failed=%ld  (target p99 <= 20 ms)\n",
      o.events_per_second, o.batch, requests_per_second, o.connections, o.seconds,
      static_cast<double>(all.size()) * o.batch / elapsed, percentile(all, 0.50), percentile(all, 0.99),
      all.empty() ? 0.0 : all.back(), failures.load());
  if (failures.load() > 0) std::printf("  first failure: %s\n", first_failure.c_str());
  return 0;
}
