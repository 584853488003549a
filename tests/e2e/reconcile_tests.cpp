// End-to-end reconciliation (connectors/reconcile.hpp, server/reconciliation.hpp): the real
// stockd against each channel emulator in this process (Shopify, Amazon, the webhook), with
// drift injected on the channel: a hand edit, a push the channel answered and lost, and an
// order the channel took that never reached stockd. A run reads the channel through its real
// read API, finds each, classifies it and applies the channel's policy; the runs are served,
// survive a restart, and show in /v1/status and /metrics.
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include <catch2/catch.hpp>

#include "simulator/amazon.hpp"
#include "simulator/listener.hpp"
#include "simulator/shopify.hpp"
#include "simulator/webhook.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/fixtures.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

struct shop : emulated<simulator::shopify_emulator> {
  shop() : emulated<simulator::shopify_emulator>(options()) {}
  static simulator::shopify_options options() {
    simulator::shopify_options o;
    o.sku_search = true;  // reads ask for their SKUs, as on a real shop
    return o;
  }
};

std::string config_for(std::uint16_t port, std::string_view policy, int cycle_s) {
  return std::string(main_location_toml) + shopify_channel_toml("shop", port) +
         "reconcile_policy = \"" + std::string(policy) +
         "\"\nreconcile_cycle_s = " + std::to_string(cycle_s) +
         "\n\n[[tokens]]\nname = \"reader\"\n"
         // printf %s e2e-reader-token | sha256sum
         "sha256 = \"2d322c4212048209849d8ae06f985be7df342a4af41b95b46a2ef5c4f54f66af\"\n"
         "scopes = [\"read\"]\n";
}

/// The same channel, `shop`, on Amazon's SP-API (getListingsItem reads, one SKU a call).
std::string amazon_config(std::uint16_t port, std::string_view policy) {
  return std::string(main_location_toml) + amazon_channel_toml("shop", port) +
         "reconcile_policy = \"" + std::string(policy) + "\"\n";
}

/// The same channel, `shop`, as a signed webhook (reads: GET <endpoint>?skus=...).
std::string webhook_config(std::uint16_t port, std::string_view policy) {
  return std::string(main_location_toml) + webhook_channel_toml("shop", port, "e2e-hook-secret") +
         "requests_per_second = 50\nburst = 10\nreconcile_policy = \"" + std::string(policy) +
         "\"\n";
}

bool in_sync(const server_process& server, std::string_view sku, std::int64_t last_pushed) {
  return eventually(
      [&] {
        json_doc doc = server.get_json("/v1/skus/" + std::string(sku));
        auto record = doc["channels"]["shop"];
        return record["in_sync"].get_bool().value() &&
               record["last_pushed"].get_int64().value() == last_pushed;
      },
      std::chrono::seconds(15), std::chrono::milliseconds(50));
}

