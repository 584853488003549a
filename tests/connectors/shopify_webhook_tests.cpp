// The Shopify webhook decoder and signature check (connectors/shopify_webhook.hpp), by plain
// calls with payloads shaped like Shopify's REST webhook bodies (orders/create,
// orders/cancelled, refunds/create).
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "connectors/shopify_webhook.hpp"
#include "engine/time.hpp"

namespace {

namespace conn = stockd::connectors;
namespace engine = stockd::engine;

engine::catalog test_catalog() {
  engine::location_info east{engine::location_id(std::string_view("DC-EAST")), {}};
  engine::sku_info mug{engine::sku_id(std::string_view("MUG")), {}, {}};
  engine::sku_info kit{engine::sku_id(std::string_view("GIFT-SET")),
                       {},
                       {{engine::sku_id(std::string_view("MUG")), 2}}};
  // The shop calls the mug "SHOP-MUG"; its other SKUs are not mapped (unmapped ones refused).
  engine::sku_mapping shop{engine::source_id(std::string_view("shop")),
                           {{"SHOP-MUG", engine::sku_id(std::string_view("MUG"))},
                            {"SHOP-GIFT", engine::sku_id(std::string_view("GIFT-SET"))},
                            {"TSHIRT-RED-M", engine::sku_id(std::string_view("TSHIRT-RED-M"))}}};
  engine::channel_info channel{engine::channel_id(std::string_view("shop")),
                               {engine::location_id(std::string_view("DC-EAST"))},
                               {}};
  return engine::catalog({east}, {mug, kit}, {shop}, {channel});
}

conn::shopify_webhook_envelope envelope(std::string topic) {
  return {engine::channel_id(std::string_view("shop")), std::move(topic),
          "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"};
}

// An orders/create body as Shopify sends it, trimmed to what matters plus some of the rest
// (prices, tax lines nested four levels down) so the parser sees the real shape.
const std::string order_create = R"({
  "id": 820982911946154508, "admin_graphql_api_id": "gid://shopify/Order/820982911946154508",
  "name": "#9999", "email": "jon@example.com", "created_at": "2026-11-27T05:16:00-05:00",
  "financial_status": "paid", "fulfillment_status": null, "location_id": null,
  "cancelled_at": null, "test": false,
  "line_items": [
    {"id": 866550311766439020, "variant_id": 808950810, "title": "Mug", "quantity": 2,
     "sku": "SHOP-MUG", "fulfillable_quantity": 2, "requires_shipping": true,
     "price_set": {"shop_money": {"amount": "9.00", "currency_code": "USD"}},
     "tax_lines": [{"price": "0.90", "rate": 0.1,
                    "price_set": {"shop_money": {"amount": "0.90", "currency_code": "USD"}}}]},
    {"id": 141249953214522974, "variant_id": null, "title": "Gift wrap", "quantity": 1,
     "sku": null, "requires_shipping": false},
    {"id": 141249953214522975, "title": "Tip", "quantity": 1, "sku": ""},
    {"id": 141249953214522976, "title": "Gift set", "quantity": 1, "sku": "SHOP-GIFT"}
  ],
  "fulfillments": [], "refunds": []
})";

} // namespace

TEST_CASE("an orders/create delivery becomes order_created events, one per line with a SKU",
          "[connectors][shopify_webhook]") {
  const auto catalog = test_catalog();
  std::string body = order_create;
  auto decoded = conn::decode_shopify_webhook(body, envelope("orders/create"), catalog, {});
  REQUIRE(decoded);
  CHECK_FALSE(decoded->ignored);
  CHECK(decoded->lines_without_sku == 2);
  REQUIRE(decoded->events.size() == 2);
  const auto& mug = decoded->events[0];
  REQUIRE(mug.ev);
  CHECK(mug.ev->type == engine::event_type::order_created);
  CHECK(mug.ev->source.str() == "shop");
  CHECK(mug.ev->id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043:866550311766439020");
  CHECK(mug.ev->sku.str() == "MUG");
  CHECK(mug.ev->qty == 2);
  CHECK(mug.ev->order_id == "820982911946154508");
  CHECK(mug.ev->line_id == "866550311766439020");
  CHECK(mug.ev->channel.str() == "shop");
  CHECK(mug.ev->location.str().empty());  // placed by the channel's priority
  CHECK(mug.ev->occurred_at == *engine::parse_rfc3339("2026-11-27T10:16:00Z"));
  // The kit line is expanded into its components, like an event posted to /v1/events.
  const auto& kit = decoded->events[1];
  REQUIRE(kit.ev);
  CHECK(kit.ev->sku.str() == "GIFT-SET");
  REQUIRE(kit.components.size() == 1);
  CHECK(kit.components[0].sku.str() == "MUG");
  CHECK(kit.components[0].qty == 2);
}

TEST_CASE("an orders/cancelled delivery releases what each line has not shipped",
          "[connectors][shopify_webhook]") {
  const auto catalog = test_catalog();
  std::string body = R"({"id": 450789469, "created_at": "2026-11-27T10:00:00Z",
    "cancelled_at": "2026-11-27T11:00:00Z", "cancel_reason": "customer",
    "line_items": [
      {"id": 1, "sku": "SHOP-MUG", "quantity": 5},
      {"id": 2, "sku": "TSHIRT-RED-M", "quantity": 1},
      {"id": 3, "sku": null, "quantity": 1}],
    "fulfillments": [
      {"id": 9, "status": "success", "line_items": [{"id": 1, "quantity": 2},
                                                  {"id": 2, "quantity": 1}]},
      {"id": 10, "status": "cancelled", "line_items": [{"id": 1, "quantity": 3}]}]})";
  auto decoded = conn::decode_shopify_webhook(body, envelope("orders/cancelled"), catalog, {});
  REQUIRE(decoded);
  REQUIRE(decoded->events.size() == 1);
  const auto& ev = *decoded->events[0].ev;
  CHECK(ev.type == engine::event_type::order_cancelled);
  CHECK(ev.qty == 3);  // 5 ordered, 2 shipped; the cancelled fulfilment moved nothing
  CHECK(ev.line_id == "1");
  CHECK(ev.occurred_at == *engine::parse_rfc3339("2026-11-27T11:00:00Z"));
  CHECK(decoded->lines_skipped == 1);       // line 2 shipped in full
  CHECK(decoded->lines_without_sku == 1);
}

