// POST /v1/events body decoder (DESIGN §2, §5) on simdjson On-Demand, error-code API only.
//
// Two failure levels, as the header promises:
//  - body errors (400/413): any JSON syntax error, nesting deeper than `depth_max`, more than
//    `events_max` events. Nothing of the body is accepted, because a half-parsed body would make
//    the sender guess which events landed.
//  - field errors: one event is rejected with {field, reason}; its neighbours still decode.
//
// Every value of the body is walked, including fields we ignore: On-Demand only validates what it
// is asked to read, so skipping an unknown field would let `{"x": [1 2]}` through as valid JSON,
// and it is also where the depth bound is enforced (On-Demand does not in release builds).
//
// Duplicate keys: a known field that appears twice rejects the event with reason "duplicate key".
// Parsers disagree on first-wins versus last-wins, so accepting either would let two systems read
// one event two ways. Repeated unknown fields are ignored like any unknown field.
//
// An `order_created` may leave out `location` when it names its `channel` (DESIGN §2): the engine
// picks the location later, so the decoded event then has an empty location.
#include "connectors/event_decoder.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "engine/kits.hpp"

namespace stockd::connectors {
namespace {

namespace od = simdjson::ondemand;
using simdjson::error_code;

// ---------------------------------------------------------------------------------------------
// Known fields.

enum class key : std::uint8_t {
  id,
  source,
  type,
  sku,
  location,
  occurred_at,
  qty,
  delta,
  counted,
  as_of,
  order_id,
  line_id,
  channel,
  disposition,
  po_id,
  transfer_id,
  to_location,
  reason,
  reservation_id,
  expires_at,
  from,
  to,
  unit,
};
constexpr std::size_t key_count = 23;

constexpr std::array<std::string_view, key_count> key_names{
    "id",          "source",  "type",           "sku",        "location", "occurred_at",
    "qty",         "delta",   "counted",        "as_of",      "order_id", "line_id",
    "channel",     "disposition", "po_id",      "transfer_id", "to_location", "reason",
    "reservation_id", "expires_at", "from",     "to",          "unit",
};

constexpr std::string_view name_of(key k) noexcept {
  return key_names[static_cast<std::size_t>(k)];
}

constexpr bool is_integer_key(key k) noexcept {
  return k == key::qty || k == key::delta || k == key::counted;
}

std::optional<key> find_key(std::string_view name) noexcept {
  if (name.empty()) {
    return std::nullopt;
  }
  // Size and first byte rule out almost every candidate before a full comparison.
  for (std::size_t i = 0; i < key_count; ++i) {
    const std::string_view candidate = key_names[i];
    if (candidate.size() == name.size() && candidate[0] == name[0] && candidate == name) {
      return static_cast<key>(i);
    }
  }
  return std::nullopt;
}

// What one known field held. String views point into the parser's string buffer, valid until the
// next document is iterated: the event is built before that.
enum class slot_kind : std::uint8_t {
  absent,
  string,
  integer,      // saturated to int64 so range checks report "at most N" for huge numbers
  non_integer,  // a number with a fraction or exponent
  null,
  other,        // any other JSON type
};

struct slot {
  slot_kind kind = slot_kind::absent;
  bool duplicate = false;
  std::string_view text;
  std::int64_t integer = 0;
};

using slots = std::array<slot, key_count>;

// ---------------------------------------------------------------------------------------------
// Syntax validation of values we do not read (or read with the wrong type).

// A malformed literal reports INCORRECT_TYPE from the typed getter; name it as the syntax error
// it is, so the 400 message does not talk about types.
error_code literal_error(error_code code, od::json_type type) noexcept {
  if (code != simdjson::INCORRECT_TYPE) {
    return code;
  }
  if (type == od::json_type::null) {
    return simdjson::N_ATOM_ERROR;
  }
  return simdjson::T_ATOM_ERROR;
}

// Walks `value` (at nesting `depth`, the root being 1) to the end, validating its syntax.
// Recursion is bounded by `depth_max`, so hostile nesting cannot exhaust the stack.
error_code validate_value(od::value value, std::size_t depth, std::size_t depth_max) {
  if (depth > depth_max) {
    return simdjson::DEPTH_ERROR;
  }
  od::json_type type{};
  if (auto error = value.type().get(type)) {
    return error;
  }
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (auto error = value.get_object().get(object)) {
        return error;
      }
      for (auto field : object) {
        std::string_view name;
        if (auto error = field.unescaped_key().get(name)) {
          return error;
        }
        od::value child;
        if (auto error = field.value().get(child)) {
          return error;
        }
        if (auto error = validate_value(child, depth + 1, depth_max)) {
          return error;
        }
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array array;
      if (auto error = value.get_array().get(array)) {
        return error;
      }
      for (auto element : array) {
        od::value child;
        if (auto error = std::move(element).get(child)) {
          return error;
        }
        if (auto error = validate_value(child, depth + 1, depth_max)) {
          return error;
        }
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view text;
      return value.get_string().get(text);
    }
    case od::json_type::number: {
      od::number number;
      return value.get_number().get(number);
    }
    case od::json_type::boolean: {
      bool flag = false;
      return literal_error(value.get_bool().get(flag), type);
    }
    case od::json_type::null: {
      bool is_null = false;
      if (auto error = value.is_null().get(is_null)) {
        return literal_error(error, type);
      }
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::TAPE_ERROR;
}

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// simdjson answers NUMBER_ERROR both for malformed numbers and for well-formed ones it cannot
// represent (beyond 64 bits, 1e400); only the first kind is a syntax error.
struct number_shape {
  bool well_formed = false;
  bool integral = false;
  bool negative = false;
};

number_shape classify_number(std::string_view token) noexcept {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                            token.back() == '\r')) {
    token.remove_suffix(1);
  }
  number_shape shape;
  std::size_t i = 0;
  auto digit = [&](std::size_t at) {
    return at < token.size() && token[at] >= '0' && token[at] <= '9';
  };
  if (i < token.size() && token[i] == '-') {
    shape.negative = true;
    ++i;
  }
  if (!digit(i)) {
    return shape;
  }
  if (token[i] == '0') {
    ++i;
  } else {
    while (digit(i)) {
      ++i;
    }
  }
  shape.integral = true;
  if (i < token.size() && token[i] == '.') {
    shape.integral = false;
    ++i;
    if (!digit(i)) {
      return shape;
    }
    while (digit(i)) {
      ++i;
    }
  }
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    shape.integral = false;
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) {
      ++i;
    }
    if (!digit(i)) {
      return shape;
    }
    while (digit(i)) {
      ++i;
    }
  }
  shape.well_formed = i == token.size();
  return shape;
}

