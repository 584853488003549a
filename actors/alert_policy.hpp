#pragma once
// Alerts (issue 7): what deserves a page, and how often. A plain class, no actor and no clock of
// its own, so the tests drive it by plain calls; actors/alerts.hpp feeds it each check's
// observation and posts what it returns to its sink.
//
// Kinds: an oversell; a channel circuit open; SKUs out of sync past a threshold; a
// reconciliation variance above a threshold; a spike of rejected (or unmapped) events; the LMDB
// map or the disk nearly full. Each page says whether the failure is isolated (few SKUs) or
// systemic (a whole channel), with counts.
//
// A storm pages once: alerts are keyed by (kind, channel). The first firing pages; while it
// keeps firing nothing more is sent (each new occurrence is counted as suppressed) until
// `repeat_after`, when one reminder carries the count; when it stops, one "resolved" page. On
// top, a per-sink budget (`per_hour_max`, a token bucket) caps pages over all keys: past it
// pages are suppressed and a key whose first page was held back is paged once the budget
// allows, if it still fires.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stockd::actors {

enum class alert_kind : std::uint8_t {
  oversell,
  circuit_open,
  out_of_sync,
  variance,
  rejected_spike,
  store_full,
};
enum class alert_severity : std::uint8_t { info, warning, critical };

std::string_view to_string(alert_kind kind) noexcept;
std::string_view to_string(alert_severity severity) noexcept;
std::optional<alert_severity> parse_alert_severity(std::string_view text) noexcept;

struct alert_thresholds {
  /// A channel's oldest out-of-sync SKU older than this fires out_of_sync.
  std::chrono::seconds out_of_sync_after{600};
  /// Events rejected (at ingest, unmapped ids included, or by the engine) in the last minute.
  std::uint64_t rejected_per_minute = 100;
  /// The LMDB map's use of map_size_max, or the disk's use, at or above this fires store_full.
  double map_used_ratio = 0.9;
  /// A reconciliation that finds at least this many SKUs and units different fires variance.
  std::uint64_t variance_skus = 1;
  std::int64_t variance_units = 1;
};

struct alert_sink_options {
  std::string url;
  std::string secret;      // resolved from secret_ref; never logged
  std::string secret_ref;  // "env:NAME", for messages
  alert_severity min_severity = alert_severity::warning;
  alert_thresholds thresholds;
  /// A key still firing is paged again (once) after this.
  std::chrono::seconds repeat_after{3600};
  /// An occurrence-like alert (oversell, rejected spike) resolves after this long without one.
  std::chrono::seconds quiet_after{300};
  /// Pages per hour over all keys, as a token bucket of this capacity.
  std::uint32_t per_hour_max = 30;
  /// Affected SKUs at or above this share of the channel's SKUs, or at or above
  /// systemic_skus_min, make a failure systemic.
  double systemic_ratio = 0.5;
  std::uint64_t systemic_skus_min = 50;
};

/// One channel as a check sees it (from its channel_status and the oversell counters).
struct channel_observation {
  std::string channel;
  bool circuit_open = false;
  std::uint64_t skus = 0;
  std::uint64_t out_of_sync = 0;
  std::int64_t oldest_out_of_sync_ms = 0;
  std::uint64_t oversold_units = 0;  // cumulative since start
  std::uint64_t oversell_cases = 0;  // cumulative since start
};

/// Everything one check looked at.
struct alert_observation {
  std::vector<channel_observation> channels;
  std::uint64_t rejected_total = 0;  // cumulative since start
  double map_used_ratio = 0;         // map used / map_size_max
  double disk_used_ratio = 0;        // of the data directory's filesystem
};

/// What a reconciliation found for one channel, or a system-of-record snapshot for one location
/// (the reconciler and the snapshot upload send it: runtime::report_variance).
struct variance_report {
  std::string channel;  // empty for a snapshot's report
  std::uint64_t skus_checked = 0;
  std::uint64_t skus_different = 0;
  /// A channel: sum of |stockd's expected - what the channel shows|; a snapshot: sum of
  /// |on_hand change| its counts make.
  std::int64_t units_different = 0;
  std::string location{};  // a snapshot's location; empty for a channel's (an initializer:
                          // the channels' {channel, checked, different, units} stays complete)
};

