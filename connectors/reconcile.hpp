#pragma once
// Reconciliation of one channel (DESIGN §4 reconciler, issue 7): a sweep that reads back what
// the channel shows for every SKU it sells, compares it with what channel_sync believes the
// channel shows (its shadow), classifies each variance and handles it by the channel's policy.
// Plain logic: no clock (every call takes `now`), no socket; the channel actor drives it with
// its own rate limiter and connector (actors/channel.cpp), and the tests call it directly.
//
// How a variance is classified, from what the read found (`shows`) and the record:
//  - push_lost: the channel still shows the value our last confirmed push replaced (the call
//    was answered "applied" and the value never landed);
//  - order_not_seen: the channel shows less than our model: it sold something stockd has not
//    seen (a channel lowers itself only when it sells; a hand edit downwards looks the same and
//    is treated the same, which is the safe side: nothing is pushed over a possible sale);
//  - hand_edit: the channel shows more than our model: someone set it without stockd;
//  - unknown: nothing to compare with (never confirmed by the channel), the SKU missing from
//    the channel, or a value no channel shows (negative).
// A SKU with a call in flight, an ambiguous call, a read pending, or whose record moved while
// the read was on its way is not judged (skipped): the next cycle reads it again.
//
// Policies: `report` records the variance and changes nothing; `alert` records it and counts an
// alert (status, metrics, and the run; the hook for alert sinks); `correct` fixes it: the
// channel's value becomes the shadow and the target is pushed again, except for order_not_seen,
// whose units are held back (channel_sync's unseen hold) until the order arrives or the hold
// lapses, so the channel is never raised over a sale. The correction goes in the lane its
// direction calls for, not the bulk lane: a channel showing more than the SKU may (a hand edit
// upwards, a lost decrease) is an oversell waiting to happen and is lowered urgently; one
// showing less goes in the normal lane. Only a re-push of a value believed in sync (repush)
// rides the bulk lane.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "connectors/channel_client.hpp"
#include "connectors/channel_options.hpp"
#include "connectors/channel_sync.hpp"
#include "connectors/json_writer.hpp"
#include "engine/ids.hpp"

namespace stockd::connectors {

enum class variance_class : std::uint8_t { hand_edit, order_not_seen, push_lost, unknown };
inline constexpr std::size_t variance_classes = 4;
enum class variance_action : std::uint8_t { reported, corrected, held, alerted };

std::string_view to_string(reconcile_policy p) noexcept;
std::string_view to_string(variance_class c) noexcept;
std::string_view to_string(variance_action a) noexcept;

/// Judging one SKU: the channel's value against the record. nullopt: no variance.
std::optional<variance_class> classify(const sku_sync& record, std::optional<std::int64_t> shows);
/// What the policy does with a variance of that class.
variance_action action_for(reconcile_policy policy, variance_class c) noexcept;
/// The record cannot be judged now: a call or a read of it is on its way or ambiguous.
bool busy(const sku_sync& record) noexcept;

/// The rule that keeps a sweep to what the channel's rate limit leaves (the sweep is the lowest
/// priority work of a channel): it reads only when no read is in flight, no repair read (a
/// re-read after a stale compare-and-set) waits, no urgent or normal push is queued, the limiter
/// has a token for the read now, and the sweep's pace says the next page is due.
struct sweep_gate {
  bool read_in_flight = false;
  std::size_t repair_reads_pending = 0;
  std::size_t urgent_queued = 0;
  std::size_t normal_queued = 0;
  bool limiter_ready = false;
  bool page_due = false;
};
bool sweep_may_read(const sweep_gate& g) noexcept;

/// The spacing of a sweep's reads that spreads `skus` over `cycle` at `per_read` SKUs a call
/// (zero: as fast as the gate allows, e.g. a run started by hand on a channel without a cycle).
std::chrono::milliseconds sweep_spacing(std::chrono::milliseconds cycle, std::size_t skus,
                                        std::size_t per_read) noexcept;

struct reconcile_options {
  engine::channel_id channel;
  std::chrono::milliseconds cycle{0};  // the target full-cycle time; 0: no scheduled runs
  reconcile_policy policy = reconcile_policy::report;
  std::size_t per_read = 100;          // SKUs one read call names (the client's batch_max)
  std::size_t variances_max = 10'000;  // kept per run; the rest only counted
  std::size_t skus_max = 10'000'000;   // SKUs one run plans at most (a bound on its memory)
  /// Read calls failing in a row that end a run as "failed" (the channel is down: the next
  /// scheduled run tries again, and the circuit and status say why meanwhile).
  std::uint32_t read_failures_max = 10;
};

struct variance {
  engine::sku_id sku;
  std::int64_t expected = 0;                 // the target the channel should show
  std::optional<std::int64_t> last_pushed;
  std::optional<std::int64_t> believed;      // the shadow: what stockd believed it showed
  std::optional<std::int64_t> shows;         // what the read found (none: not on the channel)
  variance_class kind = variance_class::unknown;
  variance_action action = variance_action::reported;
};

/// One run, as persisted and served (GET /v1/reconciliation/runs/{id}).
struct reconcile_run {
  engine::channel_id channel;
  std::uint64_t seq = 0;             // per channel, from 1; the id is "<channel>.<seq>"
  std::string trigger;               // "schedule" or "admin"
  reconcile_policy policy = reconcile_policy::report;
  std::int64_t started_at_ms = 0;    // Unix epoch ms
  std::int64_t finished_at_ms = 0;
  std::int64_t duration_ms = 0;
  std::int64_t cycle_ms = 0;         // the target
  std::string status = "running";    // "running", "finished", "failed"
  std::uint64_t skus_planned = 0;
  std::uint64_t skus_read = 0;       // judged against the record
  std::uint64_t skus_skipped = 0;    // busy or moved during the read: left to the next run
  std::uint64_t read_calls = 0;
  std::uint64_t read_failures = 0;   // calls that failed (their SKUs were asked again)
  std::array<std::uint64_t, variance_classes> by_class{};
  std::uint64_t variances = 0;       // all of them; `found` keeps the first variances_max
  std::uint64_t corrected = 0;
  std::uint64_t held = 0;
  std::uint64_t alerts = 0;
  std::vector<variance> found;

