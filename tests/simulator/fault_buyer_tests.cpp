// Fault switches (from the spec text and over POST /_emulator/faults) and the customers who buy
// against the displayed quantity and post their orders to stockd.
#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "simulator/buyer.hpp"
#include "simulator/shopify.hpp"
#include "simulator/webhook.hpp"
#include "tests/simulator/harness.hpp"

using namespace stockd::simulator;
using namespace stockd::simulator::testing;
using namespace std::chrono_literals;

namespace {

client_request signed_post(const std::string& body) {
  client_request req;
  req.method = "POST";
  req.target = "/inventory";
  req.body = body;
  req.headers = {{"X-Stockd-Timestamp", "1"},
                 {"X-Stockd-Signature", webhook_signature("stocksim-webhook-secret", "1", body)}};
  req.timeout = 5s;
  return req;
}

std::string set_a(int quantity, const std::string& key) {
  return R"({"items":[{"sku":"A","quantity":)" + std::to_string(quantity) +
         R"(,"idempotency_key":")" + key + R"("}]})";
}

std::uint64_t injected(webhook_emulator& e, const char* kind) {
  json stats(e.stats_json());
  return stats["faults_injected"][kind].get_uint64().value();
}

webhook_options roomy() {
  webhook_options opts;
  opts.rate = 1e6;  // the tests here are about faults, not the rate limit
  opts.burst = 1e6;
  return opts;
}

} // namespace

TEST_CASE("fault specs parse, print back, and name a bad entry", "[simulator][faults]") {
  auto ok = parse_faults("429=0.25, 5xx=next:3, bad-skus=A|B, hang-ms=50, status=502, seed=7");
  REQUIRE(ok.settings);
  CHECK(ok.settings->rules[static_cast<std::size_t>(fault_kind::throttle)].probability == 0.25);
  CHECK(ok.settings->rules[static_cast<std::size_t>(fault_kind::server_error)].next == 3);
  CHECK(ok.settings->bad_skus.count("B") == 1);
  CHECK(describe(*ok.settings) ==
        "429=0.25,5xx=next:3,bad-skus=A|B,hang-ms=50,status=502,retry-after=1,seed=7");
  CHECK(parse_faults(describe(*ok.settings)).settings);
  auto bad = parse_faults("429=2");
  CHECK_FALSE(bad.settings);
  CHECK(bad.error.find("429=2") != std::string::npos);
  CHECK_FALSE(parse_faults("teleport=0.1").settings);
  CHECK(parse_faults("none").settings);
}

TEST_CASE("429 faults answer with and without Retry-After and apply nothing",
          "[simulator][faults]") {
  running<webhook_emulator> hook(roomy());
  REQUIRE_FALSE(hook.channel.set_quantity("A", 1));
  REQUIRE_FALSE(hook.channel.set_faults("429=next:1,retry-after=7"));
  auto with = hook.send(signed_post(set_a(5, "k1")));
  CHECK(with.status == 429);
  CHECK(with.header("retry-after") == "7");
  REQUIRE_FALSE(hook.channel.set_faults("429-no-retry=next:1"));
  auto without = hook.send(signed_post(set_a(5, "k1")));
  CHECK(without.status == 429);
  CHECK(without.header("retry-after").empty());
  CHECK(hook.channel.quantity("A") == 1);
  CHECK(hook.send(signed_post(set_a(5, "k1"))).status == 200);  // next:1 is used up
  CHECK(hook.channel.quantity("A") == 5);
  CHECK(injected(hook.channel, "429-no-retry") == 1);
}

TEST_CASE("5xx faults answer the configured status, switched over POST /_emulator/faults",
          "[simulator][faults]") {
  running<webhook_emulator> hook(roomy());
  REQUIRE_FALSE(hook.channel.set_quantity("A", 1));
  client_request faults;
  faults.method = "POST";
  faults.target = "/_emulator/faults";
  faults.body = "5xx=next:2,status=502";
  REQUIRE(hook.send(faults).status == 200);
  CHECK(hook.send(signed_post(set_a(5, "k1"))).status == 502);
  CHECK(hook.send(signed_post(set_a(5, "k1"))).status == 502);
  CHECK(hook.send(signed_post(set_a(5, "k1"))).status == 200);
  faults.body = "5xx=maybe";
  CHECK(hook.send(faults).status == 400);
  // Probability: with one seed, 1.0 always and 0.5 about half.
  faults.body = "5xx=0.5,seed=3";
  REQUIRE(hook.send(faults).status == 200);
  int errors = 0;
  for (int i = 0; i < 200; ++i) {
    errors += hook.send(signed_post(set_a(5, "k1"))).status == 503 ? 1 : 0;
  }
  CHECK(errors > 60);
  CHECK(errors < 140);
  client_request stats;
  stats.target = "/_emulator/stats";
  json s(hook.send(stats).body);
  CHECK(s["faults_injected"]["5xx"].get_uint64().value() == 2 + static_cast<unsigned>(errors));
}

