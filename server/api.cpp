#include "server/api.hpp"

#include <algorithm>
#include <charconv>
#include <mutex>

#include <boost/beast/version.hpp>

#include "actors/log.hpp"
#include "engine/channel_rules.hpp"
#include "engine/kits.hpp"
#include "engine/time.hpp"
#include "connectors/event_json.hpp"
#include "connectors/json_writer.hpp"
#include "server/dashboard.hpp"
#include "server/placement.hpp"
#include "server/reconciliation.hpp"
#include "server/reservations.hpp"
#include "server/governance.hpp"
#include "server/snapshots.hpp"
#include "server/trace.hpp"
#include "server/url.hpp"

namespace stockd::server {

using connectors::json_writer;
namespace {

response make_response(http::status status, unsigned version, bool keep_alive, std::string body,
                       std::string_view content_type = "application/json") {
  response res{status, version};
  res.set(http::field::server, "stockd");
  res.set(http::field::content_type, boost::beast::string_view(content_type.data(), content_type.size()));
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

void write_location(json_writer& w, const engine::sku_location_state& s) {
  w.key(s.key.location.str()).begin_object();
  w.field("available", s.qty.available);
  w.field("committed", s.qty.committed);
  w.field("reserved", s.qty.reserved);
  w.field("safety_stock", s.qty.safety_stock);
  w.field("damaged", s.qty.damaged);
  w.field("quality_control", s.qty.quality_control);
  w.field("incoming", s.qty.incoming);
  w.field("on_hand", s.qty.on_hand());
  w.field("oversold", s.oversold_units);
  // Per channel whose orders oversold here; a count below committed oversells for no channel.
  w.key("oversold_by_channel").begin_object();
  for (const auto& entry : s.oversold_by_channel) {
    w.key(entry.channel.str()).begin_object();
    w.field("units", entry.units).field("cases", entry.cases);
    w.end_object();
  }
  w.end_object();
  w.key("last_event");
  if (s.last_event) {
    w.begin_object();
    w.field("source", s.last_event->source.str());
    w.field("id", s.last_event->id);
    w.field("occurred_at", engine::format_rfc3339(s.last_event->occurred_at));
    w.field("seq", s.last_event->seq);
    w.end_object();
  } else {
    w.null();
  }
  w.field("applied_seq", s.last_seq);
  w.end_object();
}

// The "channels" object of GET /v1/skus (DESIGN §5): each channel actor's record of the SKU
// (expected, last pushed, in sync, since when, why). A channel that has not heard of the SKU since
// it started (nothing changed it yet) shows what its rules make of the states read here, with
// reason "not_tracked".
struct stock_part {
  std::int64_t qty_per_kit = 1;
  const std::vector<engine::sku_location_state>* states = nullptr;
};

std::vector<engine::location_stock> eligible_stock(const engine::channel_info& channel,
                                                   const std::vector<engine::sku_location_state>& states) {
  std::vector<engine::location_stock> out;
  for (const auto& location : channel.locations) {
    for (const auto& s : states) {
      if (s.key.location == location) {
        out.push_back({s.qty.available, s.qty.incoming});
      }
    }
  }
  return out;
}

std::string rfc3339_ago(std::int64_t ms) {
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now());
  return engine::format_rfc3339(now - std::chrono::milliseconds(ms));
}

void write_channels(json_writer& w, const std::vector<engine::channel_info>& channels,
                    const std::vector<stock_part>& parts,
                    const std::vector<actors::channel_sku_view>& records) {
  w.key("channels").begin_object();
  for (const auto& channel : channels) {
    const actors::channel_sku_view* record = nullptr;
    for (const auto& r : records) {
      if (r.channel == channel.id && r.known) {
        record = &r;
      }
    }
    w.key(channel.id.str()).begin_object();
    if (record != nullptr) {
      w.field("expected", record->expected);
      w.key("last_pushed");
      if (record->last_pushed) {
        w.value(*record->last_pushed);
      } else {
        w.null();
      }
      w.key("believed_shows");
      if (record->shows) {
        w.value(*record->shows);
      } else {
        w.null();
      }
      w.field("held_back", record->held_back);
      w.field("in_sync", record->in_sync);
      w.key("out_of_sync_since");
      if (record->out_of_sync_ms) {
        w.value(rfc3339_ago(*record->out_of_sync_ms));
      } else {
        w.null();
      }
      w.key("reason");
      if (record->reason.empty()) {
        w.null();
      } else {
        w.value(record->reason);
      }
    } else {
      std::vector<std::vector<engine::location_stock>> stocks;
      std::vector<engine::kit_part> kit;
      stocks.reserve(parts.size());
      for (const auto& part : parts) {
        stocks.push_back(eligible_stock(channel, *part.states));
        kit.push_back({part.qty_per_kit, stocks.back()});
      }
      w.field("expected", engine::kit_channel_quantity(channel.rules, kit));
      w.key("last_pushed").null();
      w.key("believed_shows").null();
      w.field("held_back", std::int64_t{0});
      w.field("in_sync", false);
      w.key("out_of_sync_since").null();
      w.field("reason", "not_tracked");
    }
    w.end_object();
  }
  w.end_object();
}

// GET /v1/skus/{kit}: the kit's own "locations" stay empty (it has no stock); "kit" holds each
// component's pooled availability and the kits they make, over all locations and per location.
std::string kit_json(const std::string& sku, const std::vector<engine::kit_component>& components,
                     const std::vector<actors::sku_view>& views,
                     const std::vector<engine::location_id>& locations,
                     const std::vector<engine::channel_info>& channels,
                     const std::vector<actors::channel_sku_view>& records) {
  bool complete = true;
  std::vector<engine::component_stock> pooled;
  for (std::size_t i = 0; i < components.size(); ++i) {
    complete = complete && views[i].complete;
    pooled.push_back({components[i].qty, engine::pooled_available(views[i].locations)});
  }
  json_writer w;
  w.begin_object().field("sku", sku);
  w.key("locations").begin_object().end_object();
  std::vector<stock_part> parts;
  for (std::size_t i = 0; i < components.size(); ++i) {
    parts.push_back({components[i].qty, &views[i].locations});
  }
  write_channels(w, channels, parts, records);
  w.key("kit").begin_object();
  w.key("components").begin_array();
  for (std::size_t i = 0; i < components.size(); ++i) {
    w.begin_object();
    w.field("sku", components[i].sku.str());
    w.field("qty", components[i].qty);
    w.field("available", pooled[i].available);
    w.end_object();
  }
  w.end_array();
  w.field("available", engine::kit_available(pooled));
  w.key("locations").begin_object();
  for (const auto& location : locations) {
    std::vector<engine::component_stock> here;
    for (std::size_t i = 0; i < components.size(); ++i) {
      std::int64_t available = 0;
      for (const auto& s : views[i].locations) {
        if (s.key.location == location) {
          available = s.qty.available;
        }
      }
      here.push_back({components[i].qty, available});
    }
    w.field(location.str(), engine::kit_available(here));
  }
  w.end_object();
  w.end_object();
  w.field("complete", complete);
  w.end_object();
  return w.take();
}

} // namespace

std::string prometheus_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

api::api(api_dependencies deps) : deps_(deps), auth_(deps.opts->tokens) {}

void api::note_response(unsigned status) {
  if (status >= 500) {
    deps_.counters->http_responses_5xx.fetch_add(1, std::memory_order_relaxed);
  } else if (status >= 400) {
    deps_.counters->http_responses_4xx.fetch_add(1, std::memory_order_relaxed);
  }
}

response api::error(http::status status, unsigned version, bool keep_alive,
                    std::string_view message, std::string_view field) {
  json_writer w;
  w.begin_object().field("error", message);
  if (!field.empty()) {
    w.field("field", field);
  }
  w.end_object();
  return make_response(status, version, keep_alive, w.take());
}

bool api::authorize(const request& req, scope needed, responder& respond) {
  auto header = req[http::field::authorization];
  switch (auth_.check(std::string_view(header.data(), header.size()), needed)) {
    case auth_result::ok: return true;
    case auth_result::missing: {
      auto res = error(http::status::unauthorized, req.version(), req.keep_alive(),
                       "missing bearer token", "Authorization");
      res.set(http::field::www_authenticate, "Bearer");
      respond(std::move(res));
      return false;
    }
    case auth_result::invalid: {
      auto res = error(http::status::unauthorized, req.version(), req.keep_alive(),
                       "invalid bearer token", "Authorization");
      res.set(http::field::www_authenticate, "Bearer error=\"invalid_token\"");
      respond(std::move(res));
      return false;
    }
    case auth_result::forbidden:
      respond(error(http::status::forbidden, req.version(), req.keep_alive(),
                    "token lacks the required scope", "Authorization"));
      return false;
  }
  return false;
}

bool api::is_streamed(const request& header) {
  return is_snapshot_target(std::string_view(header.target().data(), header.target().size()));
}

snapshot_start api::begin_snapshot(const request& header, boost::asio::any_io_executor executor) {
  deps_.counters->http_requests.fetch_add(1, std::memory_order_relaxed);
  std::optional<response> refused;
  responder capture = [&refused](response&& res) { refused = std::move(res); };
  if (!authorize(header, scope::ingest, capture)) {
    return {std::move(refused), nullptr};
  }
  return server::begin_snapshot(deps_, misses_, snapshots_active_, snapshot_runs_, header,
                                std::move(executor));
}

void write_channel_statuses(json_writer& w, const std::vector<actors::channel_status>& channels) {
  w.begin_array();
  for (const auto& c : channels) {
    w.begin_object();
    w.field("id", c.channel.str()).field("connector", c.connector).field("circuit", c.circuit);
    w.field("skus", static_cast<std::uint64_t>(c.skus));
    w.key("queued").begin_object();
    w.field("urgent", static_cast<std::uint64_t>(c.queued_urgent));
    w.field("normal", static_cast<std::uint64_t>(c.queued_normal));
    w.field("bulk", static_cast<std::uint64_t>(c.queued_bulk));
    w.end_object();
    w.key("bulk_jobs").begin_object();
    w.field("sent", c.bulk_jobs);
    w.field("in_flight", static_cast<std::uint64_t>(c.bulk_jobs_in_flight));
    w.field("failed", c.bulk_failures);
    w.end_object();
    w.field("out_of_sync", static_cast<std::uint64_t>(c.out_of_sync));
    w.field("oldest_out_of_sync_ms", c.oldest_out_of_sync_ms);
    w.field("updates", c.updates).field("calls", c.calls).field("items_sent", c.items_sent);
    w.field("items_applied", c.items_applied).field("throttled", c.throttled);
    w.field("failures", c.failures).field("retries", c.retries).field("stale", c.stale);
    w.field("rejected", c.rejected).field("coalesced", c.coalesced);
    w.field("dead_letters", static_cast<std::uint64_t>(c.dead_letters));
    w.field("rate_limit_use", c.rate_limit_use);
    w.key("outbox").begin_object();
    w.field("writes", c.outbox_writes).field("failures", c.outbox_failures);
    w.field("pending", c.outbox_pending);
    w.key("error");
    if (c.outbox_error.empty()) {
      w.null();
    } else {
      w.value(c.outbox_error);
    }
    w.end_object();
    write_reconcile_status(w, c);
    write_shadow(w, c);
    w.end_object();
  }
  w.end_array();
}

std::string channel_metrics(const std::vector<actors::channel_status>& channels) {
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help,
                    auto value_of) {
    out += "# HELP stockd_channel_" + std::string(name) + " " + std::string(help) + "\n";
    out += "# TYPE stockd_channel_" + std::string(name) + " " + std::string(type) + "\n";
    for (const auto& c : channels) {
      out += "stockd_channel_" + std::string(name) + "{channel=\"" +
             prometheus_label(c.channel.str()) + "\"} " + std::to_string(value_of(c)) + "\n";
    }
  };
  using cs = actors::channel_status;
  family("queue_depth_urgent", "gauge", "SKUs waiting in the urgent lane.",
         [](const cs& c) { return c.queued_urgent; });
  family("queue_depth_normal", "gauge", "SKUs waiting in the normal lane.",
         [](const cs& c) { return c.queued_normal; });
  family("queue_depth_bulk", "gauge", "SKUs waiting in the bulk lane.",
         [](const cs& c) { return c.queued_bulk; });
  family("bulk_jobs_total", "counter", "Bulk jobs sent (Amazon feeds).",
         [](const cs& c) { return c.bulk_jobs; });
  family("bulk_jobs_in_flight", "gauge", "Bulk jobs sent and not yet answered.",
         [](const cs& c) { return c.bulk_jobs_in_flight; });
  family("bulk_job_failures_total", "counter", "Bulk jobs that failed as a whole.",
         [](const cs& c) { return c.bulk_failures; });
  family("out_of_sync_skus", "gauge", "SKUs out of sync.", [](const cs& c) { return c.out_of_sync; });
  family("oldest_out_of_sync_seconds", "gauge", "Age of the oldest out-of-sync SKU.",
         [](const cs& c) { return c.oldest_out_of_sync_ms / 1000; });
  family("dead_letters", "gauge", "Items the channel refused, parked until they change.",
         [](const cs& c) { return c.dead_letters; });
  family("outbox_write_failures_total", "counter",
         "Outbox commits that failed (their changes wait, unsent, until one succeeds).",
         [](const cs& c) { return c.outbox_failures; });
  family("outbox_pending", "gauge",
         "Outbox records changed and not stored yet (their new keys wait to be sent).",
         [](const cs& c) { return c.outbox_pending; });
  family("api_calls_total", "counter", "API calls made.", [](const cs& c) { return c.calls; });
  family("items_pushed_total", "counter", "Items sent in API calls.",
         [](const cs& c) { return c.items_sent; });
  family("throttled_total", "counter", "Calls answered 429 or THROTTLED.",
         [](const cs& c) { return c.throttled; });
  family("retries_total", "counter", "Items sent again.", [](const cs& c) { return c.retries; });
  family("failures_total", "counter", "Calls that failed systemically.",
         [](const cs& c) { return c.failures; });
  family("circuit_open", "gauge", "1 when the channel's circuit is open.",
         [](const cs& c) { return c.circuit == "closed" ? 0 : 1; });
  return out;
}

