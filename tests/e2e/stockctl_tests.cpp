// stockctl against the real stockd: the sync commands read what the channels record, repush
// needs a known channel, replay/export/import work on its data directory (beside it or
// offline), and the exit codes are the ones its usage promises (0 ok, 1 not ok, 2 usage,
// 3 cannot connect, 4 data unreadable).
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/codec.hpp"
#include "store/database.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/fixtures.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

// Traffic touching several buckets: receipts, an order, a reservation, an adjustment, a count.
void post_traffic(server_process& server) {
  post_accepted(server, {received_json("r1", "CTL-A", 10), received_json("r2", "CTL-B", 4),
                         order_created_json("o1", "CTL-A", 3, "ORD-1"),
                         event_json("reservation_created", "v1", "CTL-B", "\"qty\":1,\"reservation_id\":\"cart-1\""),
                         event_json("adjusted", "a1", "CTL-C", "\"delta\":7,\"reason\":\"found\""),
                         event_json("counted", "c1", "CTL-C", "\"counted\":5,\"as_of\":\"2026-11-27T10:15:00Z\"")});
}

/// `stockctl replay` beside the running server (the store opened read-only; lagging checkpoints
/// compare at their seq), then `replay --json` once it is stopped: both must say the live state
/// agrees with the journal. The live run's text and the stopped run's report.
struct replays {
  std::string live;
  std::string stopped;
};
replays replay_live_then_stopped(server_process& server) {
  const std::string data = " --data " + server.data_dir();
  auto live = stockctl_offline("replay" + data);
  CHECK(live.exit_code == 0);
  CHECK(live.output.find("live state agrees with the journal") != std::string::npos);
  REQUIRE(server.stop() == 0);
  auto stopped = stockctl_offline("replay --json" + data);
  CHECK(stopped.exit_code == 0);
  json_doc report(stopped.output);
  CHECK(report["agrees"].get_bool().value() == true);
  return {live.output, stopped.output};
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

TEST_CASE("stockctl replay agrees with a running stockd and with its checkpoints after a stop",
          "[e2e][stockctl]") {
  server_process server;
  server.start();
  post_traffic(server);
  const std::string data = " --data " + server.data_dir();

  const replays replayed = replay_live_then_stopped(server);
  CHECK(replayed.live.find("replayed 6 events") != std::string::npos);
  json_doc report(replayed.stopped);
  CHECK(report["events"].get_uint64().value() == 6);
  CHECK(report["mismatched"].get_uint64().value() == 0);
  CHECK(report["checkpoints_compared"].get_uint64().value() == 3);  // A, B, C at main

  // The rebuilt store serves the same state as the original.
  server_process rebuilt;
  auto into = stockctl_offline("replay" + data + " --into " + rebuilt.data_dir());
  CHECK(into.exit_code == 0);
  rebuilt.start();
  server.start();
  for (const char* sku : {"CTL-A", "CTL-B", "CTL-C"}) {
    auto a = server.get_json(std::string("/v1/skus/") + sku);
    auto b = rebuilt.get_json(std::string("/v1/skus/") + sku);
    CHECK(simdjson::to_string(a["locations"]) == simdjson::to_string(b["locations"]));
  }
  CHECK(stockctl_offline("replay --into " + rebuilt.data_dir()).exit_code == 2);  // no --data
}

TEST_CASE("stockctl replay agrees after a late return of an order line the state forgot",
          "[e2e][stockctl]") {
  server_process server;
  server.start();
  // 20 lines closed at main: the first 4 are pushed out of the state into the index; the return
  // of the first one recalls it. Replay must recall it the same way, or it would park the return.
  std::vector<std::string> body{received_json("r1", "CTL-L", 100)};
  for (int i = 0; i < 20; ++i) {
    const std::string n = std::to_string(i);
    body.push_back(order_created_json("o" + n, "CTL-L", 2, "ORD-" + n));
    body.push_back(event_json("order_fulfilled", "f" + n, "CTL-L",
                              "\"qty\":2,\"order_id\":\"ORD-" + n + "\",\"line_id\":\"1\""));
  }
  post_accepted(server, body);
  const auto return_json = [](std::string id, int order) {
    return event_json("return_received", id, "CTL-L",
                      "\"qty\":2,\"order_id\":\"ORD-" + std::to_string(order) +
                          "\",\"line_id\":\"1\",\"disposition\":\"restock\"");
  };
  post_accepted(server, {return_json("ret0", 0)});
  CHECK(read_location(server, "CTL-L", "main").available == 100 - 40 + 2);
  const std::string data = " --data " + server.data_dir();
  replay_live_then_stopped(server);

  // The rebuilt store carries the replay's index: a late return of another forgotten line
  // applies there as on the original.
  server_process rebuilt;
  CHECK(stockctl_offline("replay" + data + " --into " + rebuilt.data_dir()).exit_code == 0);
  rebuilt.start();
  server.start();
  post_accepted(server, {return_json("ret1", 1)});
  post_accepted(rebuilt, {return_json("ret1", 1)});
  CHECK(read_location(server, "CTL-L", "main").available == 100 - 40 + 4);
  auto a = server.get_json("/v1/skus/CTL-L");
  auto b = rebuilt.get_json("/v1/skus/CTL-L");
  CHECK(simdjson::to_string(a["locations"]) == simdjson::to_string(b["locations"]));
}

TEST_CASE("stockctl replay names a checkpoint that disagrees with the journal and exits 1",
          "[e2e][stockctl]") {
  server_process server;
  server.start();
  post_traffic(server);
  REQUIRE(server.stop() == 0);
  {
    // Tamper: CTL-A's checkpoint now claims 99 available.
    store::options opts;
    opts.dir = server.data_dir();
    auto db = store::database::open(opts);
    REQUIRE(db);
    const engine::sku_location_key key{engine::sku_id{"CTL-A"}, engine::location_id{"main"}};
    auto bytes = (*db)->read_checkpoint(key);
    REQUIRE(bytes);
    REQUIRE(bytes->has_value());
    auto state = engine::decode_state(**bytes);
    REQUIRE(state);
    state->qty.available = 99;
    store::checkpoint_record record{key, {}};
    engine::encode(*state, record.state_bytes);
    REQUIRE((*db)->write_checkpoints({&record, 1}, 0, 0));
  }
  auto r = stockctl_offline("replay --data " + server.data_dir());
  CHECK(r.exit_code == 1);
  CHECK(r.output.find("DIFFERENT  CTL-A @ main") != std::string::npos);
  CHECK(r.output.find("available: replayed 7 vs live 99") != std::string::npos);
  CHECK(stockctl_offline("replay --data " + server.temp_dir() + "/nothing-here").exit_code == 4);
}

TEST_CASE("stockctl export writes states and the journal, and import restores the journal "
          "offline or posts events online",
          "[e2e][stockctl]") {
  server_process server;
  server.start();
  post_traffic(server);
  const std::string dir = server.temp_dir();

  auto states = stockctl_offline("export --data " + server.data_dir());
  CHECK(states.exit_code == 0);
  CHECK(states.output.find("\"sku\":\"CTL-A\",\"location\":\"main\",\"available\":7,"
                           "\"committed\":3") != std::string::npos);
  CHECK(states.output.find("\"sku\":\"CTL-C\",\"location\":\"main\",\"available\":5") !=
        std::string::npos);

  const std::string journal = dir + "/journal.ndjson";
  REQUIRE(stockctl_offline("export --events --data " + server.data_dir() + " --out " + journal)
              .exit_code == 0);
  const std::string text = slurp(journal);
  CHECK(std::count(text.begin(), text.end(), '\n') == 6);

  // Offline: the journal into a fresh store, then replay agrees and a stockd serves it.
  server_process restored;
  auto imported = stockctl_offline("import " + journal + " --data " + restored.data_dir());
  CHECK(imported.exit_code == 0);
  CHECK(imported.output.find("imported 6 journal entries (0 already present)") != std::string::npos);
  // Running it again is a no-op (resumable).
  auto again = stockctl_offline("import " + journal + " --data " + restored.data_dir() + " --json");
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("{\"appended\":0,\"skipped\":6,\"journal_head\":6}") != std::string::npos);
  restored.start();
  CHECK(simdjson::to_string(restored.get_json("/v1/skus/CTL-A")["locations"]) ==
        simdjson::to_string(server.get_json("/v1/skus/CTL-A")["locations"]));
  restored.stop();
  // A line that is not a journal entry stops the import and names the line.
  {
    std::ofstream bad(dir + "/bad.ndjson");
    bad << "{\"seq\":7,\"source\":\"x\"}\n";
  }
  auto broken = stockctl_offline("import " + dir + "/bad.ndjson --data " + restored.data_dir());
  CHECK(broken.exit_code == 4);
  CHECK(broken.output.find("line 1: received_at: missing") != std::string::npos);

  // Online: events posted in batches; a second run answers duplicates; a rejection exits 1.
  server_process other;
  other.start();
  const std::string server_flags = "--server 127.0.0.1:" + std::to_string(other.port()) +
                                   " --token " + other.token();
  auto posted = stockctl_offline(server_flags + " import " + journal + " --batch 4");
  CHECK(posted.exit_code == 0);
  CHECK(posted.output.find("accepted 6, duplicate 0, rejected 0") != std::string::npos);
  auto twice = stockctl_offline(server_flags + " --json import " + journal);
  CHECK(twice.exit_code == 0);
  CHECK(twice.output.find("{\"accepted\":0,\"duplicate\":6,\"rejected\":0}") != std::string::npos);
  {
    std::ofstream mixed(dir + "/mixed.ndjson");
    mixed << received_json("m1", "CTL-M", 2) << "\n" << received_json("m2", "CTL-M", -2) << "\n";
  }
  auto rejected = stockctl_offline(server_flags + " import " + dir + "/mixed.ndjson");
  CHECK(rejected.exit_code == 1);
  CHECK(rejected.output.find("accepted 1, duplicate 0, rejected 1") != std::string::npos);
  CHECK(rejected.output.find("first rejection:") != std::string::npos);
}

