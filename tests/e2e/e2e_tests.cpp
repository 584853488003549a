// End-to-end: the real stockd binary over HTTP (DESIGN §2, §5, §7). Each test starts its own
// server in a temporary directory, so tests share nothing and may run in any order.
#include <sys/wait.h>

#include <csignal>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {

TEST_CASE("stockd journals posted events and answers them back as buckets and a paged ledger",
          "[e2e]") {
  server_process server;
  server.start();

  auto results = post_events(
      server, json_array({received_json("r1", "TSHIRT-RED-M", 24),
                          order_created_json("o1", "TSHIRT-RED-M", 3, "order-1"),
                          received_json("other-1", "MUG-BLUE", 5),
                          received_json("r2", "TSHIRT-RED-M", 6),
                          order_created_json("o2", "TSHIRT-RED-M", 2, "order-2")}));
  REQUIRE(results.size() == 5);
  for (std::size_t i = 0; i < results.size(); ++i) {
    CHECK(results[i].status == "accepted");
    CHECK(results[i].seq == i + 1);
  }
  CHECK(results[1].id == "o1");

  SECTION("the SKU answers its buckets and the last event") {
    location_view v = read_location(server, "TSHIRT-RED-M");
    CHECK(v.available == 25);  // 24 + 6 received, 3 + 2 committed
    CHECK(v.committed == 5);
    CHECK(v.reserved == 0);
    CHECK(v.incoming == 0);
    CHECK(v.on_hand == 30);
    CHECK(v.oversold == 0);
    CHECK(v.last_event_id == "o2");
    CHECK(v.last_event_seq == 5);
    CHECK(v.applied_seq == 5);

    json_doc doc = server.get_json("/v1/skus/TSHIRT-RED-M");
    CHECK(doc["sku"].get_string().value() == "TSHIRT-RED-M");
    CHECK(doc["locations"]["main"]["last_event"]["source"].get_string().value() == test_source);
    // The same instant as sent, in stockd's canonical millisecond form.
    CHECK(doc["locations"]["main"]["last_event"]["occurred_at"].get_string().value() ==
          "2026-11-27T10:15:00.000Z");
    CHECK(doc["complete"].get_bool().value());

    location_view mug = read_location(server, "MUG-BLUE");
    CHECK(mug.available == 5);
    CHECK(mug.on_hand == 5);
    CHECK(mug.last_event_id == "other-1");
  }

  SECTION("the ledger is newest first, holds only the SKU's events and pages with before") {
    ledger_page first = read_ledger_page(server, "TSHIRT-RED-M", "limit=2");
    REQUIRE(first.events.size() == 2);
    CHECK(first.events[0].id == "o2");
    CHECK(first.events[0].seq == 5);
    CHECK(first.events[0].type == "order_created");
    CHECK(first.events[0].qty == 2);
    CHECK(first.events[1].id == "r2");
    CHECK(first.events[1].seq == 4);
    CHECK(first.events[1].qty == 6);
    CHECK(first.next_before == 4);

    // seq 3 belongs to MUG-BLUE and must not appear here.
    ledger_page second = read_ledger_page(server, "TSHIRT-RED-M", "limit=2&before=4");
    REQUIRE(second.events.size() == 2);
    CHECK(second.events[0].id == "o1");
    CHECK(second.events[0].seq == 2);
    CHECK(second.events[1].id == "r1");
    CHECK(second.events[1].seq == 1);
    CHECK(second.events[1].source == test_source);
    CHECK(second.events[1].qty == 24);

    // A full page may still be the last one; the next page is then empty and ends the walk.
    ledger_page third = read_ledger_page(server, "TSHIRT-RED-M",
                                         "limit=2&before=" + std::to_string(second.next_before));
    CHECK(third.events.empty());
    CHECK(third.next_before == 0);

    auto all = read_full_ledger(server, "TSHIRT-RED-M", 3);
    REQUIRE(all.size() == 4);
    CHECK(all[0].seq == 5);
    CHECK(all[3].seq == 1);
  }

  SECTION("an unknown SKU answers 404 naming the sku") {
    auto res = server.get("/v1/skus/NO-SUCH-SKU");
    CHECK(res.status == 404);
    CHECK(json_doc(res.body)["field"].get_string().value() == "sku");
  }
}