void api::handle(request&& req, responder respond, bool admin_routes) {
  deps_.counters->http_requests.fetch_add(1, std::memory_order_relaxed);
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  const auto method = req.method();
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();

  // With server.admin_listen set, the admin endpoints exist only on that listener.
  if (!admin_routes && path.starts_with("/v1/admin/")) {
    respond(error(http::status::not_found, version, keep_alive, "no such endpoint"));
    return;
  }
  // Shopify webhooks are signed rather than token-bearing (server/shopify_webhooks.hpp).
  constexpr std::string_view shopify_webhooks = "/v1/webhooks/shopify";
  if (path == shopify_webhooks ||
      (path.starts_with(shopify_webhooks) && path[shopify_webhooks.size()] == '/' &&
       path.size() > shopify_webhooks.size() + 1)) {
    post_shopify_webhook(std::move(req),
                         path.substr(std::min(path.size(), shopify_webhooks.size() + 1)),
                         std::move(respond));
    return;
  }

  if (path == "/healthz") {
    respond(make_response(http::status::ok, version, keep_alive, "{\"status\":\"ok\"}"));
    return;
  }
  if (path == "/readyz") {
    bool ready = deps_.counters->ready.load();
    respond(make_response(ready ? http::status::ok : http::status::service_unavailable, version,
                          keep_alive,
                          ready ? "{\"status\":\"ready\"}" : "{\"status\":\"recovering\"}"));
    return;
  }
  if (path == "/v1/events") {
    if (method != http::verb::post) {
      respond(error(http::status::method_not_allowed, version, keep_alive, "use POST"));
      return;
    }
    if (authorize(req, scope::ingest, respond)) {
      post_events(std::move(req), std::move(respond));
    }
    return;
  }
  if (path == "/v1/reservations" || path.starts_with("/v1/reservations/")) {
    if (authorize(req, scope::ingest, respond)) {
      handle_reservations(deps_, path, std::move(req), std::move(respond));
    }
    return;
  }
  constexpr std::string_view admin_channels = "/v1/admin/channels/";
  constexpr std::string_view repush_suffix = "/repush";
  if (path.starts_with(admin_channels) && path.ends_with(repush_suffix) &&
      path.size() > admin_channels.size() + repush_suffix.size()) {
    if (method != http::verb::post) {
      respond(error(http::status::method_not_allowed, version, keep_alive, "use POST"));
      return;
    }
    if (authorize(req, scope::admin, respond)) {
      post_repush(req,
                  path.substr(admin_channels.size(),
                              path.size() - admin_channels.size() - repush_suffix.size()),
                  std::move(respond));
    }
    return;
  }
  if (path.starts_with(admin_reconcile_path) || path == reconciliation_runs_path ||
      path.starts_with(std::string(reconciliation_runs_path) + "/")) {
    const bool admin = path.starts_with(admin_reconcile_path);
    if (method != (admin ? http::verb::post : http::verb::get)) {
      respond(error(http::status::method_not_allowed, version, keep_alive,
                    admin ? "use POST" : "use GET"));
    } else if (authorize(req, admin ? scope::admin : scope::read, respond)) {
      admin ? post_reconcile(deps_, path, req, std::move(respond))
            : get_reconciliation(deps_, path, req, std::move(respond));
    }
    return;
  }
  if (route_governance(req, path, respond)) {
    return;
  }
  if (method != http::verb::get) {
    respond(error(http::status::not_found, version, keep_alive, "no such endpoint"));
    return;
  }
  // The dashboard's files hold no data: served without a token (server/dashboard.hpp).
  if (const auto* asset = dashboard::find_asset(path)) {
    respond(dashboard::asset_response(req, *asset));
    return;
  }
  if (!authorize(req, scope::read, respond)) {
    return;
  }
  if (path == "/v1/status") {
    // Everything but the channels now; the channels answer from their actors, then the object
    // is closed (the callback runs on an actor thread and must not touch `this`).
    auto status = std::make_shared<json_writer>(status_open());
    deps_.engine->channel_statuses([status, respond, version, keep_alive](
                                       std::vector<actors::channel_status> channels) {
      status->key("channels");
      write_channel_statuses(*status, channels);
      status->end_object();
      respond(make_response(http::status::ok, version, keep_alive, status->take()));
    });
    return;
  }
  if (path == "/metrics") {
    auto base = std::make_shared<response>(get_metrics(req));
    deps_.engine->channel_statuses(
        [base, respond](std::vector<actors::channel_status> channels) {
          base->body() += channel_metrics(channels) + reconcile_metrics(channels);
          base->prepare_payload();
          respond(std::move(*base));
        });
    return;
  }
  if (path.starts_with("/v1/trace/")) {
    handle_trace(deps_, path, req, std::move(respond));
    return;
  }
  if (path == "/v1/history") {
    respond(dashboard::history_response(req, deps_.history));
    return;
  }
  if (path == "/v1/sync/out-of-sync") {
    get_sync_list(req, sync_list::out_of_sync, std::move(respond));
    return;
  }
  if (path == "/v1/sync/dead-letters") {
    get_sync_list(req, sync_list::dead_letters, std::move(respond));
    return;
  }
  constexpr std::string_view skus = "/v1/skus/";
  if (path.substr(0, skus.size()) == skus) {
    std::string_view rest = path.substr(skus.size());
    constexpr std::string_view events_suffix = "/events";
    bool events = rest.size() > events_suffix.size() &&
                  rest.substr(rest.size() - events_suffix.size()) == events_suffix;
    if (events) {
      rest.remove_suffix(events_suffix.size());
    }
    // A raw '/' is another path level; an encoded one (%2F) is part of the SKU, since ingest
    // accepts SKUs such as "SHIRT/RED/M" and they must be readable too.
    auto sku = rest.find('/') == std::string_view::npos ? percent_decode(rest) : std::nullopt;
    if (!sku || sku->empty() || sku->size() > deps_.limits->string_bytes_max) {
      respond(error(http::status::bad_request, version, keep_alive, "malformed SKU in the path",
                    "sku"));
      return;
    }
    if (events) {
      get_sku_events(req, std::move(*sku), std::move(respond));
    } else {
      get_sku(req, std::move(*sku), std::move(respond));
    }
    return;
  }
  respond(error(http::status::not_found, version, keep_alive, "no such endpoint"));
}

