#pragma once
// The store till of a run (channel `pos`): a customer who reserves through stockd before buying.
// At `buys_per_second` (exponential gaps, one seed) a customer wants one pack of a SKU and asks
// stockd to hold it: POST /v1/reservations {"key": <order id>, "sku", "qty": pack units,
// "channel": "pos", "expires_in_s"} (reserve-if-available, base units). A 409 means stockd had
// not enough available: the customer leaves with nothing. On a 201 the customer buys (the world
// judges the sale, simulator/world.hpp reserved_sale) and the sale reaches stockd by committing
// the hold (POST /v1/reservations/{id}/commit {"order_id", "line_id": "1"}); or, with
// `abandon_probability`, walks away and the hold is released (DELETE /v1/reservations/{id}).
//
// Every call is retried on no answer, 429 or 5xx with capped backoff (the same key or id: safe,
// stockd's reservations are idempotent), at most `attempts_max` times. Each call is an entry of
// the run's event ledger (kinds reservation_requested / _committed / _released); a 409 on a
// request is stockd's answer, not a loss. One thread, one kept-alive connection.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <condition_variable>

#include "simulator/report.hpp"

namespace stockd::simulator {

struct pos_options {
  double buys_per_second = 0;
  std::string channel_id = "pos";
  std::int64_t pack = 1;  // units per sale, in base units
  double abandon_probability = 0;
  std::string stockd_url;
  std::string token;
  std::uint64_t seed = 1;
  int attempts_max = 8;
  std::chrono::milliseconds retry_delay_first{100};
  std::chrono::milliseconds retry_delay_max{2'000};
  std::chrono::milliseconds request_timeout{5'000};
  /// A hold the till lost track of (no answer to its commit) gives its stock back by then.
  std::chrono::seconds hold_expiry{60};
  std::function<std::string(std::mt19937_64&)> choose_sku;
  /// The customer buys what stockd held at `location` (POST /v1/reservations answers where):
  /// the world's judgment (true: covered).
  std::function<bool(std::string_view sku, std::string_view order_id, std::int64_t qty,
                     std::string_view location)>
      on_sale;
  /// stockd answered the commit: the order is stockd's now (the WMS may settle it).
  std::function<void(std::string_view order_id)> on_committed;
  event_ledger* ledger = nullptr;
};

struct pos_counts {
  std::uint64_t requested = 0;
  std::uint64_t granted = 0;
  std::uint64_t refused = 0;
  std::uint64_t abandoned = 0;
  std::uint64_t committed = 0;
  std::uint64_t failed = 0;
};

class pos_till {
public:
  explicit pos_till(pos_options opts);
  ~pos_till();
  pos_till(const pos_till&) = delete;
  pos_till& operator=(const pos_till&) = delete;

  std::optional<std::string> start();
  /// Stops taking customers; the one being served finishes first.
  void stop();
  pos_counts counts() const;

private:
  void loop();
  void serve(class http_client& client, std::uint64_t number);
  struct call_result {
    unsigned status = 0;
    std::string body;
  };
  /// One call with its retries, recorded in the ledger under `key` (`kind`).
  call_result call(http_client& client, const std::string& method, const std::string& target,
                   const std::string& body, const std::string& key, std::string_view kind,
                   bool conflict_is_answer);

  pos_options opts_;
  std::string host_;
  std::uint16_t port_ = 0;
  std::string nonce_;
  std::mt19937_64 rng_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  pos_counts counts_;  // under mu_
  std::thread thread_;
};

} // namespace stockd::simulator
