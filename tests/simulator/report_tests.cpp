// The run's report by plain calls: latency histograms, the bounded timeline, the world's returns
// and cancellations, and the HTML page held against the JSON summary of the same figures.
#include <catch2/catch.hpp>

#include <chrono>

#include "simulator/report.hpp"
#include "simulator/scenario.hpp"
#include "simulator/world.hpp"
#include "tests/simulator/report_check.hpp"

using namespace stockd::simulator;
using namespace std::chrono_literals;

namespace {

/// A run with every part of the report filled in, figures chosen to be told apart.
run_summary sample_run(const std::string& label, std::uint64_t oversold) {
  run_summary s;
  s.scenario = "channel_outage";
  s.label = label;
  s.seed = 42;
  s.duration_s = 10.25;
  s.skus = 30;
  s.sampled_skus = 30;
  s.events.created = 1'234;
  s.events.acknowledged = 1'234;
  s.events.sends = 1'300;
  s.events_per_second = 120.4;
  s.units_sold = 600;
  s.oversold_units = oversold;
  s.converged = true;
  s.convergence_s = 1.5;
  s.convergence_timeout_s = 20;
  latency_recorder ack;
  for (int i = 1; i <= 100; ++i) {
    ack.record(std::chrono::microseconds(i * 250));
  }
  s.ack_latency = ack.summary();
  for (const auto& id : channel_ids()) {
    channel_summary c;
    c.id = id;
    c.units_sold = 200;
    c.oversold_units = oversold / 3;
    c.over_display_sku_s = 3.14159;
    c.wrong_display_sku_s = 12.5;
    c.api_calls = 321;
    c.items = 700;
    c.items_per_call = 2.18;
    latency_recorder p;
    p.record(12ms);
    p.record(70ms);
    c.propagation = p.summary();
    if (id == "amazon") {
      c.outage = true;
      c.outage_from_s = 2.5;
      c.outage_until_s = 6.5;
      c.outage_wrong_display_sku_s = 9.75;
      c.outage_recovered_s = 0.75;
    }
    s.channels.push_back(c);
  }
  s.world.shipped = 500;
  s.world.returned_damaged = 7;
  s.stockd_ready_s = 0.31;
  s.stockd_rss_bytes = 50'331'648;
  s.stockd_rss_peak_bytes = 52'428'800;
  timeline::track tr;
  tr.sku = "SIM-00000";
  tr.shown.resize(channel_ids().size());
  s.series.wrong.resize(channel_ids().size());
  for (int i = 0; i < 40; ++i) {
    s.series.t_s.push_back(0.25 * i);
    tr.physical.push_back(40 - i / 2);
    tr.sellable.push_back(40 - i);
    tr.expected.push_back(i == 3 ? std::nullopt : std::optional<std::int64_t>(40 - i));
    for (auto& c : tr.shown) {
      c.push_back(40 - i + (i % 3));
    }
    for (auto& w : s.series.wrong) {
      w.push_back(static_cast<std::uint32_t>(i % 5));
    }
  }
  s.series.tracks.push_back(tr);
  return s;
}

} // namespace

TEST_CASE("latency histograms put each sample in the bucket of its upper bound",
          "[simulator][report]") {
  latency_recorder r;
  r.record(300us);     // <= 0.5
  r.record(500us);     // <= 0.5 (bounds are inclusive)
  r.record(700us);     // <= 1
  r.record(40ms);      // <= 50
  r.record(1h);        // past the last bound
  const latency_summary s = r.summary();
  const auto& bounds = latency_bucket_bounds_ms();
  REQUIRE(s.histogram.size() == bounds.size() + 1);
  CHECK(s.histogram[0] == 2);
  CHECK(s.histogram[1] == 1);
  CHECK(s.histogram[6] == 1);  // (20, 50]
  CHECK(s.histogram.back() == 1);
  std::uint64_t total = 0;
  for (auto n : s.histogram) {
    total += n;
  }
  CHECK(total == s.count);
}

TEST_CASE("the timeline stays bounded: when full it keeps every other point and doubles its "
          "period",
          "[simulator][report]") {
  timeline tl;
  tl.tracks.resize(1);
  tl.tracks[0].shown.resize(2);
  tl.wrong.resize(2);
  std::size_t thinned = 0;
  for (std::size_t i = 0; i < 5 * timeline::points_max; ++i) {
    tl.t_s.push_back(static_cast<double>(i));
    tl.tracks[0].physical.push_back(static_cast<std::int64_t>(i));
    tl.tracks[0].sellable.push_back(0);
    tl.tracks[0].expected.emplace_back(std::nullopt);
    for (auto& c : tl.tracks[0].shown) {
      c.push_back(1);
    }
    for (auto& w : tl.wrong) {
      w.push_back(2);
    }
    thinned += tl.thin_if_full() ? 1 : 0;
    REQUIRE(tl.t_s.size() < timeline::points_max);
  }
  CHECK(thinned >= 2);
  CHECK(tl.period_s == Approx(0.25 * static_cast<double>(1u << thinned)));
  CHECK(tl.tracks[0].physical.size() == tl.t_s.size());
  CHECK(tl.wrong[1].size() == tl.t_s.size());
  CHECK(tl.t_s.front() == 0);
  for (std::size_t i = 0; i < tl.t_s.size(); ++i) {
    CHECK(static_cast<double>(tl.tracks[0].physical[i]) == tl.t_s[i]);  // kept together
  }
}

