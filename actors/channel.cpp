#include "actors/channel.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <unordered_set>

#include <caf/send.hpp>

#include "actors/log.hpp"

namespace stockd::actors {
namespace {

using self_pointer = channel_actor::stateful_pointer<channel_holder>;
using connectors::sync_time;

/// Outbox entries in one write at most; the rest go with the next.
constexpr std::size_t outbox_write_max = 4096;
/// After a failed outbox write, the next try waits this long (the store may need space).
constexpr std::chrono::seconds outbox_retry{1};
/// Entries read at a time when the outbox is restored at spawn.
constexpr std::size_t outbox_page = 4096;
/// Reconciliation runs kept per channel in the store: storing one deletes the one this many
/// before it.
constexpr std::uint64_t runs_kept = 100;
/// Finished runs waiting for the store at most (a store that keeps failing): past it the
/// oldest is dropped, and counted as a store failure.
constexpr std::size_t runs_queued_max = 16;
/// After a failed run write, the next try waits this long.
constexpr std::chrono::seconds run_store_retry{1};

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A removed channel stops at the latest this long after it was told (drain_atom), calls still
/// in flight or not: their answers would go nowhere, and the outbox keeps what is unconfirmed.
constexpr std::chrono::seconds drain_max{10};

/// Shadow mode never writes to the channel. Every push goes through here: one in shadow mode
/// is a bug that must not reach a merchant's shop, so it stops the process instead.
void check_may_write(const channel_holder& h) {
  if (h.shadow) {
    std::fprintf(stderr, "stockd: fatal: channel %s is in shadow mode and was about to push\n",
                 h.setup.info->id.str().c_str());
    std::abort();
  }
}

std::int64_t age_ms(sync_time since, sync_time now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
}

std::int64_t expected_for(const channel_holder& h, const engine::sku_id& sku) {
  const auto& rules = h.setup.info->rules;
  const auto components = h.catalog->kit_components(sku);
  if (components.empty()) {
    auto it = h.stock.find(sku.str());
    if (it == h.stock.end()) {
      return engine::channel_quantity(rules, {});
    }
    return engine::channel_quantity(rules, it->second);
  }
  std::vector<engine::kit_part> parts;
  static const std::vector<engine::location_stock> none;
  for (const auto& c : components) {
    auto it = h.stock.find(c.sku.str());
    parts.push_back({c.qty, it == h.stock.end() ? std::span<const engine::location_stock>(none)
                                                : std::span<const engine::location_stock>(it->second)});
  }
  return engine::kit_channel_quantity(rules, parts);
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view to_string(connectors::call_outcome o) {
  using connectors::call_outcome;
  switch (o) {
  case call_outcome::ok: return "ok";
  case call_outcome::throttled: return "throttled";
  case call_outcome::server_error: return "server_error";
  case call_outcome::timeout: return "timeout";
  case call_outcome::network: return "network";
  case call_outcome::bad_request: return "bad_request";
  case call_outcome::unauthorized: return "unauthorized";
  }
  return "unknown";
}

std::string_view to_string(connectors::item_outcome o) {
  using connectors::item_outcome;
  switch (o) {
  case item_outcome::applied: return "applied";
  case item_outcome::stale: return "stale";
  case item_outcome::rejected: return "rejected";
  case item_outcome::retry: return "retry";
  }
  return "unknown";
}

/// The seqs a pushed value of `sku` reflects, per location: its own, or for a kit the highest
/// of its components' at each location.
std::vector<std::uint64_t> seqs_for(const channel_holder& h, const engine::sku_id& sku) {
  const auto components = h.catalog->kit_components(sku);
  if (components.empty()) {
    auto it = h.seqs.find(sku.str());
    return it == h.seqs.end() ? std::vector<std::uint64_t>{} : it->second;
  }
  std::vector<std::uint64_t> out(h.setup.info->locations.size(), 0);
  for (const auto& c : components) {
    if (auto it = h.seqs.find(c.sku.str()); it != h.seqs.end()) {
      for (std::size_t i = 0; i < out.size() && i < it->second.size(); ++i) {
        out[i] = std::max(out[i], it->second[i]);
      }
    }
  }
  return out;
}

std::uint64_t highest(const std::vector<std::uint64_t>& seqs) {
  return seqs.empty() ? 0 : *std::max_element(seqs.begin(), seqs.end());
}

/// A batch leaves: remember what it carries (and what each value reflects) until its answer.
void trace_sent(channel_holder& h, const connectors::outgoing_batch& batch) {
  push_trace t;
  t.push_id = batch.id;
  t.bulk = batch.bulk;
  t.sent_at_ms = unix_ms();
  t.outcome = "in_flight";
  t.items.reserve(batch.items.size());
  for (const auto& item : batch.items) {
    t.items.push_back({item.sku, item.quantity, item.idempotency_key, seqs_for(h, item.sku), {}, {}});
    if (log_enabled(log_level::debug)) {
      log_json(log_level::debug, "push sent",
               {{"channel", h.setup.info->id.str()}, {"push_id", batch.id},
                {"sku", item.sku.str()}, {"quantity", item.quantity},
                {"seq", highest(t.items.back().seqs)},
                {"idempotency_key", item.idempotency_key}});
    }
  }
  h.tracing[batch.id] = std::move(t);
}

/// The answer came: complete the call's record, log it, and keep it in the bounded ring.
void trace_answered(channel_holder& h, std::uint64_t id, const connectors::push_result& result) {
  auto it = h.tracing.find(id);
  if (it == h.tracing.end()) {
    return;
  }
  push_trace t = std::move(it->second);
  h.tracing.erase(it);
  t.answered_at_ms = unix_ms();
  t.outcome = std::string(to_string(result.outcome));
  t.code = result.code;
  t.request_id = result.request_id;
  const bool ok = result.outcome == connectors::call_outcome::ok;
  for (std::size_t i = 0; i < t.items.size(); ++i) {
    auto& item = t.items[i];
    if (ok && i < result.items.size()) {
      item.outcome = std::string(to_string(result.items[i].outcome));
      item.code = result.items[i].code;
    } else {
      item.outcome = "retry";
      item.code = result.code;
    }
    if (log_enabled(log_level::debug)) {
      log_json(log_level::debug, "push item answered",
               {{"channel", h.setup.info->id.str()}, {"push_id", t.push_id},
                {"sku", item.sku.str()}, {"seq", highest(item.seqs)},
                {"idempotency_key", item.idempotency_key}, {"request_id", t.request_id},
                {"outcome", item.outcome}, {"code", item.code}});
    }
  }
  log_json(ok ? log_level::info : log_level::warn, "push answered",
           {{"channel", h.setup.info->id.str()}, {"push_id", t.push_id},
            {"request_id", t.request_id}, {"outcome", t.outcome}, {"code", t.code},
            {"items", static_cast<std::uint64_t>(t.items.size())},
            {"bulk", t.bulk ? "true" : "false"},
            {"ms", t.answered_at_ms - t.sent_at_ms}});
  h.traced.add(std::move(t));
}

channel_trace trace_of(const channel_holder& h, const engine::sku_id& sku,
                       const engine::location_id& location, std::uint64_t seq) {
  channel_trace out;
  out.channel = h.setup.info->id;
  out.connector = h.setup.client ? std::string(connectors::to_string(h.setup.options.connector))
                                 : std::string("none");
  const auto& locations = h.setup.info->locations;
  const auto at = std::find(locations.begin(), locations.end(), location);
  out.sells_here = at != locations.end();
  if (!out.sells_here) {
    return out;
  }
  const auto index = static_cast<std::size_t>(at - locations.begin());
  if (auto it = h.seqs.find(sku.str()); it != h.seqs.end() && index < it->second.size()) {
    out.seen_seq = it->second[index];
  }
  if (const connectors::sku_sync* r = h.sync->find(sku)) {
    out.known = true;
    out.expected = r->target();
    out.last_pushed = r->last_pushed;
    out.in_sync = r->in_sync();
    out.reason = h.setup.client ? r->reason : (r->in_sync() ? "" : "no_connector");
  }
  std::vector<const push_trace*> in_flight;
  for (const auto& [id, t] : h.tracing) {
    in_flight.push_back(&t);
  }
  out.hops = h.traced.find(sku, index, seq, in_flight);
  out.truncated = out.hops.empty() && h.traced.truncated();
  return out;
}

// Timers and answers (ticks, push and read answers, outbox writes) go to the front of the
// mailbox: under a flood of stock updates they would otherwise wait behind all of them, and the
// channel would push only when the flood ends (benchmarks/bench_channel_actor.cpp: 4 calls in
// 4 s at 10 allowed per second, before). Stock updates are many and cheap; these are few.
void schedule(self_pointer self, sync_time at, sync_time now) {
  auto& h = self->state;
  if (h.tick_at && *h.tick_at <= at) {
    return;
  }
  h.tick_at = at;
  self->delayed_send<caf::message_priority::high>(self, std::max(at - now, sync_time::duration::zero()), tick_atom::value);
}

void start_reads(self_pointer self, sync_time now) {
  auto& h = self->state;
  // In shadow mode the rounds read every SKU; the reads compare-and-set asks for wait in the
  // sync until the channel goes live (they tell it what the channel shows before a push).
  if (!h.shadow) {
    for (auto& sku : h.sync->take_reads()) {
      h.pending_reads.push_back(std::move(sku));
    }
  }
  if (h.read_in_flight || h.pending_reads.empty()) {
    return;
  }
  // At most a batch's worth per call (a read names its SKUs in the request); the rest wait for
  // the next call. A read costs by the SKUs it names (Shopify).
  const std::size_t n = std::min(h.pending_reads.size(), h.setup.client->batch_max());
  const auto wait = h.limiter->wait(connectors::call_kind::read, now, n);
  if (wait != sync_time::duration::zero()) {
    schedule(self, now + wait, now);
    return;
  }
  h.limiter->try_take(connectors::call_kind::read, now, n);
  h.read_in_flight = true;
  h.reading.assign(std::make_move_iterator(h.pending_reads.begin()),
                   std::make_move_iterator(h.pending_reads.begin() +
                                           static_cast<std::ptrdiff_t>(n)));
  h.pending_reads.erase(h.pending_reads.begin(),
                        h.pending_reads.begin() + static_cast<std::ptrdiff_t>(n));
  if (!h.shadow) {
    h.sync->read_sent(h.reading, now);  // an answer racing a push of the SKU is not believed
  }
  auto handle = caf::actor_cast<channel_actor>(self);
  h.setup.client->read(h.reading, [handle](connectors::read_result result) {
    caf::anon_send<caf::message_priority::high>(handle, read_atom::value, std::move(result));
  });
}

void outbox_stored(self_pointer self, bool ok, std::string why);
void answer_flushes(channel_holder& h);

/// Stores the outbox entries that changed, one write at a time. A change is first sent only
/// once its key is stored (sync_options::durable_keys), so this runs before anything is sent.
void store_outbox(self_pointer self, sync_time now) {
  auto& h = self->state;
  if (!h.setup.persist || h.store_in_flight || now < h.store_not_before) {
    return;
  }
  if (h.sync->has_unstored()) {
    h.storing = h.sync->take_unstored(outbox_write_max);
  }
  if (h.storing.empty()) {
    // Nothing differs from what is stored: a write that failed has left nothing behind (its
    // records settled back to their stored entries), so its error no longer describes the
    // outbox. Found by the deterministic simulation, seed 4180: an injected write error stayed
    // in /v1/status with every record stored.
    h.outbox_write_error.clear();
    // What was handed out equals what is stored, and no write is in flight.
    answer_flushes(h);
    return;
  }
  std::vector<store::outbox_record> records;
  records.reserve(h.storing.size());
  for (const auto& w : h.storing) {
    records.push_back({h.setup.info->id, w.sku, w.bytes});
  }
  h.store_in_flight = true;
  auto handle = caf::actor_cast<channel_actor>(self);
  const bool queued =
      h.setup.persist(std::move(records), [handle](const store::error* failure) {
        caf::anon_send<caf::message_priority::high>(handle, stored_atom::value, failure == nullptr,
                       failure == nullptr ? std::string()
                                          : std::string(store::to_string(failure->code)) + ": " +
                                                failure->message);
      });
  if (!queued) {
    outbox_stored(self, false, "the writer refused it (queue full or stopped)");
  }
}

/// Starts the next bulk job when one is due and the bulk limiter allows (a separate call type,
/// channel_client::bulk(); the ordinary calls go on meanwhile).
void start_bulk(self_pointer self, sync_time now) {
  auto& h = self->state;
  if (!h.bulk_limiter) {
    return;
  }
  auto due = h.sync->next_bulk_due(now);
  if (!due) {
    return;
  }
  if (*due > now) {
    schedule(self, *due, now);
    return;
  }
  const auto wait = h.bulk_limiter->wait(now);
  if (wait != sync_time::duration::zero()) {
    schedule(self, now + wait, now);
    return;
  }
  auto batch = h.sync->next_bulk_batch(now);
  if (!batch) {
    return;
  }
  h.bulk_limiter->try_take(now);
  const std::uint64_t id = batch->id;
  trace_sent(h, *batch);
  auto items = batch->items;
  h.in_flight.emplace(id, std::move(*batch));
  auto handle = caf::actor_cast<channel_actor>(self);
  check_may_write(h);
  h.setup.client->push_bulk(std::move(items), [handle, id](connectors::push_result result) {
    caf::anon_send<caf::message_priority::high>(handle, pushed_atom::value, id, std::move(result));
  });
}

void run_stored(self_pointer self, bool ok, const std::string& why);

/// Stores the oldest finished run not yet stored, one write at a time, through the writer's
/// outbox path (store::channel_table::reconcile_runs).
void store_runs(self_pointer self, sync_time now) {
  auto& h = self->state;
  if (!h.setup.persist || h.run_store_in_flight || h.runs_to_store.empty()) {
    return;
  }
  if (now < h.run_store_not_before) {
    schedule(self, h.run_store_not_before, now);
    return;
  }
  h.run_store_in_flight = true;
  auto handle = caf::actor_cast<channel_actor>(self);
  const bool queued =
      h.setup.persist(h.runs_to_store.front(), [handle](const store::error* failure) {
        caf::anon_send<caf::message_priority::high>(
            handle, run_stored_atom::value, failure == nullptr,
            failure == nullptr ? std::string()
                               : std::string(store::to_string(failure->code)) + ": " +
                                     failure->message);
      });
  if (!queued) {
    run_stored(self, false, "the writer refused it (queue full or stopped)");
  }
}

void run_stored(self_pointer self, bool ok, const std::string& why) {
  auto& h = self->state;
  h.run_store_in_flight = false;
  if (ok) {
    h.runs_to_store.pop_front();
  } else {
    ++h.run_store_failures;
    std::fprintf(stderr, "stockd: channel %s: storing a reconciliation run: %s\n",
                 h.setup.info->id.str().c_str(), why.c_str());
    h.run_store_not_before = h.setup.clock() + run_store_retry;
  }
}

/// The sweep read through its plan: record the run, count it, queue it for the store.
void finish_run(self_pointer self, sync_time now) {
  auto& h = self->state;
  connectors::reconcile_run run = h.sweep->finish(now, wall_ms());
  ++h.runs_finished;
  h.skus_read += run.skus_read;
  h.read_calls += run.read_calls;
  for (std::size_t i = 0; i < connectors::variance_classes; ++i) {
    h.variances[i] += run.by_class[i];
  }
  h.corrected += run.corrected;
  h.alerts += run.alerts;
  if (h.setup.variances != nullptr) {
    h.setup.variances->fetch_add(run.variances, std::memory_order_relaxed);
  }
  if (h.setup.report_variance) {
    // The variance alert judges every run (a clean one resolves it); units over the variances
    // the run lists (it keeps at most variances_max of them).
    variance_report report{h.setup.info->id.str(), run.skus_read, run.variances, 0};
    for (const auto& v : run.found) {
      report.units_different += v.shows ? std::abs(v.expected - *v.shows) : v.expected;
    }
    h.setup.report_variance(std::move(report));
  }
  if (run.alerts > 0) {
    // The alert hook: counted in status and /metrics, listed in the run; alert sinks read them.
    std::fprintf(stderr, "stockd: channel %s: reconciliation %s: %llu variance(s) alerted\n",
                 h.setup.info->id.str().c_str(), run.id().c_str(),
                 static_cast<unsigned long long>(run.alerts));
  }
  if (h.setup.persist) {
    std::vector<store::outbox_record> records;
    records.push_back({h.setup.info->id, engine::sku_id(store::run_key(run.seq)),
                       connectors::encode_run(run), store::channel_table::reconcile_runs});
    if (run.seq > runs_kept) {
      records.push_back({h.setup.info->id, engine::sku_id(store::run_key(run.seq - runs_kept)),
                         std::string(), store::channel_table::reconcile_runs});
    }
    h.runs_to_store.push_back(std::move(records));
    if (h.runs_to_store.size() > runs_queued_max && !h.run_store_in_flight) {
      h.runs_to_store.pop_front();
      ++h.run_store_failures;
    }
  }
  run.found.clear();
  run.found.shrink_to_fit();
  h.last_run = std::move(run);
  store_runs(self, now);
}

/// The reconciliation sweep, the lowest priority work of the channel: it starts a scheduled
/// run when due and reads its next page only when connectors::sweep_may_read says the budget
/// is left over (after urgent and normal pushes and repair reads).
void sweep(self_pointer self, sync_time now) {
  auto& h = self->state;
  if (!h.sweep || h.shadow || h.draining) {
    return;  // shadow mode reads for its own report and never writes; a drained channel stops
  }
  store_runs(self, now);
  auto& s = *h.sweep;
  if (!s.running()) {
    auto at = s.next_start();
    if (!at) {
      return;
    }
    if (*at > now) {
      schedule(self, *at, now);
      return;
    }
    s.start(*h.sync, ++h.run_seq, "schedule", now, wall_ms());
  }
  for (;;) {
    if (s.page_in_flight()) {
      return;
    }
    if (s.done()) {
      finish_run(self, now);
      if (auto at = s.next_start()) {
        schedule(self, std::max(*at, now), now);
      }
      return;
    }
    if (s.page_due() > now) {
      schedule(self, s.page_due(), now);
      return;
    }
    // A page names at most a batch's worth of SKUs: charged as a full one.
    const std::size_t page_max = h.setup.client->batch_max();
    const auto wait = h.limiter->wait(connectors::call_kind::read, now, page_max);
    connectors::sweep_gate gate;
    gate.read_in_flight = h.read_in_flight;
    gate.repair_reads_pending = h.pending_reads.size();
    gate.urgent_queued = h.sync->queued(connectors::lane::urgent);
    gate.normal_queued = h.sync->queued(connectors::lane::normal);
    gate.limiter_ready = wait == sync_time::duration::zero();
    gate.page_due = true;
    if (!connectors::sweep_may_read(gate)) {
      // Pushes and repair reads pump again when answered; a limiter wait needs a tick.
      if (!gate.limiter_ready) {
        schedule(self, now + wait, now);
      }
      return;
    }
    auto page = s.next_page(*h.sync, now);
    if (page.empty()) {
      continue;  // every SKU of it was busy: the next page, or the end
    }
    h.limiter->try_take(connectors::call_kind::read, now, page_max);
    h.read_in_flight = true;
    h.sweep_reading = true;
    auto handle = caf::actor_cast<channel_actor>(self);
    h.setup.client->read(std::move(page), [handle](connectors::read_result result) {
      caf::anon_send<caf::message_priority::high>(handle, read_atom::value, std::move(result));
    });
    return;
  }
}

/// Starts a run now (POST /v1/admin/reconcile/{channel}), unless one is on.
actors::reconcile_started start_run_now(self_pointer self) {
  auto& h = self->state;
  if (!h.sweep || h.shadow || h.draining) {
    return {};  // no connector, shadow mode (reads only for its report) or being removed
  }
  if (h.sweep->running()) {
    return {h.sweep->current()->id(), false};
  }
  h.sweep->start(*h.sync, ++h.run_seq, "admin", h.setup.clock(), wall_ms());
  return {h.sweep->current()->id(), true};
}

/// A removed channel stops once nothing is in flight (drain_atom).
void maybe_stop(self_pointer self) {
  auto& h = self->state;
  const bool unstored = h.setup.persist && h.sync->has_unstored();
  if (h.draining && h.in_flight.empty() && !h.store_in_flight && !h.read_in_flight &&
      !unstored) {
    self->quit();
  }
}

/// Shadow mode's pump: no push, no outbox (nothing is sent, so no key needs keeping); a round
/// reads every known SKU back, at most one read in flight, paced by the limiter, and the next
/// round starts `shadow_read_interval` after one ends.
void shadow_pump(self_pointer self, sync_time now) {
  auto& h = self->state;
  if (!h.round_running && (!h.next_round || *h.next_round <= now)) {
    h.round_running = true;
    for (auto& sku : h.sync->known_skus()) {
      h.pending_reads.push_back(std::move(sku));
    }
  }
  start_reads(self, now);
  if (h.round_running && !h.read_in_flight && h.pending_reads.empty()) {
    h.round_running = false;
    h.report->round_done(now);
    h.next_round = now + h.setup.options.shadow_read_interval;
  }
  if (!h.round_running && h.next_round) {
    schedule(self, *h.next_round, now);
  }
}

/// Sends what is due while the rate limiter allows, then sets the next wake-up.
void pump(self_pointer self) {
  auto& h = self->state;
  if (!h.setup.client) {
    return;
  }
  const sync_time now = h.setup.clock();
  if (h.draining) {
    store_outbox(self, now);
    maybe_stop(self);
    return;
  }
  if (h.shadow) {
    shadow_pump(self, now);
    return;
  }
  store_outbox(self, now);
  start_reads(self, now);
  start_bulk(self, now);
  for (;;) {
    // The limiter first: it is O(1), and under a saturated limit most pumps end here. Finding
    // what is due scans the queues (next_due), which under a flood hold most of the catalog.
    const auto wait = h.limiter->wait(connectors::call_kind::push, now);
    if (wait != sync_time::duration::zero()) {
      // (With the lanes empty, next_due is cheap: it looks at holds and resends only.)
      if (h.sync->queued(connectors::lane::urgent) + h.sync->queued(connectors::lane::normal) +
                  h.sync->queued(connectors::lane::bulk) > 0 ||
          h.sync->next_due(now)) {
        h.sync->note_rate_limited(now);
        schedule(self, now + wait, now);
        return;
      }
      break;
    }
    auto batch = h.sync->next_batch(now);
    if (!batch) {
      break;  // nothing due, calls in flight at the limit, or the circuit: scheduled below
    }
    h.limiter->try_take(connectors::call_kind::push, now);
    const std::uint64_t id = batch->id;
    trace_sent(h, *batch);
    auto items = batch->items;
    h.in_flight.emplace(id, std::move(*batch));
    auto handle = caf::actor_cast<channel_actor>(self);
    check_may_write(h);
    h.setup.client->push(std::move(items), [handle, id](connectors::push_result result) {
      caf::anon_send<caf::message_priority::high>(handle, pushed_atom::value, id, std::move(result));
    });
  }
  // next_batch may have asked for reads (a hold released: read the channel again); nothing
  // else would start them until the next message.
  start_reads(self, now);
  sweep(self, now);
  if (auto due = h.sync->next_due(now); due && *due > now) {
    schedule(self, *due, now);
  }
  if (!h.store_in_flight && h.sync->has_unstored() && h.store_not_before > now) {
    schedule(self, h.store_not_before, now);
  }
}

/// With no write in flight, every position handed out is stored (a failed write's went back to
/// the end): answers the checkpoint rounds whose changes are all below it.
void answer_flushes(channel_holder& h) {
  h.stored_through = std::max(h.stored_through, h.sync->taken_through());
  auto done = [&h](auto& waiter) {
    if (waiter.first > h.stored_through) {
      return false;
    }
    waiter.second.deliver(true);
    return true;
  };
  std::erase_if(h.flush_waiters, done);
}

/// Changes went back to the end of the order to store (a failed write, or a record stored()
/// must store again): the rounds waiting wait for everything touched so far.
void flushes_wait_longer(channel_holder& h) {
  for (auto& waiter : h.flush_waiters) {
    waiter.first = std::max(waiter.first, h.sync->touched_through());
  }
}

/// Whether the channel stores an outbox: a channel that pushes, not in shadow mode (see
/// sync_options::durable_keys).
bool keeps_outbox(const channel_holder& h) {
  return h.setup.persist && h.setup.client && !h.shadow;
}

void outbox_stored(self_pointer self, bool ok, std::string why) {
  auto& h = self->state;
  h.store_in_flight = false;
  if (ok) {
    h.outbox_writes += h.storing.size();
    h.outbox_write_error.clear();
    h.outbox_restore_error.clear();
    const std::uint64_t touched = h.sync->touched_through();
    h.sync->stored(h.storing);
    if (h.sync->touched_through() != touched) {
      flushes_wait_longer(h);
    }
    answer_flushes(h);
  } else {
    // Nothing of it is stored: the keys it carried are not sent until a write succeeds.
    ++h.outbox_failures;
    h.outbox_write_error = std::move(why);
    h.sync->store_failed(h.storing);
    flushes_wait_longer(h);
    h.store_not_before = h.setup.clock() + outbox_retry;
  }
  h.storing.clear();
  pump(self);
}

/// Puts the channel's stored outbox back (spawn, before any message). An entry that does not
/// decode is left out, and said: its SKU is then pushed as if new, which is safe (a new key).
void restore_outbox(channel_holder& h) {
  if (h.setup.db == nullptr) {
    return;
  }
  const sync_time now = h.setup.clock();
  std::optional<engine::sku_id> after;
  std::size_t restored = 0;
  std::size_t unreadable = 0;
  for (;;) {
    auto page = h.setup.db->read_outbox(h.setup.info->id, after, outbox_page);
    if (!page) {
      std::fprintf(stderr, "stockd: channel %s: reading the outbox: %s\n",
                   h.setup.info->id.str().c_str(), page.error().message.c_str());
      h.outbox_restore_error = "restore: " + page.error().message;
      break;
    }
    for (const auto& record : *page) {
      if (auto entry = connectors::decode_outbox_entry(record.bytes)) {
        h.sync->restore(record.sku, *entry, now);
        ++restored;
      } else {
        ++unreadable;
      }
    }
    if (page->size() < outbox_page) {
      break;
    }
    after = page->back().sku;
  }
  if (unreadable > 0) {
    std::fprintf(stderr, "stockd: channel %s: %zu outbox entries unreadable, left out\n",
                 h.setup.info->id.str().c_str(), unreadable);
  }
  if (restored > 0) {
    std::printf("stockd: channel %s: %zu outbox entries restored\n",
                h.setup.info->id.str().c_str(), restored);
  }
}

/// Starts the propagation clock of `sku` at `accepted_at` unless it runs already (the earliest
/// event the channel has not seen counts); stops it unmeasured when the channel needs no push
/// (the change left what it should show as it is).
void note_accepted(channel_holder& h, const engine::sku_id& sku, engine::timestamp accepted_at) {
  if (!h.setup.client || h.setup.propagation == nullptr || accepted_at == engine::timestamp{}) {
    return;
  }
  const connectors::sku_sync* r = h.sync->find(sku);
  if (r == nullptr || r->in_sync()) {
    h.unpropagated.erase(sku);
    return;
  }
  if (h.unpropagated.size() < channel_holder::unpropagated_max) {
    h.unpropagated.try_emplace(sku, accepted_at);
  }
}

/// After a push's answer: each SKU of the batch now in sync has propagated; its latency runs
/// from the acceptance of the earliest event it carries to now (the wall clock, as received_at).
void note_propagated(channel_holder& h, const connectors::outgoing_batch& batch) {
  if (h.unpropagated.empty()) {
    return;
  }
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  for (const auto& item : batch.items) {
    auto it = h.unpropagated.find(item.sku);
    if (it == h.unpropagated.end()) {
      continue;
    }
    const connectors::sku_sync* r = h.sync->find(item.sku);
    if (r != nullptr && r->in_sync()) {
      h.setup.propagation->record(now - it->second);
      h.unpropagated.erase(it);
    }
  }
}


/// Takes one stock update into the channel's view; the caller pumps. `live`: from a
/// sku_location actor now, not from a checkpoint (seeding), which never overwrites a live one.
void absorb(channel_holder& h, const stock_update& u, bool live) {
  const auto& locations = h.setup.info->locations;
  std::size_t index = locations.size();
  for (std::size_t i = 0; i < locations.size(); ++i) {
    if (locations[i] == u.key.location) {
      index = i;
    }
  }
  if (index == locations.size()) {
    return;  // not a location this channel sells from
  }
  if (!h.seeded) {
    auto key = std::pair{u.key.sku.str(), u.key.location.str()};
    if (live) {
      h.heard_live.insert(std::move(key));
    } else if (h.heard_live.count(key) != 0) {
      return;  // a checkpoint older than what the location actor already told us
    }
  }
  ++h.updates;
  const sync_time now = h.setup.clock();
  auto& stock = h.stock[u.key.sku.str()];
  stock.resize(locations.size());
  stock[index] = {u.available, u.incoming};
  auto& seqs = h.seqs[u.key.sku.str()];
  seqs.resize(locations.size());
  seqs[index] = std::max(seqs[index], u.seq);
  const bool own_order = u.order_channel == h.setup.info->id && u.order_qty > 0;
  if (own_order && u.kit_component) {
    // The channel sold a kit holding this component: it lowered that kit's listing, not the
    // component's (lowering the component's shadow believed it one lower than the shop showed,
    // in sync: stocksim's steady run with kits). Which kit, and so by how much, this update
    // cannot say (a component may be in several kits): their listings' values are unknown now.
    for (const auto& kit : h.catalog->kits_containing(u.key.sku)) {
      h.sync->own_sale_of_unknown_size(kit, now);
    }
  } else if (own_order) {
    // When the channel sold it, on this clock: the sale's age by the wall clock (the channel's
    // occurred_at against ours), taken from now; a time in the future counts as now.
    std::optional<sync_time> sold_at;
    if (u.order_occurred_at != engine::timestamp{}) {
      const auto age = h.setup.wall_clock() - u.order_occurred_at;
      sold_at = now - std::max<std::chrono::system_clock::duration>(age, {});
    }
    h.sync->own_order_seen(u.key.sku, u.order_qty, now, u.key.location, u.seq, sold_at);
  }
  h.sync->set_expected(u.key.sku, expected_for(h, u.key.sku), now);
  note_accepted(h, u.key.sku, u.accepted_at);
  for (const auto& kit : h.catalog->kits_containing(u.key.sku)) {
    h.sync->set_expected(kit, expected_for(h, kit), now);
    note_accepted(h, kit, u.accepted_at);
  }
}

/// 0 when the limiter's bucket is full, 1 when it is empty (channel_status::rate_limit_use).
/// Reads copies: refilling the real bucket is the limiter's business.
double rate_limit_use(const connectors::call_limiter& limiter, sync_time now) {
  double left = 1;
  if (const auto* tokens = limiter.tokens()) {
    auto bucket = *tokens;
    left = bucket.tokens(now) / bucket.burst();
  } else if (const auto* cost = limiter.cost()) {
    auto bucket = *cost;
    const double maximum = bucket.status().maximum_available;
    left = maximum > 0 ? bucket.available(now) / maximum : 1;
  }
  return std::clamp(1 - left, 0.0, 1.0);
}

/// Why a SKU is out of sync, as ops see it: a channel that pushes nothing says why.
std::string reason_of(const channel_holder& h, const connectors::sku_sync& r) {
  if (r.in_sync()) {
    return r.reason;
  }
  if (!h.setup.client) {
    return "no_connector";
  }
  return h.shadow ? "shadow_mode" : r.reason;
}

/// A reload's new rules or mode (reconfig_atom): every SKU is computed again, and those whose
/// quantity changed are pushed again on the bulk lane. Returns how many changed.
std::uint64_t reconfigure(channel_holder& h, const channel_config& config) {
  const sync_time now = h.setup.clock();
  h.catalog = config.catalog;
  h.setup.info = config.info;
  h.setup.options.mode = config.options.mode;
  h.setup.options.shadow_read_interval = config.options.shadow_read_interval;
  const bool shadow = config.options.mode == connectors::channel_mode::shadow && h.setup.client;
  if (shadow && !h.shadow) {
    h.report.emplace();  // a new shadow run, a new report
    h.next_round = now;
    h.round_running = false;
  }
  h.shadow = shadow;
  std::uint64_t changed = 0;
  auto recompute = [&](const engine::sku_id& sku) {
    const connectors::sku_sync* r = h.sync->find(sku);
    const std::int64_t value = expected_for(h, sku);
    if (r != nullptr && r->expected == value) {
      return;
    }
    h.sync->set_expected(sku, value, now, true);
    ++changed;
  };
  for (const auto& [sku, stock] : h.stock) {
    recompute(engine::sku_id(sku));
  }
  for (const auto& [id, info] : h.catalog->skus()) {
    const bool stocked = std::any_of(info.components.begin(), info.components.end(),
                                     [&h](const engine::kit_component& c) {
                                       return h.stock.count(c.sku.str()) != 0;
                                     });
    if (stocked) {
      recompute(info.id);
    }
  }
  return changed;
}

channel_sku_view view_of(const channel_holder& h, const engine::sku_id& sku) {
  channel_sku_view v;
  v.channel = h.setup.info->id;
  const connectors::sku_sync* r = h.sync->find(sku);
  if (r == nullptr) {
    return v;
  }
  const sync_time now = h.setup.clock();
  v.known = true;
  v.expected = r->target();
  v.last_pushed = r->last_pushed;
  v.shows = r->shadow;
  v.held_back = r->unseen;
  v.in_sync = r->in_sync();
  if (r->out_of_sync_since) {
    v.out_of_sync_ms = age_ms(*r->out_of_sync_since, now);
  }
  v.reason = reason_of(h, *r);
  return v;
}

} // namespace

channel_actor::behavior_type channel(channel_actor::stateful_pointer<channel_holder> self,
                                     channel_setup setup, const engine::catalog* catalog) {
  auto& h = self->state;
  h.setup = std::move(setup);
  h.catalog = catalog;
  if (!h.setup.clock) {
    h.setup.clock = [] { return connectors::sync_clock::now(); };
  }
  if (!h.setup.wall_clock) {
    h.setup.wall_clock = [] {
      return std::chrono::time_point_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now());
    };
  }
  const auto& o = h.setup.options;
  connectors::sync_options sync_opts;
  sync_opts.batch_max = static_cast<std::size_t>(o.batch_size);
  if (h.setup.client) {
    sync_opts.batch_max = std::min(sync_opts.batch_max, h.setup.client->batch_max());
  }
  sync_opts.settle = o.settle;
  sync_opts.unseen_hold = o.unseen_hold;
  if (h.setup.client) {
    if (auto bulk = h.setup.client->bulk(); bulk && bulk->batch_max > 0) {
      sync_opts.bulk_batch_max = bulk->batch_max;
      h.bulk_limiter = std::make_unique<connectors::token_bucket>(
          bulk->jobs_per_second * connectors::token_pace, std::max(1.0, bulk->burst),
          h.setup.clock());
    }
  }
  if (o.push == connectors::push_mode::interval) {
    sync_opts.push_interval = o.push_interval;
  }
  sync_opts.compare_and_set = o.connector == connectors::connector_kind::shopify;
  // Only a channel that pushes has an outbox to keep (in shadow mode it is kept, not stored,
  // until a reload makes the channel live).
  sync_opts.durable_keys = h.setup.persist && h.setup.client;
  h.shadow = o.mode == connectors::channel_mode::shadow && h.setup.client;
  if (h.shadow) {
    h.report.emplace();
  }
  h.sync = std::make_unique<connectors::channel_sync>(h.setup.info->id, sync_opts, h.setup.boot,
                                                      h.setup.boot ^ 0x9e3779b97f4a7c15ULL);
  h.limiter = std::make_unique<connectors::call_limiter>(
      connectors::limiter_for(o, h.setup.clock()));
  restore_outbox(h);
  if (h.setup.client) {
    connectors::reconcile_options ro;
    ro.channel = h.setup.info->id;
    ro.cycle = o.reconcile_cycle;
    ro.policy = o.reconcile;
    ro.per_read = h.setup.client->batch_max();
    h.sweep = std::make_unique<connectors::reconcile_sweep>(ro);
    if (h.setup.db != nullptr) {
      // Run ids go on from the last stored run: they name runs across restarts.
      if (auto last = h.setup.db->read_runs(h.setup.info->id, 1); last && !last->empty()) {
        h.run_seq = last->front().seq;
      } else if (!last) {
        std::fprintf(stderr, "stockd: channel %s: reading the last reconciliation run: %s\n",
                     h.setup.info->id.str().c_str(), last.error().message.c_str());
      }
    }
  }
  return {
      [self](stock_atom, const stock_update& u) {
        // A pump scans the queues (next_due): once per burst of updates, not once per update.
        // The pump message goes behind every update already in the mailbox.
        if (self->state.draining) {
          return;
        }
        absorb(self->state, u, true);
        if (!self->state.pump_queued) {
          self->state.pump_queued = true;
          self->send(self, pump_atom::value);
        }
      },
      [self](pump_atom) {
        self->state.pump_queued = false;
        pump(self);
      },
      [self](seed_atom, const std::vector<stock_update>& updates) {
        for (const auto& u : updates) {
          absorb(self->state, u, false);
        }
        pump(self);
        return true;
      },
      [self](stored_atom, bool ok, std::string& why) { outbox_stored(self, ok, std::move(why)); },
      [self](flush_atom) -> caf::result<bool> {
        // A checkpoint round must not pass an own order this channel took but has not stored:
        // after a restart nothing would replay it (the deterministic simulation's seeds 3056,
        // 3126, 3286, 4973: the shop under-showed, believed in sync). Every update taken so far
        // was sent before the snapshots the round holds, so it is in the mailbox before this.
        // It waits for the changes made so far only: under a steady stream of changes the
        // outbox is never empty, and the round must not wait for that.
        auto& st = self->state;
        const std::uint64_t through = st.sync->touched_through();
        if (!keeps_outbox(st) || through <= st.stored_through) {
          return true;
        }
        if (st.flush_waiters.size() >= channel_holder::flush_waiters_max) {
          // Rounds that waited this long have timed out on their side (a shard asks again
          // each round while the outbox cannot be stored): the oldest answer goes nowhere.
          st.flush_waiters.front().second.deliver(caf::make_error(caf::sec::request_timeout));
          st.flush_waiters.erase(st.flush_waiters.begin());
        }
        auto promise = self->make_response_promise<bool>();
        st.flush_waiters.emplace_back(through, promise);
        store_outbox(self, st.setup.clock());
        return promise;
      },
      [self](pushed_atom, std::uint64_t id, const connectors::push_result& result) {
        auto& st = self->state;
        auto it = st.in_flight.find(id);
        if (it == st.in_flight.end()) {
          return;
        }
        const sync_time now = st.setup.clock();
        trace_answered(st, id, result);
        if (it->second.bulk) {
          // A bulk job's answer speaks of the bulk limit only.
          if (result.retry_after) {
            st.bulk_limiter->pause_until(now + *result.retry_after, now);
          }
          st.sync->on_result(it->second, result, now);
          note_propagated(st, it->second);
          st.in_flight.erase(it);
          pump(self);
          return;
        }
        if (result.retry_after) {
          st.limiter->pause_until(now + *result.retry_after, now);
        }
        // A reported rate lowers the pace; the configured rate stays the ceiling (an operator
        // who leaves headroom for other tools on the same account keeps it). Either is paced
        // at token_pace of itself, as at start.
        std::optional<double> rate = result.rate_limit_per_second;
        if (rate) {
          rate = std::min(*rate, st.setup.options.requests_per_second) * connectors::token_pace;
        }
        st.limiter->observe(rate, result.throttle, now);
        st.sync->on_result(it->second, result, now);
        note_propagated(st, it->second);
        st.in_flight.erase(it);
        pump(self);
      },
      [self](read_atom, const connectors::read_result& result) {
        auto& st = self->state;
        st.read_in_flight = false;
        const sync_time now = st.setup.clock();
        st.limiter->observe(std::nullopt, result.throttle, now);
        if (st.sweep_reading) {
          st.sweep_reading = false;
          if (result.ok) {
            st.sweep->on_read(result, *st.sync, now);
          } else {
            st.sweep->on_read_failed(now);  // its pages wait a while; pushes go on
          }
          pump(self);
          return;
        }
        if (st.shadow) {
          ++st.shadow_reads;
          st.shadow_read_failures += result.ok ? 0 : 1;
        }
        if (result.ok && st.shadow) {
          // Compared, never believed: the sync keeps what stockd would push, untouched.
          std::unordered_set<engine::sku_id> listed;
          listed.reserve(result.quantities.size());
          auto target_of = [&st](const engine::sku_id& sku) {
            const connectors::sku_sync* r = st.sync->find(sku);
            return r != nullptr ? r->target() : 0;
          };
          for (const auto& [sku, qty] : result.quantities) {
            st.report->compared(sku, target_of(sku), qty, now);
            listed.insert(sku);
          }
          // Asked and not listed (no listing, no inventory item): going live would push these.
          for (const auto& sku : st.reading) {
            if (listed.count(sku) == 0) {
              st.report->missing(sku, target_of(sku), now);
            }
          }
          st.reading.clear();
        } else if (result.ok) {
          for (const auto& [sku, qty] : result.quantities) {
            st.sync->read_answered(sku, qty, now);
          }
          st.reading.clear();
        } else {
          // Ask again after a pause; nothing is pushed for these SKUs meanwhile.
          for (auto& sku : st.reading) {
            st.pending_reads.push_back(std::move(sku));
          }
          st.reading.clear();
          st.limiter->pause_until(now + std::chrono::seconds(1), now);
        }
        pump(self);
      },
      [self](tick_atom) {
        self->state.tick_at.reset();
        pump(self);
      },
      [self](get_atom, const engine::sku_id& sku) { return view_of(self->state, sku); },
      [self](trace_atom, const engine::sku_id& sku, const engine::location_id& location,
             std::uint64_t seq) { return trace_of(self->state, sku, location, seq); },
      [self](repush_atom) {
        auto& st = self->state;
        const auto queued = static_cast<std::uint64_t>(st.sync->repush_all(st.setup.clock()));
        pump(self);
        return queued;
      },
      [self](reconcile_atom) {
        auto started = start_run_now(self);
        pump(self);
        return started;
      },
      [self](run_stored_atom, bool ok, const std::string& why) {
        run_stored(self, ok, why);
        pump(self);
      },
      [self](oos_atom, std::int64_t min_age_ms, std::uint64_t limit) {
        auto& st = self->state;
        const sync_time now = st.setup.clock();
        std::vector<out_of_sync_entry> out;
        for (const auto& [sku, r] :
             st.sync->out_of_sync(now, std::chrono::milliseconds(min_age_ms),
                                  static_cast<std::size_t>(limit))) {
          out.push_back({st.setup.info->id, sku, r->target(), r->last_pushed,
                         age_ms(*r->out_of_sync_since, now), reason_of(st, *r)});
        }
        return out;
      },
      [self](dead_atom, std::uint64_t limit) {
        auto& st = self->state;
        const sync_time now = st.setup.clock();
        std::vector<out_of_sync_entry> out;
        for (const auto& [sku, r] : st.sync->parked()) {
          if (out.size() >= limit) {
            break;
          }
          out.push_back({st.setup.info->id, sku, r->target(), r->last_pushed,
                         r->out_of_sync_since ? age_ms(*r->out_of_sync_since, now) : 0,
                         r->reason});
        }
        return out;
      },
      [self](status_atom) {
        auto& st = self->state;
        const sync_time now = st.setup.clock();
        const auto& c = st.sync->counters();
        channel_status s;
        s.channel = st.setup.info->id;
        s.connector = st.setup.client ? std::string(connectors::to_string(st.setup.options.connector))
                                      : std::string("none");
        s.circuit = std::string(connectors::to_string(st.sync->circuit()));
        s.skus = st.sync->skus();
        s.queued_urgent = st.sync->queued(connectors::lane::urgent);
        s.queued_normal = st.sync->queued(connectors::lane::normal);
        s.queued_bulk = st.sync->queued(connectors::lane::bulk);
        s.bulk_jobs = c.bulk_jobs;
        s.bulk_jobs_in_flight = st.sync->bulk_jobs_in_flight();
        s.bulk_failures = c.bulk_failures;
        s.out_of_sync = st.sync->out_of_sync_count();
        if (auto oldest = st.sync->oldest_out_of_sync()) {
          s.oldest_out_of_sync_ms = age_ms(*oldest, now);
        }
        s.calls = c.calls;
        s.items_sent = c.items_sent;
        s.items_applied = c.items_applied;
        s.throttled = c.throttled;
        s.failures = c.failures;
        s.retries = c.retries;
        s.stale = c.stale;
        s.rejected = c.rejected;
        s.coalesced = c.coalesced;
        s.updates = st.updates;
        s.dead_letters = st.sync->parked_count();
        s.outbox_writes = st.outbox_writes;
        s.outbox_failures = st.outbox_failures;
        s.outbox_error =
            st.outbox_write_error.empty() ? st.outbox_restore_error : st.outbox_write_error;
        s.outbox_pending = st.storing.size() + st.sync->unstored();
        s.rate_limit_use = rate_limit_use(*st.limiter, now);
        s.reconcile_policy = std::string(connectors::to_string(st.setup.options.reconcile));
        s.reconcile_cycle_s = st.setup.options.reconcile_cycle.count();
        s.reconcile_running = st.sweep && st.sweep->running();
        s.reconcile_runs = st.runs_finished;
        s.reconcile_skus_read = st.skus_read;
        s.reconcile_read_calls = st.read_calls;
        auto variances = st.variances;
        s.reconcile_corrected = st.corrected;
        s.reconcile_alerts = st.alerts;
        if (const auto* run = st.sweep ? st.sweep->current() : nullptr) {
          // The run on counts as it goes: a variance shows here when it is found.
          s.reconcile_skus_read += run->skus_read;
          s.reconcile_read_calls += run->read_calls;
          for (std::size_t i = 0; i < variances.size(); ++i) {
            variances[i] += run->by_class[i];
          }
          s.reconcile_corrected += run->corrected;
          s.reconcile_alerts += run->alerts;
        }
        s.reconcile_hand_edit = variances[0];
        s.reconcile_order_not_seen = variances[1];
        s.reconcile_push_lost = variances[2];
        s.reconcile_unknown = variances[3];
        s.reconcile_store_failures = st.run_store_failures;
        if (st.last_run) {
          s.reconcile_last_run = st.last_run->id();
          s.reconcile_last_finished_ms = st.last_run->finished_at_ms;
          s.reconcile_last_duration_ms = st.last_run->duration_ms;
          s.reconcile_last_variances = st.last_run->variances;
        }
        s.mode = std::string(connectors::to_string(st.setup.options.mode));
        if (st.report) {
          s.shadow = st.report->report(now);
        }
        s.shadow_reads = st.shadow_reads;
        s.shadow_read_failures = st.shadow_read_failures;
        return s;
      },
      [self](reconfig_atom, const channel_config& config) {
        const std::uint64_t changed = reconfigure(self->state, config);
        pump(self);
        return changed;
      },
      [self](drain_atom) {
        auto& st = self->state;
        if (st.draining) {
          self->quit();  // the deadline: stop with whatever is still in flight
          return;
        }
        st.draining = true;
        self->delayed_send(self, drain_max, drain_atom::value);
        pump(self);
        if (!st.setup.client) {
          self->quit();
        }
      },
      [self](seeded_atom) {
        auto& st = self->state;
        st.seeded = true;
        st.heard_live.clear();
        if (st.shadow) {
          st.next_round = st.setup.clock();  // the first round compares the seeded stock
        }
        pump(self);
      },
  };
}

} // namespace stockd::actors
