// The POST /v1/events decoder: body-level failures (400/413) and per-event field errors.
#include <catch2/catch.hpp>
#include <simdjson.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/event_decoder.hpp"

namespace {

using stockd::connectors::decode_events;
using stockd::connectors::decode_limits;
using stockd::connectors::decoded_event;
using stockd::connectors::field_error;
namespace engine = stockd::engine;

// strong_id has std::string and std::string_view constructors, so a literal needs a view.
engine::location_id loc(std::string_view name) { return engine::location_id(name); }
engine::source_id src(std::string_view name) { return engine::source_id(name); }

engine::catalog test_catalog() {
  engine::location_info east{loc("DC-EAST"),
                             {{src("wms-east"), "E1"}}};
  engine::location_info west{loc("DC-WEST"),
                             {{src("wms-west"), "W1"}}};
  return engine::catalog({east, west});
}

// A valid event envelope of `type` with `extra` appended inside the object.
std::string event_json(const std::string& type, const std::string& extra,
                       const std::string& id = "e1") {
  return R"({"id":")" + id + R"(","source":"wms-east","type":")" + type +
         R"(","sku":"SKU-1","location":"DC-EAST","occurred_at":"2026-11-27T10:15:00Z")" +
         (extra.empty() ? "" : "," + extra) + "}";
}

struct decoded_body {
  bool ok = false;
  std::vector<decoded_event> events;
  int status = 0;
  std::string message;
};

decoded_body decode(std::string body, const decode_limits& limits = {}) {
  const auto catalog = test_catalog();
  auto result = decode_events(body, catalog, limits);
  decoded_body out;
  out.ok = result.has_value();
  if (out.ok) {
    out.events = std::move(result).value();
  } else {
    out.status = result.error().http_status;
    out.message = result.error().message;
  }
  return out;
}

// Decodes one event (as a one-element array) that must be valid.
engine::event accept_one(const std::string& json) {
  const auto body = decode("[" + json + "]");
  REQUIRE(body.ok);
  REQUIRE(body.events.size() == 1);
  INFO(body.events[0].error.field << ": " << body.events[0].error.reason);
  REQUIRE(body.events[0].ev.has_value());
  return *body.events[0].ev;
}

// Decodes one event that must be rejected with a field error; the body itself must be fine.
field_error reject_one(const std::string& json, const decode_limits& limits = {}) {
  const auto body = decode("[" + json + "]", limits);
  INFO(body.message);
  REQUIRE(body.ok);
  REQUIRE(body.events.size() == 1);
  REQUIRE_FALSE(body.events[0].ev.has_value());
  return body.events[0].error;
}

