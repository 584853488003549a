#pragma once
// The heart of stockd: applying one event to one SKU × location. Pure: no I/O, no clock, no
// exceptions; deterministic for the same (state, entry, now).
#include <cstdint>
#include <string>
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
};

/// True when the event also touches (sku, to_location): a transfer to another location.
bool touches_destination(const event& ev) noexcept;
/// The SKU × location keys an event touches (a transfer touches its destination too).
std::vector<sku_location_key> touched_keys(const event& ev);

/// Applies `entry` to `state` as seen from `state.key`. Either the whole event is applied and the
/// invariants hold afterwards, or `state` is left exactly as it was (no half-applied event).
/// Always advances `state.last_seq` to `entry.seq` unless the outcome is `skipped`.
outcome apply(sku_location_state& state, const journal_entry& entry, timestamp now);

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
