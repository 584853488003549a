#include "simulator/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace stockd::simulator {
namespace {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  // Nearest rank: the smallest sample with at least p of the samples at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void write_latency(connectors::json_writer& out, std::string_view name, const latency_summary& l) {
  out.key(name).begin_object();
  out.field("count", l.count).field("p50_ms", l.p50_ms).field("p99_ms", l.p99_ms);
  out.field("max_ms", l.max_ms);
  // Bucket i holds samples in (bounds[i-1], bounds[i]]; the last one everything above.
  out.key("histogram").begin_object().key("bounds_ms").begin_array();
  for (double b : latency_bucket_bounds_ms()) {
    out.value(b);
  }
  out.end_array().key("counts").begin_array();
  for (std::uint64_t n : l.histogram) {
    out.value(n);
  }
  out.end_array().end_object();
  out.end_object();
}

std::string fixed(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

/// "a / b" as a ratio, with the cases a reader needs spelled out.
std::string ratio_text(double baseline, double run) {
  if (run == 0) {
    return baseline == 0 ? "both 0" : "baseline " + fixed(baseline, 0) + " vs 0";
  }
  return fixed(baseline / run, 1) + "x";
}

} // namespace

const std::vector<double>& latency_bucket_bounds_ms() {
  static const std::vector<double> bounds = {0.5, 1,   2,   5,     10,    20,    50,    100,
                                             200, 500, 1'000, 2'000, 5'000, 10'000, 30'000};
  return bounds;
}

bool timeline::thin_if_full() {
  if (t_s.size() < points_max) {
    return false;
  }
  auto thin = [](auto& v) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < v.size(); i += 2) {
      v[kept++] = std::move(v[i]);
    }
    v.resize(kept);
  };
  thin(t_s);
  for (auto& tr : tracks) {
    thin(tr.physical);
    thin(tr.sellable);
    thin(tr.expected);
    for (auto& c : tr.shown) {
      thin(c);
    }
  }
  for (auto& c : wrong) {
    thin(c);
  }
  period_s *= 2;
  return true;
}

void latency_recorder::record(std::chrono::nanoseconds d) {
  const double ms = std::chrono::duration<double, std::milli>(d).count();
  std::lock_guard lock(mu_);
  max_ms_ = std::max(max_ms_, ms);
  if (samples_.size() < samples_max_) {
    samples_.push_back(ms);
  } else {
    ++dropped_;
  }
}

latency_summary latency_recorder::summary() const {
  std::vector<double> sorted;
  latency_summary out;
  {
    std::lock_guard lock(mu_);
    sorted = samples_;
    out.count = samples_.size() + dropped_;
    out.max_ms = max_ms_;
  }
  std::sort(sorted.begin(), sorted.end());
  out.p50_ms = percentile(sorted, 0.50);
  out.p99_ms = percentile(sorted, 0.99);
  const auto& bounds = latency_bucket_bounds_ms();
  out.histogram.assign(bounds.size() + 1, 0);
  std::size_t bucket = 0;
  for (double ms : sorted) {  // sorted: the bucket only moves forward
    while (bucket < bounds.size() && ms > bounds[bucket]) {
      ++bucket;
    }
    ++out.histogram[bucket];
  }
  return out;
}

void event_ledger::created(std::string key, std::string_view kind) {
  std::lock_guard lock(mu_);
  if (acknowledged_.emplace(std::move(key), false).second) {
    ++counts_.created;
    const std::string_view k = kind.empty() ? std::string_view("other") : kind;
    auto it = by_kind_.find(k);
    if (it == by_kind_.end()) {
      it = by_kind_.emplace(std::string(k), 0).first;
    }
    ++it->second;
  }
}

std::map<std::string, std::uint64_t> event_ledger::by_kind() const {
  std::lock_guard lock(mu_);
  return {by_kind_.begin(), by_kind_.end()};
}

void event_ledger::answered(std::string_view key, answer a, std::chrono::nanoseconds latency) {
  const bool acked = a == answer::accepted || a == answer::duplicate;
  if (acked) {
    ack_.record(latency);
  }
  std::lock_guard lock(mu_);
  ++counts_.sends;
  switch (a) {
    case answer::accepted: ++counts_.accepted_answers; break;
    case answer::duplicate: ++counts_.duplicate_answers; break;
    case answer::rejected: ++counts_.rejected; break;
    case answer::retrying: ++counts_.retries; break;
    case answer::failed: ++counts_.given_up; break;
  }
  if (acked) {
    auto it = acknowledged_.find(std::string(key));
    if (it != acknowledged_.end() && !it->second) {
      it->second = true;
      ++counts_.acknowledged;
    }
  }
}

