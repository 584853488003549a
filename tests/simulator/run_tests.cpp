// The simulator's checker: the world's ground truth by plain calls, then whole runs against the
// real stockd binary (simulator/stockd_process) with the emulators in this process. The runs
// prove both ways: a stockd that pushes every change loses nothing and converges; a stockd that
// pushes nothing (connector "none") is caught overselling and not converging.
#include <catch2/catch.hpp>

#include <iostream>

#include "simulator/run.hpp"
#include "simulator/stockd_process.hpp"
#include "simulator/world.hpp"

#ifndef STOCKD_BINARY
#error "STOCKD_BINARY must name the stockd executable (set by tests/simulator/CMakeLists.txt)"
#endif

using namespace stockd::simulator;
using namespace std::chrono_literals;

namespace {

world small_world(std::int64_t at_l1, std::int64_t at_l2) {
  return world({"L1", "L2"}, {{"A", {at_l1, at_l2}}, {"B", {5, 0}}});
}

/// One scenario run against a fresh stockd configured with `push`; the log on failure.
run_summary run_against_stockd(const scenario& scn, const push_setting& push,
                               std::chrono::milliseconds convergence_timeout) {
  export_channel_credentials();
  channel_set channels;
  if (auto error = channels.start()) {
    FAIL(*error);
  }
  stockd_process_options so;
  so.binary = STOCKD_BINARY;
  so.config_toml = stockd_config(scn, channels.ports(), push);
  stockd_process stockd(so);
  if (auto error = stockd.start()) {
    FAIL(*error);
  }
  run_options o;
  o.scn = scn;
  o.stockd_url = stockd.url();
  o.token = stockd.token();
  o.label = push.label();
  o.drain_timeout = 20s;
  o.convergence_timeout = convergence_timeout;
  run_summary s = run_scenario(o, channels);
  std::cerr << text_report(s, std::nullopt);
  if (!s.error.empty() || s.lost > 0) {
    std::cerr << "stockd log (end):\n" << stockd.log_tail() << "\n";
  }
  stockd.stop();
  channels.stop();
  return s;
}

} // namespace

TEST_CASE("the world counts a sale no shelf can cover as an oversold unit of its channel",
          "[simulator][world]") {
  world w = small_world(1, 1);
  CHECK(w.sell("shopify", "A", "o1"));
  CHECK(w.sell("amazon", "A", "o2"));  // the second unit is at the other location
  CHECK_FALSE(w.sell("amazon", "A", "o3"));
  CHECK_FALSE(w.sell("webhook", "A", "o4"));
  CHECK(w.oversold_units() == 2);
  const auto sales = w.sales();
  CHECK(sales.at("shopify").oversold_units == 0);
  CHECK(sales.at("amazon").units_sold == 2);
  CHECK(sales.at("amazon").oversold_units == 1);
  CHECK(sales.at("webhook").oversold_units == 1);
  CHECK(w.truth("A")->sellable() == 0);
  CHECK(w.truth("A")->on_hand == 2);  // sold, not shipped: still on the shelves
}

TEST_CASE("the WMS settles only acknowledged orders, shipping covered ones and cancelling "
          "oversold ones",
          "[simulator][world]") {
  world w = small_world(1, 0);
  const auto t0 = world_clock::now();
  REQUIRE(w.sell("shopify", "A", "o1"));
  REQUIRE_FALSE(w.sell("shopify", "A", "o2"));
  CHECK(w.settle_due(t0 + 1h, 100).empty());  // stockd has acknowledged neither
  w.order_acknowledged("o2", t0);
  w.order_acknowledged("o2", t0);  // a duplicate send acknowledged again
  w.order_acknowledged("o1", t0 + 10ms);
  auto first = w.settle_due(t0 + 5ms, 100);
  REQUIRE(first.size() == 1);
  CHECK(first[0].order_id == "o2");
  CHECK_FALSE(first[0].covered);
  CHECK(w.truth("A")->on_hand == 1);  // a cancelled oversell moves nothing physical
  auto second = w.settle_due(t0 + 1h, 100);
  REQUIRE(second.size() == 1);
  CHECK(second[0].covered);
  CHECK(w.truth("A")->on_hand == 0);
  CHECK(w.truth("A")->owed == 0);
  CHECK(w.open_orders() == 0);
  w.purchase_ordered("A", 4);
  CHECK(w.truth("A")->incoming == 4);
  w.received("A", 1, 4, true);
  CHECK(w.truth("A")->on_hand == 4);
  CHECK(w.truth("A")->incoming == 0);
}

