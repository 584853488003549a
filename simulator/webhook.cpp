#include "simulator/webhook.hpp"

#include <openssl/crypto.h>

#include <charconv>
#include <cmath>
#include <vector>

namespace stockd::simulator {
namespace {

std::string error_json(std::string_view message) {
  json_writer out;
  out.begin_object().field("error", message).end_object();
  return out.take();
}

} // namespace

webhook_emulator::webhook_emulator(webhook_options opts, clock_fn now)
    : emulator("webhook", now),
      opts_(std::move(opts)),
      bucket_(opts_.rate, opts_.burst, now ? now() : clock_type::now()) {}

std::string webhook_emulator::error_body(unsigned status) const {
  return error_json(status == 429 ? "rate limited" : "server error (emulator fault)");
}

reply webhook_emulator::on_api(const request& req, std::optional<fault_kind>, time_point now) {
  reply r;
  const std::string_view path = target_path(to_std(req.target()));
  if (path.substr(0, opts_.path.size()) != opts_.path) {
    r.res = make_response(req, http::status::not_found, error_json("no such path"));
    return r;
  }
  // stockd's webhook contract (connectors/webhook_client.hpp): HMAC over "<timestamp>.<body>"
  // for a POST, "<timestamp>.<target>" for a GET.
  const std::string_view timestamp = to_std(req["X-Stockd-Timestamp"]);
  const std::string expected = webhook_signature(
      opts_.secret, timestamp,
      req.method() == http::verb::get ? to_std(req.target()) : std::string_view(req.body()));
  const auto given = req["X-Stockd-Signature"];
  if (timestamp.empty() || given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    ++bad_signatures_;
    r.res = make_response(req, http::status::unauthorized,
                          error_json("X-Stockd-Signature: expected sha256=<hex HMAC-SHA256 of "
                                     "\"<X-Stockd-Timestamp>.<body or target>\">"));
    return r;
  }
  if (!bucket_.try_take(now)) {
    count_throttled();
    r.res = make_response(req, http::status::too_many_requests, error_body(429));
    const double wait = std::chrono::duration<double>(bucket_.wait(now)).count();
    r.res.set(http::field::retry_after,
              std::to_string(std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait)))));
    return r;
  }
  ++requests_admitted_;
  std::string_view rest = path.substr(opts_.path.size());
  if (req.method() == http::verb::post && rest.empty()) {
    return post_batch(req);
  }
  if (req.method() == http::verb::get) {
    return get_items(req, rest);
  }
  r.res = make_response(req, http::status::method_not_allowed,
                        error_json("POST " + opts_.path + " or GET " + opts_.path + "[/sku]"));
  return r;
}

reply webhook_emulator::post_batch(const request& req) {
  reply r;
  simdjson::dom::element doc;
  simdjson::dom::array items;
  if (json_parser().parse(req.body()).get(doc) || doc["items"].get_array().get(items)) {
    r.res = make_response(req, http::status::bad_request,
                          error_json("items: expected {\"items\": [...]}"));
    return r;
  }
  if (items.size() > opts_.batch_items_max) {
    ++batches_too_large_;
    r.res = make_response(req, http::status::payload_too_large,
                          error_json("items: " + std::to_string(items.size()) +
                                     " in the batch; at most " +
                                     std::to_string(opts_.batch_items_max)));
    return r;
  }
  json_writer out;
  out.begin_object().key("results").begin_array();
  std::size_t index = 0;
  for (auto item : items) {
    std::string_view sku;
    std::int64_t quantity = 0;
    std::string_view key;
    out.begin_object().field("index", static_cast<std::uint64_t>(index++));
    auto reject = [&](std::string_view error) {
      ++items_rejected_;
      out.field("status", "rejected").field("code", "rejected").field("error", error).end_object();
    };
    if (item["sku"].get_string().get(sku) || sku.empty()) {
      reject("sku: a non-empty string is required");
      continue;
    }
    out.field("sku", sku);
    if (item["quantity"].get_int64().get(quantity) || quantity < 0) {
      reject("quantity: an integer >= 0 is required");
      continue;
    }
    if (item["idempotency_key"].get_string().get(key) || key.empty()) {
      reject("idempotency_key: a non-empty string is required");
      continue;
    }
    out.field("idempotency_key", key);
    if (auto seen = keys_.find(std::string(key)); seen != keys_.end()) {
      if (seen->second.sku != sku || seen->second.quantity != quantity) {
        reject("idempotency_key: already used for a different sku or quantity");
        continue;
      }
      // The same key again answers what the first call did: applied, nothing applied twice.
      ++items_duplicate_;
      out.field("status", "applied").field("quantity", quantity).field("replayed", true)
          .end_object();
      continue;
    }
    if (faults().bad_sku(sku)) {
      reject("rejected by the channel (emulator bad-skus fault)");
      continue;
    }
    auto it = quantities_.find(sku);
    if (it == quantities_.end()) {
      if (!opts_.unknown_sku_creates) {
        reject("sku: unknown to the channel");
        continue;
      }
      it = quantities_.emplace(std::string(sku), 0).first;
    }
    if (!lose_this_set()) {  // else answered applied, not kept: a lost push
      it->second = quantity;
    }
    ++items_applied_;
    if (keys_order_.size() >= opts_.idempotency_keys_max) {
      keys_.erase(keys_order_.front());
      keys_order_.pop_front();
    }
    keys_.emplace(std::string(key), remembered{std::string(sku), quantity});
    keys_order_.emplace_back(key);
    out.field("status", "applied").field("quantity", quantity).end_object();
  }
  out.end_array().end_object();
  count_call_items(items.size());
  r.res = make_response(req, http::status::ok, out.take());
  // A receiver's own request id, as webhook_client reads it back (tracing: GET /v1/trace).
  r.res.set("X-Request-Id", "hook-" + std::to_string(requests_admitted_));
  return r;
}

