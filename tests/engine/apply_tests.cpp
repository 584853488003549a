// apply(): each event type's moves, each rejection, parking, dated counts, reservations.
#include <catch2/catch.hpp>

#include "event_builders.hpp"

using namespace stockd::engine;
using namespace stockd::engine::testing;

namespace {

/// The state minus the fields every recorded outcome advances, to check "nothing else moved".
sku_location_state without_bookkeeping(sku_location_state s) {
  s.last_seq = 0;
  return s;
}

} // namespace

// ---- orders ----------------------------------------------------------------------------------

TEST_CASE("order_created moves available to committed", "[engine]") {
  harness h;
  h.ok(receive(10));
  const outcome o = h.ok(order("O1", "1", 3));
  CHECK(h.q().available == 7);
  CHECK(h.q().committed == 3);
  CHECK(h.q().on_hand() == 10);
  CHECK(o.oversold_units == 0);
  CHECK(o.availability_changed);
  REQUIRE(h.state.open_lines.size() == 1);
  CHECK(h.state.open_lines[0].committed == 3);
}

TEST_CASE("order_created beyond available counts only the units that were not there", "[engine]") {
  harness h;
  h.ok(receive(2));
  const outcome first = h.ok(order("O1", "1", 5));
  CHECK(first.oversold_units == 3);
  CHECK(h.q().available == -3);
  CHECK(h.state.oversold_units == 3);
  const outcome second = h.ok(order("O2", "1", 2));
  CHECK(second.oversold_units == 2);
  CHECK(h.state.oversold_units == 5);
  CHECK(h.q().available == -5);
  // Each oversell is the channel's whose order made it: units and cases.
  h.ok(order("O3", "1", 1, "amazon"));
  REQUIRE(h.state.oversold_by_channel.size() == 2);
  CHECK(h.state.oversold_by_channel[0] == channel_oversell{channel_id("web"), 5, 2});
  CHECK(h.state.oversold_by_channel[1] == channel_oversell{channel_id("amazon"), 1, 1});
  CHECK(h.state.oversold_units == 6);
}

TEST_CASE("a count below what is committed oversells for no channel", "[engine]") {
  harness h;
  h.ok(receive(5));
  h.ok(order("O1", "1", 4));
  const outcome o = h.ok(count(2, at("2026-11-27T12:00:00Z")));
  CHECK(o.oversold_units == 2);
  CHECK(h.state.oversold_units == 2);
  CHECK(h.state.oversold_by_channel.empty());
}

TEST_CASE("past 16 channels, oversells share the entry \"*\"", "[engine]") {
  harness h;
  for (int i = 0; i < 20; ++i) {
    h.ok(order("O" + std::to_string(i), "1", 1, "ch" + std::to_string(i)));
  }
  REQUIRE(h.state.oversold_by_channel.size() == state_limits::oversold_channels_max + 1);
  CHECK(h.state.oversold_by_channel.back() == channel_oversell{channel_id("*"), 4, 4});
  CHECK(check_invariants(h.state).empty());
}

TEST_CASE("a second order_created for the same line is rejected", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 3));
  const auto before = without_bookkeeping(h.state);
  const outcome o = h.apply(order("O1", "1", 3));
  CHECK(o.kind == outcome_kind::rejected);
  CHECK_THAT(o.reason, Catch::Contains("already exists"));
  CHECK(without_bookkeeping(h.state) == before);
}

TEST_CASE("order_cancelled and payment_failed move committed back to available", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 4));
  h.ok(cancel("O1", "1", 1));
  CHECK(h.q().available == 7);
  CHECK(h.q().committed == 3);
  h.ok(payment_failed("O1", "1", 3));
  CHECK(h.q().available == 10);
  CHECK(h.q().committed == 0);
  CHECK(h.state.open_lines.empty());
  CHECK(h.state.closed_lines.size() == 1);
}

TEST_CASE("cancelling more than the line has committed is rejected and changes nothing",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 2));
  h.ok(order("O2", "1", 5));
  const auto before = without_bookkeeping(h.state);
  const auto last_event = h.state.last_event;
  const outcome o = h.apply(cancel("O1", "1", 3));
  CHECK(o.kind == outcome_kind::rejected);
  CHECK_THAT(o.reason, Catch::StartsWith("inconsistent"));
  CHECK(without_bookkeeping(h.state) == before);
  CHECK(h.state.last_event == last_event);
  CHECK_FALSE(o.availability_changed);
}

