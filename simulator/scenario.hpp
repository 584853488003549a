#pragma once
// Scenarios of `stocksim run`: the catalog, the demand on each channel, the delivery of orders to
// stockd (delay, jitter that reorders, duplicates), the WMS's pace, and the channel faults.
//
//   steady      Zipf demand (s = 1.1) over the whole catalog on every channel; the WMS
//               replenishes a SKU with a purchase order when its sellable stock runs low.
//   flash_sale  a few hot SKUs with little stock take most of the demand, about 100× their stock
//               over the run; nothing is replenished during the sale.
//   chaos       steady, with many duplicates, long jitter (heavy reordering) and channel faults
//               (429, 5xx, resets, hangs) while traffic runs; the faults stop with the traffic.
//   returns_wave  steady, with a wave of returns: a part of the shipped orders come back after
//               a delay, restocked or damaged (return_received with a disposition); some
//               orders are cancelled by the customer or fail payment before they ship.
//   channel_outage  steady, and one channel's API fails (5xx and hung requests) for a window in
//               the middle of the run, then recovers: it shows stale stock meanwhile and must
//               converge afterwards.
//   large_catalog  1,000,000 SKUs × 4 locations seeded by snapshots, Zipf demand over all of
//               it; start-up, memory and seeding figures (simulator/large_catalog.hpp).
//
// The world around the emulated channels (steady and chaos have all of it, flash_sale the POS
// reserving singles; see simulator/README.md):
//   pos         a store till, channel `pos` in stockd with connector "none" (nothing to push to):
//               each customer first reserves through stockd (POST /v1/reservations, base units),
//               buys only on a 201 and the sale reaches stockd by committing the reservation; a
//               share abandon and the hold is released. It sells packs (`pack6` = 6 units) and
//               reports what it hands over in its own words: its SKU ids, mapped to stockd's by
//               the config's [[mappings]] (source "pos"), and the pack unit ([[skus]] units).
//   counts      the WMS counts one SKU at one location (any, the DC too) now and then (`counted`
//               with `as_of`); some counts are sent late, after movements that followed their
//               as_of.
//   DC          a location no channel sells from, holding stock; the WMS transfers from it to
//               a selling location that runs low (transfer_shipped, then transfer_received
//               after a delay), or, once the DC has none, rebalances it from the selling
//               location with the most free units.
//   2 selling locations (steady, chaos): shopify and webhook prefer L1, amazon and the POS L2.
//   kits        (steady, chaos: 2) kit SKUs <prefix>KIT-<k> of 2-3 catalog SKUs, 1-2 of each,
//               in stockd's config ([[skus]] components) and on every emulated channel; a share
//               of the channels' customers want a kit and buy it like any SKU (stockd expands
//               the order; the world judges it on its components, world.hpp). The till sells
//               no kits.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "simulator/world.hpp"

