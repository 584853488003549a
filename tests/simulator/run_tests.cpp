// The simulator's checker: the world's ground truth by plain calls, then whole runs against the
// real stockd binary (simulator/stockd_process) with the emulators in this process. The runs
// prove both ways: a stockd that pushes every change loses nothing and converges; a stockd that
// pushes nothing (connector "none") is caught overselling and not converging.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <iostream>
#include <sstream>

#include "simulator/run.hpp"
#include "simulator/stockd_process.hpp"
#include "simulator/world.hpp"
#include "tests/simulator/report_check.hpp"

#ifndef STOCKD_BINARY
#error "STOCKD_BINARY must name the stockd executable (set by tests/simulator/CMakeLists.txt)"
#endif

using namespace stockd::simulator;
using namespace std::chrono_literals;

namespace {

world small_world(std::int64_t at_l1, std::int64_t at_l2) {
  return world({"L1", "L2"}, {{"A", {at_l1, at_l2}}, {"B", {5, 0}}});
}

/// One scenario run against a fresh stockd configured with `push`; the log on failure. The
/// progress lines go to `progress` when given.
run_summary run_against_stockd(const scenario& scn, const push_setting& push,
                               std::chrono::milliseconds convergence_timeout,
                               std::ostream* progress = nullptr) {
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
  o.progress = progress;
  o.stockd_rss = [&stockd] { return stockd.resident_bytes(); };
  run_summary s = run_scenario(o, channels);
  s.stockd_ready_s = std::chrono::duration<double>(stockd.ready_after()).count();
  std::cerr << text_report(s, std::nullopt);
  if (!s.error.empty() || s.lost > 0) {
    std::cerr << "stockd log (end):\n" << stockd.log_tail() << "\n";
  }
  stockd.stop();
  channels.stop();
  return s;
}

/// Kits (on in steady and chaos): sold on the channels, and every channel showing stockd's
/// expected value for each kit at the end.
void check_kits(const run_summary& s, std::size_t defined) {
  REQUIRE(s.kits.size() == defined);
  CHECK(s.kit_units_sold > 0);
  CHECK(s.kit_oversold_units <= s.kit_units_sold);
  std::uint64_t sold = 0;
  for (const kit_summary& k : s.kits) {
    INFO(k.sku);
    CHECK(k.components.size() >= 2);
    CHECK(k.out_of_sync_channels == 0);
    sold += k.units_sold;
  }
  CHECK(sold == s.kit_units_sold);
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
  w.order_acknowledged("o2", t0, 0);
  w.order_acknowledged("o2", t0);  // a duplicate send acknowledged again
  w.order_acknowledged("o1", t0 + 10ms, 0);
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

TEST_CASE("the WMS ships a line from the location stockd placed it at, keeps the first placement, "
          "waits for a placement only duplicates answered, and oversells a line placed where no "
          "free unit is",
          "[simulator][world]") {
  world w({"L1", "L2"}, {{"A", {1, 1}}});
  const auto t0 = world_clock::now();
  REQUIRE(w.sell("shopify", "A", "o1"));
  REQUIRE(w.sell("amazon", "A", "o2"));  // covered: L2 has a unit nobody was promised
  CHECK(w.truth("A")->sellable() == 0);
  // stockd placed o1 at L2, not at the first shelf holding a unit; a later answer saying L1
  // (it cannot, but the first placement is the journaled one) changes nothing.
  w.order_acknowledged("o1", t0, 1);
  w.order_acknowledged("o1", t0, 0);
  CHECK(w.free_at("A", 1) == 0);
  CHECK(w.free_at("A", 0) == 1);
  // o2: only a duplicate answer, no location. Not settled until the WMS knows where it went.
  w.order_acknowledged("o2", t0);
  const auto unplaced = w.unplaced_acknowledged(10);
  REQUIRE(unplaced.size() == 1);
  CHECK(unplaced[0].order_id == "o2");
  CHECK(unplaced[0].channel == "amazon");
  CHECK(unplaced[0].sku == "A");
  auto lines = w.settle_due(t0 + 1h, 10);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].order_id == "o1");
  CHECK(lines[0].covered);
  CHECK(lines[0].location == 1);
  CHECK(w.on_hand_at("A", 0) == 1);
  CHECK(w.on_hand_at("A", 1) == 0);  // the unit left L2, where stockd committed it
  // The trace says stockd placed o2 at L2 too: no free unit there (L1 has one). stockd records
  // the oversell at L2; the merchant cancels the line, it does not ship from L1.
  w.order_acknowledged("o2", t0, 1);
  CHECK(w.unplaced_acknowledged(10).empty());
  CHECK(w.misplaced() == 1);
  CHECK(w.sales().at("amazon").oversold_units == 1);
  lines = w.settle_due(t0 + 1h, 10);
  REQUIRE(lines.size() == 1);
  CHECK_FALSE(lines[0].covered);
  CHECK(lines[0].location == 1);
  CHECK(w.on_hand_at("A", 0) == 1);  // nothing physical moved
  CHECK(w.truth("A")->sellable() == 1);
  // A hold stockd placed at L1: the till's line opens there and ships from there.
  CHECK(w.reserved_sale("pos", "A", "p1", 1, 0));
  w.order_acknowledged("p1", t0);
  lines = w.settle_due(t0 + 1h, 10);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].covered);
  CHECK(lines[0].location == 0);
  CHECK(w.on_hand_at("A", 0) == 0);
  // A hold placed where lines took every unit is stockd's mistake: oversold.
  w.received("A", 1, 1, false);
  REQUIRE(w.sell("shopify", "A", "o3"));
  w.order_acknowledged("o3", t0, 1);
  CHECK_FALSE(w.reserved_sale("pos", "A", "p2", 1, 1));
  CHECK(w.open_orders() == 2);
}