reply webhook_emulator::get_items(const request& req, std::string_view rest) {
  reply r;
  // stockd's read-back: ?skus=a,b,c (each percent-encoded) → {"quantities": {"a": N, ...}}.
  if (auto list = query_param(to_std(req.target()), "skus")) {
    json_writer out;
    out.begin_object().key("quantities").begin_object();
    std::string_view text = *list;
    while (!text.empty()) {
      const auto comma = text.find(',');
      const std::string sku = percent_decode(text.substr(0, comma));
      text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
      if (auto it = quantities_.find(sku); it != quantities_.end()) {
        out.field(sku, it->second);
      }
    }
    out.end_object().end_object();
    r.res = make_response(req, http::status::ok, out.take());
    return r;
  }
  if (rest.size() > 1 && rest.front() == '/') {
    const std::string sku = percent_decode(rest.substr(1));
    auto it = quantities_.find(sku);
    if (it == quantities_.end()) {
      r.res = make_response(req, http::status::not_found, error_json("sku: unknown"));
      return r;
    }
    json_writer out;
    out.begin_object().field("sku", sku).field("quantity", it->second).end_object();
    r.res = make_response(req, http::status::ok, out.take());
    return r;
  }
  std::size_t limit = opts_.page_items_max;
  if (auto text = query_param(to_std(req.target()), "limit")) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc{} || p != text->data() + text->size() || n == 0 ||
        n > opts_.page_items_max) {
      r.res = make_response(req, http::status::bad_request,
                            error_json("limit: 1.." + std::to_string(opts_.page_items_max)));
      return r;
    }
    limit = n;
  }
  const std::string after = query_param(to_std(req.target()), "after").value_or("");
  auto it = after.empty() ? quantities_.begin() : quantities_.upper_bound(after);
  json_writer out;
  out.begin_object().key("items").begin_array();
  std::size_t n = 0;
  std::string last;
  for (; it != quantities_.end() && n < limit; ++it, ++n) {
    out.begin_object().field("sku", it->first).field("quantity", it->second).end_object();
    last = it->first;
  }
  out.end_array();
  if (it != quantities_.end()) {
    out.field("next_after", last);
  } else {
    out.key("next_after").null();
  }
  out.end_object();
  r.res = make_response(req, http::status::ok, out.take());
  return r;
}

std::optional<std::string> webhook_emulator::do_set_quantity(std::string_view sku,
                                                             std::int64_t quantity,
                                                             std::string_view location) {
  if (sku.empty() || quantity < 0 || !location.empty()) {
    return std::string("webhook: sku non-empty, quantity >= 0, no location");
  }
  quantities_[std::string(sku)] = quantity;
  return std::nullopt;
}

std::optional<std::int64_t> webhook_emulator::do_quantity(std::string_view sku,
                                                          std::string_view) const {
  auto it = quantities_.find(sku);
  return it == quantities_.end() ? std::nullopt : std::optional<std::int64_t>(it->second);
}

std::optional<std::string> webhook_emulator::do_buy_one(std::mt19937_64& rng) {
  std::vector<std::map<std::string, std::int64_t, std::less<>>::iterator> candidates;
  for (auto it = quantities_.begin(); it != quantities_.end(); ++it) {
    if (it->second > 0) {
      candidates.push_back(it);
    }
  }
  if (candidates.empty()) {
    return std::nullopt;
  }
  std::uniform_int_distribution<std::size_t> pick(0, candidates.size() - 1);
  auto it = candidates[pick(rng)];
  --it->second;
  return it->first;
}

void webhook_emulator::write_quantities(json_writer& out) const {
  for (const auto& [sku, quantity] : quantities_) {
    out.begin_object().field("sku", sku).field("quantity", quantity).end_object();
  }
}

void webhook_emulator::write_rate_limit(json_writer& out, time_point now) {
  const double elapsed = seconds_since_start(now);
  out.field("kind", "token_bucket").field("rate", bucket_.rate()).field("burst", bucket_.burst());
  const double capacity = bucket_.burst() + elapsed * bucket_.rate();
  out.field("utilisation",
            capacity > 0 ? static_cast<double>(requests_admitted_) / capacity : 0.0);
  out.field("bad_signatures", bad_signatures_).field("items_applied", items_applied_);
  out.field("items_duplicate", items_duplicate_).field("items_rejected", items_rejected_);
  out.field("batches_too_large", batches_too_large_);
}

} // namespace stockd::simulator
