#pragma once
// What the engine knows about the merchant's world that is not stock: the locations and the
// names other systems use for them. Built by config/, read by ingest. Pure data.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/ids.hpp"

namespace stockd::engine {

struct location_info {
  location_id id;
  /// Per source, the names that source uses for this location (e.g. {"wms-east", "E1"}).
  std::vector<std::pair<source_id, std::string>> aliases;
};

class catalog {
public:
  catalog() = default;
  explicit catalog(std::vector<location_info> locations);

  /// The canonical location for what `source` calls `name`: an alias of that source first,
  /// then a canonical id. nullopt when unknown.
  std::optional<location_id> resolve_location(const source_id& source, std::string_view name) const;
  const std::vector<location_info>& locations() const noexcept { return locations_; }
  bool has_location(const location_id& id) const;

private:
  std::vector<location_info> locations_;
  std::map<std::pair<std::string, std::string>, location_id, std::less<>> aliases_;
  std::map<std::string, location_id, std::less<>> ids_;
};

} // namespace stockd::engine
