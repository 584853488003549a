#include "actors/runtime.hpp"

#include <cassert>
#include <cstdio>
#include <map>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/directory_shard.hpp"
#include "actors/kit_reservation.hpp"
#include "engine/apply.hpp"
#include "engine/codec.hpp"

namespace stockd::actors {

void configure_scheduler(caf::actor_system_config& cfg, std::size_t threads) {
  cfg.set("scheduler.max-threads", threads);
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console", caf::atom("none"));
}

runtime::layout runtime::resolve(const options& opts) {
  // Default: one core is left to the journal writer and the HTTP thread, which are busy on every
  // event too (on 2 cores, 1 and 2 workers measured within noise of each other: ~140k events/s).
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  layout l;
  l.threads = opts.threads != 0 ? opts.threads : std::max(1u, cores - 1);
  l.shards = opts.shards != 0 ? opts.shards : static_cast<std::uint32_t>(4 * l.threads);
  return l;
}

runtime::runtime(const options& opts, const engine::catalog& catalog, store::database* db,
                 checkpoint_sink persist, metrics& counters, journal_sink journal,
                 std::vector<channel_setup> channels)
    : cfg_(std::make_unique<caf::actor_system_config>()),
      catalog_(catalog),
      journal_(std::move(journal)) {
  const layout l = resolve(opts);
  threads_ = l.threads;
  const std::uint32_t shards = l.shards;
  configure_scheduler(*cfg_, threads_);
  watermarks_ = std::vector<std::atomic<std::uint64_t>>(shards);
  std::uint64_t start = db != nullptr ? db->replay_from(shards) - 1 : 0;
  for (auto& wm : watermarks_) {
    // Each shard starts from the common watermark: everything at or below it is checkpointed.
    wm.store(start, std::memory_order_relaxed);
  }
  ctx_.opts = opts;
  ctx_.db = db;
  ctx_.persist = std::move(persist);
  ctx_.counters = &counters;
  ctx_.watermarks = &watermarks_;
  ctx_.clock = [] {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now());
  };
  if (journal_) {
    ctx_.submit = [this](engine::journal_entry entry) {
      std::vector<engine::journal_entry> one;
      one.push_back(std::move(entry));
      return submit_batch(std::move(one));
    };
    ctx_.submit_batch = [this](std::vector<engine::journal_entry> entries) {
      return submit_batch(std::move(entries));
    };
  }
  ctx_.catalog.store(&catalog_, std::memory_order_release);
  system_ = std::make_unique<caf::actor_system>(*cfg_);
  // Channels first: every sku_location actor spawned later finds its subscribers in the context.
  std::map<std::string, channel_actor> by_id;
  for (auto& setup : channels) {
    const engine::channel_info* info = setup.info;
    wire_channel(setup);
    auto actor = system_->spawn(channel, std::move(setup), &catalog_);
    by_id.emplace(info->id.str(), actor);
    channels_.push_back(std::move(actor));
    channel_ids_.push_back(info->id);
  }
  publish_routes(catalog_, by_id);
  pending_.resize(shards);
  for (std::uint32_t i = 0; i < shards; ++i) {
    shards_.push_back(system_->spawn(directory_shard, i, &ctx_, &catalog_));
  }
}

runtime::~runtime() {
  {
    std::lock_guard lock(alerts_mutex_);
    if (alerts_) {
      caf::anon_send_exit(*alerts_, caf::exit_reason::user_shutdown);
      alerts_.reset();
    }
  }
  for (auto& shard : shards_) {
    caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
  }
  shards_.clear();
  {
    std::lock_guard lock(channels_mutex_);
    for (auto& ch : channels_) {
      caf::anon_send_exit(ch, caf::exit_reason::user_shutdown);
    }
    channels_.clear();
  }
  ctx_.channels_by_location.store(nullptr);
  system_.reset();  // joins the scheduler after every actor is done
}

