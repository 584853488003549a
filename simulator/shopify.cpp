#include "simulator/shopify.hpp"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

namespace stockd::simulator {
namespace {

constexpr std::string_view item_prefix = "gid://shopify/InventoryItem/";
constexpr std::string_view invalid_variable = "INVALID_VARIABLE";

struct user_error {
  std::size_t index;
  std::string field;  // the member of quantities[index] at fault ("" for the whole input)
  std::string code;
  std::string message;
};

/// The key of `@idempotent(key: "literal")` or `@idempotent(key: $variable)`. Empty optional:
/// no directive; empty string inside: a directive we cannot read.
std::optional<std::string> idempotency_key(std::string_view query,
                                           simdjson::dom::element variables) {
  auto at = query.find("@idempotent");
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view rest = query.substr(at + 11);
  auto open = rest.find('(');
  auto colon = rest.find(':');
  if (open == std::string_view::npos || colon == std::string_view::npos || colon < open ||
      rest.substr(open + 1, colon - open - 1).find("key") == std::string_view::npos) {
    return std::string{};
  }
  rest = rest.substr(colon + 1);
  while (!rest.empty() && rest.front() == ' ') {
    rest.remove_prefix(1);
  }
  if (!rest.empty() && rest.front() == '"') {
    auto close = rest.find('"', 1);
    return close == std::string_view::npos ? std::string{} : std::string(rest.substr(1, close - 1));
  }
  if (!rest.empty() && rest.front() == '$') {
    std::size_t n = 1;
    while (n < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[n])) || rest[n] == '_')) {
      ++n;
    }
    std::string_view value;
    if (variables[rest.substr(1, n - 1)].get_string().get(value)) {
      return std::string{};
    }
    return std::string(value);
  }
  return std::string{};
}

std::string_view version_of(std::string_view path) {
  // /admin/api/<version>/graphql.json
  constexpr std::string_view prefix = "/admin/api/";
  constexpr std::string_view suffix = "/graphql.json";
  if (path.substr(0, prefix.size()) != prefix || path.size() <= prefix.size() + suffix.size() ||
      path.substr(path.size() - suffix.size()) != suffix) {
    return {};
  }
  auto version = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  return version.find('/') == std::string_view::npos ? version : std::string_view{};
}

} // namespace

shopify_emulator::shopify_emulator(shopify_options opts, clock_fn now)
    : emulator("shopify", now),
      opts_(std::move(opts)),
      bucket_({opts_.bucket_max, opts_.bucket_max, opts_.restore_per_second},
              now ? now() : clock_type::now()) {
  assert(!opts_.locations.empty());
}

std::string shopify_emulator::error_body(unsigned status) const {
  json_writer out;
  out.begin_object();
  if (status == 429) {
    out.key("errors").begin_array().begin_object().field("message", "Throttled");
    out.key("extensions").begin_object().field("code", "THROTTLED").end_object();
    out.end_object().end_array();
  } else {
    out.field("errors", "Internal error. Looks like something went wrong on our end.");
  }
  return out.end_object().take();
}

void shopify_emulator::decorate(response& res) {
  // Shopify sends a request id on every answer, errors included, and asks for it in support
  // requests; stockd's connector reads it for tracing. A counter is unique within the emulator
  // and costs nothing (the real one is a UUID: nothing may depend on its shape).
  res.set("X-Request-Id", "shopify-request-" + std::to_string(++responses_));
}

std::optional<std::size_t> shopify_emulator::location_index(std::string_view gid) const {
  auto it = std::find(opts_.locations.begin(), opts_.locations.end(), gid);
  if (it == opts_.locations.end()) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(it - opts_.locations.begin());
}

std::optional<std::size_t> shopify_emulator::item_index(std::string_view gid) const {
  if (gid.substr(0, item_prefix.size()) != item_prefix) {
    return std::nullopt;
  }
  auto digits = gid.substr(item_prefix.size());
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc{} || p != digits.data() + digits.size() || n == 0 || n > items_.size()) {
    return std::nullopt;
  }
  return n - 1;
}