TEST_CASE("a sale through a stockd reservation takes over the units of a blind channel's order "
          "stockd has not acknowledged, and is oversold only when there is none",
          "[simulator][world]") {
  world w({"L1"}, {{"A", {2}}});
  REQUIRE(w.sell("shopify", "A", "o1"));
  REQUIRE(w.sell("amazon", "A", "o2"));
  w.order_acknowledged("o1", world_clock::now());  // stockd has o1, not o2
  // stockd granted a hold of 1 (it knows only o1): o2's unit is taken over.
  CHECK(w.reserved_sale("pos", "A", "p1", 1));
  CHECK(w.taken_over() == 1);
  auto sales = w.sales();
  CHECK(sales.at("amazon").oversold_units == 1);
  CHECK(sales.at("shopify").oversold_units == 0);
  CHECK(sales.at("pos").oversold_units == 0);
  CHECK(w.truth("A")->owed == 2);  // o1 and p1
  // Nothing left to take over (o1 is stockd's): a hold on stock that is not there is oversold.
  CHECK_FALSE(w.reserved_sale("pos", "A", "p2", 1));
  CHECK(w.sales().at("pos").oversold_units == 1);
  w.order_acknowledged("o2", world_clock::now());
  w.order_acknowledged("p1", world_clock::now());
  w.order_acknowledged("p2", world_clock::now());
  int shipped = 0;
  int cancelled = 0;
  for (const auto& line : w.settle_due(world_clock::now() + 1h, 10)) {
    (line.covered ? shipped : cancelled) += 1;
  }
  CHECK(shipped == 2);
  CHECK(cancelled == 2);
  CHECK(w.truth("A")->on_hand == 0);
}

