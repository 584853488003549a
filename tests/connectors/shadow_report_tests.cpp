#include <catch2/catch.hpp>

#include "connectors/shadow_report.hpp"

using stockd::connectors::shadow_report;
using stockd::connectors::sync_time;
using stockd::engine::sku_id;

namespace {
sync_time at_ms(std::int64_t ms) {
  return sync_time{} + std::chrono::milliseconds(ms);
}
} // namespace

TEST_CASE("shadow_report with nothing compared claims no agreement", "[connectors][shadow]") {
  shadow_report r;
  auto s = r.report(at_ms(5));
  CHECK(s.compared == 0);
  CHECK_FALSE(s.share_equal.has_value());  // not 1: every read may have failed
  CHECK(s.largest.empty());
  CHECK_FALSE(s.last_round_age_ms.has_value());
}

TEST_CASE("shadow_report gives the share equal and the largest differences first",
          "[connectors][shadow]") {
  shadow_report r;
  r.compared(sku_id("A"), 10, 10, at_ms(0));
  r.compared(sku_id("B"), 10, 7, at_ms(0));   // 3 apart
  r.compared(sku_id("C"), 0, 12, at_ms(0));   // 12 apart
  r.compared(sku_id("D"), 5, 5, at_ms(0));
  r.round_done(at_ms(0));
  auto s = r.report(at_ms(1'000));
  CHECK(s.compared == 4);
  CHECK(s.equal == 2);
  CHECK(s.share_equal == Approx(0.5));
  CHECK(s.open == 2);
  REQUIRE(s.largest.size() == 2);
  CHECK(s.largest[0].sku.str() == "C");
  CHECK(s.largest[0].expected == 0);
  CHECK(s.largest[0].channel == 12);
  CHECK(s.largest[0].age_ms == 1'000);
  CHECK(s.largest[1].sku.str() == "B");
  CHECK(s.oldest_open_ms == 1'000);
  CHECK(s.rounds == 1);
  CHECK(s.last_round_age_ms == 1'000);
  CHECK(s.comparisons == 4);
}

TEST_CASE("shadow_report measures how long a difference lasted, from read to read",
          "[connectors][shadow]") {
  shadow_report r;
  r.compared(sku_id("A"), 4, 3, at_ms(0));
  r.compared(sku_id("A"), 4, 2, at_ms(1'000));  // still different: the episode goes on
  r.compared(sku_id("A"), 2, 2, at_ms(3'000));  // equal: it lasted 3 s
  r.compared(sku_id("B"), 1, 0, at_ms(3'000));
  r.compared(sku_id("B"), 0, 0, at_ms(4'000));  // 1 s
  auto s = r.report(at_ms(5'000));
  CHECK(s.open == 0);
  CHECK(s.equal == 2);
  CHECK(s.episodes_closed == 2);
  CHECK(s.longest_closed_ms == 3'000);
  CHECK(s.mean_closed_ms == 2'000);
  // A new difference is a new episode.
  r.compared(sku_id("A"), 9, 2, at_ms(6'000));
  s = r.report(at_ms(6'500));
  CHECK(s.open == 1);
  CHECK(s.oldest_open_ms == 500);
  r.forget(sku_id("A"), at_ms(7'000));
  s = r.report(at_ms(7'000));
  CHECK(s.compared == 1);
  CHECK(s.episodes_closed == 3);
}

TEST_CASE("shadow_report lists at most ten differences", "[connectors][shadow]") {
  shadow_report r;
  for (int i = 0; i < 25; ++i) {
    r.compared(sku_id("S" + std::to_string(i)), i, 0, at_ms(0));
  }
  auto s = r.report(at_ms(0));
  CHECK(s.open == 24);  // S0 is equal
  REQUIRE(s.largest.size() == shadow_report::largest_max);
  CHECK(s.largest[0].sku.str() == "S24");
  CHECK(s.largest[9].sku.str() == "S15");
}

TEST_CASE("shadow_report counts a SKU the channel does not list as a difference until it is listed",
          "[connectors][shadow]") {
  shadow_report r;
  r.compared(sku_id("A"), 5, 5, at_ms(0));
  r.missing(sku_id("B"), 7, at_ms(0));
  r.missing(sku_id("Z"), 0, at_ms(0));  // stockd would push 0, and the channel lacks it still
  auto s = r.report(at_ms(2'000));
  CHECK(s.compared == 3);
  CHECK(s.equal == 1);
  CHECK(s.missing == 2);
  REQUIRE(s.share_equal.has_value());
  CHECK(*s.share_equal == Approx(1.0 / 3.0));
  REQUIRE(s.largest.size() == 2);
  CHECK(s.largest[0].sku.str() == "B");  // 7 apart, as if it showed 0
  CHECK_FALSE(s.largest[0].channel.has_value());
  CHECK(s.largest[0].age_ms == 2'000);
  // Listed at last: the episode ends when the value agrees.
  r.compared(sku_id("B"), 7, 7, at_ms(3'000));
  s = r.report(at_ms(3'000));
  CHECK(s.missing == 1);
  CHECK(s.episodes_closed == 1);
  CHECK(s.longest_closed_ms == 3'000);
}
