#pragma once
// The ground truth of a simulated run: what is physically on the shelves, per SKU × location, at
// every moment, and which units were sold that the shelves could not cover (oversold units).
//
// The model, per SKU:
//   on_hand[l]  units physically at location l (receipts add, shipments remove)
//   damaged[l]  of them, returned damaged: on the shelf, never sellable
//   owed[l]     units promised to covered lines stockd placed at l, not shipped yet
//   unplaced    units promised to covered lines stockd has not placed yet (or whose placement
//               the WMS has not learnt yet): a promise on the SKU, not on a shelf
//   free(l)     on_hand[l] − damaged[l] − owed[l], at a selling location
//   sellable    Σ free(l) − unplaced: what a customer can still be given
//
// Where a sale is judged, and why (two steps):
//   1. At the sale, across all selling locations: covered when sellable ≥ qty (then unplaced +=
//      qty), else an oversold unit of the channel that sold it. A storefront sells before anyone
//      knows which warehouse ships the line (DESIGN §2): at that instant the question is whether
//      any shelf still had an unpromised unit, and nothing more precise exists yet.
//   2. At placement (stockd's answer says where, docs/semantics.md "The answer says where"): the
//      promise moves to that location. When it has a free unit the line is owed there and ships
//      from there. When it has none, even though another location does, the line is oversold at
//      the placed location, as stockd records it (available below zero there): the merchant
//      cancels it, and it becomes an oversold unit of its channel (counted apart as `misplaced`).
//      The WMS does not reroute: stockd has no event that moves a line, so a reroute would be a
//      cancel at one location and a new order at another, which the real merchant does by hand
//      if at all; shipping from elsewhere while stockd holds the line at the placed location
//      would leave stockd one location below zero and a phantom unit at the other, which is
//      exactly the simulator-made mismatch this model removes.
// So every unit leaves the shelf stockd took it from, and the run compares stockd's on-hand
// with the world's per SKU × location (not only summed): exact, whatever the placement races.
// Which of two racing lines at one location is judged oversold follows the order in which the
// world learns the answers (near stockd's order, not always the same); the totals per location,
// and so convergence, do not depend on it.
//
// Orders go through the world's WMS (simulator/run.cpp): once stockd has acknowledged an order
// and the WMS knows where it was placed, and after the fulfilment delay, a covered order ships
// from the placed location (order_fulfilled; its unit leaves that shelf) and an oversold one is
// cancelled (order_cancelled: the merchant refunds the customer). The WMS learns the placement
// from the accepted answer; when it saw only `duplicate` answers (the first answer was lost) it
// asks stockd (GET /v1/trace/{source}/{id}) and never guesses. With one selling location there
// is nothing to learn.
//
// Locations that no channel sells from (a distribution centre, `DC`): the world is built with
// the number of selling locations, the first ones in its list; stock elsewhere is on hand but not
// sellable (stockd's pool counts only a channel's eligible locations, DESIGN §3) until the WMS
// transfers it to a selling location (transfer_shipped, then transfer_received: in transit in
// between, on hand nowhere).
//
// Orders carry a quantity in base units (a POS sells packs). A channel that reserves through
// stockd (reserved_sale) sells only after stockd granted the hold; when the world's sellable
// stock cannot cover it because a channel that sells blind took the units with an order stockd
// has not acknowledged yet, that order is the oversold one (stockd will find available below zero
// when it comes and the merchant cancels it), and the reservation is covered: stockd's ledger is
// the system of record that decides who got the last unit. A hold is placed when stockd grants
// it (POST /v1/reservations answers its location): the sale is owed there at once and needs a
// free unit there; the commit opens the line at the same location.
//
// Kits (DESIGN §2-§3, docs/semantics.md "Kit expansion"): a kit is a product whose stock is its
// components'. Every SKU of the catalog is a product of one part (itself × 1); a kit is a
// product of its components × their quantities, and every step above goes over a product's
// parts: a kit sale is covered only when every component's sellable stock has the units for
// it (then all of them are promised), else it is one oversold unit per kit of its channel; at
// placement every component must have its free units at the one location stockd placed the
// line at (stockd places a kit line's components together), else the line is oversold there;
// it ships, is cancelled or comes back as a whole, every component to or from that shelf. The
// physical state (receipts, counts, transfers) stays per SKU: a kit has no shelf of its own.
//
// Thread-safe: one mutex owns everything. The buyers call sell() under their emulator's lock
// (simulator/buyer.hpp), so the lock order is emulator → world; nothing here calls out.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace stockd::simulator {

using world_clock = std::chrono::steady_clock;

struct sku_stock {
  std::string sku;
  std::vector<std::int64_t> on_hand;  // per location, in the catalog's location order
};

/// A kit: its SKU and its components (catalog SKUs, each once) with their units per kit.
struct kit_definition {
  std::string sku;
  std::vector<std::pair<std::string, std::int64_t>> components;
};

