#pragma once
// Inbound adapter for POST /v1/webhooks/shopify (DESIGN §5): Shopify's webhook deliveries mapped
// to stockd events, and the check of their signature. Pure functions: the server decides what to
// journal and what to answer (server/shopify_webhooks.hpp).
//
// Signature: `X-Shopify-Hmac-Sha256` is the base64 of HMAC-SHA256 over the raw body, keyed with
// the app's secret (reference/channels.md). During a secret rotation Shopify may sign with the
// old secret for up to an hour, so more than one secret may be accepted.
//
// Mapping (the source of every event is the channel's id; the event id is
// "<X-Shopify-Webhook-Id>:<line item id>", so a retried delivery is a duplicate line by line):
//   orders/create     each line item with a SKU → order_created (qty = quantity, channel set,
//                     no location: the channel's priority places it, DESIGN §2)
//   orders/cancelled  each line item with a SKU → order_cancelled of the part not fulfilled
//                     (quantity minus the line's quantities in successful fulfillments); a line
//                     fully fulfilled is skipped
//   refunds/create    each refund line with restock_type "return" → return_received
//                     (disposition restock); "cancel" lines are skipped (the order's
//                     cancellation carries them: orders/cancelled), as are "no_restock" and
//                     "legacy_restock" (nothing came back to stock)
// Any other topic moves no stock: it is answered and ignored (Shopify disables a subscription
// that keeps failing). A line item without a SKU (a custom item, a tip, a gift card) is not
// stock: skipped and counted. The Shopify SKU goes through the channel's SKU mapping (the
// channel id is the source) and kit expansion, like any event.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/event_decoder.hpp"
#include "engine/catalog.hpp"
#include "engine/ids.hpp"
#include "engine/result.hpp"

namespace stockd::connectors {

/// The delivery's headers the mapping needs.
struct shopify_webhook_envelope {
  engine::channel_id channel;  // the channel the shop is; the events' source too
  std::string topic;           // X-Shopify-Topic, e.g. "orders/create"
  std::string webhook_id;      // X-Shopify-Webhook-Id: the same on every retry of a delivery
};

struct shopify_webhook_decoded {
  bool ignored = false;                 // a topic that moves no stock: nothing to journal
  std::vector<decoded_event> events;    // may hold rejected ones (an unmapped SKU): see below
  std::size_t lines_without_sku = 0;    // line items that are not stock
  std::size_t lines_skipped = 0;        // lines that move nothing (fulfilled, no restock)
};

/// Nesting of a Shopify payload (an order's line items' tax lines' price sets' amounts reach
/// depth 7; a refund's 9): deeper is refused before anything is read.
inline constexpr std::size_t shopify_webhook_depth_max = 32;
/// Line items (orders) or refund lines per delivery: more is refused rather than half-mapped.
inline constexpr std::size_t shopify_webhook_lines_max = 1000;

/// Topics the mapping turns into events.
bool shopify_topic_moves_stock(std::string_view topic) noexcept;

/// Maps one delivery. Errors: 400 for a body that is not JSON or nests deeper than
/// shopify_webhook_depth_max; 422 for JSON that is not the topic's payload (a missing or
/// mistyped field, named in the message). An event whose SKU the catalog does not know is in
/// `events` with its error and `miss` set: the caller refuses the whole delivery (422) so that
/// nothing of it is half-applied and Shopify's retry, after the mapping is fixed, brings all of
/// it. `body` may be reallocated to add simdjson's padding; its content is unchanged.
stockd::result<shopify_webhook_decoded, body_error>
decode_shopify_webhook(std::string& body, const shopify_webhook_envelope& envelope,
                       const engine::catalog& catalog, const decode_limits& limits);

/// base64(HMAC-SHA256(secret, body)): what Shopify puts in X-Shopify-Hmac-Sha256.
std::string shopify_hmac_base64(std::string_view secret, std::string_view body);

/// Whether `header` (base64) is the HMAC of `body` under one of `secrets` (empty ones are
/// skipped). Every secret is tried and compared in constant time, so the time taken says
/// nothing about which secret matched or how many bytes did.
bool verify_shopify_hmac(std::string_view body, std::string_view header,
                         const std::vector<std::string>& secrets);

} // namespace stockd::connectors
