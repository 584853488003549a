#include "simulator/world.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace stockd::simulator {

world::world(std::vector<std::string> locations, std::vector<sku_stock> initial,
             std::size_t selling_locations, std::vector<kit_definition> kits)
    : locations_(std::move(locations)),
      selling_(selling_locations == 0 ? locations_.size() : selling_locations),
      kits_(std::move(kits)) {
  assert(!locations_.empty());
  assert(selling_ <= locations_.size());
  skus_.reserve(initial.size());
  state_.reserve(initial.size());
  initial_.reserve(initial.size());
  for (auto& s : initial) {
    assert(s.on_hand.size() == locations_.size());
    const bool inserted = index_.emplace(s.sku, skus_.size()).second;
    if (!inserted) {
      throw std::invalid_argument("world: SKU " + s.sku + " twice in the catalog");
    }
    products_.push_back(product{s.sku, {part{skus_.size(), 1}}, false});
    skus_.push_back(s.sku);
    initial_.push_back(s.on_hand);
    const std::size_t n = s.on_hand.size();
    state_.push_back(sku_state{std::move(s.on_hand), std::vector<std::int64_t>(n, 0),
                               std::vector<std::int64_t>(n, 0), 0, 0, 0});
  }
  for (const kit_definition& k : kits_) {
    product kit{k.sku, {}, true};
    for (const auto& [sku, qty] : k.components) {
      auto it = index_.find(sku);
      if (it == index_.end() || it->second >= skus_.size() || qty < 1) {
        throw std::invalid_argument("world: kit " + k.sku + ": component " + sku +
                                    " is not a catalog SKU with a quantity of at least 1");
      }
      for (const part& earlier : kit.parts) {
        if (earlier.sku == it->second) {
          throw std::invalid_argument("world: kit " + k.sku + " names " + sku + " twice");
        }
      }
      kit.parts.push_back(part{it->second, qty});
    }
    if (kit.parts.empty() || !index_.emplace(k.sku, products_.size()).second) {
      throw std::invalid_argument("world: kit " + k.sku + " is empty or named like another");
    }
    products_.push_back(std::move(kit));
  }
}

std::int64_t world::initial_on_hand(std::size_t sku_index, std::size_t location) const {
  return initial_.at(sku_index).at(location);
}

std::size_t world::product_of(std::string_view sku) const {
  auto it = index_.find(std::string(sku));
  assert(it != index_.end() && "a SKU outside the catalog and the kits");
  return it->second;
}

std::size_t world::index_of(std::string_view sku) const {
  const std::size_t i = product_of(sku);
  assert(i < skus_.size() && "a kit has no stock of its own");
  return i;
}

bool world::covers_locked(const product& p, std::int64_t qty) const {
  return std::all_of(p.parts.begin(), p.parts.end(), [&](const part& c) {
    return sellable_locked(state_[c.sku]) >= qty * c.qty;
  });
}

std::int64_t world::units_of_locked(const order& o, std::size_t sku) const {
  for (const part& c : products_[o.product].parts) {
    if (c.sku == sku) {
      return o.qty * c.qty;
    }
  }
  return 0;
}

std::int64_t world::kit_sellable(std::string_view kit) const {
  std::lock_guard lock(mu_);
  const product& p = products_[product_of(kit)];
  std::int64_t kits = std::numeric_limits<std::int64_t>::max();
  for (const part& c : p.parts) {
    kits = std::min(kits, std::max<std::int64_t>(0, sellable_locked(state_[c.sku])) / c.qty);
  }
  return kits;
}

std::int64_t world::free_locked(const sku_state& s, std::size_t location) const {
  return s.on_hand[location] - s.damaged[location] - s.owed[location];
}

std::int64_t world::sellable_locked(const sku_state& s) const {
  std::int64_t free = 0;
  for (std::size_t l = 0; l < selling_; ++l) {
    free += free_locked(s, l);
  }
  return free - s.unplaced;
}

void world::oversell_locked(order& o) {
  o.covered = false;
  channel_sales& c = sales_[o.channel];
  c.oversold_units += static_cast<std::uint64_t>(o.qty);
  oversold_total_ += static_cast<std::uint64_t>(o.qty);
  if (const product& p = products_[o.product]; p.kit) {
    kit_sales_[p.name].oversold_units += static_cast<std::uint64_t>(o.qty);
  }
}

void world::place_locked(order& o, std::size_t location) {
  assert(location < selling_ && "stockd places lines at selling locations only");
  o.location = location;
  if (!o.covered) {
    return;
  }
  // A kit line is placed whole: every component at this one location (server/placement.cpp).
  const product& p = products_[o.product];
  bool fits = true;
  for (const part& c : p.parts) {
    sku_state& s = state_[c.sku];
    s.unplaced -= o.qty * c.qty;
    fits = fits && free_locked(s, location) >= o.qty * c.qty;
  }
  if (fits) {
    for (const part& c : p.parts) {
      state_[c.sku].owed[location] += o.qty * c.qty;
    }
  } else {
    // Placed where no free unit is (world.hpp, step 2): oversold there, as stockd records it.
    oversell_locked(o);
    ++misplaced_;
  }
}

