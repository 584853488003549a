// The channel actor's decision logic (connectors/channel_sync.hpp) by plain calls: coalescing,
// lanes, settle window, batching, retries with the same key, Retry-After, splitting a refused
// batch, parking, the circuit, the shadow with compare-and-set, and a randomized convergence run
// against a fake channel that sells on its own and fails 20% of calls.
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "connectors/channel_sync.hpp"
#include "tests/connectors/sync_helpers.hpp"

using namespace stockd::connectors;
using namespace std::chrono_literals;
using stockd::engine::channel_id;
using stockd::engine::sku_id;

namespace {

using testing::all_applied;
using testing::sku;
using testing::t0;

push_result failed(call_outcome outcome, std::string code = "503") {
  push_result r;
  r.outcome = outcome;
  r.code = std::move(code);
  return r;
}

/// Brings `s` to the point where the channel is known to show `qty` for `name`.
void settle_at(channel_sync& s, const std::string& name, std::int64_t qty, sync_time now) {
  s.set_expected(sku(name), qty, now);
  for (const auto& id : s.take_reads()) {
    s.channel_reported(id, 0, now);  // compare-and-set reads the channel's value first
  }
  auto b = s.next_batch(now);
  REQUIRE(b);
  s.on_result(*b, all_applied(*b), now);
  REQUIRE(s.find(sku(name))->in_sync());
}

} // namespace

TEST_CASE("only the latest quantity per SKU is pushed", "[connectors][sync]") {
  channel_sync s(channel_id("shop"), {}, 1, 1);
  s.set_expected(sku("A"), 10, t0);
  s.set_expected(sku("A"), 8, t0);
  s.set_expected(sku("A"), 5, t0);
  auto b = s.next_batch(t0);
  REQUIRE(b);
  REQUIRE(b->items.size() == 1);
  CHECK(b->items[0].quantity == 5);
  CHECK(s.counters().coalesced == 2);
  CHECK(s.find(sku("A"))->reason == "pending");
  s.on_result(*b, all_applied(*b), t0);
  const sku_sync* r = s.find(sku("A"));
  CHECK(r->in_sync());
  CHECK(r->last_pushed == std::optional<std::int64_t>{5});
  CHECK_FALSE(r->out_of_sync_since.has_value());
  CHECK(r->reason.empty());
  CHECK_FALSE(s.next_batch(t0).has_value());  // nothing more to say
}

TEST_CASE("a decrease is urgent, an increase waits for the settle window", "[connectors][sync]") {
  sync_options opts;
  opts.batch_max = 1;
  opts.settle = 2s;
  channel_sync w(channel_id("shop"), opts, 1, 1);
  w.set_expected(sku("UP"), 10, t0);
  w.set_expected(sku("DOWN"), 10, t0);
  CHECK_FALSE(w.next_batch(t0 + 1s).has_value());  // both are first pushes of 10: settling
  for (int i = 0; i < 2; ++i) {
    auto b = w.next_batch(t0 + 2s);
    REQUIRE(b);
    w.on_result(*b, all_applied(*b), t0 + 2s);
  }
  w.set_expected(sku("UP"), 12, t0 + 3s);
  w.set_expected(sku("DOWN"), 3, t0 + 3s);
  auto first = w.next_batch(t0 + 3s);
  REQUIRE(first);
  CHECK(first->items[0].sku == sku("DOWN"));  // toward zero first, at once
  w.on_result(*first, all_applied(*first), t0 + 3s);
  CHECK_FALSE(w.next_batch(t0 + 4s).has_value());  // the increase settles for 2 s
  REQUIRE(w.next_due(t0 + 4s) == std::optional<sync_time>{t0 + 5s});
  auto second = w.next_batch(t0 + 5s);
  REQUIRE(second);
  CHECK(second->items[0].sku == sku("UP"));
  CHECK(second->items[0].quantity == 12);
}

TEST_CASE("interval mode holds every change until the next interval boundary",
          "[connectors][sync]") {
  sync_options opts;
  opts.push_interval = 10s;  // t0 is 1000 s: a boundary
  channel_sync s(channel_id("shop"), opts, 1, 1);
  s.set_expected(sku("DOWN"), 0, t0 + 1s);  // urgent in event mode: here it waits too
  s.set_expected(sku("UP"), 7, t0 + 4s);
  CHECK_FALSE(s.next_batch(t0 + 9s).has_value());
  REQUIRE(s.next_due(t0 + 9s) == std::optional<sync_time>{t0 + 10s});
  CHECK(s.find(sku("UP"))->reason == "pending");
  auto b = s.next_batch(t0 + 10s);
  REQUIRE(b);
  CHECK(b->items.size() == 2);  // one batch of everything queued in the interval
  s.on_result(*b, all_applied(*b), t0 + 10s);
  s.set_expected(sku("UP"), 3, t0 + 10s);  // queued exactly on a boundary: goes at once
  auto c = s.next_batch(t0 + 10s);
  REQUIRE(c);
  CHECK(c->items[0].quantity == 3);
  // A retry keeps its own backoff, not the interval.
  s.on_result(*c, failed(call_outcome::server_error), t0 + 10s);
  auto due = s.next_due(t0 + 10s);
  REQUIRE(due);
  CHECK(*due < t0 + 20s);
}

TEST_CASE("batches are filled to the API's maximum", "[connectors][sync]") {
  sync_options opts;
  opts.batch_max = 100;
  opts.calls_in_flight_max = 4;
  channel_sync s(channel_id("shop"), opts, 1, 1);
  for (int i = 0; i < 250; ++i) {
    s.set_expected(sku("S" + std::to_string(i)), 0, t0);
  }
  std::vector<std::size_t> sizes;
  while (auto b = s.next_batch(t0)) {
    sizes.push_back(b->items.size());
  }
  CHECK(sizes == std::vector<std::size_t>{100, 100, 50});
  CHECK(s.calls_in_flight() == 3);
}

