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
  seen(sku, expected, shows, now);
}

void shadow_report::missing(const engine::sku_id& sku, std::int64_t expected, sync_time now) {
  seen(sku, expected, std::nullopt, now);
}

void shadow_report::seen(const engine::sku_id& sku, std::int64_t expected,
                         std::optional<std::int64_t> shows, sync_time now) {
  ++comparisons_;
  record& r = records_[sku];
  r.expected = expected;
  r.channel = shows;
  if (shows == expected) {
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
    s.missing += r.channel ? 0 : 1;
    const std::int64_t age = ms_between(*r.differs_since, now);
    s.oldest_open_ms = std::max(s.oldest_open_ms, age);
    open.push_back({sku, r.expected, r.channel, age});
  }
  s.open = open.size();
  if (s.compared > 0) {
    s.share_equal = static_cast<double>(s.equal) / static_cast<double>(s.compared);
  }
  // The largest first (a SKU not listed as if it showed 0); ties by SKU so the list is stable
  // from one report to the next.
  auto larger = [](const difference& a, const difference& b) {
    const auto ga = gap(a.expected, a.channel.value_or(0));
    const auto gb = gap(b.expected, b.channel.value_or(0));
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
