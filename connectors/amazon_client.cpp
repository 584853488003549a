#include "connectors/amazon_client.hpp"

#include <cassert>
#include <cmath>
#include <cstdlib>

#include <simdjson.h>

#include "connectors/credentials.hpp"
#include "connectors/json_writer.hpp"
#include "connectors/webhook_client.hpp"  // parse_retry_after

namespace stockd::connectors {
namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view listings_path = "/listings/2021-08-01/items/";

/// x-amzn-RateLimit-Limit: a positive decimal ("5.0"); nullopt when absent or not one.
std::optional<double> rate_limit(const http_response& response) {
  auto header = response.header("x-amzn-RateLimit-Limit");
  if (!header || header->empty() || header->size() > 32) {
    return std::nullopt;
  }
  const std::string text(*header);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value) || value <= 0.0) {
    return std::nullopt;
  }
  return value;
}

/// The first error's code of an SP-API error body {"errors":[{"code":...}]}; empty when none.
std::string error_code(std::string_view body) {
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  od::array errors;
  if (parser.iterate(padded).get(doc) ||
      doc.find_field_unordered("errors").get_array().get(errors)) {
    return {};
  }
  for (auto element : errors) {
    std::string_view code;
    if (element.find_field_unordered("code").get_string().get(code)) {
      return {};
    }
    return std::string(code);
  }
  return {};
}

/// A patchListingsItem 200 body as the item's result; nullopt when it is not one.
std::optional<item_result> patch_answer(std::string_view body) {
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  od::object root;
  std::string_view status;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(root) ||
      root.find_field_unordered("status").get_string().get(status)) {
    return std::nullopt;
  }
  if (status == "ACCEPTED") {
    return item_result{item_outcome::applied, {}, std::nullopt};
  }
  if (status != "INVALID") {
    return std::nullopt;
  }
  item_result out{item_outcome::rejected, {}, std::nullopt};
  od::array issues;
  if (root.find_field_unordered("issues").get_array().get(issues)) {
    out.code = "INVALID";
    return out;
  }
  std::string first;
  for (auto element : issues) {
    od::object issue;
    std::string_view code;
    if (element.get_object().get(issue) ||
        issue.find_field_unordered("code").get_string().get(code)) {
      return std::nullopt;
    }
    std::string_view severity;
    const bool is_error =
        issue.find_field_unordered("severity").get_string().get(severity) == simdjson::SUCCESS &&
        severity == "ERROR";
    if (is_error) {
      out.code = std::string(code);
      return out;
    }
    if (first.empty()) {
      first = std::string(code);
    }
  }
  out.code = first.empty() ? std::string("INVALID") : first;
  return out;
}

/// The DEFAULT quantity of a getListingsItem body; `found` false when the listing has none.
bool read_answer(std::string_view body, bool& found, std::int64_t& quantity) {
  simdjson::padded_string padded(body);
  od::parser parser;
  od::document doc;
  od::array availability;
  if (parser.iterate(padded).get(doc) ||
      doc.find_field_unordered("fulfillmentAvailability").get_array().get(availability)) {
    return false;
  }
  found = false;
  for (auto element : availability) {
    od::object entry;
    std::string_view channel;
    if (element.get_object().get(entry) ||
        entry.find_field_unordered("fulfillmentChannelCode").get_string().get(channel)) {
      return false;
    }
    if (channel != "DEFAULT") {
      continue;  // an Amazon-fulfilled (AFN) entry: Amazon's stock, not ours to sync
    }
    if (entry.find_field_unordered("quantity").get_int64().get(quantity)) {
      return false;
    }
    found = true;
  }
  return true;
}

} // namespace

std::string amazon_item_url(const amazon_options& options, const engine::sku_id& sku) {
  std::string url = options.endpoint;
  while (!url.empty() && url.back() == '/') {
    url.pop_back();
  }
  url.append(listings_path)
      .append(percent_encode(options.seller_id))
      .append("/")
      .append(percent_encode(sku.str()))
      .append("?marketplaceIds=")
      .append(percent_encode(options.marketplace_id));
  return url;
}

std::string amazon_patch_body(std::int64_t quantity) {
  json_writer w;
  w.begin_object().field("productType", "PRODUCT").key("patches").begin_array();
  w.begin_object()
      .field("op", "merge")
      .field("path", "/attributes/fulfillment_availability")
      .key("value")
      .begin_array();
  w.begin_object().field("fulfillment_channel_code", "DEFAULT").field("quantity", quantity);
  w.end_object().end_array().end_object().end_array().end_object();
  return w.take();
}

