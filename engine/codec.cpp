#include "engine/codec.hpp"

#include <limits>

#include "engine/apply.hpp"

namespace stockd::engine {

namespace wire {

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_signed(std::string& out, std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);
  put_varint(out, (u << 1) ^ (v < 0 ? ~std::uint64_t{0} : std::uint64_t{0}));
}

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

bool reader::get_varint(std::uint64_t& v) {
  // At most 10 bytes; the tenth may only carry the top bit, anything more is garbage.
  std::uint64_t result = 0;
  for (unsigned i = 0; i < 10; ++i) {
    if (rest_.empty()) {
      return false;
    }
    const auto byte = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    if (i == 9 && byte > 1) {
      return false;
    }
    result |= std::uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80) == 0) {
      v = result;
      return true;
    }
  }
  return false;
}

bool reader::get_signed(std::int64_t& v) {
  std::uint64_t u = 0;
  if (!get_varint(u)) {
    return false;
  }
  v = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

bool reader::get_string(std::string& s) {
  std::uint64_t size = 0;
  if (!get_varint(size) || size > rest_.size()) {
    return false;
  }
  s.assign(rest_.substr(0, size));
  rest_.remove_prefix(size);
  return true;
}

bool reader::get_byte(std::uint8_t& b) {
  if (rest_.empty()) {
    return false;
  }
  b = static_cast<std::uint8_t>(rest_.front());
  rest_.remove_prefix(1);
  return true;
}

} // namespace wire

namespace {

constexpr std::uint8_t journal_entry_version = 1;
// 2 added oversold_by_channel at the end; version 1 records still decode (without it).
constexpr std::uint8_t state_version = 2;

void put_time(std::string& out, timestamp t) { wire::put_signed(out, t.time_since_epoch().count()); }

bool get_time(wire::reader& in, timestamp& t) {
  std::int64_t ms = 0;
  if (!in.get_signed(ms)) {
    return false;
  }
  t = timestamp{std::chrono::milliseconds{ms}};
  return true;
}

template <class Id>
bool get_id(wire::reader& in, Id& id) {
  std::string s;
  if (!in.get_string(s)) {
    return false;
  }
  id = Id{std::move(s)};
  return true;
}

// Reads a one-byte enum and refuses values the enum does not have.
template <class Enum>
bool get_enum(wire::reader& in, Enum& e, std::size_t count) {
  std::uint8_t b = 0;
  if (!in.get_byte(b) || b >= count) {
    return false;
  }
  e = static_cast<Enum>(b);
  return true;
}

bool get_flag(wire::reader& in, bool& flag) {
  std::uint8_t b = 0;
  if (!in.get_byte(b) || b > 1) {
    return false;
  }
  flag = b == 1;
  return true;
}

bool get_optional_time(wire::reader& in, std::optional<timestamp>& t) {
  bool present = false;
  if (!get_flag(in, present)) {
    return false;
  }
  if (!present) {
    t.reset();
    return true;
  }
  timestamp value{};
  if (!get_time(in, value)) {
    return false;
  }
  t = value;
  return true;
}

void put_optional_time(std::string& out, const std::optional<timestamp>& t) {
  out.push_back(t ? char{1} : char{0});
  if (t) {
    put_time(out, *t);
  }
}

void put_event(std::string& out, const event& ev) {
  wire::put_string(out, ev.source.str());
  wire::put_string(out, ev.id);
  out.push_back(static_cast<char>(ev.type));
  wire::put_string(out, ev.sku.str());
  wire::put_string(out, ev.location.str());
  wire::put_signed(out, ev.qty);
  wire::put_signed(out, ev.delta);
  wire::put_signed(out, ev.counted);
  put_time(out, ev.occurred_at);
  put_time(out, ev.as_of);
  put_optional_time(out, ev.expires_at);
  wire::put_string(out, ev.order_id);
  wire::put_string(out, ev.line_id);
  wire::put_string(out, ev.channel.str());
  out.push_back(static_cast<char>(ev.return_disposition));
  wire::put_string(out, ev.po_id);
  wire::put_string(out, ev.transfer_id);
  wire::put_string(out, ev.to_location.str());
  wire::put_string(out, ev.reason);
  wire::put_string(out, ev.reservation_id);
  out.push_back(static_cast<char>(ev.from));
  out.push_back(static_cast<char>(ev.to));
}

bool get_event(wire::reader& in, event& ev) {
  return get_id(in, ev.source) && in.get_string(ev.id) &&
         get_enum(in, ev.type, event_type_count) && get_id(in, ev.sku) &&
         get_id(in, ev.location) && in.get_signed(ev.qty) && in.get_signed(ev.delta) &&
         in.get_signed(ev.counted) && get_time(in, ev.occurred_at) && get_time(in, ev.as_of) &&
         get_optional_time(in, ev.expires_at) && in.get_string(ev.order_id) &&
         in.get_string(ev.line_id) && get_id(in, ev.channel) &&
         get_enum(in, ev.return_disposition, 3) && in.get_string(ev.po_id) &&
         in.get_string(ev.transfer_id) && get_id(in, ev.to_location) &&
         in.get_string(ev.reason) && in.get_string(ev.reservation_id) &&
         get_enum(in, ev.from, bucket_count) && get_enum(in, ev.to, bucket_count);
}

// A count read from the input is trusted only up to `max`: each element takes at least one
// byte, and the state limits bound the rest, so garbage cannot make us allocate gigabytes.
bool get_count(wire::reader& in, std::size_t max, std::size_t& count) {
  std::uint64_t v = 0;
  if (!in.get_varint(v) || v > max) {
    return false;
  }
  count = static_cast<std::size_t>(v);
  return true;
}

} // namespace

