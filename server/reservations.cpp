#include "server/reservations.hpp"

#include <span>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "actors/reservations.hpp"
#include "engine/catalog.hpp"
#include "engine/state.hpp"
#include "engine/time.hpp"
#include "connectors/json_writer.hpp"
#include "server/url.hpp"

namespace stockd::server {

using connectors::json_writer;
namespace {

using actors::reservation_limits;
using actors::reservation_reply;
using actors::reservation_status;

constexpr std::string_view prefix = "/v1/reservations";

/// What a request needs to answer later, from any thread.
struct answer_to {
  unsigned version = 11;
  bool keep_alive = true;
  std::chrono::seconds retry_after{1};
};

response make_json(http::status status, const answer_to& to, std::string body) {
  response res{status, to.version};
  res.set(http::field::server, "stockd");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(to.keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response fail(http::status status, const answer_to& to, std::string_view message,
              std::string_view field = {}) {
  return api::error(status, to.version, to.keep_alive, message, field);
}

response unavailable(const answer_to& to, std::string_view message) {
  auto res = fail(http::status::service_unavailable, to, message);
  res.set(http::field::retry_after, std::to_string(to.retry_after.count()));
  return res;
}

void write_reservation(json_writer& w, const reservation_reply& r, std::string_view state) {
  w.field("id", r.id);
  w.field("sku", r.sku.str());
  w.field("location", r.location.str());
  w.field("qty", r.qty);
  w.key("expires_at");
  if (r.expires_at) {
    w.value(engine::format_rfc3339(*r.expires_at));
  } else {
    w.null();
  }
  w.field("state", state);
  if (!r.order_id.empty()) {
    w.field("order_id", r.order_id);
  }
  if (!r.components.empty()) {
    // A kit: what each component holds, under its own reservation id.
    w.key("components").begin_array();
    for (const auto& c : r.components) {
      w.begin_object().field("id", c.id).field("sku", c.sku.str()).field("qty", c.qty);
      w.end_object();
    }
    w.end_array();
  }
}

response to_response(const reservation_reply& r, const answer_to& to, actors::metrics& m) {
  json_writer w;
  switch (r.status) {
    case reservation_status::created:
    case reservation_status::released:
    case reservation_status::committed: {
      const std::string_view state = r.status == reservation_status::created    ? "active"
                                     : r.status == reservation_status::released ? "released"
                                                                                : "committed";
      w.begin_object();
      write_reservation(w, r, state);
      w.end_object();
      // The same key again is the same reservation, answered the same way (DESIGN §5); the
      // header lets a client tell a replay apart without a different status.
      auto res = make_json(r.status == reservation_status::created ? http::status::created
                                                                   : http::status::ok,
                           to, w.take());
      if (r.replayed) {
        res.set("Idempotent-Replayed", "true");
      }
      return res;
    }
    case reservation_status::insufficient:
      w.begin_object().field("error", "insufficient").field("available", r.available).end_object();
      return make_json(http::status::conflict, to, w.take());
    case reservation_status::ended:
      w.begin_object().field("error", "reservation already " + r.detail);
      if (!r.id.empty()) {
        write_reservation(w, r, r.detail);
      }
      w.end_object();
      return make_json(http::status::conflict, to, w.take());
    case reservation_status::refused:
      // The hold is still active; the engine's reason says what to change (another line_id).
      w.begin_object().field("error", "refused").field("detail", r.detail);
      if (!r.id.empty()) {
        write_reservation(w, r, "active");
      }
      w.end_object();
      return make_json(http::status::conflict, to, w.take());
    case reservation_status::limit:
      w.begin_object().field("error", "limit").field("detail", r.detail).end_object();
      return make_json(http::status::conflict, to, w.take());
    case reservation_status::key_conflict:
      return fail(http::status::unprocessable_entity, to, r.detail, "key");
    case reservation_status::not_found:
      return fail(http::status::not_found, to, r.detail.empty() ? "unknown reservation" : r.detail,
                  "id");
    case reservation_status::overloaded:
      m.http_overloaded.fetch_add(1, std::memory_order_relaxed);
      return unavailable(to, "overloaded: " + r.detail);
    case reservation_status::failed: break;
  }
  // Not known to be durable, or not known to be answered: the client retries with the same key
  // (or id), which is safe by construction.
  return unavailable(to, r.detail.empty() ? "failed; retry" : r.detail);
}

/// A field error: the field and the problem, for a 400.
struct field_error {
  std::string field;
  std::string problem;
};

bool printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

std::optional<field_error> read_string(simdjson::dom::element value, std::string_view field,
                                       std::size_t bytes_max, std::string& out) {
  std::string_view s;
  if (value.get_string().get(s) != simdjson::SUCCESS) {
    return field_error{std::string(field), "must be a string"};
  }
  if (s.empty() || s.size() > bytes_max || !printable(s)) {
    return field_error{std::string(field), "must be 1.." + std::to_string(bytes_max) +
                                               " bytes without control characters"};
  }
  out = s;
  return std::nullopt;
}

std::optional<field_error> read_int(simdjson::dom::element value, std::string_view field,
                                    std::int64_t min, std::int64_t max, std::int64_t& out) {
  std::int64_t v = 0;
  if (value.get_int64().get(v) != simdjson::SUCCESS || v < min || v > max) {
    return field_error{std::string(field), "must be an integer from " + std::to_string(min) +
                                               " to " + std::to_string(max)};
  }
  out = v;
  return std::nullopt;
}

/// Parses a JSON object body and calls `visit(name, value)` per member; a member given twice is
/// an error rather than a silent choice of one of them.
template <class Visit>
std::optional<field_error> read_object(const std::string& body, Visit visit) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) {
    return field_error{"body", "must be a JSON object"};
  }
  simdjson::dom::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return field_error{"body", "must be a JSON object"};
  }
  std::vector<std::string_view> seen;
  for (auto member : object) {
    for (auto name : seen) {
      if (name == member.key) {
        return field_error{std::string(member.key), "given twice"};
      }
    }
    seen.push_back(member.key);
    if (auto err = visit(member.key, member.value)) {
      return err;
    }
  }
  return std::nullopt;
}

/// The locations a reservation may be placed at: the named one, else the candidates.
std::vector<engine::location_id> candidate_locations(const api_dependencies& deps,
                                                     const actors::reserve_request& req) {
  if (req.location) {
    return {*req.location};
  }
  if (!req.candidates.empty()) {
    return req.candidates;
  }
  std::vector<engine::location_id> all;
  for (const auto& info : deps.catalog->locations()) {
    all.push_back(info.id);
  }
  return all;
}

/// What a kit reservation needs beyond a plain one: a bounded number of components, and each
/// component's quantity and creation event id within their limits.
std::optional<field_error> check_kit(std::span<const engine::kit_component> components,
                                     const actors::reserve_request& req) {
  if (components.size() > reservation_limits::kit_components_max) {
    return field_error{"sku", "a kit of more than " +
                                  std::to_string(reservation_limits::kit_components_max) +
                                  " components cannot be reserved"};
  }
  for (const auto& c : components) {
    if (req.qty > engine::state_limits::qty_max / c.qty) {
      return field_error{"qty", "must be at most " + std::to_string(engine::state_limits::qty_max) +
                                    " in base units for kit component '" + c.sku.str() + "'"};
    }
    if (actors::kit_component_event_id(req.key_digest, c.sku).size() >
        reservation_limits::event_id_bytes_max) {
      return field_error{"sku", "kit component '" + c.sku.str() + "' too long to reserve"};
    }
  }
  return std::nullopt;
}

std::optional<field_error> parse_reserve(const api_dependencies& deps, const std::string& body,
                                         actors::reserve_request& out) {
  std::string sku;
  std::string location;
  std::string channel;
  std::int64_t expires_in_s = 0;
  bool has_expiry = false;
  const std::size_t string_max = deps.limits->string_bytes_max;
  auto err = read_object(body, [&](std::string_view name,
                                   simdjson::dom::element value) -> std::optional<field_error> {
    if (name == "key") {
      return read_string(value, name, reservation_limits::key_bytes_max, out.key);
    }
    if (name == "sku") {
      return read_string(value, name, string_max, sku);
    }
    if (name == "qty") {
      return read_int(value, name, 1, engine::state_limits::qty_max, out.qty);
    }
    if (name == "location") {
      return value.is_null() ? std::nullopt : read_string(value, name, string_max, location);
    }
    if (name == "channel") {
      // Without a location, the channel's priority order picks it (catalog::locations_for).
      return value.is_null() ? std::nullopt : read_string(value, name, string_max, channel);
    }
    if (name == "expires_in_s") {
      if (value.is_null()) {
        return std::nullopt;
      }
      has_expiry = true;
      return read_int(value, name, 1, reservation_limits::expires_in_s_max, expires_in_s);
    }
    return std::nullopt;  // unknown members are ignored, as newer clients may send more
  });
  if (err) {
    return err;
  }
  if (out.key.empty()) {
    return field_error{"key", "is required"};
  }
  if (sku.empty()) {
    return field_error{"sku", "is required"};
  }
  if (out.qty == 0) {
    return field_error{"qty", "is required"};
  }
  out.sku = engine::sku_id(std::move(sku));
  if (!location.empty()) {
    engine::location_id id(std::move(location));
    if (!deps.catalog->has_location(id)) {
      return field_error{"location", "unknown location"};
    }
    out.location = std::move(id);
  } else if (!channel.empty()) {
    out.candidates = deps.catalog->locations_for(engine::channel_id(std::move(channel)));
  }
  if (has_expiry) {
    out.expires_in = std::chrono::seconds(expires_in_s);
  }
  const auto components = deps.catalog->kit_components(out.sku);
  if (components.empty()) {
    // 128 bits of SHA-256: the key's part of the reservation id, fixed length whatever the key.
    out.key_digest = sha256_hex(out.key).substr(0, 32);
  } else {
    // A kit's digest covers the kit as well as the key: the same key for another kit, or for a
    // plain SKU, names another reservation and can never share a component's id with it.
    std::string scoped = "kit";
    scoped += '\0';
    scoped += out.sku.str();
    scoped += '\0';
    scoped += out.key;
    out.key_digest = sha256_hex(scoped).substr(0, 32);
    if (auto kit_error = check_kit(components, out)) {
      return kit_error;
    }
  }
  const std::vector<engine::location_id> locations = candidate_locations(deps, out);
  for (const auto& loc : locations) {
    bool fits = components.empty()
                    ? !actors::make_reservation_id({out.sku, loc}, out.key_digest).empty()
                    : !actors::make_kit_reservation_id(out.sku, loc, out.key_digest).empty();
    for (const auto& c : components) {
      fits = fits && !actors::make_reservation_id({c.sku, loc}, out.key_digest).empty();
    }
    if (!fits) {
      return field_error{"sku", "too long to name a reservation"};
    }
  }
  return std::nullopt;
}

std::optional<field_error> parse_commit(const std::string& body, actors::end_request& out) {
  auto err = read_object(body, [&](std::string_view name,
                                   simdjson::dom::element value) -> std::optional<field_error> {
    if (name == "order_id") {
      return read_string(value, name, 256, out.order_id);
    }
    if (name == "line_id") {
      return value.is_null() ? std::nullopt : read_string(value, name, 256, out.line_id);
    }
    return std::nullopt;
  });
  if (err) {
    return err;
  }
  if (out.order_id.empty()) {
    return field_error{"order_id", "is required"};
  }
  return std::nullopt;
}

/// Wraps `respond` so the in-flight count drops exactly once, whatever answers.
actors::reservation_callback finish_with(const api_dependencies& deps, responder respond,
                                         answer_to to) {
  actors::metrics* m = deps.counters;
  return [m, respond = std::move(respond), to](reservation_reply reply) {
    m->reservations_in_flight.fetch_sub(1, std::memory_order_relaxed);
    respond(to_response(reply, to, *m));
  };
}

/// DELETE or commit of a kit reservation id: every component, through one coordinator.
void end_kit_reservation(const api_dependencies& deps, std::string id,
                         actors::kit_reservation_ref kit, bool commit, const std::string& body,
                         responder respond, const answer_to& to) {
  auto components = deps.catalog->kit_components(kit.kit);
  if (components.empty() || !deps.catalog->has_location(kit.location)) {
    respond(fail(http::status::not_found, to, "unknown reservation", "id"));
    return;
  }
  actors::kit_end_request end;
  end.id = std::move(id);
  end.kit = std::move(kit.kit);
  end.location = std::move(kit.location);
  end.key_digest = std::move(kit.key_digest);
  end.kind = commit ? actors::end_kind::commit : actors::end_kind::release;
  if (commit) {
    actors::end_request fields;
    if (auto err = parse_commit(body, fields)) {
      respond(fail(http::status::bad_request, to, err->problem, err->field));
      return;
    }
    end.order_id = std::move(fields.order_id);
    end.line_id = std::move(fields.line_id);
    // Each component's line is "<line_id>/<component>", which a later kit event must be able to
    // name too: the same bound the decoder puts on an expanded line id.
    for (const auto& c : components) {
      if (!end.line_id.empty() &&
          end.line_id.size() + 1 + c.sku.str().size() > deps.limits->string_bytes_max) {
        respond(fail(http::status::bad_request, to,
                     "too long to name the kit component '" + c.sku.str() + "' within " +
                         std::to_string(deps.limits->string_bytes_max) + " bytes",
                     "line_id"));
        return;
      }
    }
  }
  deps.counters->reservations_in_flight.fetch_add(1, std::memory_order_relaxed);
  deps.engine->end_kit_reservation(std::move(end), finish_with(deps, std::move(respond), to));
}

} // namespace

