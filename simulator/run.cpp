#include "simulator/run.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <ctime>
#include <map>
#include <mutex>
#include <iterator>
#include <limits>
#include <random>
#include <thread>

#include <simdjson.h>

#include "simulator/buyer.hpp"
#include "simulator/http_client.hpp"
#include "simulator/pos.hpp"
#include "simulator/stockd_api.hpp"

namespace stockd::simulator {
namespace {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

constexpr milliseconds wms_tick{20};
constexpr milliseconds sample_period{50};
constexpr std::size_t sampled_skus_max = 200;
constexpr milliseconds convergence_poll{500};
constexpr milliseconds probe_poll{2};

std::string utc_now_iso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

answer to_answer(delivery_outcome o) {
  switch (o) {
    case delivery_outcome::accepted: return answer::accepted;
    case delivery_outcome::duplicate: return answer::duplicate;
    case delivery_outcome::rejected: return answer::rejected;
    case delivery_outcome::retrying: return answer::retrying;
    case delivery_outcome::failed: return answer::failed;
  }
  return answer::failed;
}

/// `qty_field`: "qty", or "counted" for a count (whose `qty` is not used). `source` other than
/// the WMS: an event the POS reports in its own words (its SKU ids, its unit).
wms_event make_event(std::string_view type, std::string id, std::string_view sku,
                     std::string_view location, std::int64_t qty,
                     std::vector<std::pair<std::string_view, std::string>> extra,
                     std::string_view source = wms_source, std::string_view qty_field = "qty",
                     std::string_view occurred_at = {}) {
  connectors::json_writer out;
  out.begin_object().field("id", id).field("source", source).field("type", type);
  out.field("sku", sku);
  if (!location.empty()) {
    out.field("location", location);
  }
  out.field(qty_field, qty).field("occurred_at",
                                  occurred_at.empty() ? utc_now_iso() : std::string(occurred_at));
  for (const auto& [k, v] : extra) {
    out.field(k, v);
  }
  out.end_object();
  return {std::move(id), out.take(), std::string(type), std::string(source)};
}

/// A purchase order on its way: received at `due`.
struct open_po {
  steady::time_point due;
  std::size_t sku;
  std::size_t location;
  std::int64_t qty;
  std::string po_id;
};

/// Staleness per channel over the sampled SKUs (the whole run, and inside the outage window).
struct staleness {
  double over_s = 0;
  double wrong_s = 0;
  double outage_over_s = 0;
  double outage_wrong_s = 0;
};

/// A shipped order coming back (returns_wave) at `due`: a parcel the WMS receives, or a pack
/// brought back to the store's till (which reports it in its own words, as it sold it).
struct open_return {
  steady::time_point due;
  std::string sku;  // a catalog SKU or a kit (every component comes back)
  std::size_t location;
  std::string order_id;
  std::int64_t qty;  // base units
  bool damaged;
  bool at_till;
};

/// A transfer on its way (DC → a selling location, or between selling locations): received
/// at `to` at `due`.
struct open_transfer {
  steady::time_point due;
  std::size_t sku;
  std::size_t to;
  std::int64_t qty;
  std::string transfer_id;
};

/// A cycle count taken and not sent yet (a late one): what the shelf held as of `as_of`.
struct open_count {
  steady::time_point due;
  std::size_t sku;
  std::size_t location;
  std::int64_t counted;
  std::string as_of;
  std::string id;
  bool late;
};

constexpr milliseconds timeline_period{250};
constexpr std::size_t timeline_tracks_max = 4;


std::uint64_t stat_u64(simdjson::dom::element root, std::string_view key) {
  std::uint64_t v = 0;
  return root[key].get_uint64().get(v) == simdjson::SUCCESS ? v : 0;
}

/// Everything a run owns while traffic flows; the threads borrow it.
struct session {
  const run_options& opts;
  const scenario& scn;
  channel_set& channels;
  world truth;
  event_ledger ledger;
  std::string host;
  std::uint16_t port = 0;

  std::mutex mu;
  std::condition_variable cv;
  bool traffic_ = true;  // false: no new purchase orders
  bool stop_wms = false;
  bool stop_sampler = false;
  // Staleness counts over traffic and drain only; after that the sampler goes on for the
  // timeline (convergence), counting nothing.
  std::atomic<bool> staleness_counted{true};
  bool stop_probe = false;
  std::vector<latency_recorder> propagation = std::vector<latency_recorder>(channel_ids().size());
  std::vector<std::uint64_t> propagation_timeouts = std::vector<std::uint64_t>(channel_ids().size());
  std::vector<open_po> pos;  // under mu (the WMS thread only, and the drain check)
  std::vector<open_return> returns;  // under mu, like pos
  std::vector<open_transfer> transfers;  // under mu, like pos
  std::vector<open_count> late_counts;   // under mu, like pos
  world_counts counts;               // under mu
  std::vector<staleness> stale = std::vector<staleness>(channel_ids().size());
  std::size_t sampled = 0;
  steady::time_point traffic_start = steady::now();  // set before the threads start
  // The sampler's latest count of sampled SKUs each channel shows wrong (for the timeline).
  std::vector<std::atomic<std::uint32_t>> wrong_now =
      std::vector<std::atomic<std::uint32_t>>(channel_ids().size());
  // The probe's oldest acknowledged adjustment a channel does not show yet (progress: lag).
  std::vector<std::optional<steady::time_point>> oldest_unshown =
      std::vector<std::optional<steady::time_point>>(channel_ids().size());  // under mu
  bool stop_recorder = false;
  timeline series;
  std::optional<std::uint64_t> rss_last;
  std::optional<std::uint64_t> rss_peak;

  session(const run_options& o, channel_set& c)
      : opts(o), scn(o.scn), channels(c),
        truth(location_names(o.scn), initial_stock(o.scn), o.scn.locations,
              kit_definitions(o.scn)) {}

  std::optional<std::size_t> selling_index(std::string_view name) const {
    return truth.selling_index(name);
  }

  void learn_placements(http_client& client, simdjson::dom::parser& parser) {
    const std::size_t learnt =
        simulator::learn_placements(truth, client, parser, opts.token);
    std::lock_guard lock(mu);
    counts.placements_traced += learnt;
  }

