// The three channel emulators over real sockets: request shapes, limits and error shapes of
// reference/channels.md.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "simulator/amazon.hpp"
#include "simulator/shopify.hpp"
#include "simulator/webhook.hpp"
#include "tests/simulator/harness.hpp"

using namespace stockd::simulator;
using namespace stockd::simulator::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* set_mutation =
    "mutation Set($input: InventorySetQuantitiesInput!, $key: String!) @idempotent(key: $key) "
    "{ inventorySetQuantities(input: $input) { inventoryAdjustmentGroup { changes { name delta "
    "quantityAfterChange } } userErrors { field message code } } }";
constexpr const char* read_query =
    "query Levels($first: Int!, $after: String) { inventoryItems(first: $first, after: $after) "
    "{ nodes { id sku inventoryLevels(first: 10) { nodes { location { id } quantities(names: "
    "[\\\"available\\\"]) { name quantity } } } } pageInfo { hasNextPage endCursor } } }";

struct quantity_line {
  int item;  // GID number
  std::int64_t quantity;
  std::string change_from;  // JSON: a number, "null", or "" to leave the field out
  std::string location = "gid://shopify/Location/1";
};

std::string set_body(const std::vector<quantity_line>& lines, const std::string& key) {
  std::string q;
  for (const auto& l : lines) {
    q += q.empty() ? "" : ",";
    q += R"({"inventoryItemId":"gid://shopify/InventoryItem/)" + std::to_string(l.item) +
         R"(","locationId":")" + l.location + R"(","quantity":)" + std::to_string(l.quantity);
    if (!l.change_from.empty()) {
      q += R"(,"changeFromQuantity":)" + l.change_from;
    }
    q += "}";
  }
  return std::string(R"({"query":")") + set_mutation +
         R"(","variables":{"key":")" + key +
         R"(","input":{"name":"available","reason":"correction","referenceDocumentUri":)"
         R"("gid://stockd/Push/1","quantities":[)" + q + "]}}}";
}

client_request shopify_post(std::string body, std::string version = "2026-04") {
  client_request req;
  req.method = "POST";
  req.target = "/admin/api/" + version + "/graphql.json";
  req.body = std::move(body);
  req.headers = {{"X-Shopify-Access-Token", "shpat_stocksim"}};
  return req;
}

std::int64_t available_now(const json& j) {
  return j["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"].get_int64().value();
}

std::string error_code(const json& j) {
  return std::string(j["errors"].at(0)["extensions"]["code"].get_string().value());
}

std::string user_error_code(const json& j, std::size_t i = 0) {
  return std::string(
      j["data"]["inventorySetQuantities"]["userErrors"].at(i)["code"].get_string().value());
}

std::size_t user_errors(const json& j) {
  return j["data"]["inventorySetQuantities"]["userErrors"].get_array().value().size();
}

} // namespace

TEST_CASE("shopify sets quantities with compare-and-set and reads them back page by page",
          "[simulator][shopify]") {
  running<shopify_emulator> shop(shopify_options{});
  for (const char* sku : {"A", "B", "C"}) {
    REQUIRE_FALSE(shop.channel.set_quantity(sku, 5));
  }
  auto res = shop.send(shopify_post(set_body({{1, 7, "5"}, {2, 0, "null"}}, "k1")));
  REQUIRE(res.status == 200);
  INFO(res.body);
  json set(res.body);
  CHECK(user_errors(set) == 0);
  auto changes = set["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"]["changes"];
  CHECK(changes.at(0)["delta"].get_int64().value() == 2);
  CHECK(changes.at(1)["quantityAfterChange"].get_int64().value() == 0);
  CHECK(set["extensions"]["cost"]["requestedQueryCost"].get_int64().value() == 10);
  CHECK(available_now(set) == 1990);
  CHECK(shop.channel.quantity("A") == 7);
  CHECK(shop.channel.quantity("B") == 0);

  auto page = [&](const std::string& after) {
    return shop.send(shopify_post(std::string(R"({"query":")") + read_query +
                                  R"(","variables":{"first":2,"after":)" + after + "}}"));
  };
  auto first_page = page("null");
  INFO(first_page.body);
  json first(first_page.body);
  auto nodes = first["data"]["inventoryItems"]["nodes"].get_array().value();
  REQUIRE(nodes.size() == 2);
  CHECK(nodes.at(0)["sku"].get_string().value() == "A");
  CHECK(nodes.at(0)["inventoryLevels"]["nodes"].at(0)["quantities"].at(0)["quantity"]
            .get_int64().value() == 7);
  CHECK(first["data"]["inventoryItems"]["pageInfo"]["hasNextPage"].get_bool().value());
  CHECK(first["extensions"]["cost"]["requestedQueryCost"].get_int64().value() == 4);
  std::string cursor(first["data"]["inventoryItems"]["pageInfo"]["endCursor"].get_string().value());
  json second(page("\"" + cursor + "\"").body);
  auto rest = second["data"]["inventoryItems"]["nodes"].get_array().value();
  REQUIRE(rest.size() == 1);
  CHECK(rest.at(0)["sku"].get_string().value() == "C");
  CHECK_FALSE(second["data"]["inventoryItems"]["pageInfo"]["hasNextPage"].get_bool().value());
  // Requested 4 (first: 2), actual 3 (one node): the difference is refunded.
  CHECK(second["extensions"]["cost"]["actualQueryCost"].get_int64().value() == 3);
}