event_ledger::counts event_ledger::totals() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::uint64_t event_ledger::unanswered() const {
  std::lock_guard lock(mu_);
  return counts_.created - counts_.acknowledged;
}

void write_json(connectors::json_writer& out, const run_summary& s) {
  out.begin_object();
  out.field("scenario", s.scenario).field("label", s.label).field("seed", s.seed);
  out.field("duration_s", s.duration_s).field("skus", static_cast<std::uint64_t>(s.skus));
  if (!s.error.empty()) {
    out.field("error", s.error);
  }
  out.key("events").begin_object();
  out.field("created", s.events.created).field("sends", s.events.sends);
  out.field("acknowledged", s.events.acknowledged);
  out.field("accepted_answers", s.events.accepted_answers);
  out.field("duplicate_answers", s.events.duplicate_answers);
  out.field("rejected", s.events.rejected).field("retries", s.events.retries);
  out.field("given_up", s.events.given_up).field("unanswered", s.unanswered);
  out.field("unreflected_skus", s.unreflected_skus).field("lost", s.lost);
  out.field("per_second", s.events_per_second);
  out.key("by_kind").begin_object();
  for (const auto& [kind, n] : s.events_by_kind) {
    out.field(kind, n);
  }
  out.end_object().end_object();
  write_latency(out, "ack_latency", s.ack_latency);
  out.field("units_sold", s.units_sold).field("oversold_units", s.oversold_units);
  out.field("sampled_skus", static_cast<std::uint64_t>(s.sampled_skus));
  out.key("channels").begin_object();
  for (const auto& c : s.channels) {
    out.key(c.id).begin_object();
    out.field("units_sold", c.units_sold).field("oversold_units", c.oversold_units);
    out.field("reserves", c.reserves);
    if (c.reserves) {
      out.key("reservations").begin_object();
      out.field("requested", c.reservations_requested).field("granted", c.reservations_granted);
      out.field("refused", c.reservations_refused).field("abandoned", c.reservations_abandoned);
      out.field("committed", c.reservations_committed).field("failed", c.reservations_failed);
      out.end_object();
    }
    out.field("over_display_sku_s", c.over_display_sku_s);
    out.field("wrong_display_sku_s", c.wrong_display_sku_s);
    out.field("api_calls", c.api_calls).field("items", c.items);
    out.field("items_per_call", c.items_per_call).field("throttled", c.throttled);
    out.field("responses_429", c.responses_429);
    out.field("out_of_sync_skus", c.out_of_sync_skus);
    write_latency(out, "propagation", c.propagation);
    out.field("propagation_timeouts", c.propagation_timeouts);
    if (c.outage) {
      out.key("outage").begin_object();
      out.field("from_s", c.outage_from_s).field("until_s", c.outage_until_s);
      out.field("over_display_sku_s", c.outage_over_display_sku_s);
      out.field("wrong_display_sku_s", c.outage_wrong_display_sku_s);
      out.key("recovered_s");
      if (c.outage_recovered_s >= 0) {
        out.value(c.outage_recovered_s);
      } else {
        out.null();
      }
      out.end_object();
    }
    out.end_object();
  }
  out.end_object();
  out.key("kits").begin_object();
  out.field("defined", static_cast<std::uint64_t>(s.kits.size()));
  out.field("units_sold", s.kit_units_sold).field("oversold_units", s.kit_oversold_units);
  out.key("by_kit").begin_array();
  for (const kit_summary& k : s.kits) {
    out.begin_object().field("sku", k.sku);
    out.key("components").begin_array();
    for (const auto& [sku, qty] : k.components) {
      out.begin_object().field("sku", sku).field("qty", qty).end_object();
    }
    out.end_array();
    out.field("units_sold", k.units_sold).field("oversold_units", k.oversold_units);
    out.field("out_of_sync_channels", k.out_of_sync_channels).end_object();
  }
  out.end_array().end_object();
  out.key("world").begin_object();
  out.field("shipped", s.world.shipped).field("cancelled_oversold", s.world.cancelled_oversold);
  out.field("cancelled_by_customer", s.world.cancelled_by_customer);
  out.field("payment_failed", s.world.payment_failed);
  out.field("returned_restocked", s.world.returned_restocked);
  out.field("returned_damaged", s.world.returned_damaged);
  out.field("returned_at_till", s.world.returned_at_till);
  out.field("purchase_orders", s.world.purchase_orders);
  out.field("counts", s.world.counts).field("counts_late", s.world.counts_late);
  out.field("counts_behind", s.world.counts_behind);
  out.field("transfers", s.world.transfers).field("transferred_units", s.world.transferred_units);
  out.field("taken_over_by_reservations", s.world.taken_over);
  out.field("oversold_at_placement", s.world.misplaced);
  out.field("placements_traced", s.world.placements_traced);
  out.field("rebalancing_transfers", s.world.rebalancing_transfers).end_object();
  out.key("stockd_process");
  if (s.stockd_ready_s || s.stockd_rss_bytes) {
    out.begin_object();
    if (s.stockd_ready_s) {
      out.field("ready_s", *s.stockd_ready_s);
    }
    if (s.stockd_rss_bytes) {
      out.field("rss_bytes", *s.stockd_rss_bytes);
    }
    if (s.stockd_rss_peak_bytes) {
      out.field("rss_peak_bytes", *s.stockd_rss_peak_bytes);
    }
    out.end_object();
  } else {
    out.null();
  }
  out.key("convergence").begin_object();
  out.field("converged", s.converged).field("seconds", s.convergence_s);
  out.field("timeout_s", s.convergence_timeout_s);
  out.key("mismatches").begin_array();
  for (const auto& m : s.mismatches) {
    out.value(m);
  }
  out.end_array().end_object();
  out.end_object();
}