/// How the WMS settles an order line. An oversold line is always `cancelled` (the merchant
/// refunds the customer); a covered one ships, or (returns_wave) the customer cancels it or its
/// payment fails before it ships: then its unit was never moved and is sellable again.
enum class settlement : std::uint8_t { shipped, cancelled, payment_failed };

/// One order line the WMS has to settle.
struct order_line {
  std::string order_id;
  std::string channel;
  std::string sku;  // a catalog SKU or a kit
  bool covered = true;
  settlement how = settlement::shipped;
  std::size_t location = 0;  // where stockd placed the line: the shelf it ships from
  std::int64_t qty = 1;      // base units (kits for a kit)
};

/// An acknowledged order whose placement the WMS has not learnt.
struct unplaced_order {
  std::string order_id;
  std::string channel;
  std::string sku;  // a catalog SKU or a kit
};

struct channel_sales {
  std::uint64_t units_sold = 0;
  std::uint64_t oversold_units = 0;
};

/// A SKU's truth at one instant.
struct sku_truth {
  std::int64_t on_hand = 0;  // summed over locations, damaged units included (DESIGN §1)
  std::int64_t owed = 0;
  std::int64_t incoming = 0;
  std::int64_t damaged = 0;  // returned damaged: on the shelf, never sellable
  std::int64_t not_for_sale = 0;  // on hand at locations no channel sells from
  std::int64_t in_transit = 0;    // transferred out, not received yet (not on hand)
  std::int64_t sellable() const { return on_hand - not_for_sale - owed - damaged; }
};

class world {
public:
  /// `selling_locations`: how many of `locations` (the first ones) channels sell from; 0: all.
  /// `kits`: products made of catalog SKUs (a component outside the catalog, a kit named like
  /// a SKU, or a component twice in a kit is an invalid_argument).
  world(std::vector<std::string> locations, std::vector<sku_stock> initial,
        std::size_t selling_locations = 0, std::vector<kit_definition> kits = {});
  world(const world&) = delete;
  world& operator=(const world&) = delete;

  const std::vector<std::string>& locations() const noexcept { return locations_; }
  /// The catalog's SKUs (what is on shelves), without the kits.
  const std::vector<std::string>& skus() const noexcept { return skus_; }
  const std::vector<kit_definition>& kits() const noexcept { return kits_; }
  /// The kits a customer could be given now: min over components of ⌊sellable / qty⌋.
  std::int64_t kit_sellable(std::string_view kit) const;
  std::int64_t initial_on_hand(std::size_t sku_index, std::size_t location) const;

  /// A channel sold `qty` of `sku` (a catalog SKU or a kit) as order `order_id`. True when
  /// physical stock covered it (for a kit: every component); false: oversold units. A SKU
  /// outside the catalog and the kits is a programmer error.
  bool sell(std::string_view channel, std::string_view sku, std::string_view order_id,
            std::int64_t qty = 1);
  /// A channel that reserves through stockd sold `qty` units stockd had granted a hold on. True
  /// when covered: by sellable stock, or else by taking over units promised to the most recent
  /// orders of channels that sell blind which stockd has not acknowledged yet (those become
  /// oversold units of their channels). False, an oversold unit of this channel, when neither
  /// can: stockd granted a hold on stock that was not there.
  /// `location`: where stockd placed the hold (the sale needs a free unit there). A catalog
  /// SKU only (the till sells no kits); a blind kit order holding units of it may be taken over.
  bool reserved_sale(std::string_view channel, std::string_view sku, std::string_view order_id,
                     std::int64_t qty, std::size_t location = 0);
  /// stockd acknowledged the order's order_created at `at`, placing it at `location` (its
  /// answer's `location`; nothing for a `duplicate` answer). From then on, once its placement
  /// is known, the WMS may settle it. The first placement stays; a later acknowledgement only
  /// adds a placement still missing. With one selling location, no location means that one.
  /// Ignored for unknown orders (settled already).
  void order_acknowledged(std::string_view order_id, world_clock::time_point at,
                          std::optional<std::size_t> location = std::nullopt);
  /// Acknowledged orders whose placement the WMS has not learnt (only `duplicate` answers
  /// seen): order id and channel, for the WMS to look up (GET /v1/trace/{channel}/{event id}).
  /// At most `max` of them, without looking at the other open orders.
  std::vector<unplaced_order> unplaced_acknowledged(std::size_t max) const;
  /// Settles every placed order acknowledged at or before `until` (at most `max`): a
  /// covered one leaves the placed location's shelf now unless
  /// `decide` says the customer cancelled or the payment failed (then its promise is released);
  /// an oversold one is cancelled. The WMS sends the matching events. `decide` runs under the
  /// world's lock and must not call back into the world.
  using settle_decision = std::function<settlement(const order_line&)>;
  std::vector<order_line> settle_due(world_clock::time_point until, std::size_t max,
                                     const settle_decision& decide = {});
  /// Orders sold and not settled yet (acknowledged or not).
  std::size_t open_orders() const;

