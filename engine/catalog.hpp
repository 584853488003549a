#pragma once
// What the engine knows about the merchant's world that is not stock: the locations and the
// names other systems use for them, the SKUs' units of measure and kit components, and the
// per-source tables that map external item ids to canonical SKUs (DESIGN §7). Built by config/,
// read by ingest. Pure data.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/channel_rules.hpp"
#include "engine/ids.hpp"

namespace stockd::engine {

struct location_info {
  location_id id;
  /// Per source, the names that source uses for this location (e.g. {"wms-east", "E1"}).
  std::vector<std::pair<source_id, std::string>> aliases;
};

/// One component of a kit: `qty` units of `sku` (in its base unit) per kit.
struct kit_component {
  sku_id sku;
  std::int64_t qty = 1;
  friend bool operator==(const kit_component&, const kit_component&) = default;
};

/// A configured SKU. `units` maps a unit name to its factor in base units (>= 1); "each" = 1 is
/// implied unless listed. Non-empty `components` make the SKU a kit: it has no stock of its own.
struct sku_info {
  sku_id id;
  std::vector<std::pair<std::string, std::int64_t>> units;
  std::vector<kit_component> components;
};

/// One source's table of external item ids to canonical SKUs.
struct sku_mapping {
  source_id source;
  std::vector<std::pair<std::string, sku_id>> skus;
};

/// A sales channel as the engine sees it: where it sells from, in priority order (an order or a
/// reservation that names only the channel is placed at the first of these that can cover it),
/// and the rules that turn those locations' stock into the quantity it shows (DESIGN §3). How to
/// reach the channel's API is the connectors' business (connectors/channel_options.hpp).
struct channel_info {
  channel_id id;
  std::vector<location_id> locations;  // eligible, in priority order; non-empty
  channel_rules rules;
};

/// The unit every SKU has, worth one base unit, unless the SKU's units say otherwise.
inline constexpr std::string_view base_unit_name = "each";

class catalog {
public:
  catalog() = default;
  /// Preconditions (config/ checks them and reports the key): SKU ids unique, factors and
  /// component quantities >= 1, no kit among any kit's components, no source mapped twice.
  /// Channels: ids unique, every location configured.
  explicit catalog(std::vector<location_info> locations, std::vector<sku_info> skus = {},
                   std::vector<sku_mapping> mappings = {}, std::vector<channel_info> channels = {});

  /// The canonical location for what `source` calls `name`: an alias of that source first,
  /// then a canonical id. nullopt when unknown.
  std::optional<location_id> resolve_location(const source_id& source, std::string_view name) const;
  const std::vector<location_info>& locations() const noexcept { return locations_; }
  bool has_location(const location_id& id) const;

  /// The canonical SKU for what `source` calls `external`. A source with a mapping table speaks
  /// only its own ids: an id missing from the table is nullopt, even when it happens to be a
  /// canonical SKU (an ERP item number equal to another item's SKU must not move that item).
  /// A source without a table passes every id through unchanged.
  std::optional<sku_id> resolve_sku(const source_id& source, std::string_view external) const;
  bool has_sku_mapping(const source_id& source) const;

  /// Base units per one `unit` of `sku`; nullopt when the SKU is not traded in that unit.
  /// Every SKU, configured or not, knows "each" = 1 unless its units define "each" otherwise.
  std::optional<std::int64_t> unit_factor(const sku_id& sku, std::string_view unit) const;

  /// The kit's components in configured order; empty when `sku` is not a kit. Valid as long as
  /// the catalog.
  std::span<const kit_component> kit_components(const sku_id& sku) const;
  bool is_kit(const sku_id& sku) const { return !kit_components(sku).empty(); }

  /// The configured SKU, or nullptr. Valid as long as the catalog.
  const sku_info* find_sku(const sku_id& sku) const;

  /// The kits that contain `component`, in SKU order; empty for most SKUs. Indexed once at
  /// construction (a channel asks on every stock change). Valid as long as the catalog.
  std::span<const sku_id> kits_containing(const sku_id& component) const;

  /// Every configured SKU by id, and every source's mapping table (external id → SKU), for
  /// listing (config versions, diffs).
  const std::map<std::string, sku_info, std::less<>>& skus() const noexcept { return skus_; }
  const std::map<std::string, std::map<std::string, sku_id, std::less<>>, std::less<>>&
  sku_maps() const noexcept {
    return sku_maps_;
  }

  const std::vector<channel_info>& channels() const noexcept { return channels_; }
  /// The configured channel, or nullptr. Valid as long as the catalog.
  const channel_info* find_channel(const channel_id& id) const;
  /// Where a line that names only `channel` may be placed, in the order to try: the channel's
  /// locations when it is configured, else every location in config order (a channel the config
  /// does not know still sells; it just has no priorities).
  std::vector<location_id> locations_for(const channel_id& channel) const;

private:
  std::vector<location_info> locations_;
  std::map<std::pair<std::string, std::string>, location_id, std::less<>> aliases_;
  std::map<std::string, location_id, std::less<>> ids_;
  std::map<std::string, sku_info, std::less<>> skus_;
  std::map<std::string, std::map<std::string, sku_id, std::less<>>, std::less<>> sku_maps_;
  std::vector<channel_info> channels_;
  std::map<std::string, std::vector<sku_id>, std::less<>> kits_by_component_;
};

} // namespace stockd::engine
