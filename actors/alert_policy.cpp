#include "actors/alert_policy.hpp"

#include <algorithm>
#include <cassert>
#include <cstdlib>

#include "connectors/json_writer.hpp"
#include "engine/time.hpp"

namespace stockd::actors {

std::string_view to_string(alert_kind kind) noexcept {
  switch (kind) {
  case alert_kind::oversell: return "oversell";
  case alert_kind::circuit_open: return "circuit_open";
  case alert_kind::out_of_sync: return "out_of_sync";
  case alert_kind::variance: return "variance";
  case alert_kind::rejected_spike: return "rejected_spike";
  case alert_kind::store_full: return "store_full";
  }
  return "unknown";
}

std::string_view to_string(alert_severity severity) noexcept {
  switch (severity) {
  case alert_severity::info: return "info";
  case alert_severity::warning: return "warning";
  case alert_severity::critical: return "critical";
  }
  return "unknown";
}

std::optional<alert_severity> parse_alert_severity(std::string_view text) noexcept {
  for (auto s : {alert_severity::info, alert_severity::warning, alert_severity::critical}) {
    if (text == to_string(s)) {
      return s;
    }
  }
  return std::nullopt;
}

std::string alert_json(const alert_notice& n) {
  auto when = [](std::int64_t ms) {
    return engine::format_rfc3339(engine::timestamp(std::chrono::milliseconds(ms)));
  };
  connectors::json_writer w;
  w.begin_object();
  w.field("source", "stockd");
  w.field("kind", to_string(n.kind));
  w.field("state", n.resolved ? "resolved" : "firing");
  w.field("reminder", n.reminder);
  w.field("severity", to_string(n.severity));
  w.key("channel");
  if (n.channel.empty()) {
    w.null();
  } else {
    w.value(n.channel);
  }
  if (!n.location.empty()) {
    w.field("location", n.location);
  }
  w.field("scope", n.systemic ? "systemic" : "isolated");
  w.key("counts").begin_object();
  w.field("affected", n.affected);
  w.field("of", n.of);
  w.field("units", n.units);
  w.end_object();
  w.field("suppressed", n.suppressed);
  w.field("summary", n.summary);
  w.field("since", when(n.since_ms));
  w.field("at", when(n.at_ms));
  w.end_object();
  return w.take();
}

alert_policy::alert_policy(alert_sink_options opts) : opts_(std::move(opts)) {
  budget_ = static_cast<double>(opts_.per_hour_max);
}

bool alert_policy::is_systemic(std::uint64_t affected, std::uint64_t of) const noexcept {
  if (affected >= opts_.systemic_skus_min) {
    return true;
  }
  return of > 0 && static_cast<double>(affected) >= opts_.systemic_ratio * static_cast<double>(of);
}

bool alert_policy::take_budget(std::int64_t now_ms) {
  const double capacity = static_cast<double>(opts_.per_hour_max);
  if (now_ms > budget_at_ms_) {
    budget_ = std::min(capacity, budget_ + capacity * static_cast<double>(now_ms - budget_at_ms_) /
                                               3'600'000.0);
    budget_at_ms_ = now_ms;
  }
  if (budget_ < 1.0) {
    return false;
  }
  budget_ -= 1.0;
  return true;
}

void alert_policy::page(firing& f, alert_notice n, std::int64_t now_ms,
                        std::vector<alert_notice>& out) {
  if (n.severity < opts_.min_severity) {
    // Not for this sink at all: neither sent nor counted as held back.
    f.paged = true;
    f.last_page_ms = now_ms;
    return;
  }
  if (!take_budget(now_ms)) {
    ++suppressed_;
    return;
  }
  n.suppressed = f.suppressed;
  n.since_ms = f.since_ms;
  n.at_ms = now_ms;
  f.suppressed = 0;
  f.paged = true;
  f.last_page_ms = now_ms;
  ++paged_;
  out.push_back(std::move(n));
}

alert_policy::key alert_policy::key_of(const alert_notice& n) {
  if (n.channel.empty() && !n.location.empty()) {
    return {n.kind, "location:" + n.location};
  }
  return {n.kind, n.channel};
}

void alert_policy::condition(bool holds, alert_notice n, std::int64_t now_ms,
                             std::vector<alert_notice>& out) {
  if (holds) {
    fire(std::move(n), now_ms, false, out);
  } else if (key k = key_of(n); active_.count(k) != 0) {
    resolve(k, now_ms, out);
  }
}

void alert_policy::occurrence(alert_notice n, std::int64_t now_ms,
                              std::vector<alert_notice>& out) {
  fire(std::move(n), now_ms, true, out);
}

void alert_policy::fire(alert_notice n, std::int64_t now_ms, bool count_suppressed,
                        std::vector<alert_notice>& out) {
  key k = key_of(n);
  auto it = active_.find(k);
  if (it == active_.end()) {
    firing f;
    f.severity = n.severity;
    f.since_ms = now_ms;
    f.last_occurrence_ms = now_ms;
    f.last = n;
    it = active_.emplace(k, std::move(f)).first;
    page(it->second, std::move(n), now_ms, out);
    return;
  }
  firing& f = it->second;
  f.last = n;
  f.last_occurrence_ms = now_ms;
  if (!f.paged) {
    page(f, std::move(n), now_ms, out);
  } else if (now_ms - f.last_page_ms >= std::chrono::milliseconds(opts_.repeat_after).count()) {
    n.reminder = true;
    page(f, std::move(n), now_ms, out);
  } else if (count_suppressed) {
    // A condition that still holds at a check is the same page, not a new occurrence.
    ++f.suppressed;
    ++suppressed_;
  }
}

void alert_policy::quiet(const key& k, std::int64_t now_ms, std::vector<alert_notice>& out) {
  auto it = active_.find(k);
  if (it != active_.end() &&
      now_ms - it->second.last_occurrence_ms >= std::chrono::milliseconds(opts_.quiet_after).count()) {
    resolve(k, now_ms, out);
  }
}

void alert_policy::resolve(const key& k, std::int64_t now_ms, std::vector<alert_notice>& out) {
  auto it = active_.find(k);
  assert(it != active_.end());
  firing f = std::move(it->second);
  active_.erase(it);
  // Only a firing the sink heard of is resolved to it; resolutions skip the budget (they are
  // at most one per page sent, and the operator needs them to stand down).
  if (!f.paged || f.severity < opts_.min_severity) {
    return;
  }
  alert_notice n = std::move(f.last);
  n.resolved = true;
  n.reminder = false;
  n.suppressed = f.suppressed;
  n.since_ms = f.since_ms;
  n.at_ms = now_ms;
  n.summary = "resolved: " + n.summary;
  ++paged_;
  out.push_back(std::move(n));
}

std::vector<alert_notice> alert_policy::observe(const alert_observation& o, std::int64_t now_ms) {
  std::vector<alert_notice> out;
  const auto& t = opts_.thresholds;
  for (const auto& c : o.channels) {
    // Oversells: an occurrence per check that saw new cases.
    auto& seen_cases = oversell_cases_seen_[c.channel];
    auto& seen_units = oversold_units_seen_[c.channel];
    if (c.oversell_cases > seen_cases) {
      alert_notice n;
      n.kind = alert_kind::oversell;
      n.channel = c.channel;
      n.severity = alert_severity::critical;
      const auto it = active_.find({alert_kind::oversell, c.channel});
      // Over the episode: the cases and units since it started.
      n.affected = c.oversell_cases - seen_cases;
      n.units = static_cast<std::int64_t>(c.oversold_units - std::min(c.oversold_units, seen_units));
      if (it != active_.end()) {
        n.affected += it->second.last.affected;
        n.units += it->second.last.units;
      }
      n.of = c.skus;
      n.systemic = is_systemic(n.affected, n.of);
      n.summary = "channel " + c.channel + ": " + std::to_string(n.units) + " unit(s) oversold in " +
                  std::to_string(n.affected) + " case(s)";
      occurrence(std::move(n), now_ms, out);
    } else {
      quiet({alert_kind::oversell, c.channel}, now_ms, out);
    }
    seen_cases = c.oversell_cases;
    seen_units = c.oversold_units;

    alert_notice circuit;
    circuit.kind = alert_kind::circuit_open;
    circuit.channel = c.channel;
    circuit.severity = alert_severity::critical;
    circuit.affected = c.out_of_sync;
    circuit.of = c.skus;
    circuit.systemic = true;  // nothing reaches the channel: the whole channel
    circuit.summary = "channel " + c.channel + ": circuit open, " + std::to_string(c.out_of_sync) +
                      " of " + std::to_string(c.skus) + " SKU(s) out of sync";
    condition(c.circuit_open, std::move(circuit), now_ms, out);

    alert_notice late;
    late.kind = alert_kind::out_of_sync;
    late.channel = c.channel;
    late.severity = alert_severity::warning;
    late.affected = c.out_of_sync;
    late.of = c.skus;
    late.systemic = is_systemic(late.affected, late.of);
    late.summary = "channel " + c.channel + ": " + std::to_string(c.out_of_sync) + " of " +
                   std::to_string(c.skus) + " SKU(s) out of sync, the oldest for " +
                   std::to_string(c.oldest_out_of_sync_ms / 1000) + " s";
    condition(c.out_of_sync > 0 && c.oldest_out_of_sync_ms >=
                                       std::chrono::milliseconds(t.out_of_sync_after).count(),
              std::move(late), now_ms, out);
  }

  // Rejected events over the last minute (the oldest check within it as the base).
  rejected_window_.emplace_back(now_ms, o.rejected_total);
  while (rejected_window_.size() > window_checks_max ||
         (rejected_window_.size() > 1 && now_ms - rejected_window_[1].first >= 60'000)) {
    rejected_window_.pop_front();
  }
  const std::uint64_t base = rejected_window_.front().second;
  const std::uint64_t last_minute = o.rejected_total >= base ? o.rejected_total - base : 0;
  if (last_minute >= t.rejected_per_minute && t.rejected_per_minute > 0) {
    alert_notice n;
    n.kind = alert_kind::rejected_spike;
    n.severity = alert_severity::warning;
    n.affected = last_minute;
    n.systemic = true;
    n.summary = std::to_string(last_minute) + " event(s) rejected in the last minute (threshold " +
                std::to_string(t.rejected_per_minute) + ")";
    occurrence(std::move(n), now_ms, out);
  } else {
    quiet({alert_kind::rejected_spike, std::string()}, now_ms, out);
  }

  const double used = std::max(o.map_used_ratio, o.disk_used_ratio);
  alert_notice store;
  store.kind = alert_kind::store_full;
  store.severity = alert_severity::critical;
  store.systemic = true;
  store.affected = static_cast<std::uint64_t>(used * 100.0);
  store.of = 100;
  store.summary = "store nearly full: LMDB map " +
                  std::to_string(static_cast<int>(o.map_used_ratio * 100.0)) + "% of its maximum, disk " +
                  std::to_string(static_cast<int>(o.disk_used_ratio * 100.0)) + "% used";
  condition(used >= t.map_used_ratio, std::move(store), now_ms, out);
  return out;
}

std::vector<alert_notice> alert_policy::variance(const variance_report& r, std::int64_t now_ms) {
  std::vector<alert_notice> out;
  const auto& t = opts_.thresholds;
  alert_notice n;
  n.kind = alert_kind::variance;
  n.channel = r.channel;
  n.location = r.channel.empty() ? r.location : std::string();
  n.severity = alert_severity::warning;
  n.affected = r.skus_different;
  n.of = r.skus_checked;
  n.units = r.units_different;
  n.systemic = is_systemic(n.affected, n.of);
  const std::string found = std::to_string(r.skus_different) + " of " +
                            std::to_string(r.skus_checked) + " SKU(s) different by " +
                            std::to_string(r.units_different) + " unit(s)";
  n.summary = n.location.empty()
                  ? "channel " + r.channel + ": reconciliation found " + found
                  : "location " + n.location + ": a system-of-record snapshot found " + found +
                        " on hand";
  const bool holds = r.skus_different >= t.variance_skus &&
                     std::llabs(r.units_different) >= t.variance_units && r.skus_different > 0;
  condition(holds, std::move(n), now_ms, out);
  return out;
}

} // namespace stockd::actors
