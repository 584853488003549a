#pragma once
// Where an order that names only its channel is served (DESIGN §2: `location` may be left out of
// an order_created that names its `channel`). Pure: the caller gathers the states.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "engine/state.hpp"

namespace stockd::engine {

/// The index of the first state, in the channel's priority order, whose available covers `qty`.
/// When none can, the first state (the channel's preferred location takes, and records, the
/// oversell). nullopt only when there is no location at all. The caller writes the chosen
/// location into the event before journaling it, so the line's later events follow it.
std::optional<std::size_t> choose_location(std::span<const sku_location_state* const> in_priority_order,
                                           std::int64_t qty);

} // namespace stockd::engine