void runtime::dispatch(std::vector<engine::journal_entry>&& entries) {
  const auto n = static_cast<std::uint32_t>(shards_.size());
  std::int64_t deliveries = 0;
  for (auto& entry : entries) {
    // The same rule the shard routes by: one delivery per touched key.
    deliveries += engine::touches_destination(entry.ev) ? 2 : 1;
    pending_[shard_of(entry.ev.sku, n)].push_back(std::move(entry));
  }
  // Counted before sending, so in_flight never dips below what the actors still have to do.
  ctx_.counters->in_flight.fetch_add(deliveries, std::memory_order_relaxed);
  for (std::uint32_t i = 0; i < n; ++i) {
    if (!pending_[i].empty()) {
      caf::anon_send(shards_[i], deliver_atom::value, std::move(pending_[i]));
      pending_[i] = entry_batch{};
    }
  }
}

runtime::journaled_counts
runtime::dispatch_journaled(std::vector<engine::journal_entry>& journaled,
                            const std::vector<store::append_status>& statuses) {
  journaled_counts counts;
  std::vector<engine::journal_entry> fresh;
  fresh.reserve(journaled.size());
  for (std::size_t i = 0; i < journaled.size(); ++i) {
    if (statuses[i].duplicate) {
      ++counts.duplicate;
    } else {
      fresh.push_back(std::move(journaled[i]));
    }
  }
  counts.accepted = fresh.size();
  ctx_.counters->events_duplicate.fetch_add(counts.duplicate, std::memory_order_relaxed);
  ctx_.counters->events_accepted.fetch_add(counts.accepted, std::memory_order_relaxed);
  if (!fresh.empty()) {
    dispatch(std::move(fresh));
  }
  return counts;
}

bool runtime::submit_batch(std::vector<engine::journal_entry> entries) {
  // Before recovery finishes, dispatch() belongs to the recovery loop: refusing here keeps it
  // to one thread.
  if (!ctx_.counters->ready.load(std::memory_order_acquire) || entries.empty()) {
    return false;
  }
  std::vector<journal_result> results;
  results.reserve(entries.size());
  for (const auto& entry : entries) {
    results.push_back(journal_result{{entry.ev.sku, entry.ev.location}, entry.ev.id, 0, false,
                                     std::nullopt});
  }
  auto done = [this, results = std::move(results)](
                  std::vector<engine::journal_entry>& journaled,
                  const std::vector<store::append_status>& statuses,
                  const store::error* failure) mutable {
    for (std::size_t i = 0; i < results.size(); ++i) {
      journal_result& result = results[i];
      if (failure != nullptr) {
        result.failure = std::string(store::to_string(failure->code)) + ": " + failure->message;
      } else {
        result.seq = statuses[i].seq;
        result.duplicate = statuses[i].duplicate;
      }
    }
    if (failure == nullptr) {
      dispatch_journaled(journaled, statuses);
    }
    // Same thread, after the deliveries: each actor applies its entry before it hears the result.
    const auto n = static_cast<std::uint32_t>(shards_.size());
    for (auto& result : results) {
      auto& shard = shards_[shard_of(result.key.sku, n)];
      caf::anon_send(shard, journaled_atom::value, std::move(result));
    }
  };
  return journal_(std::move(entries), std::move(done));
}

void runtime::publish_routes(const engine::catalog& catalog,
                             const std::map<std::string, channel_actor>& actors) {
  auto routes = std::make_unique<channel_routes>();
  for (const auto& info : catalog.channels()) {
    auto it = actors.find(info.id.str());
    if (it == actors.end()) {
      continue;
    }
    for (const auto& location : info.locations) {
      (*routes)[location.str()].push_back(it->second);
    }
  }
  ctx_.channels_by_location.store(routes.get(), std::memory_order_release);
  routes_kept_.push_back(std::move(routes));
}

std::size_t runtime::channels() const {
  std::lock_guard lock(channels_mutex_);
  return channels_.size();
}

std::size_t runtime::reloads() const {
  std::lock_guard lock(channels_mutex_);
  return catalogs_kept_.size();
}

