#pragma once
// How stockd reaches one sales channel's API (DESIGN §6, §7 [[channels]]): the connector, where it
// is, which secret it uses and how fast and in what batches it may push. The engine's half of a
// channel (its locations and rules) is engine::channel_info; config/ builds both from one table.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/rate_limiter.hpp"
#include "engine/ids.hpp"
#include "engine/time.hpp"

namespace stockd::connectors {

/// `none`: stockd computes what the channel should show (GET /v1/skus, out-of-sync with reason
/// `no_connector`) and pushes nothing: a channel another tool still syncs (running stockd
/// beside it before trusting it), or one stockd only reports on.
enum class connector_kind : std::uint8_t { shopify, amazon, webhook, none };

/// "event": push as soon as availability changes (the default). "interval": push every
/// `push_interval` only (the periodic batch sync most merchants run today; the simulator's
/// baseline).
enum class push_mode : std::uint8_t { event, interval };

/// What reconciliation does with a variance it finds (connectors/reconcile.hpp): record it;
/// record it and fix it; record it and raise an alert.
enum class reconcile_policy : std::uint8_t { report, correct, alert };
/// "live": push (the default). "shadow": a parallel run before go-live: compute and record what
/// would be pushed, read back what the channel shows every `shadow_read_interval`, report how
/// well they agree, and never write (connectors/shadow_report.hpp).
enum class channel_mode : std::uint8_t { live, shadow };

struct channel_options {
  engine::channel_id id;
  connector_kind connector = connector_kind::webhook;
  std::string endpoint;     // https://... (http:// only for loopback emulators)
  std::string credentials;  // a reference such as "env:SHOPIFY_TOKEN", never the secret itself
  // Amazon only (required there): the selling account the listings belong to (the path's
  // {sellerId}) and the marketplace they are sold in (marketplaceIds=). Not secrets.
  std::string seller_id;
  std::string marketplace_id;
  /// Amazon only: Login with Amazon's token endpoint, for credentials in the refresh-token form
  /// (connectors/amazon_client.hpp); empty: https://api.amazon.com/auth/o2/token.
  std::string lwa_endpoint;
  /// Shopify only: the Location GID whose `available` this channel sets
  /// ("gid://shopify/Location/<n>"); one channel per Shopify location.
  std::string shopify_location;
  // Pacing of the token-bucket connectors (Amazon's is 5/s burst 5, its default when the file
  // names none; the webhook's is the receiver's; a rate an answer reports lowers it, never
  // raises it). Shopify does not take them: it paces on the cost bucket its answers report.
  double requests_per_second = 2.0;
  std::int64_t burst = 2;
  std::int64_t batch_size = 100;  // items per API call (Shopify <= 250)
  push_mode push = push_mode::event;
  std::chrono::milliseconds push_interval{60'000};
  /// Increases wait this long for more changes (decreases never wait).
  std::chrono::milliseconds settle{0};
  /// How long units the channel sold without stockd seeing the order (found by a stale
  /// compare-and-set or a read) are held back waiting for it: the slowest the channel's order
  /// webhooks are expected to be. Past it they are released and the channel is read again.
  std::chrono::milliseconds unseen_hold{15 * 60'000};
  /// Inbound Shopify webhooks (POST /v1/webhooks/shopify, connectors/shopify_webhook.hpp), for
  /// connector "shopify" or "none": the app secret that signs them, as a reference like
  /// `credentials` ("env:NAME", "file:/path"); empty: the channel takes no webhooks.
  std::string webhook_secret;
  /// During a rotation, the secret being replaced, accepted as well until
  /// `webhook_secret_previous_until` (Shopify may sign with it for up to an hour).
  std::string webhook_secret_previous;
  std::optional<engine::timestamp> webhook_secret_previous_until;
  /// The shop's X-Shopify-Shop-Domain ("example.myshopify.com"): picks the channel for
  /// deliveries to POST /v1/webhooks/shopify without a channel in the path.
  std::string shop_domain;
  /// The target time of a full reconciliation cycle (every SKU read back once), which paces the
  /// sweep; 0: no scheduled runs (POST /v1/admin/reconcile/{channel} still starts one).
  std::chrono::seconds reconcile_cycle{0};
  reconcile_policy reconcile = reconcile_policy::report;
  channel_mode mode = channel_mode::live;
  /// Shadow mode: how often every SKU the channel knows is read back and compared.
  std::chrono::milliseconds shadow_read_interval{60'000};
};

/// channels.md: at most 250 items in one input array; also the largest page of a connection.
inline constexpr std::size_t shopify_quantities_max = 250;
/// A read of n SKUs asks for a page of n + this many items (shopify_items_body).
inline constexpr std::size_t shopify_read_slack = 10;

/// Shopify's bucket as stockd assumes it until the first answer reports the real one (the
/// older guides' 1,000 points at 50/s: the smallest plan's, so a first burst cannot overdraw).
/// A mutation costs about 10 points; a query asks 2 + `first` points, and a read of n SKUs asks
/// for a page of n + shopify_read_slack items (at most 250). Asking for a page of 250 whatever
/// was read made a read of one SKU wait for 252 points: 2.5 s of a drained bucket at 100
/// points/s, while a flash sale went on (stocksim flash_sale --hot-stock 150).
inline constexpr double shopify_push_cost = 10;
inline constexpr double shopify_read_cost_base = 2.0 + static_cast<double>(shopify_read_slack);
inline constexpr double shopify_read_cost_per_sku = 1;
inline constexpr double shopify_read_cost_max = 2.0 + static_cast<double>(shopify_quantities_max);

/// A token-bucket channel is paced at this share of its rate. The API's bucket runs at the same
/// rate, so at 100 % both sit near empty and any jitter in transit (two calls arriving closer
/// than they were sent) is a 429; 5 % spare refills the API's bucket between calls. Measured
/// with benchmarks/channel_push.sh: at 100 %, 5-8 of ~190 calls throttled; at 95 %, none.
inline constexpr double token_pace = 0.95;

/// The limiter a channel actor paces this channel's calls with (see call_limiter).
call_limiter limiter_for(const channel_options& options, limiter_time now);

std::string_view to_string(connector_kind kind) noexcept;
std::string_view to_string(push_mode mode) noexcept;
std::string_view to_string(channel_mode mode) noexcept;

} // namespace stockd::connectors
