// The amazon connector (connectors/amazon_client.hpp) against the SP-API emulator
// (simulator/amazon) on loopback: the patch it sends, the mapping of every answer to the channel
// client contract, the rate it reads back, and read(). The emulator's buckets run on a clock the
// test holds still, so "past the burst" is exact and no test sleeps.
#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <future>
#include <thread>
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
                          std::optional<std::chrono::milliseconds> timeout = std::nullopt,
                          std::function<void(stockd::connectors::amazon_options&)> adjust = {},
                          http_client_options http = {})
      : channel(std::move(emulator)), io(std::move(http)) {
    stockd::connectors::amazon_options options;
    options.channel = channel_id("amazon-us");
    options.endpoint = "http://127.0.0.1:" + std::to_string(channel.server.port());
    options.access_token = std::move(token);
    options.seller_id = "A1STOCKSIM";
    options.marketplace_id = "ATVPDKIKX0DER";
    options.timeout = timeout;
    if (adjust) {
      adjust(options);
    }
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

  push_result push_bulk(std::vector<push_item> batch) {
    auto answered = std::make_shared<std::promise<push_result>>();
    auto future = answered->get_future();
    auto calls = std::make_shared<std::atomic<int>>(0);
    client->push_bulk(std::move(batch), [answered, calls](push_result r) {
      if (calls->fetch_add(1) == 0) {
        answered->set_value(std::move(r));
      }
    });
    REQUIRE(future.wait_for(20s) == std::future_status::ready);
    auto result = future.get();
    CHECK(calls->load() == 1);  // exactly once (a second call would have come on the same thread)
    return result;
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

// --- push_bulk: JSON_LISTINGS_FEED -------------------------------------------------------------

namespace {

/// Moves the emulator's clock with the wall clock, so its feed queue runs while the client
/// polls (the other tests hold it still).
class ticking {
public:
  explicit ticking(stockd::simulator::testing::manual_clock clock)
      : clock_(std::move(clock)), thread_([this] {
          while (!stop_.load()) {
            std::this_thread::sleep_for(2ms);
            clock_.advance(2ms);
          }
        }) {}
  ~ticking() {
    stop_.store(true);
    thread_.join();
  }

private:
  stockd::simulator::testing::manual_clock clock_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

sim::amazon_options feed_emulator(std::chrono::milliseconds feed_time = 50ms) {
  sim::amazon_options o;
  o.feed_time_base = feed_time;
  o.feed_time_per_message = 0us;
  return o;
}

struct feed_fixture {
  explicit feed_fixture(sim::amazon_options emulator = feed_emulator(),
                        std::chrono::milliseconds deadline = 15s, http_client_options http = {})
      : amazon(
            std::move(emulator), "Atza|stocksim", std::nullopt,
            [deadline](stockd::connectors::amazon_options& o) {
              o.feed_deadline = deadline;
              o.feed_poll_first = 20ms;
              o.feed_poll_max = 200ms;
            },
            std::move(http)),
        clock(amazon.channel.clock) {}

  amazon_fixture amazon;
  ticking clock;
};

std::vector<push_item> items(std::initializer_list<std::pair<const char*, std::int64_t>> list) {
  std::vector<push_item> out;
  for (const auto& [sku, quantity] : list) {
    out.push_back(push_item{sku_id(sku), quantity, std::nullopt, std::string("k-") + sku});
  }
  return out;
}

} // namespace

TEST_CASE("amazon declares JSON_LISTINGS_FEED as its bulk call type", "[connectors][amazon]") {
  amazon_fixture amazon;
  auto bulk = amazon.client->bulk();
  REQUIRE(bulk);
  CHECK(bulk->batch_max == 25'000);
  CHECK(bulk->jobs_per_second == Approx(5.0 / 300.0));
  CHECK(bulk->burst == 5);
  CHECK(bulk->deadline == std::chrono::minutes(30));
}

TEST_CASE("amazon sends 1,000 items as one feed, applies them all and keeps the lead time",
          "[connectors][amazon][feeds]") {
  feed_fixture feed;
  auto& channel = feed.amazon.channel.channel;
  std::vector<push_item> batch;
  for (int i = 0; i < 1000; ++i) {
    const std::string sku = "SKU-" + std::to_string(i);
    REQUIRE_FALSE(channel.set_quantity(sku, 5));
    batch.push_back(push_item{sku_id(sku), i, std::nullopt, "k" + std::to_string(i)});
  }
  auto result = feed.amazon.push_bulk(batch);
  REQUIRE(result.outcome == call_outcome::ok);
  REQUIRE(result.items.size() == 1000);
  for (const auto& item : result.items) {
    REQUIRE(item.outcome == item_outcome::applied);
  }
  CHECK_FALSE(result.request_id.empty());
  CHECK(channel.quantity("SKU-0") == 0);
  CHECK(channel.quantity("SKU-999") == 999);
  CHECK(channel.lead_time_days("SKU-999") == 2);  // merge, not replace
  stockd::simulator::testing::json stats(channel.stats_json());
  CHECK(stats["rate_limit"]["feeds"]["submitted"].get_uint64().value() == 1);
  CHECK(stats["rate_limit"]["feeds"]["messages_accepted"].get_uint64().value() == 1000);
  CHECK(stats["rate_limit"]["lead_time_resets"].get_uint64().value() == 0);
}

TEST_CASE("amazon rejects exactly the bad SKUs of a feed with their issue codes",
          "[connectors][amazon][feeds]") {
  feed_fixture feed;
  auto& channel = feed.amazon.channel.channel;
  for (const char* sku : {"SKU-1", "SKU-2", "BAD-1"}) {
    REQUIRE_FALSE(channel.set_quantity(sku, 5));
  }
  REQUIRE_FALSE(channel.set_faults("bad-skus=BAD-1"));
  auto result =
      feed.amazon.push_bulk(items({{"SKU-1", 1}, {"NOPE", 2}, {"BAD-1", 3}, {"SKU-2", 4}}));
  REQUIRE(result.outcome == call_outcome::ok);
  REQUIRE(result.items.size() == 4);
  CHECK(result.items[0].outcome == item_outcome::applied);
  CHECK(result.items[1].outcome == item_outcome::rejected);
  CHECK(result.items[1].code == "NotFound");
  CHECK(result.items[2].outcome == item_outcome::rejected);
  CHECK(result.items[2].code == "8541");
  CHECK(result.items[3].outcome == item_outcome::applied);
  CHECK(channel.quantity("SKU-1") == 1);
  CHECK(channel.quantity("BAD-1") == 5);
  CHECK(channel.quantity("SKU-2") == 4);
}

TEST_CASE("amazon reports a 429 on createFeed or createFeedDocument as throttled",
          "[connectors][amazon][feeds]") {
  auto emulator = feed_emulator();
  emulator.create_feed_burst = 1;  // one feed, then none for 60 s
  feed_fixture feed(emulator);
  auto& channel = feed.amazon.channel.channel;
  REQUIRE_FALSE(channel.set_quantity("SKU-1", 5));
  REQUIRE(feed.amazon.push_bulk(items({{"SKU-1", 1}})).outcome == call_outcome::ok);
  auto throttled = feed.amazon.push_bulk(items({{"SKU-1", 2}}));
  CHECK(throttled.outcome == call_outcome::throttled);
  CHECK(throttled.code == "429");
  CHECK(throttled.items.empty());
  CHECK(channel.quantity("SKU-1") == 1);
  REQUIRE_FALSE(channel.set_faults("429=next:1,retry-after=3"));  // on createFeedDocument
  auto told = feed.amazon.push_bulk(items({{"SKU-1", 2}}));
  CHECK(told.outcome == call_outcome::throttled);
  CHECK(told.retry_after == std::chrono::milliseconds(3000));
}

TEST_CASE("amazon keeps polling a submitted feed through QuotaExceeded on getFeed",
          "[connectors][amazon][feeds]") {
  auto emulator = feed_emulator(100ms);
  emulator.get_feed_rate = 4;  // one poll per 250 ms: the client's 20-200 ms polls meet 429s
  emulator.get_feed_burst = 1;
  feed_fixture feed(emulator);
  auto& channel = feed.amazon.channel.channel;
  REQUIRE_FALSE(channel.set_quantity("SKU-1", 5));
  auto result = feed.amazon.push_bulk(items({{"SKU-1", 1}}));
  REQUIRE(result.outcome == call_outcome::ok);
  CHECK(result.items[0].outcome == item_outcome::applied);
  stockd::simulator::testing::json stats(channel.stats_json());
  CHECK(stats["throttled"].get_uint64().value() >= 1);  // the test saw the path it is about
  CHECK(stats["rate_limit"]["feeds"]["submitted"].get_uint64().value() == 1);  // not resubmitted
  CHECK(channel.quantity("SKU-1") == 1);
}

TEST_CASE("amazon ends a feed at once when its report is over the http client's body limit",
          "[connectors][amazon][feeds]") {
  http_client_options http;
  http.response_body_bytes_max = 400;  // every answer of the flow but this report fits
  feed_fixture feed(feed_emulator(), 15s, http);
  std::vector<push_item> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(push_item{sku_id("NOPE-" + std::to_string(i)), 1, std::nullopt, "k"});
  }
  const auto start = std::chrono::steady_clock::now();
  auto result = feed.amazon.push_bulk(batch);  // 10 NotFound issues: ~1 KiB of report
  CHECK(result.outcome == call_outcome::network);
  CHECK(result.code.rfind("response_too_large", 0) == 0);
  CHECK(std::chrono::steady_clock::now() - start < 5s);  // not retried until the deadline
}

TEST_CASE("amazon answers server_error feed_fatal for a feed that ends FATAL",
          "[connectors][amazon][feeds]") {
  feed_fixture feed;
  auto& channel = feed.amazon.channel.channel;
  REQUIRE_FALSE(channel.set_quantity("SKU-1", 5));
  REQUIRE_FALSE(channel.set_faults("feed-fatal=1"));
  auto result = feed.amazon.push_bulk(items({{"SKU-1", 1}}));
  CHECK(result.outcome == call_outcome::server_error);
  CHECK(result.code == "feed_fatal");
  CHECK(result.items.empty());
  CHECK_FALSE(result.request_id.empty());
  CHECK(channel.quantity("SKU-1") == 5);
}

TEST_CASE("amazon answers timeout when the feed is not done by its deadline",
          "[connectors][amazon][feeds]") {
  feed_fixture feed(feed_emulator(60s), 300ms);
  REQUIRE_FALSE(feed.amazon.channel.channel.set_quantity("SKU-1", 5));
  const auto start = std::chrono::steady_clock::now();
  auto result = feed.amazon.push_bulk(items({{"SKU-1", 1}}));
  CHECK(result.outcome == call_outcome::timeout);
  CHECK(result.code == "timeout");
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("amazon ends a feed in flight as cancelled when the http client shuts down",
          "[connectors][amazon][feeds]") {
  feed_fixture feed(feed_emulator(60s), 60s);
  REQUIRE_FALSE(feed.amazon.channel.channel.set_quantity("SKU-1", 5));
  auto answered = std::make_shared<std::promise<push_result>>();
  auto future = answered->get_future();
  feed.amazon.client->push_bulk(items({{"SKU-1", 1}}),
                                [answered](push_result r) { answered->set_value(std::move(r)); });
  std::this_thread::sleep_for(200ms);  // submitted, polling
  feed.amazon.io.client->shutdown();
  REQUIRE(future.wait_for(5s) == std::future_status::ready);
  auto result = future.get();
  CHECK(result.outcome == call_outcome::network);
  CHECK(result.code.rfind("cancelled", 0) == 0);
}

TEST_CASE("amazon cuts a feed document at its size limit and maps the report by messageId",
          "[connectors][amazon][feeds]") {
  stockd::connectors::amazon_options options;
  options.seller_id = "A1STOCKSIM";
  auto batch = items({{"A", 1}, {"B", 2}, {"C", 3}});
  std::size_t included = 0;
  const auto whole = amazon_feed_document(options, batch, included);
  CHECK(included == 3);
  CHECK(whole.find(R"({"messageId":3,"sku":"C","operationType":"PATCH","productType":"PRODUCT",)"
                   R"("patches":[{"op":"merge","path":"/attributes/fulfillment_availability",)"
                   R"("value":[{"fulfillment_channel_code":"DEFAULT","quantity":3}]}]})") !=
        std::string::npos);
  const auto cut = amazon_feed_document(options, batch, included, whole.size() - 10);
  CHECK(included == 2);
  CHECK(cut.find(R"("sku":"C")") == std::string::npos);

  auto mapped = amazon_feed_report_items(
      R"({"issues":[{"messageId":2,"code":"W1","severity":"WARNING"},)"
      R"({"messageId":2,"code":"E1","severity":"ERROR"},)"
      R"({"messageId":2,"code":"E2","severity":"ERROR"},)"
      R"({"messageId":0,"code":"X","severity":"ERROR"},)"
      R"({"messageId":9,"code":"X","severity":"ERROR"}],)"
      R"("summary":{}})",
      3, 2);
  REQUIRE(mapped);
  REQUIRE(mapped->size() == 3);
  CHECK((*mapped)[0].outcome == item_outcome::applied);
  CHECK((*mapped)[1].outcome == item_outcome::rejected);
  CHECK((*mapped)[1].code == "E1");
  CHECK((*mapped)[2].outcome == item_outcome::retry);
  CHECK((*mapped)[2].code == "not_in_feed");
  CHECK_FALSE(amazon_feed_report_items("<html>", 1, 1));
}

// --- Login with Amazon -------------------------------------------------------------------------

namespace {

constexpr const char* lwa_json =
    R"({"client_id":"amzn1.application-oa2-client.stocksim","client_secret":"stocksim-lwa-secret",)"
    R"("refresh_token":"Atzr|stocksim"})";

/// An amazon_fixture whose client holds the refresh-token form and asks the emulator's LWA.
struct lwa_fixture {
  explicit lwa_fixture(sim::amazon_options emulator = emulator_options(),
                       std::string credentials = lwa_json,
                       std::chrono::milliseconds margin = amazon_token_refresh_margin)
      : amazon(std::move(emulator), "unused", std::nullopt,
               [credentials = std::move(credentials),
                margin](stockd::connectors::amazon_options& o) {
                 REQUIRE_FALSE(parse_amazon_credentials(credentials, o));
                 o.lwa_endpoint = o.endpoint + "/auth/o2/token";  // the emulator's own LWA
                 o.token_refresh_margin = margin;
               }) {}

  std::uint64_t tokens_issued() {
    stockd::simulator::testing::json stats(amazon.channel.channel.stats_json());
    return stats["rate_limit"]["lwa"]["tokens_issued"].get_uint64().value();
  }

  amazon_fixture amazon;
};

} // namespace

TEST_CASE("amazon reads credentials as an access token or as a refresh-token JSON object",
          "[connectors][amazon][lwa]") {
  stockd::connectors::amazon_options o;
  REQUIRE_FALSE(parse_amazon_credentials("Atza|abc", o));
  CHECK(o.access_token == "Atza|abc");
  CHECK_FALSE(o.lwa);
  REQUIRE_FALSE(parse_amazon_credentials(lwa_json, o));
  REQUIRE(o.lwa);
  CHECK(o.lwa->client_id == "amzn1.application-oa2-client.stocksim");
  CHECK(o.lwa->refresh_token == "Atzr|stocksim");
  CHECK(o.access_token.empty());
  auto error = parse_amazon_credentials(R"({"client_id":"x","client_secret":"s3cr3t"})", o);
  REQUIRE(error);
  CHECK(error->find("s3cr3t") == std::string::npos);  // never the secret
  CHECK(error->find("refresh_token") != std::string::npos);
  CHECK(parse_amazon_credentials("{not json", o));
}

TEST_CASE("amazon exchanges the refresh token once and reuses the access token until near expiry",
          "[connectors][amazon][lwa]") {
  auto emulator = emulator_options();
  emulator.lwa_token_lifetime = 2s;
  lwa_fixture lwa(emulator, lwa_json, 1'000ms);  // good for 1 s, then refreshed with 1 s left
  REQUIRE_FALSE(lwa.amazon.channel.channel.set_quantity("SKU-1", 5));
  REQUIRE(lwa.amazon.push("SKU-1", 1).outcome == call_outcome::ok);
  REQUIRE(lwa.amazon.read("SKU-1").ok);
  CHECK(lwa.tokens_issued() == 1);
  std::this_thread::sleep_for(1'100ms);  // now within the margin: refreshed before it expires
  REQUIRE(lwa.amazon.push("SKU-1", 2).outcome == call_outcome::ok);
  CHECK(lwa.tokens_issued() == 2);
  CHECK(lwa.amazon.channel.channel.quantity("SKU-1") == 2);
}

TEST_CASE("amazon refreshes the token once when SP-API answers 401 and sends the call again",
          "[connectors][amazon][lwa]") {
  lwa_fixture lwa;  // tokens of an hour, refreshed 60 s before
  REQUIRE_FALSE(lwa.amazon.channel.channel.set_quantity("SKU-1", 5));
  REQUIRE(lwa.amazon.push("SKU-1", 1).outcome == call_outcome::ok);
  lwa.amazon.channel.clock.advance(3601s);  // expired for the emulator, not yet for the client
  auto result = lwa.amazon.push("SKU-1", 2);
  REQUIRE(result.outcome == call_outcome::ok);
  CHECK(result.items[0].outcome == item_outcome::applied);
  CHECK(lwa.tokens_issued() == 2);
  stockd::simulator::testing::json stats(lwa.amazon.channel.channel.stats_json());
  CHECK(stats["rate_limit"]["lwa"]["expired_tokens_refused"].get_uint64().value() == 1);
  CHECK(lwa.amazon.channel.channel.quantity("SKU-1") == 2);
}

TEST_CASE("amazon answers unauthorized for a wrong client secret and never tells the secret",
          "[connectors][amazon][lwa]") {
  const std::string wrong =
      R"({"client_id":"amzn1.application-oa2-client.stocksim","client_secret":"WRONG-s3cr3t",)"
      R"("refresh_token":"Atzr|stocksim"})";
  lwa_fixture lwa(emulator_options(), wrong);
  REQUIRE_FALSE(lwa.amazon.channel.channel.set_quantity("SKU-1", 5));
  auto result = lwa.amazon.push("SKU-1", 1);
  CHECK(result.outcome == call_outcome::unauthorized);
  CHECK(result.code == "lwa_invalid_client");
  CHECK(result.code.find("s3cr3t") == std::string::npos);
  auto read = lwa.amazon.read("SKU-1");
  CHECK_FALSE(read.ok);
  CHECK(read.code.find("s3cr3t") == std::string::npos);
  auto feed = lwa.amazon.push_bulk(items({{"SKU-1", 1}}));
  CHECK(feed.outcome == call_outcome::unauthorized);
  CHECK(feed.code == "lwa_invalid_client");
  CHECK(lwa.tokens_issued() == 0);
  CHECK(lwa.amazon.channel.channel.quantity("SKU-1") == 5);
}
