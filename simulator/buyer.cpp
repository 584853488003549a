#include "simulator/buyer.hpp"

#include <pthread.h>

#include <cstdio>
#include <ctime>
#include <iostream>

#include <simdjson.h>

#include "simulator/http_client.hpp"
#include "simulator/stockd_api.hpp"

namespace stockd::simulator {
namespace {

std::string utc_now_iso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

} // namespace

buyer::buyer(buyer_options opts, emulator& channel)
    : opts_(std::move(opts)), channel_(channel), nonce_(run_nonce()), rng_(opts_.seed) {}

buyer::~buyer() { stop(); }

std::optional<std::string> buyer::start() {
  if (!(opts_.buys_per_second > 0) || opts_.buys_per_second > 100'000) {
    return std::string("buy rate must be in (0, 100000] per second");
  }
  if (!opts_.stockd_url.empty() && !parse_http_url(opts_.stockd_url, host_, port_)) {
    return "stockd URL must be http://host:port, got '" + opts_.stockd_url + "'";
  }
  if (opts_.duplicate_probability < 0 || opts_.duplicate_probability > 1 ||
      opts_.attempts_max < 1 || opts_.queue_max < 1) {
    return std::string("duplicate probability in [0, 1], attempts >= 1, queue >= 1");
  }
  buy_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "stocksim-buy");
    buy_loop();
  });
  deliver_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "stocksim-send");
    deliver_loop();
  });
  return std::nullopt;
}

void buyer::stop(std::chrono::milliseconds drain) {
  {
    std::unique_lock lock(mu_);
    stop_buying_ = true;
    cv_.notify_all();
  }
  if (buy_thread_.joinable()) {
    buy_thread_.join();
  }
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, drain, [this] { return queue_.empty(); });
    stop_delivering_ = true;
    cv_.notify_all();
  }
  if (deliver_thread_.joinable()) {
    deliver_thread_.join();
  }
}

void buyer::enqueue(pending p) {
  std::lock_guard lock(mu_);
  queue_.push(std::move(p));
  queued_.store(queue_.size());
  cv_.notify_all();
}

void buyer::buy_loop() {
  std::exponential_distribution<double> gap(opts_.buys_per_second);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::uint64_t order_number = 0;
  auto next = clock_type::now();
  for (;;) {
    next += std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(gap(rng_)));
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_until(lock, next, [this] { return stop_buying_; })) {
        return;
      }
      if (queue_.size() >= opts_.queue_max) {
        ++backlog_skips_;
        continue;
      }
    }
    // Not under mu_: the emulator's lock is taken by its stats while it reads ours (queued_).
    const std::string order_id = opts_.channel_id + "-" + nonce_ + "-" +
                                 std::to_string(order_number + 1);
    const std::string event_id = order_id + ":1";
    std::string sku;
    auto sold = [&](std::string_view s) {
      sku = s;
      if (opts_.on_sale) {
        opts_.on_sale(sale{opts_.channel_id, s, order_id, event_id});
      }
    };
    const bool bought = opts_.choose_sku ? channel_.buy(opts_.choose_sku(rng_), sold)
                                         : channel_.buy_one(rng_, sold).has_value();
    if (!bought) {
      ++out_of_stock_;
      continue;
    }
    ++order_number;
    ++purchases_;
    json_writer out;
    out.begin_array().begin_object();
    out.field("id", event_id).field("source", opts_.channel_id);
    out.field("type", "order_created").field("sku", sku).field("qty", 1);
    out.field("order_id", order_id).field("line_id", "1").field("channel", opts_.channel_id);
    out.field("occurred_at", utc_now_iso()).end_object().end_array();
    const std::string body = out.take();
    auto jitter = [&] {
      return std::chrono::duration_cast<clock_type::duration>(
          opts_.jitter * uniform(rng_));
    };
    const auto now = clock_type::now();
    enqueue({now + opts_.delay + jitter(), event_id, body, 0});
    if (opts_.duplicate_probability > 0 && uniform(rng_) < opts_.duplicate_probability) {
      ++duplicates_;
      enqueue({now + opts_.delay + jitter() + opts_.jitter / 2 + std::chrono::milliseconds{1},
               event_id, body, 0});
    }
  }
}

