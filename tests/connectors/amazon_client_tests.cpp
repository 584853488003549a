// The amazon connector (connectors/amazon_client.hpp) against the SP-API emulator
// (simulator/amazon) on loopback: the patch it sends, the mapping of every answer to the channel
// client contract, the rate it reads back, and read(). The emulator's buckets run on a clock the
// test holds still, so "past the burst" is exact and no test sleeps.
#include <catch2/catch.hpp>

#include <future>
#include <utility>  // before asio (toolchain.md)

#include "connectors/amazon_client.hpp"
#include "simulator/amazon.hpp"
#include "tests/connectors/http_test_fixture.hpp"
#include "tests/simulator/harness.hpp"

using namespace stockd::connectors;
using namespace std::chrono_literals;
using stockd::engine::channel_id;
using stockd::engine::sku_id;
using stockd::simulator::amazon_emulator;
namespace sim = stockd::simulator;
using stockd::simulator::testing::running;

namespace {

sim::amazon_options emulator_options(double rate = 5) {
  sim::amazon_options o;
  o.patch_rate = rate;
  return o;
}

struct amazon_fixture {
  explicit amazon_fixture(sim::amazon_options emulator = emulator_options(),
                          std::string token = "Atza|stocksim",
                          std::optional<std::chrono::milliseconds> timeout = std::nullopt)
      : channel(std::move(emulator)) {
    stockd::connectors::amazon_options options;
    options.channel = channel_id("amazon-us");
    options.endpoint = "http://127.0.0.1:" + std::to_string(channel.server.port());
    options.access_token = std::move(token);
    options.seller_id = "A1STOCKSIM";
    options.marketplace_id = "ATVPDKIKX0DER";
    options.timeout = timeout;
    client = std::make_unique<amazon_client>(*io.client, std::move(options));
  }

