#pragma once
// The channel quantity (DESIGN §3): what one sales channel should show for one SKU, as a pure
// function of the SKU's stock at the channel's eligible locations and the channel's rules.
// Built by config/ from [[channels]].rules, evaluated by the channel actors, tested by plain calls.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace stockd::engine {

enum class allocation_kind : std::uint8_t {
  shared,   // the whole pool
  percent,  // `percent` of the pool, rounded by `rounding`
  fixed,    // `fixed` units, never above the pool
};

/// How a percentage of the pool becomes whole units. `down` is the safe default (never shows a
/// unit the split did not give), and the one that starves low stock: 30% of 3 is 0.
enum class rounding : std::uint8_t { down, nearest, up };

struct channel_rules {
  allocation_kind allocation = allocation_kind::shared;
  std::int64_t percent = 100;  // 0..100, for allocation_kind::percent
  rounding percent_rounding = rounding::down;
  /// Low-stock option for `percent`: when the pool has any stock and the rounded share is 0,
  /// show 1 instead (the channel keeps selling the last units instead of going dark). A 0%
  /// channel is not rescued: it asked for none of the pool.
  bool keep_one = false;
  std::int64_t fixed = 0;  // >= 0, for allocation_kind::fixed
  std::int64_t buffer = 0;  // >= 0, subtracted after allocation
  /// Show 0 when the pool is at or below this (a nearly sold-out SKU stops selling).
  std::optional<std::int64_t> zero_at_or_below;
  std::optional<std::int64_t> max;    // cap: show at most this many
  /// Backorder channels: show at least this many. Applied last, so it wins over buffer,
  /// zero_at_or_below, an empty pool and a max set below it.
  std::optional<std::int64_t> floor;
  /// Preorders: add the eligible locations' `incoming`, up to this many units, to the pool.
  /// 0 = no preorders.
  std::int64_t preorder_limit = 0;

  friend bool operator==(const channel_rules&, const channel_rules&) = default;
};

/// One eligible location's stock as the rules see it. `available` may be negative (oversold);
/// it then counts as 0.
struct location_stock {
  std::int64_t available = 0;
  std::int64_t incoming = 0;
};

/// Step 1 of DESIGN §3: Σ max(0, available) over the eligible locations, plus (with preorders)
/// Σ max(0, incoming) up to rules.preorder_limit. Saturates instead of overflowing.
std::int64_t channel_pool(const channel_rules& rules, std::span<const location_stock> eligible) noexcept;

/// Steps 3-6 of DESIGN §3 applied to a pool: allocation, buffer, zero_at_or_below (compared with
/// the pool), cap, floor, clamp at 0. Never negative.
std::int64_t allocate(const channel_rules& rules, std::int64_t pool) noexcept;

/// The quantity a channel should show for a plain SKU: allocate(rules, channel_pool(...)).
std::int64_t channel_quantity(const channel_rules& rules,
                              std::span<const location_stock> eligible) noexcept;

/// One kit component for the channel: units per kit (>= 1) and its stock at the eligible
/// locations.
struct kit_part {
  std::int64_t qty_per_kit = 1;
  std::span<const location_stock> eligible;
};

/// The quantity a channel should show for a kit: step 2 (min over components of
/// ⌊channel_pool(component) / qty_per_kit⌋) then allocate(). No components → 0, floor or not
/// (such a kit cannot be ordered). A qty_per_kit below 1 is read as 1.
std::int64_t kit_channel_quantity(const channel_rules& rules,
                                  std::span<const kit_part> components) noexcept;

std::string_view to_string(allocation_kind kind) noexcept;
std::string_view to_string(rounding mode) noexcept;

} // namespace stockd::engine
