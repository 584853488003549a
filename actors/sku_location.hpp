#pragma once
// sku_location: the one owner of one SKU × location state (DESIGN §4).
#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "engine/state.hpp"

namespace stockd::actors {

struct sku_location_holder {
  engine::sku_location_state state;
  static inline const char* name = "sku_location";
};

/// Loads the state from its checkpoint (or starts empty), then applies deliveries in order.
sku_location_actor::behavior_type
sku_location(sku_location_actor::stateful_pointer<sku_location_holder> self,
             engine::sku_location_key key, const context* ctx);

} // namespace stockd::actors