TEST_CASE("hang-before times out without applying, and hang-after applies then times out",
          "[simulator][faults]") {
  running<webhook_emulator> hook(roomy());
  REQUIRE_FALSE(hook.channel.set_quantity("A", 1));
  REQUIRE_FALSE(hook.channel.set_faults("hang-before=next:1,hang-ms=5000"));
  auto req = signed_post(set_a(5, "k1"));
  req.timeout = 300ms;  // the client gives up first, as a connector with a deadline does
  auto before = hook.send(req);
  CHECK(before.status == 0);
  CHECK(hook.channel.quantity("A") == 1);
  REQUIRE_FALSE(hook.channel.set_faults("hang-after=next:1,hang-ms=100"));
  req.timeout = 5s;  // the emulator closes first: no answer, connection closed
  auto after = hook.send(req);
  CHECK(after.status == 0);
  CHECK(hook.channel.quantity("A") == 5);
  // The retry with the same key is a duplicate, as it should be.
  json retry(hook.send(signed_post(set_a(5, "k1"))).body);
  CHECK(retry["results"].at(0)["status"].get_string().value() == "applied");  // a replay
}

TEST_CASE("reset faults drop the connection without applying", "[simulator][faults]") {
  running<webhook_emulator> hook(roomy());
  REQUIRE_FALSE(hook.channel.set_quantity("A", 1));
  REQUIRE_FALSE(hook.channel.set_faults("reset=next:1"));
  auto res = hook.send(signed_post(set_a(5, "k1")));
  CHECK(res.status == 0);
  CHECK_FALSE(res.transport_error.empty());
  CHECK(hook.channel.quantity("A") == 1);
  CHECK(hook.send(signed_post(set_a(5, "k1"))).status == 200);  // a new connection works
  CHECK(injected(hook.channel, "reset") == 1);
}

TEST_CASE("shopify stale-cas and bad-skus faults fail the whole mutation",
          "[simulator][faults][shopify]") {
  running<shopify_emulator> shop(shopify_options{});
  REQUIRE_FALSE(shop.channel.set_quantity("A", 5));
  REQUIRE_FALSE(shop.channel.set_quantity("B", 5));
  auto mutation = [](const std::string& key) {
    client_request req;
    req.method = "POST";
    req.target = "/admin/api/2026-04/graphql.json";
    req.headers = {{"X-Shopify-Access-Token", "shpat_stocksim"}};
    req.body = R"({"query":"mutation S($input: InventorySetQuantitiesInput!) @idempotent(key: \")" +
               key + R"(\") { inventorySetQuantities(input: $input) { userErrors { code } } }",)"
               R"("variables":{"input":{"name":"available","reason":"correction","quantities":[)"
               R"({"inventoryItemId":"gid://shopify/InventoryItem/1","locationId":"gid://shopify/Location/1","quantity":3,"changeFromQuantity":5},)"
               R"({"inventoryItemId":"gid://shopify/InventoryItem/2","locationId":"gid://shopify/Location/1","quantity":3,"changeFromQuantity":5}]}}})";
    return req;
  };
  REQUIRE_FALSE(shop.channel.set_faults("stale-cas=next:1"));
  json stale(shop.send(mutation("k1")).body);
  CHECK(stale["data"]["inventorySetQuantities"]["userErrors"].at(0)["code"].get_string().value() ==
        "CHANGE_FROM_QUANTITY_STALE");
  CHECK(shop.channel.quantity("A") == 5);
  REQUIRE_FALSE(shop.channel.set_faults("bad-skus=B"));
  json bad(shop.send(mutation("k2")).body);
  CHECK(bad["data"]["inventorySetQuantities"]["userErrors"].at(0)["code"].get_string().value() ==
        "NON_MUTABLE_INVENTORY_ITEM");
  CHECK(shop.channel.quantity("A") == 5);
  REQUIRE_FALSE(shop.channel.set_faults("none"));
  json ok(shop.send(mutation("k3")).body);
  CHECK(ok["data"]["inventorySetQuantities"]["userErrors"].get_array().value().size() == 0);
  CHECK(shop.channel.quantity("A") == 3);
  CHECK(shop.channel.quantity("B") == 3);
}

