#include "actors/sku_location.hpp"

#include <cstdio>
#include <cstdlib>

#include "engine/apply.hpp"
#include "engine/codec.hpp"

namespace stockd::actors {
namespace {

// A checkpoint that cannot be read means the engine no longer knows the stock: refuse to run
// rather than serve invented quantities. The operator restores the data dir or replays.
[[noreturn]] void die_on_checkpoint(const engine::sku_location_key& key, const char* what) {
  std::fprintf(stderr, "stockd: fatal: checkpoint of %s@%s %s\n", key.sku.str().c_str(),
               key.location.str().c_str(), what);
  std::abort();
}

engine::sku_location_state load(const engine::sku_location_key& key, const context& ctx) {
  engine::sku_location_state state;
  state.key = key;
  if (ctx.db == nullptr) {
    return state;
  }
  auto bytes = ctx.db->read_checkpoint(key);
  if (!bytes) {
    die_on_checkpoint(key, "could not be read");
  }
  if (!bytes->has_value()) {
    return state;
  }
  auto decoded = engine::decode_state(**bytes);
  if (!decoded || !(decoded->key == key)) {
    die_on_checkpoint(key, "is corrupt");
  }
  return std::move(*decoded);
}

void count(metrics& m, const engine::outcome& out) {
  switch (out.kind) {
    case engine::outcome_kind::applied: m.apply_applied.fetch_add(1, std::memory_order_relaxed); break;
    case engine::outcome_kind::rejected: m.apply_rejected.fetch_add(1, std::memory_order_relaxed); break;
    case engine::outcome_kind::parked: m.apply_parked.fetch_add(1, std::memory_order_relaxed); break;
    case engine::outcome_kind::stale: m.apply_stale.fetch_add(1, std::memory_order_relaxed); break;
    case engine::outcome_kind::skipped: m.apply_skipped.fetch_add(1, std::memory_order_relaxed); break;
  }
  if (out.oversold_units > 0) {
    m.oversold_units.fetch_add(static_cast<std::uint64_t>(out.oversold_units),
                               std::memory_order_relaxed);
  }
}

} // namespace

sku_location_actor::behavior_type
sku_location(sku_location_actor::stateful_pointer<sku_location_holder> self,
             engine::sku_location_key key, const context* ctx) {
  self->state.state = load(key, *ctx);
  ctx->counters->live_actors.fetch_add(1, std::memory_order_relaxed);
  self->state.ctx = ctx;
  return {
      [self, ctx](apply_atom, const engine::journal_entry& entry) {
        // The engine's clock is the journal's: replay gives the same state (DESIGN §2).
        engine::outcome out = engine::apply(self->state.state, entry, entry.received_at);
        count(*ctx->counters, out);
        ctx->counters->in_flight.fetch_sub(1, std::memory_order_relaxed);
      },
      [self](get_atom) { return self->state.state; },
      [self](snapshot_atom) {
        std::string bytes;
        engine::encode(self->state.state, bytes);
        return bytes;
      },
  };
}

} // namespace stockd::actors
