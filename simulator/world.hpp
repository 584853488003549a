#pragma once
// The ground truth of a simulated run: what is physically on the shelves, per SKU × location, at
// every moment, and which units were sold that the shelves could not cover (oversold units).
//
// The model, per SKU:
//   on_hand[l]  units physically at location l (receipts add, shipments remove)
//   owed        units sold, covered by stock, not shipped yet (physically there, already promised)
//   sellable    Σ on_hand − owed: what a customer can still be given
// A sale is covered when sellable > 0 at the instant of the sale (then owed + 1); otherwise it is
// an oversold unit, counted against the channel that sold it. Coverage is judged across all
// locations: which location ships a line is stockd's choice (DESIGN §2 placement), and any unit
// not yet promised can cover a sale. For the same reason the run compares stockd's on-hand with
// the world's per SKU summed over locations, not per location.
//
// Orders go through the world's WMS (simulator/run.cpp): once stockd has acknowledged an order,
// and after the fulfilment delay, a covered order ships (order_fulfilled; its unit leaves the
// shelf) and an oversold one is cancelled (order_cancelled: the merchant refunds the customer).
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
// the system of record that decides who got the last unit.
//
// Thread-safe: one mutex owns everything. The buyers call sell() under their emulator's lock
// (simulator/buyer.hpp), so the lock order is emulator → world; nothing here calls out.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace stockd::simulator {

using world_clock = std::chrono::steady_clock;

struct sku_stock {
  std::string sku;
  std::vector<std::int64_t> on_hand;  // per location, in the catalog's location order
};

/// How the WMS settles an order line. An oversold line is always `cancelled` (the merchant
/// refunds the customer); a covered one ships, or (returns_wave) the customer cancels it or its
/// payment fails before it ships: then its unit was never moved and is sellable again.
enum class settlement : std::uint8_t { shipped, cancelled, payment_failed };

/// One order line the WMS has to settle.
struct order_line {
  std::string order_id;
  std::string channel;
  std::string sku;
  bool covered = true;
  settlement how = settlement::shipped;
  std::size_t location = 0;  // shipped: the shelf the units left (the first of them)
  std::int64_t qty = 1;      // base units
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
  world(std::vector<std::string> locations, std::vector<sku_stock> initial,
        std::size_t selling_locations = 0);
  world(const world&) = delete;
  world& operator=(const world&) = delete;

  const std::vector<std::string>& locations() const noexcept { return locations_; }
  const std::vector<std::string>& skus() const noexcept { return skus_; }
  std::int64_t initial_on_hand(std::size_t sku_index, std::size_t location) const;

  /// A channel sold one unit of `sku` as order `order_id`. True when physical stock covered it;
  /// false: an oversold unit. A SKU outside the catalog is a programmer error.
  bool sell(std::string_view channel, std::string_view sku, std::string_view order_id,
            std::int64_t qty = 1);
  /// A channel that reserves through stockd sold `qty` units stockd had granted a hold on. True
  /// when covered: by sellable stock, or else by taking over units promised to the most recent
  /// orders of channels that sell blind which stockd has not acknowledged yet (those become
  /// oversold units of their channels). False, an oversold unit of this channel, when neither
  /// can: stockd granted a hold on stock that was not there.
  bool reserved_sale(std::string_view channel, std::string_view sku, std::string_view order_id,
                     std::int64_t qty);
  /// stockd acknowledged the order's order_created at `at`: from now on the WMS may settle it.
  /// Ignored for unknown or already acknowledged orders (duplicate sends).
  void order_acknowledged(std::string_view order_id, world_clock::time_point at);
  /// Settles every acknowledged order acknowledged at or before `until` (at most `max`): a
  /// covered one leaves the shelf now (the first location holding a sellable unit) unless
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
  /// A shipped unit came back to `location`: sellable again, or damaged (on hand, not sellable).
  void returned(std::string_view sku, std::size_t location, bool damaged);
  /// A physical adjustment (found, shrink); on_hand at the location may not go below 0.
  void adjusted(std::string_view sku, std::size_t location, std::int64_t delta);
  /// Units leave `from` on a transfer (at most what is there) / arrive at `to`.
  void transfer_shipped(std::string_view sku, std::size_t from, std::int64_t qty);
  void transfer_received(std::string_view sku, std::size_t to, std::int64_t qty);
  /// Units physically at one location now (what a cycle count finds).
  std::int64_t on_hand_at(std::string_view sku, std::size_t location) const;
  std::size_t selling_locations() const noexcept { return selling_; }

  std::optional<sku_truth> truth(std::string_view sku) const;
  std::map<std::string, channel_sales> sales() const;
  std::uint64_t oversold_units() const;
  /// Blind channels' orders that became oversold because a reservation took their units over.
  std::uint64_t taken_over() const;

private:
  std::size_t index_of(std::string_view sku) const;
  struct sku_state {
    std::vector<std::int64_t> on_hand;
    std::int64_t owed = 0;
    std::int64_t incoming = 0;
    std::int64_t damaged = 0;  // summed over locations
    std::int64_t in_transit = 0;
  };
  struct order {
    std::size_t sku = 0;
    std::string channel;
    bool covered = true;
    bool acknowledged = false;
    std::int64_t qty = 1;
    bool reserved = false;      // sold through a stockd reservation
    std::uint64_t number = 0;   // sale order, to take over the most recent first
  };
  std::int64_t sellable_locked(const sku_state& s) const;
  bool record_sale(std::string_view channel, std::size_t sku, std::string_view order_id,
                   std::int64_t qty, bool covered, bool reserved);

  std::vector<std::string> locations_;
  std::size_t selling_ = 0;
  std::uint64_t sale_number_ = 0;
  std::vector<std::string> skus_;
  std::vector<std::vector<std::int64_t>> initial_;
  std::unordered_map<std::string, std::size_t> index_;
  mutable std::mutex mu_;
  std::vector<sku_state> state_;
  std::unordered_map<std::string, order> orders_;  // open (unsettled) orders
  std::deque<std::pair<world_clock::time_point, std::string>> acknowledged_;  // in ack order
  std::map<std::string, channel_sales> sales_;
  std::uint64_t oversold_total_ = 0;
  std::uint64_t taken_over_ = 0;
};

} // namespace stockd::simulator
