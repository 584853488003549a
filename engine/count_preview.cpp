#include "engine/count_preview.hpp"

#include <cassert>
#include <utility>

namespace stockd::engine {

count_preview preview_count(sku_location_state state, const event& counted) {
  assert(counted.type == event_type::counted);
  count_preview preview;
  preview.on_hand_before = state.qty.on_hand();
  // The next seq after the state's own, so apply() takes it as new (a seq at or below
  // last_seq would be `skipped`); apply() reads no clock, so `now` does not matter.
  const journal_entry entry{state.last_seq + 1, timestamp{}, counted};
  outcome o = apply(state, entry, timestamp{});
  assert(o.kind == outcome_kind::applied || o.kind == outcome_kind::stale ||
         o.kind == outcome_kind::rejected);
  preview.kind = o.kind;
  preview.reason = std::move(o.reason);
  preview.on_hand_after = state.qty.on_hand();
  return preview;
}

} // namespace stockd::engine
