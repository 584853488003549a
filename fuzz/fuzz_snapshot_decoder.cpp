// Fuzzes the streamed NDJSON snapshot decoder (connectors/snapshot_decoder.hpp). The body is fed
// in chunks whose sizes come from a seed derived from the input, so chunks split it anywhere
// (inside a line, a string, a UTF-8 sequence, a CRLF). Properties checked:
//  - chunking does not matter: the lines decoded equal those of the whole body fed at once;
//  - line numbers are 1-based and strictly increasing, and no line is decoded twice;
//  - between chunks the decoder holds at most line_bytes_max bytes (its memory bound);
//  - a rejection carries a reason (field "" for a line that is not a JSON object or too long);
//  - an accepted line is a `counted` event in range, for the envelope's source and location,
//    with id "<snapshot id>:<sku>" and occurred_at equal to its as_of.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/snapshot_decoder.hpp"
#include "engine/time.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

namespace connectors = stockd::connectors;
namespace engine = stockd::engine;
namespace fuzz = stockd::fuzz;

constexpr connectors::decode_limits limits{
    .events_max = 16, .string_bytes_max = 32, .qty_max = 1'000'000, .depth_max = 4};
// Small, so that too-long lines (skipped across chunks) are reachable.
constexpr connectors::snapshot_limits snapshot{.line_bytes_max = 128, .id_bytes_max = 16};

// Two envelopes: one with an as_of for every line, one from a source with a mapping table and
// none (each line must carry its own).
connectors::snapshot_envelope envelope_for(std::uint64_t seed) {
  if (seed % 2 == 0) {
    return {"snap-1", "wms-east", "E1", "2026-11-27T10:00:00Z"};
  }
  return {"snap-2", "erp", "east", ""};
}

struct line_result {
  std::uint64_t number = 0;
  connectors::decoded_event decoded;
};

bool same(const line_result& a, const line_result& b) {
  return a.number == b.number && a.decoded.id == b.decoded.id && a.decoded.ev == b.decoded.ev &&
         a.decoded.error == b.decoded.error && a.decoded.miss.kind == b.decoded.miss.kind;
}

void drain(connectors::snapshot_decoder& decoder, std::vector<line_result>& out) {
  while (auto line = decoder.next()) {
    FUZZ_CHECK(line->number >= 1);
    FUZZ_CHECK(out.empty() || line->number > out.back().number);
    FUZZ_CHECK(line->number <= decoder.lines_seen());
    out.push_back({line->number, std::move(line->decoded)});
  }
}

// `chunk_seed` 0 feeds the body whole.
std::vector<line_result> decode(std::string_view body, const connectors::snapshot_envelope& env,
                                const engine::catalog& catalog, std::uint64_t chunk_seed) {
  connectors::snapshot_decoder decoder(env, catalog, limits, snapshot);
  std::vector<line_result> out;
  std::minstd_rand sizes(static_cast<std::minstd_rand::result_type>(chunk_seed));
  while (!body.empty()) {
    const std::size_t size =
        chunk_seed == 0 ? body.size() : 1 + sizes() % std::min<std::size_t>(body.size(), 300);
    decoder.feed(body.substr(0, size));
    body.remove_prefix(size);
    drain(decoder, out);
    FUZZ_CHECK(decoder.buffered_bytes() <= snapshot.line_bytes_max);
    FUZZ_CHECK(!decoder.exhausted());
  }
  decoder.finish();
  drain(decoder, out);
  FUZZ_CHECK(decoder.exhausted());
  FUZZ_CHECK(decoder.buffered_bytes() == 0);
  return out;
}

void check_line(const line_result& line, const connectors::snapshot_envelope& env,
                const engine::catalog& catalog) {
  const auto& decoded = line.decoded;
  if (!decoded.ev) {
    FUZZ_CHECK(!decoded.error.reason.empty());
    FUZZ_CHECK(decoded.components.empty());
    return;
  }
  const engine::event& ev = *decoded.ev;
  FUZZ_CHECK(decoded.error.field.empty() && decoded.error.reason.empty());
  FUZZ_CHECK(ev.type == engine::event_type::counted);
  FUZZ_CHECK(ev.counted >= 0 && ev.counted <= limits.qty_max);
  FUZZ_CHECK(ev.source.str() == env.source);
  FUZZ_CHECK(ev.location == *catalog.resolve_location(ev.source, env.location));
  FUZZ_CHECK(ev.id == env.id + ":" + ev.sku.str());
  FUZZ_CHECK(decoded.id == ev.id);
  FUZZ_CHECK(ev.id.size() <= limits.string_bytes_max);
  FUZZ_CHECK(ev.occurred_at == ev.as_of);
  FUZZ_CHECK(!catalog.is_kit(ev.sku));
  FUZZ_CHECK(decoded.components.empty());
  if (catalog.has_sku_mapping(ev.source)) {
    FUZZ_CHECK(catalog.find_sku(ev.sku) != nullptr);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const engine::catalog catalog = fuzz::fuzz_catalog();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const std::uint64_t seed = std::hash<std::string_view>{}(body);
  const auto env = envelope_for(seed);
  FUZZ_CHECK(!connectors::check_snapshot_envelope(env, catalog, limits, snapshot));

  const auto whole = decode(body, env, catalog, 0);
  const auto chunked = decode(body, env, catalog, (seed >> 1) | 1);
  FUZZ_CHECK(whole.size() == chunked.size());
  for (std::size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(same(whole[i], chunked[i]));
    check_line(whole[i], env, catalog);
  }
  return 0;
}