std::optional<std::string> shopify_emulator::item_id(std::string_view sku) {
  std::lock_guard lock(state_mutex());
  auto it = by_sku_.find(std::string(sku));
  if (it == by_sku_.end()) {
    return std::nullopt;
  }
  return std::string(item_prefix) + std::to_string(it->second + 1);
}

reply shopify_emulator::on_api(const request& req, std::optional<fault_kind> fault,
                               time_point now) {
  reply r;
  const std::string_view version = version_of(target_path(to_std(req.target())));
  if (version.empty() || req.method() != http::verb::post) {
    r.res = make_response(req, http::status::not_found, R"({"errors":"Not Found"})");
    return r;
  }
  if (req["X-Shopify-Access-Token"] != opts_.access_token) {
    r.res = make_response(req, http::status::unauthorized,
                          R"js({"errors":"[API] Invalid API key or access token )js"
                          R"js((unrecognized login or wrong password)"})js");
    return r;
  }
  simdjson::dom::element doc;
  std::string_view query;
  if (json_parser().parse(req.body()).get(doc) || doc["query"].get_string().get(query)) {
    r.res = make_response(req, http::status::bad_request,
                          R"({"errors":{"query":"Required parameter missing or invalid"}})");
    return r;
  }
  simdjson::dom::element variables;
  const bool has_variables = !doc["variables"].get(variables) && variables.is_object();
  if (!has_variables) {
    // No variables object: look members up in the top-level object instead, which has none of
    // the names the handlers read (query, variables, operationName are not among them).
    variables = doc;
  }
  const bool is_mutation = query.find("inventorySetQuantities") != std::string_view::npos;
  const bool is_read = !is_mutation && query.find("inventoryItems") != std::string_view::npos;
  cost c;
  std::string error_code;
  std::string error_message;
  std::string data;
  if (!is_mutation && !is_read) {
    error_code = "UNSUPPORTED_BY_EMULATOR";
    error_message = "stocksim's Shopify emulator answers inventorySetQuantities and inventoryItems";
  } else if (is_read) {
    std::int64_t first = 0;
    if (variables["first"].get_int64().get(first) || first < 1 ||
        first > static_cast<std::int64_t>(opts_.page_size_max)) {
      error_code = invalid_variable;
      error_message = "Variable $first: an integer 1.." + std::to_string(opts_.page_size_max);
    } else {
      c.requested = 2.0 + static_cast<double>(first);
    }
  } else {
    c.requested = opts_.mutation_cost;
  }
  if (error_code.empty() && c.requested > opts_.query_cost_max) {
    error_code = "MAX_COST_EXCEEDED";
    error_message = "Query cost is " + std::to_string(c.requested) + ", which exceeds the single "
                    "query max cost limit (" + std::to_string(opts_.query_cost_max) + ").";
    c.requested = 0;
  }
  if (error_code.empty() && !bucket_.try_take(c.requested, now)) {
    count_throttled();
    r.res = make_response(req, http::status::ok,
                          envelope({}, "THROTTLED", "Throttled", c, now));
    return r;
  }
  points_requested_ += c.requested;
  if (error_code.empty() && is_read) {
    std::size_t returned = 0;
    data = read_items(variables, error_code, error_message, returned);
    c.actual = 2.0 + static_cast<double>(returned);
  } else if (error_code.empty()) {
    const bool strict = version == "unstable" || version >= opts_.strict_from_version;
    auto key = idempotency_key(query, variables);
    std::string minified = has_variables ? simdjson::minify(variables) : std::string("{}");
    c.actual = c.requested;
    if (key && key->empty()) {
      error_code = invalid_variable;
      error_message = "@idempotent(key:) needs a string literal or a String variable";
    } else if (!key && strict) {
      error_code = "IDEMPOTENCY_KEY_REQUIRED";
      error_message = "inventory mutations need @idempotent(key:) from API version " +
                      opts_.strict_from_version;
    } else if (auto seen = key ? idempotency_.find(*key) : idempotency_.end();
               seen != idempotency_.end()) {
      if (seen->second.variables != minified) {
        error_code = "IDEMPOTENCY_KEY_PARAMETER_MISMATCH";
        error_message = "the idempotency key was used with different variables";
      } else {
        ++replays_;
        data = seen->second.data;  // answered again, applied once
      }
    } else {
      ++mutations_;
      data = set_quantities(variables, strict, fault == fault_kind::stale_cas, error_code,
                            error_message);
      if (key && error_code.empty()) {
        if (idempotency_order_.size() >= opts_.idempotency_keys_max) {
          idempotency_.erase(idempotency_order_.front());
          idempotency_order_.pop_front();
        }
        idempotency_.emplace(*key, remembered{minified, data});
        idempotency_order_.push_back(*key);
      }
    }
  }
  if (c.actual) {
    bucket_.refund(c.requested - *c.actual, now);
    points_actual_ += *c.actual;
  }
  r.res = make_response(req, http::status::ok, envelope(data, error_code, error_message, c, now));
  return r;
}