  // ---- the WMS ----
  void wms_loop() {
    wms_sender sender(host, port, opts.token, ledger);
    http_client tracer(host, port);
    simdjson::dom::parser trace_parser;
    std::uint64_t po_number = 0;
    std::uint64_t transfer_number = 0;
    std::uint64_t count_number = 0;
    auto next_replenish = steady::now();
    auto next_transfer = steady::now();
    auto next_count = steady::now() + scn.count_period;
    std::mt19937_64 rng(scn.seed * 7'919 + 17);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    // returns_wave: the customer cancels, or the payment fails, before the line ships.
    const world::settle_decision decide = [&](const order_line&) {
      const double u = uniform(rng);
      if (u < scn.cancel_probability) {
        return settlement::cancelled;
      }
      if (u < scn.cancel_probability + scn.payment_failed_probability) {
        return settlement::payment_failed;
      }
      return settlement::shipped;
    };
    for (;;) {
      {
        std::unique_lock lock(mu);
        if (cv.wait_for(lock, wms_tick, [this] { return stop_wms; })) {
          return;
        }
      }
      const auto now = steady::now();
      std::vector<wms_event> events;
      bool returning = false;
      bool counting = false;
      {
        std::lock_guard lock(mu);
        returning = traffic_ && scn.return_probability > 0;
        counting = traffic_ && scn.count_period.count() > 0;
      }
      learn_placements(tracer, trace_parser);
      for (const order_line& line :
           truth.settle_due(now - scn.fulfil_delay, wms_batch_max, decide)) {
        const char* type = "order_fulfilled";
        {
          std::lock_guard lock(mu);
          if (!line.covered) {
            type = "order_cancelled";
            ++counts.cancelled_oversold;
          } else if (line.how == settlement::cancelled) {
            type = "order_cancelled";
            ++counts.cancelled_by_customer;
          } else if (line.how == settlement::payment_failed) {
            type = "payment_failed";
            ++counts.payment_failed;
          } else {
            ++counts.shipped;
          }
        }
        const bool at_till = line.channel == pos_channel_id;
        if (at_till) {
          // The till hands the pack over and reports it in its own words: its SKU id and its
          // unit (stockd maps and multiplies them back, docs/semantics.md).
          events.push_back(make_event(type, line.order_id + ":settle", pos_sku_name(line.sku), {},
                                      line.qty / scn.pos_pack,
                                      {{"order_id", line.order_id}, {"line_id", "1"},
                                       {"unit", pos_unit(scn)}},
                                      pos_channel_id));
        } else {
          events.push_back(make_event(type, line.order_id + ":settle", line.sku, {}, line.qty,
                                      {{"order_id", line.order_id}, {"line_id", "1"}}));
        }
        // Returns are drawn only while traffic runs, so the drain has a bounded tail.
        if (returning && line.covered && line.how == settlement::shipped &&
            uniform(rng) < scn.return_probability) {
          const auto wait = scn.return_delay + milliseconds(static_cast<std::int64_t>(
                                                   uniform(rng) * static_cast<double>(
                                                                      scn.return_delay.count())));
          const bool damaged = uniform(rng) < scn.damaged_share;
          std::lock_guard lock(mu);
          // A web order comes back one unit (or kit) at a time; the till takes back the whole
          // pack.
          returns.push_back({now + wait, line.sku, line.location, line.order_id,
                             at_till ? line.qty : 1, damaged, at_till});
        }
      }
      bool replenishing = false;
      {
        std::lock_guard lock(mu);
        replenishing = traffic_ && scn.replenish;
        // Returns whose delay has passed: the parcel is back, restocked or put aside damaged.
        auto back = std::stable_partition(returns.begin(), returns.end(),
                                          [now](const open_return& r) { return r.due > now; });
        for (auto it = back; it != returns.end(); ++it) {
          const std::string& sku = it->sku;
          truth.returned(sku, it->location, it->damaged, it->qty);
          ++(it->damaged ? counts.returned_damaged : counts.returned_restocked);
          const char* disposition = it->damaged ? "damaged" : "restock";
          if (it->at_till) {
            ++counts.returned_at_till;
            events.push_back(make_event("return_received", it->order_id + ":return",
                                        pos_sku_name(sku), {}, it->qty / scn.pos_pack,
                                        {{"order_id", it->order_id},
                                         {"line_id", "1"},
                                         {"disposition", disposition},
                                         {"unit", pos_unit(scn)}},
                                        pos_channel_id));
          } else {
            events.push_back(make_event("return_received", it->order_id + ":return", sku, {},
                                        it->qty,
                                        {{"order_id", it->order_id},
                                         {"line_id", "1"},
                                         {"disposition", disposition}}));
          }
        }
        returns.erase(back, returns.end());
        // Receipts whose lead time has passed: the goods are on the shelf now.
        auto due = std::stable_partition(pos.begin(), pos.end(),
                                         [now](const open_po& p) { return p.due > now; });
        for (auto it = due; it != pos.end(); ++it) {
          const std::string& sku = truth.skus()[it->sku];
          truth.received(sku, it->location, it->qty, true);
          events.push_back(make_event("received", it->po_id + ":received", sku,
                                      truth.locations()[it->location], it->qty,
                                      {{"po_id", it->po_id}}));
        }
        pos.erase(due, pos.end());
        // Transfers whose lead time has passed: received at their destination.
        auto arrived = std::stable_partition(transfers.begin(), transfers.end(),
                                             [now](const open_transfer& t) { return t.due > now; });
        for (auto it = arrived; it != transfers.end(); ++it) {
          const std::string& sku = truth.skus()[it->sku];
          truth.transfer_received(sku, it->to, it->qty);
          events.push_back(make_event("transfer_received", it->transfer_id + ":received", sku,
                                      truth.locations()[it->to], it->qty,
                                      {{"transfer_id", it->transfer_id}}));
        }
        transfers.erase(arrived, transfers.end());
      }
      if (replenishing && now >= next_replenish) {
        next_replenish = now + milliseconds{250};
        replenish(now, po_number, events);
      }
      if (replenishing && (scn.dc_stock > 0 || truth.selling_locations() > 1) &&
          now >= next_transfer) {
        next_transfer = now + scn.transfer_period;
        transfer(now, transfer_number, events);
      }
      // Counts last: every physical change of this round is already stamped (and goes out in
      // this batch, before the count), and the next one comes a tick later, after as_of.
      if (counting && now >= next_count) {
        next_count = now + scn.count_period;
        count(now, rng, count_number, events);
      }
      send_due_counts(now, events);
      if (!events.empty()) {
        sender.send(events);
      }
    }
  }

  // A SKU × location the WMS may count: every one (the WMS ships each line from where stockd
  // placed it, so the world's per-location stock is what stockd's should be).
  std::vector<std::size_t> countable_locations() const {
    std::vector<std::size_t> out;
    for (std::size_t l = 0; l < truth.locations().size(); ++l) {
      out.push_back(l);
    }
    return out;
  }

  /// A cycle count of one SKU at one location, as of now: what the shelf holds (the world's
  /// truth is unchanged by it). Sent now, or (count_late_share) later with this as_of.
  void count(steady::time_point now, std::mt19937_64& rng, std::uint64_t& number,
             std::vector<wms_event>& events) {
    const auto where = countable_locations();
    if (where.empty() || scn.skus == 0) {
      return;
    }
    std::uniform_int_distribution<std::size_t> pick_sku(0, scn.skus - 1);  // never the probe
    std::uniform_int_distribution<std::size_t> pick_location(0, where.size() - 1);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const std::size_t sku = pick_sku(rng);
    const std::size_t location = where[pick_location(rng)];
    const std::string& name = truth.skus()[sku];
    open_count c{now, sku, location, truth.on_hand_at(name, location), utc_now_iso(),
                 "count-" + scn.sku_prefix + std::to_string(++number), false};
    if (uniform(rng) < scn.count_late_share) {
      c.late = true;
      c.due = now + scn.count_late_delay +
              milliseconds(static_cast<std::int64_t>(
                  uniform(rng) * static_cast<double>(scn.count_late_delay.count())));
      std::lock_guard lock(mu);
      late_counts.push_back(std::move(c));
      return;
    }
    events.push_back(count_event(c));
  }

  wms_event count_event(const open_count& c) {
    std::lock_guard lock(mu);
    ++counts.counts;
    if (c.late) {
      ++counts.counts_late;
      const std::string& name = truth.skus()[c.sku];
      if (truth.on_hand_at(name, c.location) != c.counted) {
        ++counts.counts_behind;
      }
    }
    return make_event("counted", c.id, truth.skus()[c.sku], truth.locations()[c.location],
                      c.counted, {{"as_of", c.as_of}}, wms_source, "counted");
  }

  void send_due_counts(steady::time_point now, std::vector<wms_event>& events) {
    std::vector<open_count> ready;
    {
      std::lock_guard lock(mu);
      auto due = std::stable_partition(late_counts.begin(), late_counts.end(),
                                       [now](const open_count& c) { return c.due > now; });
      std::move(due, late_counts.end(), std::back_inserter(ready));
      late_counts.erase(due, late_counts.end());
    }
    for (const open_count& c : ready) {
      events.push_back(count_event(c));
    }
  }

  /// Refills the selling locations. For each SKU, the selling location with the fewest free
  /// units (counting what is on its way to it) is low at or below transfer_point / 2 (several
  /// selling locations) or when the SKU's sellable stock is at or below transfer_point (one).
  /// A low location is refilled from the DC when it holds some; else, with several selling
  /// locations, rebalanced from the one with the most free units, half the difference at most
  /// transfer_qty, never units promised to lines (free ones, within the SKU's sellable stock).
  void transfer(steady::time_point now, std::uint64_t& number, std::vector<wms_event>& events) {
    const std::size_t selling = truth.selling_locations();
    const bool has_dc = scn.dc_stock > 0;
    const std::size_t dc = truth.locations().size() - 1;
    std::lock_guard lock(mu);
    std::vector<std::int64_t> on_way(selling);
    for (std::size_t i = 0; i < scn.skus; ++i) {
      const std::string& sku = truth.skus()[i];
      const auto t = truth.truth(sku);
      if (!t) {
        continue;
      }
      std::fill(on_way.begin(), on_way.end(), 0);
      for (const open_transfer& o : transfers) {
        if (o.sku == i) {
          on_way[o.to] += o.qty;
        }
      }
      std::size_t low = 0;
      std::size_t high = 0;
      std::int64_t low_free = 0;
      std::int64_t high_free = 0;
      for (std::size_t l = 0; l < selling; ++l) {
        const std::int64_t f = truth.free_at(sku, l) + on_way[l];
        if (l == 0 || f < low_free) {
          low = l;
          low_free = f;
        }
        if (l == 0 || f > high_free) {
          high = l;
          high_free = f;
        }
      }
      const bool is_low = selling > 1 ? low_free <= scn.transfer_point / 2
                                      : t->sellable() + t->in_transit <= scn.transfer_point;
      if (!is_low) {
        continue;
      }
      std::size_t from = dc;
      std::int64_t qty = 0;
      if (has_dc && truth.on_hand_at(sku, dc) > 0) {
        qty = std::min(scn.transfer_qty, truth.on_hand_at(sku, dc));
      } else if (selling > 1 && high != low) {
        from = high;
        qty = std::min({scn.transfer_qty, (high_free - low_free) / 2,
                        truth.free_at(sku, high), t->sellable()});
        if (qty <= 0 || truth.free_at(sku, high) - qty <= scn.transfer_point / 2) {
          continue;  // the high one would be low in turn
        }
        ++counts.rebalancing_transfers;
      } else {
        continue;
      }
      const std::string id = "tr-" + scn.sku_prefix + std::to_string(++number);
      truth.transfer_shipped(sku, from, qty);
      ++counts.transfers;
      counts.transferred_units += static_cast<std::uint64_t>(qty);
      events.push_back(make_event("transfer_shipped", id + ":shipped", sku,
                                  truth.locations()[from], qty,
                                  {{"transfer_id", id}, {"to_location", truth.locations()[low]}}));
      transfers.push_back({now + scn.transfer_lead_time, i, low, qty, id});
    }
  }

  void replenish(steady::time_point now, std::uint64_t& po_number, std::vector<wms_event>& events) {
    std::lock_guard lock(mu);
    for (std::size_t i = 0; i < truth.skus().size(); ++i) {
      const std::string& sku = truth.skus()[i];
      const auto t = truth.truth(sku);
      if (!t || t->sellable() + t->incoming + t->in_transit > scn.reorder_point) {
        continue;
      }
      const std::size_t location = i % truth.selling_locations();
      const std::string po_id = "po-" + scn.sku_prefix + std::to_string(++po_number);
      truth.purchase_ordered(sku, scn.reorder_qty);
      ++counts.purchase_orders;
      events.push_back(make_event("po_created", po_id + ":created", sku,
                                  truth.locations()[location], scn.reorder_qty,
                                  {{"po_id", po_id}}));
      pos.push_back({now + scn.po_lead_time, i, location, scn.reorder_qty, po_id});
    }
  }

  bool wms_idle() {
    std::lock_guard lock(mu);
    return pos.empty() && returns.empty() && transfers.empty() && late_counts.empty() &&
           truth.open_orders() == 0;
  }

  // ---- the sampler ----
  void sampler_loop() {
    sampled = std::min(scn.skus, sampled_skus_max);  // not the probe
    auto last = steady::now();
    for (;;) {
      {
        std::unique_lock lock(mu);
        if (cv.wait_for(lock, sample_period, [this] { return stop_sampler; })) {
          return;
        }
      }
      const auto now = steady::now();
      const double dt = staleness_counted.load() ? std::chrono::duration<double>(now - last).count()
                                                 : 0.0;
      last = now;
      const auto since = now - traffic_start;
      const bool in_outage = scn.outage_channel && since >= outage_begin(scn) &&
                             since < outage_end(scn);
      std::vector<std::uint32_t> wrong(channel_ids().size(), 0);
      for (std::size_t i = 0; i < sampled; ++i) {
        const std::string& sku = truth.skus()[i];
        const std::int64_t sellable = std::max<std::int64_t>(0, truth.truth(sku)->sellable());
        for (std::size_t c = 0; c < channel_ids().size(); ++c) {
          const std::int64_t shown = channels.at(c).quantity(sku).value_or(0);
          if (shown > sellable) {
            stale[c].over_s += dt;
            stale[c].outage_over_s += in_outage ? dt : 0;
          }
          if (shown != sellable) {
            stale[c].wrong_s += dt;
            stale[c].outage_wrong_s += in_outage ? dt : 0;
            ++wrong[c];
          }
        }
      }
      for (std::size_t c = 0; c < wrong.size(); ++c) {
        wrong_now[c].store(wrong[c], std::memory_order_relaxed);
      }
    }
  }

  // ---- the propagation probe ----
  // Each probe lowers the probe SKU by one, so every value is new and a channel that shows a
  // value at or below a probe's has shown that probe (coalescing may skip straight to a later
  // one). Probes overlap: a slow channel does not hold back the measurement of a fast one.
  // Decreases only: the urgent lane, the one that prevents oversells.
  struct pending_probe {
    steady::time_point acked;
    std::int64_t want;
  };

  void probe_loop() {
    wms_sender sender(host, port, opts.token, ledger);
    const std::string sku = probe_sku(scn);
    std::vector<std::deque<pending_probe>> pending(channel_ids().size());
    auto next_probe = steady::now() + scn.probe_period;
    for (std::uint64_t n = 1;;) {
      {
        std::unique_lock lock(mu);
        if (cv.wait_for(lock, probe_poll, [this] { return stop_probe; })) {
          break;
        }
      }
      auto now = steady::now();
      if (now >= next_probe) {
        next_probe = now + scn.probe_period;
        connectors::json_writer body;
        const std::string id = "probe:" + scn.sku_prefix + std::to_string(n++);
        body.begin_object().field("id", id).field("source", wms_source).field("type", "adjusted");
        body.field("sku", sku).field("location", truth.locations()[0]).field("delta", -1);
        body.field("reason", "probe").field("occurred_at", utc_now_iso()).end_object();
        truth.adjusted(sku, 0, -1);
        if (sender.send({wms_event{id, body.take(), "adjusted"}})) {
          now = steady::now();
          const std::int64_t want = truth.truth(sku)->on_hand;
          for (auto& p : pending) {
            p.push_back({now, want});
          }
        }
      }
      for (std::size_t c = 0; c < pending.size(); ++c) {
        if (pending[c].empty()) {
          continue;
        }
        const auto shown = channels.at(c).quantity(sku);
        while (shown && !pending[c].empty() && *shown <= pending[c].front().want) {
          propagation[c].record(now - pending[c].front().acked);
          pending[c].pop_front();
        }
      }
      std::lock_guard lock(mu);
      for (std::size_t c = 0; c < pending.size(); ++c) {
        oldest_unshown[c] = pending[c].empty() ? std::nullopt
                                               : std::optional(pending[c].front().acked);
      }
    }
    for (std::size_t c = 0; c < pending.size(); ++c) {
      propagation_timeouts[c] += pending[c].size();  // not shown before traffic stopped
    }
  }

  // ---- the timeline (HTML report) ----
  // Every timeline_period: per tracked SKU the world's stock, stockd's expected value (GET
  // /v1/skus, its own connection) and what each channel shows; the sampler's wrong counts; and
  // stockd's resident memory when the caller can read it. Bounded by timeline::thin_if_full.
  void recorder_loop() {
    http_client reader(host, port);
    simdjson::dom::parser parser;
    std::vector<std::string> tracked;
    const std::size_t n = std::min({scn.hot_skus > 0 ? scn.hot_skus : std::size_t{3},
                                    timeline_tracks_max, scn.skus});
    for (std::size_t i = 0; i < n; ++i) {
      tracked.push_back(truth.skus()[i]);  // hot SKUs first, then the Zipf head
      timeline::track t;
      t.sku = truth.skus()[i];
      t.shown.resize(channel_ids().size());
      series.tracks.push_back(std::move(t));
    }
    series.wrong.resize(channel_ids().size());
    series.period_s = std::chrono::duration<double>(timeline_period).count();
    auto period = timeline_period;
    for (;;) {
      {
        std::unique_lock lock(mu);
        if (cv.wait_for(lock, period, [this] { return stop_recorder; })) {
          return;
        }
      }
      const double t = std::chrono::duration<double>(steady::now() - traffic_start).count();
      series.t_s.push_back(t);
      for (auto& tr : series.tracks) {
        const sku_truth w = *truth.truth(tr.sku);
        tr.physical.push_back(w.on_hand);
        tr.sellable.push_back(std::max<std::int64_t>(0, w.sellable()));
        const sku_record r = read_sku(reader, opts.token, tr.sku, parser);
        std::optional<std::int64_t> expected;
        if (r.ok && !r.channels.empty()) {
          expected = r.channels.begin()->second.expected;
          if (auto it = r.channels.find(channel_ids()[0]); it != r.channels.end()) {
            expected = it->second.expected;
          }
        }
        tr.expected.push_back(expected);
        for (std::size_t c = 0; c < channel_ids().size(); ++c) {
          tr.shown[c].push_back(channels.at(c).quantity(tr.sku).value_or(0));
        }
      }
      for (std::size_t c = 0; c < channel_ids().size(); ++c) {
        series.wrong[c].push_back(wrong_now[c].load(std::memory_order_relaxed));
      }
      if (opts.stockd_rss) {
        if (auto rss = opts.stockd_rss()) {
          rss_last = rss;
          rss_peak = std::max(rss_peak.value_or(0), *rss);
        }
      }
      if (series.thin_if_full()) {
        period *= 2;
      }
    }
  }

  /// Per channel: ms since the oldest acknowledged probe it does not show yet; 0 when it shows
  /// them all; nothing without a probe.
  std::vector<std::optional<double>> channel_lags(steady::time_point now) {
    std::vector<std::optional<double>> out(channel_ids().size());
    if (scn.probe_period.count() == 0) {
      return out;
    }
    std::lock_guard lock(mu);
    for (std::size_t c = 0; c < out.size(); ++c) {
      out[c] = oldest_unshown[c]
                   ? std::chrono::duration<double, std::milli>(now - *oldest_unshown[c]).count()
                   : 0.0;
    }
    return out;
  }

  void stop_thread(bool session::*flag, std::thread& t) {
    {
      std::lock_guard lock(mu);
      this->*flag = true;
      cv.notify_all();
    }
    if (t.joinable()) {
      t.join();
    }
  }
};

/// "[  12.0 s] traffic: 180 events/s, 2,100 acknowledged of 2,104, 3 oversold, lag shopify
/// 12 ms amazon 840 ms webhook 60 ms": lag is the age of the oldest probe adjustment stockd
/// acknowledged that the channel does not show yet (0 when it shows them all).
std::string progress_line(double elapsed_s, const char* phase, double events_per_s,
                          const event_ledger::counts& counts, std::uint64_t oversold,
                          const std::vector<std::optional<double>>& lags_ms) {
  char head[200];
  std::snprintf(head, sizeof head,
                "[%6.1f s] %s: %.0f events/s, %llu acknowledged of %llu, %llu oversold, lag", elapsed_s,
                phase, events_per_s, static_cast<unsigned long long>(counts.acknowledged),
                static_cast<unsigned long long>(counts.created),
                static_cast<unsigned long long>(oversold));
  std::string line = head;
  for (std::size_t c = 0; c < lags_ms.size() && c < channel_ids().size(); ++c) {
    line += " " + channel_ids()[c] + " ";
    line += lags_ms[c] ? std::to_string(static_cast<long long>(*lags_ms[c])) + " ms" : "-";
  }
  return line;
}

/// Seconds after `until_s` (the outage's end) until channel `c` showed no more sampled SKUs
/// wrong than it did at worst before the outage began (`from_s`): back to its own level. -1
/// when it never was within the timeline (traffic, drain and convergence).
double recovery_after(const timeline& tl, std::size_t c, double from_s, double until_s) {
  if (c >= tl.wrong.size()) {
    return -1;
  }
  std::uint32_t before = 0;
  for (std::size_t i = 0; i < tl.t_s.size() && tl.t_s[i] < from_s; ++i) {
    before = std::max(before, tl.wrong[c][i]);
  }
  for (std::size_t i = 0; i < tl.t_s.size(); ++i) {
    if (tl.t_s[i] >= until_s && tl.wrong[c][i] <= before) {
      return tl.t_s[i] - until_s;
    }
  }
  return -1;
}

std::string sku_mismatch(const std::string& sku, const std::string& what, std::int64_t want,
                         std::int64_t got) {
  return sku + ": " + what + " " + std::to_string(got) + ", expected " +
         std::to_string(want);
}

} // namespace

void export_channel_credentials() {
  ::setenv(shopify_token_env, shopify_options{}.access_token.c_str(), 1);
  ::setenv(amazon_token_env, amazon_options{}.access_token.c_str(), 1);
  ::setenv(webhook_secret_env, webhook_options{}.secret.c_str(), 1);
}

channel_set::channel_set(channel_ports ports) : requested_(ports) {}

channel_set::~channel_set() { stop(); }

std::optional<std::string> channel_set::start() {
  const std::uint16_t ports[] = {requested_.shopify, requested_.amazon, requested_.webhook};
  for (std::size_t i = 0; i < channel_ids().size(); ++i) {
    listener_options lo;
    lo.port = ports[i];
    emulator* e = &at(i);
    listeners_.push_back(
        std::make_unique<listener>(lo, [e](const request& r) { return e->handle(r); }));
    if (auto error = listeners_.back()->start()) {
      return channel_ids()[i] + " emulator: " + *error;
    }
  }
  return std::nullopt;
}

void channel_set::stop() {
  for (auto& l : listeners_) {
    l->stop();
  }
}

channel_ports channel_set::ports() const {
  channel_ports out;
  if (listeners_.size() == 3) {
    out.shopify = listeners_[0]->port();
    out.amazon = listeners_[1]->port();
    out.webhook = listeners_[2]->port();
  }
  return out;
}

emulator& channel_set::at(std::size_t i) {
  switch (i) {
    case 0: return shopify_;
    case 1: return amazon_;
    default: return webhook_;
  }
}

std::string push_setting::label() const {
  switch (mode) {
    case kind::event: return "stockd (push = event)";
    case kind::interval:
      return "baseline (push = interval, " + std::to_string(interval.count()) + " ms)";
    case kind::none: return "broken (connector = none: stockd pushes nothing)";
  }
  return "?";
}

std::optional<push_setting> parse_push_setting(std::string_view text) {
  push_setting p;
  if (text == "event") {
    return p;
  }
  if (text == "none") {
    p.mode = push_setting::kind::none;
    return p;
  }
  constexpr std::string_view prefix = "interval:";
  if (text.substr(0, prefix.size()) == prefix) {
    std::int64_t ms = 0;
    const auto rest = text.substr(prefix.size());
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), ms);
    if (ec != std::errc{} || end != rest.data() + rest.size() || ms < 100 || ms > 86'400'000) {
      return std::nullopt;
    }
    p.mode = push_setting::kind::interval;
    p.interval = milliseconds{ms};
    return p;
  }
  return std::nullopt;
}

