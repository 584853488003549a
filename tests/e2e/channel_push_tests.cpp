// End-to-end: the real stockd pushes a channel's quantity through its webhook connector to the
// webhook emulator (simulator/), running in this process on a loopback port with stockd's
// signature contract, and through its amazon connector to the SP-API emulator. Stock changes
// reach the channel, its own orders lower it, a failing channel is retried with the same
// idempotency key until it converges, and the SKU's record says in sync.
#include <chrono>
#include <cstdlib>
#include <csignal>
#include <sys/wait.h>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "engine/time.hpp"
#include "simulator/amazon.hpp"
#include "simulator/buyer.hpp"
#include "simulator/listener.hpp"
#include "simulator/shopify.hpp"
#include "simulator/webhook.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/fixtures.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

constexpr const char* secret = "e2e-hook-secret";

struct hook : webhook_channel {
  hook() : webhook_channel(secret) {}
};

std::string config_for(std::uint16_t port) {
  return std::string(main_location_toml) + webhook_channel_toml("wholesale", port, secret) +
         "requests_per_second = 20\nburst = 5\nbatch_size = 50\n";
}

/// Waits up to 15 s for the channel to show `want` for `sku`.
bool channel_shows(hook& h, std::string_view sku, std::int64_t want) {
  return eventually(
      [&] { return h.channel.quantity(sku) == std::optional<std::int64_t>{want}; },
      std::chrono::seconds(15), std::chrono::milliseconds(20));
}

/// Waits up to 10 s for stockd's record of `sku` on `channel` to be in sync and, when `field`
/// is given, to hold `value` there (e.g. "last_pushed", 5).
bool record_settles(const server_process& server, std::string_view sku, std::string_view channel,
                    std::string_view field = {}, std::int64_t value = 0) {
  return eventually(
      [&] {
        json_doc doc = server.get_json("/v1/skus/" + std::string(sku));
        auto record = doc["channels"][channel];
        return record["in_sync"].get_bool().value() &&
               (field.empty() || record[field].get_int64().value() == value);
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50));
}

} // namespace

TEST_CASE("stockd pushes each stock change to a webhook channel until it converges",
          "[e2e][channels][push]") {
  hook h;
  server_options opts;
  opts.config_toml = config_for(h.server.port());
  server_process server(opts);
  server.start();

  post_accepted(server, {event_json("received", "r1", "HOOK-A", "\"qty\":10")});
  CHECK(channel_shows(h, "HOOK-A", 10));

  // The channel's own order: stockd commits it, the channel already lowered itself; another
  // channel's order lowers what this one should show.
  post_accepted(server, {order_created_json("o1", "HOOK-A", 3, "O-1")});
  CHECK(channel_shows(h, "HOOK-A", 7));

  // The channel fails its next three calls: stockd retries (same key) and converges.
  REQUIRE_FALSE(h.channel.set_faults("5xx=next:3"));
  post_accepted(server, {event_json("adjusted", "a1", "HOOK-A", "\"delta\":-2,\"reason\":\"shrink\"")});
  CHECK(channel_shows(h, "HOOK-A", 5));

  // The record says so, and nothing is out of sync.
  CHECK(record_settles(server, "HOOK-A", "wholesale", "last_pushed", 5));
  json_doc hook_a = server.get_json("/v1/skus/HOOK-A");
  CHECK(hook_a["channels"]["wholesale"]["expected"].get_int64().value() == 5);
  json_doc status = server.get_json("/v1/status");
  auto channel = status["channels"].at(0);
  CHECK(std::string_view(channel["connector"].get_string().value()) == "webhook");
  CHECK(channel["failures"].get_uint64().value() >= 1);
  CHECK(channel["retries"].get_uint64().value() >= 1);
  CHECK(channel["out_of_sync"].get_uint64().value() == 0);
}

/// A counter of the emulator's stats (GET /_emulator/stats, read in process).
std::uint64_t emulator_count(hook& h, std::string_view section, std::string_view name) {
  json_doc stats(h.channel.stats_json());
  auto root = stats.root();
  return section.empty() ? root[name].get_uint64().value()
                         : root[section][name].get_uint64().value();
}

