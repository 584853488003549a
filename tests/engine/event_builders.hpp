#pragma once
// Small builders so each test reads as the story it tells ("order 3, ship 2, count 5 at 10:04").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "engine/apply.hpp"
#include "engine/event.hpp"
#include "engine/state.hpp"
#include "engine/time.hpp"

namespace stockd::engine::testing {

inline timestamp at(std::string_view rfc3339) {
  const auto t = parse_rfc3339(rfc3339);
  REQUIRE(t.has_value());
  return *t;
}

inline const sku_location_key& test_key() {
  static const sku_location_key key{sku_id{"TSHIRT-RED-M"}, location_id{"DC-EAST"}};
  return key;
}

inline event base_event(event_type type, std::int64_t qty = 0) {
  static std::uint64_t next_id = 0;
  event ev;
  ev.source = source_id{"test"};
  ev.id = "ev-" + std::to_string(++next_id);
  ev.type = type;
  ev.sku = test_key().sku;
  ev.location = test_key().location;
  ev.qty = qty;
  ev.occurred_at = at("2026-11-27T10:00:00Z");
  return ev;
}

inline event line_event(event_type type, std::string order_id, std::string line_id,
                        std::int64_t qty) {
  event ev = base_event(type, qty);
  ev.order_id = std::move(order_id);
  ev.line_id = std::move(line_id);
  return ev;
}

inline event order(std::string o, std::string l, std::int64_t qty,
                   std::string_view channel = "web") {
  event ev = line_event(event_type::order_created, std::move(o), std::move(l), qty);
  ev.channel = channel_id(channel);
  return ev;
}
inline event cancel(std::string o, std::string l, std::int64_t qty) {
  return line_event(event_type::order_cancelled, std::move(o), std::move(l), qty);
}
inline event payment_failed(std::string o, std::string l, std::int64_t qty) {
  return line_event(event_type::payment_failed, std::move(o), std::move(l), qty);
}
inline event fulfil(std::string o, std::string l, std::int64_t qty) {
  return line_event(event_type::order_fulfilled, std::move(o), std::move(l), qty);
}
inline event return_of(std::string o, std::string l, std::int64_t qty,
                       disposition d = disposition::restock) {
  event ev = line_event(event_type::return_received, std::move(o), std::move(l), qty);
  ev.return_disposition = d;
  return ev;
}
inline event po(std::int64_t qty, std::string po_id = "PO-1") {
  event ev = base_event(event_type::po_created, qty);
  ev.po_id = std::move(po_id);
  return ev;
}
inline event po_cancel(std::int64_t qty, std::string po_id = "PO-1") {
  event ev = base_event(event_type::po_cancelled, qty);
  ev.po_id = std::move(po_id);
  return ev;
}
inline event receive(std::int64_t qty, std::string po_id = "") {
  event ev = base_event(event_type::received, qty);
  ev.po_id = std::move(po_id);
  return ev;
}
inline event ship(std::int64_t qty, std::string to = "DC-WEST") {
  event ev = base_event(event_type::transfer_shipped, qty);
  ev.transfer_id = "T-1";
  ev.to_location = location_id{std::move(to)};
  return ev;
}
inline event transfer_in(std::int64_t qty) {
  event ev = base_event(event_type::transfer_received, qty);
  ev.transfer_id = "T-1";
  return ev;
}
inline event adjust(std::int64_t delta) {
  event ev = base_event(event_type::adjusted);
  ev.delta = delta;
  ev.reason = "cycle";
  return ev;
}
inline event count(std::int64_t counted, timestamp as_of) {
  event ev = base_event(event_type::counted);
  ev.counted = counted;
  ev.as_of = as_of;
  ev.occurred_at = as_of;
  return ev;
}
inline event reserve(std::string id, std::int64_t qty,
                     std::optional<timestamp> expires_at = std::nullopt) {
  event ev = base_event(event_type::reservation_created, qty);
  ev.reservation_id = std::move(id);
  ev.expires_at = expires_at;
  return ev;
}
inline event release(std::string id) {
  event ev = base_event(event_type::reservation_released);
  ev.reservation_id = std::move(id);
  return ev;
}
inline event expire(std::string id) {
  event ev = base_event(event_type::reservation_expired);
  ev.reservation_id = std::move(id);
  return ev;
}
inline event commit_reservation(std::string id, std::string order_id, std::string line_id = "") {
  event ev = base_event(event_type::reservation_committed);
  ev.reservation_id = std::move(id);
  ev.order_id = std::move(order_id);
  ev.line_id = std::move(line_id);
  return ev;
}
inline event status(bucket from, bucket to, std::int64_t qty) {
  event ev = base_event(event_type::status_changed, qty);
  ev.from = from;
  ev.to = to;
  return ev;
}
inline event occurred(event ev, std::string_view when) {
  ev.occurred_at = at(when);
  return ev;
}

/// One state and a journal counter; every apply checks the invariants.
struct harness {
  static sku_location_state fresh() {
    sku_location_state s;
    s.key = test_key();
    return s;
  }
  sku_location_state state = fresh();
  std::uint64_t seq = 0;

  outcome apply(event ev) {
    journal_entry entry{++seq, at("2026-11-27T12:00:00Z"), std::move(ev)};
    outcome o = engine::apply(state, entry, at("2026-11-27T12:00:00Z"));
    INFO("after seq " << seq << ": " << check_invariants(state));
    REQUIRE(check_invariants(state).empty());
    REQUIRE(state.last_seq == seq);
    return o;
  }
  /// Applies and requires `applied`, for the setup steps of a story.
  outcome ok(event ev) {
    outcome o = apply(std::move(ev));
    INFO(o.reason);
    REQUIRE(o.kind == outcome_kind::applied);
    return o;
  }
  buckets q() const { return state.qty; }
};

} // namespace stockd::engine::testing