void api::post_events(request&& req, responder respond) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  auto& counters = *deps_.counters;
  if (!counters.ready.load(std::memory_order_relaxed)) {
    auto res = error(http::status::service_unavailable, version, keep_alive,
                     "recovering: not ready to accept events");
    res.set(http::field::retry_after, std::to_string(deps_.opts->retry_after.count()));
    respond(std::move(res));
    return;
  }
  // Already at the in-flight bound: refused before the body is parsed, so that under overload
  // a refusal costs far less than an acceptance (submit_decoded checks the exact count).
  if (static_cast<std::size_t>(std::max<std::int64_t>(
          0, counters.in_flight.load(std::memory_order_relaxed))) +
          deps_.writer->queued_events() >=
      deps_.in_flight_max) {
    counters.http_overloaded.fetch_add(1, std::memory_order_relaxed);
    auto res = error(http::status::service_unavailable, version, keep_alive,
                     "overloaded: retry later");
    res.set(http::field::retry_after, std::to_string(deps_.opts->retry_after.count()));
    respond(std::move(res));
    return;
  }
  auto decoded = connectors::decode_events(req.body(), *deps_.catalog, *deps_.limits);
  if (!decoded) {
    auto status = decoded.error().http_status == 413 ? http::status::payload_too_large
                                                     : http::status::bad_request;
    respond(error(status, version, keep_alive, decoded.error().message, "body"));
    return;
  }
  misses_.record(*decoded);
  auto results = std::make_shared<std::vector<connectors::decoded_event>>(std::move(*decoded));
  if (needs_placement(*results)) {
    place_lines(results, *deps_.catalog, *deps_.engine,
                [deps = deps_, results, version, keep_alive, respond = std::move(respond)] {
                  submit_decoded(deps, results, version, keep_alive, respond);
                });
    return;
  }
  submit_decoded(deps_, results, version, keep_alive, std::move(respond));
}

