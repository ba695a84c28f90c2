// process_* metrics as the Prometheus client libraries define them, read from
// /proc/self at scrape time.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "trueup/core/version.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::metrics {
namespace {

struct ProcStat {
  double utime_ticks = 0, stime_ticks = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
};

bool read_proc_stat(ProcStat& s) {
  std::ifstream f("/proc/self/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  // The command name may hold spaces; fields resume after the last ')'.
  auto pos = line.rfind(')');
  if (pos == std::string::npos) return false;
  std::istringstream in(line.substr(pos + 2));
  std::string field;
  // Field 3 (state) is the first after ')'; utime=14, stime=15, starttime=22, vsize=23, rss=24.
  for (int i = 3; i <= 24 && in >> field; ++i) {
    if (i == 14)
      s.utime_ticks = std::stod(field);
    else if (i == 15)
      s.stime_ticks = std::stod(field);
    else if (i == 22)
      s.start_ticks = std::stod(field);
    else if (i == 23)
      s.vsize = std::stod(field);
    else if (i == 24)
      s.rss_pages = std::stod(field);
  }
  return true;
}

double boot_time_seconds() {
  std::ifstream f("/proc/stat");
  std::string key;
  while (f >> key) {
    if (key == "btime") {
      double v = 0;
      f >> v;
      return v;
    }
    f.ignore(1 << 20, '\n');
  }
  return 0;
}

double count_open_fds() {
  double n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    n -= 1;  // the directory handle itself
  }
  return n;
}

}  // namespace

void register_process_metrics(Registry& registry) {
  auto& rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  auto& vms = registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.");
  auto& cpu = registry.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  auto& fds = registry.gauge("process_open_fds", "Number of open file descriptors.");
  auto& max_fds = registry.gauge("process_max_fds", "Maximum number of open file descriptors.");
  auto& start = registry.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
  registry
      .gauge("trueup_build_info", "Build information; the value is always 1.",
             {{"version", std::string(version())}, {"compiler", std::string(compiler())}})
      .set(1);

  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  const double btime = boot_time_seconds();
  ProcStat initial;
  if (read_proc_stat(initial)) start.set(btime + initial.start_ticks / ticks);

  registry.on_scrape([&rss, &vms, &cpu, &fds, &max_fds, ticks, page] {
    ProcStat s;
    if (read_proc_stat(s)) {
      rss.set(s.rss_pages * page);
      vms.set(s.vsize);
      cpu.set_total((s.utime_ticks + s.stime_ticks) / ticks);
    }
    fds.set(count_open_fds());
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) max_fds.set(static_cast<double>(rl.rlim_cur));
  });
}

}  // namespace trueup::metrics