namespace stockd::simulator {

/// The channels of a run, in this order everywhere (ids are also the stockd channel ids and the
/// orders' source).
inline const std::vector<std::string>& channel_ids() {
  static const std::vector<std::string> ids = {"shopify", "amazon", "webhook"};
  return ids;
}

/// The channel (and source) of the store till that reserves through stockd; not emulated.
inline constexpr const char* pos_channel_id = "pos";
/// The location no channel sells from (scenario::dc_stock > 0).
inline constexpr const char* dc_location_id = "DC";

struct scenario {
  std::string name = "steady";
  std::uint64_t seed = 1;
  std::chrono::milliseconds duration{20'000};
  /// SKU i is named <prefix><i, 5 digits>. A fresh prefix per run against a long-lived stockd
  /// keeps runs apart (stockd remembers every SKU it saw).
  std::string sku_prefix = "SIM-";
  std::size_t skus = 50;
  /// Selling locations (L1..LM; steady and chaos: 2). Each channel's priority order starts at
  /// another one (stockd_config); the WMS ships every line from where stockd placed it and
  /// the run compares stock per SKU × location (world.hpp).
  std::size_t locations = 1;
  std::int64_t stock_per_location = 40;  // every SKU at every location at the start
  // flash_sale
  std::size_t hot_skus = 0;
  std::int64_t hot_stock_per_location = 0;
  double hot_share = 0;  // the part of the demand that goes to the hot SKUs
  double zipf_s = 1.1;
  /// Purchase attempts per second on each channel (a customer who finds 0 buys nothing).
  std::vector<double> buys_per_second = {20, 10, 10};
  // Orders on their way to stockd.
  std::chrono::milliseconds order_delay{50};
  std::chrono::milliseconds order_jitter{100};
  double order_duplicate_probability = 0.02;
  // The WMS.
  std::chrono::milliseconds fulfil_delay{500};
  bool replenish = true;
  std::int64_t reorder_point = 5;     // sellable at or below: a purchase order
  std::int64_t reorder_qty = 20;
  std::chrono::milliseconds po_lead_time{2'000};
  /// Propagation probe: a SKU no customer buys (<prefix>PROBE, probe_stock units at the first
  /// location), adjusted by -1 every probe_period while traffic runs; after stockd acknowledges
  /// each adjustment the run times how long each channel takes to show the new quantity (which
  /// no sale can blur). Decreases only: the urgent lane. 0: no probe.
  std::chrono::milliseconds probe_period{500};
  /// Channel faults while traffic runs (simulator/faults.hpp spec), the same on every channel.
  std::string channel_faults;
  // returns_wave: what happens to a covered order when the WMS settles it, and afterwards.
  double cancel_probability = 0;          // the customer cancels before it ships
  double payment_failed_probability = 0;  // the payment fails before it ships
  double return_probability = 0;          // a shipped order comes back
  double damaged_share = 0;               // of the returns: damaged (the rest restocked)
  std::chrono::milliseconds return_delay{1'000};  // shipment → return, plus up to as much again
  // channel_outage: channel `outage_channel` (an index into channel_ids(), or none) answers with
  // `outage_faults` from outage_from to outage_until (shares of the traffic duration), then
  // recovers.
  std::optional<std::size_t> outage_channel;
  double outage_from = 0.25;
  double outage_until = 0.65;
  std::string outage_faults = "5xx=0.8,hang-before=0.2,hang-ms=1500";
  // The POS (channel `pos`): customers per second (0: no POS), who reserve through stockd and
  // buy one pack of `pos_pack` units on a grant, or abandon the hold.
  double pos_buys_per_second = 0;
  std::int64_t pos_pack = 6;
  double pos_abandon_probability = 0.1;
  // Cycle counts: every count_period (0: none) the WMS counts one SKU at one location; a
  // count_late_share of them is sent count_late_delay .. 2× later, as of when it was taken.
  std::chrono::milliseconds count_period{0};
  double count_late_share = 0.3;
  std::chrono::milliseconds count_late_delay{300};
  // The DC: every SKU's stock there (0: no DC). While traffic runs, every transfer_period the
  // WMS ships transfer_qty (at most what the DC holds) to a SKU's low selling location: with
  // one, when the SKU's sellable stock is at or below transfer_point; with several, the one
  // with the fewest free units when they are at or below transfer_point / 2, from the DC or,
  // when the DC has none, from the selling location with the most (simulator/run.cpp
  // transfer). It arrives after transfer_lead_time.
  std::int64_t dc_stock = 0;
  std::chrono::milliseconds transfer_period{500};
  std::int64_t transfer_point = 10;
  std::int64_t transfer_qty = 12;
  std::chrono::milliseconds transfer_lead_time{1'000};
  // Kits: how many (0: none), drawn from the catalog by the seed (kit_definitions), and the
  // share of the emulated channels' customers who want one (uniformly among the kits).
  std::size_t kits = 0;
  double kit_share = 0.1;
};

/// Every preset's name, for help texts and errors.
const std::vector<std::string>& scenario_names();

/// The preset of that name (steady, flash_sale, chaos), or nothing.
std::optional<scenario> scenario_preset(const std::string& name);
/// A problem with the parameters, or nothing.
std::optional<std::string> validate(const scenario& s);

std::string sku_name(const scenario& s, std::size_t index);
std::string location_name(std::size_t index);
std::string probe_sku(const scenario& s);
/// The outage window, from the start of traffic (zero when there is no outage).
std::chrono::milliseconds outage_begin(const scenario& s);
std::chrono::milliseconds outage_end(const scenario& s);
inline constexpr std::int64_t probe_stock = 1'000'000;  // never runs out
/// The initial catalog: SKU i (hot ones first) with its stock at every location, then the probe
/// SKU when there is one (never chosen by customers).
std::vector<sku_stock> initial_stock(const scenario& s);
/// The selling locations L1..LM, then the DC when there is one.
std::vector<std::string> location_names(const scenario& s);
/// Kit k's SKU: <prefix>KIT-<k>.
std::string kit_name(const scenario& s, std::size_t k);
/// The kits of the run: kit k has 2 or 3 distinct catalog SKUs (drawn by the seed; hot SKUs
/// included), 1 or 2 units of each.
std::vector<kit_definition> kit_definitions(const scenario& s);
/// The POS's own id for a SKU (stockd maps it back through [[mappings]] source "pos").
std::string pos_sku_name(const std::string& sku);
/// The POS's pack unit as the config names it ("pack6"; "each" for packs of 1).
std::string pos_unit(const scenario& s);

/// Draws the SKU a customer wants: the hot SKUs with probability hot_share (uniformly), else a
/// Zipf rank over the other SKUs. Immutable after construction, so one can be shared by threads
/// that each bring their own generator.
/// Zipf ranks: rank r in [0, n) with probability proportional to 1 / (r + 1)^s. Immutable
/// after construction (shared by threads that bring their own generator). n >= 1.
class zipf_ranks {
public:
  zipf_ranks(std::size_t n, double s);
  std::size_t operator()(std::mt19937_64& rng) const;

private:
  std::vector<double> cdf_;
};

/// With `with_kits` (the emulated channels), a share kit_share of the customers want a kit
/// (uniformly among them); the till's customers want catalog SKUs only.
class sku_chooser {
public:
  explicit sku_chooser(const scenario& s, bool with_kits = true);
  std::string operator()(std::mt19937_64& rng) const;

private:
  std::string prefix_;
  std::vector<std::string> kits_;
  double kit_share_ = 0;
  std::size_t hot_ = 0;
  double hot_share_ = 0;
  std::optional<zipf_ranks> cold_;  // over SKUs hot_ .. skus-1
};

} // namespace stockd::simulator