/// Waits for run `id` to be stored; its JSON ("" on timeout).
std::string finished_run(const server_process& server, const std::string& id) {
  std::string body;
  eventually(
      [&] {
        auto answer = server.get("/v1/reconciliation/runs/" + id);
        if (answer.status == 200) {
          body = answer.body;
          return true;
        }
        return false;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(50));
  return body;
}

struct found {
  std::string kind;
  std::string action;
  std::int64_t shows = 0;
};

std::map<std::string, found> variances_of(const std::string& run) {
  std::map<std::string, found> out;
  json_doc doc(run);
  // Named: a range-for over the temporary's iterators leaves them dangling (GCC says so).
  const simdjson::dom::array list = doc["variance_list"].get_array().value();
  for (simdjson::dom::element v : list) {
    found f;
    f.kind = std::string(v["class"].get_string().value());
    f.action = std::string(v["action"].get_string().value());
    f.shows = v["channel_shows"].is_null() ? -1 : v["channel_shows"].get_int64().value();
    out[std::string(v["sku"].get_string().value())] = f;
  }
  return out;
}

/// Three SKUs in sync at 10, then drift: R-EDIT set to 25 by hand, two units of R-SOLD bought
/// on the channel with no order sent to stockd, and R-LOST's next push (to 7) lost.
template <class Emulator>
void drift(emulated<Emulator>& s, const server_process& server) {
  for (const char* sku : {"R-EDIT", "R-LOST", "R-SOLD", "R-SAME"}) {
    REQUIRE_FALSE(s.channel.set_quantity(sku, 0));
  }
  post_accepted(server, {event_json("received", "r1", "R-EDIT", "\"qty\":10"),
                         event_json("received", "r2", "R-LOST", "\"qty\":10"),
                         event_json("received", "r3", "R-SOLD", "\"qty\":10"),
                         event_json("received", "r4", "R-SAME", "\"qty\":10")});
  for (const char* sku : {"R-EDIT", "R-LOST", "R-SOLD", "R-SAME"}) {
    REQUIRE(s.shows(sku, 10));
    REQUIRE(in_sync(server, sku, 10));
  }
  REQUIRE_FALSE(s.channel.set_quantity("R-EDIT", 25));
  REQUIRE(s.channel.buy("R-SOLD"));
  REQUIRE(s.channel.buy("R-SOLD"));
  s.channel.lose_next_sets(1);
  post_accepted(server,
                {event_json("adjusted", "a1", "R-LOST", "\"delta\":-3,\"reason\":\"shrink\"")});
  REQUIRE(in_sync(server, "R-LOST", 7));  // answered applied...
  REQUIRE(s.channel.quantity("R-LOST") == std::optional<std::int64_t>{10});  // ...and lost
}

/// Starts a run by hand and waits for it: its JSON.
std::string run_now(const server_process& server) {
  auto started = server.post("/v1/admin/reconcile/shop", "");
  REQUIRE(started.status == 202);
  const std::string id(json_doc(started.body)["run"].get_string().value());
  return finished_run(server, id);
}

/// A run under the correct policy after drift(): each variance found and classed, the hand edit
/// and the lost push corrected on the channel, the unseen sale held back (the channel is not
/// raised to 10 over two units it sold) until its order arrives.
template <class Emulator>
void check_corrected(const std::string& run, emulated<Emulator>& s) {
  REQUIRE_FALSE(run.empty());
  json_doc summary(run);
  CHECK(std::string_view(summary["status"].get_string().value()) == "finished");
  CHECK(summary["skus_read"].get_uint64().value() == 4);
  CHECK(summary["variances"].get_uint64().value() == 3);
  auto v = variances_of(run);
  REQUIRE(v.size() == 3);
  CHECK(v["R-EDIT"].kind == "hand_edit");
  CHECK(v["R-EDIT"].action == "corrected");
  CHECK(v["R-EDIT"].shows == 25);
  CHECK(v["R-LOST"].kind == "push_lost");
  CHECK(v["R-LOST"].action == "corrected");
  CHECK(v["R-LOST"].shows == 10);
  CHECK(v["R-SOLD"].kind == "order_not_seen");
  CHECK(v["R-SOLD"].action == "held");
  CHECK(v["R-SOLD"].shows == 8);
  CHECK(v.count("R-SAME") == 0);
  CHECK(s.shows("R-EDIT", 10));
  CHECK(s.shows("R-LOST", 7));
  CHECK(s.channel.quantity("R-SOLD") == std::optional<std::int64_t>{8});
}

/// drift() and a run under the correct policy on any channel; then the order arrives and the
/// next run finds the channel in step.
template <class Emulator>
void correct_drift(emulated<Emulator>& s, const server_process& server) {
  drift(s, server);
  check_corrected(run_now(server), s);
  // The channel's two orders arrive: stockd's expected value meets what the channel shows.
  post_accepted(server, {event_json("order_created", "o1", "R-SOLD",
                                    "\"qty\":2,\"order_id\":\"O1\",\"line_id\":\"1\","
                                    "\"channel\":\"shop\"")});
  const bool settled = eventually(
      [&] {
        json_doc doc = server.get_json("/v1/skus/R-SOLD");
        return doc["channels"]["shop"]["in_sync"].get_bool().value();
      },
      std::chrono::seconds(15), std::chrono::milliseconds(50));
  INFO(server.get("/v1/skus/R-SOLD").body);
  CHECK(settled);
  const std::string after = run_now(server);
  REQUIRE_FALSE(after.empty());
  CHECK(json_doc(after)["variances"].get_uint64().value() == 0);
}

} // namespace

