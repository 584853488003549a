#pragma once
// Shadow mode's agreement report (issue 7: a parallel run before go-live). A channel in shadow
// mode computes what it would push and never pushes; every read-back of the channel is compared
// here with what stockd would make it show. The report says how far the two agree: the share of
// SKUs equal at their last comparison, the largest differences open now, and how long
// differences lasted (an episode runs from the first read that found a SKU different to the
// first read that found it equal again, so durations are as fine as the read interval). A SKU
// the read did not list at all is a difference of its own kind (`missing`): going live would
// push it to a channel that does not show it.
// Plain class, no clock: every call takes `now`.
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "connectors/channel_sync.hpp"
#include "engine/ids.hpp"

namespace stockd::connectors {

class shadow_report {
public:
  /// The largest differences listed, at most.
  static constexpr std::size_t largest_max = 10;

  /// A read-back found the channel showing `shows` for `sku` while stockd would push `expected`.
  void compared(const engine::sku_id& sku, std::int64_t expected, std::int64_t shows,
                sync_time now);
  /// A read-back asked for `sku` and the channel did not list it (no listing, no inventory
  /// item): a difference whatever stockd would push, until a read finds it listed.
  void missing(const engine::sku_id& sku, std::int64_t expected, sync_time now);
  /// A whole read-back round finished (every known SKU asked once).
  void round_done(sync_time now);
  /// The SKU is gone from the channel's view (not reported by the read): forget it.
  void forget(const engine::sku_id& sku, sync_time now);

  struct difference {
    engine::sku_id sku;
    std::int64_t expected = 0;  // what stockd would push
    std::optional<std::int64_t> channel;  // what the channel showed; nullopt: not listed
    std::int64_t age_ms = 0;    // since the first read that found it different
  };
  struct summary {
    std::size_t compared = 0;   // SKUs with a comparison
    std::size_t equal = 0;      // of those, equal at their last comparison
    std::size_t missing = 0;    // of those, not listed by the channel at their last read
    /// equal / compared; nullopt while nothing was compared (no agreement to speak of: every
    /// read may have failed).
    std::optional<double> share_equal;
    std::vector<difference> largest;  // open differences, largest |expected - channel| first
    std::size_t open = 0;             // SKUs different now
    std::int64_t oldest_open_ms = 0;
    std::uint64_t episodes_closed = 0;  // differences that ended
    std::int64_t longest_closed_ms = 0;
    std::int64_t mean_closed_ms = 0;
    std::uint64_t comparisons = 0;      // reads compared, all SKUs
    std::uint64_t rounds = 0;           // whole read-back rounds
    std::optional<std::int64_t> last_round_age_ms;
  };
  summary report(sync_time now) const;

private:
  struct record {
    std::int64_t expected = 0;
    std::optional<std::int64_t> channel;  // nullopt: not listed
    std::optional<sync_time> differs_since;
  };
  void close(record& r, sync_time now);
  void seen(const engine::sku_id& sku, std::int64_t expected, std::optional<std::int64_t> shows,
            sync_time now);

  std::unordered_map<engine::sku_id, record> records_;
  std::uint64_t comparisons_ = 0;
  std::uint64_t rounds_ = 0;
  std::optional<sync_time> last_round_;
  std::uint64_t episodes_closed_ = 0;
  std::int64_t longest_closed_ms_ = 0;
  std::int64_t total_closed_ms_ = 0;
};

} // namespace stockd::connectors