TEST_CASE("the world judges a kit sale on its components: covered only when every component "
          "has the units, promising all of them, else an oversold kit of its channel",
          "[simulator][world][kits]") {
  // K = 2 × A + 1 × B. A: 2 at L1; B: 1 at L1, 1 at L2.
  world w({"L1", "L2"}, {{"A", {2, 0}}, {"B", {1, 1}}, {"C", {3, 3}}}, 0,
          {{"K", {{"A", 2}, {"B", 1}}}});
  REQUIRE(w.kits().size() == 1);
  CHECK(w.skus().size() == 3);  // a kit is no catalog SKU: no stock of its own
  CHECK_FALSE(w.truth("K"));
  CHECK(w.kit_sellable("K") == 1);  // min(⌊2/2⌋, ⌊2/1⌋)
  CHECK(w.sell("shopify", "K", "k1"));
  // Every component promised for the kit's quantities.
  CHECK(w.truth("A")->owed == 2);
  CHECK(w.truth("A")->sellable() == 0);
  CHECK(w.truth("B")->owed == 1);
  CHECK(w.truth("B")->sellable() == 1);
  CHECK(w.kit_sellable("K") == 0);
  // A is short (B is not): the kit is oversold, and nothing of B is promised for it.
  CHECK_FALSE(w.sell("amazon", "K", "k2"));
  CHECK(w.truth("B")->owed == 1);
  CHECK(w.sell("webhook", "B", "o1"));  // B's last free unit is still there
  CHECK(w.oversold_units() == 1);
  auto sales = w.sales();
  CHECK(sales.at("amazon").units_sold == 1);
  CHECK(sales.at("amazon").oversold_units == 1);  // an oversold unit of the kit's channel
  CHECK(sales.at("shopify").oversold_units == 0);
  auto kits = w.kit_sales();
  CHECK(kits.at("K").units_sold == 2);
  CHECK(kits.at("K").oversold_units == 1);
  // stockd places the kit line whole at L1: both components owed there, shipped from there.
  const auto t0 = world_clock::now();
  w.order_acknowledged("k1", t0, 0);
  w.order_acknowledged("k2", t0, 0);
  w.order_acknowledged("o1", t0, 1);
  CHECK(w.free_at("A", 0) == 0);
  CHECK(w.free_at("B", 0) == 0);
  auto lines = w.settle_due(t0 + 1h, 10);
  REQUIRE(lines.size() == 3);
  int shipped = 0;
  for (const auto& line : lines) {
    if (line.sku == "K" && line.covered) {
      ++shipped;
      CHECK(line.qty == 1);  // in kits: stockd expands it
      CHECK(line.location == 0);
    }
  }
  CHECK(shipped == 1);
  CHECK(w.on_hand_at("A", 0) == 0);
  CHECK(w.on_hand_at("B", 0) == 0);
  CHECK(w.on_hand_at("B", 1) == 0);  // o1's unit
  CHECK(w.truth("A")->owed == 0);
  CHECK(w.truth("B")->owed == 0);
  // The kit comes back: every component, to the shelf it left.
  w.returned("K", 0, false, 1);
  CHECK(w.on_hand_at("A", 0) == 2);
  CHECK(w.on_hand_at("B", 0) == 1);
  CHECK(w.kit_sellable("K") == 1);
}

TEST_CASE("the world oversells a kit placed where one component has no free unit, and a "
          "reservation takes over an unacknowledged kit order whole",
          "[simulator][world][kits]") {
  // K = 1 × A + 1 × B; A at L1 only, B at L2 only: covered at the sale (each has a unit)...
  world w({"L1", "L2"}, {{"A", {1, 0}}, {"B", {0, 1}}}, 0, {{"K", {{"A", 1}, {"B", 1}}}});
  const auto t0 = world_clock::now();
  CHECK(w.sell("shopify", "K", "k1"));
  // ... but stockd places a kit line at one location: no free B at L1, oversold there.
  w.order_acknowledged("k1", t0, 0);
  CHECK(w.misplaced() == 1);
  CHECK(w.kit_sales().at("K").oversold_units == 1);
  CHECK(w.truth("A")->owed == 0);
  CHECK(w.truth("B")->owed == 0);
  auto lines = w.settle_due(t0 + 1h, 10);
  REQUIRE(lines.size() == 1);
  CHECK_FALSE(lines[0].covered);  // cancelled: nothing moves
  CHECK(w.on_hand_at("A", 0) == 1);
  CHECK(w.on_hand_at("B", 1) == 1);
  // A blind kit order stockd has not acknowledged holds B; stockd grants the till B (it has
  // not seen the kit): the kit is the oversold one, and gives back A as well.
  CHECK(w.sell("amazon", "K", "k2"));
  CHECK(w.reserved_sale("pos", "B", "p1", 1, 1));
  CHECK(w.taken_over() == 1);
  CHECK(w.kit_sales().at("K").oversold_units == 2);
  CHECK(w.sales().at("amazon").oversold_units == 1);
  CHECK(w.sales().at("pos").oversold_units == 0);
  CHECK(w.truth("A")->owed == 0);
  CHECK(w.truth("A")->sellable() == 1);
  CHECK(w.truth("B")->owed == 1);  // p1
  // A kit of an unknown component is refused.
  CHECK_THROWS_AS(world({"L1"}, {{"A", {1}}}, 0, {{"K", {{"Z", 1}}}}), std::invalid_argument);
}