push_result amazon_push_outcome(const http_result& answer,
                                std::chrono::system_clock::time_point now) {
  if (auto failure = transport_failure(answer)) {
    return std::move(*failure);
  }
  const http_response& response = answer.response;
  const unsigned status = response.status;
  push_result out;
  out.code = std::to_string(status);
  out.rate_limit_per_second = rate_limit(response);
  if (auto id = response.header("x-amzn-RequestId")) {
    out.request_id = std::string(*id);
  }
  if (auto retry = response.header("Retry-After")) {
    out.retry_after = parse_retry_after(*retry, now);
  }
  if (status == 200) {
    auto item = patch_answer(response.body);
    if (!item) {
      out.outcome = call_outcome::server_error;
      out.code = "invalid_response";
      return out;
    }
    out.outcome = call_outcome::ok;
    out.items.push_back(std::move(*item));
    return out;
  }
  if (status == 404) {
    std::string code = error_code(response.body);
    out.outcome = call_outcome::ok;
    out.items.push_back(
        item_result{item_outcome::rejected, code.empty() ? "NotFound" : code, std::nullopt});
    return out;
  }
  classify_status(status, out);
  return out;
}

read_result amazon_read_outcome(const http_result& answer, const engine::sku_id& sku) {
  read_result out;
  if (answer.error != http_error::none) {
    out.code = answer.error == http_error::timeout ? std::string("timeout")
                                                   : std::string(to_string(answer.error)) +
                                                         ": " + answer.detail;
    return out;
  }
  const unsigned status = answer.response.status;
  out.code = std::to_string(status);
  if (status == 404) {
    out.ok = true;
    return out;
  }
  if (status != 200) {
    return out;
  }
  bool found = false;
  std::int64_t quantity = 0;
  if (!read_answer(answer.response.body, found, quantity)) {
    out.code = "invalid_response";
    return out;
  }
  if (found) {
    out.quantities.emplace_back(sku, quantity);
  }
  out.ok = true;
  return out;
}

amazon_client::amazon_client(http_client& http, amazon_options options)
    : http_(http), options_(std::move(options)) {
  assert(!options_.access_token.empty());
  assert(!options_.seller_id.empty());
  assert(!options_.marketplace_id.empty());
}

result<std::unique_ptr<amazon_client>, std::string>
amazon_client::create(http_client& http, const channel_options& channel) {
  auto token = resolve_credentials(channel.credentials);
  if (!token) {
    return unexpected{"channel '" + channel.id.str() + "': " + token.error()};
  }
  if (channel.seller_id.empty() || channel.marketplace_id.empty()) {
    return unexpected{"channel '" + channel.id.str() + "': seller_id and marketplace_id are "
                                                       "required for connector = \"amazon\""};
  }
  amazon_options options;
  options.channel = channel.id;
  options.endpoint = channel.endpoint;
  options.access_token = std::move(token.value());
  options.seller_id = channel.seller_id;
  options.marketplace_id = channel.marketplace_id;
  return std::make_unique<amazon_client>(http, std::move(options));
}

void amazon_client::push(std::vector<push_item> batch, std::function<void(push_result)> done) {
  assert(done);
  assert(batch.size() <= batch_max());  // the channel actor batches to batch_max()
  if (batch.empty()) {
    push_result out;
    out.outcome = call_outcome::ok;
    done(std::move(out));
    return;
  }
  const push_item& item = batch.front();
  http_request request;
  request.method = http_method::patch;
  request.url = amazon_item_url(options_, item.sku);
  request.body = amazon_patch_body(item.quantity);
  request.timeout = options_.timeout;
  request.headers = {
      {"Content-Type", "application/json"},
      {"Accept", "application/json"},
      {"x-amz-access-token", options_.access_token},
  };
  // The callback holds no pointer to this client: it may run after the client is gone.
  http_.send(std::move(request), [done = std::move(done)](http_result r) {
    done(amazon_push_outcome(r, std::chrono::system_clock::now()));
  });
}

void amazon_client::read(std::vector<engine::sku_id> skus,
                         std::function<void(read_result)> done) {
  assert(done);
  assert(skus.size() <= batch_max());  // one limiter token per call (see the header)
  if (skus.empty()) {
    read_result out;
    out.ok = true;
    done(std::move(out));
    return;
  }
  http_request request;
  request.method = http_method::get;
  request.url = amazon_item_url(options_, skus.front()) + "&includedData=fulfillmentAvailability";
  request.timeout = options_.timeout;
  request.headers = {
      {"Accept", "application/json"},
      {"x-amz-access-token", options_.access_token},
  };
  http_.send(std::move(request), [sku = skus.front(), done = std::move(done)](http_result r) {
    done(amazon_read_outcome(r, sku));
  });
}

} // namespace stockd::connectors