void encode(const journal_entry& entry, std::string& out) {
  out.push_back(static_cast<char>(journal_entry_version));
  wire::put_varint(out, entry.seq);
  put_time(out, entry.received_at);
  put_event(out, entry.ev);
}

std::optional<journal_entry> decode_journal_entry(std::string_view bytes) {
  wire::reader in(bytes);
  std::uint8_t version = 0;
  if (!in.get_byte(version) || version != journal_entry_version) {
    return std::nullopt;
  }
  journal_entry entry;
  if (!in.get_varint(entry.seq) || !get_time(in, entry.received_at) || !get_event(in, entry.ev) ||
      !in.at_end()) {
    return std::nullopt;
  }
  return entry;
}

void encode(const sku_location_state& state, std::string& out) {
  out.push_back(static_cast<char>(state_version));
  wire::put_string(out, state.key.sku.str());
  wire::put_string(out, state.key.location.str());
  for (std::size_t i = 0; i < bucket_count; ++i) {
    wire::put_signed(out, state.qty.at(static_cast<bucket>(i)));
  }
  wire::put_signed(out, state.oversold_units);
  wire::put_varint(out, state.last_seq);
  out.push_back(state.last_event ? char{1} : char{0});
  if (state.last_event) {
    wire::put_string(out, state.last_event->source.str());
    wire::put_string(out, state.last_event->id);
    put_time(out, state.last_event->occurred_at);
    wire::put_varint(out, state.last_event->seq);
  }
  wire::put_varint(out, state.open_lines.size());
  for (const auto& line : state.open_lines) {
    wire::put_string(out, line.order_id);
    wire::put_string(out, line.line_id);
    wire::put_signed(out, line.committed);
    wire::put_signed(out, line.fulfilled);
    wire::put_signed(out, line.cancelled);
    wire::put_signed(out, line.returned);
  }
  wire::put_varint(out, state.closed_lines.size());
  for (const auto& line : state.closed_lines) {
    wire::put_varint(out, line.line_hash);
    wire::put_signed(out, line.returnable);
  }
  wire::put_varint(out, state.reservations.size());
  for (const auto& r : state.reservations) {
    wire::put_string(out, r.id);
    wire::put_signed(out, r.qty);
    put_optional_time(out, r.expires_at);
  }
  wire::put_varint(out, state.parked.size());
  std::string nested;
  for (const auto& entry : state.parked) {
    nested.clear();
    encode(entry, nested);
    wire::put_string(out, nested);
  }
  put_optional_time(out, state.last_count_as_of);
  wire::put_varint(out, state.physical_history.size());
  for (const auto& change : state.physical_history) {
    put_time(out, change.occurred_at);
    wire::put_signed(out, change.on_hand_delta);
  }
  put_optional_time(out, state.history_floor);
  wire::put_varint(out, state.oversold_by_channel.size());
  for (const auto& entry : state.oversold_by_channel) {
    wire::put_string(out, entry.channel.str());
    wire::put_signed(out, entry.units);
    wire::put_signed(out, entry.cases);
  }
}