bool runtime::seed_channels(std::chrono::milliseconds timeout) {
  const bool ok = seed({}, timeout);
  std::lock_guard lock(channels_mutex_);
  for (const auto& ch : channels_) {
    caf::anon_send(ch, seeded_atom::value);
  }
  return ok;
}

bool runtime::seed(const std::vector<channel_actor>& targets, std::chrono::milliseconds timeout) {
  if (channels() == 0 || ctx_.db == nullptr) {
    return true;
  }
  const channel_routes* routes = ctx_.channels_by_location.load(std::memory_order_acquire);
  if (routes == nullptr) {
    return true;
  }
  auto wanted = [&targets](const channel_actor& ch) {
    if (targets.empty()) {
      return true;
    }
    for (const auto& t : targets) {
      if (t == ch) {
        return true;
      }
    }
    return false;
  };
  constexpr std::size_t page = 4096;
  caf::scoped_actor self{*system_, true};
  std::optional<engine::sku_location_key> after;
  std::map<const channel_actor*, std::vector<stock_update>> updates;
  for (;;) {
    auto records = ctx_.db->read_checkpoints(after, page);
    if (!records) {
      std::fprintf(stderr, "stockd: seeding channels: %s\n", records.error().message.c_str());
      return false;
    }
    for (const auto& record : *records) {
      auto it = routes->find(record.key.location.str());
      if (it == routes->end()) {
        continue;
      }
      auto state = engine::decode_state(record.state_bytes);
      if (!state) {
        std::fprintf(stderr, "stockd: seeding channels: the checkpoint of %s at %s is unreadable\n",
                     record.key.sku.str().c_str(), record.key.location.str().c_str());
        return false;
      }
      stock_update u;
      u.key = record.key;
      u.available = state->qty.available;
      u.incoming = state->qty.incoming;
      u.seq = state->last_seq;
      for (const auto& channel : it->second) {
        if (wanted(channel)) {
          updates[&channel].push_back(u);
        }
      }
    }
    // One page to each channel at a time: a large catalog never piles up in a mailbox.
    bool ok = true;
    for (auto& [channel, batch] : updates) {
      self->request(*channel, timeout, seed_atom::value, std::move(batch))
          .receive([](bool) {}, [&ok](caf::error&) { ok = false; });
    }
    updates.clear();
    if (!ok) {
      return false;
    }
    if (records->size() < page) {
      return true;
    }
    after = records->back().key;
  }
}

bool runtime::wake_expiring() {
  // One pass over the checkpoints at start, a page per read transaction; the actors are not
  // passivated, so after this every hold with an expiry has a live actor and a timer.
  constexpr std::size_t page_max = 4096;
  const auto n = static_cast<std::uint32_t>(shards_.size());
  std::optional<engine::sku_location_key> after;
  for (;;) {
    auto page = ctx_.db->read_checkpoints(after, page_max);
    if (!page) {
      return false;
    }
    for (const auto& record : *page) {
      auto state = engine::decode_state(record.state_bytes);
      if (!state) {
        continue;  // the actor refuses a corrupt checkpoint itself when it is used
      }
      bool expiring = false;
      for (const auto& r : state->reservations) {
        expiring = expiring || r.expires_at.has_value();
      }
      if (expiring) {
        caf::anon_send(shards_[shard_of(record.key.sku, n)], wake_atom::value, record.key);
      }
    }
    if (page->size() < page_max) {
      return true;
    }
    after = page->back().key;
  }
}

void runtime::reserve(reserve_request req, reservation_callback reply) {
  const engine::catalog& current = *catalog();
  if (auto components = current.kit_components(req.sku); !components.empty()) {
    auto candidates = reservation_candidates(req, current);
    reserve_kit(*system_, kit_routes{&ctx_, shards_}, {components.begin(), components.end()},
                std::move(candidates), std::move(req), std::move(reply));
    return;
  }
  auto& shard = shards_[shard_of(req.sku, static_cast<std::uint32_t>(shards_.size()))];
  caf::anon_send(shard, reserve_atom::value, std::move(req), std::move(reply));
}