namespace {

/// A fake stockd: records POST /v1/events bodies; answers 503 to the first `refuse_first`.
struct fake_stockd {
  explicit fake_stockd(int refuse_first)
      : refuse(refuse_first),
        server(listener_options{}, [this](const request& req) { return on(req); }) {
    REQUIRE_FALSE(server.start());
  }
  reply on(const request& req) {
    std::lock_guard lock(mu);
    reply r;
    if (req.target() != "/v1/events" || req[http::field::authorization] != "Bearer t0k") {
      r.res = make_response(req, http::status::unauthorized, "{}");
      return r;
    }
    if (refuse > 0) {
      --refuse;
      r.res = make_response(req, http::status::service_unavailable, R"({"error":"overloaded"})");
      r.res.set(http::field::retry_after, "0");
      return r;
    }
    bodies.push_back(req.body());
    r.res = make_response(req, http::status::ok, R"({"results":[]})");
    return r;
  }
  std::size_t received() {
    std::lock_guard lock(mu);
    return bodies.size();
  }
  std::mutex mu;
  int refuse;
  std::vector<std::string> bodies;
  listener server;
};

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

} // namespace

TEST_CASE("customers buy the displayed stock down to zero and stockd gets one order per unit",
          "[simulator][buyer]") {
  fake_stockd stockd(2);
  webhook_emulator channel;
  for (const char* sku : {"A", "B", "C"}) {
    REQUIRE_FALSE(channel.set_quantity(sku, 4));
  }
  buyer_options opts;
  opts.buys_per_second = 500;
  opts.channel_id = "wholesale";
  opts.stockd_url = "http://127.0.0.1:" + std::to_string(stockd.server.port());
  opts.token = "t0k";
  opts.seed = 11;
  buyer customers(opts, channel);
  REQUIRE_FALSE(customers.start());
  REQUIRE(wait_for([&] { return stockd.received() == 12; }));
  customers.stop(1s);
  CHECK(channel.quantity("A") == 0);
  CHECK(channel.quantity("B") == 0);
  CHECK(channel.quantity("C") == 0);
  CHECK(customers.purchases() == 12);
  std::set<std::string> order_ids;
  std::map<std::string, int> per_sku;
  for (const auto& body : stockd.bodies) {
    json j(body);
    auto e = j.root.at(0);
    CHECK(e["type"].get_string().value() == "order_created");
    CHECK(e["source"].get_string().value() == "wholesale");
    CHECK(e["channel"].get_string().value() == "wholesale");
    CHECK(e["qty"].get_int64().value() == 1);
    CHECK(e["location"].error() == simdjson::NO_SUCH_FIELD);
    order_ids.emplace(e["order_id"].get_string().value());
    ++per_sku[std::string(e["sku"].get_string().value())];
  }
  CHECK(order_ids.size() == 12);
  CHECK(per_sku == std::map<std::string, int>{{"A", 4}, {"B", 4}, {"C", 4}});
  json stats(channel.stats_json());
  (void)stats;
  json_writer out;
  customers.write_stats(out);
  json counters(out.take());
  CHECK(counters["retries"].get_uint64().value() == 2);  // the two 503s
  CHECK(counters["delivered"].get_uint64().value() == 12);
}

TEST_CASE("customers' orders can be duplicated and reordered on the way to stockd",
          "[simulator][buyer]") {
  fake_stockd stockd(0);
  webhook_emulator channel;
  REQUIRE_FALSE(channel.set_quantity("A", 20));
  buyer_options opts;
  opts.buys_per_second = 1000;
  opts.stockd_url = "http://127.0.0.1:" + std::to_string(stockd.server.port());
  opts.token = "t0k";
  opts.duplicate_probability = 1.0;
  opts.jitter = 200ms;
  opts.seed = 5;
  buyer customers(opts, channel);
  REQUIRE_FALSE(customers.start());
  REQUIRE(wait_for([&] { return stockd.received() == 40; }));
  customers.stop(1s);
  std::vector<std::uint64_t> sequence;
  std::map<std::string, int> copies;
  for (const auto& body : stockd.bodies) {
    json j(body);
    std::string id(j.root.at(0)["order_id"].get_string().value());
    ++copies[id];
    sequence.push_back(std::stoull(id.substr(id.rfind('-') + 1)));
  }
  CHECK(copies.size() == 20);
  for (const auto& [id, n] : copies) {
    CHECK(n == 2);
  }
  CHECK_FALSE(std::is_sorted(sequence.begin(), sequence.end()));
  CHECK(channel.quantity("A") == 0);
}
