#include "actors/push_trace.hpp"

namespace stockd::actors {

void push_trace_ring::add(push_trace call) {
  items_ += call.items.size();
  calls_.push_back(std::move(call));
  // Never drop the call just added: a call larger than the whole ring stays alone.
  while (items_ > items_max_ && calls_.size() > 1) {
    items_ -= calls_.front().items.size();
    calls_.pop_front();
    ++dropped_calls_;
  }
}

std::vector<trace_hop> push_trace_ring::find(const engine::sku_id& sku, std::size_t location,
                                             std::uint64_t seq,
                                             const std::vector<const push_trace*>& in_flight) const {
  std::vector<trace_hop> hops;
  auto visit = [&](const push_trace& call) {
    for (const auto& item : call.items) {
      if (item.sku != sku || location >= item.seqs.size() || item.seqs[location] < seq) {
        continue;
      }
      trace_hop h;
      h.push_id = call.push_id;
      h.bulk = call.bulk;
      h.sent_at_ms = call.sent_at_ms;
      h.answered_at_ms = call.answered_at_ms;
      h.call_outcome = call.outcome;
      h.call_code = call.code;
      h.request_id = call.request_id;
      h.quantity = item.quantity;
      h.idempotency_key = item.idempotency_key;
      h.reflected_seq = item.seqs[location];
      h.item_outcome = item.outcome;
      h.item_code = item.code;
      hops.push_back(std::move(h));
      return hops.back().item_outcome == "applied" || hops.size() >= hops_max;
    }
    return false;
  };
  for (const auto& call : calls_) {
    if (visit(call)) {
      return hops;
    }
  }
  for (const auto* call : in_flight) {
    if (visit(*call)) {
      return hops;
    }
  }
  return hops;
}

} // namespace stockd::actors
