// The channel quantity (DESIGN §3): pool, kits, allocation, buffer, zero_at_or_below, cap,
// floor, clamp — each rule with hand-worked numbers, the known traps, and a seeded property test.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "engine/channel_rules.hpp"

using namespace stockd::engine;

namespace {

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t bucket_max = 1'000'000'000'000'000'000;  // 1e18, the bucket limit

channel_rules shared_rules() { return channel_rules{}; }

channel_rules percent_rules(std::int64_t percent, rounding mode, bool keep_one = false) {
  channel_rules r;
  r.allocation = allocation_kind::percent;
  r.percent = percent;
  r.percent_rounding = mode;
  r.keep_one = keep_one;
  return r;
}

channel_rules fixed_rules(std::int64_t fixed) {
  channel_rules r;
  r.allocation = allocation_kind::fixed;
  r.fixed = fixed;
  return r;
}

channel_rules preorder_rules(std::int64_t limit) {
  channel_rules r;
  r.preorder_limit = limit;
  return r;
}

location_stock at(std::int64_t available, std::int64_t incoming = 0) {
  return location_stock{available, incoming};
}

} // namespace

// --- step 1: the pool ---------------------------------------------------------------------

TEST_CASE("the pool sums the available stock of the eligible locations", "[engine][rules]") {
  const std::vector<location_stock> locations{at(5), at(4), at(0)};
  CHECK(channel_pool(shared_rules(), locations) == 9);
  CHECK(channel_quantity(shared_rules(), locations) == 9);
}

TEST_CASE("an oversold location counts as 0 and does not reduce another location's stock",
          "[engine][rules]") {
  const std::vector<location_stock> locations{at(5), at(-3), at(4)};
  CHECK(channel_pool(shared_rules(), locations) == 9);  // not 6
  const std::vector<location_stock> only_oversold{at(-7), at(-1)};
  CHECK(channel_pool(shared_rules(), only_oversold) == 0);
  CHECK(channel_quantity(shared_rules(), only_oversold) == 0);
}

TEST_CASE("a channel with no eligible locations shows 0 unless it has a floor",
          "[engine][rules]") {
  const std::span<const location_stock> none;
  CHECK(channel_pool(shared_rules(), none) == 0);
  CHECK(channel_quantity(shared_rules(), none) == 0);
  CHECK(channel_quantity(percent_rules(30, rounding::up, true), none) == 0);
  channel_rules backorder;
  backorder.floor = 4;
  CHECK(channel_quantity(backorder, none) == 4);
}

TEST_CASE("incoming stock counts only when preorders are enabled", "[engine][rules]") {
  const std::vector<location_stock> locations{at(2, 10), at(1, 5)};
  CHECK(channel_pool(shared_rules(), locations) == 3);
  CHECK(channel_pool(preorder_rules(0), locations) == 3);
  // A negative limit is a config error: read as "no preorders".
  CHECK(channel_pool(preorder_rules(-5), locations) == 3);
}

TEST_CASE("the preorder limit caps the incoming stock added to the pool", "[engine][rules]") {
  const std::vector<location_stock> locations{at(2, 10), at(1, 5)};
  CHECK(channel_pool(preorder_rules(4), locations) == 3 + 4);     // 15 incoming, 4 allowed
  CHECK(channel_pool(preorder_rules(15), locations) == 3 + 15);   // exactly all of it
  CHECK(channel_pool(preorder_rules(100), locations) == 3 + 15);  // the limit is not a gift
  CHECK(channel_quantity(preorder_rules(4), locations) == 7);
}

TEST_CASE("negative incoming at one location does not reduce another's incoming",
          "[engine][rules]") {
  const std::vector<location_stock> locations{at(0, -5), at(1, 3)};
  CHECK(channel_pool(preorder_rules(10), locations) == 1 + 3);
  // Oversold available does not eat into incoming either.
  const std::vector<location_stock> oversold{at(-4, 6)};
  CHECK(channel_pool(preorder_rules(10), oversold) == 6);
}

// --- step 3: allocation -------------------------------------------------------------------

TEST_CASE("shared allocation shows the whole pool", "[engine][rules]") {
  CHECK(allocate(shared_rules(), 0) == 0);
  CHECK(allocate(shared_rules(), 1) == 1);
  CHECK(allocate(shared_rules(), 123) == 123);
}

TEST_CASE("percent rounding down starves low stock: 30% of 3 is 0", "[engine][rules]") {
  CHECK(allocate(percent_rules(30, rounding::down), 3) == 0);
}

