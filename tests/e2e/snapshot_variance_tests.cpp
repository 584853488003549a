// End-to-end: the variance report of a system-of-record snapshot (issue 7; docs/semantics.md,
// "Snapshots"). Before its lines are journaled, a snapshot is compared with stockd's on-hand:
// the answer sums it up, the report is stored as a reconciliation run of kind "snapshot" and
// served beside the channels' runs, and `dry_run=true` previews it without changing anything.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "tests/e2e/event_json.hpp"
#include "tests/e2e/fixtures.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

std::string count_line(std::string_view sku, std::int64_t counted, std::string_view extra = {}) {
  std::string out = "{\"sku\":\"" + std::string(sku) + "\",\"counted\":" + std::to_string(counted);
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  return out + "}\n";
}

/// The answer's "variance" object.
struct variance_summary {
  std::string run;
  std::uint64_t compared = 0;
  std::uint64_t variances = 0;
  std::uint64_t shrinkage_units = 0;
  std::uint64_t missed_receipt_units = 0;
  std::uint64_t stale = 0;
};

struct snapshot_answer {
  bool dry_run = false;
  std::uint64_t accepted = 0;
  variance_summary variance;
};

snapshot_answer post_snapshot_ok(const server_process& server, const std::string& target,
                                 const std::string& body) {
  auto res = server.post(target, body, "application/x-ndjson");
  INFO("POST " << target << " answered " << res.status << " " << res.transport_error << res.body);
  REQUIRE(res.status == 200);
  json_doc doc(res.body);
  snapshot_answer a;
  a.dry_run = doc["dry_run"].get_bool().value();
  a.accepted = doc["accepted"].get_uint64().value();
  simdjson::dom::element v = doc["variance"];
  a.variance.run = std::string(v["run"].get_string().value());
  a.variance.compared = v["compared"].get_uint64().value();
  a.variance.variances = v["variances"].get_uint64().value();
  a.variance.shrinkage_units = v["shrinkage_units"].get_uint64().value();
  a.variance.missed_receipt_units = v["missed_receipt_units"].get_uint64().value();
  a.variance.stale = v["stale"].get_uint64().value();
  return a;
}

struct listed_variance {
  std::string kind;
  std::string action;
  std::int64_t before = 0;
  std::int64_t counted = 0;
  std::int64_t after = 0;
  std::int64_t delta = 0;
};

std::map<std::string, listed_variance> variances_of(const json_doc& run) {
  std::map<std::string, listed_variance> out;
  // Named: a range-for over the temporary's iterators leaves them dangling (GCC says so).
  const simdjson::dom::array list = run["variance_list"].get_array().value();
  for (simdjson::dom::element v : list) {
    listed_variance l;
    l.kind = std::string(v["class"].get_string().value());
    l.action = std::string(v["action"].get_string().value());
    l.before = v["on_hand_before"].get_int64().value();
    l.counted = v["counted"].get_int64().value();
    l.after = v["on_hand_after"].get_int64().value();
    l.delta = v["delta"].get_int64().value();
    out[std::string(v["sku"].get_string().value())] = l;
  }
  return out;
}

/// The ids of the runs GET /v1/reconciliation/runs lists, with their kind.
std::map<std::string, std::string> listed_runs(const server_process& server,
                                               const std::string& query = {}) {
  json_doc list = server.get_json("/v1/reconciliation/runs" + query);
  std::map<std::string, std::string> out;
  const simdjson::dom::array runs = list["runs"].get_array().value();
  for (simdjson::dom::element r : runs) {
    out[std::string(r["id"].get_string().value())] = std::string(r["kind"].get_string().value());
  }
  return out;
}

constexpr std::string_view as_of_noon = "2026-11-27T12:00:00Z";

std::string target(std::string_view id, bool dry_run = false,
                   std::string_view as_of = as_of_noon) {
  return "/v1/snapshots/main?source=erp&id=" + std::string(id) + "&as_of=" + std::string(as_of) +
         (dry_run ? "&dry_run=true" : "");
}

} // namespace

