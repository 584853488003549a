#pragma once
// Kits (DESIGN §2, §3): a kit SKU has no stock of its own. Orders for it become orders for its
// components at ingest, and its availability is derived from the components' stock. Pure
// functions over plain data.
#include <cstdint>
#include <span>
#include <vector>

#include "engine/catalog.hpp"
#include "engine/event.hpp"
#include "engine/state.hpp"

namespace stockd::engine {

/// One component's stock as seen by one kit: how many units one kit takes, and what is free.
struct component_stock {
  std::int64_t qty_per_kit = 1;  // >= 1
  std::int64_t available = 0;    // may be negative (an oversold component)
};

/// Kits that can be built: min over components of floor(max(0, available) / qty_per_kit).
/// No components at all → 0 (nothing to build from). Kits that share a component each see the
/// whole of its stock, like channels sharing a pool: selling one kit lowers the others through
/// the component, and the component's commit at order time is what guards against overselling.
std::int64_t kit_available(std::span<const component_stock> components) noexcept;

/// A SKU's pool over the given locations: Σ max(0, available) (DESIGN §3 step 1, no preorders).
std::int64_t pooled_available(std::span<const sku_location_state> locations) noexcept;

/// The event types a kit accepts: order-line events, which move committed stock of the
/// components. Everything else (receipts, counts, adjustments...) would give the kit stock.
bool kit_accepts(event_type type) noexcept;

/// The kit event as one event per component, in the components' order: qty × component qty,
/// id "<id>#<component sku>" (dedup per component), line_id "<line_id>/<component sku>" (each
/// component gets its own order line, so a later cancel of the kit line finds each of them).
/// Preconditions: kit_accepts(kit_event.type), components non-empty, and the products fit in
/// int64 (the caller bounds them).
std::vector<event> expand_kit_event(const event& kit_event,
                                    std::span<const kit_component> components);

/// Whether `ev` reads as one of expand_kit_event's component events: its id ends in
/// "#<sku>" and its line id in "/<sku>". A channel that sold the kit lowered the kit's listing,
/// not the component's: such an order is not the channel's own order of the component.
bool is_kit_component_event(const event& ev) noexcept;

} // namespace stockd::engine
