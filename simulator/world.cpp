#include "simulator/world.hpp"

#include <cassert>
#include <numeric>
#include <stdexcept>

namespace stockd::simulator {

world::world(std::vector<std::string> locations, std::vector<sku_stock> initial)
    : locations_(std::move(locations)) {
  assert(!locations_.empty());
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
    state_.push_back(sku_state{std::move(s.on_hand), 0, 0, 0});
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

bool world::sell(std::string_view channel, std::string_view sku, std::string_view order_id) {
  std::lock_guard lock(mu_);
  const std::size_t i = index_of(sku);
  sku_state& s = state_[i];
  const std::int64_t on_hand = std::accumulate(s.on_hand.begin(), s.on_hand.end(), std::int64_t{0});
  const bool covered = on_hand - s.owed - s.damaged > 0;
  channel_sales& c = sales_[std::string(channel)];
  ++c.units_sold;
  if (covered) {
    ++s.owed;
  } else {
    ++c.oversold_units;
    ++oversold_total_;
  }
  const bool fresh =
      orders_.emplace(std::string(order_id), order{i, std::string(channel), covered, false}).second;
  assert(fresh && "order ids are unique per run");
  (void)fresh;
  return covered;
}

void world::order_acknowledged(std::string_view order_id, world_clock::time_point at) {
  std::lock_guard lock(mu_);
  auto it = orders_.find(std::string(order_id));
  if (it == orders_.end() || it->second.acknowledged) {
    return;
  }
  it->second.acknowledged = true;
  acknowledged_.emplace_back(at, it->first);
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
    order_line line{node.key(), o.channel, skus_[o.sku], o.covered, settlement::cancelled, 0};
    if (o.covered) {
      line.how = decide ? decide(line) : settlement::shipped;
      if (line.how == settlement::shipped) {
        // The unit leaves the first shelf that holds one; it was promised (owed) at the sale.
        // Damaged units stay where they are: never shipped.
        for (std::size_t l = 0; l < s.on_hand.size(); ++l) {
          if (s.on_hand[l] > 0) {
            --s.on_hand[l];
            line.location = l;
            break;
          }
        }
      }
      --s.owed;
    }
    out.push_back(std::move(line));
  }
  return out;
}

void world::returned(std::string_view sku, std::size_t location, bool damaged) {
  std::lock_guard lock(mu_);
  sku_state& s = state_[index_of(sku)];
  s.on_hand.at(location) += 1;
  if (damaged) {
    ++s.damaged;
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
  std::int64_t& here = state_[index_of(sku)].on_hand.at(location);
  assert(here + delta >= 0);
  here += delta;
}

std::optional<sku_truth> world::truth(std::string_view sku) const {
  std::lock_guard lock(mu_);
  auto it = index_.find(std::string(sku));
  if (it == index_.end()) {
    return std::nullopt;
  }
  const sku_state& s = state_[it->second];
  return sku_truth{std::accumulate(s.on_hand.begin(), s.on_hand.end(), std::int64_t{0}), s.owed,
                   s.incoming, s.damaged};
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
