// The actor engine against the reference model: random event streams (tests/engine's generator)
// go through the real directory shard and sku_location actors over a real LMDB, with checkpoint
// rounds and whole-engine restarts at random points, and recovery replaying from the stored
// watermark. The final state must equal the reference model's fold over the same stream:
// routing, checkpoints, restarts and skip-on-replay must neither lose nor repeat an event.
#include <catch2/catch.hpp>

#include <cstdio>
#include <random>

#include "shard_fixture.hpp"
#include "../engine/reference_model.hpp"
#include "../engine/stream_generator.hpp"

namespace {

namespace engine = stockd::engine;
using stockd::actors::testing::shard_under_test;
using stockd::actors::testing::temp_dir;

constexpr std::uint32_t actor_property_seed = 0xac7025ed;

} // namespace

TEST_CASE("random streams through the actor engine with checkpoints and restarts match the "
          "reference model",
          "[actors]") {
  std::printf("actor engine property test seed: %#x\n", actor_property_seed);
  engine::testing::stream_generator generate(actor_property_seed);
  std::mt19937 faults(actor_property_seed);
  constexpr int streams = 200;
  constexpr std::size_t length = 100;
  int restarts = 0;
  for (int stream = 0; stream < streams; ++stream) {
    const auto entries = generate.make(length);
    temp_dir dir;
    // The generator's transfers go between DC-EAST (its key) and DC-WEST.
    shard_under_test shard(dir.path, {"DC-EAST", "DC-WEST"});
    std::size_t delivered = 0;
    while (delivered < entries.size()) {
      const std::size_t n = std::min<std::size_t>(1 + faults() % 20, entries.size() - delivered);
      shard.deliver({entries.begin() + static_cast<std::ptrdiff_t>(delivered),
                     entries.begin() + static_cast<std::ptrdiff_t>(delivered + n)});
      delivered += n;
      switch (faults() % 4) {
        case 0:
          // A checkpoint round that knows of a head behind what was delivered, as when the
          // journal's head message is still on its way: its watermark lags the states it stores.
          shard.checkpoint(delivered - faults() % (n + 1));
          break;
        case 1: {
          // A restart: the actor system goes, LMDB stays; recovery replays from the watermark and
          // the actors skip what their checkpoints already hold.
          shard.restart();
          ++restarts;
          const std::uint64_t from = shard.db().replay_from(1);
          REQUIRE(from >= 1);
          if (from <= delivered) {
            shard.deliver({entries.begin() + static_cast<std::ptrdiff_t>(from - 1),
                           entries.begin() + static_cast<std::ptrdiff_t>(delivered)});
          }
          break;
        }
        default:
          break;
      }
    }
    engine::reference::model model;
    model.key = engine::testing::test_key();
    for (const auto& entry : entries) {
      engine::reference::step(model, entry);
    }
    const auto view = shard.query(engine::testing::test_key().sku.str());
    const auto* state = shard.find(view, engine::testing::test_key().location.str());
    INFO("seed " << actor_property_seed << " stream " << stream);
    if (state == nullptr) {
      // Nothing ever touched the key successfully enough to leave a state: so must the model say.
      CHECK(model.last_seq == 0);
      continue;
    }
    REQUIRE(engine::check_invariants(*state).empty());
    REQUIRE(engine::reference::compare(*state, model) == "");
  }
  // The faults must actually happen, or the test proves less than it claims.
  CHECK(restarts > streams / 2);
}
