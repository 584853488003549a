#include "connectors/shadow_report.hpp"

#include <algorithm>

namespace stockd::connectors {
namespace {

std::int64_t ms_between(sync_time from, sync_time to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

std::int64_t gap(std::int64_t a, std::int64_t b) {
  return a > b ? a - b : b - a;
}

} // namespace

void shadow_report::close(record& r, sync_time now) {
  if (!r.differs_since) {
    return;
  }
  const std::int64_t lasted = ms_between(*r.differs_since, now);
  ++episodes_closed_;
  longest_closed_ms_ = std::max(longest_closed_ms_, lasted);
  total_closed_ms_ += lasted;
  r.differs_since.reset();
}

void shadow_report::compared(const engine::sku_id& sku, std::int64_t expected, std::int64_t shows,
                             sync_time now) {
  ++comparisons_;
  record& r = records_[sku];
  r.expected = expected;
  r.channel = shows;
  if (expected == shows) {
    close(r, now);
  } else if (!r.differs_since) {
    r.differs_since = now;
  }
}

void shadow_report::round_done(sync_time now) {
  ++rounds_;
  last_round_ = now;
}

void shadow_report::forget(const engine::sku_id& sku, sync_time now) {
  auto it = records_.find(sku);
  if (it == records_.end()) {
    return;
  }
  close(it->second, now);
  records_.erase(it);
}

shadow_report::summary shadow_report::report(sync_time now) const {
  summary s;
  s.compared = records_.size();
  s.comparisons = comparisons_;
  s.rounds = rounds_;
  if (last_round_) {
    s.last_round_age_ms = ms_between(*last_round_, now);
  }
  s.episodes_closed = episodes_closed_;
  s.longest_closed_ms = longest_closed_ms_;
  s.mean_closed_ms =
      episodes_closed_ == 0 ? 0 : total_closed_ms_ / static_cast<std::int64_t>(episodes_closed_);
  std::vector<difference> open;
  for (const auto& [sku, r] : records_) {
    if (!r.differs_since) {
      ++s.equal;
      continue;
    }
    const std::int64_t age = ms_between(*r.differs_since, now);
    s.oldest_open_ms = std::max(s.oldest_open_ms, age);
    open.push_back({sku, r.expected, r.channel, age});
  }
  s.open = open.size();
  s.share_equal =
      s.compared == 0 ? 1.0 : static_cast<double>(s.equal) / static_cast<double>(s.compared);
  // The largest first; ties by SKU so the list is stable from one report to the next.
  auto larger = [](const difference& a, const difference& b) {
    const auto ga = gap(a.expected, a.channel);
    const auto gb = gap(b.expected, b.channel);
    return ga != gb ? ga > gb : a.sku.str() < b.sku.str();
  };
  const std::size_t keep = std::min(open.size(), largest_max);
  std::partial_sort(open.begin(), open.begin() + static_cast<std::ptrdiff_t>(keep), open.end(),
                    larger);
  open.resize(keep);
  s.largest = std::move(open);
  return s;
}

} // namespace stockd::connectors
