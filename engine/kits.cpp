#include "engine/kits.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <string_view>

namespace stockd::engine {

std::int64_t kit_available(std::span<const component_stock> components) noexcept {
  if (components.empty()) {
    return 0;
  }
  std::int64_t kits = std::numeric_limits<std::int64_t>::max();
  for (const auto& c : components) {
    assert(c.qty_per_kit >= 1);
    kits = std::min(kits, std::max<std::int64_t>(0, c.available) / c.qty_per_kit);
  }
  return kits;
}

std::int64_t pooled_available(std::span<const sku_location_state> locations) noexcept {
  std::int64_t pool = 0;
  for (const auto& s : locations) {
    pool += std::max<std::int64_t>(0, s.qty.available);
  }
  return pool;
}

bool kit_accepts(event_type type) noexcept { return is_line_event(type); }

std::vector<event> expand_kit_event(const event& kit_event,
                                    std::span<const kit_component> components) {
  assert(kit_accepts(kit_event.type));
  assert(!components.empty());
  std::vector<event> out;
  out.reserve(components.size());
  for (const auto& component : components) {
    assert(component.qty >= 1);
    assert(kit_event.qty <= std::numeric_limits<std::int64_t>::max() / component.qty);
    event& ev = out.emplace_back(kit_event);
    ev.sku = component.sku;
    ev.qty = kit_event.qty * component.qty;
    ev.id += '#';
    ev.id += component.sku.str();
    ev.line_id += '/';
    ev.line_id += component.sku.str();
  }
  return out;
}

bool is_kit_component_event(const event& ev) noexcept {
  const std::string& sku = ev.sku.str();
  auto ends_with = [&sku](std::string_view text, char separator) {
    return text.size() > sku.size() && text.ends_with(sku) &&
           text[text.size() - sku.size() - 1] == separator;
  };
  return ends_with(ev.id, '#') && ends_with(ev.line_id, '/');
}

} // namespace stockd::engine