TEST_CASE("stockctl config validate and config diff exit with their codes and name what they found",
          "[e2e][stockctl]") {
  server_process holder;  // a temporary directory for the files
  const std::string good = holder.temp_dir() + "/good.toml";
  const std::string bad = holder.temp_dir() + "/bad.toml";
  {
    std::ofstream(good) << "[[locations]]\nid = \"main\"\n";
    std::ofstream(bad) << "[[locations]]\nid = \"main\"\ncolour = \"red\"\n";
  }
  auto ok = stockctl_offline("config validate " + good);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("valid (1 locations, 0 channels)") != std::string::npos);
  auto wrong = stockctl_offline("config validate --json " + bad);
  CHECK(wrong.exit_code == 1);
  CHECK(wrong.output.find("\"valid\":false") != std::string::npos);
  CHECK(wrong.output.find("colour") != std::string::npos);
  CHECK(stockctl_offline("config validate " + holder.temp_dir() + "/missing.toml").exit_code == 1);
  CHECK(stockctl_offline("config frobnicate").exit_code == 2);

  // config diff: by setting, named by id; exit 1 when they differ, 0 when equal.
  const std::string more = holder.temp_dir() + "/more.toml";
  std::ofstream(more) << "[[locations]]\nid = \"main\"\n\n[[locations]]\nid = \"dc-2\"\n";
  auto same = stockctl_offline("config diff " + good + " " + good);
  CHECK(same.exit_code == 0);
  CHECK(same.output.find("no differences") != std::string::npos);
  auto changed = stockctl_offline("config diff --json " + good + " " + more);
  CHECK(changed.exit_code == 1);
  CHECK(changed.output.find("{\"kind\":\"added\",\"path\":\"locations.dc-2\",\"before\":null") !=
        std::string::npos);
  CHECK(stockctl_offline("config diff " + good + " " + bad).exit_code == 2);
}