TEST_CASE("order_fulfilled moves committed out and lowers on_hand", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 4));
  h.ok(fulfil("O1", "1", 3));
  CHECK(h.q().committed == 1);
  CHECK(h.q().available == 6);
  CHECK(h.q().on_hand() == 7);
  h.ok(fulfil("O1", "1", 1));
  CHECK(h.q().on_hand() == 6);
  CHECK(h.state.open_lines.empty());
  REQUIRE(h.state.closed_lines.size() == 1);
  CHECK(h.state.closed_lines[0].returnable == 4);
}

TEST_CASE("fulfilling more than the line has committed is rejected", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 2));
  const auto before = without_bookkeeping(h.state);
  const outcome o = h.apply(fulfil("O1", "1", 3));
  CHECK(o.kind == outcome_kind::rejected);
  CHECK(without_bookkeeping(h.state) == before);
}

TEST_CASE("a fulfilment after the line was fully cancelled is rejected, not parked", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 2));
  h.ok(cancel("O1", "1", 2));
  const outcome o = h.apply(fulfil("O1", "1", 1));
  CHECK(o.kind == outcome_kind::rejected);
  CHECK(h.state.parked.empty());
}

TEST_CASE("return_received restocks into available or holds back as damaged or quality_control",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 5));
  h.ok(fulfil("O1", "1", 5));
  CHECK(h.q().on_hand() == 5);
  h.ok(return_of("O1", "1", 1, disposition::restock));
  CHECK(h.q().available == 6);
  h.ok(return_of("O1", "1", 1, disposition::damaged));
  CHECK(h.q().damaged == 1);
  h.ok(return_of("O1", "1", 2, disposition::quality_control));
  CHECK(h.q().quality_control == 2);
  CHECK(h.q().on_hand() == 9);
  CHECK(h.state.closed_lines[0].returnable == 1);
}

TEST_CASE("returning more than was fulfilled is rejected", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 5));
  h.ok(fulfil("O1", "1", 2));
  const auto before = without_bookkeeping(h.state);
  CHECK(h.apply(return_of("O1", "1", 3)).kind == outcome_kind::rejected);
  CHECK(without_bookkeeping(h.state) == before);
  h.ok(return_of("O1", "1", 2));
  CHECK(h.apply(return_of("O1", "1", 1)).kind == outcome_kind::rejected);
}

// ---- parking -----------------------------------------------------------------------------------

TEST_CASE("a cancel that arrives before its order is parked and applied when the order arrives",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  const auto before = h.q();
  const outcome parked = h.apply(cancel("O1", "1", 2));
  CHECK(parked.kind == outcome_kind::parked);
  CHECK_FALSE(parked.reason.empty());
  CHECK(h.q() == before);
  CHECK(h.state.parked.size() == 1);
  const outcome created = h.ok(order("O1", "1", 2));
  CHECK(created.unparked_applied == 1);
  CHECK(h.state.parked.empty());
  CHECK(h.q().available == 10);
  CHECK(h.q().committed == 0);
}

TEST_CASE("parked events for a line are applied in arrival order", "[engine]") {
  harness h;
  h.ok(receive(10));
  // A return before its fulfilment would be inconsistent; in arrival order it is fine.
  CHECK(h.apply(fulfil("O1", "1", 2)).kind == outcome_kind::parked);
  CHECK(h.apply(return_of("O1", "1", 1)).kind == outcome_kind::parked);
  CHECK(h.apply(cancel("O2", "1", 1)).kind == outcome_kind::parked);
  const outcome o = h.ok(order("O1", "1", 3));
  CHECK(o.unparked_applied == 2);
  CHECK(o.unparked_rejected == 0);
  CHECK(h.q().committed == 1);
  CHECK(h.q().available == 8);
  CHECK(h.q().on_hand() == 9);
  REQUIRE(h.state.parked.size() == 1);
  CHECK(h.state.parked[0].ev.order_id == "O2");
}

TEST_CASE("a parked event that is inconsistent once its order arrives is dropped and reported",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  CHECK(h.apply(cancel("O1", "1", 5)).kind == outcome_kind::parked);
  const outcome o = h.ok(order("O1", "1", 3));
  CHECK(o.unparked_rejected == 1);
  CHECK_THAT(o.reason, Catch::Contains("rejected"));
  CHECK(h.state.parked.empty());
  CHECK(h.q().committed == 3);
}

TEST_CASE("parking is bounded: past parked_max an early event is rejected", "[engine]") {
  harness h;
  for (std::size_t i = 0; i < state_limits::parked_max; ++i) {
    CHECK(h.apply(cancel("O" + std::to_string(i), "1", 1)).kind == outcome_kind::parked);
  }
  const outcome o = h.apply(cancel("O-late", "1", 1));
  CHECK(o.kind == outcome_kind::rejected);
  CHECK_THAT(o.reason, Catch::StartsWith("limit"));
  CHECK(h.state.parked.size() == state_limits::parked_max);
}