TEST_CASE("the world ships packs from selling shelves only, and a DC's stock is not sellable "
          "until a transfer brings it to a selling location",
          "[simulator][world]") {
  world w({"L1", "DC"}, {{"A", {6, 12}}}, 1);
  CHECK(w.truth("A")->sellable() == 6);
  CHECK(w.truth("A")->not_for_sale == 12);
  CHECK(w.sell("pos", "A", "p1", 6));
  CHECK_FALSE(w.sell("shopify", "A", "o1"));  // the DC's units are not for sale
  w.transfer_shipped("A", 1, 10);
  CHECK(w.truth("A")->in_transit == 10);
  CHECK(w.truth("A")->on_hand == 8);  // in transit is on hand nowhere
  w.transfer_received("A", 0, 10);
  CHECK(w.truth("A")->sellable() == 10);
  w.order_acknowledged("p1", world_clock::now());
  w.order_acknowledged("o1", world_clock::now());
  const auto lines = w.settle_due(world_clock::now() + 1h, 10);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0].qty == 6);
  CHECK(lines[0].covered);
  CHECK(w.on_hand_at("A", 0) == 10);
  CHECK(w.on_hand_at("A", 1) == 2);
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
  std::ostringstream progress;
  const run_summary s = run_against_stockd(scn, push_setting{}, 20s, &progress);
  REQUIRE(s.error.empty());
  // The progress line: once a second while traffic runs, then once drained.
  const std::string lines = progress.str();
  INFO(lines);
  CHECK(testing::occurrences(lines, "traffic: ") >= 8);
  CHECK(testing::occurrences(lines, "drained: ") == 1);
  CHECK(lines.find("acknowledged of") != std::string::npos);
  CHECK(lines.find("oversold, lag shopify ") != std::string::npos);
  // The HTML report of this run, written and read back, against its JSON summary.
  const std::string path = "/tmp/stocksim-test-report-" + std::to_string(::getpid()) + ".html";
  {
    std::ofstream out(path, std::ios::binary);
    out << html_report(s, std::nullopt);
  }
  std::ifstream in(path, std::ios::binary);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path.c_str());
  CHECK(testing::check_report_against_json(html, summary_json(s, std::nullopt)) > 40);
  CHECK(testing::occurrences(html, "<svg") == 3 + 1 + 1 + 1);  // 3 hot SKUs, wrong, 2 histograms
  REQUIRE(s.series.tracks.size() == 3);
  CHECK(s.series.t_s.size() >= 30);  // 10 s at 4 per second, and the drain
  CHECK(s.series.tracks[0].physical.size() == s.series.t_s.size());
  CHECK(s.stockd_rss_bytes.value_or(0) > 1'000'000);
  CHECK(s.stockd_ready_s.value_or(0) > 0);
  CHECK(s.events.created > 100);
  CHECK(s.unanswered == 0);
  CHECK(s.unreflected_skus == 0);
  CHECK(s.lost == 0);
  check_kits(s, 2);
  CHECK(s.units_sold > 50);
  for (const auto& c : s.channels) {
    if (c.reserves) {
      continue;  // the POS: no API of its own (connector "none")
    }
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
  check_kits(s, 2);
  CHECK(faulted > 0);  // the faults did happen
  CHECK(s.converged);
}