TEST_CASE("keep_one shows 1 when the pool has stock and the rounded share is 0",
          "[engine][rules]") {
  CHECK(allocate(percent_rules(30, rounding::down, true), 3) == 1);
  CHECK(allocate(percent_rules(1, rounding::down, true), 99) == 1);
  // Nothing to keep when the pool is empty.
  CHECK(allocate(percent_rules(30, rounding::down, true), 0) == 0);
  // A share that is already > 0 is left alone.
  CHECK(allocate(percent_rules(30, rounding::down, true), 10) == 3);
  // A 0% channel asked for none of the pool: keep_one does not invent a unit for it.
  CHECK(allocate(percent_rules(0, rounding::down, true), 50) == 0);
}

TEST_CASE("percent rounding to nearest rounds half up", "[engine][rules]") {
  CHECK(allocate(percent_rules(30, rounding::nearest), 3) == 1);   // 0.9
  CHECK(allocate(percent_rules(24, rounding::nearest), 10) == 2);  // 2.4
  CHECK(allocate(percent_rules(25, rounding::nearest), 10) == 3);  // 2.5, half up
  CHECK(allocate(percent_rules(26, rounding::nearest), 10) == 3);  // 2.6
  CHECK(allocate(percent_rules(10, rounding::nearest), 4) == 0);   // 0.4
  CHECK(allocate(percent_rules(50, rounding::nearest), 1) == 1);   // 0.5, half up
}

TEST_CASE("percent rounding up and down bracket the exact share", "[engine][rules]") {
  CHECK(allocate(percent_rules(24, rounding::down), 10) == 2);
  CHECK(allocate(percent_rules(24, rounding::up), 10) == 3);
  CHECK(allocate(percent_rules(26, rounding::down), 10) == 2);
  CHECK(allocate(percent_rules(26, rounding::up), 10) == 3);
  CHECK(allocate(percent_rules(1, rounding::up), 1) == 1);  // 0.01
  // An exact share is the same under every rounding.
  for (const auto mode : {rounding::down, rounding::nearest, rounding::up}) {
    CHECK(allocate(percent_rules(30, mode), 10) == 3);
    CHECK(allocate(percent_rules(100, mode), 7) == 7);
    CHECK(allocate(percent_rules(0, mode), 7) == 0);
    CHECK(allocate(percent_rules(40, mode), 0) == 0);
  }
}

TEST_CASE("a percent outside 0..100 is clamped instead of misbehaving", "[engine][rules]") {
  CHECK(allocate(percent_rules(150, rounding::up), 7) == 7);
  CHECK(allocate(percent_rules(int64_max, rounding::up), 7) == 7);
  CHECK(allocate(percent_rules(-10, rounding::up), 7) == 0);
  CHECK(allocate(percent_rules(int64_min, rounding::up, true), 7) == 0);
}

TEST_CASE("fixed allocation shows the set quantity and never more than the pool",
          "[engine][rules]") {
  CHECK(allocate(fixed_rules(5), 10) == 5);
  CHECK(allocate(fixed_rules(5), 5) == 5);
  CHECK(allocate(fixed_rules(5), 3) == 3);  // above the pool
  CHECK(allocate(fixed_rules(5), 0) == 0);
  CHECK(allocate(fixed_rules(0), 10) == 0);
  CHECK(allocate(fixed_rules(-5), 10) == 0);  // config error, clamped
}

// --- step 4: buffer and zero_at_or_below ------------------------------------------------------

TEST_CASE("the buffer is subtracted after allocation", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.buffer = 3;
  CHECK(allocate(r, 10) == 7);
  CHECK(allocate(r, 3) == 0);
  channel_rules half = percent_rules(50, rounding::down);
  half.buffer = 2;
  CHECK(allocate(half, 10) == 3);  // 5 - 2, not (10 - 2) / 2 = 4
}

TEST_CASE("a buffer larger than the allocation shows 0", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.buffer = 12;
  CHECK(allocate(r, 10) == 0);
  // Larger than the share but smaller than the pool.
  channel_rules half = percent_rules(50, rounding::down);
  half.buffer = 6;
  CHECK(allocate(half, 10) == 0);
  channel_rules fixed = fixed_rules(4);
  fixed.buffer = 5;
  CHECK(allocate(fixed, 100) == 0);
}

TEST_CASE("a negative buffer is clamped to 0 and adds nothing", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.buffer = -4;
  CHECK(allocate(r, 10) == 10);
  r.buffer = int64_min;
  CHECK(allocate(r, 10) == 10);
}

