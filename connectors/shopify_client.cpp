#include "connectors/shopify_client.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <mutex>
#include <unordered_map>

#include <simdjson.h>

#include "connectors/credentials.hpp"
#include "connectors/json_writer.hpp"
#include "connectors/webhook_client.hpp"

namespace stockd::connectors {
namespace {

namespace dom = simdjson::dom;

// The emulator (simulator/README.md) recognises the operation by name and takes the data from
// the variables only; a real shop reads the selection sets, which ask for what is parsed below.
constexpr std::string_view set_mutation =
    "mutation stockdSetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: "
    "String!) { inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) { "
    "inventoryAdjustmentGroup { reason referenceDocumentUri changes { name delta "
    "quantityAfterChange } } userErrors { field message code } } }";
constexpr std::string_view items_query =
    "query stockdInventoryItems($first: Int!, $after: String, $query: String) { "
    "inventoryItems(first: $first, after: $after, query: $query) { nodes { id sku "
    "inventoryLevels(first: 50) { nodes { location { id } quantities(names: [\"available\"]) "
    "{ name quantity } } } } pageInfo { hasNextPage endCursor } } }";

constexpr std::string_view code_stale = "CHANGE_FROM_QUANTITY_STALE";
constexpr std::string_view code_not_found = "SKU_NOT_FOUND";
constexpr std::string_view code_not_applied = "NOT_APPLIED";

std::optional<double> number_at(simdjson::simdjson_result<dom::element> e) {
  double d = 0;
  if (e.get_double().get(d) || !std::isfinite(d)) {
    return std::nullopt;
  }
  return d;
}

/// An answer as far as the whole call goes: `head` says how the call went (outcome ok: `data`
/// holds the GraphQL `data` object, valid as long as this object).
struct graphql_answer {
  push_result head;
  std::unique_ptr<dom::parser> parser = std::make_unique<dom::parser>();
  dom::element data;
};

/// Reads extensions.cost: the bucket after the call and what the call asked for.
void read_cost(dom::element root, push_result& head, std::optional<double>& requested) {
  dom::element cost;
  if (root.at_key("extensions").at_key("cost").get(cost)) {
    return;
  }
  requested = number_at(cost["requestedQueryCost"]);
  dom::element status;
  if (cost["throttleStatus"].get(status)) {
    return;
  }
  auto maximum = number_at(status["maximumAvailable"]);
  auto current = number_at(status["currentlyAvailable"]);
  auto restore = number_at(status["restoreRate"]);
  if (maximum && current && restore) {
    head.throttle = throttle_status{*maximum, *current, *restore};
  }
}

call_outcome outcome_of_error_code(std::string_view code) {
  if (code == "THROTTLED") {
    return call_outcome::throttled;
  }
  if (code == "IDEMPOTENCY_CONCURRENT_REQUEST" || code == "INTERNAL_SERVER_ERROR") {
    return call_outcome::server_error;  // may pass on a retry with the same key
  }
  if (code == "ACCESS_DENIED") {
    return call_outcome::unauthorized;
  }
  return call_outcome::bad_request;
}

graphql_answer read_answer(const http_result& r) {
  graphql_answer a;
  const auto now = std::chrono::system_clock::now();
  const bool success = r.error == http_error::none && r.response.status >= 200 &&
                       r.response.status < 300;
  if (!success) {
    // Timeouts, network failures and HTTP statuses mean what they mean for the webhook
    // connector.
    a.head = webhook_push_outcome(r, 0, now);
    if (r.error != http_error::none) {
      return a;
    }
  } else {
    a.head.code = std::to_string(r.response.status);
    if (auto id = r.response.header("X-Request-Id")) {
      a.head.request_id = std::string(*id);
    }
  }
  dom::element root;
  const bool parsed = !a.parser->parse(r.response.body).get(root) && root.is_object();
  std::optional<double> requested;
  if (parsed) {
    read_cost(root, a.head, requested);
  }
  auto throttle_wait = [&] {
    if (!a.head.retry_after && a.head.throttle && requested) {
      a.head.retry_after = shopify_throttle_wait(*requested, *a.head.throttle);
    }
  };
  if (!success) {
    if (a.head.outcome == call_outcome::throttled) {
      throttle_wait();  // a 429 without Retry-After: the bucket says how long
    }
    return a;
  }
  if (!parsed) {
    a.head.outcome = call_outcome::server_error;
    a.head.code = "invalid_response";
    return a;
  }
  dom::array errors;
  if (!root["errors"].get(errors) && errors.size() > 0) {
    std::string_view code = "GRAPHQL_ERROR";
    dom::element first = *errors.begin();
    std::string_view given;
    if (!first.at_key("extensions").at_key("code").get_string().get(given)) {
      code = given;
    }
    a.head.outcome = outcome_of_error_code(code);
    a.head.code = std::string(code);
    if (a.head.outcome == call_outcome::throttled) {
      throttle_wait();
    }
    return a;
  }
  if (root["data"].get(a.data) || !a.data.is_object()) {
    a.head.outcome = call_outcome::server_error;
    a.head.code = "invalid_response";
    return a;
  }
  a.head.outcome = call_outcome::ok;
  return a;
}

/// sku:"A" OR sku:"B" — Shopify's search syntax, values quoted.
std::string sku_filter(const std::vector<engine::sku_id>& skus) {
  std::string out;
  for (std::size_t i = 0; i < skus.size(); ++i) {
    if (i > 0) {
      out += " OR ";
    }
    out += "sku:\"";
    for (char c : skus[i].str()) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  }
  return out;
}

/// One page of inventoryItems: (sku, GID, available at `location` when stocked there).
struct item_node {
  std::string_view sku;
  std::string_view id;
  std::optional<std::int64_t> available;
};
struct items_page {
  std::vector<item_node> nodes;
  bool has_next = false;
  std::optional<std::string> end_cursor;
};

bool parse_items_page(dom::element data, std::string_view location, items_page& out) {
  dom::element connection;
  dom::array nodes;
  if (data["inventoryItems"].get(connection) || connection["nodes"].get(nodes)) {
    return false;
  }
  for (dom::element node : nodes) {
    item_node n;
    if (node["id"].get_string().get(n.id) || node["sku"].get_string().get(n.sku)) {
      continue;  // an item without a SKU cannot be one of ours
    }
    dom::array levels;
    if (!node.at_key("inventoryLevels").at_key("nodes").get(levels)) {
      for (dom::element level : levels) {
        std::string_view at;
        dom::array quantities;
        if (level.at_key("location").at_key("id").get_string().get(at) || at != location ||
            level["quantities"].get(quantities)) {
          continue;
        }
        for (dom::element q : quantities) {
          std::string_view name;
          std::int64_t quantity = 0;
          if (!q["name"].get_string().get(name) && name == "available" &&
              !q["quantity"].get_int64().get(quantity)) {
            n.available = quantity;
          }
        }
      }
    }
    out.nodes.push_back(n);
  }
  dom::element page_info;
  if (connection["pageInfo"].get(page_info) ||
      page_info["hasNextPage"].get_bool().get(out.has_next)) {
    return false;
  }
  std::string_view cursor;
  if (!page_info["endCursor"].get_string().get(cursor)) {
    out.end_cursor = std::string(cursor);
  }
  return !out.has_next || out.end_cursor.has_value();
}

/// The quantities index a userError names: field ["input","quantities","<i>",...].
std::optional<std::size_t> error_index(dom::element error) {
  dom::array field;
  if (error["field"].get(field) || field.size() < 3) {
    return std::nullopt;
  }
  std::string_view member;
  std::string_view index;
  if (field.at(1).get_string().get(member) || member != "quantities" ||
      field.at(2).get_string().get(index)) {
    return std::nullopt;
  }
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(index.data(), index.data() + index.size(), n);
  if (ec != std::errc{} || end != index.data() + index.size()) {
    return std::nullopt;
  }
  return n;
}

} // namespace

struct shopify_client::shared {
  shared(http_client& h, shopify_options o) : http(h), options(std::move(o)) {}

