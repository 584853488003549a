#pragma once
// stockd's HTTP API v1 (DESIGN §5): routing, auth, and the handlers. Transport-agnostic: it gets
// a parsed request and a `respond` callback that may be called from any thread, once. The one
// exception is a snapshot, whose body is too large to read whole: begin_snapshot takes the header
// and returns an upload that the transport feeds chunk by chunk (server/snapshots.hpp).
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>  // before asio (toolchain.md: awaitable.hpp and std::exchange under C++20)

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "actors/history.hpp"
#include "actors/metrics.hpp"
#include "actors/runtime.hpp"
#include "connectors/event_decoder.hpp"
#include "connectors/json_writer.hpp"
#include "engine/catalog.hpp"
#include "server/auth.hpp"
#include "server/catalog_misses.hpp"
#include "server/options.hpp"
#include "server/snapshot_run_seqs.hpp"
#include "store/database.hpp"
#include "store/writer.hpp"

namespace stockd::server {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
using responder = std::function<void(response&&)>;

struct shopify_webhook_channel;
class governance;

/// A Prometheus label value: backslash, double quote and newline escaped (every /metrics part).
std::string prometheus_label(std::string_view value);

struct api_dependencies {
  const options* opts = nullptr;
  actors::catalog_ref catalog;  // the catalog in force (a reload swaps it)
  const connectors::decode_limits* limits = nullptr;
  store::database* db = nullptr;
  store::writer* writer = nullptr;
  actors::runtime* engine = nullptr;
  actors::metrics* counters = nullptr;
  std::size_t in_flight_max = 0;
  governance* config_governance = nullptr;  // versions, reload, shadow (governance.hpp)
  const actors::history_sampler* history = nullptr;  // GET /v1/history; null: 503
  /// Channels that take Shopify webhooks, with their resolved secrets (server/shopify_webhooks.hpp);
  /// null or empty: none does.
  const std::vector<shopify_webhook_channel>* shopify_webhooks = nullptr;
};

/// What POST /v1/webhooks/shopify did, for /v1/status ("webhooks") and /metrics.
struct shopify_webhook_counters {
  std::atomic<std::uint64_t> received{0};       // every delivery to the route
  std::atomic<std::uint64_t> mapped{0};         // deliveries mapped, passed on to journaling
  std::atomic<std::uint64_t> ignored{0};        // topics that move no stock, answered 200
  std::atomic<std::uint64_t> unauthorized{0};   // missing or wrong signature: 401
  std::atomic<std::uint64_t> malformed{0};      // 400: not JSON, missing headers
  std::atomic<std::uint64_t> unmappable{0};     // 422: not the topic's payload, unmapped SKU
  std::atomic<std::uint64_t> lines_without_sku{0};
};

struct snapshot_start;

class api {
public:
  explicit api(api_dependencies deps);
  /// `admin_routes` false: the request came to the public listener while an admin listener
  /// exists, and /v1/admin/* answers 404 (server.admin_listen).
  void handle(request&& req, responder respond, bool admin_routes = true);

  /// Whether the transport must stream this request's body to begin_snapshot instead of
  /// reading it whole (decided from the header).
  static bool is_streamed(const request& header);
  /// POST /v1/snapshots/{location} (server/snapshots.hpp), once its header is read: checks the
  /// token and the parameters; answers now, or returns the upload the transport feeds.
  snapshot_start begin_snapshot(const request& header, boost::asio::any_io_executor executor);

  /// Counts a response about to be written, by status class, for /v1/status (http.responses_*).
  /// Called by the transport for every response, including the ones it makes itself (413).
  void note_response(unsigned status);

  /// A response with a JSON body `{"error": message}` (and the field, when one is named).
  static response error(http::status status, unsigned version, bool keep_alive,
                        std::string_view message, std::string_view field = {});

private:
  void post_events(request&& req, responder respond);
  /// POST /v1/webhooks/shopify[/{channel}] (server/shopify_webhooks.cpp): signature, mapping,
  /// then the same journaling as post_events.
  void post_shopify_webhook(request&& req, std::string_view channel_in_path, responder respond);
  /// The second half of post_events, once every line has its location: journal, answer after
  /// the commit, dispatch. Static: it may run on an actor thread after placement.
  static void submit_decoded(const api_dependencies& deps,
                             std::shared_ptr<std::vector<connectors::decoded_event>> results,
                             unsigned version, bool keep_alive, responder respond);
  void get_sku(const request& req, std::string sku, responder respond);
  void get_kit(const request& req, std::string sku, responder respond);
  void get_sku_events(const request& req, std::string sku, responder respond);
  enum class sync_list : std::uint8_t { out_of_sync, dead_letters };
  void get_sync_list(const request& req, sync_list list, responder respond);
  /// POST /v1/admin/channels/{id}/repush: a full re-push of the channel on its bulk lane.
  void post_repush(const request& req, std::string_view channel, responder respond);
  /// The /v1/status object with every member but "channels", left open.
  connectors::json_writer status_open();
  response get_metrics(const request& req);
  bool authorize(const request& req, scope needed, responder& respond);
  /// The governance routes (server/governance.cpp); false when `path` is none of them.
  bool route_governance(request& req, std::string_view path, responder& respond);

  api_dependencies deps_;
  authenticator auth_;
  catalog_misses misses_;
  shopify_webhook_counters webhooks_;
  std::atomic<std::size_t> snapshots_active_{0};
  snapshot_run_seqs snapshot_runs_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

} // namespace stockd::server