error_code read_integer(od::value value, slot& out) {
  const std::string_view token = value.raw_json_token();
  od::number number;
  error_code error = value.get_number().get(number);
  if (error == simdjson::NUMBER_ERROR) {
    const number_shape shape = classify_number(token);
    if (!shape.well_formed) {
      return error;
    }
    if (!shape.integral) {
      out.kind = slot_kind::non_integer;
      return simdjson::SUCCESS;
    }
    out.kind = slot_kind::integer;
    out.integer = shape.negative ? std::numeric_limits<std::int64_t>::min()
                                 : std::numeric_limits<std::int64_t>::max();
    return simdjson::SUCCESS;
  }
  if (error) {
    return error;
  }
  switch (number.get_number_type()) {
    case od::number_type::signed_integer:
      out.kind = slot_kind::integer;
      out.integer = number.get_int64();
      break;
    case od::number_type::unsigned_integer:
      // Only values above INT64_MAX come back unsigned.
      out.kind = slot_kind::integer;
      out.integer = std::numeric_limits<std::int64_t>::max();
      break;
    case od::number_type::floating_point_number:
      out.kind = slot_kind::non_integer;
      break;
  }
  return simdjson::SUCCESS;
}

// Reads one known field into its slot, or validates it and records that it had the wrong type.
error_code read_slot(od::value value, key k, std::size_t depth, std::size_t depth_max, slot& out) {
  od::json_type type{};
  if (auto error = value.type().get(type)) {
    return error;
  }
  if (type == od::json_type::string && !is_integer_key(k)) {
    out.kind = slot_kind::string;
    return value.get_string().get(out.text);
  }
  if (type == od::json_type::number && is_integer_key(k)) {
    return read_integer(value, out);
  }
  out.kind = type == od::json_type::null ? slot_kind::null : slot_kind::other;
  return validate_value(value, depth, depth_max);
}

// Walks one event object (at nesting `depth`), filling the known slots and validating the rest.
error_code scan_object(od::object& object, std::size_t depth, std::size_t depth_max,
                       slots& fields) {
  for (auto field : object) {
    std::string_view name;
    if (auto error = field.unescaped_key().get(name)) {
      return error;
    }
    od::value value;
    if (auto error = field.value().get(value)) {
      return error;
    }
    const std::optional<key> k = find_key(name);
    if (!k) {
      if (auto error = validate_value(value, depth + 1, depth_max)) {
        return error;
      }
      continue;
    }
    slot& target = fields[static_cast<std::size_t>(*k)];
    if (target.kind != slot_kind::absent) {
      target.duplicate = true;
      if (auto error = validate_value(value, depth + 1, depth_max)) {
        return error;
      }
      continue;
    }
    if (auto error = read_slot(value, *k, depth + 1, depth_max, target)) {
      return error;
    }
  }
  return simdjson::SUCCESS;
}

// ---------------------------------------------------------------------------------------------
// Schema: from slots to an engine::event.

using problem = std::optional<field_error>;

problem fail(key k, std::string reason) {
  return field_error{std::string(name_of(k)), std::move(reason)};
}

std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  out += text;
  out += '\'';
  return out;
}

// Without this, a std::string argument would pick std::quoted (found by ADL, an exact match).
std::string quoted(const std::string& text) { return quoted(std::string_view(text)); }

class event_builder {
public:
  event_builder(const slots& fields, const engine::catalog& catalog, const decode_limits& limits)
      : fields_(fields), catalog_(catalog), limits_(limits) {}

