#pragma once
// Counters every part of the engine bumps; read by /v1/status and /metrics. Relaxed atomics:
// they are reports, not synchronization.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace stockd::actors {

/// Oversold units and cases per channel since start, for /metrics. Oversells are rare, so a lock
/// is all it needs. Channel names come from events: past `channels_max` they share "*".
class channel_oversells {
public:
  static constexpr std::size_t channels_max = 256;
  struct figures {
    std::uint64_t units = 0;
    std::uint64_t cases = 0;
  };
  void add(std::string_view channel, std::uint64_t units) {
    std::lock_guard lock(mutex_);
    auto it = by_channel_.find(channel);
    if (it == by_channel_.end()) {
      const bool full = by_channel_.size() >= channels_max;
      it = by_channel_.try_emplace(full ? std::string("*") : std::string(channel)).first;
    }
    it->second.units += units;
    it->second.cases += 1;
  }
  std::map<std::string, figures, std::less<>> snapshot() const {
    std::lock_guard lock(mutex_);
    return by_channel_;
  }

private:
  mutable std::mutex mutex_;
  std::map<std::string, figures, std::less<>> by_channel_;
};

/// A latency histogram that any thread may add to without a lock: 64 buckets whose upper bounds
/// grow by about 25 % from 1 ms (1, 2, ... 8, 10, 12, 15, ...) to ~28 minutes, the last one
/// open-ended. A reader takes counts() twice and subtracts (history.hpp) to get one interval's
/// distribution; a percentile is then known to within one bucket (~25 %).
class latency_histogram {
public:
  static constexpr std::size_t buckets = 64;
  using counts = std::array<std::uint64_t, buckets>;

  /// The largest latency bucket `i` holds, in ms; the last bucket has no bound (int64 max).
  static constexpr std::int64_t upper_bound_ms(std::size_t i) noexcept { return bounds_[i]; }
  static constexpr std::size_t bucket_of(std::int64_t ms) noexcept {
    std::size_t low = 0;
    std::size_t high = buckets - 1;  // the answer is in [low, high]
    while (low < high) {
      const std::size_t mid = (low + high) / 2;
      if (ms > bounds_[mid]) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    return low;
  }
  void record(std::chrono::milliseconds latency) noexcept {
    const std::int64_t ms = std::max<std::int64_t>(0, latency.count());
    counts_[bucket_of(ms)].fetch_add(1, std::memory_order_relaxed);
  }
  counts read() const noexcept {
    counts out{};
    for (std::size_t i = 0; i < buckets; ++i) {
      out[i] = counts_[i].load(std::memory_order_relaxed);
    }
    return out;
  }
  /// The upper bound of the bucket holding the `q`-quantile (0 < q <= 1) of `c`, or nullopt when
  /// `c` is empty. For the open-ended last bucket: the bound of the one before it.
  static std::optional<std::int64_t> quantile_ms(const counts& c, double q) noexcept {
    std::uint64_t total = 0;
    for (auto n : c) {
      total += n;
    }
    if (total == 0) {
      return std::nullopt;
    }
    const auto rank = std::max<std::uint64_t>(
        1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets; ++i) {
      seen += c[i];
      if (seen >= rank) {
        return upper_bound_ms(std::min(i, buckets - 2));
      }
    }
    return upper_bound_ms(buckets - 2);
  }

private:
  static constexpr std::array<std::int64_t, buckets> bounds_ = [] {
    std::array<std::int64_t, buckets> b{};
    b[0] = 1;
    for (std::size_t i = 1; i + 1 < buckets; ++i) {
      b[i] = std::max(b[i - 1] + 1, b[i - 1] * 5 / 4);
    }
    b[buckets - 1] = std::numeric_limits<std::int64_t>::max();
    return b;
  }();
  std::array<std::atomic<std::uint64_t>, buckets> counts_{};
};

struct metrics {
  using counter = std::atomic<std::uint64_t>;
  // ingest (HTTP)
  counter http_requests{0};
  counter http_responses_4xx{0};
  counter http_responses_5xx{0};
  counter http_overloaded{0};
  counter events_accepted{0};
  counter events_duplicate{0};
  counter events_rejected{0};  // rejected at ingest: never journaled
  std::atomic<std::int64_t> reservations_in_flight{0};  // reservation requests awaiting an answer
  // engine (sku_location actors): every journaled event ends in exactly one of these
  counter apply_applied{0};
  counter apply_rejected{0};   // inconsistent with the state: journaled, not applied
  counter apply_parked{0};
  counter apply_stale{0};
  counter apply_skipped{0};    // already applied before a restart
  counter closed_lines_recalled{0};  // forgotten closed lines put back for a late line event
  counter oversold_units{0};
  /// The hook for reconciliation (issue 6, not built yet): bump it once per SKU × channel pair a
  /// read-back finds showing something other than its expected value. Nothing feeds it today,
  /// so /v1/history and the dashboard chart it as 0.
  counter reconciliation_variances{0};
  /// Propagation latency: from an event's acceptance (its journal entry's received_at) to the
  /// channel's answer to the push that put the channel in sync with it (actors/channel.cpp).
  latency_histogram propagation;
  channel_oversells oversold_by_channel;
  counter live_actors{0};
  std::atomic<std::int64_t> in_flight{0};  // deliveries sent to actors and not yet applied
  // checkpoints
  counter checkpoint_rounds{0};
  counter checkpoint_records{0};
  counter checkpoint_failures{0};
  // alerts (actors/alerts.hpp): pages handed to a sink, firings held back (deduplicated or over
  // the budget), pages given up on, sinks whose last delivery failed
  counter alerts_sent{0};
  counter alerts_suppressed{0};
  counter alerts_failed{0};
  counter alert_sinks_failing{0};
  // recovery
  counter recovery_replayed{0};
  std::atomic<bool> ready{false};
};

} // namespace stockd::actors
