#pragma once
// The last hour of a few figures, for the dashboard's charts (GET /v1/history): events accepted,
// propagation latency (p50, p99), oversold units and reconciliation variances, per interval.
// A sampler thread reads the counters of actors/metrics.hpp every interval and pushes the
// difference into a fixed-size ring; nothing here grows with traffic or uptime.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "actors/metrics.hpp"
#include "engine/time.hpp"

namespace stockd::actors {

/// The counters at one moment.
struct counter_reading {
  engine::timestamp at{};  // wall clock: the charts' x axis
  std::uint64_t events_accepted = 0;
  std::uint64_t oversold_units = 0;
  std::uint64_t reconciliation_variances = 0;
  latency_histogram::counts propagation{};
};

counter_reading read_counters(const metrics& m, engine::timestamp at);

/// One interval of history: what happened between two readings.
struct history_sample {
  engine::timestamp start{};
  std::chrono::milliseconds duration{0};
  std::uint64_t events_accepted = 0;
  std::uint64_t oversold_units = 0;
  std::uint64_t reconciliation_variances = 0;
  std::uint64_t propagated = 0;  // latency measurements in the interval
  std::optional<std::int64_t> latency_p50_ms;  // none when nothing propagated
  std::optional<std::int64_t> latency_p99_ms;
};

/// The interval from `before` to `after`. A counter that went backwards (it never should) counts
/// as 0 rather than wrapping.
history_sample difference(const counter_reading& before, const counter_reading& after);

/// The newest `capacity` samples; the oldest is overwritten. Thread-safe (one writer, readers
/// from HTTP threads), a copy on read: at most capacity_max samples of ~100 bytes.
class history_ring {
public:
  static constexpr std::size_t capacity_max = 3600;
  /// 1 <= capacity <= capacity_max.
  explicit history_ring(std::size_t capacity);
  void push(const history_sample& sample);
  /// Oldest first.
  std::vector<history_sample> samples() const;
  std::size_t capacity() const noexcept { return slots_.size(); }
  std::size_t size() const;

private:
  mutable std::mutex mutex_;
  std::vector<history_sample> slots_;
  std::size_t next_ = 0;   // where the next push goes
  std::size_t count_ = 0;  // filled slots, <= capacity
};

/// The ring's filler: a thread that wakes every `interval`, reads the counters and pushes the
/// difference from the previous reading. An hour of history at any interval (capacity =
/// 1 h / interval, at most history_ring::capacity_max).
class history_sampler {
public:
  static constexpr std::chrono::milliseconds window{3'600'000};
  static constexpr std::chrono::milliseconds interval_min{1'000};
  static constexpr std::chrono::milliseconds interval_max{60'000};
  /// `counters` must outlive the sampler; `interval` within [interval_min, interval_max].
  history_sampler(const metrics& counters, std::chrono::milliseconds interval);
  ~history_sampler();
  history_sampler(const history_sampler&) = delete;
  history_sampler& operator=(const history_sampler&) = delete;

  void start();
  /// Joins the thread; idempotent.
  void stop();
  /// One step by hand (tests, and the thread's loop): read now, push the difference.
  void sample_now();

  std::vector<history_sample> samples() const { return ring_.samples(); }
  /// The interval in progress: from the last reading to now (pushed nowhere).
  history_sample current() const;
  std::chrono::milliseconds interval() const noexcept { return interval_; }
  std::size_t capacity() const noexcept { return ring_.capacity(); }

private:
  void run();

  const metrics& counters_;
  std::chrono::milliseconds interval_;
  history_ring ring_;
  mutable std::mutex mutex_;  // guards last_ and stopping_
  std::condition_variable wake_;
  counter_reading last_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace stockd::actors
