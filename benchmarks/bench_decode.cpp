// Expect a few M events/s per core: simdjson parses ~19 M small events/s raw (toolchain.md), and
// we add a full walk, ~10 string copies, a catalog lookup and two timestamp parses per event.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "connectors/event_decoder.hpp"

namespace {

namespace engine = stockd::engine;
using stockd::connectors::decode_events;
using stockd::connectors::decode_limits;

constexpr std::size_t events_per_body = 1000;

engine::catalog bench_catalog() {
  engine::location_info east{engine::location_id(std::string_view("DC-EAST")),
                             {{engine::source_id(std::string_view("wms-east")), "E1"}}};
  engine::location_info west{engine::location_id(std::string_view("DC-WEST")), {}};
  return engine::catalog({east, west});
}

// The three types stockload sends, in rotation, with realistic field sizes.
std::string event_json(std::size_t i) {
  const std::string common = R"({"id":"bench-run:)" + std::to_string(i) +
                             R"(","source":"wms-east","sku":"SKU-)" + std::to_string(i % 997) +
                             R"(","location":")" + (i % 2 == 0 ? "E1" : "DC-WEST") +
                             R"(","occurred_at":"2026-11-27T10:15:00.250Z",)";
  switch (i % 3) {
    case 0:
      return common + R"("type":"received","qty":24,"po_id":"PO-)" + std::to_string(i) + R"("})";
    case 1:
      return common + R"("type":"adjusted","delta":-2,"reason":"cycle count"})";
    default:
      return common + R"("type":"order_created","qty":1,"order_id":"O-)" + std::to_string(i) +
             R"(","line_id":"1","channel":"shopify-main"})";
  }
}

std::string make_body(bool ndjson) {
  std::string body = ndjson ? "" : "[";
  for (std::size_t i = 0; i < events_per_body; ++i) {
    if (!ndjson && i > 0) {
      body += ',';
    }
    body += event_json(i);
    if (ndjson) {
      body += '\n';
    }
  }
  if (!ndjson) {
    body += ']';
  }
  return body;
}

void decode_body(benchmark::State& state, bool ndjson) {
  const engine::catalog catalog = bench_catalog();
  const decode_limits limits;
  // The same string every iteration: decode_events only pads it once and never changes content.
  std::string body = make_body(ndjson);
  for (auto _ : state) {
    auto decoded = decode_events(body, catalog, limits);
    benchmark::DoNotOptimize(decoded);
    // Check the answer, not just the speed: every event must decode.
    std::size_t valid = 0;
    if (decoded) {
      for (const auto& ev : *decoded) {
        valid += ev.ev.has_value() ? 1 : 0;
      }
    }
    if (valid != events_per_body) {
      state.SkipWithError("not every event decoded");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events_per_body));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void bm_decode_array(benchmark::State& state) { decode_body(state, false); }
void bm_decode_ndjson(benchmark::State& state) { decode_body(state, true); }

} // namespace

BENCHMARK(bm_decode_array)->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_decode_ndjson)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
