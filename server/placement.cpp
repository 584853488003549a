#include "server/placement.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "engine/apply.hpp"
#include "engine/state.hpp"

namespace stockd::server {
namespace {

using connectors::decoded_event;

bool unplaced(const decoded_event& r) { return r.ev && r.ev->location.empty(); }

/// The events a decoded line journals: its components for a kit, else itself.
std::vector<engine::event*> journaled(decoded_event& r) {
  std::vector<engine::event*> out;
  if (r.components.empty()) {
    out.push_back(&*r.ev);
  } else {
    for (auto& component : r.components) {
      out.push_back(&component);
    }
  }
  return out;
}

/// Where the index of forgotten closed lines holds a line: by (sku, line_hash), the first
/// location in config order that holds it.
using indexed_lines = std::map<std::pair<std::string, std::uint64_t>, engine::location_id>;

/// Whether some state in `views` holds the line of `ev` (open, or closed and still kept).
bool held_by_views(const std::vector<engine::sku_location_state>& views,
                   const engine::event& ev) {
  return std::any_of(views.begin(), views.end(), [&ev](const engine::sku_location_state& state) {
    return state.key.sku == ev.sku && engine::line_known(state, ev.order_id, ev.line_id);
  });
}

class placer {
public:
  placer(const engine::catalog& catalog, std::vector<engine::sku_location_state> views,
         indexed_lines indexed)
      : catalog_(catalog), indexed_(std::move(indexed)) {
    for (auto& state : views) {
      auto key = std::make_pair(state.key.sku.str(), state.key.location.str());
      states_.emplace(std::move(key), std::move(state));
    }
  }

  void place(decoded_event& r) {
    auto events = journaled(r);
    if (!r.ev->location.empty()) {
      note_placed(events);
      return;
    }
    if (r.ev->type == engine::event_type::order_created) {
      set_location(r, events, choose(events, catalog_.locations_for(r.ev->channel)));
      note_placed(events);
      return;
    }
    // A later event of the line: each journaled event follows its own line (a kit's components
    // each have one), and all of them must be found.
    std::vector<engine::location_id> found;
    for (const engine::event* ev : events) {
      auto where = line_location(*ev);
      if (!where) {
        reject(r, *ev);
        return;
      }
      found.push_back(std::move(*where));
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
      events[i]->location = found[i];
    }
    r.ev->location = found.front();
    r.placed_at = found.front().str();
  }

private:
  using line_key = std::tuple<std::string, std::string, std::string>;  // sku, order, line

  std::int64_t available(const engine::sku_id& sku, const engine::location_id& location) const {
    auto it = states_.find(std::make_pair(sku.str(), location.str()));
    std::int64_t base = it == states_.end() ? 0 : it->second.qty.available;
    auto taken = taken_.find(std::make_pair(sku.str(), location.str()));
    return base - (taken == taken_.end() ? 0 : taken->second);
  }

  /// The first candidate that covers every event; when none does, the first candidate.
  engine::location_id choose(const std::vector<engine::event*>& events,
                             const std::vector<engine::location_id>& candidates) const {
    for (const auto& location : candidates) {
      bool covers = true;
      for (const engine::event* ev : events) {
        covers = covers && available(ev->sku, location) >= ev->qty;
      }
      if (covers) {
        return location;
      }
    }
    return candidates.front();  // the catalog always has a location
  }

  static void set_location(decoded_event& r, std::vector<engine::event*>& events,
                           const engine::location_id& location) {
    r.ev->location = location;
    r.placed_at = location.str();
    for (engine::event* ev : events) {
      ev->location = location;
    }
  }

  /// Orders placed earlier in the body take their stock, so a second order sees it gone.
  void note_placed(const std::vector<engine::event*>& events) {
    for (const engine::event* ev : events) {
      if (ev->type != engine::event_type::order_created) {
        continue;
      }
      taken_[std::make_pair(ev->sku.str(), ev->location.str())] += ev->qty;
      lines_.emplace(line_key{ev->sku.str(), ev->order_id, ev->line_id}, ev->location);
    }
  }

  std::optional<engine::location_id> line_location(const engine::event& ev) const {
    if (auto it = lines_.find(line_key{ev.sku.str(), ev.order_id, ev.line_id}); it != lines_.end()) {
      return it->second;
    }
    for (const auto& [key, state] : states_) {
      if (key.first == ev.sku.str() && engine::line_known(state, ev.order_id, ev.line_id)) {
        return state.key.location;
      }
    }
    // Closed long ago and pushed out of its state: the index still knows where.
    const std::uint64_t hash = engine::line_hash(ev.order_id, ev.line_id);
    if (auto it = indexed_.find({ev.sku.str(), hash}); it != indexed_.end()) {
      return it->second;
    }
    return std::nullopt;
  }

