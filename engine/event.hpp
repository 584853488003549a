#pragma once
// The normalized inventory event (DESIGN §2). Inbound adapters produce it; the journal stores it;
// `apply` consumes it. All quantities are in the SKU's base unit.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/ids.hpp"
#include "engine/time.hpp"

namespace stockd::engine {

enum class event_type : std::uint8_t {
  order_created,
  order_cancelled,
  payment_failed,
  order_fulfilled,
  return_received,
  po_created,
  po_cancelled,
  received,
  transfer_shipped,
  transfer_received,
  adjusted,
  counted,
  reservation_created,
  reservation_released,
  reservation_expired,
  reservation_committed,
  status_changed,
};
inline constexpr std::size_t event_type_count = 17;

/// The events of an order line, keyed by (order_id, line_id): they may leave out `location`
/// (the order names its channel; the line's later events follow the line).
constexpr bool is_line_event(event_type type) noexcept {
  return type == event_type::order_created || type == event_type::order_cancelled ||
         type == event_type::payment_failed || type == event_type::order_fulfilled ||
         type == event_type::return_received;
}

std::string_view to_string(event_type type) noexcept;
std::optional<event_type> parse_event_type(std::string_view text) noexcept;

enum class bucket : std::uint8_t {
  available,
  committed,
  reserved,
  safety_stock,
  damaged,
  quality_control,
  incoming,
};
inline constexpr std::size_t bucket_count = 7;

std::string_view to_string(bucket b) noexcept;
std::optional<bucket> parse_bucket(std::string_view text) noexcept;

enum class disposition : std::uint8_t { restock, damaged, quality_control };
std::string_view to_string(disposition d) noexcept;
std::optional<disposition> parse_disposition(std::string_view text) noexcept;

/// One event, as validated and normalized by ingest. Fields a type does not use stay empty/zero.
struct event {
  source_id source;
  std::string id;                 // unique per source; (source, id) is the idempotency key
  event_type type = event_type::adjusted;
  sku_id sku;
  location_id location;
  std::int64_t qty = 0;           // > 0 for every type but `adjusted` and `counted`
  std::int64_t delta = 0;         // `adjusted` only: signed, non-zero
  std::int64_t counted = 0;       // `counted` only: >= 0
  timestamp occurred_at{};
  timestamp as_of{};              // `counted` only
  std::optional<timestamp> expires_at;  // `reservation_created` only
  std::string order_id;
  std::string line_id;
  channel_id channel;
  disposition return_disposition = disposition::restock;
  std::string po_id;
  std::string transfer_id;
  location_id to_location;
  std::string reason;
  std::string reservation_id;
  bucket from = bucket::available;  // `status_changed`
  bucket to = bucket::available;    // `status_changed`

  friend bool operator==(const event&, const event&) = default;
};

/// An event as the journal holds it: with its position and the time the engine accepted it.
struct journal_entry {
  std::uint64_t seq = 0;  // 1-based, dense, assigned by the journal writer
  timestamp received_at{};
  event ev;

  friend bool operator==(const journal_entry&, const journal_entry&) = default;
};

} // namespace stockd::engine