  std::optional<std::string> item_id(const engine::sku_id& sku) {
    std::lock_guard lock(mutex);
    auto it = item_ids.find(sku.str());
    return it == item_ids.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  void remember(std::string_view sku, std::string_view id) {
    std::lock_guard lock(mutex);
    if (item_ids.size() >= options.item_ids_max && !item_ids.contains(std::string(sku))) {
      item_ids.clear();  // a bound, not an LRU: GIDs never change, a forgotten one is looked up
    }
    item_ids.insert_or_assign(std::string(sku), std::string(id));
  }
  http_request request(std::string body) const {
    http_request r;
    r.method = http_method::post;
    r.url = options.endpoint;
    r.body = std::move(body);
    r.timeout = options.timeout;
    r.headers = {{"Content-Type", "application/json"},
                 {"X-Shopify-Access-Token", options.access_token}};
    return r;
  }

  http_client& http;
  const shopify_options options;
  std::mutex mutex;  // the push and read callbacks run on the http client's thread
  std::unordered_map<std::string, std::string> item_ids;
};

namespace {

using shared_state = std::shared_ptr<shopify_client::shared>;

/// One push, possibly several calls: the SKU lookup pages, the mutation, and the mutation once
/// more for the items a userError of another item held back.
struct push_call {
  shared_state s;
  std::vector<push_item> batch;
  std::function<void(push_result)> done;
  std::vector<std::string> ids;                   // per item its GID, "" until resolved
  std::vector<std::optional<item_result>> results;
  std::optional<throttle_status> throttle;        // from the latest answer
  std::string request_id;
  std::size_t pages = 0;
  std::optional<std::string> cursor;
  bool second_round = false;
};
using push_pointer = std::shared_ptr<push_call>;

void do_set(push_pointer c);

void finish(const push_pointer& c, push_result head) {
  if (!head.throttle) {
    head.throttle = c->throttle;
  }
  if (head.request_id.empty()) {
    head.request_id = c->request_id;
  }
  if (head.outcome == call_outcome::ok) {
    head.items.clear();
    for (auto& r : c->results) {
      head.items.push_back(r ? std::move(*r)
                             : item_result{item_outcome::retry, std::string(code_not_applied),
                                           std::nullopt});
    }
  }
  c->done(std::move(head));
}

void note(const push_pointer& c, const graphql_answer& a) {
  if (a.head.throttle) {
    c->throttle = a.head.throttle;
  }
  if (!a.head.request_id.empty()) {
    c->request_id = a.head.request_id;
  }
}

std::vector<engine::sku_id> unresolved(const push_call& c) {
  std::vector<engine::sku_id> out;
  for (std::size_t i = 0; i < c.batch.size(); ++i) {
    if (c.ids[i].empty() && !c.results[i]) {
      out.push_back(c.batch[i].sku);
    }
  }
  return out;
}

void do_lookup(push_pointer c) {
  auto request = c->s->request(shopify_items_body(unresolved(*c), c->cursor));
  auto& http = c->s->http;
  http.send(std::move(request), [c = std::move(c)](http_result r) {
    graphql_answer a = read_answer(r);
    note(c, a);
    if (a.head.outcome != call_outcome::ok) {
      finish(c, std::move(a.head));  // nothing was sent to change: the whole call failed
      return;
    }
    items_page page;
    if (!parse_items_page(a.data, c->s->options.location, page)) {
      a.head.outcome = call_outcome::server_error;
      a.head.code = "invalid_response";
      finish(c, std::move(a.head));
      return;
    }
    ++c->pages;
    for (const auto& node : page.nodes) {
      c->s->remember(node.sku, node.id);
      for (std::size_t i = 0; i < c->batch.size(); ++i) {
        if (c->ids[i].empty() && c->batch[i].sku.str() == node.sku) {
          c->ids[i] = std::string(node.id);
        }
      }
    }
    const bool missing = !unresolved(*c).empty();
    if (missing && page.has_next && c->pages < c->s->options.lookup_pages_max) {
      c->cursor = page.end_cursor;
      do_lookup(c);
      return;
    }
    for (std::size_t i = 0; i < c->batch.size(); ++i) {
      if (c->ids[i].empty() && !c->results[i]) {
        c->results[i] = item_result{item_outcome::rejected, std::string(code_not_found), {}};
      }
    }
    do_set(c);
  });
}

/// The answer to one mutation of the items at `sent` (indices into the batch).
void on_set(const push_pointer& c, const std::vector<std::size_t>& sent, const http_result& r) {
  graphql_answer a = read_answer(r);
  note(c, a);
  auto not_applied = [&](std::string code) {
    for (std::size_t i : sent) {
      c->results[i] = item_result{item_outcome::retry, code, std::nullopt};
    }
  };
  if (a.head.outcome != call_outcome::ok) {
    if (!c->second_round) {
      finish(c, std::move(a.head));
      return;
    }
    // Items already answered keep their answer; those of the failed call wait for a retry.
    not_applied(a.head.code);
    a.head.outcome = call_outcome::ok;
    finish(c, std::move(a.head));
    return;
  }
  dom::array errors;
  if (a.data.at_key("inventorySetQuantities").at_key("userErrors").get(errors)) {
    a.head.outcome = call_outcome::server_error;
    a.head.code = "invalid_response";
    if (c->second_round) {
      not_applied(a.head.code);
      a.head.outcome = call_outcome::ok;
    }
    finish(c, std::move(a.head));
    return;
  }
  if (errors.size() == 0) {
    for (std::size_t i : sent) {
      c->results[i] = item_result{item_outcome::applied, {}, c->batch[i].quantity};
    }
    finish(c, std::move(a.head));
    return;
  }
  bool pinned_any = false;
  for (dom::element error : errors) {
    std::string_view code = "USER_ERROR";
    [[maybe_unused]] auto ignored = error["code"].get_string().get(code);
    auto index = error_index(error);
    if (!index || *index >= sent.size()) {
      // Not about one item (e.g. the input's name): the batch as a whole is refused.
      a.head.outcome = c->second_round ? call_outcome::ok : call_outcome::bad_request;
      a.head.code = std::string(code);
      if (c->second_round) {
        not_applied(a.head.code);
      }
      finish(c, std::move(a.head));
      return;
    }
    pinned_any = true;
    const std::size_t i = sent[*index];
    c->results[i] = code == code_stale
                        ? item_result{item_outcome::stale, std::string(code), std::nullopt}
                        : item_result{item_outcome::rejected, std::string(code), std::nullopt};
  }
  assert(pinned_any);
  // All or nothing: the items without an error were not applied either. Once more without the
  // bad ones; after that, they wait for the channel actor's retry.
  if (!c->second_round) {
    c->second_round = true;
    do_set(c);
    return;
  }
  finish(c, std::move(a.head));
}

void do_set(push_pointer c) {
  std::vector<std::size_t> sent;
  std::vector<push_item> items;
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < c->batch.size(); ++i) {
    if (!c->results[i]) {
      sent.push_back(i);
      items.push_back(c->batch[i]);
      ids.push_back(c->ids[i]);
    }
  }
  if (sent.empty()) {
    push_result head;
    head.outcome = call_outcome::ok;
    finish(c, std::move(head));
    return;
  }
  const std::string key = shopify_idempotency_key(items);
  auto request =
      c->s->request(shopify_set_body(items, ids, c->s->options.location, key));
  auto& http = c->s->http;
  http.send(std::move(request), [c = std::move(c), sent = std::move(sent)](http_result r) {
    on_set(c, sent, r);
  });
}

/// One read: pages of inventoryItems until every SKU asked for was seen.
struct read_call {
  shared_state s;
  std::vector<engine::sku_id> skus;
  std::function<void(read_result)> done;
  std::unordered_map<std::string, std::optional<std::int64_t>> seen;  // sku → available
  std::optional<throttle_status> throttle;
  std::size_t pages = 0;
  std::optional<std::string> cursor;
};

void do_read(std::shared_ptr<read_call> c) {
  auto request = c->s->request(shopify_items_body(c->skus, c->cursor));
  auto& http = c->s->http;
  http.send(std::move(request), [c = std::move(c)](http_result r) {
    graphql_answer a = read_answer(r);
    if (a.head.throttle) {
      c->throttle = a.head.throttle;
    }
    read_result out;
    out.throttle = c->throttle;
    items_page page;
    if (a.head.outcome != call_outcome::ok) {
      out.code = a.head.code;
      c->done(std::move(out));
      return;
    }
    if (!parse_items_page(a.data, c->s->options.location, page)) {
      out.code = "invalid_response";
      c->done(std::move(out));
      return;
    }
    ++c->pages;
    for (const auto& node : page.nodes) {
      c->s->remember(node.sku, node.id);
      for (const auto& sku : c->skus) {
        if (sku.str() == node.sku) {
          c->seen[sku.str()] = node.available;
        }
      }
    }
    if (c->seen.size() < c->skus.size() && page.has_next &&
        c->pages < c->s->options.lookup_pages_max) {
      c->cursor = page.end_cursor;
      do_read(c);
      return;
    }
    for (const auto& sku : c->skus) {
      auto it = c->seen.find(sku.str());
      if (it != c->seen.end() && it->second) {
        out.quantities.emplace_back(sku, *it->second);
      }
    }
    out.ok = true;
    out.code = a.head.code;
    c->done(std::move(out));
  });
}

} // namespace

std::string shopify_set_body(const std::vector<push_item>& batch,
                             const std::vector<std::string>& item_ids, std::string_view location,
                             std::string_view key) {
  assert(batch.size() == item_ids.size());
  json_writer w;
  w.out().reserve(512 + batch.size() * 160);
  w.begin_object().field("query", set_mutation).key("variables").begin_object();
  w.field("idempotencyKey", key).key("input").begin_object();
  w.field("name", "available").field("reason", "correction");
  // Shown in the merchant's inventory history: which stockd push made the change.
  w.field("referenceDocumentUri", "gid://stockd/Push/" + std::string(key));
  w.key("quantities").begin_array();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    w.begin_object().field("inventoryItemId", item_ids[i]).field("locationId", location);
    w.field("quantity", batch[i].quantity).key("changeFromQuantity");
    if (batch[i].change_from) {
      w.value(*batch[i].change_from);
    } else {
      w.null();  // explicit: from 2026-04 a missing changeFromQuantity is refused
    }
    w.end_object();
  }
  w.end_array().end_object().end_object().end_object();
  return w.take();
}