TEST_CASE("posting the same batch twice answers duplicate with the original seqs and changes "
          "nothing",
          "[e2e]") {
  server_process server;
  server.start();
  const std::string batch = json_array({received_json("d1", "SKU-DUP", 10),
                                        received_json("d2", "SKU-DUP", 4),
                                        order_created_json("d3", "SKU-DUP", 3, "order-d")});
  auto first = post_events(server, batch);
  REQUIRE(first.size() == 3);
  for (const auto& r : first) {
    CHECK(r.status == "accepted");
  }
  const std::string state_before = server.get("/v1/skus/SKU-DUP").body;
  const std::uint64_t head_before = journal_head(server);
  CHECK(head_before == 3);

  auto second = post_events(server, batch);
  REQUIRE(second.size() == 3);
  for (std::size_t i = 0; i < second.size(); ++i) {
    CHECK(second[i].id == first[i].id);
    CHECK(second[i].status == "duplicate");
    CHECK(second[i].seq == first[i].seq);
  }
  CHECK(server.get("/v1/skus/SKU-DUP").body == state_before);
  CHECK(journal_head(server) == head_before);
  location_view v = read_location(server, "SKU-DUP");
  CHECK(v.available == 11);
  CHECK(v.committed == 3);
  CHECK(read_full_ledger(server, "SKU-DUP").size() == 3);

  // The same id from another source is another event (the key is (source, id)).
  auto other = post_events(server, json_array({received_json("d1", "SKU-DUP", 1, "erp")}));
  REQUIRE(other.size() == 1);
  CHECK(other[0].status == "accepted");
  CHECK(other[0].seq == 4);
}

TEST_CASE("a malformed JSON body answers 400 and journals nothing of it", "[e2e]") {
  server_process server;
  server.start();
  post_events(server, json_array({received_json("m0", "SKU-M", 1)}));
  REQUIRE(journal_head(server) == 1);

  // A valid event first, then a syntax error: the whole body is refused.
  const std::string body = "[" + received_json("m1", "SKU-M", 5) + ",{\"id\": \"m2\", \"qty\": ]";
  auto res = server.post("/v1/events", body);
  CHECK(res.status == 400);
  json_doc doc(res.body);
  CHECK(doc["field"].get_string().value() == "body");
  CHECK_FALSE(doc["error"].get_string().value().empty());

  auto not_json = server.post("/v1/events", "this is not json");
  CHECK(not_json.status == 400);

  CHECK(journal_head(server) == 1);
  location_view v = read_location(server, "SKU-M");
  CHECK(v.available == 1);
  CHECK(read_full_ledger(server, "SKU-M").size() == 1);
}

TEST_CASE("a badly typed qty rejects that event by field and accepts the rest of the batch",
          "[e2e]") {
  server_process server;
  server.start();
  const std::string bad = event_json("received", "q2", "SKU-Q", "\"qty\":\"5\"");
  auto results = post_events(server, json_array({received_json("q1", "SKU-Q", 7), bad,
                                                 received_json("q3", "SKU-Q", 2)}));
  REQUIRE(results.size() == 3);
  CHECK(results[0].status == "accepted");
  CHECK(results[0].seq == 1);
  CHECK(results[1].id == "q2");
  CHECK(results[1].status == "rejected");
  CHECK(results[1].index == 1);
  CHECK(results[1].field == "qty");
  CHECK_FALSE(results[1].error.empty());
  CHECK(results[2].status == "accepted");
  CHECK(results[2].seq == 2);

  CHECK(journal_head(server) == 2);
  location_view v = read_location(server, "SKU-Q");
  CHECK(v.available == 9);
  CHECK(v.on_hand == 9);

  // The rejected id was never recorded: sent correctly now, it is accepted, not duplicate.
  auto fixed = post_events(server, json_array({received_json("q2", "SKU-Q", 5)}));
  REQUIRE(fixed.size() == 1);
  CHECK(fixed[0].status == "accepted");
  CHECK(read_location(server, "SKU-Q").available == 14);
}

