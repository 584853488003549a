#pragma once
// The state of one SKU at one location (DESIGN §1). Owned by exactly one sku_location actor.
#include <cstdint>
#include <optional>
#include <string>

#include "engine/event.hpp"
#include "engine/ids.hpp"
#include "engine/time.hpp"

namespace stockd::engine {

struct buckets {
  std::int64_t available = 0;
  std::int64_t committed = 0;
  std::int64_t reserved = 0;
  std::int64_t safety_stock = 0;
  std::int64_t damaged = 0;
  std::int64_t quality_control = 0;
  std::int64_t incoming = 0;

  /// on_hand = available + committed + reserved + safety_stock + damaged + quality_control.
  std::int64_t on_hand() const noexcept {
    return available + committed + reserved + safety_stock + damaged + quality_control;
  }
  std::int64_t& at(bucket b) noexcept;
  std::int64_t at(bucket b) const noexcept;

  friend bool operator==(const buckets&, const buckets&) = default;
};

/// Which system sent the last applied event, and when (DESIGN §5 `last_event`).
struct last_event_info {
  source_id source;
  std::string id;
  timestamp occurred_at{};
  std::uint64_t seq = 0;
  friend bool operator==(const last_event_info&, const last_event_info&) = default;
};

// NOTE for the engine owner: order lines, reservations, count history and parked events are
// added to this struct (and to its codec in engine/codec.cpp) as the semantics grow.
struct sku_location_state {
  sku_location_key key;
  buckets qty;
  std::int64_t oversold_units = 0;  // units sold while available was already <= 0
  std::uint64_t last_seq = 0;       // highest journal seq applied (or deliberately skipped)
  std::optional<last_event_info> last_event;

  friend bool operator==(const sku_location_state&, const sku_location_state&) = default;
};

} // namespace stockd::engine