TEST_CASE("closed order lines are remembered up to closed_lines_max, oldest forgotten first",
          "[engine]") {
  harness h;
  h.ok(receive(100));
  const std::size_t lines = state_limits::closed_lines_max + 2;
  for (std::size_t i = 0; i < lines; ++i) {
    h.ok(order("O" + std::to_string(i), "1", 1));
    h.ok(fulfil("O" + std::to_string(i), "1", 1));
  }
  CHECK(h.state.closed_lines.size() == state_limits::closed_lines_max);
  // The newest closed line still takes its return...
  h.ok(return_of("O" + std::to_string(lines - 1), "1", 1));
  // ...the oldest is forgotten, so its return waits like one for an unseen order (unless the
  // caller recalls it from its index first: the tests below).
  CHECK(h.apply(return_of("O0", "1", 1)).kind == outcome_kind::parked);
}

namespace {

/// A harness with closed_lines_max + `extra` lines of 2 units, each fulfilled 2, all closed
/// (O0 first); returns every record pushed out of the state, in order.
std::vector<closed_line> close_lines(harness& h, std::size_t extra) {
  std::vector<closed_line> forgotten;
  h.ok(receive(1000));
  for (std::size_t i = 0; i < state_limits::closed_lines_max + extra; ++i) {
    h.ok(order("O" + std::to_string(i), "1", 2));
    const outcome o = h.ok(fulfil("O" + std::to_string(i), "1", 2));
    forgotten.insert(forgotten.end(), o.forgotten_lines.begin(), o.forgotten_lines.end());
  }
  return forgotten;
}

journal_entry entry_of(const harness& h, event ev) {
  return journal_entry{h.seq + 1, at("2026-11-27T12:00:00Z"), std::move(ev)};
}

} // namespace

TEST_CASE("a closed line pushed out of the state is reported in forgotten_lines", "[engine]") {
  harness h;
  const auto forgotten = close_lines(h, 3);
  REQUIRE(forgotten.size() == 3);
  CHECK(forgotten[0] == closed_line{line_hash("O0", "1"), 2});
  CHECK(forgotten[2] == closed_line{line_hash("O2", "1"), 2});
  CHECK(h.state.closed_lines.front().line_hash == line_hash("O3", "1"));
}

TEST_CASE("a line closed by an unparked event is reported when it pushes one out", "[engine]") {
  harness h;
  close_lines(h, 0);
  CHECK(h.apply(fulfil("LATE", "1", 1)).kind == outcome_kind::parked);
  const outcome o = h.ok(order("LATE", "1", 1));  // the parked fulfilment closes it
  CHECK(o.unparked_applied == 1);
  REQUIRE(o.forgotten_lines.size() == 1);
  CHECK(o.forgotten_lines[0].line_hash == line_hash("O0", "1"));
}

TEST_CASE("line_to_recall names only a line the state does not hold once it has forgotten some",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  // Nothing forgotten yet (closed_lines not full): no lookup, an unseen line parks as before.
  CHECK_FALSE(line_to_recall(h.state, entry_of(h, return_of("X", "1", 1))));
  close_lines(h, 1);
  CHECK(line_to_recall(h.state, entry_of(h, return_of("O0", "1", 1))) == line_hash("O0", "1"));
  CHECK(line_to_recall(h.state, entry_of(h, order("O0", "1", 1))) == line_hash("O0", "1"));
  CHECK_FALSE(line_to_recall(h.state, entry_of(h, return_of("O5", "1", 1))));  // held
  CHECK_FALSE(line_to_recall(h.state, entry_of(h, receive(1))));                // no line
  journal_entry old = entry_of(h, return_of("O0", "1", 1));
  old.seq = h.seq;  // already applied: replay skips it, and must not recall either
  CHECK_FALSE(line_to_recall(h.state, old));
}

TEST_CASE("a late return of a forgotten line applies once the line is recalled", "[engine]") {
  harness h;
  const auto forgotten = close_lines(h, 1);
  REQUIRE(forgotten.size() == 1);
  const auto pushed_out = recall_closed_line(h.state, forgotten[0]);
  // Recalled as the newest record; the oldest goes (to be indexed in turn).
  REQUIRE(pushed_out.size() == 1);
  CHECK(pushed_out[0].line_hash == line_hash("O1", "1"));
  CHECK(h.state.closed_lines.back() == forgotten[0]);
  const auto before = h.q();
  const outcome o = h.ok(return_of("O0", "1", 2));
  CHECK(o.forgotten_lines.empty());
  CHECK(h.q().available == before.available + 2);
  CHECK(h.state.closed_lines.back().returnable == 0);
  // Its returnable quantity is checked as for any closed line.
  CHECK(h.apply(return_of("O0", "1", 1)).kind == outcome_kind::rejected);
  // Recalling what the state holds changes nothing: its own record is the newer one.
  const auto held = h.state;
  CHECK(recall_closed_line(h.state, forgotten[0]).empty());
  CHECK(h.state == held);
}