TEST_CASE("an unknown event type is rejected naming the type field", "[e2e]") {
  server_process server;
  server.start();
  auto results = post_events(
      server, json_array({received_json("a1", "SKU-T", 3),
                          event_json("nope", "bad", "SKU-T", "\"qty\":1")}));
  REQUIRE(results.size() == 2);
  CHECK(results[0].status == "accepted");
  CHECK(results[1].id == "bad");
  CHECK(results[1].status == "rejected");
  CHECK(results[1].index == 1);
  CHECK(results[1].field == "type");
  CHECK(results[1].error == "unknown event type 'nope'");
  CHECK(journal_head(server) == 1);
  CHECK(read_location(server, "SKU-T").available == 3);
}

TEST_CASE("an unknown location is rejected naming the location field", "[e2e]") {
  server_process server;
  server.start();
  auto results = post_events(
      server, json_array({event_json("received", "l1", "SKU-L", "\"qty\":4", "DC-NOWHERE"),
                          received_json("l2", "SKU-L", 2)}));
  REQUIRE(results.size() == 2);
  CHECK(results[0].status == "rejected");
  CHECK(results[0].index == 0);
  CHECK(results[0].field == "location");
  CHECK(results[0].error.find("DC-NOWHERE") != std::string::npos);
  CHECK(results[1].status == "accepted");
  CHECK(results[1].seq == 1);

  json_doc doc = server.get_json("/v1/skus/SKU-L");
  CHECK(doc["locations"]["DC-NOWHERE"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(read_location(server, "SKU-L").available == 2);
}

TEST_CASE("an NDJSON body is accepted like an array", "[e2e]") {
  server_process server;
  server.start();
  auto results = post_events(server,
                             ndjson({received_json("n1", "SKU-N", 8),
                                     order_created_json("n2", "SKU-N", 3, "order-n"),
                                     received_json("n3", "SKU-N", 1)}),
                             "application/x-ndjson");
  REQUIRE(results.size() == 3);
  for (std::size_t i = 0; i < results.size(); ++i) {
    CHECK(results[i].status == "accepted");
    CHECK(results[i].seq == i + 1);
  }
  location_view v = read_location(server, "SKU-N");
  CHECK(v.available == 6);
  CHECK(v.committed == 3);
  CHECK(v.on_hand == 9);
}

TEST_CASE("a body over server.body_bytes_max answers 413 and journals nothing", "[e2e]") {
  server_options opts;
  opts.config_toml = "[server]\nbody_bytes_max = 4096\n";
  server_process server(opts);
  server.start();

  // Just under the limit still works, so the 413 below is the configured limit at work.
  std::vector<std::string> small;
  for (int i = 0; i < 10; ++i) {
    small.push_back(received_json("s" + std::to_string(i), "SKU-BIG", 1));
  }
  const std::string small_body = json_array(small);
  REQUIRE(small_body.size() < 4096);
  auto ok = post_events(server, small_body);
  CHECK(ok.size() == 10);
  REQUIRE(journal_head(server) == 10);

  std::vector<std::string> many;
  for (int i = 0; i < 40; ++i) {
    many.push_back(received_json("big" + std::to_string(i), "SKU-BIG", 1));
  }
  const std::string big_body = json_array(many);
  REQUIRE(big_body.size() > 4096);
  auto res = server.post("/v1/events", big_body);
  INFO(res.transport_error << res.body);
  CHECK(res.status == 413);
  if (res.status == 413) {
    CHECK(json_doc(res.body)["error"].get_string().value().find("4096") != std::string::npos);
  }

  // Far over the limit: refused from the Content-Length, before the body is read.
  const std::string huge_body = "[" + std::string(1 << 20, ' ') + "]";
  auto huge = server.post("/v1/events", huge_body);
  INFO(huge.transport_error << huge.body);
  CHECK(huge.status == 413);

  CHECK(journal_head(server) == 10);
  CHECK(read_location(server, "SKU-BIG").available == 10);
  // Both refusals count, including the one the transport made before the API saw a request.
  json_doc status = server.get_json("/v1/status");
  CHECK(status["http"]["responses_4xx"].get_uint64().value() == 2);
}

TEST_CASE("requests without a token or with a wrong token answer 401 and change nothing",
          "[e2e]") {
  server_process server;
  server.start();
  // start() polls /readyz, which answers 503 until recovery is done: count from here.
  json_doc before = server.get_json("/v1/status");
  const std::uint64_t before_4xx = before["http"]["responses_4xx"].get_uint64().value();
  const std::uint64_t before_5xx = before["http"]["responses_5xx"].get_uint64().value();
  http_client client("127.0.0.1", server.port());
  const std::string body = json_array({received_json("x1", "SKU-AUTH", 3)});

  http_request no_token;
  no_token.method = "POST";
  no_token.target = "/v1/events";
  no_token.body = body;
  auto missing = client.send(no_token);
  CHECK(missing.status == 401);
  CHECK(missing.header("WWW-Authenticate") == "Bearer");
  CHECK(json_doc(missing.body)["field"].get_string().value() == "Authorization");

  http_request wrong = no_token;
  wrong.token = "not-the-token";
  auto invalid = client.send(wrong);
  CHECK(invalid.status == 401);
  CHECK(invalid.header("WWW-Authenticate").find("invalid_token") != std::string::npos);

  http_request read_without;
  read_without.target = "/v1/status";
  CHECK(client.send(read_without).status == 401);
  read_without.target = "/v1/skus/SKU-AUTH";
  CHECK(client.send(read_without).status == 401);
  read_without.target = "/metrics";
  CHECK(client.send(read_without).status == 401);

  CHECK(journal_head(server) == 0);
  CHECK(server.get("/v1/skus/SKU-AUTH").status == 404);

  // Refusals are visible to operators: five 401s and the 404 above.
  json_doc status = server.get_json("/v1/status");
  CHECK(status["http"]["responses_4xx"].get_uint64().value() - before_4xx == 6);
  CHECK(status["http"]["responses_5xx"].get_uint64().value() - before_5xx == 0);
}

TEST_CASE("a SKU with a slash in its name is readable by its percent-encoded name", "[e2e]") {
  server_process server;
  server.start();
  auto results = post_events(server, json_array({received_json("s1", "SHIRT/RED/M", 4),
                                                 received_json("s2", "SHIRT", 1)}));
  REQUIRE(results.size() == 2);
  REQUIRE(results[0].status == "accepted");

  json_doc doc = server.get_json("/v1/skus/SHIRT%2FRED%2FM");
  CHECK(doc["sku"].get_string().value() == "SHIRT/RED/M");
  CHECK(doc["locations"]["main"]["available"].get_int64().value() == 4);
  auto ledger = read_full_ledger(server, "SHIRT%2FRED%2FM");
  REQUIRE(ledger.size() == 1);
  CHECK(ledger[0].id == "s1");

  // A raw slash is another path level, never a different SKU's answer.
  CHECK(server.get("/v1/skus/SHIRT/RED/M").status == 400);
  CHECK(server.get("/v1/skus/SHIRT/RED%2FM/events").status == 400);
}

TEST_CASE("healthz and readyz are open and metrics are Prometheus text with the counters",
          "[e2e]") {
  server_process server;
  server.start();
  post_events(server, json_array({received_json("h1", "SKU-H", 1), received_json("h2", "SKU-H", 2),
                                  event_json("received", "h3", "SKU-H", "\"qty\":0")}));
  post_events(server, json_array({received_json("h1", "SKU-H", 1)}));

  http_client client("127.0.0.1", server.port());
  http_request open;
  open.target = "/healthz";
  auto health = client.send(open);
  CHECK(health.status == 200);
  CHECK(json_doc(health.body)["status"].get_string().value() == "ok");
  open.target = "/readyz";
  auto ready = client.send(open);
  CHECK(ready.status == 200);
  CHECK(json_doc(ready.body)["status"].get_string().value() == "ready");

  auto metrics = server.get("/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.header("Content-Type").rfind("text/plain", 0) == 0);
  const std::string& text = metrics.body;
  CHECK(text.find("# TYPE stockd_events_accepted_total counter\n") != std::string::npos);
  CHECK(text.find("\nstockd_events_accepted_total 2\n") != std::string::npos);
  CHECK(text.find("\nstockd_events_duplicate_total 1\n") != std::string::npos);
  CHECK(text.find("\nstockd_events_rejected_total 1\n") != std::string::npos);
  CHECK(text.find("\nstockd_journal_head 2\n") != std::string::npos);
  CHECK(text.find("\nstockd_ready 1\n") != std::string::npos);

  json_doc status = server.get_json("/v1/status");
  CHECK(status["status"].get_string().value() == "ready");
  CHECK(status["events"]["accepted"].get_uint64().value() == 2);
  CHECK(status["events"]["duplicate"].get_uint64().value() == 1);
  CHECK(status["events"]["rejected"].get_uint64().value() == 1);
}

TEST_CASE("a config file with an unknown key stops stockd with an error naming the key",
          "[e2e]") {
  server_options opts;
  opts.config_toml = "[server]\nlistne = \"x\"\n";
  server_process server(opts);
  server.launch();
  auto status = server.wait_exit(std::chrono::seconds(10));
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) != 0);
  INFO(server.log());
  CHECK(server.log().find("server.listne: unknown key") != std::string::npos);
}

TEST_CASE("a kit ordered in packs through an ERP's item number commits its components",
          "[e2e]") {
  server_options opts;
  opts.config_toml = R"(
[[skus]]
id = "TSHIRT-RED-M"
units = { pack6 = 6 }

[[skus]]
id = "GIFT-BOX"
units = { pack2 = 2 }
components = [{ sku = "TSHIRT-RED-M", qty = 2 }, { sku = "MUG", qty = 1 }]

[[mappings]]
source = "erp"
skus = { "ERP-2000" = "GIFT-BOX", "ERP-1001" = "TSHIRT-RED-M" }
)";
  server_process server(opts);
  server.start();

  // 4 packs of 6 shirts and 10 mugs from the WMS, which has no mapping table.
  auto stock = post_events(
      server, json_array({event_json("received", "r1", "TSHIRT-RED-M", R"("qty":4,"unit":"pack6")"),
                          received_json("r2", "MUG", 10)}));
  REQUIRE(stock.size() == 2);
  CHECK(stock[0].status == "accepted");
  CHECK(stock[1].seq == 2);

  // 3 twin packs of gift boxes = 6 kits = 12 shirts and 6 mugs, named by the ERP's id.
  const std::string kit_order = json_array({event_json(
      "order_created", "k1", "ERP-2000",
      R"("qty":3,"unit":"pack2","order_id":"ORDER-1","line_id":"1","channel":"web")", "main",
      "erp")});
  auto res = server.post("/v1/events", kit_order);
  REQUIRE(res.status == 200);
  {
    json_doc doc(res.body);
    auto results = doc["results"].get_array().value();
    REQUIRE(results.size() == 1);
    simdjson::dom::element one = results.at(0).value();
    CHECK(one["id"].get_string().value() == "k1");
    CHECK(one["status"].get_string().value() == "accepted");
    CHECK(one["seq"].get_uint64().value() == 3);  // the first component's seq
    CHECK(one["components"].get_uint64().value() == 2);
  }
  CHECK(journal_head(server) == 4);

  location_view shirts = read_location(server, "TSHIRT-RED-M");
  CHECK(shirts.available == 12);
  CHECK(shirts.committed == 12);
  CHECK(shirts.on_hand == 24);
  CHECK(shirts.last_event_id == "k1#TSHIRT-RED-M");
  location_view mugs = read_location(server, "MUG");
  CHECK(mugs.available == 4);
  CHECK(mugs.committed == 6);
  CHECK(mugs.last_event_id == "k1#MUG");

  SECTION("the kit reads back as what its components can still make") {
    json_doc kit = server.get_json("/v1/skus/GIFT-BOX");
    CHECK(kit["sku"].get_string().value() == "GIFT-BOX");
    // min(12 shirts / 2, 4 mugs / 1) = 4
    CHECK(kit["kit"]["available"].get_int64().value() == 4);
    CHECK(kit["kit"]["locations"]["main"].get_int64().value() == 4);
    auto components = kit["kit"]["components"].get_array().value();
    REQUIRE(components.size() == 2);
    CHECK(components.at(0)["sku"].get_string().value() == "TSHIRT-RED-M");
    CHECK(components.at(0)["qty"].get_int64().value() == 2);
    CHECK(components.at(0)["available"].get_int64().value() == 12);
    CHECK(components.at(1)["available"].get_int64().value() == 4);
    CHECK(kit["complete"].get_bool().value());
  }

  SECTION("the same kit order again is one duplicate answer with the original seq") {
    auto again = post_events(server, kit_order);
    REQUIRE(again.size() == 1);
    CHECK(again[0].status == "duplicate");
    CHECK(again[0].seq == 3);
    CHECK(journal_head(server) == 4);
    CHECK(read_location(server, "MUG").committed == 6);
  }

  SECTION("a cancel of the kit line releases each component's share") {
    auto cancel = post_events(
        server, json_array({event_json("order_cancelled", "c1", "ERP-2000",
                                       R"("qty":1,"order_id":"ORDER-1","line_id":"1")", "main",
                                       "erp")}));
    REQUIRE(cancel.size() == 1);
    CHECK(cancel[0].status == "accepted");
    CHECK(read_location(server, "TSHIRT-RED-M").committed == 10);
    CHECK(read_location(server, "MUG").available == 5);
  }

  SECTION("unmapped ids, unknown units and stock on a kit are rejected and listed in status") {
    auto bad = post_events(
        server, json_array({received_json("x1", "ERP-404", 1, "erp"),
                            event_json("received", "x2", "MUG", R"("qty":1,"unit":"case")"),
                            received_json("x3", "GIFT-BOX", 1)}));
    REQUIRE(bad.size() == 3);
    CHECK(bad[0].status == "rejected");
    CHECK(bad[0].field == "sku");
    CHECK(bad[0].error == "unmapped sku 'ERP-404' for source 'erp'");
    CHECK(bad[1].field == "unit");
    CHECK(bad[1].error == "unknown unit 'case' for sku 'MUG'");
    CHECK(bad[2].field == "sku");
    CHECK(bad[2].error.find("kits have no stock of their own") == 0);
    CHECK(journal_head(server) == 4);

    json_doc status = server.get_json("/v1/status");
    CHECK(status["unmapped"]["count"].get_uint64().value() == 1);
    auto unmapped = status["unmapped"]["sample"].get_array().value();
    REQUIRE(unmapped.size() == 1);
    CHECK(unmapped.at(0)["source"].get_string().value() == "erp");
    CHECK(unmapped.at(0)["sku"].get_string().value() == "ERP-404");
    CHECK(status["unknown_units"]["count"].get_uint64().value() == 1);
    auto units = status["unknown_units"]["sample"].get_array().value();
    REQUIRE(units.size() == 1);
    CHECK(units.at(0)["source"].get_string().value() == test_source);
    CHECK(units.at(0)["sku"].get_string().value() == "MUG");
    CHECK(units.at(0)["unit"].get_string().value() == "case");
  }
}