TEST_CASE("the world releases a cancelled or unpaid order's unit, and takes returns back "
          "restocked or damaged",
          "[simulator][world]") {
  world w({"L1"}, {{"A", {3}}});
  const auto t0 = world_clock::now();
  REQUIRE(w.sell("shopify", "A", "o1"));
  REQUIRE(w.sell("shopify", "A", "o2"));
  REQUIRE(w.sell("shopify", "A", "o3"));
  CHECK(w.truth("A")->sellable() == 0);
  for (const char* o : {"o1", "o2", "o3"}) {
    w.order_acknowledged(o, t0);
  }
  int n = 0;
  const auto lines = w.settle_due(t0, 10, [&n](const order_line&) {
    switch (n++) {
      case 0: return settlement::cancelled;
      case 1: return settlement::payment_failed;
      default: return settlement::shipped;
    }
  });
  REQUIRE(lines.size() == 3);
  CHECK(lines[0].how == settlement::cancelled);
  CHECK(lines[1].how == settlement::payment_failed);
  CHECK(lines[2].how == settlement::shipped);
  CHECK(w.truth("A")->on_hand == 2);   // one unit shipped
  CHECK(w.truth("A")->sellable() == 2);  // the cancelled and the unpaid one are free again
  w.returned("A", lines[2].location, true);
  CHECK(w.truth("A")->on_hand == 3);   // back on the shelf...
  CHECK(w.truth("A")->damaged == 1);
  CHECK(w.truth("A")->sellable() == 2);  // ...but not for sale
  // A damaged unit never covers a sale.
  REQUIRE(w.sell("amazon", "A", "o4"));
  REQUIRE(w.sell("amazon", "A", "o5"));
  CHECK_FALSE(w.sell("amazon", "A", "o6"));
  w.returned("A", 0, false);
  CHECK(w.truth("A")->sellable() == 1);
}

TEST_CASE("the scenarios returns_wave and channel_outage are presets with valid parameters",
          "[simulator][scenario]") {
  const auto returns = scenario_preset("returns_wave");
  REQUIRE(returns);
  CHECK_FALSE(validate(*returns));
  CHECK(returns->return_probability > 0);
  CHECK(returns->damaged_share > 0);
  CHECK(returns->cancel_probability > 0);
  CHECK(returns->payment_failed_probability > 0);
  auto outage = scenario_preset("channel_outage");
  REQUIRE(outage);
  CHECK_FALSE(validate(*outage));
  REQUIRE(outage->outage_channel);
  outage->duration = 10s;
  CHECK(outage_begin(*outage) == 2'500ms);
  CHECK(outage_end(*outage) == 6'500ms);
  outage->outage_until = 1.5;
  CHECK(validate(*outage));
  outage->outage_until = 0.5;
  outage->outage_faults = "nonsense=1";
  CHECK(validate(*outage));
  for (const auto& name : scenario_names()) {
    CHECK(scenario_preset(name));
  }
}

TEST_CASE("the HTML report is self-contained and its figures are the JSON summary's",
          "[simulator][report]") {
  const run_summary run = sample_run("stockd <push = event>", 3);
  const run_summary baseline = sample_run("baseline (push = interval, 5000 ms)", 60);
  const std::string html = html_report(run, baseline);
  const std::string json = summary_json(run, baseline);
  const std::size_t compared = testing::check_report_against_json(html, json);
  CHECK(compared > 60);
  // One chart per hot SKU and one of wrong SKUs per run, the ack histogram and one propagation
  // histogram per run.
  CHECK(testing::occurrences(html, "<svg") == 2 + 2 + 1 + 2);
  CHECK(html.find("stockd &lt;push = event&gt;") != std::string::npos);  // escaped
  CHECK(html.find("<push") == std::string::npos);
  CHECK(html.find("20.00&times;") != std::string::npos);  // oversold 60 vs 3
  CHECK(html.find("Outage of <b>amazon</b>") != std::string::npos);
  CHECK(html.find("stroke-dasharray") != std::string::npos);  // expected/physical lines
  // Without a baseline: no ratio column, still valid.
  const std::string alone = html_report(run, std::nullopt);
  testing::check_report_against_json(alone, summary_json(run, std::nullopt));
  CHECK(alone.find("baseline / stockd") == std::string::npos);
  // A run that could not be made says so.
  run_summary failed;
  failed.label = "x";
  failed.error = "stockd did not start";
  const std::string broken = html_report(failed, std::nullopt);
  CHECK(broken.find("NOT RUN: stockd did not start") != std::string::npos);
}
