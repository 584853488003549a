#pragma once
// The `shopify` connector (DESIGN §6, reference/channels.md "Shopify"): the GraphQL Admin API's
// inventorySetQuantities for the `available` quantity at one location. Implements
// channel_client over the shared http_client.
//
// Wire contract:
//
// Every call — POST <endpoint> (https://<shop>/admin/api/<version>/graphql.json), headers
//   Content-Type: application/json, X-Shopify-Access-Token: <token>; body {"query","variables"}.
//
// SKU → inventory item: the mutation names inventory items by GID, stockd names SKUs. The client
//   resolves SKUs with the inventoryItems query (variables first = 250, after = cursor, query =
//   "sku:\"A\" OR sku:\"B\" ...") page by page until every SKU asked for was seen, there is no
//   next page, or lookup_pages_max pages were read, and caches every (SKU, GID) it sees, up to
//   item_ids_max (then the cache starts over: a GID never changes, so forgetting one only costs
//   a lookup). A SKU still not found is answered `rejected` "SKU_NOT_FOUND" alone; the rest of
//   the batch goes on. The location is the channel's `shopify_location` GID from the config: one
//   channel pushes one location's `available` (a shop selling from several Shopify locations is
//   configured as one channel per location).
//
// push — one mutation per batch (at most 250 quantities):
//   inventorySetQuantities(input: {name: "available", reason: "correction",
//     referenceDocumentUri: "gid://stockd/Push/<key>", quantities: [{inventoryItemId, locationId,
//     quantity, changeFromQuantity}]}) @idempotent(key: <key>)
//   <key> is the lowercase hex SHA-256 of "<item key>:<changeFromQuantity or ->" per item joined
//   by "\n" (the webhook connector's Idempotency-Key, with the compare quantity as the
//   observation it was made on), so a retried batch replays instead of applying twice, and a
//   retry whose compare quantity moved is a new operation rather than a key reused with other
//   variables (which Shopify refuses: IDEMPOTENCY_KEY_PARAMETER_MISMATCH). Never from the
//   quantity.
//   changeFromQuantity is push_item::change_from, or an explicit null (required from 2026-04).
//
//   Answers:
//   no userErrors → every item applied.
//   userErrors → the mutation applied nothing (all or nothing, channels.md). Each error names its
//     item by `field` ["input","quantities","<i>",...]: CHANGE_FROM_QUANTITY_STALE → stale, any
//     other code → rejected with it. The items without an error are sent once more on their own
//     (a new key from their keys) so one bad item does not hold back the batch; if that call
//     fails too, they are `retry` with its code. A userError naming no item → bad_request (the
//     channel actor splits the batch).
//   top-level errors: THROTTLED → throttled, retry_after = (requested − available) / restoreRate
//     from the answer's cost; IDEMPOTENCY_CONCURRENT_REQUEST, INTERNAL_SERVER_ERROR →
//     server_error; ACCESS_DENIED → unauthorized; any other code → bad_request with it.
//   HTTP statuses, timeouts and network failures as the webhook connector maps them (429 →
//     throttled, 5xx → server_error, 401/403/404 → unauthorized, ...).
//   Every answer's extensions.cost.throttleStatus comes back as push_result::throttle (the last
//   call's, when a push took several), so the channel actor paces on the shop's real bucket.
//
// read — the same inventoryItems query for the SKUs; each SKU's `available` at the location.
//   SKUs the shop does not have (or not at the location) are left out.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/channel_client.hpp"
#include "connectors/channel_options.hpp"
#include "connectors/http_client.hpp"
#include "engine/result.hpp"

namespace stockd::connectors {

struct shopify_options {
  std::string endpoint;
  std::string access_token;  // resolved from the credentials reference; never logged
  std::string location;      // gid://shopify/Location/<n>
  std::size_t batch_max = shopify_quantities_max;
  /// Per-call deadline; unset: the http client's request_timeout.
  std::optional<std::chrono::milliseconds> timeout;
  /// SKU → inventory item GIDs remembered at most.
  std::size_t item_ids_max = 100'000;
  /// Pages one lookup or read reads at most (a shop that ignores the sku filter is walked
  /// whole: 40 pages are 10,000 items).
  std::size_t lookup_pages_max = 40;
};

class shopify_client final : public channel_client {
public:
  /// `http` must outlive this client and every call it has in flight.
  shopify_client(http_client& http, shopify_options options);
  /// From the channel's config: resolves `credentials` (an error message for the start-up
  /// report when it cannot, naming the reference, never the token).
  static result<std::unique_ptr<shopify_client>, std::string>
  create(http_client& http, const channel_options& channel);

  std::size_t batch_max() const override;
  void push(std::vector<push_item> batch, std::function<void(push_result)> done) override;
  void read(std::vector<engine::sku_id> skus, std::function<void(read_result)> done) override;

  /// The state calls in flight share with the client (the cache of item GIDs).
  struct shared;

private:
  std::shared_ptr<shared> shared_;
};

// The wire format's pieces, pure, for tests.
std::string shopify_set_body(const std::vector<push_item>& batch,
                             const std::vector<std::string>& item_ids, std::string_view location,
                             std::string_view key);
std::string shopify_idempotency_key(const std::vector<push_item>& batch);
std::string shopify_items_body(const std::vector<engine::sku_id>& skus,
                               const std::optional<std::string>& after);
/// (requested − available) / restoreRate, rounded up; nullopt when the bucket restores nothing.
std::optional<std::chrono::milliseconds> shopify_throttle_wait(double requested,
                                                               const throttle_status& status);

} // namespace stockd::connectors