std::string shopify_idempotency_key(const std::vector<push_item>& batch) {
  // Each line "<item key>:<change_from or ->" as an "observation token" (channels.md): an item's
  // key is fixed per intended change, but its compare quantity may move between retries (an own
  // order seen, a re-read), and Shopify refuses a key reused with other variables.
  std::vector<push_item> lines;
  lines.reserve(batch.size());
  for (const auto& item : batch) {
    push_item line;
    line.idempotency_key = item.idempotency_key + ":" +
                           (item.change_from ? std::to_string(*item.change_from) : "-");
    lines.push_back(std::move(line));
  }
  return webhook_idempotency_key(lines);
}

std::string shopify_items_body(const std::vector<engine::sku_id>& skus,
                               const std::optional<std::string>& after) {
  json_writer w;
  w.begin_object().field("query", items_query).key("variables").begin_object();
  // A page about as large as the SKUs asked (the query's cost is 2 + first), with room for a few
  // more matches (Shopify allows a SKU on several items, and its search may match more); past
  // that the page turns and `after` follows.
  const std::size_t first = std::min(skus.size() + shopify_read_slack, shopify_quantities_max);
  w.field("first", static_cast<std::int64_t>(first)).key("after");
  if (after) {
    w.value(*after);
  } else {
    w.null();
  }
  w.field("query", sku_filter(skus)).end_object().end_object();
  return w.take();
}

