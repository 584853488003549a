#pragma once
// Shared by the e2e tests: a webhook channel emulator on a loopback port in this process, and
// stockctl run as a scripts would run it (output and exit code).
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include "simulator/listener.hpp"
#include "simulator/webhook.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {

/// The webhook emulator (simulator/webhook.hpp) serving on a free loopback port: unknown SKUs
/// are created on first push, 50 calls/s with a burst of 50, signatures checked with `secret`.
struct webhook_channel {
  explicit webhook_channel(std::string secret)
      : channel(make_options(std::move(secret))),
        server(simulator::listener_options{},
               [this](const simulator::request& r) { return channel.handle(r); }) {
    if (auto error = server.start()) {
      throw std::runtime_error(*error);
    }
  }
  static simulator::webhook_options make_options(std::string secret) {
    simulator::webhook_options o;
    o.secret = std::move(secret);
    o.unknown_sku_creates = true;
    o.rate = 50;
    o.burst = 50;
    return o;
  }
  simulator::webhook_emulator channel;
  simulator::listener server;
};

struct ctl_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

/// Runs a shell command, capturing stdout and stderr.
inline ctl_result run_shell(const std::string& command) {
  ctl_result r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    r.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

#ifdef STOCKCTL_BINARY
/// stockctl against `server`, with its token.
inline ctl_result stockctl(const server_process& server, const std::string& args) {
  return run_shell("STOCKD_SERVER=127.0.0.1:" + std::to_string(server.port()) +
                   " STOCKD_TOKEN=" + server.token() + " " + STOCKCTL_BINARY + " " + args);
}

/// stockctl without a server (the data-directory and config commands).
inline ctl_result stockctl_offline(const std::string& args) {
  return run_shell(std::string(STOCKCTL_BINARY) + " " + args);
}
#endif

} // namespace stockd::e2e