std::optional<sku_location_state> decode_state(std::string_view bytes) {
  wire::reader in(bytes);
  std::uint8_t version = 0;
  if (!in.get_byte(version) || version < 1 || version > state_version) {
    return std::nullopt;
  }
  sku_location_state state;
  if (!get_id(in, state.key.sku) || !get_id(in, state.key.location)) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < bucket_count; ++i) {
    if (!in.get_signed(state.qty.at(static_cast<bucket>(i)))) {
      return std::nullopt;
    }
  }
  bool has_last_event = false;
  if (!in.get_signed(state.oversold_units) || !in.get_varint(state.last_seq) ||
      !get_flag(in, has_last_event)) {
    return std::nullopt;
  }
  if (has_last_event) {
    last_event_info info;
    if (!get_id(in, info.source) || !in.get_string(info.id) || !get_time(in, info.occurred_at) ||
        !in.get_varint(info.seq)) {
      return std::nullopt;
    }
    state.last_event = std::move(info);
  }
  std::size_t count = 0;
  if (!get_count(in, state_limits::open_lines_max, count)) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < count; ++i) {
    order_line line;
    if (!in.get_string(line.order_id) || !in.get_string(line.line_id) ||
        !in.get_signed(line.committed) || !in.get_signed(line.fulfilled) ||
        !in.get_signed(line.cancelled) || !in.get_signed(line.returned)) {
      return std::nullopt;
    }
    state.open_lines.push_back(std::move(line));
  }
  if (!get_count(in, state_limits::closed_lines_max, count)) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < count; ++i) {
    closed_line line;
    if (!in.get_varint(line.line_hash) || !in.get_signed(line.returnable)) {
      return std::nullopt;
    }
    state.closed_lines.push_back(line);
  }
  if (!get_count(in, state_limits::reservations_max, count)) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < count; ++i) {
    reservation r;
    if (!in.get_string(r.id) || !in.get_signed(r.qty) || !get_optional_time(in, r.expires_at)) {
      return std::nullopt;
    }
    state.reservations.push_back(std::move(r));
  }
  if (!get_count(in, state_limits::parked_max, count)) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < count; ++i) {
    std::string nested;
    if (!in.get_string(nested)) {
      return std::nullopt;
    }
    auto entry = decode_journal_entry(nested);
    if (!entry) {
      return std::nullopt;
    }
    state.parked.push_back(std::move(*entry));
  }
  if (!get_optional_time(in, state.last_count_as_of) ||
      !get_count(in, state_limits::physical_history_max, count)) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < count; ++i) {
    physical_change change;
    if (!get_time(in, change.occurred_at) || !in.get_signed(change.on_hand_delta)) {
      return std::nullopt;
    }
    state.physical_history.push_back(change);
  }
  if (!get_optional_time(in, state.history_floor)) {
    return std::nullopt;
  }
  if (version >= 2) {
    if (!get_count(in, state_limits::oversold_channels_max + 1, count)) {
      return std::nullopt;
    }
    for (std::size_t i = 0; i < count; ++i) {
      channel_oversell entry;
      if (!get_id(in, entry.channel) || !in.get_signed(entry.units) ||
          !in.get_signed(entry.cases)) {
        return std::nullopt;
      }
      state.oversold_by_channel.push_back(std::move(entry));
    }
  }
  if (!in.at_end()) {
    return std::nullopt;
  }
  // A checkpoint that decodes but breaks the invariants would make apply() assert later; refuse
  // it here, where the caller can report a corrupt record instead of crashing.
  if (!check_invariants(state).empty()) {
    return std::nullopt;
  }
  return state;
}

} // namespace stockd::engine