engine::timestamp at(const char* text) {
  const auto parsed = engine::parse_rfc3339(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

} // namespace

TEST_CASE("connectors::decode_events reads a JSON array of events in order", "[connectors]") {
  const auto body = decode("[" + event_json("received", R"("qty":24,"po_id":"PO-9")", "a") + "," +
                           event_json("received", R"("qty":3)", "b") + "]");
  REQUIRE(body.ok);
  REQUIRE(body.events.size() == 2);
  REQUIRE(body.events[0].id == "a");
  REQUIRE(body.events[1].id == "b");
  const engine::event& ev = *body.events[0].ev;
  CHECK(ev.id == "a");
  CHECK(ev.source == src("wms-east"));
  CHECK(ev.type == engine::event_type::received);
  CHECK(ev.sku == engine::sku_id(std::string_view("SKU-1")));
  CHECK(ev.location == loc("DC-EAST"));
  CHECK(ev.qty == 24);
  CHECK(ev.po_id == "PO-9");
  CHECK(ev.occurred_at == at("2026-11-27T10:15:00Z"));
  CHECK(body.events[1].ev->qty == 3);
  CHECK(body.events[1].ev->po_id.empty());
}

TEST_CASE("connectors::decode_events reads NDJSON and ignores blank lines", "[connectors]") {
  const std::string body_text = "\n" + event_json("received", R"("qty":1)", "a") + "\r\n\n   \n" +
                                event_json("received", R"("qty":2)", "b") + "\n";
  const auto body = decode(body_text);
  REQUIRE(body.ok);
  REQUIRE(body.events.size() == 2);
  CHECK(body.events[0].ev->qty == 1);
  CHECK(body.events[1].ev->qty == 2);
  CHECK(body.events[1].id == "b");
}

TEST_CASE("connectors::decode_events reads a single NDJSON line without a trailing newline",
          "[connectors]") {
  const auto body = decode(event_json("received", R"("qty":7)"));
  REQUIRE(body.ok);
  REQUIRE(body.events.size() == 1);
  CHECK(body.events[0].ev->qty == 7);
}

TEST_CASE("connectors::decode_events accepts an empty array", "[connectors]") {
  const auto body = decode(" [ ] ");
  REQUIRE(body.ok);
  CHECK(body.events.empty());
}

TEST_CASE("connectors::decode_events decodes every event type with its type-specific fields", "[connectors]") {
  using engine::event_type;
  SECTION("order_created") {
    const auto ev = accept_one(
        event_json("order_created", R"("qty":2,"order_id":"O1","line_id":"L1","channel":"shop")"));
    CHECK(ev.type == event_type::order_created);
    CHECK(ev.qty == 2);
    CHECK(ev.order_id == "O1");
    CHECK(ev.line_id == "L1");
    CHECK(ev.channel == engine::channel_id(std::string_view("shop")));
  }
  SECTION("order_created may leave out the location when it names its channel") {
    const auto ev = accept_one(
        R"({"id":"o","source":"shop","type":"order_created","sku":"S","qty":1,)"
        R"("occurred_at":"2026-11-27T10:15:00Z","order_id":"O1","line_id":"L1","channel":"shop"})");
    CHECK(ev.location.empty());
  }
  for (const char* name : {"order_cancelled", "payment_failed", "order_fulfilled"}) {
    SECTION(name) {
      const auto ev = accept_one(event_json(name, R"("qty":1,"order_id":"O1","line_id":"L2")"));
      CHECK(ev.type == *engine::parse_event_type(name));
      CHECK(ev.order_id == "O1");
      CHECK(ev.line_id == "L2");
      CHECK(ev.qty == 1);
    }
  }
  SECTION("return_received") {
    for (const auto& [text, value] :
         std::vector<std::pair<std::string, engine::disposition>>{
             {"restock", engine::disposition::restock},
             {"damaged", engine::disposition::damaged},
             {"quality_control", engine::disposition::quality_control}}) {
      const auto ev = accept_one(event_json(
          "return_received",
          R"("qty":1,"order_id":"O1","line_id":"L1","disposition":")" + text + R"(")"));
      CHECK(ev.type == event_type::return_received);
      CHECK(ev.return_disposition == value);
    }
  }
  for (const char* name : {"po_created", "po_cancelled"}) {
    SECTION(name) {
      const auto ev = accept_one(event_json(name, R"("qty":10,"po_id":"PO-1")"));
      CHECK(ev.type == *engine::parse_event_type(name));
      CHECK(ev.po_id == "PO-1");
    }
  }
  SECTION("received without a po_id") {
    const auto ev = accept_one(event_json("received", R"("qty":5,"po_id":null)"));
    CHECK(ev.po_id.empty());
  }
  SECTION("transfer_shipped resolves to_location like location") {
    const auto ev = accept_one(
        event_json("transfer_shipped", R"("qty":4,"transfer_id":"T1","to_location":"DC-WEST")"));
    CHECK(ev.transfer_id == "T1");
    CHECK(ev.to_location == loc("DC-WEST"));
  }
  SECTION("transfer_received") {
    const auto ev = accept_one(event_json("transfer_received", R"("qty":4,"transfer_id":"T1")"));
    CHECK(ev.type == event_type::transfer_received);
    CHECK(ev.transfer_id == "T1");
  }
  SECTION("adjusted takes a signed delta and an optional reason") {
    const auto down = accept_one(event_json("adjusted", R"("delta":-3,"reason":"shrinkage")"));
    CHECK(down.delta == -3);
    CHECK(down.qty == 0);
    CHECK(down.reason == "shrinkage");
    const auto up = accept_one(event_json("adjusted", R"("delta":7)"));
    CHECK(up.delta == 7);
    CHECK(up.reason.empty());
  }
  SECTION("counted takes counted and as_of") {
    const auto ev =
        accept_one(event_json("counted", R"("counted":0,"as_of":"2026-11-27T10:04:00.250+01:00")"));
    CHECK(ev.counted == 0);
    CHECK(ev.as_of == at("2026-11-27T10:04:00.250+01:00"));
  }
  SECTION("reservation_created with and without expires_at") {
    const auto with = accept_one(event_json(
        "reservation_created",
        R"("qty":2,"reservation_id":"R1","expires_at":"2026-11-27T11:00:00Z")"));
    CHECK(with.reservation_id == "R1");
    REQUIRE(with.expires_at.has_value());
    CHECK(*with.expires_at == at("2026-11-27T11:00:00Z"));
    const auto without = accept_one(event_json("reservation_created",
                                               R"("qty":2,"reservation_id":"R1")"));
    CHECK_FALSE(without.expires_at.has_value());
  }
  for (const char* name : {"reservation_released", "reservation_expired"}) {
    SECTION(name) {
      const auto ev = accept_one(event_json(name, R"("qty":2,"reservation_id":"R1")"));
      CHECK(ev.type == *engine::parse_event_type(name));
      CHECK(ev.reservation_id == "R1");
    }
  }
  SECTION("reservation_committed") {
    const auto ev = accept_one(
        event_json("reservation_committed", R"("qty":2,"reservation_id":"R1","order_id":"O9")"));
    CHECK(ev.reservation_id == "R1");
    CHECK(ev.order_id == "O9");
  }
  SECTION("status_changed") {
    const auto ev =
        accept_one(event_json("status_changed", R"("qty":1,"from":"available","to":"damaged")"));
    CHECK(ev.from == engine::bucket::available);
    CHECK(ev.to == engine::bucket::damaged);
  }
}

TEST_CASE("connectors::decode_events covers all seventeen event types", "[connectors]") {
  // Guards the switch above against a new event type that the tests forget.
  CHECK(engine::event_type_count == 17);
}

TEST_CASE("connectors::decode_events rejects an event with the field and the reason", "[connectors]") {
  struct rejection {
    std::string json;
    std::string field;
    std::string reason;
  };
  const std::string base =
      R"("source":"wms-east","sku":"S","location":"DC-EAST","occurred_at":"2026-11-27T10:15:00Z")";
  const std::vector<rejection> cases{
      // Envelope.
      {R"({"source":"s","type":"received","sku":"S","location":"DC-EAST","qty":1,"occurred_at":"2026-11-27T10:15:00Z"})",
       "id", "is required"},
      {R"({"id":"","source":"s","type":"received","sku":"S","location":"DC-EAST","qty":1,"occurred_at":"2026-11-27T10:15:00Z"})",
       "id", "must not be empty"},
      {R"({"id":12,"source":"s","type":"received"})", "id", "must be a string"},
      {R"({"id":null,"source":"s","type":"received"})", "id", "must be a string"},
      {R"({"id":"x","type":"received"})", "source", "is required"},
      {R"({"id":"x","source":["s"],"type":"received"})", "source", "must be a string"},
      {R"({"id":"x","source":"","type":"received"})", "source", "must not be empty"},
      {R"({"id":"x",)" + base + "}", "type", "is required"},
      {R"({"id":"x","type":"teleported",)" + base + "}", "type",
       "unknown event type 'teleported'"},
      {R"({"id":"x","type":7,)" + base + "}", "type", "must be a string"},
      {R"({"id":"x","source":"s","type":"received","location":"DC-EAST"})", "sku", "is required"},
      {R"({"id":"x","source":"s","type":"received","sku":"","location":"DC-EAST"})", "sku",
       "must not be empty"},
      {R"({"id":"x","source":"s","type":"received","sku":"S","qty":1,"occurred_at":"2026-11-27T10:15:00Z"})",
       "location", "is required"},
      {R"({"id":"x","source":"s","type":"received","sku":"S","location":"MARS"})", "location",
       "unknown location 'MARS'"},
      {R"({"id":"x","source":"s","type":"received","sku":"S","location":{"id":"DC-EAST"}})",
       "location", "must be a string"},
      {R"({"id":"x","source":"s","type":"received","sku":"S","location":"DC-EAST","qty":1})",
       "occurred_at", "is required"},
      {R"({"id":"x","source":"s","type":"received","sku":"S","location":"DC-EAST","occurred_at":"yesterday"})",
       "occurred_at", "must be an RFC 3339 timestamp"},
      {R"({"id":"x","source":"s","type":"received","sku":"S","location":"DC-EAST","occurred_at":1764238500})",
       "occurred_at", "must be a string"},
      // Quantities.
      {event_json("received", ""), "qty", "is required"},
      {event_json("received", R"("qty":0)"), "qty", "must be a positive integer"},
      {event_json("received", R"("qty":-4)"), "qty", "must be a positive integer"},
      {event_json("received", R"("qty":2.5)"), "qty", "must be an integer"},
      {event_json("received", R"("qty":2.0)"), "qty", "must be an integer"},
      {event_json("received", R"("qty":1e400)"), "qty", "must be an integer"},
      {event_json("received", R"("qty":"3")"), "qty", "must be an integer"},
      {event_json("received", R"("qty":null)"), "qty", "must be an integer"},
      {event_json("received", R"("qty":true)"), "qty", "must be an integer"},
      {event_json("received", R"("qty":1000000001)"), "qty", "must be at most 1000000000"},
      {event_json("received", R"("qty":99999999999999999999999)"), "qty",
       "must be at most 1000000000"},
      {event_json("received", R"("qty":18446744073709551615)"), "qty",
       "must be at most 1000000000"},
      {event_json("adjusted", ""), "delta", "is required"},
      {event_json("adjusted", R"("delta":0)"), "delta", "must be a non-zero integer"},
      {event_json("adjusted", R"("delta":-1000000001)"), "delta",
       "must be between -1000000000 and 1000000000"},
      {event_json("adjusted", R"("delta":"-1")"), "delta", "must be an integer"},
      {event_json("adjusted", R"("delta":1,"reason":5)"), "reason", "must be a string"},
      {event_json("counted", R"("as_of":"2026-11-27T10:15:00Z")"), "counted", "is required"},
      {event_json("counted", R"("counted":-1,"as_of":"2026-11-27T10:15:00Z")"), "counted",
       "must be a non-negative integer"},
      {event_json("counted", R"("counted":1.5,"as_of":"2026-11-27T10:15:00Z")"), "counted",
       "must be an integer"},
      {event_json("counted", R"("counted":3)"), "as_of", "is required"},
      {event_json("counted", R"("counted":3,"as_of":"2026-13-01T00:00:00Z")"), "as_of",
       "must be an RFC 3339 timestamp"},
      // Type-specific fields.
      {event_json("order_created", R"("qty":1,"line_id":"L","channel":"c")"), "order_id",
       "is required"},
      {event_json("order_created", R"("qty":1,"order_id":"O","channel":"c")"), "line_id",
       "is required"},
      {event_json("order_created", R"("qty":1,"order_id":"O","line_id":"L")"), "channel",
       "is required"},
      {event_json("order_cancelled", R"("qty":1,"order_id":"O")"), "line_id", "is required"},
      {event_json("order_fulfilled", R"("qty":1,"order_id":3,"line_id":"L")"), "order_id",
       "must be a string"},
      {event_json("return_received", R"("qty":1,"order_id":"O","line_id":"L")"), "disposition",
       "is required"},
      {event_json("return_received",
                  R"("qty":1,"order_id":"O","line_id":"L","disposition":"lost")"),
       "disposition", "must be one of restock, damaged, quality_control"},
      {event_json("po_created", R"("qty":1)"), "po_id", "is required"},
      {event_json("po_cancelled", R"("qty":1,"po_id":"")"), "po_id", "must not be empty"},
      {event_json("received", R"("qty":1,"po_id":42)"), "po_id", "must be a string"},
      {event_json("transfer_shipped", R"("qty":1,"to_location":"DC-WEST")"), "transfer_id",
       "is required"},
      {event_json("transfer_shipped", R"("qty":1,"transfer_id":"T")"), "to_location",
       "is required"},
      {event_json("transfer_shipped", R"("qty":1,"transfer_id":"T","to_location":"MOON")"),
       "to_location", "unknown location 'MOON'"},
      {event_json("transfer_received", R"("qty":1)"), "transfer_id", "is required"},
      {event_json("reservation_created", R"("qty":1)"), "reservation_id", "is required"},
      {event_json("reservation_created", R"("qty":1,"reservation_id":"R","expires_at":"soon")"),
       "expires_at", "must be an RFC 3339 timestamp"},
      {event_json("reservation_released", R"("qty":1)"), "reservation_id", "is required"},
      {event_json("reservation_expired", R"("qty":1,"reservation_id":["R"])"), "reservation_id",
       "must be a string"},
      {event_json("reservation_committed", R"("qty":1,"reservation_id":"R")"), "order_id",
       "is required"},
      {event_json("status_changed", R"("qty":1,"to":"damaged")"), "from", "is required"},
      {event_json("status_changed", R"("qty":1,"from":"available")"), "to", "is required"},
      {event_json("status_changed", R"("qty":1,"from":"committed","to":"available")"), "from",
       "must be one of available, damaged, quality_control, safety_stock"},
      {event_json("status_changed", R"("qty":1,"from":"available","to":"incoming")"), "to",
       "must be one of available, damaged, quality_control, safety_stock"},
      {event_json("status_changed", R"("qty":1,"from":"damaged","to":"damaged")"), "to",
       "must differ from 'from'"},
      // Duplicate keys reject rather than guess which one the sender meant.
      {event_json("received", R"("qty":1,"qty":2)"), "qty", "duplicate key"},
      {event_json("received", R"("qty":1,"sku":"OTHER")"), "sku", "duplicate key"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    const field_error error = reject_one(c.json);
    CHECK(error.field == c.field);
    CHECK(error.reason == c.reason);
  }
}

// Found by fuzz_event_decoder: the event was accepted at year -1 and printed back (ledger, API)
// as 0000-01-01T00:00:00.000Z, a different time (fuzz/corpus/event_decoder/offset_out_of_years).
TEST_CASE("connectors::decode_events rejects a time whose offset leaves years 0000 to 9999",
          "[connectors]") {
  const std::string head =
      R"({"id":"x","source":"wms-east","type":"received","sku":"S","location":"DC-EAST","qty":1,)";
  CHECK(reject_one(head + R"("occurred_at":"0000-01-01T00:00:00+01:00"})") ==
        field_error{"occurred_at", "must be an RFC 3339 timestamp"});
  CHECK(reject_one(event_json("counted", R"("counted":1,"as_of":"9999-12-31T23:59:59-00:01")")) ==
        field_error{"as_of", "must be an RFC 3339 timestamp"});
  CHECK(accept_one(head + R"("occurred_at":"0000-01-01T01:00:00+01:00"})").occurred_at ==
        at("0000-01-01T00:00:00Z"));
}

TEST_CASE("connectors::decode_events rejects strings longer than the limit", "[connectors]") {
  decode_limits limits;
  // 20 bytes: exactly the length of the occurred_at the tests use.
  limits.string_bytes_max = 20;
  const auto error =
      reject_one(event_json("received", R"("qty":1)", "123456789012345678901"), limits);
  CHECK(error == field_error{"id", "longer than 20 bytes"});
  const auto sku = reject_one(
      R"({"id":"x","source":"wms-east","type":"received","sku":"SKU-12345678901234567","qty":1})",
      limits);
  CHECK(sku == field_error{"sku", "longer than 20 bytes"});
  // The id is still echoed, so the sender can match the rejection.
  const auto body_long =
      decode("[" + event_json("received", R"("qty":1)", "123456789012345678901") + "]", limits);
  REQUIRE(body_long.ok);
  CHECK(body_long.events[0].id == "123456789012345678901");
  // Exactly at the limit is fine.
  const auto body =
      decode("[" + event_json("received", R"("qty":1)", "12345678901234567890") + "]", limits);
  REQUIRE(body.ok);
  CHECK(body.events[0].ev.has_value());
}

TEST_CASE("connectors::decode_events applies a lower qty_max to every quantity", "[connectors]") {
  decode_limits limits;
  limits.qty_max = 100;
  CHECK(reject_one(event_json("received", R"("qty":101)"), limits) ==
        field_error{"qty", "must be at most 100"});
  CHECK(reject_one(event_json("adjusted", R"("delta":-101)"), limits) ==
        field_error{"delta", "must be between -100 and 100"});
  CHECK(reject_one(event_json("counted", R"("counted":101,"as_of":"2026-11-27T10:15:00Z")"),
                   limits) == field_error{"counted", "must be at most 100"});
}

TEST_CASE("connectors::decode_events echoes the id of an invalid event when it is a string", "[connectors]") {
  const auto body = decode(R"([{"id":"keep-me","type":"nope"},{"id":5},{"type":"received"}])");
  REQUIRE(body.ok);
  REQUIRE(body.events.size() == 3);
  CHECK(body.events[0].id == "keep-me");
  CHECK_FALSE(body.events[0].ev.has_value());
  CHECK(body.events[1].id.empty());
  CHECK(body.events[1].error == field_error{"id", "must be a string"});
  CHECK(body.events[2].id.empty());
  CHECK(body.events[2].error == field_error{"id", "is required"});
}

TEST_CASE("connectors::decode_events rejects an element that is not an object but keeps the others",
          "[connectors]") {
  const auto body = decode(R"([1, "x", [1,2], null, )" + event_json("received", R"("qty":1)") +
                           "]");
  REQUIRE(body.ok);
  REQUIRE(body.events.size() == 5);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(body.events[i].error == field_error{"", "must be an object"});
  }
  CHECK(body.events[4].ev.has_value());
  const auto lines = decode(event_json("received", R"("qty":1)") + "\n[1]\n\"s\"\n42\nnull\n");
  REQUIRE(lines.ok);
  REQUIRE(lines.events.size() == 5);
  CHECK(lines.events[0].ev.has_value());
  for (std::size_t i = 1; i < 5; ++i) {
    CHECK(lines.events[i].error == field_error{"", "must be an object"});
  }
}

TEST_CASE("connectors::decode_events ignores unknown fields of any shape", "[connectors]") {
  const auto ev = accept_one(event_json(
      "received", R"("qty":1,"note":{"a":[1,2.5,"x",true,false,null,{}]},"tags":[],"n":null)"));
  CHECK(ev.qty == 1);
}

TEST_CASE("connectors::decode_events reads keys written with escapes", "[connectors]") {
  const auto ev = accept_one(event_json("received", R"("q\u0074y":9)"));
  CHECK(ev.qty == 9);
}

TEST_CASE("connectors::decode_events keeps order and indexes in a mixed valid and invalid batch",
          "[connectors]") {
  std::string body = "[";
  std::vector<bool> valid;
  for (int i = 0; i < 30; ++i) {
    const bool good = i % 3 != 1;
    valid.push_back(good);
    if (i > 0) {
      body += ",";
    }
    body += event_json("received", good ? R"("qty":1)" : R"("qty":0)", "e" + std::to_string(i));
  }
  body += "]";
  for (const bool ndjson : {false, true}) {
    std::string text = body;
    if (ndjson) {
      text.clear();
      for (int i = 0; i < 30; ++i) {
        text += event_json("received", valid[i] ? R"("qty":1)" : R"("qty":0)",
                           "e" + std::to_string(i)) +
                "\n";
      }
    }
    const auto decoded = decode(text);
    REQUIRE(decoded.ok);
    REQUIRE(decoded.events.size() == 30);
    for (std::size_t i = 0; i < 30; ++i) {
      INFO("event " << i << (ndjson ? " (NDJSON)" : " (array)"));
      CHECK(decoded.events[i].id == "e" + std::to_string(i));
      CHECK(decoded.events[i].ev.has_value() == valid[i]);
      if (!valid[i]) {
        CHECK(decoded.events[i].error == field_error{"qty", "must be a positive integer"});
      }
    }
  }
}

TEST_CASE("connectors::decode_events resolves location aliases per source", "[connectors]") {
  const auto alias = accept_one(
      R"({"id":"x","source":"wms-east","type":"received","sku":"S","location":"E1","qty":1,)"
      R"("occurred_at":"2026-11-27T10:15:00Z"})");
  CHECK(alias.location == loc("DC-EAST"));
  // An alias belongs to its source: wms-west's name for DC-WEST means nothing to wms-east.
  const auto other = reject_one(
      R"({"id":"x","source":"wms-east","type":"received","sku":"S","location":"W1","qty":1,)"
      R"("occurred_at":"2026-11-27T10:15:00Z"})");
  CHECK(other == field_error{"location", "unknown location 'W1'"});
  const auto transfer = accept_one(
      R"({"id":"x","source":"wms-west","type":"transfer_shipped","sku":"S","location":"W1",)"
      R"("qty":1,"transfer_id":"T","to_location":"DC-EAST","occurred_at":"2026-11-27T10:15:00Z"})");
  CHECK(transfer.location == loc("DC-WEST"));
  CHECK(transfer.to_location == loc("DC-EAST"));
}

TEST_CASE("connectors::decode_events fails the whole body on malformed JSON", "[connectors]") {
  const std::string good = event_json("received", R"("qty":1)");
  struct malformed {
    std::string body;
    std::string names;  // a part of the message that locates the problem
  };
  const std::vector<malformed> cases{
      {"[" + good + "," + good.substr(0, good.size() - 5), "byte"},  // truncated
      {"[" + good + "," + good + "", "byte"},                        // missing ]
      {"[" + good + "] x", "byte"},                                  // trailing garbage
      {"[" + good + "] [" + good + "]", "trailing content"},     // second document
      {"[" + good + "," + good + ",]", "element 2"},             // trailing comma
      {"[" + good + ",{\"id\":\"x\" \"qty\":1}]", "element 1"},  // missing comma in object
      {"[" + good + R"(,{"id":"x","note":[1 2]}])", "element 1"},  // error in an ignored field
      {"[" + good + R"(,{"id":"x","qty":01}])", "element 1"},      // malformed number
      {"[" + good + R"(,{"id":"x","flag":tru}])", "element 1"},    // malformed literal
      {"[" + good + R"(,{"id":"x","n":nul}])", "element 1"},       // malformed literal
      {"[" + good + R"(,{"id":"x\q"}])", "element 1"},             // bad escape
      {"[" + good + R"(,{"id":"open}])", "byte"},                  // unclosed string
      {"[" + good + ",{\"id\":\"a\x01\"}]", "byte"},               // control character
      {"[" + good + ",{\"id\":\"\xff\"}]", "byte"},                // invalid UTF-8
      {"42", "byte 0"},                                            // bare number
      {"\"events\"", "byte 0"},                                    // bare string
      {"", "empty"},
      {" \n\t ", "empty"},
      {good + "\n" + good.substr(0, 20) + "\n" + good + "\n", "line 2"},  // truncated line
      {good + "\n" + good + " " + good + "\n", "line 2"},                 // two objects on a line
      {good + "\n\n" + good + " x\n", "line 3"},                          // garbage after object
      {good + "\n{\"id\":\"a\x01\"}\n", "line 2"},                        // control character
  };
  for (const auto& c : cases) {
    INFO(c.body);
    const auto body = decode(c.body);
    REQUIRE_FALSE(body.ok);
    CHECK(body.status == 400);
    INFO(body.message);
    CHECK(body.message.find(c.names) != std::string::npos);
  }
}

