#pragma once
// What a `stocksim run` measures, and its two renderings: a JSON summary (machine-readable, the
// contract of --json) and a short text report for people.
//
// Events and "lost" (the definitions the README repeats):
//   created     events the simulator made: each order a channel sold (order_created), each WMS
//               event (received, po_created, order_fulfilled, order_cancelled)
//   sends       HTTP sends of those events, retries and deliberate duplicate sends included
//   acknowledged  events with at least one answer "accepted" or "duplicate" (stockd has it)
//   unanswered  events created and never acknowledged: given up after the retries, refused
//               (4xx / "rejected"), or still queued when the run ended
//   unreflected SKUs whose buckets in stockd after the drain differ from what the acknowledged
//               events imply: on-hand summed over locations ≠ the world's, or units still
//               committed though the WMS shipped or cancelled every order. Each such SKU stands
//               for at least one acknowledged event stockd did not apply.
//   lost        unanswered + unreflected. Must be 0.
// Ack latency is the round trip of each send that stockd answered accepted or duplicate.
// Propagation latency is the probe SKU's (run.hpp): stockd acknowledged → the channel shows it.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connectors/json_writer.hpp"

namespace stockd::simulator {

/// Upper bounds (ms) of the latency histogram's buckets; one more bucket past the last.
const std::vector<double>& latency_bucket_bounds_ms();

struct latency_summary {
  std::uint64_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  /// Samples per bucket of latency_bucket_bounds_ms() (+1 for the overflow); the kept samples
  /// only (count also counts the ones past the recorder's limit).
  std::vector<std::uint64_t> histogram;
};

/// Samples in milliseconds; past `samples_max` the rest are counted, not kept.
class latency_recorder {
public:
  explicit latency_recorder(std::size_t samples_max = 2'000'000) : samples_max_(samples_max) {}
  void record(std::chrono::nanoseconds d);
  latency_summary summary() const;

private:
  std::size_t samples_max_;
  mutable std::mutex mu_;
  std::vector<double> samples_;
  std::uint64_t dropped_ = 0;
  double max_ms_ = 0;
};

enum class answer : std::uint8_t { accepted, duplicate, rejected, retrying, failed };

/// Every event the run sends, by its (source, id) key. Thread-safe.
class event_ledger {
public:
  /// A new event (a key seen before is not counted again), of `kind` (its type, or the
  /// reservation call: reservation_requested / _committed / _released) for the per-kind counts.
  void created(std::string key, std::string_view kind = {});
  /// One send's outcome; `latency` counts only for accepted and duplicate.
  void answered(std::string_view key, answer a, std::chrono::nanoseconds latency);

