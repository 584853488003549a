#pragma once
// Shared by the channel_sync and reconcile tests: a start time, SKU ids from literals, and the
// answer of a channel that applied a whole batch.
#include <chrono>
#include <optional>
#include <string>

#include "connectors/channel_sync.hpp"

namespace stockd::connectors::testing {

using namespace std::chrono_literals;

inline const sync_time t0 = sync_time{} + 1000s;

inline engine::sku_id sku(const std::string& s) { return engine::sku_id(s); }

inline push_result all_applied(const outgoing_batch& b) {
  push_result r;
  r.outcome = call_outcome::ok;
  r.items.assign(b.items.size(), item_result{item_outcome::applied, "", std::nullopt});
  return r;
}

} // namespace stockd::connectors::testing
