#include "engine/apply.hpp"

#include <cassert>

namespace stockd::engine {

std::string_view to_string(outcome_kind kind) noexcept {
  switch (kind) {
  case outcome_kind::applied: return "applied";
  case outcome_kind::rejected: return "rejected";
  case outcome_kind::parked: return "parked";
  case outcome_kind::stale: return "stale";
  case outcome_kind::skipped: return "skipped";
  }
  return "unknown";
}

std::vector<sku_location_key> touched_keys(const event& ev) {
  std::vector<sku_location_key> keys{{ev.sku, ev.location}};
  if (ev.type == event_type::transfer_shipped && !ev.to_location.empty() &&
      ev.to_location != ev.location) {
    keys.push_back({ev.sku, ev.to_location});
  }
  return keys;
}

std::string check_invariants(const sku_location_state& state) {
  for (std::size_t i = 1; i < bucket_count; ++i) {
    const auto b = static_cast<bucket>(i);
    if (state.qty.at(b) < 0) {
      return std::string{to_string(b)} + " is negative";
    }
  }
  return {};
}

outcome apply(sku_location_state& state, const journal_entry& entry, timestamp now) {
  (void)now;
  if (entry.seq <= state.last_seq) {
    return {outcome_kind::skipped, "already applied", 0, false};
  }
  state.last_seq = entry.seq;
  return {outcome_kind::rejected, "event type not supported yet", 0, false};
}

} // namespace stockd::engine
