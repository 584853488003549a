#include "simulator/pos.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstdio>

#include <simdjson.h>

#include "connectors/json_writer.hpp"
#include "simulator/http_client.hpp"
#include "simulator/stockd_api.hpp"

namespace stockd::simulator {

using std::chrono::milliseconds;

pos_till::pos_till(pos_options opts)
    : opts_(std::move(opts)), nonce_(run_nonce()), rng_(opts_.seed) {}

pos_till::~pos_till() { stop(); }

std::optional<std::string> pos_till::start() {
  if (!(opts_.buys_per_second > 0) || opts_.buys_per_second > 10'000 || opts_.pack < 1 ||
      !opts_.choose_sku || opts_.ledger == nullptr) {
    return std::string("POS: rate in (0, 10000], pack >= 1, a SKU chooser and a ledger");
  }
  if (!parse_http_url(opts_.stockd_url, host_, port_)) {
    return "stockd URL must be http://host:port, got '" + opts_.stockd_url + "'";
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "stocksim-pos");
    loop();
  });
  return std::nullopt;
}

void pos_till::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

pos_counts pos_till::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void pos_till::loop() {
  http_client client(host_, port_);
  std::exponential_distribution<double> gap(opts_.buys_per_second);
  auto next = std::chrono::steady_clock::now();
  for (std::uint64_t number = 1;; ++number) {
    next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(gap(rng_)));
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_until(lock, next, [this] { return stop_; })) {
        return;
      }
    }
    serve(client, number);
  }
}

void pos_till::serve(http_client& client, std::uint64_t number) {
  const std::string sku = opts_.choose_sku(rng_);
  const std::string order_id = opts_.channel_id + "-" + nonce_ + "-" + std::to_string(number);
  connectors::json_writer body;
  body.begin_object().field("key", order_id).field("sku", sku).field("qty", opts_.pack);
  body.field("channel", opts_.channel_id);
  body.field("expires_in_s", static_cast<std::int64_t>(opts_.hold_expiry.count())).end_object();
  const call_result reserved =
      call(client, "POST", "/v1/reservations", body.take(),
           opts_.channel_id + "|reserve:" + order_id, "reservation_requested", true);
  {
    std::lock_guard lock(mu_);
    ++counts_.requested;
    if (reserved.status == 409) {
      ++counts_.refused;
    } else if (reserved.status != 201) {
      ++counts_.failed;
    }
  }
  if (reserved.status != 201) {
    return;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view id;
  std::string_view held_at;  // where stockd holds it: the commit opens the line there
  if (parser.parse(reserved.body).get(root) || root["id"].get_string().get(id) ||
      root["location"].get_string().get(held_at)) {
    std::lock_guard lock(mu_);
    ++counts_.failed;
    return;
  }
  const std::string reservation_id(id);  // escaped by stockd to URL-safe characters
  const std::string location(held_at);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const bool abandon = uniform(rng_) < opts_.abandon_probability;
  {
    std::lock_guard lock(mu_);
    ++counts_.granted;
  }
  if (abandon) {
    const call_result released =
        call(client, "DELETE", "/v1/reservations/" + reservation_id, {},
             opts_.channel_id + "|release:" + reservation_id, "reservation_released", false);
    std::lock_guard lock(mu_);
    ++(released.status == 200 ? counts_.abandoned : counts_.failed);
    return;
  }
  if (opts_.on_sale) {
    opts_.on_sale(sku, order_id, opts_.pack, location);
  }
  connectors::json_writer commit;
  commit.begin_object().field("order_id", order_id).field("line_id", "1").end_object();
  const call_result committed =
      call(client, "POST", "/v1/reservations/" + reservation_id + "/commit", commit.take(),
           opts_.channel_id + "|commit:" + reservation_id, "reservation_committed", false);
  if (committed.status == 200 && opts_.on_committed) {
    opts_.on_committed(order_id);
  }
  std::lock_guard lock(mu_);
  ++(committed.status == 200 ? counts_.committed : counts_.failed);
}

pos_till::call_result pos_till::call(http_client& client, const std::string& method,
                                     const std::string& target, const std::string& body,
                                     const std::string& key, std::string_view kind,
                                     bool conflict_is_answer) {
  event_ledger& ledger = *opts_.ledger;
  ledger.created(key, kind);
  client_request req;
  req.method = method;
  req.target = target;
  req.body = body;
  req.timeout = opts_.request_timeout;
  req.headers.emplace_back("Authorization", "Bearer " + opts_.token);
  if (!body.empty()) {
    req.headers.emplace_back("Content-Type", "application/json");
  }
  milliseconds delay = opts_.retry_delay_first;
  for (int attempt = 1;; ++attempt) {
    const auto sent_at = std::chrono::steady_clock::now();
    const client_response res = client.send(req);
    const auto latency = std::chrono::steady_clock::now() - sent_at;
    const bool transient = res.status == 0 || res.status == 429 || res.status >= 500;
    if (!transient) {
      const bool answered = (res.status >= 200 && res.status < 300) ||
                            (conflict_is_answer && res.status == 409);
      ledger.answered(key, answered ? answer::accepted : answer::rejected, latency);
      if (!answered) {
        std::fprintf(stderr, "stocksim pos: %s %s answered %u: %.300s\n", method.c_str(),
                     target.c_str(), res.status, res.body.c_str());
      }
      return {res.status, res.body};
    }
    if (attempt >= opts_.attempts_max) {
      ledger.answered(key, answer::failed, latency);
      return {res.status, res.body};
    }
    ledger.answered(key, answer::retrying, latency);
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, opts_.retry_delay_max);
  }
}

} // namespace stockd::simulator
