#include "simulator/world.hpp"

#include <algorithm>
#include <cassert>
#include <numeric>
#include <stdexcept>

namespace stockd::simulator {

world::world(std::vector<std::string> locations, std::vector<sku_stock> initial,
             std::size_t selling_locations)
    : locations_(std::move(locations)),
      selling_(selling_locations == 0 ? locations_.size() : selling_locations) {
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
    skus_.push_back(s.sku);
    initial_.push_back(s.on_hand);
    const std::size_t n = s.on_hand.size();
    state_.push_back(sku_state{std::move(s.on_hand), std::vector<std::int64_t>(n, 0),
                               std::vector<std::int64_t>(n, 0), 0, 0, 0});
  }
}

std::int64_t world::initial_on_hand(std::size_t sku_index, std::size_t location) const {
  return initial_.at(sku_index).at(location);
}

std::size_t world::index_of(std::string_view sku) const {
  auto it = index_.find(std::string(sku));
  assert(it != index_.end() && "a SKU outside the catalog");
  return it->second;
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
}

void world::place_locked(order& o, std::size_t location) {
  assert(location < selling_ && "stockd places lines at selling locations only");
  o.location = location;
  if (!o.covered) {
    return;
  }
  sku_state& s = state_[o.sku];
  s.unplaced -= o.qty;
  if (free_locked(s, location) >= o.qty) {
    s.owed[location] += o.qty;
  } else {
    // Placed where no free unit is (world.hpp, step 2): oversold there, as stockd records it.
    oversell_locked(o);
    ++misplaced_;
  }
}

bool world::record_sale(std::string_view channel, std::size_t sku, std::string_view order_id,
                        std::int64_t qty, bool covered, bool reserved,
                        std::optional<std::size_t> location) {
  assert(qty > 0);
  channel_sales& c = sales_[std::string(channel)];
  c.units_sold += static_cast<std::uint64_t>(qty);
  if (covered) {
    if (location) {
      state_[sku].owed[*location] += qty;
    } else {
      state_[sku].unplaced += qty;
    }
  } else {
    c.oversold_units += static_cast<std::uint64_t>(qty);
    oversold_total_ += static_cast<std::uint64_t>(qty);
  }
  order o{sku, std::string(channel), covered, false, location, {}, qty, reserved,
          ++sale_number_};
  const bool fresh = orders_.emplace(std::string(order_id), std::move(o)).second;
  assert(fresh && "order ids are unique per run");
  (void)fresh;
  return covered;
}

bool world::sell(std::string_view channel, std::string_view sku, std::string_view order_id,
                 std::int64_t qty) {
  std::lock_guard lock(mu_);
  const std::size_t i = index_of(sku);
  return record_sale(channel, i, order_id, qty, sellable_locked(state_[i]) >= qty, false,
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
    // Covered orders of blind channels stockd has not acknowledged, the most recent first.
    std::vector<std::pair<std::uint64_t, order*>> candidates;
    for (auto& [id, o] : orders_) {
      if (o.sku == i && o.covered && !o.acknowledged && !o.reserved && !o.location) {
        candidates.emplace_back(o.number, &o);
      }
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    std::int64_t can = 0;
    std::size_t take = 0;
    while (take < candidates.size() && can < missing) {
      can += candidates[take++].second->qty;
    }
    if (can < missing) {
      return record_sale(channel, i, order_id, qty, false, true, location);
    }
    for (std::size_t k = 0; k < take; ++k) {
      order& o = *candidates[k].second;
      state_[i].unplaced -= o.qty;
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

std::vector<std::pair<std::string, std::string>> world::unplaced_acknowledged(
    std::size_t max) const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& id : awaiting_placement_) {
    if (out.size() == max) {
      break;
    }
    out.emplace_back(id, orders_.at(id).channel);
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
    sku_state& s = state_[o.sku];
    assert(o.location && "only placed orders are due");
    const std::size_t at = *o.location;
    order_line line{node.key(), o.channel, skus_[o.sku], o.covered, settlement::cancelled, at,
                    o.qty};
    if (o.covered) {
      line.how = decide ? decide(line) : settlement::shipped;
      if (line.how == settlement::shipped) {
        // The units leave the shelf stockd placed the line at; they were promised (owed) there
        // at placement, so they are there. Damaged units stay: never shipped.
        assert(s.on_hand[at] - s.damaged[at] >= o.qty && "a covered line ships what is there");
        s.on_hand[at] -= o.qty;
      }
      s.owed[at] -= o.qty;
    }
    out.push_back(std::move(line));
  }
  return out;
}

void world::returned(std::string_view sku, std::size_t location, bool damaged,
                     std::int64_t qty) {
  std::lock_guard lock(mu_);
  sku_state& s = state_[index_of(sku)];
  s.on_hand.at(location) += qty;
  if (damaged) {
    s.damaged.at(location) += qty;
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
  if (it == index_.end()) {
    return std::nullopt;
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

std::map<std::string, channel_sales> world::sales() const {
  std::lock_guard lock(mu_);
  return sales_;
}

std::uint64_t world::oversold_units() const {
  std::lock_guard lock(mu_);
  return oversold_total_;
}

} // namespace stockd::simulator
