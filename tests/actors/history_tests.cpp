// The dashboard's history (actors/history.hpp) and the latency histogram under it
// (actors/metrics.hpp), by plain calls: no thread, no clock but the ones the tests give.
#include <catch2/catch.hpp>

#include "actors/history.hpp"
#include "actors/metrics.hpp"

using namespace std::chrono_literals;
using stockd::actors::counter_reading;
using stockd::actors::history_ring;
using stockd::actors::history_sample;
using stockd::actors::history_sampler;
using stockd::actors::latency_histogram;

namespace {

history_sample numbered(std::uint64_t n) {
  history_sample s;
  s.start = stockd::engine::timestamp(std::chrono::milliseconds(static_cast<std::int64_t>(n) * 10'000));
  s.duration = 10s;
  s.events_accepted = n;
  return s;
}

std::vector<std::uint64_t> numbers(const std::vector<history_sample>& samples) {
  std::vector<std::uint64_t> out;
  for (const auto& s : samples) {
    out.push_back(s.events_accepted);
  }
  return out;
}

} // namespace

TEST_CASE("history_ring gives its samples oldest first before it is full", "[history]") {
  history_ring ring(4);
  CHECK(ring.samples().empty());
  CHECK(ring.size() == 0);
  ring.push(numbered(1));
  ring.push(numbered(2));
  ring.push(numbered(3));
  CHECK(ring.size() == 3);
  CHECK(numbers(ring.samples()) == std::vector<std::uint64_t>{1, 2, 3});
}

TEST_CASE("history_ring overwrites its oldest sample once full and keeps exactly its capacity",
          "[history]") {
  history_ring ring(4);
  for (std::uint64_t n = 1; n <= 4; ++n) {
    ring.push(numbered(n));
  }
  CHECK(numbers(ring.samples()) == std::vector<std::uint64_t>{1, 2, 3, 4});
  ring.push(numbered(5));
  CHECK(numbers(ring.samples()) == std::vector<std::uint64_t>{2, 3, 4, 5});
  // Many times around: still the newest four, in order.
  for (std::uint64_t n = 6; n <= 1'003; ++n) {
    ring.push(numbered(n));
  }
  CHECK(ring.size() == 4);
  CHECK(ring.capacity() == 4);
  CHECK(numbers(ring.samples()) == std::vector<std::uint64_t>{1'000, 1'001, 1'002, 1'003});
}

TEST_CASE("history_ring of one slot keeps only the newest sample", "[history]") {
  history_ring ring(1);
  ring.push(numbered(7));
  ring.push(numbered(8));
  CHECK(numbers(ring.samples()) == std::vector<std::uint64_t>{8});
}

TEST_CASE("latency_histogram buckets grow by about a quarter and bound every latency",
          "[history]") {
  CHECK(latency_histogram::upper_bound_ms(0) == 1);
  CHECK(latency_histogram::upper_bound_ms(1) == 2);
  for (std::size_t i = 1; i + 1 < latency_histogram::buckets; ++i) {
    const auto low = latency_histogram::upper_bound_ms(i - 1);
    const auto high = latency_histogram::upper_bound_ms(i);
    CHECK(high > low);
    CHECK(high <= std::max(low + 1, low * 5 / 4));
  }
  // The last bounded bucket is past 20 minutes; beyond it, the open-ended one.
  CHECK(latency_histogram::upper_bound_ms(latency_histogram::buckets - 2) > 20 * 60'000);
  CHECK(latency_histogram::bucket_of(0) == 0);
  CHECK(latency_histogram::bucket_of(1) == 0);
  CHECK(latency_histogram::bucket_of(2) == 1);
  for (std::int64_t ms : {3, 9, 10, 11, 99, 100, 1'000, 12'345, 600'000}) {
    const auto i = latency_histogram::bucket_of(ms);
    CHECK(ms <= latency_histogram::upper_bound_ms(i));
    CHECK(ms > latency_histogram::upper_bound_ms(i - 1));
  }
  CHECK(latency_histogram::bucket_of(std::int64_t{1} << 50) == latency_histogram::buckets - 1);
}

TEST_CASE("latency_histogram quantiles answer the bucket bound holding the rank, none when empty",
          "[history]") {
  latency_histogram h;
  CHECK_FALSE(latency_histogram::quantile_ms(h.read(), 0.5));
  for (int i = 0; i < 98; ++i) {
    h.record(10ms);
  }
  h.record(1'000ms);
  h.record(-5ms);  // a clock step backwards counts as 0, not as a huge number
  const auto counts = h.read();
  CHECK(counts[latency_histogram::bucket_of(10)] == 98);
  CHECK(counts[0] == 1);
  CHECK(latency_histogram::quantile_ms(counts, 0.5) == 10);
  CHECK(latency_histogram::quantile_ms(counts, 0.99) == 10);
  CHECK(*latency_histogram::quantile_ms(counts, 1.0) >= 1'000);
  CHECK(*latency_histogram::quantile_ms(counts, 1.0) < 1'300);
  // Past the last bound: reported as that bound, not as int64 max.
  latency_histogram slow;
  slow.record(std::chrono::hours(5));
  CHECK(latency_histogram::quantile_ms(slow.read(), 0.5) ==
        latency_histogram::upper_bound_ms(latency_histogram::buckets - 2));
}

TEST_CASE("difference of two readings is the interval's counts and latency quantiles",
          "[history]") {
  stockd::actors::metrics m;
  const auto t0 = stockd::engine::timestamp(std::chrono::milliseconds(1'000'000));
  m.events_accepted = 100;
  m.propagation.record(5'000ms);  // before the interval: must not count
  const counter_reading before = stockd::actors::read_counters(m, t0);
  m.events_accepted += 250;
  m.oversold_units += 3;
  m.reconciliation_variances += 2;
  for (int i = 0; i < 10; ++i) {
    m.propagation.record(40ms);
  }
  const counter_reading after = stockd::actors::read_counters(m, t0 + 10s);
  const history_sample s = stockd::actors::difference(before, after);
  CHECK(s.start == t0);
  CHECK(s.duration == 10s);
  CHECK(s.events_accepted == 250);
  CHECK(s.oversold_units == 3);
  CHECK(s.reconciliation_variances == 2);
  CHECK(s.propagated == 10);
  CHECK(s.latency_p50_ms == latency_histogram::upper_bound_ms(latency_histogram::bucket_of(40)));
  CHECK(s.latency_p99_ms == s.latency_p50_ms);

  // Nothing propagated: no latency rather than a latency of 0. A counter that went backwards
  // (it never should) gives 0, not a wrapped huge number.
  counter_reading later = after;
  later.at = after.at + 10s;
  later.events_accepted = after.events_accepted - 1;
  const history_sample quiet = stockd::actors::difference(after, later);
  CHECK(quiet.events_accepted == 0);
  CHECK(quiet.propagated == 0);
  CHECK_FALSE(quiet.latency_p50_ms);
  CHECK_FALSE(quiet.latency_p99_ms);
}

TEST_CASE("history_sampler keeps an hour of intervals and pushes one sample per step",
          "[history]") {
  stockd::actors::metrics m;
  history_sampler ten(m, 10s);
  CHECK(ten.capacity() == 360);
  history_sampler one(m, 1s);
  CHECK(one.capacity() == 3'600);
  history_sampler minute(m, 60s);
  CHECK(minute.capacity() == 60);

  CHECK(ten.samples().empty());
  m.events_accepted += 7;
  CHECK(ten.current().events_accepted == 7);  // the interval in progress
  ten.sample_now();
  m.events_accepted += 5;
  ten.sample_now();
  const auto samples = ten.samples();
  REQUIRE(samples.size() == 2);
  CHECK(samples[0].events_accepted == 7);
  CHECK(samples[1].events_accepted == 5);
  CHECK(samples[1].start >= samples[0].start);
  CHECK(ten.current().events_accepted == 0);
}

TEST_CASE("history_sampler stops its thread promptly and may be stopped twice", "[history]") {
  stockd::actors::metrics m;
  history_sampler sampler(m, 60s);
  sampler.start();
  const auto started = std::chrono::steady_clock::now();
  sampler.stop();
  sampler.stop();
  // Far less than the interval: stop() wakes the thread instead of waiting for its deadline.
  CHECK(std::chrono::steady_clock::now() - started < 30s);
  CHECK(sampler.samples().empty());
}
