#include "connectors/reconcile.hpp"

#include <algorithm>
#include <cassert>

#include "connectors/json_writer.hpp"

namespace stockd::connectors {

std::string_view to_string(reconcile_policy p) noexcept {
  switch (p) {
  case reconcile_policy::report:
    return "report";
  case reconcile_policy::correct:
    return "correct";
  case reconcile_policy::alert:
    return "alert";
  }
  return "report";
}

std::string_view to_string(variance_class c) noexcept {
  switch (c) {
  case variance_class::hand_edit:
    return "hand_edit";
  case variance_class::order_not_seen:
    return "order_not_seen";
  case variance_class::push_lost:
    return "push_lost";
  case variance_class::unknown:
    return "unknown";
  }
  return "unknown";
}

std::string_view to_string(variance_action a) noexcept {
  switch (a) {
  case variance_action::reported:
    return "reported";
  case variance_action::corrected:
    return "corrected";
  case variance_action::held:
    return "held";
  case variance_action::alerted:
    return "alerted";
  }
  return "reported";
}

bool busy(const sku_sync& r) noexcept {
  return r.in_flight || r.pinned || r.in_bulk || r.maybe_applied || r.needs_read ||
         r.bulk_landed;
}

std::optional<variance_class> classify(const sku_sync& r, std::optional<std::int64_t> shows) {
  if (!shows || *shows < 0 || !r.shadow) {
    // Not on the channel, a value no channel sells from, or nothing confirmed to compare with.
    // A SKU never confirmed and missing from the channel is no variance: it was never there.
    if (!shows && !r.shadow && !r.last_pushed) {
      return std::nullopt;
    }
    return variance_class::unknown;
  }
  if (*shows == *r.shadow) {
    return std::nullopt;
  }
  if (r.replaced && *shows == *r.replaced && r.last_pushed && *r.last_pushed != *r.replaced) {
    return variance_class::push_lost;
  }
  return *shows < *r.shadow ? variance_class::order_not_seen : variance_class::hand_edit;
}

variance_action action_for(reconcile_policy policy, variance_class c) noexcept {
  switch (policy) {
  case reconcile_policy::report:
    return variance_action::reported;
  case reconcile_policy::alert:
    return variance_action::alerted;
  case reconcile_policy::correct:
    return c == variance_class::order_not_seen ? variance_action::held
                                               : variance_action::corrected;
  }
  return variance_action::reported;
}

bool sweep_may_read(const sweep_gate& g) noexcept {
  return !g.read_in_flight && g.repair_reads_pending == 0 && g.urgent_queued == 0 &&
         g.normal_queued == 0 && g.limiter_ready && g.page_due;
}

std::chrono::milliseconds sweep_spacing(std::chrono::milliseconds cycle, std::size_t skus,
                                        std::size_t per_read) noexcept {
  if (cycle.count() <= 0 || skus == 0) {
    return std::chrono::milliseconds(0);
  }
  const std::size_t per = std::max<std::size_t>(1, per_read);
  const auto calls = static_cast<std::int64_t>((skus + per - 1) / per);
  return std::chrono::milliseconds(cycle.count() / calls);
}

namespace {

void write_optional(json_writer& w, std::string_view key, std::optional<std::int64_t> v) {
  w.key(key);
  if (v) {
    w.value(*v);
  } else {
    w.null();
  }
}

} // namespace

std::string run_summary_json(const reconcile_run& run) {
  json_writer w;
  w.begin_object();
  w.field("id", run.id());
  w.field("kind", "channel");
  w.field("channel", run.channel.str());
  w.field("seq", run.seq);
  w.field("trigger", run.trigger);
  w.field("policy", to_string(run.policy));
  w.field("status", run.status);
  w.field("started_at_ms", run.started_at_ms);
  w.field("finished_at_ms", run.finished_at_ms);
  w.field("duration_ms", run.duration_ms);
  w.field("cycle_ms", run.cycle_ms);
  w.field("skus_planned", run.skus_planned);
  w.field("skus_read", run.skus_read);
  w.field("skus_skipped", run.skus_skipped);
  w.field("read_calls", run.read_calls);
  w.field("read_failures", run.read_failures);
  w.field("variances", run.variances);
  w.key("by_class").begin_object();
  for (std::size_t i = 0; i < variance_classes; ++i) {
    w.field(to_string(static_cast<variance_class>(i)), run.by_class[i]);
  }
  w.end_object();
  w.field("corrected", run.corrected);
  w.field("held", run.held);
  w.field("alerts", run.alerts);
  w.field("variances_listed", static_cast<std::uint64_t>(run.found.size()));
  w.end_object();
  return w.take();
}

std::string encode_run(const reconcile_run& run) {
  return encode_stored_run(run_summary_json(run), run.found, [](json_writer& w, const variance& v) {
    w.field("sku", v.sku.str());
    w.field("class", to_string(v.kind));
    w.field("action", to_string(v.action));
    w.field("expected", v.expected);
    write_optional(w, "last_pushed", v.last_pushed);
    write_optional(w, "believed", v.believed);
    write_optional(w, "channel_shows", v.shows);
  });
}

std::optional<std::string_view> stored_summary(std::string_view stored) {
  const auto nl = stored.find('\n');
  if (nl == std::string_view::npos || nl < 2 || stored.front() != '{' ||
      stored[nl - 1] != '}') {
    return std::nullopt;
  }
  return stored.substr(0, nl);
}

std::string served_summary(std::string_view summary) {
  assert(summary.size() >= 2 && summary.front() == '{' && summary.back() == '}');
  // Only the summary's own keys can match: channel ids and the values stockd writes hold no
  // quote, and a snapshot run always has its kind.
  if (summary.find("\"kind\":") != std::string_view::npos) {
    return std::string(summary);
  }
  std::string out = "{\"kind\":\"channel\"";
  if (summary.size() > 2) {
    out += ',';
  }
  out += summary.substr(1);
  return out;
}

std::optional<std::string> run_json(std::string_view stored) {
  auto summary = stored_summary(stored);
  if (!summary) {
    return std::nullopt;
  }
  const std::string_view variances = stored.substr(summary->size() + 1);
  if (variances.empty() || variances.front() != '[' || variances.back() != ']') {
    return std::nullopt;
  }
  std::string out = served_summary(*summary);
  out.pop_back();  // the summary's '}': the variances go in
  out += ",\"variance_list\":";
  out += variances;
  out += '}';
  return out;
}

std::optional<sync_time> reconcile_sweep::next_start() const {
  if (run_ || opts_.cycle.count() <= 0) {
    return std::nullopt;
  }
  if (!last_start_) {
    return sync_time{};  // never ran: due now
  }
  return *last_start_ + opts_.cycle;
}

bool reconcile_sweep::start(const channel_sync& sync, std::uint64_t seq, std::string trigger,
                            sync_time now, std::int64_t wall_ms) {
  if (run_) {
    return false;
  }
  plan_ = sync.sku_list();
  if (plan_.size() > opts_.skus_max) {
    plan_.resize(opts_.skus_max);  // the run says how many it planned; the rest next time
  }
  std::sort(plan_.begin(), plan_.end());
  cursor_ = 0;
  failures_in_row_ = 0;
  reading_.clear();
  run_.emplace();
  run_->channel = opts_.channel;
  run_->seq = seq;
  run_->trigger = std::move(trigger);
  run_->policy = opts_.policy;
  run_->started_at_ms = wall_ms;
  run_->cycle_ms = opts_.cycle.count();
  run_->skus_planned = plan_.size();
  spacing_ = sweep_spacing(opts_.cycle, plan_.size(), opts_.per_read);
  started_ = now;
  last_start_ = now;
  page_due_ = now;
  return true;
}

std::vector<engine::sku_id> reconcile_sweep::next_page(const channel_sync& sync, sync_time now) {
  assert(run_ && reading_.empty());
  std::vector<engine::sku_id> page;
  while (cursor_ < plan_.size() && page.size() < std::max<std::size_t>(1, opts_.per_read)) {
    const engine::sku_id& sku = plan_[cursor_++];
    const sku_sync* r = sync.find(sku);
    if (r == nullptr || busy(*r)) {
      ++run_->skus_skipped;
      continue;
    }
    reading_.push_back({sku, seen{r->shadow, r->unseen, r->sends}});
    page.push_back(sku);
  }
  if (!page.empty()) {
    ++run_->read_calls;
    page_due_ = now + spacing_;
  }
  return page;
}

void reconcile_sweep::judge(const engine::sku_id& sku, std::optional<std::int64_t> shows,
                            channel_sync& sync, sync_time now) {
  const sku_sync* r = sync.find(sku);
  auto it = std::find_if(reading_.begin(), reading_.end(),
                         [&](const auto& entry) { return entry.first == sku; });
  if (r == nullptr || it == reading_.end() || busy(*r) || r->shadow != it->second.shadow ||
      r->unseen != it->second.unseen || r->sends != it->second.sends) {
    // The record moved while the read was on its way (a push, an order; a push counts even if
    // the shadow came back to where it was): the read may show a value from before it. Left to
    // the next run.
    ++run_->skus_skipped;
    return;
  }
  ++run_->skus_read;
  const auto kind = classify(*r, shows);
  if (!kind) {
    return;
  }
  const variance_action action = action_for(opts_.policy, *kind);
  ++run_->variances;
  ++run_->by_class[static_cast<std::size_t>(*kind)];
  if (run_->found.size() < opts_.variances_max) {
    run_->found.push_back({sku, r->target(), r->last_pushed, r->shadow, shows, *kind, action});
  }
  switch (action) {
  case variance_action::reported:
    break;
  case variance_action::alerted:
    ++run_->alerts;
    break;
  case variance_action::held:
    ++run_->held;
    sync.channel_reported(sku, *shows, now);  // order_not_seen always has a value
    break;
  case variance_action::corrected:
    ++run_->corrected;
    // Not on the channel, or negative: push the target anyway (the channel answers what it
    // makes of it, a rejection parks it as a dead letter).
    sync.channel_corrected(sku, shows ? std::max<std::int64_t>(*shows, 0) : 0, now);
    break;
  }
}

void reconcile_sweep::on_read(const read_result& result, channel_sync& sync, sync_time now) {
  assert(run_);
  failures_in_row_ = 0;
  std::unordered_map<engine::sku_id, std::int64_t> values;
  for (const auto& [sku, qty] : result.quantities) {
    values.emplace(sku, qty);
  }
  for (const auto& [sku, before] : reading_) {
    auto v = values.find(sku);
    judge(sku, v == values.end() ? std::nullopt : std::optional<std::int64_t>(v->second), sync,
          now);
  }
  reading_.clear();
}

void reconcile_sweep::on_read_failed(sync_time now) {
  assert(run_);
  ++run_->read_failures;
  ++failures_in_row_;
  if (reading_.empty()) {
    return;
  }
  // Read them again, after a pause: back up the cursor over the page. The page was taken from
  // plan_[... cursor_) with skipped SKUs among them; re-judging a skipped one is harmless, but
  // counting it skipped twice is not: take those counts back.
  const std::size_t first = [&] {
    std::size_t i = cursor_;
    const engine::sku_id& head = reading_.front().first;
    while (i > 0 && !(plan_[i - 1] == head)) {
      --i;
    }
    return i > 0 ? i - 1 : 0;
  }();
  run_->skus_skipped -= (cursor_ - first) - reading_.size();
  cursor_ = first;
  reading_.clear();
  page_due_ = now + std::max(spacing_, std::chrono::milliseconds(1'000));
}

bool reconcile_sweep::done() const noexcept {
  return run_ && reading_.empty() &&
         (cursor_ >= plan_.size() || failures_in_row_ >= opts_.read_failures_max);
}

reconcile_run reconcile_sweep::finish(sync_time now, std::int64_t wall_ms) {
  assert(run_);
  reconcile_run out = std::move(*run_);
  run_.reset();
  out.status = failures_in_row_ >= opts_.read_failures_max ? "failed" : "finished";
  out.finished_at_ms = wall_ms;
  out.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count();
  plan_.clear();
  plan_.shrink_to_fit();
  cursor_ = 0;
  return out;
}

} // namespace stockd::connectors
