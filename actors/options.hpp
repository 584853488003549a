#pragma once
// Options of the actor engine (built by config/, consumed by actors/).
#include <chrono>
#include <cstddef>

namespace stockd::actors {

struct options {
  unsigned threads = 0;   // CAF scheduler threads; 0 = cores - 1 (at least 1)
  unsigned shards = 0;    // directory shards; 0 = 4 × threads
  std::chrono::milliseconds checkpoint_interval{1000};
  std::size_t checkpoint_dirty_max = 50'000;  // a shard checkpoints early past this many dirty
  std::chrono::milliseconds request_timeout{10'000};
  std::size_t in_flight_max = 2'000'000;  // events accepted and not yet applied, all shards
};

} // namespace stockd::actors
