#pragma once
// The generic webhook channel emulator (DESIGN §6 `webhook`): a signed JSON POST of a batch of
// absolute quantities with per-item results, a configurable rate limit (429 + Retry-After) and
// batch size (413), and GETs to read quantities back. Every request, GETs included, is signed:
// X-Stockd-Signature: sha256=<hex HMAC-SHA256 of "<X-Stockd-Timestamp>.<raw body>" (the target
// for a GET)>, the contract of stockd's webhook connector (connectors/webhook_client.hpp).
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include "connectors/webhook_client.hpp"
#include "simulator/emulator.hpp"

namespace stockd::simulator {

struct webhook_options {
  std::string secret = "stocksim-webhook-secret";
  std::string path = "/inventory";  // POST the batch here; GET <path>/<sku>, GET <path>?after=
  double rate = 10;                 // requests/s
  double burst = 10;
  std::size_t batch_items_max = 100;
  std::size_t page_items_max = 1'000;
  bool unknown_sku_creates = false;  // else an unknown SKU is rejected per item
  std::size_t idempotency_keys_max = 100'000;
};

/// The connector's own signing (connectors/webhook_client.hpp): the emulator checks the same.
using connectors::webhook_signature;

class webhook_emulator final : public emulator {
public:
  explicit webhook_emulator(webhook_options opts = {}, clock_fn now = {});

protected:
  reply on_api(const request& req, std::optional<fault_kind> fault, time_point now) override;
  std::string error_body(unsigned status) const override;
  std::optional<std::string> do_set_quantity(std::string_view sku, std::int64_t quantity,
                                             std::string_view location) override;
  std::optional<std::int64_t> do_quantity(std::string_view sku,
                                          std::string_view location) const override;
  std::optional<std::string> do_buy_one(std::mt19937_64& rng) override;
  void write_quantities(json_writer& out) const override;
  void write_rate_limit(json_writer& out, time_point now) override;

private:
  reply post_batch(const request& req);
  reply get_items(const request& req, std::string_view rest);
  struct remembered {
    std::string sku;
    std::int64_t quantity;
  };

  webhook_options opts_;
  connectors::token_bucket bucket_;
  std::map<std::string, std::int64_t, std::less<>> quantities_;
  std::unordered_map<std::string, remembered> keys_;
  std::deque<std::string> keys_order_;
  std::uint64_t requests_admitted_ = 0;
  std::uint64_t bad_signatures_ = 0;
  std::uint64_t items_applied_ = 0;
  std::uint64_t items_duplicate_ = 0;
  std::uint64_t items_rejected_ = 0;
  std::uint64_t batches_too_large_ = 0;
};

} // namespace stockd::simulator