TEST_CASE("zero_at_or_below compares the pool, not the channel's share", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.zero_at_or_below = 5;
  CHECK(allocate(r, 4) == 0);
  CHECK(allocate(r, 5) == 0);  // at
  CHECK(allocate(r, 6) == 6);
  // 10% of 50 is 5, at the threshold, but the pool (50) is well above it.
  channel_rules tenth = percent_rules(10, rounding::down);
  tenth.zero_at_or_below = 5;
  CHECK(allocate(tenth, 50) == 5);
  CHECK(allocate(tenth, 5) == 0);  // the pool itself is at the threshold
  // ...and the buffer does not lower the pool it is compared with.
  channel_rules buffered = shared_rules();
  buffered.buffer = 4;
  buffered.zero_at_or_below = 5;
  CHECK(allocate(buffered, 7) == 3);
  CHECK(allocate(buffered, 5) == 0);
}

TEST_CASE("zero_at_or_below 0 only darkens an empty pool", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.zero_at_or_below = 0;
  CHECK(allocate(r, 0) == 0);
  CHECK(allocate(r, 1) == 1);
  r.zero_at_or_below = -1;
  CHECK(allocate(r, 1) == 1);
}

// --- step 5: cap and floor ----------------------------------------------------------------

TEST_CASE("the cap shows at most max units", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.max = 20;
  CHECK(allocate(r, 100) == 20);
  CHECK(allocate(r, 20) == 20);
  CHECK(allocate(r, 10) == 10);
  r.max = 0;
  CHECK(allocate(r, 100) == 0);
  r.max = -1;  // config error: still never negative
  CHECK(allocate(r, 100) == 0);
}

TEST_CASE("the cap applies after the buffer", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.buffer = 10;
  r.max = 95;
  CHECK(allocate(r, 100) == 90);
  r.max = 80;
  CHECK(allocate(r, 100) == 80);
}

TEST_CASE("a floor shows at least floor units, even on an empty pool", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.floor = 5;
  CHECK(allocate(r, 0) == 5);
  CHECK(allocate(r, 3) == 5);
  CHECK(allocate(r, 10) == 10);
  const std::vector<location_stock> oversold{at(-8)};
  CHECK(channel_quantity(r, oversold) == 5);
}

TEST_CASE("the floor wins over buffer, zero_at_or_below and cap", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.floor = 5;
  r.buffer = 8;
  CHECK(allocate(r, 10) == 5);  // 10 - 8 = 2, raised to 5
  r.buffer = 0;
  r.zero_at_or_below = 5;
  CHECK(allocate(r, 3) == 5);
  CHECK(allocate(r, 9) == 9);
  r.zero_at_or_below.reset();
  r.max = 3;
  CHECK(allocate(r, 100) == 5);
}

TEST_CASE("a negative floor never makes the quantity negative", "[engine][rules]") {
  channel_rules r = shared_rules();
  r.floor = -3;
  CHECK(allocate(r, 0) == 0);
  CHECK(allocate(r, 2) == 2);
}

TEST_CASE("allocate treats a negative pool as empty", "[engine][rules]") {
  CHECK(allocate(shared_rules(), -5) == 0);
  CHECK(allocate(shared_rules(), int64_min) == 0);
  CHECK(allocate(percent_rules(30, rounding::up, true), int64_min) == 0);
  channel_rules r = shared_rules();
  r.floor = 2;
  CHECK(allocate(r, int64_min) == 2);
}

// --- step 2: kits -------------------------------------------------------------------------

TEST_CASE("a kit shows the fewest whole kits its components allow", "[engine][rules]") {
  const std::vector<location_stock> shirts{at(7), at(-2)};  // pool 7
  const std::vector<location_stock> mugs{at(4)};              // pool 4
  const std::vector<kit_part> gift_box{{2, shirts}, {1, mugs}};
  CHECK(kit_channel_quantity(shared_rules(), gift_box) == 3);  // min(7 / 2, 4 / 1)
  const std::vector<kit_part> mug_trio{{3, mugs}};
  CHECK(kit_channel_quantity(shared_rules(), mug_trio) == 1);
}

TEST_CASE("kits that share a component each see the whole component pool", "[engine][rules]") {
  const std::vector<location_stock> shirts{at(7)};
  const std::vector<location_stock> mugs{at(4)};
  const std::vector<kit_part> gift_box{{2, shirts}, {1, mugs}};
  const std::vector<kit_part> shirt_trio{{3, shirts}};
  // Not split between the kits: 3 gift boxes and 2 trios, though 3×2 + 2×3 > 7 shirts.
  CHECK(kit_channel_quantity(shared_rules(), gift_box) == 3);
  CHECK(kit_channel_quantity(shared_rules(), shirt_trio) == 2);
}

