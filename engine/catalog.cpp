#include "engine/catalog.hpp"

namespace stockd::engine {

catalog::catalog(std::vector<location_info> locations) : locations_(std::move(locations)) {
  for (const auto& info : locations_) {
    ids_.emplace(info.id.str(), info.id);
    for (const auto& [source, name] : info.aliases) {
      // First definition wins: config/ rejects duplicate aliases, this only keeps it stable.
      aliases_.emplace(std::make_pair(source.str(), name), info.id);
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

} // namespace stockd::engine
