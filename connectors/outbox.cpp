#include "connectors/outbox.hpp"

#include "engine/codec.hpp"

namespace stockd::connectors {
namespace {

constexpr std::uint8_t version = 1;

// Presence bits of the optional fields, then `parked`.
constexpr unsigned has_last_pushed = 1;
constexpr unsigned has_shadow = 2;
constexpr unsigned has_maybe_applied = 4;
constexpr unsigned has_intent = 8;
constexpr unsigned is_parked = 16;
constexpr unsigned has_unseen = 32;  // added later: entries written before it decode as 0
constexpr unsigned has_order_seqs = 64;  // likewise: decode as none
constexpr unsigned is_read_due = 128;    // likewise: decode as false (the flags byte is full)
constexpr unsigned known_bits = 255;
/// Locations a channel sells from are few; more in one entry is damage.
constexpr std::uint64_t order_seqs_max = 4096;

void put_optional(std::string& out, const std::optional<std::int64_t>& v) {
  if (v) {
    engine::wire::put_signed(out, *v);
  }
}

bool get_optional(engine::wire::reader& in, bool present, std::optional<std::int64_t>& v) {
  if (!present) {
    return true;
  }
  std::int64_t value = 0;
  if (!in.get_signed(value)) {
    return false;
  }
  v = value;
  return true;
}

} // namespace

std::string encode(const outbox_entry& entry) {
  std::string out;
  out.push_back(static_cast<char>(version));
  const unsigned flags = (entry.last_pushed ? has_last_pushed : 0u) |
                        (entry.shadow ? has_shadow : 0u) |
                        (entry.maybe_applied ? has_maybe_applied : 0u) |
                        (entry.intent ? has_intent : 0u) | (entry.parked ? is_parked : 0u) |
                        (entry.unseen != 0 ? has_unseen : 0u) |
                        (entry.order_seqs.empty() ? 0u : has_order_seqs) |
                        (entry.needs_read ? is_read_due : 0u);
  out.push_back(static_cast<char>(flags));
  engine::wire::put_signed(out, entry.expected);
  put_optional(out, entry.last_pushed);
  put_optional(out, entry.shadow);
  put_optional(out, entry.maybe_applied);
  put_optional(out, entry.intent);
  if (entry.unseen != 0) {
    engine::wire::put_signed(out, entry.unseen);
  }
  engine::wire::put_string(out, entry.key);
  engine::wire::put_string(out, entry.reason);
  if (!entry.order_seqs.empty()) {
    engine::wire::put_varint(out, entry.order_seqs.size());
    for (const auto& [location, seq] : entry.order_seqs) {
      engine::wire::put_string(out, location);
      engine::wire::put_varint(out, seq);
    }
  }
  return out;
}

std::optional<outbox_entry> decode_outbox_entry(std::string_view bytes) {
  engine::wire::reader in(bytes);
  std::uint8_t v = 0;
  std::uint8_t flags = 0;
  if (!in.get_byte(v) || v != version || !in.get_byte(flags) || (flags & ~known_bits) != 0) {
    return std::nullopt;
  }
  outbox_entry e;
  e.parked = (flags & is_parked) != 0;
  e.needs_read = (flags & is_read_due) != 0;
  if (!in.get_signed(e.expected) ||
      !get_optional(in, (flags & has_last_pushed) != 0, e.last_pushed) ||
      !get_optional(in, (flags & has_shadow) != 0, e.shadow) ||
      !get_optional(in, (flags & has_maybe_applied) != 0, e.maybe_applied) ||
      !get_optional(in, (flags & has_intent) != 0, e.intent) ||
      ((flags & has_unseen) != 0 && (!in.get_signed(e.unseen) || e.unseen <= 0)) ||
      !in.get_string(e.key) ||
      !in.get_string(e.reason)) {
    return std::nullopt;
  }
  if ((flags & has_order_seqs) != 0) {
    std::uint64_t n = 0;
    if (!in.get_varint(n) || n == 0 || n > order_seqs_max) {
      return std::nullopt;
    }
    for (std::uint64_t i = 0; i < n; ++i) {
      std::string location;
      std::uint64_t seq = 0;
      if (!in.get_string(location) || !in.get_varint(seq)) {
        return std::nullopt;
      }
      e.order_seqs.emplace_back(std::move(location), seq);
    }
  }
  if (!in.at_end()) {
    return std::nullopt;
  }
  return e;
}

} // namespace stockd::connectors