TEST_CASE("an admin re-push sends every SKU of a channel again and needs the admin scope",
          "[e2e][channels][push]") {
  hook h;
  server_options opts;
  // printf %s e2e-reader-token | sha256sum
  opts.config_toml = config_for(h.server.port()) + R"(
[[tokens]]
name = "reader"
sha256 = "2d322c4212048209849d8ae06f985be7df342a4af41b95b46a2ef5c4f54f66af"
scopes = ["read"]
)";
  server_process server(opts);
  server.start();
  post_accepted(server, {event_json("received", "r1", "RP-A", "\"qty\":4"),
                         event_json("received", "r2", "RP-B", "\"qty\":6")});
  REQUIRE(channel_shows(h, "RP-A", 4));
  REQUIRE(channel_shows(h, "RP-B", 6));
  const std::uint64_t before = emulator_count(h, "", "items");
  // Someone edits the channel by hand: stockd does not know (no read-back here).
  REQUIRE_FALSE(h.channel.set_quantity("RP-A", 40));

  auto repushed = server.post("/v1/admin/channels/wholesale/repush", "");
  REQUIRE(repushed.status == 202);
  CHECK(json_doc(repushed.body)["queued"].get_uint64().value() == 2);
  // Both go again (the bulk lane rides in ordinary calls on a webhook channel), which undoes
  // the hand edit.
  const std::uint64_t wanted = before + 2;
  CHECK(eventually([&] { return emulator_count(h, "", "items") >= wanted; },
                   std::chrono::seconds(15), std::chrono::milliseconds(20)));
  CHECK(channel_shows(h, "RP-A", 4));

  CHECK(server.post("/v1/admin/channels/nope/repush", "").status == 404);
  CHECK(server.get("/v1/admin/channels/wholesale/repush").status == 405);
  http_request reader;
  reader.method = "POST";
  reader.target = "/v1/admin/channels/wholesale/repush";
  reader.token = "e2e-reader-token";
  CHECK(server.request(reader).status == 403);
}

TEST_CASE("a push pending at kill -9 goes again with its key after the restart, nothing confirmed "
          "is sent again, and a dead letter stays listed",
          "[e2e][channels][push][outbox]") {
  hook h;
  server_options opts;
  opts.config_toml = config_for(h.server.port());
  server_process server(opts);
  server.start();

  // A SKU the channel refuses: parked as a dead letter with the channel's reason.
  REQUIRE_FALSE(h.channel.set_faults("bad-skus=HOOK-BAD"));
  post_accepted(server, {event_json("received", "bad1", "HOOK-BAD", "\"qty\":4")});
  const bool listed = eventually(
      [&] {
        json_doc dead = server.get_json("/v1/sync/dead-letters?channel=wholesale");
        auto list = dead["dead_letters"].get_array().value();
        return list.size() == 1;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50));
  REQUIRE(listed);

  // The channel applies the next push and then hangs without answering: stockd is killed while
  // the push is in flight, its effect unknown to stockd.
  REQUIRE_FALSE(h.channel.set_faults("bad-skus=HOOK-BAD,hang-after=next:1,hang-ms=20000"));
  post_accepted(server, {event_json("received", "r1", "HOOK-R", "\"qty\":10")});
  REQUIRE(channel_shows(h, "HOOK-R", 10));
  server.kill(SIGKILL);
  REQUIRE(server.wait_exit(std::chrono::seconds(10)).has_value());
  const std::uint64_t applied_before = emulator_count(h, "rate_limit", "items_applied");

  // After the restart the push goes again under the key it had: the channel answers it as a
  // replay (items_duplicate), not as a second change.
  server.start();
  const bool replayed = eventually(
      [&] { return emulator_count(h, "rate_limit", "items_duplicate") >= 1; },
      std::chrono::seconds(15), std::chrono::milliseconds(50));
  CHECK(replayed);
  CHECK(emulator_count(h, "rate_limit", "items_applied") == applied_before);
  CHECK(record_settles(server, "HOOK-R", "wholesale"));

  // An orderly restart with everything confirmed sends nothing (the dead letter stays parked).
  const std::uint64_t calls = emulator_count(h, "", "calls");
  server.restart();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(emulator_count(h, "", "calls") == calls);
  json_doc dead = server.get_json("/v1/sync/dead-letters");
  auto list = dead["dead_letters"].get_array().value();
  REQUIRE(list.size() == 1);
  auto first = list.at(0);
  CHECK(std::string_view(first["sku"].get_string().value()) == "HOOK-BAD");
  CHECK(std::string_view(first["reason"].get_string().value()).starts_with("rejected_item"));
  json_doc status = server.get_json("/v1/status");
  CHECK(status["channels"].at(0)["dead_letters"].get_uint64().value() == 1);
}