  static void reject(decoded_event& r, const engine::event& line) {
    r.error = {"location", "no location holds order line " + line.order_id + "/" + line.line_id +
                               " of " + line.sku.str() +
                               " yet: name the location, or send the order first"};
    r.ev.reset();
    r.components.clear();
  }

  const engine::catalog& catalog_;
  indexed_lines indexed_;
  std::map<std::pair<std::string, std::string>, engine::sku_location_state> states_;
  std::map<std::pair<std::string, std::string>, std::int64_t> taken_;
  std::map<line_key, engine::location_id> lines_;
};

/// The decision itself: `views` holds the states of every SKU the unplaced events name.
void place_with(std::vector<decoded_event>& decoded, const engine::catalog& catalog,
                std::vector<engine::sku_location_state> views, indexed_lines indexed) {
  placer p(catalog, std::move(views), std::move(indexed));
  for (auto& r : decoded) {
    if (r.ev) {
      p.place(r);
    }
  }
}

/// The second step: the later line events whose line no state holds any longer are looked up
/// in the index of forgotten closed lines (runtime::find_forgotten_line), then the body is
/// placed. Runs on a shard's thread, as `done` does.
void find_forgotten(std::shared_ptr<std::vector<decoded_event>> decoded,
                    const engine::catalog& catalog, actors::runtime& runtime,
                    std::vector<engine::sku_location_state> views, std::function<void()> done) {
  std::set<std::pair<std::string, std::uint64_t>> wanted;
  for (auto& r : *decoded) {
    if (!unplaced(r) || r.ev->type == engine::event_type::order_created) {
      continue;
    }
    for (const engine::event* ev : journaled(r)) {
      if (!held_by_views(views, *ev)) {
        wanted.emplace(ev->sku.str(), engine::line_hash(ev->order_id, ev->line_id));
      }
    }
  }
  if (wanted.empty()) {
    place_with(*decoded, catalog, std::move(views), {});
    done();
    return;
  }
  struct lookup {
    std::mutex mutex;
    std::vector<engine::sku_location_state> views;
    indexed_lines indexed;
    std::atomic<std::size_t> remaining{0};
  };
  auto l = std::make_shared<lookup>();
  l->views = std::move(views);
  l->remaining = wanted.size();
  for (const auto& [sku, hash] : wanted) {
    runtime.find_forgotten_line(
        engine::sku_id(sku), hash,
        [l, decoded, &catalog, done, sku, hash](std::vector<engine::location_id> locations) {
          if (!locations.empty()) {
            std::lock_guard lock(l->mutex);
            l->indexed.emplace(std::make_pair(sku, hash), locations.front());
          }
          if (l->remaining.fetch_sub(1) == 1) {
            place_with(*decoded, catalog, std::move(l->views), std::move(l->indexed));
            done();
          }
        });
  }
}

} // namespace

bool needs_placement(const std::vector<decoded_event>& decoded) {
  for (const auto& r : decoded) {
    if (unplaced(r)) {
      return true;
    }
  }
  return false;
}


void place_lines(std::shared_ptr<std::vector<decoded_event>> decoded,
                 const engine::catalog& catalog, actors::runtime& engine,
                 std::function<void()> done) {
  std::set<std::string> skus;
  for (auto& r : *decoded) {
    if (unplaced(r)) {
      for (const engine::event* ev : journaled(r)) {
        skus.insert(ev->sku.str());
      }
    }
  }
  struct gather {
    std::mutex mutex;
    std::vector<engine::sku_location_state> views;
    std::atomic<std::size_t> remaining{0};
  };
  auto g = std::make_shared<gather>();
  g->remaining = skus.size();
  for (const auto& sku : skus) {
    engine.query_sku(engine::sku_id(sku), [g, decoded, &catalog, &engine,
                                           done](actors::sku_view view) {
      {
        std::lock_guard lock(g->mutex);
        for (auto& state : view.locations) {
          g->views.push_back(std::move(state));
        }
      }
      if (g->remaining.fetch_sub(1) == 1) {
        find_forgotten(decoded, catalog, engine, std::move(g->views), done);
      }
    });
  }
}

} // namespace stockd::server
