#pragma once
// kit_reservation: one kit reservation request, or one release or commit of a kit reservation
// (DESIGN §2 kits, §5 /v1/reservations): every component or none, in the journal as well as in
// the answer.
//
// Why a coordinator of its own: a kit's components are different SKUs, owned by different
// sku_location actors, usually in different directory shards. No actor owns the kit, so one
// short-lived actor per request walks the protocol below and ends with its last reply.
//
//  1. prepare: each component's actor checks what a plain reservation (or end) would check and
//     keeps a pending op — for a creation, a hold that counts against availability like a plain
//     reservation's — but journals nothing, and answers with the entry it would journal.
//  2. if every component prepared: announce the submission to each actor (kit_await), then
//     journal every entry in ONE submission, i.e. one LMDB transaction: durable together or not
//     at all. Each entry comes back through normal dispatch; each actor applies it, drops its
//     pending op and answers. If any component could not prepare, abort what was prepared
//     (kit_abort) and try the next location, or answer.
//  3. the engine may still refuse a component at apply time: an order took the stock between
//     prepare and apply (orders do not respect holds). Then the components that were applied are
//     undone — released by the engine under "kit-undo:<component id>", again prepared and
//     journaled as one submission — so the net effect is none, and the answer is 409. That is
//     the only way the ledger shows a creation followed by a release for a kit that was refused.
//
// A prepared op lapses by itself after `hold_for` (the time left to the coordinator's deadline,
// the engine's request timeout) unless its submission was announced: a prepared hold never
// outlives its coordinator.
#include <vector>

#include <caf/fwd.hpp>

#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "engine/catalog.hpp"

namespace stockd::actors {

/// How a coordinator reaches the components: their shards, and the engine's context.
struct kit_routes {
  const context* ctx = nullptr;
  std::vector<directory_shard_actor> shards;  // every shard by index, as shard_of() numbers them
};

/// Reserves `req.qty` kits at the first of `candidates` where every component can cover its
/// share (components: the kit's, from the catalog, non-empty). `reply` runs once, on the
/// coordinator's thread: it must only post.
void reserve_kit(caf::actor_system& system, kit_routes routes,
                 std::vector<engine::kit_component> components,
                 std::vector<engine::location_id> candidates, reserve_request req,
                 reservation_callback reply);

/// Releases or commits every component of a kit reservation; `reply` as for reserve_kit.
void end_kit(caf::actor_system& system, kit_routes routes,
             std::vector<engine::kit_component> components, kit_end_request req,
             reservation_callback reply);

} // namespace stockd::actors
