#include "server/reconciliation.hpp"

#include <charconv>
#include <optional>
#include <string>

#include "connectors/json_writer.hpp"
#include "connectors/reconcile.hpp"
#include "connectors/snapshot_variance.hpp"
#include "server/url.hpp"

namespace stockd::server {
namespace {

using connectors::json_writer;

response json_response(http::status status, unsigned version, bool keep_alive, std::string body) {
  response res{status, version};
  res.set(http::field::server, "stockd");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    return std::nullopt;
  }
  return n;
}

/// "<channel>.<seq>" or "snapshot:<location>.<seq>": the owner may hold dots itself, the seq
/// does not.
std::optional<std::pair<engine::channel_id, std::uint64_t>> parse_run_id(std::string_view id) {
  const auto dot = id.rfind('.');
  if (dot == std::string_view::npos || dot == 0) {
    return std::nullopt;
  }
  auto seq = parse_number(id.substr(dot + 1));
  if (!seq || *seq == 0) {
    return std::nullopt;
  }
  return std::pair{engine::channel_id(std::string(id.substr(0, dot))), *seq};
}

void list_runs(const api_dependencies& deps, const request& req, responder& respond) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  const std::string_view query =
      query_of(std::string_view(req.target().data(), req.target().size()));
  // The runs of one channel, or one location's snapshot runs, or (neither) all of them.
  engine::channel_id owner;
  const auto channel_param = query_param(query, "channel");
  const auto location_param = query_param(query, "location");
  if (channel_param && location_param) {
    respond(api::error(http::status::bad_request, version, keep_alive,
                       "give a channel or a location, not both", "location"));
    return;
  }
  if (channel_param) {
    auto decoded = percent_decode(*channel_param);
    if (!decoded || deps.catalog->find_channel(engine::channel_id(*decoded)) == nullptr) {
      respond(api::error(http::status::bad_request, version, keep_alive, "unknown channel",
                         "channel"));
      return;
    }
    owner = engine::channel_id(std::move(*decoded));
  }
  if (location_param) {
    auto decoded = percent_decode(*location_param);
    if (!decoded || !deps.catalog->has_location(engine::location_id(*decoded))) {
      respond(api::error(http::status::bad_request, version, keep_alive, "unknown location",
                         "location"));
      return;
    }
    owner = connectors::snapshot_runs_owner(engine::location_id(std::move(*decoded)));
  }
  std::uint64_t limit = 100;
  if (auto v = query_param(query, "limit")) {
    auto n = parse_number(*v);
    if (!n || *n == 0 || *n > reconciliation_list_max) {
      respond(api::error(http::status::bad_request, version, keep_alive,
                         "must be an integer from 1 to 1000", "limit"));
      return;
    }
    limit = *n;
  }
  auto runs = deps.db->read_runs(owner, static_cast<std::size_t>(limit));
  if (!runs) {
    respond(api::error(http::status::internal_server_error, version, keep_alive,
                       "reading the runs: " + runs.error().message));
    return;
  }
  json_writer w;
  w.begin_object().key("runs").begin_array();
  for (const auto& run : *runs) {
    // The stored summary is JSON stockd wrote (connectors::run_summary_json,
    // snapshot_run_summary_json).
    if (run.bytes.size() >= 2 && run.bytes.front() == '{' && run.bytes.back() == '}') {
      w.raw(connectors::served_summary(run.bytes));
    }
  }
  w.end_array().end_object();
  respond(json_response(http::status::ok, version, keep_alive, w.take()));
}

void get_run(const api_dependencies& deps, const request& req, std::string_view raw_id,
             responder& respond) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  auto decoded = raw_id.find('/') == std::string_view::npos ? percent_decode(raw_id)
                                                             : std::nullopt;
  auto id = decoded ? parse_run_id(*decoded) : std::nullopt;
  if (!id) {
    respond(api::error(http::status::bad_request, version, keep_alive,
                       "must be \"<channel>.<n>\" or \"snapshot:<location>.<n>\" as the list "
                       "gives it",
                       "id"));
    return;
  }
  // A snapshot run's location may have left the config since: its runs are still served.
  if (!connectors::snapshot_location_of(id->first.str()) &&
      deps.catalog->find_channel(id->first) == nullptr) {
    respond(api::error(http::status::not_found, version, keep_alive, "unknown channel", "id"));
    return;
  }
  auto stored = deps.db->read_run(id->first, id->second);
  if (!stored) {
    respond(api::error(http::status::internal_server_error, version, keep_alive,
                       "reading the run: " + stored.error().message));
    return;
  }
  if (!*stored) {
    respond(api::error(http::status::not_found, version, keep_alive,
                       "no such run (not yet finished, or older than the runs kept)", "id"));
    return;
  }
  auto body = connectors::run_json(**stored);
  if (!body) {
    respond(api::error(http::status::internal_server_error, version, keep_alive,
                       "the stored run does not decode"));
    return;
  }
  respond(json_response(http::status::ok, version, keep_alive, std::move(*body)));
}

} // namespace