  void purchase_ordered(std::string_view sku, std::int64_t qty);
  void received(std::string_view sku, std::size_t location, std::int64_t qty, bool from_po);
  /// `qty` units of a shipped line back on the shelf at `location` (damaged: never sellable);
  /// for a kit, every component of `qty` kits.
  void returned(std::string_view sku, std::size_t location, bool damaged, std::int64_t qty = 1);
  /// A physical adjustment (found, shrink); on_hand at the location may not go below 0.
  void adjusted(std::string_view sku, std::size_t location, std::int64_t delta);
  /// Units leave `from` on a transfer (at most what is there) / arrive at `to`.
  void transfer_shipped(std::string_view sku, std::size_t from, std::int64_t qty);
  void transfer_received(std::string_view sku, std::size_t to, std::int64_t qty);
  /// Units physically at one location now (what a cycle count finds).
  std::int64_t on_hand_at(std::string_view sku, std::size_t location) const;
  /// Units at a selling location neither damaged nor owed to a placed line (what a transfer
  /// may take from it, or a placed line still finds).
  std::int64_t free_at(std::string_view sku, std::size_t location) const;
  std::size_t selling_locations() const noexcept { return selling_; }
  /// A selling location's index by its name (stockd's answers name it); nothing for another.
  std::optional<std::size_t> selling_index(std::string_view name) const {
    for (std::size_t l = 0; l < selling_; ++l) {
      if (locations_[l] == name) {
        return l;
      }
    }
    return std::nullopt;
  }

  /// Nothing for a SKU outside the catalog, or a kit.
  std::optional<sku_truth> truth(std::string_view sku) const;
  std::map<std::string, channel_sales> sales() const;
  std::uint64_t oversold_units() const;
  /// Blind channels' orders that became oversold because a reservation took their units over.
  std::uint64_t taken_over() const;
  /// Covered sales oversold at placement: stockd placed them where no free unit was.
  std::uint64_t misplaced() const;
  /// Per kit SKU: kits sold and oversold (also in sales(), under their channels).
  std::map<std::string, channel_sales> kit_sales() const;

private:
  /// A catalog SKU's index (asserts it is not a kit).
  std::size_t index_of(std::string_view sku) const;
  std::size_t product_of(std::string_view sku) const;
  /// What an order takes: catalog SKU indices and units per product unit.
  struct part {
    std::size_t sku = 0;
    std::int64_t qty = 1;
  };
  struct product {
    std::string name;
    std::vector<part> parts;
    bool kit = false;
  };
  struct sku_state {
    std::vector<std::int64_t> on_hand;
    std::vector<std::int64_t> damaged;
    std::vector<std::int64_t> owed;
    std::int64_t unplaced = 0;
    std::int64_t incoming = 0;
    std::int64_t in_transit = 0;
  };
  struct order {
    std::size_t product = 0;  // index into products_
    std::string channel;
    bool covered = true;
    bool acknowledged = false;
    std::optional<std::size_t> location;  // where stockd placed it, once known
    world_clock::time_point acknowledged_at{};
    std::int64_t qty = 1;
    bool reserved = false;      // sold through a stockd reservation
    std::uint64_t number = 0;   // sale order, to take over the most recent first
  };
  std::int64_t sellable_locked(const sku_state& s) const;
  std::int64_t free_locked(const sku_state& s, std::size_t location) const;
  bool covers_locked(const product& p, std::int64_t qty) const;
  /// Units of catalog SKU `sku` an order holds (0 when its product has none).
  std::int64_t units_of_locked(const order& o, std::size_t sku) const;
  bool record_sale(std::string_view channel, std::size_t product, std::string_view order_id,
                   std::int64_t qty, bool covered, bool reserved,
                   std::optional<std::size_t> location);
  void oversell_locked(order& o);
  void place_locked(order& o, std::size_t location);

  std::vector<std::string> locations_;
  std::size_t selling_ = 0;
  std::uint64_t sale_number_ = 0;
  std::vector<std::string> skus_;
  std::vector<std::vector<std::int64_t>> initial_;
  std::vector<kit_definition> kits_;
  std::vector<product> products_;  // the catalog's SKUs in order, then the kits
  std::unordered_map<std::string, std::size_t> index_;  // product name → index
  mutable std::mutex mu_;
  std::vector<sku_state> state_;
  std::unordered_map<std::string, order> orders_;  // open (unsettled) orders
  std::set<std::string> awaiting_placement_;        // acknowledged, placement not known yet
  std::deque<std::pair<world_clock::time_point, std::string>> acknowledged_;  // in ack order
  std::map<std::string, channel_sales> sales_;
  std::map<std::string, channel_sales> kit_sales_;
  std::uint64_t oversold_total_ = 0;
  std::uint64_t taken_over_ = 0;
  std::uint64_t misplaced_ = 0;
};

} // namespace stockd::simulator