  std::string id() const { return channel.str() + "." + std::to_string(seq); }
};

/// The run's summary as a JSON object (the list), and the whole run: the summary, a newline,
/// then the variances as a JSON array (the stored bytes; run_json puts them together).
std::string run_summary_json(const reconcile_run& run);
std::string encode_run(const reconcile_run& run);
/// The stored shape of every run, channel or snapshot: `summary` (a JSON object), a newline,
/// then `items` as a JSON array of objects, each object's fields written by
/// `write_item(json_writer&, const item&)`.
template <class Items, class WriteItem>
std::string encode_stored_run(std::string summary, const Items& items, WriteItem write_item) {
  summary += '\n';
  json_writer w;
  w.begin_array();
  for (const auto& item : items) {
    w.begin_object();
    write_item(w, item);
    w.end_object();
  }
  w.end_array();
  summary += w.out();
  return summary;
}
/// A stored run as one JSON object: the summary with "variance_list": [...]; nullopt when the
/// bytes are not a stored run. Serves snapshot runs too (connectors/snapshot_variance.hpp),
/// which are stored in the same shape.
std::optional<std::string> run_json(std::string_view stored);
/// The summary part of stored bytes.
std::optional<std::string_view> stored_summary(std::string_view stored);
/// A stored summary (a JSON object) as served: every run has a "kind", "channel" or
/// "snapshot"; runs stored before there were snapshot runs have none and get "channel".
std::string served_summary(std::string_view summary);

/// One channel's sweep: plans the SKUs, hands out pages, judges the answers, acts by policy.
class reconcile_sweep {
public:
  explicit reconcile_sweep(reconcile_options opts) : opts_(opts) {}

  const reconcile_options& options() const noexcept { return opts_; }
  bool running() const noexcept { return run_.has_value(); }
  const reconcile_run* current() const noexcept { return run_ ? &*run_ : nullptr; }
  /// When the next scheduled run starts (nullopt: cycle off, or a run is on).
  std::optional<sync_time> next_start() const;
  /// Starts run `seq` over every SKU `sync` knows (sorted). False when one runs already.
  bool start(const channel_sync& sync, std::uint64_t seq, std::string trigger, sync_time now,
             std::int64_t wall_ms);
  /// When the next page is due (the pace of the cycle).
  sync_time page_due() const noexcept { return page_due_; }
  /// The next page to read: up to per_read SKUs, skipping busy ones (counted); empty when
  /// the plan is read through (then finish()).
  std::vector<engine::sku_id> next_page(const channel_sync& sync, sync_time now);
  /// The read of the page went well: judge each SKU and act by the policy on `sync`.
  void on_read(const read_result& result, channel_sync& sync, sync_time now);
  /// The read failed: its SKUs go back to the front of the plan.
  void on_read_failed(sync_time now);
  bool page_in_flight() const noexcept { return !reading_.empty(); }
  /// Every planned SKU has been read (or skipped), or reads failed read_failures_max times in
  /// a row.
  bool done() const noexcept;
  /// Ends the run: the finished record, and the next scheduled start set.
  reconcile_run finish(sync_time now, std::int64_t wall_ms);

private:
  struct seen {
    std::optional<std::int64_t> shadow;
    std::int64_t unseen = 0;
    std::uint32_t sends = 0;  // a push sent and confirmed since can leave shadow as it was
  };
  void judge(const engine::sku_id& sku, std::optional<std::int64_t> shows, channel_sync& sync,
             sync_time now);

  reconcile_options opts_;
  std::optional<reconcile_run> run_;
  std::vector<engine::sku_id> plan_;
  std::size_t cursor_ = 0;
  std::vector<std::pair<engine::sku_id, seen>> reading_;  // the page in flight
  std::chrono::milliseconds spacing_{0};
  sync_time started_{};
  sync_time page_due_{};
  std::optional<sync_time> last_start_;
  std::uint32_t failures_in_row_ = 0;
};

} // namespace stockd::connectors
