// End-to-end: the real stockd pushes a channel's quantity through its webhook connector to the
// webhook emulator (simulator/), running in this process on a loopback port with stockd's
// signature contract. Stock changes reach the channel, its own orders lower it, a failing
// channel is retried with the same idempotency key until it converges, and the SKU's record says
// in sync.
#include <chrono>
#include <cstdlib>
#include <sys/wait.h>
#include <thread>

#include <catch2/catch.hpp>

#include "simulator/listener.hpp"
#include "simulator/shopify.hpp"
#include "simulator/webhook.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

constexpr const char* secret = "e2e-hook-secret";

struct hook {
  hook()
      : channel(make_options()),
        server(simulator::listener_options{},
               [this](const simulator::request& r) { return channel.handle(r); }) {
    if (auto error = server.start()) {
      throw std::runtime_error(*error);
    }
  }
  static simulator::webhook_options make_options() {
    simulator::webhook_options o;
    o.secret = secret;
    o.unknown_sku_creates = true;
    o.rate = 50;
    o.burst = 50;
    return o;
  }
  simulator::webhook_emulator channel;
  simulator::listener server;
};

std::string config_for(std::uint16_t port) {
  return "[[locations]]\nid = \"main\"\n\n[[channels]]\nid = \"wholesale\"\nconnector = "
         "\"webhook\"\nendpoint = \"http://127.0.0.1:" +
         std::to_string(port) +
         "/inventory\"\ncredentials = \"env:STOCKD_E2E_HOOK_SECRET\"\nlocations = [\"main\"]\n"
         "requests_per_second = 20\nburst = 5\nbatch_size = 50\n";
}

/// Waits up to 15 s for the channel to show `want` for `sku`.
bool channel_shows(hook& h, std::string_view sku, std::int64_t want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (h.channel.quantity(sku) == std::optional<std::int64_t>{want}) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void post_ok(const server_process& server, const std::vector<std::string>& events) {
  auto res = server.post("/v1/events", json_array(events));
  INFO(res.body);
  REQUIRE(res.status == 200);
  for (const auto& r : parse_results(res.body)) {
    REQUIRE(r.status == "accepted");
  }
}

} // namespace

TEST_CASE("stockd pushes each stock change to a webhook channel until it converges",
          "[e2e][channels][push]") {
  ::setenv("STOCKD_E2E_HOOK_SECRET", secret, 1);
  hook h;
  server_options opts;
  opts.config_toml = config_for(h.server.port());
  server_process server(opts);
  server.start();

  post_ok(server, {event_json("received", "r1", "HOOK-A", "\"qty\":10")});
  CHECK(channel_shows(h, "HOOK-A", 10));

  // The channel's own order: stockd commits it, the channel already lowered itself; another
  // channel's order lowers what this one should show.
  post_ok(server, {order_created_json("o1", "HOOK-A", 3, "O-1")});
  CHECK(channel_shows(h, "HOOK-A", 7));

  // The channel fails its next three calls: stockd retries (same key) and converges.
  REQUIRE_FALSE(h.channel.set_faults("5xx=next:3"));
  post_ok(server, {event_json("adjusted", "a1", "HOOK-A", "\"delta\":-2,\"reason\":\"shrink\"")});
  CHECK(channel_shows(h, "HOOK-A", 5));

  // The record says so, and nothing is out of sync.
  bool in_sync = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!in_sync && std::chrono::steady_clock::now() < deadline) {
    json_doc sku = server.get_json("/v1/skus/HOOK-A");
    auto record = sku["channels"]["wholesale"];
    in_sync = record["in_sync"].get_bool().value() &&
              record["last_pushed"].get_int64().value() == 5 &&
              record["expected"].get_int64().value() == 5;
    if (!in_sync) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  CHECK(in_sync);
  json_doc status = server.get_json("/v1/status");
  auto channel = status["channels"].at(0);
  CHECK(std::string_view(channel["connector"].get_string().value()) == "webhook");
  CHECK(channel["failures"].get_uint64().value() >= 1);
  CHECK(channel["retries"].get_uint64().value() >= 1);
  CHECK(channel["out_of_sync"].get_uint64().value() == 0);
}

