// End-to-end: reservations against the real stockd binary (DESIGN §5 POST/DELETE
// /v1/reservations, §2 "Reservations expire on the engine's clock").
#include <atomic>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

std::string reserve_body(std::string_view key, std::string_view sku, std::int64_t qty,
                         std::string_view extra = "") {
  std::string body = "{\"key\":\"" + std::string(key) + "\",\"sku\":\"" + std::string(sku) +
                     "\",\"qty\":" + std::to_string(qty);
  if (!extra.empty()) {
    body += ',';
    body += extra;
  }
  return body + "}";
}

struct reservation {
  unsigned status = 0;
  std::string id;
  std::string location;
  std::int64_t qty = 0;
  std::string state;
  bool has_expiry = false;
  std::int64_t available = -1;  // 409 insufficient only
  std::string body;
};

reservation read_reservation(const http_response& res) {
  reservation r;
  r.status = res.status;
  r.body = res.body;
  if (res.status == 0 || res.body.empty() || res.body[0] != '{') {
    return r;
  }
  json_doc doc(res.body);
  if (auto id = doc.root()["id"]; !id.error()) {
    r.id = std::string(id.get_string().value());
    r.location = std::string(doc["location"].get_string().value());
    r.qty = doc["qty"].get_int64().value();
    r.state = std::string(doc["state"].get_string().value());
    r.has_expiry = !doc["expires_at"].is_null();
  }
  if (auto available = doc.root()["available"]; !available.error()) {
    r.available = available.get_int64().value();
  }
  return r;
}

reservation reserve(const server_process& server, std::string_view key, std::string_view sku,
                    std::int64_t qty, std::string_view extra = "") {
  return read_reservation(server.post("/v1/reservations", reserve_body(key, sku, qty, extra)));
}

reservation release(const server_process& server, const std::string& id) {
  http_request req;
  req.method = "DELETE";
  req.target = "/v1/reservations/" + id;
  return read_reservation(server.request(req));
}

reservation commit(const server_process& server, const std::string& id,
                   std::string_view order_id) {
  return read_reservation(server.post("/v1/reservations/" + id + "/commit",
                                      "{\"order_id\":\"" + std::string(order_id) + "\"}"));
}

} // namespace

TEST_CASE("a reservation moves available to reserved and answers 409 with what is left",
          "[e2e][reservations]") {
  server_process server;
  server.start();
  receive(server, "r1", "MUG", 5);

  auto first = reserve(server, "cart-1", "MUG", 3, "\"expires_in_s\":900");
  INFO(first.body);
  REQUIRE(first.status == 201);
  CHECK(first.location == "main");
  CHECK(first.qty == 3);
  CHECK(first.state == "active");
  CHECK(first.has_expiry);
  location_view v = read_location(server, "MUG");
  CHECK(v.available == 2);
  CHECK(v.reserved == 3);
  CHECK(v.on_hand == 5);

  auto too_many = reserve(server, "cart-2", "MUG", 3);
  INFO(too_many.body);
  CHECK(too_many.status == 409);
  CHECK(too_many.available == 2);
  CHECK(read_location(server, "MUG").reserved == 3);  // a refusal holds nothing

  SECTION("the same key answers the same reservation and reserves nothing more") {
    auto again = reserve(server, "cart-1", "MUG", 3, "\"expires_in_s\":900");
    CHECK(again.status == 201);
    CHECK(again.id == first.id);
    CHECK(read_location(server, "MUG").reserved == 3);
  }
  SECTION("the same key for a different reservation is refused") {
    CHECK(reserve(server, "cart-1", "MUG", 1).status == 422);
  }
  SECTION("bad input names the field") {
    auto res = server.post("/v1/reservations", reserve_body("k", "MUG", 0));
    CHECK(res.status == 400);
    CHECK(res.body.find("\"field\":\"qty\"") != std::string::npos);
    res = server.post("/v1/reservations", reserve_body("k", "MUG", 1, "\"location\":\"nowhere\""));
    CHECK(res.status == 400);
    CHECK(res.body.find("\"field\":\"location\"") != std::string::npos);
    res = server.post("/v1/reservations", reserve_body("k", "MUG", 1, "\"expires_in_s\":99999999"));
    CHECK(res.status == 400);
    CHECK(res.body.find("\"field\":\"expires_in_s\"") != std::string::npos);
  }
  SECTION("writes need a token with the ingest scope") {
    http_request req;
    req.method = "POST";
    req.target = "/v1/reservations";
    req.body = reserve_body("k", "MUG", 1);
    req.token = std::nullopt;
    http_client client("127.0.0.1", server.port());
    CHECK(client.send(req).status == 401);
  }
}

