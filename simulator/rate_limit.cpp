#include "simulator/rate_limit.hpp"

#include <algorithm>
#include <cassert>

namespace stockd::simulator {
namespace {

double seconds_between(time_point from, time_point to) {
  if (to <= from) {
    return 0.0;  // a clock that stands still (or a test clock set back) restores nothing
  }
  return std::chrono::duration<double>(to - from).count();
}

} // namespace

leaky_bucket::leaky_bucket(double maximum, double restore_per_second, time_point now)
    : maximum_(maximum), restore_per_second_(restore_per_second), available_(maximum),
      last_(now) {
  assert(maximum > 0 && restore_per_second > 0);
}

void leaky_bucket::restore(time_point now) {
  available_ = std::min(maximum_, available_ + seconds_between(last_, now) * restore_per_second_);
  last_ = std::max(last_, now);
}

bool leaky_bucket::try_take(double cost, time_point now) {
  restore(now);
  if (cost > available_) {
    return false;
  }
  available_ -= cost;
  return true;
}

void leaky_bucket::refund(double points) {
  available_ = std::min(maximum_, available_ + std::max(0.0, points));
}

double leaky_bucket::available(time_point now) {
  restore(now);
  return available_;
}

token_bucket::token_bucket(double rate_per_second, double burst, time_point now)
    : rate_(rate_per_second), burst_(burst), tokens_(burst), last_(now) {
  assert(rate_per_second > 0 && burst >= 1);
}

void token_bucket::refill(time_point now) {
  tokens_ = std::min(burst_, tokens_ + seconds_between(last_, now) * rate_);
  last_ = std::max(last_, now);
}

bool token_bucket::try_take(time_point now) {
  refill(now);
  if (tokens_ < 1.0) {
    return false;
  }
  tokens_ -= 1.0;
  return true;
}

double token_bucket::seconds_until_token(time_point now) {
  refill(now);
  return tokens_ >= 1.0 ? 0.0 : (1.0 - tokens_) / rate_;
}

} // namespace stockd::simulator
