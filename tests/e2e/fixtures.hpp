#pragma once
// Shared by the e2e tests: a webhook channel emulator on a loopback port in this process, and
// stockctl run as a scripts would run it (output and exit code).
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "simulator/listener.hpp"
#include "simulator/webhook.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {

/// A channel emulator (simulator/) on a free loopback port, in this process.
template <class Emulator>
struct emulated {
  template <class Options>
  explicit emulated(Options options)
      : channel(std::move(options)),
        server(simulator::listener_options{},
               [this](const simulator::request& r) { return channel.handle(r); }) {
    if (auto error = server.start()) {
      throw std::runtime_error(*error);
    }
  }
  /// Waits up to 15 s for the channel to show `want` for `sku`.
  bool shows(std::string_view sku, std::int64_t want) {
    return eventually(
        [&] { return channel.quantity(sku) == std::optional<std::int64_t>{want}; },
        std::chrono::seconds(15), std::chrono::milliseconds(20));
  }
  /// One counter of the emulator's stats (`section` empty: a top-level one).
  std::uint64_t stat(std::string_view section, std::string_view name) {
    json_doc stats(channel.stats_json());
    return section.empty() ? stats.root()[name].get_uint64().value()
                           : stats.root()[section][name].get_uint64().value();
  }
  Emulator channel;
  simulator::listener server;
};

/// The webhook emulator with what most tests want: unknown SKUs are created on first push,
/// 50 calls/s with a burst of 50, signatures checked with `secret`.
struct webhook_channel : emulated<simulator::webhook_emulator> {
  explicit webhook_channel(std::string secret)
      : emulated<simulator::webhook_emulator>(make_options(std::move(secret))) {}
  static simulator::webhook_options make_options(std::string secret) {
    simulator::webhook_options o;
    o.secret = std::move(secret);
    o.unknown_sku_creates = true;
    o.rate = 50;
    o.burst = 50;
    return o;
  }
};

// The config of a channel on one of the emulators above, in one place: its endpoint, credentials
// and ids. Each piece ends inside its [[channels]] table, so a test appends its own keys
// (rules, mode, rates) and then, after a blank line, further tables.

/// The one location most tests sell from.
inline constexpr std::string_view main_location_toml = "[[locations]]\nid = \"main\"\n\n";

/// A shopify channel `id` selling `main` on the Shopify emulator at `port` (API 2026-04, the
/// emulator's Location/1). Sets STOCKD_E2E_SHOPIFY_TOKEN, which it names, to the emulator's token.
inline std::string shopify_channel_toml(std::string_view id, std::uint16_t port) {
  ::setenv("STOCKD_E2E_SHOPIFY_TOKEN", "shpat_stocksim", 1);
  return "[[channels]]\nid = \"" + std::string(id) +
         "\"\nconnector = \"shopify\"\nendpoint = \"http://127.0.0.1:" + std::to_string(port) +
         "/admin/api/2026-04/graphql.json\"\ncredentials = \"env:STOCKD_E2E_SHOPIFY_TOKEN\"\n"
         "shopify_location = \"gid://shopify/Location/1\"\nlocations = [\"main\"]\n";
}

/// An amazon channel `id` selling `main` on the SP-API emulator at `port` (its seller and
/// marketplace). Sets STOCKD_E2E_AMAZON_TOKEN, which it names, to the emulator's token.
inline std::string amazon_channel_toml(std::string_view id, std::uint16_t port) {
  ::setenv("STOCKD_E2E_AMAZON_TOKEN", "Atza|stocksim", 1);
  return "[[channels]]\nid = \"" + std::string(id) +
         "\"\nconnector = \"amazon\"\nendpoint = \"http://127.0.0.1:" + std::to_string(port) +
         "\"\ncredentials = \"env:STOCKD_E2E_AMAZON_TOKEN\"\nseller_id = \"A1STOCKSIM\"\n"
         "marketplace_id = \"ATVPDKIKX0DER\"\nlocations = [\"main\"]\n";
}

/// A webhook channel `id` selling `main` on the webhook emulator at `port` (POST and read-back
/// GETs at /inventory), signing with `secret` through STOCKD_E2E_HOOK_SECRET, which it sets.
inline std::string webhook_channel_toml(std::string_view id, std::uint16_t port,
                                        std::string_view secret) {
  ::setenv("STOCKD_E2E_HOOK_SECRET", std::string(secret).c_str(), 1);
  return "[[channels]]\nid = \"" + std::string(id) +
         "\"\nconnector = \"webhook\"\nendpoint = \"http://127.0.0.1:" + std::to_string(port) +
         "/inventory\"\ncredentials = \"env:STOCKD_E2E_HOOK_SECRET\"\nlocations = [\"main\"]\n";
}

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