TEST_CASE("connectors::decode_events answers 413 past events_max", "[connectors]") {
  decode_limits limits;
  limits.events_max = 3;
  std::string array = "[";
  std::string lines;
  for (int i = 0; i < 4; ++i) {
    const std::string ev = event_json("received", R"("qty":1)", "e" + std::to_string(i));
    array += (i > 0 ? "," : "") + ev;
    lines += ev + "\n";
  }
  array += "]";
  for (const auto& text : {array, lines}) {
    const auto body = decode(text, limits);
    REQUIRE_FALSE(body.ok);
    CHECK(body.status == 413);
  }
  // Exactly at the limit is accepted; blank lines do not count.
  const auto at_limit = decode("[" + event_json("received", R"("qty":1)") + "," +
                                   event_json("received", R"("qty":1)") + "," +
                                   event_json("received", R"("qty":1)") + "]",
                               limits);
  REQUIRE(at_limit.ok);
  CHECK(at_limit.events.size() == 3);
  const auto blank_lines = decode(lines.substr(0, lines.rfind('{')) + "\n\n\n", limits);
  REQUIRE(blank_lines.ok);
  CHECK(blank_lines.events.size() == 3);
}

TEST_CASE("connectors::decode_events bounds the nesting depth of the body", "[connectors]") {
  decode_limits limits;
  limits.depth_max = 8;
  // Array (1) > event (2) > "x" value (3) ... : `levels` nested arrays inside the field.
  const auto nested = [](int levels) {
    return event_json("received", R"("qty":1,"x":)" + std::string(levels, '[') +
                                      std::string(levels, ']'));
  };
  const auto at_limit = decode("[" + nested(6) + "]", limits);
  REQUIRE(at_limit.ok);
  CHECK(at_limit.events[0].ev.has_value());
  const auto too_deep = decode("[" + nested(7) + "]", limits);
  REQUIRE_FALSE(too_deep.ok);
  CHECK(too_deep.status == 400);
  CHECK(too_deep.message.find("element 0") != std::string::npos);
  CHECK(too_deep.message.find("deeper than 8 levels") != std::string::npos);
  // NDJSON lines have no enclosing array, so one more level fits.
  CHECK(decode(nested(7), limits).ok);
  CHECK_FALSE(decode(nested(8), limits).ok);
  // Hostile depth must fail cleanly, not exhaust the stack.
  const auto hostile = decode("[" + std::string(100000, '[') + std::string(100000, ']') + "]");
  REQUIRE_FALSE(hostile.ok);
  CHECK(hostile.status == 400);
  std::string deep_object = R"({"id":"x","a":)";
  for (int i = 0; i < 50000; ++i) {
    deep_object += R"({"a":)";
  }
  deep_object += "1" + std::string(50001, '}');
  const auto hostile_object = decode(deep_object);
  REQUIRE_FALSE(hostile_object.ok);
  CHECK(hostile_object.status == 400);
}

