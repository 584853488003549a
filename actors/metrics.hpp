#pragma once
// Counters every part of the engine bumps; read by /v1/status and /metrics. Relaxed atomics:
// they are reports, not synchronization.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
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
  counter oversold_units{0};
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