TEST_CASE("shopify with sku search answers only the items a read-back query names, and a lost "
          "set is answered applied and not kept",
          "[simulator][shopify]") {
  shopify_options opts;
  opts.sku_search = true;
  running<shopify_emulator> shop(opts);
  for (const char* sku : {"A", "B", "C", "D\"Q"}) {
    REQUIRE_FALSE(shop.channel.set_quantity(sku, 5));
  }
  auto read = [&](const std::string& after) {
    return shop.send(shopify_post(std::string(R"({"query":")") + read_query +
                                  R"(","variables":{"first":1,"after":)" + after +
                                  R"(,"query":"sku:\"D\\\"Q\" OR sku:\"B\" OR sku:\"NOPE\""}})"));
  };
  auto first_answer = read("null");
  INFO(first_answer.body);
  json first(first_answer.body);
  auto nodes = first["data"]["inventoryItems"]["nodes"].get_array().value();
  REQUIRE(nodes.size() == 1);
  CHECK(nodes.at(0)["sku"].get_string().value() == "B");  // creation order
  CHECK(first["data"]["inventoryItems"]["pageInfo"]["hasNextPage"].get_bool().value());
  std::string cursor(first["data"]["inventoryItems"]["pageInfo"]["endCursor"].get_string().value());
  json second(read("\"" + cursor + "\"").body);
  auto rest = second["data"]["inventoryItems"]["nodes"].get_array().value();
  REQUIRE(rest.size() == 1);
  CHECK(rest.at(0)["sku"].get_string().value() == "D\"Q");
  CHECK_FALSE(second["data"]["inventoryItems"]["pageInfo"]["hasNextPage"].get_bool().value());

  shop.channel.lose_next_sets(1);
  auto set = shop.send(shopify_post(set_body({{1, 9, "5"}}, "lost")));
  REQUIRE(set.status == 200);
  CHECK(user_errors(json(set.body)) == 0);
  CHECK(shop.channel.quantity("A") == 5);  // answered applied, not kept
  auto again = shop.send(shopify_post(set_body({{1, 9, "5"}}, "kept")));
  CHECK(user_errors(json(again.body)) == 0);
  CHECK(shop.channel.quantity("A") == 9);
}