TEST_CASE("a webhook channel whose secret is missing stops start-up with the reference named",
          "[e2e][channels][push]") {
  ::unsetenv("STOCKD_E2E_HOOK_SECRET_MISSING");
  server_options opts;
  opts.config_toml = "[[locations]]\nid = \"main\"\n\n[[channels]]\nid = \"w\"\nconnector = "
                     "\"webhook\"\nendpoint = \"http://127.0.0.1:9/x\"\ncredentials = "
                     "\"env:STOCKD_E2E_HOOK_SECRET_MISSING\"\nlocations = [\"main\"]\n";
  server_process server(opts);
  server.launch();
  auto status = server.wait_exit(std::chrono::seconds(10));
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 1);
  CHECK(server.log().find("STOCKD_E2E_HOOK_SECRET_MISSING") != std::string::npos);
}

namespace {

struct shop {
  shop()
      : channel(simulator::shopify_options{}),
        server(simulator::listener_options{},
               [this](const simulator::request& r) { return channel.handle(r); }) {
    if (auto error = server.start()) {
      throw std::runtime_error(*error);
    }
  }
  bool shows(std::string_view sku, std::int64_t want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      if (channel.quantity(sku) == std::optional<std::int64_t>{want}) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  simulator::shopify_emulator channel;
  simulator::listener server;
};

} // namespace

TEST_CASE("stockd pushes to a shopify channel through stale answers and errors until it "
          "converges",
          "[e2e][channels][push][shopify]") {
  ::setenv("STOCKD_E2E_SHOPIFY_TOKEN", "shpat_stocksim", 1);
  shop s;
  REQUIRE_FALSE(s.channel.set_quantity("SHOP-A", 0));  // the emulator has no unknown SKUs
  server_options opts;
  opts.config_toml = "[[locations]]\nid = \"main\"\n\n[[channels]]\nid = \"shop\"\n"
                     "connector = \"shopify\"\nendpoint = \"http://127.0.0.1:" +
                     std::to_string(s.server.port()) +
                     "/admin/api/2026-04/graphql.json\"\ncredentials = "
                     "\"env:STOCKD_E2E_SHOPIFY_TOKEN\"\nshopify_location = "
                     "\"gid://shopify/Location/1\"\nlocations = [\"main\"]\n";
  server_process server(opts);
  server.start();

  post_ok(server, {event_json("received", "r1", "SHOP-A", "\"qty\":10")});
  CHECK(s.shows("SHOP-A", 10));

  // The next compare-and-set is answered stale: stockd reads the shop back and pushes again;
  // then two 5xx are retried with the same idempotency key.
  REQUIRE_FALSE(s.channel.set_faults("stale-cas=next:1"));
  post_ok(server, {event_json("adjusted", "a1", "SHOP-A", "\"delta\":-2,\"reason\":\"shrink\"")});
  CHECK(s.shows("SHOP-A", 8));
  REQUIRE_FALSE(s.channel.set_faults("5xx=next:2"));
  post_ok(server, {event_json("adjusted", "a2", "SHOP-A", "\"delta\":-3,\"reason\":\"shrink\"")});
  CHECK(s.shows("SHOP-A", 5));

  bool in_sync = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!in_sync && std::chrono::steady_clock::now() < deadline) {
    json_doc sku = server.get_json("/v1/skus/SHOP-A");
    auto record = sku["channels"]["shop"];
    in_sync = record["in_sync"].get_bool().value() &&
              record["last_pushed"].get_int64().value() == 5;
    if (!in_sync) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  CHECK(in_sync);
  json_doc status = server.get_json("/v1/status");
  auto channel = status["channels"].at(0);
  CHECK(std::string_view(channel["connector"].get_string().value()) == "shopify");
  CHECK(channel["stale"].get_uint64().value() >= 1);
  CHECK(channel["failures"].get_uint64().value() >= 1);
  CHECK(channel["out_of_sync"].get_uint64().value() == 0);
}

} // namespace stockd::e2e