TEST_CASE("release returns the hold and commit turns it into a committed order line",
          "[e2e][reservations]") {
  server_process server;
  server.start();
  receive(server, "r1", "LAMP", 10);
  auto a = reserve(server, "a", "LAMP", 2);
  auto b = reserve(server, "b", "LAMP", 3);
  REQUIRE(a.status == 201);
  REQUIRE(b.status == 201);
  CHECK(read_location(server, "LAMP").reserved == 5);

  auto released = release(server, a.id);
  INFO(released.body);
  CHECK(released.status == 200);
  CHECK(released.state == "released");
  CHECK(released.qty == 2);
  auto committed = commit(server, b.id, "order-7");
  INFO(committed.body);
  CHECK(committed.status == 200);
  CHECK(committed.state == "committed");

  location_view v = read_location(server, "LAMP");
  CHECK(v.available == 7);
  CHECK(v.reserved == 0);
  CHECK(v.committed == 3);
  CHECK(v.on_hand == 10);

  CHECK(release(server, a.id).status == 200);           // a retried DELETE
  CHECK(commit(server, b.id, "order-7").status == 200); // a retried commit
  CHECK(commit(server, a.id, "order-8").status == 409); // released: cannot be committed
  CHECK(release(server, b.id).status == 409);           // committed: cannot be released
  CHECK(release(server, "r.LAMP.main.00000000000000000000000000000000").status == 404);
  CHECK(release(server, "not-an-id").status == 404);
  v = read_location(server, "LAMP");
  CHECK(v.available == 7);
  CHECK(v.committed == 3);
}

TEST_CASE("a commit to an existing order line answers 409 and the hold can still be committed",
          "[e2e][reservations]") {
  server_process server;
  server.start();
  receive(server, "r1", "KITE", 10);
  post_accepted(server, {order_created_json("o1", "KITE", 1, "O1")});
  auto r = reserve(server, "cart", "KITE", 2);
  REQUIRE(r.status == 201);

  // order_created_json opens line O1/1.
  auto taken = read_reservation(server.post("/v1/reservations/" + r.id + "/commit",
                                            R"({"order_id":"O1","line_id":"1"})"));
  INFO(taken.body);
  CHECK(taken.status == 409);
  CHECK(taken.state == "active");
  CHECK(json_doc(taken.body)["error"].get_string().value() == "refused");
  CHECK(json_doc(taken.body)["detail"].get_string().value() ==
        "inconsistent: order line O1/1 already exists");
  location_view v = read_location(server, "KITE");
  CHECK(v.reserved == 2);
  CHECK(v.committed == 1);

  auto other = read_reservation(server.post("/v1/reservations/" + r.id + "/commit",
                                            R"({"order_id":"O1","line_id":"2"})"));
  INFO(other.body);
  CHECK(other.status == 200);
  CHECK(other.state == "committed");
  v = read_location(server, "KITE");
  CHECK(v.reserved == 0);
  CHECK(v.committed == 3);
}

