#pragma once
// Customers who buy against the displayed quantity. At `buys_per_second` (exponential gaps, one
// seed) a customer buys one unit of a random SKU that shows stock: the emulator decrements its
// own quantity, as the real channel does when it sells, and the sale goes to stockd as an
// `order_created` event (source and channel = the channel id, no location: stockd places it by
// the channel's location priority). Delivery can be delayed, jittered (which reorders) and
// duplicated; a 503, 429, 5xx or transport failure is retried with capped backoff (Retry-After
// when given), at most `attempts_max` times.
//
// Threads: one buys, one delivers (in series, one keep-alive connection). Bounded: at most
// `queue_max` undelivered orders; past it the customers stop buying (counted), so every unit the
// channel sold is an order that was or will be sent.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <mutex>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "simulator/emulator.hpp"

namespace stockd::simulator {

/// A sale as the channel made it (reported under the emulator's lock: keep it short).
struct sale {
  std::string_view channel_id;
  std::string_view sku;
  std::string_view order_id;
  std::string_view event_id;  // the order_created event's id (its source is the channel id)
};

/// How stockd answered one send of an order. `latency` is that send's round trip.
enum class delivery_outcome : std::uint8_t {
  accepted,   // 2xx, the event's status "accepted"
  duplicate,  // 2xx, "duplicate": stockd had it already (a duplicate send, or a retry)
  rejected,   // a 4xx, or the event's status "rejected": stockd refused it, not retried
  retrying,   // 429, 5xx or no answer: sent again later
  failed,     // the same on the last attempt: given up
};

struct delivery {
  std::string_view event_id;
  delivery_outcome outcome;
  std::chrono::nanoseconds latency;
  int attempt;  // 1 for the first send
  /// accepted: where stockd placed the line (its result's `location`); empty otherwise.
  std::string_view location = {};
};

struct buyer_options {
  double buys_per_second = 0;
  std::string channel_id = "channel";
  std::string stockd_url;  // http://host:port; empty: buy, and only count the orders
  std::string token;       // bearer token for POST /v1/events
  std::chrono::milliseconds delay{0};   // every order waits this long before it is sent
  std::chrono::milliseconds jitter{0};  // plus a random 0..jitter: orders overtake each other
  double duplicate_probability = 0;     // the same order sent once more, later
  std::size_t queue_max = 10'000;
  int attempts_max = 8;
  std::chrono::milliseconds retry_delay_first{100};
  std::chrono::milliseconds retry_delay_max{2'000};
  std::chrono::milliseconds request_timeout{5'000};
  std::uint64_t seed = 1;
  /// Which SKU a customer wants (e.g. a Zipf draw); empty: a random SKU the channel shows in
  /// stock. A customer who finds the SKU at 0 buys nothing (counted out_of_stock).
  std::function<std::string(std::mt19937_64&)> choose_sku;
  /// Called for every sale, under the emulator's lock, before the order is queued.
  std::function<void(const sale&)> on_sale;
  /// Called for every send of an order with stockd's answer, on the delivery thread.
  std::function<void(const delivery&)> on_delivery;
};

class buyer {
public:
  buyer(buyer_options opts, emulator& channel);
  ~buyer();
  buyer(const buyer&) = delete;
  buyer& operator=(const buyer&) = delete;

  /// An error message when the options are unusable (e.g. a bad URL).
  std::optional<std::string> start();
  /// Stops buying, lets queued orders go out for up to `drain`, then stops delivering.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds{0});
  /// Counters as a JSON object (safe from any thread, takes no emulator lock).
  void write_stats(json_writer& out) const;

  std::uint64_t purchases() const noexcept { return purchases_.load(); }
  std::uint64_t delivered() const noexcept { return delivered_.load(); }

private:
  struct pending {
    time_point due;
    std::string event_id;
    std::string body;
    int attempts = 0;
    bool operator>(const pending& o) const { return due > o.due; }
  };
  void buy_loop();
  void deliver_loop();
  void enqueue(pending p);
  /// Sends once; the delay before retrying, or nothing when done (delivered or given up).
  std::optional<std::chrono::milliseconds> deliver(pending& p, class http_client* client);

  buyer_options opts_;
  emulator& channel_;
  std::string host_;
  std::uint16_t port_ = 0;
  std::string nonce_;
  std::mt19937_64 rng_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<pending, std::vector<pending>, std::greater<>> queue_;
  bool stop_buying_ = false;
  bool stop_delivering_ = false;
  std::thread buy_thread_;
  std::thread deliver_thread_;
  std::atomic<std::uint64_t> purchases_{0};
  std::atomic<std::uint64_t> out_of_stock_{0};
  std::atomic<std::uint64_t> backlog_skips_{0};
  std::atomic<std::uint64_t> duplicates_{0};
  std::atomic<std::uint64_t> sends_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::size_t> queued_{0};
};

} // namespace stockd::simulator
