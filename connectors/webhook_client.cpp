#include "connectors/webhook_client.hpp"

#include <algorithm>
#include <cassert>
#include <ctime>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include "connectors/credentials.hpp"
#include "connectors/json_writer.hpp"

namespace stockd::connectors {
namespace {

namespace od = simdjson::ondemand;

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += hex[data[i] >> 4];
    out += hex[data[i] & 15];
  }
  return out;
}

std::string unix_seconds(std::chrono::system_clock::time_point now) {
  return std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
}

/// The request target as the http client sends it (path + query), for the GET signature.
std::string request_target(const std::string& url) {
  auto parsed = parse_url(url);
  return parsed ? parsed->target : std::string();
}

/// Parses {"results":[...]} into one item_result per item. False when malformed.
bool parse_results(std::string_view body, std::size_t items, std::vector<item_result>& out,
                   bool& has_results) {
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  if (parser.iterate(padded).get(doc)) {
    return false;
  }
  od::object root;
  if (doc.get_object().get(root)) {
    return false;
  }
  od::value results_value;
  auto error = root.find_field_unordered("results").get(results_value);
  if (error == simdjson::NO_SUCH_FIELD) {
    has_results = false;
    return true;
  }
  if (error) {
    return false;
  }
  bool is_null = false;
  if (results_value.is_null().get(is_null)) {
    return false;
  }
  if (is_null) {
    has_results = false;
    return true;
  }
  has_results = true;
  od::array results;
  if (results_value.get_array().get(results)) {
    return false;
  }
  for (auto element : results) {
    od::object entry;
    if (element.get_object().get(entry)) {
      return false;
    }
    if (out.size() == items) {
      return false;  // more results than items
    }
    item_result result;
    std::string_view status;
    if (entry.find_field_unordered("status").get_string().get(status)) {
      return false;
    }
    if (status == "applied") {
      result.outcome = item_outcome::applied;
    } else if (status == "stale") {
      result.outcome = item_outcome::stale;
    } else if (status == "rejected") {
      result.outcome = item_outcome::rejected;
    } else {
      return false;
    }
    od::value code;
    if (entry.find_field_unordered("code").get(code) == simdjson::SUCCESS) {
      std::string_view text;
      if (code.get_string().get(text) == simdjson::SUCCESS) {
        result.code = std::string(text);
      } else {
        // A number or other scalar: keep its JSON text.
        result.code = std::string(code.raw_json_token());
        while (!result.code.empty() && (result.code.back() == ' ' || result.code.back() == '\n' ||
                                        result.code.back() == '\r' || result.code.back() == '\t')) {
          result.code.pop_back();
        }
      }
    }
    od::value quantity;
    if (entry.find_field_unordered("quantity").get(quantity) == simdjson::SUCCESS) {
      bool quantity_null = false;
      if (quantity.is_null().get(quantity_null)) {
        return false;
      }
      if (!quantity_null) {
        std::int64_t n = 0;
        if (quantity.get_int64().get(n)) {
          return false;
        }
        result.channel_quantity = n;
      }
    }
    out.push_back(std::move(result));
  }
  return out.size() == items;
}

} // namespace

std::string webhook_body(const engine::channel_id& channel, const std::vector<push_item>& batch) {
  json_writer w;
  w.out().reserve(32 + batch.size() * 96);
  w.begin_object().field("channel", channel.str()).key("items").begin_array();
  for (const auto& item : batch) {
    w.begin_object().field("sku", item.sku.str()).field("quantity", item.quantity);
    w.key("change_from");
    if (item.change_from) {
      w.value(*item.change_from);
    } else {
      w.null();
    }
    w.field("idempotency_key", item.idempotency_key).end_object();
  }
  w.end_array().end_object();
  return w.take();
}

std::string webhook_signature(std::string_view secret, std::string_view timestamp,
                              std::string_view payload) {
  std::string material;
  material.reserve(timestamp.size() + 1 + payload.size());
  material.append(timestamp).append(".").append(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(material.data()), material.size(), mac, &length);
  return "sha256=" + to_hex(mac, length);
}

std::string webhook_idempotency_key(const std::vector<push_item>& batch) {
  std::string joined;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (i > 0) {
      joined += '\n';
    }
    joined += batch[i].idempotency_key;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(joined.data(), joined.size(), digest, &length, EVP_sha256(), nullptr);
  return to_hex(digest, length);
}

std::string webhook_read_target_query(const std::vector<engine::sku_id>& skus) {
  std::string out = "skus=";
  for (std::size_t i = 0; i < skus.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += percent_encode(skus[i].str());
  }
  return out;
}

std::optional<std::chrono::milliseconds>
parse_retry_after(std::string_view value, std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  while (!value.empty() && value.back() == ' ') {
    value.remove_suffix(1);
  }
  if (value.empty()) {
    return std::nullopt;
  }
  std::chrono::milliseconds delay{0};
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    if (value.size() > 9) {
      return retry_after_max;
    }
    delay = std::chrono::seconds(std::stoll(std::string(value)));
  } else {
    // IMF-fixdate, the form RFC 9110 requires senders to use.
    std::tm tm{};
    const std::string text(value);
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') {
      return std::nullopt;
    }
    const auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
    delay = std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
  }
  return std::clamp(delay, std::chrono::milliseconds{0}, retry_after_max);
}

