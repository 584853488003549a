#include "engine/channel_rules.hpp"

#include <algorithm>
#include <limits>

namespace stockd::engine {
namespace {

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

// Quantities come from int64 buckets (up to 1e18 each) and a pool sums many of them: sums
// saturate at int64_max rather than wrap, so a huge pool shows as "a lot", never as negative.
// Both operands are >= 0 here, so only the upper bound can be crossed.
std::int64_t add_saturating(std::int64_t a, std::int64_t b) noexcept {
  return a > int64_max - b ? int64_max : a + b;
}

// Config errors (percent outside 0..100, negative fixed/buffer/preorder_limit) are rejected by
// config/, but a bad value that slips through must not make the function misbehave: clamp.
std::int64_t clamp_percent(std::int64_t percent) noexcept {
  return std::clamp<std::int64_t>(percent, 0, 100);
}

std::int64_t non_negative(std::int64_t value) noexcept { return std::max<std::int64_t>(0, value); }

// pool × percent / 100 rounded by `mode`, without a 128-bit product: with pool = 100q + r,
// pool × p / 100 = q × p + r × p / 100, where q × p <= pool (p <= 100) and r × p < 10'000.
// The result never exceeds the pool, so rounding up cannot overflow either.
std::int64_t percent_of(std::int64_t pool, std::int64_t percent, rounding mode) noexcept {
  const std::int64_t whole = pool / 100;
  const std::int64_t part = (pool % 100) * percent;
  std::int64_t share = whole * percent + part / 100;
  const std::int64_t remainder = part % 100;  // the share's fraction, in hundredths
  switch (mode) {
    case rounding::down:
      break;
    case rounding::nearest:  // half up: 50 hundredths round to the next unit
      share += remainder >= 50 ? 1 : 0;
      break;
    case rounding::up:
      share += remainder > 0 ? 1 : 0;
      break;
  }
  return share;
}

// Step 3: the channel's share of the pool (pool >= 0).
std::int64_t share_of(const channel_rules& rules, std::int64_t pool) noexcept {
  switch (rules.allocation) {
    case allocation_kind::shared:
      return pool;
    case allocation_kind::percent: {
      const std::int64_t percent = clamp_percent(rules.percent);
      const std::int64_t share = percent_of(pool, percent, rules.percent_rounding);
      // keep_one rescues a share that rounding starved (30% of 3 → 0). A 0% channel asked for
      // nothing, so there is nothing to rescue: it stays dark.
      if (rules.keep_one && percent > 0 && pool > 0 && share == 0) {
        return 1;
      }
      return share;
    }
    case allocation_kind::fixed:
      return std::min(non_negative(rules.fixed), pool);
  }
  // Only a cast bug reaches here; showing nothing is the side that cannot oversell.
  return 0;
}

} // namespace

std::int64_t channel_pool(const channel_rules& rules,
                          std::span<const location_stock> eligible) noexcept {
  std::int64_t pool = 0;
  std::int64_t incoming = 0;
  for (const auto& location : eligible) {
    // An oversold location counts as 0: its deficit is its own orders' problem and must not
    // hide stock that another eligible location really has.
    pool = add_saturating(pool, non_negative(location.available));
    incoming = add_saturating(incoming, non_negative(location.incoming));
  }
  const std::int64_t preorder_limit = non_negative(rules.preorder_limit);
  if (preorder_limit > 0) {
    pool = add_saturating(pool, std::min(incoming, preorder_limit));
  }
  return pool;
}

std::int64_t allocate(const channel_rules& rules, std::int64_t pool) noexcept {
  pool = non_negative(pool);
  // Steps 3-4: allocation, then buffer. share >= 0 and buffer >= 0, so this cannot underflow.
  std::int64_t quantity = share_of(rules, pool) - non_negative(rules.buffer);
  // zero_at_or_below looks at the pool, not at the share: it says "this SKU is nearly sold out
  // everywhere", which a small percent share of a healthy pool is not.
  if (rules.zero_at_or_below && pool <= *rules.zero_at_or_below) {
    quantity = 0;
  }
  // Step 5: cap, then floor. The floor comes last on purpose: a backorder channel promises to
  // keep selling at least `floor` units whatever the stock, so it wins over buffer,
  // zero_at_or_below, an empty pool and even a cap set below it.
  if (rules.max) {
    quantity = std::min(quantity, *rules.max);
  }
  if (rules.floor) {
    quantity = std::max(quantity, *rules.floor);
  }
  // Step 6: a negative max or floor is a config error; the channel still never sees < 0.
  return non_negative(quantity);
}

std::int64_t channel_quantity(const channel_rules& rules,
                              std::span<const location_stock> eligible) noexcept {
  return allocate(rules, channel_pool(rules, eligible));
}

std::int64_t kit_channel_quantity(const channel_rules& rules,
                                  std::span<const kit_part> components) noexcept {
  // A kit without components cannot be sold at all (its orders would expand to nothing), so it
  // shows 0 even on a backorder channel: no allocate(), no floor.
  if (components.empty()) {
    return 0;
  }
  // Each component's pool is the whole of it, preorders included: kits sharing a component
  // each see all of it, as channels sharing a pool do (see kit_available in kits.hpp).
  std::int64_t kits = int64_max;
  for (const auto& component : components) {
    // qty_per_kit < 1 is a config error; read it as 1 rather than divide by zero or flip signs.
    const std::int64_t per_kit = std::max<std::int64_t>(1, component.qty_per_kit);
    kits = std::min(kits, channel_pool(rules, component.eligible) / per_kit);
  }
  return allocate(rules, kits);
}

std::string_view to_string(allocation_kind kind) noexcept {
  switch (kind) {
    case allocation_kind::shared:
      return "shared";
    case allocation_kind::percent:
      return "percent";
    case allocation_kind::fixed:
      return "fixed";
  }
  return "unknown";  // a cast bug; answer rather than read past
}

std::string_view to_string(rounding mode) noexcept {
  switch (mode) {
    case rounding::down:
      return "down";
    case rounding::nearest:
      return "nearest";
    case rounding::up:
      return "up";
  }
  return "unknown";  // a cast bug; answer rather than read past
}

} // namespace stockd::engine
