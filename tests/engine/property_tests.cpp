// Random event streams through apply() and through the reference model must agree on every
// outcome and on the final state, with the invariants holding after every step. One printed
// seed drives everything; a failing seed becomes a regression test.
#include <map>
#include <random>

#include <catch2/catch.hpp>

#include "engine/codec.hpp"
#include "event_builders.hpp"
#include "reference_model.hpp"
#include "stream_generator.hpp"

using namespace stockd::engine;
using namespace stockd::engine::testing;

namespace {

constexpr std::uint32_t property_seed = 0x5eed2026;

sku_location_state fresh_state() {
  sku_location_state s;
  s.key = test_key();
  return s;
}

} // namespace

TEST_CASE("random event streams give the same outcomes and states as the reference model",
          "[engine]") {
  std::printf("engine property test seed: %u\n", property_seed);
  stream_generator generate(property_seed);
  constexpr int streams = 3000;
  constexpr std::size_t length = 100;
  std::size_t kinds_seen[5] = {};
  for (int stream = 0; stream < streams; ++stream) {
    const auto entries = generate.make(length);
    sku_location_state state = fresh_state();
    reference::model model;
    model.key = test_key();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const outcome o = apply(state, entries[i], {});
      const outcome_kind expected = reference::step(model, entries[i]);
      INFO("seed " << property_seed << " stream " << stream << " step " << i << " "
                   << to_string(entries[i].ev.type) << ": " << o.reason);
      REQUIRE(check_invariants(state).empty());
      REQUIRE(to_string(o.kind) == to_string(expected));
      ++kinds_seen[static_cast<std::size_t>(o.kind)];
      // A replay of an earlier entry (a restart) is skipped by both.
      if (i > 0 && i % 17 == 0) {
        REQUIRE(apply(state, entries[i - 1], {}).kind == outcome_kind::skipped);
        REQUIRE(reference::step(model, entries[i - 1]) == outcome_kind::skipped);
      }
    }
    INFO("seed " << property_seed << " stream " << stream);
    REQUIRE(reference::compare(state, model) == "");
    std::string bytes;
    encode(state, bytes);
    const auto decoded = decode_state(bytes);
    REQUIRE(decoded.has_value());
    REQUIRE(*decoded == state);
  }
  // The generator must actually reach every kind, or the test proves less than it claims.
  CHECK(kinds_seen[static_cast<std::size_t>(outcome_kind::applied)] > 0);
  CHECK(kinds_seen[static_cast<std::size_t>(outcome_kind::rejected)] > 0);
  CHECK(kinds_seen[static_cast<std::size_t>(outcome_kind::parked)] > 0);
  CHECK(kinds_seen[static_cast<std::size_t>(outcome_kind::stale)] > 0);
}

TEST_CASE("with an index of forgotten lines, streams of many order lines match the reference "
          "model, which forgets no line",
          "[engine]") {
  // The caller's side of engine::recall_closed_line, as the actor and store::replay do it: keep
  // every line the state pushes out, and recall the one an entry names before applying it.
  std::printf("engine property test (many lines) seed: %u\n", property_seed + 2);
  stream_generator generate(property_seed + 2, 60);
  constexpr int streams = 500;
  constexpr std::size_t length = 400;
  std::size_t recalled = 0;
  for (int stream = 0; stream < streams; ++stream) {
    const auto entries = generate.make(length);
    sku_location_state state = fresh_state();
    std::map<std::uint64_t, std::int64_t> index;
    const auto remember = [&index](const std::vector<closed_line>& lines) {
      for (const auto& line : lines) {
        index[line.line_hash] = line.returnable;
      }
    };
    reference::model model;
    model.key = test_key();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (auto hash = line_to_recall(state, entries[i])) {
        if (auto it = index.find(*hash); it != index.end()) {
          remember(recall_closed_line(state, {*hash, it->second}));
          ++recalled;
        }
      }
      const outcome o = apply(state, entries[i], {});
      remember(o.forgotten_lines);
      const outcome_kind expected = reference::step(model, entries[i]);
      INFO("seed " << property_seed + 2 << " stream " << stream << " step " << i << " "
                   << to_string(entries[i].ev.type) << ": " << o.reason);
      REQUIRE(check_invariants(state).empty());
      REQUIRE(to_string(o.kind) == to_string(expected));
    }
    INFO("seed " << property_seed + 2 << " stream " << stream);
    REQUIRE(reference::compare(state, model) == "");
  }
  CHECK(recalled > static_cast<std::size_t>(streams) / 4);  // the index is exercised (~270)
}

TEST_CASE("recovery from a checkpoint plus journal replay gives the same state", "[engine]") {
  stream_generator generate(property_seed + 1);
  for (int stream = 0; stream < 300; ++stream) {
    const auto entries = generate.make(60);
    sku_location_state straight = fresh_state();
    for (const auto& entry : entries) {
      apply(straight, entry, {});
    }
    // Checkpoint after entry k, then replay from an earlier journal position, as recovery does
    // when the shard watermark lags the state's own last_seq.
    const std::size_t k = static_cast<std::size_t>(stream) % entries.size();
    sku_location_state recovering = fresh_state();
    for (std::size_t i = 0; i <= k; ++i) {
      apply(recovering, entries[i], {});
    }
    std::string bytes;
    encode(recovering, bytes);
    auto restored = decode_state(bytes);
    REQUIRE(restored.has_value());
    for (std::size_t i = k / 2; i < entries.size(); ++i) {
      apply(*restored, entries[i], {});
    }
    INFO("seed " << property_seed + 1 << " stream " << stream << " checkpoint after " << k);
    REQUIRE(*restored == straight);
  }
}
