#pragma once
// The `amazon` connector (DESIGN §6, reference/channels.md "Amazon"): Selling Partner API
// Listings Items, one SKU per call. Implements channel_client over the shared http_client.
//
// Wire contract (what SP-API, and simulator/amazon, take and answer):
//
// push — PATCH <endpoint>/listings/2021-08-01/items/<sellerId>/<sku>?marketplaceIds=<id>
//   x-amz-access-token: <the resolved credentials>
//   body: {"productType":"PRODUCT","patches":[{"op":"merge",
//          "path":"/attributes/fulfillment_availability",
//          "value":[{"fulfillment_channel_code":"DEFAULT","quantity":N}]}]}
//   `merge`, not `replace`, so the listing's lead time and restock date are kept. "PRODUCT" is
//   the product type SP-API takes for an offer-only patch (the listing's real type is not needed
//   to change its quantity). One SKU per call: batch_max() is 1, and the channel actor batches
//   to it. The SKU and the ids are percent-encoded into the path and query.
//
//   Answers:
//   200 {"status":"ACCEPTED"} → ok, the item applied (SP-API queues an accepted submission and
//       applies it within minutes; the channel's reconciliation reads catch one that later
//       fails). 200 {"status":"INVALID","issues":[{"code","severity"},...]} → ok, the item
//       rejected with the code of the first ERROR issue (of the first issue when none says
//       ERROR). Anything else in a 200 → server_error "invalid_response".
//   404 → ok, the item rejected with the error's code ("NotFound"): the listing does not exist
//       (the path is ours, so it is the SKU that is wrong, not the endpoint).
//   429 QuotaExceeded → throttled, retry_after from Retry-After when sent.
//   401, 403 → unauthorized; 408 → timeout; 5xx → server_error; other 4xx → bad_request (for a
//   batch of one the actor rejects the item); 1xx/3xx → server_error "unexpected_status_<n>".
//   timeout, connect/reset/TLS failure: as webhook_client.
//   Every answer's x-amzn-RateLimit-Limit (requests per second) comes back as
//   push_result::rate_limit_per_second, which the actor's token bucket adopts; its starting rate
//   and burst are the channel's requests_per_second / burst (5 and 5 for amazon).
//   x-amzn-RequestId comes back as push_result::request_id.
//
// read — GET the same path with &includedData=fulfillmentAvailability, one SKU per call.
//   Pacing: the actor takes one token of its limiter for every read() as for every push(), and
//   hands read() at most batch_max() SKUs, so with one SKU per read() reads stay inside the
//   same rate as pushes (SP-API meters getListingsItem on its own bucket, so sharing one is on
//   the safe side). read() therefore takes at most one SKU.
//   200 {"fulfillmentAvailability":[{"fulfillmentChannelCode":"DEFAULT","quantity":N}]} → N;
//   no DEFAULT entry (the listing has no quantity) or 404 NotFound → ok with nothing reported
//   (asking again would not change it). Other statuses and failures → not ok, code says which.
//
// The access token is used as given: SP-API's Login-with-Amazon tokens last an hour, so the
// credentials reference must name one kept fresh outside stockd (the refresh-token exchange is
// not in this version).
#include <chrono>
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

struct amazon_options {
  engine::channel_id channel;
  std::string endpoint;  // scheme://host[:port], e.g. https://sellingpartnerapi-na.amazon.com
  std::string access_token;  // resolved from the credentials reference; never logged
  std::string seller_id;
  std::string marketplace_id;
  /// Per-call deadline; unset: the http client's request_timeout.
  std::optional<std::chrono::milliseconds> timeout;
};

class amazon_client final : public channel_client {
public:
  /// `http` must outlive this client.
  amazon_client(http_client& http, amazon_options options);
  /// From the channel's config: resolves `credentials` (an error message for the start-up
  /// report when it cannot, naming the reference, never the secret).
  static result<std::unique_ptr<amazon_client>, std::string>
  create(http_client& http, const channel_options& channel);

  /// patchListingsItem names one SKU in its path.
  std::size_t batch_max() const override { return 1; }
  void push(std::vector<push_item> batch, std::function<void(push_result)> done) override;
  /// At most one SKU (see "read" above).
  void read(std::vector<engine::sku_id> skus, std::function<void(read_result)> done) override;

private:
  http_client& http_;
  amazon_options options_;
};

// The wire format's pieces, pure, for tests.
/// <endpoint>/listings/2021-08-01/items/<seller>/<sku>?marketplaceIds=<marketplace>
std::string amazon_item_url(const amazon_options& options, const engine::sku_id& sku);
std::string amazon_patch_body(std::int64_t quantity);
push_result amazon_push_outcome(const http_result& answer,
                                std::chrono::system_clock::time_point now);
read_result amazon_read_outcome(const http_result& answer, const engine::sku_id& sku);

} // namespace stockd::connectors
