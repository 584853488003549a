#pragma once
// What every fuzz target shares: a check that stays on in every build (a property violation is
// a finding like a crash: libFuzzer saves the input as crash-<sha1>), and the catalog the
// decoders resolve against.
#include <cstdio>
#include <cstdlib>

#include "engine/catalog.hpp"

#define FUZZ_CHECK(condition)                                                                   \
  ((condition) ? static_cast<void>(0) : ::stockd::fuzz::fail(#condition, __FILE__, __LINE__))

namespace stockd::fuzz {

[[noreturn]] inline void fail(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, condition);
  std::abort();
}

/// Locations with per-source aliases, a SKU with units, a kit, and one source with a mapping
/// table: every branch of the normalization has something to resolve. No alias of one location
/// is another's canonical id, so a normalized event re-encoded decodes to itself.
inline engine::catalog fuzz_catalog() {
  using engine::location_id;
  using engine::sku_id;
  using engine::source_id;
  std::vector<engine::location_info> locations{
      {location_id("DC-EAST"), {{source_id("wms-east"), "E1"}, {source_id("erp"), "east"}}},
      {location_id("DC-WEST"), {{source_id("wms-west"), "W1"}}},
      {location_id("STORE-1"), {}},
  };
  std::vector<engine::sku_info> skus{
      {sku_id("SKU-1"), {{"case", 12}, {"pallet", 480}}, {}},
      {sku_id("SKU-2"), {{"each", 2}}, {}},
      {sku_id("KIT-1"), {}, {{sku_id("SKU-1"), 2}, {sku_id("SKU-2"), 1}}},
  };
  std::vector<engine::sku_mapping> mappings{
      {source_id("erp"), {{"100", sku_id("SKU-1")}, {"900", sku_id("KIT-1")}}},
  };
  return engine::catalog(std::move(locations), std::move(skus), std::move(mappings));
}

} // namespace stockd::fuzz
