// alert_policy by plain calls: what pages, how often, and how it is classified (issue 7:
// "alerts fire once per storm").
#include <catch2/catch.hpp>

#include "actors/alert_policy.hpp"

namespace stockd::actors {
namespace {

constexpr std::int64_t second = 1000;

alert_sink_options sink_options() {
  alert_sink_options o;
  o.url = "http://pager.test/hook";
  o.min_severity = alert_severity::info;
  o.repeat_after = std::chrono::seconds(3600);
  o.quiet_after = std::chrono::seconds(300);
  o.per_hour_max = 30;
  o.systemic_ratio = 0.5;
  o.systemic_skus_min = 50;
  return o;
}

alert_observation one_channel(channel_observation c) {
  alert_observation o;
  o.channels.push_back(std::move(c));
  return o;
}

channel_observation shop(std::uint64_t skus = 1000) {
  channel_observation c;
  c.channel = "shop";
  c.skus = skus;
  return c;
}

} // namespace

TEST_CASE("alert_policy pages an oversell storm once and counts the rest as suppressed",
          "[actors][alerts]") {
  alert_policy p(sink_options());
  auto c = shop();
  std::size_t pages = 0;
  alert_notice first;
  for (int check = 0; check < 100; ++check) {
    c.oversell_cases += 3;
    c.oversold_units += 5;
    for (auto& n : p.observe(one_channel(c), check * second)) {
      ++pages;
      first = n;
    }
  }
  CHECK(pages == 1);
  CHECK(first.kind == alert_kind::oversell);
  CHECK(first.channel == "shop");
  CHECK(first.severity == alert_severity::critical);
  CHECK(first.affected == 3);
  CHECK(first.units == 5);
  CHECK_FALSE(first.systemic);
  CHECK(p.suppressed() == 99);
  CHECK(p.active() == 1);
}

TEST_CASE("alert_policy resolves an oversell once quiet and carries the suppressed count",
          "[actors][alerts]") {
  alert_policy p(sink_options());
  auto c = shop();
  c.oversell_cases = 1;
  c.oversold_units = 2;
  REQUIRE(p.observe(one_channel(c), 0).size() == 1);
  c.oversell_cases = 4;
  c.oversold_units = 9;
  CHECK(p.observe(one_channel(c), 10 * second).empty());
  CHECK(p.observe(one_channel(c), 200 * second).empty());  // quiet, not long enough
  auto resolved = p.observe(one_channel(c), 311 * second);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved[0].resolved);
  CHECK(resolved[0].suppressed == 1);
  CHECK(resolved[0].affected == 4);  // the episode's cases
  CHECK(resolved[0].units == 9);
  CHECK(resolved[0].since_ms == 0);
  CHECK(p.active() == 0);
  CHECK(p.observe(one_channel(c), 400 * second).empty());
}

TEST_CASE("alert_policy reminds once after repeat_after while a condition still fires",
          "[actors][alerts]") {
  auto o = sink_options();
  o.repeat_after = std::chrono::seconds(600);
  alert_policy p(o);
  auto c = shop(100);
  c.circuit_open = true;
  c.out_of_sync = 100;
  std::vector<alert_notice> all;
  for (int check = 0; check <= 700; check += 5) {
    for (auto& n : p.observe(one_channel(c), check * second)) {
      all.push_back(n);
    }
  }
  std::vector<alert_notice> circuit;
  for (auto& n : all) {
    if (n.kind == alert_kind::circuit_open) {
      circuit.push_back(n);
    }
  }
  REQUIRE(circuit.size() == 2);
  CHECK_FALSE(circuit[0].reminder);
  CHECK(circuit[0].systemic);
  CHECK(circuit[0].affected == 100);
  CHECK(circuit[0].of == 100);
  CHECK(circuit[1].reminder);
  c.circuit_open = false;
  c.out_of_sync = 0;
  auto closed = p.observe(one_channel(c), 701 * second);
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].kind == alert_kind::circuit_open);
  CHECK(closed[0].resolved);
}

