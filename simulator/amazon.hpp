#pragma once
// The Amazon SP-API Listings Items emulator (reference/channels.md, "Amazon"): patchListingsItem
// with a JSON Patch on /attributes/fulfillment_availability, getListingsItem to read it back, the
// per-operation token bucket (5 requests/s, burst 5) answering 429 QuotaExceeded, and
// x-amzn-RateLimit-Limit on every response. Not done: JSON_LISTINGS_FEED (see README.md).
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "simulator/emulator.hpp"

namespace stockd::simulator {

struct amazon_options {
  std::string access_token = "Atza|stocksim";
  std::string seller_id = "A1STOCKSIM";
  std::string marketplace_id = "ATVPDKIKX0DER";
  double patch_rate = 5;  // requests/s per account-application pair
  double patch_burst = 5;
  /// getListingsItem has its own bucket; channels.md gives no figure, so the same one.
  double get_rate = 5;
  double get_burst = 5;
  std::int64_t lead_time_days_default = 2;  // on seeded listings, so a `replace` visibly resets it
};

class amazon_emulator final : public emulator {
public:
  explicit amazon_emulator(amazon_options opts = {}, clock_fn now = {});
  /// The listing's lead time (nullopt: none, or no listing): a `replace` without it resets it.
  std::optional<std::int64_t> lead_time_days(std::string_view sku);

protected:
  reply on_api(const request& req, std::optional<fault_kind> fault, time_point now) override;
  std::string error_body(unsigned status) const override;
  void decorate(response& res) const override;
  std::optional<std::string> do_set_quantity(std::string_view sku, std::int64_t quantity,
                                             std::string_view location) override;
  std::optional<std::int64_t> do_quantity(std::string_view sku,
                                          std::string_view location) const override;
  std::optional<std::string> do_buy_one(std::mt19937_64& rng) override;
  void write_quantities(json_writer& out) const override;
  void write_rate_limit(json_writer& out, time_point now) override;

private:
  struct listing {
    bool has_availability = false;
    std::int64_t quantity = 0;
    std::optional<std::int64_t> lead_time_days;
    std::optional<std::string> restock_date;
  };
  reply patch(const request& req, const std::string& sku, time_point now);
  reply get(const request& req, const std::string& sku, time_point now);

  amazon_options opts_;
  connectors::token_bucket patch_bucket_;
  connectors::token_bucket get_bucket_;
  std::map<std::string, listing, std::less<>> listings_;
  std::uint64_t patches_accepted_ = 0;
  std::uint64_t patches_invalid_ = 0;
  std::uint64_t gets_ = 0;
  std::uint64_t lead_time_resets_ = 0;
  std::uint64_t submission_ = 0;
};

} // namespace stockd::simulator