std::optional<std::chrono::milliseconds> shopify_throttle_wait(double requested,
                                                               const throttle_status& status) {
  if (!(status.restore_rate > 0)) {
    return std::nullopt;
  }
  const double seconds = std::max(0.0, requested - status.currently_available) /
                         status.restore_rate;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(
      std::chrono::duration<double>(seconds));
  return std::min(wait, retry_after_max);
}

shopify_client::shopify_client(http_client& http, shopify_options options)
    : shared_(std::make_shared<shared>(http, std::move(options))) {
  assert(shared_->options.batch_max >= 1);
  assert(!shared_->options.access_token.empty());
  assert(!shared_->options.location.empty());
  assert(shared_->options.item_ids_max >= shopify_quantities_max);
  assert(shared_->options.lookup_pages_max >= 1);
}

result<std::unique_ptr<shopify_client>, std::string>
shopify_client::create(http_client& http, const channel_options& channel) {
  auto token = resolve_credentials(channel.credentials);
  if (!token) {
    return unexpected{"channel '" + channel.id.str() + "': " + token.error()};
  }
  if (channel.shopify_location.empty()) {
    return unexpected{"channel '" + channel.id.str() +
                      "': shopify_location is required (the Location GID it pushes to)"};
  }
  shopify_options options;
  options.endpoint = channel.endpoint;
  options.access_token = std::move(token.value());
  options.location = channel.shopify_location;
  options.batch_max = static_cast<std::size_t>(channel.batch_size);
  return std::make_unique<shopify_client>(http, std::move(options));
}