TEST_CASE("a bulk re-push never delays an urgent change", "[connectors][sync]") {
  sync_options opts;
  opts.batch_max = 2;
  channel_sync s(channel_id("shop"), opts, 1, 1);
  settle_at(s, "HOT", 5, t0);
  for (int i = 0; i < 4; ++i) {
    settle_at(s, "B" + std::to_string(i), 5, t0);
  }
  for (int i = 0; i < 4; ++i) {
    s.repush(sku("B" + std::to_string(i)), t0);  // a full re-push: the bulk lane
  }
  CHECK(s.queued(lane::bulk) == 4);
  s.set_expected(sku("HOT"), 0, t0 + 1s);
  auto b = s.next_batch(t0 + 1s);
  REQUIRE(b);
  CHECK(b->items[0].sku == sku("HOT"));  // the urgent lane fills the batch first
  CHECK(b->items[0].quantity == 0);
  CHECK(s.queued(lane::bulk) >= 3);
}

TEST_CASE("a call that takes one SKU sends the one the channel over-shows most first, and none "
          "waits past urgent_age_max", "[connectors][sync]") {
  sync_options opts;
  opts.batch_max = 1;  // Amazon: one SKU a call
  opts.urgent_age_max = 5s;
  channel_sync s(channel_id("amazon"), opts, 1, 1);
  settle_at(s, "COLD", 100, t0);
  settle_at(s, "WARM", 40, t0);
  settle_at(s, "HOT", 10, t0);
  for (int i = 0; i < 30; ++i) {
    settle_at(s, "H" + std::to_string(i), 10, t0);
  }
  s.set_expected(sku("COLD"), 99, t0 + 1s);  // 1 % of what it shows is no longer there
  s.set_expected(sku("WARM"), 20, t0 + 1s);  // 50 %
  s.set_expected(sku("HOT"), 0, t0 + 1s);    // sold out, still shown: every sale oversells
  std::vector<std::string> order;
  for (auto now = t0 + 1s; auto b = s.next_batch(now); now += 200ms) {
    REQUIRE(b->items.size() == 1);
    order.push_back(b->items[0].sku.str());
    s.on_result(*b, all_applied(*b), now);
  }
  CHECK(order == std::vector<std::string>{"HOT", "WARM", "COLD"});

  // Riskier changes that keep coming do not hold a small one back for ever.
  s.set_expected(sku("COLD"), 98, t0 + 10s);
  auto now = t0 + 10s;
  for (int i = 0; i < 30; ++i, now += 200ms) {
    s.set_expected(sku("H" + std::to_string(i)), 0, now);
    auto b = s.next_batch(now);
    REQUIRE(b);
    s.on_result(*b, all_applied(*b), now);
    if (b->items[0].sku == sku("COLD")) {
      break;
    }
  }
  CHECK(s.find(sku("COLD"))->shadow == std::optional<std::int64_t>{98});
  CHECK(now >= t0 + 15s);
  CHECK(now <= t0 + 15s + 200ms);
}

TEST_CASE("a failed call retries with the same key after a capped, jittered backoff",
          "[connectors][sync]") {
  channel_sync s(channel_id("shop"), {}, 7, 1);
  s.set_expected(sku("A"), 0, t0);
  auto b = s.next_batch(t0);
  REQUIRE(b);
  const std::string key = b->items[0].idempotency_key;
  CHECK(key.rfind("shop.7.", 0) == 0);  // channel, boot, counter
  s.on_result(*b, failed(call_outcome::server_error, "503"), t0);
  CHECK(s.find(sku("A"))->reason == "channel_error: 503");
  CHECK_FALSE(s.next_batch(t0 + 99ms).has_value());  // base 200 ms: at least 100 with jitter
  auto due = s.next_due(t0);
  REQUIRE(due);
  CHECK(*due >= t0 + 100ms);
  CHECK(*due <= t0 + 200ms);
  auto again = s.next_batch(*due);
  REQUIRE(again);
  CHECK(again->items[0].idempotency_key == key);  // the same intended change: the same key
  CHECK(s.counters().retries == 1);
  // A new value while it waits to be retried is a new intended change: a new key.
  s.on_result(*again, failed(call_outcome::timeout, "timeout"), *due);
  s.set_expected(sku("A"), 4, *due);
  auto later = s.next_batch(*due + 1h);
  REQUIRE(later);
  CHECK(later->items[0].quantity == 4);
  CHECK(later->items[0].idempotency_key != key);
}

TEST_CASE("while the limiter says wait, queued SKUs say rate_limited until a call goes",
          "[connectors][sync]") {
  sync_options opts;
  opts.batch_max = 1;
  channel_sync s(channel_id("shop"), opts, 1, 1);
  s.set_expected(sku("A"), 0, t0);
  CHECK(s.find(sku("A"))->reason == "pending");
  s.note_rate_limited(t0);
  CHECK(s.find(sku("A"))->reason == "rate_limited");
  s.note_rate_limited(t0);  // again: nothing changes
  s.set_expected(sku("B"), 0, t0);
  CHECK(s.find(sku("B"))->reason == "rate_limited");  // queued while the limiter waits
  auto b = s.next_batch(t0 + 1s);  // the limiter let a call go
  REQUIRE(b);
  s.set_expected(sku("C"), 0, t0 + 1s);
  CHECK(s.find(sku("C"))->reason == "pending");
}

TEST_CASE("Retry-After is honoured and the SKUs say rate_limited", "[connectors][sync]") {
  channel_sync s(channel_id("amazon"), {}, 1, 1);
  s.set_expected(sku("A"), 0, t0);
  auto b = s.next_batch(t0);
  push_result throttled = failed(call_outcome::throttled, "429");
  throttled.retry_after = 5s;
  s.on_result(*b, throttled, t0);
  CHECK(s.find(sku("A"))->reason == "rate_limited");
  CHECK(s.counters().throttled == 1);
  CHECK_FALSE(s.next_batch(t0 + 4999ms).has_value());
  CHECK(s.next_batch(t0 + 5s).has_value());
  CHECK(s.circuit() == circuit_state::closed);  // pacing is not a failure of the channel
}

