#pragma once
// Starting the real trueup binary (or any tool) from tests.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace trueup::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;
  std::string err;
};

// Runs a command to completion, capturing stdout/stderr; `stdin_text` is fed
// to it. Killed (SIGKILL) if it outlives `timeout`.
ProcessResult run_process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
                          std::chrono::seconds timeout = std::chrono::seconds(60), const std::string& stdin_text = "");

// A background process with stdout/stderr sent to files.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
          const std::string& log_dir);
  ~Process();  // kills if still running
  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  std::string stdout_text() const;
  std::string stderr_text() const;
  // The first line the process writes on stdout, waiting (bounded) for it;
  // "" when it exits or the bound passes first.
  std::string first_stdout_line(std::chrono::milliseconds bound);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string out_path_, err_path_;
};

// A fresh temporary directory (removed by the caller's fixture if wanted).
std::string make_temp_dir(const std::string& prefix);
void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

}  // namespace trueup::testing
