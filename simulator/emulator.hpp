#pragma once
// The common half of every channel emulator: the lock that owns its state, fault injection, the
// test API under /_emulator/ and the counters. A concrete emulator (shopify, amazon, webhook)
// implements the channel's own routes, store and limits in the protected virtuals, which always
// run under the lock.
//
// Test API (never rate limited, never faulted, no credentials — loopback only):
//   GET  /_emulator/stats        counters as JSON
//   GET  /_emulator/faults       the current fault spec {"faults": "..."}
//   POST /_emulator/faults       body: a fault spec (faults.hpp); replaces the current one
//   GET  /_emulator/quantities   {"items":[{"sku":..,"location":..,"quantity":..}, ...]}
//   POST /_emulator/quantities   {"items":[{"sku":..,"quantity":..,"location":..(optional)}]}
//                                creates or sets items (the merchant's catalog on the channel)
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <simdjson.h>

#include "simulator/faults.hpp"
#include "connectors/json_writer.hpp"
#include "connectors/rate_limiter.hpp"

namespace stockd::simulator {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
using clock_type = connectors::limiter_clock;
using time_point = connectors::limiter_time;
using clock_fn = std::function<time_point()>;
using connectors::json_writer;

/// What the transport does with a reply: write it; or hold the connection for `hang` and then
/// close it without writing (a timeout as the client sees it); or reset the connection.
enum class disposition : std::uint8_t { respond, hang_then_close, reset };

struct reply {
  response res;
  disposition after = disposition::respond;
  std::chrono::milliseconds hang{0};
};

/// Builds a response with a JSON (or other) body; keep-alive follows the request.
response make_response(const request& req, http::status status, std::string body,
                       std::string_view content_type = "application/json");

class emulator {
public:
  emulator(std::string kind, clock_fn now);
  virtual ~emulator() = default;
  emulator(const emulator&) = delete;
  emulator& operator=(const emulator&) = delete;

  /// Thread-safe. Routes /_emulator/* to the test API, everything else to the channel.
  reply handle(const request& req);

  /// Replaces the fault settings; an error message when the spec does not parse.
  std::optional<std::string> set_faults(std::string_view spec);
  /// Creates or sets one item (location empty: the emulator's default location).
  std::optional<std::string> set_quantity(std::string_view sku, std::int64_t quantity,
                                          std::string_view location = {});
  /// The item's quantity at `location` (empty: the default one), if the item exists there.
  std::optional<std::int64_t> quantity(std::string_view sku, std::string_view location = {});
  /// A customer buys one unit of a random SKU that shows stock: the channel decrements its own
  /// quantity, as a real channel does when it sells. The SKU bought, or nothing when all are 0.
  /// `sold`, when given, runs under the emulator's lock right after the decrement, so whoever
  /// keeps the ground truth (simulator/world) sees the sale at the same instant the channel did.
  std::optional<std::string> buy_one(std::mt19937_64& rng,
                                     const std::function<void(std::string_view sku)>& sold = {});
  /// A customer buys one unit of `sku` if the channel shows any; false when it shows 0 or has no
  /// such item. `sold` as for buy_one.
  bool buy(std::string_view sku, const std::function<void(std::string_view sku)>& sold = {});
  /// Drift for reconciliation tests: the next `n` quantities a push sets are answered as applied
  /// and not kept (a push the channel lost). Every channel's push path asks lose_this_set().
  void lose_next_sets(std::size_t n);

  std::string stats_json();
  std::string quantities_json();
  const std::string& kind() const noexcept { return kind_; }
  /// Extra counters (the buyer's) written under "buyer" in the stats.
  void set_extra_stats(std::function<void(json_writer&)> writer);

protected:
  // All of these run under mu_.
  /// Before every request (test API included) and every public accessor: work the channel does
  /// in the background (Amazon's feed queue) catches up with the clock here, so a test that
  /// moves the clock sees it done without any thread of the emulator's own.
  virtual void on_time(time_point) {}
  virtual reply on_api(const request& req, std::optional<fault_kind> fault, time_point now) = 0;
  virtual bool supports(fault_kind kind) const { return kind != fault_kind::stale_cas; }
  /// The channel's own shape of a 429 / 5xx answer (the status is set by the caller).
  virtual std::string error_body(unsigned status) const = 0;
  /// Headers every channel response carries (e.g. x-amzn-RateLimit-Limit, a request id), faults
  /// and refusals included. Not const: a request id is counted.
  virtual void decorate(response&) {}
  virtual std::optional<std::string> do_set_quantity(std::string_view sku, std::int64_t quantity,
                                                     std::string_view location) = 0;
  virtual std::optional<std::int64_t> do_quantity(std::string_view sku,
                                                  std::string_view location) const = 0;
  virtual std::optional<std::string> do_buy_one(std::mt19937_64& rng) = 0;
  virtual void write_quantities(json_writer& out) const = 0;
  virtual void write_rate_limit(json_writer& out, time_point now) = 0;

  /// Counted by the concrete emulator: a call that reached its store (items = its batch size).
  void count_call_items(std::size_t items);
  void count_throttled() { ++throttled_; }
  const fault_plan& faults() const noexcept { return faults_; }
  fault_plan& faults() noexcept { return faults_; }
  /// A DOM parser bounded in depth, for request bodies (the body limit bounds their size).
  simdjson::dom::parser& json_parser() noexcept { return parser_; }
  double seconds_since_start(time_point now) const;
  /// True (and one fewer to lose) when the quantity being set now is to be lost.
  bool lose_this_set() noexcept {
    if (lose_next_ == 0) {
      return false;
    }
    --lose_next_;
    return true;
  }
  /// For a concrete emulator's own public accessors (the virtuals already run under it).
  std::mutex& state_mutex() noexcept { return mu_; }

private:
  reply test_api(const request& req);
  reply fault_reply(const request& req, fault_kind kind);
  void count_response(unsigned status);

  std::string kind_;
  clock_fn now_;
  time_point started_;
  std::mutex mu_;
  fault_plan faults_;
  simdjson::dom::parser parser_;
  std::function<void(json_writer&)> extra_stats_;
  std::uint64_t calls_ = 0;
  std::uint64_t item_calls_ = 0;
  std::uint64_t items_ = 0;
  std::uint64_t items_per_call_max_ = 0;
  std::uint64_t throttled_ = 0;
  std::size_t lose_next_ = 0;
  std::array<std::uint64_t, 6> responses_{};  // 2xx, 3xx, 4xx, 429, 5xx, none (hang/reset)
};

/// Beast 1.74 hands out boost::string_view.
inline std::string_view to_std(boost::beast::string_view s) noexcept { return {s.data(), s.size()}; }
/// Decodes %XX (and '+' as a space when `plus_is_space`).
std::string percent_decode(std::string_view raw, bool plus_is_space = false);
/// A query parameter's value, percent-decoded; nothing when absent.
std::optional<std::string> query_param(std::string_view target, std::string_view name);
std::string_view target_path(std::string_view target);

} // namespace stockd::simulator
