// Fuzzes the Shopify webhook decoder and signature check (connectors/shopify_webhook.hpp). The
// first input byte picks the topic (bits 0-1: orders/create, orders/cancelled, refunds/create,
// another topic) and the channel (bit 2: "erp", whose SKUs go through a mapping table, or "shop",
// whose pass through); the rest is the body. Beyond "no crash, no sanitizer report":
//  - decoding is deterministic and leaves the body unchanged;
//  - an error is a 400 or a 422 with a message; a topic that moves no stock is ignored;
//  - every mapped event is the topic's type, from the channel, with an id made of the webhook id
//    and a line id, a quantity within 1..qty_max, bounded ids, no location (placement decides)
//    and the channel set exactly on orders; its journal encoding decodes to itself;
//  - a rejected line names sku, id or qty; an unmapped SKU carries its catalog miss;
//  - the signature of the body verifies under its secret and not under another.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "connectors/shopify_webhook.hpp"
#include "engine/codec.hpp"
#include "engine/kits.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

namespace connectors = stockd::connectors;
namespace engine = stockd::engine;
namespace fuzz = stockd::fuzz;

constexpr connectors::decode_limits limits{
    .events_max = 16, .string_bytes_max = 48, .qty_max = 1'000'000, .depth_max = 4};

constexpr std::string_view topics[] = {"orders/create", "orders/cancelled", "refunds/create",
                                       "products/update"};
constexpr std::string_view webhook_id = "b54557e4-bdd9-4b37";

bool bounded(std::string_view text) {
  return !text.empty() && text.size() <= limits.string_bytes_max;
}

engine::event_type type_of(std::string_view topic) {
  if (topic == "orders/create") {
    return engine::event_type::order_created;
  }
  if (topic == "orders/cancelled") {
    return engine::event_type::order_cancelled;
  }
  return engine::event_type::return_received;
}

void check_event(const connectors::decoded_event& decoded,
                 const connectors::shopify_webhook_envelope& envelope,
                 const engine::catalog& catalog) {
  const engine::event& ev = *decoded.ev;
  FUZZ_CHECK(decoded.error.field.empty() && decoded.miss.kind == connectors::miss_kind::none);
  FUZZ_CHECK(decoded.id == ev.id);
  FUZZ_CHECK(ev.type == type_of(envelope.topic));
  FUZZ_CHECK(ev.source.str() == envelope.channel.str());
  FUZZ_CHECK(bounded(ev.id) && ev.id.starts_with(std::string(webhook_id) + ":"));
  FUZZ_CHECK(bounded(ev.order_id) && bounded(ev.line_id));
  FUZZ_CHECK(ev.qty >= 1 && ev.qty <= limits.qty_max);
  FUZZ_CHECK(ev.location.str().empty());
  FUZZ_CHECK((ev.type == engine::event_type::order_created) == !ev.channel.str().empty());
  FUZZ_CHECK(!ev.sku.str().empty());
  if (catalog.has_sku_mapping(ev.source)) {
    FUZZ_CHECK(catalog.find_sku(ev.sku) != nullptr);
  }
  const auto kit = catalog.kit_components(ev.sku);
  FUZZ_CHECK(decoded.components.size() == kit.size());
  std::vector<const engine::event*> journaled{&ev};
  for (const auto& component : decoded.components) {
    FUZZ_CHECK(component.qty >= 1 && component.qty <= limits.qty_max);
    FUZZ_CHECK(bounded(component.id) && bounded(component.line_id));
    journaled.push_back(&component);
  }
  for (const engine::event* one : journaled) {
    std::string bytes;
    const engine::journal_entry entry{7, one->occurred_at, *one};
    engine::encode(entry, bytes);
    const auto back = engine::decode_journal_entry(bytes);
    FUZZ_CHECK(back && *back == entry);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const engine::catalog catalog = fuzz::fuzz_catalog();
  if (size == 0) {
    return 0;
  }
  connectors::shopify_webhook_envelope envelope;
  envelope.topic = std::string(topics[data[0] & 3]);
  envelope.channel = engine::channel_id((data[0] & 4) != 0 ? "erp" : "shop");
  envelope.webhook_id = std::string(webhook_id);
  const std::string original(reinterpret_cast<const char*>(data + 1), size - 1);

  std::string body = original;
  auto result = connectors::decode_shopify_webhook(body, envelope, catalog, limits);
  FUZZ_CHECK(body == original);
  std::string body_again = original;
  auto again = connectors::decode_shopify_webhook(body_again, envelope, catalog, limits);
  FUZZ_CHECK(result.has_value() == again.has_value());

  const std::string signature = connectors::shopify_hmac_base64("secret", original);
  FUZZ_CHECK(signature.size() == 44);
  FUZZ_CHECK(connectors::verify_shopify_hmac(original, signature, {"old", "secret"}));
  FUZZ_CHECK(!connectors::verify_shopify_hmac(original, signature, {"other"}));

  if (!result) {
    FUZZ_CHECK(result.error().http_status == 400 || result.error().http_status == 422);
    FUZZ_CHECK(!result.error().message.empty());
    FUZZ_CHECK(result.error().message == again.error().message);
    return 0;
  }
  FUZZ_CHECK(result->ignored == !connectors::shopify_topic_moves_stock(envelope.topic));
  FUZZ_CHECK(result->events.size() == again->events.size());
  FUZZ_CHECK(result->events.size() + result->lines_skipped + result->lines_without_sku <=
             connectors::shopify_webhook_lines_max);
  for (std::size_t i = 0; i < result->events.size(); ++i) {
    const auto& decoded = result->events[i];
    const auto& twin = again->events[i];
    FUZZ_CHECK(decoded.id == twin.id && decoded.ev == twin.ev &&
               decoded.components == twin.components && decoded.error == twin.error);
    if (!decoded.ev) {
      FUZZ_CHECK(!decoded.error.reason.empty());
      FUZZ_CHECK(decoded.error.field == "sku" || decoded.error.field == "id" ||
                 decoded.error.field == "qty");
      FUZZ_CHECK(decoded.components.empty());
      if (decoded.miss.kind != connectors::miss_kind::none) {
        FUZZ_CHECK(decoded.error.field == "sku");
      }
      continue;
    }
    check_event(decoded, envelope, catalog);
  }
  return 0;
}