  // `components` receives a kit event's expansion; `miss` says when the catalog rejected it.
  problem build(engine::event& ev, std::vector<engine::event>& components,
                catalog_miss& miss) const {
    std::string text;
    if (auto p = required_string(key::id, ev.id)) {
      return p;
    }
    if (auto p = required_string(key::source, text)) {
      return p;
    }
    // The engine journals its own events (reservations, expiries) under this source; a client
    // using it could collide with their ids and be deduplicated against them.
    if (text == "stockd") {
      return fail(key::source, "'stockd' is reserved for events stockd originates itself");
    }
    ev.source = engine::source_id(std::move(text));
    if (auto p = event_type(ev.type)) {
      return p;
    }
    if (auto p = sku(ev.source, ev.sku, miss)) {
      return p;
    }
    // An order names its channel, whose priority order places it; a later event of the line
    // follows the line to wherever it was placed (server/placement.hpp).
    const bool location_optional = engine::is_line_event(ev.type);
    if (auto p = location(key::location, ev.source, location_optional, ev.location)) {
      return p;
    }
    if (auto p = time(key::occurred_at, ev.occurred_at)) {
      return p;
    }
    if (auto p = type_fields(ev)) {
      return p;
    }
    const auto kit = catalog_.kit_components(ev.sku);
    if (!kit.empty() && !engine::kit_accepts(ev.type)) {
      return fail(key::sku, "kits have no stock of their own: " + quoted(ev.sku.str()) +
                                " is a kit; send " + std::string(engine::to_string(ev.type)) +
                                " for its components");
    }
    if (auto p = unit(ev, miss)) {
      return p;
    }
    if (kit.empty()) {
      return std::nullopt;
    }
    return expand_kit(ev, kit, components);
  }

private:
  const slot& at(key k) const { return fields_[static_cast<std::size_t>(k)]; }

  // A present field's common checks; `nullopt` and `present == false` when absent (or null).
  problem present_string(key k, std::string_view& out, bool& present) const {
    const slot& s = at(k);
    present = false;
    if (s.duplicate) {
      return fail(k, "duplicate key");
    }
    if (s.kind == slot_kind::absent || s.kind == slot_kind::null) {
      return std::nullopt;
    }
    if (s.kind != slot_kind::string) {
      return fail(k, "must be a string");
    }
    if (s.text.size() > limits_.string_bytes_max) {
      return fail(k, "longer than " + std::to_string(limits_.string_bytes_max) + " bytes");
    }
    if (s.text.empty()) {
      return fail(k, "must not be empty");
    }
    present = true;
    out = s.text;
    return std::nullopt;
  }

  problem required_view(key k, std::string_view& out) const {
    bool present = false;
    if (auto p = present_string(k, out, present)) {
      return p;
    }
    if (!present) {
      // A null required field is a type error rather than a missing one: name the type.
      return fail(k, at(k).kind == slot_kind::null ? "must be a string" : "is required");
    }
    return std::nullopt;
  }

  problem required_string(key k, std::string& out) const {
    std::string_view view;
    if (auto p = required_view(k, view)) {
      return p;
    }
    out.assign(view);
    return std::nullopt;
  }

  problem optional_string(key k, std::string& out) const {
    std::string_view view;
    bool present = false;
    if (auto p = present_string(k, view, present)) {
      return p;
    }
    if (present) {
      out.assign(view);
    }
    return std::nullopt;
  }

  problem sku(const engine::source_id& source, engine::sku_id& out, catalog_miss& miss) const {
    std::string_view view;
    if (auto p = required_view(key::sku, view)) {
      return p;
    }
    auto resolved = catalog_.resolve_sku(source, view);
    if (!resolved) {
      miss = catalog_miss{miss_kind::unmapped_sku, source.str(), std::string(view), {}};
      return fail(key::sku,
                  "unmapped sku " + quoted(view) + " for source " + quoted(source.str()));
    }
    out = std::move(*resolved);
    return std::nullopt;
  }

  // The field that carries this type's quantity.
  static std::pair<key, std::int64_t*> quantity_field(engine::event& ev) noexcept {
    switch (ev.type) {
      case engine::event_type::adjusted:
        return {key::delta, &ev.delta};
      case engine::event_type::counted:
        return {key::counted, &ev.counted};
      default:
        return {key::qty, &ev.qty};
    }
  }

  // Converts the quantity from `unit` into base units. The product is held to qty_max like the
  // quantity itself: a count of cases must not carry in what a plain qty could not.
  problem unit(engine::event& ev, catalog_miss& miss) const {
    std::string_view view;
    bool present = false;
    if (auto p = present_string(key::unit, view, present)) {
      return p;
    }
    if (!present) {
      return std::nullopt;
    }
    const auto factor = catalog_.unit_factor(ev.sku, view);
    if (!factor) {
      miss = catalog_miss{miss_kind::unknown_unit, ev.source.str(), ev.sku.str(),
                          std::string(view)};
      return fail(key::unit,
                  "unknown unit " + quoted(view) + " for sku " + quoted(ev.sku.str()));
    }
    auto [k, quantity] = quantity_field(ev);
    std::int64_t base = 0;
    if (__builtin_mul_overflow(*quantity, *factor, &base) || base > limits_.qty_max ||
        base < -limits_.qty_max) {
      return fail(k, "must be at most " + std::to_string(limits_.qty_max) + " in base units (" +
                         std::to_string(*quantity) + " " + std::string(view) + " of " +
                         std::to_string(*factor) + ")");
    }
    *quantity = base;
    return std::nullopt;
  }

