// Fuzzes the POST /v1/events body decoder (connectors/event_decoder.hpp): a JSON array or NDJSON
// of event envelopes. Beyond "no crash, no sanitizer report", it checks what the header promises:
//  - decoding is deterministic and leaves the body's content unchanged;
//  - a body error is a 400 or a 413 with a message; an accepted body has at most events_max
//    entries, each either an event or a rejection with a known field (or "" for a non-object)
//    and a reason;
//  - an accepted event satisfies every validation rule (engine/ relies on them and asserts some);
//  - an accepted event re-encoded as JSON decodes to the same event and kit expansion, and its
//    journal encoding (engine/codec.hpp) decodes to the same entry.
// The limits are small so that every bound (count, string length, quantity, depth) is reachable.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/event_decoder.hpp"
#include "connectors/json_writer.hpp"
#include "engine/codec.hpp"
#include "engine/kits.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

namespace connectors = stockd::connectors;
namespace engine = stockd::engine;
namespace fuzz = stockd::fuzz;

constexpr connectors::decode_limits limits{
    .events_max = 16, .string_bytes_max = 32, .qty_max = 1'000'000, .depth_max = 4};

constexpr std::string_view field_names[] = {
    "id",          "source",  "type",           "sku",        "location", "occurred_at",
    "qty",         "delta",   "counted",        "as_of",      "order_id", "line_id",
    "channel",     "disposition", "po_id",      "transfer_id", "to_location", "reason",
    "reservation_id", "expires_at", "from",     "to",          "unit",
};

bool known_field(std::string_view name) {
  for (auto known : field_names) {
    if (known == name) {
      return true;
    }
  }
  return false;
}

bool same(const connectors::decoded_event& a, const connectors::decoded_event& b) {
  return a.id == b.id && a.ev == b.ev && a.components == b.components && a.error == b.error &&
         a.miss.kind == b.miss.kind && a.miss.source == b.miss.source &&
         a.miss.sku == b.miss.sku && a.miss.unit == b.miss.unit;
}

bool bounded(std::string_view text) {
  return !text.empty() && text.size() <= limits.string_bytes_max;
}

bool movable(engine::bucket b) {
  return b == engine::bucket::available || b == engine::bucket::damaged ||
         b == engine::bucket::quality_control || b == engine::bucket::safety_stock;
}

// The validation rules, as the engine may rely on them for an accepted event.
void check_accepted(const engine::event& ev, const engine::catalog& catalog) {
  using engine::event_type;
  FUZZ_CHECK(bounded(ev.id));
  FUZZ_CHECK(bounded(ev.source.str()));
  FUZZ_CHECK(ev.source.str() != "stockd");
  FUZZ_CHECK(!ev.sku.str().empty());
  if (ev.location.str().empty()) {
    // An order line is placed by the engine; its later events follow it (server/placement.hpp).
    FUZZ_CHECK(engine::is_line_event(ev.type));
  } else {
    FUZZ_CHECK(catalog.has_location(ev.location));
  }
  if (catalog.has_sku_mapping(ev.source)) {
    FUZZ_CHECK(catalog.find_sku(ev.sku) != nullptr);
  } else {
    FUZZ_CHECK(bounded(ev.sku.str()));
  }
  const bool kit = catalog.is_kit(ev.sku);
  FUZZ_CHECK(!kit || engine::kit_accepts(ev.type));
  switch (ev.type) {
    case event_type::adjusted:
      FUZZ_CHECK(ev.delta != 0 && ev.delta >= -limits.qty_max && ev.delta <= limits.qty_max);
      break;
    case event_type::counted:
      FUZZ_CHECK(ev.counted >= 0 && ev.counted <= limits.qty_max);
      break;
    default:
      FUZZ_CHECK(ev.qty >= 1 && ev.qty <= limits.qty_max);
      break;
  }
  if (engine::is_line_event(ev.type)) {
    FUZZ_CHECK(bounded(ev.order_id) && bounded(ev.line_id));
  }
  switch (ev.type) {
    case event_type::order_created:
      FUZZ_CHECK(bounded(ev.channel.str()));
      break;
    case event_type::po_created:
    case event_type::po_cancelled:
      FUZZ_CHECK(bounded(ev.po_id));
      break;
    case event_type::transfer_shipped:
      FUZZ_CHECK(catalog.has_location(ev.to_location));
      [[fallthrough]];
    case event_type::transfer_received:
      FUZZ_CHECK(bounded(ev.transfer_id));
      break;
    case event_type::reservation_committed:
      FUZZ_CHECK(bounded(ev.order_id));
      [[fallthrough]];
    case event_type::reservation_created:
    case event_type::reservation_released:
    case event_type::reservation_expired:
      FUZZ_CHECK(bounded(ev.reservation_id));
      break;
    case event_type::status_changed:
      FUZZ_CHECK(movable(ev.from) && movable(ev.to) && ev.from != ev.to);
      break;
    default:
      break;
  }
}