void api::submit_decoded(const api_dependencies& deps,
                         std::shared_ptr<std::vector<connectors::decoded_event>> results,
                         unsigned version, bool keep_alive, responder respond) {
  auto& counters = *deps.counters;
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now());
  std::vector<engine::journal_entry> entries;
  entries.reserve(results->size());
  std::uint64_t rejected = 0;
  for (auto& r : *results) {
    if (!r.ev) {
      ++rejected;
    } else if (r.components.empty()) {
      entries.push_back(engine::journal_entry{0, now, std::move(*r.ev)});
    } else {
      // A kit line journals its components in place of itself, in this one submission: the
      // whole body commits in one transaction, so a kit is never half-journaled.
      for (auto& component : r.components) {
        entries.push_back(engine::journal_entry{0, now, std::move(component)});
      }
    }
  }
  counters.events_rejected.fetch_add(rejected, std::memory_order_relaxed);

  // Writes the per-event answer, one per event sent: statuses follow the journaled events in
  // body order, a kit line owning one status per component (see docs/semantics.md).
  auto answer = [results, version, keep_alive](const std::vector<store::append_status>& statuses)
      -> response {
    json_writer w;
    w.out().reserve(results->size() * 56 + 16);
    w.begin_object().key("results").begin_array();
    std::size_t next_valid = 0;
    for (std::size_t i = 0; i < results->size(); ++i) {
      const auto& r = (*results)[i];
      w.begin_object().field("id", r.id);
      if (r.error.field.empty() && r.error.reason.empty()) {
        // A kit line is a duplicate only when every component is one; its seq is the first
        // component's, and "components" says how many journal entries it became.
        const std::size_t owned = std::max<std::size_t>(1, r.components.size());
        bool duplicate = true;
        for (std::size_t k = 0; k < owned; ++k) {
          duplicate = duplicate && statuses[next_valid + k].duplicate;
        }
        w.field("status", duplicate ? "duplicate" : "accepted")
            .field("seq", statuses[next_valid].seq);
        // Where stockd placed a line that named no location. Not on a duplicate: the first
        // send's placement is the journaled one, and this body's may differ (GET /v1/trace).
        if (!duplicate && !r.placed_at.empty()) {
          w.field("location", r.placed_at);
        }
        if (!r.components.empty()) {
          w.field("components", static_cast<std::uint64_t>(owned));
        }
        next_valid += owned;
      } else {
        w.field("index", static_cast<std::uint64_t>(i));
        w.field("status", "rejected").field("field", r.error.field).field("error", r.error.reason);
      }
      w.end_object();
    }
    w.end_array().end_object();
    return make_response(http::status::ok, version, keep_alive, w.take());
  };

  if (entries.empty()) {
    respond(answer({}));
    return;
  }
  // Bounded work: past the limit the client is told to come back, nothing is journaled.
  const auto in_flight = static_cast<std::size_t>(std::max<std::int64_t>(
                             0, counters.in_flight.load(std::memory_order_relaxed))) +
                         deps.writer->queued_events();
  auto overloaded = [&] {
    counters.http_overloaded.fetch_add(1, std::memory_order_relaxed);
    auto res = error(http::status::service_unavailable, version, keep_alive,
                     "overloaded: retry later");
    res.set(http::field::retry_after, std::to_string(deps.opts->retry_after.count()));
    respond(std::move(res));
  };
  if (in_flight + entries.size() > deps.in_flight_max) {
    overloaded();
    return;
  }
  actors::runtime* engine = deps.engine;
  actors::metrics* m = deps.counters;
  auto done = [respond, answer, engine, m, version, keep_alive](
                  std::vector<engine::journal_entry>& journaled,
                  const std::vector<store::append_status>& statuses,
                  const store::error* failure) {
    if (failure != nullptr) {
      // Nothing of this batch is durable: say so, the sender retries with the same ids.
      auto status = failure->code == store::errc::map_full || failure->code == store::errc::disk_full
                        ? http::status::insufficient_storage
                        : http::status::internal_server_error;
      respond(api::error(status, version, keep_alive,
                         std::string("journal: ") + std::string(store::to_string(failure->code)) +
                             ": " + failure->message));
      return;
    }
    std::uint64_t duplicates = 0;
    for (const auto& s : statuses) {
      duplicates += s.duplicate ? 1 : 0;
    }
    std::vector<engine::journal_entry> fresh;
    if (duplicates == 0) {
      fresh = std::move(journaled);  // the usual case: no event moved one by one
    } else {
      fresh.reserve(journaled.size() - duplicates);
      for (std::size_t i = 0; i < journaled.size(); ++i) {
        if (!statuses[i].duplicate) {
          fresh.push_back(std::move(journaled[i]));
        }
      }
    }
    m->events_duplicate.fetch_add(duplicates, std::memory_order_relaxed);
    m->events_accepted.fetch_add(fresh.size(), std::memory_order_relaxed);
    if (actors::log_enabled(actors::log_level::debug)) {
      for (const auto& e : fresh) {
        actors::log_json(actors::log_level::debug, "event accepted",
                         {{"source", e.ev.source.str()}, {"event_id", e.ev.id}, {"seq", e.seq},
                          {"sku", e.ev.sku.str()}, {"location", e.ev.location.str()}});
      }
    }
    response res = answer(statuses);
    engine->dispatch(std::move(fresh));
    respond(std::move(res));
  };
  if (!deps.writer->submit(std::move(entries), std::move(done))) {
    overloaded();
  }
}