  // The expansion must pass the limits a sender's own event would: each quantity within
  // qty_max, each suffixed id and line id within string_bytes_max (the journal keys on them).
  problem expand_kit(const engine::event& ev, std::span<const engine::kit_component> kit,
                     std::vector<engine::event>& components) const {
    for (const auto& component : kit) {
      const std::string& name = component.sku.str();
      const std::size_t suffix = 1 + name.size();
      if (ev.qty > limits_.qty_max / component.qty) {
        return fail(key::qty, "must be at most " + std::to_string(limits_.qty_max) +
                                  " in base units for kit component " + quoted(name) + " (" +
                                  std::to_string(ev.qty) + " kits of " +
                                  std::to_string(component.qty) + ")");
      }
      const std::string too_long = "too long to name the kit component " + quoted(name) +
                                   " within " + std::to_string(limits_.string_bytes_max) +
                                   " bytes";
      if (ev.id.size() + suffix > limits_.string_bytes_max) {
        return fail(key::id, too_long);
      }
      if (ev.line_id.size() + suffix > limits_.string_bytes_max) {
        return fail(key::line_id, too_long);
      }
    }
    components = engine::expand_kit_event(ev, kit);
    return std::nullopt;
  }

  problem event_type(engine::event_type& out) const {
    std::string_view view;
    if (auto p = required_view(key::type, view)) {
      return p;
    }
    const auto parsed = engine::parse_event_type(view);
    if (!parsed) {
      return fail(key::type, "unknown event type " + quoted(view));
    }
    out = *parsed;
    return std::nullopt;
  }

  problem location(key k, const engine::source_id& source, bool optional,
                   engine::location_id& out) const {
    std::string_view view;
    bool present = false;
    if (auto p = present_string(k, view, present)) {
      return p;
    }
    if (!present) {
      if (optional) {
        return std::nullopt;
      }
      return fail(k, at(k).kind == slot_kind::null ? "must be a string" : "is required");
    }
    auto resolved = catalog_.resolve_location(source, view);
    if (!resolved) {
      return fail(k, "unknown location " + quoted(view));
    }
    out = std::move(*resolved);
    return std::nullopt;
  }

  problem parse_time(key k, std::string_view view, engine::timestamp& out) const {
    const auto parsed = engine::parse_rfc3339(view);
    if (!parsed) {
      return fail(k, "must be an RFC 3339 timestamp");
    }
    out = *parsed;
    return std::nullopt;
  }

  problem time(key k, engine::timestamp& out) const {
    std::string_view view;
    if (auto p = required_view(k, view)) {
      return p;
    }
    return parse_time(k, view, out);
  }

  problem optional_time(key k, std::optional<engine::timestamp>& out) const {
    std::string_view view;
    bool present = false;
    if (auto p = present_string(k, view, present)) {
      return p;
    }
    if (!present) {
      return std::nullopt;
    }
    engine::timestamp parsed{};
    if (auto p = parse_time(k, view, parsed)) {
      return p;
    }
    out = parsed;
    return std::nullopt;
  }