TEST_CASE("a snapshot reports shrinkage, missed receipts and stale lines against on-hand, and a "
          "dry run previews the report without changing anything",
          "[e2e][snapshots][reconcile]") {
  server_process server;
  server.start();
  // On hand (received at 10:15): SHRINK 10, MISSED 5, SAME 8, STALE 6.
  post_accepted(server, {received_json("r1", "SHRINK", 10), received_json("r2", "MISSED", 5),
                         received_json("r3", "SAME", 8), received_json("r4", "STALE", 6)});
  // STALE was counted as of the 28th already: a count as of the 27th is older, hence stale.
  const snapshot_answer late = post_snapshot_ok(
      server, target("inv-late", false, "2026-11-28T08:00:00Z"), count_line("STALE", 6));
  CHECK(late.variance.run == "snapshot:main.1");
  CHECK(late.variance.compared == 1);
  CHECK(late.variance.variances == 0);

  // Counted at noon: 3 units of SHRINK gone, 4 of MISSED arrived unseen, SAME as it is, STALE
  // older than its last count; NEW never seen before compares against 0.
  const std::string body = count_line("SHRINK", 7) + count_line("MISSED", 9) +
                           count_line("SAME", 8) + count_line("STALE", 1) +
                           count_line("NEW", 2);
  const std::uint64_t head = journal_head(server);
  const std::string shrink_before = server.get("/v1/skus/SHRINK").body;
  auto events_counted = [&server](std::string_view name) {
    return server.get_json("/v1/status")["events"][name].get_uint64().value();
  };
  const std::uint64_t accepted_before = events_counted("accepted");

  // The dry run: the report, stored, and nothing else.
  const snapshot_answer preview = post_snapshot_ok(server, target("inv-1127", true), body);
  CHECK(preview.dry_run);
  CHECK(preview.accepted == 0);
  CHECK(preview.variance.run == "snapshot:main.2");
  CHECK(preview.variance.compared == 5);
  CHECK(preview.variance.variances == 3);
  CHECK(preview.variance.shrinkage_units == 3);
  CHECK(preview.variance.missed_receipt_units == 4 + 2);
  CHECK(preview.variance.stale == 1);
  CHECK(journal_head(server) == head);
  CHECK(server.get("/v1/skus/SHRINK").body == shrink_before);
  CHECK(read_location(server, "MISSED").on_hand == 5);
  CHECK(server.get("/v1/skus/NEW").status == 404);
  CHECK(events_counted("accepted") == accepted_before);

  // The real post: the same report, and the counts applied.
  const snapshot_answer applied = post_snapshot_ok(server, target("inv-1127"), body);
  CHECK_FALSE(applied.dry_run);
  CHECK(applied.accepted == 5);
  CHECK(applied.variance.run == "snapshot:main.3");
  CHECK(applied.variance.compared == 5);
  CHECK(applied.variance.variances == 3);
  CHECK(applied.variance.shrinkage_units == 3);
  CHECK(applied.variance.missed_receipt_units == 6);
  CHECK(applied.variance.stale == 1);
  CHECK(read_location(server, "SHRINK").on_hand == 7);
  CHECK(read_location(server, "MISSED").on_hand == 9);
  CHECK(read_location(server, "SAME").on_hand == 8);
  CHECK(read_location(server, "STALE").on_hand == 6);  // the later count stays
  CHECK(read_location(server, "NEW").on_hand == 2);

  // Stored and served beside channel runs, with their kind.
  const auto all = listed_runs(server);
  CHECK(all.size() == 3);
  CHECK(all.at("snapshot:main.3") == "snapshot");
  json_doc by_location = server.get_json("/v1/reconciliation/runs?location=main&limit=2");
  const simdjson::dom::array newest = by_location["runs"].get_array().value();
  REQUIRE(newest.size() == 2);
  CHECK(std::string_view(newest.at(0)["id"].get_string().value()) == "snapshot:main.3");
  CHECK(std::string_view(newest.at(1)["id"].get_string().value()) == "snapshot:main.2");
  CHECK(newest.at(1)["dry_run"].get_bool().value());
  CHECK(newest.at(0)["by_class"]["missed_receipt"].get_uint64().value() == 2);
  CHECK(newest.at(0)["by_class"]["shrinkage"].get_uint64().value() == 1);

  json_doc run = server.get_json("/v1/reconciliation/runs/snapshot:main.3");
  CHECK(std::string_view(run["kind"].get_string().value()) == "snapshot");
  CHECK(std::string_view(run["location"].get_string().value()) == "main");
  CHECK(std::string_view(run["source"].get_string().value()) == "erp");
  CHECK(std::string_view(run["snapshot"].get_string().value()) == "inv-1127");
  CHECK(std::string_view(run["status"].get_string().value()) == "finished");
  CHECK_FALSE(run["dry_run"].get_bool().value());
  CHECK(run["compared"].get_uint64().value() == 5);
  CHECK(run["unchanged"].get_uint64().value() == 1);
  CHECK(run["stale"].get_uint64().value() == 1);
  CHECK(run["started_at_ms"].get_int64().value() <= run["finished_at_ms"].get_int64().value());
  auto v = variances_of(run);
  REQUIRE(v.size() == 3);
  CHECK(v["SHRINK"].kind == "shrinkage");
  CHECK(v["SHRINK"].action == "applied");
  CHECK(v["SHRINK"].before == 10);
  CHECK(v["SHRINK"].counted == 7);
  CHECK(v["SHRINK"].after == 7);
  CHECK(v["SHRINK"].delta == -3);
  CHECK(v["MISSED"].kind == "missed_receipt");
  CHECK(v["MISSED"].delta == 4);
  CHECK(v["NEW"].kind == "missed_receipt");
  CHECK(v["NEW"].before == 0);
  CHECK(v["NEW"].delta == 2);
  CHECK(v.count("SAME") == 0);
  CHECK(v.count("STALE") == 0);
  // Largest |delta| first.
  const simdjson::dom::array order = run["variance_list"].get_array().value();
  CHECK(std::string_view(order.at(0)["sku"].get_string().value()) == "MISSED");

  json_doc dry = server.get_json("/v1/reconciliation/runs/snapshot:main.2");
  CHECK(dry["dry_run"].get_bool().value());
  CHECK(variances_of(dry)["SHRINK"].action == "none");

  SECTION("re-posting the snapshot changes nothing and reports no variance") {
    const snapshot_answer again = post_snapshot_ok(server, target("inv-1127"), body);
    CHECK(again.accepted == 0);
    CHECK(again.variance.run == "snapshot:main.4");
    CHECK(again.variance.compared == 0);
    CHECK(again.variance.variances == 0);
    json_doc stored = server.get_json("/v1/reconciliation/runs/snapshot:main.4");
    CHECK(stored["duplicate"].get_uint64().value() == 5);
    // A dry run of it finds the lines in the journal too: nothing to compare.
    const snapshot_answer preview_again = post_snapshot_ok(server, target("inv-1127", true), body);
    CHECK(preview_again.variance.compared == 0);
    json_doc previewed = server.get_json("/v1/reconciliation/runs/snapshot:main.5");
    CHECK(previewed["duplicate"].get_uint64().value() == 5);
  }

  SECTION("stockctl lists and shows snapshot runs") {
    auto shown = stockctl(server, "reconcile show snapshot:main.3");
    CHECK(shown.exit_code == 0);
    CHECK(shown.output.starts_with("run        snapshot:main.3 (snapshot of main)\n"));
    CHECK(shown.output.find("\nvariances  3 (shrinkage 1, missed_receipt 2)\n") !=
          std::string::npos);
    CHECK(shown.output.find("\nSHRINK  shrinkage       applied              10        7  "
                            "            7     -3\n") != std::string::npos);
    auto shown_json = stockctl(server, "--json reconcile show snapshot:main.3");
    CHECK(shown_json.exit_code == 0);
    CHECK(shown_json.output.find("\"missed_receipt\"") != std::string::npos);
    auto listed = stockctl(server, "reconcile show --location main --limit 5");
    CHECK(listed.exit_code == 0);
    CHECK(listed.output.find("\nsnapshot:main.2  snapshot  finished  ") != std::string::npos);
    auto listed_json = stockctl(server, "reconcile show --json --location main --limit 5");
    CHECK(listed_json.exit_code == 0);
    CHECK(listed_json.output.find("\"snapshot:main.2\"") != std::string::npos);
    CHECK(stockctl(server, "reconcile show --location nowhere").exit_code == 1);
  }

  SECTION("run ids go on after a restart") {
    server.restart();
    const snapshot_answer next = post_snapshot_ok(server, target("inv-1128", true), body);
    CHECK(next.variance.run == "snapshot:main.4");
    CHECK(next.variance.variances == 0);  // the counts are applied now
    CHECK(next.variance.stale == 1);
  }
}

TEST_CASE("a snapshot's dry_run must be true or false", "[e2e][snapshots]") {
  server_process server;
  server.start();
  auto res = server.post("/v1/snapshots/main?source=erp&id=x&as_of=2026-11-27T12:00:00Z"
                         "&dry_run=maybe",
                         count_line("A", 1), "application/x-ndjson");
  CHECK(res.status == 400);
  CHECK(res.body.find("dry_run") != std::string::npos);
  CHECK(server.get("/v1/reconciliation/runs?location=nowhere").status == 400);
  CHECK(server.get("/v1/reconciliation/runs?location=main&channel=x").status == 400);
  CHECK(server.get("/v1/reconciliation/runs/snapshot:main.1").status == 404);
}

} // namespace stockd::e2e