TEST_CASE("without a location the first configured location that can cover the quantity is used",
          "[e2e][reservations]") {
  server_options opts;
  opts.config_toml = "[[locations]]\nid = \"DC-EAST\"\n\n[[locations]]\nid = \"DC-WEST\"\n";
  server_process server(opts);
  server.start();
  receive(server, "e1", "TENT", 2, "DC-EAST");
  receive(server, "w1", "TENT", 5, "DC-WEST");

  auto east = reserve(server, "k1", "TENT", 2, "\"channel\":\"pos\"");
  CHECK(east.status == 201);
  CHECK(east.location == "DC-EAST");
  auto west = reserve(server, "k2", "TENT", 1);
  CHECK(west.status == 201);
  CHECK(west.location == "DC-WEST");  // DC-EAST has nothing left
  auto none = reserve(server, "k3", "TENT", 5);
  CHECK(none.status == 409);
  CHECK(none.available == 4);  // the most one location could give
  auto named = reserve(server, "k4", "TENT", 4, "\"location\":\"DC-WEST\"");
  CHECK(named.status == 201);
  CHECK(named.location == "DC-WEST");
  CHECK(read_location(server, "TENT", "DC-WEST").available == 0);
}

TEST_CASE("concurrent reservations never reserve more than is available",
          "[e2e][reservations]") {
  server_process server;
  server.start();
  constexpr std::int64_t stock = 7;
  receive(server, "r1", "LAST", stock);

  constexpr int threads = 4;
  constexpr int per_thread = 6;
  std::atomic<int> created{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      http_client client("127.0.0.1", server.port());
      for (int i = 0; i < per_thread; ++i) {
        http_request req;
        req.method = "POST";
        req.target = "/v1/reservations";
        req.body = reserve_body("t" + std::to_string(t) + "-" + std::to_string(i), "LAST", 1);
        req.token = server.token();
        auto res = client.send(req);
        (res.status == 201 ? created : res.status == 409 ? refused : other).fetch_add(1);
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  CHECK(other.load() == 0);
  CHECK(created.load() == stock);
  CHECK(refused.load() == threads * per_thread - stock);
  location_view v = read_location(server, "LAST");
  CHECK(v.reserved == stock);
  CHECK(v.available == 0);
}

TEST_CASE("an expired reservation returns to available through a journaled event",
          "[e2e][reservations]") {
  server_process server;
  server.start();
  receive(server, "r1", "CAP", 4);
  auto r = reserve(server, "short", "CAP", 3, "\"expires_in_s\":1");
  REQUIRE(r.status == 201);
  CHECK(read_location(server, "CAP").reserved == 3);

  CHECK(eventually([&] { return read_location(server, "CAP").reserved == 0; },
                   std::chrono::seconds(5)));
  location_view v = read_location(server, "CAP");
  CHECK(v.reserved == 0);
  CHECK(v.available == 4);
  auto ledger = read_full_ledger(server, "CAP");
  REQUIRE(!ledger.empty());
  CHECK(ledger[0].type == "reservation_expired");
  CHECK(ledger[0].id.rfind("expire:" + r.id + "#", 0) == 0);
  CHECK(commit(server, r.id, "late").status == 409);

  // Replay from the journal alone gives the same state.
  server.restart();
  v = read_location(server, "CAP");
  CHECK(v.reserved == 0);
  CHECK(v.available == 4);
}

TEST_CASE("reservations and their keys survive kill -9", "[e2e][reservations]") {
  server_process server;
  server.start();
  receive(server, "r1", "BOOT", 6);
  auto held = reserve(server, "cart-9", "BOOT", 4, "\"expires_in_s\":3600");
  REQUIRE(held.status == 201);
  auto gone = reserve(server, "cart-10", "BOOT", 1);
  REQUIRE(gone.status == 201);
  REQUIRE(release(server, gone.id).status == 200);

  server.kill(SIGKILL);
  REQUIRE(server.wait_exit(std::chrono::seconds(10)).has_value());
  server.start();

  location_view v = read_location(server, "BOOT");
  CHECK(v.reserved == 4);
  CHECK(v.available == 2);
  auto again = reserve(server, "cart-9", "BOOT", 4, "\"expires_in_s\":3600");
  CHECK(again.status == 201);
  CHECK(again.id == held.id);
  CHECK(read_location(server, "BOOT").reserved == 4);
  CHECK(release(server, gone.id).status == 200);  // the release is remembered too
  auto committed = commit(server, held.id, "order-1");
  CHECK(committed.status == 200);
  v = read_location(server, "BOOT");
  CHECK(v.committed == 4);
  CHECK(v.reserved == 0);
}

} // namespace stockd::e2e

namespace stockd::e2e {

TEST_CASE("a hold restored from a checkpoint still expires after a restart",
          "[e2e][reservations]") {
  server_process server;
  server.start();
  receive(server, "r1", "SOCK", 5);
  auto r = reserve(server, "brief", "SOCK", 2, "\"expires_in_s\":2");
  REQUIRE(r.status == 201);
  // A clean stop checkpoints everything: the next start replays nothing, so only the wake at
  // recovery gives this SKU × location a live actor (a GET reads the checkpoint, spawns nothing).
  server.restart();
  CHECK(journal_head(server) == 2);
  CHECK(eventually([&] { return read_location(server, "SOCK").reserved == 0; },
                   std::chrono::seconds(5)));
  location_view v = read_location(server, "SOCK");
  CHECK(v.reserved == 0);
  CHECK(v.available == 5);
  CHECK(journal_head(server) == 3);  // the reservation_expired
}

} // namespace stockd::e2e

namespace stockd::e2e {

// Found by the randomized HTTP test (random_http_tests.cpp): a sender's reservation_created
// (POST /v1/events) carries its own id, which may be used at several SKUs (a cart) or again after
// its hold ended. Each hold's expiry has its own journal id ("expire:<id>#<hold>"), so each one
// expires; with "expire:<id>" alone the second was a journal duplicate and stayed reserved.
TEST_CASE("a sender's reservation id used at two SKUs expires at both",
          "[e2e][reservations]") {
  server_process server;
  server.start();
  receive(server, "a1", "CART-A", 5);
  receive(server, "b1", "CART-B", 5);
  const std::string past =
      "\"expires_at\":\"2020-01-01T00:00:00Z\",\"reservation_id\":\"cart-42\"";
  // Both holds must have been taken, or their ending proves nothing.
  post_accepted(server,
                {event_json("reservation_created", "h1", "CART-A", "\"qty\":2," + past),
                 event_json("reservation_created", "h2", "CART-B", "\"qty\":3," + past)});
  CHECK(eventually(
      [&] {
        return read_location(server, "CART-A").reserved == 0 &&
               read_location(server, "CART-B").reserved == 0;
      },
      std::chrono::seconds(3)));
  CHECK(read_location(server, "CART-A").reserved == 0);
  CHECK(read_location(server, "CART-B").reserved == 0);
  // Each hold ended by its own journaled expiry, not by never having been held.
  for (const char* sku : {"CART-A", "CART-B"}) {
    INFO(sku);
    auto ledger = read_full_ledger(server, sku);
    REQUIRE(ledger.size() == 3);  // received, reservation_created, reservation_expired
    CHECK(ledger[0].type == "reservation_expired");
    CHECK(ledger[1].type == "reservation_created");
  }
}

namespace {

/// GIFT-BOX = 2 shirts + 1 mug, at DC-EAST and DC-WEST.
server_options kit_config() {
  server_options opts;
  opts.config_toml = R"(
[[locations]]
id = "DC-EAST"

[[locations]]
id = "DC-WEST"

[[skus]]
id = "GIFT-BOX"
components = [{ sku = "TSHIRT", qty = 2 }, { sku = "MUG", qty = 1 }]
)";
  return opts;
}

struct kit_component_view {
  std::string id;
  std::string sku;
  std::int64_t qty = 0;
};

std::vector<kit_component_view> read_components(const http_response& res) {
  std::vector<kit_component_view> out;
  json_doc doc(res.body);
  for (simdjson::dom::element c : doc["components"].get_array()) {
    out.push_back({std::string(c["id"].get_string().value()),
                   std::string(c["sku"].get_string().value()), c["qty"].get_int64().value()});
  }
  return out;
}

std::int64_t kits_available(const server_process& server, std::string_view location) {
  json_doc kit = server.get_json("/v1/skus/GIFT-BOX");
  return kit["kit"]["locations"][location].get_int64().value();
}

} // namespace

TEST_CASE("a kit reservation holds each component's share at one location, and DELETE releases all",
          "[e2e][reservations][kits]") {
  server_process server(kit_config());
  server.start();
  receive(server, "s1", "TSHIRT", 10, "DC-EAST");
  receive(server, "m1", "MUG", 5, "DC-EAST");

  auto res = server.post("/v1/reservations",
                         reserve_body("cart-1", "GIFT-BOX", 2, "\"expires_in_s\":900"));
  INFO(res.body);
  REQUIRE(res.status == 201);
  auto kit = read_reservation(res);
  CHECK(kit.id.starts_with("k.GIFT-BOX.DC-EAST."));
  CHECK(kit.location == "DC-EAST");
  CHECK(kit.qty == 2);
  CHECK(kit.state == "active");
  CHECK(kit.has_expiry);
  auto components = read_components(res);
  REQUIRE(components.size() == 2);
  CHECK(components[0].sku == "TSHIRT");
  CHECK(components[0].qty == 4);
  CHECK(components[0].id.starts_with("r.TSHIRT.DC-EAST."));
  CHECK(components[1].sku == "MUG");
  CHECK(components[1].qty == 2);

  location_view shirts = read_location(server, "TSHIRT", "DC-EAST");
  CHECK(shirts.available == 6);
  CHECK(shirts.reserved == 4);
  location_view mugs = read_location(server, "MUG", "DC-EAST");
  CHECK(mugs.available == 3);
  CHECK(mugs.reserved == 2);
  CHECK(kits_available(server, "DC-EAST") == 3);  // min(6 / 2, 3 / 1)

  // The same key again: the same kit reservation, nothing more held.
  const auto head = journal_head(server);
  auto again = server.post("/v1/reservations",
                           reserve_body("cart-1", "GIFT-BOX", 2, "\"expires_in_s\":900"));
  CHECK(again.status == 201);
  CHECK(again.header("Idempotent-Replayed") == "true");
  CHECK(read_reservation(again).id == kit.id);
  CHECK(journal_head(server) == head);
  CHECK(read_location(server, "MUG", "DC-EAST").reserved == 2);

  auto released = release(server, kit.id);
  INFO(released.body);
  CHECK(released.status == 200);
  CHECK(released.state == "released");
  CHECK(released.qty == 2);
  CHECK(read_location(server, "TSHIRT", "DC-EAST").reserved == 0);
  CHECK(read_location(server, "TSHIRT", "DC-EAST").available == 10);
  CHECK(read_location(server, "MUG", "DC-EAST").reserved == 0);
  CHECK(journal_head(server) == head + 2);  // one release per component
  CHECK(release(server, kit.id).status == 200);  // a retried DELETE
  CHECK(release(server, "k.GIFT-BOX.DC-EAST.00000000000000000000000000000000").status == 404);
  CHECK(release(server, "k.MUG.DC-EAST.00000000000000000000000000000000").status == 404);
}

TEST_CASE("a committed kit reservation opens each component's line, which a kit cancel finds",
          "[e2e][reservations][kits]") {
  server_process server(kit_config());
  server.start();
  receive(server, "s1", "TSHIRT", 10, "DC-EAST");
  receive(server, "m1", "MUG", 5, "DC-EAST");
  auto kit = reserve(server, "cart-1", "GIFT-BOX", 2);
  REQUIRE(kit.status == 201);

  auto committed = read_reservation(server.post(
      "/v1/reservations/" + kit.id + "/commit", R"({"order_id":"WEB-1","line_id":"1"})"));
  INFO(committed.body);
  CHECK(committed.status == 200);
  CHECK(committed.state == "committed");
  location_view shirts = read_location(server, "TSHIRT", "DC-EAST");
  CHECK(shirts.committed == 4);
  CHECK(shirts.reserved == 0);
  CHECK(read_location(server, "MUG", "DC-EAST").committed == 2);

  // The order's kit line is cancelled like any kit order's: each component's line goes back.
  post_accepted(server, {event_json("order_cancelled", "c1", "GIFT-BOX",
                                    R"("qty":2,"order_id":"WEB-1","line_id":"1")", "DC-EAST")});
  shirts = read_location(server, "TSHIRT", "DC-EAST");
  CHECK(shirts.committed == 0);
  CHECK(shirts.available == 10);
  location_view mugs = read_location(server, "MUG", "DC-EAST");
  CHECK(mugs.committed == 0);
  CHECK(mugs.available == 5);
}

TEST_CASE("a kit that no location can cover answers 409 and changes nothing",
          "[e2e][reservations][kits]") {
  server_process server(kit_config());
  server.start();
  receive(server, "s1", "TSHIRT", 10, "DC-EAST");  // shirts for 5 kits, mugs for 1
  receive(server, "m1", "MUG", 1, "DC-EAST");
  receive(server, "s2", "TSHIRT", 3, "DC-WEST");   // 1 kit: the second shirt pair is missing
  receive(server, "m2", "MUG", 4, "DC-WEST");
  const auto head = journal_head(server);

  auto refused = reserve(server, "cart-1", "GIFT-BOX", 2);
  INFO(refused.body);
  CHECK(refused.status == 409);
  CHECK(refused.available == 1);  // the most kits one location could give
  CHECK(journal_head(server) == head);
  for (const char* location : {"DC-EAST", "DC-WEST"}) {
    CHECK(read_location(server, "TSHIRT", location).reserved == 0);
    CHECK(read_location(server, "MUG", location).reserved == 0);
  }
  auto named = reserve(server, "cart-2", "GIFT-BOX", 1, "\"location\":\"DC-WEST\"");
  CHECK(named.status == 201);
  CHECK(named.location == "DC-WEST");
  CHECK(read_location(server, "TSHIRT", "DC-WEST").reserved == 2);
  CHECK(read_location(server, "TSHIRT", "DC-EAST").reserved == 0);
}

TEST_CASE("a kit reservation stays releasable across a restart", "[e2e][reservations][kits]") {
  server_process server(kit_config());
  server.start();
  receive(server, "s1", "TSHIRT", 6, "DC-EAST");
  receive(server, "m1", "MUG", 3, "DC-EAST");
  auto kit = reserve(server, "cart-1", "GIFT-BOX", 3, "\"expires_in_s\":3600");
  REQUIRE(kit.status == 201);

  server.restart();  // SIGTERM, then a start on the same data dir
  CHECK(read_location(server, "TSHIRT", "DC-EAST").reserved == 6);
  CHECK(read_location(server, "MUG", "DC-EAST").reserved == 3);
  auto again = reserve(server, "cart-1", "GIFT-BOX", 3, "\"expires_in_s\":3600");
  CHECK(again.status == 201);
  CHECK(again.id == kit.id);
  auto released = release(server, kit.id);
  INFO(released.body);
  CHECK(released.status == 200);
  CHECK(read_location(server, "TSHIRT", "DC-EAST").reserved == 0);
  CHECK(read_location(server, "MUG", "DC-EAST").reserved == 0);
  CHECK(read_location(server, "MUG", "DC-EAST").available == 3);
}

} // namespace stockd::e2e