  // `min`..`max` is the accepted range; `range_reason` explains a value below a non-negative `min`
  // (a signed range is simply named).
  problem integer(key k, std::int64_t min, std::int64_t max, const char* range_reason,
                  std::int64_t& out) const {
    const slot& s = at(k);
    if (s.duplicate) {
      return fail(k, "duplicate key");
    }
    switch (s.kind) {
      case slot_kind::absent:
        return fail(k, "is required");
      case slot_kind::integer:
        break;
      default:
        return fail(k, "must be an integer");
    }
    if (s.integer < min || s.integer > max) {
      if (min < 0) {
        return fail(k, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      }
      if (s.integer > max) {
        return fail(k, "must be at most " + std::to_string(max));
      }
      return fail(k, range_reason);
    }
    out = s.integer;
    return std::nullopt;
  }

  problem quantity(engine::event& ev) const {
    return integer(key::qty, 1, limits_.qty_max, "must be a positive integer", ev.qty);
  }

  problem order_line(engine::event& ev) const {
    if (auto p = required_string(key::order_id, ev.order_id)) {
      return p;
    }
    return required_string(key::line_id, ev.line_id);
  }

  problem bucket(key k, engine::bucket& out) const {
    std::string_view view;
    if (auto p = required_view(k, view)) {
      return p;
    }
    const auto parsed = engine::parse_bucket(view);
    const bool movable = parsed && (*parsed == engine::bucket::available ||
                                    *parsed == engine::bucket::damaged ||
                                    *parsed == engine::bucket::quality_control ||
                                    *parsed == engine::bucket::safety_stock);
    if (!movable) {
      return fail(k, "must be one of available, damaged, quality_control, safety_stock");
    }
    out = *parsed;
    return std::nullopt;
  }

  problem type_fields(engine::event& ev) const {
    using engine::event_type;
    if (ev.type != event_type::adjusted && ev.type != event_type::counted) {
      if (auto p = quantity(ev)) {
        return p;
      }
    }
    switch (ev.type) {
      case event_type::order_created: {
        if (auto p = order_line(ev)) {
          return p;
        }
        std::string channel;
        if (auto p = required_string(key::channel, channel)) {
          return p;
        }
        ev.channel = engine::channel_id(std::move(channel));
        return std::nullopt;
      }
      case event_type::order_cancelled:
      case event_type::payment_failed:
      case event_type::order_fulfilled:
        return order_line(ev);
      case event_type::return_received: {
        if (auto p = order_line(ev)) {
          return p;
        }
        std::string_view view;
        if (auto p = required_view(key::disposition, view)) {
          return p;
        }
        const auto parsed = engine::parse_disposition(view);
        if (!parsed) {
          return fail(key::disposition, "must be one of restock, damaged, quality_control");
        }
        ev.return_disposition = *parsed;
        return std::nullopt;
      }
      case event_type::po_created:
      case event_type::po_cancelled:
        return required_string(key::po_id, ev.po_id);
      case event_type::received:
        return optional_string(key::po_id, ev.po_id);
      case event_type::transfer_shipped:
        if (auto p = required_string(key::transfer_id, ev.transfer_id)) {
          return p;
        }
        return location(key::to_location, ev.source, false, ev.to_location);
      case event_type::transfer_received:
        return required_string(key::transfer_id, ev.transfer_id);
      case event_type::adjusted:
        if (auto p = integer(key::delta, -limits_.qty_max, limits_.qty_max,
                             "must be a non-zero integer", ev.delta)) {
          return p;
        }
        if (ev.delta == 0) {
          return fail(key::delta, "must be a non-zero integer");
        }
        return optional_string(key::reason, ev.reason);
      case event_type::counted:
        if (auto p = integer(key::counted, 0, limits_.qty_max, "must be a non-negative integer",
                             ev.counted)) {
          return p;
        }
        return time(key::as_of, ev.as_of);
      case event_type::reservation_created:
        if (auto p = required_string(key::reservation_id, ev.reservation_id)) {
          return p;
        }
        return optional_time(key::expires_at, ev.expires_at);
      case event_type::reservation_released:
      case event_type::reservation_expired:
        return required_string(key::reservation_id, ev.reservation_id);
      case event_type::reservation_committed:
        if (auto p = required_string(key::reservation_id, ev.reservation_id)) {
          return p;
        }
        return required_string(key::order_id, ev.order_id);
      case event_type::status_changed:
        if (auto p = bucket(key::from, ev.from)) {
          return p;
        }
        if (auto p = bucket(key::to, ev.to)) {
          return p;
        }
        if (ev.from == ev.to) {
          return fail(key::to, "must differ from 'from'");
        }
        return std::nullopt;
    }
    return fail(key::type, "unsupported event type");
  }

  const slots& fields_;
  const engine::catalog& catalog_;
  const decode_limits& limits_;
};

// ---------------------------------------------------------------------------------------------
// Body level.

body_error bad_request(std::string message) { return body_error{400, std::move(message)}; }

bool is_json_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Length of the valid UTF-8 sequence at `at`, or 0 when it is invalid (overlong, surrogate,
// beyond U+10FFFF, truncated).
std::size_t utf8_sequence(std::string_view text, std::size_t at) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) {
    return 1;
  }
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    low = lead == 0xE0 ? 0xA0 : 0x80;
    high = lead == 0xED ? 0x9F : 0xBF;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    low = lead == 0xF0 ? 0x90 : 0x80;
    high = lead == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 0;
  }
  if (at + length > text.size()) {
    return 0;
  }
  if (byte(at + 1) < low || byte(at + 1) > high) {
    return 0;
  }
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) {
      return 0;
    }
  }
  return length;
}

// simdjson's stage 1 reports string and UTF-8 errors for the whole buffer without a position.
// This slow scan (error path only) finds the byte so the 400 can name it.
std::optional<std::size_t> locate_stage1_error(std::string_view text, error_code code) noexcept {
  bool in_string = false;
  std::size_t string_start = 0;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (code == simdjson::UTF8_ERROR) {
      const std::size_t length = utf8_sequence(text, i);
      if (length == 0) {
        return i;
      }
      i += length;
      continue;
    }
    if (in_string) {
      if (c == '\\') {
        i += 2;
        continue;
      }
      if (c == '"') {
        in_string = false;
      } else if (code == simdjson::UNESCAPED_CHARS && static_cast<unsigned char>(c) < 0x20) {
        return i;
      }
    } else if (c == '"') {
      in_string = true;
      string_start = i;
    }
    ++i;
  }
  if (code == simdjson::UNCLOSED_STRING && in_string) {
    return string_start;
  }
  return std::nullopt;
}

// Where the iterator stopped, as a byte offset from `base`, when simdjson can say.
std::optional<std::size_t> offset_of(od::document& doc, const char* base) noexcept {
  const char* location = nullptr;
  if (doc.current_location().get(location) || location < base) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(location - base);
}

std::string describe(error_code code, std::size_t depth_max) {
  if (code == simdjson::DEPTH_ERROR) {
    return "nested deeper than " + std::to_string(depth_max) + " levels";
  }
  return simdjson::error_message(code);
}

