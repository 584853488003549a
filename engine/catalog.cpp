#include "engine/catalog.hpp"

#include <cassert>

namespace stockd::engine {

catalog::catalog(std::vector<location_info> locations, std::vector<sku_info> skus,
                 std::vector<sku_mapping> mappings, std::vector<channel_info> channels)
    : locations_(std::move(locations)), channels_(std::move(channels)) {
  for (const auto& info : locations_) {
    ids_.emplace(info.id.str(), info.id);
    for (const auto& [source, name] : info.aliases) {
      // First definition wins: config/ rejects duplicate aliases, this only keeps it stable.
      aliases_.emplace(std::make_pair(source.str(), name), info.id);
    }
  }
  for (auto& info : skus) {
    for ([[maybe_unused]] const auto& [unit, factor] : info.units) {
      assert(factor >= 1);
    }
    for ([[maybe_unused]] const auto& component : info.components) {
      assert(component.qty >= 1 && component.sku != info.id);
    }
    std::string key = info.id.str();
    [[maybe_unused]] const bool fresh = skus_.emplace(std::move(key), std::move(info)).second;
    assert(fresh);
  }
  for (const auto& [id, info] : skus_) {
    for (const auto& component : info.components) {
      kits_by_component_[component.sku.str()].push_back(info.id);
    }
  }
  // Kits of kits would need recursive expansion (and cycle checks) at ingest; config/ refuses
  // them, so one level is all ingest ever expands.
  for ([[maybe_unused]] const auto& [id, info] : skus_) {
    for ([[maybe_unused]] const auto& component : info.components) {
      assert(!is_kit(component.sku));
    }
  }
  for (auto& mapping : mappings) {
    auto& table = sku_maps_[mapping.source.str()];
    for (auto& [external, sku] : mapping.skus) {
      table.emplace(std::move(external), std::move(sku));
    }
  }
}

std::optional<location_id> catalog::resolve_location(const source_id& source,
                                                     std::string_view name) const {
  if (const auto it = aliases_.find(std::make_pair(source.str(), std::string{name}));
      it != aliases_.end()) {
    return it->second;
  }
  if (const auto it = ids_.find(name); it != ids_.end()) {
    return it->second;
  }
  return std::nullopt;
}

bool catalog::has_location(const location_id& id) const {
  return ids_.find(id.str()) != ids_.end();
}

std::optional<sku_id> catalog::resolve_sku(const source_id& source,
                                           std::string_view external) const {
  const auto table = sku_maps_.find(source.str());
  if (table == sku_maps_.end()) {
    return sku_id(external);
  }
  if (const auto it = table->second.find(external); it != table->second.end()) {
    return it->second;
  }
  return std::nullopt;
}

bool catalog::has_sku_mapping(const source_id& source) const {
  return sku_maps_.find(source.str()) != sku_maps_.end();
}

std::optional<std::int64_t> catalog::unit_factor(const sku_id& sku, std::string_view unit) const {
  if (const sku_info* info = find_sku(sku)) {
    for (const auto& [name, factor] : info->units) {
      if (name == unit) {
        return factor;
      }
    }
  }
  if (unit == base_unit_name) {
    return 1;
  }
  return std::nullopt;
}

std::span<const kit_component> catalog::kit_components(const sku_id& sku) const {
  if (const sku_info* info = find_sku(sku)) {
    return info->components;
  }
  return {};
}

const sku_info* catalog::find_sku(const sku_id& sku) const {
  const auto it = skus_.find(sku.str());
  return it == skus_.end() ? nullptr : &it->second;
}

std::span<const sku_id> catalog::kits_containing(const sku_id& component) const {
  auto it = kits_by_component_.find(component.str());
  if (it == kits_by_component_.end()) {
    return {};
  }
  return it->second;
}

const channel_info* catalog::find_channel(const channel_id& id) const {
  for (const auto& info : channels_) {
    if (info.id == id) {
      return &info;
    }
  }
  return nullptr;
}

std::vector<location_id> catalog::locations_for(const channel_id& channel) const {
  if (const channel_info* info = channel.empty() ? nullptr : find_channel(channel)) {
    return info->locations;
  }
  std::vector<location_id> all;
  all.reserve(locations_.size());
  for (const auto& info : locations_) {
    all.push_back(info.id);
  }
  return all;
}

} // namespace stockd::engine
