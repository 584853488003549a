#include "engine/apply.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace stockd::engine {

std::string_view to_string(outcome_kind kind) noexcept {
  switch (kind) {
  case outcome_kind::applied: return "applied";
  case outcome_kind::rejected: return "rejected";
  case outcome_kind::parked: return "parked";
  case outcome_kind::stale: return "stale";
  case outcome_kind::skipped: return "skipped";
  }
  return "unknown";
}

bool touches_destination(const event& ev) noexcept {
  return ev.type == event_type::transfer_shipped && !ev.to_location.empty() &&
         ev.to_location != ev.location;
}

std::vector<sku_location_key> touched_keys(const event& ev) {
  std::vector<sku_location_key> keys{{ev.sku, ev.location}};
  if (touches_destination(ev)) {
    keys.push_back({ev.sku, ev.to_location});
  }
  return keys;
}

namespace {

using limits = state_limits;

outcome make_outcome(outcome_kind kind, std::string reason) {
  outcome o;
  o.kind = kind;
  o.reason = std::move(reason);
  return o;
}

outcome rejected(std::string reason) { return make_outcome(outcome_kind::rejected, std::move(reason)); }

std::string num(std::int64_t v) { return std::to_string(v); }

bool is_status_bucket(bucket b) {
  return b == bucket::available || b == bucket::damaged || b == bucket::quality_control ||
         b == bucket::safety_stock;
}

bucket disposition_bucket(disposition d) {
  switch (d) {
  case disposition::restock: return bucket::available;
  case disposition::damaged: return bucket::damaged;
  case disposition::quality_control: return bucket::quality_control;
  }
  return bucket::available;
}

std::string check_qty(std::int64_t qty) {
  if (qty <= 0 || qty > limits::qty_max) {
    return "invalid: qty must be in 1.." + num(limits::qty_max) + ", got " + num(qty);
  }
  return {};
}

// External input is validated here, never asserted: ingest validates too, but the journal may
// hold events from older versions and the codec is fuzzed.
std::string validate(const event& ev) {
  switch (ev.type) {
  case event_type::adjusted:
    if (ev.delta == 0 || ev.delta > limits::qty_max || ev.delta < -limits::qty_max) {
      return "invalid: delta must be non-zero and at most " + num(limits::qty_max) + " in size";
    }
    return {};
  case event_type::counted:
    if (ev.counted < 0 || ev.counted > limits::qty_max) {
      return "invalid: counted must be in 0.." + num(limits::qty_max);
    }
    return {};
  case event_type::order_created:
  case event_type::order_cancelled:
  case event_type::payment_failed:
  case event_type::order_fulfilled:
  case event_type::return_received:
    if (ev.order_id.empty() || ev.line_id.empty()) {
      return "invalid: order_id and line_id are required";
    }
    return check_qty(ev.qty);
  case event_type::reservation_created:
    if (ev.reservation_id.empty()) {
      return "invalid: reservation_id is required";
    }
    return check_qty(ev.qty);
  case event_type::reservation_released:
  case event_type::reservation_expired:
    // These act on the whole hold; qty is not needed (DELETE /v1/reservations/{id} has none).
    return ev.reservation_id.empty() ? "invalid: reservation_id is required" : std::string{};
  case event_type::reservation_committed:
    if (ev.reservation_id.empty() || ev.order_id.empty()) {
      return "invalid: reservation_id and order_id are required";
    }
    return {};
  case event_type::status_changed:
    if (ev.from == ev.to || !is_status_bucket(ev.from) || !is_status_bucket(ev.to)) {
      return "invalid: status_changed moves between two different buckets of available, "
             "damaged, quality_control, safety_stock";
    }
    return check_qty(ev.qty);
  case event_type::transfer_shipped:
    if (ev.to_location.empty() || ev.to_location == ev.location) {
      return "invalid: to_location is required and must differ from location";
    }
    return check_qty(ev.qty);
  case event_type::po_created:
  case event_type::po_cancelled:
  case event_type::received:
  case event_type::transfer_received:
    return check_qty(ev.qty);
  }
  return "invalid: unknown event type";
}

// ---- order lines --------------------------------------------------------------------------

std::optional<std::size_t> find_open_line(const sku_location_state& s, std::string_view order_id,
                                          std::string_view line_id) {
  for (std::size_t i = 0; i < s.open_lines.size(); ++i) {
    if (s.open_lines[i].order_id == order_id && s.open_lines[i].line_id == line_id) {
      return i;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> find_closed_line(const sku_location_state& s, std::uint64_t hash) {
  for (std::size_t i = 0; i < s.closed_lines.size(); ++i) {
    if (s.closed_lines[i].line_hash == hash) {
      return i;
    }
  }
  return std::nullopt;
}


// A line with nothing left committed shrinks to a closed record (a return may still come); the
// oldest closed record is forgotten past closed_lines_max (see docs/semantics.md).
// The forgotten record goes to `forgotten` so the caller can index it (outcome.forgotten_lines).
void push_closed(sku_location_state& s, const closed_line& line,
                 std::vector<closed_line>& forgotten) {
  // Make room first, so the vector's capacity never grows past the limit.
  if (s.closed_lines.size() >= limits::closed_lines_max) {
    forgotten.push_back(s.closed_lines.front());
    s.closed_lines.erase(s.closed_lines.begin());
  }
  s.closed_lines.push_back(line);
}

void close_line_if_done(sku_location_state& s, std::size_t index,
                        std::vector<closed_line>& forgotten) {
  const order_line& line = s.open_lines[index];
  if (line.open() > 0) {
    return;
  }
  push_closed(s, {line_hash(line.order_id, line.line_id), line.returnable()}, forgotten);
  s.open_lines.erase(s.open_lines.begin() + static_cast<std::ptrdiff_t>(index));
}

// ---- bucket moves -------------------------------------------------------------------------

struct settled {
  std::string error;
  std::int64_t oversold = 0;
};

bool inside_last_count(const sku_location_state& s, const event& ev) {
  return s.last_count_as_of && ev.occurred_at <= *s.last_count_as_of;
}

// Takes the buckets an event would produce and decides whether they may stand. A physical
// event dated inside the last count keeps on_hand where the count put it: its on_hand change is
// given back to available, so only its non-physical part (e.g. committed) moves. Touches
// nothing in `s`.
settled settle(const sku_location_state& s, buckets& next, const event& ev, bool physical,
               bool may_oversell) {
  if (physical && inside_last_count(s, ev)) {
    next.available -= next.on_hand() - s.qty.on_hand();
  }
  for (std::size_t i = 0; i < bucket_count; ++i) {
    const auto b = static_cast<bucket>(i);
    const std::int64_t v = next.at(b);
    if (v > limits::bucket_abs_max || v < -limits::bucket_abs_max) {
      return {"limit: " + std::string{to_string(b)} + " would exceed " +
                  num(limits::bucket_abs_max),
              0};
    }
    if (b != bucket::available && v < 0) {
      return {"inconsistent: " + std::string{to_string(b)} + " would go negative (" + num(v) + ")",
              0};
    }
  }
  const std::int64_t before = s.qty.available;
  if (next.available < 0 && next.available < before) {
    if (!may_oversell) {
      return {"insufficient: needs " + num(before - next.available) + " available, has " +
                  num(std::max<std::int64_t>(before, 0)),
              0};
    }
    // Units sold beyond what was there: the growth of the shortfall below zero.
    return {{}, std::max<std::int64_t>(0, -next.available) - std::max<std::int64_t>(0, -before)};
  }
  return {};
}

// Attributes an oversell to the channel whose order made it; past the limit, to "*".
void note_channel_oversell(sku_location_state& s, const channel_id& channel, std::int64_t units) {
  auto find = [&s](const channel_id& id) -> channel_oversell* {
    for (auto& entry : s.oversold_by_channel) {
      if (entry.channel == id) {
        return &entry;
      }
    }
    return nullptr;
  };
  channel_oversell* entry = find(channel);
  if (entry == nullptr && s.oversold_by_channel.size() >= limits::oversold_channels_max) {
    static const channel_id other{std::string_view("*")};
    entry = find(other);
    if (entry == nullptr) {
      entry = &s.oversold_by_channel.emplace_back(channel_oversell{other, 0, 0});
    }
  }
  if (entry == nullptr) {
    entry = &s.oversold_by_channel.emplace_back(channel_oversell{channel, 0, 0});
  }
  entry->units += units;
  entry->cases += 1;
}

// Commits what settle() accepted, remembering on_hand changes for later-arriving dated counts.
void commit(sku_location_state& s, const buckets& next, const event& ev, std::int64_t oversold) {
  const std::int64_t on_hand_delta = next.on_hand() - s.qty.on_hand();
  s.qty = next;
  s.oversold_units += oversold;
  if (oversold > 0 && ev.type == event_type::order_created && !ev.channel.empty()) {
    note_channel_oversell(s, ev.channel, oversold);
  }
  if (on_hand_delta == 0 || ev.type == event_type::counted) {
    return;
  }
  // Forget what no plausible count can still need: changes a day older than this one, then the
  // oldest past the size limit. The floor remembers how far back the history is exact.
  const auto window = std::chrono::duration_cast<std::chrono::milliseconds>(
      limits::physical_history_window);
  // Checked: occurred_at comes from outside and may sit near the type's minimum.
  const timestamp cutoff = ev.occurred_at < timestamp::min() + window
                               ? timestamp::min()
                               : ev.occurred_at - window;
  const auto forget = [&s](timestamp forgotten) {
    s.history_floor = s.history_floor ? std::max(*s.history_floor, forgotten) : forgotten;
  };
  std::erase_if(s.physical_history, [&](const physical_change& change) {
    if (change.occurred_at < cutoff) {
      forget(change.occurred_at);
      return true;
    }
    return false;
  });
  if (s.physical_history.size() >= limits::physical_history_max) {
    forget(s.physical_history.front().occurred_at);
    s.physical_history.erase(s.physical_history.begin());
  }
  s.physical_history.push_back({ev.occurred_at, on_hand_delta});
}

// Settles and commits in one step for handlers with nothing else to change; returns the outcome.
outcome move(sku_location_state& s, buckets next, const event& ev, bool physical,
             bool may_oversell = false) {
  settled result = settle(s, next, ev, physical, may_oversell);
  if (!result.error.empty()) {
    return rejected(std::move(result.error));
  }
  commit(s, next, ev, result.oversold);
  outcome o;
  o.oversold_units = result.oversold;
  return o;
}

// ---- handlers, one per kind of event (origin side unless noted) ----------------------------

outcome apply_line_event(sku_location_state& s, const journal_entry& entry);

// Applies, in arrival order, the events parked for a line that now exists.
void unpark(sku_location_state& s, std::string_view order_id, std::string_view line_id,
            outcome& o) {
  std::vector<journal_entry> ready;
  std::vector<journal_entry> waiting;
  for (auto& parked : s.parked) {
    const bool match = parked.ev.order_id == order_id && parked.ev.line_id == line_id;
    (match ? ready : waiting).push_back(std::move(parked));
  }
  s.parked = std::move(waiting);
  for (const auto& entry : ready) {
    outcome inner = apply_line_event(s, entry);
    o.forgotten_lines.insert(o.forgotten_lines.end(), inner.forgotten_lines.begin(),
                             inner.forgotten_lines.end());
    if (inner.kind == outcome_kind::applied) {
      ++o.unparked_applied;
    } else {
      ++o.unparked_rejected;
      o.reason += (o.reason.empty() ? "" : "; ") + std::string{"unparked "} +
                  std::string{to_string(entry.ev.type)} + " " + entry.ev.source.str() + ":" +
                  entry.ev.id + " rejected: " + inner.reason;
    }
  }
}

/// Why a new order line (order_id, line_id) cannot be opened, or empty.
std::string line_refusal(const sku_location_state& s, std::string_view order_id,
                         std::string_view line_id) {
  if (line_known(s, order_id, line_id)) {
    return "inconsistent: order line " + std::string{order_id} + "/" + std::string{line_id} +
           " already exists";
  }
  if (s.open_lines.size() >= limits::open_lines_max) {
    return "limit: " + std::to_string(limits::open_lines_max) + " open order lines";
  }
  return {};
}

outcome create_line(sku_location_state& s, const event& ev, std::string_view line_id, buckets next,
                    bool may_oversell) {
  if (std::string refusal = line_refusal(s, ev.order_id, line_id); !refusal.empty()) {
    return rejected(std::move(refusal));
  }
  const std::int64_t qty = next.committed - s.qty.committed;
  outcome o = move(s, next, ev, false, may_oversell);
  if (o.kind != outcome_kind::applied) {
    return o;
  }
  s.open_lines.push_back({ev.order_id, std::string{line_id}, qty, 0, 0, 0});
  unpark(s, ev.order_id, line_id, o);
  return o;
}

outcome order_created(sku_location_state& s, const event& ev) {
  buckets next = s.qty;
  next.available -= ev.qty;
  next.committed += ev.qty;
  // The only move allowed to take available below zero: the channel already sold it.
  return create_line(s, ev, ev.line_id, next, true);
}

outcome park(sku_location_state& s, const journal_entry& entry) {
  if (s.parked.size() >= limits::parked_max) {
    return rejected("limit: " + std::to_string(limits::parked_max) +
                    " events already wait for their order lines");
  }
  s.parked.push_back(entry);
  return make_outcome(outcome_kind::parked, "waiting for order line " + entry.ev.order_id + "/" +
                                                entry.ev.line_id);
}

outcome apply_line_event(sku_location_state& s, const journal_entry& entry) {
  const event& ev = entry.ev;
  const auto open_index = find_open_line(s, ev.order_id, ev.line_id);
  const auto closed_found =
      open_index ? std::nullopt : find_closed_line(s, line_hash(ev.order_id, ev.line_id));
  if (!open_index && !closed_found) {
    return park(s, entry);
  }
  const std::size_t closed_index = closed_found.value_or(0);
  const std::string line_name = ev.order_id + "/" + ev.line_id;
  buckets next = s.qty;
  if (ev.type == event_type::return_received) {
    const std::int64_t returnable = open_index ? s.open_lines[*open_index].returnable()
                                               : s.closed_lines[closed_index].returnable;
    if (ev.qty > returnable) {
      return rejected("inconsistent: return of " + num(ev.qty) + " on line " + line_name +
                      " but only " + num(returnable) + " fulfilled and not yet returned");
    }
    next.at(disposition_bucket(ev.return_disposition)) += ev.qty;
    outcome o = move(s, next, ev, true);
    if (o.kind == outcome_kind::applied) {
      if (open_index) {
        s.open_lines[*open_index].returned += ev.qty;
      } else {
        s.closed_lines[closed_index].returnable -= ev.qty;
      }
    }
    return o;
  }
  const std::int64_t open = open_index ? s.open_lines[*open_index].open() : 0;
  const bool fulfil = ev.type == event_type::order_fulfilled;
  if (ev.qty > open) {
    return rejected("inconsistent: " + std::string{fulfil ? "fulfilling " : "cancelling "} +
                    num(ev.qty) + " on line " + line_name + " but only " + num(open) +
                    " committed");
  }
  next.committed -= ev.qty;
  if (!fulfil) {
    next.available += ev.qty;
  }
  outcome o = move(s, next, ev, fulfil);
  if (o.kind == outcome_kind::applied) {
    order_line& line = s.open_lines[*open_index];
    (fulfil ? line.fulfilled : line.cancelled) += ev.qty;
    close_line_if_done(s, *open_index, o.forgotten_lines);
  }
  return o;
}

outcome counted(sku_location_state& s, const event& ev) {
  if (s.last_count_as_of && ev.as_of < *s.last_count_as_of) {
    return make_outcome(outcome_kind::stale, "count as of " + format_rfc3339(ev.as_of) +
                                                 " is older than the last count, as of " +
                                                 format_rfc3339(*s.last_count_as_of));
  }
  if (s.history_floor && ev.as_of < *s.history_floor) {
    return rejected("limit: count as of " + format_rfc3339(ev.as_of) +
                    " predates the physical history kept (at most " +
                    std::to_string(limits::physical_history_max) + " changes and " +
                    std::to_string(limits::physical_history_window.count()) +
                    " hours; exact back to " + format_rfc3339(*s.history_floor) + ")");
  }
  // What was counted, plus what has physically changed since as_of and is already applied.
  std::int64_t target = ev.counted;
  for (const auto& change : s.physical_history) {
    if (change.occurred_at > ev.as_of) {
      target += change.on_hand_delta;
    }
  }
  buckets next = s.qty;
  next.available += target - s.qty.on_hand();
  // A count is the truth about the shelf: when it is below what is committed, reserved or held
  // back, available goes negative and the shortfall is recorded as oversold.
  outcome o = move(s, next, ev, false, true);
  if (o.kind != outcome_kind::applied) {
    return o;
  }
  s.last_count_as_of = ev.as_of;
  std::erase_if(s.physical_history,
                [&](const physical_change& change) { return change.occurred_at <= ev.as_of; });
  s.history_floor.reset();
  return o;
}

std::optional<std::size_t> find_reservation(const sku_location_state& s, std::string_view id) {
  for (std::size_t i = 0; i < s.reservations.size(); ++i) {
    if (s.reservations[i].id == id) {
      return i;
    }
  }
  return std::nullopt;
}

outcome reservation_created(sku_location_state& s, const event& ev) {
  if (find_reservation(s, ev.reservation_id)) {
    return rejected("inconsistent: reservation " + ev.reservation_id + " already exists");
  }
  if (s.reservations.size() >= limits::reservations_max) {
    return rejected("limit: " + std::to_string(limits::reservations_max) + " reservations");
  }
  buckets next = s.qty;
  next.available -= ev.qty;
  next.reserved += ev.qty;
  outcome o = move(s, next, ev, false);
  if (o.kind == outcome_kind::applied) {
    s.reservations.push_back({ev.reservation_id, ev.qty, ev.expires_at});
  }
  return o;
}

outcome reservation_ended(sku_location_state& s, const event& ev) {
  const auto index = find_reservation(s, ev.reservation_id);
  if (!index) {
    return rejected("inconsistent: unknown reservation " + ev.reservation_id);
  }
  const std::int64_t held = s.reservations[*index].qty;
  buckets next = s.qty;
  next.reserved -= held;
  if (ev.type == event_type::reservation_committed) {
    next.committed += held;
    // The committed hold becomes an order line so the order's later fulfilment finds it. A
    // line_id is optional here; the reservation id names the line when it is missing.
    const std::string line_id = ev.line_id.empty() ? ev.reservation_id : ev.line_id;
    outcome o = create_line(s, ev, line_id, next, false);
    if (o.kind == outcome_kind::applied) {
      s.reservations.erase(s.reservations.begin() + static_cast<std::ptrdiff_t>(*index));
    }
    return o;
  }
  next.available += held;
  outcome o = move(s, next, ev, false);
  if (o.kind == outcome_kind::applied) {
    s.reservations.erase(s.reservations.begin() + static_cast<std::ptrdiff_t>(*index));
  }
  return o;
}

outcome apply_origin(sku_location_state& s, const journal_entry& entry) {
  const event& ev = entry.ev;
  buckets next = s.qty;
  switch (ev.type) {
  case event_type::order_created: return order_created(s, ev);
  case event_type::order_cancelled:
  case event_type::payment_failed:
  case event_type::order_fulfilled:
  case event_type::return_received: return apply_line_event(s, entry);
  case event_type::po_created:
    next.incoming += ev.qty;
    return move(s, next, ev, false);
  case event_type::po_cancelled:
    if (ev.qty > s.qty.incoming) {
      return rejected("inconsistent: cancelling " + num(ev.qty) + " incoming but only " +
                      num(s.qty.incoming) + " expected");
    }
    next.incoming -= ev.qty;
    return move(s, next, ev, false);
  case event_type::received:
  case event_type::transfer_received: {
    // The expected part leaves incoming; a receipt without a PO was never expected.
    const bool expected = ev.type == event_type::transfer_received || !ev.po_id.empty();
    next.incoming -= expected ? std::min(ev.qty, s.qty.incoming) : 0;
    next.available += ev.qty;
    return move(s, next, ev, true);
  }
  case event_type::transfer_shipped:
    next.available -= ev.qty;
    return move(s, next, ev, true);
  case event_type::adjusted:
    next.available += ev.delta;
    return move(s, next, ev, true);
  case event_type::counted: return counted(s, ev);
  case event_type::reservation_created: return reservation_created(s, ev);
  case event_type::reservation_released:
  case event_type::reservation_expired:
  case event_type::reservation_committed: return reservation_ended(s, ev);
  case event_type::status_changed:
    next.at(ev.from) -= ev.qty;
    next.at(ev.to) += ev.qty;
    return move(s, next, ev, false);
  }
  return rejected("invalid: unknown event type");
}

} // namespace

bool line_known(const sku_location_state& s, std::string_view order_id, std::string_view line_id) {
  return find_open_line(s, order_id, line_id) ||
         find_closed_line(s, line_hash(order_id, line_id));
}

outcome apply(sku_location_state& state, const journal_entry& entry, timestamp now) {
  // `now` is deliberately unused: replay must give the same state whatever the clock says, so
  // anything time-driven (reservation expiry) arrives as its own journaled event.
  (void)now;
  if (entry.seq <= state.last_seq) {
    return make_outcome(outcome_kind::skipped, "seq " + std::to_string(entry.seq) +
                                                   " already applied (last " +
                                                   std::to_string(state.last_seq) + ")");
  }
  const event& ev = entry.ev;
  const buckets before = state.qty;
  outcome o;
  if (std::string invalid = validate(ev); !invalid.empty()) {
    o = rejected(std::move(invalid));
  } else if (ev.sku == state.key.sku && ev.location == state.key.location) {
    o = apply_origin(state, entry);
  } else if (ev.type == event_type::transfer_shipped && ev.sku == state.key.sku &&
             ev.to_location == state.key.location) {
    // The destination of a transfer: in → incoming; it arrives as transfer_received.
    buckets next = state.qty;
    next.incoming += ev.qty;
    o = move(state, next, ev, false);
  } else {
    o = rejected("invalid: event does not touch " + state.key.sku.str() + "@" +
                 state.key.location.str());
  }
  state.last_seq = entry.seq;
  if (o.kind == outcome_kind::applied) {
    state.last_event = last_event_info{ev.source, ev.id, ev.occurred_at, entry.seq};
  }
  o.availability_changed =
      state.qty.available != before.available || state.qty.incoming != before.incoming;
  // Assertions stay on in production (STYLE): a broken invariant is a bug in this file.
  assert(check_invariants(state).empty());
  return o;
}

std::optional<std::uint64_t> line_to_recall(const sku_location_state& state,
                                            const journal_entry& entry) {
  const event& ev = entry.ev;
  if (entry.seq <= state.last_seq || state.closed_lines.size() < limits::closed_lines_max ||
      ev.sku != state.key.sku || ev.location != state.key.location || ev.order_id.empty()) {
    return std::nullopt;
  }
  std::string_view line_id = ev.line_id;
  switch (ev.type) {
  case event_type::order_created:
  case event_type::order_cancelled:
  case event_type::payment_failed:
  case event_type::order_fulfilled:
  case event_type::return_received: break;
  case event_type::reservation_committed:
    if (line_id.empty()) {
      line_id = ev.reservation_id;  // as reservation_ended names the line
    }
    break;
  default: return std::nullopt;
  }
  if (line_id.empty() || line_known(state, ev.order_id, line_id)) {
    return std::nullopt;
  }
  return line_hash(ev.order_id, line_id);
}

std::vector<closed_line> recall_closed_line(sku_location_state& state, const closed_line& line) {
  std::vector<closed_line> forgotten;
  if (line.returnable < 0 || line.returnable > limits::bucket_abs_max ||
      find_closed_line(state, line.line_hash)) {
    return forgotten;
  }
  for (const auto& open : state.open_lines) {
    if (line_hash(open.order_id, open.line_id) == line.line_hash) {
      return forgotten;  // reopened under the same ids? the state's own line wins
    }
  }
  push_closed(state, line, forgotten);
  return forgotten;
}

std::string reservation_commit_refusal(const sku_location_state& state, const event& ev) {
  return line_refusal(state, ev.order_id, ev.line_id.empty() ? ev.reservation_id : ev.line_id);
}

std::vector<std::string> expired_reservations(const sku_location_state& state, timestamp now) {
  std::vector<std::string> ids;
  for (const auto& r : state.reservations) {
    if (r.expires_at && *r.expires_at <= now) {
      ids.push_back(r.id);
    }
  }
  return ids;
}

std::string check_invariants(const sku_location_state& state) {
  const buckets& q = state.qty;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    const auto b = static_cast<bucket>(i);
    const std::int64_t v = q.at(b);
    if (b != bucket::available && v < 0) {
      return std::string{to_string(b)} + " is negative (" + num(v) + ")";
    }
    if (v > limits::bucket_abs_max || v < -limits::bucket_abs_max) {
      return std::string{to_string(b)} + " is beyond " + num(limits::bucket_abs_max);
    }
  }
  if (state.oversold_units < 0 || state.oversold_units > limits::bucket_abs_max) {
    return "oversold_units out of range (" + num(state.oversold_units) + ")";
  }
  std::int64_t by_channel = 0;
  for (const auto& entry : state.oversold_by_channel) {
    if (entry.units <= 0 || entry.cases <= 0 || entry.units > limits::bucket_abs_max) {
      return "oversold_by_channel[" + entry.channel.str() + "] out of range";
    }
    by_channel += entry.units;
  }
  if (by_channel > state.oversold_units ||
      state.oversold_by_channel.size() > limits::oversold_channels_max + 1) {
    return "oversold_by_channel adds up to " + num(by_channel) + " of " +
           num(state.oversold_units) + " oversold units";
  }
  if (q.available < -state.oversold_units) {
    return "available is " + num(q.available) + " but only " + num(state.oversold_units) +
           " units were recorded as oversold";
  }
  if (state.open_lines.size() > limits::open_lines_max ||
      state.closed_lines.size() > limits::closed_lines_max ||
      state.reservations.size() > limits::reservations_max ||
      state.parked.size() > limits::parked_max ||
      state.physical_history.size() > limits::physical_history_max) {
    return "a list exceeds its state_limits bound";
  }
  // Sums use checked arithmetic: decode_state runs this on untrusted bytes.
  std::int64_t open_total = 0;
  for (const auto& line : state.open_lines) {
    const bool in_range = line.committed >= 0 && line.fulfilled >= 0 && line.cancelled >= 0 &&
                          line.returned >= 0 && line.committed <= limits::bucket_abs_max &&
                          line.fulfilled <= line.committed && line.cancelled <= line.committed;
    if (!in_range || line.open() <= 0 || line.returned > line.fulfilled) {
      return "order line " + line.order_id + "/" + line.line_id + " is inconsistent";
    }
    if (__builtin_add_overflow(open_total, line.open(), &open_total)) {
      return "open order lines overflow";
    }
  }
  if (open_total != q.committed) {
    return "committed is " + num(q.committed) + " but open order lines hold " + num(open_total);
  }
  for (const auto& line : state.closed_lines) {
    if (line.returnable < 0 || line.returnable > limits::bucket_abs_max) {
      return "a closed order line has a negative returnable quantity";
    }
  }
  std::int64_t held = 0;
  for (const auto& r : state.reservations) {
    if (r.qty <= 0 || r.qty > limits::bucket_abs_max) {
      return "reservation " + r.id + " holds " + num(r.qty);
    }
    if (__builtin_add_overflow(held, r.qty, &held)) {
      return "reservations overflow";
    }
  }
  if (held != q.reserved) {
    return "reserved is " + num(q.reserved) + " but reservations hold " + num(held);
  }
  for (const auto& change : state.physical_history) {
    if (change.on_hand_delta > limits::bucket_abs_max ||
        change.on_hand_delta < -limits::bucket_abs_max) {
      return "a physical change is out of range";
    }
  }
  return {};
}

} // namespace stockd::engine
