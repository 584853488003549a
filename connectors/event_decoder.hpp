#pragma once
// Inbound adapter for POST /v1/events: a JSON array or NDJSON of event envelopes (DESIGN §2),
// parsed with simdjson On-Demand, validated per event, normalized (location aliases) into
// engine::event. A syntax error anywhere fails the whole body (nothing is half-accepted); a
// schema error fails only that event, with the field and the reason.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "engine/catalog.hpp"
#include "engine/event.hpp"
#include "engine/result.hpp"

namespace stockd::connectors {

struct field_error {
  std::string field;   // e.g. "qty", "occurred_at", "" for the envelope itself
  std::string reason;  // e.g. "must be a positive integer"
  friend bool operator==(const field_error&, const field_error&) = default;
};

struct decoded_event {
  std::string id;                    // as sent (may be empty when missing), echoed in the answer
  std::optional<engine::event> ev;   // set when valid
  field_error error;                 // set when !ev
};

struct decode_limits {
  std::size_t events_max = 10000;         // per body
  std::size_t string_bytes_max = 256;     // any string field
  std::int64_t qty_max = 1'000'000'000;   // |qty|, |delta|, counted
  std::size_t depth_max = 8;              // nesting of the JSON document
};

struct body_error {
  int http_status = 400;   // 400 malformed, 413 too many events
  std::string message;     // names the byte offset or line where it can
};

/// `body` may be reallocated to add simdjson's padding; its content is unchanged. The catalog
/// resolves locations. Decisions a caller may rely on:
///  - a known field given twice rejects the event with reason "duplicate key" (parsers disagree
///    on first- vs last-wins); unknown fields, repeated or not, are ignored;
///  - nesting depth counts the root as 1 (array events are at 2, NDJSON events at 1); deeper
///    than `depth_max` anywhere is a 400;
///  - an `order_created` may leave out `location` when it names its `channel` (DESIGN §2): the
///    decoded event then has an empty location for the engine to assign;
///  - an optional field sent as null counts as absent; a required one sent as null is a type
///    error ("must be a string" / "must be an integer").
stockd::result<std::vector<decoded_event>, body_error>
decode_events(std::string& body, const engine::catalog& catalog, const decode_limits& limits);

} // namespace stockd::connectors