std::string shopify_emulator::envelope(std::string_view data, std::string_view error_code,
                                       std::string_view error_message, const cost& c,
                                       time_point now) {
  json_writer out;
  out.begin_object();
  if (!error_code.empty()) {
    out.key("errors").begin_array().begin_object().field("message", error_message);
    out.key("extensions").begin_object().field("code", error_code).end_object();
    out.end_object().end_array();
  } else {
    out.key("data").raw(data);
  }
  out.key("extensions").begin_object().key("cost").begin_object();
  out.field("requestedQueryCost", static_cast<std::int64_t>(std::ceil(c.requested)));
  if (c.actual) {
    out.field("actualQueryCost", static_cast<std::int64_t>(std::ceil(*c.actual)));
  } else {
    out.key("actualQueryCost").null();
  }
  out.key("throttleStatus").begin_object();
  out.field("maximumAvailable", bucket_.status().maximum_available);
  out.field("currentlyAvailable", static_cast<std::int64_t>(std::floor(bucket_.available(now))));
  out.field("restoreRate", bucket_.status().restore_rate);
  out.end_object().end_object().end_object().end_object();
  return out.take();
}

std::string shopify_emulator::set_quantities(simdjson::dom::element variables, bool strict,
                                             bool stale_fault, std::string& error_code,
                                             std::string& error_message) {
  auto shape_error = [&](std::string message) {
    error_code = invalid_variable;
    error_message = "Variable $input: " + std::move(message);
    return std::string{};
  };
  simdjson::dom::object input;
  if (variables["input"].get_object().get(input)) {
    return shape_error("expected an InventorySetQuantitiesInput object");
  }
  std::string_view name;
  std::string_view reason;
  std::string_view reference;
  simdjson::dom::array quantities;
  for (auto [k, v] : input) {
    if (k == "name") {
      if (v.get_string().get(name)) {
        return shape_error("name: expected a String");
      }
    } else if (k == "reason") {
      if (v.get_string().get(reason)) {
        return shape_error("reason: expected a String");
      }
    } else if (k == "referenceDocumentUri") {
      if (!v.is_null() && v.get_string().get(reference)) {
        return shape_error("referenceDocumentUri: expected a String");
      }
    } else if (k == "quantities") {
      if (v.get_array().get(quantities)) {
        return shape_error("quantities: expected a list");
      }
    } else {
      return shape_error("unknown field " + std::string(k));
    }
  }
  if (name.empty() || reason.empty() || quantities.size() == 0) {
    return shape_error("name, reason and quantities are required");
  }
  if (quantities.size() > opts_.quantities_max) {
    error_code = "MAX_INPUT_SIZE_EXCEEDED";
    error_message = "The input array size of " + std::to_string(quantities.size()) +
                    " is greater than the maximum allowed of " +
                    std::to_string(opts_.quantities_max) + ".";
    return {};
  }
  struct change {
    std::size_t item;
    std::size_t location;
    std::int64_t quantity;
  };
  std::vector<change> changes;
  std::vector<user_error> errors;
  if (name != "available") {
    errors.push_back({0, "name", "INVALID_NAME",
                      "the emulator keeps only the available quantity"});
  }
  bool stale_pending = stale_fault;
  std::size_t index = 0;
  for (auto q : quantities) {
    simdjson::dom::object fields;
    if (q.get_object().get(fields)) {
      return shape_error("quantities[" + std::to_string(index) + "]: expected an object");
    }
    std::string_view item_gid;
    std::string_view location_gid;
    std::int64_t quantity = 0;
    bool has_quantity = false;
    bool has_cas = false;
    std::optional<std::int64_t> change_from;
    for (auto [k, v] : fields) {
      bool bad = false;
      if (k == "inventoryItemId") {
        bad = v.get_string().get(item_gid) != simdjson::SUCCESS;
      } else if (k == "locationId") {
        bad = v.get_string().get(location_gid) != simdjson::SUCCESS;
      } else if (k == "quantity") {
        bad = v.get_int64().get(quantity) != simdjson::SUCCESS;
        has_quantity = true;
      } else if (k == "changeFromQuantity") {
        has_cas = true;
        if (!v.is_null()) {
          std::int64_t from = 0;
          bad = v.get_int64().get(from) != simdjson::SUCCESS;
          change_from = from;
        }
      } else {
        return shape_error("quantities[" + std::to_string(index) + "]: unknown field " +
                           std::string(k) + " (the emulator takes changeFromQuantity only)");
      }
      if (bad) {
        return shape_error("quantities[" + std::to_string(index) + "]." + std::string(k) +
                           ": wrong type");
      }
    }
    if (item_gid.empty() || location_gid.empty() || !has_quantity) {
      return shape_error("quantities[" + std::to_string(index) +
                         "]: inventoryItemId, locationId and quantity are required");
    }
    if (strict && !has_cas) {
      return shape_error("quantities[" + std::to_string(index) +
                         "].changeFromQuantity is required from API version " +
                         opts_.strict_from_version + " (an explicit null opts out)");
    }
    auto item_at = item_index(item_gid);
    auto location = location_index(location_gid);
    const std::size_t i = index++;
    if (!item_at) {
      errors.push_back({i, "inventoryItemId", "INVALID_INVENTORY_ITEM",
                        "The specified inventory item could not be found."});
      continue;
    }
    if (!location) {
      errors.push_back({i, "locationId", "INVALID_LOCATION",
                        "The specified location could not be found."});
      continue;
    }
    auto level = items_[*item_at].available.find(*location);
    if (level == items_[*item_at].available.end()) {
      errors.push_back({i, "locationId", "ITEM_NOT_STOCKED_AT_LOCATION",
                        "The specified inventory item is not stocked at the location."});
      continue;
    }
    if (faults().bad_sku(items_[*item_at].sku)) {
      errors.push_back({i, "inventoryItemId", "NON_MUTABLE_INVENTORY_ITEM",
                        "The inventory item cannot be mutated (emulator bad-skus fault)."});
      continue;
    }
    if (quantity > opts_.quantity_abs_max) {
      errors.push_back({i, "quantity", "INVALID_QUANTITY_TOO_HIGH",
                        "The quantity can't be higher than 2,000,000,000."});
      continue;
    }
    if (quantity < -opts_.quantity_abs_max) {
      errors.push_back({i, "quantity", "INVALID_QUANTITY_TOO_LOW",
                        "The quantity can't be lower than -2,000,000,000."});
      continue;
    }
    if (change_from && (*change_from != level->second || stale_pending)) {
      stale_pending = false;
      ++stale_answers_;
      errors.push_back({i, "changeFromQuantity", "CHANGE_FROM_QUANTITY_STALE",
                        "The specified compare quantity does not match the current quantity."});
      continue;
    }
    changes.push_back({*item_at, *location, quantity});
  }
  json_writer out;
  out.begin_object().key("inventorySetQuantities").begin_object();
  if (!errors.empty()) {
    // All or nothing: one bad item fails the whole input (channels.md: NON_MUTABLE_INVENTORY_ITEM
    // "fails the whole batch"), and the connector isolates it and retries the rest.
    out.key("inventoryAdjustmentGroup").null();
  } else {
    count_call_items(changes.size());
    out.key("inventoryAdjustmentGroup").begin_object();
    out.field("reason", reason);
    if (reference.empty()) {
      out.key("referenceDocumentUri").null();
    } else {
      out.field("referenceDocumentUri", reference);
    }
    out.key("changes").begin_array();
    for (const auto& ch : changes) {
      auto& current = items_[ch.item].available[ch.location];
      out.begin_object().field("name", "available").field("delta", ch.quantity - current);
      out.field("quantityAfterChange", ch.quantity);
      out.key("item").begin_object();
      out.field("id", std::string(item_prefix) + std::to_string(ch.item + 1));
      out.field("sku", items_[ch.item].sku).end_object();
      out.key("location").begin_object().field("id", opts_.locations[ch.location]).end_object();
      out.end_object();
      if (!lose_this_set()) {  // else answered as applied, not kept: a lost push
        current = ch.quantity;
      }
    }
    out.end_array().end_object();
  }
  out.key("userErrors").begin_array();
  for (const auto& e : errors) {
    out.begin_object().key("field").begin_array().value("input");
    if (e.field == "name") {
      out.value("name");
    } else {
      out.value("quantities").value(std::to_string(e.index)).value(e.field);
    }
    out.end_array().field("message", e.message).field("code", e.code).end_object();
  }
  out.end_array().end_object().end_object();
  return out.take();
}

