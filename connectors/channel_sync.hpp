#pragma once
// What one channel should be told, when, and what it is believed to show: the decision logic of a
// channel actor (DESIGN §3 shadow and compare-and-set, §4 channel actor), as a plain class the
// actor drives and the tests call directly. It holds no clock, no socket and no thread: every
// call takes `now`; the actor asks next_batch() when its rate limiter allows a call, hands the
// batch to its connector, and feeds the answer back with on_result().
//
// Per SKU it keeps the record ops see (expected, last pushed, in flight, out of sync since and
// why) and the channel's shadow: the value the channel shows by our model (its last confirmed
// value minus its own orders seen since). What it pushes:
//  - coalesced: one intended change per SKU, the latest target; an older one is never sent;
//  - toward zero first: decreases go in the urgent lane, increases in the normal lane after a
//    settle window, full re-pushes in the bulk lane, and a batch is filled in that order, so a
//    bulk job never delays an urgent change;
//  - never over an order not seen: when compare-and-set says the channel's value moved (it sold
//    something stockd has not seen), the difference is held back as `unseen` until that order
//    arrives; the target is expected − unseen.
// What it does on failure: items retry with capped exponential backoff and jitter, keeping their
// idempotency key (made once per intended change, never derived from the quantity); a batch the
// API refuses as a whole is split in halves until the bad item is alone, which is then parked
// (dead letter) with its reason while the rest go on; systemic failures open the circuit, which
// probes with one item after a cool-down and closes on success.
//
// What survives a restart (the outbox, connectors/outbox.hpp): every record whose durable part
// changed is handed out by take_unstored() for the store and confirmed with stored(). With
// `durable_keys`, a change is first sent only once its idempotency key is stored, so its retries,
// after a restart too, carry the same key; restore() puts a stored entry back at start-up.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "connectors/channel_client.hpp"
#include "connectors/outbox.hpp"
#include "engine/ids.hpp"