TEST_CASE("a short returns_wave run: returns restocked and damaged, cancellations and failed "
          "payments, nothing lost, every channel converged",
          "[simulator][run][returns]") {
  scenario scn = *scenario_preset("returns_wave");
  scn.duration = 8s;
  scn.skus = 20;
  scn.seed = 17;
  // Enough of each kind in 8 s (~200 orders): the preset's shares, returns doubled.
  scn.return_probability = 0.5;
  scn.return_delay = 200ms;  // the preset's; an older line is found in stockd's index too
  const run_summary s = run_against_stockd(scn, push_setting{}, 20s);
  REQUIRE(s.error.empty());
  CHECK(s.world.returned_restocked > 0);
  CHECK(s.world.returned_damaged > 0);
  CHECK(s.world.returned_at_till > 0);  // packs back at the till, in its SKU id and unit
  CHECK(s.world.cancelled_by_customer > 0);
  CHECK(s.world.payment_failed > 0);
  CHECK(s.world.shipped > 0);
  CHECK(s.events.rejected == 0);  // stockd took every return, cancel and failed payment
  CHECK(s.unanswered == 0);
  CHECK(s.unreflected_skus == 0);  // damaged returns included in stockd's on-hand
  CHECK(s.lost == 0);
  for (const auto& c : s.channels) {
    CHECK(c.out_of_sync_skus == 0);
  }
  CHECK(s.converged);
}

TEST_CASE("a short channel_outage run: the channel down shows stale stock during the outage, "
          "catches up after it and converges",
          "[simulator][run][outage]") {
  scenario scn = *scenario_preset("channel_outage");
  scn.duration = 10s;
  scn.skus = 30;
  scn.seed = 19;
  const run_summary s = run_against_stockd(scn, push_setting{}, 30s);
  REQUIRE(s.error.empty());
  REQUIRE(scn.outage_channel);
  const channel_summary& down = s.channels.at(*scn.outage_channel);
  CHECK(down.outage);
  CHECK(down.outage_from_s == Approx(2.5));
  CHECK(down.outage_until_s == Approx(6.5));
  CHECK(down.outage_wrong_display_sku_s > 0);  // it missed stock changes while down
  for (const auto& c : s.channels) {
    if (&c != &down) {
      CHECK_FALSE(c.outage);
      CHECK(c.outage_wrong_display_sku_s == 0);
    }
  }
  CHECK(down.outage_recovered_s >= 0);  // back to its level before the outage
  CHECK(down.out_of_sync_skus == 0);     // and then exactly what stockd expects
  CHECK(s.unreflected_skus == 0);
  CHECK(s.lost == 0);
  // The channels that stayed up converge too. Until session 8, in about 1 run in 3 on a loaded
  // machine, shopify (compare-and-set) was left one unit over stockd's expected value while
  // stockd believed it in sync ("shows 39, expects 38, last_pushed 40, in_sync true"): a sale
  // just before a SKU's read, counted twice (README, "What the simulation found").
  for (const auto& c : s.channels) {
    INFO(c.id << (s.mismatches.empty() ? std::string() : ": " + s.mismatches.front()));
    CHECK(c.out_of_sync_skus == 0);
  }
  CHECK(s.converged);
  const std::string html = html_report(s, std::nullopt);
  CHECK(html.find("Outage of <b>amazon</b>") != std::string::npos);
  CHECK(html.find("class=\"shade\"") != std::string::npos);  // the window on the charts
  testing::check_report_against_json(html, summary_json(s, std::nullopt));
}

TEST_CASE("a short flash_sale run: the channel that reserves through stockd oversells no unit "
          "while the channels that sell what they show do",
          "[simulator][run][reservations]") {
  scenario scn = *scenario_preset("flash_sale");
  scn.duration = 6s;
  scn.seed = 23;
  REQUIRE(scn.pos_buys_per_second > 0);
  const run_summary s = run_against_stockd(scn, push_setting{}, 20s);
  REQUIRE(s.error.empty());
  REQUIRE(s.channels.size() == channel_ids().size() + 1);
  const channel_summary& till = s.channels.back();
  CHECK(till.id == "pos");
  CHECK(till.reserves);
  CHECK(till.reservations_granted > 0);
  CHECK(till.reservations_refused > 0);  // the hot SKUs sold out: stockd said no
  CHECK(till.reservations_committed > 0);
  CHECK(till.reservations_failed == 0);
  CHECK(till.units_sold == till.reservations_committed);  // singles
  CHECK(till.oversold_units == 0);
  std::uint64_t blind_oversold = 0;
  for (const auto& c : s.channels) {
    CHECK(c.reserves == (c.id == "pos"));
    blind_oversold += c.reserves ? 0 : c.oversold_units;
  }
  CHECK(blind_oversold > 0);
  CHECK(s.events_by_kind.at("reservation_committed") == till.reservations_committed);
  CHECK(s.unreflected_skus == 0);  // nothing left reserved or committed, on-hand the world's
  CHECK(s.lost == 0);
  // Every channel converges (until session 8 shopify was sometimes left one unit over here:
  // see the channel_outage test).
  INFO((s.mismatches.empty() ? std::string("-") : s.mismatches.front()));
  CHECK(s.converged);
}