void api::get_sku(const request& req, std::string sku, responder respond) {
  if (deps_.catalog->is_kit(engine::sku_id(sku))) {
    get_kit(req, std::move(sku), std::move(respond));
    return;
  }
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  const engine::catalog* catalog = deps_.catalog.get();
  actors::runtime* engine = deps_.engine;
  engine->query_sku(engine::sku_id(sku), [respond, sku, version, keep_alive, catalog,
                                          engine](actors::sku_view view) {
    if (view.locations.empty()) {
      respond(api::error(view.complete ? http::status::not_found
                                       : http::status::service_unavailable,
                         version, keep_alive,
                         view.complete ? "unknown SKU" : "SKU state unavailable, retry",
                         "sku"));
      return;
    }
    auto shared = std::make_shared<actors::sku_view>(std::move(view));
    engine->query_channels(
        engine::sku_id(sku), [respond, sku, version, keep_alive, catalog,
                              shared](std::vector<actors::channel_sku_view> records) {
          json_writer w;
          w.begin_object().field("sku", sku).key("locations").begin_object();
          for (const auto& s : shared->locations) {
            write_location(w, s);
          }
          w.end_object();
          write_channels(w, catalog->channels(), {stock_part{1, &shared->locations}}, records);
          w.field("complete", shared->complete);
          w.end_object();
          respond(make_response(http::status::ok, version, keep_alive, w.take()));
        });
  });
}