TEST_CASE("stockd keeps its state across SIGTERM and a restart", "[e2e]") {
  server_process server;
  server.start();
  const std::string batch = json_array({received_json("k1", "SKU-K", 12),
                                        order_created_json("k2", "SKU-K", 5, "order-k"),
                                        received_json("k3", "SKU-J", 2)});
  post_events(server, batch);
  const std::string state_before = server.get("/v1/skus/SKU-K").body;
  const std::string ledger_before = server.get("/v1/skus/SKU-K/events").body;

  int status = server.stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(server.log().find("stockd: stopped at journal head 3") != std::string::npos);

  server.start();
  CHECK(server.get("/v1/skus/SKU-K").body == state_before);
  CHECK(server.get("/v1/skus/SKU-K/events").body == ledger_before);
  location_view v = read_location(server, "SKU-K");
  CHECK(v.available == 7);
  CHECK(v.committed == 5);
  CHECK(read_location(server, "SKU-J").available == 2);
  json_doc st = server.get_json("/v1/status");
  CHECK(st["journal"]["head"].get_uint64().value() == 3);
  // The orderly stop checkpointed everything, so nothing needs replaying.
  CHECK(st["recovery"]["replayed"].get_uint64().value() == 0);

  // Dedup memory is durable and the journal continues where it stopped.
  auto again = post_events(server, batch);
  REQUIRE(again.size() == 3);
  CHECK(again[1].status == "duplicate");
  CHECK(again[1].seq == 2);
  auto next = post_events(server, json_array({received_json("k4", "SKU-K", 1)}));
  REQUIRE(next.size() == 1);
  CHECK(next[0].seq == 4);
}

