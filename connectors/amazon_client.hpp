#pragma once
// The `amazon` connector (DESIGN §6, reference/channels.md "Amazon"): Selling Partner API
// Listings Items, one SKU per call, and JSON_LISTINGS_FEED for the bulk lane. Implements
// channel_client over the shared http_client.
//
// Wire contract (what SP-API, and simulator/amazon, take and answer):
//
// push — PATCH <endpoint>/listings/2021-08-01/items/<sellerId>/<sku>?marketplaceIds=<id>
//   x-amz-access-token: <the access token (see "Credentials" below)>
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
// push_bulk — one JSON_LISTINGS_FEED (Feeds API 2021-06-30), asynchronously, in five steps:
//   1. POST <endpoint>/feeds/2021-06-30/documents {"contentType":"application/json; charset=UTF-8"}
//      → 201 {"feedDocumentId","url"}
//   2. PUT <url> the feed document (Content-Type as above; the URL is presigned: no access token)
//      {"header":{"sellerId","version":"2.0","issueLocale":"en_US"},"messages":[{"messageId":i,
//       "sku","operationType":"PATCH","productType":"PRODUCT","patches":[<push's merge patch>]}]}
//      messageIds 1..n in batch order. The document stays under 10 MiB: a batch whose document
//      would not fits only its first items; the others come back `retry` "not_in_feed".
//   3. POST <endpoint>/feeds/2021-06-30/feeds {"feedType":"JSON_LISTINGS_FEED",
//      "marketplaceIds":[<id>],"inputFeedDocumentId"} → 202 {"feedId"}; its x-amzn-RequestId is
//      push_result::request_id.
//   4. GET <endpoint>/feeds/2021-06-30/feeds/<feedId> after feed_poll_first (1 s), the wait
//      doubling to feed_poll_max (30 s), never past the deadline (feed_deadline, 30 min, from
//      the call): IN_QUEUE / IN_PROGRESS → poll again; DONE → 5; FATAL → server_error
//      "feed_fatal"; CANCELLED → server_error "feed_cancelled".
//   5. GET <endpoint>/feeds/2021-06-30/documents/<resultFeedDocumentId> → {"url"} (a
//      compressionAlgorithm → server_error "unsupported_compression"), then GET <url>, the
//      processing report {"issues":[{"messageId","code","severity"}],"summary":{...}}: ok, each
//      item applied unless an ERROR issue names its messageId (rejected, with the first such
//      issue's code); WARNINGs and issues about no message are ignored.
//   Steps 1-3 fail as push() does (429 throttled with Retry-After, 401/403 unauthorized, 5xx
//   server_error, other 4xx bad_request, transport failures as transport_failure()): nothing was
//   submitted. Except the upload's 4xx (other than 408/429): server_error "feed_upload_<n>",
//   since a presigned URL's refusal blames neither the credentials nor an item.
//   Once the feed exists, a poll or report read that gets 429, 408, 5xx or no answer is tried
//   again at the next interval (a 429's Retry-After when longer), since a resubmission would
//   spend one of the 5 feeds per 5 minutes; but an answer over the http client's body limit
//   (a report of very many issues) is not: network. 401/403 → unauthorized; another 4xx (the feed
//   or report gone) → server_error "feed_lost_<status>". Past the deadline → timeout "timeout".
//   The http client shutting down (or this client being destroyed) ends a feed at its next step
//   with network "cancelled: ...". `done` exactly once on every path. Pacing of feeds is the
//   actor's, from bulk(): 25,000 items, 5 per 300 s, burst 5.
//
// Credentials — the channel's `credentials` reference resolves to either
//   - an access token, sent as it is in x-amz-access-token (kept fresh outside stockd), or
//   - a JSON object {"client_id","client_secret","refresh_token"} (Login with Amazon): the
//     client POSTs <lwa_endpoint> (default https://api.amazon.com/auth/o2/token)
//       Content-Type: application/x-www-form-urlencoded;charset=UTF-8
//       grant_type=refresh_token&refresh_token=..&client_id=..&client_secret=.. (percent-encoded)
//     → 200 {"access_token","token_type":"bearer","expires_in":<s>}, caches the token, and gets a
//     new one when it has less than token_refresh_margin (60 s) left (half-way through the life
//     of a token that lives less than twice that), or once when SP-API
//     answers 401/403 to it (the call is then sent again, once). One refresh at a time: calls
//     meanwhile wait for it, at most amazon_token_waiters_max (1,024), past it `overloaded`
//     (→ network). LWA refusing (400 invalid_grant, 401 invalid_client) → unauthorized, code
//     "lwa_<error>"; its 429 / 5xx / no answer → throttled / server_error / as
//     transport_failure, code prefixed "lwa". The secrets go only into that form body: never
//     into logs, codes or error messages.
#include <atomic>
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

