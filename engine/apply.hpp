#pragma once
// The heart of stockd: applying one event to one SKU × location. Pure: no I/O, no clock, no
// exceptions; deterministic for the same (state, entry, now).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/event.hpp"
#include "engine/state.hpp"

namespace stockd::engine {

enum class outcome_kind : std::uint8_t {
  applied,   // state changed (or the event was a no-op move that is still recorded)
  rejected,  // inconsistent with the state; state unchanged; counted and reported
  parked,    // waits for an earlier event (e.g. a cancel before its order); state holds it
  stale,     // recorded, deliberately not applied (e.g. a count older than the last one)
  skipped,   // seq <= state.last_seq: already applied before a restart (replay)
};
std::string_view to_string(outcome_kind kind) noexcept;

struct outcome {
  outcome_kind kind = outcome_kind::applied;
  std::string reason;               // non-empty for rejected / parked / stale
  std::int64_t oversold_units = 0;  // > 0 when this event sold what was not there
  bool availability_changed = false;
  /// An order line's arrival (order_created, reservation_committed) applies the events parked
  /// for it: how many were applied, and how many turned out inconsistent and were dropped
  /// (their reasons are appended to `reason`).
  std::uint32_t unparked_applied = 0;
  std::uint32_t unparked_rejected = 0;
  /// The closed lines this event pushed out of `state.closed_lines` (past closed_lines_max),
  /// oldest first. The state no longer knows them: the caller keeps them in a durable index
  /// (store: closed_lines) and puts one back with recall_closed_line when a late event names it.
  std::vector<closed_line> forgotten_lines;
};

/// True when the event also touches (sku, to_location): a transfer to another location.
bool touches_destination(const event& ev) noexcept;
/// The SKU × location keys an event touches (a transfer touches its destination too).
std::vector<sku_location_key> touched_keys(const event& ev);

/// Applies `entry` to `state` as seen from `state.key`. Either the whole event is applied and the
/// invariants hold afterwards, or `state` is left exactly as it was (no half-applied event).
/// Always advances `state.last_seq` to `entry.seq` unless the outcome is `skipped`.
outcome apply(sku_location_state& state, const journal_entry& entry, timestamp now);

/// Whether `state` holds order line (order_id, line_id): open, or closed and still kept.
bool line_known(const sku_location_state& state, std::string_view order_id,
                std::string_view line_id);

/// The line_hash of the order line `entry` would look up in `state` when the state does not
/// hold it (neither open nor closed) but may once have forgotten it; nullopt otherwise. Only for
/// an entry apply() would apply here (seq past last_seq, at the state's own key) and only once
/// the state has forgotten something: closed_lines never shrinks, so a list that is not full has
/// never pushed a line out. The caller looks the hash up in its index of forgotten lines and,
/// when found, calls recall_closed_line before apply(); apply() itself reads no storage.
std::optional<std::uint64_t> line_to_recall(const sku_location_state& state,
                                            const journal_entry& entry);

/// Puts a forgotten closed line back into `state.closed_lines`, as its newest record, so the
/// next apply() sees it (a late return checks its returnable quantity; a late cancel is
/// inconsistent rather than parked). Returns the records pushed out to make room (at most one,
/// to be indexed like outcome::forgotten_lines). Nothing changes when the state already holds
/// the line (its own record is newer than any index) or when `line.returnable` is out of range
/// (a damaged index entry is not trusted).
std::vector<closed_line> recall_closed_line(sku_location_state& state, const closed_line& line);

/// Why apply() would refuse a reservation_committed `ev` for its order line — the line (line_id,
/// or the reservation id without one) is already known, or there is no room for another open
/// line — or empty when it would not. For a caller that must know before journaling: a kit
/// commits every component or none, so a refusal at apply would commit the others alone.
std::string reservation_commit_refusal(const sku_location_state& state, const event& ev);

/// The reservations whose expires_at is at or before `now`, in creation order. The actor journals
/// one `reservation_expired` event per id (DESIGN §2: expiry is itself an event, so replay, which
/// never looks at a clock, gives the same state). apply() itself never reads `now` for this.
std::vector<std::string> expired_reservations(const sku_location_state& state, timestamp now);

/// The invariants of DESIGN §1: every bucket but `available` is >= 0. Returns a description of
/// the first violation, or an empty string. Also checks the engine's own bookkeeping: committed
/// equals what the open order lines hold, reserved equals the reservations, available is below
/// zero only by recorded oversold units, and every list is within state_limits.
std::string check_invariants(const sku_location_state& state);

} // namespace stockd::engine