TEST_CASE("a batch refused as a whole is split until the bad item is alone and parked",
          "[connectors][sync]") {
  sync_options opts;
  opts.batch_max = 8;
  channel_sync s(channel_id("shop"), opts, 1, 1);
  for (int i = 0; i < 8; ++i) {
    s.set_expected(sku(i == 5 ? "BAD" : "S" + std::to_string(i)), 0, t0);
  }
  int calls = 0;
  while (auto b = s.next_batch(t0)) {
    ++calls;
    bool poisoned = false;
    for (const auto& item : b->items) {
      poisoned = poisoned || item.sku == sku("BAD");
    }
    s.on_result(*b, poisoned ? failed(call_outcome::bad_request, "400") : all_applied(*b), t0);
    REQUIRE(calls < 20);
  }
  CHECK(calls == 7);  // 8 → 4+4 → 2+2 → 1+1: log2(8) splits along the bad item's path
  const sku_sync* bad = s.find(sku("BAD"));
  CHECK(bad->parked);
  CHECK(bad->reason == "rejected_item: 400");
  for (int i = 0; i < 8; ++i) {
    if (i != 5) {
      CHECK(s.find(sku("S" + std::to_string(i)))->in_sync());
    }
  }
  REQUIRE(s.parked().size() == 1);
  // A new value for the parked SKU is a new intended change: it is tried again.
  s.set_expected(sku("BAD"), 2, t0 + 1s);
  CHECK_FALSE(s.find(sku("BAD"))->parked);
  CHECK(s.next_batch(t0 + 1s).has_value());
}

TEST_CASE("an item the channel rejects is parked, and the rest of its batch is applied",
          "[connectors][sync]") {
  channel_sync s(channel_id("shop"), {}, 1, 1);
  s.set_expected(sku("A"), 0, t0);
  s.set_expected(sku("B"), 0, t0);
  auto b = s.next_batch(t0);
  REQUIRE(b->items.size() == 2);
  push_result r = all_applied(*b);
  r.items[1] = {item_outcome::rejected, "NOT_FOUND", std::nullopt};
  s.on_result(*b, r, t0);
  CHECK(s.find(sku("A"))->in_sync());
  CHECK(s.find(sku("B"))->parked);
  CHECK(s.find(sku("B"))->reason == "rejected_item: NOT_FOUND");
  CHECK_FALSE(s.next_batch(t0 + 1h).has_value());  // parked: not retried as is
}

TEST_CASE("systemic failures open the circuit, which probes with one item and closes",
          "[connectors][sync]") {
  sync_options opts;
  opts.circuit_failures = 3;
  opts.circuit_cooldown = 10s;
  opts.backoff_base = 1ms;
  opts.backoff_max = 1ms;
  channel_sync s(channel_id("shop"), opts, 1, 1);
  for (int i = 0; i < 5; ++i) {
    s.set_expected(sku("S" + std::to_string(i)), 0, t0);
  }
  auto now = t0;
  for (int i = 0; i < 3; ++i) {
    auto b = s.next_batch(now);
    REQUIRE(b);
    s.on_result(*b, failed(call_outcome::server_error), now);
    now += 1s;
  }
  CHECK(s.circuit() == circuit_state::open);
  CHECK(s.counters().circuit_opened == 1);
  CHECK(s.find(sku("S0"))->reason == "circuit_open");
  CHECK_FALSE(s.next_batch(now).has_value());
  CHECK(s.next_due(now) == std::optional<sync_time>{t0 + 2s + 10s});
  // After the cool-down: one probe of one item. It fails: open again, for twice as long.
  auto probe = s.next_batch(t0 + 12s);
  REQUIRE(probe);
  CHECK(probe->probe);
  CHECK(probe->items.size() == 1);
  CHECK_FALSE(s.next_batch(t0 + 12s).has_value());  // one probe at a time
  s.on_result(*probe, failed(call_outcome::network, "reset"), t0 + 12s);
  CHECK(s.circuit() == circuit_state::open);
  CHECK_FALSE(s.next_batch(t0 + 31s).has_value());
  probe = s.next_batch(t0 + 32s);
  REQUIRE(probe);
  s.on_result(*probe, all_applied(*probe), t0 + 32s);
  CHECK(s.circuit() == circuit_state::closed);
  auto rest = s.next_batch(t0 + 33s);
  REQUIRE(rest);
  CHECK(rest->items.size() == 4);
}

TEST_CASE("the channel's own orders lower the shadow, and compare-and-set never raises over an "
          "unseen order",
          "[connectors][sync]") {
  sync_options opts;
  opts.compare_and_set = true;
  channel_sync s(channel_id("shop"), opts, 1, 1);
  settle_at(s, "A", 10, t0);
  // The channel sells 2 and stockd sees the order: the channel lowered itself, nothing to push.
  s.own_order_seen(sku("A"), 2, t0);
  s.set_expected(sku("A"), 8, t0);
  CHECK(s.find(sku("A"))->in_sync());
  CHECK_FALSE(s.next_batch(t0).has_value());
  // A warehouse adjustment lowers expected to 6; meanwhile the channel sold 1 stockd has not seen.
  s.set_expected(sku("A"), 6, t0 + 1s);
  auto b = s.next_batch(t0 + 1s);
  REQUIRE(b);
  CHECK(b->items[0].quantity == 6);
  CHECK(b->items[0].change_from == std::optional<std::int64_t>{8});
  push_result stale;
  stale.outcome = call_outcome::ok;
  stale.items = {{item_outcome::stale, "CHANGE_FROM_QUANTITY_STALE", 7}};
  s.on_result(*b, stale, t0 + 1s);
  const sku_sync* r = s.find(sku("A"));
  CHECK(r->unseen == 1);
  CHECK(r->target() == 5);  // 6 expected minus the unseen sale: never 6 over an order not seen
  b = s.next_batch(t0 + 1s);
  REQUIRE(b);
  CHECK(b->items[0].quantity == 5);
  CHECK(b->items[0].change_from == std::optional<std::int64_t>{7});
  s.on_result(*b, all_applied(*b), t0 + 1s);
  CHECK(s.find(sku("A"))->in_sync());
  // The unseen order arrives: expected drops by 1, the unseen unit is accounted, still in sync.
  s.own_order_seen(sku("A"), 1, t0 + 2s);
  s.set_expected(sku("A"), 5, t0 + 2s);
  CHECK(s.find(sku("A"))->unseen == 0);
  CHECK(s.find(sku("A"))->in_sync());
  CHECK_FALSE(s.next_batch(t0 + 2s).has_value());
}

