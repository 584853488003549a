#pragma once
// What every actor of one engine shares. Owned by the runtime; outlives the actor system.
#include <cstdint>
#include <functional>
#include <vector>

#include "actors/metrics.hpp"
#include "actors/options.hpp"
#include "store/database.hpp"
#include "store/writer.hpp"

namespace stockd::actors {

/// Persists checkpoints; the production one hands them to the store::writer thread, the tests'
/// one writes synchronously. Returns false when refused (the shard retries next round).
using checkpoint_sink = std::function<bool(std::vector<store::checkpoint_record> records,
                                           std::uint32_t shard, std::uint64_t watermark,
                                           store::checkpoint_completion done)>;

struct context {
  options opts;
  store::database* db = nullptr;
  checkpoint_sink persist;
  metrics* counters = nullptr;
  std::vector<std::atomic<std::uint64_t>>* watermarks = nullptr;  // per shard, for status
};

} // namespace stockd::actors