TEST_CASE("a late cancel of a recalled closed line is rejected as inconsistent, not parked",
          "[engine]") {
  harness h;
  const auto forgotten = close_lines(h, 1);
  recall_closed_line(h.state, forgotten.at(0));
  const outcome o = h.apply(cancel("O0", "1", 1));
  CHECK(o.kind == outcome_kind::rejected);
  CHECK_THAT(o.reason, Catch::StartsWith("inconsistent"));
  CHECK(h.state.parked.empty());
  // And a second order for the line is refused as for any line the state holds.
  CHECK(h.apply(order("O0", "1", 1)).kind == outcome_kind::rejected);
}

TEST_CASE("a damaged index record is not recalled", "[engine]") {
  harness h;
  close_lines(h, 1);
  const auto held = h.state;
  CHECK(recall_closed_line(h.state, {line_hash("O0", "1"), -1}).empty());
  CHECK(h.state == held);
}

// ---- purchase orders, receipts, transfers, adjustments ------------------------------------------

TEST_CASE("po_created adds incoming and po_cancelled takes it out again", "[engine]") {
  harness h;
  const outcome o = h.ok(po(24));
  CHECK(h.q().incoming == 24);
  CHECK(h.q().on_hand() == 0);
  CHECK(o.availability_changed);
  h.ok(po_cancel(4));
  CHECK(h.q().incoming == 20);
}

TEST_CASE("po_cancelled for more than is incoming is rejected", "[engine]") {
  harness h;
  h.ok(po(5));
  CHECK(h.apply(po_cancel(6)).kind == outcome_kind::rejected);
  CHECK(h.q().incoming == 5);
}

TEST_CASE("received with a po_id moves incoming to available and brings the excess in",
          "[engine]") {
  harness h;
  h.ok(po(24));
  h.ok(receive(30, "PO-1"));
  CHECK(h.q().incoming == 0);
  CHECK(h.q().available == 30);
}

TEST_CASE("received without a po_id leaves incoming alone", "[engine]") {
  harness h;
  h.ok(po(24));
  h.ok(receive(5));
  CHECK(h.q().incoming == 24);
  CHECK(h.q().available == 5);
}

TEST_CASE("transfer_shipped takes available out here and adds incoming at the destination",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  const event shipped = ship(4, "DC-WEST");
  const auto keys = touched_keys(shipped);
  REQUIRE(keys.size() == 2);
  CHECK(keys[1] == sku_location_key{test_key().sku, location_id{"DC-WEST"}});
  h.ok(shipped);
  CHECK(h.q().available == 6);
  CHECK(h.q().on_hand() == 6);

  sku_location_state west;
  west.key = keys[1];
  const outcome o = apply(west, journal_entry{1, {}, shipped}, {});
  CHECK(o.kind == outcome_kind::applied);
  CHECK(west.qty.incoming == 4);
  CHECK(west.qty.on_hand() == 0);
}

TEST_CASE("transfer_shipped for more than is available is rejected, not clamped", "[engine]") {
  harness h;
  h.ok(receive(3));
  const outcome o = h.apply(ship(4));
  CHECK(o.kind == outcome_kind::rejected);
  CHECK_THAT(o.reason, Catch::StartsWith("insufficient"));
  CHECK(h.q().available == 3);
}

TEST_CASE("transfer_shipped to its own location is rejected as invalid", "[engine]") {
  harness h;
  h.ok(receive(3));
  CHECK(h.apply(ship(1, "DC-EAST")).kind == outcome_kind::rejected);
  CHECK(touched_keys(ship(1, "DC-EAST")).size() == 1);
}

TEST_CASE("transfer_received moves incoming to available and brings the unexpected part in",
          "[engine]") {
  harness h;
  sku_location_state& s = h.state;
  s.qty.incoming = 4;  // as a transfer_shipped at another location would have left it
  h.ok(transfer_in(6));
  CHECK(s.qty.incoming == 0);
  CHECK(s.qty.available == 6);
}

TEST_CASE("adjusted brings stock in or takes it out by a signed delta", "[engine]") {
  harness h;
  h.ok(adjust(5));
  CHECK(h.q().available == 5);
  h.ok(adjust(-2));
  CHECK(h.q().available == 3);
  CHECK(h.apply(adjust(-4)).kind == outcome_kind::rejected);
  CHECK(h.apply(adjust(0)).kind == outcome_kind::rejected);
  CHECK(h.q().available == 3);
}

