// stockctl against the real stockd: the sync commands read what the channels record, repush
// needs a known channel, and the exit codes are the ones its usage promises (0 ok, 1 the server
// answered an error, 2 usage, 3 cannot connect).
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

struct ctl_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

ctl_result stockctl(const server_process& server, const std::string& args) {
  const std::string command = "STOCKD_SERVER=127.0.0.1:" + std::to_string(server.port()) +
                              " STOCKD_TOKEN=" + server.token() + " " + STOCKCTL_BINARY + " " +
                              args + " 2>&1";
  ctl_result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    r.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

} // namespace

TEST_CASE("stockctl lists what is out of sync, re-pushes a channel and exits with its codes",
          "[e2e][stockctl]") {
  server_options opts;
  // A channel stockd computes and never pushes: every SKU on it stays out of sync.
  opts.config_toml = "[[locations]]\nid = \"main\"\n\n[[channels]]\nid = \"shadow\"\n"
                     "connector = \"none\"\nlocations = [\"main\"]\n";
  server_process server(opts);
  server.start();
  post_accepted(server, {event_json("received", "r1", "CTL-A", "\"qty\":3")});

  auto listed = stockctl(server, "out-of-sync --channel shadow");
  CHECK(listed.exit_code == 0);
  CHECK(listed.output.find("\"sku\":\"CTL-A\"") != std::string::npos);
  CHECK(listed.output.find("no_connector") != std::string::npos);
  auto dead = stockctl(server, "dead-letters --limit 10");
  CHECK(dead.exit_code == 0);
  CHECK(dead.output.find("\"dead_letters\":[]") != std::string::npos);

  auto repushed = stockctl(server, "repush shadow");
  CHECK(repushed.exit_code == 0);
  CHECK(repushed.output.find("\"queued\":1") != std::string::npos);
  auto unknown = stockctl(server, "repush nope");
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output.find("unknown channel") != std::string::npos);
  CHECK(stockctl(server, "out-of-sync --channel nope").exit_code == 1);
  CHECK(stockctl(server, "out-of-sync extra").exit_code == 2);
  CHECK(stockctl(server, "sku CTL-A").exit_code == 0);

  const auto port = server.port();
  server.stop();
  auto gone = stockctl(server, "status");
  CHECK(gone.exit_code == 3);
  CHECK(gone.output.find("cannot reach stockd at 127.0.0.1:" + std::to_string(port)) !=
        std::string::npos);
}

} // namespace stockd::e2e