TEST_CASE("shopify's cost bucket empties by each request's cost and restores at the stated rate",
          "[simulator][shopify]") {
  shopify_options opts;
  opts.bucket_max = 100;
  opts.restore_per_second = 10;
  running<shopify_emulator> shop(opts);
  REQUIRE_FALSE(shop.channel.set_quantity("A", 0));
  for (int i = 0; i < 10; ++i) {
    json j(shop.send(shopify_post(set_body({{1, i, "null"}}, "k" + std::to_string(i)))).body);
    REQUIRE(user_errors(j) == 0);
    CHECK(available_now(j) == 90 - 10 * i);
    CHECK(j["extensions"]["cost"]["throttleStatus"]["maximumAvailable"].get_double().value() ==
          100);
    CHECK(j["extensions"]["cost"]["throttleStatus"]["restoreRate"].get_double().value() == 10);
  }
  // Empty: THROTTLED (HTTP 200, nothing applied, actualQueryCost null).
  auto res = shop.send(shopify_post(set_body({{1, 99, "null"}}, "over")));
  CHECK(res.status == 200);
  json over(res.body);
  CHECK(error_code(over) == "THROTTLED");
  CHECK(over["extensions"]["cost"]["actualQueryCost"].is_null());
  CHECK(over["extensions"]["cost"]["requestedQueryCost"].get_int64().value() == 10);
  CHECK(shop.channel.quantity("A") == 9);
  // 0.5 s restores 5 points: still short of 10.
  shop.clock.advance(500ms);
  json half(shop.send(shopify_post(set_body({{1, 99, "null"}}, "over"))).body);
  CHECK(error_code(half) == "THROTTLED");
  CHECK(available_now(half) == 5);
  // (requested − available) / restoreRate = 0.5 s more, and it goes through.
  shop.clock.advance(500ms);
  json ok(shop.send(shopify_post(set_body({{1, 99, "null"}}, "over"))).body);
  CHECK(ok["errors"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(available_now(ok) == 0);
  CHECK(shop.channel.quantity("A") == 99);
  // Never above the maximum, however long it rests.
  shop.clock.advance(60s);
  json rested(shop.send(shopify_post(set_body({{1, 1, "null"}}, "rested"))).body);
  CHECK(available_now(rested) == 90);
  json stats(shop.channel.stats_json());
  CHECK(stats["throttled"].get_uint64().value() == 2);
}

TEST_CASE("shopify answers CHANGE_FROM_QUANTITY_STALE and applies nothing of that mutation",
          "[simulator][shopify]") {
  running<shopify_emulator> shop(shopify_options{});
  REQUIRE_FALSE(shop.channel.set_quantity("A", 5));
  REQUIRE_FALSE(shop.channel.set_quantity("B", 5));
  json j(shop.send(shopify_post(set_body({{1, 8, "5"}, {2, 3, "4"}}, "k"))).body);
  REQUIRE(user_errors(j) == 1);
  CHECK(user_error_code(j) == "CHANGE_FROM_QUANTITY_STALE");
  auto field = j["data"]["inventorySetQuantities"]["userErrors"].at(0)["field"];
  CHECK(field.at(2).get_string().value() == "1");
  CHECK(field.at(3).get_string().value() == "changeFromQuantity");
  CHECK(j["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"].is_null());
  CHECK(shop.channel.quantity("A") == 5);  // all or nothing: the good line was not applied
  CHECK(shop.channel.quantity("B") == 5);
}

TEST_CASE("shopify replays an idempotency key's answer without applying twice",
          "[simulator][shopify]") {
  running<shopify_emulator> shop(shopify_options{});
  REQUIRE_FALSE(shop.channel.set_quantity("A", 5));
  auto first = shop.send(shopify_post(set_body({{1, 4, "5"}}, "push-1")));
  json a(first.body);
  REQUIRE(user_errors(a) == 0);
  // A customer buys one: the channel now shows 3. The same request again must not set 4.
  REQUIRE_FALSE(shop.channel.set_quantity("A", 3));
  json again(shop.send(shopify_post(set_body({{1, 4, "5"}}, "push-1"))).body);
  CHECK(user_errors(again) == 0);
  CHECK(simdjson::minify(again["data"]) == simdjson::minify(a["data"]));
  CHECK(shop.channel.quantity("A") == 3);
  json mismatch(shop.send(shopify_post(set_body({{1, 9, "3"}}, "push-1"))).body);
  CHECK(error_code(mismatch) == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH");
  CHECK(shop.channel.quantity("A") == 3);
  json stats(shop.channel.stats_json());
  CHECK(stats["rate_limit"]["idempotent_replays"].get_uint64().value() == 1);
}

TEST_CASE("shopify refuses more than 250 quantities in one input", "[simulator][shopify]") {
  running<shopify_emulator> shop(shopify_options{});
  std::vector<quantity_line> lines;
  for (int i = 1; i <= 251; ++i) {
    REQUIRE_FALSE(shop.channel.set_quantity("S" + std::to_string(i), 1));
    lines.push_back({i, 2, "1"});
  }
  json over(shop.send(shopify_post(set_body(lines, "big"))).body);
  CHECK(error_code(over) == "MAX_INPUT_SIZE_EXCEEDED");
  CHECK(shop.channel.quantity("S1") == 1);
  lines.pop_back();
  json ok(shop.send(shopify_post(set_body(lines, "fits"))).body);
  CHECK(user_errors(ok) == 0);
  CHECK(shop.channel.quantity("S250") == 2);
  json stats(shop.channel.stats_json());
  CHECK(stats["items_per_call_max"].get_uint64().value() == 250);
}

TEST_CASE("shopify answers every request with its own X-Request-Id, errors and faults included",
          "[simulator][shopify]") {
  running<shopify_emulator> shop(shopify_options{});
  REQUIRE_FALSE(shop.channel.set_quantity("A", 5));
  std::set<std::string> ids;
  auto id_of = [&](const client_response& res) {
    const std::string id = res.header("X-Request-Id");
    CHECK_FALSE(id.empty());
    ids.insert(id);
    return id;
  };
  CHECK(id_of(shop.send(shopify_post(set_body({{1, 7, "5"}}, "k1")))).starts_with("shopify-"));
  id_of(shop.send(shopify_post(std::string(R"({"query":")") + read_query +
                               R"(","variables":{"first":2,"after":null}})")));
  auto wrong_token = shopify_post(set_body({{1, 8, "7"}}, "k2"));
  wrong_token.headers = {{"X-Shopify-Access-Token", "nope"}};
  auto refused = shop.send(wrong_token);
  CHECK(refused.status == 401);
  id_of(refused);
  REQUIRE_FALSE(shop.channel.set_faults("5xx=next:1"));
  auto failed = shop.send(shopify_post(set_body({{1, 8, "7"}}, "k3")));
  CHECK(failed.status >= 500);
  id_of(failed);
  CHECK(ids.size() == 4);
}

TEST_CASE("shopify names the unknown item or location in userErrors and checks the request",
          "[simulator][shopify]") {
  shopify_options opts;
  opts.locations = {"gid://shopify/Location/1", "gid://shopify/Location/2"};
  running<shopify_emulator> shop(opts);
  REQUIRE_FALSE(shop.channel.set_quantity("A", 5));
  json j(shop.send(shopify_post(set_body({{1, 1, "5"},
                                          {7, 1, "null"},
                                          {1, 1, "null", "gid://shopify/Location/9"},
                                          {1, 1, "null", "gid://shopify/Location/2"}},
                                         "k")))
             .body);
  REQUIRE(user_errors(j) == 3);
  CHECK(user_error_code(j, 0) == "INVALID_INVENTORY_ITEM");
  CHECK(user_error_code(j, 1) == "INVALID_LOCATION");
  CHECK(user_error_code(j, 2) == "ITEM_NOT_STOCKED_AT_LOCATION");
  CHECK(shop.channel.quantity("A") == 5);

  auto no_token = shopify_post(set_body({{1, 1, "5"}}, "t"));
  no_token.headers.clear();
  CHECK(shop.send(no_token).status == 401);
  // From 2026-04 changeFromQuantity must be there (null opts out) and @idempotent is required.
  json missing_cas(shop.send(shopify_post(set_body({{1, 1, ""}}, "m"))).body);
  CHECK(error_code(missing_cas) == "INVALID_VARIABLE");
  json older(shop.send(shopify_post(set_body({{1, 2, ""}}, "m"), "2025-10")).body);
  CHECK(user_errors(older) == 0);
  CHECK(shop.channel.quantity("A") == 2);
  std::string body = set_body({{1, 3, "2"}}, "x");
  body.replace(body.find("@idempotent(key: $key)"), 22, "");
  json no_key(shop.send(shopify_post(body)).body);
  CHECK(error_code(no_key) == "IDEMPOTENCY_KEY_REQUIRED");
  CHECK(shop.send(shopify_post("{not json")).status == 400);
}

namespace {

client_request amazon_patch(const std::string& sku, std::int64_t quantity,
                            const std::string& op = "merge") {
  client_request req;
  req.method = "PATCH";
  req.target = "/listings/2021-08-01/items/A1STOCKSIM/" + sku + "?marketplaceIds=ATVPDKIKX0DER";
  req.body = R"({"productType":"PRODUCT","patches":[{"op":")" + op +
             R"(","path":"/attributes/fulfillment_availability","value":[{"fulfillment_channel_code":"DEFAULT","quantity":)" +
             std::to_string(quantity) + "}]}]}";
  req.headers = {{"x-amz-access-token", "Atza|stocksim"}};
  return req;
}

client_request amazon_get(const std::string& sku) {
  client_request req;
  req.target = "/listings/2021-08-01/items/A1STOCKSIM/" + sku +
               "?marketplaceIds=ATVPDKIKX0DER&includedData=fulfillmentAvailability";
  req.headers = {{"x-amz-access-token", "Atza|stocksim"}};
  return req;
}

} // namespace

TEST_CASE("amazon merges fulfillment_availability, keeps the lead time, and reads it back",
          "[simulator][amazon]") {
  running<amazon_emulator> amazon(amazon_options{});
  REQUIRE_FALSE(amazon.channel.set_quantity("SKU-1", 5));
  auto res = amazon.send(amazon_patch("SKU-1", 3));
  REQUIRE(res.status == 200);
  json ok(res.body);
  CHECK(ok["status"].get_string().value() == "ACCEPTED");
  CHECK(ok["issues"].get_array().value().size() == 0);
  CHECK(amazon.channel.quantity("SKU-1") == 3);
  CHECK(amazon.channel.lead_time_days("SKU-1") == 2);
  json read(amazon.send(amazon_get("SKU-1")).body);
  CHECK(read["fulfillmentAvailability"].at(0)["quantity"].get_int64().value() == 3);
  CHECK(read["fulfillmentAvailability"].at(0)["fulfillmentChannelCode"].get_string().value() ==
        "DEFAULT");
  // replace sets the whole attribute: the lead time it does not name is gone.
  REQUIRE(amazon.send(amazon_patch("SKU-1", 4, "replace")).status == 200);
  CHECK(amazon.channel.lead_time_days("SKU-1") == std::nullopt);
  CHECK(amazon.send(amazon_patch("NOPE", 1)).status == 404);
  auto no_token = amazon_patch("SKU-1", 1);
  no_token.headers.clear();
  CHECK(amazon.send(no_token).status == 403);
  auto no_marketplace = amazon_patch("SKU-1", 1);
  no_marketplace.target = no_marketplace.target.substr(0, no_marketplace.target.find('?'));
  CHECK(amazon.send(no_marketplace).status == 400);
}

TEST_CASE("amazon answers 429 QuotaExceeded after a burst of 5 and refills at 5 per second",
          "[simulator][amazon]") {
  running<amazon_emulator> amazon(amazon_options{});
  REQUIRE_FALSE(amazon.channel.set_quantity("SKU-1", 5));
  for (int i = 0; i < 5; ++i) {
    auto res = amazon.send(amazon_patch("SKU-1", i));
    REQUIRE(res.status == 200);
    CHECK(res.header("x-amzn-RateLimit-Limit") == "5.0");
  }
  auto throttled = amazon.send(amazon_patch("SKU-1", 42));
  CHECK(throttled.status == 429);
  CHECK(throttled.header("x-amzn-RateLimit-Limit") == "5.0");
  CHECK(json(throttled.body)["errors"].at(0)["code"].get_string().value() == "QuotaExceeded");
  CHECK(amazon.channel.quantity("SKU-1") == 4);
  amazon.clock.advance(199ms);
  CHECK(amazon.send(amazon_patch("SKU-1", 42)).status == 429);
  amazon.clock.advance(1ms);  // 0.2 s: one token
  CHECK(amazon.send(amazon_patch("SKU-1", 42)).status == 200);
  CHECK(amazon.send(amazon_patch("SKU-1", 43)).status == 429);
  CHECK(amazon.channel.quantity("SKU-1") == 42);
  // Reads have their own bucket.
  CHECK(amazon.send(amazon_get("SKU-1")).status == 200);
  json stats(amazon.channel.stats_json());
  CHECK(stats["throttled"].get_uint64().value() == 3);
  CHECK(stats["responses"]["429"].get_uint64().value() == 3);
}

TEST_CASE("amazon answers every call with its own x-amzn-RequestId, a throttled one included",
          "[simulator][amazon]") {
  running<amazon_emulator> amazon(amazon_options{});
  REQUIRE_FALSE(amazon.channel.set_quantity("SKU-1", 5));
  std::set<std::string> ids;
  for (int i = 0; i < 6; ++i) {  // the 6th is past the burst of 5
    auto res = amazon.send(amazon_patch("SKU-1", i));
    CHECK(res.status == (i < 5 ? 200U : 429U));
    ids.insert(res.header("x-amzn-RequestId"));
  }
  ids.insert(amazon.send(amazon_get("SKU-1")).header("x-amzn-RequestId"));
  ids.insert(amazon.send(amazon_get("SKU-1")).header("x-amzn-RequestId"));
  CHECK(ids.size() == 8);
  CHECK(ids.count("") == 0);
}

namespace {

client_request webhook_post(const std::string& body, const std::string& secret =
                                                         "stocksim-webhook-secret") {
  client_request req;
  req.method = "POST";
  req.target = "/inventory";
  req.body = body;
  req.headers = {{"X-Stockd-Timestamp", "1"}, {"X-Stockd-Signature", webhook_signature(secret, "1", body)}};
  return req;
}

} // namespace

TEST_CASE("webhook refuses a wrong or missing signature with 401 and applies nothing",
          "[simulator][webhook]") {
  running<webhook_emulator> hook(webhook_options{});
  REQUIRE_FALSE(hook.channel.set_quantity("A", 1));
  const std::string body = R"({"items":[{"sku":"A","quantity":9,"idempotency_key":"k1"}]})";
  CHECK(hook.send(webhook_post(body, "wrong-secret")).status == 401);
  auto unsigned_req = webhook_post(body);
  unsigned_req.headers.clear();
  CHECK(hook.send(unsigned_req).status == 401);
  auto tampered = webhook_post(body);
  tampered.body = R"({"items":[{"sku":"A","quantity":8,"idempotency_key":"k1"}]})";
  CHECK(hook.send(tampered).status == 401);
  CHECK(hook.channel.quantity("A") == 1);
  CHECK(hook.send(webhook_post(body)).status == 200);
  CHECK(hook.channel.quantity("A") == 9);
  client_request get;
  get.target = "/inventory/A";
  get.headers = {{"X-Stockd-Timestamp", "1"},
                 {"X-Stockd-Signature",
                  webhook_signature("stocksim-webhook-secret", "1", "/inventory/A")}};
  json read(hook.send(get).body);
  CHECK(read["quantity"].get_int64().value() == 9);
}

TEST_CASE("webhook answers per item: applied, duplicate, rejected", "[simulator][webhook]") {
  running<webhook_emulator> hook(webhook_options{});
  REQUIRE_FALSE(hook.channel.set_quantity("A", 1));
  REQUIRE_FALSE(hook.channel.set_quantity("B", 1));
  REQUIRE_FALSE(hook.channel.set_faults("bad-skus=B"));
  json first(hook.send(webhook_post(
                           R"({"items":[{"sku":"A","quantity":4,"idempotency_key":"k1"},)"
                           R"({"sku":"B","quantity":4,"idempotency_key":"k2"},)"
                           R"({"sku":"Z","quantity":4,"idempotency_key":"k3"},)"
                           R"({"sku":"A","quantity":-1,"idempotency_key":"k4"}]})"))
                 .body);
  auto results = first["results"].get_array().value();
  REQUIRE(results.size() == 4);
  CHECK(results.at(0)["status"].get_string().value() == "applied");
  CHECK(results.at(1)["status"].get_string().value() == "rejected");
  CHECK(results.at(2)["status"].get_string().value() == "rejected");
  CHECK(results.at(3)["status"].get_string().value() == "rejected");
  CHECK(hook.channel.quantity("A") == 4);
  CHECK(hook.channel.quantity("B") == 1);
  REQUIRE_FALSE(hook.channel.set_quantity("A", 3));  // sold one since
  json again(hook.send(webhook_post(
                           R"({"items":[{"sku":"A","quantity":4,"idempotency_key":"k1"},)"
                           R"({"sku":"A","quantity":5,"idempotency_key":"k1"}]})"))
                 .body);
  CHECK(again["results"].at(0)["status"].get_string().value() == "applied");  // a replay
  CHECK(again["results"].at(1)["status"].get_string().value() == "rejected");
  CHECK(hook.channel.quantity("A") == 3);
}

TEST_CASE("webhook limits rate (429 + Retry-After) and batch size (413)", "[simulator][webhook]") {
  webhook_options opts;
  opts.rate = 1;
  opts.burst = 2;
  opts.batch_items_max = 2;
  running<webhook_emulator> hook(opts);
  REQUIRE_FALSE(hook.channel.set_quantity("A", 1));
  std::string three = R"({"items":[{"sku":"A","quantity":1,"idempotency_key":"a"},)"
                      R"({"sku":"A","quantity":2,"idempotency_key":"b"},)"
                      R"({"sku":"A","quantity":3,"idempotency_key":"c"}]})";
  CHECK(hook.send(webhook_post(three)).status == 413);
  CHECK(hook.send(webhook_post(R"({"items":[]})")).status == 200);
  auto limited = hook.send(webhook_post(R"({"items":[]})"));
  CHECK(limited.status == 429);
  CHECK(limited.header("retry-after") == "1");
  hook.clock.advance(1000ms);
  CHECK(hook.send(webhook_post(R"({"items":[]})")).status == 200);
  CHECK(hook.channel.quantity("A") == 1);
}

namespace {

client_request amazon_call(std::string method, std::string target, std::string body = {}) {
  client_request req;
  req.method = std::move(method);
  req.target = std::move(target);
  req.body = std::move(body);
  req.headers = {{"x-amz-access-token", "Atza|stocksim"}};
  return req;
}

std::string feed_message(int id, const std::string& sku, std::int64_t quantity) {
  return R"({"messageId":)" + std::to_string(id) + R"(,"sku":")" + sku +
         R"(","operationType":"PATCH","productType":"PRODUCT","patches":[{"op":"merge",)"
         R"("path":"/attributes/fulfillment_availability","value":[{)"
         R"("fulfillment_channel_code":"DEFAULT","quantity":)" +
         std::to_string(quantity) + "}]}]}";
}

std::string feed_document(const std::vector<std::string>& messages) {
  std::string out = R"({"header":{"sellerId":"A1STOCKSIM","version":"2.0"},"messages":[)";
  for (std::size_t i = 0; i < messages.size(); ++i) {
    out += (i == 0 ? "" : ",") + messages[i];
  }
  return out + "]}";
}

/// createFeedDocument, the upload and createFeed: the createFeed answer.
client_response submit_feed(running<amazon_emulator>& amazon, const std::string& document) {
  auto created = amazon.send(amazon_call("POST", "/feeds/2021-06-30/documents",
                                         R"({"contentType":"application/json; charset=UTF-8"})"));
  REQUIRE(created.status == 201);
  json answer(created.body);
  const std::string id(answer["feedDocumentId"].get_string().value());
  const std::string url(answer["url"].get_string().value());
  const std::string target = url.substr(url.find("/_uploads/"));
  client_request put;
  put.method = "PUT";
  put.target = target;
  put.body = document;
  REQUIRE(amazon.send(put).status == 200);
  return amazon.send(amazon_call("POST", "/feeds/2021-06-30/feeds",
                                 R"({"feedType":"JSON_LISTINGS_FEED","marketplaceIds":)"
                                 R"(["ATVPDKIKX0DER"],"inputFeedDocumentId":")" + id + "\"}"));
}

std::string feed_id(const client_response& res) {
  return std::string(json(res.body)["feedId"].get_string().value());
}

std::string feed_status(running<amazon_emulator>& amazon, const std::string& id) {
  auto res = amazon.send(amazon_call("GET", "/feeds/2021-06-30/feeds/" + id));
  REQUIRE(res.status == 200);
  return std::string(json(res.body)["processingStatus"].get_string().value());
}

std::string feed_report(running<amazon_emulator>& amazon, const std::string& id) {
  auto res = amazon.send(amazon_call("GET", "/feeds/2021-06-30/feeds/" + id));
  const std::string document(json(res.body)["resultFeedDocumentId"].get_string().value());
  auto located = amazon.send(amazon_call("GET", "/feeds/2021-06-30/documents/" + document));
  REQUIRE(located.status == 200);
  const std::string url(json(located.body)["url"].get_string().value());
  client_request get;
  get.target = url.substr(url.find("/_uploads/"));
  auto report = amazon.send(get);
  REQUIRE(report.status == 200);
  return report.body;
}

amazon_options feed_options() {
  amazon_options o;
  o.feed_time_base = 50ms;
  o.feed_time_per_message = 0us;
  return o;
}

} // namespace

TEST_CASE("amazon takes 5 feed submissions per 5 minutes and answers QuotaExceeded past them",
          "[simulator][amazon][feeds]") {
  running<amazon_emulator> amazon(feed_options());
  REQUIRE_FALSE(amazon.channel.set_quantity("SKU-1", 5));
  const std::string document = feed_document({feed_message(1, "SKU-1", 3)});
  for (int i = 0; i < 5; ++i) {
    auto res = submit_feed(amazon, document);
    REQUIRE(res.status == 202);
    CHECK(res.header("x-amzn-RateLimit-Limit") == "0.0167");  // 5 per 300 s
  }
  auto throttled = submit_feed(amazon, document);
  CHECK(throttled.status == 429);
  CHECK(json(throttled.body)["errors"].at(0)["code"].get_string().value() == "QuotaExceeded");
  amazon.clock.advance(59'990ms);  // one token every 60 s
  CHECK(submit_feed(amazon, document).status == 429);
  amazon.clock.advance(20ms);
  CHECK(submit_feed(amazon, document).status == 202);
  CHECK(submit_feed(amazon, document).status == 429);
  json stats(amazon.channel.stats_json());
  CHECK(stats["rate_limit"]["feeds"]["submitted"].get_uint64().value() == 6);
}

TEST_CASE("amazon processes feeds one after another and reports each message",
          "[simulator][amazon][feeds]") {
  running<amazon_emulator> amazon(feed_options());
  REQUIRE_FALSE(amazon.channel.set_quantity("SKU-1", 5));
  REQUIRE_FALSE(amazon.channel.set_quantity("SKU-2", 5));
  REQUIRE_FALSE(amazon.channel.set_quantity("BAD-1", 5));
  REQUIRE_FALSE(amazon.channel.set_faults("bad-skus=BAD-1"));
  const std::string first = feed_id(submit_feed(
      amazon, feed_document({feed_message(1, "SKU-1", 3), feed_message(2, "NOPE", 1),
                             feed_message(3, "BAD-1", 1), feed_message(3, "SKU-2", 9)})));
  const std::string second =
      feed_id(submit_feed(amazon, feed_document({feed_message(1, "SKU-1", 7)})));
  CHECK(feed_status(amazon, first) == "IN_PROGRESS");
  CHECK(feed_status(amazon, second) == "IN_QUEUE");
  CHECK(amazon.channel.quantity("SKU-1") == 5);
  amazon.clock.advance(50ms);  // the first is done; the second starts only now
  CHECK(feed_status(amazon, first) == "DONE");
  CHECK(feed_status(amazon, second) == "IN_PROGRESS");
  CHECK(amazon.channel.quantity("SKU-1") == 3);
  CHECK(amazon.channel.lead_time_days("SKU-1") == 2);  // merge keeps it
  CHECK(amazon.channel.quantity("SKU-2") == 5);        // its messageId was a duplicate
  json report(feed_report(amazon, first));
  CHECK(report["header"]["feedId"].get_string().value() == first);
  CHECK(report["summary"]["messagesProcessed"].get_uint64().value() == 4);
  CHECK(report["summary"]["messagesAccepted"].get_uint64().value() == 1);
  CHECK(report["summary"]["messagesInvalid"].get_uint64().value() == 3);
  auto issues = report["issues"].get_array().value();
  REQUIRE(issues.size() == 3);
  CHECK(issues.at(0)["messageId"].get_int64().value() == 2);
  CHECK(issues.at(0)["code"].get_string().value() == "NotFound");
  CHECK(issues.at(1)["code"].get_string().value() == "8541");
  CHECK(issues.at(2)["code"].get_string().value() == "DUPLICATE_MESSAGE_ID");
  CHECK(issues.at(2)["severity"].get_string().value() == "ERROR");
  amazon.clock.advance(50ms);
  CHECK(feed_status(amazon, second) == "DONE");
  CHECK(amazon.channel.quantity("SKU-1") == 7);
  json stats(amazon.channel.stats_json());
  CHECK(stats["rate_limit"]["feeds"]["processed"].get_uint64().value() == 2);
  CHECK(stats["rate_limit"]["feeds"]["messages_accepted"].get_uint64().value() == 2);
  CHECK(stats["rate_limit"]["feeds"]["messages_invalid"].get_uint64().value() == 3);
}

TEST_CASE("amazon refuses a feed of no messages, and ends FATAL a feed of another seller or "
          "under the feed-fatal fault",
          "[simulator][amazon][feeds]") {
  running<amazon_emulator> amazon(feed_options());
  REQUIRE_FALSE(amazon.channel.set_quantity("SKU-1", 5));
  CHECK(submit_feed(amazon, feed_document({})).status == 400);
  auto other = feed_document({feed_message(1, "SKU-1", 3)});
  other.replace(other.find("A1STOCKSIM"), 10, "A2OTHER");
  const std::string fatal = feed_id(submit_feed(amazon, other));
  REQUIRE_FALSE(amazon.channel.set_faults("feed-fatal=1"));
  const std::string faulted =
      feed_id(submit_feed(amazon, feed_document({feed_message(1, "SKU-1", 3)})));
  amazon.clock.advance(100ms);
  CHECK(feed_status(amazon, fatal) == "FATAL");
  CHECK(feed_status(amazon, faulted) == "FATAL");
  CHECK(amazon.channel.quantity("SKU-1") == 5);
  json stats(amazon.channel.stats_json());
  CHECK(stats["rate_limit"]["feeds"]["fatal"].get_uint64().value() == 2);
}

TEST_CASE("amazon's LWA issues short-lived tokens and the API answers 401 once they expire",
          "[simulator][amazon][lwa]") {
  amazon_options o;
  o.lwa_token_lifetime = 60s;
  running<amazon_emulator> amazon(o);
  REQUIRE_FALSE(amazon.channel.set_quantity("SKU-1", 5));
  client_request grant;
  grant.method = "POST";
  grant.target = "/auth/o2/token";
  grant.headers = {{"Content-Type", "application/x-www-form-urlencoded;charset=UTF-8"}};
  grant.body = "grant_type=refresh_token&refresh_token=Atzr%7Cstocksim"
               "&client_id=amzn1.application-oa2-client.stocksim&client_secret=stocksim-lwa-secret";
  auto issued = amazon.send(grant);
  REQUIRE(issued.status == 200);
  json token(issued.body);
  CHECK(token["token_type"].get_string().value() == "bearer");
  CHECK(token["expires_in"].get_int64().value() == 60);
  auto patch = amazon_patch("SKU-1", 3);
  patch.headers = {{"x-amz-access-token", std::string(token["access_token"].get_string().value())}};
  CHECK(amazon.send(patch).status == 200);
  amazon.clock.advance(60s);
  auto expired = amazon.send(patch);
  CHECK(expired.status == 401);
  CHECK(expired.body.find("expired") != std::string::npos);
  auto wrong = grant;
  wrong.body.replace(wrong.body.find("stocksim-lwa-secret"), 19, "nope");
  auto refused = amazon.send(wrong);
  CHECK(refused.status == 401);
  CHECK(json(refused.body)["error"].get_string().value() == "invalid_client");
}
