#pragma once
// The `webhook` connector (DESIGN §6): a generic signed JSON POST of batches, for wholesale
// portals and custom systems. Implements channel_client over the shared http_client.
//
// Wire contract (what a receiver implements):
//
// push — POST <endpoint>
//   Content-Type: application/json
//   X-Stockd-Timestamp: <unix seconds, decimal>
//   X-Stockd-Signature: sha256=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//       the exact bytes of the body, after the timestamp header's value and a '.'. A receiver
//       recomputes it over the raw body, compares in constant time, and refuses timestamps far
//       from its clock (5 minutes is usual) so a captured request cannot be replayed later.
//   Idempotency-Key: <lowercase hex SHA-256 of the items' idempotency keys joined by "\n", in
//       batch order> — the same batch retried carries the same key; each item also has its own.
//   body: {"channel":"<channel id>","items":[{"sku":"...","quantity":N,
//          "change_from":N|null,"idempotency_key":"..."}, ...]}
//   "change_from" is the quantity stockd believes the channel shows now; a receiver that
//   supports compare-and-set answers "stale" when it differs.
//
//   Answers:
//   2xx {"results":[{"status":"applied"|"stale"|"rejected","code":"...","quantity":N}, ...]}
//       one per item, same order; "code" and "quantity" (what the channel shows) optional.
//       A 2xx with no JSON object body, or an object without "results" (or null), means all
//       applied. A JSON object whose results are malformed or of the wrong count is
//       server_error "invalid_response" (nothing is assumed applied; the retry reuses the keys).
//   429 → throttled, retry_after from Retry-After (seconds or an HTTP date; capped at a day)
//   408 → timeout; 5xx → server_error (Retry-After honoured too)
//   401, 403, 404, 405 → unauthorized (systemic: wrong secret or endpoint; nothing will pass)
//   other 4xx (400, 409, 413, 422, ...) → bad_request (some item poisons the batch)
//   1xx/3xx (redirects are not followed) → server_error "unexpected_status_<n>"
//   timeout → timeout; connect/reset/TLS failure/oversized or non-HTTP answer → network, with
//   `code` saying which (e.g. "tls_verify_failed: self-signed certificate").
//   X-Request-Id, when sent, comes back as push_result::request_id.
//
// read — GET <endpoint>?skus=<a>,<b>,... (each SKU percent-encoded; '&skus=' when the endpoint
//   already has a query), same X-Stockd-Timestamp and X-Stockd-Signature headers, signed over
//   "<timestamp>.<request target>" (path and query exactly as sent) since there is no body.
//   Answer 200 {"quantities":{"<sku>":N, ...}}; SKUs left out are not reported.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/channel_client.hpp"
#include "connectors/channel_options.hpp"
#include "connectors/http_client.hpp"
#include "engine/result.hpp"

namespace stockd::connectors {

struct webhook_options {
  engine::channel_id channel;
  std::string endpoint;
  std::string secret;  // resolved from the credentials reference; never logged
  std::size_t batch_max = 100;
  /// Per-call deadline; unset: the http client's request_timeout.
  std::optional<std::chrono::milliseconds> timeout;
};

/// A Retry-After longer than this is taken as this (a misconfigured receiver must not park a
/// channel for weeks).
inline constexpr std::chrono::milliseconds retry_after_max{24 * 3600 * 1000};

class webhook_client final : public channel_client {
public:
  /// `http` must outlive this client.
  webhook_client(http_client& http, webhook_options options);
  /// From the channel's config: resolves `credentials` (an error message for the start-up
  /// report when it cannot, naming the reference, never the secret).
  static result<std::unique_ptr<webhook_client>, std::string>
  create(http_client& http, const channel_options& channel);

  std::size_t batch_max() const override { return options_.batch_max; }
  void push(std::vector<push_item> batch, std::function<void(push_result)> done) override;
  void read(std::vector<engine::sku_id> skus, std::function<void(read_result)> done) override;

private:
  http_client& http_;
  webhook_options options_;
};

// The wire format's pieces, pure, for tests and for receivers written against them.
std::string webhook_body(const engine::channel_id& channel, const std::vector<push_item>& batch);
/// "sha256=" + lowercase hex HMAC-SHA256(secret, timestamp + "." + payload).
std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view payload);
std::string webhook_idempotency_key(const std::vector<push_item>& batch);
std::string webhook_read_target_query(const std::vector<engine::sku_id>& skus);
push_result webhook_push_outcome(const http_result& answer, std::size_t items,
                                 std::chrono::system_clock::time_point now);
read_result webhook_read_outcome(const http_result& answer,
                                 const std::vector<engine::sku_id>& skus);
/// Seconds ("120") or an HTTP date ("Wed, 21 Oct 2026 07:28:00 GMT"); nullopt when neither.
std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now);

} // namespace stockd::connectors
