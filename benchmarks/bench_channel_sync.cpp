// The channel actor's decision logic under a saturated rate limit (issue 4 benchmarks):
// availability changes absorbed per second while the API takes one call per `updates_per_call`
// changes, and how full those calls are. Expect well over 500 k changes/s: a change is a map
// lookup and, the first time a SKU changes between calls, a lane push; coalescing means a call
// carries the SKUs that changed, never the changes.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "connectors/channel_sync.hpp"

namespace {

using namespace stockd::connectors;
using stockd::engine::channel_id;
using stockd::engine::sku_id;

constexpr std::size_t catalog = 100'000;
constexpr std::size_t batch_max = 250;  // Shopify's quantities per call

std::vector<sku_id> skus() {
  std::vector<sku_id> out;
  out.reserve(catalog);
  for (std::size_t i = 0; i < catalog; ++i) {
    out.emplace_back("SKU-" + std::to_string(i));
  }
  return out;
}

push_result applied(const outgoing_batch& b) {
  push_result r;
  r.outcome = call_outcome::ok;
  r.items.assign(b.items.size(), item_result{item_outcome::applied, "", std::nullopt});
  return r;
}

// Arg: availability changes between two calls the limiter allows (a saturated limit: changes
// arrive far faster than calls). Zipf-like hot set: half the changes hit 1% of the catalog.
void BM_changes_under_saturated_limit(benchmark::State& state) {
  const auto per_call = static_cast<std::size_t>(state.range(0));
  const auto ids = skus();
  sync_options opts;
  opts.batch_max = batch_max;
  channel_sync sync(channel_id("bench"), opts, 1, 1);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::size_t> any(0, catalog - 1);
  std::uniform_int_distribution<std::size_t> hot(0, catalog / 100 - 1);
  std::uniform_int_distribution<std::int64_t> qty(0, 50);
  sync_time now{};
  std::uint64_t changes = 0;
  std::uint64_t calls = 0;
  std::uint64_t items = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < per_call; ++i) {
      const std::size_t k = (i & 1) != 0 ? hot(rng) : any(rng);
      sync.set_expected(ids[k], qty(rng), now);
    }
    changes += per_call;
    now += std::chrono::milliseconds(1);
    if (auto b = sync.next_batch(now)) {
      ++calls;
      items += b->items.size();
      sync.on_result(*b, applied(*b), now);
    }
  }
  state.counters["changes/s"] =
      benchmark::Counter(static_cast<double>(changes), benchmark::Counter::kIsRate);
  state.counters["items_per_call"] =
      calls == 0 ? 0.0 : static_cast<double>(items) / static_cast<double>(calls);
  state.counters["fill_%"] = calls == 0 ? 0.0
                                        : 100.0 * static_cast<double>(items) /
                                              static_cast<double>(calls * batch_max);
  state.counters["coalesced_%"] =
      100.0 * static_cast<double>(sync.counters().coalesced) / static_cast<double>(changes);
}
BENCHMARK(BM_changes_under_saturated_limit)->Arg(1'000)->Arg(10'000);

}  // namespace

BENCHMARK_MAIN();