std::size_t shopify_client::batch_max() const {
  return std::min(shared_->options.batch_max, shopify_quantities_max);
}

void shopify_client::push(std::vector<push_item> batch, std::function<void(push_result)> done) {
  assert(done);
  assert(batch.size() <= batch_max());  // the channel actor batches to batch_max()
  if (batch.empty()) {
    push_result out;
    out.outcome = call_outcome::ok;
    done(std::move(out));
    return;
  }
  auto c = std::make_shared<push_call>();
  c->s = shared_;
  c->ids.resize(batch.size());
  c->results.resize(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (auto id = shared_->item_id(batch[i].sku)) {
      c->ids[i] = std::move(*id);
    }
  }
  c->batch = std::move(batch);
  c->done = std::move(done);
  // The callbacks hold the shared state, not this client: they may run after it is gone.
  if (unresolved(*c).empty()) {
    do_set(std::move(c));
  } else {
    do_lookup(std::move(c));
  }
}

void shopify_client::read(std::vector<engine::sku_id> skus,
                          std::function<void(read_result)> done) {
  assert(done);
  if (skus.empty()) {
    read_result out;
    out.ok = true;
    done(std::move(out));
    return;
  }
  auto c = std::make_shared<read_call>();
  c->s = shared_;
  c->skus = std::move(skus);
  c->done = std::move(done);
  do_read(std::move(c));
}

} // namespace stockd::connectors
