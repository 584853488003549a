// End-to-end: config governance and shadow mode (issue 7). The real stockd with channel
// emulators in this process: a channel in shadow mode writes nothing (the emulator counts
// mutations) and reports how the channel differs; a reload that changes a rule pushes again
// exactly the SKUs whose quantity changed and is recorded as a version with the token's name;
// what cannot change at run time, and bad files, are refused naming the key with nothing
// applied; channels and locations come and go without a restart.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "simulator/amazon.hpp"
#include "simulator/listener.hpp"
#include "simulator/shopify.hpp"
#include "simulator/webhook.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/fixtures.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

// printf %s e2e-ops-token | sha256sum, and e2e-reader-token.
constexpr const char* ops_token = "e2e-ops-token";
constexpr const char* tokens_toml = R"(
[[tokens]]
name = "ops"
sha256 = "5e667e1364923f134bbb592057257f20bd2839658ea070f4ff2de356c2cfdfce"
scopes = ["read", "admin"]

[[tokens]]
name = "reader"
sha256 = "2d322c4212048209849d8ae06f985be7df342a4af41b95b46a2ef5c4f54f66af"
scopes = ["read", "ingest"]
)";

constexpr const char* hook_secret = "e2e-hook-secret";
constexpr std::string_view shadow_toml = "mode = \"shadow\"\nshadow_read_interval_ms = 1000\n";

std::string shopify_config(std::uint16_t port, std::string_view mode) {
  return std::string(tokens_toml) + "\n" + std::string(main_location_toml) +
         shopify_channel_toml("shop", port) + std::string(mode == "shadow" ? shadow_toml : "");
}

std::string webhook_config(std::uint16_t port, std::string_view rules) {
  return std::string(tokens_toml) + "\n" + std::string(main_location_toml) +
         webhook_channel_toml("wholesale", port, hook_secret) +
         "requests_per_second = 50\nburst = 10\n" + std::string(rules) + "\n";
}

http_response reload(const server_process& server, std::string body,
                     std::string token = ops_token) {
  http_request r;
  r.method = "POST";
  r.target = "/v1/admin/config/reload";
  r.body = std::move(body);
  r.content_type = "application/toml";
  r.token = std::move(token);
  r.timeout = std::chrono::milliseconds(60'000);
  return server.request(r);
}

std::string str(simdjson::dom::element e) {
  return std::string(e.get_string().value());
}

/// Waits up to 20 s for channel `id`'s shadow report to satisfy `predicate`.
template <class Predicate>
bool report_has(const server_process& server, std::string_view id, Predicate predicate) {
  return eventually(
      [&] {
        json_doc doc = server.get_json("/v1/channels/" + std::string(id) + "/shadow");
        return predicate(doc);
      },
      std::chrono::seconds(20), std::chrono::milliseconds(100));
}

/// What every shadow test starts from: the channel shows SH-A 5, SH-B 3 and SH-C 7 before
/// stockd; stockd then takes in 5, 10 and 7. A and C agree, B differs by 7.
template <class Emulator>
void show_before_stockd(emulated<Emulator>& channel) {
  REQUIRE_FALSE(channel.channel.set_quantity("SH-A", 5));
  REQUIRE_FALSE(channel.channel.set_quantity("SH-B", 3));
  REQUIRE_FALSE(channel.channel.set_quantity("SH-C", 7));
}

void receive_stock(const server_process& server) {
  post_accepted(server, {event_json("received", "r1", "SH-A", "\"qty\":5"),
                         event_json("received", "r2", "SH-B", "\"qty\":10"),
                         event_json("received", "r3", "SH-C", "\"qty\":7")});
}

/// Channel `id` in shadow mode has read the three SKUs back and reports SH-B's difference; its
/// record says why it is not pushed.
void check_reports_difference(const server_process& server, std::string_view id) {
  const std::string target = "/v1/channels/" + std::string(id) + "/shadow";
  const bool compared = report_has(server, id, [](json_doc& doc) {
    auto shadow = doc["shadow"];
    return shadow["skus_compared"].get_uint64().value() == 3 &&
           shadow["skus_equal"].get_uint64().value() == 2;
  });
  INFO(server.get(target).body);
  REQUIRE(compared);
  json_doc doc = server.get_json(target);
  CHECK(str(doc["mode"]) == "shadow");
  auto shadow = doc["shadow"];
  CHECK(shadow["share_equal"].get_double().value() == Approx(2.0 / 3.0));
  CHECK(shadow["differences_open"].get_uint64().value() == 1);
  auto largest = shadow["largest_differences"].at(0);
  CHECK(str(largest["sku"]) == "SH-B");
  CHECK(largest["would_push"].get_int64().value() == 10);
  CHECK(largest["channel_shows"].get_int64().value() == 3);
  CHECK(largest["difference"].get_int64().value() == 7);
  CHECK(shadow["reads"].get_uint64().value() >= 1);
  CHECK(shadow["read_failures"].get_uint64().value() == 0);
  json_doc sku = server.get_json("/v1/skus/SH-B");
  CHECK(sku["channels"][id]["expected"].get_int64().value() == 10);
  CHECK(str(sku["channels"][id]["reason"]) == "shadow_mode");
}

/// Someone fixes SH-B on the channel by hand: the difference ends, and how long it lasted is
/// reported.
template <class Emulator>
void check_difference_ends(const server_process& server, std::string_view id,
                           emulated<Emulator>& channel) {
  REQUIRE_FALSE(channel.channel.set_quantity("SH-B", 10));
  CHECK(report_has(server, id, [](json_doc& doc) {
    auto shadow = doc["shadow"];
    return shadow["differences_open"].get_uint64().value() == 0 &&
           shadow["ended_differences"]["count"].get_uint64().value() == 1 &&
           shadow["ended_differences"]["longest_ms"].get_int64().value() > 0;
  }));
}

} // namespace