TEST_CASE("a move out of available is rejected while available is negative from an oversell",
          "[engine]") {
  harness h;
  h.ok(order("O1", "1", 2));
  CHECK(h.q().available == -2);
  CHECK(h.apply(adjust(-1)).kind == outcome_kind::rejected);
  CHECK(h.apply(reserve("R1", 1)).kind == outcome_kind::rejected);
  CHECK(h.apply(status(bucket::available, bucket::damaged, 1)).kind == outcome_kind::rejected);
  h.ok(adjust(1));  // moves toward zero are fine
  CHECK(h.q().available == -1);
}

// ---- counts ------------------------------------------------------------------------------------

TEST_CASE("counted sets on_hand and the difference goes in or out of available", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 2));
  h.ok(count(7, at("2026-11-27T10:30:00Z")));
  CHECK(h.q().on_hand() == 7);
  CHECK(h.q().available == 5);
  CHECK(h.q().committed == 2);
  h.ok(count(12, at("2026-11-27T10:40:00Z")));
  CHECK(h.q().available == 10);
}

TEST_CASE("a 10:04 count arriving after a 10:06 receipt keeps the receipt", "[engine]") {
  harness h;
  h.ok(occurred(receive(10), "2026-11-27T09:00:00Z"));
  h.ok(occurred(receive(24), "2026-11-27T10:06:00Z"));
  CHECK(h.q().on_hand() == 34);
  // The count saw 9 on the shelf at 10:04, before the receipt of 24 landed.
  h.ok(count(9, at("2026-11-27T10:04:00Z")));
  CHECK(h.q().on_hand() == 33);
  CHECK(h.q().available == 33);
}

TEST_CASE("a count older than the last applied count is stale and only advances last_seq",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(count(8, at("2026-11-27T10:10:00Z")));
  const auto before = without_bookkeeping(h.state);
  const outcome o = h.apply(count(3, at("2026-11-27T10:05:00Z")));
  CHECK(o.kind == outcome_kind::stale);
  CHECK_FALSE(o.reason.empty());
  CHECK(without_bookkeeping(h.state) == before);
  CHECK(h.state.last_seq == h.seq);
}

TEST_CASE("a recount with the same as_of replaces the earlier one", "[engine]") {
  harness h;
  h.ok(count(8, at("2026-11-27T10:10:00Z")));
  h.ok(count(6, at("2026-11-27T10:10:00Z")));
  CHECK(h.q().on_hand() == 6);
}

TEST_CASE("a fulfilment dated inside the last count moves committed but not on_hand", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 3));
  // The shelf was counted at 10:04 after the parcel left at 10:03: the count already lacks it.
  h.ok(count(7, at("2026-11-27T10:04:00Z")));
  CHECK(h.q().available == 4);
  h.ok(occurred(fulfil("O1", "1", 3), "2026-11-27T10:03:00Z"));
  CHECK(h.q().committed == 0);
  CHECK(h.q().on_hand() == 7);
  CHECK(h.q().available == 7);
}

TEST_CASE("a fulfilment dated after the last count lowers on_hand as usual", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 3));
  h.ok(count(10, at("2026-11-27T10:04:00Z")));
  h.ok(occurred(fulfil("O1", "1", 3), "2026-11-27T10:05:00Z"));
  CHECK(h.q().on_hand() == 7);
  CHECK(h.q().available == 7);
}

TEST_CASE("a receipt dated inside the last count only clears incoming", "[engine]") {
  harness h;
  h.ok(po(24));
  h.ok(count(24, at("2026-11-27T10:10:00Z")));
  h.ok(occurred(receive(24, "PO-1"), "2026-11-27T10:06:00Z"));
  CHECK(h.q().incoming == 0);
  CHECK(h.q().on_hand() == 24);
}

TEST_CASE("physical events dated inside the last count do not change on_hand again",
          "[engine]") {
  harness h;
  h.ok(receive(20));
  h.ok(count(20, at("2026-11-27T11:00:00Z")));
  h.ok(occurred(adjust(-3), "2026-11-27T10:00:00Z"));
  h.ok(occurred(ship(2), "2026-11-27T10:00:00Z"));
  h.ok(occurred(transfer_in(5), "2026-11-27T10:00:00Z"));
  CHECK(h.q().on_hand() == 20);
  CHECK(h.q().available == 20);
}

TEST_CASE("a count below what is committed makes available negative and records the oversell",
          "[engine]") {
  harness h;
  h.ok(receive(5));
  h.ok(order("O1", "1", 4));
  const outcome o = h.ok(count(1, at("2026-11-27T10:30:00Z")));
  CHECK(h.q().available == -3);
  CHECK(o.oversold_units == 3);
  CHECK(h.state.oversold_units == 3);
}

