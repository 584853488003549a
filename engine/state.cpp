#include "engine/state.hpp"

#include <cassert>

namespace stockd::engine {

std::int64_t& buckets::at(bucket b) noexcept {
  switch (b) {
  case bucket::available: return available;
  case bucket::committed: return committed;
  case bucket::reserved: return reserved;
  case bucket::safety_stock: return safety_stock;
  case bucket::damaged: return damaged;
  case bucket::quality_control: return quality_control;
  case bucket::incoming: return incoming;
  }
  assert(false && "bucket out of range");
  return available;
}

std::int64_t buckets::at(bucket b) const noexcept {
  return const_cast<buckets&>(*this).at(b);
}

std::uint64_t line_hash(std::string_view order_id, std::string_view line_id) noexcept {
  // FNV-1a over order_id, a separator that cannot be confused with text, then line_id.
  std::uint64_t h = 14695981039346656037ULL;
  const auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (const char c : order_id) {
    mix(static_cast<unsigned char>(c));
  }
  mix(0xff);
  mix(0x00);
  for (const char c : line_id) {
    mix(static_cast<unsigned char>(c));
  }
  return h;
}

} // namespace stockd::engine