TEST_CASE("a kit with a component at 0 shows 0", "[engine][rules]") {
  const std::vector<location_stock> shirts{at(70)};
  const std::vector<location_stock> empty_mugs{at(0)};
  const std::vector<location_stock> oversold_mugs{at(-3)};
  const std::vector<kit_part> gift_box{{2, shirts}, {1, empty_mugs}};
  CHECK(kit_channel_quantity(shared_rules(), gift_box) == 0);
  const std::vector<kit_part> oversold_box{{2, shirts}, {1, oversold_mugs}};
  CHECK(kit_channel_quantity(shared_rules(), oversold_box) == 0);
  // A component that is not stocked anywhere the channel can sell from.
  const std::vector<kit_part> unreachable{{2, shirts}, {1, {}}};
  CHECK(kit_channel_quantity(shared_rules(), unreachable) == 0);
  // Fewer components units than one kit needs.
  const std::vector<location_stock> one_shirt{at(1)};
  const std::vector<kit_part> pair{{2, one_shirt}};
  CHECK(kit_channel_quantity(shared_rules(), pair) == 0);
}

TEST_CASE("kit components count preorders with the channel's limit", "[engine][rules]") {
  const std::vector<location_stock> shirts{at(1, 10)};
  const std::vector<location_stock> mugs{at(2, 1)};
  const std::vector<kit_part> gift_box{{2, shirts}, {1, mugs}};
  CHECK(kit_channel_quantity(shared_rules(), gift_box) == 0);     // min(1 / 2, 2)
  CHECK(kit_channel_quantity(preorder_rules(5), gift_box) == 3);  // min((1 + 5) / 2, 2 + 1)
  // The limit applies to each component's pool, not to the kit as a whole.
  CHECK(kit_channel_quantity(preorder_rules(100), gift_box) == 3);  // min(11 / 2, 3)
}

TEST_CASE("a kit's quantity goes through the channel's allocation rules", "[engine][rules]") {
  const std::vector<location_stock> shirts{at(14)};
  const std::vector<kit_part> pair{{2, shirts}};  // 7 kits
  CHECK(kit_channel_quantity(percent_rules(50, rounding::down), pair) == 3);
  CHECK(kit_channel_quantity(percent_rules(50, rounding::up), pair) == 4);
  CHECK(kit_channel_quantity(fixed_rules(2), pair) == 2);
  // zero_at_or_below compares the kit pool (7), not the component pool (14).
  channel_rules r = shared_rules();
  r.zero_at_or_below = 7;
  CHECK(kit_channel_quantity(r, pair) == 0);
  r.zero_at_or_below = 6;
  CHECK(kit_channel_quantity(r, pair) == 7);
}

TEST_CASE("a backorder kit with an empty component shows its floor", "[engine][rules]") {
  const std::vector<location_stock> shirts{at(0)};
  const std::vector<kit_part> pair{{2, shirts}};
  channel_rules r = shared_rules();
  r.floor = 2;
  CHECK(kit_channel_quantity(r, pair) == 2);
}

TEST_CASE("a kit without components shows 0, even on a backorder channel", "[engine][rules]") {
  const std::span<const kit_part> none;
  CHECK(kit_channel_quantity(shared_rules(), none) == 0);
  channel_rules r = shared_rules();
  r.floor = 2;
  CHECK(kit_channel_quantity(r, none) == 0);
}

TEST_CASE("a qty_per_kit below 1 is read as 1 instead of dividing by it", "[engine][rules]") {
  const std::vector<location_stock> shirts{at(5)};
  const std::vector<kit_part> zero{{0, shirts}};
  const std::vector<kit_part> negative{{-3, shirts}};
  CHECK(kit_channel_quantity(shared_rules(), zero) == 5);
  CHECK(kit_channel_quantity(shared_rules(), negative) == 5);
}

// --- overflow safety ----------------------------------------------------------------------

