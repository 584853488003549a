#include "connectors/snapshot_variance.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

#include "connectors/json_writer.hpp"
#include "connectors/reconcile.hpp"
#include "engine/count_preview.hpp"

namespace stockd::connectors {
namespace {

constexpr std::string_view owner_prefix = "snapshot:";

std::uint64_t magnitude(std::int64_t delta) noexcept {
  // |INT64_MIN| does not fit an int64; a delta is within ±2·10^15 anyway (state_limits).
  return delta < 0 ? static_cast<std::uint64_t>(-(delta + 1)) + 1
                   : static_cast<std::uint64_t>(delta);
}

void add_saturating(std::uint64_t& total, std::uint64_t units) noexcept {
  if (__builtin_add_overflow(total, units, &total)) {
    total = std::numeric_limits<std::uint64_t>::max();
  }
}

/// Heap order: the smallest |delta| on top, so the one to drop is at hand.
bool listed_before(const count_variance& a, const count_variance& b) noexcept {
  return magnitude(a.delta()) > magnitude(b.delta());
}

} // namespace

std::string_view to_string(count_variance_class c) noexcept {
  return c == count_variance_class::shrinkage ? "shrinkage" : "missed_receipt";
}

line_comparison compare_line(std::optional<engine::sku_location_state> state,
                             const engine::event& counted) {
  line_comparison c;
  if (!state) {
    return c;  // not_compared
  }
  const engine::count_preview p = engine::preview_count(std::move(*state), counted);
  c.on_hand_before = p.on_hand_before;
  c.on_hand_after = p.on_hand_after;
  switch (p.kind) {
  case engine::outcome_kind::applied:
    c.kind = p.delta() == 0 ? line_comparison::result::unchanged
                            : line_comparison::result::variance;
    break;
  case engine::outcome_kind::stale:
    c.kind = line_comparison::result::stale;
    break;
  default:
    c.kind = line_comparison::result::refused;
    break;
  }
  return c;
}

std::string snapshot_run::id() const {
  return std::string(owner_prefix) + location.str() + "." + std::to_string(seq);
}

void snapshot_report::add(const engine::sku_id& sku, std::int64_t counted,
                          const line_comparison& c, bool duplicate, bool applied) {
  if (duplicate) {
    ++run_.duplicate;
    return;
  }
  using result = line_comparison::result;
  switch (c.kind) {
  case result::not_compared:
  case result::journaled:
    ++run_.not_compared;
    return;
  case result::unchanged:
    ++run_.unchanged;
    break;
  case result::stale:
    ++run_.stale;
    break;
  case result::refused:
    ++run_.refused;
    break;
  case result::variance:
    ++run_.variances;
    break;
  }
  ++run_.compared;
  if (c.kind != result::variance) {
    return;
  }
  count_variance v{sku, c.on_hand_before, counted, c.on_hand_after, applied};
  if (v.kind() == count_variance_class::shrinkage) {
    ++run_.shrinkage;
    add_saturating(run_.shrinkage_units, magnitude(v.delta()));
  } else {
    ++run_.missed_receipt;
    add_saturating(run_.missed_receipt_units, magnitude(v.delta()));
  }
  auto& heap = run_.listed;
  if (listed_max_ == 0) {
    return;
  }
  if (heap.size() < listed_max_) {
    heap.push_back(std::move(v));
    std::push_heap(heap.begin(), heap.end(), listed_before);
    return;
  }
  if (magnitude(v.delta()) <= magnitude(heap.front().delta())) {
    return;  // no larger than the smallest listed: the first ones seen stay
  }
  std::pop_heap(heap.begin(), heap.end(), listed_before);
  heap.back() = std::move(v);
  std::push_heap(heap.begin(), heap.end(), listed_before);
}

snapshot_run snapshot_report::take() {
  snapshot_run out = std::move(run_);
  run_ = snapshot_run{};
  std::sort(out.listed.begin(), out.listed.end(),
            [](const count_variance& a, const count_variance& b) {
              const auto ma = magnitude(a.delta());
              const auto mb = magnitude(b.delta());
              return ma != mb ? ma > mb : a.sku < b.sku;
            });
  return out;
}

engine::channel_id snapshot_runs_owner(const engine::location_id& location) {
  return engine::channel_id(std::string(owner_prefix) + location.str());
}

std::optional<engine::location_id> snapshot_location_of(std::string_view owner) {
  if (!owner.starts_with(owner_prefix) || owner.size() == owner_prefix.size()) {
    return std::nullopt;
  }
  return engine::location_id(std::string(owner.substr(owner_prefix.size())));
}

std::string snapshot_run_summary_json(const snapshot_run& run) {
  json_writer w;
  w.begin_object();
  w.field("id", run.id());
  w.field("kind", "snapshot");
  w.field("location", run.location.str());
  w.field("seq", run.seq);
  w.field("source", run.source);
  w.field("snapshot", run.snapshot);
  w.key("as_of");
  if (run.as_of.empty()) {
    w.null();
  } else {
    w.value(run.as_of);
  }
  w.field("dry_run", run.dry_run);
  w.field("status", run.status);
  if (!run.error.empty()) {
    w.field("error", run.error);
  }
  w.field("started_at_ms", run.started_at_ms);
  w.field("finished_at_ms", run.finished_at_ms);
  w.field("duration_ms", run.finished_at_ms - run.started_at_ms);
  w.field("lines", run.lines);
  w.field("rejected", run.rejected);
  w.field("compared", run.compared);
  w.field("unchanged", run.unchanged);
  w.field("variances", run.variances);
  w.key("by_class").begin_object();
  w.field("shrinkage", run.shrinkage);
  w.field("missed_receipt", run.missed_receipt);
  w.end_object();
  w.field("shrinkage_units", run.shrinkage_units);
  w.field("missed_receipt_units", run.missed_receipt_units);
  w.field("stale", run.stale);
  w.field("refused", run.refused);
  w.field("duplicate", run.duplicate);
  w.field("not_compared", run.not_compared);
  w.field("variances_listed", static_cast<std::uint64_t>(run.listed.size()));
  w.end_object();
  return w.take();
}

std::string encode_snapshot_run(const snapshot_run& run) {
  return encode_stored_run(snapshot_run_summary_json(run), run.listed,
                           [](json_writer& w, const count_variance& v) {
                             w.field("sku", v.sku.str());
                             w.field("class", to_string(v.kind()));
                             w.field("action", v.applied ? "applied" : "none");
                             w.field("on_hand_before", v.on_hand_before);
                             w.field("counted", v.counted);
                             w.field("on_hand_after", v.on_hand_after);
                             w.field("delta", v.delta());
                           });
}

} // namespace stockd::connectors