// A kit has no stock of its own: its answer is derived from its components' states, queried
// concurrently; the last reply to arrive writes the answer (each query replies exactly once).
void api::get_kit(const request& req, std::string sku, responder respond) {
  struct pending {
    std::mutex mutex;
    std::vector<engine::kit_component> components;
    std::vector<actors::sku_view> views;
    std::size_t remaining = 0;
  };
  auto p = std::make_shared<pending>();
  const auto components = deps_.catalog->kit_components(engine::sku_id(sku));
  p->components.assign(components.begin(), components.end());
  p->views.resize(p->components.size());
  p->remaining = p->components.size();
  std::vector<engine::location_id> locations;
  for (const auto& info : deps_.catalog->locations()) {
    locations.push_back(info.id);
  }
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  const auto& channels = deps_.catalog->channels();  // the catalog outlives every request
  for (std::size_t i = 0; i < p->components.size(); ++i) {
    deps_.engine->query_sku(p->components[i].sku, [p, i, sku, locations, respond, version,
                                                   keep_alive, &channels,
                                                   engine = deps_.engine](actors::sku_view view) {
      {
        std::lock_guard lock(p->mutex);
        p->views[i] = std::move(view);
        if (--p->remaining != 0) {
          return;
        }
      }
      engine->query_channels(
          engine::sku_id(sku), [p, sku, locations, respond, version, keep_alive,
                                &channels](std::vector<actors::channel_sku_view> records) {
            respond(make_response(http::status::ok, version, keep_alive,
                                  kit_json(sku, p->components, p->views, locations, channels,
                                           records)));
          });
    });
  }
}

// GET /v1/sync/out-of-sync?channel=ID&min_age_s=N&limit=N: SKU × channel pairs out of sync,
// oldest first. GET /v1/sync/dead-letters?channel=ID&limit=N: the items channels refused,
// parked with the reason until their expected value changes (the same fields; oldest first).
void api::post_repush(const request& req, std::string_view channel_in_path,
                      responder respond) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  auto decoded = channel_in_path.find('/') == std::string_view::npos
                     ? percent_decode(channel_in_path)
                     : std::nullopt;
  if (!decoded || deps_.catalog->find_channel(engine::channel_id(*decoded)) == nullptr) {
    respond(error(http::status::not_found, version, keep_alive, "unknown channel", "channel"));
    return;
  }
  engine::channel_id channel(std::move(*decoded));
  deps_.engine->repush(channel, [channel, respond, version, keep_alive](
                                    std::optional<std::uint64_t> queued) {
    if (!queued) {
      respond(error(http::status::service_unavailable, version, keep_alive,
                    "the channel did not answer in time"));
      return;
    }
    json_writer w;
    w.begin_object();
    w.field("channel", channel.str()).field("queued", *queued).field("lane", "bulk");
    w.end_object();
    respond(make_response(http::status::accepted, version, keep_alive, w.take()));
  });
}

void api::get_sync_list(const request& req, sync_list list, responder respond) {
  const std::string_view query =
      query_of(std::string_view(req.target().data(), req.target().size()));
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  engine::channel_id channel;
  if (auto v = query_param(query, "channel")) {
    auto decoded = percent_decode(*v);
    if (!decoded || deps_.catalog->find_channel(engine::channel_id(*decoded)) == nullptr) {
      respond(error(http::status::bad_request, version, keep_alive, "unknown channel", "channel"));
      return;
    }
    channel = engine::channel_id(std::move(*decoded));
  }
  std::uint64_t min_age_s = 0;
  if (auto v = query_param(query, "min_age_s"); v && list == sync_list::out_of_sync) {
    auto n = parse_u64(*v);
    if (!n || *n > 365ULL * 24 * 3600) {
      respond(error(http::status::bad_request, version, keep_alive,
                    "must be whole seconds, at most a year", "min_age_s"));
      return;
    }
    min_age_s = *n;
  }
  std::uint64_t limit = 100;
  if (auto v = query_param(query, "limit")) {
    auto n = parse_u64(*v);
    if (!n || *n == 0 || *n > 10'000) {
      respond(error(http::status::bad_request, version, keep_alive,
                    "must be an integer from 1 to 10000", "limit"));
      return;
    }
    limit = *n;
  }
  const char* name = list == sync_list::out_of_sync ? "out_of_sync" : "dead_letters";
  auto answer = [respond, version, keep_alive, limit,
                 name](std::vector<actors::out_of_sync_entry> entries) {
    std::sort(entries.begin(), entries.end(),
              [](const auto& a, const auto& b) { return a.age_ms > b.age_ms; });
    if (entries.size() > limit) {
      entries.resize(limit);
    }
    json_writer w;
    w.begin_object().key(name).begin_array();
    for (const auto& e : entries) {
      w.begin_object();
      w.field("channel", e.channel.str()).field("sku", e.sku.str());
      w.field("expected", e.expected);
      w.key("last_pushed");
      if (e.last_pushed) {
        w.value(*e.last_pushed);
      } else {
        w.null();
      }
      w.field("since", rfc3339_ago(e.age_ms)).field("age_ms", e.age_ms);
      w.field("reason", e.reason);
      w.end_object();
    }
    w.end_array().end_object();
    respond(make_response(http::status::ok, version, keep_alive, w.take()));
  };
  if (list == sync_list::out_of_sync) {
    deps_.engine->out_of_sync(channel, std::chrono::seconds(min_age_s), limit, std::move(answer));
  } else {
    deps_.engine->dead_letters(channel, limit, std::move(answer));
  }
}

