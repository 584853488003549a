#pragma once
// POST /v1/webhooks/shopify and /v1/webhooks/shopify/{channel} (DESIGN §5): Shopify's webhook
// deliveries, verified by their HMAC and mapped to events (connectors/shopify_webhook.hpp), then
// journaled like POST /v1/events.
//
// The channel is the one named in the path, or the one whose `shop_domain` is the delivery's
// X-Shopify-Shop-Domain. Answers:
//   401  no X-Shopify-Hmac-Sha256, or it matches none of the channel's secrets (the body is not
//        read further; nothing is journaled)
//   404  no such channel, or it takes no webhooks (no webhook_secret)
//   400  X-Shopify-Topic or X-Shopify-Webhook-Id missing or malformed, the body not JSON
//   422  the payload is not the topic's, or names a SKU the channel's mapping lacks (listed in
//        /v1/status "unmapped"): nothing of it is journaled, so Shopify's retry brings all of it
//        once the mapping is fixed
//   200  {"topic", "ignored": true} for a topic that moves no stock; else POST /v1/events'
//        answer ({"results": [...]}, a retried delivery's lines "duplicate")
//   409  a cancel or refund of an order line stockd has not seen yet (deliveries are unordered):
//        nothing journaled, Shopify retries
//   503  with Retry-After while recovering or overloaded (Shopify retries)
// The body limit (server.body_bytes_max) is enforced by the transport before the HMAC is
// computed. Secrets never appear in answers or logs.
#include <optional>
#include <string>
#include <vector>

#include "connectors/channel_options.hpp"
#include "engine/ids.hpp"
#include "engine/result.hpp"
#include "engine/time.hpp"

namespace stockd::server {

/// A channel that takes webhooks, with its secrets resolved (never logged).
struct shopify_webhook_channel {
  engine::channel_id channel;
  std::string shop_domain;             // "" when deliveries name the channel in the path
  std::string secret;
  std::string previous_secret;         // "" outside a rotation
  std::optional<engine::timestamp> previous_until;

  /// The secrets a delivery at `now` may be signed with.
  std::vector<std::string> secrets_at(engine::timestamp now) const;
};

/// Resolves the `webhook_secret` references of the channels that have one (at start-up). An
/// error names the channel and the reference, never a secret; two channels with one shop_domain
/// are an error too.
stockd::result<std::vector<shopify_webhook_channel>, std::string>
resolve_shopify_webhooks(const std::vector<connectors::channel_options>& channels);

} // namespace stockd::server
