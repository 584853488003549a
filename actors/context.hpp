#pragma once
// What every actor of one engine shares. Owned by the runtime; outlives the actor system.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/options.hpp"
#include "engine/event.hpp"
#include "store/database.hpp"
#include "store/writer.hpp"

namespace stockd::actors {

/// Persists checkpoints; the production one hands them to the store::writer thread, the tests'
/// one writes synchronously. Returns false when refused (the shard retries next round).
using checkpoint_sink = std::function<bool(std::vector<store::checkpoint_record> records,
                                           std::uint32_t shard, std::uint64_t watermark,
                                           store::checkpoint_completion done)>;

/// Journals one event the engine originates (reservations, expiries). Returns false when the
/// journal refuses it (overloaded, stopped, not ready); otherwise, once the commit is done, a
/// fresh entry is dispatched like any ingested one and THEN a `journaled_atom` with the result
/// goes to the shard that owns the entry's SKU, so the actor has applied the entry before it
/// hears the result.
using journal_submit = std::function<bool(engine::journal_entry entry)>;
/// Journals several engine events in ONE submission: one LMDB transaction, so they are durable
/// together or not at all (a kit's components). Then, as for journal_submit, the fresh entries
/// are dispatched and each entry's result goes to the shard that owns its SKU.
using journal_submit_batch = std::function<bool(std::vector<engine::journal_entry> entries)>;

struct context {
  options opts;
  store::database* db = nullptr;
  checkpoint_sink persist;
  journal_submit submit;  // empty: reservations are refused (e.g. a read-only tool)
  journal_submit_batch submit_batch;  // empty: kit reservations are refused
  /// The engine's clock for reservation expiry and received_at of engine events; a fake in tests.
  std::function<engine::timestamp()> clock;
  metrics* counters = nullptr;
  std::vector<std::atomic<std::uint64_t>>* watermarks = nullptr;  // per shard, for status
  /// Per location id, the channel actors that sell from it: told when its stock changes. Filled
  /// before any sku_location actor starts, never changed after.
  std::map<std::string, std::vector<channel_actor>, std::less<>> channels_by_location;
};

} // namespace stockd::actors