void runtime::end_reservation(end_request req, reservation_callback reply) {
  auto& shard = shards_[shard_of(req.key.sku, static_cast<std::uint32_t>(shards_.size()))];
  caf::anon_send(shard, end_atom::value, std::move(req), std::move(reply));
}

void runtime::end_kit_reservation(kit_end_request req, reservation_callback reply) {
  const engine::catalog& current = *catalog();
  auto components = current.kit_components(req.kit);
  if (components.empty() || !current.has_location(req.location)) {
    reply(error_reply(reservation_status::not_found, "unknown reservation"));
    return;
  }
  end_kit(*system_, kit_routes{&ctx_, shards_}, {components.begin(), components.end()},
          std::move(req), std::move(reply));
}

void runtime::publish_head(std::uint64_t head) {
  for (auto& shard : shards_) {
    caf::anon_send(shard, head_atom::value, head);
  }
}

std::optional<std::uint64_t> runtime::recover(std::chrono::milliseconds timeout) {
  if (ctx_.db == nullptr) {
    ctx_.counters->ready.store(true);
    return 0;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (!seed_channels(timeout)) {
    return std::nullopt;
  }
  const std::uint64_t head = ctx_.db->journal_head();
  std::uint64_t next = watermark_min() + 1;
  std::uint64_t replayed = 0;
  constexpr std::size_t chunk = 8192;
  while (next <= head) {
    // Bounded: wait for the actors before reading more, so replay never floods the mailboxes.
    while (ctx_.counters->in_flight.load(std::memory_order_relaxed) >
           static_cast<std::int64_t>(ctx_.opts.in_flight_max / 2)) {
      if (std::chrono::steady_clock::now() > deadline) {
        return std::nullopt;  // the actors stopped making progress: the caller fails start-up
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::vector<engine::journal_entry> batch;
    auto read = ctx_.db->read_journal(next, chunk, [&](const engine::journal_entry& e) {
      batch.push_back(e);
      return true;
    });
    if (!read) {
      return std::nullopt;
    }
    if (batch.empty()) {
      break;
    }
    next = batch.back().seq + 1;
    replayed += batch.size();
    dispatch(std::move(batch));
  }
  publish_head(head);
  ctx_.counters->recovery_replayed.store(replayed, std::memory_order_relaxed);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (!wait_idle(std::max(left, std::chrono::milliseconds(0))) || !wake_expiring()) {
    return std::nullopt;
  }
  ctx_.counters->ready.store(true);
  return replayed;
}

void runtime::query_sku(const engine::sku_id& sku, sku_view_callback reply) {
  auto& shard = shards_[shard_of(sku, static_cast<std::uint32_t>(shards_.size()))];
  caf::anon_send(shard, get_atom::value, sku, std::move(reply));
}

void runtime::find_forgotten_line(const engine::sku_id& sku, std::uint64_t line_hash,
                                  line_locations_callback reply) {
  auto& shard = shards_[shard_of(sku, static_cast<std::uint32_t>(shards_.size()))];
  caf::anon_send(shard, line_atom::value, sku, line_hash, std::move(reply));
}

void runtime::read_states(key_list keys, key_states_callback reply) {
  assert(keys.size() <= read_states_keys_max);
  if (keys.empty()) {
    reply({});
    return;
  }
  // Split by shard, remembering where each key's answer goes; the shards answer on their own
  // threads, so the gathering is under a lock and the last one replies.
  struct gather {
    std::mutex mutex;
    key_states states;
    std::size_t remaining = 0;
    key_states_callback reply;
  };
  auto g = std::make_shared<gather>();
  g->states.resize(keys.size());
  g->reply = std::move(reply);
  const auto shards = static_cast<std::uint32_t>(shards_.size());
  std::vector<key_list> parts(shards);
  std::vector<std::vector<std::size_t>> places(shards);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::uint32_t shard = shard_of(keys[i].sku, shards);
    parts[shard].push_back(std::move(keys[i]));
    places[shard].push_back(i);
  }
  for (const auto& part : parts) {
    g->remaining += part.empty() ? 0 : 1;
  }
  for (std::uint32_t shard = 0; shard < shards; ++shard) {
    if (parts[shard].empty()) {
      continue;
    }
    key_states_callback one = [g, place = std::move(places[shard])](key_states answer) {
      assert(answer.size() == place.size());
      key_states_callback last;
      {
        std::lock_guard lock(g->mutex);
        for (std::size_t i = 0; i < answer.size(); ++i) {
          g->states[place[i]] = std::move(answer[i]);
        }
        if (--g->remaining == 0) {
          last = std::move(g->reply);
        }
      }
      if (last) {
        last(std::move(g->states));
      }
    };
    caf::anon_send(shards_[shard], get_atom::value, std::move(parts[shard]), std::move(one));
  }
}

namespace {

/// Asks every channel the same question from one short-lived actor and answers once with what
/// came back in time (a channel that does not answer is left out, not waited for).
template <class Answer, class... Args>
void ask_channels(caf::actor_system& system, const std::vector<channel_actor>& channels,
                  std::chrono::milliseconds timeout,
                  std::function<void(std::vector<Answer>)> reply, Args... args) {
  if (channels.empty()) {
    reply({});
    return;
  }
  // Spawned with one argument: CAF 0.17 dereferences an empty argument tuple when a function
  // actor has none (UBSan: reference binding to null pointer in init_fun_factory).
  system.spawn([channels, timeout, reply = std::move(reply),
                args...](caf::event_based_actor* self, std::size_t /*unused*/) {
    struct gather {
      std::vector<Answer> answers;
      std::size_t remaining = 0;
    };
    auto g = std::make_shared<gather>();
    g->remaining = channels.size();
    auto done = [g, reply, self] {
      if (--g->remaining == 0) {
        reply(std::move(g->answers));
        self->quit();
      }
    };
    for (const auto& ch : channels) {
      self->request(ch, timeout, args...)
          .then([g, done](Answer& a) {
                  g->answers.push_back(std::move(a));
                  done();
                },
                [done](caf::error&) { done(); });
    }
  }, std::size_t{0});
}

/// The same for answers that are lists: concatenated.
template <class Item, class... Args>
void ask_channels_for_lists(caf::actor_system& system, const std::vector<channel_actor>& channels,
                            std::chrono::milliseconds timeout,
                            std::function<void(std::vector<Item>)> reply, Args... args) {
  ask_channels<std::vector<Item>>(
      system, channels, timeout,
      [reply = std::move(reply)](std::vector<std::vector<Item>> lists) {
        std::vector<Item> all;
        for (auto& list : lists) {
          for (auto& item : list) {
            all.push_back(std::move(item));
          }
        }
        reply(std::move(all));
      },
      args...);
}

} // namespace

void runtime::query_channels(const engine::sku_id& sku,
                             std::function<void(std::vector<channel_sku_view>)> reply) {
  ask_channels<channel_sku_view>(*system_, channels_named({}), ctx_.opts.request_timeout,
                                 std::move(reply), get_atom::value, sku);
}

void runtime::trace(const engine::sku_id& sku, const engine::location_id& location,
                    std::uint64_t seq, std::function<void(std::vector<channel_trace>)> reply) {
  ask_channels<channel_trace>(*system_, channels_, ctx_.opts.request_timeout, std::move(reply),
                              trace_atom::value, sku, location, seq);
}

void runtime::wire_channel(channel_setup& setup) {
  if (setup.propagation == nullptr) {
    setup.propagation = &ctx_.counters->propagation;
  }
  if (setup.variances == nullptr) {
    setup.variances = &ctx_.counters->reconciliation_variances;
  }
  if (!setup.report_variance) {
    // Channel actors stop before the runtime goes (the destructor), so `this` outlives them.
    setup.report_variance = [this](variance_report report) { report_variance(std::move(report)); };
  }
}

void runtime::start_alerts(alerts_setup setup) {
  std::lock_guard lock(alerts_mutex_);
  if (setup.sinks.empty() || setup.http == nullptr || alerts_) {
    return;
  }
  setup.channels = channels_;
  if (setup.counters == nullptr) {
    setup.counters = ctx_.counters;
  }
  alerts_ = system_->spawn(alerts, std::move(setup));
}

void runtime::report_variance(variance_report report) {
  // Called from channel actors (a finished reconciliation run): alerts_ is set after they start.
  std::lock_guard lock(alerts_mutex_);
  if (alerts_) {
    caf::anon_send(*alerts_, variance_atom::value, std::move(report));
  }
}

std::vector<channel_actor> runtime::channels_named(const engine::channel_id& channel) const {
  std::lock_guard lock(channels_mutex_);
  std::vector<channel_actor> targets;
  for (std::size_t i = 0; i < channels_.size(); ++i) {
    if (channel.empty() || channel_ids_[i] == channel) {
      targets.push_back(channels_[i]);
    }
  }
  return targets;
}

void runtime::out_of_sync(engine::channel_id channel, std::chrono::milliseconds min_age,
                          std::uint64_t limit,
                          std::function<void(std::vector<out_of_sync_entry>)> reply) {
  ask_channels_for_lists<out_of_sync_entry>(*system_, channels_named(channel),
                                            ctx_.opts.request_timeout, std::move(reply),
                                            oos_atom::value,
                                            static_cast<std::int64_t>(min_age.count()), limit);
}

void runtime::dead_letters(engine::channel_id channel, std::uint64_t limit,
                           std::function<void(std::vector<out_of_sync_entry>)> reply) {
  ask_channels_for_lists<out_of_sync_entry>(*system_, channels_named(channel),
                                            ctx_.opts.request_timeout, std::move(reply),
                                            dead_atom::value, limit);
}

void runtime::repush(const engine::channel_id& channel,
                     std::function<void(std::optional<std::uint64_t>)> reply) {
  ask_channels<std::uint64_t>(*system_, channels_named(channel), ctx_.opts.request_timeout,
                              [reply = std::move(reply)](std::vector<std::uint64_t> answers) {
                                reply(answers.empty() ? std::nullopt
                                                      : std::optional<std::uint64_t>(answers[0]));
                              },
                              repush_atom::value);
}

void runtime::reconcile(const engine::channel_id& channel,
                        std::function<void(std::optional<reconcile_started>)> reply) {
  ask_channels<reconcile_started>(
      *system_, channels_named(channel), ctx_.opts.request_timeout,
      [reply = std::move(reply)](std::vector<reconcile_started> answers) {
        reply(answers.empty() ? std::nullopt : std::optional<reconcile_started>(answers[0]));
      },
      reconcile_atom::value);
}

void runtime::channel_statuses(std::function<void(std::vector<channel_status>)> reply) {
  ask_channels<channel_status>(*system_, channels_named({}), ctx_.opts.request_timeout,
                               std::move(reply), status_atom::value);
}

void runtime::channel_status_of(const engine::channel_id& channel,
                                std::function<void(std::optional<channel_status>)> reply) {
  auto targets = channels_named(channel);
  if (channel.empty() || targets.empty()) {
    reply(std::nullopt);
    return;
  }
  ask_channels<channel_status>(*system_, targets, ctx_.opts.request_timeout,
                               [reply = std::move(reply)](std::vector<channel_status> answers) {
                                 reply(answers.empty() ? std::nullopt
                                                       : std::optional(std::move(answers[0])));
                               },
                               status_atom::value);
}

runtime::reconfigure_result runtime::reconfigure(reconfiguration change,
                                                 std::chrono::milliseconds timeout) {
  reconfigure_result result;
  const engine::catalog& next = *change.catalog;
  // 1. Start the added channels (they hear nothing until the routes name them).
  std::vector<channel_actor> added;
  std::map<std::string, channel_actor> by_id;
  {
    std::lock_guard lock(channels_mutex_);
    for (std::size_t i = 0; i < channels_.size(); ++i) {
      by_id.emplace(channel_ids_[i].str(), channels_[i]);
    }
  }
  for (const auto& id : change.removed) {
    by_id.erase(id.str());
  }
  for (auto& setup : change.added) {
    const engine::channel_id id = setup.info->id;
    wire_channel(setup);
    auto actor = system_->spawn(channel, std::move(setup), &next);
    by_id[id.str()] = actor;
    added.push_back(actor);
  }
  // 2. Publish the catalog and the routes: from here every actor's next message sees them.
  // The old ones stay alive (catalogs_kept_, routes_kept_): a reader may hold a pointer.
  std::vector<channel_actor> removed;
  {
    std::lock_guard lock(channels_mutex_);
    catalogs_kept_.push_back(change.catalog);
    ctx_.catalog.store(change.catalog.get(), std::memory_order_release);
    publish_routes(next, by_id);
    std::vector<channel_actor> channels;
    std::vector<engine::channel_id> ids;
    for (const auto& info : next.channels()) {
      if (auto it = by_id.find(info.id.str()); it != by_id.end()) {
        channels.push_back(it->second);
        ids.push_back(info.id);
      }
    }
    for (std::size_t i = 0; i < channels_.size(); ++i) {
      if (by_id.count(channel_ids_[i].str()) == 0) {
        removed.push_back(channels_[i]);
      }
    }
    channels_ = std::move(channels);
    channel_ids_ = std::move(ids);
  }
  // 3. Removed channels drain and stop on their own (bounded: channel.cpp drain_max).
  for (const auto& ch : removed) {
    caf::anon_send(ch, drain_atom::value);
  }
  // 4. The channels that stay: new rules and mode; each recomputes and requeues what changed.
  caf::scoped_actor self{*system_, true};
  for (auto& options : change.kept) {
    auto it = by_id.find(options.id.str());
    const engine::channel_info* info = next.find_channel(options.id);
    if (it == by_id.end() || info == nullptr) {
      continue;
    }
    channel_config config{&next, info, options};
    self->request(it->second, timeout, reconfig_atom::value, std::move(config))
        .receive([&result](std::uint64_t changed) { result.requeued += changed; },
                 [&result, &options](caf::error&) {
                   result.complete = false;
                   result.problem += "channel " + options.id.str() + " did not answer; ";
                 });
  }
  // 5. Added channels learn the current stock: a checkpoint round makes the checkpoints as new
  // as the actors, then they are read. A stock change that reached a channel live meanwhile is
  // newer than its checkpoint: the channel keeps it (seeded_atom ends that bookkeeping).
  if (!added.empty() && ctx_.db != nullptr) {
    if (!flush(timeout) || !seed(added, timeout)) {
      result.complete = false;
      result.problem += "seeding the added channels failed or timed out; ";
    }
  }
  for (const auto& ch : added) {
    caf::anon_send(ch, seeded_atom::value);
  }
  return result;
}

bool runtime::flush(std::chrono::milliseconds timeout) {
  caf::scoped_actor self{*system_, true};
  bool ok = true;
  for (auto& shard : shards_) {
    self->request(shard, timeout, flush_atom::value)
        .receive([](std::uint64_t) {}, [&ok](caf::error&) { ok = false; });
  }
  return ok;
}

bool runtime::wait_idle(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ctx_.counters->in_flight.load(std::memory_order_relaxed) > 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::uint64_t runtime::watermark_min() const {
  std::uint64_t low = UINT64_MAX;
  for (const auto& wm : watermarks_) {
    low = std::min(low, wm.load(std::memory_order_relaxed));
  }
  return low == UINT64_MAX ? 0 : low;
}

} // namespace stockd::actors
