#pragma once
// Replay: rebuilds every SKU × location state from the journal alone, through the engine's pure
// apply (as recovery does, but from seq 1 and with no checkpoint), and holds it against the
// states a live store has checkpointed. `stockctl replay` is the operator's proof that the live
// state is what the journal says it is; `stockctl export` prints the rebuilt state.
//
// A checkpoint may lag the journal (stockd checkpoints in rounds), so each one is compared with
// the replayed state as of the checkpoint's own last_seq, not as of the journal head: the replay
// compares a key just before applying the first event past that seq, or at the end.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/state.hpp"
#include "store/database.hpp"

namespace stockd::store {

struct replay_options {
  /// Replays seqs 1..through (0 = the journal head when the replay starts).
  std::uint64_t through = 0;
  /// Whether to compare with the store's checkpoints.
  bool compare = true;
  /// Journal entries read per read transaction (short transactions beside a live writer).
  std::size_t page = 4096;
  /// Mismatches described in full; past it they are only counted.
  std::size_t mismatches_max = 100;
  /// Called every `page` entries and at the end with (entries replayed, entries to replay).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

struct replay_mismatch {
  engine::sku_location_key key;
  std::uint64_t at_seq = 0;  // the checkpoint's last_seq the states were compared at
  std::string what;          // the first field that differs, with both values
};

struct replay_report {
  std::uint64_t through = 0;          // last seq replayed
  std::uint64_t events = 0;           // journal entries read
  std::uint64_t rejected = 0;         // entries apply() rejected at some key (as live did)
  std::size_t checkpoints = 0;        // checkpoints compared
  std::size_t matched = 0;
  std::size_t mismatched = 0;         // mismatches.size() may be smaller (mismatches_max)
  std::vector<replay_mismatch> mismatches;
  /// Keys the journal touches that have no checkpoint yet (a live stockd between rounds).
  std::size_t not_checkpointed = 0;
  /// The rebuilt states as of `through`, in key order.
  std::map<engine::sku_location_key, engine::sku_location_state> states;
  /// The closed lines each state pushed out (engine::outcome::forgotten_lines), by line_hash,
  /// with the returnable quantity at its last push: the replay's own closed_lines index, used
  /// as stockd uses the store's, so a late event for an old line replays as it applied live.
  std::map<engine::sku_location_key, std::map<std::uint64_t, std::int64_t>> forgotten_lines;

  bool agrees() const noexcept { return mismatched == 0; }
};

result<replay_report> replay(const database& db, const replay_options& opts = {});

/// The first difference between two states of one key, as "field: a vs b"; empty when equal.
std::string first_difference(const engine::sku_location_state& a,
                             const engine::sku_location_state& b);

} // namespace stockd::store
