#pragma once
// Inbound adapter for POST /v1/events: a JSON array or NDJSON of event envelopes (DESIGN §2),
// parsed with simdjson On-Demand, validated per event, normalized (location aliases, SKU
// mapping, units of measure, kit expansion) into engine::event. A syntax error anywhere fails
// the whole body (nothing is half-accepted); a schema error fails only that event, with the
// field and the reason.
#include <cstddef>
#include <cstdint>
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

/// A rejection caused by the catalog rather than by the sender's JSON: an id the source's
/// mapping table does not know, or a unit the SKU is not traded in. Kept apart so the status
/// page can list them for ops to fix the configuration.
enum class miss_kind : std::uint8_t { none, unmapped_sku, unknown_unit };
struct catalog_miss {
  miss_kind kind = miss_kind::none;
  std::string source;
  std::string sku;   // as sent for unmapped_sku; the canonical SKU for unknown_unit
  std::string unit;  // unknown_unit only
};

struct decoded_event {
  std::string id;                    // as sent (may be empty when missing), echoed in the answer
  std::optional<engine::event> ev;   // set when valid; normalized (mapped SKU, base units)
  /// Set when `ev` is for a kit: the events to journal instead of it, one per component
  /// (engine::expand_kit_event). Empty otherwise.
  std::vector<engine::event> components;
  field_error error;                 // set when !ev
  catalog_miss miss;                 // set when !ev because of the catalog
  /// Set by server/placement when the event named no location and stockd chose one: the
  /// answer tells the sender where its line went (an OMS ships from there).
  std::string placed_at;
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
///    decoded event then has an empty location for the engine to assign; so may the line's later
///    events (order_cancelled, payment_failed, order_fulfilled, return_received), which follow
///    the line to where it was placed (server/placement.hpp);
///  - an optional field sent as null counts as absent; a required one sent as null is a type
///    error ("must be a string" / "must be an integer");
///  - `sku` is what the source calls the item: a source with a mapping table must use an id of
///    that table (else field "sku", "unmapped sku 'X' for source 'S'"); the SKUs of a source
///    without a table pass through unchanged;
///  - an optional `unit` multiplies qty, delta or counted by the SKU's factor for it (every SKU
///    knows "each" = 1); an unknown unit rejects the event (field "unit"); the product, like
///    any quantity, must stay within qty_max;
///  - an order-line event (order_created, order_cancelled, payment_failed, order_fulfilled,
///    return_received) for a kit keeps the kit event in `ev` and lists one event per component
///    in `components` (ids "<id>#<component>", line ids "<line_id>/<component>", qty × component
///    qty); any other type on a kit is rejected (field "sku"): kits have no stock of their own.
stockd::result<std::vector<decoded_event>, body_error>
decode_events(std::string& body, const engine::catalog& catalog, const decode_limits& limits);

/// What a snapshot (POST /v1/snapshots/{location}) supplies for every one of its lines: the part
/// of the envelope a line does not carry.
struct snapshot_envelope {
  std::string id;        // the snapshot's id; a line's event id is "<id>:<canonical sku>"
  std::string source;    // who sent it: SKU mapping, location aliases and dedup are per source
  std::string location;  // as the source names it
  std::string as_of;     // RFC 3339, for lines without their own; "" = none
};

/// One NDJSON line of a snapshot as a `counted` event. `line` may be reallocated to add
/// simdjson's padding; its content is unchanged. Decisions a caller may rely on:
///  - a line carries `sku`, `counted` (0..qty_max) and optionally `unit` and `as_of`; it must not
///    carry `id`, `source`, `type`, `location` or `occurred_at`: the snapshot sets them (field
///    named, reason "is set by the snapshot, not by its lines");
///  - a line's own `as_of` wins over the envelope's; without either it is rejected (field
///    "as_of"); the event's `occurred_at` is its `as_of` (a count happened when it was taken);
///  - the event id is "<snapshot id>:<canonical SKU>", so a re-posted snapshot is deduplicated
///    line by line; an id longer than string_bytes_max rejects the line (field "sku");
///  - a line that is not JSON, or not an object, is rejected with field "" and the reason: in a
///    streamed snapshot one bad line must not undo the lines before it;
///  - every other rule is the event decoder's: SKU mapping per source, units, qty_max, duplicate
///    keys, unknown fields ignored, and kits rejected (they have no stock to count).
decoded_event decode_snapshot_line(std::string& line, const snapshot_envelope& envelope,
                                   const engine::catalog& catalog, const decode_limits& limits);

} // namespace stockd::connectors
