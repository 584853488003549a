#pragma once
// Random event streams for one SKU x location (tests/engine/event_builders.hpp's test_key), shared
// by the engine property test and the actor engine's randomized test: both hold their results
// against the reference model (reference_model.hpp).
#include <random>
#include <string>
#include <vector>

#include "event_builders.hpp"

namespace stockd::engine::testing {

class stream_generator {
public:
  explicit stream_generator(std::uint32_t seed) : rng_(seed) {}
  /// `orders` order ids instead of six, and line events of one unit, so that lines close often
  /// and a state pushes closed lines out (more than closed_lines_max of them): the late events
  /// of those lines test the caller's index of forgotten lines (engine::recall_closed_line).
  stream_generator(std::uint32_t seed, int orders) : rng_(seed), orders_(orders) {}

  std::vector<journal_entry> make(std::size_t length) {
    std::vector<journal_entry> entries;
    for (std::size_t i = 0; i < length; ++i) {
      entries.push_back({i + 1, at("2026-11-27T12:00:00Z"), next_event()});
    }
    return entries;
  }

private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint32_t>(n)); }
  std::int64_t small() { return 1 + pick(6); }
  timestamp when() { return base_ + std::chrono::minutes{pick(120)}; }
  // By default six orders with two lines each and a few reservations: collisions (parking,
  // duplicate lines, over-cancels) happen often, and the closed-line memory is never exceeded.
  std::string order_id() { return "O" + std::to_string(pick(orders_)); }
  std::int64_t line_qty() { return orders_ > 6 ? 1 : small(); }
  std::string line_id() { return std::to_string(1 + pick(2)); }
  std::string reservation_id() { return "R" + std::to_string(pick(4)); }
  bucket held_bucket() {
    static constexpr bucket all[] = {bucket::available, bucket::damaged, bucket::quality_control,
                                     bucket::safety_stock};
    return all[pick(4)];
  }

  event next_event() {
    event ev;
    switch (pick(22)) {
    case 0: case 1: case 2: {
      static constexpr const char* channels[] = {"web", "amazon", "pos"};
      ev = order(order_id(), line_id(), line_qty(), channels[pick(3)]);
      break;
    }
    case 3: ev = cancel(order_id(), line_id(), line_qty()); break;
    case 4: ev = payment_failed(order_id(), line_id(), line_qty()); break;
    case 5: case 6: ev = fulfil(order_id(), line_id(), line_qty()); break;
    case 7:
      ev = return_of(order_id(), line_id(), line_qty(), static_cast<disposition>(pick(3)));
      break;
    case 8: ev = po(small() * 3); break;
    case 9: ev = po_cancel(small()); break;
    case 10: case 11: ev = receive(small() * 2, pick(2) == 0 ? "" : "PO-1"); break;
    case 12: ev = ship(small()); break;
    case 13: {
      // A transfer from elsewhere into this location: seen from the destination side.
      ev = ship(small(), test_key().location.str());
      ev.location = location_id{"DC-WEST"};
      break;
    }
    case 14: ev = transfer_in(small()); break;
    case 15: ev = adjust(pick(2) == 0 ? small() : -small()); break;
    case 16: ev = count(pick(25), when()); break;
    case 17: ev = reserve(reservation_id(), small()); break;
    case 18: ev = pick(2) == 0 ? release(reservation_id()) : expire(reservation_id()); break;
    case 19:
      ev = commit_reservation(reservation_id(), order_id(), pick(2) == 0 ? "" : line_id());
      break;
    case 20: ev = status(held_bucket(), held_bucket(), small()); break;
    default: ev = receive(pick(3));  // sometimes qty 0: invalid
    }
    if (ev.type != event_type::counted) {
      ev.occurred_at = when();
    }
    return ev;
  }

  std::mt19937 rng_;
  int orders_ = 6;
  timestamp base_ = at("2026-11-27T10:00:00Z");
};

} // namespace stockd::engine::testing