TEST_CASE("a refunds/create delivery returns restocked lines and skips the rest",
          "[connectors][shopify_webhook]") {
  const auto catalog = test_catalog();
  std::string body = R"({"id": 509562969, "order_id": 450789469,
    "created_at": "2026-11-28T09:00:00+01:00", "note": "damaged box", "restock": true,
    "refund_line_items": [
      {"id": 104689539, "line_item_id": 1, "quantity": 1, "restock_type": "return",
       "location_id": 487838322, "line_item": {"id": 1, "sku": "SHOP-MUG", "quantity": 5}},
      {"id": 104689540, "line_item_id": 2, "quantity": 1, "restock_type": "no_restock",
       "line_item": {"id": 2, "sku": "TSHIRT-RED-M"}},
      {"id": 104689541, "line_item_id": 4, "quantity": 1, "restock_type": "cancel",
       "line_item": {"id": 4, "sku": "SHOP-MUG"}}],
    "transactions": [{"id": 1, "amount": "9.00", "kind": "refund"}]})";
  auto decoded = conn::decode_shopify_webhook(body, envelope("refunds/create"), catalog, {});
  REQUIRE(decoded);
  REQUIRE(decoded->events.size() == 1);
  const auto& ev = *decoded->events[0].ev;
  CHECK(ev.type == engine::event_type::return_received);
  CHECK(ev.return_disposition == engine::disposition::restock);
  CHECK(ev.id == "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043:104689539");
  CHECK(ev.order_id == "450789469");
  CHECK(ev.line_id == "1");
  CHECK(ev.qty == 1);
  CHECK(ev.sku.str() == "MUG");
  CHECK(ev.occurred_at == *engine::parse_rfc3339("2026-11-28T08:00:00Z"));
  CHECK(decoded->lines_skipped == 2);
}

TEST_CASE("a topic that moves no stock is ignored without reading the body",
          "[connectors][shopify_webhook]") {
  const auto catalog = test_catalog();
  std::string body = "not even JSON";
  for (const char* topic : {"products/update", "orders/paid", "app/uninstalled", ""}) {
    auto decoded = conn::decode_shopify_webhook(body, envelope(topic), catalog, {});
    REQUIRE(decoded);
    CHECK(decoded->ignored);
    CHECK(decoded->events.empty());
  }
}

TEST_CASE("an unmapped Shopify SKU is a rejected line with the catalog miss",
          "[connectors][shopify_webhook]") {
  const auto catalog = test_catalog();
  std::string body = R"({"id": 1, "created_at": "2026-11-27T10:00:00Z",
    "line_items": [{"id": 1, "sku": "SHOP-MUG", "quantity": 1},
                   {"id": 2, "sku": "NOT-MAPPED", "quantity": 1}]})";
  auto decoded = conn::decode_shopify_webhook(body, envelope("orders/create"), catalog, {});
  REQUIRE(decoded);
  REQUIRE(decoded->events.size() == 2);
  CHECK(decoded->events[0].ev);
  CHECK_FALSE(decoded->events[1].ev);
  CHECK(decoded->events[1].error.field == "sku");
  CHECK(decoded->events[1].miss.kind == conn::miss_kind::unmapped_sku);
  CHECK(decoded->events[1].miss.sku == "NOT-MAPPED");
}