TEST_CASE("alert_policy fires out_of_sync past the threshold and classifies by share of SKUs",
          "[actors][alerts]") {
  auto o = sink_options();
  o.thresholds.out_of_sync_after = std::chrono::seconds(60);
  alert_policy p(o);
  auto c = shop(1000);
  c.out_of_sync = 3;
  c.oldest_out_of_sync_ms = 59'000;
  CHECK(p.observe(one_channel(c), 0).empty());
  c.oldest_out_of_sync_ms = 61'000;
  auto isolated = p.observe(one_channel(c), second);
  REQUIRE(isolated.size() == 1);
  CHECK(isolated[0].kind == alert_kind::out_of_sync);
  CHECK(isolated[0].severity == alert_severity::warning);
  CHECK_FALSE(isolated[0].systemic);
  CHECK(isolated[0].affected == 3);
  CHECK(isolated[0].of == 1000);

  alert_policy q(o);
  auto d = shop(10);
  d.out_of_sync = 6;
  d.oldest_out_of_sync_ms = 61'000;
  auto systemic = q.observe(one_channel(d), 0);
  REQUIRE(systemic.size() == 1);
  CHECK(systemic[0].systemic);
  CHECK(q.is_systemic(50, 0));
  CHECK_FALSE(q.is_systemic(49, 1000));
}

TEST_CASE("alert_policy fires on a minute's spike of rejected events, not on a slow trickle",
          "[actors][alerts]") {
  auto o = sink_options();
  o.thresholds.rejected_per_minute = 100;
  alert_policy p(o);
  alert_observation obs;
  // 1 per second for five minutes: 60 a minute, under the threshold.
  for (int s = 0; s < 300; ++s) {
    obs.rejected_total = static_cast<std::uint64_t>(s);
    CHECK(p.observe(obs, s * second).empty());
  }
  // Then 150 in ten seconds.
  std::size_t pages = 0;
  for (int s = 300; s < 310; ++s) {
    obs.rejected_total += 15;
    for (auto& n : p.observe(obs, s * second)) {
      CHECK(n.kind == alert_kind::rejected_spike);
      CHECK(n.systemic);
      ++pages;
    }
  }
  CHECK(pages == 1);
}

TEST_CASE("alert_policy fires store_full for the map or the disk, and resolves it",
          "[actors][alerts]") {
  auto o = sink_options();
  o.thresholds.map_used_ratio = 0.9;
  alert_policy p(o);
  alert_observation obs;
  obs.map_used_ratio = 0.5;
  obs.disk_used_ratio = 0.95;
  auto full = p.observe(obs, 0);
  REQUIRE(full.size() == 1);
  CHECK(full[0].kind == alert_kind::store_full);
  CHECK(full[0].severity == alert_severity::critical);
  CHECK(p.observe(obs, second).empty());
  obs.disk_used_ratio = 0.5;
  auto ok = p.observe(obs, 2 * second);
  REQUIRE(ok.size() == 1);
  CHECK(ok[0].resolved);
}

TEST_CASE("alert_policy takes a reconciliation variance report and pages above the threshold",
          "[actors][alerts]") {
  auto o = sink_options();
  o.thresholds.variance_skus = 2;
  o.thresholds.variance_units = 10;
  alert_policy p(o);
  CHECK(p.variance({"shop", 1000, 1, 50}, 0).empty());   // one SKU: under
  CHECK(p.variance({"shop", 1000, 5, 9}, 0).empty());    // nine units: under
  auto fired = p.variance({"shop", 1000, 5, 40}, second);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].kind == alert_kind::variance);
  CHECK(fired[0].affected == 5);
  CHECK(fired[0].of == 1000);
  CHECK(fired[0].units == 40);
  CHECK_FALSE(fired[0].systemic);
  CHECK(p.variance({"shop", 1000, 6, 41}, 2 * second).empty());  // still firing: deduplicated
  auto clean = p.variance({"shop", 1000, 0, 0}, 3 * second);
  REQUIRE(clean.size() == 1);
  CHECK(clean[0].resolved);
  auto whole = p.variance({"amazon", 10, 9, 90}, 4 * second);
  REQUIRE(whole.size() == 1);
  CHECK(whole[0].systemic);
}

