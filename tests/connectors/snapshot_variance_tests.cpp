// The variance report of a system-of-record snapshot (connectors/snapshot_variance.hpp): each
// line's comparison, the report's figures, its bounded list and the stored form.
#include <string>

#include <catch2/catch.hpp>

#include "connectors/reconcile.hpp"
#include "connectors/snapshot_variance.hpp"
#include "engine/apply.hpp"
#include "engine/time.hpp"

using namespace stockd::connectors;
namespace engine = stockd::engine;

namespace {

engine::timestamp at(std::string_view when) { return *engine::parse_rfc3339(when); }

const engine::sku_location_key& key() {
  static const engine::sku_location_key k{engine::sku_id("A"), engine::location_id("main")};
  return k;
}

engine::event counted(std::int64_t n, std::string_view as_of) {
  engine::event ev;
  ev.source = engine::source_id("erp");
  ev.id = "inv-1:A";
  ev.type = engine::event_type::counted;
  ev.sku = key().sku;
  ev.location = key().location;
  ev.counted = n;
  ev.as_of = at(as_of);
  ev.occurred_at = ev.as_of;
  return ev;
}

/// A state with `qty` received at 09:00 and, when given, a count applied as of `count_as_of`.
engine::sku_location_state state_with(std::int64_t qty, std::string_view count_as_of = {}) {
  engine::sku_location_state s;
  s.key = key();
  engine::journal_entry receipt;
  receipt.seq = 1;
  receipt.ev.source = engine::source_id("wms");
  receipt.ev.id = "r1";
  receipt.ev.type = engine::event_type::received;
  receipt.ev.sku = key().sku;
  receipt.ev.location = key().location;
  receipt.ev.qty = qty;
  receipt.ev.occurred_at = at("2026-11-27T09:00:00Z");
  REQUIRE(engine::apply(s, receipt, {}).kind == engine::outcome_kind::applied);
  if (!count_as_of.empty()) {
    REQUIRE(engine::apply(s, {2, {}, counted(qty, count_as_of)}, {}).kind ==
            engine::outcome_kind::applied);
  }
  return s;
}

line_comparison variance_of(std::int64_t before, std::int64_t after) {
  return {line_comparison::result::variance, before, after};
}

} // namespace

TEST_CASE("compare_line classifies a count as unchanged, a variance, stale or not compared",
          "[connectors][snapshots]") {
  using result = line_comparison::result;
  const auto same = compare_line(state_with(10), counted(10, "2026-11-27T10:00:00Z"));
  CHECK(same.kind == result::unchanged);
  const auto lower = compare_line(state_with(10), counted(7, "2026-11-27T10:00:00Z"));
  CHECK(lower.kind == result::variance);
  CHECK(lower.on_hand_before == 10);
  CHECK(lower.on_hand_after == 7);
  CHECK(lower.delta() == -3);
  engine::sku_location_state fresh;
  fresh.key = key();
  const auto unseen = compare_line(fresh, counted(4, "2026-11-27T10:00:00Z"));
  CHECK(unseen.kind == result::variance);
  CHECK(unseen.delta() == 4);
  const auto stale =
      compare_line(state_with(10, "2026-11-27T11:00:00Z"), counted(3, "2026-11-27T10:00:00Z"));
  CHECK(stale.kind == result::stale);
  CHECK(stale.delta() == 0);
  CHECK(compare_line(std::nullopt, counted(3, "2026-11-27T10:00:00Z")).kind ==
        result::not_compared);
}

