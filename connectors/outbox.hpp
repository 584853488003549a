#pragma once
// The durable half of a channel's outbox (issue 4 §4, DESIGN §4): per SKU × channel, what must
// survive a restart so that nothing pending is lost and nothing acknowledged is sent again as a
// new change. channel_sync (connectors/channel_sync.hpp) keeps the live record and hands out the
// entries that changed; the store keeps them (store::database outbox table) and gives them back
// at start-up.
//
// Why each field:
//  - `expected`, `last_pushed`, `shadow`: what the channel should show and what it was confirmed
//    to show (and shows by our model), so a restart neither re-pushes what the channel already
//    has nor trusts a value it never confirmed;
//  - `intent` and `key`: the intended change not yet confirmed and its idempotency key. The key
//    is stored before the change is first sent, so every retry, across restarts too, carries it
//    and the channel can deduplicate (never a new key for the same change);
//  - `maybe_applied`: a call failed without saying whether it applied;
//  - `parked` and `reason`: the dead letter (an item the channel refused), kept parked across
//    restarts until its expected value changes;
//  - `unseen`: units the channel sold that stockd has not journaled yet (a stale compare-and-set
//    or a read found them), held back from every push until their order arrives. Lost in a
//    restart, the order arriving after it would be taken off the shadow a second time, and the
//    channel raised over the sale. The hold's clock starts again at restore (its steady-clock
//    start means nothing after a restart): it holds longer, never shorter;
//  - `order_seqs`: per location, the journal seq of the newest own order already taken into
//    the shadow and `unseen`. At start-up the locations replay the events after their
//    checkpoints, own orders included: one at or under its location's seq is in this entry
//    already and must not lower the shadow again (found by the deterministic simulation: two
//    restarts in a row took the same three orders off the shadow twice, and the channel showed
//    one unit more than stockd believed);
//  - `needs_read`: the channel must be read back before anything is pushed (a stale answer
//    without a value, or units held back on an ambiguous base used up by orders: their count
//    may have absorbed a sale). Lost in a restart, the shadow was trusted unchecked (found by
//    the deterministic simulation, seed 85786688: two phantom units took a real order, the
//    restart forgot the read that would have caught it, and the shop showed less than stockd
//    believed, in sync). A check read still to come (a sale too close to a read, whose units
//    live in memory only) is stored as one too (seed 1836).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stockd::connectors {

struct outbox_entry {
  std::int64_t expected = 0;
  std::optional<std::int64_t> last_pushed;
  std::optional<std::int64_t> shadow;
  std::optional<std::int64_t> maybe_applied;
  std::optional<std::int64_t> intent;
  std::string key;  // empty without an intent
  bool parked = false;
  std::int64_t unseen = 0;
  bool needs_read = false;
  std::string reason;
  std::vector<std::pair<std::string, std::uint64_t>> order_seqs;  // location id, seq  // the dead letter's reason ("rejected_item: <code>"); empty otherwise

  bool operator==(const outbox_entry&) const = default;
};

/// A versioned encoding in the journal's wire primitives (engine/codec.hpp: varints, zig-zag,
/// length-prefixed strings).
std::string encode(const outbox_entry& entry);
/// nullopt on bytes this version cannot read (truncated, unknown version, trailing bytes).
std::optional<outbox_entry> decode_outbox_entry(std::string_view bytes);

} // namespace stockd::connectors
