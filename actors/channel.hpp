#pragma once
// channel: the one owner of one sales channel's sync state (DESIGN §4). It hears from the
// sku_location actors of the locations it sells from, computes what the channel should show
// (engine/channel_rules.hpp), and drives connectors::channel_sync (what to push, when) with its
// rate limiter and its connector. Thin on purpose: the decisions are in channel_sync, which the
// tests call directly.
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/alert_policy.hpp"
#include "actors/interfaces.hpp"
#include "actors/push_trace.hpp"
#include "actors/metrics.hpp"
#include "connectors/channel_client.hpp"
#include "connectors/channel_options.hpp"
#include "connectors/channel_sync.hpp"
#include "connectors/rate_limiter.hpp"
#include "connectors/reconcile.hpp"
#include "connectors/shadow_report.hpp"
#include "engine/catalog.hpp"
#include "engine/channel_rules.hpp"
#include "store/database.hpp"
#include "store/writer.hpp"

namespace stockd::actors {

/// What a channel actor is made of. `client` may be null: the channel then keeps its records
/// (expected values, reason "no_connector") and pushes nothing.
struct channel_setup {
  const engine::channel_info* info = nullptr;
  connectors::channel_options options;
  std::shared_ptr<connectors::channel_client> client;
  /// The clock of every decision; steady_clock in production, a fake in tests.
  std::function<connectors::sync_time()> clock;
  /// The wall clock an order's occurred_at is read against (when the channel sold it);
  /// system_clock in production, the simulation's virtual one in tests.
  std::function<engine::timestamp()> wall_clock;
  std::uint64_t boot = 0;  // makes idempotency keys unique across restarts
  /// The outbox (connectors/outbox.hpp): `db` gives back the stored entries at spawn, `persist`
  /// commits changed ones (store::writer::submit_outbox). Unset: nothing survives a restart
  /// (tests of the actor alone); changes are then sent without waiting for a store.
  store::database* db = nullptr;
  std::function<bool(std::vector<store::outbox_record>, store::outbox_completion)> persist;
  /// Where the propagation latency goes (metrics::propagation); null: not measured.
  latency_histogram* propagation = nullptr;
  /// Each finished reconciliation run's variances are counted here (the dashboard's chart,
  /// metrics::reconciliation_variances) and reported (the variance alert); null / empty: not.
  metrics::counter* variances = nullptr;
  std::function<void(variance_report)> report_variance;
};

struct channel_holder {
  channel_setup setup;
  const engine::catalog* catalog = nullptr;
  std::unique_ptr<connectors::channel_sync> sync;
  std::unique_ptr<connectors::call_limiter> limiter;  // connectors::limiter_for
  /// The bulk jobs' own limit, when the client has a bulk call type (channel_client::bulk()).
  std::unique_ptr<connectors::token_bucket> bulk_limiter;
  /// Per SKU, its stock at each eligible location, in the channel's location order.
  std::unordered_map<std::string, std::vector<engine::location_stock>> stock;
  std::map<std::uint64_t, connectors::outgoing_batch> in_flight;
  std::optional<connectors::sync_time> tick_at;  // the wake-up already scheduled
  bool pump_queued = false;  // a pump_atom is in the mailbox, behind the updates it will serve
  bool read_in_flight = false;
  std::vector<engine::sku_id> pending_reads;  // to read back when the limiter allows
  std::vector<engine::sku_id> reading;        // the read in flight
  std::uint64_t updates = 0;
  /// Tracing (GET /v1/trace): per SKU, the last journal seq heard from each location, in the
  /// channel's location order; the calls in flight as they went; the answered ones, bounded.
  std::unordered_map<std::string, std::vector<std::uint64_t>> seqs;
  std::map<std::uint64_t, push_trace> tracing;
  push_trace_ring traced{trace_items_max};
  static constexpr std::size_t trace_items_max = 20'000;
  /// Per SKU the channel has not been told yet, when the earliest event it has not seen was
  /// accepted: the start of the propagation latency measured when a push puts it in sync.
  /// At most unpropagated_max SKUs (past it, new ones are not measured).
  static constexpr std::size_t unpropagated_max = 1'000'000;
  std::unordered_map<engine::sku_id, engine::timestamp> unpropagated;
  // The outbox write in flight (one at a time), and what failures left.
  std::vector<connectors::outbox_write> storing;
  bool store_in_flight = false;
  connectors::sync_time store_not_before{};  // after a failure, the next try
  std::uint64_t outbox_writes = 0;
  std::uint64_t outbox_failures = 0;
  // The last failure of each kind until a commit succeeds (status `outbox_error`: the write's,
  // else the restore's). A write failure is also over once nothing is left to store.
  std::string outbox_write_error;
  std::string outbox_restore_error;
  // Checkpoint rounds waiting for the outbox (flush_atom), each with the position its changes
  // end at (channel_sync::touched_through): done once the positions below it are stored, that
  // is below `stored_through`. At most flush_waiters_max (a few per shard); past it the oldest
  // is answered with an error.
  static constexpr std::size_t flush_waiters_max = 256;
  std::vector<std::pair<std::uint64_t, caf::typed_response_promise<bool>>> flush_waiters;
  std::uint64_t stored_through = 0;
  // Reconciliation (connectors/reconcile.hpp): the sweep, when the channel has a connector to
  // read with; the read in flight is the sweep's when sweep_reading.
  std::unique_ptr<connectors::reconcile_sweep> sweep;
  bool sweep_reading = false;
  std::uint64_t run_seq = 0;  // the last run's seq (restored from the store at spawn)
  // Finished runs not yet stored, oldest first: each the run's record and the deletion of the
  // run that falls out of the retention.
  std::deque<std::vector<store::outbox_record>> runs_to_store;
  bool run_store_in_flight = false;
  connectors::sync_time run_store_not_before{};
  std::uint64_t runs_finished = 0;
  std::uint64_t run_store_failures = 0;
  std::uint64_t skus_read = 0;
  std::uint64_t read_calls = 0;
  std::array<std::uint64_t, connectors::variance_classes> variances{};
  std::uint64_t corrected = 0;
  std::uint64_t alerts = 0;
  std::optional<connectors::reconcile_run> last_run;  // its summary (found cleared)
  // Shadow mode (options.mode): the report, and the read-back rounds that feed it.
  bool shadow = false;
  std::optional<connectors::shadow_report> report;  // set once the channel was ever in shadow
  std::optional<connectors::sync_time> next_round;  // the next read-back round
  bool round_running = false;
  std::uint64_t shadow_reads = 0;
  std::uint64_t shadow_read_failures = 0;
  // Until seeded_atom: the (SKU, location) pairs heard live, which seeding must not overwrite
  // with an older checkpoint (a channel added by a reload is seeded while stock moves).
  bool seeded = false;
  std::set<std::pair<std::string, std::string>> heard_live;
  // Removed by a reload (drain_atom): nothing new starts; it stops once nothing is in flight,
  // or at `drain_deadline` whatever is left (the outbox keeps what was not confirmed).
  bool draining = false;
  static inline const char* name = "channel";
};

channel_actor::behavior_type channel(channel_actor::stateful_pointer<channel_holder> self,
                                     channel_setup setup, const engine::catalog* catalog);

} // namespace stockd::actors