bool world::record_sale(std::string_view channel, std::size_t product_index,
                        std::string_view order_id, std::int64_t qty, bool covered, bool reserved,
                        std::optional<std::size_t> location) {
  assert(qty > 0);
  const product& p = products_[product_index];
  sales_[std::string(channel)].units_sold += static_cast<std::uint64_t>(qty);
  if (p.kit) {
    kit_sales_[p.name].units_sold += static_cast<std::uint64_t>(qty);
  }
  order o{product_index, std::string(channel), covered, false, location, {}, qty, reserved,
          ++sale_number_};
  if (covered) {
    for (const part& c : p.parts) {
      (location ? state_[c.sku].owed[*location] : state_[c.sku].unplaced) += qty * c.qty;
    }
  } else {
    oversell_locked(o);
  }
  const bool fresh = orders_.emplace(std::string(order_id), std::move(o)).second;
  assert(fresh && "order ids are unique per run");
  (void)fresh;
  return covered;
}

bool world::sell(std::string_view channel, std::string_view sku, std::string_view order_id,
                 std::int64_t qty) {
  std::lock_guard lock(mu_);
  const std::size_t p = product_of(sku);
  return record_sale(channel, p, order_id, qty, covers_locked(products_[p], qty), false,
                     std::nullopt);
}

