// Reconciliation by plain calls (connectors/reconcile.hpp): each variance class from a record
// and a read value, each policy's action, the rule that keeps the sweep to the budget pushes
// leave, the pace of a cycle, and whole runs over a real channel_sync: drift found, classified
// and handled (reported, corrected on the bulk lane, held back), busy and moved SKUs left to
// the next run, failed reads asked again and a run that keeps failing ended.
#include <catch2/catch.hpp>

#include "connectors/reconcile.hpp"
#include "tests/connectors/sync_helpers.hpp"

using namespace stockd::connectors;
using namespace std::chrono_literals;
using stockd::engine::channel_id;
using stockd::engine::sku_id;

namespace {

using testing::all_applied;
using testing::sku;
using testing::t0;

sku_sync record_showing(std::int64_t shadow, std::optional<std::int64_t> replaced = {}) {
  sku_sync r;
  r.expected = shadow;
  r.shadow = shadow;
  r.last_pushed = shadow;
  r.replaced = replaced;
  return r;
}

sync_options cas_options() {
  sync_options o;
  o.compare_and_set = true;
  return o;
}

/// A channel_sync over compare-and-set where the channel confirmed `qty` of each SKU, the last
/// push having raised it from `qty - 2`.
channel_sync synced(const std::vector<std::string>& names, std::int64_t qty) {
  channel_sync s(channel_id("shop"), cas_options(), 1, 1);
  for (const auto& n : names) {
    s.set_expected(sku(n), qty, t0);
  }
  for (const auto& id : s.take_reads()) {
    s.channel_reported(id, qty - 2, t0);
  }
  while (auto b = s.next_batch(t0)) {
    s.on_result(*b, all_applied(*b), t0);
  }
  for (const auto& n : names) {
    REQUIRE(s.find(sku(n))->in_sync());
  }
  return s;
}

read_result shows(std::vector<std::pair<std::string, std::int64_t>> values) {
  read_result r;
  r.ok = true;
  for (auto& [name, qty] : values) {
    r.quantities.emplace_back(sku(name), qty);
  }
  return r;
}

reconcile_options options_for(reconcile_policy policy, std::size_t per_read = 10) {
  reconcile_options o;
  o.channel = channel_id("shop");
  o.policy = policy;
  o.per_read = per_read;
  return o;
}

const variance* find_variance(const reconcile_run& run, const std::string& name) {
  for (const auto& v : run.found) {
    if (v.sku == sku(name)) {
      return &v;
    }
  }
  return nullptr;
}

} // namespace

TEST_CASE("reconciliation classifies each kind of variance from the record and the read value",
          "[connectors][reconcile]") {
  // In step: no variance.
  CHECK_FALSE(classify(record_showing(10, 8), 10).has_value());
  // The channel still shows what our last confirmed push replaced: the push was lost.
  CHECK(classify(record_showing(10, 8), 8) == variance_class::push_lost);
  // Lower than our model: the channel sold something stockd has not seen.
  CHECK(classify(record_showing(10, 8), 7) == variance_class::order_not_seen);
  // Higher than our model: set by hand.
  CHECK(classify(record_showing(10, 8), 15) == variance_class::hand_edit);
  // A push that changed nothing leaves nothing to call lost.
  CHECK(classify(record_showing(10, 10), 9) == variance_class::order_not_seen);
  // Nothing to compare with, missing from the channel, or a value no channel shows.
  sku_sync never;
  CHECK(classify(never, 4) == variance_class::unknown);
  CHECK_FALSE(classify(never, std::nullopt).has_value());  // never pushed, never there
  CHECK(classify(record_showing(10), std::nullopt) == variance_class::unknown);
  CHECK(classify(record_showing(10), -3) == variance_class::unknown);
}

TEST_CASE("each reconciliation policy has its action per class", "[connectors][reconcile]") {
  for (auto c : {variance_class::hand_edit, variance_class::order_not_seen,
                 variance_class::push_lost, variance_class::unknown}) {
    CHECK(action_for(reconcile_policy::report, c) == variance_action::reported);
    CHECK(action_for(reconcile_policy::alert, c) == variance_action::alerted);
  }
  CHECK(action_for(reconcile_policy::correct, variance_class::hand_edit) ==
        variance_action::corrected);
  CHECK(action_for(reconcile_policy::correct, variance_class::push_lost) ==
        variance_action::corrected);
  CHECK(action_for(reconcile_policy::correct, variance_class::unknown) ==
        variance_action::corrected);
  // Never raise the channel over a sale: the units are held until the order comes.
  CHECK(action_for(reconcile_policy::correct, variance_class::order_not_seen) ==
        variance_action::held);
}