TEST_CASE("a count dated before the physical history kept is rejected", "[engine]") {
  harness h;
  for (std::size_t i = 0; i < state_limits::physical_history_max + 1; ++i) {
    h.ok(occurred(adjust(1), "2026-11-27T10:00:00Z"));
  }
  REQUIRE(h.state.history_floor.has_value());
  const outcome o = h.apply(count(3, at("2026-11-27T09:00:00Z")));
  CHECK(o.kind == outcome_kind::rejected);
  CHECK_THAT(o.reason, Catch::StartsWith("limit"));
  h.ok(count(3, at("2026-11-27T10:00:00Z")));
  CHECK(h.q().on_hand() == 3);
  CHECK_FALSE(h.state.history_floor.has_value());
}

TEST_CASE("count history older than a day before the newest change is forgotten", "[engine]") {
  harness h;
  h.ok(occurred(receive(5), "2026-11-26T10:00:00Z"));
  h.ok(occurred(receive(5), "2026-11-27T11:00:00Z"));
  CHECK(h.state.physical_history.size() == 1);
  REQUIRE(h.state.history_floor == at("2026-11-26T10:00:00Z"));
  CHECK(h.apply(count(0, at("2026-11-26T09:00:00Z"))).kind == outcome_kind::rejected);
  h.ok(count(4, at("2026-11-27T10:00:00Z")));
  CHECK(h.q().on_hand() == 9);
}

// ---- reservations -------------------------------------------------------------------------------

TEST_CASE("reservation_created holds available stock and release gives it back", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(reserve("R1", 3));
  CHECK(h.q().available == 7);
  CHECK(h.q().reserved == 3);
  h.ok(release("R1"));
  CHECK(h.q().available == 10);
  CHECK(h.q().reserved == 0);
  CHECK(h.state.reservations.empty());
}

TEST_CASE("reservation_created for more than is available is rejected", "[engine]") {
  harness h;
  h.ok(receive(2));
  const outcome o = h.apply(reserve("R1", 3));
  CHECK(o.kind == outcome_kind::rejected);
  CHECK(h.state.reservations.empty());
  CHECK(h.q().available == 2);
}

TEST_CASE("a reservation id used twice is rejected", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(reserve("R1", 1));
  CHECK(h.apply(reserve("R1", 1)).kind == outcome_kind::rejected);
  CHECK(h.q().reserved == 1);
}

TEST_CASE("releasing, expiring or committing an unknown reservation is rejected", "[engine]") {
  harness h;
  h.ok(receive(10));
  CHECK(h.apply(release("nope")).kind == outcome_kind::rejected);
  CHECK(h.apply(expire("nope")).kind == outcome_kind::rejected);
  CHECK(h.apply(commit_reservation("nope", "O1")).kind == outcome_kind::rejected);
  h.ok(reserve("R1", 1));
  h.ok(release("R1"));
  CHECK(h.apply(release("R1")).kind == outcome_kind::rejected);
}

TEST_CASE("expired_reservations lists holds due by now and reservation_expired frees them",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(reserve("R1", 2, at("2026-11-27T10:15:00Z")));
  h.ok(reserve("R2", 1));
  h.ok(reserve("R3", 3, at("2026-11-27T10:30:00Z")));
  CHECK(expired_reservations(h.state, at("2026-11-27T10:14:59Z")).empty());
  CHECK(expired_reservations(h.state, at("2026-11-27T10:15:00Z")) ==
        std::vector<std::string>{"R1"});
  const auto due = expired_reservations(h.state, at("2026-11-28T00:00:00Z"));
  CHECK(due == std::vector<std::string>{"R1", "R3"});
  for (const auto& id : due) {
    h.ok(expire(id));
  }
  CHECK(h.q().reserved == 1);
  CHECK(h.q().available == 9);
}

TEST_CASE("reservation_committed turns the hold into an order line that can be fulfilled",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(reserve("R1", 2));
  const outcome o = h.ok(commit_reservation("R1", "O9", "1"));
  CHECK_FALSE(o.availability_changed);
  CHECK(h.q().reserved == 0);
  CHECK(h.q().committed == 2);
  CHECK(h.q().available == 8);
  h.ok(fulfil("O9", "1", 2));
  CHECK(h.q().on_hand() == 8);
}

TEST_CASE("reservation_committed without a line_id names the line by the reservation id",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(reserve("R1", 2));
  h.ok(commit_reservation("R1", "O9"));
  h.ok(cancel("O9", "R1", 2));
  CHECK(h.q().available == 10);
}

