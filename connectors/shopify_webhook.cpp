#include "connectors/shopify_webhook.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include "engine/kits.hpp"
#include "engine/time.hpp"

namespace stockd::connectors {
namespace {

namespace dom = simdjson::dom;
using fail = stockd::unexpected<body_error>;

body_error unprocessable(std::string message) { return body_error{422, std::move(message)}; }

// Shopify's REST ids are integers; a string id (a GID, or a test's) is taken as it is.
std::optional<std::string> id_text(dom::element value) {
  switch (value.type()) {
    case dom::element_type::INT64: return std::to_string(std::int64_t(value));
    case dom::element_type::UINT64: return std::to_string(std::uint64_t(value));
    case dom::element_type::STRING: {
      std::string_view s = value;
      if (s.empty()) {
        return std::nullopt;
      }
      return std::string(s);
    }
    default: return std::nullopt;
  }
}

// The field `key` of `object` as an id; an error naming `where.key` otherwise.
stockd::result<std::string, body_error> required_id(dom::object object, std::string_view key,
                                                    const std::string& where) {
  dom::element value;
  if (object[key].get(value) != simdjson::SUCCESS) {
    return fail(unprocessable(where + std::string(key) + " is required"));
  }
  auto text = id_text(value);
  if (!text) {
    return fail(unprocessable(where + std::string(key) + " must be an integer or a string id"));
  }
  return std::move(*text);
}

stockd::result<engine::timestamp, body_error> required_time(dom::object object,
                                                            std::string_view key,
                                                            const std::string& where) {
  std::string_view text;
  if (object[key].get(text) != simdjson::SUCCESS) {
    return fail(unprocessable(where + std::string(key) + " must be an RFC 3339 string"));
  }
  auto parsed = engine::parse_rfc3339(text);
  if (!parsed) {
    return fail(unprocessable(where + std::string(key) + " must be an RFC 3339 timestamp"));
  }
  return *parsed;
}

stockd::result<std::int64_t, body_error> required_quantity(dom::object object,
                                                           std::string_view key,
                                                           const std::string& where,
                                                           std::int64_t max) {
  std::int64_t qty = 0;
  if (object[key].get(qty) != simdjson::SUCCESS || qty < 0 || qty > max) {
    return fail(unprocessable(where + std::string(key) + " must be an integer from 0 to " +
                              std::to_string(max)));
  }
  return qty;
}

// The SKU of a line item: empty when it has none (null, absent or "": not a stock item).
stockd::result<std::string, body_error> line_sku(dom::object line, const std::string& where) {
  dom::element value;
  if (line["sku"].get(value) != simdjson::SUCCESS || value.is_null()) {
    return std::string{};
  }
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS) {
    return fail(unprocessable(where + "sku must be a string"));
  }
  return std::string(text);
}

stockd::result<dom::array, body_error> required_array(dom::object object, std::string_view key,
                                                      const std::string& where) {
  dom::array array;
  if (object[key].get(array) != simdjson::SUCCESS) {
    return fail(unprocessable(where + std::string(key) + " must be an array"));
  }
  if (array.size() > shopify_webhook_lines_max) {
    return fail(unprocessable(where + std::string(key) + " has more than " +
                              std::to_string(shopify_webhook_lines_max) + " entries"));
  }
  return array;
}

// One mapped line: the catalog resolves the SKU and expands a kit; a problem is the event's
// error (the caller refuses the delivery), not the body's.
class line_mapper {
public:
  line_mapper(const shopify_webhook_envelope& envelope, const engine::catalog& catalog,
              const decode_limits& limits, shopify_webhook_decoded& out)
      : envelope_(envelope), catalog_(catalog), limits_(limits), out_(out) {}