TEST_CASE("without compare-and-set, a sale undone by a return before its push still pushes",
          "[connectors][sync]") {
  channel_sync s(channel_id("amazon"), sync_options{}, 1, 1);  // no compare-and-set
  settle_at(s, "A", 10, t0);
  // The channel sells 1 (it shows 9); stockd sees the order, and before the lower value is sent
  // (the rate limit) a return brings the expected value back to 10, what was last pushed.
  s.own_order_seen(sku("A"), 1, t0);
  s.set_expected(sku("A"), 9, t0);
  s.set_expected(sku("A"), 10, t0 + 10ms);
  // The channel shows 9, not 10: it is not in sync, and the next push says 10.
  CHECK_FALSE(s.find(sku("A"))->in_sync());
  auto b = s.next_batch(t0 + 1h);
  REQUIRE(b);
  REQUIRE(b->items.size() == 1);
  CHECK(b->items[0].quantity == 10);
  s.on_result(*b, all_applied(*b), t0 + 1h);
  CHECK(s.find(sku("A"))->in_sync());
}

TEST_CASE("a stale answer without the channel's value asks for a re-read", "[connectors][sync]") {
  sync_options opts;
  opts.compare_and_set = true;
  channel_sync s(channel_id("shop"), opts, 1, 1);
  settle_at(s, "A", 10, t0);
  s.set_expected(sku("A"), 4, t0);
  auto b = s.next_batch(t0);
  push_result stale;
  stale.outcome = call_outcome::ok;
  stale.items = {{item_outcome::stale, "CHANGE_FROM_QUANTITY_STALE", std::nullopt}};
  s.on_result(*b, stale, t0);
  CHECK_FALSE(s.next_batch(t0).has_value());  // nothing until the channel's value is known
  auto reads = s.take_reads();
  REQUIRE(reads == std::vector<sku_id>{sku("A")});
  s.channel_reported(sku("A"), 9, t0);
  b = s.next_batch(t0);
  REQUIRE(b);
  CHECK(b->items[0].quantity == 3);  // 4 − 1 unseen
  CHECK(b->items[0].change_from == std::optional<std::int64_t>{9});
}

// A fake channel with its own customers: it sells against what it shows, its orders reach
// stockd later, and 20% of calls fail one way or another while faults are on. Checks, on every
// applied item, that the channel is never raised above the stock minus the orders stockd has not
// seen yet; after faults and sales stop, that every SKU converges within a stated bound.
namespace {
void run_convergence(std::uint64_t seed);
}

// Seeds 1-200 in every run (a fraction of a second each). Seed 7 found an order absorbed by a
// phantom unseen unit (a count from a read whose base was too high), which left the channel one
// unit low while its record said in sync: a read once the count is used up corrects it.
// STOCKD_SYNC_SEEDS=N runs seeds 1..N instead.
TEST_CASE("a compare-and-set batch that got no answer goes again verbatim until the channel "
          "answers it",
          "[connectors][sync]") {
  sync_options opts;
  opts.compare_and_set = true;
  channel_sync s(channel_id("shop"), opts, 1, 1);
  settle_at(s, "A", 5, t0);
  s.set_expected(sku("A"), 9, t0);
  auto first = s.next_batch(t0);
  REQUIRE(first);
  REQUIRE(first->items[0].change_from == std::optional<std::int64_t>{5});
  s.on_result(*first, failed(call_outcome::timeout, "timeout"), t0);
  CHECK(s.take_reads().empty());  // no read: the same request will tell
  CHECK(s.find(sku("A"))->pinned);
  CHECK(s.find(sku("A"))->reason == "channel_error: timeout");

  SECTION("an increase meanwhile waits, the resend is the same request, and its answer counts") {
    s.set_expected(sku("A"), 10, t0 + 1ms);
    CHECK_FALSE(s.next_batch(t0 + 1ms).has_value());  // backoff
    auto due = s.next_due(t0 + 1ms);
    REQUIRE(due);
    auto again = s.next_batch(*due);
    REQUIRE(again);
    REQUIRE(again->items.size() == 1);
    CHECK(again->items[0].quantity == 9);
    CHECK(again->items[0].change_from == first->items[0].change_from);
    CHECK(again->items[0].idempotency_key == first->items[0].idempotency_key);
    // A 429 says the resend did not run: still pinned, still the same request.
    s.on_result(*again, failed(call_outcome::throttled, "429"), *due);
    auto third = s.next_batch(*s.next_due(*due));
    REQUIRE(third);
    CHECK(third->items[0].idempotency_key == first->items[0].idempotency_key);
    s.on_result(*third, all_applied(*third), *due + 1s);  // a replay, or applied now
    const sku_sync* r = s.find(sku("A"));
    CHECK_FALSE(r->pinned);
    CHECK(r->shadow == std::optional<std::int64_t>{9});
    CHECK(r->unseen == 0);
    auto next = s.next_batch(*due + 1s);
    REQUIRE(next);
    CHECK(next->items[0].quantity == 10);
    CHECK(next->items[0].change_from == std::optional<std::int64_t>{9});
  }
  SECTION("a stale answer to the resend means the first never applied: no units held back") {
    auto again = s.next_batch(*s.next_due(t0));
    REQUIRE(again);
    push_result stale;
    stale.outcome = call_outcome::ok;
    stale.items.push_back({item_outcome::stale, "CHANGE_FROM_QUANTITY_STALE", 4});
    s.on_result(*again, stale, t0 + 1s);
    const sku_sync* r = s.find(sku("A"));
    CHECK(r->unseen == 1);  // the one sale between 5 and 4, not 9 - 4
    CHECK_FALSE(r->maybe_applied.has_value());
  }
  SECTION("a decrease drops the pin: the old request must not go again, the channel is read") {
    s.set_expected(sku("A"), 2, t0 + 1ms);
    CHECK_FALSE(s.find(sku("A"))->pinned);
    CHECK(s.take_reads() == std::vector<sku_id>{sku("A")});
    CHECK_FALSE(s.next_batch(t0 + 1min).has_value());  // until the read answers
  }
}

