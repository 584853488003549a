#include "actors/history.hpp"

#include <algorithm>
#include <cassert>
#include <pthread.h>

namespace stockd::actors {
namespace {

engine::timestamp wall_now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::uint64_t minus(std::uint64_t after, std::uint64_t before) {
  return after >= before ? after - before : 0;
}

} // namespace

counter_reading read_counters(const metrics& m, engine::timestamp at) {
  counter_reading r;
  r.at = at;
  r.events_accepted = m.events_accepted.load(std::memory_order_relaxed);
  r.oversold_units = m.oversold_units.load(std::memory_order_relaxed);
  r.reconciliation_variances = m.reconciliation_variances.load(std::memory_order_relaxed);
  r.propagation = m.propagation.read();
  return r;
}

history_sample difference(const counter_reading& before, const counter_reading& after) {
  history_sample s;
  s.start = before.at;
  s.duration = std::max(std::chrono::milliseconds(0), after.at - before.at);
  s.events_accepted = minus(after.events_accepted, before.events_accepted);
  s.oversold_units = minus(after.oversold_units, before.oversold_units);
  s.reconciliation_variances =
      minus(after.reconciliation_variances, before.reconciliation_variances);
  latency_histogram::counts delta{};
  for (std::size_t i = 0; i < delta.size(); ++i) {
    delta[i] = minus(after.propagation[i], before.propagation[i]);
    s.propagated += delta[i];
  }
  s.latency_p50_ms = latency_histogram::quantile_ms(delta, 0.50);
  s.latency_p99_ms = latency_histogram::quantile_ms(delta, 0.99);
  return s;
}

history_ring::history_ring(std::size_t capacity) : slots_(capacity) {
  assert(capacity >= 1 && capacity <= capacity_max);
}

void history_ring::push(const history_sample& sample) {
  std::lock_guard lock(mutex_);
  slots_[next_] = sample;
  next_ = (next_ + 1) % slots_.size();
  count_ = std::min(count_ + 1, slots_.size());
}

std::vector<history_sample> history_ring::samples() const {
  std::lock_guard lock(mutex_);
  std::vector<history_sample> out;
  out.reserve(count_);
  // The oldest is at next_ once the ring is full, at 0 before.
  const std::size_t first = count_ == slots_.size() ? next_ : 0;
  for (std::size_t i = 0; i < count_; ++i) {
    out.push_back(slots_[(first + i) % slots_.size()]);
  }
  return out;
}

std::size_t history_ring::size() const {
  std::lock_guard lock(mutex_);
  return count_;
}

namespace {
std::size_t capacity_for(std::chrono::milliseconds interval) {
  assert(interval >= history_sampler::interval_min && interval <= history_sampler::interval_max);
  const auto n = static_cast<std::size_t>(history_sampler::window / interval);
  return std::clamp<std::size_t>(n, 1, history_ring::capacity_max);
}
} // namespace

history_sampler::history_sampler(const metrics& counters, std::chrono::milliseconds interval)
    : counters_(counters), interval_(interval), ring_(capacity_for(interval)),
      last_(read_counters(counters, wall_now())) {}

history_sampler::~history_sampler() { stop(); }

void history_sampler::start() {
  assert(!thread_.joinable());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "stockd-history");
    run();
  });
}

void history_sampler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void history_sampler::sample_now() {
  const counter_reading now = read_counters(counters_, wall_now());
  history_sample sample;
  {
    std::lock_guard lock(mutex_);
    sample = difference(last_, now);
    last_ = now;
  }
  ring_.push(sample);
}

history_sample history_sampler::current() const {
  const counter_reading now = read_counters(counters_, wall_now());
  std::lock_guard lock(mutex_);
  return difference(last_, now);
}

void history_sampler::run() {
  // Deadlines on the steady clock, one interval apart, so a slow sample does not shift the rest.
  auto next = std::chrono::steady_clock::now() + interval_;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (wake_.wait_until(lock, next, [this] { return stopping_; })) {
      break;
    }
    lock.unlock();
    sample_now();
    lock.lock();
    next += interval_;
    const auto now = std::chrono::steady_clock::now();
    if (next <= now) {
      next = now + interval_;  // suspended or starved: skip the missed deadlines
    }
  }
}

} // namespace stockd::actors