// simdjson checks the last token of the document before iterating a root array or object; its
// "ended early" message would mislead when the cause is something after the closing bracket, so
// name the last byte instead: that is where the sender should look.
std::string describe_root(error_code code, std::size_t depth_max, std::string_view text,
                          char closing, const char* unit) {
  if (code != simdjson::INCOMPLETE_ARRAY_OR_OBJECT) {
    return describe(code, depth_max);
  }
  std::size_t last = text.size();
  while (last > 0 && is_json_space(text[last - 1])) {
    --last;
  }
  std::string message = "does not end with the closing '";
  message += closing;
  message += "' (last ";
  message += unit;
  message += ' ';
  message += std::to_string(last == 0 ? 0 : (unit[0] == 'c' ? last : last - 1));
  message += " is ";
  message += quoted(text.substr(last == 0 ? 0 : last - 1, 1));
  message += ')';
  return message;
}

// One thread_local parser per server thread: its buffers grow to the largest body seen and are
// reused, instead of allocating them per request.
od::parser& thread_parser() {
  thread_local od::parser instance;
  return instance;
}

std::string at_byte(od::document& doc, const char* base) {
  if (auto offset = offset_of(doc, base)) {
    return " (at byte " + std::to_string(*offset) + ")";
  }
  return {};
}

std::string at_column(od::document& doc, const char* base) {
  if (auto offset = offset_of(doc, base)) {
    return " (at column " + std::to_string(*offset + 1) + ")";
  }
  return {};
}

// simdjson reads up to SIMDJSON_PADDING bytes past the end. The padding is written (not only
// reserved) so those reads see spaces rather than indeterminate bytes.
void add_padding(std::string& text) {
  const std::size_t size = text.size();
  text.reserve(size + simdjson::SIMDJSON_PADDING);
  text.append(simdjson::SIMDJSON_PADDING, ' ');
  text.resize(size);
}

class body_decoder {
public:
  body_decoder(std::string& body, const engine::catalog& catalog, const decode_limits& limits)
      : body_(body), catalog_(catalog), limits_(limits) {}

  result<std::vector<decoded_event>, body_error> run() {
    std::size_t first = 0;
    while (first < body_.size() && is_json_space(body_[first])) {
      ++first;
    }
    if (first == body_.size()) {
      return unexpected{bad_request("empty body: expected a JSON array or NDJSON of events")};
    }
    ensure_padding();
    reserve_events();
    std::optional<body_error> failure;
    if (body_[first] == '[') {
      failure = decode_array();
    } else if (body_[first] == '{') {
      failure = decode_ndjson();
    } else {
      failure = bad_request("body must be a JSON array or NDJSON of event objects; found " +
                            quoted(std::string_view(&body_[first], 1)) + " at byte " +
                            std::to_string(first));
    }
    if (failure) {
      return unexpected{std::move(*failure)};
    }
    return std::move(events_);
  }

private:
  void ensure_padding() { add_padding(body_); }

  // Growing the vector moves every decoded event so far; a guess from the body size avoids most
  // of that. No real event is shorter than ~100 bytes (its required keys alone take ~60), so the
  // guess stays near the true count instead of over-allocating.
  void reserve_events() {
    constexpr std::size_t event_bytes_min_guess = 100;
    events_.reserve(std::min(limits_.events_max, body_.size() / event_bytes_min_guess + 1));
  }

  std::optional<body_error> too_many() const {
    return body_error{413, "more than " + std::to_string(limits_.events_max) +
                               " events in one body"};
  }

  // An event element (array element or NDJSON line) at nesting `depth` that is an object.
  error_code decode_object(od::object& object, std::size_t depth) {
    slots fields{};
    if (auto error = scan_object(object, depth, limits_.depth_max, fields)) {
      return error;
    }
    // Built in place: an event is a few hundred bytes of strings, not worth moving.
    decoded_event& decoded = events_.emplace_back();
    const slot& id = fields[static_cast<std::size_t>(key::id)];
    if (id.kind == slot_kind::string) {
      decoded.id.assign(id.text);
    }
    engine::event& ev = decoded.ev.emplace();
    event_builder builder(fields, catalog_, limits_);
    if (auto p = builder.build(ev, decoded.components, decoded.miss)) {
      decoded.ev.reset();
      decoded.components.clear();
      decoded.error = std::move(*p);
    }
    return simdjson::SUCCESS;
  }

  void push_not_an_object() {
    decoded_event decoded;
    decoded.error = field_error{"", "must be an object"};
    events_.push_back(std::move(decoded));
  }