TEST_CASE("reservation_committed onto an existing order line is rejected and keeps the hold",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O9", "1", 1));
  h.ok(reserve("R1", 2));
  CHECK(h.apply(commit_reservation("R1", "O9", "1")).kind == outcome_kind::rejected);
  CHECK(h.q().reserved == 2);
  CHECK(h.state.reservations.size() == 1);
}

TEST_CASE("reservation_commit_refusal tells beforehand what apply would refuse for the line",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O9", "1", 1));
  h.ok(reserve("R1", 2));
  const auto onto_existing = commit_reservation("R1", "O9", "1");
  CHECK(stockd::engine::reservation_commit_refusal(h.state, onto_existing).starts_with(
      "inconsistent: order line O9/1"));
  const auto fresh_line = commit_reservation("R1", "O9", "2");
  CHECK(stockd::engine::reservation_commit_refusal(h.state, fresh_line).empty());
  h.ok(fresh_line);
  // Without a line_id the reservation id names the line, and that line now exists too.
  h.ok(reserve("R2", 1));
  h.ok(order("O9", "R2", 1));
  CHECK_FALSE(
      stockd::engine::reservation_commit_refusal(h.state, commit_reservation("R2", "O9")).empty());
}

TEST_CASE("reservation_committed applies events parked for its order line", "[engine]") {
  harness h;
  h.ok(receive(10));
  CHECK(h.apply(fulfil("O9", "1", 2)).kind == outcome_kind::parked);
  h.ok(reserve("R1", 2));
  const outcome o = h.ok(commit_reservation("R1", "O9", "1"));
  CHECK(o.unparked_applied == 1);
  CHECK(h.q().committed == 0);
  CHECK(h.q().on_hand() == 8);
}

// ---- status changes ------------------------------------------------------------------------------

TEST_CASE("status_changed moves between available and the held-back buckets both ways",
          "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(status(bucket::available, bucket::damaged, 3));
  h.ok(status(bucket::available, bucket::safety_stock, 2));
  h.ok(status(bucket::damaged, bucket::quality_control, 1));
  h.ok(status(bucket::quality_control, bucket::available, 1));
  CHECK(h.q().available == 6);
  CHECK(h.q().damaged == 2);
  CHECK(h.q().safety_stock == 2);
  CHECK(h.q().quality_control == 0);
  CHECK(h.q().on_hand() == 10);
}

TEST_CASE("status_changed with an invalid pair or too little stock is rejected", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(status(bucket::available, bucket::damaged, 2));
  CHECK(h.apply(status(bucket::damaged, bucket::damaged, 1)).kind == outcome_kind::rejected);
  CHECK(h.apply(status(bucket::committed, bucket::available, 1)).kind == outcome_kind::rejected);
  CHECK(h.apply(status(bucket::available, bucket::incoming, 1)).kind == outcome_kind::rejected);
  CHECK(h.apply(status(bucket::damaged, bucket::available, 3)).kind == outcome_kind::rejected);
  CHECK(h.apply(status(bucket::available, bucket::damaged, 9)).kind == outcome_kind::rejected);
  CHECK(h.q().damaged == 2);
  CHECK(h.q().available == 8);
}

// ---- bookkeeping ----------------------------------------------------------------------------------

TEST_CASE("an entry at or below last_seq is skipped on replay and changes nothing", "[engine]") {
  harness h;
  h.ok(receive(10));
  const auto before = h.state;
  const outcome o = apply(h.state, journal_entry{1, {}, receive(10)}, {});
  CHECK(o.kind == outcome_kind::skipped);
  CHECK(h.state == before);
}

TEST_CASE("an applied event becomes last_event and a rejected one does not", "[engine]") {
  harness h;
  event ev = receive(10);
  ev.source = source_id{"wms-east"};
  ev.id = "884213";
  h.ok(ev);
  REQUIRE(h.state.last_event.has_value());
  CHECK(h.state.last_event->source.str() == "wms-east");
  CHECK(h.state.last_event->id == "884213");
  CHECK(h.state.last_event->seq == 1);
  CHECK(h.state.last_event->occurred_at == ev.occurred_at);
  CHECK(h.apply(adjust(-50)).kind == outcome_kind::rejected);
  CHECK(h.state.last_event->seq == 1);
  CHECK(h.state.last_seq == 2);
}

TEST_CASE("availability_changed is set only when available or incoming moved", "[engine]") {
  harness h;
  CHECK(h.ok(receive(10)).availability_changed);
  CHECK(h.ok(po(3)).availability_changed);
  h.ok(status(bucket::available, bucket::damaged, 2));
  CHECK_FALSE(h.ok(status(bucket::damaged, bucket::quality_control, 1)).availability_changed);
  CHECK_FALSE(h.apply(adjust(-100)).availability_changed);
}

