#pragma once
// The state of one SKU at one location (DESIGN §1). Owned by exactly one sku_location actor.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

/// One order line as this location knows it (DESIGN §2: lines are keyed by order_id, line_id).
/// `committed` is what was ever committed to the line; what is still committed is open().
struct order_line {
  std::string order_id;
  std::string line_id;
  std::int64_t committed = 0;
  std::int64_t fulfilled = 0;
  std::int64_t cancelled = 0;
  std::int64_t returned = 0;

  std::int64_t open() const noexcept { return committed - fulfilled - cancelled; }
  std::int64_t returnable() const noexcept { return fulfilled - returned; }
  friend bool operator==(const order_line&, const order_line&) = default;
};

/// A line with nothing left committed, kept small because a return may still come weeks later:
/// 16 bytes instead of two strings. `line_hash` is line_hash(order_id, line_id).
struct closed_line {
  std::uint64_t line_hash = 0;
  std::int64_t returnable = 0;  // fulfilled - returned
  friend bool operator==(const closed_line&, const closed_line&) = default;
};

/// A hold on available stock (cart, POS, B2B quote), keyed by reservation_id.
struct reservation {
  std::string id;
  std::int64_t qty = 0;
  std::optional<timestamp> expires_at;
  friend bool operator==(const reservation&, const reservation&) = default;
};

/// A change of on_hand made by an event since the last count, so that a count dated before it
/// can add it back (DESIGN §2 "Counts are absolute and dated").
struct physical_change {
  timestamp occurred_at{};
  std::int64_t on_hand_delta = 0;
  friend bool operator==(const physical_change&, const physical_change&) = default;
};

/// The oversold units and cases of one channel: its orders that arrived after the stock was gone
/// (DESIGN §1). A count below what is committed also takes available below zero; that shortfall
/// is in oversold_units but belongs to no channel.
struct channel_oversell {
  channel_id channel;
  std::int64_t units = 0;
  std::int64_t cases = 0;  // orders that oversold
  friend bool operator==(const channel_oversell&, const channel_oversell&) = default;
};

/// Named limits on everything a state holds (STYLE: TigerBeetle). Beyond them an event is
/// rejected (or, for history and closed lines, the oldest record is dropped) instead of growing.
struct state_limits {
  static constexpr std::size_t open_lines_max = 65536;
  static constexpr std::size_t closed_lines_max = 16;
  static constexpr std::size_t reservations_max = 1024;
  static constexpr std::size_t parked_max = 64;
  // Channels with an oversell at one SKU × location; past it, the rest share the entry "*".
  static constexpr std::size_t oversold_channels_max = 16;
  // A count is dated within hours of being taken; 32 changes or a day of history covers that and
  // keeps a busy state's history at 512 bytes (see docs/semantics.md, "Memory").
  static constexpr std::size_t physical_history_max = 32;
  static constexpr std::chrono::hours physical_history_window{24};
  static constexpr std::int64_t qty_max = 1'000'000'000'000;      // one event's |quantity|
  static constexpr std::int64_t bucket_abs_max = 1'000'000'000'000'000;  // keeps int64 safe
};

struct sku_location_state {
  sku_location_key key;
  buckets qty;
  std::int64_t oversold_units = 0;  // units sold while available was already <= 0
  std::vector<channel_oversell> oversold_by_channel;  // first oversell first
  std::uint64_t last_seq = 0;       // highest journal seq applied (or deliberately skipped)
  std::optional<last_event_info> last_event;

  // ---- added by the engine; encoded by engine/codec.cpp --------------------------------------
  std::vector<order_line> open_lines;      // lines with open() > 0, in creation order
  std::vector<closed_line> closed_lines;   // most recent closed_lines_max, oldest first
  std::vector<reservation> reservations;   // in creation order
  std::vector<journal_entry> parked;       // waiting for their order line, in arrival order
  std::optional<timestamp> last_count_as_of;  // as_of of the last applied count
  std::vector<physical_change> physical_history;  // on_hand changes since the last count
  /// When physical_history dropped changes (past physical_history_max, or older than
  /// physical_history_window before the newest change), the newest occurred_at it forgot: a
  /// count dated before this cannot be made exact and is rejected.
  std::optional<timestamp> history_floor;

  friend bool operator==(const sku_location_state&, const sku_location_state&) = default;
};

/// The stable 64-bit key of an order line in closed_lines (FNV-1a; stored in checkpoints, so it
/// must never change).
std::uint64_t line_hash(std::string_view order_id, std::string_view line_id) noexcept;

} // namespace stockd::engine