void check_components(const engine::event& ev, const std::vector<engine::event>& components,
                      const engine::catalog& catalog) {
  const auto kit = catalog.kit_components(ev.sku);
  FUZZ_CHECK(components.size() == kit.size());
  for (const auto& component : components) {
    FUZZ_CHECK(component.qty >= 1 && component.qty <= limits.qty_max);
    FUZZ_CHECK(bounded(component.id));
    FUZZ_CHECK(component.line_id.size() <= limits.string_bytes_max);
    FUZZ_CHECK(!catalog.is_kit(component.sku));
  }
}

// The event as a sender would post it in canonical form: canonical SKU and location, base
// units, UTC timestamps. Only for a source without a mapping table (one with a table speaks its
// own ids, not canonical SKUs).
std::string encode_json(const engine::event& ev) {
  using engine::event_type;
  connectors::json_writer w;
  w.begin_object()
      .field("id", ev.id)
      .field("source", ev.source.str())
      .field("type", engine::to_string(ev.type))
      .field("sku", ev.sku.str())
      .field("occurred_at", engine::format_rfc3339(ev.occurred_at));
  if (!ev.location.str().empty()) {
    w.field("location", ev.location.str());
  }
  auto optional = [&w](std::string_view name, const std::string& value) {
    if (!value.empty()) {
      w.field(name, value);
    }
  };
  switch (ev.type) {
    case event_type::adjusted: w.field("delta", ev.delta); break;
    case event_type::counted:
      w.field("counted", ev.counted).field("as_of", engine::format_rfc3339(ev.as_of));
      break;
    default: w.field("qty", ev.qty); break;
  }
  optional("order_id", ev.order_id);
  optional("line_id", ev.line_id);
  optional("channel", ev.channel.str());
  optional("po_id", ev.po_id);
  optional("transfer_id", ev.transfer_id);
  optional("to_location", ev.to_location.str());
  optional("reason", ev.reason);
  optional("reservation_id", ev.reservation_id);
  if (ev.type == event_type::return_received) {
    w.field("disposition", engine::to_string(ev.return_disposition));
  }
  if (ev.expires_at) {
    w.field("expires_at", engine::format_rfc3339(*ev.expires_at));
  }
  if (ev.type == event_type::status_changed) {
    w.field("from", engine::to_string(ev.from)).field("to", engine::to_string(ev.to));
  }
  w.end_object();
  return w.take();
}

void check_round_trip(const connectors::decoded_event& decoded, const engine::catalog& catalog) {
  const engine::event& ev = *decoded.ev;
  std::vector<const engine::event*> journaled{&ev};
  for (const auto& component : decoded.components) {
    journaled.push_back(&component);
  }
  for (const engine::event* one : journaled) {
    std::string bytes;
    const engine::journal_entry entry{7, one->occurred_at, *one};
    engine::encode(entry, bytes);
    const auto back = engine::decode_journal_entry(bytes);
    FUZZ_CHECK(back && *back == entry);
  }
  if (catalog.has_sku_mapping(ev.source)) {
    return;
  }
  std::string json = encode_json(ev);
  auto again = connectors::decode_events(json, catalog, limits);
  FUZZ_CHECK(again.has_value() && again->size() == 1);
  const auto& redecoded = again->front();
  FUZZ_CHECK(redecoded.ev && *redecoded.ev == ev);
  FUZZ_CHECK(redecoded.components == decoded.components);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const engine::catalog catalog = fuzz::fuzz_catalog();
  const std::string original(reinterpret_cast<const char*>(data), size);

  std::string body = original;
  auto result = connectors::decode_events(body, catalog, limits);
  FUZZ_CHECK(body == original);
  std::string body_again = original;
  auto again = connectors::decode_events(body_again, catalog, limits);
  FUZZ_CHECK(result.has_value() == again.has_value());

  if (!result) {
    FUZZ_CHECK(result.error().http_status == 400 || result.error().http_status == 413);
    FUZZ_CHECK(!result.error().message.empty());
    FUZZ_CHECK(result.error().http_status == again.error().http_status &&
               result.error().message == again.error().message);
    return 0;
  }
  FUZZ_CHECK(result->size() == again->size());
  FUZZ_CHECK(result->size() <= limits.events_max);
  for (std::size_t i = 0; i < result->size(); ++i) {
    const auto& decoded = (*result)[i];
    FUZZ_CHECK(same(decoded, (*again)[i]));
    if (!decoded.ev) {
      FUZZ_CHECK(!decoded.error.reason.empty());
      FUZZ_CHECK(decoded.error.field.empty() ? decoded.error.reason == "must be an object"
                                             : known_field(decoded.error.field));
      FUZZ_CHECK(decoded.components.empty());
      if (decoded.miss.kind != connectors::miss_kind::none) {
        FUZZ_CHECK(decoded.error.field == "sku" || decoded.error.field == "unit");
      }
      continue;
    }
    FUZZ_CHECK(decoded.error.field.empty() && decoded.error.reason.empty());
    FUZZ_CHECK(decoded.miss.kind == connectors::miss_kind::none);
    FUZZ_CHECK(decoded.id == decoded.ev->id);
    check_accepted(*decoded.ev, catalog);
    check_components(*decoded.ev, decoded.components, catalog);
    check_round_trip(decoded, catalog);
  }
  return 0;
}
