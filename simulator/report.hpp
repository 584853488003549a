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
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connectors/json_writer.hpp"

namespace stockd::simulator {

struct latency_summary {
  std::uint64_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
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
  void created(std::string key);
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
  std::uint64_t unanswered() const;
  latency_summary ack_latency() const { return ack_.summary(); }

private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, bool> acknowledged_;  // key → acknowledged yet
  counts counts_;
  latency_recorder ack_;
};

struct channel_summary {
  std::string id;
  std::uint64_t units_sold = 0;
  std::uint64_t oversold_units = 0;
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
};

struct run_summary {
  std::string scenario;
  std::string label;  // "stockd (push = event)" or the baseline's setting
  std::uint64_t seed = 0;
  double duration_s = 0;
  std::size_t skus = 0;
  std::size_t sampled_skus = 0;
  event_ledger::counts events;
  std::uint64_t unanswered = 0;
  std::uint64_t unreflected_skus = 0;
  std::uint64_t lost = 0;
  latency_summary ack_latency;
  double events_per_second = 0;
  std::uint64_t units_sold = 0;
  std::uint64_t oversold_units = 0;
  std::vector<channel_summary> channels;
  bool converged = false;
  double convergence_s = 0;          // after traffic and the WMS stopped
  double convergence_timeout_s = 0;
  std::vector<std::string> mismatches;  // the first few, for the report
  std::string error;  // the run could not be made (e.g. stockd refused its config)
};

void write_json(connectors::json_writer& out, const run_summary& s);
/// {"run": ..., "baseline": ... or null, "comparison": {...}}
std::string summary_json(const run_summary& run, const std::optional<run_summary>& baseline);
std::string text_report(const run_summary& run, const std::optional<run_summary>& baseline);

} // namespace stockd::simulator