TEST_CASE("connectors::decode_events pads the body without changing its content", "[connectors]") {
  const std::string original = "[" + event_json("received", R"("qty":1)") + "]";
  std::string body = original;
  body.shrink_to_fit();
  const auto catalog = test_catalog();
  const auto result = decode_events(body, catalog, decode_limits{});
  REQUIRE(result.has_value());
  CHECK(body == original);
  CHECK(body.capacity() >= body.size() + simdjson::SIMDJSON_PADDING);
}

// ---------------------------------------------------------------------------------------------
// Normalization through the catalog: SKU mapping, units of measure, kit expansion.

namespace {

// The ERP maps its item numbers; the POS has no table and sends canonical SKUs. GIFT-BOX is a
// kit of 2 shirts and 1 mug, sold in twin packs.
engine::catalog kit_catalog() {
  using engine::sku_id;
  return engine::catalog(
      {engine::location_info{loc("DC-EAST"), {}}},
      {
          {sku_id("TSHIRT-RED-M"), {{"pack6", 6}, {"case", 24}}, {}},
          {sku_id("GIFT-BOX"), {{"twin", 2}}, {{sku_id("TSHIRT-RED-M"), 2}, {sku_id("MUG"), 1}}},
      },
      {{src("erp"), {{"ERP-1001", sku_id("TSHIRT-RED-M")}, {"ERP-2000", sku_id("GIFT-BOX")}}}});
}

std::vector<decoded_event> decode_with_kits(std::string body, const decode_limits& limits = {}) {
  const auto catalog = kit_catalog();
  auto result = decode_events(body, catalog, limits);
  REQUIRE(result.has_value());
  return std::move(result).value();
}

// One event of `type` from `source` for `sku` with `extra` fields.
std::string kit_event_json(const std::string& source, const std::string& type,
                           const std::string& sku, const std::string& extra,
                           const std::string& id = "e1") {
  return R"({"id":")" + id + R"(","source":")" + source + R"(","type":")" + type +
         R"(","sku":")" + sku + R"(","location":"DC-EAST","occurred_at":"2026-11-27T10:15:00Z")" +
         (extra.empty() ? "" : "," + extra) + "}";
}

