#pragma once
// A semantic diff of two configurations: what an operator changed, by setting, not by line
// (a reordered file or a default spelled out is no change). Used for the config versions
// (GET /v1/config/versions) and to decide what a reload may apply at run time. Pure.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace stockd::config {

struct config_change {
  enum class kind_t : std::uint8_t { added, removed, changed };
  kind_t kind = kind_t::changed;
  /// Dotted, with entries of arrays named by their id: "server.listen",
  /// "channels.shopify-main.rules.buffer", "locations.DC-EAST" (a whole entry added or removed).
  std::string path;
  std::string before;  // empty when added
  std::string after;   // empty when removed
};
std::string_view to_string(config_change::kind_t kind) noexcept;

/// Every setting of `s` as path → value (a canonical dump; never a resolved secret: credentials
/// are references). Entries of arrays also appear as a path of their own ("channels.ID" →
/// "channel") so that adding or removing one is one change.
std::map<std::string, std::string> flatten(const settings& s);

/// What changed from `before` to `after`, in path order. A whole entry added or removed is one
/// change naming the entry, not one per setting in it.
std::vector<config_change> diff(const settings& before, const settings& after);

/// The first change a running stockd cannot apply (listen address, data dir, engine and store
/// sizes, limits, tokens, a removed location, a channel's connector settings), as an error
/// naming its key; nullopt when every change can be applied at run time: locations and aliases
/// added, SKUs, kits and mappings, channels added or removed, a channel's rules and mode.
std::optional<config_error> restart_only(const std::vector<config_change>& changes,
                                         const settings& before, const settings& after);

} // namespace stockd::config