TEST_CASE("payloads that are not the topic's shape are refused naming the field",
          "[connectors][shopify_webhook]") {
  const auto catalog = test_catalog();
  struct bad {
    std::string topic;
    std::string body;
    int status;
    std::string says;
  };
  const std::vector<bad> cases = {
      {"orders/create", "{\"id\": 1, \"line_items\": [", 400, "malformed JSON"},
      {"orders/create", "[1, 2]", 422, "JSON object"},
      {"orders/create", R"({"created_at": "2026-11-27T10:00:00Z", "line_items": []})", 422,
       "order.id"},
      {"orders/create", R"({"id": 1, "line_items": []})", 422, "order.created_at"},
      {"orders/create", R"({"id": 1, "created_at": "yesterday", "line_items": []})", 422,
       "order.created_at"},
      {"orders/create", R"({"id": 1, "created_at": "2026-11-27T10:00:00Z"})", 422,
       "order.line_items"},
      {"orders/create",
       R"({"id": 1, "created_at": "2026-11-27T10:00:00Z", "line_items": [{"id": 1, "sku": "SHOP-MUG"}]})",
       422, "order.line_items[0].quantity"},
      {"orders/create",
       R"({"id": 1, "created_at": "2026-11-27T10:00:00Z", "line_items": [{"id": 1, "sku": "SHOP-MUG", "quantity": -1}]})",
       422, "order.line_items[0].quantity"},
      {"orders/create",
       R"({"id": 1, "created_at": "2026-11-27T10:00:00Z", "line_items": [{"id": 1, "sku": 5, "quantity": 1}]})",
       422, "order.line_items[0].sku"},
      {"orders/create",
       R"({"id": 1, "created_at": "2026-11-27T10:00:00Z", "line_items": [7]})", 422,
       "order.line_items[0] must be an object"},
      {"orders/cancelled", R"({"id": 1, "created_at": "2026-11-27T10:00:00Z", "line_items": []})",
       422, "order.cancelled_at"},
      {"refunds/create", R"({"order_id": 1, "created_at": "2026-11-27T10:00:00Z",
        "refund_line_items": [{"id": 1, "line_item_id": 1, "quantity": 1,
                               "line_item": {"sku": "SHOP-MUG"}}]})",
       422, "restock_type"},
  };
  for (const auto& c : cases) {
    std::string body = c.body;
    auto decoded = conn::decode_shopify_webhook(body, envelope(c.topic), catalog, {});
    INFO(c.topic << " " << c.body);
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().http_status == c.status);
    CHECK_THAT(decoded.error().message, Catch::Contains(c.says));
  }
}

TEST_CASE("a payload nested deeper than the limit is refused before it is read",
          "[connectors][shopify_webhook]") {
  const auto catalog = test_catalog();
  std::string body = R"({"id": 1, "created_at": "2026-11-27T10:00:00Z", "line_items": [], "x": )";
  for (std::size_t i = 0; i < conn::shopify_webhook_depth_max + 5; ++i) {
    body += "[";
  }
  for (std::size_t i = 0; i < conn::shopify_webhook_depth_max + 5; ++i) {
    body += "]";
  }
  body += "}";
  auto decoded = conn::decode_shopify_webhook(body, envelope("orders/create"), catalog, {});
  REQUIRE_FALSE(decoded);
  CHECK(decoded.error().http_status == 400);
  CHECK_THAT(decoded.error().message, Catch::Contains("deeper"));
}

TEST_CASE("more line items than the limit are refused rather than half-mapped",
          "[connectors][shopify_webhook]") {
  const auto catalog = test_catalog();
  std::string body = R"({"id": 1, "created_at": "2026-11-27T10:00:00Z", "line_items": [)";
  for (std::size_t i = 0; i <= conn::shopify_webhook_lines_max; ++i) {
    body += (i == 0 ? "" : ",") + std::string(R"({"id": )") + std::to_string(i) +
            R"(, "sku": "SHOP-MUG", "quantity": 1})";
  }
  body += "]}";
  auto decoded = conn::decode_shopify_webhook(body, envelope("orders/create"), catalog, {});
  REQUIRE_FALSE(decoded);
  CHECK(decoded.error().http_status == 422);
}

TEST_CASE("the signature is the base64 HMAC-SHA256 of the raw body under any live secret",
          "[connectors][shopify_webhook]") {
  // RFC 4231 test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
  CHECK(conn::shopify_hmac_base64("Jefe", "what do ya want for nothing?") ==
        "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
  const std::string body = order_create;
  const std::string good = conn::shopify_hmac_base64("new-secret", body);
  CHECK(conn::verify_shopify_hmac(body, good, {"new-secret"}));
  CHECK(conn::verify_shopify_hmac(body, good, {"old-secret", "new-secret"}));
  CHECK(conn::verify_shopify_hmac(body, conn::shopify_hmac_base64("old-secret", body),
                                  {"new-secret", "old-secret"}));
  CHECK_FALSE(conn::verify_shopify_hmac(body, good, {"old-secret"}));
  CHECK_FALSE(conn::verify_shopify_hmac(body, good, {}));
  CHECK_FALSE(conn::verify_shopify_hmac(body, good, {""}));
  CHECK_FALSE(conn::verify_shopify_hmac(body + " ", good, {"new-secret"}));
  CHECK_FALSE(conn::verify_shopify_hmac(body, "", {"new-secret"}));
  CHECK_FALSE(conn::verify_shopify_hmac(body, good.substr(0, 43), {"new-secret"}));
  std::string flipped = good;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  CHECK_FALSE(conn::verify_shopify_hmac(body, flipped, {"new-secret"}));
}