namespace stockd::connectors {

using sync_clock = std::chrono::steady_clock;
using sync_time = sync_clock::time_point;

struct sync_options {
  std::size_t batch_max = 100;
  std::chrono::milliseconds settle{0};         // increases wait this long for more changes
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_max{30'000};
  std::uint32_t circuit_failures = 5;          // consecutive systemic failures that open it
  std::chrono::milliseconds circuit_cooldown{10'000};
  std::chrono::milliseconds circuit_cooldown_max{300'000};
  bool compare_and_set = false;                // send change_from (Shopify)
  /// How long units a stale answer held back as `unseen` wait for their order before they are
  /// released (the slowest a channel's order webhook is expected to be).
  std::chrono::milliseconds unseen_hold{15 * 60'000};
  std::size_t calls_in_flight_max = 1;
  /// When the urgent lane holds more than a call takes (Amazon: one SKU a call), the SKUs the
  /// channel over-shows the most, relative to what it shows, go first (a sold-out SKU still
  /// shown before a 100 → 99), among the first `urgent_window` queued; one queued longer than
  /// `urgent_age_max` goes before any of them, oldest first, so none waits forever.
  std::chrono::milliseconds urgent_age_max{5'000};
  std::size_t urgent_window = 1'024;
  /// 0: push as soon as a change is due (event mode). Otherwise the periodic batch sync most
  /// merchants run today (the simulator's baseline): a change goes out only at the first
  /// multiple of this interval (on the steady clock) after it was queued, with everything else
  /// queued by then. Retries keep their own backoff.
  std::chrono::milliseconds push_interval{0};
  /// 0: bulk-lane items ride in next_batch() calls. Otherwise the API has a bulk call type
  /// (channel_client::bulk(), Amazon's feeds): the bulk lane goes only through
  /// next_bulk_batch(), up to this many items a job, one job at a time, and a SKU in a job in
  /// flight still takes urgent and normal pushes meanwhile.
  std::size_t bulk_batch_max = 0;
  /// The outbox is persisted: changed records are tracked for take_unstored(), and a change is
  /// sent only once its key is stored (stored()). Off when nothing persists it (a channel
  /// without a connector, unit tests of the decisions alone): then nothing is tracked.
  bool durable_keys = false;
};

enum class lane : std::uint8_t { urgent, normal, bulk };
std::string_view to_string(lane l) noexcept;

enum class circuit_state : std::uint8_t { closed, open, half_open };
std::string_view to_string(circuit_state s) noexcept;

/// The sync record of one SKU on this channel (DESIGN §4, GET /v1/skus `channels`).
struct sku_sync {
  std::int64_t expected = 0;                 // the rules' answer (engine/channel_rules.hpp)
  std::int64_t unseen = 0;                   // sold by the channel, not yet seen by stockd
  std::optional<std::int64_t> last_pushed;   // the last value the channel confirmed
  /// What the channel showed by our model when the last confirmed push replaced it: a read
  /// that finds this value again says that push was lost (connectors/reconcile.hpp).
  std::optional<std::int64_t> replaced;
  std::optional<std::int64_t> shadow;        // what the channel shows by our model
  std::optional<std::int64_t> in_flight;     // the quantity of a call not yet answered
  std::optional<std::int64_t> maybe_applied; // a call that failed without saying: may have applied
  /// Compare-and-set only: a call failed without saying whether it applied, and is sent again
  /// exactly as it was (same items, same keys, same compare values) until the channel answers
  /// it. Its idempotency key makes that answer definite: a replay if the first one applied, a
  /// compare-and-set against the old base if not. Nothing else is sent for the SKU meanwhile.
  bool pinned = false;
  std::optional<std::int64_t> in_bulk;       // the quantity of a bulk job not yet answered
  /// A bulk job set the channel to this while a push of the SKU was in flight: which landed
  /// last is unknown, so once the push is answered the shadow takes this and the target is
  /// pushed again if they differ.
  std::optional<std::int64_t> bulk_landed;
  std::optional<sync_time> unseen_since;
  /// When a read (or a stale answer's value) last set the shadow from what the channel showed:
  /// the channel took its value at some moment from `observed_from` (the read sent) to
  /// `observed_at` (answered). A sale made before it is in that value, whether or not its order
  /// had arrived: its order must not lower the shadow again; one made after it must; one too
  /// close to tell keeps the shadow high and is checked later (own_order_seen, verify_read). A confirmed compare-and-set push keeps them
  /// (the push changed the value, not which sales the base counted). Memory only.
  std::optional<sync_time> observed_from;
  std::optional<sync_time> observed_at;
  /// Units of orders seen whose sales were too close to that read to tell: the shadow kept
  /// them and the read asked since may show them gone. Up to this much of a lower value read is
  /// explained by them, not by a sale stockd has not seen (`unseen`). Memory only.
  std::int64_t sold_near_read = 0;
  /// Such a sale was seen: once nothing is left to push (the shadow equals the target, which a
  /// too-high shadow may fake), read the channel once to check. Until then pushes go on: a
  /// compare-and-set push from the high shadow either applies (the shadow was right) or is
  /// refused as stale (which reads). Memory only.
  bool verify_read = false;
  std::optional<sync_time> out_of_sync_since;
  std::string reason;                        // "" when in sync; see reason_* below
  bool parked = false;                       // dead-lettered: not retried until expected changes
  // The intended change: its target and its key (reused on every retry of it).
  std::optional<std::int64_t> intent;
  std::string key;
  /// Per location, the seq of the newest own order taken (outbox `order_seqs`).
  std::vector<std::pair<engine::location_id, std::uint64_t>> order_seqs;
  std::uint32_t attempts = 0;
  std::uint32_t sends = 0;                   // pushes of it sent, ever (read_sent marks)
  sync_time not_before{};
  std::optional<lane> queued;                // the lane it waits in, if any
  sync_time queued_at{};
  bool needs_read = false;                   // stale CAS without the channel's value: re-read
  /// `unseen` was set from an ambiguous base (a call that may have applied): once it is used up,
  /// read the channel again to check the shadow.
  bool recheck = false;
  // The outbox: hashes of the entry and of the key last stored (0: nothing stored), and whether
  // the SKU is listed for take_unstored() (its entry may differ from the stored one).
  std::uint64_t stored = 0;
  std::uint64_t stored_key = 0;
  bool touched = false;

  /// The value to make the channel show: expected minus what it sold that we have not seen.
  std::int64_t target() const noexcept { return expected > unseen ? expected - unseen : 0; }
  /// A call that may have applied (`maybe_applied`) leaves the channel's value unknown: not in
  /// sync until a push is confirmed or a read says what it shows, even when the target came
  /// back to the shadow meanwhile (the channel may show the unconfirmed value).
  bool in_sync() const noexcept {
    return shadow && *shadow == target() && !in_flight && !pinned && !maybe_applied;
  }
};

/// Why a SKU is out of sync (DESIGN §4 reasons).
inline constexpr std::string_view reason_pending = "pending";
inline constexpr std::string_view reason_rate_limited = "rate_limited";
inline constexpr std::string_view reason_circuit_open = "circuit_open";
inline constexpr std::string_view reason_channel_error = "channel_error: ";   // + code
inline constexpr std::string_view reason_rejected_item = "rejected_item: ";   // + code

struct sync_counters {
  std::uint64_t calls = 0;
  std::uint64_t items_sent = 0;
  std::uint64_t items_applied = 0;
  std::uint64_t throttled = 0;
  std::uint64_t failures = 0;       // calls that failed systemically
  std::uint64_t retries = 0;        // items sent again
  std::uint64_t stale = 0;          // compare-and-set answered stale
  std::uint64_t rejected = 0;       // items parked
  std::uint64_t coalesced = 0;      // intended changes replaced by a newer one before sending
  std::uint64_t circuit_opened = 0;
  std::uint64_t bulk_jobs = 0;      // bulk jobs sent (next_bulk_batch)
  std::uint64_t bulk_items = 0;     // items they carried
  std::uint64_t bulk_failures = 0;  // jobs that failed as a whole
};

/// An outbox entry to store: give the vector back to stored() (or store_failed()) once the
/// store answered.
struct outbox_write {
  engine::sku_id sku;
  std::string bytes;  // encode(outbox_entry)
  std::uint64_t hash = 0;
  std::uint64_t key_hash = 0;
};

/// One batch handed to the connector; give it back to on_result() with the answer.
struct outgoing_batch {
  std::uint64_t id = 0;
  std::vector<push_item> items;
  bool probe = false;  // the half-open circuit's one-item probe
  bool bulk = false;   // a bulk job (next_bulk_batch): its answer comes from push_bulk()
};

class channel_sync {
public:
  /// `boot` makes idempotency keys unique across restarts (keys are "<channel>.<boot>.<n>").
  channel_sync(engine::channel_id channel, sync_options opts, std::uint64_t boot,
               std::uint64_t seed);

  /// The rules' answer for `sku` changed (or is first known). `config_change`: it changed because
  /// the channel's rules did, not the stock: an increase goes on the bulk lane (a decrease still
  /// goes urgent: toward zero first), so a reload does not crowd out the stock changes.
  void set_expected(const engine::sku_id& sku, std::int64_t expected, sync_time now,
                    bool config_change = false);
  /// stockd applied an order of this channel for `sku`. With compare-and-set the channel already
  /// lowered itself (the shadow follows); without it, the next push says the new value.
  /// `location` and `seq` (its journal seq; 0: unknown) make a replay harmless: an order at or
  /// under the seq the record already took from that location is ignored (connectors/outbox.hpp,
  /// `order_seqs`). `sold_at`: when the channel made the sale (the order's occurred_at on this
  /// clock), if known: a sale older than the read that set the shadow is in that value already,
  /// and does not lower it again, one too close to the read to tell has the channel read again
  /// (sku_sync::observed_at). Answers whether it was taken.
  bool own_order_seen(const engine::sku_id& sku, std::int64_t qty, sync_time now,
                      const engine::location_id& location = {}, std::uint64_t seq = 0,
                      std::optional<sync_time> sold_at = std::nullopt);
  /// Re-push `sku` on the bulk lane even if believed in sync (after a config change, or a
  /// reconciliation that found the channel different).
  void repush(const engine::sku_id& sku, sync_time now);
  /// repush() for every SKU the channel knows (a full re-push); the count.
  std::size_t repush_all(sync_time now);
  /// What a read-back found the channel showing (a re-read after stale, or reconciliation).
  /// `asked_at`: when the read was sent, if known (the value is the channel's at some moment
  /// between then and `now`; sku_sync::observed_from).
  void channel_reported(const engine::sku_id& sku, std::int64_t shows, sync_time now,
                        std::optional<sync_time> asked_at = std::nullopt);
  /// The caller sends a read of these SKUs now (from take_reads()); give each answer to
  /// read_answered().
  void read_sent(const std::vector<engine::sku_id>& skus, sync_time now);
  /// The answer to a read_sent() read: channel_reported(), unless a push of the SKU was in
  /// flight or sent since the read went. Then the channel may have read its value before the
  /// push applied (a value under the push's would be taken for a sale stockd has not seen), so
  /// it is not believed: a read that was needed is asked again once no push is in flight.
  /// Answers whether it was believed.
  bool read_answered(const engine::sku_id& sku, std::int64_t shows, sync_time now);

  /// Reconciliation found the channel showing `shows` and fixes it (connectors/reconcile.hpp):
  /// the value becomes the shadow as it is (no units held back: it was a hand edit or a lost
  /// push, not a sale) and the target is pushed again, in the lane its direction calls for
  /// (lowering the channel is urgent).
  void channel_corrected(const engine::sku_id& sku, std::int64_t shows, sync_time now);
  /// Every SKU the channel has a record of, in no particular order (a reconciliation plan).
  std::vector<engine::sku_id> sku_list() const;

  /// The next batch to send now, or nullopt (nothing due, circuit open, or calls in flight at
  /// the limit). The caller has already checked its rate limiter.
  std::optional<outgoing_batch> next_batch(sync_time now);
  /// The next bulk job to send now (bulk_batch_max > 0 only), or nullopt (nothing due, a job
  /// in flight, or the circuit not closed). The caller has already checked its bulk limiter.
  std::optional<outgoing_batch> next_bulk_batch(sync_time now);
  /// When next_bulk_batch() may have something (nullopt: nothing, or a job in flight).
  std::optional<sync_time> next_bulk_due(sync_time now) const;
  std::size_t bulk_jobs_in_flight() const noexcept { return bulk_in_flight_; }
  /// The answer to a batch from next_batch() or next_bulk_batch().
  void on_result(const outgoing_batch& batch, const push_result& result, sync_time now);
  /// When next_batch() may have something to do (settle, backoff, cool-down, a hold to
  /// release): the earliest such time, `now` when already due, nullopt when nothing waits.
  std::optional<sync_time> next_due(sync_time now) const;
  /// SKUs whose stale answer carried no value: read them back, then channel_reported().
  std::vector<engine::sku_id> take_reads();
  /// The channel sold some of `sku`, how much unknown (a kit, from one of its components'
  /// orders): what it shows is unknown, so unless a push of it is on its way the shadow is
  /// dropped: a compare-and-set channel is read first, another gets the target whatever it is.
  void own_sale_of_unknown_size(const engine::sku_id& sku, sync_time now);

  /// Entries changed since they were last stored, at most `max` (the rest on the next call).
  std::vector<outbox_write> take_unstored(std::size_t max);
  bool has_unstored() const noexcept { return !touched_.empty(); }
  /// Records that may differ from their stored entry (an upper bound: some changed back).
  std::size_t unstored() const noexcept { return touched_.size(); }
  /// Positions in the order changes are handed out for the store: every change made so far
  /// is at a position below touched_through(); take_unstored() hands out the positions up to
  /// taken_through(). Once a write holding the positions below P is stored, so is every change
  /// made before touched_through() was P (a checkpoint round waits for that: flush_atom),
  /// unless a write failed or stored() found a record to store again in between: those go
  /// back at the end (the caller then asks touched_through() again).
  std::uint64_t touched_through() const noexcept { return taken_total_ + touched_.size(); }
  std::uint64_t taken_through() const noexcept { return taken_total_; }
  /// The store committed `writes`: their keys may be sent now.
  void stored(const std::vector<outbox_write>& writes);
  /// The store failed `writes`: they are handed out again by the next take_unstored().
  void store_failed(const std::vector<outbox_write>& writes);
  /// Puts a stored entry back (start-up, before any other call for `sku`): a pending change is
  /// retried with its stored key; a parked one stays parked until its expected value changes.
  void restore(const engine::sku_id& sku, const outbox_entry& entry, sync_time now);

  /// The caller's rate limiter said wait: queued SKUs, and those queued after, show rate_limited
  /// until a call goes. Cheap to repeat: only the first call after a call went walks the queues.
  void note_rate_limited(sync_time now);

  const sku_sync* find(const engine::sku_id& sku) const;
  /// Every SKU the channel has a record of (shadow mode reads them all back).
  std::vector<engine::sku_id> known_skus() const;
  /// SKUs out of sync for at least `min_age`, oldest first, at most `limit`.
  std::vector<std::pair<engine::sku_id, const sku_sync*>> out_of_sync(
      sync_time now, std::chrono::milliseconds min_age, std::size_t limit) const;
  /// The dead letters: items the channel refused, parked until their expected value changes.
  std::vector<std::pair<engine::sku_id, const sku_sync*>> parked() const;
  std::size_t parked_count() const;

  std::size_t queued(lane l) const noexcept { return lanes_[static_cast<std::size_t>(l)].size(); }
  std::size_t calls_in_flight() const noexcept { return calls_in_flight_; }
  circuit_state circuit() const noexcept { return circuit_; }
  const sync_counters& counters() const noexcept { return counters_; }
  std::size_t skus() const noexcept { return records_.size(); }
  std::optional<sync_time> oldest_out_of_sync() const;
  std::size_t out_of_sync_count() const;

private:
  struct split_group {
    std::vector<engine::sku_id> skus;
  };
  /// A batch that failed ambiguously on a compare-and-set channel, to send again verbatim.
  struct pinned_batch {
    std::vector<push_item> items;
    sync_time not_before{};
  };

  /// The record of `sku`, created when new, and listed for the outbox: every caller may change it.
  sku_sync& record(const engine::sku_id& sku);
  void touch(const engine::sku_id& sku, sku_sync& r);
  bool key_stored(const sku_sync& r) const;
  /// Queues the SKU if the channel needs telling, in the lane its change belongs to.
  void reconsider(const engine::sku_id& sku, sku_sync& r, sync_time now, bool bulk = false,
                  bool config_change = false);
  void enqueue(const engine::sku_id& sku, sku_sync& r, lane l, sync_time now);
  /// Drops the pinned batch holding `sku`: its SKUs are read back instead.
  void unpin(const engine::sku_id& sku, sync_time now);
  void mark_out_of_sync(sku_sync& r, std::string_view reason, sync_time now);
  /// When a queued record may be sent: its backoff, the settle window of a first increase, and
  /// in interval mode the next interval boundary after it was queued.
  sync_time release_at(const sku_sync& r, lane l) const;
  push_item item_for(const engine::sku_id& sku, sku_sync& r);
  /// The picked SKUs as one call (bulk: one bulk job), each marked as sent.
  outgoing_batch take_batch(const std::vector<engine::sku_id>& picked, bool bulk);
  void take_from(lane l, std::vector<engine::sku_id>& picked, std::size_t room, sync_time now);
  /// take_from(urgent) when the lane holds more than the call takes: riskiest first (the
  /// `urgent_age_max` option).
  void take_riskiest(std::vector<engine::sku_id>& picked, std::size_t room, sync_time now);
  /// A queued entry that is no longer valid or must wait for a read instead: dropped from its
  /// lane (take_from's housekeeping).
  bool drop_queued(lane l, const engine::sku_id& sku);
  void retry_later(const engine::sku_id& sku, sku_sync& r, std::string_view reason,
                   std::optional<std::chrono::milliseconds> at_least, sync_time now);
  void systemic_failure(sync_time now);
  void on_bulk_result(const outgoing_batch& batch, const push_result& result, sync_time now);
  /// A stale answer: take the channel's value when it said, else read it back.
  void on_stale(const engine::sku_id& sku, sku_sync& r, const item_result& answer,
                sync_time now);
  /// The channel now shows `value` (a bulk job applied it): believe it once no push is in
  /// flight, and push the target again if it differs.
  void bulk_landed(const engine::sku_id& sku, sku_sync& r, std::int64_t value, sync_time now);
  std::chrono::milliseconds backoff(std::uint32_t attempts);
  std::string new_key();

  engine::channel_id channel_;
  sync_options opts_;
  std::uint64_t boot_;
  std::uint64_t next_key_ = 0;
  std::uint64_t next_batch_id_ = 0;
  std::mt19937_64 rng_;
  // Hashed: a stock change looks its SKU up once (a std::map of 100 k SKUs cost a third of the
  // channel actor's time in benchmarks/bench_channel_actor.cpp).
  std::unordered_map<engine::sku_id, sku_sync> records_;
  std::deque<engine::sku_id> lanes_[3];
  std::deque<split_group> splits_;  // halves of refused batches, sent before anything else
  std::deque<pinned_batch> pinned_;  // sent again verbatim, before anything else
  std::vector<engine::sku_id> reads_;
  std::vector<engine::sku_id> verify_;  // records with verify_read set (next_batch checks them)
  /// A read that is out (read_sent): the SKU's `sends` then, whether a push was in flight, and
  /// when it was sent.
  struct read_out {
    std::uint32_t sends = 0;
    bool push_in_flight = false;
    sync_time sent_at{};
  };
  std::unordered_map<engine::sku_id, read_out> reads_out_;
  std::vector<engine::sku_id> touched_;  // records whose entry may differ from the stored one
  std::uint64_t taken_total_ = 0;         // positions of touched_ ever handed out
  std::map<engine::sku_id, sync_time> unseen_skus_;  // SKUs holding units back, since when
  void release_unseen(sync_time now);
  void request_recheck(const engine::sku_id& sku, sku_sync& r, sync_time now);
  /// The channel's value is needed before the next push of `sku`: queue one read (take_reads())
  /// unless one is due already, and say why the SKU is out of sync meanwhile.
  void ask_read(const engine::sku_id& sku, sku_sync& r, std::string_view reason, sync_time now);
  std::size_t calls_in_flight_ = 0;
  std::size_t bulk_in_flight_ = 0;
  bool rate_limited_ = false;  // note_rate_limited() since the last call went
  circuit_state circuit_ = circuit_state::closed;
  std::uint32_t consecutive_failures_ = 0;
  std::chrono::milliseconds cooldown_{};
  sync_time circuit_until_{};
  sync_counters counters_;
};

} // namespace stockd::connectors