TEST_CASE("a flash sale's demand goes mostly to the hot SKUs", "[simulator][scenario]") {
  auto scn = scenario_preset("flash_sale");
  REQUIRE(scn);
  CHECK_FALSE(validate(*scn));
  const sku_chooser choose(*scn);
  std::mt19937_64 rng(7);
  int hot = 0;
  for (int i = 0; i < 10'000; ++i) {
    const std::string sku = choose(rng);
    hot += sku < sku_name(*scn, scn->hot_skus) ? 1 : 0;
  }
  CHECK(hot > 9'300);
  CHECK(hot < 9'700);
  CHECK_FALSE(scenario_preset("no_such_scenario"));
}

TEST_CASE("a short steady run against stockd loses no event and every channel converges",
          "[simulator][run]") {
  scenario scn = *scenario_preset("steady");
  scn.duration = 10s;
  scn.skus = 30;
  scn.seed = 11;
  const run_summary s = run_against_stockd(scn, push_setting{}, 20s);
  REQUIRE(s.error.empty());
  CHECK(s.events.created > 100);
  CHECK(s.unanswered == 0);
  CHECK(s.unreflected_skus == 0);
  CHECK(s.lost == 0);
  CHECK(s.units_sold > 50);
  for (const auto& c : s.channels) {
    CHECK(c.api_calls > 0);
    // Every channel, with compare-and-set or not: the checker found channels without it left
    // one unit high (a sale overwritten by a push on its way, then subtracted again from the
    // shadow when its order came); connectors/channel_sync now pushes after such an order.
    CHECK(c.out_of_sync_skus == 0);
  }
  CHECK(s.converged);
}

TEST_CASE("the checker catches a stockd that pushes nothing: oversold units and no convergence",
          "[simulator][run]") {
  scenario scn = *scenario_preset("flash_sale");
  scn.duration = 5s;
  scn.seed = 3;
  push_setting broken;
  broken.mode = push_setting::kind::none;
  const run_summary s = run_against_stockd(scn, broken, 3s);
  REQUIRE(s.error.empty());
  CHECK(s.oversold_units > 0);
  CHECK_FALSE(s.converged);
  CHECK_FALSE(s.mismatches.empty());
  // Still nothing lost: the checker tells a stockd that misses channels from one that loses events.
  CHECK(s.lost == 0);
}

TEST_CASE("the batch baseline with a long interval oversells a flash sale and has not converged "
          "when the checker looks",
          "[simulator][run][baseline]") {
  scenario scn = *scenario_preset("flash_sale");
  scn.duration = 5s;
  scn.seed = 5;
  push_setting baseline;
  baseline.mode = push_setting::kind::interval;
  // Boundaries are multiples of the interval on the steady clock: an hour makes one falling
  // inside this 15 s run (and letting it converge) a 1-in-240 event at worst.
  baseline.interval = std::chrono::hours{1};
  const run_summary s = run_against_stockd(scn, baseline, 3s);
  REQUIRE(s.error.empty());
  CHECK(s.oversold_units > 0);
  CHECK_FALSE(s.converged);
  CHECK(s.lost == 0);
}

TEST_CASE("a short chaos run (duplicates, heavy reordering, channel faults) loses no event",
          "[simulator][run][chaos]") {
  scenario scn = *scenario_preset("chaos");
  scn.duration = 8s;
  scn.skus = 30;
  scn.seed = 13;
  const run_summary s = run_against_stockd(scn, push_setting{}, 20s);
  REQUIRE(s.error.empty());
  CHECK(s.events.duplicate_answers > 0);  // 20 % of the orders are sent twice
  CHECK(s.unanswered == 0);
  CHECK(s.unreflected_skus == 0);
  CHECK(s.lost == 0);
  std::uint64_t faulted = 0;
  for (const auto& c : s.channels) {
    faulted += c.responses_429;
  }
  CHECK(faulted > 0);  // the faults did happen
  CHECK(s.converged);
}