void handle_reservations(const api_dependencies& deps, std::string_view path, request&& req,
                         responder respond) {
  const answer_to to{req.version(), req.keep_alive(), deps.opts->retry_after};
  auto& m = *deps.counters;
  std::string_view rest = path.substr(prefix.size());
  const auto method = req.method();
  const bool create = rest.empty();
  constexpr std::string_view commit_suffix = "/commit";
  const bool commit = !create && rest.size() > commit_suffix.size() &&
                      rest.substr(rest.size() - commit_suffix.size()) == commit_suffix;
  if ((create && method != http::verb::post) || (commit && method != http::verb::post) ||
      (!create && !commit && method != http::verb::delete_)) {
    respond(fail(http::status::method_not_allowed, to,
                 create ? "use POST" : (commit ? "use POST" : "use DELETE")));
    return;
  }
  if (!m.ready.load(std::memory_order_relaxed)) {
    respond(unavailable(to, "recovering: not ready to take reservations"));
    return;
  }
  // Bounded: every request held here waits for a journal commit; past the limits the client is
  // told to come back rather than queueing without end.
  const auto in_flight = static_cast<std::size_t>(
      std::max<std::int64_t>(0, m.in_flight.load(std::memory_order_relaxed)));
  if (m.reservations_in_flight.load(std::memory_order_relaxed) >= reservations_in_flight_max ||
      in_flight + deps.writer->queued_events() + 1 > deps.in_flight_max) {
    m.http_overloaded.fetch_add(1, std::memory_order_relaxed);
    respond(unavailable(to, "overloaded: retry later"));
    return;
  }
  if (req.body().size() > reservation_body_bytes_max) {
    respond(fail(http::status::payload_too_large, to,
                 "at most " + std::to_string(reservation_body_bytes_max) + " bytes", "body"));
    return;
  }
  if (create) {
    actors::reserve_request reserve;
    if (auto err = parse_reserve(deps, req.body(), reserve)) {
      respond(fail(http::status::bad_request, to, err->problem, err->field));
      return;
    }
    m.reservations_in_flight.fetch_add(1, std::memory_order_relaxed);
    deps.engine->reserve(std::move(reserve), finish_with(deps, std::move(respond), to));
    return;
  }
  std::string_view raw_id = rest.substr(1);  // after the '/'
  if (commit) {
    raw_id.remove_suffix(commit_suffix.size());
  }
  auto id = raw_id.find('/') == std::string_view::npos ? percent_decode(raw_id) : std::nullopt;
  if (auto kit = id ? actors::parse_kit_reservation_id(*id) : std::nullopt) {
    end_kit_reservation(deps, std::move(*id), std::move(*kit), commit, req.body(),
                        std::move(respond), to);
    return;
  }
  auto key = id ? actors::parse_reservation_id(*id) : std::nullopt;
  if (!key) {
    respond(fail(http::status::not_found, to, "unknown reservation", "id"));
    return;
  }
  actors::end_request end;
  end.id = std::move(*id);
  end.key = std::move(*key);
  end.kind = commit ? actors::end_kind::commit : actors::end_kind::release;
  if (commit) {
    if (auto err = parse_commit(req.body(), end)) {
      respond(fail(http::status::bad_request, to, err->problem, err->field));
      return;
    }
  }
  m.reservations_in_flight.fetch_add(1, std::memory_order_relaxed);
  deps.engine->end_reservation(std::move(end), finish_with(deps, std::move(respond), to));
}

} // namespace stockd::server