TEST_CASE("a snapshot report counts every line and classes shrinkage and missed receipts",
          "[connectors][snapshots]") {
  using result = line_comparison::result;
  snapshot_report report;
  report.add(engine::sku_id("S"), 7, variance_of(10, 7), false, true);
  report.add(engine::sku_id("M"), 15, variance_of(10, 15), false, true);
  report.add(engine::sku_id("U"), 5, {result::unchanged, 5, 5}, false, true);
  report.add(engine::sku_id("T"), 1, {result::stale, 9, 9}, false, true);
  report.add(engine::sku_id("R"), 1, {result::refused, 9, 9}, false, true);
  report.add(engine::sku_id("D"), 99, variance_of(1, 99), true, true);  // duplicate: nothing
  report.add(engine::sku_id("N"), 3, {}, false, true);                  // not compared
  snapshot_run run = report.take();
  CHECK(run.compared == 5);
  CHECK(run.unchanged == 1);
  CHECK(run.variances == 2);
  CHECK(run.shrinkage == 1);
  CHECK(run.missed_receipt == 1);
  CHECK(run.shrinkage_units == 3);
  CHECK(run.missed_receipt_units == 5);
  CHECK(run.stale == 1);
  CHECK(run.refused == 1);
  CHECK(run.duplicate == 1);
  CHECK(run.not_compared == 1);
  REQUIRE(run.listed.size() == 2);
  CHECK(run.listed[0].sku == engine::sku_id("M"));  // |+5| before |-3|
  CHECK(run.listed[0].kind() == count_variance_class::missed_receipt);
  CHECK(run.listed[1].sku == engine::sku_id("S"));
  CHECK(run.listed[1].kind() == count_variance_class::shrinkage);
  CHECK(run.listed[1].counted == 7);
  // take() starts the report over.
  CHECK(report.take().compared == 0);
}

TEST_CASE("a snapshot report lists only its largest variances and counts all of them",
          "[connectors][snapshots]") {
  snapshot_report report(3);
  // Deltas -1, +2, -3, ... +10 in a shuffled order.
  for (int i : {4, 9, 1, 7, 10, 2, 6, 3, 8, 5}) {
    const std::int64_t delta = i % 2 == 0 ? i : -i;
    report.add(engine::sku_id("SKU-" + std::to_string(i)), 100 + delta,
               variance_of(100, 100 + delta), false, true);
  }
  snapshot_run run = report.take();
  CHECK(run.variances == 10);
  CHECK(run.shrinkage_units == 1 + 3 + 5 + 7 + 9);
  CHECK(run.missed_receipt_units == 2 + 4 + 6 + 8 + 10);
  REQUIRE(run.listed.size() == 3);
  CHECK(run.listed[0].delta() == 10);
  CHECK(run.listed[1].delta() == -9);
  CHECK(run.listed[2].delta() == 8);
}

TEST_CASE("a snapshot run is stored like a channel run and served with its kind and classes",
          "[connectors][snapshots]") {
  snapshot_report report;
  report.add(engine::sku_id("A\"B"), 3, variance_of(5, 3), false, false);
  snapshot_run run = report.take();
  run.location = engine::location_id("main");
  run.seq = 7;
  run.source = "erp";
  run.snapshot = "inv-27";
  run.dry_run = true;
  CHECK(run.id() == "snapshot:main.7");
  const std::string stored = encode_snapshot_run(run);
  auto summary = stored_summary(stored);
  REQUIRE(summary);
  CHECK(served_summary(*summary) == std::string(*summary));  // it has its kind
  CHECK(summary->find("\"kind\":\"snapshot\"") != std::string_view::npos);
  CHECK(summary->find("\"dry_run\":true") != std::string_view::npos);
  CHECK(summary->find("\"as_of\":null") != std::string_view::npos);
  auto whole = run_json(stored);
  REQUIRE(whole);
  CHECK(whole->find("\"variance_list\":[{\"sku\":\"A\\\"B\",\"class\":\"shrinkage\","
                    "\"action\":\"none\",\"on_hand_before\":5,\"counted\":3,"
                    "\"on_hand_after\":3,\"delta\":-2}]") != std::string::npos);
}

TEST_CASE("snapshot runs have an owner of their own beside the channels",
          "[connectors][snapshots]") {
  const auto owner = snapshot_runs_owner(engine::location_id("DC.EAST"));
  CHECK(owner.str() == "snapshot:DC.EAST");
  CHECK(snapshot_location_of(owner.str()) == engine::location_id("DC.EAST"));
  CHECK_FALSE(snapshot_location_of("shop").has_value());
  CHECK_FALSE(snapshot_location_of("snapshot:").has_value());
}

TEST_CASE("a channel run stored before runs had a kind is served as kind channel",
          "[connectors][reconcile]") {
  CHECK(served_summary(R"({"id":"shop.1","channel":"shop"})") ==
        R"({"kind":"channel","id":"shop.1","channel":"shop"})");
  CHECK(served_summary("{}") == R"({"kind":"channel"})");
  reconcile_run run;
  run.channel = engine::channel_id("shop");
  run.seq = 1;
  const std::string summary = run_summary_json(run);
  CHECK(summary.find("\"kind\":\"channel\"") != std::string::npos);
  CHECK(served_summary(summary) == summary);
}