TEST_CASE("stockctl prints tables or with --json the server's answer, re-pushes a channel and "
          "exits with its codes",
          "[e2e][stockctl]") {
  server_options opts;
  // Channels stockd computes and never pushes: every SKU on them stays out of sync.
  opts.config_toml = "[[locations]]\nid = \"main\"\n\n[[channels]]\nid = \"shadow\"\n"
                     "connector = \"none\"\nlocations = [\"main\"]\n\n[[channels]]\n"
                     "id = \"outlet\"\nconnector = \"none\"\nlocations = [\"main\"]\n";
  server_process server(opts);
  server.start();
  post_accepted(server, {event_json("received", "r1", "CTL-A", "\"qty\":3")});

  // Tables for people: a row per channel, per location, per SKU x channel.
  auto status = stockctl(server, "status");
  CHECK(status.exit_code == 0);
  CHECK(status.output.starts_with("status "));
  CHECK(status.output.find("\nCHANNEL ") != std::string::npos);
  for (const char* id : {"shadow", "outlet"}) {
    CHECK(status.output.find(std::string("\n") + id + " ") != std::string::npos);
  }
  CHECK(status.output.find('{') == std::string::npos);
  auto sku = stockctl(server, "sku CTL-A");
  CHECK(sku.exit_code == 0);
  CHECK(sku.output.starts_with("SKU CTL-A\n"));
  CHECK(sku.output.find("\nmain              3 ") != std::string::npos);
  CHECK(sku.output.find("\noutlet          3            -  no  ") != std::string::npos);
  auto listed = stockctl(server, "out-of-sync --channel shadow");
  CHECK(listed.exit_code == 0);
  CHECK(listed.output.find("\nCTL-A  shadow ") != std::string::npos);
  CHECK(listed.output.find("no_connector\n") != std::string::npos);

  // --json: the server's JSON as it came, for scripts.
  auto status_json = stockctl(server, "status --json");
  CHECK(status_json.exit_code == 0);
  json_doc answer(status_json.output);  // throws, failing the test, unless it is JSON
  CHECK(std::string_view(answer["status"].get_string().value()) == "ready");
  simdjson::dom::array channels = answer["channels"].get_array().value();
  std::vector<std::string> ids;
  for (simdjson::dom::element c : channels) {
    ids.emplace_back(c["id"].get_string().value());
  }
  CHECK(ids == std::vector<std::string>{"shadow", "outlet"});
  auto sku_json = stockctl(server, "--json sku CTL-A");
  CHECK(sku_json.exit_code == 0);
  json_doc sku_answer(sku_json.output);
  CHECK(sku_answer["locations"]["main"]["available"].get_int64().value() == 3);
  auto listed_json = stockctl(server, "out-of-sync --json --channel shadow");
  CHECK(listed_json.exit_code == 0);
  CHECK(listed_json.output.find("\"sku\":\"CTL-A\"") != std::string::npos);
  json_doc listed_answer(listed_json.output);
  CHECK(listed_answer["out_of_sync"].get_array().value().size() == 1);

  // The ledger, dead letters and runs: tables by default, the server's JSON with --json.
  auto events = stockctl(server, "events CTL-A");
  CHECK(events.exit_code == 0);
  CHECK(events.output.starts_with("SKU CTL-A\n\nSEQ  OCCURRED "));
  CHECK(events.output.find("\n  1  2026-11-27T10:15:00.000Z  received  main        3  "
                           "e2e-wms:r1  -\n") != std::string::npos);
  CHECK(events.output.find('{') == std::string::npos);
  auto events_json = stockctl(server, "events CTL-A --json --limit 1");
  CHECK(events_json.exit_code == 0);
  json_doc events_answer(events_json.output);
  CHECK(events_answer["events"].get_array().value().size() == 1);
  CHECK(events_answer["next_before"].get_uint64().value() == 1);
  auto dead = stockctl(server, "dead-letters --limit 10");
  CHECK(dead.exit_code == 0);
  CHECK(dead.output == "no dead letters\n");
  auto dead_json = stockctl(server, "dead-letters --json --limit 10");
  CHECK(dead_json.exit_code == 0);
  CHECK(dead_json.output.find("\"dead_letters\":[]") != std::string::npos);
  // A dry-run snapshot stores a report (a run of kind "snapshot") and changes nothing.
  CHECK(stockctl(server, "reconcile show").output == "no reconciliation runs\n");
  REQUIRE(server
              .post("/v1/snapshots/main?source=erp&id=inv-1&as_of=2026-11-27T12:00:00Z"
                    "&dry_run=true",
                    "{\"sku\":\"CTL-A\",\"counted\":5}\n", "application/x-ndjson")
              .status == 200);
  auto runs = stockctl(server, "reconcile show --location main");
  CHECK(runs.exit_code == 0);
  CHECK(runs.output.starts_with("RUN              KIND      STATUS    STARTED "));
  CHECK(runs.output.find("\nsnapshot:main.1  snapshot  finished  ") != std::string::npos);
  CHECK(runs.output.ends_with("erp inv-1, dry run, missed_receipt 1\n"));
  auto runs_json = stockctl(server, "reconcile show --json");
  CHECK(runs_json.exit_code == 0);
  json_doc runs_answer(runs_json.output);
  CHECK(runs_answer["runs"].get_array().value().size() == 1);
  auto run = stockctl(server, "reconcile show snapshot:main.1");
  CHECK(run.exit_code == 0);
  CHECK(run.output.starts_with("run        snapshot:main.1 (snapshot of main)\n"));
  CHECK(run.output.find("\nCTL-A  missed_receipt  none                 3        5              "
                        "5     +2\n") != std::string::npos);
  auto run_json = stockctl(server, "--json reconcile show snapshot:main.1");
  CHECK(run_json.exit_code == 0);
  json_doc run_answer(run_json.output);
  CHECK(run_answer["variance_list"].at(0)["delta"].get_int64().value() == 2);
  CHECK(stockctl(server, "reconcile show snapshot:main.2").exit_code == 1);
  // A channel with no connector cannot reconcile: the server's 409 as it came, exit 1.
  auto no_run = stockctl(server, "reconcile run shadow");
  CHECK(no_run.exit_code == 1);
  CHECK(no_run.output.find("cannot reconcile") != std::string::npos);

  auto repushed = stockctl(server, "repush shadow");
  CHECK(repushed.exit_code == 0);
  CHECK(repushed.output == "queued a full re-push of channel shadow: 1 SKU on the bulk lane\n");
  auto repushed_json = stockctl(server, "repush --json outlet");
  CHECK(repushed_json.exit_code == 0);
  json_doc repush_answer(repushed_json.output);
  CHECK(std::string_view(repush_answer["channel"].get_string().value()) == "outlet");
  CHECK(repush_answer["queued"].get_uint64().value() == 1);
  auto unknown = stockctl(server, "repush nope");
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output.find("unknown channel") != std::string::npos);
  CHECK(stockctl(server, "out-of-sync --channel nope").exit_code == 1);
  CHECK(stockctl(server, "out-of-sync extra").exit_code == 2);
  // An error answer prints as it came, with exit 1, table or not.
  auto unknown_sku = stockctl(server, "sku NO-SUCH-SKU");
  CHECK(unknown_sku.exit_code == 1);
  CHECK(unknown_sku.output.find("unknown SKU") != std::string::npos);
  CHECK(stockctl(server, "sku NO-SUCH-SKU --json").exit_code == 1);

  const auto port = server.port();
  server.stop();
  auto gone = stockctl(server, "status");
  CHECK(gone.exit_code == 3);
  CHECK(gone.output.find("cannot reach stockd at 127.0.0.1:" + std::to_string(port)) !=
        std::string::npos);
}

} // namespace stockd::e2e