  void add(engine::event ev, std::string_view shopify_sku) {
    decoded_event d;
    d.id = ev.id;
    ev.source = engine::source_id(envelope_.channel.str());
    auto reject = [&](std::string field, std::string reason) {
      d.error = field_error{std::move(field), std::move(reason)};
      out_.events.push_back(std::move(d));
    };
    for (const std::string* text : {&ev.id, &ev.order_id, &ev.line_id}) {
      if (text->size() > limits_.string_bytes_max) {
        return reject("id", "longer than " + std::to_string(limits_.string_bytes_max) + " bytes");
      }
    }
    if (shopify_sku.size() > limits_.string_bytes_max) {
      return reject("sku", "longer than " + std::to_string(limits_.string_bytes_max) + " bytes");
    }
    if (ev.qty > limits_.qty_max) {
      return reject("qty", "must be at most " + std::to_string(limits_.qty_max));
    }
    auto sku = catalog_.resolve_sku(ev.source, shopify_sku);
    if (!sku) {
      d.miss = catalog_miss{miss_kind::unmapped_sku, ev.source.str(), std::string(shopify_sku),
                            {}};
      return reject("sku", "unmapped sku \"" + std::string(shopify_sku) + "\" for source \"" +
                               ev.source.str() + "\"");
    }
    ev.sku = std::move(*sku);
    const auto kit = catalog_.kit_components(ev.sku);
    for (const auto& component : kit) {
      const std::size_t suffix = 1 + component.sku.str().size();
      if (ev.qty > limits_.qty_max / component.qty ||
          ev.id.size() + suffix > limits_.string_bytes_max ||
          ev.line_id.size() + suffix > limits_.string_bytes_max) {
        return reject("sku", "the kit's expansion passes the limits for component \"" +
                                 component.sku.str() + "\"");
      }
    }
    if (!kit.empty()) {
      d.components = engine::expand_kit_event(ev, kit);
    }
    d.ev = std::move(ev);
    out_.events.push_back(std::move(d));
  }

private:
  const shopify_webhook_envelope& envelope_;
  const engine::catalog& catalog_;
  const decode_limits& limits_;
  shopify_webhook_decoded& out_;
};

std::optional<body_error> map_order(dom::object order, const shopify_webhook_envelope& envelope,
                                    bool cancelled, const decode_limits& limits,
                                    line_mapper& mapper, shopify_webhook_decoded& out) {
  auto order_id = required_id(order, "id", "order.");
  if (!order_id) {
    return order_id.error();
  }
  auto when = required_time(order, cancelled ? "cancelled_at" : "created_at", "order.");
  if (!when) {
    return when.error();
  }
  auto lines = required_array(order, "line_items", "order.");
  if (!lines) {
    return lines.error();
  }
  // What each line has shipped already: a cancellation releases only the rest.
  std::map<std::string, std::int64_t> fulfilled;
  if (cancelled) {
    dom::array fulfillments;
    if (order["fulfillments"].get(fulfillments) == simdjson::SUCCESS) {
      for (dom::element f : fulfillments) {
        dom::object fulfillment;
        std::string_view status;
        dom::array items;
        if (f.get(fulfillment) != simdjson::SUCCESS ||
            fulfillment["line_items"].get(items) != simdjson::SUCCESS) {
          continue;
        }
        // Only a fulfilment that happened moved stock out ("cancelled", "failure", "error" did
        // not); a missing status is taken as success.
        if (fulfillment["status"].get(status) == simdjson::SUCCESS && status != "success") {
          continue;
        }
        for (dom::element item : items) {
          dom::object o;
          dom::element id;
          std::int64_t qty = 0;
          if (item.get(o) == simdjson::SUCCESS && o["id"].get(id) == simdjson::SUCCESS &&
              o["quantity"].get(qty) == simdjson::SUCCESS && qty > 0) {
            if (auto text = id_text(id)) {
              fulfilled[*text] += std::min(qty, limits.qty_max);
            }
          }
        }
      }
    }
  }
  std::size_t index = 0;
  for (dom::element element : *lines) {
    const std::string where = "order.line_items[" + std::to_string(index++) + "].";
    dom::object line;
    if (element.get(line) != simdjson::SUCCESS) {
      return unprocessable(where.substr(0, where.size() - 1) + " must be an object");
    }
    auto line_id = required_id(line, "id", where);
    if (!line_id) {
      return line_id.error();
    }
    auto qty = required_quantity(line, "quantity", where, limits.qty_max);
    if (!qty) {
      return qty.error();
    }
    auto sku = line_sku(line, where);
    if (!sku) {
      return sku.error();
    }
    if (sku->empty()) {
      ++out.lines_without_sku;
      continue;
    }
    std::int64_t units = *qty;
    if (cancelled) {
      auto shipped = fulfilled.find(*line_id);
      units -= shipped == fulfilled.end() ? 0 : std::min(units, shipped->second);
    }
    if (units <= 0) {
      ++out.lines_skipped;
      continue;
    }
    engine::event ev;
    ev.id = envelope.webhook_id + ":" + *line_id;
    ev.type = cancelled ? engine::event_type::order_cancelled : engine::event_type::order_created;
    ev.qty = units;
    ev.order_id = *order_id;
    ev.line_id = *line_id;
    ev.occurred_at = *when;
    if (!cancelled) {
      ev.channel = envelope.channel;
    }
    mapper.add(std::move(ev), *sku);
  }
  return std::nullopt;
}

std::optional<body_error> map_refund(dom::object refund, const shopify_webhook_envelope& envelope,
                                     const decode_limits& limits, line_mapper& mapper,
                                     shopify_webhook_decoded& out) {
  auto order_id = required_id(refund, "order_id", "refund.");
  if (!order_id) {
    return order_id.error();
  }
  auto when = required_time(refund, "created_at", "refund.");
  if (!when) {
    return when.error();
  }
  auto lines = required_array(refund, "refund_line_items", "refund.");
  if (!lines) {
    return lines.error();
  }
  std::size_t index = 0;
  for (dom::element element : *lines) {
    const std::string where = "refund.refund_line_items[" + std::to_string(index++) + "].";
    dom::object line;
    if (element.get(line) != simdjson::SUCCESS) {
      return unprocessable(where.substr(0, where.size() - 1) + " must be an object");
    }
    auto refund_line_id = required_id(line, "id", where);
    if (!refund_line_id) {
      return refund_line_id.error();
    }
    auto line_id = required_id(line, "line_item_id", where);
    if (!line_id) {
      return line_id.error();
    }
    auto qty = required_quantity(line, "quantity", where, limits.qty_max);
    if (!qty) {
      return qty.error();
    }
    std::string_view restock;
    if (line["restock_type"].get(restock) != simdjson::SUCCESS) {
      return unprocessable(where + "restock_type must be a string");
    }
    dom::object item;
    if (line["line_item"].get(item) != simdjson::SUCCESS) {
      return unprocessable(where + "line_item must be an object");
    }
    auto sku = line_sku(item, where + "line_item.");
    if (!sku) {
      return sku.error();
    }
    if (sku->empty()) {
      ++out.lines_without_sku;
      continue;
    }
    if (restock != "return" || *qty == 0) {
      ++out.lines_skipped;
      continue;
    }
    engine::event ev;
    ev.id = envelope.webhook_id + ":" + *refund_line_id;
    ev.type = engine::event_type::return_received;
    ev.qty = *qty;
    ev.order_id = *order_id;
    ev.line_id = *line_id;
    ev.occurred_at = *when;
    ev.return_disposition = engine::disposition::restock;
    mapper.add(std::move(ev), *sku);
  }
  return std::nullopt;
}

} // namespace

