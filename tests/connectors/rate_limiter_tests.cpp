// The channel API pacers (connectors/rate_limiter.hpp), driven by a hand-held clock.
#include <catch2/catch.hpp>

#include "connectors/channel_options.hpp"
#include "connectors/rate_limiter.hpp"

using namespace stockd::connectors;
using namespace std::chrono_literals;

namespace {
const limiter_time t0 = limiter_time{} + 1000s;
}

TEST_CASE("a token bucket lets a burst through, then paces at its rate", "[connectors][limiter]") {
  token_bucket bucket(5.0, 5.0, t0);  // Amazon's patchListingsItem: 5/s, burst 5
  for (int i = 0; i < 5; ++i) {
    CHECK(bucket.try_take(t0));
  }
  CHECK_FALSE(bucket.try_take(t0));
  CHECK(bucket.wait(t0) == 200ms);  // one token every 1/5 s
  CHECK_FALSE(bucket.try_take(t0 + 199ms));
  CHECK(bucket.try_take(t0 + 200ms));
  // Over one idle minute it refills to the burst, never past it.
  CHECK(bucket.tokens(t0 + 60s) == Approx(5.0));
  int calls = 0;
  for (auto t = t0 + 60s; t < t0 + 70s; t += 10ms) {
    calls += bucket.try_take(t) ? 1 : 0;
  }
  CHECK(calls == 5 + 50 - 1);  // the burst, then 5/s for 10 s (the last token lands at 70 s)
}

TEST_CASE("a token bucket takes the rate the API reports and honours Retry-After",
          "[connectors][limiter]") {
  token_bucket bucket(5.0, 5.0, t0);
  bucket.set_rate(0.5, t0);  // x-amzn-RateLimit-Limit: 0.5
  CHECK(bucket.rate() == 0.5);
  bucket.set_rate(-1, t0);  // nonsense is ignored
  bucket.set_rate(0, t0);
  CHECK(bucket.rate() == 0.5);
  bucket.pause_until(t0 + 3s, t0);  // a 429 with Retry-After: 3
  CHECK(bucket.wait(t0 + 1s) == 2s);
  CHECK_FALSE(bucket.try_take(t0 + 2999ms));
  // After the pause the bucket starts from empty: at 0.5/s, 3 s of refill is 1.5 tokens.
  CHECK(bucket.try_take(t0 + 3s));
  CHECK_FALSE(bucket.try_take(t0 + 3s));
}

TEST_CASE("a cost bucket spends query cost and restores at the reported rate",
          "[connectors][limiter]") {
  cost_bucket bucket({1000, 1000, 50}, t0);  // Shopify standard: 1000 points, 50/s
  CHECK(bucket.try_take(600, t0));
  CHECK(bucket.available(t0) == Approx(400));
  CHECK_FALSE(bucket.try_take(600, t0));
  CHECK(bucket.wait(600, t0) == 4s);  // 200 points short at 50/s
  CHECK(bucket.try_take(600, t0 + 4s));
  // A call above the maximum can never go: the caller must split it.
  CHECK_FALSE(bucket.affordable(1001));
  CHECK(bucket.wait(1001, t0 + 100s) == limiter_clock::duration::max());
  CHECK_FALSE(bucket.try_take(1001, t0 + 100s));
}

TEST_CASE("a cost bucket believes every response's throttleStatus", "[connectors][limiter]") {
  cost_bucket bucket({1000, 1000, 50}, t0);
  // A Plus shop: 10,000 points restoring at 500/s; the response says 7,000 are left.
  bucket.update({10000, 7000, 500}, t0);
  CHECK(bucket.available(t0) == Approx(7000));
  CHECK(bucket.available(t0 + 2s) == Approx(8000));
  CHECK(bucket.try_take(8000, t0 + 2s));
  // Another client spent from the same bucket: the report lowers what we think is there.
  bucket.update({10000, 100, 500}, t0 + 2s);
  CHECK(bucket.wait(600, t0 + 2s) == 1s);
  // A malformed report changes nothing.
  bucket.update({0, 5, 500}, t0 + 2s);
  bucket.update({10000, -1, 500}, t0 + 2s);
  CHECK(bucket.status().maximum_available == 10000);
  // THROTTLED: wait as told, whatever the bucket says.
  bucket.pause_until(t0 + 10s, t0 + 3s);
  CHECK(bucket.wait(1, t0 + 3s) == 7s);
  CHECK(bucket.try_take(1, t0 + 10s));
}

TEST_CASE("a shopify channel paces on the cost bucket its answers report",
          "[connectors][limiter]") {
  channel_options shop;
  shop.connector = connector_kind::shopify;
  shop.requests_per_second = 0.001;  // ignored: Shopify says its own rate
  call_limiter limiter = limiter_for(shop, t0);
  REQUIRE(limiter.cost() != nullptr);
  // Until an answer says otherwise: the smallest plan's 1,000 points, 10 a mutation.
  CHECK(limiter.cost()->status().maximum_available == 1000);
  CHECK(limiter.try_take(call_kind::push, t0));
  CHECK(limiter.cost()->status().currently_available == Approx(990));
  // An answer reports a nearly empty 2,000 bucket restoring 100/s: pushes wait for 10 points,
  // a read for 12 points and 1 a SKU (shopify_items_body): one SKU for 13, a page of 250 for
  // 252 (Shopify's 2 + first, first at most 250).
  limiter.observe(std::nullopt, throttle_status{2000, 5, 100}, t0);
  CHECK(limiter.wait(call_kind::push, t0) == 50ms);
  CHECK(limiter.wait(call_kind::read, t0, 250) == 2470ms);
  CHECK(limiter.wait(call_kind::read, t0, 1) == 80ms);
  CHECK_FALSE(limiter.try_take(call_kind::push, t0 + 49ms));
  CHECK(limiter.try_take(call_kind::push, t0 + 50ms));
  // A rate header means nothing to it; a THROTTLED pause holds everything.
  limiter.observe(1000.0, std::nullopt, t0 + 50ms);
  CHECK(limiter.wait(call_kind::push, t0 + 50ms) == 100ms);
  limiter.pause_until(t0 + 5s, t0 + 50ms);
  CHECK(limiter.wait(call_kind::push, t0 + 1s) == 4s);
}

TEST_CASE("other channels pace one token a call at token_pace of their configured rate",
          "[connectors][limiter]") {
  channel_options hook;
  hook.connector = connector_kind::webhook;
  hook.requests_per_second = 2 / token_pace;  // paced at 2 calls/s
  hook.burst = 1;
  call_limiter limiter = limiter_for(hook, t0);
  REQUIRE(limiter.tokens() != nullptr);
  CHECK(limiter.tokens()->rate() == Approx(2.0));
  CHECK(limiter.try_take(call_kind::push, t0));
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(limiter.wait(call_kind::read, t0)) ==
        500ms);
  limiter.observe(std::nullopt, throttle_status{2000, 2000, 100}, t0);  // not its kind
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(limiter.wait(call_kind::push, t0)) ==
        500ms);
  limiter.observe(10.0, std::nullopt, t0);  // x-amzn-RateLimit-Limit
  CHECK(limiter.tokens()->rate() == 10.0);
}