void api::get_sku_events(const request& req, std::string sku, responder respond) {
  const std::string_view query =
      query_of(std::string_view(req.target().data(), req.target().size()));
  std::uint64_t limit = 100;
  std::uint64_t before = 0;
  if (auto v = query_param(query, "limit")) {
    auto n = parse_u64(*v);
    if (!n || *n == 0 || *n > deps_.opts->ledger_page_max) {
      respond(error(http::status::bad_request, req.version(), req.keep_alive(),
                    "must be an integer from 1 to " + std::to_string(deps_.opts->ledger_page_max),
                    "limit"));
      return;
    }
    limit = *n;
  }
  if (auto v = query_param(query, "before")) {
    auto n = parse_u64(*v);
    if (!n) {
      respond(error(http::status::bad_request, req.version(), req.keep_alive(),
                    "must be a journal seq", "before"));
      return;
    }
    before = *n;
  }
  auto ledger = deps_.db->sku_ledger(engine::sku_id(sku), before, static_cast<std::size_t>(limit));
  if (!ledger) {
    respond(error(http::status::internal_server_error, req.version(), req.keep_alive(),
                  ledger.error().message));
    return;
  }
  json_writer w;
  w.begin_object().field("sku", sku).key("events").begin_array();
  for (const auto& entry : *ledger) {
    w.begin_object();
    connectors::write_journal_entry_fields(w, entry);
    w.end_object();
  }
  w.end_array();
  w.key("next_before");
  if (ledger->size() == limit && !ledger->empty()) {
    w.value(ledger->back().seq);
  } else {
    w.null();
  }
  w.end_object();
  respond(make_response(http::status::ok, req.version(), req.keep_alive(), w.take()));
}

json_writer api::status_open() {
  const auto& m = *deps_.counters;
  auto load = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  const auto stats = deps_.db->read_stats();
  const std::uint64_t watermark = deps_.engine->watermark_min();
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - started_)
                          .count();
  json_writer w;
  w.begin_object();
  w.field("status", m.ready.load() ? "ready" : "recovering");
  w.field("uptime_s", static_cast<std::int64_t>(uptime));
  w.key("events").begin_object();
  w.field("accepted", load(m.events_accepted));
  w.field("duplicate", load(m.events_duplicate));
  w.field("rejected", load(m.events_rejected));
  w.end_object();
  auto misses = [&w](std::string_view name, const catalog_misses::report& r, bool units) {
    w.key(name).begin_object();
    w.field("count", r.count);
    w.key("sample").begin_array();
    for (const auto& s : r.newest_first) {
      w.begin_object().field("source", s.source).field("sku", s.sku);
      if (units) {
        w.field("unit", s.unit);
      }
      w.end_object();
    }
    w.end_array();
    w.end_object();
  };
  misses("unmapped", misses_.unmapped(), false);
  misses("unknown_units", misses_.unknown_units(), true);
  w.key("engine").begin_object();
  w.field("applied", load(m.apply_applied));
  w.field("rejected", load(m.apply_rejected));
  w.field("parked", load(m.apply_parked));
  w.field("stale", load(m.apply_stale));
  w.field("skipped", load(m.apply_skipped));
  w.field("closed_lines_recalled", load(m.closed_lines_recalled));
  w.field("oversold_units", load(m.oversold_units));
  w.field("live_actors", load(m.live_actors));
  w.field("in_flight", m.in_flight.load(std::memory_order_relaxed));
  w.field("in_flight_max", static_cast<std::uint64_t>(deps_.in_flight_max));
  w.field("shards", static_cast<std::uint64_t>(deps_.engine->shards()));
  w.field("scheduler_threads", static_cast<std::uint64_t>(deps_.engine->scheduler_threads()));
  w.end_object();
  w.key("journal").begin_object();
  w.field("head", stats.journal_head);
  w.field("writer_queue", static_cast<std::uint64_t>(deps_.writer->queued_events()));
  const auto timing = deps_.writer->read_timing();
  auto ms = [](std::uint64_t ns, std::uint64_t n) {
    return n == 0 ? 0.0 : static_cast<double>(ns) / 1e6 / static_cast<double>(n);
  };
  w.field("commits", timing.journal_commits);
  w.field("events_per_commit", timing.journal_commits == 0
                                   ? 0.0
                                   : static_cast<double>(timing.journal_events) /
                                         static_cast<double>(timing.journal_commits));
  w.field("commit_ms_mean", ms(timing.journal_commit_ns, timing.journal_commits));
  w.field("completion_ms_mean", ms(timing.completion_ns, timing.journal_commits));
  w.field("commits_with_checkpoints", timing.checkpoint_commits);
  w.field("map_size_bytes", static_cast<std::uint64_t>(stats.map_size_bytes));
  w.field("map_used_bytes", static_cast<std::uint64_t>(stats.map_used_bytes));
  w.end_object();
  w.key("checkpoint").begin_object();
  w.field("watermark", watermark);
  w.field("lag_events", stats.journal_head > watermark ? stats.journal_head - watermark : 0);
  w.field("rounds", load(m.checkpoint_rounds));
  w.field("records", load(m.checkpoint_records));
  w.field("failures", load(m.checkpoint_failures));
  w.end_object();
  w.key("recovery").begin_object();
  w.field("replayed", load(m.recovery_replayed));
  w.end_object();
  w.key("alerts").begin_object();
  w.field("sent", load(m.alerts_sent));
  w.field("suppressed", load(m.alerts_suppressed));
  w.field("failed", load(m.alerts_failed));
  w.field("sinks_failing", load(m.alert_sinks_failing));
  w.end_object();
  w.key("http").begin_object();
  w.field("requests", load(m.http_requests));
  w.field("responses_4xx", load(m.http_responses_4xx));
  w.field("responses_5xx", load(m.http_responses_5xx));
  w.field("overloaded", load(m.http_overloaded));
  w.end_object();
  w.key("webhooks").begin_object().key("shopify").begin_object();
  w.field("received", load(webhooks_.received)).field("mapped", load(webhooks_.mapped));
  w.field("ignored", load(webhooks_.ignored)).field("unauthorized", load(webhooks_.unauthorized));
  w.field("malformed", load(webhooks_.malformed)).field("unmappable", load(webhooks_.unmappable));
  w.field("lines_without_sku", load(webhooks_.lines_without_sku));
  w.end_object().end_object();
  return w;  // still open: the caller adds "channels" and closes it
}