TEST_CASE("a shopify channel in shadow mode writes nothing, reads the shop back and reports how "
          "it differs, then goes live by a reload",
          "[e2e][governance][shadow][shopify]") {
  emulated<simulator::shopify_emulator> s(simulator::shopify_options{});
  show_before_stockd(s);
  server_options opts;
  opts.config_toml = shopify_config(s.server.port(), "shadow");
  server_process server(opts);
  server.start();
  receive_stock(server);

  check_reports_difference(server, "shop");
  // Zero writes: the shop never saw a mutation, and shows what it showed.
  CHECK(s.stat("rate_limit", "mutations") == 0);
  CHECK(s.stat("", "items") == 0);
  CHECK(s.channel.quantity("SH-B") == std::optional<std::int64_t>{3});

  check_difference_ends(server, "shop", s);
  json_doc status = server.get_json("/v1/status");
  auto channel = status["channels"].at(0);
  CHECK(str(channel["mode"]) == "shadow");
  CHECK(channel["shadow"]["skus_compared"].get_uint64().value() == 3);
  CHECK(channel["calls"].get_uint64().value() == 0);
  CHECK(s.stat("rate_limit", "mutations") == 0);

  // Go-live: the file now says live; a reload with no body re-reads it.
  {
    std::ofstream file(server.temp_dir() + "/stockd.toml", std::ios::trunc);
    file << shopify_config(s.server.port(), "live");
  }
  auto live = reload(server, "");
  INFO(live.body);
  REQUIRE(live.status == 200);
  json_doc answer(live.body);
  CHECK(answer["applied"].get_bool().value());
  CHECK(str(answer["changes"].at(0)["path"]) == "channels.shop.mode");
  post_accepted(server, {event_json("received", "r4", "SH-A", "\"qty\":4")});
  CHECK(s.shows("SH-A", 9));
  CHECK(s.stat("rate_limit", "mutations") >= 1);
  json_doc after = server.get_json("/v1/channels/shop/shadow");
  CHECK(str(after["mode"]) == "live");
  CHECK(after["shadow"]["skus_compared"].get_uint64().value() == 3);  // the report is kept
}

