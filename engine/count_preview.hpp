#pragma once
// What a `counted` event would do to one SKU × location, without doing it: the variance report
// of a system-of-record snapshot (docs/semantics.md, "Snapshots") asks this of every line before
// the line is journaled. It runs apply() on a copy of the state, so the preview and the apply
// follow the same rules (dated counts, stale counts, the history floor) and cannot disagree.
#include <cstdint>
#include <string>

#include "engine/apply.hpp"
#include "engine/event.hpp"
#include "engine/state.hpp"

namespace stockd::engine {

struct count_preview {
  /// applied, stale (older than the last applied count) or rejected (invalid, or dated before
  /// the physical history kept); never parked or skipped.
  outcome_kind kind = outcome_kind::applied;
  std::string reason;  // apply's reason when not applied
  std::int64_t on_hand_before = 0;
  std::int64_t on_hand_after = 0;  // the same as before unless applied

  /// What the count would change on_hand by: < 0 shrinkage, > 0 a receipt stockd never saw.
  std::int64_t delta() const noexcept { return on_hand_after - on_hand_before; }
};

/// Applies the count `counted` (type counted, for `state.key`) to `state`, which is taken by
/// value: a caller that keeps its state passes a copy, one that holds a state only to ask this
/// moves it in. A key stockd has never seen is a fresh state with that key: it compares against
/// zero on hand, as its first count would apply.
count_preview preview_count(sku_location_state state, const event& counted);

} // namespace stockd::engine
