#pragma once
// Strong identifier types: a location can never be passed where a SKU is expected.
#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace stockd::engine {

template <class Tag>
class strong_id {
public:
  strong_id() = default;
  explicit strong_id(std::string value) : value_(std::move(value)) {}
  explicit strong_id(std::string_view value) : value_(value) {}
  explicit strong_id(const char* value) : value_(value) {}

  const std::string& str() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }

  friend auto operator<=>(const strong_id&, const strong_id&) = default;
  friend bool operator==(const strong_id&, const strong_id&) = default;

private:
  std::string value_;
};

struct sku_tag {};
struct location_tag {};
struct channel_tag {};
struct source_tag {};

using sku_id = strong_id<sku_tag>;
using location_id = strong_id<location_tag>;
using channel_id = strong_id<channel_tag>;
using source_id = strong_id<source_tag>;

/// The unit of serialization in the engine: one SKU at one location.
struct sku_location_key {
  sku_id sku;
  location_id location;
  friend auto operator<=>(const sku_location_key&, const sku_location_key&) = default;
  friend bool operator==(const sku_location_key&, const sku_location_key&) = default;
};

} // namespace stockd::engine

template <class Tag>
struct std::hash<stockd::engine::strong_id<Tag>> {
  std::size_t operator()(const stockd::engine::strong_id<Tag>& id) const noexcept {
    return std::hash<std::string>{}(id.str());
  }
};

template <>
struct std::hash<stockd::engine::sku_location_key> {
  std::size_t operator()(const stockd::engine::sku_location_key& key) const noexcept {
    std::size_t h = std::hash<std::string>{}(key.sku.str());
    return h ^ (std::hash<std::string>{}(key.location.str()) + 0x9e3779b97f4a7c15ULL + (h << 6) +
                (h >> 2));
  }
};
