// The shopify connector (connectors/shopify_client.hpp) against the real Shopify emulator
// (simulator/shopify.*) over loopback sockets: the mutation's shape, SKU resolution, the mapping
// of every answer to the channel client contract, the cost bucket read back, and read(). The
// emulator runs on a manual clock, so its bucket refills only when a test says so.
#include <catch2/catch.hpp>

#include <future>
#include <utility>  // before asio (toolchain.md)

#include "connectors/shopify_client.hpp"
#include "simulator/shopify.hpp"
#include "tests/connectors/http_test_fixture.hpp"
#include "tests/simulator/harness.hpp"

using namespace stockd::connectors;
using namespace std::chrono_literals;
using stockd::engine::sku_id;
using stockd::simulator::shopify_emulator;
using shop_options = stockd::simulator::shopify_options;
using stockd::simulator::testing::running;

namespace {

const std::string location = "gid://shopify/Location/1";

push_item item(const std::string& sku, std::int64_t quantity,
               std::optional<std::int64_t> from = std::nullopt) {
  return push_item{sku_id(sku), quantity, from, "shop." + sku + "." + std::to_string(quantity)};
}

struct shop_fixture {
  explicit shop_fixture(shop_options emulator = {}, std::string token = "shpat_stocksim",
                        std::string version = "2026-04")
      : shop(std::move(emulator)) {
    shopify_options options;
    options.endpoint = "http://127.0.0.1:" + std::to_string(shop.server.port()) + "/admin/api/" +
                       version + "/graphql.json";
    options.access_token = std::move(token);
    options.location = location;
    options.batch_max = 300;  // more than Shopify takes: batch_max() says 250
    options.timeout = 2s;
    client = std::make_unique<shopify_client>(*io.client, std::move(options));
  }

  void seed(const std::string& sku, std::int64_t quantity) {
    REQUIRE_FALSE(shop.channel.set_quantity(sku, quantity));
  }
  std::int64_t on_shop(const std::string& sku) { return shop.channel.quantity(sku).value(); }

