#pragma once
// Placing order lines that name no location (DESIGN §2), before they are journaled.
//
// A storefront order names its channel, not its warehouse: it goes to the first location in the
// channel's priority order whose available covers the line (a kit line: every component), or,
// when none can, to the first one, which records the oversell. A later cancel, fulfilment or
// return of the line that names no location follows the line to where it was placed: the
// location whose state holds it, or, for a line closed so long ago that its state pushed it
// out, the location whose index of forgotten closed lines holds it. The choice is written into
// the event before it is journaled, so replay never chooses again and the journal shows where
// every line went.
//
// The choice reads the SKU's states as the engine has applied them, plus the lines placed
// earlier in the same body. Events journaled by other requests but not yet applied are not seen:
// two concurrent orders may pick the same location for the last units, which is then an oversell
// the engine records, exactly as for two orders that named the location.
#include <functional>
#include <memory>
#include <vector>

#include "actors/runtime.hpp"
#include "connectors/event_decoder.hpp"
#include "engine/catalog.hpp"

namespace stockd::server {

/// True when some valid event of the body has no location yet.
bool needs_placement(const std::vector<connectors::decoded_event>& decoded);

/// Gives every valid event without a location its location, or rejects it (field "location")
/// when it is a later event of a line no location holds. Reads the SKUs' states from `engine`,
/// then calls `done` once, on an actor thread (it must only post or submit). `decoded` is not
/// touched by anything else until then.
void place_lines(std::shared_ptr<std::vector<connectors::decoded_event>> decoded,
                 const engine::catalog& catalog, actors::runtime& engine,
                 std::function<void()> done);

} // namespace stockd::server