bool world::reserved_sale(std::string_view channel, std::string_view sku,
                          std::string_view order_id, std::int64_t qty, std::size_t location) {
  std::lock_guard lock(mu_);
  const std::size_t i = index_of(sku);
  assert(location < selling_);
  if (free_locked(state_[i], location) < qty) {
    // The held location has no free unit for it (lines placed there took them): stockd granted
    // a hold on stock that was not there.
    return record_sale(channel, i, order_id, qty, false, true, location);
  }
  std::int64_t missing = qty - std::max<std::int64_t>(0, sellable_locked(state_[i]));
  if (missing > 0) {
    // Covered orders of blind channels stockd has not acknowledged that hold units of this
    // SKU (itself, or a kit it is a component of), the most recent first; a kit taken over
    // gives back every component.
    std::vector<std::pair<std::uint64_t, order*>> candidates;
    for (auto& [id, o] : orders_) {
      if (o.covered && !o.acknowledged && !o.reserved && !o.location &&
          units_of_locked(o, i) > 0) {
        candidates.emplace_back(o.number, &o);
      }
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    std::int64_t can = 0;
    std::size_t take = 0;
    while (take < candidates.size() && can < missing) {
      can += units_of_locked(*candidates[take++].second, i);
    }
    if (can < missing) {
      return record_sale(channel, i, order_id, qty, false, true, location);
    }
    for (std::size_t k = 0; k < take; ++k) {
      order& o = *candidates[k].second;
      for (const part& c : products_[o.product].parts) {
        state_[c.sku].unplaced -= o.qty * c.qty;
      }
      oversell_locked(o);
      ++taken_over_;
    }
  }
  return record_sale(channel, i, order_id, qty, true, true, location);
}

void world::order_acknowledged(std::string_view order_id, world_clock::time_point at,
                               std::optional<std::size_t> location) {
  std::lock_guard lock(mu_);
  auto it = orders_.find(std::string(order_id));
  if (it == orders_.end()) {
    return;
  }
  order& o = it->second;
  if (!location && selling_ == 1) {
    location = 0;  // the only place stockd can put it
  }
  const bool was_due = o.acknowledged && o.location;
  if (!o.acknowledged) {
    o.acknowledged = true;
    o.acknowledged_at = at;
  }
  if (location && !o.location) {
    place_locked(o, *location);
  }
  if (o.location) {
    awaiting_placement_.erase(it->first);
  } else {
    awaiting_placement_.insert(it->first);
  }
  if (!was_due && o.location) {
    acknowledged_.emplace_back(o.acknowledged_at, it->first);
  }
}

std::vector<unplaced_order> world::unplaced_acknowledged(std::size_t max) const {
  std::lock_guard lock(mu_);
  std::vector<unplaced_order> out;
  for (const auto& id : awaiting_placement_) {
    if (out.size() == max) {
      break;
    }
    const order& o = orders_.at(id);
    out.push_back({id, o.channel, products_[o.product].name});
  }
  return out;
}

std::vector<order_line> world::settle_due(world_clock::time_point until, std::size_t max,
                                          const settle_decision& decide) {
  std::lock_guard lock(mu_);
  std::vector<order_line> out;
  while (!acknowledged_.empty() && acknowledged_.front().first <= until && out.size() < max) {
    auto node = orders_.extract(acknowledged_.front().second);
    acknowledged_.pop_front();
    assert(!node.empty());
    order& o = node.mapped();
    const product& p = products_[o.product];
    assert(o.location && "only placed orders are due");
    const std::size_t at = *o.location;
    order_line line{node.key(), o.channel, p.name, o.covered, settlement::cancelled, at, o.qty};
    if (o.covered) {
      line.how = decide ? decide(line) : settlement::shipped;
      for (const part& c : p.parts) {
        sku_state& s = state_[c.sku];
        const std::int64_t units = o.qty * c.qty;
        if (line.how == settlement::shipped) {
          // The units leave the shelf stockd placed the line at; they were promised (owed)
          // there at placement, so they are there. Damaged units stay: never shipped.
          assert(s.on_hand[at] - s.damaged[at] >= units && "a covered line ships what is there");
          s.on_hand[at] -= units;
        }
        s.owed[at] -= units;
      }
    }
    out.push_back(std::move(line));
  }
  return out;
}

void world::returned(std::string_view sku, std::size_t location, bool damaged,
                     std::int64_t qty) {
  std::lock_guard lock(mu_);
  for (const part& c : products_[product_of(sku)].parts) {
    sku_state& s = state_[c.sku];
    s.on_hand.at(location) += qty * c.qty;
    if (damaged) {
      s.damaged.at(location) += qty * c.qty;
    }
  }
}

std::size_t world::open_orders() const {
  std::lock_guard lock(mu_);
  return orders_.size();
}

void world::purchase_ordered(std::string_view sku, std::int64_t qty) {
  std::lock_guard lock(mu_);
  state_[index_of(sku)].incoming += qty;
}

void world::received(std::string_view sku, std::size_t location, std::int64_t qty, bool from_po) {
  std::lock_guard lock(mu_);
  sku_state& s = state_[index_of(sku)];
  s.on_hand.at(location) += qty;
  if (from_po) {
    s.incoming -= qty;
  }
}

void world::adjusted(std::string_view sku, std::size_t location, std::int64_t delta) {
  std::lock_guard lock(mu_);
  sku_state& s = state_[index_of(sku)];
  std::int64_t& here = s.on_hand.at(location);
  assert(here + delta >= 0);
  assert(location >= selling_ || delta >= 0 || free_locked(s, location) + delta >= 0);
  here += delta;
}

void world::transfer_shipped(std::string_view sku, std::size_t from, std::int64_t qty) {
  std::lock_guard lock(mu_);
  sku_state& s = state_[index_of(sku)];
  assert(qty > 0 && s.on_hand.at(from) - s.damaged.at(from) >= qty);
  assert(from >= selling_ || free_locked(s, from) >= qty);
  s.on_hand.at(from) -= qty;
  s.in_transit += qty;
}

void world::transfer_received(std::string_view sku, std::size_t to, std::int64_t qty) {
  std::lock_guard lock(mu_);
  sku_state& s = state_[index_of(sku)];
  assert(qty > 0 && s.in_transit >= qty);
  s.in_transit -= qty;
  s.on_hand.at(to) += qty;
}

std::int64_t world::on_hand_at(std::string_view sku, std::size_t location) const {
  std::lock_guard lock(mu_);
  return state_[index_of(sku)].on_hand.at(location);
}

std::int64_t world::free_at(std::string_view sku, std::size_t location) const {
  std::lock_guard lock(mu_);
  const sku_state& s = state_[index_of(sku)];
  return location < selling_ ? free_locked(s, location)
                             : s.on_hand.at(location) - s.damaged.at(location);
}

std::optional<sku_truth> world::truth(std::string_view sku) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(std::string(sku));
  if (it == index_.end() || it->second >= skus_.size()) {
    return std::nullopt;  // not in the catalog, or a kit (no stock of its own)
  }
  const sku_state& s = state_[it->second];
  const auto selling_end = s.on_hand.begin() + static_cast<std::ptrdiff_t>(selling_);
  const std::int64_t owed =
      std::accumulate(s.owed.begin(), s.owed.end(), std::int64_t{0}) + s.unplaced;
  return sku_truth{std::accumulate(s.on_hand.begin(), s.on_hand.end(), std::int64_t{0}), owed,
                   s.incoming, std::accumulate(s.damaged.begin(), s.damaged.end(), std::int64_t{0}),
                   std::accumulate(selling_end, s.on_hand.end(), std::int64_t{0}), s.in_transit};
}

std::uint64_t world::taken_over() const {
  std::lock_guard lock(mu_);
  return taken_over_;
}

std::uint64_t world::misplaced() const {
  std::lock_guard lock(mu_);
  return misplaced_;
}

std::map<std::string, channel_sales> world::kit_sales() const {
  std::lock_guard lock(mu_);
  std::map<std::string, channel_sales> out;
  for (const kit_definition& k : kits_) {
    auto it = kit_sales_.find(k.sku);
    out[k.sku] = it == kit_sales_.end() ? channel_sales{} : it->second;
  }
  return out;
}

std::map<std::string, channel_sales> world::sales() const {
  std::lock_guard lock(mu_);
  return sales_;
}

std::uint64_t world::oversold_units() const {
  std::lock_guard lock(mu_);
  return oversold_total_;
}

} // namespace stockd::simulator
