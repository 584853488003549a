#include "simulator/large_catalog.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_set>

#include <simdjson.h>

#include "simulator/buyer.hpp"
#include "simulator/http_client.hpp"
#include "simulator/listener.hpp"
#include "simulator/run.hpp"
#include "simulator/stockd_api.hpp"
#include "simulator/stockd_process.hpp"
#include "simulator/webhook.hpp"
#include "simulator/world.hpp"

namespace stockd::simulator {
namespace {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

constexpr std::string_view channel_name = "webhook";
constexpr milliseconds wms_tick{20};
constexpr milliseconds status_poll{250};
constexpr milliseconds convergence_poll{1'000};
constexpr std::size_t mismatches_kept = 10;
constexpr std::size_t restart_sample_max = 2'000;

double seconds_since(steady::time_point t) {
  return std::chrono::duration<double>(steady::now() - t).count();
}

std::string utc_iso(std::chrono::system_clock::time_point at) {
  const std::time_t t = std::chrono::system_clock::to_time_t(at);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string sku_of(const large_catalog_options& o, std::size_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%07zu", index);
  return o.sku_prefix + buf;
}

void say(const large_catalog_options& o, const std::string& line) {
  if (o.progress != nullptr) {
    *o.progress << "stocksim large_catalog: " << line << "\n" << std::flush;
  }
}

std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

/// Zipf ranks over the catalog (rank r is SKU r), shared read-only by the buyer's thread.
class zipf_chooser {
public:
  explicit zipf_chooser(const large_catalog_options& o) : o_(o), ranks_(o.skus, o.zipf_s) {}
  std::string operator()(std::mt19937_64& rng) const { return sku_of(o_, ranks_(rng)); }

private:
  const large_catalog_options& o_;
  zipf_ranks ranks_;
};

/// GET /v1/status as a parsed document (nothing when it did not answer 200 with JSON).
struct status_view {
  bool ok = false;
  std::int64_t in_flight = 0;
  std::uint64_t applied = 0;
  std::uint64_t live_actors = 0;
  std::uint64_t map_used_bytes = 0;
  std::uint64_t checkpoint_lag = 0;
  std::uint64_t replayed = 0;
  std::uint64_t channel_queued = 0;
  std::uint64_t channel_out_of_sync = 0;
};

std::uint64_t u64_at(simdjson::dom::element e, std::string_view path) {
  std::uint64_t v = 0;
  return e.at_pointer(path).get_uint64().get(v) == simdjson::SUCCESS ? v : 0;
}

status_view read_status(http_client& client, const std::string& token,
                        simdjson::dom::parser& parser) {
  const client_response res = get_from_stockd(client, token, "/v1/status");
  status_view out;
  simdjson::dom::element root;
  if (res.status != 200 || parser.parse(res.body).get(root)) {
    return out;
  }
  std::int64_t in_flight = 0;
  if (root.at_pointer("/engine/in_flight").get_int64().get(in_flight) != simdjson::SUCCESS) {
    return out;
  }
  out.in_flight = in_flight;
  out.applied = u64_at(root, "/engine/applied");
  out.live_actors = u64_at(root, "/engine/live_actors");
  out.map_used_bytes = u64_at(root, "/journal/map_used_bytes");
  out.checkpoint_lag = u64_at(root, "/checkpoint/lag_events");
  out.replayed = u64_at(root, "/recovery/replayed");
  simdjson::dom::array channels;
  if (root["channels"].get_array().get(channels) == simdjson::SUCCESS) {
    for (simdjson::dom::element c : channels) {
      out.channel_queued += u64_at(c, "/queued/urgent") + u64_at(c, "/queued/normal") +
                            u64_at(c, "/queued/bulk");
      out.channel_out_of_sync += u64_at(c, "/out_of_sync");
    }
  }
  out.ok = true;
  return out;
}

/// One location's opening stock as one streamed NDJSON snapshot; the answer's counts.
struct snapshot_result {
  std::uint64_t lines = 0;
  std::uint64_t accepted = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t rejected = 0;
  std::string error;
};

snapshot_result post_snapshot(const std::string& host, std::uint16_t port,
                              const std::string& token, const large_catalog_options& o,
                              const std::string& location, const std::string& as_of,
                              milliseconds timeout) {
  snapshot_result out;
  client_request req;
  req.method = "POST";
  req.target = "/v1/snapshots/" + location + "?source=" + std::string(wms_source) +
               "&id=open-" + location + "&as_of=" + as_of;
  req.timeout = timeout;  // the answer comes once the last line is durable
  req.headers.emplace_back("Authorization", "Bearer " + token);
  req.headers.emplace_back("Content-Type", "application/x-ndjson");
  req.body.reserve(o.skus * 40);
  const std::string counted = std::to_string(o.stock_per_location);
  for (std::size_t i = 0; i < o.skus; ++i) {
    req.body += "{\"sku\":\"";
    req.body += sku_of(o, i);
    req.body += "\",\"counted\":";
    req.body += counted;
    req.body += "}\n";
  }
  out.lines = o.skus;
  http_client client(host, port);
  const client_response res = client.send(req);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (res.status != 200 || parser.parse(res.body).get(root)) {
    out.error = location + ": stockd answered " + std::to_string(res.status) + " " +
                res.body.substr(0, 300) + res.transport_error;
    return out;
  }
  out.accepted = u64_at(root, "/accepted");
  out.duplicate = u64_at(root, "/duplicate");
  out.rejected = u64_at(root, "/rejected");
  return out;
}

wms_event settle_event(const order_line& line) {
  const std::string id = line.order_id + ":settle";
  const char* type = line.covered ? "order_fulfilled" : "order_cancelled";
  connectors::json_writer out;
  out.begin_object().field("id", id).field("source", wms_source);
  out.field("type", type);
  out.field("sku", line.sku).field("qty", std::int64_t{1});
  out.field("occurred_at", utc_iso(std::chrono::system_clock::now()));
  out.field("order_id", line.order_id).field("line_id", "1").end_object();
  return {id, out.take(), type};
}

/// Polls /v1/status until `done` holds for it or the deadline passes; the last status read.
template <class Done>
std::optional<status_view> wait_status(http_client& client, const std::string& token,
                                       steady::time_point deadline, Done done) {
  simdjson::dom::parser parser;
  for (;;) {
    const status_view s = read_status(client, token, parser);
    if (s.ok && done(s)) {
      return s;
    }
    if (steady::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(status_poll);
  }
}

/// X from the last "stockd: stopped at journal head N, X s after the signal" line.
std::optional<double> durable_after_signal(const std::string& log) {
  const auto at = log.rfind("stockd: stopped at journal head");
  if (at == std::string::npos) {
    return std::nullopt;
  }
  const auto comma = log.find(", ", at);
  const auto end = log.find('\n', at);
  if (comma == std::string::npos || comma > end) {
    return std::nullopt;
  }
  char* stop = nullptr;
  const double s = std::strtod(log.c_str() + comma + 2, &stop);
  return stop == log.c_str() + comma + 2 ? std::nullopt : std::optional<double>(s);
}

std::uint64_t replayed_from_log(const std::string& log) {
  // "stockd: ready: journal head N, M event(s) replayed" — the last such line.
  const auto at = log.rfind("stockd: ready:");
  if (at == std::string::npos) {
    return 0;
  }
  const auto comma = log.find(", ", at);
  if (comma == std::string::npos) {
    return 0;
  }
  std::uint64_t n = 0;
  const char* p = log.data() + comma + 2;
  std::from_chars(p, log.data() + log.size(), n);
  return n;
}

} // namespace

std::uint64_t directory_allocated_bytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (it->is_regular_file(ec) && ::stat(it->path().c_str(), &st) == 0) {
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

std::optional<std::string> validate(const large_catalog_options& o) {
  if (o.skus < 1 || o.skus > 9'999'999) {
    return "large_catalog: skus must be 1..9999999";
  }
  if (o.locations < 1 || o.locations > 16) {
    return "large_catalog: locations must be 1..16";
  }
  if (o.stock_per_location < 1) {
    return "large_catalog: stock per location must be at least 1";
  }
  if (o.sku_prefix.empty() || o.sku_prefix.size() > 64 ||
      o.sku_prefix.find_first_of("\"\\/?#% ") != std::string::npos) {
    return "SKU prefix: 1..64 characters, none of \" \\ / ? # % or space";
  }
  if (o.duration < milliseconds{500} || o.duration > std::chrono::hours{24}) {
    return "duration must be 0.5 s .. 24 h";
  }
  if (!(o.buys_per_second >= 0) || o.buys_per_second > 10'000) {
    return "buy rate must be 0..10000 per second";
  }
  if (!(o.webhook_rate > 0) || o.webhook_rate > 10'000 || o.webhook_batch < 1 ||
      o.webhook_batch > 100'000) {
    return "webhook: rate 0..10000 per second, batch 1..100000";
  }
  if (o.stockd_binary.empty()) {
    return "large_catalog starts stockd itself: it needs the stockd binary";
  }
  return std::nullopt;
}

std::string large_catalog_config(const large_catalog_options& o, std::uint16_t webhook_port) {
  std::string t = "# stockd config for stocksim (scenario large_catalog)\n# The webhook secret "
                  "comes from the environment: " +
                  std::string(webhook_secret_env) + "\n";
  std::string locations = "[";
  for (std::size_t l = 0; l < o.locations; ++l) {
    t += "[[locations]]\nid = \"" + location_name(l) + "\"\n\n";
    locations += (l > 0 ? ", \"" : "\"") + location_name(l) + "\"";
  }
  locations += "]";
  t += "[[channels]]\nid = \"" + std::string(channel_name) + "\"\nconnector = \"webhook\"\n";
  t += "endpoint = \"http://127.0.0.1:" + std::to_string(webhook_port) + "/inventory\"\n";
  t += "locations = " + locations + "\n";
  t += "credentials = \"env:" + std::string(webhook_secret_env) + "\"\n";
  char pacing[160];
  std::snprintf(pacing, sizeof pacing, "requests_per_second = %g\nburst = %zu\nbatch_size = %zu\n",
                o.webhook_rate, static_cast<std::size_t>(std::max(1.0, o.webhook_rate)),
                o.webhook_batch);
  t += pacing;
  return t;
}

large_catalog_summary run_large_catalog(const large_catalog_options& o) {
  large_catalog_summary out;
  out.skus = o.skus;
  out.locations = o.locations;
  out.stock_per_location = o.stock_per_location;
  out.seed = o.seed;
  if (auto problem = validate(o)) {
    out.error = *problem;
    return out;
  }
  export_channel_credentials();

  // The channel: the merchant's catalog set up with the opening stock.
  webhook_options wo;
  wo.rate = o.webhook_rate;
  wo.burst = std::max(1.0, o.webhook_rate);
  wo.batch_items_max = o.webhook_batch;
  webhook_emulator channel(wo);
  listener channel_listener(listener_options{},
                            [&channel](const request& r) { return channel.handle(r); });
  if (auto error = channel_listener.start()) {
    out.error = "webhook emulator: " + *error;
    return out;
  }
  const std::int64_t total_per_sku = o.stock_per_location * static_cast<std::int64_t>(o.locations);
  for (std::size_t i = 0; i < o.skus; ++i) {
    if (auto error = channel.set_quantity(sku_of(o, i), total_per_sku)) {
      out.error = "webhook emulator: " + *error;
      return out;
    }
  }
  std::vector<std::string> location_ids;
  std::vector<sku_stock> opening;
  for (std::size_t l = 0; l < o.locations; ++l) {
    location_ids.push_back(location_name(l));
  }
  opening.reserve(o.skus);
  for (std::size_t i = 0; i < o.skus; ++i) {
    opening.push_back({sku_of(o, i), std::vector<std::int64_t>(o.locations,
                                                               o.stock_per_location)});
  }
  world truth(location_ids, std::move(opening));
  say(o, "catalog of " + std::to_string(o.skus) + " SKUs x " + std::to_string(o.locations) +
             " locations set up on the channel and in the world");

  // 1. stockd on a fresh data directory.
  stockd_process_options so;
  so.binary = o.stockd_binary;
  so.config_toml = large_catalog_config(o, channel_listener.port());
  so.keep_dir = o.keep_dir;
  so.ready_timeout = o.startup_timeout;
  so.stop_timeout = o.stop_timeout;
  stockd_process stockd(so);
  if (auto error = stockd.start()) {
    out.error = "stockd did not start: " + *error;
    return out;
  }
  out.ready_fresh_s = std::chrono::duration<double>(stockd.ready_after()).count();
  out.rss_fresh_bytes = stockd.resident_bytes().value_or(0);
  say(o, "stockd ready in " + std::to_string(out.ready_fresh_s) + " s (fresh), RSS " +
             mib(out.rss_fresh_bytes) + (o.keep_dir ? "; its directory: " + stockd.dir() : ""));
  const std::string host = "127.0.0.1";
  const std::string& token = stockd.token();
  http_client status_client(host, stockd.port());

  // 2. Seeding: one snapshot per location, all at once (stockd takes 4 uploads at a time).
  const std::string as_of = utc_iso(std::chrono::system_clock::now() - std::chrono::seconds{2});
  const auto seed_start = steady::now();
  {
    std::vector<snapshot_result> results(o.locations);
    std::vector<std::thread> uploads;
    for (std::size_t l = 0; l < o.locations; ++l) {
      uploads.emplace_back([&, l] {
        results[l] = post_snapshot(host, stockd.port(), token, o, location_ids[l], as_of,
                                   o.seed_timeout);
      });
    }
    for (auto& t : uploads) {
      t.join();
    }
    for (const auto& r : results) {
      out.seed_lines += r.lines;
      out.seed_accepted += r.accepted;
      out.seed_duplicate += r.duplicate;
      out.seed_rejected += r.rejected;
      if (!r.error.empty() && out.error.empty()) {
        out.error = "seeding: " + r.error;
      }
    }
  }
  out.seed_journaled_s = seconds_since(seed_start);
  if (!out.error.empty()) {
    return out;
  }
  say(o, std::to_string(out.seed_accepted) + " of " + std::to_string(out.seed_lines) +
             " snapshot lines durable after " + std::to_string(out.seed_journaled_s) + " s");
  const auto applied = wait_status(status_client, token, seed_start + o.seed_timeout,
                                   [](const status_view& s) { return s.in_flight == 0; });
  if (!applied) {
    out.error = "seeding: stockd did not apply the snapshots within the seed timeout";
    return out;
  }
  out.seed_applied_s = seconds_since(seed_start);
  out.seed_lines_per_s =
      out.seed_applied_s > 0 ? static_cast<double>(out.seed_lines) / out.seed_applied_s : 0;
  out.checkpoint_lag_after_seed = applied->checkpoint_lag;
  say(o, "applied after " + std::to_string(out.seed_applied_s) + " s (" +
             std::to_string(static_cast<long long>(out.seed_lines_per_s)) + " lines/s), " +
             std::to_string(applied->live_actors) + " live actors, RSS " +
             mib(stockd.resident_bytes().value_or(0)));

  // 3. The channel's first full push: stockd knows nothing of what it shows until it pushed.
  const auto sync_start = steady::now();
  const auto synced = wait_status(status_client, token, seed_start + o.seed_timeout,
                                  [](const status_view& s) {
                                    return s.channel_queued == 0 && s.channel_out_of_sync == 0;
                                  });
  if (!synced) {
    out.error = "seeding: the channel did not catch up within the seed timeout";
    return out;
  }
  out.channel_sync_s = seconds_since(sync_start);
  out.live_actors = synced->live_actors;
  out.rss_after_seed_bytes = stockd.resident_bytes().value_or(0);
  say(o, "channel in sync " + std::to_string(out.channel_sync_s) + " s later; RSS " +
             mib(out.rss_after_seed_bytes) + ", checkpoint lag " +
             std::to_string(synced->checkpoint_lag) + " events");

  // 4. Traffic: Zipf demand over the whole catalog on the channel; a WMS settles the orders.
  event_ledger ledger;
  std::mutex sold_mu;
  std::unordered_set<std::string> sold;
  const zipf_chooser chooser(o);
  buyer_options b;
  b.buys_per_second = o.buys_per_second;
  b.channel_id = std::string(channel_name);
  b.stockd_url = stockd.url();
  b.token = token;
  b.delay = o.order_delay;
  b.jitter = o.order_jitter;
  b.duplicate_probability = o.order_duplicate_probability;
  b.seed = o.seed * 1'000;
  b.choose_sku = [&chooser](std::mt19937_64& rng) { return chooser(rng); };
  b.on_sale = [&](const sale& s) {
    truth.sell(s.channel_id, s.sku, s.order_id);
    ledger.created(event_key(s.channel_id, s.event_id));
    std::lock_guard lock(sold_mu);
    sold.emplace(s.sku);
  };
  b.on_delivery = [&](const delivery& d) {
    const answer a = d.outcome == delivery_outcome::accepted    ? answer::accepted
                     : d.outcome == delivery_outcome::duplicate ? answer::duplicate
                     : d.outcome == delivery_outcome::rejected  ? answer::rejected
                     : d.outcome == delivery_outcome::retrying  ? answer::retrying
                                                                : answer::failed;
    ledger.answered(event_key(channel_name, d.event_id), a, d.latency);
    if (a == answer::accepted || a == answer::duplicate) {
      // Where stockd placed the line: the accepted answer's location (a duplicate's has none;
      // the WMS then looks it up).
      truth.order_acknowledged(d.event_id.substr(0, d.event_id.rfind(':')), steady::now(),
                               truth.selling_index(d.location));
    }
  };
  buyer customers(std::move(b), channel);
  std::atomic<bool> wms_stop{false};
  std::uint64_t shipped = 0;
  std::uint64_t cancelled = 0;
  std::thread wms([&] {
    wms_sender sender(host, stockd.port(), token, ledger);
    http_client tracer(host, stockd.port());
    simdjson::dom::parser trace_parser;
    while (!wms_stop.load()) {
      std::this_thread::sleep_for(wms_tick);
      learn_placements(truth, tracer, trace_parser, token);
      std::vector<wms_event> events;
      for (const order_line& line : truth.settle_due(steady::now() - o.fulfil_delay,
                                                     wms_batch_max)) {
        ++(line.covered ? shipped : cancelled);
        events.push_back(settle_event(line));
      }
      sender.send(events);
    }
  });
  const auto traffic_start = steady::now();
  if (o.buys_per_second > 0) {
    if (auto error = customers.start()) {
      out.error = "customers: " + *error;
    }
  }
  say(o, "traffic for " + std::to_string(o.duration.count() / 1000) + " s at " +
             std::to_string(static_cast<long long>(o.buys_per_second)) +
             " purchase attempts/s (Zipf s = " + std::to_string(o.zipf_s) + ")");
  std::this_thread::sleep_for(o.duration);
  out.duration_s = seconds_since(traffic_start);
  customers.stop(o.drain_timeout);
  const auto drain_start = steady::now();
  while (truth.open_orders() > 0 && steady::now() - drain_start < o.drain_timeout) {
    std::this_thread::sleep_for(milliseconds{100});
  }
  wms_stop = true;
  wms.join();
  out.shipped = shipped;
  out.cancelled_oversold = cancelled;
  const std::size_t open_orders = truth.open_orders();
  say(o, "traffic done: " + std::to_string(customers.purchases()) + " purchases, " +
             std::to_string(sold.size()) + " SKUs sold, " + std::to_string(open_orders) +
             " orders left open");

  // 5. Convergence: the sold SKUs and a uniform sample over HTTP, the whole catalog on the
  // channel in-process.
  std::vector<std::string> checked(sold.begin(), sold.end());
  {
    std::mt19937_64 rng(o.seed * 31 + 7);
    std::uniform_int_distribution<std::size_t> pick(0, o.skus - 1);
    std::unordered_set<std::string> seen(sold.begin(), sold.end());
    for (std::size_t n = 0; n < std::min(o.sample_skus, o.skus); ++n) {
      std::string s = sku_of(o, pick(rng));
      if (seen.insert(s).second) {
        checked.push_back(std::move(s));
      }
    }
    for (std::size_t edge : {std::size_t{0}, o.skus - 1}) {
      std::string s = sku_of(o, edge);
      if (seen.insert(s).second) {
        checked.push_back(std::move(s));
      }
    }
    std::sort(checked.begin(), checked.end());
  }
  out.checked_skus_http = checked.size();
  out.checked_skus_channel = o.skus - sold.size();
  http_client reader(host, stockd.port());
  simdjson::dom::parser parser;
  const auto converge_start = steady::now();
  for (;;) {
    out.mismatches.clear();
    out.unreflected_skus = 0;
    out.channel_mismatches = 0;
    std::size_t problems = 0;
    auto note = [&out](std::string m) {
      if (out.mismatches.size() < mismatches_kept) {
        out.mismatches.push_back(std::move(m));
      }
    };
    for (const std::string& sku : checked) {
      const sku_record r = read_sku(reader, token, sku, parser);
      const sku_truth t = *truth.truth(sku);
      if (!r.ok) {
        ++problems;
        note(sku + ": GET /v1/skus failed");
        continue;
      }
      if (r.on_hand != t.on_hand || r.committed != 0) {
        ++out.unreflected_skus;
        ++problems;
        note(sku + ": stockd on_hand " + std::to_string(r.on_hand) + " committed " +
             std::to_string(r.committed) + ", the world's on_hand " + std::to_string(t.on_hand));
      }
      const auto shown = channel.quantity(sku);
      const auto record = r.channels.find(channel_name);
      if (record == r.channels.end() || shown != record->second.expected) {
        ++problems;
        note(sku + ": the channel shows " + (shown ? std::to_string(*shown) : "nothing") +
             ", stockd expects " +
             (record == r.channels.end() ? "nothing" : std::to_string(record->second.expected)));
      }
    }
    // Every SKU no customer bought: the channel shows its opening stock as the world has it.
    // (A sold SKU is checked against stockd's expected value above instead: its channel value
    // depends on stockd's placement of each line and on oversells, which the world does not
    // model per channel here.)
    for (std::size_t i = 0; i < o.skus; ++i) {
      const std::string sku = sku_of(o, i);
      if (sold.contains(sku)) {
        continue;
      }
      const std::int64_t sellable = std::max<std::int64_t>(0, truth.truth(sku)->sellable());
      const auto shown = channel.quantity(sku);
      if (shown != std::optional<std::int64_t>(sellable)) {
        ++out.channel_mismatches;
        ++problems;
        note(sku + ": the channel shows " + (shown ? std::to_string(*shown) : "nothing") +
             ", the world can sell " + std::to_string(sellable));
      }
    }
    out.convergence_s = seconds_since(converge_start);
    if (problems == 0 && open_orders == 0) {
      out.converged = true;
      break;
    }
    if (steady::now() - converge_start >= o.convergence_timeout) {
      break;
    }
    std::this_thread::sleep_for(convergence_poll);
  }
  if (open_orders > 0) {
    out.mismatches.insert(out.mismatches.begin(),
                          std::to_string(open_orders) + " orders still open after the drain");
  }
  say(o, std::string(out.converged ? "converged" : "NOT converged") + " after " +
             std::to_string(out.convergence_s) + " s (" + std::to_string(checked.size()) +
             " SKUs over HTTP, " + std::to_string(out.checked_skus_channel) +
             " unsold ones on the channel)");
  out.events = ledger.totals();
  out.unanswered = ledger.unanswered();
  out.ack_latency = ledger.ack_latency();
  for (const auto& [name, sales] : truth.sales()) {
    out.units_sold += sales.units_sold;
    out.oversold_units += sales.oversold_units;
  }
  const std::uint64_t seed_unacknowledged =
      out.seed_lines - std::min(out.seed_lines, out.seed_accepted + out.seed_duplicate);
  out.lost = out.unanswered + out.unreflected_skus + seed_unacknowledged;
  {
    simdjson::dom::element root;
    if (parser.parse(channel.stats_json()).get(root) == simdjson::SUCCESS) {
      out.channel_calls = u64_at(root, "/calls");
      out.channel_items = u64_at(root, "/items");
      const auto item_calls = u64_at(root, "/item_calls");
      out.channel_items_per_call =
          item_calls > 0 ? static_cast<double>(out.channel_items) / static_cast<double>(item_calls)
                         : 0;
      out.channel_throttled = u64_at(root, "/throttled");
    }
  }
  {
    // A new connection: the one above has been idle long enough for stockd to close it.
    http_client fresh(host, stockd.port());
    simdjson::dom::parser p;
    const status_view s = read_status(fresh, token, p);
    out.map_used_bytes = s.map_used_bytes;
  }
  // The kernel keeps VmHWM lazily (it is raised when pages are unmapped, and VmRSS is read
  // from per-CPU counters), so a VmRSS read earlier can exceed a VmHWM read later: CI saw
  // 311.2 MiB after seeding and a VmHWM of 311.1 MiB. The peak is the larger of VmHWM and
  // every VmRSS this run read.
  out.rss_peak_bytes =
      std::max({process_peak_resident_bytes(stockd.pid()).value_or(0), out.rss_fresh_bytes,
                out.rss_after_seed_bytes});

  // 6. Restart over the seeded store: recovery from the checkpoints.
  if (o.restart) {
    const auto stop_start = steady::now();
    stockd.stop();
    out.stop_s = seconds_since(stop_start);
    out.stop_durable_s = durable_after_signal(stockd.log_tail(100'000));
    say(o, "stockd stopped in " + std::to_string(*out.stop_s) + " s; restarting over its data");
    if (auto error = stockd.start()) {
      out.error = "stockd did not restart: " + *error;
      return out;
    }
    out.ready_restart_s = std::chrono::duration<double>(stockd.ready_after()).count();
    out.rss_restart_bytes = stockd.resident_bytes();
    out.restart_replayed = replayed_from_log(stockd.log_tail(100'000));
    say(o, "stockd ready in " + std::to_string(*out.ready_restart_s) + " s (restart, " +
               std::to_string(*out.restart_replayed) + " events replayed), RSS " +
               mib(out.rss_restart_bytes.value_or(0)));
    // 7. The sample against the restarted stockd.
    http_client again(host, stockd.port());
    bool consistent = true;
    const std::size_t n = std::min(checked.size(), restart_sample_max);
    for (std::size_t i = 0; i < n; ++i) {
      const std::string& sku = checked[i * checked.size() / n];
      const sku_record r = read_sku(again, token, sku, parser);
      if (!r.ok || r.on_hand != truth.truth(sku)->on_hand || r.committed != 0) {
        if (consistent) {
          out.mismatches.push_back("after the restart: " + sku + ": stockd on_hand " +
                                   std::to_string(r.on_hand) + ", the world's " +
                                   std::to_string(truth.truth(sku)->on_hand));
        }
        consistent = false;
      }
    }
    out.restart_consistent = consistent;
    out.rss_restart_peak_bytes = process_peak_resident_bytes(stockd.pid());
    if (out.rss_restart_peak_bytes && out.rss_restart_bytes) {  // lazily kept, as above
      out.rss_restart_peak_bytes = std::max(*out.rss_restart_peak_bytes, *out.rss_restart_bytes);
    }
    if (!consistent) {
      out.converged = false;
    }
  }
  stockd.stop();
  out.data_bytes = directory_allocated_bytes(stockd.dir() + "/data");
  channel_listener.stop();
  return out;
}

std::string large_catalog_json(const large_catalog_summary& s) {
  connectors::json_writer w;
  w.begin_object();
  w.field("scenario", "large_catalog");
  w.field("passed", s.passed());
  if (!s.error.empty()) {
    w.field("error", s.error);
  }
  w.field("skus", static_cast<std::uint64_t>(s.skus));
  w.field("locations", static_cast<std::uint64_t>(s.locations));
  w.field("sku_locations", static_cast<std::uint64_t>(s.skus * s.locations));
  w.field("stock_per_location", s.stock_per_location);
  w.field("seed", s.seed);
  w.field("duration_s", s.duration_s);
  w.key("startup").begin_object();
  w.field("fresh_s", s.ready_fresh_s);
  auto opt = [&w](std::string_view k, const auto& v) {
    w.key(k);
    if (v) {
      w.value(*v);
    } else {
      w.null();
    }
  };
  opt("restart_s", s.ready_restart_s);
  opt("restart_replayed_events", s.restart_replayed);
  opt("stop_s", s.stop_s);
  opt("stop_durable_s", s.stop_durable_s);
  w.end_object();
  w.key("seeding").begin_object();
  w.field("method", "one NDJSON snapshot per location, POST /v1/snapshots/{location}, at once");
  w.field("lines", s.seed_lines).field("accepted", s.seed_accepted);
  w.field("duplicate", s.seed_duplicate).field("rejected", s.seed_rejected);
  w.field("journaled_s", s.seed_journaled_s).field("applied_s", s.seed_applied_s);
  w.field("lines_per_s", s.seed_lines_per_s);
  w.field("channel_sync_s", s.channel_sync_s);
  w.field("checkpoint_lag_events", s.checkpoint_lag_after_seed);
  w.field("live_actors", s.live_actors);
  w.end_object();
  w.key("stockd_memory").begin_object();
  w.field("rss_fresh_bytes", s.rss_fresh_bytes);
  w.field("rss_after_seed_bytes", s.rss_after_seed_bytes);
  w.field("rss_peak_bytes", s.rss_peak_bytes);
  opt("rss_restart_bytes", s.rss_restart_bytes);
  opt("rss_restart_peak_bytes", s.rss_restart_peak_bytes);
  w.end_object();
  w.key("storage").begin_object();
  w.field("data_bytes", s.data_bytes).field("map_used_bytes", s.map_used_bytes);
  w.end_object();
  w.key("events").begin_object();
  w.field("created", s.events.created).field("sends", s.events.sends);
  w.field("acknowledged", s.events.acknowledged).field("rejected", s.events.rejected);
  w.field("retries", s.events.retries).field("given_up", s.events.given_up);
  w.field("unanswered", s.unanswered).field("unreflected_skus", s.unreflected_skus);
  w.field("lost", s.lost);
  w.end_object();
  w.key("ack_latency").begin_object();
  w.field("count", s.ack_latency.count).field("p50_ms", s.ack_latency.p50_ms);
  w.field("p99_ms", s.ack_latency.p99_ms).field("max_ms", s.ack_latency.max_ms);
  w.end_object();
  w.field("units_sold", s.units_sold).field("oversold_units", s.oversold_units);
  w.field("shipped", s.shipped).field("cancelled_oversold", s.cancelled_oversold);
  w.key("convergence").begin_object();
  w.field("converged", s.converged).field("after_s", s.convergence_s);
  w.field("checked_skus_http", static_cast<std::uint64_t>(s.checked_skus_http));
  w.field("checked_skus_channel", static_cast<std::uint64_t>(s.checked_skus_channel));
  w.field("channel_mismatches", s.channel_mismatches);
  opt("restart_consistent", s.restart_consistent);
  w.key("mismatches").begin_array();
  for (const auto& m : s.mismatches) {
    w.value(m);
  }
  w.end_array();
  w.end_object();
  w.key("channel").begin_object();
  w.field("id", channel_name).field("calls", s.channel_calls).field("items", s.channel_items);
  w.field("items_per_call", s.channel_items_per_call).field("throttled", s.channel_throttled);
  w.end_object();
  w.end_object();
  return w.take();
}

std::string large_catalog_text(const large_catalog_summary& s) {
  std::string t;
  char line[512];
  auto add = [&t, &line](int n) {
    if (n > 0) {
      t.append(line, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1));
    }
  };
  add(std::snprintf(line, sizeof line, "large_catalog: %zu SKUs x %zu locations (%zu states), "
                                       "%lld units each, seed %llu: %s\n",
                    s.skus, s.locations, s.skus * s.locations,
                    static_cast<long long>(s.stock_per_location),
                    static_cast<unsigned long long>(s.seed), s.passed() ? "PASSED" : "FAILED"));
  if (!s.error.empty()) {
    t += "  error: " + s.error + "\n";
  }
  add(std::snprintf(line, sizeof line,
                    "  start-up: fresh %.2f s; restart over the seeded store %s s (%s events "
                    "replayed; stop took %s s, durable after %s s)\n",
                    s.ready_fresh_s,
                    s.ready_restart_s ? std::to_string(*s.ready_restart_s).c_str() : "-",
                    s.restart_replayed ? std::to_string(*s.restart_replayed).c_str() : "-",
                    s.stop_s ? std::to_string(*s.stop_s).c_str() : "-",
                    s.stop_durable_s ? std::to_string(*s.stop_durable_s).c_str() : "-"));
  add(std::snprintf(line, sizeof line,
                    "  seeding: %llu snapshot lines (%llu accepted, %llu rejected) durable in "
                    "%.1f s, applied in %.1f s (%.0f lines/s); channel's first full push %.1f s; "
                    "checkpoint lag then %llu events\n",
                    static_cast<unsigned long long>(s.seed_lines),
                    static_cast<unsigned long long>(s.seed_accepted),
                    static_cast<unsigned long long>(s.seed_rejected), s.seed_journaled_s,
                    s.seed_applied_s, s.seed_lines_per_s, s.channel_sync_s,
                    static_cast<unsigned long long>(s.checkpoint_lag_after_seed)));
  add(std::snprintf(line, sizeof line,
                    "  stockd memory: RSS fresh %s, after seeding %s (%llu live actors), peak "
                    "(VmHWM) %s; after the restart %s, its peak %s\n",
                    mib(s.rss_fresh_bytes).c_str(), mib(s.rss_after_seed_bytes).c_str(),
                    static_cast<unsigned long long>(s.live_actors), mib(s.rss_peak_bytes).c_str(),
                    s.rss_restart_bytes ? mib(*s.rss_restart_bytes).c_str() : "-",
                    s.rss_restart_peak_bytes ? mib(*s.rss_restart_peak_bytes).c_str() : "-"));
  add(std::snprintf(line, sizeof line, "  storage: LMDB files %s on disk, map used %s\n",
                    mib(s.data_bytes).c_str(), mib(s.map_used_bytes).c_str()));
  add(std::snprintf(line, sizeof line,
                    "  traffic %.1f s: %llu events created, %llu acknowledged, lost %llu "
                    "(unanswered %llu, unreflected SKUs %llu); ack p50 %.1f ms p99 %.1f ms; "
                    "%llu units sold, %llu oversold; %llu shipped, %llu cancelled\n",
                    s.duration_s, static_cast<unsigned long long>(s.events.created),
                    static_cast<unsigned long long>(s.events.acknowledged),
                    static_cast<unsigned long long>(s.lost),
                    static_cast<unsigned long long>(s.unanswered),
                    static_cast<unsigned long long>(s.unreflected_skus), s.ack_latency.p50_ms,
                    s.ack_latency.p99_ms, static_cast<unsigned long long>(s.units_sold),
                    static_cast<unsigned long long>(s.oversold_units),
                    static_cast<unsigned long long>(s.shipped),
                    static_cast<unsigned long long>(s.cancelled_oversold)));
  add(std::snprintf(line, sizeof line,
                    "  convergence: %s after %.1f s; stockd on-hand = the world's for %zu SKUs "
                    "(every SKU sold + a uniform sample, GET /v1/skus: the channel shows stockd's "
                    "expected value), and for the %zu SKUs not sold the channel shows the "
                    "world's stock (%llu wrong); after the restart: %s\n",
                    s.converged ? "converged" : "NOT converged", s.convergence_s,
                    s.checked_skus_http, s.checked_skus_channel,
                    static_cast<unsigned long long>(s.channel_mismatches),
                    !s.restart_consistent ? "not checked"
                    : *s.restart_consistent ? "the sample still equals the world"
                                            : "MISMATCH"));
  add(std::snprintf(line, sizeof line,
                    "  channel webhook: %llu calls, %llu items, %.0f items per call, %llu "
                    "throttled\n",
                    static_cast<unsigned long long>(s.channel_calls),
                    static_cast<unsigned long long>(s.channel_items), s.channel_items_per_call,
                    static_cast<unsigned long long>(s.channel_throttled)));
  for (const auto& m : s.mismatches) {
    t += "  mismatch: " + m + "\n";
  }
  return t;
}

} // namespace stockd::simulator
