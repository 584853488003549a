// The POST /v1/snapshots/{location} decoder: each NDJSON line as a `counted` event, the envelope
// checks, and the incremental contract (any split of the body gives the same lines, memory is
// bounded by one chunk plus the line limit).
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/snapshot_decoder.hpp"
#include "engine/time.hpp"

namespace {

using stockd::connectors::check_snapshot_envelope;
using stockd::connectors::decode_limits;
using stockd::connectors::field_error;
using stockd::connectors::miss_kind;
using stockd::connectors::snapshot_decoder;
using stockd::connectors::snapshot_envelope;
using stockd::connectors::snapshot_limits;
using stockd::connectors::snapshot_line;
namespace engine = stockd::engine;

engine::location_id loc(std::string_view name) { return engine::location_id(name); }
engine::source_id src(std::string_view name) { return engine::source_id(name); }
engine::sku_id sku(std::string_view name) { return engine::sku_id(name); }

engine::timestamp at(const char* text) {
  const auto parsed = engine::parse_rfc3339(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

// The config of docs/semantics.md's examples: the ERP speaks its own item ids and calls DC-EAST
// "0001"; GIFT-BOX is a kit.
const engine::catalog& test_catalog() {
  static const engine::catalog catalog(
      {engine::location_info{loc("DC-EAST"), {{src("erp"), "0001"}}},
       engine::location_info{loc("main"), {}}},
      {engine::sku_info{sku("TSHIRT-RED-M"), {{"pack6", 6}, {"case", 24}}, {}},
       engine::sku_info{sku("GIFT-BOX"), {}, {{sku("TSHIRT-RED-M"), 2}, {sku("MUG"), 1}}}},
      {engine::sku_mapping{src("erp"),
                           {{"ERP-1001", sku("TSHIRT-RED-M")}, {"ERP-2000", sku("GIFT-BOX")}}}});
  return catalog;
}

snapshot_envelope envelope(std::string source = "wms", std::string location = "main",
                           std::string as_of = "2026-11-27T10:04:00Z") {
  return snapshot_envelope{"inv-27", std::move(source), std::move(location), std::move(as_of)};
}

// Feeds `body` in pieces of the given sizes (the last piece takes the rest), taking every line
// after each piece as the contract requires, then finishes.
std::vector<snapshot_line> decode_in_pieces(const std::string& body,
                                            const std::vector<std::size_t>& sizes,
                                            const snapshot_envelope& env = envelope(),
                                            snapshot_limits limits = {},
                                            std::size_t* buffered_max = nullptr) {
  static const decode_limits decode{};
  snapshot_decoder decoder(env, test_catalog(), decode, limits);
  std::vector<snapshot_line> lines;
  auto drain = [&] {
    while (auto line = decoder.next()) {
      lines.push_back(std::move(*line));
    }
    if (buffered_max != nullptr) {
      *buffered_max = std::max(*buffered_max, decoder.buffered_bytes());
    }
  };
  std::size_t offset = 0;
  for (std::size_t size : sizes) {
    if (offset >= body.size()) {
      break;
    }
    const std::size_t n = std::min(size, body.size() - offset);
    decoder.feed(std::string_view(body).substr(offset, n));
    offset += n;
    drain();
  }
  if (offset < body.size()) {
    decoder.feed(std::string_view(body).substr(offset));
    drain();
  }
  decoder.finish();
  drain();
  CHECK(decoder.exhausted());
  return lines;
}

std::vector<snapshot_line> decode_whole(const std::string& body,
                                        const snapshot_envelope& env = envelope(),
                                        snapshot_limits limits = {}) {
  return decode_in_pieces(body, {}, env, limits);
}

// One line that must decode.
engine::event accept(const std::string& line, const snapshot_envelope& env = envelope()) {
  auto lines = decode_whole(line + "\n", env);
  REQUIRE(lines.size() == 1);
  INFO(lines[0].decoded.error.field << ": " << lines[0].decoded.error.reason);
  REQUIRE(lines[0].decoded.ev.has_value());
  return *lines[0].decoded.ev;
}

// One line that must be rejected.
stockd::connectors::decoded_event reject(const std::string& line,
                                         const snapshot_envelope& env = envelope()) {
  auto lines = decode_whole(line + "\n", env);
  REQUIRE(lines.size() == 1);
  REQUIRE_FALSE(lines[0].decoded.ev.has_value());
  return lines[0].decoded;
}

// Everything a line decoded to, as one comparable string.
std::string describe(const snapshot_line& line) {
  std::string out = std::to_string(line.number) + " ";
  const auto& d = line.decoded;
  if (d.ev) {
    const engine::event& ev = *d.ev;
    out += "ok " + ev.id + " " + ev.source.str() + " " + std::string(engine::to_string(ev.type)) +
           " " + ev.sku.str() + " " + ev.location.str() + " " + std::to_string(ev.counted) + " " +
           engine::format_rfc3339(ev.as_of) + " " + engine::format_rfc3339(ev.occurred_at);
  } else {
    out += "rejected [" + d.error.field + "] " + d.error.reason;
  }
  return out;
}

std::vector<std::string> describe(const std::vector<snapshot_line>& lines) {
  std::vector<std::string> out;
  for (const auto& line : lines) {
    out.push_back(describe(line));
  }
  return out;
}

// A body with every kind of line: valid ones, units, own as_of, errors of each kind, blank lines,
// CRLF, multi-byte UTF-8, a line over the limit (of `long_line_limit`), no final newline.
std::string mixed_body() {
  std::string body;
  body += R"({"sku":"TSHIRT-RED-M","counted":9})" "\n";
  body += R"({"sku":"MUG","counted":4,"unit":"each","note":"shelf 3 – ünder"})" "\r\n";
  body += "\n   \n";
  body += R"({"sku":"CAP","counted":0,"as_of":"2026-11-27T10:06:00Z"})" "\n";
  body += R"({"sku":"TSHIRT-RED-M","counted":2,"unit":"case"})" "\n";
  body += R"({"sku":"BROKEN","counted":)" "\n";
  body += R"({"sku":"GIFT-BOX","counted":1})" "\n";
  body += "{\"sku\":\"LONG\",\"counted\":1,\"pad\":\"" + std::string(300, 'x') + "\"}\n";
  body += R"([1,2,3])" "\n";
  body += R"({"sku":"NEG","counted":-1})" "\n";
  body += R"({"sku":"SCARF","counted":7,"unit":"pallet"})" "\n";
  body += R"({"sku":"LAST","counted":12})";
  return body;
}

constexpr std::size_t long_line_limit = 200;

} // namespace

TEST_CASE("a snapshot line becomes a counted event with the snapshot's envelope and the id "
          "<snapshot>:<sku>",
          "[connectors][snapshot]") {
  const engine::event ev = accept(R"({"sku":"TSHIRT-RED-M","counted":9})");
  CHECK(ev.id == "inv-27:TSHIRT-RED-M");
  CHECK(ev.source == src("wms"));
  CHECK(ev.type == engine::event_type::counted);
  CHECK(ev.sku == sku("TSHIRT-RED-M"));
  CHECK(ev.location == loc("main"));
  CHECK(ev.counted == 9);
  CHECK(ev.as_of == at("2026-11-27T10:04:00Z"));
  // A count happened when it was taken.
  CHECK(ev.occurred_at == ev.as_of);
  CHECK(ev.qty == 0);

  SECTION("a count of zero is a count") {
    CHECK(accept(R"({"sku":"X","counted":0})").counted == 0);
  }
  SECTION("unknown fields are ignored, as in events") {
    CHECK(accept(R"({"sku":"X","counted":3,"bin":"A-7","qty":99})").counted == 3);
  }
}

TEST_CASE("a snapshot line's own as_of wins over the snapshot's, and without either it is rejected",
          "[connectors][snapshot]") {
  const engine::event own =
      accept(R"({"sku":"X","counted":1,"as_of":"2026-11-27T09:00:00+01:00"})");
  CHECK(own.as_of == at("2026-11-27T08:00:00Z"));
  CHECK(own.occurred_at == own.as_of);
  CHECK(accept(R"({"sku":"X","counted":1,"as_of":null})").as_of == at("2026-11-27T10:04:00Z"));

  const auto no_default = envelope("wms", "main", "");
  CHECK(accept(R"({"sku":"X","counted":1,"as_of":"2026-11-27T10:00:00Z"})", no_default).as_of ==
        at("2026-11-27T10:00:00Z"));
  const auto missing = reject(R"({"sku":"X","counted":1})", no_default);
  CHECK(missing.error.field == "as_of");
  CHECK(missing.error.reason.find("is required") == 0);

  // Errors about the as_of (which is also occurred_at) name as_of.
  const auto bad = reject(R"({"sku":"X","counted":1,"as_of":"yesterday"})");
  CHECK(bad.error == field_error{"as_of", "must be an RFC 3339 timestamp"});
  CHECK(reject(R"({"sku":"X","counted":1,"as_of":5})").error ==
        field_error{"as_of", "must be a string"});
  const std::string twice = R"("as_of":"2026-11-27T10:00:00Z")";
  CHECK(reject(R"({"sku":"X","counted":1,)" + twice + "," + twice + "}").error ==
        field_error{"as_of", "duplicate key"});
}

TEST_CASE("a snapshot line maps the source's ids and units, and rejects kits, unknown units and "
          "unmapped ids",
          "[connectors][snapshot]") {
  const auto erp = envelope("erp", "0001");
  SECTION("the ERP's item id and location alias resolve; the event id uses the canonical SKU") {
    const engine::event ev = accept(R"({"sku":"ERP-1001","counted":3,"unit":"case"})", erp);
    CHECK(ev.sku == sku("TSHIRT-RED-M"));
    CHECK(ev.location == loc("DC-EAST"));
    CHECK(ev.counted == 72);
    CHECK(ev.id == "inv-27:TSHIRT-RED-M");
  }
  SECTION("a canonical SKU from a source with a mapping table is unmapped") {
    const auto r = reject(R"({"sku":"TSHIRT-RED-M","counted":3})", erp);
    CHECK(r.error == field_error{"sku", "unmapped sku 'TSHIRT-RED-M' for source 'erp'"});
    CHECK(r.miss.kind == miss_kind::unmapped_sku);
  }
  SECTION("a kit has no stock to count") {
    const auto r = reject(R"({"sku":"ERP-2000","counted":1})", erp);
    CHECK(r.error.field == "sku");
    CHECK(r.error.reason.find("kits have no stock of their own: 'GIFT-BOX' is a kit") == 0);
    CHECK(r.components.empty());
  }
  SECTION("an unknown unit is a catalog miss; a converted count over qty_max is refused") {
    const auto r = reject(R"({"sku":"TSHIRT-RED-M","counted":1,"unit":"pallet"})");
    CHECK(r.error == field_error{"unit", "unknown unit 'pallet' for sku 'TSHIRT-RED-M'"});
    CHECK(r.miss.kind == miss_kind::unknown_unit);
    const auto over = reject(R"({"sku":"TSHIRT-RED-M","counted":100000000,"unit":"case"})");
    CHECK(over.error.field == "counted");
  }
  SECTION("counted must be a non-negative integer") {
    CHECK(reject(R"({"sku":"X","counted":-1})").error ==
          field_error{"counted", "must be a non-negative integer"});
    CHECK(reject(R"({"sku":"X","counted":1.5})").error.field == "counted");
    CHECK(reject(R"({"sku":"X","counted":"3"})").error.field == "counted");
    CHECK(reject(R"({"sku":"X"})").error == field_error{"counted", "is required"});
    CHECK(reject(R"({"counted":3})").error == field_error{"sku", "is required"});
  }
}

TEST_CASE("a snapshot line that names id, source, type, location or occurred_at is rejected "
          "naming the field",
          "[connectors][snapshot]") {
  for (const char* field : {"id", "source", "type", "location", "occurred_at"}) {
    INFO(field);
    const auto r = reject(std::string(R"({"sku":"X","counted":1,")") + field + R"(":"main"})");
    CHECK(r.error == field_error{field, "is set by the snapshot, not by its lines"});
  }
}

TEST_CASE("a snapshot line too long for the event id is rejected naming the sku",
          "[connectors][snapshot]") {
  const std::string long_sku(250, 'S');  // fits string_bytes_max (256), "inv-27:" + it does not
  const auto r = reject(R"({"sku":")" + long_sku + R"(","counted":1})");
  CHECK(r.error.field == "sku");
  CHECK(r.error.reason.find("too long to form the event id") == 0);
}

TEST_CASE("malformed JSON and non-objects reject only their own line, by line number",
          "[connectors][snapshot]") {
  const auto lines = decode_whole(mixed_body(), envelope(), snapshot_limits{long_line_limit});
  const std::vector<std::string> got = describe(lines);
  const std::string as_of = "2026-11-27T10:04:00.000Z";
  const std::vector<std::string> expected = {
      "1 ok inv-27:TSHIRT-RED-M wms counted TSHIRT-RED-M main 9 " + as_of + " " + as_of,
      "2 ok inv-27:MUG wms counted MUG main 4 " + as_of + " " + as_of,
      // lines 3 and 4 are blank
      "5 ok inv-27:CAP wms counted CAP main 0 2026-11-27T10:06:00.000Z 2026-11-27T10:06:00.000Z",
      "6 ok inv-27:TSHIRT-RED-M wms counted TSHIRT-RED-M main 48 " + as_of + " " + as_of,
      "7 rejected [] malformed JSON: the line does not end with the closing '}' (last column 26 "
      "is ':')",
      "8 rejected [sku] kits have no stock of their own: 'GIFT-BOX' is a kit; send counted for "
      "its components",
      "9 rejected [] longer than 200 bytes",
      "10 rejected [] must be a JSON object",
      "11 rejected [counted] must be a non-negative integer",
      "12 rejected [unit] unknown unit 'pallet' for sku 'SCARF'",
      "13 ok inv-27:LAST wms counted LAST main 12 " + as_of + " " + as_of,
  };
  CHECK(got == expected);
}

TEST_CASE("feeding a snapshot in pieces split at any byte gives the same lines as feeding it "
          "whole",
          "[connectors][snapshot]") {
  const std::string body = mixed_body();
  const snapshot_limits limits{long_line_limit};
  const std::vector<std::string> whole = describe(decode_whole(body, envelope(), limits));
  REQUIRE(whole.size() == 11);

  SECTION("two pieces, split at every byte") {
    for (std::size_t split = 0; split <= body.size(); ++split) {
      INFO("split at byte " << split);
      CHECK(describe(decode_in_pieces(body, {split}, envelope(), limits)) == whole);
    }
  }
  SECTION("one byte at a time") {
    const std::vector<std::size_t> ones(body.size(), 1);
    CHECK(describe(decode_in_pieces(body, ones, envelope(), limits)) == whole);
  }
  SECTION("random piece sizes") {
    constexpr std::uint32_t seed = 0x5a4b2026;
    std::printf("snapshot decoder split seed: %u\n", seed);
    std::mt19937 random(seed);
    std::uniform_int_distribution<std::size_t> size(1, 97);
    for (int round = 0; round < 300; ++round) {
      std::vector<std::size_t> sizes;
      for (std::size_t total = 0; total < body.size();) {
        sizes.push_back(size(random));
        total += sizes.back();
      }
      INFO("seed " << seed << " round " << round);
      CHECK(describe(decode_in_pieces(body, sizes, envelope(), limits)) == whole);
    }
  }
}

TEST_CASE("the snapshot decoder holds one piece plus the line limit, however long the body or "
          "its lines",
          "[connectors][snapshot]") {
  const snapshot_limits limits{1024};
  std::string body;
  std::size_t valid = 0;
  for (int i = 0; i < 20000; ++i) {
    if (i % 1000 == 500) {
      // A line of 100 KiB: rejected whole, never buffered whole.
      body += "{\"sku\":\"HUGE\",\"counted\":1,\"pad\":\"" + std::string(100 * 1024, 'p') + "\"}\n";
    } else {
      body += "{\"sku\":\"SKU-" + std::to_string(i) + "\",\"counted\":" +
              std::to_string(i % 7) + "}\n";
      ++valid;
    }
  }
  constexpr std::size_t piece = 4096;
  const std::vector<std::size_t> sizes(body.size() / piece + 1, piece);
  std::size_t buffered_max = 0;
  const auto lines = decode_in_pieces(body, sizes, envelope(), limits, &buffered_max);
  REQUIRE(lines.size() == 20000);
  std::size_t accepted = 0;
  for (const auto& line : lines) {
    if (line.decoded.ev) {
      ++accepted;
    } else {
      CHECK(line.decoded.error.reason == "longer than 1024 bytes");
      CHECK(line.number % 1000 == 501);
    }
  }
  CHECK(accepted == valid);
  CHECK(lines.back().number == 20000);
  CHECK(buffered_max <= piece + limits.line_bytes_max);
}

TEST_CASE("check_snapshot_envelope names the request parameter at fault",
          "[connectors][snapshot]") {
  const decode_limits decode{};
  const snapshot_limits limits{};
  auto check = [&](snapshot_envelope env) {
    return check_snapshot_envelope(env, test_catalog(), decode, limits);
  };
  CHECK_FALSE(check(envelope()).has_value());
  CHECK_FALSE(check(envelope("erp", "0001")).has_value());
  CHECK_FALSE(check(envelope("wms", "main", "")).has_value());  // every line brings its own

  auto with_id = [](std::string id) {
    auto env = envelope();
    env.id = std::move(id);
    return env;
  };
  CHECK(check(envelope("")).value() == field_error{"source", "is required"});
  CHECK(check(envelope("stockd")).value().field == "source");
  CHECK(check(envelope(std::string("w\0s", 3))).value() ==
        field_error{"source", "must not contain control characters"});
  CHECK(check(with_id("")).value() == field_error{"id", "is required"});
  CHECK(check(with_id(std::string(129, 'i'))).value() ==
        field_error{"id", "longer than 128 bytes"});
  CHECK(check(envelope("wms", "main", "10:04")).value() ==
        field_error{"as_of", "must be an RFC 3339 timestamp"});
  // Aliases are per source: the ERP's "0001" means nothing to the WMS.
  CHECK(check(envelope("wms", "0001")).value() ==
        field_error{"location", "unknown location '0001' for source 'wms'"});
  CHECK(check(envelope("wms", "DC-NOWHERE")).value().field == "location");
}