TEST_CASE("huge pools saturate instead of overflowing", "[engine][rules]") {
  const std::vector<location_stock> three{at(bucket_max), at(bucket_max), at(bucket_max)};
  CHECK(channel_pool(shared_rules(), three) == 3 * bucket_max);
  const std::vector<location_stock> twenty(20, at(bucket_max, bucket_max));
  CHECK(channel_pool(shared_rules(), twenty) == int64_max);
  CHECK(channel_pool(preorder_rules(int64_max), twenty) == int64_max);
  const std::vector<location_stock> maxed{at(int64_max, int64_max), at(int64_max, int64_max)};
  CHECK(channel_pool(preorder_rules(int64_max), maxed) == int64_max);
  CHECK(channel_quantity(shared_rules(), maxed) == int64_max);
  // Incoming alone saturates, and then the limit caps it.
  const std::vector<location_stock> incoming_only(20, at(0, bucket_max));
  CHECK(channel_pool(preorder_rules(int64_max), incoming_only) == int64_max);
  CHECK(channel_pool(preorder_rules(7), incoming_only) == 7);
}

TEST_CASE("a percent of a huge pool is exact and does not overflow", "[engine][rules]") {
  // int64_max = 9223372036854775807; the products below would overflow int64.
  CHECK(allocate(percent_rules(50, rounding::down), int64_max) == 4611686018427387903);
  CHECK(allocate(percent_rules(50, rounding::nearest), int64_max) == 4611686018427387904);
  CHECK(allocate(percent_rules(50, rounding::up), int64_max) == 4611686018427387904);
  CHECK(allocate(percent_rules(99, rounding::down), int64_max) == 9131138316486228048);
  CHECK(allocate(percent_rules(99, rounding::nearest), int64_max) == 9131138316486228049);
  CHECK(allocate(percent_rules(1, rounding::nearest), int64_max) == 92233720368547758);
  CHECK(allocate(percent_rules(33, rounding::up), int64_max) == 3043712772162076017);
  CHECK(allocate(percent_rules(100, rounding::up), int64_max) == int64_max);
  CHECK(allocate(percent_rules(30, rounding::down), 3 * bucket_max) == 900'000'000'000'000'000);
}

TEST_CASE("extreme fixed, buffer, cap and floor values stay in range", "[engine][rules]") {
  CHECK(allocate(fixed_rules(int64_max), int64_max) == int64_max);
  CHECK(allocate(fixed_rules(int64_max), 3) == 3);
  channel_rules r = shared_rules();
  r.buffer = int64_max;
  CHECK(allocate(r, int64_max) == 0);
  CHECK(allocate(r, 0) == 0);
  r.buffer = 0;
  r.max = int64_max;
  CHECK(allocate(r, int64_max) == int64_max);
  r.max = int64_min;
  CHECK(allocate(r, int64_max) == 0);
  r.max.reset();
  r.floor = int64_max;
  CHECK(allocate(r, 0) == int64_max);
  r.floor.reset();
  r.zero_at_or_below = int64_max;
  CHECK(allocate(r, int64_max) == 0);
  r.zero_at_or_below = int64_min;
  CHECK(allocate(r, 0) == 0);
  CHECK(allocate(r, int64_max) == int64_max);
}

TEST_CASE("a kit of huge components does not overflow", "[engine][rules]") {
  const std::vector<location_stock> huge(20, at(bucket_max));
  const std::vector<kit_part> single{{1, huge}};
  CHECK(kit_channel_quantity(shared_rules(), single) == int64_max);
  const std::vector<kit_part> pair{{2, huge}, {int64_max, huge}};
  CHECK(kit_channel_quantity(shared_rules(), pair) == 1);  // int64_max / int64_max
}

// --- names --------------------------------------------------------------------------------

TEST_CASE("allocation kinds and roundings have their config names", "[engine][rules]") {
  CHECK(to_string(allocation_kind::shared) == "shared");
  CHECK(to_string(allocation_kind::percent) == "percent");
  CHECK(to_string(allocation_kind::fixed) == "fixed");
  CHECK(to_string(rounding::down) == "down");
  CHECK(to_string(rounding::nearest) == "nearest");
  CHECK(to_string(rounding::up) == "up");
}

// --- property -----------------------------------------------------------------------------

namespace {

// The reference for sums and percent shares: exact 128-bit arithmetic, then saturation.
__extension__ using wide = __int128;

std::int64_t saturate(wide value) {
  return value > static_cast<wide>(int64_max) ? int64_max : static_cast<std::int64_t>(value);
}

// Values that hit the edges often: small stock, negatives, the bucket limit, int64 extremes.
std::int64_t random_quantity(std::mt19937_64& rng) {
  switch (std::uniform_int_distribution<int>(0, 5)(rng)) {
    case 0:
      return std::uniform_int_distribution<std::int64_t>(-5, 5)(rng);
    case 1:
      return std::uniform_int_distribution<std::int64_t>(0, 200)(rng);
    case 2:
      return std::uniform_int_distribution<std::int64_t>(-bucket_max, bucket_max)(rng);
    case 3:
      return std::uniform_int_distribution<std::int64_t>(int64_min, int64_max)(rng);
    case 4:
      return int64_max;
    default:
      return std::uniform_int_distribution<std::int64_t>(-200, 0)(rng);
  }
}

std::optional<std::int64_t> maybe_quantity(std::mt19937_64& rng) {
  if (std::bernoulli_distribution(0.5)(rng)) {
    return random_quantity(rng);
  }
  return std::nullopt;
}

channel_rules random_rules(std::mt19937_64& rng) {
  channel_rules r;
  r.allocation = static_cast<allocation_kind>(std::uniform_int_distribution<int>(0, 2)(rng));
  r.percent = std::uniform_int_distribution<std::int64_t>(-20, 120)(rng);
  r.percent_rounding = static_cast<rounding>(std::uniform_int_distribution<int>(0, 2)(rng));
  r.keep_one = std::bernoulli_distribution(0.5)(rng);
  r.fixed = random_quantity(rng);
  r.buffer = std::bernoulli_distribution(0.5)(rng) ? random_quantity(rng) : 0;
  r.zero_at_or_below = maybe_quantity(rng);
  r.max = maybe_quantity(rng);
  r.floor = maybe_quantity(rng);
  r.preorder_limit = std::bernoulli_distribution(0.5)(rng) ? random_quantity(rng) : 0;
  return r;
}

std::vector<location_stock> random_locations(std::mt19937_64& rng) {
  std::vector<location_stock> out(std::uniform_int_distribution<std::size_t>(0, 6)(rng));
  for (auto& location : out) {
    location = at(random_quantity(rng), random_quantity(rng));
  }
  return out;
}

} // namespace

TEST_CASE("random rules and stock give a quantity in range, and shared shows the pool",
          "[engine][rules]") {
  constexpr std::uint64_t seed = 0x5eed0003;
  std::printf("channel rules property test seed: %llu\n",
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  constexpr int rounds = 20'000;
  int capped = 0;
  int pool_nonzero = 0;
  for (int round = 0; round < rounds; ++round) {
    const channel_rules rules = random_rules(rng);
    const auto locations = random_locations(rng);
    INFO("round " << round);

    const std::int64_t shown = channel_quantity(rules, locations);
    CHECK(shown >= 0);
    if (rules.max && !rules.floor) {
      ++capped;
      CHECK(shown <= std::max<std::int64_t>(0, *rules.max));
    }
    if (!rules.floor) {
      CHECK(shown <= channel_pool(rules, locations));  // nothing shown that is not there
    }

    // The pool against an exact 128-bit sum.
    wide available = 0;
    wide incoming = 0;
    for (const auto& location : locations) {
      available += std::max<std::int64_t>(0, location.available);
      incoming += std::max<std::int64_t>(0, location.incoming);
    }
    const wide preorders =
        rules.preorder_limit > 0 ? std::min<wide>(incoming, rules.preorder_limit) : 0;
    const std::int64_t pool = saturate(available + preorders);
    CHECK(channel_pool(rules, locations) == pool);

    // Shared with nothing else set is the pool itself.
    channel_rules plain = rules;
    plain.allocation = allocation_kind::shared;
    plain.buffer = 0;
    plain.zero_at_or_below.reset();
    plain.max.reset();
    plain.floor.reset();
    plain.preorder_limit = 0;
    pool_nonzero += pool > 0 ? 1 : 0;
    CHECK(channel_quantity(plain, locations) == saturate(available));

    // A percent share against exact 128-bit arithmetic.
    channel_rules percent = plain;
    percent.allocation = allocation_kind::percent;
    percent.keep_one = false;
    const std::int64_t p = std::clamp<std::int64_t>(rules.percent, 0, 100);
    const wide product = static_cast<wide>(pool) * p;
    wide expected = product / 100;
    if (percent.percent_rounding == rounding::nearest && product % 100 >= 50) {
      ++expected;
    }
    if (percent.percent_rounding == rounding::up && product % 100 > 0) {
      ++expected;
    }
    CHECK(allocate(percent, pool) == static_cast<std::int64_t>(expected));
  }
  // The properties above were exercised, not skipped by the generator.
  CHECK(capped > rounds / 8);
  CHECK(pool_nonzero > rounds / 4);
}