TEST_CASE("the sweep reads only with budget left after pushes and repair reads",
          "[connectors][reconcile]") {
  sweep_gate free;
  free.limiter_ready = true;
  free.page_due = true;
  CHECK(sweep_may_read(free));
  auto blocked = [&](auto change) {
    sweep_gate g = free;
    change(g);
    return !sweep_may_read(g);
  };
  CHECK(blocked([](sweep_gate& g) { g.read_in_flight = true; }));
  CHECK(blocked([](sweep_gate& g) { g.repair_reads_pending = 1; }));
  CHECK(blocked([](sweep_gate& g) { g.urgent_queued = 1; }));
  CHECK(blocked([](sweep_gate& g) { g.normal_queued = 3; }));
  CHECK(blocked([](sweep_gate& g) { g.limiter_ready = false; }));
  CHECK(blocked([](sweep_gate& g) { g.page_due = false; }));
}

TEST_CASE("a sweep spreads its reads over the target cycle", "[connectors][reconcile]") {
  // 100,000 SKUs at 250 a read: 400 reads in an hour, one every 9 s.
  CHECK(sweep_spacing(3600s, 100'000, 250) == 9000ms);
  CHECK(sweep_spacing(60s, 1, 250) == 60'000ms);
  CHECK(sweep_spacing(0s, 100'000, 250) == 0ms);  // no cycle: as fast as the budget allows
  CHECK(sweep_spacing(60s, 0, 250) == 0ms);
}

TEST_CASE("a run under the correct policy fixes a hand edit and a lost push and holds back an "
          "order it has not seen",
          "[connectors][reconcile]") {
  channel_sync s = synced({"EDIT", "LOST", "SOLD", "SAME"}, 10);
  reconcile_sweep sweep(options_for(reconcile_policy::correct));
  REQUIRE(sweep.start(s, 1, "admin", t0, 1'700'000'000'000));
  CHECK_FALSE(sweep.start(s, 2, "admin", t0, 0));  // one run at a time
  auto page = sweep.next_page(s, t0);
  REQUIRE(page.size() == 4);
  sweep.on_read(shows({{"EDIT", 25}, {"LOST", 8}, {"SOLD", 7}, {"SAME", 10}}), s, t0);
  REQUIRE(sweep.done());
  reconcile_run run = sweep.finish(t0 + 2s, 1'700'000'002'000);
  CHECK(run.id() == "shop.1");
  CHECK(run.status == "finished");
  CHECK(run.duration_ms == 2000);
  CHECK(run.skus_read == 4);
  CHECK(run.variances == 3);
  CHECK(run.corrected == 2);
  CHECK(run.held == 1);
  REQUIRE(find_variance(run, "EDIT"));
  CHECK(find_variance(run, "EDIT")->kind == variance_class::hand_edit);
  CHECK(find_variance(run, "EDIT")->action == variance_action::corrected);
  CHECK(find_variance(run, "EDIT")->shows == std::optional<std::int64_t>{25});
  CHECK(find_variance(run, "EDIT")->believed == std::optional<std::int64_t>{10});
  CHECK(find_variance(run, "LOST")->kind == variance_class::push_lost);
  CHECK(find_variance(run, "SOLD")->kind == variance_class::order_not_seen);
  CHECK(find_variance(run, "SOLD")->action == variance_action::held);
  CHECK(find_variance(run, "SAME") == nullptr);

  // The hand edit and the lost push go again from what the channel shows, in the lane their
  // direction calls for: the hand edit shows more than the SKU may, so urgently; the lost
  // push (an increase) shows less, so in the normal lane.
  CHECK(s.queued(lane::urgent) == 1);
  CHECK(s.queued(lane::normal) == 1);
  CHECK(s.queued(lane::bulk) == 0);
  auto b = s.next_batch(t0 + 2s);
  REQUIRE(b);
  REQUIRE(b->items.size() == 2);
  for (const auto& item : b->items) {
    CHECK(item.quantity == 10);
    CHECK(item.change_from == std::optional<std::int64_t>{item.sku == sku("EDIT") ? 25 : 8});
  }
  // The sale is held back: the channel is not raised over it until the order arrives.
  const sku_sync* sold = s.find(sku("SOLD"));
  CHECK(sold->unseen == 3);
  CHECK(sold->target() == 7);
  CHECK(sold->in_sync());
}

TEST_CASE("a run under the report policy changes nothing and the alert policy counts alerts",
          "[connectors][reconcile]") {
  for (auto policy : {reconcile_policy::report, reconcile_policy::alert}) {
    channel_sync s = synced({"A", "B"}, 10);
    reconcile_sweep sweep(options_for(policy));
    REQUIRE(sweep.start(s, 7, "schedule", t0, 0));
    REQUIRE(sweep.next_page(s, t0).size() == 2);
    sweep.on_read(shows({{"A", 30}, {"B", 4}}), s, t0);
    reconcile_run run = sweep.finish(t0, 0);
    CHECK(run.variances == 2);
    CHECK(run.by_class[static_cast<std::size_t>(variance_class::hand_edit)] == 1);
    CHECK(run.by_class[static_cast<std::size_t>(variance_class::order_not_seen)] == 1);
    CHECK(run.corrected == 0);
    CHECK(run.alerts == (policy == reconcile_policy::alert ? 2U : 0U));
    CHECK(s.queued(lane::bulk) + s.queued(lane::normal) + s.queued(lane::urgent) == 0);
    CHECK(s.find(sku("A"))->shadow == std::optional<std::int64_t>{10});
    CHECK(s.find(sku("B"))->unseen == 0);
  }
}

TEST_CASE("a run leaves busy SKUs and SKUs whose record moved during the read to the next run",
          "[connectors][reconcile]") {
  channel_sync s = synced({"BUSY", "MOVED", "QUIET"}, 10);
  // A push of BUSY is in flight when the page is made.
  s.set_expected(sku("BUSY"), 4, t0);
  auto push = s.next_batch(t0);
  REQUIRE(push);
  reconcile_sweep sweep(options_for(reconcile_policy::correct));
  REQUIRE(sweep.start(s, 1, "admin", t0, 0));
  auto page = sweep.next_page(s, t0);
  REQUIRE(page.size() == 2);  // MOVED and QUIET
  // An order of MOVED lowers our model while the read is on its way: the read may be older.
  s.own_order_seen(sku("MOVED"), 1, t0);
  sweep.on_read(shows({{"MOVED", 10}, {"QUIET", 10}}), s, t0);
  reconcile_run run = sweep.finish(t0, 0);
  CHECK(run.skus_planned == 3);
  CHECK(run.skus_read == 1);
  CHECK(run.skus_skipped == 2);
  CHECK(run.variances == 0);
}

TEST_CASE("a run reads a page again after a failed read and ends as failed when reads keep "
          "failing",
          "[connectors][reconcile]") {
  channel_sync s = synced({"A", "B", "C"}, 5);
  auto opts = options_for(reconcile_policy::report, 2);
  opts.read_failures_max = 3;
  reconcile_sweep sweep(opts);
  REQUIRE(sweep.start(s, 1, "admin", t0, 0));
  auto first = sweep.next_page(s, t0);
  REQUIRE(first.size() == 2);
  sweep.on_read_failed(t0);
  CHECK(sweep.page_due() >= t0 + 1s);  // a pause before asking again
  auto again = sweep.next_page(s, t0 + 1s);
  CHECK(again == first);
  sweep.on_read(shows({{"A", 5}, {"B", 5}}), s, t0 + 1s);
  auto last = sweep.next_page(s, t0 + 1s);
  REQUIRE(last.size() == 1);
  sweep.on_read(shows({{"C", 6}}), s, t0 + 1s);
  REQUIRE(sweep.done());
  reconcile_run ok = sweep.finish(t0 + 1s, 0);
  CHECK(ok.status == "finished");
  CHECK(ok.read_failures == 1);
  CHECK(ok.skus_read == 3);
  CHECK(ok.skus_skipped == 0);

  REQUIRE(sweep.start(s, 2, "admin", t0 + 2s, 0));
  for (int i = 0; i < 3; ++i) {
    REQUIRE_FALSE(sweep.next_page(s, t0 + 10s * (i + 1)).empty());
    sweep.on_read_failed(t0 + 10s * (i + 1));
  }
  REQUIRE(sweep.done());
  CHECK(sweep.finish(t0 + 40s, 0).status == "failed");
}

TEST_CASE("scheduled runs start a cycle apart and none without a cycle",
          "[connectors][reconcile]") {
  channel_sync s = synced({"A"}, 1);
  auto opts = options_for(reconcile_policy::report);
  CHECK_FALSE(reconcile_sweep(opts).next_start().has_value());
  opts.cycle = 60s;
  reconcile_sweep sweep(opts);
  REQUIRE(sweep.next_start().has_value());
  CHECK(*sweep.next_start() <= t0);  // never ran: due now
  REQUIRE(sweep.start(s, 1, "schedule", t0, 0));
  CHECK_FALSE(sweep.next_start().has_value());  // running
  sweep.next_page(s, t0);
  sweep.on_read(shows({{"A", 1}}), s, t0);
  sweep.finish(t0 + 5s, 0);
  CHECK(sweep.next_start() == std::optional<sync_time>{t0 + 60s});
}

TEST_CASE("a stored run decodes to its summary and one JSON object with its variances",
          "[connectors][reconcile]") {
  reconcile_run run;
  run.channel = channel_id("shop");
  run.seq = 3;
  run.trigger = "admin";
  run.status = "finished";
  run.variances = 1;
  run.found.push_back({sku("A\"B"), 4, 4, 4, std::nullopt, variance_class::unknown,
                       variance_action::reported});
  const std::string stored = encode_run(run);
  auto summary = stored_summary(stored);
  REQUIRE(summary);
  CHECK(summary->find("\"id\":\"shop.3\"") != std::string_view::npos);
  CHECK(summary->find("variance_list") == std::string_view::npos);
  auto whole = run_json(stored);
  REQUIRE(whole);
  CHECK(whole->front() == '{');
  CHECK(whole->back() == '}');
  CHECK(whole->find("\"variance_list\":[{\"sku\":\"A\\\"B\",\"class\":\"unknown\"") !=
        std::string::npos);
  CHECK(whole->find("\"channel_shows\":null") != std::string::npos);
  CHECK_FALSE(run_json("not a run").has_value());
  CHECK_FALSE(run_json("{}\nnot an array").has_value());
}