TEST_CASE("a short steady run with 2 selling locations: the WMS ships every line from where "
          "stockd placed it, counts every location, rebalances between locations, nothing lost "
          "and converged per SKU x location",
          "[simulator][run][locations]") {
  scenario scn = *scenario_preset("steady");
  REQUIRE(scn.locations == 2);
  scn.duration = 8s;
  scn.skus = 20;
  scn.seed = 37;
  scn.stock_per_location = 15;  // low enough that locations run low and get rebalanced
  scn.dc_stock = 10;            // the DC runs dry: then selling locations refill each other
  scn.order_duplicate_probability = 0.2;
  const run_summary s = run_against_stockd(scn, push_setting{}, 30s);
  REQUIRE(s.error.empty());
  const auto kind = [&s](const char* k) {
    auto it = s.events_by_kind.find(k);
    return it == s.events_by_kind.end() ? std::uint64_t{0} : it->second;
  };
  CHECK(s.events.rejected == 0);
  CHECK(s.events.duplicate_answers > 0);
  CHECK(s.world.shipped > 0);
  CHECK(s.world.counts > 0);
  CHECK(s.world.transfers > 0);
  check_kits(s, 2);
  CHECK(s.world.rebalancing_transfers > 0);
  CHECK(kind("transfer_received") == s.world.transfers);
  CHECK(s.unanswered == 0);
  CHECK(s.unreflected_skus == 0);  // on-hand per SKU x location is the world's
  CHECK(s.lost == 0);
  for (const auto& c : s.channels) {
    CHECK(c.out_of_sync_skus == 0);
  }
  CHECK(s.converged);
}

TEST_CASE("a short steady run with the whole world: POS packs through reservations and a SKU "
          "mapping, kits, late cycle counts and transfers from the DC, nothing lost and converged",
          "[simulator][run][world]") {
  scenario scn = *scenario_preset("steady");
  scn.duration = 10s;
  scn.skus = 20;
  scn.seed = 29;
  scn.count_period = 100ms;  // enough late counts that some follow movements
  scn.count_late_share = 0.5;
  REQUIRE(scn.pos_pack == 6);
  REQUIRE(scn.dc_stock > 0);
  const run_summary s = run_against_stockd(scn, push_setting{}, 30s);
  REQUIRE(s.error.empty());
  const channel_summary& till = s.channels.back();
  REQUIRE(till.reserves);
  CHECK(till.reservations_committed > 0);
  CHECK(till.reservations_failed == 0);
  CHECK(till.units_sold == 6 * till.reservations_committed);  // packs of 6 base units
  CHECK(till.oversold_units == 0);
  // stockd took every event, the POS's fulfilments in its own SKU ids and pack unit included.
  CHECK(s.events.rejected == 0);
  const auto kind = [&s](const char* k) {
    auto it = s.events_by_kind.find(k);
    return it == s.events_by_kind.end() ? std::uint64_t{0} : it->second;
  };
  CHECK(kind("reservation_requested") == till.reservations_requested);
  CHECK(kind("reservation_committed") == till.reservations_committed);
  CHECK(kind("counted") == s.world.counts);
  CHECK(s.world.counts_late > 0);
  CHECK(s.world.counts_behind > 0);  // sent after movements that followed their as_of
  check_kits(s, 2);
  CHECK(s.world.transfers > 0);
  CHECK(kind("transfer_shipped") == s.world.transfers);
  CHECK(kind("transfer_received") == s.world.transfers);  // every transfer arrived
  CHECK(s.unanswered == 0);
  CHECK(s.unreflected_skus == 0);
  CHECK(s.lost == 0);
  for (const auto& c : s.channels) {
    CHECK(c.out_of_sync_skus == 0);
  }
  CHECK(s.converged);
}