namespace {

/// The SKUs of a search such as `sku:"A" OR sku:"B"` (backslash escapes a quote or itself);
/// terms of another form are ignored.
std::vector<std::string> parse_sku_filter(std::string_view query) {
  std::vector<std::string> skus;
  constexpr std::string_view term = "sku:\"";
  std::size_t at = 0;
  while ((at = query.find(term, at)) != std::string_view::npos) {
    at += term.size();
    std::string sku;
    while (at < query.size() && query[at] != '"') {
      if (query[at] == '\\' && at + 1 < query.size()) {
        ++at;
      }
      sku += query[at++];
    }
    ++at;
    skus.push_back(std::move(sku));
  }
  return skus;
}

} // namespace

std::string shopify_emulator::read_items(simdjson::dom::element variables,
                                         std::string& error_code, std::string& error_message,
                                         std::size_t& returned) {
  std::int64_t first = 0;
  [[maybe_unused]] auto ec = variables["first"].get_int64().get(first);
  assert(!ec && first > 0);
  std::size_t start = 0;
  auto after = variables["after"];
  if (after.error() != simdjson::NO_SUCH_FIELD && !after.is_null()) {
    std::string_view cursor;
    std::size_t n = 0;
    if (after.get_string().get(cursor) || cursor.size() < 2 || cursor[0] != 'c' ||
        std::from_chars(cursor.data() + 1, cursor.data() + cursor.size(), n).ec != std::errc{}) {
      error_code = invalid_variable;
      error_message = "Variable $after: not a cursor this emulator gave out";
      return {};
    }
    start = n;
  }
  // With sku_search, the search syntax stockd's connector sends (`sku:"A" OR sku:"B"`), as the
  // real API filters: only those items, in creation order; the cursor is the position after the
  // last one returned. Otherwise (and without a query) every item.
  std::vector<std::size_t> picked;
  std::size_t end = std::min(items_.size(), start + static_cast<std::size_t>(first));
  bool more = end < items_.size();
  std::string_view query;
  if (opts_.sku_search && !variables["query"].get_string().get(query)) {
    std::vector<std::size_t> matching;
    for (const auto& sku : parse_sku_filter(query)) {
      if (auto it = by_sku_.find(sku); it != by_sku_.end() && it->second >= start) {
        matching.push_back(it->second);
      }
    }
    std::sort(matching.begin(), matching.end());
    matching.erase(std::unique(matching.begin(), matching.end()), matching.end());
    const std::size_t n = std::min(matching.size(), static_cast<std::size_t>(first));
    picked.assign(matching.begin(), matching.begin() + static_cast<std::ptrdiff_t>(n));
    more = n < matching.size();
    end = picked.empty() ? start : picked.back() + 1;
  } else {
    for (std::size_t i = start; i < end; ++i) {
      picked.push_back(i);
    }
  }
  json_writer out;
  out.begin_object().key("inventoryItems").begin_object().key("nodes").begin_array();
  for (const std::size_t i : picked) {
    out.begin_object().field("id", std::string(item_prefix) + std::to_string(i + 1));
    out.field("sku", items_[i].sku);
    out.key("inventoryLevels").begin_object().key("nodes").begin_array();
    for (const auto& [location, quantity] : items_[i].available) {
      out.begin_object().key("location").begin_object();
      out.field("id", opts_.locations[location]).end_object();
      out.key("quantities").begin_array().begin_object();
      out.field("name", "available").field("quantity", quantity);
      out.end_object().end_array().end_object();
    }
    out.end_array().end_object().end_object();
  }
  out.end_array();
  returned = picked.size();
  out.key("pageInfo").begin_object().field("hasNextPage", more);
  if (!picked.empty()) {
    out.field("endCursor", "c" + std::to_string(end));
  } else {
    out.key("endCursor").null();
  }
  out.end_object().end_object().end_object();
  return out.take();
}