std::string stockd_config(const scenario& s, channel_ports ports, const push_setting& push,
                          const std::string& listen, const std::string& data_dir) {
  std::string t = "# stockd config for stocksim (scenario " + s.name + ", " + push.label() +
                  ")\n# Channel credentials come from the environment: " + shopify_token_env +
                  ", " + amazon_token_env + ", " + webhook_secret_env + "\n";
  if (!listen.empty() || !data_dir.empty()) {
    t += "[server]\n";
    if (!listen.empty()) {
      t += "listen = \"" + listen + "\"\n";
    }
    if (!data_dir.empty()) {
      t += "data_dir = \"" + data_dir + "\"\n";
    }
    t += "\n";
  }
  // Channels sell from the selling locations only; the DC (when there is one) is no channel's.
  // Each channel's priority order starts at another location (shopify L1, L2; amazon L2, L1;
  // ...), so placements differ per channel and race for the same shelves.
  for (std::size_t l = 0; l < s.locations; ++l) {
    t += "[[locations]]\nid = \"" + location_name(l) + "\"\n\n";
  }
  auto priority = [&s](std::size_t first) {
    std::string list = "[";
    for (std::size_t k = 0; k < s.locations; ++k) {
      list += (k > 0 ? ", \"" : "\"") + location_name((first + k) % s.locations) + "\"";
    }
    return list + "]";
  };
  std::size_t channel_number = 0;
  if (s.dc_stock > 0) {
    t += "[[locations]]\nid = \"" + std::string(dc_location_id) + "\"\n\n";
  }
  const bool none = push.mode == push_setting::kind::none;
  auto common = [&](const std::string& id, const std::string& connector,
                    const std::string& endpoint) {
    t += "[[channels]]\nid = \"" + id + "\"\nconnector = \"" + (none ? "none" : connector) +
         "\"\n";
    if (!none) {
      t += "endpoint = \"" + endpoint + "\"\n";
    }
    t += "locations = " + priority(channel_number++) + "\n";
    if (push.mode == push_setting::kind::interval) {
      t += "push = \"interval\"\npush_interval_ms = " + std::to_string(push.interval.count()) +
           "\n";
    }
    return !none;
  };
  const std::string host = "http://127.0.0.1:";
  if (common("shopify", "shopify",
             host + std::to_string(ports.shopify) + "/admin/api/2026-04/graphql.json")) {
    t += "credentials = \"env:" + std::string(shopify_token_env) + "\"\n";
    t += "shopify_location = \"gid://shopify/Location/1\"\n";
  }
  t += "\n";
  if (common("amazon", "amazon", host + std::to_string(ports.amazon))) {
    t += "credentials = \"env:" + std::string(amazon_token_env) + "\"\n";
    t += "seller_id = \"A1STOCKSIM\"\nmarketplace_id = \"ATVPDKIKX0DER\"\n";
    t += "requests_per_second = 5\nburst = 5\n";  // the emulator's bucket (SP-API's figures)
  }
  t += "\n";
  if (common("webhook", "webhook", host + std::to_string(ports.webhook) + "/inventory")) {
    t += "credentials = \"env:" + std::string(webhook_secret_env) + "\"\n";
    t += "requests_per_second = 10\nburst = 10\nbatch_size = 100\n";  // the emulator's limits
  }
  // Kits: a [[skus]] entry with components each (docs/semantics.md, "Units, SKU mapping and
  // kits"). stockd computes and pushes every kit to every channel, as the emulators list them.
  for (const kit_definition& kit : kit_definitions(s)) {
    t += "\n[[skus]]\nid = \"" + kit.sku + "\"\ncomponents = [";
    for (std::size_t c = 0; c < kit.components.size(); ++c) {
      t += std::string(c > 0 ? ", " : "") + "{ sku = \"" + kit.components[c].first +
           "\", qty = " + std::to_string(kit.components[c].second) + " }";
    }
    t += "]\n";
  }
  if (s.pos_buys_per_second > 0) {
    // The store till: nothing to push to (connector "none"), stockd still computes its expected
    // value; its customers reserve through stockd (simulator/pos.hpp). It speaks its own SKU ids
    // and sells packs: a unit per SKU and a mapping for source "pos" (docs/semantics.md, "Units,
    // SKU mapping and kits").
    t += "\n[[channels]]\nid = \"" + std::string(pos_channel_id) +
         "\"\nconnector = \"none\"\nlocations = " + priority(channel_number++) + "\n";
    std::string mapping;
    for (std::size_t i = 0; i < s.skus; ++i) {
      const std::string sku = sku_name(s, i);
      if (s.pos_pack > 1) {
        t += "\n[[skus]]\nid = \"" + sku + "\"\nunits = { " + pos_unit(s) + " = " +
             std::to_string(s.pos_pack) + " }\n";
      }
      mapping += (i > 0 ? ", \"" : "\"") + pos_sku_name(sku) + "\" = \"" + sku + "\"";
    }
    t += "\n[[mappings]]\nsource = \"" + std::string(pos_channel_id) + "\"\nskus = { " + mapping +
         " }\n";
  }
  return t;
}

