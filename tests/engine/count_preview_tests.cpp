// preview_count(): what a count would do (a snapshot's variance report), by the same rules as
// apply() and without changing the state.
#include <catch2/catch.hpp>

#include "engine/count_preview.hpp"
#include "event_builders.hpp"

using namespace stockd::engine;
using namespace stockd::engine::testing;

TEST_CASE("preview_count says what a count would do and leaves the state as it was",
          "[engine][preview]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 2));
  const sku_location_state before = h.state;
  const count_preview p = preview_count(h.state, count(7, at("2026-11-27T10:30:00Z")));
  CHECK(p.kind == outcome_kind::applied);
  CHECK(p.reason.empty());
  CHECK(p.on_hand_before == 10);
  CHECK(p.on_hand_after == 7);
  CHECK(p.delta() == -3);
  CHECK(h.state == before);
}

TEST_CASE("preview_count of a dated count adds back what changed since its as_of, as apply does",
          "[engine][preview]") {
  harness h;
  h.ok(occurred(receive(10), "2026-11-27T09:00:00Z"));
  h.ok(occurred(receive(24), "2026-11-27T10:06:00Z"));
  // Counted 9 at 10:04, before the receipt of 24 at 10:06 landed: on_hand would be 33, not 9.
  const event counted = count(9, at("2026-11-27T10:04:00Z"));
  const count_preview p = preview_count(h.state, counted);
  CHECK(p.kind == outcome_kind::applied);
  CHECK(p.on_hand_before == 34);
  CHECK(p.on_hand_after == 33);
  CHECK(p.delta() == -1);
  // And the apply itself agrees.
  h.ok(counted);
  CHECK(h.q().on_hand() == p.on_hand_after);
}

TEST_CASE("preview_count of a count older than the last applied count is stale and changes "
          "nothing",
          "[engine][preview]") {
  harness h;
  h.ok(receive(10));
  h.ok(count(8, at("2026-11-27T10:10:00Z")));
  const count_preview p = preview_count(h.state, count(3, at("2026-11-27T10:05:00Z")));
  CHECK(p.kind == outcome_kind::stale);
  CHECK_THAT(p.reason, Catch::Contains("older than the last count"));
  CHECK(p.on_hand_before == 8);
  CHECK(p.on_hand_after == 8);
  CHECK(p.delta() == 0);
  // A recount at the same as_of is no longer stale: it replaces the count.
  const count_preview recount = preview_count(h.state, count(6, at("2026-11-27T10:10:00Z")));
  CHECK(recount.kind == outcome_kind::applied);
  CHECK(recount.delta() == -2);
}

TEST_CASE("preview_count of a key never seen compares against zero on hand",
          "[engine][preview]") {
  const count_preview p = preview_count(harness::fresh(), count(6, at("2026-11-27T10:04:00Z")));
  CHECK(p.kind == outcome_kind::applied);
  CHECK(p.on_hand_before == 0);
  CHECK(p.on_hand_after == 6);
  CHECK(p.delta() == 6);
}

TEST_CASE("preview_count of a count dated before the physical history kept is rejected as apply "
          "rejects it",
          "[engine][preview]") {
  harness h;
  for (std::size_t i = 0; i < state_limits::physical_history_max + 1; ++i) {
    h.ok(occurred(adjust(1), "2026-11-27T10:00:00Z"));
  }
  const count_preview p = preview_count(h.state, count(3, at("2026-11-27T09:00:00Z")));
  CHECK(p.kind == outcome_kind::rejected);
  CHECK_THAT(p.reason, Catch::StartsWith("limit"));
  CHECK(p.on_hand_after == p.on_hand_before);
  CHECK(h.apply(count(3, at("2026-11-27T09:00:00Z"))).kind == outcome_kind::rejected);
}

TEST_CASE("preview_count agrees with apply on every count of a day of mixed events",
          "[engine][preview]") {
  // A day of receipts, sales, fulfilments and counts; before each count is applied its preview
  // must name exactly the outcome and the on_hand the apply then produces.
  harness h;
  int counts = 0;
  for (int hour = 0; hour < 24; ++hour) {
    const std::string hh = (hour < 10 ? "0" : "") + std::to_string(hour);
    const std::string stamp = "2026-11-27T" + hh + ":";
    h.ok(occurred(receive(5 + hour % 3), stamp + "10:00Z"));
    const std::string order_id = "O" + std::to_string(hour);
    h.ok(occurred(order(order_id, "1", 2), stamp + "20:00Z"));
    h.ok(occurred(fulfil(order_id, "1", 1), stamp + "30:00Z"));
    // Every third count is dated an hour back, behind the previous count: stale.
    const bool behind = hour % 3 == 2;
    const std::string as_of =
        behind ? "2026-11-27T" + std::string(hour - 1 < 10 ? "0" : "") +
                     std::to_string(hour - 1) + ":00:00Z"
               : stamp + "25:00Z";
    const event counted = count(hour % 7, at(as_of));
    const count_preview p = preview_count(h.state, counted);
    const std::int64_t before = h.q().on_hand();
    const outcome o = h.apply(counted);
    INFO("hour " << hour << ": " << o.reason);
    CHECK(p.kind == o.kind);
    CHECK(p.on_hand_before == before);
    CHECK(p.on_hand_after == h.q().on_hand());
    counts += o.kind == outcome_kind::applied ? 1 : 0;
  }
  CHECK(counts == 16);
}
