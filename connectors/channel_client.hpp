#pragma once
// The contract between a channel actor and the connector that speaks its channel's API
// (DESIGN §4 channel actor, §6 connectors). The actor decides what to push, when and how much
// (rules, coalescing, lanes, pacing, retries, circuit); the client only turns one batch into one
// API call and tells what the API answered, item by item. One client per channel account.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "connectors/rate_limiter.hpp"
#include "engine/ids.hpp"

namespace stockd::connectors {

struct http_result;  // connectors/http_client.hpp

/// One intended change: show `quantity` of `sku`. `idempotency_key` is made once per intended
/// change and reused on every retry of it (never derived from the quantity). `change_from` is the
/// quantity the engine believes the channel shows now (compare-and-set, where the API has it).
struct push_item {
  engine::sku_id sku;
  std::int64_t quantity = 0;
  std::optional<std::int64_t> change_from;
  std::string idempotency_key;
};

enum class item_outcome : std::uint8_t {
  applied,   // the channel shows `quantity` now
  stale,     // compare-and-set failed: the channel's value was not change_from
  rejected,  // this item is bad for the channel (unknown SKU, invalid value): do not retry as is
  retry,     // not applied, for a reason that may pass (e.g. the call failed for everyone)
};

struct item_result {
  item_outcome outcome = item_outcome::retry;
  std::string code;                             // the API's code, e.g. "CHANGE_FROM_QUANTITY_STALE"
  std::optional<std::int64_t> channel_quantity; // what the channel shows, when it said
};

/// How the call as a whole went.
enum class call_outcome : std::uint8_t {
  ok,            // answered; see items (one per pushed item, same order)
  throttled,     // 429 / THROTTLED: nothing applied; wait (retry_after when given)
  server_error,  // 5xx: nothing known to be applied; retry with the same keys
  timeout,       // no answer in time: may or may not have applied; retry with the same keys
  network,       // connect/reset: as timeout
  bad_request,   // 4xx for the batch as a whole: some item poisons it; split to find it
  unauthorized,  // 401/403: systemic, nothing will pass until credentials are fixed
};

struct push_result {
  call_outcome outcome = call_outcome::network;
  std::vector<item_result> items;  // outcome ok only
  std::optional<std::chrono::milliseconds> retry_after;
  std::string code;        // e.g. "429", "503", "timeout", for sync reasons and logs
  std::string request_id;  // the channel's request id, when it sent one (tracing)
  /// Pacing the API reported with the answer (x-amzn-RateLimit-Limit; Shopify throttleStatus).
  std::optional<double> rate_limit_per_second;
  std::optional<throttle_status> throttle;
};

/// What a channel read back says it shows (reconciliation, re-reads after a stale CAS).
struct read_result {
  bool ok = false;
  std::string code;
  std::vector<std::pair<engine::sku_id, std::int64_t>> quantities;
  /// Shopify's throttleStatus after the read (reads spend the same bucket as pushes).
  std::optional<throttle_status> throttle;
};

/// What an HTTP status other than a success says about a whole call, the rule every connector
/// shares: 429 throttled, 408 timeout, 401 and 403 unauthorized, any other 4xx bad_request, 5xx
/// server_error, anything else (1xx, 3xx: redirects are not followed) server_error with code
/// "unexpected_status_<n>". Sets `out.outcome` (and `out.code` for the last). A connector maps
/// its own exceptions first (Amazon: a 404 names one listing; webhook: a 404 is a wrong endpoint).
void classify_status(unsigned status, push_result& out);

/// A call that got no HTTP answer, the same for every connector: a timeout is `timeout`; a bad
/// URL is `unauthorized` (systemic: nothing passes until the config is fixed); anything else
/// (network, TLS, an oversized or malformed answer, the client overloaded or stopping) is
/// `network`, since the API may or may not have acted: retried with the same keys. nullopt
/// when there was an answer.
std::optional<push_result> transport_failure(const http_result& answer);

/// A second call type for the bulk lane, where the API has one (Amazon's JSON_LISTINGS_FEED): a
/// job that carries many items, runs for minutes, and has its own, much lower, rate limit. The
/// channel actor then sends the bulk lane only through push_bulk(), one job at a time, and
/// urgent and normal changes keep going through push() meanwhile.
struct bulk_limits {
  std::size_t batch_max = 0;        // items per job (Amazon: 25,000 messages)
  double jobs_per_second = 0;       // the job submission rate (Amazon: 5 per 5 minutes)
  double burst = 1;
  /// The longest a job may take, answer included; the client answers `timeout` past it.
  std::chrono::milliseconds deadline{30 * 60'000};
};

class channel_client {
public:
  virtual ~channel_client() = default;
  /// Most items one call may carry (Shopify 250).
  virtual std::size_t batch_max() const = 0;
  /// Sends one batch; calls `done` exactly once, from any thread, within the client's timeout.
  virtual void push(std::vector<push_item> batch, std::function<void(push_result)> done) = 0;
  /// Reads what the channel shows for these SKUs, at most batch_max() of them (the actor spends
  /// one limiter token per read, as per push); `done` exactly once, from any thread.
  virtual void read(std::vector<engine::sku_id> skus, std::function<void(read_result)> done) = 0;

  /// The bulk call type, when the API has one; nullopt (the default): bulk-lane items ride in
  /// push() calls like the others.
  virtual std::optional<bulk_limits> bulk() const { return std::nullopt; }
  /// Sends one bulk job of at most bulk()->batch_max items (only called when bulk() says so);
  /// `done` exactly once, from any thread, when the API has said what became of every item, or
  /// within bulk()->deadline. The result is read as push()'s: one item_result per item, same
  /// order; a job the API refused or lost as a whole is a call_outcome without items.
  virtual void push_bulk(std::vector<push_item> batch, std::function<void(push_result)> done) {
    push(std::move(batch), std::move(done));
  }
};

} // namespace stockd::connectors