run_summary run_scenario(const run_options& opts, channel_set& channels) {
  run_summary out;
  const scenario& scn = opts.scn;
  out.scenario = scn.name;
  out.label = opts.label;
  out.seed = scn.seed;
  out.skus = scn.skus;
  out.convergence_timeout_s = std::chrono::duration<double>(opts.convergence_timeout).count();
  if (auto problem = validate(scn)) {
    out.error = *problem;
    return out;
  }
  session run(opts, channels);
  if (!parse_http_url(opts.stockd_url, run.host, run.port)) {
    out.error = "stockd URL must be http://host:port, got '" + opts.stockd_url + "'";
    return out;
  }
  world& truth = run.truth;
  const auto& skus = truth.skus();

  // The merchant's catalog on each channel, showing the initial stock; and the same stock
  // received into stockd (the WMS's opening receipts).
  std::vector<wms_event> opening;
  for (std::size_t i = 0; i < skus.size(); ++i) {
    std::int64_t total = 0;
    for (std::size_t l = 0; l < truth.locations().size(); ++l) {
      const std::int64_t qty = truth.initial_on_hand(i, l);
      total += l < truth.selling_locations() ? qty : 0;  // the DC is no channel's
      if (qty > 0) {
        opening.push_back(make_event("received", "open:" + skus[i] + ":" + truth.locations()[l],
                                     skus[i], truth.locations()[l], qty, {}));
      }
    }
    for (std::size_t c = 0; c < channel_ids().size(); ++c) {
      if (auto error = channels.at(c).set_quantity(skus[i], total)) {
        out.error = channel_ids()[c] + ": " + *error;
        return out;
      }
    }
  }
  // The kits on every channel too, showing what their components make (stockd has no stock of
  // a kit: it computes the kit's quantity from its components' and pushes it).
  for (const kit_definition& kit : truth.kits()) {
    for (std::size_t c = 0; c < channel_ids().size(); ++c) {
      if (auto error = channels.at(c).set_quantity(kit.sku, truth.kit_sellable(kit.sku))) {
        out.error = channel_ids()[c] + ": " + *error;
        return out;
      }
    }
  }
  {
    wms_sender sender(run.host, run.port, opts.token, run.ledger);
    if (!sender.send(opening)) {
      out.error = "stockd did not accept the opening stock (is it running at " + opts.stockd_url +
                  " with a token that may ingest?)";
      return out;
    }
  }

  // Traffic.
  for (std::size_t c = 0; c < channel_ids().size(); ++c) {
    if (auto error = channels.at(c).set_faults(scn.channel_faults)) {
      out.error = "channel faults: " + *error;
      return out;
    }
  }
  const sku_chooser chooser(scn);
  const sku_chooser till_chooser(scn, false);  // the till sells no kits
  std::vector<std::unique_ptr<buyer>> buyers;
  for (std::size_t c = 0; c < channel_ids().size(); ++c) {
    if (scn.buys_per_second[c] <= 0) {
      continue;
    }
    buyer_options b;
    b.buys_per_second = scn.buys_per_second[c];
    b.channel_id = channel_ids()[c];
    b.stockd_url = opts.stockd_url;
    b.token = opts.token;
    b.delay = scn.order_delay;
    b.jitter = scn.order_jitter;
    b.duplicate_probability = scn.order_duplicate_probability;
    b.seed = scn.seed * 1'000 + c;
    b.choose_sku = [&chooser](std::mt19937_64& rng) { return chooser(rng); };
    world* w = &truth;
    event_ledger* ledger = &run.ledger;
    b.on_sale = [w, ledger](const sale& s) {
      w->sell(s.channel_id, s.sku, s.order_id);
      ledger->created(event_key(s.channel_id, s.event_id), "order_created");
    };
    const std::string source = b.channel_id;
    session* self = &run;
    b.on_delivery = [w, ledger, source, self](const delivery& d) {
      ledger->answered(event_key(source, d.event_id), to_answer(d.outcome), d.latency);
      if (d.outcome == delivery_outcome::accepted || d.outcome == delivery_outcome::duplicate) {
        // The order id is the event id without its ":<line>". Where stockd placed it: the
        // accepted answer's location; a duplicate's answer has none (the WMS looks it up).
        const auto order_id = d.event_id.substr(0, d.event_id.rfind(':'));
        w->order_acknowledged(order_id, steady::now(), self->selling_index(d.location));
      }
    };
    buyers.push_back(std::make_unique<buyer>(std::move(b), channels.at(c)));
  }
  // The store till, reserving through stockd before it sells (simulator/pos.hpp).
  std::unique_ptr<pos_till> till;
  if (scn.pos_buys_per_second > 0) {
    pos_options p;
    p.buys_per_second = scn.pos_buys_per_second;
    p.channel_id = pos_channel_id;
    p.pack = scn.pos_pack;
    p.abandon_probability = scn.pos_abandon_probability;
    p.stockd_url = opts.stockd_url;
    p.token = opts.token;
    p.seed = scn.seed * 1'000 + 999;
    p.choose_sku = [&till_chooser](std::mt19937_64& rng) { return till_chooser(rng); };
    world* w = &truth;
    session* self = &run;
    p.on_sale = [w, self](std::string_view sku, std::string_view order_id, std::int64_t qty,
                          std::string_view location) {
      // stockd holds it at a channel location, always a selling one.
      return w->reserved_sale(pos_channel_id, sku, order_id, qty,
                              self->selling_index(location).value_or(0));
    };
    p.on_committed = [w](std::string_view order_id) {
      w->order_acknowledged(order_id, steady::now());
    };
    p.ledger = &run.ledger;
    till = std::make_unique<pos_till>(std::move(p));
  }
  run.traffic_start = steady::now();
  const auto started = run.traffic_start;
  std::thread wms([&run] { run.wms_loop(); });
  std::thread sampler([&run] { run.sampler_loop(); });
  std::thread recorder([&run] { run.recorder_loop(); });
  std::thread prober;
  if (scn.probe_period.count() > 0) {
    prober = std::thread([&run] { run.probe_loop(); });
  }
  for (auto& b : buyers) {
    if (auto error = b->start()) {
      out.error = "customers: " + *error;
    }
  }
  if (till) {
    if (auto error = till->start()) {
      out.error = "POS: " + *error;
    }
  }
  std::uint64_t created_before = 0;
  auto last_progress = started;
  auto progress = [&](const char* phase) {
    if (opts.progress == nullptr) {
      return;
    }
    const auto now = steady::now();
    const double elapsed = std::chrono::duration<double>(now - started).count();
    const double window = std::chrono::duration<double>(now - last_progress).count();
    last_progress = now;
    const auto counts = run.ledger.totals();
    const double rate = window > 0 ? static_cast<double>(counts.created - created_before) / window
                                   : 0;
    created_before = counts.created;
    std::string line = progress_line(elapsed, phase, rate, counts, truth.oversold_units(),
                                     run.channel_lags(now));
    if (opts.progress_tty) {
      *opts.progress << "\r\x1b[K" << line << std::flush;  // one line, rewritten in place
    } else {
      *opts.progress << line << "\n" << std::flush;
    }
  };
  // The outage (channel_outage): the channel's API fails from its begin to its end.
  bool outage_on = false;
  bool outage_done = !scn.outage_channel.has_value();
  auto outage_switch = [&](steady::time_point now) {
    if (outage_done) {
      return;
    }
    const auto since = now - started;
    const std::size_t c = *scn.outage_channel;
    if (!outage_on && since >= outage_begin(scn)) {
      outage_on = true;
      if (auto error = channels.at(c).set_faults(scn.outage_faults)) {
        out.error = "outage faults: " + *error;
      }
    }
    if (outage_on && since >= outage_end(scn)) {
      outage_done = true;
      (void)channels.at(c).set_faults(scn.channel_faults.empty() ? "none" : scn.channel_faults);
    }
  };
  auto next_progress = started + milliseconds{1'000};
  while (out.error.empty() && steady::now() - started < scn.duration) {
    auto wake = std::min(next_progress, started + scn.duration);
    if (!outage_done) {
      wake = std::min(wake, started + (outage_on ? outage_end(scn) : outage_begin(scn)));
    }
    std::this_thread::sleep_until(wake);
    const auto now = steady::now();
    outage_switch(now);
    if (now >= next_progress) {
      next_progress += milliseconds{1'000};
      progress("traffic");
    }
  }
  outage_switch(steady::now());
  const auto traffic_end = steady::now();
  out.duration_s = std::chrono::duration<double>(traffic_end - started).count();

  // Drain: the customers stop, their queued orders go out, the WMS settles every order and
  // receives what is on order; the channels stop failing.
  {
    std::lock_guard lock(run.mu);
    run.traffic_ = false;
  }
  run.stop_thread(&session::stop_probe, prober);
  for (std::size_t c = 0; c < channel_ids().size(); ++c) {
    (void)channels.at(c).set_faults("none");
  }
  if (till) {
    till->stop();  // the customer at the till is served to the end (commit or release)
  }
  for (auto& b : buyers) {
    const auto left = opts.drain_timeout - (steady::now() - traffic_end);
    b->stop(std::max(milliseconds{0}, std::chrono::duration_cast<milliseconds>(left)));
  }
  while (!run.wms_idle() && steady::now() - traffic_end < opts.drain_timeout) {
    std::this_thread::sleep_for(milliseconds{100});
  }
  run.stop_thread(&session::stop_wms, wms);
  run.staleness_counted = false;
  progress("drained");
  if (opts.progress != nullptr && opts.progress_tty) {
    *opts.progress << "\n" << std::flush;
  }
  const bool settled = run.wms_idle();

  // Convergence: every channel shows stockd's expected value; stockd's on-hand is the world's,
  // per SKU × location (the WMS ships each line from where stockd placed it), and nothing is
  // left committed (every order was shipped or cancelled). A kit has no stock of its own: only
  // its channels are checked (stockd's expected value is computed from its components').
  std::vector<std::string> checked = skus;
  for (const kit_definition& kit : truth.kits()) {
    checked.push_back(kit.sku);
  }
  http_client reader(run.host, run.port);
  simdjson::dom::parser parser;
  const auto converge_start = steady::now();
  std::vector<std::uint64_t> out_of_sync(channel_ids().size(), 0);
  std::map<std::string, std::uint64_t> kit_out_of_sync;  // kit → channels not showing it right
  for (;;) {
    out.mismatches.clear();
    out.unreflected_skus = 0;
    std::fill(out_of_sync.begin(), out_of_sync.end(), 0);
    kit_out_of_sync.clear();
    std::size_t mismatching = 0;
    for (const std::string& sku : checked) {
      const sku_record r = read_sku(reader, opts.token, sku, parser);
      std::vector<std::string> problems;
      const std::optional<sku_truth> stock = truth.truth(sku);  // nothing for a kit
      if (!r.ok) {
        problems.push_back(sku + ": GET /v1/skus failed");
      } else {
        const sku_truth t = stock.value_or(sku_truth{});
        // Per location: the first location whose on-hand differs from the world's.
        std::optional<std::string> location_problem;
        for (std::size_t l = 0; stock && l < truth.locations().size() && !location_problem;
             ++l) {
          const std::string& name = truth.locations()[l];
          const auto it = r.on_hand_at.find(name);
          const std::int64_t got = it == r.on_hand_at.end() ? 0 : it->second;
          const std::int64_t want = truth.on_hand_at(sku, l);
          if (got != want) {
            location_problem = sku_mismatch(sku, "stockd on_hand at " + name, want, got);
          }
        }
        // Nothing left held either: every hold the till took was committed or released.
        if (r.on_hand != t.on_hand || location_problem ||
            (settled && (r.committed != 0 || r.reserved != 0))) {
          ++out.unreflected_skus;
          if (r.on_hand != t.on_hand) {
            problems.push_back(sku_mismatch(sku, "stockd on_hand", t.on_hand, r.on_hand));
          } else if (location_problem) {
            problems.push_back(*location_problem);
          } else if (r.committed != 0) {
            problems.push_back(sku_mismatch(sku, "stockd committed", 0, r.committed));
          } else {
            problems.push_back(sku_mismatch(sku, "stockd reserved", 0, r.reserved));
          }
        }
        for (std::size_t c = 0; c < channel_ids().size(); ++c) {
          auto e = r.channels.find(channel_ids()[c]);
          const auto shown = channels.at(c).quantity(sku);
          if (e == r.channels.end() || shown != std::optional<std::int64_t>(e->second.expected)) {
            ++out_of_sync[c];
            if (!stock) {
              ++kit_out_of_sync[sku];
            }
            std::string p = sku + ": " + channel_ids()[c] + " shows " +
                            (shown ? std::to_string(*shown) : "nothing") + ", stockd expects ";
            if (e == r.channels.end()) {
              p += "nothing";
            } else {
              // What stockd believes it pushed, and whether it thinks the channel is in sync:
              // tells a push that never came from a channel stockd models wrongly.
              p += std::to_string(e->second.expected) + " (last_pushed " +
                   (e->second.last_pushed ? std::to_string(*e->second.last_pushed) : "null") +
                   ", believed_shows " +
                   (e->second.believed_shows ? std::to_string(*e->second.believed_shows)
                                             : "null") +
                   ", held_back " + std::to_string(e->second.held_back) +
                   ", in_sync " + (e->second.in_sync ? "true" : "false") + ")";
            }
            problems.push_back(std::move(p));
          }
        }
      }
      if (!problems.empty()) {
        ++mismatching;
        for (auto& p : problems) {
          if (out.mismatches.size() < 10) {
            out.mismatches.push_back(std::move(p));
          }
        }
      }
    }
    const auto waited = steady::now() - converge_start;
    if (mismatching == 0) {
      out.converged = true;
      out.convergence_s = std::chrono::duration<double>(waited).count();
      break;
    }
    if (waited >= opts.convergence_timeout) {
      out.convergence_s = std::chrono::duration<double>(waited).count();
      break;
    }
    std::this_thread::sleep_for(convergence_poll);
  }
  // The timeline covers convergence too.
  run.stop_thread(&session::stop_recorder, recorder);
  run.stop_thread(&session::stop_sampler, sampler);
  if (!settled) {
    out.mismatches.insert(out.mismatches.begin(),
                          std::to_string(truth.open_orders()) +
                              " orders still open after the drain (unacknowledged orders)");
    out.converged = false;
  }

  // Figures.
  out.events = run.ledger.totals();
  out.events_by_kind = run.ledger.by_kind();
  out.unanswered = run.ledger.unanswered();
  out.lost = out.unanswered + out.unreflected_skus;
  out.ack_latency = run.ledger.ack_latency();
  out.events_per_second = out.duration_s > 0
                              ? static_cast<double>(out.events.created) / out.duration_s
                              : 0;
  out.sampled_skus = run.sampled;
  {
    std::lock_guard lock(run.mu);
    out.world = run.counts;
  }
  out.world.taken_over = truth.taken_over();
  out.world.misplaced = truth.misplaced();
  out.series = std::move(run.series);
  out.stockd_rss_bytes = run.rss_last;
  out.stockd_rss_peak_bytes = run.rss_peak;
  const auto sales = truth.sales();
  for (std::size_t c = 0; c < channel_ids().size(); ++c) {
    channel_summary cs;
    cs.id = channel_ids()[c];
    if (auto it = sales.find(cs.id); it != sales.end()) {
      cs.units_sold = it->second.units_sold;
      cs.oversold_units = it->second.oversold_units;
    }
    out.units_sold += cs.units_sold;
    out.oversold_units += cs.oversold_units;
    cs.over_display_sku_s = run.stale[c].over_s;
    cs.wrong_display_sku_s = run.stale[c].wrong_s;
    cs.out_of_sync_skus = out_of_sync[c];
    cs.propagation = run.propagation[c].summary();
    cs.propagation_timeouts = run.propagation_timeouts[c];
    if (scn.outage_channel == c) {
      cs.outage = true;
      cs.outage_from_s = std::chrono::duration<double>(outage_begin(scn)).count();
      cs.outage_until_s = std::chrono::duration<double>(outage_end(scn)).count();
      cs.outage_over_display_sku_s = run.stale[c].outage_over_s;
      cs.outage_wrong_display_sku_s = run.stale[c].outage_wrong_s;
      cs.outage_recovered_s =
          recovery_after(out.series, c, cs.outage_from_s, cs.outage_until_s);
    }
    const std::string stats = channels.at(c).stats_json();
    simdjson::dom::element root;
    if (parser.parse(stats).get(root) == simdjson::SUCCESS) {
      cs.api_calls = stat_u64(root, "calls");
      cs.items = stat_u64(root, "items");
      const auto item_calls = stat_u64(root, "item_calls");
      cs.items_per_call = item_calls > 0 ? static_cast<double>(cs.items) /
                                               static_cast<double>(item_calls)
                                         : 0;
      cs.throttled = stat_u64(root, "throttled");
      simdjson::dom::element responses;
      if (root["responses"].get(responses) == simdjson::SUCCESS) {
        cs.responses_429 = stat_u64(responses, "429");
      }
    }
    out.channels.push_back(std::move(cs));
  }
  for (const auto& [kit, sold] : truth.kit_sales()) {
    kit_summary k;
    k.sku = kit;
    for (const kit_definition& d : truth.kits()) {
      if (d.sku == kit) {
        k.components = d.components;
      }
    }
    k.units_sold = sold.units_sold;
    k.oversold_units = sold.oversold_units;
    k.out_of_sync_channels = kit_out_of_sync[kit];
    out.kit_units_sold += k.units_sold;
    out.kit_oversold_units += k.oversold_units;
    out.kits.push_back(std::move(k));
  }
  if (till) {
    // The till: its sales as the world judged them, and its calls to stockd's reservations.
    channel_summary cs;
    cs.id = pos_channel_id;
    cs.reserves = true;
    if (auto it = sales.find(cs.id); it != sales.end()) {
      cs.units_sold = it->second.units_sold;
      cs.oversold_units = it->second.oversold_units;
    }
    out.units_sold += cs.units_sold;
    out.oversold_units += cs.oversold_units;
    const pos_counts pc = till->counts();
    cs.reservations_requested = pc.requested;
    cs.reservations_granted = pc.granted;
    cs.reservations_refused = pc.refused;
    cs.reservations_abandoned = pc.abandoned;
    cs.reservations_committed = pc.committed;
    cs.reservations_failed = pc.failed;
    out.channels.push_back(std::move(cs));
  }
  return out;
}

} // namespace stockd::simulator
