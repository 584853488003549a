#pragma once
// The two rate limiters the channels use, as plain values that take `now` (no clock inside, so
// tests drive them deterministically).
#include <chrono>
#include <cstdint>

namespace stockd::simulator {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;

/// Shopify's cost bucket: `maximum` points, restored at `restore_per_second`; a request takes its
/// requested cost up front and gets back the difference to its actual cost.
class leaky_bucket {
public:
  leaky_bucket(double maximum, double restore_per_second, time_point now);
  /// Takes `cost` points if that many are available now; false (and nothing taken) otherwise.
  bool try_take(double cost, time_point now);
  /// Gives back points (requested − actual); never above the maximum.
  void refund(double points);
  double available(time_point now);
  double maximum() const noexcept { return maximum_; }
  double restore_per_second() const noexcept { return restore_per_second_; }

private:
  void restore(time_point now);
  double maximum_;
  double restore_per_second_;
  double available_;
  time_point last_;
};

/// Amazon's (and the webhook emulator's) token bucket: `rate` tokens per second, at most `burst`.
class token_bucket {
public:
  token_bucket(double rate_per_second, double burst, time_point now);
  bool try_take(time_point now);
  /// Seconds until one token is available (0 when one is).
  double seconds_until_token(time_point now);
  double rate() const noexcept { return rate_; }
  double burst() const noexcept { return burst_; }

private:
  void refill(time_point now);
  double rate_;
  double burst_;
  double tokens_;
  time_point last_;
};

} // namespace stockd::simulator
