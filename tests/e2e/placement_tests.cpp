// End-to-end: order lines that name no location (DESIGN §2). An order goes to the first location
// in its channel's priority order that covers it; the line's later events follow it; the choice
// is journaled, so a restart replays it rather than choosing again. Reservations that name a
// channel use the same priority order (DESIGN §5).
#include <string>

#include <catch2/catch.hpp>

#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

// The channels have connector "none": they keep records and push nothing; these tests are about
// placement and expected values, not pushes (channel_push_tests.cpp pushes).
constexpr const char* config = R"(
[[locations]]
id = "DC-EAST"
[[locations]]
id = "DC-WEST"

[[channels]]
id = "shop"
connector = "none"
locations = ["DC-WEST", "DC-EAST"]

[[channels]]
id = "wholesale"
connector = "none"
locations = ["DC-EAST"]
rules = { allocation = "percent", percent = 50 }

[[skus]]
id = "BUNDLE"
components = [{ sku = "TENT", qty = 1 }, { sku = "POLE", qty = 2 }]
)";

/// An order-line event without a location.
std::string line_json(std::string_view type, std::string_view id, std::string_view sku,
                      std::int64_t qty, std::string_view order_id, std::string_view extra = "") {
  std::string out = "{\"id\":\"" + std::string(id) + "\",\"source\":\"shop\",\"type\":\"" +
                    std::string(type) + "\",\"sku\":\"" + std::string(sku) +
                    "\",\"occurred_at\":\"2026-11-27T10:15:00Z\",\"qty\":" + std::to_string(qty) +
                    ",\"order_id\":\"" + std::string(order_id) + "\",\"line_id\":\"1\"";
  if (!extra.empty()) {
    out += ',';
    out += extra;
  }
  return out + '}';
}

std::string order_json(std::string_view id, std::string_view sku, std::int64_t qty,
                       std::string_view order_id, std::string_view channel = "shop") {
  return line_json("order_created", id, sku, qty, order_id,
                   "\"channel\":\"" + std::string(channel) + "\"");
}

/// The placement config, for a server of one test.
server_options placement_options() {
  server_options opts;
  opts.config_toml = config;
  return opts;
}

void stock(const server_process& server, std::string_view sku, std::int64_t east,
           std::int64_t west) {
  post_accepted(server, {event_json("received", std::string(sku) + "-e", sku,
                                    "\"qty\":" + std::to_string(east), "DC-EAST"),
                         event_json("received", std::string(sku) + "-w", sku,
                                    "\"qty\":" + std::to_string(west), "DC-WEST")});
}

} // namespace

TEST_CASE("an order that names only its channel goes where the channel's priority can cover it",
          "[e2e][placement]") {
  server_process server(placement_options());
  server.start();
  stock(server, "TENT", 5, 2);

  // DC-WEST comes first for "shop" and covers 2; the second order finds DC-WEST empty (the first
  // took it, in this same body) and goes to DC-EAST; the cancel follows O1 to DC-WEST.
  auto placed =
      post_accepted(server, {order_json("o1", "TENT", 2, "O1"), order_json("o2", "TENT", 1, "O2"),
                             line_json("order_cancelled", "c1", "TENT", 1, "O1")});
  // The answer says where each line went, so an OMS can ship from there.
  CHECK(placed[0].location == "DC-WEST");
  CHECK(placed[1].location == "DC-EAST");
  CHECK(placed[2].location == "DC-WEST");
  auto west = read_location(server, "TENT", "DC-WEST");
  CHECK(west.available == 1);
  CHECK(west.committed == 1);
  auto east = read_location(server, "TENT", "DC-EAST");
  CHECK(east.available == 4);
  CHECK(east.committed == 1);

  // A later request: the fulfilment finds O2 where the engine holds it. Its resend is a
  // duplicate, whose answer names no location (the first send's is the journaled one); an event
  // that named its location has none either.
  CHECK(post_accepted(server, {line_json("order_fulfilled", "f2", "TENT", 1, "O2")})[0].location ==
        "DC-EAST");
  auto again = post_events(server, json_array({line_json("order_fulfilled", "f2", "TENT", 1, "O2")}));
  REQUIRE(again.size() == 1);
  CHECK(again[0].status == "duplicate");
  CHECK(again[0].location.empty());
  CHECK(post_accepted(server, {event_json("received", "r9", "TENT", "\"qty\":1", "DC-EAST")})[0]
            .location.empty());
  post_accepted(server, {event_json("adjusted", "a9", "TENT", "\"delta\":-1,\"reason\":\"shrink\"",
                                    "DC-EAST")});
  CHECK(read_location(server, "TENT", "DC-EAST").committed == 0);

  // A channel the config does not know: every location, in config order.
  post_accepted(server, {order_json("o3", "TENT", 1, "O3", "pos")});
  CHECK(read_location(server, "TENT", "DC-EAST").committed == 1);

  // Nobody can cover 50: the channel's first location takes the line and records the oversell.
  post_accepted(server, {order_json("o4", "TENT", 50, "O4")});
  west = read_location(server, "TENT", "DC-WEST");
  CHECK(west.available == -49);
  CHECK(west.oversold == 49);
  // Oversell accounting per channel: on the SKU and in /metrics.
  auto sku = server.get("/v1/skus/TENT");
  CHECK(sku.body.find(R"("oversold_by_channel":{"shop":{"units":49,"cases":1}})") !=
        std::string::npos);
  auto metrics = server.get("/metrics");
  CHECK(metrics.body.find("stockd_channel_oversold_units_total{channel=\"shop\"} 49\n") !=
        std::string::npos);
  CHECK(metrics.body.find("stockd_channel_oversells_total{channel=\"shop\"} 1\n") !=
        std::string::npos);

  // The journal holds the choice: a restart replays it, it does not choose again.
  server.restart();
  CHECK(read_location(server, "TENT", "DC-WEST").committed == 51);
  CHECK(read_location(server, "TENT", "DC-EAST").committed == 1);
  auto ledger = read_full_ledger(server, "TENT");
  bool saw_o1 = false;
  for (const auto& entry : ledger) {
    if (entry.id == "o1") {
      saw_o1 = true;
      CHECK(entry.location == "DC-WEST");
    }
  }
  CHECK(saw_o1);
}

