#pragma once
// A directory shard on CAF's deterministic test coordinator over a real LMDB in a temporary
// directory: nothing runs until the test says run(), so every interleaving is chosen by the test.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "actors/channel.hpp"
#include "actors/directory_shard.hpp"
#include "actors/kit_reservation.hpp"
#include "connectors/channel_client.hpp"
#include "engine/catalog.hpp"
#include "engine/time.hpp"
#include "store/database.hpp"

namespace stockd::actors::testing {

using namespace std::chrono_literals;
namespace engine = stockd::engine;
namespace actors = stockd::actors;
namespace store = stockd::store;

struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::filesystem::path& parent = std::filesystem::temp_directory_path()) {
    std::string pattern = (parent / "stockd-actors-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

/// A parent for temp_dir where fsync costs nothing (tmpfs /dev/shm when there is one), for tests
/// that commit to LMDB often and restart only in-process, so durability is not what they test.
inline std::filesystem::path memory_temp_parent() {
  std::error_code ec;
  const std::filesystem::path shm = "/dev/shm";
  if (std::filesystem::is_directory(shm, ec) && ::access(shm.c_str(), W_OK) == 0) {
    return shm;
  }
  return std::filesystem::temp_directory_path();
}

/// A fresh LMDB under `dir`; 16 MiB holds more than any test here writes.
inline std::unique_ptr<store::database> open_test_database(const std::filesystem::path& dir) {
  store::options opts;
  opts.dir = dir;
  opts.map_size_bytes = 16u << 20;
  auto opened = store::database::open(opts);
  REQUIRE(opened.has_value());
  return std::move(*opened);
}

/// Locations by id, in this order, with no aliases.
inline std::vector<engine::location_info> test_locations(const std::vector<std::string>& ids) {
  std::vector<engine::location_info> out;
  for (const auto& id : ids) {
    out.push_back(engine::location_info{engine::location_id(id), {}});
  }
  return out;
}

/// CAF's deterministic scheduler (nothing runs until the test says run()) and a quiet log.
inline void use_test_coordinator(caf::actor_system_config& cfg) {
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
}

/// A channel client that takes every push and read and never answers: the tests that use it
/// look at the outbox, not at the calls.
class silent_client : public connectors::channel_client {
public:
  std::size_t batch_max() const override { return 50; }
  void push(std::vector<connectors::push_item>, std::function<void(connectors::push_result)>)
      override {}
  void read(std::vector<engine::sku_id>, std::function<void(connectors::read_result)>) override {}
};

/// An outbox write the test completes by hand (shard_under_test::complete_outbox).
struct outbox_job {
  std::vector<store::outbox_record> records;
  store::outbox_completion done;
};

/// One directory shard on the test coordinator; `restart()` drops the actor system and builds a
/// new one over the same LMDB, as a process restart would. With `with_channel`, a channel "shop"
/// sells from the first location, and its outbox writes wait in `outbox_jobs` for the test.
class shard_under_test {
public:
  explicit shard_under_test(const std::filesystem::path& dir,
                            std::vector<std::string> locations = {"main", "east"},
                            bool with_channel = false)
      : catalog_(test_locations(locations), {}, {},
                 with_channel ? std::vector<engine::channel_info>{{engine::channel_id("shop"),
                                                              {engine::location_id(
                                                                  locations.front())},
                                                              {}}}
                         : std::vector<engine::channel_info>{}),
        with_channel_(with_channel), db_(open_test_database(dir)), watermarks_(1) {
    start();
  }
  ~shard_under_test() { stop(); }

  void start() {
    watermarks_[0].store(db_->replay_from(1) - 1);
    ctx_.opts.checkpoint_interval = 1h;  // ticks are sent by hand
    ctx_.opts.request_timeout = 1s;
    ctx_.db = db_.get();
    ctx_.counters = &counters_;
    ctx_.watermarks = &watermarks_;
    ctx_.persist = [this](std::vector<store::checkpoint_record> records, std::uint32_t index,
                          std::uint64_t watermark, store::checkpoint_completion done) {
      ++persist_calls;
      if (fail_next_persist) {
        fail_next_persist = false;
        store::error failure{store::errc::io_error, "injected"};
        done(&failure);
        return true;
      }
      auto written = db_->write_checkpoints(records, index, watermark);
      done(written ? nullptr : &written.error());
      return true;
    };
    cfg_ = std::make_unique<caf::actor_system_config>();
    use_test_coordinator(*cfg_);
    system_ = std::make_unique<caf::actor_system>(*cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
    if (with_channel_) {
      actors::channel_setup setup;
      setup.info = catalog_.find_channel(engine::channel_id("shop"));
      setup.options.id = engine::channel_id("shop");
      setup.client = std::make_shared<silent_client>();
      setup.clock = [this] { return channel_now; };
      setup.wall_clock = [] { return engine::timestamp{}; };
      setup.db = db_.get();
      setup.persist = [this](std::vector<store::outbox_record> records,
                             store::outbox_completion done) {
        outbox_jobs.push_back({std::move(records), std::move(done)});
        return true;
      };
      channel = system_->spawn(actors::channel, std::move(setup), &catalog_);
      routes_[catalog_.locations().front().id.str()].push_back(channel);
      ctx_.channels_by_location.store(&routes_, std::memory_order_release);
    }
    shard = system_->spawn(actors::directory_shard, 0u, &ctx_, &catalog_);
    run();
  }

  /// Completes the outbox writes waiting (stored when `ok`), oldest first; at most `max`,
  /// counting those the completions start.
  void complete_outbox(bool ok = true, std::size_t max = SIZE_MAX) {
    for (std::size_t done = 0; done < max && !outbox_jobs.empty(); ++done) {
      auto job = std::move(outbox_jobs.front());
      outbox_jobs.pop_front();
      if (ok) {
        std::vector<store::append_status> none;
        REQUIRE(db_->commit({}, none, {}, job.records).has_value());
        job.done(nullptr);
      } else {
        store::error failure{store::errc::io_error, "injected"};
        job.done(&failure);
      }
      run();
    }
  }

  /// Fires every timer due (request timeouts included), then runs what they sent.
  void fire_timers() {
    sched_->trigger_timeouts();
    run();
  }

  void stop() {
    if (system_ == nullptr) {
      return;
    }
    caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
    if (channel) {
      caf::anon_send_exit(channel, caf::exit_reason::user_shutdown);
    }
    run();
    shard = nullptr;
    channel = nullptr;
    ctx_.channels_by_location.store(nullptr);
    routes_.clear();
    outbox_jobs.clear();
    system_.reset();
    cfg_.reset();
  }

  void restart() {
    stop();
    counters_.live_actors.store(0);
    start();
  }

  void run() { sched_->run(); }

  void deliver(std::vector<engine::journal_entry> batch) {
    caf::anon_send(shard, actors::deliver_atom::value, std::move(batch));
    run();
  }

  void checkpoint(std::uint64_t head) {
    caf::anon_send(shard, actors::head_atom::value, head);
    caf::anon_send(shard, actors::tick_atom::value);
    run();
  }

  actors::sku_view query(const std::string& sku) {
    std::optional<actors::sku_view> answer;
    caf::anon_send(shard, actors::get_atom::value, engine::sku_id(sku),
                   actors::sku_view_callback([&answer](actors::sku_view v) { answer = std::move(v); }));
    run();
    REQUIRE(answer.has_value());
    return std::move(*answer);
  }

  /// The batched read (runtime::read_states asks each shard this).
  actors::key_states read_states(actors::key_list keys) {
    std::optional<actors::key_states> answer;
    caf::anon_send(shard, actors::get_atom::value, std::move(keys),
                   actors::key_states_callback(
                       [&answer](actors::key_states states) { answer = std::move(states); }));
    run();
    REQUIRE(answer.has_value());
    return std::move(*answer);
  }

  const engine::sku_location_state* find(const actors::sku_view& view, const std::string& location) {
    for (const auto& s : view.locations) {
      if (s.key.location.str() == location) {
        return &s;
      }
    }
    return nullptr;
  }

  store::database& db() { return *db_; }
  actors::metrics& counters() { return counters_; }

  actors::directory_shard_actor shard;
  actors::channel_actor channel;  // with `with_channel` only
  std::deque<outbox_job> outbox_jobs;
  connectors::sync_time channel_now{};  // the channel's clock; the test moves it
  int persist_calls = 0;
  bool fail_next_persist = false;

private:
  engine::catalog catalog_;
  bool with_channel_ = false;
  std::unique_ptr<store::database> db_;
  actors::metrics counters_;
  std::vector<std::atomic<std::uint64_t>> watermarks_;
  actors::context ctx_;
  actors::channel_routes routes_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> system_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
};


/// Where a reservation's answer lands once it comes: empty until then.
using answer_slot = std::shared_ptr<std::optional<actors::reservation_reply>>;

/// The callback that puts a reply into `slot`.
inline actors::reservation_callback reply_into(answer_slot slot) {
  return [slot](actors::reservation_reply r) { *slot = std::move(r); };
}

/// A copy of the answer in `slot` (which may be a temporary); fails the test when none has come.
inline actors::reservation_reply answered(const answer_slot& slot) {
  REQUIRE(slot->has_value());
  return **slot;
}

/// Directory shards for reservation tests, on the test coordinator over a real LMDB journal in
/// their own temporary directory. The journal writer is played by the test: submissions queue in
/// `submitted` until `commit_journal()`, which appends each submission in one transaction (with
/// the real dedup), delivers the fresh entries and then reports each entry's result, in the order
/// the production writer thread does. The engine's clock is `now`; checkpoints are never written.
class journaled_shards {
public:
  journaled_shards(engine::catalog catalog, std::uint32_t shard_count)
      : catalog_(std::move(catalog)),
        shard_count_(shard_count),
        db_(open_test_database(dir_.path)),
        watermarks_(shard_count) {
    ctx_.opts.checkpoint_interval = 1h;  // ticks are never sent
    ctx_.opts.request_timeout = 10s;
    ctx_.db = db_.get();
    ctx_.counters = &counters_;
    ctx_.watermarks = &watermarks_;
    ctx_.persist = [](std::vector<store::checkpoint_record>, std::uint32_t, std::uint64_t,
                      store::checkpoint_completion) { return false; };
    ctx_.clock = [this] { return now; };
    ctx_.submit = [this](engine::journal_entry entry) {
      std::vector<engine::journal_entry> one;
      one.push_back(std::move(entry));
      return queue(std::move(one));
    };
    ctx_.submit_batch = [this](std::vector<engine::journal_entry> entries) {
      return queue(std::move(entries));
    };
    counters_.ready.store(true);
    use_test_coordinator(cfg_);
    system_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
    for (std::uint32_t i = 0; i < shard_count_; ++i) {
      shards_.push_back(system_->spawn(actors::directory_shard, i, &ctx_, &catalog_));
    }
    run();
  }
  ~journaled_shards() { shutdown(); }
  journaled_shards(const journaled_shards&) = delete;
  journaled_shards& operator=(const journaled_shards&) = delete;

  /// Stops the shards and the actor system, as the runtime does; waits for every actor.
  void shutdown() {
    if (system_ == nullptr) {
      return;
    }
    for (auto& shard : shards_) {
      caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
    }
    run();
    shards_.clear();
    system_.reset();
  }

  void run() { sched_->run(); }
  void fire_timers() {
    sched_->trigger_timeouts();
    run();
  }

  const actors::directory_shard_actor& shard_of(const std::string& sku) const {
    return shards_[actors::shard_of(engine::sku_id(sku), shard_count_)];
  }

  /// Plays the journal writer: each submission in one append, deliver the fresh, then report.
  void commit_journal() {
    while (!submitted.empty()) {
      std::vector<engine::journal_entry> batch = std::move(submitted.front());
      submitted.pop_front();
      ++commits;
      std::vector<store::append_status> statuses;
      REQUIRE(db_->append(batch, statuses).has_value());
      std::vector<actors::journal_result> results;
      std::vector<actors::entry_batch> fresh(shard_count_);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto& ev = batch[i].ev;
        results.push_back(actors::journal_result{
            {ev.sku, ev.location}, ev.id, statuses[i].seq, statuses[i].duplicate, std::nullopt});
        if (!statuses[i].duplicate) {
          counters_.in_flight.fetch_add(1);
          fresh[actors::shard_of(ev.sku, shard_count_)].push_back(std::move(batch[i]));
        }
      }
      for (std::uint32_t s = 0; s < shard_count_; ++s) {
        if (!fresh[s].empty()) {
          caf::anon_send(shards_[s], actors::deliver_atom::value, std::move(fresh[s]));
        }
      }
      for (auto& result : results) {
        caf::anon_send(shard_of(result.key.sku.str()), actors::journaled_atom::value,
                       std::move(result));
      }
      run();
    }
  }

  /// Journals an ordinary event (a receipt, an order) the way ingest does.
  void ingest(engine::journal_entry e) {
    std::vector<engine::journal_entry> one;
    one.push_back(std::move(e));
    submitted.push_back(std::move(one));
    commit_journal();
  }

  /// A reservation of one SKU, sent to its shard as the HTTP layer sends it.
  answer_slot send_reserve(actors::reserve_request req) {
    auto answer = std::make_shared<std::optional<actors::reservation_reply>>();
    const auto& shard = shard_of(req.sku.str());
    caf::anon_send(shard, actors::reserve_atom::value, std::move(req), reply_into(answer));
    run();
    return answer;
  }

  /// A release or commit of one SKU's reservation, sent to its shard.
  answer_slot send_end(actors::end_request req) {
    auto answer = std::make_shared<std::optional<actors::reservation_reply>>();
    const auto& shard = shard_of(req.key.sku.str());
    caf::anon_send(shard, actors::end_atom::value, std::move(req), reply_into(answer));
    run();
    return answer;
  }

  /// The SKU's state at `location`, or nullopt when nothing has touched it there.
  std::optional<engine::sku_location_state> find_state(const std::string& sku,
                                                       const std::string& location) {
    std::optional<actors::sku_view> view;
    caf::anon_send(shard_of(sku), actors::get_atom::value, engine::sku_id(sku),
                   actors::sku_view_callback([&view](actors::sku_view v) { view = std::move(v); }));
    run();
    REQUIRE(view.has_value());
    for (auto& s : view->locations) {
      if (s.key.location.str() == location) {
        return s;
      }
    }
    return std::nullopt;
  }

  /// The SKU's journal entries, newest first (the first 100).
  std::vector<engine::journal_entry> ledger(const std::string& sku) {
    auto entries = db_->sku_ledger(engine::sku_id(sku), 0, 100);
    REQUIRE(entries.has_value());
    return *entries;
  }

  std::uint64_t journal_head() const { return db_->journal_head(); }

  std::deque<std::vector<engine::journal_entry>> submitted;
  bool refuse_submissions = false;
  int commits = 0;
  engine::timestamp now = *engine::parse_rfc3339("2026-11-27T10:00:00Z");

protected:
  caf::actor_system& system() { return *system_; }
  const engine::catalog& catalog() const { return catalog_; }
  actors::kit_routes routes() const { return actors::kit_routes{&ctx_, shards_}; }

private:
  bool queue(std::vector<engine::journal_entry> entries) {
    if (refuse_submissions) {
      return false;
    }
    submitted.push_back(std::move(entries));
    return true;
  }

  temp_dir dir_;
  engine::catalog catalog_;
  std::uint32_t shard_count_;
  std::unique_ptr<store::database> db_;
  actors::metrics counters_;
  std::vector<std::atomic<std::uint64_t>> watermarks_;
  actors::context ctx_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::vector<actors::directory_shard_actor> shards_;
};


} // namespace stockd::actors::testing
