#include "reference_model.hpp"

#include <algorithm>
#include <sstream>

namespace stockd::engine::reference {
namespace {

constexpr int outside = -1;

struct leg {
  int from;  // a bucket index or `outside`
  int to;
  std::int64_t qty;
};

int b(bucket x) { return static_cast<int>(x); }
bool on_hand(int endpoint) { return endpoint >= 0 && endpoint != b(bucket::incoming); }
std::int64_t on_hand_of(const std::array<std::int64_t, bucket_count>& q) {
  std::int64_t sum = 0;
  for (int i = 0; i < static_cast<int>(bucket_count); ++i) {
    sum += on_hand(i) ? q[static_cast<std::size_t>(i)] : 0;
  }
  return sum;
}

bool physical(event_type t) {
  return t == event_type::order_fulfilled || t == event_type::return_received ||
         t == event_type::received || t == event_type::transfer_shipped ||
         t == event_type::transfer_received || t == event_type::adjusted;
}

// Tries the legs on a copy; commits only when every rule holds.
outcome_kind run(model& m, const event& ev, std::vector<leg> legs, bool may_oversell) {
  const bool inside = physical(ev.type) && m.last_count && ev.occurred_at <= *m.last_count;
  if (inside) {
    // Already in the count: what crosses the on_hand boundary crosses it through available.
    std::vector<leg> rewritten;
    for (const leg& l : legs) {
      if (!on_hand(l.from) && on_hand(l.to)) {
        rewritten.push_back({l.from, outside, l.qty});
        rewritten.push_back({b(bucket::available), l.to, l.qty});
      } else if (on_hand(l.from) && !on_hand(l.to)) {
        rewritten.push_back({l.from, b(bucket::available), l.qty});
        rewritten.push_back({outside, l.to, l.qty});
      } else {
        rewritten.push_back(l);
      }
    }
    legs = rewritten;
  }
  auto q = m.q;
  for (const leg& l : legs) {
    if (l.from >= 0) {
      q[static_cast<std::size_t>(l.from)] -= l.qty;
    }
    if (l.to >= 0) {
      q[static_cast<std::size_t>(l.to)] += l.qty;
    }
  }
  for (std::size_t i = 1; i < bucket_count; ++i) {
    if (q[i] < 0) {
      return outcome_kind::rejected;
    }
  }
  const std::int64_t before = m.q[0];
  const std::int64_t after = q[0];
  if (after < 0 && after < before) {
    if (!may_oversell) {
      return outcome_kind::rejected;
    }
    const std::int64_t units =
        std::max<std::int64_t>(0, -after) - std::max<std::int64_t>(0, -before);
    m.oversold += units;
    if (units > 0 && ev.type == event_type::order_created) {
      auto& figures = m.oversold_by_channel[ev.channel.str()];
      figures.first += units;
      figures.second += 1;
    }
  }
  const std::int64_t delta = on_hand_of(q) - on_hand_of(m.q);
  if (delta != 0 && ev.type != event_type::counted) {
    if (m.since_count.size() == state_limits::physical_history_max) {
      m.floor = std::max(m.floor.value_or(m.since_count.front().first), m.since_count.front().first);
      m.since_count.erase(m.since_count.begin());
    }
    m.since_count.emplace_back(ev.occurred_at, delta);
  }
  m.q = q;
  return outcome_kind::applied;
}

outcome_kind line_step(model& m, const journal_entry& entry) {
  const event& ev = entry.ev;
  const auto it = m.lines.find({ev.order_id, ev.line_id});
  if (it == m.lines.end()) {
    if (m.parked.size() >= state_limits::parked_max) {
      return outcome_kind::rejected;
    }
    m.parked.push_back(entry);
    return outcome_kind::parked;
  }
  line& l = it->second;
  const std::int64_t open = l.committed - l.fulfilled - l.cancelled;
  outcome_kind kind = outcome_kind::rejected;
  switch (ev.type) {
  case event_type::order_cancelled:
  case event_type::payment_failed:
    if (ev.qty <= open) {
      kind = run(m, ev, {{b(bucket::committed), b(bucket::available), ev.qty}}, false);
      l.cancelled += kind == outcome_kind::applied ? ev.qty : 0;
    }
    break;
  case event_type::order_fulfilled:
    if (ev.qty <= open) {
      kind = run(m, ev, {{b(bucket::committed), outside, ev.qty}}, false);
      l.fulfilled += kind == outcome_kind::applied ? ev.qty : 0;
    }
    break;
  case event_type::return_received: {
    const bucket to = ev.return_disposition == disposition::restock   ? bucket::available
                      : ev.return_disposition == disposition::damaged ? bucket::damaged
                                                                      : bucket::quality_control;
    if (ev.qty <= l.fulfilled - l.returned) {
      kind = run(m, ev, {{outside, b(to), ev.qty}}, false);
      l.returned += kind == outcome_kind::applied ? ev.qty : 0;
    }
    break;
  }
  default: break;
  }
  return kind;
}

outcome_kind new_line(model& m, const event& ev, const std::string& line_id, leg move,
                      bool may_oversell) {
  const std::pair<std::string, std::string> id{ev.order_id, line_id};
  if (m.lines.count(id) != 0) {
    return outcome_kind::rejected;
  }
  const outcome_kind kind = run(m, ev, {move}, may_oversell);
  if (kind != outcome_kind::applied) {
    return kind;
  }
  m.lines[id] = line{move.qty, 0, 0, 0};
  std::vector<journal_entry> waiting;
  std::vector<journal_entry> rest;
  for (auto& p : m.parked) {
    (p.ev.order_id == ev.order_id && p.ev.line_id == line_id ? waiting : rest).push_back(p);
  }
  m.parked = rest;
  for (const auto& p : waiting) {
    line_step(m, p);
  }
  return kind;
}

bool valid(const event& ev) {
  switch (ev.type) {
  case event_type::adjusted: return ev.delta != 0;
  case event_type::counted: return ev.counted >= 0;
  case event_type::reservation_released:
  case event_type::reservation_expired: return !ev.reservation_id.empty();
  case event_type::reservation_committed:
    return !ev.reservation_id.empty() && !ev.order_id.empty();
  case event_type::order_created:
  case event_type::order_cancelled:
  case event_type::payment_failed:
  case event_type::order_fulfilled:
  case event_type::return_received:
    return ev.qty > 0 && !ev.order_id.empty() && !ev.line_id.empty();
  case event_type::status_changed: {
    const auto held = [](bucket x) {
      return x == bucket::available || x == bucket::damaged || x == bucket::quality_control ||
             x == bucket::safety_stock;
    };
    return ev.qty > 0 && ev.from != ev.to && held(ev.from) && held(ev.to);
  }
  case event_type::transfer_shipped:
    return ev.qty > 0 && !ev.to_location.empty() && ev.to_location != ev.location;
  case event_type::reservation_created: return ev.qty > 0 && !ev.reservation_id.empty();
  default: return ev.qty > 0;
  }
}

outcome_kind origin_step(model& m, const journal_entry& entry) {
  const event& ev = entry.ev;
  const int avail = b(bucket::available);
  switch (ev.type) {
  case event_type::order_created:
    return new_line(m, ev, ev.line_id, {avail, b(bucket::committed), ev.qty}, true);
  case event_type::order_cancelled:
  case event_type::payment_failed:
  case event_type::order_fulfilled:
  case event_type::return_received: return line_step(m, entry);
  case event_type::po_created: return run(m, ev, {{outside, b(bucket::incoming), ev.qty}}, false);
  case event_type::po_cancelled: return run(m, ev, {{b(bucket::incoming), outside, ev.qty}}, false);
  case event_type::received:
  case event_type::transfer_received: {
    const bool expected = ev.type == event_type::transfer_received || !ev.po_id.empty();
    const std::int64_t from_incoming =
        expected ? std::min(ev.qty, m.q[static_cast<std::size_t>(b(bucket::incoming))]) : 0;
    return run(m, ev,
               {{b(bucket::incoming), avail, from_incoming},
                {outside, avail, ev.qty - from_incoming}},
               false);
  }
  case event_type::transfer_shipped: return run(m, ev, {{avail, outside, ev.qty}}, false);
  case event_type::adjusted:
    return ev.delta > 0 ? run(m, ev, {{outside, avail, ev.delta}}, false)
                        : run(m, ev, {{avail, outside, -ev.delta}}, false);
  case event_type::counted: {
    if (m.last_count && ev.as_of < *m.last_count) {
      return outcome_kind::stale;
    }
    if (m.floor && ev.as_of < *m.floor) {
      return outcome_kind::rejected;
    }
    std::int64_t target = ev.counted;
    for (const auto& [when, delta] : m.since_count) {
      target += when > ev.as_of ? delta : 0;
    }
    const std::int64_t diff = target - on_hand_of(m.q);
    const outcome_kind kind = diff >= 0 ? run(m, ev, {{outside, avail, diff}}, true)
                                        : run(m, ev, {{avail, outside, -diff}}, true);
    if (kind == outcome_kind::applied) {
      m.last_count = ev.as_of;
      std::erase_if(m.since_count, [&](const auto& c) { return c.first <= ev.as_of; });
      m.floor.reset();
    }
    return kind;
  }
  case event_type::reservation_created:
    if (m.holds.count(ev.reservation_id) != 0) {
      return outcome_kind::rejected;
    }
    if (run(m, ev, {{avail, b(bucket::reserved), ev.qty}}, false) != outcome_kind::applied) {
      return outcome_kind::rejected;
    }
    m.holds[ev.reservation_id] = ev.qty;
    return outcome_kind::applied;
  case event_type::reservation_released:
  case event_type::reservation_expired:
  case event_type::reservation_committed: {
    const auto it = m.holds.find(ev.reservation_id);
    if (it == m.holds.end()) {
      return outcome_kind::rejected;
    }
    const std::int64_t held = it->second;
    outcome_kind kind = outcome_kind::rejected;
    if (ev.type == event_type::reservation_committed) {
      kind = new_line(m, ev, ev.line_id.empty() ? ev.reservation_id : ev.line_id,
                      {b(bucket::reserved), b(bucket::committed), held}, false);
    } else {
      kind = run(m, ev, {{b(bucket::reserved), avail, held}}, false);
    }
    if (kind == outcome_kind::applied) {
      m.holds.erase(ev.reservation_id);
    }
    return kind;
  }
  case event_type::status_changed:
    return run(m, ev, {{b(ev.from), b(ev.to), ev.qty}}, false);
  }
  return outcome_kind::rejected;
}

} // namespace

outcome_kind step(model& m, const journal_entry& entry) {
  if (entry.seq <= m.last_seq) {
    return outcome_kind::skipped;
  }
  m.last_seq = entry.seq;
  const event& ev = entry.ev;
  if (!valid(ev)) {
    return outcome_kind::rejected;
  }
  if (ev.sku == m.key.sku && ev.location == m.key.location) {
    return origin_step(m, entry);
  }
  if (ev.type == event_type::transfer_shipped && ev.sku == m.key.sku &&
      ev.to_location == m.key.location) {
    return run(m, ev, {{outside, b(bucket::incoming), ev.qty}}, false);
  }
  return outcome_kind::rejected;
}

std::string compare(const sku_location_state& s, const model& m) {
  std::ostringstream out;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    const auto bk = static_cast<bucket>(i);
    if (s.qty.at(bk) != m.q[i]) {
      out << to_string(bk) << ": engine " << s.qty.at(bk) << ", model " << m.q[i];
      return out.str();
    }
  }
  if (s.oversold_units != m.oversold) {
    out << "oversold: engine " << s.oversold_units << ", model " << m.oversold;
    return out.str();
  }
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> engine_by_channel;
  for (const auto& entry : s.oversold_by_channel) {
    engine_by_channel[entry.channel.str()] = {entry.units, entry.cases};
  }
  if (engine_by_channel != m.oversold_by_channel) {
    return "oversold_by_channel differs";
  }
  if (s.last_seq != m.last_seq) {
    return "last_seq differs";
  }
  std::map<std::pair<std::string, std::string>, line> engine_open;
  for (const auto& l : s.open_lines) {
    engine_open[{l.order_id, l.line_id}] = line{l.committed, l.fulfilled, l.cancelled, l.returned};
  }
  std::size_t model_open = 0;
  for (const auto& [id, l] : m.lines) {
    if (l.committed - l.fulfilled - l.cancelled == 0) {
      continue;
    }
    ++model_open;
    const auto it = engine_open.find(id);
    if (it == engine_open.end() || it->second.fulfilled != l.fulfilled ||
        it->second.cancelled != l.cancelled || it->second.returned != l.returned ||
        it->second.committed != l.committed) {
      return "open line " + id.first + "/" + id.second + " differs";
    }
  }
  if (model_open != engine_open.size()) {
    return "number of open lines differs";
  }
  std::map<std::string, std::int64_t> engine_holds;
  for (const auto& r : s.reservations) {
    engine_holds[r.id] = r.qty;
  }
  if (engine_holds != m.holds) {
    return "reservations differ";
  }
  if (s.parked.size() != m.parked.size()) {
    return "parked counts differ: engine " + std::to_string(s.parked.size()) + ", model " + std::to_string(m.parked.size());
  }
  for (std::size_t i = 0; i < s.parked.size(); ++i) {
    if (!(s.parked[i] == m.parked[i])) {
      return "parked entry " + std::to_string(i) + " differs";
    }
  }
  if (s.last_count_as_of != m.last_count) {
    return "last count differs";
  }
  return {};
}

} // namespace stockd::engine::reference