  std::optional<body_error> decode_array() {
    const char* base = body_.data();
    od::document doc;
    const simdjson::padded_string_view input(base, body_.size(), body_.capacity());
    if (auto error = thread_parser().iterate(input).get(doc)) {
      return stage1_failure(error, "");
    }
    od::array array;
    if (auto error = doc.get_array().get(array)) {
      return bad_request("malformed JSON: the body " +
                         describe_root(error, limits_.depth_max, body_, ']', "byte"));
    }
    std::size_t index = 0;
    for (auto element : array) {
      if (index == limits_.events_max) {
        return too_many();
      }
      if (auto error = decode_element(std::move(element))) {
        return bad_request("malformed JSON in element " + std::to_string(index) + ": " +
                           describe(error, limits_.depth_max) + at_byte(doc, base));
      }
      ++index;
    }
    const char* rest = nullptr;
    const error_code at_end = doc.current_location().get(rest);
    if (at_end != simdjson::OUT_OF_BOUNDS) {
      return bad_request("malformed JSON: trailing content after the array" + at_byte(doc, base));
    }
    return std::nullopt;
  }

  error_code decode_element(simdjson::simdjson_result<od::value> element) {
    od::value value;
    if (auto error = std::move(element).get(value)) {
      return error;
    }
    od::json_type type{};
    if (auto error = value.type().get(type)) {
      return error;
    }
    if (type != od::json_type::object) {
      if (auto error = validate_value(value, 2, limits_.depth_max)) {
        return error;
      }
      push_not_an_object();
      return simdjson::SUCCESS;
    }
    od::object object;
    if (auto error = value.get_object().get(object)) {
      return error;
    }
    return decode_object(object, 2);
  }

  std::optional<body_error> decode_ndjson() {
    std::size_t line_number = 0;
    std::size_t start = 0;
    std::size_t events = 0;
    while (start < body_.size()) {
      ++line_number;
      const std::size_t newline = body_.find('\n', start);
      const std::size_t end = newline == std::string::npos ? body_.size() : newline;
      const std::string_view line(body_.data() + start, end - start);
      const bool blank = std::all_of(line.begin(), line.end(), is_json_space);
      if (!blank) {
        if (events == limits_.events_max) {
          return too_many();
        }
        ++events;
        if (auto failure = decode_line(start, end - start, line_number)) {
          return failure;
        }
      }
      start = end + 1;
    }
    return std::nullopt;
  }

  // The bytes after a line (the next lines, then the padding) serve as its simdjson padding;
  // simdjson reads them but does not interpret them.
  std::optional<body_error> decode_line(std::size_t start, std::size_t length,
                                        std::size_t line_number) {
    const char* base = body_.data() + start;
    const std::string where = "on line " + std::to_string(line_number);
    od::document doc;
    const simdjson::padded_string_view input(base, length, body_.capacity() - start);
    if (auto error = thread_parser().iterate(input).get(doc)) {
      return stage1_failure(error, where, start, length);
    }
    bool doc_is_object = true;
    bool root_started = false;
    if (auto error = decode_root(doc, doc_is_object, root_started)) {
      std::string message = "malformed JSON " + where + ": ";
      if (!root_started) {
        message += "the line " + describe_root(error, limits_.depth_max,
                                               std::string_view(base, length),
                                               doc_is_object ? '}' : ']', "column");
      } else {
        message += describe(error, limits_.depth_max) + at_column(doc, base);
      }
      return bad_request(std::move(message));
    }
    const char* rest = nullptr;
    if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) {
      return bad_request("malformed JSON " + where + ": trailing content" + at_column(doc, base));
    }
    return std::nullopt;
  }

  // `root_started` tells the caller whether simdjson got past its check of the root container.
  error_code decode_root(od::document& doc, bool& is_object, bool& root_started) {
    od::json_type type{};
    if (auto error = doc.type().get(type)) {
      return error;
    }
    is_object = type == od::json_type::object;
    root_started = type != od::json_type::object && type != od::json_type::array;
    switch (type) {
      case od::json_type::object: {
        od::object object;
        if (auto error = doc.get_object().get(object)) {
          return error;
        }
        root_started = true;
        return decode_object(object, 1);
      }
      case od::json_type::array: {
        od::array array;
        if (auto error = doc.get_array().get(array)) {
          return error;
        }
        root_started = true;
        for (auto element : array) {
          od::value value;
          if (auto error = std::move(element).get(value)) {
            return error;
          }
          if (auto error = validate_value(value, 2, limits_.depth_max)) {
            return error;
          }
        }
        break;
      }
      // Root scalars cannot be turned into an od::value in simdjson 3.0.1; the document's own
      // getters validate them and reject trailing content.
      case od::json_type::string: {
        std::string_view text;
        if (auto error = doc.get_string().get(text)) {
          return error;
        }
        break;
      }
      case od::json_type::number: {
        double number = 0;
        std::int64_t integer = 0;
        if (doc.get_int64().get(integer) != simdjson::SUCCESS &&
            doc.get_double().get(number) != simdjson::SUCCESS) {
          return simdjson::NUMBER_ERROR;
        }
        break;
      }
      case od::json_type::boolean: {
        bool flag = false;
        if (auto error = doc.get_bool().get(flag)) {
          return literal_error(error, type);
        }
        break;
      }
      case od::json_type::null: {
        bool is_null = false;
        if (auto error = doc.is_null().get(is_null)) {
          return literal_error(error, type);
        }
        if (!is_null) {
          return simdjson::N_ATOM_ERROR;
        }
        break;
      }
    }
    push_not_an_object();
    return simdjson::SUCCESS;
  }

  std::optional<body_error> stage1_failure(error_code error, const std::string& where,
                                           std::size_t start = 0,
                                           std::size_t length = std::string::npos) const {
    std::string message = "malformed JSON";
    if (!where.empty()) {
      message += ' ';
      message += where;
    }
    message += ": ";
    message += describe(error, limits_.depth_max);
    const std::string_view scope = std::string_view(body_).substr(start, length);
    if (auto offset = locate_stage1_error(scope, error)) {
      message += where.empty() ? " (at byte " : " (at column ";
      message += std::to_string(*offset + (where.empty() ? 0 : 1));
      message += ')';
    }
    return bad_request(std::move(message));
  }

  std::string& body_;
  const engine::catalog& catalog_;
  const decode_limits& limits_;
  std::vector<decoded_event> events_;
};