TEST_CASE("random traffic with 20% faults converges, never raising a channel over unseen orders",
          "[connectors][sync]") {
  std::uint64_t last = 200;
  if (const char* n = std::getenv("STOCKD_SYNC_SEEDS")) {
    last = std::strtoull(n, nullptr, 10);
  }
  for (std::uint64_t seed = 1; seed <= last; ++seed) {
    run_convergence(seed);
  }
}

namespace {
void run_convergence(std::uint64_t seed) {
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  sync_options opts;
  opts.compare_and_set = true;
  opts.batch_max = 5;
  opts.settle = 50ms;
  opts.calls_in_flight_max = 2;
  opts.unseen_hold = 5s;  // orders reach stockd within 2 s here
  channel_sync s(channel_id("shop"), opts, 1, seed);
  std::map<std::string, item_result> by_key;  // the channel honours idempotency keys

  constexpr int skus = 12;
  std::map<sku_id, std::int64_t> stock;      // stockd's view: units not yet sold (seen orders)
  std::map<sku_id, std::int64_t> shows;      // what the channel shows
  std::map<sku_id, std::int64_t> unseen;     // sold by the channel, order not yet at stockd
  std::vector<std::pair<sync_time, sku_id>> orders;  // in flight to stockd
  std::vector<outgoing_batch> in_flight;
  std::map<sku_id, std::vector<std::string>> trace;  // printed when the invariant breaks
  auto note = [&](const sku_id& id, const std::string& what) {
    const sku_sync* r = s.find(id);
    trace[id].push_back(what + " | stock " + std::to_string(stock[id]) + " shows " +
                        std::to_string(shows[id]) + " unseen " + std::to_string(unseen[id]) +
                        (r ? " | est.unseen " + std::to_string(r->unseen) + " shadow " +
                                 (r->shadow ? std::to_string(*r->shadow) : "-") + " expected " +
                                 std::to_string(r->expected)
                           : ""));
  };  auto now = t0;
  for (int i = 0; i < skus; ++i) {
    sku_id id("S" + std::to_string(i));
    stock[id] = 20;
    s.set_expected(id, 20, now);
  }
  bool faults = true;
  // A push in flight cannot be recalled: a warehouse decrease while it flies is not what this
  // invariant is about. It compares with the stock when the push was sent (or now, if higher).
  std::map<std::string, std::int64_t> stock_at_send;  // by idempotency key
  auto allowed = [&](const push_item& item) {
    auto sent = stock_at_send.find(item.idempotency_key);
    const std::int64_t base =
        std::max(stock[item.sku], sent == stock_at_send.end() ? 0 : sent->second);
    // A warehouse decrease while the channel showed more can leave less than its unseen sales
    // (an oversell no push could prevent): then 0 is what the channel may show.
    return std::max<std::int64_t>(0, base - unseen[item.sku]);
  };
  auto apply_item = [&](const push_item& item) -> item_result {
    if (auto it = by_key.find(item.idempotency_key); it != by_key.end()) {
      return it->second;  // the same key again: the same answer, nothing applied twice
    }
    item_result result{item_outcome::applied, "", std::nullopt};
    if (item.change_from && *item.change_from != shows[item.sku]) {
      result = {item_outcome::stale, "CHANGE_FROM_QUANTITY_STALE", shows[item.sku]};
      note(item.sku, "stale " + std::to_string(*item.change_from) + " key " + item.idempotency_key);
    } else {
      // The invariant: never above what is really left.
      if (item.quantity > allowed(item)) {
        std::string history;
        for (const auto& line : trace[item.sku]) {
          history += line + "\n";
        }
        INFO(history);
        CHECK(item.quantity <= allowed(item));
      }
      shows[item.sku] = item.quantity;
      note(item.sku, "applied " + std::to_string(item.quantity) + " key " + item.idempotency_key);
    }
    by_key.emplace(item.idempotency_key, result);
    return result;
  };
  auto answer = [&](const outgoing_batch& b) {
    if (faults && chance(0.2)) {
      switch (rng() % 4) {
      case 0: return failed(call_outcome::server_error, "500");
      case 1: {
        auto r = failed(call_outcome::throttled, "429");
        if (chance(0.5)) {
          r.retry_after = 300ms;
        }
        return r;
      }
      case 2: {
        // A timeout after the channel applied: it did, the answer never came.
        for (const auto& item : b.items) {
          apply_item(item);
        }
        return failed(call_outcome::timeout, "timeout");
      }
      default: return failed(call_outcome::network, "reset");
      }
    }
    push_result r;
    r.outcome = call_outcome::ok;
    for (const auto& item : b.items) {
      r.items.push_back(apply_item(item));
    }
    return r;
  };
  const auto traffic_end = t0 + 60s;
  // Converged means: traffic over, nothing in flight or on its way, nothing out of sync.
  auto quiet = [&] {
    return now >= traffic_end && in_flight.empty() && orders.empty() &&
           !s.oldest_out_of_sync().has_value() && !s.next_due(now).has_value();
  };
  while (!quiet() && now < traffic_end + 120s) {
    if (now >= traffic_end) {
      faults = false;
    }
    // Customers buy against what the channel shows.
    if (now < traffic_end && chance(0.3)) {
      sku_id id("S" + std::to_string(rng() % skus));
      if (shows[id] > 0) {
        --shows[id];
        ++unseen[id];
        note(id, "sale");
        orders.emplace_back(now + std::chrono::milliseconds(rng() % 2000), id);
      }
    }
    // A warehouse moves stock now and then.
    if (now < traffic_end && chance(0.02)) {
      sku_id id("S" + std::to_string(rng() % skus));
      stock[id] += static_cast<std::int64_t>(rng() % 7) - 2;
      stock[id] = std::max<std::int64_t>(stock[id], unseen[id]);
      s.set_expected(id, std::max<std::int64_t>(0, stock[id]), now);
      note(id, "warehouse");
    }
    // Orders reach stockd after their delay.
    for (auto it = orders.begin(); it != orders.end();) {
      if (it->first <= now) {
        --stock[it->second];
        --unseen[it->second];
        s.own_order_seen(it->second, 1, now);
        s.set_expected(it->second, std::max<std::int64_t>(0, stock[it->second]), now);
        note(it->second, "order seen");
        it = orders.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& id : s.take_reads()) {
      s.channel_reported(id, shows[id], now);
    }
    while (auto b = s.next_batch(now)) {
      for (const auto& item : b->items) {
        stock_at_send[item.idempotency_key] = stock[item.sku];
      }
      in_flight.push_back(std::move(*b));
    }
    // Answers come back one step later.
    if (!in_flight.empty()) {
      auto b = std::move(in_flight.front());
      in_flight.erase(in_flight.begin());
      auto result = answer(b);
      s.on_result(b, result, now);
      for (const auto& item : b.items) {
        note(item.sku, "result " + std::to_string(static_cast<int>(result.outcome)) + " for " +
                           std::to_string(item.quantity) + " from " +
                           (item.change_from ? std::to_string(*item.change_from) : "-"));
      }
    }
    now += 10ms;
  }
  // Converged: every SKU shows what stockd expects, and says it is in sync, within a bound
  // (the unseen hold of 5 s plus backoffs of at most 30 s).
  CHECK(now < traffic_end + 60s);
  for (const auto& [id, stock_left] : stock) {
    CAPTURE(id.str());
    const std::int64_t left = std::max<std::int64_t>(0, stock_left);  // oversold shows 0
    if (shows[id] != left) {
      std::string history;
      for (const auto& line : trace[id]) {
        history += line + "\n";
      }
      INFO(history);
      CHECK(shows[id] == left);
    }
    CHECK(shows[id] == left);
    CHECK(s.find(id)->in_sync());
    CHECK(s.find(id)->unseen == 0);
  }
  CHECK(s.counters().stale + s.counters().failures + s.counters().throttled > 0);
}
} // namespace

namespace {

push_result bulk_answer(const outgoing_batch& b, std::vector<item_outcome> outcomes) {
  push_result r;
  r.outcome = call_outcome::ok;
  for (auto o : outcomes) {
    r.items.push_back(item_result{o, o == item_outcome::rejected ? "90220" : "", std::nullopt});
  }
  REQUIRE(r.items.size() == b.items.size());
  return r;
}

} // namespace

TEST_CASE("with a bulk call type the bulk lane goes only in bulk jobs, one at a time",
          "[connectors][sync][bulk]") {
  sync_options opts;
  opts.bulk_batch_max = 2;
  channel_sync s(channel_id("amz"), opts, 1, 1);
  for (const char* name : {"A", "B", "C"}) {
    settle_at(s, name, 5, t0);
    s.repush(sku(name), t0);
  }
  CHECK(s.queued(lane::bulk) == 3);
  CHECK_FALSE(s.next_batch(t0).has_value());  // not in ordinary calls
  CHECK_FALSE(s.next_due(t0).has_value());
  REQUIRE(s.next_bulk_due(t0) == std::optional<sync_time>{t0});
  auto job = s.next_bulk_batch(t0);
  REQUIRE(job);
  CHECK(job->bulk);
  CHECK(job->items.size() == 2);
  CHECK_FALSE(s.next_bulk_batch(t0).has_value());  // one job at a time
  CHECK_FALSE(s.next_bulk_due(t0).has_value());
  CHECK(s.find(sku("A"))->in_sync());  // a re-push of what the channel shows
  s.on_result(*job, bulk_answer(*job, {item_outcome::applied, item_outcome::applied}), t0 + 1s);
  auto rest = s.next_bulk_batch(t0 + 1s);
  REQUIRE(rest);
  CHECK(rest->items.size() == 1);
  s.on_result(*rest, bulk_answer(*rest, {item_outcome::rejected}), t0 + 2s);
  CHECK(s.find(sku("C"))->parked);
  CHECK(s.find(sku("C"))->reason == "rejected_item: 90220");
  CHECK(s.counters().bulk_jobs == 2);
  CHECK(s.counters().bulk_items == 3);
  CHECK(s.queued(lane::bulk) == 0);
}

TEST_CASE("a bulk job in flight never delays an urgent change, and its late value is pushed over",
          "[connectors][sync][bulk]") {
  sync_options opts;
  opts.bulk_batch_max = 100;
  channel_sync s(channel_id("amz"), opts, 1, 1);
  settle_at(s, "HOT", 10, t0);
  settle_at(s, "COLD", 10, t0);
  s.repush(sku("HOT"), t0);
  s.repush(sku("COLD"), t0);
  auto job = s.next_bulk_batch(t0);
  REQUIRE(job);
  REQUIRE(job->items.size() == 2);
  // Stock drops while the job (a feed: minutes) runs: the decrease goes at once.
  s.set_expected(sku("HOT"), 2, t0 + 1s);
  auto urgent = s.next_batch(t0 + 1s);
  REQUIRE(urgent);
  REQUIRE(urgent->items.size() == 1);
  CHECK(urgent->items[0].quantity == 2);
  s.on_result(*urgent, all_applied(*urgent), t0 + 2s);
  CHECK(s.find(sku("HOT"))->in_sync());
  // The job then says it applied 10 to HOT: it may have landed after the decrease, so the
  // channel may show 10 again. HOT is pushed again; COLD, unchanged, is in sync.
  s.on_result(*job, bulk_answer(*job, {item_outcome::applied, item_outcome::applied}), t0 + 60s);
  CHECK_FALSE(s.find(sku("HOT"))->in_sync());
  CHECK(s.find(sku("COLD"))->in_sync());
  auto again = s.next_batch(t0 + 60s);
  REQUIRE(again);
  REQUIRE(again->items.size() == 1);
  CHECK(again->items[0].sku == sku("HOT"));
  CHECK(again->items[0].quantity == 2);
  s.on_result(*again, all_applied(*again), t0 + 61s);
  CHECK(s.find(sku("HOT"))->in_sync());
}

TEST_CASE("a bulk job answered while a push of the same SKU is in flight is folded in after it",
          "[connectors][sync][bulk]") {
  sync_options opts;
  opts.bulk_batch_max = 100;
  channel_sync s(channel_id("amz"), opts, 1, 1);
  settle_at(s, "A", 10, t0);
  s.repush(sku("A"), t0);
  auto job = s.next_bulk_batch(t0);
  REQUIRE(job);
  s.set_expected(sku("A"), 4, t0 + 1s);
  auto push = s.next_batch(t0 + 1s);
  REQUIRE(push);
  s.on_result(*job, bulk_answer(*job, {item_outcome::applied}), t0 + 2s);  // push still out
  CHECK_FALSE(s.next_batch(t0 + 2s).has_value());
  s.on_result(*push, all_applied(*push), t0 + 3s);
  auto again = s.next_batch(t0 + 3s);  // which landed last is unknown: say 4 once more
  REQUIRE(again);
  CHECK(again->items[0].quantity == 4);
  s.on_result(*again, all_applied(*again), t0 + 4s);
  CHECK(s.find(sku("A"))->in_sync());
  CHECK_FALSE(s.next_batch(t0 + 4s).has_value());
}

TEST_CASE("a throttled bulk job waits for Retry-After, a refused one goes in ordinary calls",
          "[connectors][sync][bulk]") {
  sync_options opts;
  opts.bulk_batch_max = 100;
  channel_sync s(channel_id("amz"), opts, 1, 1);
  settle_at(s, "A", 10, t0);
  settle_at(s, "B", 7, t0);
  s.repush(sku("A"), t0);
  s.repush(sku("B"), t0);
  auto job = s.next_bulk_batch(t0);
  REQUIRE(job);
  push_result throttled = failed(call_outcome::throttled, "429");
  throttled.retry_after = 300s;
  s.on_result(*job, throttled, t0);
  CHECK(s.counters().bulk_failures == 1);
  CHECK(s.find(sku("A"))->in_sync());  // nothing out of sync: the channel shows the value
  auto due = s.next_bulk_due(t0);
  REQUIRE(due);
  CHECK(*due >= t0 + 300s);
  CHECK_FALSE(s.next_bulk_batch(t0 + 299s).has_value());
  auto retry = s.next_bulk_batch(*due);
  REQUIRE(retry);
  CHECK(retry->items.size() == 2);
  s.on_result(*retry, failed(call_outcome::bad_request, "400"), *due);
  CHECK_FALSE(s.next_bulk_batch(*due).has_value());
  auto ordinary = s.next_batch(*due);
  REQUIRE(ordinary);
  CHECK_FALSE(ordinary->bulk);
  CHECK(ordinary->items.size() == 2);
  s.on_result(*ordinary, all_applied(*ordinary), *due);
  CHECK(s.find(sku("A"))->in_sync());
  CHECK(s.find(sku("B"))->in_sync());
}

TEST_CASE("a rule change's increase goes on the bulk lane and its decrease stays urgent",
          "[connectors][sync]") {
  channel_sync s(channel_id("shop"), {}, 1, 1);
  settle_at(s, "UP", 5, t0);
  settle_at(s, "DOWN", 5, t0);
  settle_at(s, "SAME", 5, t0);
  s.set_expected(sku("UP"), 8, t0, true);
  s.set_expected(sku("DOWN"), 2, t0, true);
  s.set_expected(sku("SAME"), 5, t0, true);  // unchanged for the channel: nothing to send
  CHECK(s.queued(lane::bulk) == 1);
  CHECK(s.queued(lane::urgent) == 1);
  CHECK(s.queued(lane::normal) == 0);
  auto b = s.next_batch(t0);
  REQUIRE(b);
  REQUIRE(b->items.size() == 2);
  CHECK(b->items[0].sku.str() == "DOWN");  // urgent first
  CHECK(b->items[1].sku.str() == "UP");
}

// stocksim's shopify finding (README, "What the simulation found"): on a compare-and-set
// channel a SKU's first read has no shadow to judge it by. The shop sold one unit just before
// it, and that sale's order reaches stockd only after the push the read allowed. The push
// re-showed the sold unit; the order must not lower the shadow a second time (it did: stockd
// believed 79 where the shop showed 80, in sync).
namespace {
/// The channel is asked for A (the one read due), sent at `at`; it answers `shows` 10 ms later.
void read_a(channel_sync& s, std::int64_t shows, sync_time at) {
  const auto reads = s.take_reads();
  REQUIRE(reads == std::vector<sku_id>{sku("A")});
  s.read_sent(reads, at);
  s.read_answered(sku("A"), shows, at + 10ms);
}

/// The next batch pushes `qty` for A over `from`, and the channel confirms it at `at`.
void push_a_confirmed(channel_sync& s, std::int64_t qty, std::int64_t from, sync_time at) {
  auto b = s.next_batch(at);
  REQUIRE(b);
  CHECK(b->items[0].quantity == qty);
  CHECK(b->items[0].change_from == std::optional<std::int64_t>{from});
  s.on_result(*b, all_applied(*b), at);
}

/// A compare-and-set channel expecting 80 for A, whose first read (sent at t0, answered at
/// t0 + 10ms) found 79 and whose push of 80 from 79 was confirmed at t0 + 10ms.
channel_sync shop_after_first_push() {
  sync_options opts;
  opts.compare_and_set = true;
  channel_sync s(channel_id("shop"), opts, 1, 1);
  s.set_expected(sku("A"), 80, t0);
  read_a(s, 79, t0);
  push_a_confirmed(s, 80, 79, t0 + 10ms);  // the shop shows 80 again
  return s;
}
}  // namespace

TEST_CASE("a sale made well before a compare-and-set channel's read, whose order arrives after "
          "the first push, does not leave the channel one unit over",
          "[connectors][sync]") {
  channel_sync s = shop_after_first_push();
  // The order of a sale made 2 s before the read arrives now: expected is 79.
  s.own_order_seen(sku("A"), 1, t0 + 5s, {}, 0, t0 - 2s);
  s.set_expected(sku("A"), 79, t0 + 5s);
  // The shop shows 80 where it may show 79: not in sync, and 79 goes out from 80.
  CHECK_FALSE(s.find(sku("A"))->in_sync());
  push_a_confirmed(s, 79, 80, t0 + 5s);
  CHECK(s.find(sku("A"))->in_sync());
  // A sale made well after the read lowers the shadow as before.
  s.own_order_seen(sku("A"), 1, t0 + 9s, {}, 0, t0 + 8s);
  s.set_expected(sku("A"), 78, t0 + 9s);
  CHECK(s.find(sku("A"))->in_sync());
  CHECK_FALSE(s.next_batch(t0 + 9s).has_value());
  CHECK(s.take_reads().empty());
}

TEST_CASE("a sale too close to a compare-and-set channel's read to tell whether the read saw it "
          "keeps the shadow high, lets the push decide and reads once nothing is left to push",
          "[connectors][sync]") {
  // Made just before the read (the finding): the shop shows 80 after the push. The push from
  // the shadow kept high applies, then one read checks what a high shadow could hide.
  channel_sync before = shop_after_first_push();
  before.own_order_seen(sku("A"), 1, t0 + 5s, {}, 0, t0 - 5ms);
  before.set_expected(sku("A"), 79, t0 + 5s);
  CHECK_FALSE(before.find(sku("A"))->in_sync());
  push_a_confirmed(before, 79, 80, t0 + 5s);
  CHECK_FALSE(before.next_batch(t0 + 5s + 5ms).has_value());  // settled: the check is due
  CHECK(before.find(sku("A"))->needs_read);  // in sync by a shadow that may be high: read
  CHECK(before.find(sku("A"))->reason == "pending");
  read_a(before, 79, t0 + 5s + 10ms);
  CHECK(before.find(sku("A"))->in_sync());
  CHECK(before.find(sku("A"))->unseen == 0);
  CHECK_FALSE(before.next_batch(t0 + 5s + 30ms).has_value());

  // Made just after the read, so the shop lowered itself after the push: it shows 79 (stocksim's
  // steady run: kept high, stockd believed the shop showed 2 more than it did, in sync). The
  // push from 80 is refused as stale; the read finds 79, explained by the sale, not unseen.
  channel_sync after = shop_after_first_push();
  after.own_order_seen(sku("A"), 1, t0 + 5s, {}, 0, t0 + 500ms);
  after.set_expected(sku("A"), 79, t0 + 5s);
  CHECK_FALSE(after.find(sku("A"))->in_sync());
  auto b = after.next_batch(t0 + 5s);
  REQUIRE(b);
  CHECK(b->items[0].change_from == std::optional<std::int64_t>{80});
  push_result stale;
  stale.outcome = call_outcome::ok;
  stale.items = {{item_outcome::stale, "CHANGE_FROM_QUANTITY_STALE", std::nullopt}};
  after.on_result(*b, stale, t0 + 5s);
  read_a(after, 79, t0 + 5s + 10ms);
  CHECK(after.find(sku("A"))->in_sync());
  CHECK(after.find(sku("A"))->unseen == 0);
  CHECK_FALSE(after.next_batch(t0 + 5s + 30ms).has_value());

  // Kept high while the target is the shadow itself (a receipt made up for the sale): nothing
  // to push, so the read comes at once; the shop shows 79, so 80 goes out from 79.
  channel_sync even = shop_after_first_push();
  even.own_order_seen(sku("A"), 1, t0 + 5s, {}, 0, t0 + 500ms);
  CHECK_FALSE(even.next_batch(t0 + 5s).has_value());
  CHECK(even.find(sku("A"))->needs_read);
  read_a(even, 79, t0 + 5s);
  push_a_confirmed(even, 80, 79, t0 + 5s + 20ms);
  CHECK(even.find(sku("A"))->in_sync());
}

TEST_CASE("orders that keep arriving close to a compare-and-set channel's read do not hold its "
          "decreases back",
          "[connectors][sync]") {
  // A flash sale: the shop's own orders arrive 100-400 ms after their sales, every one of them
  // within the clock margin of the last read. Each new lower target still goes out (stocksim
  // flash_sale --hot-stock 150 saw the shop left at 72 for 3 s while stockd expected 0).
  channel_sync s = shop_after_first_push();
  std::int64_t expected = 80;
  std::int64_t shop = 80;
  sync_time at = t0 + 20ms;
  for (int i = 0; i < 10; ++i) {
    s.own_order_seen(sku("A"), 1, at, {}, 0, at - 200ms);
    expected -= 5;  // the other channels sold 4 more meanwhile
    s.set_expected(sku("A"), expected, at);
    auto b = s.next_batch(at);
    REQUIRE(b);
    CHECK(b->items[0].quantity <= expected);
    s.on_result(*b, all_applied(*b), at);
    shop = b->items[0].quantity;
    at += 100ms;
  }
  CHECK(shop <= expected);
  CHECK(shop < 80 - 40);
}

TEST_CASE("a sale of unknown size (a kit, from a component's order) drops the shadow: a "
          "compare-and-set channel is read first, another gets the target",
          "[connectors][sync]") {
  // Compare-and-set: the shop shows 80 after the push; a kit of it sold there. No push on the
  // old shadow: a read, then the target from what the read found.
  channel_sync shop = shop_after_first_push();
  shop.set_expected(sku("A"), 79, t0 + 5s);
  shop.own_sale_of_unknown_size(sku("A"), t0 + 5s);
  CHECK_FALSE(shop.next_batch(t0 + 5s).has_value());
  read_a(shop, 79, t0 + 5s);
  CHECK(shop.find(sku("A"))->in_sync());
  CHECK(shop.find(sku("A"))->unseen == 0);  // no phantom unit held back

  // Without compare-and-set: the target goes out whatever the channel was believed to show.
  channel_sync market(channel_id("market"), sync_options{}, 1, 1);
  settle_at(market, "A", 10, t0);
  market.own_sale_of_unknown_size(sku("A"), t0 + 1s);
  auto b = market.next_batch(t0 + 1s);
  REQUIRE(b);
  CHECK(b->items[0].quantity == 10);
  market.on_result(*b, all_applied(*b), t0 + 1s);
  CHECK(market.find(sku("A"))->in_sync());
  // An unknown SKU is left alone.
  market.own_sale_of_unknown_size(sku("Z"), t0 + 2s);
  CHECK(market.find(sku("Z")) == nullptr);
}