TEST_CASE("alert_policy takes a snapshot's variance report per location, apart from the "
          "channels",
          "[actors][alerts]") {
  auto o = sink_options();
  o.thresholds.variance_skus = 2;
  o.thresholds.variance_units = 10;
  alert_policy p(o);
  CHECK(p.variance({"", 100, 1, 50, "main"}, 0).empty());  // one SKU: under
  auto fired = p.variance({"", 100, 3, 12, "main"}, second);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0].kind == alert_kind::variance);
  CHECK(fired[0].channel.empty());
  CHECK(fired[0].location == "main");
  CHECK(fired[0].units == 12);
  CHECK_THAT(fired[0].summary, Catch::Contains("location main"));
  const std::string body = alert_json(fired[0]);
  CHECK(body.find("\"channel\":null") != std::string::npos);
  CHECK(body.find("\"location\":\"main\"") != std::string::npos);
  // Another location, and a channel, fire on their own; a clean snapshot of main resolves main.
  CHECK(p.variance({"", 100, 3, 12, "east"}, 2 * second).size() == 1);
  CHECK(p.variance({"shop", 100, 3, 12}, 2 * second).size() == 1);
  auto clean = p.variance({"", 100, 0, 0, "main"}, 3 * second);
  REQUIRE(clean.size() == 1);
  CHECK(clean[0].resolved);
  CHECK(clean[0].location == "main");
  CHECK(p.active() == 2);
}

TEST_CASE("alert_policy skips what is below the sink's severity, resolutions included",
          "[actors][alerts]") {
  auto o = sink_options();
  o.min_severity = alert_severity::critical;
  o.thresholds.out_of_sync_after = std::chrono::seconds(1);
  alert_policy p(o);
  auto c = shop();
  c.out_of_sync = 2;
  c.oldest_out_of_sync_ms = 5000;  // a warning
  CHECK(p.observe(one_channel(c), 0).empty());
  c.out_of_sync = 0;
  CHECK(p.observe(one_channel(c), second).empty());
  CHECK(p.paged() == 0);
  CHECK(p.suppressed() == 0);
}

TEST_CASE("alert_policy's hourly budget holds back pages past it and sends them when it refills",
          "[actors][alerts]") {
  auto o = sink_options();
  o.per_hour_max = 2;
  alert_policy p(o);
  alert_observation obs;
  for (int i = 0; i < 3; ++i) {
    auto c = shop();
    c.channel = "ch" + std::to_string(i);
    c.circuit_open = true;
    obs.channels.push_back(c);
  }
  CHECK(p.observe(obs, 0).size() == 2);
  CHECK(p.suppressed() == 1);
  CHECK(p.observe(obs, second).empty());  // no budget yet
  // Just over half an hour refills one page: the held-back circuit pages then, still firing.
  auto later = p.observe(obs, 1900 * second);
  REQUIRE(later.size() == 1);
  CHECK(later[0].channel == "ch2");
  CHECK(later[0].kind == alert_kind::circuit_open);
}

TEST_CASE("alert_json says kind, state, scope and counts", "[actors][alerts]") {
  alert_notice n;
  n.kind = alert_kind::oversell;
  n.channel = "shop";
  n.severity = alert_severity::critical;
  n.systemic = false;
  n.affected = 3;
  n.of = 1000;
  n.units = 5;
  n.suppressed = 7;
  n.summary = "s";
  const auto body = alert_json(n);
  CHECK(body.find("\"kind\":\"oversell\"") != std::string::npos);
  CHECK(body.find("\"state\":\"firing\"") != std::string::npos);
  CHECK(body.find("\"scope\":\"isolated\"") != std::string::npos);
  CHECK(body.find("\"counts\":{\"affected\":3,\"of\":1000,\"units\":5}") != std::string::npos);
  CHECK(body.find("\"suppressed\":7") != std::string::npos);
}

} // namespace stockd::actors