std::optional<std::string> shopify_emulator::do_set_quantity(std::string_view sku,
                                                             std::int64_t quantity,
                                                             std::string_view location) {
  std::size_t loc = 0;
  if (!location.empty()) {
    auto found = location_index(location);
    if (!found) {
      return "unknown location " + std::string(location) + " (configured: " +
             opts_.locations.front() + ", ...)";
    }
    loc = *found;
  }
  if (sku.empty()) {
    return std::string("sku must not be empty");
  }
  auto [it, created] = by_sku_.try_emplace(std::string(sku), items_.size());
  if (created) {
    items_.push_back(item{std::string(sku), {}});
  }
  items_[it->second].available[loc] = quantity;
  return std::nullopt;
}

std::optional<std::int64_t> shopify_emulator::do_quantity(std::string_view sku,
                                                          std::string_view location) const {
  auto it = by_sku_.find(std::string(sku));
  if (it == by_sku_.end()) {
    return std::nullopt;
  }
  std::size_t loc = 0;
  if (!location.empty()) {
    auto found = location_index(location);
    if (!found) {
      return std::nullopt;
    }
    loc = *found;
  }
  const auto& levels = items_[it->second].available;
  auto level = levels.find(loc);
  return level == levels.end() ? std::nullopt : std::optional<std::int64_t>(level->second);
}