TEST_CASE("a reconciliation run under the correct policy classifies a hand edit, a lost push and "
          "an unseen order, fixes the first two and holds the third back",
          "[e2e][reconcile][shopify]") {
  shop s;
  server_options opts;
  opts.config_toml = config_for(s.server.port(), "correct", 0);
  server_process server(opts);
  server.start();
  drift(s, server);

  auto started = server.post("/v1/admin/reconcile/shop", "");
  REQUIRE(started.status == 202);
  const std::string id(json_doc(started.body)["run"].get_string().value());
  CHECK(id == "shop.1");
  const std::string run = finished_run(server, id);
  check_corrected(run, s);
  CHECK(std::string_view(json_doc(run)["trigger"].get_string().value()) == "admin");

  // Served: in the list, in the status, in the metrics.
  json_doc list = server.get_json("/v1/reconciliation/runs?channel=shop");
  auto runs = list["runs"].get_array().value();
  REQUIRE(runs.size() == 1);
  CHECK(std::string_view(runs.at(0)["id"].get_string().value()) == "shop.1");
  CHECK(runs.at(0)["by_class"]["push_lost"].get_uint64().value() == 1);
  json_doc status = server.get_json("/v1/status");
  auto rec = status["channels"].at(0)["reconciliation"];
  CHECK(std::string_view(rec["policy"].get_string().value()) == "correct");
  CHECK(rec["runs"].get_uint64().value() == 1);
  CHECK(rec["variances"]["hand_edit"].get_uint64().value() == 1);
  CHECK(rec["corrected"].get_uint64().value() == 2);
  CHECK(std::string_view(rec["last_run"]["id"].get_string().value()) == "shop.1");
  const std::string metrics = server.get("/metrics").body;
  CHECK(metrics.find("stockd_reconcile_variances_total{channel=\"shop\","
                     "class=\"order_not_seen\"} 1") != std::string::npos);
  // The dashboard's last hour counts the run's three variances.
  json_doc history = server.get_json("/v1/history");
  std::uint64_t charted = history["current"]["reconciliation_variances"].get_uint64().value();
  // Named before the loop: iterating the temporary would dangle.
  simdjson::dom::array samples = history["samples"].get_array().value();
  for (auto sample : samples) {
    charted += sample["reconciliation_variances"].get_uint64().value();
  }
  CHECK(charted == 3);

  // The next run finds the channel in step, and run ids go on after a restart.
  server.restart();
  auto second = server.post("/v1/admin/reconcile/shop", "");
  REQUIRE(second.status == 202);
  CHECK(std::string_view(json_doc(second.body)["run"].get_string().value()) == "shop.2");
  const std::string again = finished_run(server, "shop.2");
  REQUIRE_FALSE(again.empty());
  CHECK(server.get("/v1/reconciliation/runs/shop.1").status == 200);
}