void write_reconcile_status(json_writer& w, const actors::channel_status& c) {
  w.key("reconciliation").begin_object();
  w.field("policy", c.reconcile_policy).field("cycle_s", c.reconcile_cycle_s);
  w.field("running", c.reconcile_running).field("runs", c.reconcile_runs);
  w.field("skus_read", c.reconcile_skus_read).field("read_calls", c.reconcile_read_calls);
  w.key("variances").begin_object();
  w.field("hand_edit", c.reconcile_hand_edit).field("order_not_seen", c.reconcile_order_not_seen);
  w.field("push_lost", c.reconcile_push_lost).field("unknown", c.reconcile_unknown);
  w.end_object();
  w.field("corrected", c.reconcile_corrected).field("alerts", c.reconcile_alerts);
  w.field("store_failures", c.reconcile_store_failures);
  w.key("last_run");
  if (c.reconcile_last_run.empty()) {
    w.null();
  } else {
    w.begin_object();
    w.field("id", c.reconcile_last_run).field("finished_at_ms", c.reconcile_last_finished_ms);
    w.field("duration_ms", c.reconcile_last_duration_ms);
    w.field("variances", c.reconcile_last_variances);
    w.end_object();
  }
  w.end_object();
}

std::string reconcile_metrics(const std::vector<actors::channel_status>& channels) {
  std::string out;
  using cs = actors::channel_status;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help,
                    auto value_of) {
    out += "# HELP stockd_reconcile_" + std::string(name) + " " + std::string(help) + "\n";
    out += "# TYPE stockd_reconcile_" + std::string(name) + " " + std::string(type) + "\n";
    for (const auto& c : channels) {
      out += "stockd_reconcile_" + std::string(name) + "{channel=\"" +
             prometheus_label(c.channel.str()) + "\"} " + std::to_string(value_of(c)) + "\n";
    }
  };
  family("runs_total", "counter", "Reconciliation runs finished.",
         [](const cs& c) { return c.reconcile_runs; });
  family("skus_read_total", "counter", "SKUs read back and judged by reconciliation.",
         [](const cs& c) { return c.reconcile_skus_read; });
  family("read_calls_total", "counter", "Read calls reconciliation made.",
         [](const cs& c) { return c.reconcile_read_calls; });
  family("last_run_timestamp_seconds", "gauge", "When the last run finished (0: none yet).",
         [](const cs& c) { return c.reconcile_last_finished_ms / 1000; });
  family("last_run_duration_seconds", "gauge", "How long the last run took.",
         [](const cs& c) { return c.reconcile_last_duration_ms / 1000; });
  family("corrected_total", "counter", "Variances corrected (the target pushed again).",
         [](const cs& c) { return c.reconcile_corrected; });
  family("alerts_total", "counter", "Variances alerted (policy alert).",
         [](const cs& c) { return c.reconcile_alerts; });
  out += "# HELP stockd_reconcile_variances_total Variances found, by class.\n";
  out += "# TYPE stockd_reconcile_variances_total counter\n";
  for (const auto& c : channels) {
    const std::pair<std::string_view, std::uint64_t> classes[] = {
        {"hand_edit", c.reconcile_hand_edit},
        {"order_not_seen", c.reconcile_order_not_seen},
        {"push_lost", c.reconcile_push_lost},
        {"unknown", c.reconcile_unknown}};
    for (const auto& [name, n] : classes) {
      out += "stockd_reconcile_variances_total{channel=\"" + prometheus_label(c.channel.str()) +
             "\",class=\"" + std::string(name) + "\"} " + std::to_string(n) + "\n";
    }
  }
  return out;
}

void get_reconciliation(const api_dependencies& deps, std::string_view path, const request& req,
                        responder respond) {
  if (deps.db == nullptr) {
    respond(api::error(http::status::service_unavailable, req.version(), req.keep_alive(),
                       "no store"));
    return;
  }
  if (path == reconciliation_runs_path) {
    list_runs(deps, req, respond);
    return;
  }
  const std::string_view rest = path.substr(reconciliation_runs_path.size());
  if (rest.size() < 2 || rest.front() != '/') {
    respond(api::error(http::status::not_found, req.version(), req.keep_alive(),
                       "no such endpoint"));
    return;
  }
  get_run(deps, req, rest.substr(1), respond);
}

void post_reconcile(const api_dependencies& deps, std::string_view path, const request& req,
                    responder respond) {
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  const std::string_view raw = path.substr(admin_reconcile_path.size());
  auto decoded = raw.find('/') == std::string_view::npos ? percent_decode(raw) : std::nullopt;
  const engine::channel_info* info =
      decoded ? deps.catalog->find_channel(engine::channel_id(*decoded)) : nullptr;
  if (info == nullptr) {
    respond(api::error(http::status::not_found, version, keep_alive, "unknown channel",
                       "channel"));
    return;
  }
  engine::channel_id channel = info->id;
  deps.engine->reconcile(channel, [channel, respond, version,
                                   keep_alive](std::optional<actors::reconcile_started> answer) {
    if (!answer) {
      respond(api::error(http::status::service_unavailable, version, keep_alive,
                         "the channel did not answer in time"));
      return;
    }
    if (answer->id.empty()) {
      respond(api::error(http::status::conflict, version, keep_alive,
                         "the channel cannot reconcile: it has no connector, is in shadow mode or is being removed",
                         "channel"));
      return;
    }
    json_writer w;
    w.begin_object();
    w.field("channel", channel.str()).field("run", answer->id).field("started", answer->started);
    w.end_object();
    respond(json_response(answer->started ? http::status::accepted : http::status::ok, version,
                          keep_alive, w.take()));
  });
}

} // namespace stockd::server
