#include "connectors/rate_limiter.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace stockd::connectors {
namespace {

double seconds_between(limiter_time from, limiter_time to) {
  return to <= from ? 0.0 : std::chrono::duration<double>(to - from).count();
}

limiter_clock::duration from_seconds(double s) {
  // Rounded up, so a caller that sleeps exactly this long finds the token there.
  return std::chrono::ceil<limiter_clock::duration>(std::chrono::duration<double>(s));
}

} // namespace

token_bucket::token_bucket(double per_second, double burst, limiter_time now)
    : per_second_(per_second), burst_(burst), tokens_(burst), last_(now) {
  assert(per_second > 0 && burst >= 1);
}

void token_bucket::refill(limiter_time now) {
  tokens_ = std::min(burst_, tokens_ + seconds_between(last_, now) * per_second_);
  last_ = std::max(last_, now);
}

double token_bucket::tokens(limiter_time now) {
  refill(now);
  return tokens_;
}

limiter_clock::duration token_bucket::wait(limiter_time now) {
  refill(now);
  if (now < paused_until_) {
    return paused_until_ - now;
  }
  if (tokens_ >= 1.0) {
    return limiter_clock::duration::zero();
  }
  return from_seconds((1.0 - tokens_) / per_second_);
}

bool token_bucket::try_take(limiter_time now) {
  if (wait(now) != limiter_clock::duration::zero()) {
    return false;
  }
  tokens_ -= 1.0;
  return true;
}

void token_bucket::set_rate(double per_second, limiter_time now) {
  if (!std::isfinite(per_second) || per_second <= 0) {
    return;
  }
  refill(now);
  per_second_ = per_second;
}

void token_bucket::pause_until(limiter_time until, limiter_time now) {
  refill(now);
  tokens_ = 0;
  paused_until_ = std::max(paused_until_, until);
}

cost_bucket::cost_bucket(throttle_status assumed, limiter_time now)
    : status_(assumed), last_(now) {}

void cost_bucket::restore(limiter_time now) {
  status_.currently_available =
      std::min(status_.maximum_available,
               status_.currently_available + seconds_between(last_, now) * status_.restore_rate);
  last_ = std::max(last_, now);
}

double cost_bucket::available(limiter_time now) {
  restore(now);
  return status_.currently_available;
}

limiter_clock::duration cost_bucket::wait(double cost, limiter_time now) {
  restore(now);
  if (!affordable(cost)) {
    return limiter_clock::duration::max();  // no wait makes it affordable: split the call
  }
  if (now < paused_until_) {
    return paused_until_ - now;
  }
  const double needed = cost;
  if (status_.currently_available >= needed) {
    return limiter_clock::duration::zero();
  }
  if (status_.restore_rate <= 0) {
    return std::chrono::seconds(1);  // a bucket that restores nothing: ask again later
  }
  return from_seconds((needed - status_.currently_available) / status_.restore_rate);
}

bool cost_bucket::try_take(double cost, limiter_time now) {
  if (wait(cost, now) != limiter_clock::duration::zero()) {
    return false;
  }
  status_.currently_available -= cost;
  return true;
}

void cost_bucket::update(const throttle_status& reported, limiter_time now) {
  if (!(reported.maximum_available > 0) || !(reported.restore_rate >= 0) ||
      !(reported.currently_available >= 0)) {
    return;  // a malformed report must not stall or unleash the channel
  }
  status_ = reported;
  status_.currently_available = std::min(status_.currently_available, status_.maximum_available);
  last_ = std::max(last_, now);
}

void cost_bucket::refund(double points, limiter_time now) {
  restore(now);
  if (points > 0) {
    status_.currently_available =
        std::min(status_.maximum_available, status_.currently_available + points);
  }
}

void cost_bucket::pause_until(limiter_time until, limiter_time now) {
  restore(now);
  paused_until_ = std::max(paused_until_, until);
}

limiter_clock::duration call_limiter::wait(call_kind kind, limiter_time now, std::size_t skus) {
  if (auto* cost = std::get_if<cost_bucket>(&bucket_)) {
    return cost->wait(cost_of(kind, skus), now);
  }
  return std::get<token_bucket>(bucket_).wait(now);
}

bool call_limiter::try_take(call_kind kind, limiter_time now, std::size_t skus) {
  if (auto* cost = std::get_if<cost_bucket>(&bucket_)) {
    return cost->try_take(cost_of(kind, skus), now);
  }
  return std::get<token_bucket>(bucket_).try_take(now);
}

void call_limiter::pause_until(limiter_time until, limiter_time now) {
  std::visit([&](auto& bucket) { bucket.pause_until(until, now); }, bucket_);
}

void call_limiter::observe(std::optional<double> per_second,
                           const std::optional<throttle_status>& status, limiter_time now) {
  if (auto* cost = std::get_if<cost_bucket>(&bucket_)) {
    if (status) {
      cost->update(*status, now);
    }
  } else if (per_second) {
    std::get<token_bucket>(bucket_).set_rate(*per_second, now);
  }
}

} // namespace stockd::connectors
