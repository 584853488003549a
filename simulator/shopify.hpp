#pragma once
// The Shopify GraphQL Admin API emulator (reference/channels.md, "Shopify"): the
// inventorySetQuantities mutation with changeFromQuantity compare-and-set and @idempotent keys,
// a paginated inventoryItems read-back, and the cost-based leaky bucket reported in every
// response. Not a GraphQL parser: it recognises the operation in the query text and takes the
// data from `variables`; simulator/README.md gives the exact shapes.
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "simulator/emulator.hpp"

namespace stockd::simulator {

struct shopify_options {
  std::string access_token = "shpat_stocksim";
  // The leaky bucket: channels.md gives 2,000 points on a basic plan and restore rates of
  // 100 / 200 / 1,000 / 2,000 points/s by plan (older guides: 1,000 at 50/s).
  double bucket_max = 2'000;
  double restore_per_second = 100;
  double mutation_cost = 10;        // "a mutation costs about 10 points"
  double query_cost_max = 1'000;    // "a single query may cost at most 1,000"
  std::size_t quantities_max = 250;
  std::int64_t quantity_abs_max = 2'000'000'000;
  std::size_t page_size_max = 250;  // `first` of a connection
  std::size_t idempotency_keys_max = 100'000;  // oldest forgotten first
  /// From this API version on, changeFromQuantity (or an explicit null) and @idempotent are
  /// required. "unstable" counts as the newest version.
  std::string strict_from_version = "2026-04";
  /// Honour the read-back's `query` (`sku:"A" OR sku:"B"`) as Shopify's search does. Off: every
  /// item page by page, whatever the query (the emulator's first behaviour, kept for tests of
  /// paging). On by default since stockd asks for a page only as large as the SKUs it reads.
  bool sku_search = true;
  /// Location GIDs the shop has; items are stocked at the first unless seeded elsewhere.
  std::vector<std::string> locations = {"gid://shopify/Location/1"};
};

class shopify_emulator final : public emulator {
public:
  explicit shopify_emulator(shopify_options opts = {}, clock_fn now = {});
  /// The item's GID, e.g. gid://shopify/InventoryItem/3 (the read-back query also gives it).
  std::optional<std::string> item_id(std::string_view sku);

protected:
  reply on_api(const request& req, std::optional<fault_kind> fault, time_point now) override;
  bool supports(fault_kind) const override { return true; }
  std::string error_body(unsigned status) const override;
  void decorate(response& res) override;
  std::optional<std::string> do_set_quantity(std::string_view sku, std::int64_t quantity,
                                             std::string_view location) override;
  std::optional<std::int64_t> do_quantity(std::string_view sku,
                                          std::string_view location) const override;
  std::optional<std::string> do_buy_one(std::mt19937_64& rng) override;
  void write_quantities(json_writer& out) const override;
  void write_rate_limit(json_writer& out, time_point now) override;

private:
  struct item {
    std::string sku;
    std::map<std::size_t, std::int64_t> available;  // location index → quantity
  };
  struct remembered {
    std::string variables;  // minified
    std::string data;       // the `data` member answered the first time
  };
  struct cost {
    double requested = 0;
    std::optional<double> actual;
  };

  std::string set_quantities(simdjson::dom::element variables, bool strict, bool stale_fault,
                             std::string& error_code, std::string& error_message);
  std::string read_items(simdjson::dom::element variables, std::string& error_code,
                         std::string& error_message, std::size_t& returned);
  std::string envelope(std::string_view data, std::string_view error_code,
                       std::string_view error_message, const cost& c, time_point now);
  std::optional<std::size_t> location_index(std::string_view gid) const;
  std::optional<std::size_t> item_index(std::string_view gid) const;

  shopify_options opts_;
  connectors::cost_bucket bucket_;  // Shopify's: the same bucket stockd paces itself with
  std::vector<item> items_;  // index + 1 is the GID number
  std::unordered_map<std::string, std::size_t> by_sku_;
  std::unordered_map<std::string, remembered> idempotency_;
  std::deque<std::string> idempotency_order_;
  double points_requested_ = 0;
  double points_actual_ = 0;
  std::uint64_t mutations_ = 0;
  std::uint64_t stale_answers_ = 0;
  std::uint64_t replays_ = 0;
  std::uint64_t responses_ = 0;  // numbers X-Request-Id
};

} // namespace stockd::simulator