response api::get_metrics(const request& req) {
  const auto& m = *deps_.counters;
  const auto stats = deps_.db->read_stats();
  std::string out;
  out.reserve(4096);
  auto metric = [&out](std::string_view name, std::string_view type, std::string_view help,
                       std::string_view labels, double value) {
    out += "# HELP stockd_";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE stockd_";
    out += name;
    out += ' ';
    out += type;
    out += "\nstockd_";
    out += name;
    out += labels;
    out += ' ';
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%.17g", value);
    out.append(buf, static_cast<std::size_t>(n));
    out += '\n';
  };
  auto c = [](const std::atomic<std::uint64_t>& v) {
    return static_cast<double>(v.load(std::memory_order_relaxed));
  };
  metric("events_accepted_total", "counter", "Events journaled.", "", c(m.events_accepted));
  metric("events_duplicate_total", "counter", "Events answered duplicate.", "", c(m.events_duplicate));
  metric("events_rejected_total", "counter", "Events rejected at ingest.", "", c(m.events_rejected));
  metric("apply_total", "counter", "Events applied by the engine, by outcome.",
         "{outcome=\"applied\"}", c(m.apply_applied));
  out += "stockd_apply_total{outcome=\"rejected\"} " + std::to_string(m.apply_rejected.load()) + "\n";
  out += "stockd_apply_total{outcome=\"parked\"} " + std::to_string(m.apply_parked.load()) + "\n";
  out += "stockd_apply_total{outcome=\"stale\"} " + std::to_string(m.apply_stale.load()) + "\n";
  out += "stockd_apply_total{outcome=\"skipped\"} " + std::to_string(m.apply_skipped.load()) + "\n";
  metric("closed_lines_recalled_total", "counter",
         "Forgotten closed order lines read back from the index for a late line event.", "",
         c(m.closed_lines_recalled));
  metric("oversold_units_total", "counter", "Units sold beyond available stock.", "",
         c(m.oversold_units));
  out += "# HELP stockd_channel_oversold_units_total Units oversold by each channel's orders.\n"
         "# TYPE stockd_channel_oversold_units_total counter\n";
  const auto by_channel = m.oversold_by_channel.snapshot();
  for (const auto& [channel, figures] : by_channel) {
    out += "stockd_channel_oversold_units_total{channel=\"" + prometheus_label(channel) + "\"} " +
           std::to_string(figures.units) + "\n";
  }
  out += "# HELP stockd_channel_oversells_total Orders that oversold, by channel.\n"
         "# TYPE stockd_channel_oversells_total counter\n";
  for (const auto& [channel, figures] : by_channel) {
    out += "stockd_channel_oversells_total{channel=\"" + prometheus_label(channel) + "\"} " +
           std::to_string(figures.cases) + "\n";
  }
  metric("live_actors", "gauge", "Live sku_location actors.", "", c(m.live_actors));
  metric("in_flight_events", "gauge", "Deliveries not yet applied.", "",
         static_cast<double>(m.in_flight.load()));
  metric("journal_head", "gauge", "Highest journal seq.", "",
         static_cast<double>(stats.journal_head));
  metric("checkpoint_watermark", "gauge", "Lowest checkpointed seq across shards.", "",
         static_cast<double>(deps_.engine->watermark_min()));
  metric("writer_commits_total", "counter", "Durable journal commits.", "",
         static_cast<double>(deps_.writer->commits()));
  metric("lmdb_map_used_bytes", "gauge", "Bytes used in the LMDB map.", "",
         static_cast<double>(stats.map_used_bytes));
  metric("lmdb_map_size_bytes", "gauge", "Size of the LMDB map.", "",
         static_cast<double>(stats.map_size_bytes));
  metric("http_requests_total", "counter", "HTTP requests.", "", c(m.http_requests));
  metric("http_overloaded_total", "counter", "Requests refused as overloaded.", "",
         c(m.http_overloaded));
  metric("alerts_sent_total", "counter", "Alert pages handed to a sink.", "", c(m.alerts_sent));
  metric("alerts_suppressed_total", "counter", "Alert firings held back (deduplicated or over "
         "the budget).", "", c(m.alerts_suppressed));
  metric("alerts_failed_total", "counter", "Alert pages given up on after retries.", "",
         c(m.alerts_failed));
  metric("alert_sinks_failing", "gauge", "Alert sinks whose last delivery failed.", "",
         c(m.alert_sinks_failing));
  metric("ready", "gauge", "1 after recovery.", "", m.ready.load() ? 1.0 : 0.0);
  out += "# HELP stockd_shopify_webhooks_total Shopify webhook deliveries, by outcome.\n"
         "# TYPE stockd_shopify_webhooks_total counter\n";
  for (const auto& [outcome, counter] :
       {std::pair{"mapped", &webhooks_.mapped}, std::pair{"ignored", &webhooks_.ignored},
        std::pair{"unauthorized", &webhooks_.unauthorized},
        std::pair{"malformed", &webhooks_.malformed},
        std::pair{"unmappable", &webhooks_.unmappable}}) {
    out += std::string("stockd_shopify_webhooks_total{outcome=\"") + outcome + "\"} " +
           std::to_string(counter->load(std::memory_order_relaxed)) + "\n";
  }
  return make_response(http::status::ok, req.version(), req.keep_alive(), std::move(out),
                       "text/plain; version=0.0.4");
}

} // namespace stockd::server
