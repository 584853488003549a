#pragma once
// directory_shard: maps (sku, location) to its sku_location actor for one range of SKUs,
// spawning on first use; and checkpoints that range (DESIGN §4 Directory, Checkpointer).
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include <caf/typed_response_promise.hpp>

#include "actors/context.hpp"
#include "actors/interfaces.hpp"
#include "engine/catalog.hpp"

namespace stockd::actors {

struct directory_shard_state {
  struct slot {
    sku_location_actor actor;
    bool dirty = false;
  };
  std::uint32_t index = 0;
  const context* ctx = nullptr;
  const engine::catalog* catalog = nullptr;
  // Node-based map: `slot*` stays valid while the entry exists (actors are never removed while
  // the shard runs).
  std::unordered_map<engine::sku_location_key, slot> slots;
  std::vector<std::pair<const engine::sku_location_key*, slot*>> dirty;
  std::uint64_t head_seen = 0;           // journal head after the last commit we were told of
  std::uint64_t watermark_persisted = 0;
  bool round_running = false;
  std::vector<std::pair<const engine::sku_location_key*, slot*>> round_keys;
  /// The actors of this round whose snapshot carried forgotten closed lines, with the count to
  /// acknowledge once the round is stored (state_snapshot::forgotten_through).
  std::vector<std::pair<sku_location_actor, std::uint64_t>> round_forgotten;
  std::vector<caf::typed_response_promise<std::uint64_t>> flush_waiters;
  /// State reads waiting for live actors' answers, by id (directory_shard.cpp gather_states);
  /// each is answered when the last actor answers or at its lapse, whichever comes first.
  std::unordered_map<std::uint64_t, std::function<void()>> reads_lapsing;
  std::uint64_t next_read = 0;
  static inline const char* name = "directory_shard";
};

directory_shard_actor::behavior_type
directory_shard(directory_shard_actor::stateful_pointer<directory_shard_state> self,
                std::uint32_t index, const context* ctx, const engine::catalog* catalog);

/// Which shard owns a SKU: a stable hash (FNV-1a), so the layout is the same on every start.
std::uint32_t shard_of(const engine::sku_id& sku, std::uint32_t shards) noexcept;

} // namespace stockd::actors