struct alert_notice {
  alert_kind kind = alert_kind::oversell;
  std::string channel;  // empty: not about one channel (rejected events, the store)
  std::string location;  // a snapshot variance's location; empty otherwise
  alert_severity severity = alert_severity::warning;
  bool resolved = false;
  bool reminder = false;  // still firing after repeat_after
  bool systemic = false;
  std::uint64_t affected = 0;  // SKUs (or cases, events) affected
  std::uint64_t of = 0;        // out of how many (the channel's SKUs), 0 when unknown
  std::int64_t units = 0;      // units, where the kind has them (oversold, variance)
  std::uint64_t suppressed = 0;  // occurrences folded into this page since the previous one
  std::string summary;
  std::int64_t since_ms = 0;  // first firing, Unix ms
  std::int64_t at_ms = 0;
};

/// The JSON body a sink receives (one notice).
std::string alert_json(const alert_notice& n);

class alert_policy {
public:
  explicit alert_policy(alert_sink_options opts);

  /// One check: the pages to send now (already filtered by min_severity and the budget).
  std::vector<alert_notice> observe(const alert_observation& o, std::int64_t now_ms);
  /// A reconciliation's result for one channel.
  std::vector<alert_notice> variance(const variance_report& r, std::int64_t now_ms);

  /// Pages returned so far, and firings held back (deduplicated or over the budget).
  std::uint64_t paged() const noexcept { return paged_; }
  std::uint64_t suppressed() const noexcept { return suppressed_; }
  /// Keys firing now.
  std::size_t active() const noexcept { return active_.size(); }
  const alert_sink_options& options() const noexcept { return opts_; }

  /// Isolated or systemic, by the options' rule.
  bool is_systemic(std::uint64_t affected, std::uint64_t of) const noexcept;

private:
  using key = std::pair<alert_kind, std::string>;
  /// The notice's key: its channel, or "location:<id>" for a location's (a ':' is in no
  /// channel id), or "" when it is about neither.
  static key key_of(const alert_notice& n);
  struct firing {
    alert_severity severity = alert_severity::warning;
    std::int64_t since_ms = 0;
    std::int64_t last_page_ms = 0;
    std::int64_t last_occurrence_ms = 0;
    bool paged = false;  // its first page went out (a held-back one is retried)
    std::uint64_t suppressed = 0;
    alert_notice last;   // the latest figures
  };
  /// A condition that holds (or not) at each check.
  void condition(bool holds, alert_notice n, std::int64_t now_ms, std::vector<alert_notice>& out);
  /// Something that happened now (an oversell, a spike).
  void occurrence(alert_notice n, std::int64_t now_ms, std::vector<alert_notice>& out);
  /// Both: opens the firing of (kind, channel) or pages its reminder when due; an occurrence
  /// that pages nothing is counted as suppressed.
  void fire(alert_notice n, std::int64_t now_ms, bool count_suppressed,
            std::vector<alert_notice>& out);
  /// Occurrence-like keys that have been quiet long enough resolve.
  void quiet(const key& k, std::int64_t now_ms, std::vector<alert_notice>& out);
  void resolve(const key& k, std::int64_t now_ms, std::vector<alert_notice>& out);
  void page(firing& f, alert_notice n, std::int64_t now_ms, std::vector<alert_notice>& out);
  bool take_budget(std::int64_t now_ms);

  alert_sink_options opts_;
  std::map<key, firing> active_;
  std::map<std::string, std::uint64_t> oversell_cases_seen_;  // per channel, cumulative
  std::map<std::string, std::uint64_t> oversold_units_seen_;
  /// (time, rejected_total) of recent checks, the last minute's worth (bounded by checks_max).
  std::deque<std::pair<std::int64_t, std::uint64_t>> rejected_window_;
  static constexpr std::size_t window_checks_max = 3600;
  double budget_ = 0;
  std::int64_t budget_at_ms_ = 0;
  std::uint64_t paged_ = 0;
  std::uint64_t suppressed_ = 0;
};

} // namespace stockd::actors
