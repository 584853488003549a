#pragma once
// The variance report of a system-of-record snapshot (issue 7; docs/semantics.md, "Snapshots"):
// before a batch of a snapshot's lines is journaled, each line is compared with the current
// state of its SKU at the location through engine::preview_count (the apply's own rules on a
// copy), and every line whose count would change on_hand is recorded and classified:
//  - shrinkage: the count is below what stockd has on hand (stock lost, stolen, miscounted);
//  - missed_receipt: the count is above it (stock arrived that no event told stockd of).
// Lines older than the last applied count (stale) and lines the apply would refuse are counted
// apart. Plain logic: no clock, no I/O; the upload (server/snapshots.cpp) reads the states and
// stores the run.
//
// A run is stored with the channels' reconciliation runs (store::channel_table::reconcile_runs)
// under the owner "snapshot:<location>" and served by the same GET /v1/reconciliation/runs: its
// id is "snapshot:<location>.<n>". A ':' is in no channel or location id (config ids are
// letters, digits, '-', '_' and '.'), so the two kinds can never collide. The stored bytes have
// a channel run's shape (connectors/reconcile.hpp: a summary line, a newline, the listed
// variances as a JSON array), so run_json() serves both.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/event.hpp"
#include "engine/ids.hpp"
#include "engine/state.hpp"

namespace stockd::connectors {

/// Variances one stored run lists, largest |delta| first; all of them are counted.
inline constexpr std::size_t snapshot_variances_listed_max = 1'000;
/// Snapshot runs kept per location (older ones are deleted as new ones are stored), as for
/// channel runs.
inline constexpr std::uint64_t snapshot_runs_kept = 100;

enum class count_variance_class : std::uint8_t { shrinkage, missed_receipt };
std::string_view to_string(count_variance_class c) noexcept;

/// What comparing one line with its SKU's state found.
struct line_comparison {
  enum class result : std::uint8_t {
    unchanged,     // the count would leave on_hand as it is
    variance,      // it would change on_hand
    stale,         // older than the last applied count: recorded by the engine, not applied
    refused,       // the apply would reject it (dated before the physical history kept)
    not_compared,  // the state could not be read in time
    journaled,     // the journal has the line already (a re-post): it will answer duplicate
  };
  result kind = result::not_compared;
  std::int64_t on_hand_before = 0;
  std::int64_t on_hand_after = 0;
  std::int64_t delta() const noexcept { return on_hand_after - on_hand_before; }
};

/// Compares the count `counted` with `state` (nullopt: it could not be read). The state is
/// taken by value and consumed (engine::preview_count applies the count to it).
line_comparison compare_line(std::optional<engine::sku_location_state> state,
                             const engine::event& counted);

/// One line whose count would change on_hand.
struct count_variance {
  engine::sku_id sku;
  std::int64_t on_hand_before = 0;
  std::int64_t counted = 0;        // the line's count (a dated count adds what changed since)
  std::int64_t on_hand_after = 0;  // what the count makes on_hand
  bool applied = true;             // journaled (action "applied"), or a dry run's ("none")
  std::int64_t delta() const noexcept { return on_hand_after - on_hand_before; }
  count_variance_class kind() const noexcept {
    return delta() < 0 ? count_variance_class::shrinkage : count_variance_class::missed_receipt;
  }
};

/// One snapshot's report, as persisted and served.
struct snapshot_run {
  engine::location_id location;
  std::uint64_t seq = 0;  // per location, from 1
  std::string source;
  std::string snapshot;   // the snapshot's id
  std::string as_of;      // the query's as_of; empty when the lines bring their own
  bool dry_run = false;
  std::string status = "finished";  // "finished" or "failed" (the upload ended with an error)
  std::string error;                // why it failed
  std::int64_t started_at_ms = 0;   // Unix epoch ms
  std::int64_t finished_at_ms = 0;
  // lines = rejected + compared + duplicate + not_compared (when the upload read them all);
  // compared = unchanged + variances + stale + refused.
  std::uint64_t lines = 0;     // lines in the body (blank ones not counted)
  std::uint64_t rejected = 0;  // lines the decoder rejected: not compared
  std::uint64_t compared = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t variances = 0;
  std::uint64_t shrinkage = 0;       // variances with delta < 0
  std::uint64_t missed_receipt = 0;  // variances with delta > 0
  std::uint64_t shrinkage_units = 0;       // sum of -delta (saturating)
  std::uint64_t missed_receipt_units = 0;  // sum of delta (saturating)
  std::uint64_t stale = 0;
  std::uint64_t refused = 0;
  std::uint64_t duplicate = 0;  // the journal had the line already (a re-post): nothing applied
  std::uint64_t not_compared = 0;  // journaled without a comparison: the state was not read
  std::vector<count_variance> listed;  // largest |delta| first, at most the report's listed_max

  std::string id() const;
};

/// Accumulates a run's figures line by line, keeping the `listed_max` largest variances (a
/// bounded heap: memory does not grow with the snapshot).
class snapshot_report {
public:
  explicit snapshot_report(std::size_t listed_max = snapshot_variances_listed_max)
      : listed_max_(listed_max) {}
  /// One line, once its fate is known: `duplicate` when the journal had its id already (it
  /// changed nothing, whatever the comparison said), `applied` false for a dry run. A line
  /// found `journaled` before it was compared and then not a duplicate (its dedup entry gone
  /// meanwhile) counts as not compared.
  void add(const engine::sku_id& sku, std::int64_t counted, const line_comparison& c,
           bool duplicate, bool applied);
  const snapshot_run& figures() const noexcept { return run_; }
  /// The run so far, its variances sorted (largest |delta| first, then by SKU); the report
  /// starts over empty.
  snapshot_run take();

private:
  std::size_t listed_max_;
  snapshot_run run_;  // `listed` is a min-heap on |delta| until take()
};

/// The owner a location's snapshot runs are stored under ("snapshot:<location>"), and back.
engine::channel_id snapshot_runs_owner(const engine::location_id& location);
std::optional<engine::location_id> snapshot_location_of(std::string_view owner);

/// The run's summary as one JSON object, and the stored bytes (summary, newline, variances).
std::string snapshot_run_summary_json(const snapshot_run& run);
std::string encode_snapshot_run(const snapshot_run& run);

} // namespace stockd::connectors
