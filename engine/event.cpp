#include "engine/event.hpp"

#include <array>
#include <cstddef>

namespace stockd::engine {
namespace {

// The JSON names are exactly the enum names (DESIGN §2); the tables follow enum order.
constexpr std::array<std::string_view, event_type_count> event_type_names{
    "order_created",       "order_cancelled",      "payment_failed",
    "order_fulfilled",     "return_received",      "po_created",
    "po_cancelled",        "received",             "transfer_shipped",
    "transfer_received",   "adjusted",             "counted",
    "reservation_created", "reservation_released", "reservation_expired",
    "reservation_committed", "status_changed",
};

constexpr std::array<std::string_view, bucket_count> bucket_names{
    "available", "committed", "reserved", "safety_stock", "damaged", "quality_control", "incoming",
};

constexpr std::array<std::string_view, 3> disposition_names{"restock", "damaged",
                                                            "quality_control"};

template <class Enum, std::size_t N>
std::optional<Enum> find_name(const std::array<std::string_view, N>& names, std::string_view text) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == text) {
      return static_cast<Enum>(i);
    }
  }
  return std::nullopt;
}

template <std::size_t N>
std::string_view name_at(const std::array<std::string_view, N>& names, std::size_t i) {
  // An out-of-range enum value can only come from a cast bug; answer rather than read past.
  return i < N ? names[i] : std::string_view{"unknown"};
}

} // namespace

std::string_view to_string(event_type type) noexcept {
  return name_at(event_type_names, static_cast<std::size_t>(type));
}

std::optional<event_type> parse_event_type(std::string_view text) noexcept {
  return find_name<event_type>(event_type_names, text);
}

std::string_view to_string(bucket b) noexcept {
  return name_at(bucket_names, static_cast<std::size_t>(b));
}

std::optional<bucket> parse_bucket(std::string_view text) noexcept {
  return find_name<bucket>(bucket_names, text);
}

std::string_view to_string(disposition d) noexcept {
  return name_at(disposition_names, static_cast<std::size_t>(d));
}

std::optional<disposition> parse_disposition(std::string_view text) noexcept {
  return find_name<disposition>(disposition_names, text);
}

} // namespace stockd::engine