void buyer::deliver_loop() {
  std::unique_ptr<http_client> client;
  if (!host_.empty()) {
    client = std::make_unique<http_client>(host_, port_);
  }
  for (;;) {
    pending p;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (stop_delivering_) {
          return;
        }
        if (!queue_.empty() && queue_.top().due <= clock_type::now()) {
          break;
        }
        if (queue_.empty()) {
          cv_.wait(lock);
        } else {
          // A copy: wait_until reads it after the lock is released, while the buyer thread may
          // grow the queue and move its elements (ASan: heap-use-after-free).
          const auto due = queue_.top().due;
          cv_.wait_until(lock, due);
        }
      }
      p = queue_.top();
      queue_.pop();
    }
    auto retry = deliver(p, client.get());
    std::lock_guard lock(mu_);
    if (retry) {
      ++retries_;
      p.due = clock_type::now() + *retry;
      queue_.push(std::move(p));
    }
    queued_.store(queue_.size());
    cv_.notify_all();  // stop() may be waiting for the queue to drain
  }
}

std::optional<std::chrono::milliseconds> buyer::deliver(pending& p, http_client* client) {
  if (client == nullptr) {
    ++delivered_;  // nowhere to send: the order counts as reported
    return std::nullopt;
  }
  client_request req;
  req.method = "POST";
  req.target = "/v1/events";
  req.body = p.body;
  req.timeout = opts_.request_timeout;
  if (!opts_.token.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + opts_.token);
  }
  ++sends_;
  ++p.attempts;
  const auto sent_at = clock_type::now();
  const client_response res = client->send(req);
  auto report = [&](delivery_outcome outcome, std::string_view location = {}) {
    if (opts_.on_delivery) {
      opts_.on_delivery(
          delivery{p.event_id, outcome, clock_type::now() - sent_at, p.attempts, location});
    }
  };
  if (res.status >= 200 && res.status < 300) {
    // One event per body: its status is the only one in the answer.
    if (res.body.find("\"status\":\"rejected\"") != std::string::npos) {
      if (rejected_++ < 5) {
        std::cerr << "stocksim buyer: stockd rejected an order: " << res.body << "\n";
      }
      report(delivery_outcome::rejected);
      return std::nullopt;
    }
    ++delivered_;
    const bool duplicate = res.body.find("\"status\":\"duplicate\"") != std::string::npos;
    // Where stockd placed the line (an accepted order that named no location): its result's
    // `location`. Not on a duplicate (docs/semantics.md, "The answer says where").
    std::string location;
    if (!duplicate) {
      thread_local simdjson::dom::parser parser;
      simdjson::dom::element root;
      simdjson::dom::array results;
      if (parser.parse(res.body).get(root) == simdjson::SUCCESS &&
          root["results"].get_array().get(results) == simdjson::SUCCESS) {
        for (simdjson::dom::element r : results) {
          std::string_view where;
          if (r["location"].get_string().get(where) == simdjson::SUCCESS) {
            location = std::string(where);
          }
        }
      }
    }
    report(duplicate ? delivery_outcome::duplicate : delivery_outcome::accepted, location);
    return std::nullopt;
  }
  const bool transient = res.status == 0 || res.status == 429 || res.status >= 500;
  if (!transient) {
    if (rejected_++ < 5) {
      std::cerr << "stocksim buyer: stockd refused an order (" << res.status << "): " << res.body
                << "\n";
    }
    report(delivery_outcome::rejected);
    return std::nullopt;
  }
  if (p.attempts >= opts_.attempts_max) {
    ++failed_;
    report(delivery_outcome::failed);
    return std::nullopt;
  }
  report(delivery_outcome::retrying);
  auto delay = opts_.retry_delay_first * (1 << std::min(p.attempts - 1, 10));
  if (auto after = res.header("retry-after"); !after.empty()) {
    delay = std::chrono::milliseconds(1000 * std::atoll(after.c_str()));
  }
  return std::min(delay, opts_.retry_delay_max);
}

void buyer::write_stats(json_writer& out) const {
  out.begin_object();
  out.field("buys_per_second", opts_.buys_per_second);
  out.field("purchases", purchases_.load()).field("out_of_stock", out_of_stock_.load());
  out.field("backlog_skips", backlog_skips_.load()).field("duplicates", duplicates_.load());
  out.field("sends", sends_.load()).field("delivered", delivered_.load());
  out.field("retries", retries_.load()).field("rejected", rejected_.load());
  out.field("failed", failed_.load()).field("queued", static_cast<std::uint64_t>(queued_.load()));
  out.end_object();
}

} // namespace stockd::simulator