TEST_CASE("random stock changes under 20% channel faults converge once the faults stop, and the "
          "channel's own bucket never throttles stockd",
          "[e2e][channels][push][convergence]") {
  hook h;
  server_options opts;
  opts.config_toml = config_for(h.server.port());
  server_process server(opts);
  server.start();

  // One fault in five calls: 5xx, injected 429s (with and without Retry-After), a reset, and a
  // hang after applying (the push landed, the answer never came).
  REQUIRE_FALSE(h.channel.set_faults(
      "5xx=0.05,429=0.04,429-no-retry=0.03,reset=0.04,hang-after=0.04,hang-ms=300"));
  constexpr int skus = 40;
  std::mt19937 rng(20261127);
  std::uniform_int_distribution<int> pick(0, skus - 1);
  std::uniform_int_distribution<int> amount(1, 9);
  auto name = [](int i) { return "CONV-" + std::to_string(i); };
  int next_id = 0;
  const auto traffic_end = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  while (std::chrono::steady_clock::now() < traffic_end) {
    std::vector<std::string> events;
    for (int i = 0; i < 20; ++i) {
      const std::string id = "c" + std::to_string(next_id++);
      const int sku = pick(rng);
      events.push_back(i % 3 == 0 ? event_json("adjusted", id, name(sku),
                                               "\"delta\":-1,\"reason\":\"shrink\"")
                                  : event_json("received", id, name(sku),
                                               "\"qty\":" + std::to_string(amount(rng))));
    }
    auto results = post_events(server, json_array(events));
    REQUIRE(results.size() == events.size());  // a shrink below zero is rejected: fine
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_FALSE(h.channel.set_faults("none"));

  // The bound: the longest backoff (30 s cap) plus a pass over 40 SKUs at 20 calls/s.
  auto converged = [&] {
    for (int i = 0; i < skus; ++i) {
      json_doc sku = server.get_json("/v1/skus/" + name(i));
      auto record = sku["channels"]["wholesale"];
      const std::int64_t expected = record["expected"].get_int64().value();
      if (!record["in_sync"].get_bool().value() ||
          h.channel.quantity(name(i)) != std::optional<std::int64_t>{expected}) {
        return false;
      }
    }
    return true;
  };
  CHECK(eventually(converged, std::chrono::seconds(45), std::chrono::milliseconds(200)));

  // Every 429 the channel answered was an injected one: stockd's pacing never ran the
  // channel's bucket dry.
  const std::string stats_text = h.channel.stats_json();
  INFO(stats_text);
  json_doc stats(stats_text);
  const std::uint64_t answered_429 = stats["responses"]["429"].get_uint64().value();
  const std::uint64_t injected_429 = stats["faults_injected"]["429"].get_uint64().value() +
                                     stats["faults_injected"]["429-no-retry"].get_uint64().value();
  CHECK(answered_429 == injected_429);
  std::uint64_t injected = 0;
  const simdjson::dom::object faults = stats["faults_injected"].get_object().value();
  for (const simdjson::dom::key_value_pair field : faults) {
    injected += field.value.get_uint64().value();
  }
  CHECK(injected >= 10);  // the run did meet faults (about one call in five)
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

} // namespace

TEST_CASE("stockd pushes stock changes to an amazon listing through throttling and keeps its lead "
          "time",
          "[e2e][channels][push]") {
  emulated<simulator::amazon_emulator> a(simulator::amazon_options{});
  REQUIRE_FALSE(a.channel.set_quantity("AMZ-A", 0));
  server_options opts;
  opts.config_toml =
      std::string(main_location_toml) + amazon_channel_toml("amazon-us", a.server.port());
  server_process server(opts);
  server.start();

  post_accepted(server, {event_json("received", "r1", "AMZ-A", "\"qty\":10")});
  CHECK(a.shows("AMZ-A", 10));
  // SP-API throttles the next two calls without a Retry-After: stockd waits and converges.
  REQUIRE_FALSE(a.channel.set_faults("429-no-retry=next:2"));
  post_accepted(server, {event_json("adjusted", "a1", "AMZ-A", "\"delta\":-4,\"reason\":\"shrink\"")});
  CHECK(a.shows("AMZ-A", 6));
  // merge, not replace: the listing's lead time is still there.
  CHECK(a.channel.lead_time_days("AMZ-A") == 2);
  json_doc status = server.get_json("/v1/status");
  auto channel = status["channels"].at(0);
  CHECK(std::string_view(channel["connector"].get_string().value()) == "amazon");
  CHECK(channel["throttled"].get_uint64().value() >= 1);
}

TEST_CASE("an amazon re-push goes as one JSON_LISTINGS_FEED while urgent changes go around it, "
          "and a value the feed set late is corrected",
          "[e2e][channels][push][bulk]") {
  simulator::amazon_options emulator_options;
  emulator_options.patch_rate = 50;
  emulator_options.patch_burst = 50;
  emulator_options.feed_time_base = std::chrono::milliseconds(3000);  // a feed takes a while
  emulated<simulator::amazon_emulator> a(emulator_options);
  constexpr int skus = 30;
  auto name = [](int i) { return "FEED-" + std::to_string(i); };
  for (int i = 0; i < skus; ++i) {
    REQUIRE_FALSE(a.channel.set_quantity(name(i), 0));
  }
  server_options opts;
  opts.config_toml = std::string(main_location_toml) +
                     amazon_channel_toml("amazon-us", a.server.port()) +
                     "requests_per_second = 40\nburst = 40\n";
  server_process server(opts);
  server.start();
  std::vector<std::string> receipts;
  for (int i = 0; i < skus; ++i) {
    receipts.push_back(event_json("received", "r" + std::to_string(i), name(i), "\"qty\":10"));
  }
  post_accepted(server, receipts);
  for (int i = 0; i < skus; ++i) {
    REQUIRE(a.shows(name(i), 10));
  }
  auto feeds = [&](std::string_view field) {
    json_doc stats(a.channel.stats_json());
    return stats["rate_limit"]["feeds"][field].get_uint64().value();
  };
  REQUIRE(feeds("submitted") == 0);
  // Hand edits on Seller Central that stockd does not know about.
  REQUIRE_FALSE(a.channel.set_quantity(name(1), 99));
  REQUIRE_FALSE(a.channel.set_quantity(name(2), 99));

  auto repushed = server.post("/v1/admin/channels/amazon-us/repush", "");
  REQUIRE(repushed.status == 202);
  CHECK(json_doc(repushed.body)["queued"].get_uint64().value() == skus);
  REQUIRE(eventually([&] { return feeds("submitted") == 1; }, std::chrono::seconds(10),
                     std::chrono::milliseconds(20)));
  // While the feed runs (3 s), a decrease goes at once through patchListingsItem.
  post_accepted(server, {event_json("adjusted", "a1", name(0), "\"delta\":-3,\"reason\":\"shrink\"")});
  CHECK(a.shows(name(0), 7));
  CHECK(feeds("processed") == 0);
  // The feed then sets 10 on FEED-0 (the value it carried) and undoes the hand edits; stockd
  // sees the feed applied a value it had since changed, and says 7 again.
  REQUIRE(eventually([&] { return feeds("processed") == 1; }, std::chrono::seconds(30),
                     std::chrono::milliseconds(50)));
  CHECK(feeds("messages_accepted") == skus);
  CHECK(a.shows(name(1), 10));
  CHECK(a.shows(name(2), 10));
  CHECK(a.shows(name(0), 7));
  CHECK(a.channel.lead_time_days(name(3)) == 2);  // merge, in the feed too
  json_doc status = server.get_json("/v1/status");
  auto channel = status["channels"].at(0);
  CHECK(channel["bulk_jobs"]["sent"].get_uint64().value() == 1);
  CHECK(channel["bulk_jobs"]["failed"].get_uint64().value() == 0);
  CHECK(eventually(
      [&] {
        json_doc now = server.get_json("/v1/status");
        return now["channels"].at(0)["out_of_sync"].get_uint64().value() == 0;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50)));
}

TEST_CASE("stockd pushes to a shopify channel through stale answers and errors until it "
          "converges",
          "[e2e][channels][push][shopify]") {
  emulated<simulator::shopify_emulator> s(simulator::shopify_options{});
  REQUIRE_FALSE(s.channel.set_quantity("SHOP-A", 0));  // the emulator has no unknown SKUs
  server_options opts;
  opts.config_toml =
      std::string(main_location_toml) + shopify_channel_toml("shop", s.server.port());
  server_process server(opts);
  server.start();

  post_accepted(server, {event_json("received", "r1", "SHOP-A", "\"qty\":10")});
  CHECK(s.shows("SHOP-A", 10));

  // The next compare-and-set is answered stale: stockd reads the shop back and pushes again;
  // then two 5xx are retried with the same idempotency key.
  REQUIRE_FALSE(s.channel.set_faults("stale-cas=next:1"));
  post_accepted(server, {event_json("adjusted", "a1", "SHOP-A", "\"delta\":-2,\"reason\":\"shrink\"")});
  CHECK(s.shows("SHOP-A", 8));
  REQUIRE_FALSE(s.channel.set_faults("5xx=next:2"));
  post_accepted(server, {event_json("adjusted", "a2", "SHOP-A", "\"delta\":-3,\"reason\":\"shrink\"")});
  CHECK(s.shows("SHOP-A", 5));

  CHECK(record_settles(server, "SHOP-A", "shop", "last_pushed", 5));
  json_doc status = server.get_json("/v1/status");
  auto channel = status["channels"].at(0);
  CHECK(std::string_view(channel["connector"].get_string().value()) == "shopify");
  CHECK(channel["stale"].get_uint64().value() >= 1);
  CHECK(channel["failures"].get_uint64().value() >= 1);
  CHECK(channel["out_of_sync"].get_uint64().value() == 0);
}

TEST_CASE("a kit sold on a shopify channel lowers the kit's listing there, not its components', so "
          "stockd pushes the components down",
          "[e2e][channels][push][shopify][kits]") {
  emulated<simulator::shopify_emulator> s(simulator::shopify_options{});
  for (const char* sku : {"KA", "KB", "BOX"}) {
    REQUIRE_FALSE(s.channel.set_quantity(sku, 0));
  }
  server_options opts;
  opts.config_toml = std::string(main_location_toml) +
                     shopify_channel_toml("shop", s.server.port()) +
                     "\n[[skus]]\nid = \"BOX\"\n"
                     "components = [{ sku = \"KA\", qty = 1 }, { sku = \"KB\", qty = 1 }]\n";
  server_process server(opts);
  server.start();
  post_accepted(server, {received_json("r1", "KA", 5), received_json("r2", "KB", 5)});
  REQUIRE(s.shows("KA", 5));
  REQUIRE(s.shows("KB", 5));
  REQUIRE(s.shows("BOX", 5));

  // A customer buys the kit on the shop, well after stockd's last read of it (a sale within
  // a second of a read keeps the shadow high anyway): the shop lowers BOX, and KA and KB stay
  // at 5 there. The order says when, as a storefront's does.
  std::this_thread::sleep_for(std::chrono::milliseconds(1'500));
  bool sold = false;
  REQUIRE(s.channel.buy("BOX", [&sold](std::string_view) { sold = true; }));
  CHECK(sold);
  std::string order = event_json("order_created", "o1", "BOX",
                                 "\"qty\":1,\"order_id\":\"O-1\",\"line_id\":\"1\","
                                 "\"channel\":\"shop\"");
  order.replace(order.find(test_occurred_at), test_occurred_at.size(),
                engine::format_rfc3339(std::chrono::time_point_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now())));
  post_accepted(server, {order});
  // The components' listings must come down to 4 (before the fix stockd believed the order had
  // lowered them, and pushed nothing: the shop kept showing 5 of each, in sync).
  CHECK(s.shows("KA", 4));
  CHECK(s.shows("KB", 4));
  // The kit's listing: read again (its value moved by a sale stockd cannot size from a
  // component's order), then exactly 4, with no phantom unit held back.
  CHECK(s.shows("BOX", 4));
  CHECK(record_settles(server, "KA", "shop", "believed_shows", 4));
}

TEST_CASE("customers buying on a shopify channel while stockd restocks it, with stale answers and "
          "errors, oversell nothing and the channel converges",
          "[e2e][channels][push][shopify][convergence]") {
  emulated<simulator::shopify_emulator> s(simulator::shopify_options{});
  constexpr int skus = 12;
  auto name = [](int i) { return "BUY-" + std::to_string(i); };
  for (int i = 0; i < skus; ++i) {
    REQUIRE_FALSE(s.channel.set_quantity(name(i), 0));
  }
  server_options opts;
  opts.config_toml = std::string(main_location_toml) +
                     shopify_channel_toml("shop", s.server.port()) +
                     // Orders arrive within a second here: a unit the shop sold that no
                     // order accounts for is held back at most 3 s (see below).
                     "unseen_hold_ms = 3000\n";
  server_process server(opts);
  server.start();

  // Customers buy what the shop shows, faster than stock arrives, and their orders reach stockd
  // late, out of order and sometimes twice. Stock only arrives (no shrink), so every unit the
  // shop sells exists: an oversell could only come from stockd raising the shop over a sale it
  // has not seen yet, which compare-and-set must prevent.
  simulator::buyer_options b;
  b.buys_per_second = 60;
  b.channel_id = "shop";
  b.stockd_url = "http://127.0.0.1:" + std::to_string(server.port());
  b.token = server.token();
  b.delay = std::chrono::milliseconds(150);
  b.jitter = std::chrono::milliseconds(400);
  b.duplicate_probability = 0.1;
  b.seed = 27;
  simulator::buyer customers(b, s.channel);
  REQUIRE_FALSE(customers.start());
  REQUIRE_FALSE(s.channel.set_faults("stale-cas=0.1,5xx=0.05,seed=3"));

  std::mt19937 rng(1127);
  std::uniform_int_distribution<int> pick(0, skus - 1);
  std::uniform_int_distribution<int> amount(1, 4);
  std::int64_t received = 0;
  int next_id = 0;
  const auto traffic_end = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  while (std::chrono::steady_clock::now() < traffic_end) {
    std::vector<std::string> events;
    for (int i = 0; i < 3; ++i) {
      const int qty = amount(rng);
      received += qty;
      events.push_back(event_json("received", "r" + std::to_string(next_id++), name(pick(rng)),
                                  "\"qty\":" + std::to_string(qty)));
    }
    post_accepted(server, events);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  customers.stop(std::chrono::seconds(10));  // stop buying; deliver every order still queued
  REQUIRE_FALSE(s.channel.set_faults("none"));
  INFO(s.channel.stats_json());
  CHECK(customers.purchases() > 50);
  CHECK(customers.delivered() >= customers.purchases());  // duplicates count twice

  auto converged = [&] {
    for (int i = 0; i < skus; ++i) {
      json_doc sku = server.get_json("/v1/skus/" + name(i));
      auto record = sku["channels"]["shop"];
      const std::int64_t expected = record["expected"].get_int64().value();
      if (!record["in_sync"].get_bool().value() ||
          s.channel.quantity(name(i)) != std::optional<std::int64_t>{expected}) {
        return false;
      }
    }
    return true;
  };
  CHECK(eventually(converged, std::chrono::seconds(45), std::chrono::milliseconds(200)));

  // Nothing oversold, and stockd's books agree with the world: what arrived, less what the
  // shop sold, is what is available, and what the shop shows once every hold is released.
  // (A hold can outlive its orders: a sale made while a push was in flight, or after a call
  // that may have applied, cannot be told from one whose order is late, and the safe guess
  // holds back too much for unseen_hold_ms.)
  json_doc status = server.get_json("/v1/status");
  CHECK(status["engine"]["oversold_units"].get_uint64().value() == 0);
  std::int64_t available = 0;
  for (int i = 0; i < skus; ++i) {
    json_doc sku = server.get_json("/v1/skus/" + name(i));
    auto at_main = sku["locations"]["main"]["available"];
    available += at_main.error() ? 0 : at_main.get_int64().value();
  }
  CHECK(available == received - static_cast<std::int64_t>(customers.purchases()));
  auto shown = [&] {
    std::int64_t total = 0;
    for (int i = 0; i < skus; ++i) {
      total += s.channel.quantity(name(i)).value_or(0);
    }
    return total;
  };
  CHECK(eventually([&] { return shown() == available; }, std::chrono::seconds(20),
                   std::chrono::milliseconds(100)));
  CHECK(shown() == available);
  json_doc channel_status = server.get_json("/v1/status");
  CHECK(channel_status["channels"].at(0)["stale"].get_uint64().value() >= 1);
}

} // namespace stockd::e2e