bool shopify_topic_moves_stock(std::string_view topic) noexcept {
  return topic == "orders/create" || topic == "orders/cancelled" || topic == "refunds/create";
}

stockd::result<shopify_webhook_decoded, body_error>
decode_shopify_webhook(std::string& body, const shopify_webhook_envelope& envelope,
                       const engine::catalog& catalog, const decode_limits& limits) {
  shopify_webhook_decoded out;
  if (!shopify_topic_moves_stock(envelope.topic)) {
    out.ignored = true;
    return out;
  }
  dom::parser parser;
  if (parser.allocate(std::max<std::size_t>(body.size(), 64), shopify_webhook_depth_max) !=
      simdjson::SUCCESS) {
    return fail(body_error{400, "body too large to parse"});
  }
  dom::element root;
  if (auto error = parser.parse(body).get(root)) {
    if (error == simdjson::DEPTH_ERROR) {
      return fail(body_error{400, "malformed JSON: nested deeper than " +
                                      std::to_string(shopify_webhook_depth_max) + " levels"});
    }
    return fail(body_error{400, std::string("malformed JSON: ") + simdjson::error_message(error)});
  }
  dom::object object;
  if (root.get(object) != simdjson::SUCCESS) {
    return fail(unprocessable("the payload must be a JSON object"));
  }
  line_mapper mapper(envelope, catalog, limits, out);
  std::optional<body_error> problem;
  if (envelope.topic == "refunds/create") {
    problem = map_refund(object, envelope, limits, mapper, out);
  } else {
    problem = map_order(object, envelope, envelope.topic == "orders/cancelled", limits, mapper,
                        out);
  }
  if (problem) {
    return fail(std::move(*problem));
  }
  return out;
}

std::string shopify_hmac_base64(std::string_view secret, std::string_view body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac.data(), &length);
  std::string out(4 * ((length + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), mac.data(),
                                      static_cast<int>(length));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

bool verify_shopify_hmac(std::string_view body, std::string_view header,
                         const std::vector<std::string>& secrets) {
  // A SHA-256 MAC is 32 bytes: 44 base64 characters with one '=' of padding.
  if (header.size() != 44) {
    return false;
  }
  bool match = false;
  for (const auto& secret : secrets) {
    if (secret.empty()) {
      continue;
    }
    const std::string expected = shopify_hmac_base64(secret, body);
    // Both are 44 characters; CRYPTO_memcmp's time does not depend on where they differ.
    const bool equal = expected.size() == header.size() &&
                       CRYPTO_memcmp(expected.data(), header.data(), header.size()) == 0;
    match = match || equal;
  }
  return match;
}

} // namespace stockd::connectors