  struct counts {
    std::uint64_t created = 0;
    std::uint64_t sends = 0;
    std::uint64_t acknowledged = 0;
    std::uint64_t accepted_answers = 0;
    std::uint64_t duplicate_answers = 0;
    std::uint64_t rejected = 0;
    std::uint64_t retries = 0;
    std::uint64_t given_up = 0;
  };
  counts totals() const;
  /// Events created, by kind (those created without one under "other").
  std::map<std::string, std::uint64_t> by_kind() const;
  std::uint64_t unanswered() const;
  latency_summary ack_latency() const { return ack_.summary(); }

private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, bool> acknowledged_;  // key → acknowledged yet
  counts counts_;
  std::map<std::string, std::uint64_t, std::less<>> by_kind_;
  latency_recorder ack_;
};

struct channel_summary {
  std::string id;
  std::uint64_t units_sold = 0;
  std::uint64_t oversold_units = 0;
  /// The channel sells only what stockd granted a reservation for (`pos`): not emulated, so it
  /// has no display, API calls or propagation; its reservation counts instead.
  bool reserves = false;
  std::uint64_t reservations_requested = 0;
  std::uint64_t reservations_granted = 0;
  std::uint64_t reservations_refused = 0;  // 409: stockd had not enough available
  std::uint64_t reservations_abandoned = 0;  // granted, then released by the customer
  std::uint64_t reservations_committed = 0;
  std::uint64_t reservations_failed = 0;   // no usable answer after the retries
  /// Staleness over the sampled SKUs: SKU-seconds the channel showed more than the physical
  /// sellable stock (what oversells), and SKU-seconds it showed anything else than it.
  double over_display_sku_s = 0;
  double wrong_display_sku_s = 0;
  std::uint64_t api_calls = 0;        // calls that reached the channel's store
  std::uint64_t items = 0;
  double items_per_call = 0;
  std::uint64_t throttled = 0;        // refused by the channel's own rate limit
  std::uint64_t responses_429 = 0;    // every 429 (its limit's and injected ones)
  std::uint64_t out_of_sync_skus = 0; // at the end: channel ≠ stockd's expected
  /// The probe SKU's adjustments: stockd acknowledged → this channel shows the new quantity.
  latency_summary propagation;
  std::uint64_t propagation_timeouts = 0;  // probes not shown when traffic stopped
  /// channel_outage, for the channel that was down: its window (s from the start of traffic),
  /// its staleness inside the window, and how long after the window it took to show no more
  /// wrong SKUs than at worst before the outage (negative: it never did while sampled).
  bool outage = false;
  double outage_from_s = 0;
  double outage_until_s = 0;
  double outage_over_display_sku_s = 0;
  double outage_wrong_display_sku_s = 0;
  double outage_recovered_s = -1;
};

/// Sampled over the run for the HTML report: per hot SKU the world's physical stock and
/// sellable units, stockd's expected value, and what each channel showed; per channel how many
/// of the sampled SKUs it showed wrong. Bounded: past `points_max` every other point is
/// dropped and the period doubles.
struct timeline {
  static constexpr std::size_t points_max = 1'000;
  double period_s = 0.25;
  std::vector<double> t_s;  // from the start of traffic
  struct track {
    std::string sku;
    std::vector<std::int64_t> physical;
    std::vector<std::int64_t> sellable;
    std::vector<std::optional<std::int64_t>> expected;  // stockd's, for the first channel
    std::vector<std::vector<std::int64_t>> shown;       // per channel (channel_ids() order)
  };
  std::vector<track> tracks;
  std::vector<std::vector<std::uint32_t>> wrong;  // per channel: sampled SKUs shown ≠ sellable
  /// Halves every series (keeps even indices) when full; true when it did.
  bool thin_if_full();
};

/// What the world's WMS did with the orders, and what came back.
struct world_counts {
  std::uint64_t shipped = 0;
  std::uint64_t cancelled_oversold = 0;
  std::uint64_t cancelled_by_customer = 0;
  std::uint64_t payment_failed = 0;
  std::uint64_t returned_restocked = 0;
  std::uint64_t returned_damaged = 0;
  std::uint64_t returned_at_till = 0;  // of the returns (both kinds): packs the till took back
  std::uint64_t purchase_orders = 0;
  std::uint64_t counts = 0;        // cycle counts sent (counted)
  std::uint64_t counts_late = 0;   // of them sent late, as of when they were taken
  std::uint64_t counts_behind = 0; // late ones whose location moved between as_of and sending
  std::uint64_t transfers = 0;     // transfer_shipped (each received later)
  std::uint64_t transferred_units = 0;
  std::uint64_t taken_over = 0;    // blind orders turned oversold by a reservation (world.hpp)
  std::uint64_t misplaced = 0;     // covered sales oversold at placement (world.hpp, step 2)
  std::uint64_t placements_traced = 0;  // placements the WMS looked up (only duplicates seen)
  std::uint64_t rebalancing_transfers = 0;  // of the transfers: between selling locations
};

/// A kit's sales as the world judged them (world.hpp: covered only when every component had
/// the units), in kits; also counted under their channels. At the end, how many channels did
/// not show stockd's expected value for it.
struct kit_summary {
  std::string sku;
  std::vector<std::pair<std::string, std::int64_t>> components;  // SKU, units per kit
  std::uint64_t units_sold = 0;
  std::uint64_t oversold_units = 0;
  std::uint64_t out_of_sync_channels = 0;
};

struct run_summary {
  std::string scenario;
  std::string label;  // "stockd (push = event)" or the baseline's setting
  std::uint64_t seed = 0;
  double duration_s = 0;
  std::size_t skus = 0;
  std::size_t sampled_skus = 0;
  event_ledger::counts events;
  std::map<std::string, std::uint64_t> events_by_kind;
  std::uint64_t unanswered = 0;
  std::uint64_t unreflected_skus = 0;
  std::uint64_t lost = 0;
  latency_summary ack_latency;
  double events_per_second = 0;
  std::uint64_t units_sold = 0;
  std::uint64_t oversold_units = 0;
  std::vector<channel_summary> channels;
  std::vector<kit_summary> kits;
  std::uint64_t kit_units_sold = 0;      // Σ over kits
  std::uint64_t kit_oversold_units = 0;  // Σ over kits
  bool converged = false;
  double convergence_s = 0;          // after traffic and the WMS stopped
  double convergence_timeout_s = 0;
  std::vector<std::string> mismatches;  // the first few, for the report
  std::string error;  // the run could not be made (e.g. stockd refused its config)
  world_counts world;
  timeline series;
  /// When stocksim started stockd itself: launch → /readyz, and its resident memory at the
  /// end of traffic and at its peak over the run's samples.
  std::optional<double> stockd_ready_s;
  std::optional<std::uint64_t> stockd_rss_bytes;
  std::optional<std::uint64_t> stockd_rss_peak_bytes;
};

void write_json(connectors::json_writer& out, const run_summary& s);
/// {"run": ..., "baseline": ... or null, "comparison": {...}}
std::string summary_json(const run_summary& run, const std::optional<run_summary>& baseline);
std::string text_report(const run_summary& run, const std::optional<run_summary>& baseline);
/// A self-contained HTML page (inline CSS and SVG, no scripts, no external resources): the
/// figures of the JSON summary, per hot SKU the physical stock, stockd's expected value and
/// each channel's displayed quantity over time, the channels' wrong SKUs over time, ack and
/// propagation latency histograms, and the baseline side by side with ratios. Every figure
/// that is also in the JSON summary carries `data-key="<run|baseline>.<json path>"`.
std::string html_report(const run_summary& run, const std::optional<run_summary>& baseline);

} // namespace stockd::simulator
