#pragma once
// What every actor of one engine shares. Owned by the runtime; outlives the actor system.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "actors/options.hpp"
#include "engine/catalog.hpp"
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

/// Per location id, the channel actors that sell from it.
using channel_routes = std::map<std::string, std::vector<channel_actor>, std::less<>>;

/// A handle on the catalog in force: every use reads the current one, so a reload
/// (runtime::reconfigure) reaches every reader at its next use. Each catalog ever published
/// stays alive as long as the runtime, so a pointer read once is good for a whole request.
class catalog_ref {
public:
  catalog_ref() = default;
  explicit catalog_ref(const std::atomic<const engine::catalog*>* source) : source_(source) {}
  const engine::catalog* get() const { return source_->load(std::memory_order_acquire); }
  const engine::catalog* operator->() const { return get(); }
  const engine::catalog& operator*() const { return *get(); }

private:
  const std::atomic<const engine::catalog*>* source_ = nullptr;
};

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
  /// The channel actors to tell when a location's stock changes. Immutable once published; a
  /// reload publishes a new map (runtime::reconfigure) and every map published stays alive as
  /// long as the runtime, so an actor reads the pointer once per message. Null: no channels.
  std::atomic<const channel_routes*> channels_by_location{nullptr};
  /// The catalog in force (catalog_ref); null only in tests that give the shard its own.
  std::atomic<const engine::catalog*> catalog{nullptr};
};

} // namespace stockd::actors