TEST_CASE("an amazon channel in shadow mode patches nothing, reads each listing back and "
          "reports how it differs",
          "[e2e][governance][shadow][amazon]") {
  emulated<simulator::amazon_emulator> a(simulator::amazon_options{});
  show_before_stockd(a);
  server_options opts;
  opts.config_toml = std::string(tokens_toml) + "\n" + std::string(main_location_toml) +
                     amazon_channel_toml("amazon-us", a.server.port()) + std::string(shadow_toml);
  server_process server(opts);
  server.start();
  receive_stock(server);

  check_reports_difference(server, "amazon-us");
  // Zero writes: no patchListingsItem, no feed; only getListingsItem, one SKU a call.
  INFO(a.channel.stats_json());
  CHECK(a.stat("rate_limit", "patches_accepted") == 0);
  CHECK(a.stat("rate_limit", "patches_invalid") == 0);
  CHECK(a.stat("", "items") == 0);
  json_doc stats(a.channel.stats_json());
  CHECK(stats["rate_limit"]["feeds"]["submitted"].get_uint64().value() == 0);
  CHECK(a.stat("rate_limit", "gets") >= 3);
  CHECK(a.channel.quantity("SH-B") == std::optional<std::int64_t>{3});

  check_difference_ends(server, "amazon-us", a);
  CHECK(a.stat("rate_limit", "patches_accepted") == 0);
  CHECK(server.get_json("/v1/status")["channels"].at(0)["calls"].get_uint64().value() == 0);

  // A SKU stockd has and the seller has no listing for (getListingsItem 404): going live would
  // push it, so it is a difference of its own kind, not left out of the report.
  post_accepted(server, {event_json("received", "r4", "SH-D", "\"qty\":4")});
  const bool missing = report_has(server, "amazon-us", [](json_doc& doc) {
    return doc["shadow"]["skus_missing"].get_uint64().value() == 1;
  });
  INFO(server.get("/v1/channels/amazon-us/shadow").body);
  REQUIRE(missing);
  json_doc doc = server.get_json("/v1/channels/amazon-us/shadow");
  auto shadow = doc["shadow"];
  CHECK(shadow["skus_compared"].get_uint64().value() == 4);
  CHECK(shadow["share_equal"].get_double().value() == Approx(3.0 / 4.0));
  auto largest = shadow["largest_differences"].at(0);
  CHECK(str(largest["sku"]) == "SH-D");
  CHECK(largest["would_push"].get_int64().value() == 4);
  CHECK(largest["channel_shows"].is_null());
  CHECK(largest["difference"].is_null());
  CHECK(a.stat("rate_limit", "patches_accepted") == 0);
}

TEST_CASE("a webhook channel in shadow mode posts nothing, reads back through its endpoint and "
          "reports how it differs",
          "[e2e][governance][shadow][webhook]") {
  webhook_channel h(hook_secret);
  show_before_stockd(h);
  server_options opts;
  opts.config_toml = webhook_config(h.server.port(), shadow_toml);
  server_process server(opts);
  server.start();
  receive_stock(server);

  check_reports_difference(server, "wholesale");
  // Zero writes: no batch reached the receiver; the reads were signed and accepted.
  INFO(h.channel.stats_json());
  CHECK(h.stat("", "items") == 0);
  CHECK(h.stat("rate_limit", "items_applied") == 0);
  CHECK(h.stat("rate_limit", "items_rejected") == 0);
  CHECK(h.stat("rate_limit", "bad_signatures") == 0);
  CHECK(h.channel.quantity("SH-B") == std::optional<std::int64_t>{3});

  check_difference_ends(server, "wholesale", h);
  CHECK(h.stat("", "items") == 0);
  CHECK(server.get_json("/v1/status")["channels"].at(0)["calls"].get_uint64().value() == 0);
}

TEST_CASE("a webhook channel in shadow mode whose receiver answers no reads writes nothing and "
          "reports every read failed with nothing compared",
          "[e2e][governance][shadow][webhook]") {
  webhook_channel h(hook_secret);
  show_before_stockd(h);
  // The receiver takes POSTs at /inventory only: a GET of /push-only is 404, as from a receiver
  // that never implemented the read half of the contract.
  std::string config = webhook_config(h.server.port(), shadow_toml);
  config.replace(config.find("/inventory"), 10, "/push-only");
  server_options opts;
  opts.config_toml = config;
  server_process server(opts);
  server.start();  // not refused: the config cannot know whether the receiver answers reads
  receive_stock(server);

  const bool failing = report_has(server, "wholesale", [](json_doc& doc) {
    return doc["shadow"]["read_failures"].get_uint64().value() >= 2;
  });
  INFO(server.get("/v1/channels/wholesale/shadow").body);
  REQUIRE(failing);
  json_doc doc = server.get_json("/v1/channels/wholesale/shadow");
  auto shadow = doc["shadow"];
  // Every read failed (the failed SKUs are asked again after a pause), so nothing was compared
  // and no round with a SKU in it finished (the one round counted ran at start-up, before any
  // stock, with nothing to read): the report says so rather than any agreement.
  CHECK(shadow["read_failures"].get_uint64().value() == shadow["reads"].get_uint64().value());
  CHECK(shadow["skus_compared"].get_uint64().value() == 0);
  CHECK(shadow["share_equal"].is_null());  // no agreement claimed: nothing was compared
  CHECK(shadow["differences_open"].get_uint64().value() == 0);
  CHECK(shadow["rounds"].get_uint64().value() <= 1);
  CHECK(h.stat("responses", "4xx") >= 2);
  CHECK(h.stat("", "items") == 0);
  CHECK(h.channel.quantity("SH-B") == std::optional<std::int64_t>{3});
}