push_result webhook_push_outcome(const http_result& answer, std::size_t items,
                                 std::chrono::system_clock::time_point now) {
  if (auto failure = transport_failure(answer)) {
    return std::move(*failure);
  }
  const http_response& response = answer.response;
  const unsigned status = response.status;
  push_result out;
  out.code = std::to_string(status);
  if (auto id = response.header("X-Request-Id")) {
    out.request_id = std::string(*id);
  }
  if (auto retry = response.header("Retry-After")) {
    out.retry_after = parse_retry_after(*retry, now);
  }
  if (status >= 200 && status < 300) {
    const auto first = response.body.find_first_not_of(" \t\r\n");
    bool has_results = false;
    if (first != std::string::npos && response.body[first] == '{') {
      if (!parse_results(response.body, items, out.items, has_results)) {
        out.items.clear();
        out.outcome = call_outcome::server_error;
        out.code = "invalid_response";
        return out;
      }
    }
    if (!has_results) {
      out.items.assign(items, item_result{item_outcome::applied, {}, std::nullopt});
    }
    out.outcome = call_outcome::ok;
    return out;
  }
  if (status == 404 || status == 405) {
    out.outcome = call_outcome::unauthorized;  // a wrong endpoint: systemic, like a wrong secret
  } else {
    classify_status(status, out);
  }
  return out;
}

read_result webhook_read_outcome(const http_result& answer,
                                 const std::vector<engine::sku_id>& skus) {
  read_result out;
  if (answer.error != http_error::none) {
    out.code = answer.error == http_error::timeout ? std::string("timeout")
                                                   : std::string(to_string(answer.error)) +
                                                         ": " + answer.detail;
    return out;
  }
  if (answer.response.status != 200) {
    out.code = std::to_string(answer.response.status);
    return out;
  }
  simdjson::padded_string padded(answer.response.body);
  od::parser parser;
  od::document doc;
  od::object quantities;
  if (parser.iterate(padded).get(doc) ||
      doc.find_field_unordered("quantities").get_object().get(quantities)) {
    out.code = "invalid_response";
    return out;
  }
  std::vector<std::pair<std::string, std::int64_t>> seen;
  for (auto field : quantities) {
    std::string_view key;
    std::int64_t value = 0;
    if (field.unescaped_key().get(key) || field.value().get_int64().get(value)) {
      out.code = "invalid_response";
      return out;
    }
    seen.emplace_back(std::string(key), value);
  }
  // Reported in the order asked; SKUs the receiver left out (or did not ask for) are skipped.
  for (const auto& sku : skus) {
    for (const auto& [key, value] : seen) {
      if (key == sku.str()) {
        out.quantities.emplace_back(sku, value);
        break;
      }
    }
  }
  out.ok = true;
  out.code = "200";
  return out;
}

webhook_client::webhook_client(http_client& http, webhook_options options)
    : http_(http), options_(std::move(options)) {
  assert(options_.batch_max >= 1);
  assert(!options_.secret.empty());
}

result<std::unique_ptr<webhook_client>, std::string>
webhook_client::create(http_client& http, const channel_options& channel) {
  auto secret = resolve_credentials(channel.credentials);
  if (!secret) {
    return unexpected{"channel '" + channel.id.str() + "': " + secret.error()};
  }
  webhook_options options;
  options.channel = channel.id;
  options.endpoint = channel.endpoint;
  options.secret = std::move(secret.value());
  options.batch_max = static_cast<std::size_t>(channel.batch_size);
  return std::make_unique<webhook_client>(http, std::move(options));
}

void webhook_client::push(std::vector<push_item> batch, std::function<void(push_result)> done) {
  assert(done);
  assert(batch.size() <= options_.batch_max);  // the channel actor batches to batch_max()
  if (batch.empty()) {
    push_result out;
    out.outcome = call_outcome::ok;
    done(std::move(out));
    return;
  }
  const auto now = std::chrono::system_clock::now();
  const std::string timestamp = unix_seconds(now);
  http_request request;
  request.method = http_method::post;
  request.url = options_.endpoint;
  request.body = webhook_body(options_.channel, batch);
  request.timeout = options_.timeout;
  request.headers = {
      {"Content-Type", "application/json"},
      {"X-Stockd-Timestamp", timestamp},
      {"X-Stockd-Signature", webhook_signature(options_.secret, timestamp, request.body)},
      {"Idempotency-Key", webhook_idempotency_key(batch)},
  };
  // The callback holds no pointer to this client: it may run after the client is gone.
  http_.send(std::move(request), [items = batch.size(), done = std::move(done)](http_result r) {
    done(webhook_push_outcome(r, items, std::chrono::system_clock::now()));
  });
}

void webhook_client::read(std::vector<engine::sku_id> skus,
                          std::function<void(read_result)> done) {
  assert(done);
  if (skus.empty()) {
    read_result out;
    out.ok = true;
    done(std::move(out));
    return;
  }
  const std::string timestamp = unix_seconds(std::chrono::system_clock::now());
  http_request request;
  request.method = http_method::get;
  request.url = options_.endpoint +
                (options_.endpoint.find('?') == std::string::npos ? "?" : "&") +
                webhook_read_target_query(skus);
  request.timeout = options_.timeout;
  request.headers = {
      {"Accept", "application/json"},
      {"X-Stockd-Timestamp", timestamp},
      {"X-Stockd-Signature",
       webhook_signature(options_.secret, timestamp, request_target(request.url))},
  };
  http_.send(std::move(request), [skus = std::move(skus), done = std::move(done)](http_result r) {
    done(webhook_read_outcome(r, skus));
  });
}

} // namespace stockd::connectors