std::string summary_json(const run_summary& run, const std::optional<run_summary>& baseline) {
  connectors::json_writer out;
  out.begin_object().key("run");
  write_json(out, run);
  out.key("baseline");
  if (baseline) {
    write_json(out, *baseline);
    double run_stale = 0;
    double base_stale = 0;
    for (const auto& c : run.channels) {
      run_stale += c.over_display_sku_s;
    }
    for (const auto& c : baseline->channels) {
      base_stale += c.over_display_sku_s;
    }
    out.key("comparison").begin_object();
    out.field("oversold_units", run.oversold_units);
    out.field("baseline_oversold_units", baseline->oversold_units);
    // null when stockd oversold nothing: the ratio is unbounded, the two counts say it all.
    out.key("oversold_ratio_baseline_over_run");
    if (run.oversold_units > 0) {
      out.value(static_cast<double>(baseline->oversold_units) /
                static_cast<double>(run.oversold_units));
    } else {
      out.null();
    }
    out.field("over_display_sku_s", run_stale).field("baseline_over_display_sku_s", base_stale);
    out.end_object();
  } else {
    out.null();
  }
  out.end_object();
  return out.take();
}

namespace {

void text_one(std::string& t, const run_summary& s) {
  t += "== " + s.label + " — scenario " + s.scenario + ", seed " + std::to_string(s.seed) + ", " +
       fixed(s.duration_s) + " s, " + std::to_string(s.skus) + " SKUs\n";
  if (!s.error.empty()) {
    t += "   NOT RUN: " + s.error + "\n";
    return;
  }
  t += "   oversold units: " + std::to_string(s.oversold_units) + " of " +
       std::to_string(s.units_sold) + " sold\n";
  t += "   events: " + std::to_string(s.events.created) + " created, " +
       std::to_string(s.events.sends) + " sends, " + std::to_string(s.events.acknowledged) +
       " acknowledged, " + std::to_string(s.events.duplicate_answers) + " answered duplicate, " +
       std::to_string(s.events.retries) + " retried; LOST " + std::to_string(s.lost) + " (" +
       std::to_string(s.unanswered) + " unanswered, " + std::to_string(s.unreflected_skus) +
       " SKUs unreflected)\n";
  if (!s.events_by_kind.empty()) {
    t += "   events by kind:";
    bool first = true;
    for (const auto& [kind, n] : s.events_by_kind) {
      t += (first ? " " : ", ") + kind + " " + std::to_string(n);
      first = false;
    }
    t += "\n";
  }
  t += "   ack latency: p50 " + fixed(s.ack_latency.p50_ms, 2) + " ms, p99 " +
       fixed(s.ack_latency.p99_ms, 2) + " ms, max " + fixed(s.ack_latency.max_ms, 2) + " ms (" +
       fixed(s.events_per_second) + " events/s)\n";
  t += "   channel    sold  oversold  over-shown SKU·s  wrong SKU·s  calls  items/call  "
       "throttled  429s  out of sync\n";
  for (const auto& c : s.channels) {
    char line[256];
    std::snprintf(line, sizeof line, "   %-9s %5llu  %8llu  %16.1f  %11.1f  %5llu  %10.1f  %9llu  %4llu  %11llu\n",
                  c.id.c_str(), static_cast<unsigned long long>(c.units_sold),
                  static_cast<unsigned long long>(c.oversold_units), c.over_display_sku_s,
                  c.wrong_display_sku_s, static_cast<unsigned long long>(c.api_calls),
                  c.items_per_call, static_cast<unsigned long long>(c.throttled),
                  static_cast<unsigned long long>(c.responses_429),
                  static_cast<unsigned long long>(c.out_of_sync_skus));
    t += line;
    if (c.reserves) {
      t += "             (reserves through stockd: " + std::to_string(c.reservations_requested) +
           " requested, " + std::to_string(c.reservations_granted) + " granted, " +
           std::to_string(c.reservations_refused) + " refused, " +
           std::to_string(c.reservations_abandoned) + " abandoned, " +
           std::to_string(c.reservations_committed) + " committed, " +
           std::to_string(c.reservations_failed) + " failed" +
           (s.world.taken_over > 0
                ? "; " + std::to_string(s.world.taken_over) +
                      " blind orders stockd had not seen were oversold in its place"
                : std::string()) +
           ")\n";
    }
  }
  if (!s.kits.empty()) {
    t += "   kits: " + std::to_string(s.kit_units_sold) + " sold, " +
         std::to_string(s.kit_oversold_units) + " oversold (";
    for (std::size_t i = 0; i < s.kits.size(); ++i) {
      const kit_summary& k = s.kits[i];
      t += (i > 0 ? "; " : "") + k.sku + " =";
      for (std::size_t c = 0; c < k.components.size(); ++c) {
        t += (c > 0 ? " +" : "") + std::string(" ") + std::to_string(k.components[c].second) +
             " x " + k.components[c].first;
      }
      t += ": " + std::to_string(k.units_sold) + " sold, " + std::to_string(k.oversold_units) +
           " oversold";
    }
    t += ")\n";
  }
  if (s.world.counts + s.world.transfers > 0) {
    t += "   WMS: " + std::to_string(s.world.counts) + " counts (" +
         std::to_string(s.world.counts_late) + " sent late, " +
         std::to_string(s.world.counts_behind) + " of them after movements since as_of), " +
         std::to_string(s.world.transfers) + " transfers (" +
         std::to_string(s.world.rebalancing_transfers) + " between selling locations, " +
         std::to_string(s.world.transferred_units) + " units)\n";
  }
  if (s.world.misplaced + s.world.placements_traced > 0) {
    t += "   placement: " + std::to_string(s.world.misplaced) +
         " covered sales oversold where stockd placed them (no free unit there), " +
         std::to_string(s.world.placements_traced) +
         " placements looked up (GET /v1/trace: only duplicate answers seen)\n";
  }
  t += "   propagation (probe SKU: acknowledged -> the channel shows it), p50/p99/max ms:";
  for (const auto& c : s.channels) {
    if (c.reserves) {
      continue;
    }
    t += " " + c.id + " " + fixed(c.propagation.p50_ms, 0) + "/" + fixed(c.propagation.p99_ms, 0) +
         "/" + fixed(c.propagation.max_ms, 0) + " (" + std::to_string(c.propagation.count) +
         (c.propagation_timeouts > 0 ? ", " + std::to_string(c.propagation_timeouts) + " not shown by the end"
                                     : std::string()) +
         ")";
  }
  t += "\n";
  if (s.converged) {
    t += "   converged " + fixed(s.convergence_s) + " s after traffic stopped (limit " +
         fixed(s.convergence_timeout_s, 0) + " s): every channel shows stockd's expected value, "
         "stockd's on-hand equals the world's per SKU x location\n";
  } else {
    t += "   NOT CONVERGED within " + fixed(s.convergence_timeout_s, 0) + " s";
    for (const auto& m : s.mismatches) {
      t += "\n     " + m;
    }
    t += "\n";
  }
}

} // namespace

std::string text_report(const run_summary& run, const std::optional<run_summary>& baseline) {
  std::string t;
  text_one(t, run);
  if (baseline) {
    text_one(t, *baseline);
    if (baseline->error.empty()) {
      double run_stale = 0;
      double base_stale = 0;
      for (const auto& c : run.channels) {
        run_stale += c.over_display_sku_s;
      }
      for (const auto& c : baseline->channels) {
        base_stale += c.over_display_sku_s;
      }
      t += "== side by side: oversold units " + std::to_string(run.oversold_units) + " (" +
           run.label + ") vs " + std::to_string(baseline->oversold_units) + " (" +
           baseline->label + "): " + ratio_text(static_cast<double>(baseline->oversold_units),
                                                static_cast<double>(run.oversold_units)) +
           "; over-shown SKU·s " + fixed(run_stale) + " vs " + fixed(base_stale) + ": " +
           ratio_text(base_stale, run_stale) + "\n";
    }
  }
  return t;
}

} // namespace stockd::simulator
