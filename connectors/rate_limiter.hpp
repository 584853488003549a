#pragma once
// Pacing for channel APIs (DESIGN §6): what a channel actor asks before every call, "may I call
// now, and if not, how long until I may". Pure: the caller passes the clock, so tests and the
// deterministic simulator drive time themselves. One object per channel account, owned by that
// channel's actor (no locks).
//
//  - token_bucket: Amazon SP-API style (a rate in requests per second and a burst), its rate
//    adjustable from the x-amzn-RateLimit-Limit header the API sends back;
//  - cost_bucket: Shopify GraphQL style (a bucket of query-cost points that restores at a rate),
//    re-based on every response's extensions.cost.throttleStatus rather than a hard-coded rate;
//  - both honour a pause (Retry-After, THROTTLED) before anything else.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>

namespace stockd::connectors {

using limiter_clock = std::chrono::steady_clock;
using limiter_time = limiter_clock::time_point;

class token_bucket {
public:
  /// `per_second` > 0, `burst` >= 1. Starts full.
  token_bucket(double per_second, double burst, limiter_time now);

  /// Zero when a call may go now; else how long until one may.
  limiter_clock::duration wait(limiter_time now);
  /// Takes one token; false (and takes nothing) when wait(now) is not zero.
  bool try_take(limiter_time now);
  /// The API told its real rate (x-amzn-RateLimit-Limit): use it from now on. Values <= 0 or not
  /// finite are ignored.
  void set_rate(double per_second, limiter_time now);
  /// Nothing goes before `until` (a 429's Retry-After); the bucket is emptied too, since the API
  /// just said it is over its limit.
  void pause_until(limiter_time until, limiter_time now);

  double rate() const noexcept { return per_second_; }
  double burst() const noexcept { return burst_; }
  double tokens(limiter_time now);

private:
  void refill(limiter_time now);

  double per_second_;
  double burst_;
  double tokens_;
  limiter_time last_;
  limiter_time paused_until_{};
};

/// Shopify's throttleStatus: points the bucket holds at most, has now, and restores per second.
struct throttle_status {
  double maximum_available = 1000;
  double currently_available = 1000;
  double restore_rate = 50;
};

class cost_bucket {
public:
  /// Starts from what the shop's plan is expected to give; the first response corrects it.
  cost_bucket(throttle_status assumed, limiter_time now);

  /// Zero when a call of `cost` points may go now; else how long until the bucket holds it.
  /// A cost above the maximum is never affordable: the caller must split the call; the wait is
  /// then duration::max().
  limiter_clock::duration wait(double cost, limiter_time now);
  bool affordable(double cost) const noexcept { return cost <= status_.maximum_available; }
  /// Reserves `cost` points for a call about to go (the response's actual cost corrects it).
  bool try_take(double cost, limiter_time now);
  /// Every response reports the bucket as the API sees it after the call: believe it.
  void update(const throttle_status& reported, limiter_time now);
  /// Gives back points a call reserved and did not use (requested − actual cost); never above the
  /// maximum. (The emulator's side of the same bucket.)
  void refund(double points, limiter_time now);
  /// THROTTLED or 429: wait until `until` before anything else.
  void pause_until(limiter_time until, limiter_time now);

  double available(limiter_time now);
  const throttle_status& status() const noexcept { return status_; }

private:
  void restore(limiter_time now);

  throttle_status status_;
  limiter_time last_;
  limiter_time paused_until_{};
};

/// What a channel actor asks before every call: one of the two buckets above. For Shopify the
/// cost bucket, charged each call's expected cost (a mutation, or a read's page: a base and so
/// much per SKU read) and
/// re-based on the throttleStatus every answer reports; for the others the token bucket, one
/// token a call, its rate from the answers' rate-limit header when they send one.
enum class call_kind : std::uint8_t { push, read };

class call_limiter {
public:
  explicit call_limiter(token_bucket bucket) : bucket_(bucket) {}
  /// A read of n SKUs costs read_cost_base + n × read_cost_per_sku, at most read_cost_max.
  call_limiter(cost_bucket bucket, double push_cost, double read_cost_base,
               double read_cost_per_sku, double read_cost_max)
      : bucket_(bucket), push_cost_(push_cost), read_cost_base_(read_cost_base),
        read_cost_per_sku_(read_cost_per_sku), read_cost_max_(read_cost_max) {}

  /// `skus`: how many SKUs a read names (at most that many; a push ignores it).
  limiter_clock::duration wait(call_kind kind, limiter_time now, std::size_t skus = 1);
  bool try_take(call_kind kind, limiter_time now, std::size_t skus = 1);
  void pause_until(limiter_time until, limiter_time now);
  /// What an answer said about pacing (either may be absent).
  void observe(std::optional<double> per_second, const std::optional<throttle_status>& status,
               limiter_time now);

  const token_bucket* tokens() const noexcept { return std::get_if<token_bucket>(&bucket_); }
  const cost_bucket* cost() const noexcept { return std::get_if<cost_bucket>(&bucket_); }

private:
  double cost_of(call_kind kind, std::size_t skus) const noexcept {
    if (kind == call_kind::push) {
      return push_cost_;
    }
    return std::min(read_cost_max_, read_cost_base_ + read_cost_per_sku_ *
                                                          static_cast<double>(std::max<std::size_t>(
                                                              skus, 1)));
  }

  std::variant<token_bucket, cost_bucket> bucket_;
  double push_cost_ = 1;
  double read_cost_base_ = 1;
  double read_cost_per_sku_ = 0;
  double read_cost_max_ = 1;
};

} // namespace stockd::connectors
