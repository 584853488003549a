#pragma once
// One `stocksim run`: the world (simulator/world.hpp) and the systems around stockd, driven by a
// scenario (simulator/scenario.hpp) against a running stockd, measured (simulator/report.hpp).
//
// The systems around stockd:
//   channels   the three emulators (shopify, amazon, webhook) in this process on loopback; stockd
//              pushes to them; their customers (simulator/buyer.hpp) buy against what they show,
//              each sale judged by the world at that instant, and send order_created to stockd
//              with delay, jitter (reordering) and duplicates.
//   WMS        one thread: once stockd acknowledged an order and the fulfilment delay passed, it
//              ships it (order_fulfilled) or, for an oversold unit, cancels it (order_cancelled);
//              with `replenish`, it raises purchase orders (po_created, then received after the
//              lead time) for SKUs running low. It also sends the initial stock (received).
//   sampler    one thread: every 50 ms, for up to 200 SKUs (the hot ones first), compares what
//              each channel shows with the world's sellable stock (staleness).
//   probe      one thread: lowers a SKU no customer buys by 1 every probe_period and times,
//              from stockd's acknowledgement, how long each channel takes to show it.
//
// A run: seed the channels with the initial stock (the merchant set the shop up) and send it to
// stockd; traffic for the scenario's duration, with a progress line; stop the customers and let
// their orders drain; let the WMS settle every order; then poll until every channel shows
// stockd's expected value (GET /v1/skus/{sku}) and stockd's on-hand equals the world's.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "simulator/amazon.hpp"
#include "simulator/listener.hpp"
#include "simulator/report.hpp"
#include "simulator/scenario.hpp"
#include "simulator/shopify.hpp"
#include "simulator/webhook.hpp"

namespace stockd::simulator {

/// Loopback ports of the three emulators (0: any free port, see channel_set::ports()).
struct channel_ports {
  std::uint16_t shopify = 0;
  std::uint16_t amazon = 0;
  std::uint16_t webhook = 0;
};

/// The environment variables stockd's config names for the emulators' credentials; `run` and
/// `demo` export them (their values are the emulators' defaults).
inline constexpr const char* shopify_token_env = "STOCKSIM_SHOPIFY_TOKEN";
inline constexpr const char* amazon_token_env = "STOCKSIM_AMAZON_TOKEN";
inline constexpr const char* webhook_secret_env = "STOCKSIM_WEBHOOK_SECRET";
void export_channel_credentials();

/// The three channel emulators of a run, each behind its own loopback listener.
class channel_set {
public:
  explicit channel_set(channel_ports ports = {});
  ~channel_set();
  channel_set(const channel_set&) = delete;
  channel_set& operator=(const channel_set&) = delete;
  std::optional<std::string> start();
  void stop();
  channel_ports ports() const;
  /// In channel_ids() order.
  emulator& at(std::size_t i);

private:
  channel_ports requested_;
  shopify_emulator shopify_;
  amazon_emulator amazon_;
  webhook_emulator webhook_;
  std::vector<std::unique_ptr<listener>> listeners_;
};

/// How stockd pushes to the channels: on every change (what stockd is for), every interval (the
/// batch-sync baseline), or not at all (connector "none": a deliberately broken setting that
/// shows the checker failing).
struct push_setting {
  enum class kind : std::uint8_t { event, interval, none };
  kind mode = kind::event;
  std::chrono::milliseconds interval{5'000};
  std::string label() const;
};
/// "event", "interval:MS" or "none"; nothing when it does not parse.
std::optional<push_setting> parse_push_setting(std::string_view text);

/// A stockd config for the scenario's locations and these channel ports. `listen` and
/// `data_dir` are left out when empty (stockd's --listen / --data then decide).
std::string stockd_config(const scenario& s, channel_ports ports, const push_setting& push,
                          const std::string& listen = {}, const std::string& data_dir = {});

struct run_options {
  scenario scn;
  std::string stockd_url;  // http://host:port
  std::string token;       // bearer token with ingest and read scopes
  std::string label = "stockd (push = event)";
  std::chrono::milliseconds drain_timeout{30'000};        // orders and WMS after traffic stops
  std::chrono::milliseconds convergence_timeout{60'000};  // then channels and on-hand
  /// A progress line per second while it runs (elapsed, events/s, acknowledged, oversold so
  /// far, each channel's lag); on a terminal (`progress_tty`) one line rewritten in place.
  std::ostream* progress = nullptr;
  bool progress_tty = false;
  /// stockd's resident memory, when the caller started it (sampled with the timeline).
  std::function<std::optional<std::uint64_t>()> stockd_rss;
};

run_summary run_scenario(const run_options& opts, channel_set& channels);

} // namespace stockd::simulator