std::optional<std::string> shopify_emulator::do_buy_one(std::mt19937_64& rng) {
  std::vector<std::pair<std::size_t, std::size_t>> candidates;
  for (std::size_t i = 0; i < items_.size(); ++i) {
    for (const auto& [location, quantity] : items_[i].available) {
      if (quantity > 0) {
        candidates.emplace_back(i, location);
      }
    }
  }
  if (candidates.empty()) {
    return std::nullopt;
  }
  std::uniform_int_distribution<std::size_t> pick(0, candidates.size() - 1);
  auto [i, location] = candidates[pick(rng)];
  --items_[i].available[location];
  return items_[i].sku;
}

void shopify_emulator::write_quantities(json_writer& out) const {
  for (std::size_t i = 0; i < items_.size(); ++i) {
    for (const auto& [location, quantity] : items_[i].available) {
      out.begin_object().field("sku", items_[i].sku);
      out.field("inventory_item_id", std::string(item_prefix) + std::to_string(i + 1));
      out.field("location", opts_.locations[location]).field("quantity", quantity).end_object();
    }
  }
}

void shopify_emulator::write_rate_limit(json_writer& out, time_point now) {
  const double elapsed = seconds_since_start(now);
  out.field("kind", "leaky_bucket").field("maximum_available", bucket_.status().maximum_available);
  out.field("restore_rate", bucket_.status().restore_rate);
  out.field("currently_available", bucket_.available(now));
  out.field("points_requested", points_requested_).field("points_actual", points_actual_);
  // Utilisation: points spent over what the bucket could give in the run (start full + restore).
  const double capacity =
      bucket_.status().maximum_available + elapsed * bucket_.status().restore_rate;
  out.field("utilisation", capacity > 0 ? points_actual_ / capacity : 0.0);
  out.field("mutations", mutations_).field("stale_answers", stale_answers_);
  out.field("idempotent_replays", replays_);
}

} // namespace stockd::simulator