TEST_CASE("an event for another SKU or location is rejected", "[engine]") {
  harness h;
  event ev = receive(10);
  ev.location = location_id{"DC-WEST"};
  CHECK(h.apply(ev).kind == outcome_kind::rejected);
  CHECK(h.q().available == 0);
}

TEST_CASE("quantities outside the engine's limits are rejected as invalid", "[engine]") {
  harness h;
  CHECK(h.apply(receive(0)).kind == outcome_kind::rejected);
  CHECK(h.apply(receive(-5)).kind == outcome_kind::rejected);
  CHECK(h.apply(receive(state_limits::qty_max + 1)).kind == outcome_kind::rejected);
  CHECK(h.apply(count(-1, at("2026-11-27T10:00:00Z"))).kind == outcome_kind::rejected);
  CHECK(h.apply(order("", "1", 1)).kind == outcome_kind::rejected);
  CHECK(h.apply(order("O1", "", 1)).kind == outcome_kind::rejected);
  CHECK(h.q() == buckets{});
}

TEST_CASE("repeated maximal receipts stop at the bucket limit instead of overflowing",
          "[engine]") {
  harness h;
  std::size_t applied = 0;
  for (int i = 0; i < 1100; ++i) {
    applied += h.apply(receive(state_limits::qty_max)).kind == outcome_kind::applied ? 1u : 0u;
  }
  CHECK(applied == 1000);
  CHECK(h.q().available == state_limits::bucket_abs_max);
}

// ---- invariants ---------------------------------------------------------------------------------

TEST_CASE("check_invariants names each broken invariant", "[engine]") {
  harness h;
  h.ok(receive(10));
  h.ok(order("O1", "1", 2));
  h.ok(reserve("R1", 1));
  REQUIRE(check_invariants(h.state).empty());

  SECTION("a negative bucket other than available") {
    for (const bucket b : {bucket::committed, bucket::reserved, bucket::safety_stock,
                           bucket::damaged, bucket::quality_control, bucket::incoming}) {
      sku_location_state s = h.state;
      s.qty.at(b) = -1;
      CHECK_THAT(check_invariants(s), Catch::Contains(std::string{to_string(b)}));
    }
  }
  SECTION("available below zero without a recorded oversell") {
    sku_location_state s = h.state;
    s.qty.available = -1;
    CHECK_THAT(check_invariants(s), Catch::Contains("oversold"));
  }
  SECTION("committed that no open order line explains") {
    sku_location_state s = h.state;
    s.qty.committed += 1;
    CHECK_THAT(check_invariants(s), Catch::Contains("open order lines"));
  }
  SECTION("reserved that no reservation explains") {
    sku_location_state s = h.state;
    s.qty.reserved += 1;
    CHECK_THAT(check_invariants(s), Catch::Contains("reservations hold"));
  }
  SECTION("a list beyond its limit") {
    sku_location_state s = h.state;
    s.closed_lines.resize(state_limits::closed_lines_max + 1);
    CHECK_THAT(check_invariants(s), Catch::Contains("state_limits"));
  }
}

TEST_CASE("outcome kinds have stable names", "[engine]") {
  CHECK(to_string(outcome_kind::applied) == "applied");
  CHECK(to_string(outcome_kind::rejected) == "rejected");
  CHECK(to_string(outcome_kind::parked) == "parked");
  CHECK(to_string(outcome_kind::stale) == "stale");
  CHECK(to_string(outcome_kind::skipped) == "skipped");
}

TEST_CASE("hostile values are rejected or applied without breaking an invariant", "[engine]") {
  harness h;
  h.ok(receive(10));
  event huge_delta = adjust(0);
  huge_delta.delta = INT64_MIN;
  CHECK(h.apply(huge_delta).kind == outcome_kind::rejected);
  CHECK(h.apply(receive(INT64_MAX)).kind == outcome_kind::rejected);
  event early = receive(1);
  early.occurred_at = timestamp{std::chrono::milliseconds{INT64_MIN}};
  h.ok(early);
  event late = receive(1);
  late.occurred_at = timestamp{std::chrono::milliseconds{INT64_MAX}};
  h.ok(late);
  CHECK(h.state.history_floor.has_value());
  h.ok(count(3, timestamp{std::chrono::milliseconds{INT64_MAX}}));
  CHECK(h.q().on_hand() == 3);
  CHECK(h.apply(count(3, timestamp{std::chrono::milliseconds{INT64_MIN}})).kind ==
        outcome_kind::stale);
  event bad_enum = status(bucket::available, static_cast<bucket>(200), 1);
  CHECK(h.apply(bad_enum).kind == outcome_kind::rejected);
}
