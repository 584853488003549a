#pragma once
// sku_location: the one owner of one SKU × location state (DESIGN §4).
#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "engine/state.hpp"

namespace stockd::actors {

struct sku_location_holder {
  engine::sku_location_state state;
  const context* ctx = nullptr;
  sku_location_holder() = default;
  sku_location_holder(const sku_location_holder&) = delete;
  sku_location_holder& operator=(const sku_location_holder&) = delete;
  // Counted here rather than with attach_functor: an attachable costs a heap node per actor.
  ~sku_location_holder() {
    if (ctx != nullptr) {
      ctx->counters->live_actors.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  static inline const char* name = "sku_location";
};

/// Loads the state from its checkpoint (or starts empty), then applies deliveries in order.
sku_location_actor::behavior_type
sku_location(sku_location_actor::stateful_pointer<sku_location_holder> self,
             engine::sku_location_key key, const context* ctx);

} // namespace stockd::actors
