#pragma once
// The wiring of the actor engine: the CAF actor system sized to the cores, the directory shards,
// recovery, and the entry points the journal writer and the HTTP layer call.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <optional>
#include <vector>

#include "actors/alerts.hpp"
#include "actors/channel.hpp"
#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "engine/catalog.hpp"

namespace caf {
class actor_system;
class actor_system_config;
}  // namespace caf

namespace stockd::actors {

/// Appends events to the journal: the production one is store::writer::submit.
using journal_sink =
    std::function<bool(std::vector<engine::journal_entry> entries, store::append_completion done)>;

class runtime {
public:
  /// `catalog` and `db` must outlive the runtime. `persist` receives checkpoint batches.
  /// `journal` lets the engine journal its own events (reservations, expiries); without it
  /// reservations are refused. Its completions must run on the thread that calls dispatch().
  runtime(const options& opts, const engine::catalog& catalog, store::database* db,
          checkpoint_sink persist, metrics& counters, journal_sink journal = {},
          std::vector<channel_setup> channels = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// The scheduler threads and directory shards `opts` resolve to on this machine.
  struct layout {
    std::size_t threads = 1;
    std::uint32_t shards = 1;
  };
  static layout resolve(const options& opts);

  /// Routes journaled entries (in journal order) to their shards. Called from one thread at a
  /// time: the writer thread, or the recovery loop before the writer starts.
  void dispatch(std::vector<engine::journal_entry>&& entries);
  /// What a commit did with a submission, entry by entry.
  struct journaled_counts {
    std::uint64_t accepted = 0;   // new to the journal
    std::uint64_t duplicate = 0;  // the journal had its id already
  };
  /// The steps after every successful commit of a submission: count its entries as accepted or
  /// duplicate (events_accepted, events_duplicate) and dispatch the accepted ones, which are
  /// moved out of `journaled`. `statuses` follow `journaled`, one each. On dispatch()'s thread.
  journaled_counts dispatch_journaled(std::vector<engine::journal_entry>& journaled,
                                      const std::vector<store::append_status>& statuses);
  /// Tells every shard the journal head after a commit (checkpoint watermarks follow it).
  void publish_head(std::uint64_t head);
  /// Replays the journal from the checkpoint watermark. Blocks until every replayed event is
  /// applied or `timeout` passes; returns the number replayed, or nullopt on a store error.
  std::optional<std::uint64_t> recover(std::chrono::milliseconds timeout);
  /// Answers asynchronously on a shard's thread: the callback must only post elsewhere.
  void query_sku(const engine::sku_id& sku, sku_view_callback reply);
  /// The locations of `sku` whose index of forgotten closed lines holds order line `line_hash`
  /// (engine::line_hash), in config order: a line no state holds any longer (placement of a late
  /// event that names no location). Answers on a shard's thread: the callback must only post.
  void find_forgotten_line(const engine::sku_id& sku, std::uint64_t line_hash,
                           line_locations_callback reply);
  /// The states of `keys` (at most read_states_keys_max), each as its actor or checkpoint has
  /// it now: one request per shard concerned, and `reply` once, with an entry per key in order
  /// (actors/interfaces.hpp key_states), on a shard's thread: it must only post. Events
  /// journaled and not yet applied are not in them.
  void read_states(key_list keys, key_states_callback reply);
  static constexpr std::size_t read_states_keys_max = 65'536;
  /// Reserve-if-available (actors/reservations.hpp); a kit SKU reserves every component or none
  /// (actors/kit_reservation.hpp). `reply` runs once, on an actor's thread, after the journal
  /// commit, or with `failed` after the request timeout: it must only post.
  void reserve(reserve_request req, reservation_callback reply);
  /// Release or commit a reservation; `reply` as for reserve().
  void end_reservation(end_request req, reservation_callback reply);
  /// Every channel's record of `sku` (GET /v1/skus `channels`); `reply` once, on an actor
  /// thread, with one entry per channel that answered in time.
  void query_channels(const engine::sku_id& sku,
                      std::function<void(std::vector<channel_sku_view>)> reply);
  /// SKU × channel pairs out of sync for at least `min_age`, oldest first, at most `limit` per
  /// channel; `channel` empty means every channel.
  void out_of_sync(engine::channel_id channel, std::chrono::milliseconds min_age,
                   std::uint64_t limit,
                   std::function<void(std::vector<out_of_sync_entry>)> reply);
  /// The dead letters (items a channel refused, parked with the reason), at most `limit` per
  /// channel; `channel` empty means every channel.
  void dead_letters(engine::channel_id channel, std::uint64_t limit,
                    std::function<void(std::vector<out_of_sync_entry>)> reply);
  /// Queues a full re-push of `channel` on its bulk lane (a config change, a channel restored
  /// from backup); `reply` once with the SKUs queued, nullopt when it did not answer in time.
  void repush(const engine::channel_id& channel,
              std::function<void(std::optional<std::uint64_t>)> reply);
  /// Every channel's part of an event's trace: the pushes that carried the effect of the event
  /// journaled as `seq` for `sku` at `location` (GET /v1/trace); `reply` once, on an actor
  /// thread, with one entry per channel that answered in time.
  void trace(const engine::sku_id& sku, const engine::location_id& location, std::uint64_t seq,
             std::function<void(std::vector<channel_trace>)> reply);
  /// Starts the alerts actor (actors/alerts.hpp) with these sinks; it watches every channel.
  /// Nothing happens when `setup.sinks` is empty. Call once, after construction.
  void start_alerts(alerts_setup setup);
  /// A reconciliation's result for one channel, for the variance alert (the reconciler calls
  /// this); ignored when no alerts run.
  void report_variance(variance_report report);

private:
  /// What every channel actor gets from the runtime: the propagation histogram, the variance
  /// counter and the variance alert hook (unless the setup brings its own).
  void wire_channel(channel_setup& setup);

public:
  /// Starts a reconciliation run of `channel` now (connectors/reconcile.hpp); `reply` once with
  /// the run started or the one already on, nullopt when the channel did not answer in time.
  void reconcile(const engine::channel_id& channel,
                 std::function<void(std::optional<reconcile_started>)> reply);
  /// Every channel's figures (status, metrics).
  void channel_statuses(std::function<void(std::vector<channel_status>)> reply);
  /// One channel's figures; nullopt when there is no such channel or it did not answer in time.
  void channel_status_of(const engine::channel_id& channel,
                         std::function<void(std::optional<channel_status>)> reply);
  std::size_t channels() const;

  /// The catalog in force (a reload swaps it; see catalog_ref).
  catalog_ref catalog() const { return catalog_ref(&ctx_.catalog); }

  /// What a reload changes in the engine (config/config_diff.hpp has already refused what
  /// cannot change at run time).
  struct reconfiguration {
    std::shared_ptr<const engine::catalog> catalog;  // the new catalog, whole
    /// Channels to start; each setup's `info` points into `catalog`.
    std::vector<channel_setup> added;
    std::vector<engine::channel_id> removed;  // channels to drain and stop
    /// The channels that stay, with their options from the new file (mode may differ).
    std::vector<connectors::channel_options> kept;
  };
  struct reconfigure_result {
    std::uint64_t requeued = 0;  // SKUs whose channel quantity changed (pushed again)
    bool complete = true;        // false: a channel did not answer in time, or seeding failed
    std::string problem;         // what was incomplete
  };
  /// Applies a reload: the new catalog and channel routes are published at once (every actor
  /// reads them at its next message), the channels that stay recompute every SKU with their new
  /// rules and push again exactly those whose quantity changed (on the bulk lane), added
  /// channels start and are seeded with current stock (a checkpoint round first, then the
  /// checkpoints, never overwriting what they already heard live), removed ones drain and stop.
  /// Blocks; call it from a thread that is no actor's, one reload at a time. At most
  /// `reloads_max` per process: every catalog published stays alive (readers hold raw pointers).
  reconfigure_result reconfigure(reconfiguration change, std::chrono::milliseconds timeout);
  static constexpr std::size_t reloads_max = 10'000;
  std::size_t reloads() const;

  /// Release or commit every component of a kit reservation; `reply` as for reserve().
  void end_kit_reservation(kit_end_request req, reservation_callback reply);
  /// Checkpoints every shard now and waits (shutdown, tests). False on timeout or failure.
  bool flush(std::chrono::milliseconds timeout);
  /// Blocks until no delivery is in flight or `timeout` passes.
  bool wait_idle(std::chrono::milliseconds timeout) const;

  std::uint32_t shards() const noexcept { return static_cast<std::uint32_t>(shards_.size()); }
  std::uint64_t watermark_min() const;
  std::size_t scheduler_threads() const noexcept { return threads_; }
  const context& ctx() const noexcept { return ctx_; }

private:
  /// ctx_.submit_batch: journals engine events in one submission, then dispatches the fresh ones
  /// and tells each entry's shard. ctx_.submit is a batch of one.
  bool submit_batch(std::vector<engine::journal_entry> entries);
  /// Tells every channel the checkpointed stock of the locations it sells from, before the
  /// journal suffix is replayed, so a restarted channel knows every SKU's expected value (and
  /// pushes what its restored outbox says the channel lacks), not only the SKUs events touch
  /// from now on. False on a store error or a channel that does not answer in `timeout`.
  bool seed_channels(std::chrono::milliseconds timeout);
  /// The seeding itself, for `targets` (or every channel when empty).
  bool seed(const std::vector<channel_actor>& targets, std::chrono::milliseconds timeout);
  /// Publishes routes for the channels in `catalog` order; `actors` gives each id's actor.
  void publish_routes(const engine::catalog& catalog,
                      const std::map<std::string, channel_actor>& actors);
  /// The channel actors named `channel`, or every one when it is empty.
  std::vector<channel_actor> channels_named(const engine::channel_id& channel) const;
  /// Spawns the actors whose checkpoint holds a reservation with an expiry, so their timers run
  /// after a restart even if nothing else touches them. False on a store error.
  bool wake_expiring();

  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> system_;
  std::vector<std::atomic<std::uint64_t>> watermarks_;
  context ctx_;
  const engine::catalog& catalog_;
  std::vector<directory_shard_actor> shards_;
  mutable std::mutex channels_mutex_;  // channels_ and channel_ids_ (a reload changes them)
  std::vector<channel_actor> channels_;
  std::vector<engine::channel_id> channel_ids_;  // same order
  std::mutex alerts_mutex_;  // alerts_ is set at start and read by channel actors' runs
  std::optional<alerts_actor> alerts_;
  /// Every catalog and route map ever published (see reconfigure); the first catalog is the
  /// caller's, not owned.
  std::vector<std::shared_ptr<const engine::catalog>> catalogs_kept_;
  std::vector<std::unique_ptr<const channel_routes>> routes_kept_;
  std::vector<entry_batch> pending_;  // per shard, reused by dispatch
  journal_sink journal_;
  std::size_t threads_ = 0;
};

/// Sizes CAF's scheduler explicitly (toolchain.md: the default over-subscribes 2-core machines
/// with work stealing): `threads` workers, the `sharing` policy, no log file.
void configure_scheduler(caf::actor_system_config& cfg, std::size_t threads);

} // namespace stockd::actors