TEST_CASE("scheduled reconciliation under the alert policy detects drift within its cycle, "
          "alerts and leaves the channel as it is",
          "[e2e][reconcile][shopify]") {
  shop s;
  server_options opts;
  opts.config_toml = config_for(s.server.port(), "alert", 1);
  server_process server(opts);
  server.start();
  drift(s, server);

  // Runs go every second by themselves: one after the drift finds all three.
  bool detected = eventually(
      [&] {
        json_doc list = server.get_json("/v1/reconciliation/runs?channel=shop&limit=1");
        auto runs = list["runs"].get_array().value();
        return runs.size() == 1 && runs.at(0)["variances"].get_uint64().value() == 3;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  REQUIRE(detected);
  json_doc list = server.get_json("/v1/reconciliation/runs?channel=shop&limit=1");
  auto latest = list["runs"].at(0);
  CHECK(std::string_view(latest["trigger"].get_string().value()) == "schedule");
  CHECK(latest["alerts"].get_uint64().value() == 3);
  const std::string id(latest["id"].get_string().value());
  auto v = variances_of(finished_run(server, id));
  CHECK(v["R-EDIT"].kind == "hand_edit");
  CHECK(v["R-EDIT"].action == "alerted");
  CHECK(v["R-LOST"].kind == "push_lost");
  CHECK(v["R-SOLD"].kind == "order_not_seen");
  json_doc status = server.get_json("/v1/status");
  CHECK(status["channels"].at(0)["reconciliation"]["alerts"].get_uint64().value() >= 3);
  // Nothing corrected: the channel still shows the drift.
  CHECK(s.channel.quantity("R-EDIT") == std::optional<std::int64_t>{25});
  CHECK(s.channel.quantity("R-LOST") == std::optional<std::int64_t>{10});
}

TEST_CASE("the reconciliation endpoints check the scope, the channel and the run id",
          "[e2e][reconcile]") {
  shop s;
  server_options opts;
  opts.config_toml = config_for(s.server.port(), "report", 0);
  server_process server(opts);
  server.start();

  http_request reader;
  reader.method = "POST";
  reader.target = "/v1/admin/reconcile/shop";
  reader.token = "e2e-reader-token";
  CHECK(server.request(reader).status == 403);
  reader.method = "GET";
  reader.target = "/v1/reconciliation/runs";
  CHECK(server.request(reader).status == 200);  // reading runs takes the read scope
  CHECK(server.post("/v1/admin/reconcile/nope", "").status == 404);
  CHECK(server.get("/v1/admin/reconcile/shop").status == 405);
  CHECK(server.get("/v1/reconciliation/runs/shop.9").status == 404);
  CHECK(server.get("/v1/reconciliation/runs/nope.1").status == 404);
  CHECK(server.get("/v1/reconciliation/runs/shop").status == 400);
  CHECK(server.get("/v1/reconciliation/runs/shop.x").status == 400);
  CHECK(server.get("/v1/reconciliation/runs?limit=0").status == 400);
  CHECK(server.get("/v1/reconciliation/runs?channel=nope").status == 400);
  json_doc empty = server.get_json("/v1/reconciliation/runs");
  CHECK(empty["runs"].get_array().value().size() == 0);

  // stockctl reconcile run|show: the same endpoints, with stockctl's exit codes; a line or a
  // table for people, the server's JSON with --json.
  auto ctl = [&server](const std::string& args) { return stockctl(server, args).exit_code; };
  auto started = stockctl(server, "reconcile run shop");
  CHECK(started.exit_code == 0);
  CHECK(started.output.starts_with("started reconciliation run shop.1 on channel shop "));
  CHECK(ctl("reconcile run nope") == 1);
  CHECK(eventually([&] { return ctl("reconcile show shop.1") == 0; }, std::chrono::seconds(30),
                   std::chrono::milliseconds(100)));
  auto shown = stockctl(server, "reconcile show shop.1");
  CHECK(shown.output.starts_with("run        shop.1 (channel shop)\n"));
  CHECK(shown.output.find("\ntrigger    admin, policy report\n") != std::string::npos);
  json_doc shown_json(stockctl(server, "reconcile show shop.1 --json").output);
  CHECK(std::string_view(shown_json["id"].get_string().value()) == "shop.1");
  CHECK(ctl("reconcile show --channel shop --limit 5") == 0);
  CHECK(ctl("reconcile show shop.x") == 1);
  CHECK(ctl("reconcile frob") == 2);
}

TEST_CASE("a reconciliation run against amazon reads each listing back, classifies the drift "
          "and corrects it",
          "[e2e][reconcile][amazon]") {
  emulated<simulator::amazon_emulator> a(simulator::amazon_options{});
  server_options opts;
  opts.config_toml = amazon_config(a.server.port(), "correct");
  server_process server(opts);
  server.start();
  correct_drift(a, server);
  // One getListingsItem per SKU per run: two runs of four SKUs.
  json_doc stats(a.channel.stats_json());
  CHECK(stats.root()["calls"].get_uint64().value() >= 8);
}

TEST_CASE("a reconciliation run against a webhook channel reads through its read endpoint, "
          "classifies the drift and corrects it",
          "[e2e][reconcile][webhook]") {
  webhook_channel w("e2e-hook-secret");
  server_options opts;
  opts.config_toml = webhook_config(w.server.port(), "correct");
  server_process server(opts);
  server.start();
  correct_drift(w, server);
}

TEST_CASE("under the report policy a webhook channel's drift is recorded and left as it is",
          "[e2e][reconcile][webhook]") {
  webhook_channel w("e2e-hook-secret");
  server_options opts;
  opts.config_toml = webhook_config(w.server.port(), "report");
  server_process server(opts);
  server.start();
  drift(w, server);
  const std::string run = run_now(server);
  REQUIRE_FALSE(run.empty());
  auto v = variances_of(run);
  CHECK(v.size() == 3);
  CHECK(v["R-EDIT"].kind == "hand_edit");
  CHECK(v["R-EDIT"].action == "reported");
  CHECK(v["R-LOST"].kind == "push_lost");
  CHECK(v["R-LOST"].action == "reported");
  CHECK(v["R-SOLD"].kind == "order_not_seen");
  CHECK(v["R-SOLD"].action == "reported");
  // Reported only: a moment later the channel still shows every drift.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(w.channel.quantity("R-EDIT") == std::optional<std::int64_t>{25});
  CHECK(w.channel.quantity("R-LOST") == std::optional<std::int64_t>{10});
  CHECK(w.channel.quantity("R-SOLD") == std::optional<std::int64_t>{8});
}

} // namespace stockd::e2e
