#include "engine/allocation.hpp"

namespace stockd::engine {

std::optional<std::size_t> choose_location(std::span<const sku_location_state* const> in_priority_order,
                                           std::int64_t qty) {
  if (in_priority_order.empty()) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < in_priority_order.size(); ++i) {
    const sku_location_state* state = in_priority_order[i];
    if (state != nullptr && state->qty.available >= qty) {
      return i;
    }
  }
  return 0;
}

} // namespace stockd::engine