TEST_CASE("a reload that changes a rule pushes again exactly the SKUs whose quantity changed and "
          "is recorded as a version with the token's name",
          "[e2e][governance][reload]") {
  simulator::webhook_options hook_opts;
  hook_opts.secret = hook_secret;
  hook_opts.unknown_sku_creates = true;
  hook_opts.rate = 100;
  hook_opts.burst = 100;
  emulated<simulator::webhook_emulator> h(hook_opts);
  server_options opts;
  opts.config_toml = webhook_config(h.server.port(), "");
  server_process server(opts);
  server.start();
  post_accepted(server, {event_json("received", "r1", "RL-A", "\"qty\":5"),
                         event_json("received", "r2", "RL-B", "\"qty\":8"),
                         event_json("received", "r3", "RL-C", "\"qty\":20"),
                         event_json("received", "r4", "RL-D", "\"qty\":30")});
  REQUIRE(h.shows("RL-A", 5));
  REQUIRE(h.shows("RL-B", 8));
  REQUIRE(h.shows("RL-C", 20));
  REQUIRE(h.shows("RL-D", 30));
  const std::uint64_t items_before = h.stat("", "items");

  // A cap of 10: only C and D change.
  auto res = reload(server, webhook_config(h.server.port(), "rules = { max = 10 }"));
  INFO(res.body);
  REQUIRE(res.status == 200);
  json_doc answer(res.body);
  CHECK(answer["version"].get_uint64().value() == 2);
  CHECK(str(answer["identity"]) == "ops");
  CHECK(answer["skus_requeued"].get_uint64().value() == 2);
  CHECK(answer["complete"].get_bool().value());
  auto change = answer["changes"].at(0);
  CHECK(str(change["path"]) == "channels.wholesale.rules.max");
  CHECK(str(change["kind"]) == "added");
  CHECK(str(change["after"]) == "10");
  CHECK(h.shows("RL-C", 10));
  CHECK(h.shows("RL-D", 10));
  // Give a wrong extra push every chance to show up before counting.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(h.stat("", "items") == items_before + 2);
  CHECK(h.channel.quantity("RL-A") == std::optional<std::int64_t>{5});
  CHECK(h.channel.quantity("RL-B") == std::optional<std::int64_t>{8});

  // The versions, newest first: the reload by "ops" with its diff, the start-up before it.
  json_doc versions = server.get_json("/v1/config/versions");
  CHECK(versions["current"].get_uint64().value() == 2);
  auto newest = versions["versions"].at(0);
  CHECK(newest["version"].get_uint64().value() == 2);
  CHECK(str(newest["identity"]) == "ops");
  CHECK(str(newest["source"]) == "request body");
  CHECK(str(newest["changes"].at(0)["path"]) == "channels.wholesale.rules.max");
  auto first = versions["versions"].at(1);
  CHECK(first["version"].get_uint64().value() == 1);
  CHECK(str(first["identity"]) == "startup");
  json_doc with_text = server.get_json("/v1/config/versions?limit=1&text=true");
  CHECK(str(with_text["versions"].at(0)["text"]).find("max = 10") != std::string::npos);
  CHECK(str(with_text["versions"].at(0)["text"]).find("e2e-hook-secret") == std::string::npos);

  // A reload that changes nothing stores nothing.
  auto same = reload(server, webhook_config(h.server.port(), "rules = { max = 10 }"));
  REQUIRE(same.status == 200);
  CHECK_FALSE(json_doc(same.body)["applied"].get_bool().value());
  CHECK(server.get_json("/v1/config/versions")["current"].get_uint64().value() == 2);
}