// ---------------------------------------------------------------------------------------------
// Snapshot lines: the line's JSON goes through the same scanner and event_builder as an event of
// POST /v1/events, with the envelope filled in from the snapshot, so every field rule and every
// message is the same as for a `counted` event sent on its own.

problem scan_snapshot_line(std::string& line, std::size_t depth_max, slots& fields) {
  add_padding(line);
  const char* base = line.data();
  const simdjson::padded_string_view input(base, line.size(), line.capacity());
  auto malformed = [](std::string message) {
    return field_error{"", "malformed JSON: " + std::move(message)};
  };
  od::document doc;
  if (auto error = thread_parser().iterate(input).get(doc)) {
    std::string message = describe(error, depth_max);
    if (auto offset = locate_stage1_error(line, error)) {
      message += " (at column " + std::to_string(*offset + 1) + ")";
    }
    return malformed(std::move(message));
  }
  od::json_type type{};
  if (auto error = doc.type().get(type)) {
    return malformed(describe(error, depth_max) + at_column(doc, base));
  }
  if (type != od::json_type::object) {
    return field_error{"", "must be a JSON object"};
  }
  od::object object;
  if (auto error = doc.get_object().get(object)) {
    return malformed("the line " + describe_root(error, depth_max, line, '}', "column"));
  }
  if (auto error = scan_object(object, 1, depth_max, fields)) {
    return malformed(describe(error, depth_max) + at_column(doc, base));
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) != simdjson::OUT_OF_BOUNDS) {
    return malformed("trailing content" + at_column(doc, base));
  }
  return std::nullopt;
}

// Fills the slots a snapshot line does not carry. The views point into `envelope`, which
// outlives the event's construction.
problem fill_snapshot_envelope(slots& fields, const snapshot_envelope& envelope) {
  auto at = [&fields](key k) -> slot& { return fields[static_cast<std::size_t>(k)]; };
  for (key k : {key::id, key::source, key::type, key::location, key::occurred_at}) {
    if (at(k).kind != slot_kind::absent) {
      return fail(k, "is set by the snapshot, not by its lines");
    }
  }
  auto given = [&at](key k, std::string_view text) {
    at(k) = slot{slot_kind::string, false, text, 0};
  };
  given(key::id, envelope.id);  // a placeholder: the id is "<id>:<sku>" once the SKU is known
  given(key::source, envelope.source);
  given(key::type, "counted");
  given(key::location, envelope.location);
  slot& as_of = at(key::as_of);
  const bool line_has_as_of =
      as_of.duplicate || (as_of.kind != slot_kind::absent && as_of.kind != slot_kind::null);
  if (!line_has_as_of) {
    if (envelope.as_of.empty()) {
      return fail(key::as_of,
                  "is required: in the line, or for every line as the snapshot's as_of");
    }
    given(key::as_of, envelope.as_of);
  }
  // A count happened when it was taken; the builder's errors about occurred_at are as_of's.
  at(key::occurred_at) = at(key::as_of);
  return std::nullopt;
}

} // namespace

result<std::vector<decoded_event>, body_error>
decode_events(std::string& body, const engine::catalog& catalog, const decode_limits& limits) {
  return body_decoder(body, catalog, limits).run();
}

decoded_event decode_snapshot_line(std::string& line, const snapshot_envelope& envelope,
                                   const engine::catalog& catalog, const decode_limits& limits) {
  decoded_event out;
  slots fields{};
  problem p = scan_snapshot_line(line, limits.depth_max, fields);
  if (!p) {
    p = fill_snapshot_envelope(fields, envelope);
  }
  engine::event ev;
  if (!p) {
    p = event_builder(fields, catalog, limits).build(ev, out.components, out.miss);
    if (p && p->field == name_of(key::occurred_at)) {
      p->field = name_of(key::as_of);
    }
  }
  if (!p) {
    std::string id = envelope.id + ":" + ev.sku.str();
    if (id.size() > limits.string_bytes_max) {
      p = fail(key::sku, "too long to form the event id '<snapshot id>:<sku>' within " +
                             std::to_string(limits.string_bytes_max) + " bytes");
    } else {
      ev.id = std::move(id);
    }
  }
  // A count is never a kit line (the builder rejects kits), so `components` stays empty.
  if (p) {
    out.error = std::move(*p);
    out.components.clear();
    return out;
  }
  out.id = ev.id;
  out.ev = std::move(ev);
  return out;
}

} // namespace stockd::connectors
