#pragma once
// What a channel actor remembers of its recent pushes, for GET /v1/trace (issue 7): per call,
// its id, when it went and came back, what the channel answered (with the channel's request id),
// and per item the SKU, the quantity, the idempotency key and the journal seq the pushed value
// reflected at each location the channel sells from (the SKU's last applied seq there when the
// batch was taken). An event of seq S at location L is carried by the first push of its SKU
// whose reflected seq at L is >= S.
//
// Bounded: the ring keeps at most `items_max` items over all its calls and drops the oldest
// calls first; a trace that reaches past the oldest kept call says so (`truncated`). A plain
// class: the channel actor owns one, the tests call it directly.
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "engine/ids.hpp"

namespace stockd::actors {

struct push_trace_item {
  engine::sku_id sku;
  std::int64_t quantity = 0;
  std::string idempotency_key;
  std::vector<std::uint64_t> seqs;  // per location of the channel, in its location order
  std::string outcome;              // applied, stale, rejected, retry; "" while in flight
  std::string code;                 // the channel's code for the item, when it gave one
};

struct push_trace {
  std::uint64_t push_id = 0;
  bool bulk = false;
  std::int64_t sent_at_ms = 0;      // Unix milliseconds
  std::int64_t answered_at_ms = 0;  // 0 while in flight
  std::string outcome;              // the call's: ok, throttled, server_error, ... "in_flight"
  std::string code;
  std::string request_id;           // the channel's request id, when it sent one
  std::vector<push_trace_item> items;
};

/// One push that carried (or tried to carry) an event's effect, as GET /v1/trace shows it.
struct trace_hop {
  std::uint64_t push_id = 0;
  bool bulk = false;
  std::int64_t sent_at_ms = 0;
  std::int64_t answered_at_ms = 0;
  std::string call_outcome;
  std::string call_code;
  std::string request_id;
  std::int64_t quantity = 0;
  std::string idempotency_key;
  std::uint64_t reflected_seq = 0;
  std::string item_outcome;
  std::string item_code;
};

class push_trace_ring {
public:
  /// Hops returned per trace at most: the retries of one change, then the push that applied.
  static constexpr std::size_t hops_max = 16;

  explicit push_trace_ring(std::size_t items_max) : items_max_(items_max) {}

  /// Records an answered call (in-flight calls are the actor's; see find()).
  void add(push_trace call);
  /// The pushes of `sku` whose reflected seq at location index `location` is >= `seq`, oldest
  /// first, up to and including the first the channel applied (at most hops_max), from the kept
  /// calls and then from `in_flight` (calls not answered yet).
  std::vector<trace_hop> find(const engine::sku_id& sku, std::size_t location, std::uint64_t seq,
                              const std::vector<const push_trace*>& in_flight = {}) const;
  /// Whether calls were dropped whose items could have carried seq `seq`: the oldest kept call
  /// reflected a seq above it at that location for that SKU, or nothing of the SKU is kept while
  /// calls were dropped.
  bool truncated() const noexcept { return dropped_calls_ > 0; }
  std::size_t calls() const noexcept { return calls_.size(); }
  std::size_t items() const noexcept { return items_; }
  std::uint64_t dropped_calls() const noexcept { return dropped_calls_; }

private:
  std::size_t items_max_;
  std::deque<push_trace> calls_;
  std::size_t items_ = 0;
  std::uint64_t dropped_calls_ = 0;
};

} // namespace stockd::actors
