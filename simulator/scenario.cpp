#include "simulator/scenario.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "simulator/faults.hpp"

namespace stockd::simulator {

std::optional<scenario> scenario_preset(const std::string& name) {
  scenario s;
  s.name = name;
  // The world around the emulated channels (scenario.hpp): a POS selling packs through stockd's
  // reservations, cycle counts (some late), and a DC that refills L1 with transfers.
  auto full_world = [](scenario& w) {
    w.pos_buys_per_second = 4;
    w.count_period = std::chrono::milliseconds{200};
    w.dc_stock = 60;
    w.kits = 2;
  };
  if (name == "steady") {
    full_world(s);
    s.locations = 2;  // the WMS follows stockd's placement (world.hpp)
    return s;
  }
  if (name == "flash_sale") {
    // 3 hot SKUs × 20 units = 60 hot units; 95 % of 3 × 100 attempts/s over 20 s is 5,700
    // attempts on them: ~95× their stock. Orders reach stockd 100-400 ms after the sale, as
    // storefront webhooks do. At this rate a hot SKU sells out in ~0.2 s, faster than any order
    // reaches stockd: every channel sells what it shows whatever stockd does, and only
    // reservations could prevent it. --hot-stock 150 makes a sale that lasts seconds, where
    // pushing on every change is what separates stockd from the batch baseline.
    s.skus = 20;
    s.hot_skus = 3;
    s.hot_stock_per_location = 20;
    s.hot_share = 0.95;
    s.buys_per_second = {100, 100, 100};
    s.order_delay = std::chrono::milliseconds{100};
    s.order_jitter = std::chrono::milliseconds{300};
    s.replenish = false;
    // A till that reserves through stockd before it sells, single units: what reserving buys
    // in a flash sale (0 oversold units for it, scenario.hpp).
    s.pos_buys_per_second = 100;
    s.pos_pack = 1;
    s.pos_abandon_probability = 0.1;
    return s;
  }
  if (name == "chaos") {
    s.order_duplicate_probability = 0.2;
    s.order_jitter = std::chrono::milliseconds{1'000};
    s.channel_faults = "429=0.05,5xx=0.05,reset=0.02,hang-after=0.01,hang-ms=1500";
    full_world(s);
    s.locations = 2;
    return s;
  }
  if (name == "returns_wave") {
    // A post-holiday week compressed: a quarter of what ships comes back 0.3-0.6 s later, 30 %
    // of that damaged; 5 % cancelled by the customer and 3 % failed payments before shipping.
    // The returns name no location: they follow their order line, which stockd finds however
    // long ago it closed (a state keeps its 16 newest closed lines, and stockd indexes the ones
    // it pushes out: docs/semantics.md "Memory"), so a longer --return-delay-ms is taken as
    // well. The store's till sells too,
    // and takes back the whole pack it sold, reporting the return in its own SKU id and unit
    // (as it reported the sale).
    s.cancel_probability = 0.05;
    s.payment_failed_probability = 0.03;
    s.return_probability = 0.25;
    s.damaged_share = 0.3;
    s.return_delay = std::chrono::milliseconds{300};
    s.pos_buys_per_second = 4;
    return s;
  }
  if (name == "large_catalog") {
    // 1,000,000 SKUs × 4 locations, 10 units each, Zipf demand over all of it for 10 s (demo's
    // default) on one channel. Run by simulator/large_catalog.hpp (stocksim demo only: it
    // restarts stockd). The traffic is short on purpose: the figures are seeding, memory and
    // start-up; the other scenarios measure traffic.
    s.skus = 1'000'000;
    s.locations = 4;
    s.stock_per_location = 10;
    s.duration = std::chrono::milliseconds{10'000};
    s.buys_per_second = {0, 0, 200};
    s.replenish = false;
    s.probe_period = std::chrono::milliseconds{0};
    return s;
  }
  if (name == "channel_outage") {
    // Amazon's API down for the middle 40 % of the run (80 % 5xx, 20 % hung requests): while it
    // is down amazon keeps showing what it showed, its customers keep buying against it.
    s.outage_channel = 1;
    return s;
  }
  return std::nullopt;
}

const std::vector<std::string>& scenario_names() {
  static const std::vector<std::string> names = {"steady", "flash_sale", "chaos", "returns_wave",
                                                 "channel_outage", "large_catalog"};
  return names;
}

std::optional<std::string> validate(const scenario& s) {
  if (s.sku_prefix.empty() || s.sku_prefix.size() > 64 ||
      s.sku_prefix.find_first_of("\"\\/?#% ") != std::string::npos) {
    return "SKU prefix: 1..64 characters, none of \" \\ / ? # % or space";
  }
  if (s.name == "large_catalog" ? s.skus < 1 || s.skus > 9'999'999
                                : s.skus < 1 || s.skus > 100'000) {
    return s.name == "large_catalog" ? "skus must be 1..9999999" : "skus must be 1..100000";
  }
  if (s.locations < 1 || s.locations > 16) {
    return "locations must be 1..16";
  }
  if (s.hot_skus > s.skus) {
    return "hot SKUs must be at most the catalog";
  }
  if (s.duration < std::chrono::milliseconds{500} || s.duration > std::chrono::hours{24}) {
    return "duration must be 0.5 s .. 24 h";
  }
  if (s.buys_per_second.size() != channel_ids().size()) {
    return "one buy rate per channel";
  }
  for (double r : s.buys_per_second) {
    if (!(r >= 0) || r > 10'000) {
      return "buy rates must be 0..10000 per second";
    }
  }
  if (s.probe_period.count() < 0 || (s.probe_period.count() > 0 && s.probe_period.count() < 50)) {
    return "probe period: 0 (off) or at least 50 ms";
  }
  if (s.stock_per_location < 0 || s.hot_stock_per_location < 0 || s.reorder_qty < 1 ||
      s.hot_share < 0 || s.hot_share > 1 || s.order_duplicate_probability < 0 ||
      s.order_duplicate_probability > 1 || !(s.zipf_s > 0)) {
    return "stock >= 0, reorder quantity >= 1, shares and probabilities in [0, 1], zipf s > 0";
  }
  if (!s.channel_faults.empty()) {
    auto parsed = parse_faults(s.channel_faults);
    if (!parsed.settings) {
      return "channel faults: " + parsed.error;
    }
  }
  for (double p : {s.cancel_probability, s.payment_failed_probability, s.return_probability,
                   s.damaged_share}) {
    if (!(p >= 0) || p > 1) {
      return "cancel, payment-failed, return and damaged shares must be in [0, 1]";
    }
  }
  if (s.cancel_probability + s.payment_failed_probability > 1) {
    return "cancel + payment-failed probabilities must be at most 1";
  }
  if (s.return_delay.count() < 0 || s.return_delay > std::chrono::minutes{10}) {
    return "return delay must be 0 .. 10 min";
  }
  if (s.outage_channel) {
    if (*s.outage_channel >= channel_ids().size()) {
      return "outage channel must be one of shopify, amazon, webhook";
    }
    if (!(s.outage_from >= 0) || !(s.outage_until > s.outage_from) || s.outage_until > 1) {
      return "the outage window: 0 <= from < until <= 1 (shares of the traffic duration)";
    }
    auto parsed = parse_faults(s.outage_faults);
    if (!parsed.settings) {
      return "outage faults: " + parsed.error;
    }
  }
  if (!(s.pos_buys_per_second >= 0) || s.pos_buys_per_second > 10'000) {
    return "POS rate must be 0..10000 per second";
  }
  if (s.pos_pack < 1 || s.pos_pack > 1'000) {
    return "POS pack must be 1..1000 units";
  }
  if (!(s.pos_abandon_probability >= 0) || s.pos_abandon_probability > 1 ||
      !(s.count_late_share >= 0) || s.count_late_share > 1) {
    return "POS abandon and late-count shares must be in [0, 1]";
  }
  if (s.count_period.count() < 0 || (s.count_period.count() > 0 && s.count_period.count() < 20)) {
    return "count period: 0 (off) or at least 20 ms";
  }
  if (s.count_late_delay.count() < 0 || s.count_late_delay > std::chrono::seconds{10}) {
    return "late-count delay must be 0 .. 10 s";
  }
  if (s.kits > 16 || (s.kits > 0 && s.skus < 3) || !(s.kit_share >= 0) || s.kit_share > 1) {
    return "kits must be 0..16 (with at least 3 SKUs), the kit share in [0, 1]";
  }
  if (s.dc_stock < 0 || s.transfer_qty < 1 || s.transfer_period.count() < 20 ||
      s.transfer_lead_time.count() < 0 || s.transfer_lead_time > std::chrono::minutes{10}) {
    return "DC stock >= 0, transfer quantity >= 1, transfer period >= 20 ms, lead time 0 .. 10 min";
  }
  return std::nullopt;
}

namespace {
std::string numbered(const std::string& prefix, std::size_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%05zu", index);
  return prefix + buf;
}
} // namespace

std::string sku_name(const scenario& s, std::size_t index) { return numbered(s.sku_prefix, index); }

std::string location_name(std::size_t index) { return "L" + std::to_string(index + 1); }

std::string probe_sku(const scenario& s) { return s.sku_prefix + "PROBE"; }

namespace {
std::chrono::milliseconds share_of(const scenario& s, double share) {
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(s.duration.count()) * share));
}
} // namespace

std::chrono::milliseconds outage_begin(const scenario& s) {
  return s.outage_channel ? share_of(s, s.outage_from) : std::chrono::milliseconds{0};
}

std::chrono::milliseconds outage_end(const scenario& s) {
  return s.outage_channel ? share_of(s, s.outage_until) : std::chrono::milliseconds{0};
}

std::vector<std::string> location_names(const scenario& s) {
  std::vector<std::string> out;
  for (std::size_t l = 0; l < s.locations; ++l) {
    out.push_back(location_name(l));
  }
  if (s.dc_stock > 0) {
    out.push_back(dc_location_id);
  }
  return out;
}

std::string kit_name(const scenario& s, std::size_t k) {
  return s.sku_prefix + "KIT-" + std::to_string(k + 1);
}

std::vector<kit_definition> kit_definitions(const scenario& s) {
  std::vector<kit_definition> out;
  std::mt19937_64 rng(s.seed * 6'271 + 3);
  std::uniform_int_distribution<std::size_t> pick(0, s.skus - 1);
  for (std::size_t k = 0; k < s.kits; ++k) {
    kit_definition kit{kit_name(s, k), {}};
    const std::size_t n = std::min<std::size_t>(2 + k % 2, s.skus);
    std::vector<std::size_t> chosen;
    while (chosen.size() < n) {
      const std::size_t i = pick(rng);
      if (std::find(chosen.begin(), chosen.end(), i) == chosen.end()) {
        chosen.push_back(i);
        kit.components.emplace_back(sku_name(s, i), 1 + static_cast<std::int64_t>(rng() % 2));
      }
    }
    out.push_back(std::move(kit));
  }
  return out;
}

std::string pos_sku_name(const std::string& sku) { return "POS-" + sku; }

std::string pos_unit(const scenario& s) {
  return s.pos_pack == 1 ? std::string("each") : "pack" + std::to_string(s.pos_pack);
}

std::vector<sku_stock> initial_stock(const scenario& s) {
  std::vector<sku_stock> out;
  out.reserve(s.skus);
  for (std::size_t i = 0; i < s.skus; ++i) {
    const std::int64_t each = i < s.hot_skus ? s.hot_stock_per_location : s.stock_per_location;
    std::vector<std::int64_t> at(s.locations, each);
    if (s.dc_stock > 0) {
      at.push_back(s.dc_stock);
    }
    out.push_back({sku_name(s, i), std::move(at)});
  }
  if (s.probe_period.count() > 0) {
    std::vector<std::int64_t> at(s.locations + (s.dc_stock > 0 ? 1 : 0), 0);
    at[0] = probe_stock;
    out.push_back({probe_sku(s), std::move(at)});
  }
  return out;
}

zipf_ranks::zipf_ranks(std::size_t n, double s) {
  cdf_.reserve(n);
  double sum = 0;
  for (std::size_t k = 1; k <= n; ++k) {
    sum += 1.0 / std::pow(static_cast<double>(k), s);
    cdf_.push_back(sum);
  }
  for (double& c : cdf_) {
    c /= sum;
  }
}

std::size_t zipf_ranks::operator()(std::mt19937_64& rng) const {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), uniform(rng));
  return static_cast<std::size_t>(std::min<std::ptrdiff_t>(
      it - cdf_.begin(), static_cast<std::ptrdiff_t>(cdf_.size()) - 1));
}

sku_chooser::sku_chooser(const scenario& s, bool with_kits)
    : prefix_(s.sku_prefix), hot_(s.hot_skus), hot_share_(s.hot_share) {
  if (with_kits) {
    for (std::size_t k = 0; k < s.kits; ++k) {
      kits_.push_back(kit_name(s, k));
    }
    kit_share_ = kits_.empty() ? 0 : s.kit_share;
  }
  if (hot_ == 0) {
    hot_share_ = 0;
  }
  const std::size_t cold = s.skus - hot_;
  if (cold == 0) {
    hot_share_ = 1;
    return;
  }
  cold_.emplace(cold, s.zipf_s);
}

std::string sku_chooser::operator()(std::mt19937_64& rng) const {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  if (kit_share_ > 0 && uniform(rng) < kit_share_) {
    std::uniform_int_distribution<std::size_t> pick(0, kits_.size() - 1);
    return kits_[pick(rng)];
  }
  if (hot_share_ > 0 && uniform(rng) < hot_share_) {
    std::uniform_int_distribution<std::size_t> pick(0, hot_ - 1);
    return numbered(prefix_, pick(rng));
  }
  return numbered(prefix_, hot_ + (*cold_)(rng));
}

} // namespace stockd::simulator