TEST_CASE("a reload is validated whole: a bad file, a key that needs a restart or a token "
          "without the admin scope changes nothing",
          "[e2e][governance][reload]") {
  simulator::webhook_options hook_opts;
  hook_opts.secret = hook_secret;
  hook_opts.unknown_sku_creates = true;
  emulated<simulator::webhook_emulator> h(hook_opts);
  server_options opts;
  opts.config_toml = webhook_config(h.server.port(), "");
  server_process server(opts);
  server.start();
  const std::string good = webhook_config(h.server.port(), "");

  auto refused = [&](std::string body, std::string_view field) {
    auto res = reload(server, std::move(body));
    INFO(res.body);
    CHECK(res.status == 422);
    if (res.status == 422) {
      json_doc doc(res.body);
      CHECK(str(doc["field"]) == field);
    }
  };
  // The listen address and the data dir cannot move under a running server.
  refused("[server]\nlisten = \"127.0.0.1:1\"\n" + good, "server.listen");
  refused("[server]\ndata_dir = \"/tmp/elsewhere\"\n" + good, "server.data_dir");
  // A rule change together with one that needs a restart: neither is applied.
  refused("[engine]\nshards = 3\n" + webhook_config(h.server.port(), "rules = { buffer = 1 }"),
          "engine.shards");
  // A typo, a bad value: named as at start-up.
  refused(good + "\n[[skus]]\nid = \"K\"\ncomponents = [{ sku = \"K\", qty = 1 }]\n",
          "skus[0].components[0].sku");
  refused(webhook_config(h.server.port(), "rules = { bufer = 1 }"), "channels[0].rules.bufer");
  // A channel's connector settings are not changed on the fly.
  std::string moved = good;
  moved.replace(moved.find("/inventory"), 10, "/elsewhere");
  refused(moved, "channels.wholesale.endpoint");
  {
    auto res = reload(server, "this is not toml = = =");
    CHECK(res.status == 422);
  }
  // Read and ingest are not enough.
  CHECK(reload(server, good, "e2e-reader-token").status == 403);
  http_request no_token;
  no_token.method = "POST";
  no_token.target = "/v1/admin/config/reload";
  no_token.body = good;
  no_token.token = std::string();
  CHECK(server.request(no_token).status == 401);
  CHECK(server.get("/v1/admin/config/reload").status == 405);

  json_doc versions = server.get_json("/v1/config/versions");
  CHECK(versions["current"].get_uint64().value() == 1);
  CHECK(versions["versions"].get_array().value().size() == 1);
  CHECK(server.get("/v1/config/versions?limit=0").status == 400);
  CHECK(server.get("/v1/channels/nope/shadow").status == 404);
}

TEST_CASE("a reload adds a location and a channel without a restart, and removes the channel",
          "[e2e][governance][reload]") {
  simulator::webhook_options hook_opts;
  hook_opts.secret = hook_secret;
  hook_opts.unknown_sku_creates = true;
  emulated<simulator::webhook_emulator> h(hook_opts);
  server_options opts;
  opts.config_toml = webhook_config(h.server.port(), "");
  server_process server(opts);
  server.start();
  // Before: the location is unknown to ingest.
  auto early = post_events(server, json_array({event_json("received", "s0", "ADD-A",
                                                          "\"qty\":4", "store")}));
  REQUIRE(early.size() == 1);
  CHECK(early[0].status == "rejected");
  // Stock at the new location before the channel that sells from it exists.
  const std::string added = webhook_config(h.server.port(), "") +
                            "\n[[locations]]\nid = \"store\"\n\n[[channels]]\nid = \"outlet\"\n"
                            "connector = \"none\"\nlocations = [\"store\", \"main\"]\n"
                            "rules = { buffer = 1 }\n";
  auto res = reload(server, added);
  INFO(res.body);
  REQUIRE(res.status == 200);
  json_doc answer(res.body);
  CHECK(str(answer["channels"]["added"].at(0)) == "outlet");
  post_accepted(server, {event_json("received", "s1", "ADD-A", "\"qty\":4", "store"),
                         event_json("received", "m1", "ADD-A", "\"qty\":3", "main")});
  // The new channel computes from both of its locations: 4 + 3 - buffer 1.
  CHECK(eventually(
      [&] {
        json_doc sku = server.get_json("/v1/skus/ADD-A");
        auto outlet = sku["channels"]["outlet"];
        if (outlet.error() != simdjson::SUCCESS) {
          return false;
        }
        auto expected = outlet["expected"].get_int64();
        return expected.error() == simdjson::SUCCESS && expected.value() == 6;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50)));
  CHECK(server.get_json("/v1/status")["channels"].get_array().value().size() == 2);

  // And gone again; the other channel is untouched, and stock at "store" is still taken.
  auto removed = reload(server, webhook_config(h.server.port(), "") +
                                    "\n[[locations]]\nid = \"store\"\n");
  INFO(removed.body);
  REQUIRE(removed.status == 200);
  CHECK(str(json_doc(removed.body)["channels"]["removed"].at(0)) == "outlet");
  CHECK(eventually(
      [&] {
        return server.get_json("/v1/status")["channels"].get_array().value().size() == 1;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(50)));
  post_accepted(server, {event_json("received", "s2", "ADD-A", "\"qty\":1", "store")});
  // Removing the location now needs a restart.
  auto location_gone = reload(server, webhook_config(h.server.port(), ""));
  CHECK(location_gone.status == 422);
  CHECK(str(json_doc(location_gone.body)["field"]) == "locations.store");
  CHECK(server.get_json("/v1/config/versions")["current"].get_uint64().value() == 3);
}

} // namespace stockd::e2e