decoded_event decode_one_with_kits(const std::string& json, const decode_limits& limits = {}) {
  auto events = decode_with_kits("[" + json + "]", limits);
  REQUIRE(events.size() == 1);
  return std::move(events[0]);
}

constexpr const char* order_fields = R"("order_id":"O1","line_id":"1","channel":"shop")";

} // namespace

TEST_CASE("connectors::decode_events maps a source's external id to the canonical SKU",
          "[connectors]") {
  const auto mapped = decode_one_with_kits(kit_event_json("erp", "received", "ERP-1001",
                                                          R"("qty":5)"));
  REQUIRE(mapped.ev.has_value());
  CHECK(mapped.ev->sku == engine::sku_id("TSHIRT-RED-M"));
  CHECK(mapped.miss.kind == stockd::connectors::miss_kind::none);
  // A source without a table sends canonical SKUs, configured or not.
  const auto passed = decode_one_with_kits(kit_event_json("pos", "received", "ANY-SKU",
                                                          R"("qty":5)"));
  REQUIRE(passed.ev.has_value());
  CHECK(passed.ev->sku == engine::sku_id("ANY-SKU"));
}

TEST_CASE("connectors::decode_events rejects an id the source's table does not know",
          "[connectors]") {
  for (const char* sku : {"ERP-9999", "TSHIRT-RED-M"}) {
    INFO(sku);
    const auto d = decode_one_with_kits(kit_event_json("erp", "received", sku, R"("qty":5)"));
    REQUIRE_FALSE(d.ev.has_value());
    CHECK(d.error ==
          field_error{"sku", "unmapped sku '" + std::string(sku) + "' for source 'erp'"});
    CHECK(d.miss.kind == stockd::connectors::miss_kind::unmapped_sku);
    CHECK(d.miss.source == "erp");
    CHECK(d.miss.sku == sku);
  }
}

