#pragma once
// `trueup dev`: the daemon with embedded defaults (SQLite store, in-process
// bus) plus, unless --no-estate, the simulated retail estate (dev_estate.hpp):
// the Square, Shopify and Business Central simulators in this process, a
// driver that keeps selling, returning and ordering, and a live summary on
// stdout every few seconds. docs/dev.md describes what runs and how to read
// the summary.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "daemon_config.hpp"

namespace trueup::config {
class Config;
}

namespace trueup::app::dev {

struct DevOptions {
  int port = -1;   // -1: TRUEUP_DEV_PORT or 8080; 0: a free port
  std::string db;  // "" : TRUEUP_DEV_DB or trueup-dev.db
  bool print_config = false;
  std::string write_estate;  // a directory: write the estate's files there and exit
  bool estate = true;        // false: the daemon core only
  int skus = 500;
  int stores = 5;
  double sales_per_second = 2.0;
  std::uint64_t seed = 1;
  std::chrono::milliseconds summary_interval{5000};
  // Stop on its own after this long (0: run until SIGINT/SIGTERM).
  std::chrono::milliseconds run_for{0};
};

// Loads a configuration text (printing every problem) and turns it into the
// daemon's settings with the command line's logging applied; nullopt after
// printing why. main.cpp's, so that `serve` and `dev` read config the same way.
using SettingsLoader = std::function<std::optional<DaemonSettings>(const std::string& name, const std::string& text)>;

// Runs `trueup dev`; the exit code (0 ok, 1 runtime failure, 2 usage).
int run(const DevOptions& options, const SettingsLoader& load);

}  // namespace trueup::app::dev