  push_result push(std::vector<push_item> batch) {
    auto answered = std::make_shared<std::promise<push_result>>();
    auto future = answered->get_future();
    client->push(std::move(batch), [answered](push_result r) { answered->set_value(std::move(r)); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }
  read_result read(std::vector<sku_id> skus) {
    auto answered = std::make_shared<std::promise<read_result>>();
    auto future = answered->get_future();
    client->read(std::move(skus), [answered](read_result r) { answered->set_value(std::move(r)); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }

  running<shopify_emulator> shop;
  stockd::testing::io_fixture io;
  std::unique_ptr<shopify_client> client;
};

std::string sku_n(int n) { return "S" + std::to_string(n); }

} // namespace

TEST_CASE("a shopify mutation sets available with an explicit null or a compare quantity",
          "[connectors][shopify]") {
  std::vector<push_item> batch = {item("A", 7, 5), item("B", 0)};
  const std::string body = shopify_set_body(batch, {"gid://shopify/InventoryItem/1",
                                                    "gid://shopify/InventoryItem/2"},
                                            location, "k1");
  CHECK(body.find("@idempotent(key: $idempotencyKey)") != std::string::npos);
  CHECK(body.find(R"("idempotencyKey":"k1")") != std::string::npos);
  CHECK(body.find(R"("name":"available","reason":"correction")") != std::string::npos);
  CHECK(body.find(R"("referenceDocumentUri":"gid://stockd/Push/k1")") != std::string::npos);
  CHECK(body.find(R"({"inventoryItemId":"gid://shopify/InventoryItem/1","locationId":")" +
                  location + R"(","quantity":7,"changeFromQuantity":5})") != std::string::npos);
  CHECK(body.find(R"("quantity":0,"changeFromQuantity":null})") != std::string::npos);
  const std::string read = shopify_items_body({sku_id("A"), sku_id("x\"y")}, std::nullopt);
  CHECK(read.find(R"("first":12,"after":null,"query":"sku:\"A\" OR sku:\"x\\\"y\""})") !=
        std::string::npos);
}

TEST_CASE("the shopify idempotency key follows the items' keys and compare quantities only",
          "[connectors][shopify]") {
  const auto key = shopify_idempotency_key({item("A", 7, 5), item("B", 0)});
  CHECK(key.size() == 64);
  CHECK(key == shopify_idempotency_key({item("A", 7, 5), item("B", 0)}));
  // Not from the quantity: the item's own key stands for the intended change.
  auto other_quantity = item("A", 8, 5);
  other_quantity.idempotency_key = item("A", 7, 5).idempotency_key;
  CHECK(key == shopify_idempotency_key({other_quantity, item("B", 0)}));
  // A retry on another observed base is another operation.
  CHECK(key != shopify_idempotency_key({item("A", 7, 4), item("B", 0)}));
  CHECK(key != shopify_idempotency_key({item("A", 7), item("B", 0)}));
  CHECK(key != shopify_idempotency_key({item("B", 0), item("A", 7, 5)}));
}

TEST_CASE("the wait after THROTTLED is what is missing over the restore rate",
          "[connectors][shopify]") {
  CHECK(shopify_throttle_wait(10, {2000, 0, 100}) == std::optional(100ms));
  CHECK(shopify_throttle_wait(252, {1000, 2, 50}) == std::optional(5000ms));
  CHECK(shopify_throttle_wait(10, {2000, 50, 100}) == std::optional(0ms));
  CHECK(shopify_throttle_wait(10, {2000, 0, 0}) == std::nullopt);
}

TEST_CASE("a shopify batch is applied and the shop's bucket comes back with it",
          "[connectors][shopify]") {
  shop_fixture f;
  f.seed("A", 5);
  f.seed("B", 3);
  auto r = f.push({item("A", 7, 5), item("B", 0)});
  REQUIRE(r.outcome == call_outcome::ok);
  REQUIRE(r.items.size() == 2);
  CHECK(r.items[0].outcome == item_outcome::applied);
  CHECK(r.items[0].channel_quantity == std::optional<std::int64_t>(7));
  CHECK(r.items[1].outcome == item_outcome::applied);
  CHECK(f.on_shop("A") == 7);
  CHECK(f.on_shop("B") == 0);
  CHECK(r.request_id.starts_with("shopify-request-"));  // the mutation's X-Request-Id (tracing)
  // A lookup (asks 252 points, costs 2 + 2 items) and a mutation (10) on a full 2,000 bucket
  // that does not refill on the emulator's stopped clock.
  REQUIRE(r.throttle);
  CHECK(r.throttle->maximum_available == 2000);
  CHECK(r.throttle->restore_rate == 100);
  CHECK(r.throttle->currently_available == 2000 - 4 - 10);
  // The GIDs are cached: the next push is one mutation.
  auto again = f.push({item("A", 6, 7)});
  REQUIRE(again.outcome == call_outcome::ok);
  CHECK(again.items[0].outcome == item_outcome::applied);
  CHECK_FALSE(again.request_id.empty());
  CHECK(again.request_id != r.request_id);
  REQUIRE(again.throttle);
  CHECK(again.throttle->currently_available == 2000 - 4 - 10 - 10);
}

TEST_CASE("a retried shopify batch replays its idempotency key instead of applying again",
          "[connectors][shopify]") {
  shop_fixture f;
  f.seed("A", 5);
  auto batch = std::vector<push_item>{item("A", 7, 5)};
  REQUIRE(f.push(batch).items.at(0).outcome == item_outcome::applied);
  f.seed("A", 4);  // the shop sold one since
  auto replay = f.push(batch);
  REQUIRE(replay.outcome == call_outcome::ok);
  CHECK(replay.items.at(0).outcome == item_outcome::applied);
  CHECK(f.on_shop("A") == 4);  // not set to 7 again
  CHECK(f.shop.channel.stats_json().find(R"("idempotent_replays":1)") != std::string::npos);
}

TEST_CASE("a stale shopify compare-and-set is answered stale and changes nothing",
          "[connectors][shopify]") {
  shop_fixture f;
  f.seed("A", 5);
  f.seed("B", 3);
  auto r = f.push({item("A", 7, 4), item("B", 1, 3)});
  REQUIRE(r.outcome == call_outcome::ok);
  REQUIRE(r.items.size() == 2);
  CHECK(r.items[0].outcome == item_outcome::stale);
  CHECK(r.items[0].code == "CHANGE_FROM_QUANTITY_STALE");
  CHECK_FALSE(r.items[0].channel_quantity);  // Shopify does not say: the actor reads it back
  CHECK(f.on_shop("A") == 5);
  // B was held back by A's error (all or nothing) and sent again on its own.
  CHECK(r.items[1].outcome == item_outcome::applied);
  CHECK(f.on_shop("B") == 1);
}

TEST_CASE("a bad item in a shopify batch is rejected alone while the rest applies",
          "[connectors][shopify]") {
  shop_fixture f;
  f.seed("A", 5);
  f.seed("B", 5);
  f.seed("C", 5);
  REQUIRE_FALSE(f.shop.channel.set_faults("bad-skus=B"));
  auto r = f.push({item("A", 1, 5), item("B", 2, 5), item("C", 3, 5)});
  REQUIRE(r.outcome == call_outcome::ok);
  REQUIRE(r.items.size() == 3);
  CHECK(r.items[0].outcome == item_outcome::applied);
  CHECK(r.items[1].outcome == item_outcome::rejected);
  CHECK(r.items[1].code == "NON_MUTABLE_INVENTORY_ITEM");
  CHECK(r.items[2].outcome == item_outcome::applied);
  CHECK(f.on_shop("A") == 1);
  CHECK(f.on_shop("B") == 5);
  CHECK(f.on_shop("C") == 3);
}

TEST_CASE("a SKU the shop does not have is rejected alone", "[connectors][shopify]") {
  shop_fixture f;
  f.seed("A", 5);
  auto r = f.push({item("NOPE", 1), item("A", 2, 5)});
  REQUIRE(r.outcome == call_outcome::ok);
  REQUIRE(r.items.size() == 2);
  CHECK(r.items[0].outcome == item_outcome::rejected);
  CHECK(r.items[0].code == "SKU_NOT_FOUND");
  CHECK(r.items[1].outcome == item_outcome::applied);
  CHECK(f.on_shop("A") == 2);
}

TEST_CASE("a batch of 250 goes in one shopify mutation", "[connectors][shopify]") {
  shop_fixture f;
  CHECK(f.client->batch_max() == 250);
  std::vector<push_item> batch;
  for (int i = 0; i < 250; ++i) {
    f.seed(sku_n(i), 1);
    batch.push_back(item(sku_n(i), i));
  }
  auto r = f.push(batch);
  REQUIRE(r.outcome == call_outcome::ok);
  REQUIRE(r.items.size() == 250);
  for (const auto& result : r.items) {
    CHECK(result.outcome == item_outcome::applied);
  }
  CHECK(f.on_shop(sku_n(249)) == 249);
  REQUIRE(r.throttle);
  CHECK(r.throttle->currently_available == 2000 - 252 - 10);  // one page, one mutation
}

TEST_CASE("THROTTLED from shopify is throttled with the wait the bucket needs",
          "[connectors][shopify]") {
  shop_options small;
  small.bucket_max = 14;  // a read of two SKUs (asks 2 + 12, costs 2 + 2) and one mutation (10)
  small.restore_per_second = 10;
  shop_fixture f(small);
  for (int i = 0; i < 250; ++i) {
    f.seed(sku_n(i), 1);
  }
  REQUIRE(f.read({sku_id(sku_n(0)), sku_id(sku_n(1))}).ok);  // the lookups, cached
  REQUIRE(f.push({item(sku_n(0), 5)}).items.at(0).outcome == item_outcome::applied);
  auto r = f.push({item(sku_n(1), 5)});
  CHECK(r.outcome == call_outcome::throttled);
  CHECK(r.code == "THROTTLED");
  CHECK(r.retry_after == std::optional(1000ms));  // 10 points missing at 10 points/s
  REQUIRE(r.throttle);
  CHECK(r.throttle->currently_available == 0);
  CHECK(f.on_shop(sku_n(1)) == 1);
  f.shop.clock.advance(1s);
  CHECK(f.push({item(sku_n(1), 5)}).items.at(0).outcome == item_outcome::applied);
  CHECK(f.on_shop(sku_n(1)) == 5);
}

TEST_CASE("HTTP 429 from shopify is throttled, with Retry-After when sent",
          "[connectors][shopify]") {
  shop_fixture f;
  f.seed("A", 5);
  REQUIRE_FALSE(f.shop.channel.set_faults("429=next:1,retry-after=3"));
  auto r = f.push({item("A", 1)});
  CHECK(r.outcome == call_outcome::throttled);
  CHECK(r.code == "429");
  CHECK(r.retry_after == std::optional(3000ms));
  REQUIRE_FALSE(f.shop.channel.set_faults("429-no-retry=next:1"));
  auto bare = f.push({item("A", 1)});
  CHECK(bare.outcome == call_outcome::throttled);
  CHECK_FALSE(bare.retry_after);
  CHECK(f.push({item("A", 1)}).items.at(0).outcome == item_outcome::applied);
}

TEST_CASE("a shopify 5xx is a server error and a wrong token is unauthorized",
          "[connectors][shopify]") {
  {
    shop_fixture f;
    f.seed("A", 5);
    REQUIRE_FALSE(f.shop.channel.set_faults("5xx=next:1,status=502"));
    auto r = f.push({item("A", 1)});
    CHECK(r.outcome == call_outcome::server_error);
    CHECK(r.code == "502");
    CHECK(f.on_shop("A") == 5);
  }
  {
    shop_fixture f(shop_options{}, "shpat_wrong");
    f.seed("A", 5);
    auto r = f.push({item("A", 1)});
    CHECK(r.outcome == call_outcome::unauthorized);
    CHECK(r.code == "401");
    CHECK_FALSE(f.read({sku_id("A")}).ok);
  }
}

TEST_CASE("a shopify call that gets no answer in time is a timeout", "[connectors][shopify]") {
  shop_fixture f;
  f.seed("A", 5);
  REQUIRE_FALSE(f.shop.channel.set_faults("hang-before=next:1,hang-ms=2500"));
  auto r = f.push({item("A", 1)});
  CHECK(r.outcome == call_outcome::timeout);
  CHECK(f.on_shop("A") == 5);
}

TEST_CASE("shopify read-back pages through inventoryItems for the asked SKUs",
          "[connectors][shopify]") {
  shop_fixture f;
  for (int i = 0; i < 300; ++i) {
    f.seed(sku_n(i), i);
  }
  auto r = f.read({sku_id(sku_n(299)), sku_id("NOPE"), sku_id(sku_n(3))});
  REQUIRE(r.ok);
  REQUIRE(r.quantities.size() == 2);  // NOPE is not on the shop: left out
  CHECK(r.quantities[0] == std::pair(sku_id(sku_n(299)), std::int64_t{299}));
  CHECK(r.quantities[1] == std::pair(sku_id(sku_n(3)), std::int64_t{3}));
  REQUIRE(r.throttle);
  // One page asked for 3 + 10 items (15 points), the search found 2: it cost 2 + 2.
  CHECK(r.throttle->currently_available == 2000 - 4);
  // The read cached the GIDs: a push needs no lookup.
  auto pushed = f.push({item(sku_n(299), 1, 299)});
  CHECK(pushed.items.at(0).outcome == item_outcome::applied);
  CHECK(pushed.throttle->currently_available == 2000 - 4 - 10);
}

TEST_CASE("a shopify client is made from the channel config", "[connectors][shopify]") {
  stockd::testing::io_fixture io;
  channel_options channel;
  channel.id = stockd::engine::channel_id("shop");
  channel.connector = connector_kind::shopify;
  channel.endpoint = "https://example.myshopify.com/admin/api/2026-04/graphql.json";
  channel.credentials = "env:STOCKD_TEST_SHOPIFY_TOKEN_UNSET";
  channel.shopify_location = location;
  auto missing = shopify_client::create(*io.client, channel);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().find("STOCKD_TEST_SHOPIFY_TOKEN_UNSET") != std::string::npos);
  ::setenv("STOCKD_TEST_SHOPIFY_TOKEN", "shpat_x", 1);
  channel.credentials = "env:STOCKD_TEST_SHOPIFY_TOKEN";
  channel.batch_size = 100;
  auto made = shopify_client::create(*io.client, channel);
  REQUIRE(made);
  CHECK((*made)->batch_max() == 100);
  channel.shopify_location.clear();
  CHECK_FALSE(shopify_client::create(*io.client, channel));
}