TEST_CASE("connectors::decode_events converts qty, delta and counted from a unit to base units",
          "[connectors]") {
  const auto received = decode_one_with_kits(
      kit_event_json("pos", "received", "TSHIRT-RED-M", R"("qty":2,"unit":"case")"));
  REQUIRE(received.ev.has_value());
  CHECK(received.ev->qty == 48);
  const auto adjusted = decode_one_with_kits(
      kit_event_json("pos", "adjusted", "TSHIRT-RED-M", R"("delta":-3,"unit":"pack6")"));
  REQUIRE(adjusted.ev.has_value());
  CHECK(adjusted.ev->delta == -18);
  const auto counted = decode_one_with_kits(kit_event_json(
      "pos", "counted", "TSHIRT-RED-M",
      R"("counted":4,"as_of":"2026-11-27T10:00:00Z","unit":"case")"));
  REQUIRE(counted.ev.has_value());
  CHECK(counted.ev->counted == 96);
  // "each" is every SKU's base unit, configured or not; the unit follows the mapped SKU.
  const auto each = decode_one_with_kits(
      kit_event_json("pos", "received", "NOT-CONFIGURED", R"("qty":7,"unit":"each")"));
  REQUIRE(each.ev.has_value());
  CHECK(each.ev->qty == 7);
  const auto mapped = decode_one_with_kits(
      kit_event_json("erp", "received", "ERP-1001", R"("qty":1,"unit":"pack6")"));
  REQUIRE(mapped.ev.has_value());
  CHECK(mapped.ev->qty == 6);
}