  push_result push(const char* sku, std::int64_t quantity) {
    auto answered = std::make_shared<std::promise<push_result>>();
    auto future = answered->get_future();
    client->push({push_item{sku_id(sku), quantity, std::nullopt, "k"}},
                 [answered](push_result r) { answered->set_value(std::move(r)); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }

  read_result read(const char* sku) {
    auto answered = std::make_shared<std::promise<read_result>>();
    auto future = answered->get_future();
    client->read({sku_id(sku)}, [answered](read_result r) { answered->set_value(std::move(r)); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }

  running<amazon_emulator> channel;
  stockd::testing::io_fixture io;  // after the emulator: the client goes first
  std::unique_ptr<amazon_client> client;
};

http_result answer(unsigned status, std::string body) {
  http_result r;
  r.response.status = status;
  r.response.body = std::move(body);
  return r;
}

} // namespace

TEST_CASE("amazon merges the quantity into fulfillment_availability and keeps the lead time",
          "[connectors][amazon]") {
  amazon_fixture amazon;
  REQUIRE_FALSE(amazon.channel.channel.set_quantity("SKU-1", 5));
  auto result = amazon.push("SKU-1", 3);
  REQUIRE(result.outcome == call_outcome::ok);
  REQUIRE(result.items.size() == 1);
  CHECK(result.items[0].outcome == item_outcome::applied);
  CHECK(result.code == "200");
  CHECK_FALSE(result.request_id.empty());
  CHECK(amazon.channel.channel.quantity("SKU-1") == 3);
  // A `replace` would have dropped the listing's lead time (the emulator seeds 2 days).
  CHECK(amazon.channel.channel.lead_time_days("SKU-1") == 2);
}

TEST_CASE("amazon puts the SKU percent-encoded into the path and the patch in the body",
          "[connectors][amazon]") {
  stockd::connectors::amazon_options options;
  options.endpoint = "https://sellingpartnerapi-na.amazon.com/";
  options.seller_id = "A1STOCKSIM";
  options.marketplace_id = "ATVPDKIKX0DER";
  CHECK(amazon_item_url(options, sku_id("MUG/blue 1&x")) ==
        "https://sellingpartnerapi-na.amazon.com/listings/2021-08-01/items/A1STOCKSIM/"
        "MUG%2Fblue%201%26x?marketplaceIds=ATVPDKIKX0DER");
  CHECK(amazon_patch_body(7) ==
        R"({"productType":"PRODUCT","patches":[{"op":"merge",)"
        R"("path":"/attributes/fulfillment_availability",)"
        R"("value":[{"fulfillment_channel_code":"DEFAULT","quantity":7}]}]})");

  amazon_fixture amazon;
  REQUIRE_FALSE(amazon.channel.channel.set_quantity("MUG/blue 1&x", 1));
  auto result = amazon.push("MUG/blue 1&x", 9);
  REQUIRE(result.outcome == call_outcome::ok);
  CHECK(result.items[0].outcome == item_outcome::applied);
  CHECK(amazon.channel.channel.quantity("MUG/blue 1&x") == 9);
}

TEST_CASE("amazon rejects a listing the channel refuses with the issue code",
          "[connectors][amazon]") {
  amazon_fixture amazon;
  REQUIRE_FALSE(amazon.channel.channel.set_quantity("BAD-1", 5));
  REQUIRE_FALSE(amazon.channel.channel.set_faults("bad-skus=BAD-1"));
  auto result = amazon.push("BAD-1", 3);
  REQUIRE(result.outcome == call_outcome::ok);
  REQUIRE(result.items.size() == 1);
  CHECK(result.items[0].outcome == item_outcome::rejected);
  CHECK(result.items[0].code == "8541");
  CHECK(amazon.channel.channel.quantity("BAD-1") == 5);
}

TEST_CASE("amazon picks the first ERROR issue of an INVALID answer and refuses other statuses",
          "[connectors][amazon]") {
  const auto now = std::chrono::system_clock::now();
  auto invalid = amazon_push_outcome(
      answer(200, R"({"status":"INVALID","issues":[{"code":"99001","severity":"WARNING"},)"
                  R"({"code":"90220","severity":"ERROR"}]})"),
      now);
  REQUIRE(invalid.outcome == call_outcome::ok);
  CHECK(invalid.items[0].outcome == item_outcome::rejected);
  CHECK(invalid.items[0].code == "90220");
  auto bare = amazon_push_outcome(answer(200, R"({"status":"INVALID","issues":[]})"), now);
  CHECK(bare.items[0].code == "INVALID");
  // Nothing is assumed applied from an answer that is not patchListingsItem's.
  CHECK(amazon_push_outcome(answer(200, R"({"status":"MAYBE"})"), now).code ==
        "invalid_response");
  CHECK(amazon_push_outcome(answer(200, "<html>"), now).outcome == call_outcome::server_error);
  CHECK(amazon_push_outcome(answer(400, R"({"errors":[{"code":"InvalidInput"}]})"), now)
            .outcome == call_outcome::bad_request);
  CHECK(amazon_push_outcome(answer(302, ""), now).code == "unexpected_status_302");
}

TEST_CASE("amazon reports QuotaExceeded past the burst of 5 as throttled", "[connectors][amazon]") {
  amazon_fixture amazon;
  REQUIRE_FALSE(amazon.channel.channel.set_quantity("SKU-1", 5));
  for (int i = 0; i < 5; ++i) {
    REQUIRE(amazon.push("SKU-1", i).outcome == call_outcome::ok);
  }
  auto throttled = amazon.push("SKU-1", 42);
  CHECK(throttled.outcome == call_outcome::throttled);
  CHECK(throttled.code == "429");
  CHECK(throttled.items.empty());
  CHECK_FALSE(throttled.retry_after);  // SP-API sends none: the actor's bucket paces
  CHECK(throttled.rate_limit_per_second == 5.0);
  CHECK(amazon.channel.channel.quantity("SKU-1") == 4);
  // A 429 that does say when is honoured.
  REQUIRE_FALSE(amazon.channel.channel.set_faults("429=next:1,retry-after=3"));
  auto told = amazon.push("SKU-1", 42);
  CHECK(told.outcome == call_outcome::throttled);
  CHECK(told.retry_after == std::chrono::milliseconds(3000));
}

TEST_CASE("amazon maps a 5xx to server_error and a wrong token or seller to unauthorized",
          "[connectors][amazon]") {
  {
    amazon_fixture amazon;
    REQUIRE_FALSE(amazon.channel.channel.set_quantity("SKU-1", 5));
    REQUIRE_FALSE(amazon.channel.channel.set_faults("5xx=next:1,status=503"));
    auto failed = amazon.push("SKU-1", 3);
    CHECK(failed.outcome == call_outcome::server_error);
    CHECK(failed.code == "503");
    CHECK(amazon.channel.channel.quantity("SKU-1") == 5);
  }
  {
    amazon_fixture amazon(emulator_options(), "Atza|wrong");
    REQUIRE_FALSE(amazon.channel.channel.set_quantity("SKU-1", 5));
    auto refused = amazon.push("SKU-1", 3);
    CHECK(refused.outcome == call_outcome::unauthorized);
    CHECK(refused.code == "403");
    CHECK_FALSE(amazon.read("SKU-1").ok);
    CHECK(amazon.channel.channel.quantity("SKU-1") == 5);
  }
  {
    auto emulator = emulator_options();
    emulator.seller_id = "A2OTHER";
    amazon_fixture amazon(emulator);
    REQUIRE_FALSE(amazon.channel.channel.set_quantity("SKU-1", 5));
    CHECK(amazon.push("SKU-1", 3).outcome == call_outcome::unauthorized);
  }
}

TEST_CASE("amazon reads x-amzn-RateLimit-Limit from every answer", "[connectors][amazon]") {
  amazon_fixture amazon(emulator_options(2.0));
  REQUIRE_FALSE(amazon.channel.channel.set_quantity("SKU-1", 5));
  auto applied = amazon.push("SKU-1", 1);
  CHECK(applied.outcome == call_outcome::ok);
  CHECK(applied.rate_limit_per_second == 2.0);
  auto unknown = amazon.push("NOPE", 1);
  CHECK(unknown.rate_limit_per_second == 2.0);
  REQUIRE_FALSE(amazon.channel.channel.set_faults("5xx=next:1"));
  auto failed = amazon.push("SKU-1", 1);
  CHECK(failed.outcome == call_outcome::server_error);
  CHECK(failed.rate_limit_per_second == 2.0);
  // Absent or not a positive number: nothing to adopt.
  auto none = answer(200, R"({"status":"ACCEPTED"})");
  CHECK_FALSE(amazon_push_outcome(none, std::chrono::system_clock::now()).rate_limit_per_second);
  none.response.headers = {{"x-amzn-RateLimit-Limit", "-1"}};
  CHECK_FALSE(amazon_push_outcome(none, std::chrono::system_clock::now()).rate_limit_per_second);
  none.response.headers = {{"x-amzn-RateLimit-Limit", "5.0 per second"}};
  CHECK_FALSE(amazon_push_outcome(none, std::chrono::system_clock::now()).rate_limit_per_second);
}

TEST_CASE("amazon reads back the DEFAULT fulfillment quantity of one listing",
          "[connectors][amazon]") {
  amazon_fixture amazon;
  REQUIRE_FALSE(amazon.channel.channel.set_quantity("SKU-1", 7));
  auto result = amazon.read("SKU-1");
  REQUIRE(result.ok);
  REQUIRE(result.quantities.size() == 1);
  CHECK(result.quantities[0].first == sku_id("SKU-1"));
  CHECK(result.quantities[0].second == 7);
  REQUIRE(amazon.push("SKU-1", 4).outcome == call_outcome::ok);
  CHECK(amazon.read("SKU-1").quantities[0].second == 4);
  auto empty = amazon_read_outcome(answer(200, R"({"sku":"S","fulfillmentAvailability":[]})"),
                                   sku_id("S"));
  CHECK(empty.ok);
  CHECK(empty.quantities.empty());
  CHECK(amazon_read_outcome(answer(200, R"({"sku":"S"})"), sku_id("S")).code ==
        "invalid_response");
}

TEST_CASE("amazon rejects a push to an unknown listing and reads nothing for it",
          "[connectors][amazon]") {
  amazon_fixture amazon;
  auto pushed = amazon.push("NOPE", 1);
  REQUIRE(pushed.outcome == call_outcome::ok);
  REQUIRE(pushed.items.size() == 1);
  CHECK(pushed.items[0].outcome == item_outcome::rejected);
  CHECK(pushed.items[0].code == "NotFound");
  auto read = amazon.read("NOPE");
  CHECK(read.ok);
  CHECK(read.code == "404");
  CHECK(read.quantities.empty());
  CHECK_FALSE(amazon.channel.channel.quantity("NOPE"));
}

TEST_CASE("amazon maps no answer in time to timeout and a refused connection to network",
          "[connectors][amazon]") {
  amazon_fixture amazon(emulator_options(), "Atza|stocksim", 200ms);
  REQUIRE_FALSE(amazon.channel.channel.set_quantity("SKU-1", 5));
  REQUIRE_FALSE(amazon.channel.channel.set_faults("hang-before=next:2,hang-ms=1000"));
  CHECK(amazon.push("SKU-1", 3).outcome == call_outcome::timeout);
  auto read = amazon.read("SKU-1");
  CHECK_FALSE(read.ok);
  CHECK(read.code == "timeout");

  http_result refused;
  refused.error = http_error::network;
  refused.detail = "connect: Connection refused";
  auto result = amazon_push_outcome(refused, std::chrono::system_clock::now());
  CHECK(result.outcome == call_outcome::network);
  CHECK(result.code == "connect: Connection refused");
}
