#include "simulator/amazon.hpp"

#include <cstdio>
#include <vector>

namespace stockd::simulator {
namespace {

constexpr std::string_view prefix = "/listings/2021-08-01/items/";
constexpr std::string_view availability_path = "/attributes/fulfillment_availability";

std::string errors_json(std::string_view code, std::string_view message) {
  json_writer out;
  out.begin_object().key("errors").begin_array().begin_object();
  out.field("code", code).field("message", message).field("details", "");
  out.end_object().end_array().end_object();
  return out.take();
}

std::string rate_text(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", rate);
  return buf;
}

struct issue {
  std::string code;
  std::string message;
};

} // namespace

amazon_emulator::amazon_emulator(amazon_options opts, clock_fn now)
    : emulator("amazon", now),
      opts_(std::move(opts)),
      patch_bucket_(opts_.patch_rate, opts_.patch_burst, now ? now() : clock_type::now()),
      get_bucket_(opts_.get_rate, opts_.get_burst, now ? now() : clock_type::now()) {}

std::string amazon_emulator::error_body(unsigned status) const {
  if (status == 429) {
    return errors_json("QuotaExceeded", "You exceeded your quota for the requested resource.");
  }
  return errors_json("InternalFailure", "We encountered an internal error. Please try again.");
}

void amazon_emulator::decorate(response& res) const {
  res.set("x-amzn-RateLimit-Limit", rate_text(opts_.patch_rate));
  res.set("x-amzn-RequestId", "stocksim-" + std::to_string(submission_));
}

std::optional<std::int64_t> amazon_emulator::lead_time_days(std::string_view sku) {
  std::lock_guard lock(state_mutex());
  auto it = listings_.find(sku);
  return it == listings_.end() ? std::nullopt : it->second.lead_time_days;
}

reply amazon_emulator::on_api(const request& req, std::optional<fault_kind>, time_point now) {
  reply r;
  const std::string_view path = target_path(to_std(req.target()));
  if (path.substr(0, prefix.size()) != prefix) {
    r.res = make_response(req, http::status::not_found,
                          errors_json("NotFound", "Resource not found"));
    return r;
  }
  std::string_view rest = path.substr(prefix.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    r.res = make_response(req, http::status::not_found,
                          errors_json("NotFound", "Resource not found"));
    return r;
  }
  const std::string seller = percent_decode(rest.substr(0, slash));
  const std::string sku = percent_decode(rest.substr(slash + 1));
  if (req["x-amz-access-token"] != opts_.access_token || seller != opts_.seller_id) {
    r.res = make_response(req, http::status::forbidden,
                          errors_json("Unauthorized", "Access to requested resource is denied."));
    return r;
  }
  auto marketplaces = query_param(to_std(req.target()), "marketplaceIds");
  if (!marketplaces || marketplaces->find(opts_.marketplace_id) == std::string::npos) {
    r.res = make_response(req, http::status::bad_request,
                          errors_json("InvalidInput", "marketplaceIds: required, and must include " +
                                                          opts_.marketplace_id));
    return r;
  }
  if (req.method() == http::verb::patch) {
    return patch(req, sku, now);
  }
  if (req.method() == http::verb::get) {
    return get(req, sku, now);
  }
  r.res = make_response(req, http::status::method_not_allowed,
                        errors_json("MethodNotAllowed", "PATCH or GET"));
  return r;
}

reply amazon_emulator::patch(const request& req, const std::string& sku, time_point now) {
  reply r;
  if (!patch_bucket_.try_take(now)) {
    count_throttled();
    r.res = make_response(req, http::status::too_many_requests, error_body(429));
    return r;
  }
  auto bad_input = [&](std::string message) {
    reply b;
    b.res = make_response(req, http::status::bad_request, errors_json("InvalidInput", message));
    return b;
  };
  simdjson::dom::element doc;
  std::string_view product_type;
  simdjson::dom::array patches;
  if (json_parser().parse(req.body()).get(doc) ||
      doc["productType"].get_string().get(product_type) || product_type.empty() ||
      doc["patches"].get_array().get(patches) || patches.size() == 0) {
    return bad_input("body: expected {\"productType\": string, \"patches\": [non-empty]}");
  }
  auto found = listings_.find(sku);
  if (found == listings_.end()) {
    r.res = make_response(req, http::status::not_found,
                          errors_json("NotFound", "SKU '" + sku + "' has no listing"));
    return r;
  }
  // Validate every patch first: a request is accepted whole or not at all.
  std::vector<issue> issues;
  listing next = found->second;
  for (auto p : patches) {
    std::string_view op;
    std::string_view path;
    if (p["op"].get_string().get(op) || p["path"].get_string().get(path)) {
      return bad_input("patches[]: op and path are required strings");
    }
    if (path != availability_path) {
      issues.push_back({"90000900", "the emulator accepts only " + std::string(availability_path)});
      continue;
    }
    if (op == "delete") {
      next.has_availability = false;
      next.quantity = 0;
      continue;
    }
    if (op != "merge" && op != "replace" && op != "add") {
      return bad_input("patches[].op: add, replace, merge or delete");
    }
    simdjson::dom::array values;
    if (p["value"].get_array().get(values) || values.size() != 1) {
      issues.push_back({"90000900", "fulfillment_availability: one DEFAULT entry expected"});
      continue;
    }
    auto v = values.at(0);
    std::string_view channel;
    std::int64_t quantity = 0;
    if (v["fulfillment_channel_code"].get_string().get(channel) || channel != "DEFAULT") {
      issues.push_back({"90000900", "fulfillment_channel_code must be DEFAULT"});
      continue;
    }
    if (v["quantity"].get_int64().get(quantity) || quantity < 0) {
      issues.push_back({"90000900", "quantity must be an integer >= 0"});
      continue;
    }
    if (op != "merge") {
      // replace/add sets the whole attribute: what it does not name is gone (channels.md: use
      // merge "so lead time and restock date are not reset").
      if (next.lead_time_days || next.restock_date) {
        ++lead_time_resets_;
      }
      next.lead_time_days.reset();
      next.restock_date.reset();
    }
    std::int64_t lead = 0;
    if (!v["lead_time_to_ship_max_days"].get_int64().get(lead)) {
      next.lead_time_days = lead;
    }
    std::string_view restock;
    if (!v["restock_date"].get_string().get(restock)) {
      next.restock_date = std::string(restock);
    }
    next.has_availability = true;
    next.quantity = quantity;
  }
  if (faults().bad_sku(sku)) {
    issues.push_back({"8541", "the listing cannot be updated (emulator bad-skus fault)"});
  }
  json_writer out;
  out.begin_object().field("sku", sku);
  if (issues.empty()) {
    found->second = next;
    ++patches_accepted_;
    count_call_items(1);
    out.field("status", "ACCEPTED");
  } else {
    ++patches_invalid_;
    out.field("status", "INVALID");
  }
  out.field("submissionId", "stocksim-" + std::to_string(++submission_));
  out.key("issues").begin_array();
  for (const auto& i : issues) {
    out.begin_object().field("code", i.code).field("message", i.message);
    out.field("severity", "ERROR").key("attributeNames").begin_array();
    out.value("fulfillment_availability").end_array().end_object();
  }
  out.end_array().end_object();
  r.res = make_response(req, http::status::ok, out.take());
  return r;
}

reply amazon_emulator::get(const request& req, const std::string& sku, time_point now) {
  reply r;
  if (!get_bucket_.try_take(now)) {
    count_throttled();
    r.res = make_response(req, http::status::too_many_requests, error_body(429));
    return r;
  }
  ++gets_;
  auto found = listings_.find(sku);
  if (found == listings_.end()) {
    r.res = make_response(req, http::status::not_found,
                          errors_json("NotFound", "SKU '" + sku + "' has no listing"));
    return r;
  }
  const std::string included = query_param(to_std(req.target()), "includedData").value_or("summaries");
  json_writer out;
  out.begin_object().field("sku", sku);
  if (included.find("fulfillmentAvailability") != std::string::npos) {
    out.key("fulfillmentAvailability").begin_array();
    if (found->second.has_availability) {
      out.begin_object().field("fulfillmentChannelCode", "DEFAULT");
      out.field("quantity", found->second.quantity).end_object();
    }
    out.end_array();
  }
  if (included.find("summaries") != std::string::npos) {
    out.key("summaries").begin_array().begin_object();
    out.field("marketplaceId", opts_.marketplace_id).field("productType", "PRODUCT");
    out.end_object().end_array();
  }
  out.end_object();
  r.res = make_response(req, http::status::ok, out.take());
  return r;
}

std::optional<std::string> amazon_emulator::do_set_quantity(std::string_view sku,
                                                            std::int64_t quantity,
                                                            std::string_view location) {
  if (sku.empty() || quantity < 0 || !(location.empty() || location == "DEFAULT")) {
    return std::string("amazon: sku non-empty, quantity >= 0, location DEFAULT or none");
  }
  auto [it, created] = listings_.try_emplace(std::string(sku));
  if (created) {
    it->second.lead_time_days = opts_.lead_time_days_default;
  }
  it->second.has_availability = true;
  it->second.quantity = quantity;
  return std::nullopt;
}

std::optional<std::int64_t> amazon_emulator::do_quantity(std::string_view sku,
                                                         std::string_view) const {
  auto it = listings_.find(sku);
  if (it == listings_.end() || !it->second.has_availability) {
    return std::nullopt;
  }
  return it->second.quantity;
}

std::optional<std::string> amazon_emulator::do_buy_one(std::mt19937_64& rng) {
  std::vector<listing*> candidates;
  std::vector<const std::string*> names;
  for (auto& [sku, l] : listings_) {
    if (l.has_availability && l.quantity > 0) {
      candidates.push_back(&l);
      names.push_back(&sku);
    }
  }
  if (candidates.empty()) {
    return std::nullopt;
  }
  std::uniform_int_distribution<std::size_t> pick(0, candidates.size() - 1);
  auto i = pick(rng);
  --candidates[i]->quantity;
  return *names[i];
}

void amazon_emulator::write_quantities(json_writer& out) const {
  for (const auto& [sku, l] : listings_) {
    out.begin_object().field("sku", sku).field("location", "DEFAULT");
    if (l.has_availability) {
      out.field("quantity", l.quantity);
    } else {
      out.key("quantity").null();
    }
    if (l.lead_time_days) {
      out.field("lead_time_to_ship_max_days", *l.lead_time_days);
    }
    out.end_object();
  }
}

void amazon_emulator::write_rate_limit(json_writer& out, time_point now) {
  const double elapsed = seconds_since_start(now);
  out.field("kind", "token_bucket").field("rate", patch_bucket_.rate());
  out.field("burst", patch_bucket_.burst());
  const double capacity = patch_bucket_.burst() + elapsed * patch_bucket_.rate();
  const double used = static_cast<double>(patches_accepted_ + patches_invalid_);
  out.field("utilisation", capacity > 0 ? used / capacity : 0.0);
  out.field("patches_accepted", patches_accepted_).field("patches_invalid", patches_invalid_);
  out.field("gets", gets_).field("lead_time_resets", lead_time_resets_);
}

} // namespace stockd::simulator
