// The binary forms the journal and checkpoints store: exact round trips, and refusal (never a
// crash) of truncated or garbage bytes.
#include <random>

#include <catch2/catch.hpp>

#include "engine/codec.hpp"
#include "event_builders.hpp"

using namespace stockd::engine;
using namespace stockd::engine::testing;

namespace {

journal_entry full_entry() {
  event ev = base_event(event_type::return_received, 7);
  ev.source = source_id{"wms-east"};
  ev.id = "wms-east:884213";
  ev.delta = -3;
  ev.counted = 42;
  ev.occurred_at = at("2026-11-27T10:15:00.250Z");
  ev.as_of = at("2026-11-27T10:04:00Z");
  ev.expires_at = at("2026-11-27T10:30:00Z");
  ev.order_id = "#1001";
  ev.line_id = "2";
  ev.channel = channel_id{"shopify-main"};
  ev.return_disposition = disposition::quality_control;
  ev.po_id = "PO-77";
  ev.transfer_id = "T-9";
  ev.to_location = location_id{"DC-WEST"};
  ev.reason = "cycle count \xe2\x9c\x93";
  ev.reservation_id = "cart-77";
  ev.from = bucket::damaged;
  ev.to = bucket::safety_stock;
  return journal_entry{1042, at("2026-11-27T10:15:01Z"), ev};
}

sku_location_state busy_state() {
  harness h;
  h.ok(po(50));
  h.ok(receive(30, "PO-1"));
  h.ok(order("O1", "1", 3));
  h.ok(order("O2", "1", 2));
  h.ok(fulfil("O2", "1", 2));
  h.ok(reserve("R1", 2, at("2026-11-27T10:30:00Z")));
  h.ok(reserve("R2", 1));
  h.ok(status(bucket::available, bucket::damaged, 1));
  h.ok(count(29, at("2026-11-27T09:00:00Z")));
  h.ok(occurred(adjust(-1), "2026-11-27T11:00:00Z"));
  REQUIRE(h.apply(cancel("O7", "3", 1)).kind == outcome_kind::parked);
  return h.state;
}

} // namespace

TEST_CASE("varints and zig-zag integers round-trip at their edges", "[engine]") {
  const std::uint64_t unsigned_values[] = {0, 1, 127, 128, 16383, 16384, ~std::uint64_t{0}};
  const std::int64_t signed_values[] = {0, 1, -1, 63, -64, 64, INT64_MAX, INT64_MIN};
  std::string bytes;
  for (const auto v : unsigned_values) {
    wire::put_varint(bytes, v);
  }
  for (const auto v : signed_values) {
    wire::put_signed(bytes, v);
  }
  wire::put_string(bytes, "hello");
  wire::reader in(bytes);
  for (const auto v : unsigned_values) {
    std::uint64_t got = 0;
    REQUIRE(in.get_varint(got));
    CHECK(got == v);
  }
  for (const auto v : signed_values) {
    std::int64_t got = 0;
    REQUIRE(in.get_signed(got));
    CHECK(got == v);
  }
  std::string s;
  REQUIRE(in.get_string(s));
  CHECK(s == "hello");
  CHECK(in.at_end());
}

TEST_CASE("a varint longer than ten bytes or overflowing 64 bits is refused", "[engine]") {
  std::uint64_t v = 0;
  const std::string eleven_bytes(11, '\xff');
  wire::reader eleven(eleven_bytes);
  CHECK_FALSE(eleven.get_varint(v));
  const std::string overflow_bytes = std::string(9, '\xff') + '\x02';
  wire::reader overflow(overflow_bytes);
  CHECK_FALSE(overflow.get_varint(v));
}

TEST_CASE("a string whose length runs past the input is refused", "[engine]") {
  std::string bytes;
  wire::put_varint(bytes, 10);
  bytes += "abc";
  wire::reader in(bytes);
  std::string s;
  CHECK_FALSE(in.get_string(s));
}

