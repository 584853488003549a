#pragma once
// A deliberately simple second implementation of DESIGN §2, for the property test: a fold over
// the event list with std::map bookkeeping and moves written as explicit legs. It knows only the
// parked and count-history size limits (no closed-line eviction, no history time window), so the
// generator keeps streams inside the others; there both must agree on every outcome and state.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/apply.hpp"
#include "engine/event.hpp"
#include "engine/state.hpp"

namespace stockd::engine::reference {

struct line {
  std::int64_t committed = 0;
  std::int64_t fulfilled = 0;
  std::int64_t cancelled = 0;
  std::int64_t returned = 0;
};

struct model {
  sku_location_key key;
  std::array<std::int64_t, bucket_count> q{};
  std::int64_t oversold = 0;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> oversold_by_channel;  // units, cases
  std::uint64_t last_seq = 0;
  std::map<std::pair<std::string, std::string>, line> lines;
  std::map<std::string, std::int64_t> holds;
  std::vector<journal_entry> parked;
  std::optional<timestamp> last_count;
  std::vector<std::pair<timestamp, std::int64_t>> since_count;  // on_hand changes since a count
  std::optional<timestamp> floor;  // newest change forgotten past physical_history_max
};

/// Folds one entry into the model and answers the outcome kind apply() should give.
outcome_kind step(model& m, const journal_entry& entry);

/// Describes the first difference between the engine's state and the model, or "".
std::string compare(const sku_location_state& engine_state, const model& m);

} // namespace stockd::engine::reference