// JSON_LISTINGS_FEED, the bulk call type (reference/channels.md "Amazon").
/// Messages per feed.
inline constexpr std::size_t amazon_feed_messages_max = 25'000;
/// A feed document must be smaller than this; a batch whose document would not be is cut (see
/// push_bulk).
inline constexpr std::size_t amazon_feed_bytes_max = 10 * 1024 * 1024;
/// createFeed: 5 submissions per 5 minutes, burst 5.
inline constexpr double amazon_feeds_per_second = 5.0 / 300.0;
inline constexpr double amazon_feed_burst = 5;
/// The longest one feed may take, submission to report: SP-API runs feeds of one type one after
/// another, so a feed may wait behind others for minutes.
inline constexpr std::chrono::milliseconds amazon_feed_deadline{30 * 60'000};
/// getFeed polling: the first wait, doubled after each poll up to the last.
inline constexpr std::chrono::milliseconds amazon_feed_poll_first{1'000};
inline constexpr std::chrono::milliseconds amazon_feed_poll_max{30'000};

// Login with Amazon.
inline constexpr std::string_view amazon_lwa_endpoint = "https://api.amazon.com/auth/o2/token";
/// A cached access token is refreshed when it has less than this left.
inline constexpr std::chrono::milliseconds amazon_token_refresh_margin{60'000};
/// Calls waiting for a token while one refresh is in flight; past it, `overloaded`.
inline constexpr std::size_t amazon_token_waiters_max = 1'024;

/// The refresh-token form of the credentials (see "Credentials" above). Secrets: never logged.
struct lwa_credentials {
  std::string client_id;
  std::string client_secret;
  std::string refresh_token;
};

struct amazon_options {
  engine::channel_id channel;
  std::string endpoint;  // scheme://host[:port], e.g. https://sellingpartnerapi-na.amazon.com
  /// The fixed form: the access token itself; empty when `lwa` is set. Never logged.
  std::string access_token;
  /// The refresh-token form: the client exchanges it at `lwa_endpoint` for access tokens.
  std::optional<lwa_credentials> lwa;
  std::string lwa_endpoint = std::string(amazon_lwa_endpoint);
  std::chrono::milliseconds token_refresh_margin = amazon_token_refresh_margin;
  std::string seller_id;
  std::string marketplace_id;
  /// Per-call deadline; unset: the http client's request_timeout.
  std::optional<std::chrono::milliseconds> timeout;
  // push_bulk (tests shorten them).
  std::chrono::milliseconds feed_deadline = amazon_feed_deadline;
  std::chrono::milliseconds feed_poll_first = amazon_feed_poll_first;
  std::chrono::milliseconds feed_poll_max = amazon_feed_poll_max;
};

struct amazon_token_source;  // amazon_client.cpp: the token, fixed or cached from LWA

/// Reads the resolved credentials: a JSON object {"client_id","client_secret","refresh_token"}
/// (all three non-empty strings) is the refresh-token form, into `out.lwa`; anything else that
/// does not start with '{' is an access token, into `out.access_token`. An error message that
/// names no secret.
std::optional<std::string> parse_amazon_credentials(std::string secret, amazon_options& out);

class amazon_client final : public channel_client {
public:
  /// `http` must outlive this client.
  amazon_client(http_client& http, amazon_options options);
  /// Feeds in flight end at their next step, answering `network` "cancelled: ...".
  ~amazon_client() override;
  amazon_client(const amazon_client&) = delete;
  amazon_client& operator=(const amazon_client&) = delete;
  /// From the channel's config: resolves `credentials` (an error message for the start-up
  /// report when it cannot, naming the reference, never the secret).
  static result<std::unique_ptr<amazon_client>, std::string>
  create(http_client& http, const channel_options& channel);

  /// patchListingsItem names one SKU in its path.
  std::size_t batch_max() const override { return 1; }
  void push(std::vector<push_item> batch, std::function<void(push_result)> done) override;
  /// At most one SKU (see "read" above).
  void read(std::vector<engine::sku_id> skus, std::function<void(read_result)> done) override;

  /// JSON_LISTINGS_FEED: {25,000 items, 5 per 300 s, burst 5, options.feed_deadline}.
  std::optional<bulk_limits> bulk() const override;
  /// One feed (see "push_bulk" above). `http` must outlive the feed too.
  void push_bulk(std::vector<push_item> batch, std::function<void(push_result)> done) override;

private:
  http_client& http_;
  amazon_options options_;
  /// Set by the destructor; a feed in flight reads it before each step.
  std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<amazon_token_source> tokens_;
};

// The wire format's pieces, pure, for tests.
/// <endpoint>/listings/2021-08-01/items/<seller>/<sku>?marketplaceIds=<marketplace>
std::string amazon_item_url(const amazon_options& options, const engine::sku_id& sku);
std::string amazon_patch_body(std::int64_t quantity);
push_result amazon_push_outcome(const http_result& answer,
                                std::chrono::system_clock::time_point now);
read_result amazon_read_outcome(const http_result& answer, const engine::sku_id& sku);
/// The JSON_LISTINGS_FEED document of `batch`'s first `included` items (messageIds 1..included):
/// as many as keep it under `bytes_max`.
std::string amazon_feed_document(const amazon_options& options,
                                 const std::vector<push_item>& batch, std::size_t& included,
                                 std::size_t bytes_max = amazon_feed_bytes_max);
/// A processing report as one item_result per item of a batch of `items`, of which the first
/// `included` were in the feed; nullopt when it is not a report.
std::optional<std::vector<item_result>> amazon_feed_report_items(std::string_view report,
                                                                 std::size_t items,
                                                                 std::size_t included);

} // namespace stockd::connectors
