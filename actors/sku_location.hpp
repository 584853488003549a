#pragma once
// sku_location: the one owner of one SKU × location state (DESIGN §4).
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "engine/apply.hpp"
#include "engine/state.hpp"

namespace stockd::actors {

struct sku_location_holder {
  /// An event this actor journaled and has not yet heard back about (actors/reservations.hpp).
  struct pending_op {
    engine::event_type type = engine::event_type::reservation_created;
    std::string reservation_id;
    std::int64_t qty = 0;
    std::int64_t hold = 0;  // created: units held against availability until the entry applies
    std::optional<engine::timestamp> expires_at;
    std::string order_id;
    std::optional<engine::outcome_kind> outcome;  // set when the journaled entry is applied
    std::string reason;
    std::vector<caf::typed_response_promise<reservation_reply>> waiters;
    // A kit coordinator's op (actors/kit_reservation.hpp): prepared here, journaled by the
    // coordinator with its siblings. Until `submitted` (the coordinator announced the
    // submission), it may be aborted, and it lapses at its deadline.
    bool kit = false;
    bool submitted = true;
    std::uint64_t serial = 0;  // tells a lapse timer of an earlier prepare from this one
  };

  engine::sku_location_state state;
  const context* ctx = nullptr;
  std::unordered_map<std::string, pending_op> pending;  // by event id; pending_per_actor_max
  std::int64_t held = 0;                                // sum of `hold` over pending
  std::uint64_t kit_serial_last = 0;                    // the last prepared op's serial
  std::optional<engine::timestamp> expiry_timer_at;     // the earliest expiry timer in flight
  /// Closed lines the state pushed out that no stored checkpoint has indexed yet, oldest first
  /// (see "forgotten closed lines" in sku_location.cpp). Bounded by what one checkpoint
  /// interval's events push out; a failing checkpointer keeps them (and the state dirty).
  std::vector<engine::closed_line> forgotten;
  std::uint64_t forgotten_dropped = 0;  // lines ever pushed out and since indexed: forgotten[0]'s
                                        // count
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
