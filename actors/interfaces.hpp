#pragma once
// Every actor of stockd, as a typed interface: the contract between them. Open this first.
//
//   store::writer thread ──deliver(batch)──▶ directory_shard (one per SKU hash range)
//                                              │ spawns on first use, forwards in journal order
//                                              ▼
//   kit_reservation (one per kit request) ──▶ sku_location (one per SKU × location)
//     through each component's shard           │ stock changed / the channel's own order
//                                              ▼
//                                         channel (one per sales channel) ──▶ its connector
//
// The shard is also its SKU range's checkpointer: it knows which of its actors are dirty and
// the journal head it has seen, so it can persist a watermark that recovery replays from.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "connectors/channel_client.hpp"
#include "connectors/channel_options.hpp"
#include "connectors/shadow_report.hpp"
#include "engine/catalog.hpp"
#include "engine/event.hpp"
#include "engine/ids.hpp"
#include "engine/state.hpp"
#include "actors/push_trace.hpp"
#include "actors/reservations.hpp"

namespace stockd::actors {

using apply_atom = caf::atom_constant<caf::atom("apply")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using head_atom = caf::atom_constant<caf::atom("head")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using ckpt_done_atom = caf::atom_constant<caf::atom("ckpt_done")>;
using lines_stored_atom = caf::atom_constant<caf::atom("lines_kept")>;
using line_atom = caf::atom_constant<caf::atom("line")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using reserve_atom = caf::atom_constant<caf::atom("reserve")>;
using end_atom = caf::atom_constant<caf::atom("resv_end")>;
using journaled_atom = caf::atom_constant<caf::atom("journaled")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using wake_atom = caf::atom_constant<caf::atom("wake")>;
using stock_atom = caf::atom_constant<caf::atom("stock")>;
using pushed_atom = caf::atom_constant<caf::atom("pushed")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using oos_atom = caf::atom_constant<caf::atom("oos")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using stored_atom = caf::atom_constant<caf::atom("stored")>;
using dead_atom = caf::atom_constant<caf::atom("dead")>;
using pump_atom = caf::atom_constant<caf::atom("pump")>;
using seed_atom = caf::atom_constant<caf::atom("seed")>;
using repush_atom = caf::atom_constant<caf::atom("repush")>;
using trace_atom = caf::atom_constant<caf::atom("trace")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using run_stored_atom = caf::atom_constant<caf::atom("run_stored")>;
using reconfig_atom = caf::atom_constant<caf::atom("reconfig")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using seeded_atom = caf::atom_constant<caf::atom("seeded")>;

/// A reload's news for a channel that stays (runtime::reconfigure): the catalog now in force
/// and the channel's entry in it (both stay alive as long as the runtime), and its options (only
/// `mode` and `shadow_read_interval` may differ: config/config_diff.hpp refuses the rest).
struct channel_config {
  const engine::catalog* catalog = nullptr;
  const engine::channel_info* info = nullptr;
  connectors::channel_options options;
};

/// What a sku_location actor tells the channels that sell from its location after it applied an
/// event that changed what they may show, or that was one of their own orders.
struct stock_update {
  engine::sku_location_key key;
  std::int64_t available = 0;
  std::int64_t incoming = 0;
  engine::channel_id order_channel;  // set when the event was an order of that channel
  std::int64_t order_qty = 0;
  engine::timestamp order_occurred_at{};  // the order's occurred_at: when the channel sold it
  /// The order was a kit's component order (engine::is_kit_component_event): the channel sold a
  /// kit holding this component, and lowered the kit's listing, not the component's.
  bool kit_component = false;
  /// The journal seq of the last event the location applied (the checkpoint's at start-up):
  /// what a push of this stock reflects (GET /v1/trace).
  std::uint64_t seq = 0;
  /// When the event behind it was accepted (its received_at), for the propagation latency; the
  /// epoch when there is no such event (channels seeded from checkpoints at start-up).
  engine::timestamp accepted_at{};
};

/// One SKU on one channel, as the channel actor records it (GET /v1/skus `channels`).
struct channel_sku_view {
  engine::channel_id channel;
  bool known = false;  // false: the channel has not heard of the SKU since it started
  std::int64_t expected = 0;
  std::optional<std::int64_t> last_pushed;
  /// What stockd believes the channel shows (its shadow: the last confirmed value minus the
  /// channel's own orders since), and the units held back for orders it sold that stockd has
  /// not journaled yet: expected = the rules' value minus held_back.
  std::optional<std::int64_t> shows;
  std::int64_t held_back = 0;
  bool in_sync = false;
  std::optional<std::int64_t> out_of_sync_ms;  // how long, when out of sync
  std::string reason;
};

/// One out-of-sync SKU on one channel (GET /v1/sync/out-of-sync).
struct out_of_sync_entry {
  engine::channel_id channel;
  engine::sku_id sku;
  std::int64_t expected = 0;
  std::optional<std::int64_t> last_pushed;
  std::int64_t age_ms = 0;
  std::string reason;
};

/// A channel's figures for /v1/status and /metrics.
struct channel_status {
  engine::channel_id channel;
  std::string connector;  // "webhook", ... or "none" when no connector runs
  std::string circuit;
  std::size_t skus = 0;
  std::size_t queued_urgent = 0;
  std::size_t queued_normal = 0;
  std::size_t queued_bulk = 0;
  std::uint64_t bulk_jobs = 0;             // jobs of the bulk call type (Amazon feeds) sent
  std::size_t bulk_jobs_in_flight = 0;
  std::uint64_t bulk_failures = 0;
  std::size_t out_of_sync = 0;
  std::int64_t oldest_out_of_sync_ms = 0;
  std::uint64_t calls = 0;
  std::uint64_t items_sent = 0;
  std::uint64_t items_applied = 0;
  std::uint64_t throttled = 0;
  std::uint64_t failures = 0;
  std::uint64_t retries = 0;
  std::uint64_t stale = 0;
  std::uint64_t rejected = 0;
  std::uint64_t coalesced = 0;
  std::uint64_t updates = 0;  // stock updates absorbed
  std::size_t dead_letters = 0;           // items parked after the channel refused them
  std::uint64_t outbox_writes = 0;        // outbox entries stored
  std::uint64_t outbox_failures = 0;      // outbox commits that failed (retried)
  std::string outbox_error;               // the last failure, until a commit succeeds
  std::uint64_t outbox_pending = 0;       // records changed and not stored yet (or being stored)
  /// How much of its rate limit the channel has used: 0 = the bucket is full (a burst may go),
  /// 1 = empty (the next call waits). The token bucket's tokens, or Shopify's cost points.
  double rate_limit_use = 0;
  // Reconciliation (connectors/reconcile.hpp): the policy, whether a run is on, the totals of
  // every run since start, and the last finished run.
  std::string reconcile_policy;
  std::int64_t reconcile_cycle_s = 0;
  bool reconcile_running = false;
  std::uint64_t reconcile_runs = 0;             // finished since start
  std::uint64_t reconcile_skus_read = 0;
  std::uint64_t reconcile_read_calls = 0;
  std::uint64_t reconcile_hand_edit = 0;        // variances by class
  std::uint64_t reconcile_order_not_seen = 0;
  std::uint64_t reconcile_push_lost = 0;
  std::uint64_t reconcile_unknown = 0;
  std::uint64_t reconcile_corrected = 0;
  std::uint64_t reconcile_alerts = 0;
  std::uint64_t reconcile_store_failures = 0;   // run writes that failed (retried)
  std::string reconcile_last_run;               // its id, "" before the first
  std::int64_t reconcile_last_finished_ms = 0;  // Unix epoch ms
  std::int64_t reconcile_last_duration_ms = 0;
  std::uint64_t reconcile_last_variances = 0;
  std::string mode;                       // "live" or "shadow"
  /// The agreement report of shadow mode; kept after a switch to live (the go-live decision
  /// looks at it), empty for a channel never in shadow mode.
  std::optional<connectors::shadow_report::summary> shadow;
  std::uint64_t shadow_reads = 0;         // read calls made for the report
  std::uint64_t shadow_read_failures = 0;
};

/// The answer to POST /v1/admin/reconcile/{channel}: the run started, or the one already on.
struct reconcile_started {
  std::string id;        // "" when the channel cannot reconcile (no connector)
  bool started = false;  // false: a run was already on (id is that run's)
};
/// One channel's part of an event's trace (GET /v1/trace/{source}/{id}): its record of the SKU
/// and the pushes that carried the event's effect, with what the channel answered.
struct channel_trace {
  engine::channel_id channel;
  std::string connector;
  bool sells_here = false;  // false: the channel does not sell from the event's location
  bool known = false;       // the channel has a record of the SKU
  std::int64_t expected = 0;
  std::optional<std::int64_t> last_pushed;
  bool in_sync = false;
  std::string reason;
  std::uint64_t seen_seq = 0;  // the location's last seq the channel has heard of for the SKU
  std::vector<trace_hop> hops;
  bool truncated = false;  // older pushes were dropped from the bounded ring
};

using kit_prepare_atom = caf::atom_constant<caf::atom("kit_prep")>;
using kit_await_atom = caf::atom_constant<caf::atom("kit_await")>;
using kit_abort_atom = caf::atom_constant<caf::atom("kit_abort")>;
using kit_lapse_atom = caf::atom_constant<caf::atom("kit_lapse")>;
using read_lapse_atom = caf::atom_constant<caf::atom("read_lapse")>;

/// The answer to a SKU query: the state at every location that has one.
struct sku_view {
  std::vector<engine::sku_location_state> locations;
  bool complete = true;  // false when a location actor did not answer in time
};
using sku_view_callback = std::function<void(sku_view)>;
/// The answer to a batched state read (runtime::read_states): one entry per key asked, in the
/// order asked; a fresh state (nothing on hand) for a key stockd has never seen, nullopt for one
/// whose actor did not answer in time or whose checkpoint did not read.
using key_states = std::vector<std::optional<engine::sku_location_state>>;
using key_states_callback = std::function<void(key_states)>;
using key_list = std::vector<engine::sku_location_key>;
using entry_batch = std::vector<engine::journal_entry>;

/// The locations whose closed_lines index holds an order line (runtime::find_forgotten_line).
using line_locations_callback = std::function<void(std::vector<engine::location_id>)>;

/// A state for the checkpointer: its bytes, and the closed lines it pushed out since its last
/// stored checkpoint (store::checkpoint_record::forgotten_lines). The actor keeps those lines
/// until the checkpointer says a checkpoint carrying them is stored (lines_stored_atom with
/// `forgotten_through`).
struct state_snapshot {
  std::string bytes;  // engine::encode(state)
  std::vector<engine::closed_line> forgotten_lines;
  std::uint64_t forgotten_through = 0;  // the actor's count of lines ever pushed out, up to these
};

/// One SKU at one location: applies events in journal order through engine::apply.
using sku_location_actor = caf::typed_actor<
    caf::reacts_to<apply_atom, engine::journal_entry>,
    caf::replies_to<get_atom>::with<engine::sku_location_state>,
    caf::replies_to<snapshot_atom>::with<state_snapshot>,
    // The checkpoint of a snapshot is stored: the lines pushed out up to this count are in the
    // store's closed_lines index now.
    caf::reacts_to<lines_stored_atom, std::uint64_t>,
    // Whether this actor forgot order line `line_hash` since its last stored checkpoint.
    caf::replies_to<line_atom, std::uint64_t>::with<bool>,
    // Reserve-if-available and end a reservation (actors/reservations.hpp); answered after the
    // journal commit and the apply.
    caf::replies_to<reserve_atom, reserve_request>::with<reservation_reply>,
    caf::replies_to<end_atom, end_request>::with<reservation_reply>,
    caf::reacts_to<journaled_atom, journal_result>,  // an event this actor submitted, committed
    caf::reacts_to<expire_atom>,                     // expiry timer: journal what has expired
    // Kit reservations, two-phase (actors/kit_reservation.hpp): prepare a pending op without
    // journaling; await its journaled entry (the coordinator submits all components at once);
    // abort it; and the op's own lapse timer, which drops it if no submission was announced.
    caf::replies_to<kit_prepare_atom, prepare_request>::with<prepare_reply>,
    caf::replies_to<kit_await_atom, prepare_request, std::uint64_t>::with<reservation_reply>,
    caf::reacts_to<kit_abort_atom, prepared_ref>,
    caf::reacts_to<kit_lapse_atom, prepared_ref>>;

/// One sales channel (DESIGN §4): keeps its view of every SKU it sells, applies its rules,
/// coalesces, paces and batches pushes through its connector (connectors/channel_sync.hpp).
using channel_actor = caf::typed_actor<
    caf::reacts_to<stock_atom, stock_update>,
    // Start-up: checkpointed stock, a page at a time (the reply paces the reader).
    caf::replies_to<seed_atom, std::vector<stock_update>>::with<bool>,
    caf::reacts_to<stored_atom, bool, std::string>,        // outbox write done (ok, why not)
    caf::reacts_to<pushed_atom, std::uint64_t, connectors::push_result>,  // batch id, answer
    caf::reacts_to<read_atom, connectors::read_result>,
    caf::reacts_to<tick_atom>,                                         // something is due
    caf::reacts_to<pump_atom>,  // the stock updates queued before it are absorbed: pump once
    caf::replies_to<get_atom, engine::sku_id>::with<channel_sku_view>,
    caf::replies_to<oos_atom, std::int64_t, std::uint64_t>::with<std::vector<out_of_sync_entry>>,
    caf::replies_to<dead_atom, std::uint64_t>::with<std::vector<out_of_sync_entry>>,  // limit
    caf::replies_to<status_atom>::with<channel_status>,
    // A full re-push on the bulk lane; replies the SKUs queued.
    caf::replies_to<repush_atom>::with<std::uint64_t>,
    // The pushes that carried the effect of the event of this seq at this location (tracing).
    caf::replies_to<trace_atom, engine::sku_id, engine::location_id, std::uint64_t>::with<
        channel_trace>,
    // Start a reconciliation run now (connectors/reconcile.hpp); a stored run's write is done.
    caf::replies_to<reconcile_atom>::with<reconcile_started>,
    caf::reacts_to<run_stored_atom, bool, std::string>,
    // A reload: new rules (or mode) take effect; replies the SKUs whose quantity changed (those
    // are pushed again, on the bulk lane).
    caf::replies_to<reconfig_atom, channel_config>::with<std::uint64_t>,
    // Removed by a reload: take nothing new, finish what is in flight (bounded), then stop.
    caf::reacts_to<drain_atom>,
    // Seeding from the checkpoints is over: stop remembering which stock came live.
    caf::reacts_to<seeded_atom>,
    // A checkpoint round is about to be stored: replies once every stock update this channel
    // took before the request is in its stored outbox (true at once when it keeps none).
    caf::replies_to<flush_atom>::with<bool>>;

/// The directory for one range of SKUs, and that range's checkpointer.
using directory_shard_actor = caf::typed_actor<
    caf::reacts_to<deliver_atom, entry_batch>,              // in journal order
    caf::reacts_to<head_atom, std::uint64_t>,               // journal head after a commit
    caf::reacts_to<get_atom, engine::sku_id, sku_view_callback>,
    caf::reacts_to<get_atom, key_list, key_states_callback>,  // the keys all in this range
    // The locations of a SKU whose index of forgotten closed lines holds a line hash.
    caf::reacts_to<line_atom, engine::sku_id, std::uint64_t, line_locations_callback>,
    caf::reacts_to<read_lapse_atom, std::uint64_t>,  // a read's time is up: answer what came
    caf::reacts_to<tick_atom>,                              // checkpoint timer
    caf::reacts_to<ckpt_done_atom, std::uint64_t, bool>,    // round persisted (watermark, ok)
    caf::replies_to<flush_atom>::with<std::uint64_t>,       // checkpoint now; replies watermark
    // Reservations: to the key's actor, or, without a location, to each location in config order
    // until one can cover the quantity.
    caf::reacts_to<reserve_atom, reserve_request, reservation_callback>,
    caf::reacts_to<end_atom, end_request, reservation_callback>,
    caf::reacts_to<journaled_atom, journal_result>,         // forwarded to the key's actor
    caf::reacts_to<wake_atom, engine::sku_location_key>,    // spawn: it holds expiring holds
    // A kit coordinator's messages, delegated to the key's actor (spawned on first use).
    caf::replies_to<kit_prepare_atom, prepare_request>::with<prepare_reply>,
    caf::replies_to<kit_await_atom, prepare_request, std::uint64_t>::with<reservation_reply>,
    caf::reacts_to<kit_abort_atom, prepared_ref>>;

} // namespace stockd::actors

// Local messages only: stockd never serializes actor messages (scale-out goes through a durable
// log, DESIGN §8), so these types need no inspect() and are declared safe to pass in-process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::engine::journal_entry)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::entry_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::engine::sku_location_state)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::state_snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::line_locations_callback)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::engine::sku_id)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::engine::sku_location_key)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::engine::location_id)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::channel_trace)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::sku_view_callback)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::key_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::key_states_callback)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::stock_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<stockd::actors::stock_update>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::channel_sku_view)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::out_of_sync_entry)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<stockd::actors::out_of_sync_entry>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::channel_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::reconcile_started)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::channel_config)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::connectors::push_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::connectors::read_result)