TEST_CASE("a journal entry round-trips every field", "[engine]") {
  const journal_entry entry = full_entry();
  std::string bytes;
  encode(entry, bytes);
  const auto decoded = decode_journal_entry(bytes);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == entry);

  journal_entry minimal;
  bytes.clear();
  encode(minimal, bytes);
  REQUIRE(decode_journal_entry(bytes).has_value());
  CHECK(*decode_journal_entry(bytes) == minimal);
}

TEST_CASE("a state with lines, holds, parked events and count history round-trips", "[engine]") {
  const sku_location_state state = busy_state();
  REQUIRE_FALSE(state.open_lines.empty());
  REQUIRE_FALSE(state.closed_lines.empty());
  REQUIRE_FALSE(state.reservations.empty());
  REQUIRE_FALSE(state.parked.empty());
  REQUIRE_FALSE(state.physical_history.empty());
  REQUIRE(state.last_count_as_of.has_value());
  std::string bytes;
  encode(state, bytes);
  const auto decoded = decode_state(bytes);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == state);
}

TEST_CASE("every truncation of an entry or a state is refused", "[engine]") {
  std::string entry_bytes;
  encode(full_entry(), entry_bytes);
  for (std::size_t n = 0; n < entry_bytes.size(); ++n) {
    CHECK_FALSE(decode_journal_entry(std::string_view{entry_bytes}.substr(0, n)).has_value());
  }
  std::string state_bytes;
  encode(busy_state(), state_bytes);
  for (std::size_t n = 0; n < state_bytes.size(); ++n) {
    CHECK_FALSE(decode_state(std::string_view{state_bytes}.substr(0, n)).has_value());
  }
}

TEST_CASE("trailing bytes, unknown versions and out-of-range enums are refused", "[engine]") {
  std::string bytes;
  encode(full_entry(), bytes);
  CHECK_FALSE(decode_journal_entry(bytes + '\0').has_value());
  std::string wrong_version = bytes;
  wrong_version[0] = '\x09';
  CHECK_FALSE(decode_journal_entry(wrong_version).has_value());

  journal_entry entry = full_entry();
  entry.ev.type = static_cast<event_type>(event_type_count);
  std::string bad_type;
  encode(entry, bad_type);
  CHECK_FALSE(decode_journal_entry(bad_type).has_value());
}

TEST_CASE("a state that decodes but breaks the invariants is refused", "[engine]") {
  sku_location_state state = busy_state();
  state.qty.committed += 5;  // no order line explains it
  std::string bytes;
  encode(state, bytes);
  CHECK_FALSE(decode_state(bytes).has_value());
}

TEST_CASE("random mutations of encoded bytes never crash the decoders", "[engine]") {
  const std::uint32_t seed = 20261127;
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  std::string entry_bytes;
  encode(full_entry(), entry_bytes);
  std::string state_bytes;
  encode(busy_state(), state_bytes);
  std::size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string bytes = (round % 2 == 0) ? entry_bytes : state_bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
    }
    if (round % 2 == 0) {
      accepted += decode_journal_entry(bytes).has_value() ? 1u : 0u;
    } else if (const auto s = decode_state(bytes)) {
      ++accepted;
      CHECK(check_invariants(*s).empty());
    }
  }
  // Some mutations only change a value and still decode; the point is that nothing crashed.
  CHECK(accepted < 20000);
}

TEST_CASE("a version 1 checkpoint, written before oversold_by_channel, still decodes",
          "[engine]") {
  sku_location_state state;
  state.key = test_key();
  state.qty.available = 4;
  state.last_seq = 9;
  std::string bytes;
  encode(state, bytes);
  REQUIRE(bytes.back() == '\0');  // the empty oversold_by_channel list
  std::string v1 = bytes.substr(0, bytes.size() - 1);
  v1[0] = '\x01';
  auto decoded = decode_state(v1);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == state);

  state.qty.available = -3;
  state.oversold_units = 3;
  state.oversold_by_channel.push_back({channel_id("web"), 3, 1});
  bytes.clear();
  encode(state, bytes);
  CHECK(decode_state(bytes) == std::optional<sku_location_state>{state});
}