TEST_CASE("connectors::decode_events rejects a unit the SKU is not traded in", "[connectors]") {
  const auto d = decode_one_with_kits(
      kit_event_json("erp", "received", "ERP-1001", R"("qty":1,"unit":"pallet")"));
  REQUIRE_FALSE(d.ev.has_value());
  CHECK(d.error == field_error{"unit", "unknown unit 'pallet' for sku 'TSHIRT-RED-M'"});
  CHECK(d.miss.kind == stockd::connectors::miss_kind::unknown_unit);
  CHECK(d.miss.source == "erp");
  CHECK(d.miss.sku == "TSHIRT-RED-M");
  CHECK(d.miss.unit == "pallet");
  const auto unconfigured = decode_one_with_kits(
      kit_event_json("pos", "received", "MUG", R"("qty":1,"unit":"case")"));
  CHECK(unconfigured.error == field_error{"unit", "unknown unit 'case' for sku 'MUG'"});
  const auto typed = decode_one_with_kits(
      kit_event_json("pos", "received", "MUG", R"("qty":1,"unit":6)"));
  CHECK(typed.error == field_error{"unit", "must be a string"});
  CHECK(typed.miss.kind == stockd::connectors::miss_kind::none);
}

TEST_CASE("connectors::decode_events holds a converted quantity to qty_max", "[connectors]") {
  decode_limits limits;
  limits.qty_max = 100;
  const auto d = decode_one_with_kits(
      kit_event_json("pos", "received", "TSHIRT-RED-M", R"("qty":5,"unit":"case")"), limits);
  REQUIRE_FALSE(d.ev.has_value());
  CHECK(d.error == field_error{"qty", "must be at most 100 in base units (5 case of 24)"});
  const auto fits = decode_one_with_kits(
      kit_event_json("pos", "received", "TSHIRT-RED-M", R"("qty":4,"unit":"case")"), limits);
  CHECK(fits.ev.has_value());
}