TEST_CASE("stockd state survives kill -9 and a restart by replaying the journal", "[e2e]") {
  server_options opts;
  // No checkpoint before the kill: recovery has to rebuild everything from the journal.
  opts.config_toml = "[engine]\ncheckpoint_interval_ms = 3600000\n";
  server_process server(opts);
  server.start();
  std::vector<std::string> events;
  for (int i = 0; i < 20; ++i) {
    events.push_back(received_json("r" + std::to_string(i), i % 2 == 0 ? "SKU-E" : "SKU-O", i + 1));
  }
  events.push_back(order_created_json("o1", "SKU-E", 4, "order-9"));
  post_events(server, json_array(events));
  const std::string even_before = server.get("/v1/skus/SKU-E").body;
  const std::string odd_before = server.get("/v1/skus/SKU-O").body;

  server.kill(SIGKILL);
  auto status = server.wait_exit(std::chrono::seconds(10));
  REQUIRE(status.has_value());
  CHECK(WIFSIGNALED(*status));
  server.start();

  CHECK(server.get("/v1/skus/SKU-E").body == even_before);
  CHECK(server.get("/v1/skus/SKU-O").body == odd_before);
  location_view even = read_location(server, "SKU-E");
  CHECK(even.available == 1 + 3 + 5 + 7 + 9 + 11 + 13 + 15 + 17 + 19 - 4);
  CHECK(even.committed == 4);
  CHECK(read_location(server, "SKU-O").on_hand == 2 + 4 + 6 + 8 + 10 + 12 + 14 + 16 + 18 + 20);
  json_doc st = server.get_json("/v1/status");
  CHECK(st["journal"]["head"].get_uint64().value() == 21);
  CHECK(st["recovery"]["replayed"].get_uint64().value() == 21);
}

} // namespace stockd::e2e
