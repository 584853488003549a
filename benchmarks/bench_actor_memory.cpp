// Resident memory per live sku_location actor, measured with N of them (default 1,000,000).
// Expectation: CAF 0.17 costs ~1.35 KiB per idle event-based actor here (toolchain.md), the
// directory entry ~100 B and the state ~0.4 KiB, so ~1.9 KiB; the target is <= 2 KiB.
// Checks its own answer: every actor applied its one event, and the live count is N.
#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "actors/runtime.hpp"

namespace {

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages_total = 0;
  std::size_t pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

} // namespace

int main(int argc, char** argv) {
  using namespace stockd;
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  engine::catalog catalog({engine::location_info{engine::location_id("main"), {}}});
  actors::metrics counters;
  actors::options opts;
  opts.threads = 2;
  opts.checkpoint_interval = std::chrono::hours(1);  // measure actors, not checkpoint buffers
  opts.checkpoint_dirty_max = SIZE_MAX;
  opts.in_flight_max = 200'000;

  malloc_trim(0);
  const std::size_t before = resident_bytes();
  auto started = std::chrono::steady_clock::now();
  {
    actors::runtime rt(opts, catalog, nullptr,
                       [](std::vector<store::checkpoint_record>, std::uint32_t, std::uint64_t,
                          store::checkpoint_completion done) {
                         done(nullptr);
                         return true;
                       },
                       counters);
    const std::size_t chunk = 10'000;
    std::uint64_t seq = 0;
    const auto t0 = *engine::parse_rfc3339("2026-11-27T10:00:00Z");
    for (std::size_t base = 0; base < n; base += chunk) {
      std::vector<engine::journal_entry> batch;
      for (std::size_t i = base; i < std::min(n, base + chunk); ++i) {
        engine::journal_entry e;
        e.seq = ++seq;
        e.received_at = t0;
        e.ev.source = engine::source_id("bench");
        e.ev.id = std::to_string(seq);
        e.ev.type = engine::event_type::received;
        e.ev.sku = engine::sku_id("SKU-" + std::to_string(i));
        e.ev.location = engine::location_id("main");
        e.ev.qty = 1;
        e.ev.occurred_at = t0;
        batch.push_back(std::move(e));
      }
      rt.dispatch(std::move(batch));
      rt.wait_idle(std::chrono::minutes(5));
    }
    rt.wait_idle(std::chrono::minutes(5));
    malloc_trim(0);
    const std::size_t after = resident_bytes();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto live = counters.live_actors.load();
    const bool ok = live == n && counters.apply_applied.load() == n;
    std::printf("{\"actors\": %zu, \"live\": %llu, \"resident_bytes\": %zu, "
                "\"bytes_per_actor\": %.0f, \"seconds\": %.2f, \"spawn_and_apply_per_s\": %.0f, "
                "\"check\": \"%s\"}\n",
                n, static_cast<unsigned long long>(live), after - before,
                static_cast<double>(after - before) / static_cast<double>(n), seconds,
                static_cast<double>(n) / seconds, ok ? "ok" : "FAILED");
    if (!ok) {
      return 1;
    }
  }
  return 0;
}
