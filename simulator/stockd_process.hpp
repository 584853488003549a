#pragma once
// The real stockd binary as a child process, for `stocksim demo` and the simulator's tests: a
// config file and a data directory in a fresh temporary directory, a free loopback port, a
// development token (STOCKD_TOKEN), readiness by polling GET /readyz. Its output goes to
// <dir>/stockd.log. The destructor stops it (SIGTERM, then SIGKILL after `stop_timeout`) and
// removes the directory unless asked to keep it.
//
// One thread drives it. fork() happens here only, and the child calls only async-signal-safe
// functions before exec, so other threads (emulators, buyers) may be running.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace stockd::simulator {

struct stockd_process_options {
  std::string binary;       // path of the stockd executable
  std::string config_toml;  // written to <dir>/stockd.toml
  std::string token = "stocksim-dev-token";
  std::chrono::milliseconds ready_timeout{30'000};
  std::chrono::milliseconds stop_timeout{10'000};
  bool keep_dir = false;
};

class stockd_process {
public:
  explicit stockd_process(stockd_process_options opts);
  ~stockd_process();
  stockd_process(const stockd_process&) = delete;
  stockd_process& operator=(const stockd_process&) = delete;

  /// Creates the directory, picks a port, launches and waits for /readyz; an error message (with
  /// the end of the log) when it did not become ready.
  std::optional<std::string> start();
  /// SIGTERM and wait; SIGKILL past the stop timeout. Safe to call twice.
  void stop();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::uint16_t port() const noexcept { return port_; }
  const std::string& token() const noexcept { return opts_.token; }
  const std::string& dir() const noexcept { return dir_; }
  std::string log_tail(std::size_t bytes = 4'000) const;
  /// Launch to the first 200 from /readyz (recovery included): the start-up time.
  std::chrono::nanoseconds ready_after() const noexcept { return ready_after_; }
  /// Its resident memory now (VmRSS from /proc), if it is running.
  std::optional<std::uint64_t> resident_bytes() const;
  /// The process id while it runs, else -1.
  pid_t pid() const noexcept { return pid_; }

private:
  stockd_process_options opts_;
  std::string dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::chrono::nanoseconds ready_after_{0};
};

/// VmRSS of a process from /proc/<pid>/status, in bytes.
std::optional<std::uint64_t> process_resident_bytes(pid_t pid);
/// VmHWM (peak resident set) of a process from /proc/<pid>/status, in bytes.
std::optional<std::uint64_t> process_peak_resident_bytes(pid_t pid);

/// A loopback TCP port nobody listens on right now (bind to port 0, read it, close).
std::uint16_t free_loopback_port();

/// The stockd next to the running executable (/proc/self/exe's directory), if there is one.
std::optional<std::string> sibling_stockd();

} // namespace stockd::simulator