TEST_CASE("connectors::decode_events expands a kit order into one order per component",
          "[connectors]") {
  // 3 twin packs of the gift box through the ERP's id: 6 boxes = 12 shirts and 6 mugs.
  const auto d = decode_one_with_kits(kit_event_json(
      "erp", "order_created", "ERP-2000", std::string(order_fields) + R"(,"qty":3,"unit":"twin")",
      "o-7"));
  REQUIRE(d.ev.has_value());
  CHECK(d.ev->sku == engine::sku_id("GIFT-BOX"));
  CHECK(d.ev->qty == 6);
  REQUIRE(d.components.size() == 2);
  CHECK(d.components[0].id == "o-7#TSHIRT-RED-M");
  CHECK(d.components[0].sku == engine::sku_id("TSHIRT-RED-M"));
  CHECK(d.components[0].qty == 12);
  CHECK(d.components[0].line_id == "1/TSHIRT-RED-M");
  CHECK(d.components[1].id == "o-7#MUG");
  CHECK(d.components[1].sku == engine::sku_id("MUG"));
  CHECK(d.components[1].qty == 6);
  CHECK(d.components[1].line_id == "1/MUG");
  for (const auto& c : d.components) {
    CHECK(c.order_id == "O1");
    CHECK(c.location == loc("DC-EAST"));
    CHECK(c.source == src("erp"));
    CHECK(c.type == engine::event_type::order_created);
  }
  CHECK(d.id == "o-7");
}

TEST_CASE("connectors::decode_events expands every order-line event of a kit the same way",
          "[connectors]") {
  const std::string line = R"("order_id":"O1","line_id":"1","qty":1)";
  for (const char* type : {"order_cancelled", "payment_failed", "order_fulfilled"}) {
    INFO(type);
    const auto d = decode_one_with_kits(kit_event_json("pos", type, "GIFT-BOX", line));
    REQUIRE(d.ev.has_value());
    REQUIRE(d.components.size() == 2);
    CHECK(d.components[0].line_id == "1/TSHIRT-RED-M");
    CHECK(d.components[0].qty == 2);
    CHECK(d.components[1].qty == 1);
  }
  const auto ret = decode_one_with_kits(
      kit_event_json("pos", "return_received", "GIFT-BOX", line + R"(,"disposition":"damaged")"));
  REQUIRE(ret.components.size() == 2);
  CHECK(ret.components[1].return_disposition == engine::disposition::damaged);
  // A plain SKU's event has no components.
  const auto plain = decode_one_with_kits(kit_event_json("pos", "order_created", "MUG",
                                                         std::string(order_fields) + ",\"qty\":1"));
  REQUIRE(plain.ev.has_value());
  CHECK(plain.components.empty());
}

TEST_CASE("connectors::decode_events rejects stock events on a kit", "[connectors]") {
  struct stock_case {
    const char* type;
    std::string extra;
  };
  const std::vector<stock_case> cases{
      {"received", R"("qty":1)"},
      {"counted", R"("counted":1,"as_of":"2026-11-27T10:00:00Z")"},
      {"adjusted", R"("delta":1)"},
      {"reservation_created", R"("qty":1,"reservation_id":"R1")"},
  };
  for (const auto& c : cases) {
    INFO(c.type);
    const auto d = decode_one_with_kits(kit_event_json("pos", c.type, "GIFT-BOX", c.extra));
    REQUIRE_FALSE(d.ev.has_value());
    CHECK(d.error.field == "sku");
    CHECK(d.error.reason.find("kits have no stock of their own: 'GIFT-BOX' is a kit") == 0);
    CHECK(d.components.empty());
  }
}

TEST_CASE("connectors::decode_events holds a kit's expansion to the body's limits",
          "[connectors]") {
  decode_limits limits;
  limits.qty_max = 10;
  const auto big = decode_one_with_kits(
      kit_event_json("pos", "order_created", "GIFT-BOX", std::string(order_fields) + ",\"qty\":6"),
      limits);
  REQUIRE_FALSE(big.ev.has_value());
  CHECK(big.error == field_error{"qty", "must be at most 10 in base units for kit component "
                                        "'TSHIRT-RED-M' (6 kits of 2)"});
  CHECK(big.components.empty());
  decode_limits short_strings;
  short_strings.string_bytes_max = 24;  // the timestamp takes 20
  const auto long_id = decode_one_with_kits(
      kit_event_json("pos", "order_created", "GIFT-BOX", std::string(order_fields) + ",\"qty\":1",
                     "order-000001"),
      short_strings);
  REQUIRE_FALSE(long_id.ev.has_value());
  CHECK(long_id.error ==
        field_error{"id", "too long to name the kit component 'TSHIRT-RED-M' within 24 bytes"});
}

TEST_CASE("connectors::decode_events keeps one answer per sent event around a kit",
          "[connectors]") {
  const auto events = decode_with_kits(
      "[" + kit_event_json("pos", "received", "MUG", R"("qty":4)", "a") + "," +
      kit_event_json("pos", "order_created", "GIFT-BOX", std::string(order_fields) + ",\"qty\":1",
                     "b") +
      "," + kit_event_json("erp", "received", "NOPE", R"("qty":1)", "c") + "]");
  REQUIRE(events.size() == 3);
  CHECK(events[0].ev.has_value());
  CHECK(events[0].components.empty());
  CHECK(events[1].components.size() == 2);
  CHECK_FALSE(events[2].ev.has_value());
  CHECK(events[2].id == "c");
}

TEST_CASE("connectors::decode_events rejects the source reserved for stockd's own events",
          "[connectors]") {
  std::string body =
      R"([{"id":"reservation:cart-1","source":"stockd","type":"received","sku":"A",)"
      R"("location":"main","qty":1,"occurred_at":"2026-11-27T10:00:00Z"}])";
  stockd::engine::catalog catalog({stockd::engine::location_info{stockd::engine::location_id("main"), {}}});
  auto decoded = stockd::connectors::decode_events(body, catalog, stockd::connectors::decode_limits{});
  REQUIRE(decoded.has_value());
  REQUIRE(decoded->size() == 1);
  CHECK_FALSE((*decoded)[0].ev.has_value());
  CHECK((*decoded)[0].error.field == "source");
}