TEST_CASE("a later line event no location holds is rejected, naming the location field",
          "[e2e][placement]") {
  server_process server(placement_options());
  server.start();
  stock(server, "TENT", 5, 1);
  auto results = post_events(
      server, json_array({line_json("order_cancelled", "c9", "TENT", 1, "NEVER"),
                          event_json("received", "ok", "TENT", "\"qty\":1", "DC-EAST")}));
  REQUIRE(results.size() == 2);
  CHECK(results[0].status == "rejected");
  CHECK(results[0].field == "location");
  CHECK(results[1].status == "accepted");  // the rest of the batch proceeds
  CHECK(read_location(server, "TENT", "DC-EAST").available == 6);
}

TEST_CASE("a late return that names no location follows a line closed 20 orders ago",
          "[e2e][placement]") {
  server_process server(placement_options());
  server.start();
  stock(server, "TENT", 1, 100);
  // 20 orders placed at DC-WEST and fulfilled there, so the first 4 lines are pushed out of the
  // state (it keeps the 16 newest closed lines) into the index of forgotten lines.
  std::vector<std::string> body;
  for (int i = 0; i < 20; ++i) {
    const std::string n = std::to_string(i);
    body.push_back(order_json("o" + n, "TENT", 2, "L" + n));
    body.push_back(line_json("order_fulfilled", "f" + n, "TENT", 2, "L" + n));
  }
  post_accepted(server, body);
  auto before = read_location(server, "TENT", "DC-WEST");
  CHECK(before.on_hand == 60);

  // Most likely before the next checkpoint: found in the actor's own list of forgotten lines.
  auto placed = post_accepted(
      server, {line_json("return_received", "ret0", "TENT", 2, "L0",
                         "\"disposition\":\"restock\"")});
  CHECK(placed[0].location == "DC-WEST");
  auto after = read_location(server, "TENT", "DC-WEST");
  CHECK(after.available == before.available + 2);
  CHECK(after.on_hand == before.on_hand + 2);
  // Remembered as returned: another return of it is placed, then rejected by the engine.
  post_accepted(server, {line_json("return_received", "ret0b", "TENT", 1, "L0",
                                   "\"disposition\":\"restock\"")});
  CHECK(read_location(server, "TENT", "DC-WEST").available == after.available);

  // After an orderly restart: found in the store's index, checkpointed at the stop.
  server.restart();
  CHECK(read_location(server, "TENT", "DC-WEST").available == after.available);
  placed = post_accepted(server, {line_json("return_received", "ret1", "TENT", 1, "L1",
                                            "\"disposition\":\"damaged\"")});
  CHECK(placed[0].location == "DC-WEST");
  auto restarted = read_location(server, "TENT", "DC-WEST");
  CHECK(restarted.available == after.available);
  CHECK(restarted.on_hand == after.on_hand + 1);
  // A late cancel of a forgotten line is placed too (then rejected as inconsistent, not parked).
  placed = post_accepted(server, {line_json("order_cancelled", "c2", "TENT", 1, "L2")});
  CHECK(placed[0].location == "DC-WEST");
  CHECK(read_location(server, "TENT", "DC-WEST").committed == 0);
  auto metrics = server.get("/metrics");
  CHECK(metrics.body.find("stockd_closed_lines_recalled_total ") != std::string::npos);
  // A line nobody ever had is still rejected at ingest.
  auto never = post_events(server, json_array({line_json("return_received", "ret9", "TENT", 1,
                                                         "NEVER", "\"disposition\":\"restock\"")}));
  REQUIRE(never.size() == 1);
  CHECK(never[0].status == "rejected");
  CHECK(never[0].field == "location");
}

