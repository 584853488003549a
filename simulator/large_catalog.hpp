#pragma once
// The `large_catalog` scenario (issue 5 §2): a catalog of 1,000,000 SKUs × 4 locations against a
// stockd that stocksim starts itself, to answer "does it run on the 2-core, 24 GiB machine, with
// how much memory, and how long does it take to start?". Unlike the other scenarios it owns the
// whole stockd life cycle, because its figures are about that life cycle:
//
//   1. start stockd on a fresh data directory             → start-up time, fresh
//   2. seed the stock: one streamed NDJSON snapshot per location (POST /v1/snapshots/{loc}),
//      the four uploads at once                           → seeding time and rate, RSS
//   3. the channel's first full push of the catalog       → its time, items per call
//   4. traffic: Zipf demand over the whole catalog for a short time, orders to stockd, a WMS
//      that ships or cancels them                         → events, lost, ack latency
//   5. convergence: stockd's on-hand equals the world's for every SKU sold plus a uniform
//      sample (GET /v1/skus, one request each), and the channel shows what the world can sell
//      for EVERY SKU of the catalog (read in-process from the emulator, no HTTP)
//   6. stop stockd (SIGTERM: final checkpoint) and start it again over the same data: recovery
//      from the checkpoints of every SKU × location      → start-up time, restart; peak RSS
//   7. the sample again against the restarted stockd: recovery lost nothing
//
// Channels. One `webhook` channel, on the webhook emulator with large batches (1,000 items a
// call, 100 calls/s): stockd really pushes the whole catalog and every change during traffic.
// Shopify (250 quantities per mutation, ~10 mutations/s on the basic plan's cost bucket) would
// need ~7 minutes for one full push of 1M SKUs, Amazon's patchListingsItem (5 calls/s, one SKU a
// call) ~55 hours; neither says anything about stockd at this size that the webhook does not,
// so they are left out of this scenario (the other scenarios exercise them).
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "simulator/report.hpp"

namespace stockd::simulator {

struct large_catalog_options {
  std::size_t skus = 1'000'000;
  std::size_t locations = 4;
  std::int64_t stock_per_location = 10;
  std::string sku_prefix = "LC-";  // SKU i is <prefix><i, 7 digits>: name order = index order
  std::uint64_t seed = 1;
  std::chrono::milliseconds duration{10'000};  // traffic
  double buys_per_second = 200;                // purchase attempts on the channel
  double zipf_s = 1.1;
  std::chrono::milliseconds order_delay{50};
  std::chrono::milliseconds order_jitter{100};
  double order_duplicate_probability = 0.02;
  std::chrono::milliseconds fulfil_delay{500};
  /// SKUs checked over HTTP besides every SKU sold: drawn uniformly from the catalog.
  std::size_t sample_skus = 10'000;
  // The webhook emulator and stockd's channel (the same figures on both sides).
  double webhook_rate = 100;
  std::size_t webhook_batch = 1'000;
  // Bounds of each phase.
  std::chrono::milliseconds seed_timeout{1'800'000};       // snapshots, then applied, then pushed
  std::chrono::milliseconds drain_timeout{60'000};         // orders and WMS after traffic
  std::chrono::milliseconds convergence_timeout{180'000};
  std::chrono::milliseconds startup_timeout{1'800'000};    // each start of stockd (recovery)
  std::chrono::milliseconds stop_timeout{1'800'000};       // SIGTERM → exit (final checkpoint)
  bool restart = true;  // step 6 and 7
  std::string stockd_binary;
  bool keep_dir = false;
  std::ostream* progress = nullptr;  // one line per phase and a few while waiting
};

/// Refused options, or nothing.
std::optional<std::string> validate(const large_catalog_options& o);

/// The stockd config of the scenario: its locations and the webhook channel on `webhook_port`.
std::string large_catalog_config(const large_catalog_options& o, std::uint16_t webhook_port);

struct large_catalog_summary {
  std::string error;  // the run could not be made
  std::size_t skus = 0;
  std::size_t locations = 0;
  std::int64_t stock_per_location = 0;
  std::uint64_t seed = 0;
  double duration_s = 0;
  // Start-up: launch → GET /readyz answers 200 (recovery finished; "stockd: ready:" is printed
  // right after).
  double ready_fresh_s = 0;
  std::optional<double> ready_restart_s;
  std::optional<std::uint64_t> restart_replayed;  // journal events replayed at the restart
  std::optional<double> stop_s;                   // SIGTERM → exit before the restart
  /// SIGTERM → "stockd: stopped at journal head N, X s after the signal": everything durable,
  /// the final checkpoint written; the rest of stop_s is tearing the engine down.
  std::optional<double> stop_durable_s;
  // Seeding.
  std::uint64_t seed_lines = 0;
  std::uint64_t seed_accepted = 0;
  std::uint64_t seed_duplicate = 0;
  std::uint64_t seed_rejected = 0;
  double seed_journaled_s = 0;  // first byte sent → every snapshot answered (durable)
  double seed_applied_s = 0;    // → the engine applied them all (in_flight 0)
  double seed_lines_per_s = 0;  // lines / seed_applied_s
  double channel_sync_s = 0;    // applied → the channel shows the whole catalog
  std::uint64_t checkpoint_lag_after_seed = 0;  // journal events not yet checkpointed then
  std::uint64_t live_actors = 0;
  // Memory (bytes; VmRSS / VmHWM of the stockd process).
  std::uint64_t rss_fresh_bytes = 0;       // just after the fresh start
  std::uint64_t rss_after_seed_bytes = 0;  // seeded and pushed
  std::uint64_t rss_peak_bytes = 0;        // the first process's: max of VmHWM and every VmRSS read
  std::optional<std::uint64_t> rss_restart_bytes;       // the second process once ready
  std::optional<std::uint64_t> rss_restart_peak_bytes;  // max of its VmHWM and VmRSS
  // Storage.
  std::uint64_t data_bytes = 0;      // the LMDB files' allocated blocks after the run
  std::uint64_t map_used_bytes = 0;  // /v1/status journal.map_used_bytes
  // Traffic and checks.
  event_ledger::counts events;
  latency_summary ack_latency;
  std::uint64_t units_sold = 0;
  std::uint64_t oversold_units = 0;
  std::uint64_t shipped = 0;
  std::uint64_t cancelled_oversold = 0;
  std::uint64_t unanswered = 0;
  std::uint64_t unreflected_skus = 0;
  std::uint64_t lost = 0;  // unanswered + unreflected + snapshot lines not acknowledged
  bool converged = false;
  double convergence_s = 0;
  std::size_t checked_skus_http = 0;      // sold ∪ sample, GET /v1/skus each
  std::size_t checked_skus_channel = 0;   // the whole catalog, in-process
  std::uint64_t channel_mismatches = 0;   // of those, at the end
  std::optional<bool> restart_consistent;  // the sample after the restart equals the world
  std::vector<std::string> mismatches;     // the first few
  // The channel (emulator's counters over the whole run).
  std::uint64_t channel_calls = 0;
  std::uint64_t channel_items = 0;
  double channel_items_per_call = 0;
  std::uint64_t channel_throttled = 0;

  bool passed() const { return error.empty() && lost == 0 && converged; }
};

large_catalog_summary run_large_catalog(const large_catalog_options& o);

std::string large_catalog_json(const large_catalog_summary& s);
std::string large_catalog_text(const large_catalog_summary& s);

/// Allocated bytes (st_blocks × 512) of the regular files under `dir`, recursively.
std::uint64_t directory_allocated_bytes(const std::string& dir);

} // namespace stockd::simulator