TEST_CASE("a kit order without a location goes where every component is covered",
          "[e2e][placement]") {
  server_process server(placement_options());
  server.start();
  stock(server, "TENT", 3, 3);
  stock(server, "POLE", 4, 1);  // DC-WEST cannot make a bundle: it has one pole of two
  post_accepted(server, {order_json("k1", "BUNDLE", 1, "K1")});
  CHECK(read_location(server, "TENT", "DC-EAST").committed == 1);
  CHECK(read_location(server, "POLE", "DC-EAST").committed == 2);
  CHECK(read_location(server, "TENT", "DC-WEST").committed == 0);
  post_accepted(server, {line_json("order_cancelled", "kc1", "BUNDLE", 1, "K1")});
  CHECK(read_location(server, "POLE", "DC-EAST").committed == 0);
  CHECK(read_location(server, "POLE", "DC-EAST").available == 4);
}

TEST_CASE("a reservation that names a channel follows the channel's priority",
          "[e2e][placement][reservations]") {
  server_process server(placement_options());
  server.start();
  stock(server, "TENT", 5, 2);
  auto res = server.post("/v1/reservations",
                         R"({"key":"cart-1","sku":"TENT","qty":2,"channel":"shop"})");
  INFO(res.body);
  CHECK(res.status == 201);
  CHECK(res.body.find("\"location\":\"DC-WEST\"") != std::string::npos);
  res = server.post("/v1/reservations", R"({"key":"cart-2","sku":"TENT","qty":2,"channel":"shop"})");
  CHECK(res.status == 201);
  CHECK(res.body.find("\"location\":\"DC-EAST\"") != std::string::npos);  // DC-WEST is empty
}

TEST_CASE("GET /v1/skus shows what each channel should show under its rules",
          "[e2e][channels]") {
  server_process server(placement_options());
  server.start();
  stock(server, "TENT", 5, 2);
  stock(server, "POLE", 4, 1);
  json_doc tent = server.get_json("/v1/skus/TENT");
  CHECK(tent["channels"]["shop"]["expected"].get_int64().value() == 7);       // shared: 5 + 2
  CHECK(tent["channels"]["wholesale"]["expected"].get_int64().value() == 2);  // 50% of 5, down
  CHECK(tent["channels"]["shop"]["last_pushed"].is_null());
  CHECK(std::string_view(tent["channels"]["shop"]["reason"].get_string().value()) ==
        "no_connector");
  // A kit: min over components of ⌊pool / per kit⌋, then the rules. shop: min(7, ⌊5/2⌋) = 2;
  // wholesale (DC-EAST only): min(5, ⌊4/2⌋) = 2, 50% → 1.
  json_doc bundle = server.get_json("/v1/skus/BUNDLE");
  CHECK(bundle["channels"]["shop"]["expected"].get_int64().value() == 2);
  CHECK(bundle["channels"]["wholesale"]["expected"].get_int64().value() == 1);

  // Every channel keeps a record per SKU; with no connector running, nothing is pushed and the
  // out-of-sync list says why.
  json_doc oos = server.get_json("/v1/sync/out-of-sync?channel=shop");
  bool listed = false;
  for (simdjson::dom::element e : oos["out_of_sync"].get_array()) {
    if (std::string_view(e["sku"].get_string().value()) == "TENT") {
      listed = true;
      CHECK(std::string_view(e["reason"].get_string().value()) == "no_connector");
      CHECK(e["expected"].get_int64().value() == 7);
    }
  }
  CHECK(listed);
  CHECK(server.get("/v1/sync/out-of-sync?channel=nope").status == 400);
  json_doc status = server.get_json("/v1/status");
  CHECK(status["channels"].get_array().size() == 2);
  auto metrics = server.get("/metrics");
  CHECK(metrics.body.find("stockd_channel_out_of_sync_skus{channel=\"shop\"}") != std::string::npos);
}

} // namespace stockd::e2e
