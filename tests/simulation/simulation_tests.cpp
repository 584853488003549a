// Deterministic simulation of the whole engine (issue 6 item 1): the real directory shards,
// sku_location actors and channel actors (with the real connectors::channel_sync and rate
// limiters) on CAF's test coordinator, over a real LMDB in a temporary directory, driven by one
// seed. The world around them is played by this file: clients sending random event traffic
// (tests/engine's stream generator, with duplicates, reordering and delays), the journal writer,
// the outbox writer, two in-memory channels with customers and faults, the clock, and restarts of
// the whole engine (the actor system dropped, LMDB closed and reopened, recovery).
//
// What is deterministic, and why: nothing runs concurrently. CAF's test coordinator runs actors
// only when the simulation calls run(), one message at a time in FIFO order; its clock
// (delayed_send: the channels' wake-ups, the shards' checkpoint timer, reservation timers) moves
// only by advance_time(), in lock-step with the virtual clock the channel actors take from
// channel_setup::clock and the engine from context::clock. The seams where production has
// threads are played synchronously here, each step chosen by the seed:
//  - the journal writer thread (store::writer): a submission queues until a `commit` step,
//    which appends it to LMDB (real dedup, real seqs), dispatches the fresh entries to the
//    shards exactly as runtime::dispatch does, tells the shards the head, and answers the client
//    (or, for events the engine journals itself, the owning shard);
//  - checkpoint writes (context::persist) are written to LMDB synchronously (one in ten fails);
//  - outbox writes (channel_setup::persist) queue until a `store` step (one in ten fails);
//  - connector calls (channel_client) queue in the fake channel until an `answer` step;
//  - recovery is runtime::recover's sequence (prepare_recovery, restore outboxes at channel
//    spawn, seed the channels from the checkpoints, replay the journal from the watermark,
//    publish the head, wake actors with expiring holds), sent as messages and run to the end
//    rather than waited for from another thread.
// What is real: the engine, the actors, the channel sync logic, the limiters, LMDB, the outbox
// and checkpoint encodings. The HTTP layer, the store::writer thread, the connectors' HTTP
// clients and runtime's thread-blocking helpers are not in this test (tests/e2e covers them).
//
// Invariants, after every step: every delivery applied (nothing stuck in a mailbox: the
// engine's in-flight count is back to 0); each SKU's state at DC-EAST equals the reference
// model's fold of the journal, and every state keeps the bucket invariants; no push or read
// reached a channel while the limiter it models said wait (its token or cost bucket, or a
// Retry-After it answered); no push raised the compare-and-set channel above the stock minus
// the sales stockd has not seen yet; at most one push, one read and one outbox write in flight
// per channel. At the end, after faults and sales stop: every event the clients sent is
// acknowledged and in the journal exactly once, every channel shows what its rules say for the
// final state (or the SKU is a dead letter with a reason), every stored outbox entry is
// acknowledged or parked with a reason, and the channels report nothing queued or out of sync
// beyond their dead letters.
//
// Seeds: `first_seed` + i for `default_seed_count` seeds; STOCKD_SIM_SEEDS=n runs n of them
// (from STOCKD_SIM_FIRST when set),
// STOCKD_SIM_SEED=n replays that one seed alone (STOCKD_SIM_TRACE=1 prints its steps), and a
// failing seed is printed. scripts/simulate.sh N sweeps N seeds.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "actors/channel.hpp"
#include "actors/context.hpp"
#include "actors/directory_shard.hpp"
#include "connectors/channel_client.hpp"
#include "connectors/outbox.hpp"
#include "engine/apply.hpp"
#include "engine/catalog.hpp"
#include "engine/channel_rules.hpp"
#include "engine/codec.hpp"
#include "store/database.hpp"
#include "../engine/reference_model.hpp"
#include "../engine/stream_generator.hpp"

namespace {

using namespace std::chrono_literals;
namespace engine = stockd::engine;
namespace actors = stockd::actors;
namespace connectors = stockd::connectors;
namespace store = stockd::store;
using connectors::sync_time;

constexpr std::uint32_t first_seed = 0x51d0001;
constexpr int default_seed_count = 200;
// Seeds that once failed, with what each found; they run in every sweep.
struct regression_seed {
  std::uint32_t seed;
  const char* found;
};
// Seeds with open findings, not triaged yet: skipped by the sweep (STOCKD_SIM_SEED=n still runs
// one alone, STOCKD_SIM_SKIP_NONE=1 runs them all). Triage, fix, then move them to
// regression_seeds. None open now.
const std::set<std::uint32_t> open_seeds = {};
// A channel left showing a value other than its expected one while its record said in sync: a
// push that may have applied (its answer lost to a timeout, or its confirmation to a restart) was
// forgotten once the target came back to the shadow (connectors/channel_sync.hpp, in_sync()).
constexpr const char* found_maybe_applied =
    "a push that may have applied was dropped when the target came back to the shadow";
// The shop raised over sales stockd had not journaled: units held back as unseen were forgotten
// in a restart, and their orders were taken off the shadow a second time (connectors/outbox.hpp,
// `unseen`).
constexpr const char* found_unseen_restart = "unseen units were not kept across a restart";
constexpr const char* found_checkpoint_passed_outbox =
    "a checkpoint passed an own order a channel had not stored";
const std::vector<regression_seed> regression_seeds = {
    {85786634, found_maybe_applied}, {85786640, found_maybe_applied},
    {85786647, found_maybe_applied}, {85786667, found_maybe_applied},
    {85786690, found_maybe_applied}, {85786698, found_maybe_applied},
    {85786712, found_unseen_restart}, {85786719, found_maybe_applied},
    {85786722, found_maybe_applied}, {85786734, found_unseen_restart},
    {85786735, found_maybe_applied}, {85786743, found_maybe_applied},
    {85786757, found_maybe_applied}, {85786762, found_maybe_applied},
    {85786772, found_maybe_applied}, {85786784, found_maybe_applied},
    {85786809, found_maybe_applied}, {85786822, found_maybe_applied},
    // The end checks read a stored outbox entry older than the record: a failed outbox write
    // waits for its retry timer, and the harness called the channels settled meanwhile (the
    // status now says `outbox_pending`).
    {85786645, "settled before a failed outbox write was retried"},
    // Own orders the locations replay at start-up were taken off the shadow a second time
    // (connectors/outbox.hpp, `order_seqs`).
    {85786802, "replayed own orders lowered the shadow twice"},
    // With sales pending across restarts (the second sweep): a read that was due was lost in a
    // restart (`needs_read`), and a queued change went out above the target once a read had
    // become due (channel_sync::take_from).
    {85786688, "a read due before a restart was forgotten"},
    {85786724, "a queued intent went out above the target while a read was due"},
    {85786765, "a queued intent went out above the target while a read was due"},
    // Found by a 1,500-seed sweep from 1000 (session 10). The channel actor aged an order's
    // occurred_at by the real wall clock while the simulation's orders all carried its epoch:
    // every own order looked sold before any read and never lowered the shadow (the shop showed
    // 1, stockd believed 5, in sync). Orders now carry the virtual time of their sale and the
    // actor reads them against channel_setup::wall_clock.
    {1097, "an own order's sale time was read against the real clock"},
    // A check read due after a sale too close to a read (verify_read) was memory only: after a
    // restart the kept-high shadow went on as if nothing were missing (`needs_read`).
    {1836, "a check read due before a restart was forgotten"},
    // An injected outbox write error stayed in the channel's status after every record was
    // stored again (nothing left to write cleared nothing), so the run never looked settled.
    {4180, "an outbox write error outlived the write"},
    // Found by sweeps of 6,000 seeds from 1000 and from 10000 (session 10). A shop's own order
    // taken by the channel, then a restart before its outbox stored it; replayed, taken again,
    // a second restart before the store, and by then the locations' checkpoint had passed the
    // order: nothing replayed it and the shadow never dropped (the shop under-showed, believed
    // in sync). A checkpoint round now waits for every channel's outbox (flush_atom).
    {3056, found_checkpoint_passed_outbox}, {3126, found_checkpoint_passed_outbox},
    {3286, found_checkpoint_passed_outbox}, {4973, found_checkpoint_passed_outbox},
    {11405, found_checkpoint_passed_outbox}};

// The world's size: small, so that collisions (the same SKU in flight, stale compare-and-set,
// parked lines) are frequent.
constexpr int sku_count = 4;
constexpr std::size_t events_per_sku = 30;
constexpr int traffic_steps = 400;
constexpr std::uint32_t shard_count = 2;
constexpr std::size_t submissions_queued_max = 8;  // the writer's queue: past it, "overloaded"
constexpr std::size_t calls_in_flight_max = 1;     // connectors::sync_options' default
const engine::location_id east{"DC-EAST"};
const engine::location_id west{"DC-WEST"};
// "shop" is Shopify-like (compare-and-set, cost bucket) and has customers; "market" is a
// token-bucket webhook without compare-and-set, so it has none: an API without compare-and-set
// cannot be kept from overwriting a sale it has not reported, which is not what this checks.
const engine::channel_id shop{"shop"};
const engine::channel_id market{"market"};

bool strict_unseen();  // below

std::string sku_name(int i) { return "SIM-" + std::string(1, static_cast<char>('A' + i)); }

struct stats {
  std::uint64_t seeds = 0;
  std::uint64_t steps = 0;
  std::uint64_t events = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t lost_acks = 0;
  std::uint64_t restarts = 0;
  std::uint64_t commits = 0;
  std::uint64_t calls = 0;
  std::uint64_t sales = 0;
  std::map<std::string, std::uint64_t> faults;
};

/// Something went wrong in a place that cannot REQUIRE (inside an actor's call into a fake):
/// kept, and the step loop fails the test with it.
struct violations {
  std::vector<std::string> found;
  void add(std::string what) { found.push_back(std::move(what)); }
};

/// A bucket the fake channel holds its caller to: what the channel's own limiter models (the
/// actor paces below it, so a call it cannot cover is a call made while the limiter said wait).
struct bucket_model {
  double capacity = 0;
  double per_second = 0;
  double push_cost = 1;
  double read_cost = 1;          // a read: this, and so much a SKU it names
  double read_cost_per_sku = 0;
  double level = 0;
  std::optional<sync_time> at;
  bool take(double cost, sync_time now) {
    if (at) {
      const double dt = std::chrono::duration<double>(now - *at).count();
      level = std::min(capacity, level + dt * per_second);
    } else {
      level = capacity;
    }
    at = now;
    level -= cost;
    return level >= -1e-6;
  }
};

struct pending_push {
  std::vector<connectors::push_item> items;
  std::function<void(connectors::push_result)> done;
};
struct pending_read {
  std::vector<engine::sku_id> skus;
  std::function<void(connectors::read_result)> done;
};

class world;

/// An in-memory channel: what it shows per SKU, idempotency keys, its limits, and the calls
/// queued until the simulation answers them. It outlives engine restarts (it is the outside).
struct fake_channel {
  engine::channel_id id;
  bool compare_and_set = false;
  std::size_t batch_max = 5;
  bucket_model bucket;
  std::map<std::string, std::int64_t> shows;
  std::map<std::string, connectors::item_result> by_key;
  std::optional<sync_time> wait_until;  // a Retry-After it answered
  std::set<std::string> bad_skus;       // it refuses these
  std::deque<pending_push> pushes;
  std::deque<pending_read> reads;
};

class fake_client : public connectors::channel_client {
public:
  fake_client(world& w, fake_channel& ch) : world_(w), ch_(ch) {}
  std::size_t batch_max() const override { return ch_.batch_max; }
  void push(std::vector<connectors::push_item> batch,
            std::function<void(connectors::push_result)> done) override;
  void read(std::vector<engine::sku_id> skus,
            std::function<void(connectors::read_result)> done) override;

private:
  world& world_;
  fake_channel& ch_;
};

struct outbox_job {
  std::vector<store::outbox_record> records;
  store::outbox_completion done;
};

struct submission {
  std::vector<engine::journal_entry> entries;
  bool engine_origin = false;  // journaled by the engine itself: results go to the shards
};

/// One client event and what became of it.
struct client_event {
  engine::event ev;
  std::optional<std::uint64_t> acked_seq;
  int sends = 0;
  bool duplicate_planned = false;
  std::int64_t sale_qty = 0;  // a customer order of the shop: its units are unseen until journaled
};

class world {
public:
  /// `pending_sales`: the shop's sales whose orders are not journaled yet stay pending across
  /// a restart (their orders arrive after it); otherwise they are journaled just before it.
  world(std::uint32_t seed, stats& totals, bool trace, bool pending_sales = strict_unseen())
      : seed_(seed), rng_(seed), totals_(totals), trace_(trace),
        pending_sales_(pending_sales), dir_(make_dir()) {
    std::vector<engine::location_info> locations{{east, {}}, {west, {}}};
    std::vector<engine::channel_info> channels{{shop, {east}, {}}, {market, {east}, {}}};
    catalog_ = engine::catalog(locations, {}, {}, channels);
    channels_[0].id = shop;
    channels_[0].compare_and_set = true;
    // The cost bucket stockd assumes for Shopify until an answer reports one (limiter_for).
    channels_[0].bucket.capacity = 1000;
    channels_[0].bucket.per_second = 50;
    channels_[0].bucket.push_cost = connectors::shopify_push_cost;
    channels_[0].bucket.read_cost = connectors::shopify_read_cost_base;
    channels_[0].bucket.read_cost_per_sku = connectors::shopify_read_cost_per_sku;
    channels_[1].id = market;
    channels_[1].bucket.capacity = static_cast<double>(market_burst);
    channels_[1].bucket.per_second = market_rate;
    if (chance(0.5)) {
      channels_[1].bad_skus.insert(sku_name(sku_count - 1));  // refused by the market: dead letter
    }
    make_traffic();
    open();
  }
  ~world() {
    stop();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  world(const world&) = delete;
  world& operator=(const world&) = delete;

  void run_seed() {
    for (int step = 0; step < traffic_steps; ++step) {
      step_once(true);
      check_step();
    }
    quiesce();
    check_end();
  }

  std::uint64_t digest() const { return digest_; }

  // ---- the fake channels' side (called by fake_client, inside an actor's handler) -----------

  void on_push(fake_channel& ch, std::vector<connectors::push_item> items,
               std::function<void(connectors::push_result)> done) {
    ++totals_.calls;
    mix(ch.id.str() + ":push");
    if (ch.wait_until && now_ < *ch.wait_until) {
      bad_.add(ch.id.str() + ": a push while its Retry-After ran");
    }
    if (!ch.bucket.take(ch.bucket.push_cost, now_)) {
      bad_.add(ch.id.str() + ": a push its rate limit had no room for");
    }
    for (const auto& item : items) {
      note(ch.id.str() + " push " + item.sku.str() + "=" + std::to_string(item.quantity) +
           " from " + (item.change_from ? std::to_string(*item.change_from) : "-") + " key " +
           item.idempotency_key + " (model expects " + std::to_string(expected_now(item.sku.str())) +
           ", shows " + std::to_string(ch.shows[item.sku.str()]) + ")");
      auto& base = expected_at_send_[item.idempotency_key];
      base = std::max(base, std::max(expected_before_step(item.sku.str()),
                                     expected_now(item.sku.str())));
    }
    if (ch.pushes.size() >= calls_in_flight_max) {
      bad_.add(ch.id.str() + ": more pushes in flight than calls_in_flight_max");
    }
    ch.pushes.push_back({std::move(items), std::move(done)});
  }

  void on_read(fake_channel& ch, std::vector<engine::sku_id> skus,
               std::function<void(connectors::read_result)> done) {
    mix(ch.id.str() + ":read");
    if (ch.wait_until && now_ < *ch.wait_until) {
      bad_.add(ch.id.str() + ": a read while its Retry-After ran");
    }
    const double cost =
        ch.bucket.read_cost + ch.bucket.read_cost_per_sku * static_cast<double>(skus.size());
    if (!ch.bucket.take(cost, now_)) {
      bad_.add(ch.id.str() + ": a read its rate limit had no room for");
    }
    if (!ch.reads.empty()) {
      bad_.add(ch.id.str() + ": two reads in flight");
    }
    ch.reads.push_back({std::move(skus), std::move(done)});
  }

private:
  static constexpr double market_rate = 5;
  static constexpr std::int64_t market_burst = 2;

  static std::filesystem::path make_dir() {
    std::error_code ec;
    std::filesystem::path parent = "/dev/shm";
    if (!std::filesystem::is_directory(parent, ec) || ::access(parent.c_str(), W_OK) != 0) {
      parent = std::filesystem::temp_directory_path();
    }
    std::string pattern = (parent / "stockd-sim-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    return pattern;
  }

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::uint64_t pick(std::uint64_t n) { return rng_() % n; }

  void mix(const std::string& s) {
    for (unsigned char c : s) {
      digest_ = (digest_ ^ c) * 1099511628211ULL;
    }
    digest_ = (digest_ ^ 0xff) * 1099511628211ULL;
  }

  void note(const std::string& what) {
    mix(what);
    if (trace_) {
      std::printf("[%lld ms] %s\n",
                  static_cast<long long>(
                      std::chrono::duration_cast<std::chrono::milliseconds>(now_ - start_).count()),
                  what.c_str());
    }
  }

  // ---- traffic ------------------------------------------------------------------------------

  void make_traffic() {
    for (int s = 0; s < sku_count; ++s) {
      engine::testing::stream_generator generate(seed_ * 31u + static_cast<std::uint32_t>(s));
      auto entries = generate.make(events_per_sku);
      for (std::size_t i = 0; i < entries.size(); ++i) {
        engine::event ev = std::move(entries[i].ev);
        ev.sku = engine::sku_id(sku_name(s));
        ev.id = sku_name(s) + ":" + std::to_string(i);
        client_event ce;
        ce.ev = std::move(ev);
        ce.duplicate_planned = chance(0.15);
        by_id_.emplace(ce.ev.id, events_.size());
        events_.push_back(std::move(ce));
      }
    }
    // Sent in a shuffled order: the journal's order is whatever the commits make of it.
    for (std::size_t i = 0; i < events_.size(); ++i) {
      unsent_.push_back(i);
    }
    std::shuffle(unsent_.begin(), unsent_.end(), rng_);
    for (int s = 0; s < sku_count; ++s) {
      engine::reference::model m;
      m.key = {engine::sku_id(sku_name(s)), east};
      models_.emplace(sku_name(s), m);
    }
  }

  std::int64_t expected_of(const engine::reference::model& m) const {
    const engine::location_stock stock{m.q[static_cast<std::size_t>(engine::bucket::available)],
                                       m.q[static_cast<std::size_t>(engine::bucket::incoming)]};
    return engine::channel_quantity(engine::channel_rules{}, {&stock, 1});
  }
  std::int64_t expected_now(const std::string& sku) const { return expected_of(models_.at(sku)); }
  std::int64_t expected_before_step(const std::string& sku) const {
    auto it = expected_at_step_.find(sku);
    return it == expected_at_step_.end() ? 0 : it->second;
  }

  // ---- the engine: start, stop, recover -----------------------------------------------------

  void open() {
    store::options opts;
    opts.dir = dir_;
    opts.map_size_bytes = 16u << 20;
    auto opened = store::database::open(opts);
    REQUIRE(opened.has_value());
    db_ = std::move(*opened);
    start();
  }

  void start() {
    ++boot_;
    REQUIRE(db_->prepare_recovery(shard_count).has_value());
    counters_ = std::make_unique<actors::metrics>();
    watermarks_ = std::make_unique<std::vector<std::atomic<std::uint64_t>>>(shard_count);
    const std::uint64_t from = db_->replay_from(shard_count);
    for (auto& wm : *watermarks_) {
      wm.store(from - 1);
    }
    ctx_ = std::make_unique<actors::context>();
    ctx_->opts.checkpoint_interval = 5s;
    ctx_->opts.request_timeout = 10s;
    ctx_->opts.in_flight_max = 10'000;
    ctx_->db = db_.get();
    ctx_->counters = counters_.get();
    ctx_->watermarks = watermarks_.get();
    ctx_->clock = [this] { return wall_now(); };
    ctx_->persist = [this](std::vector<store::checkpoint_record> records, std::uint32_t index,
                           std::uint64_t watermark, store::checkpoint_completion done) {
      if (chance(0.1)) {
        ++totals_.faults["checkpoint write failed"];
        store::error failure{store::errc::io_error, "injected"};
        done(&failure);
        return true;
      }
      auto written = db_->write_checkpoints(records, index, watermark);
      done(written ? nullptr : &written.error());
      return true;
    };
    ctx_->submit = [this](engine::journal_entry entry) {
      std::vector<engine::journal_entry> one;
      one.push_back(std::move(entry));
      return submit_engine(std::move(one));
    };
    ctx_->submit_batch = [this](std::vector<engine::journal_entry> entries) {
      return submit_engine(std::move(entries));
    };
    cfg_ = std::make_unique<caf::actor_system_config>();
    cfg_->set("scheduler.policy", caf::atom("testing"));
    cfg_->set("logger.file-verbosity", caf::atom("quiet"));
    cfg_->set("logger.console", caf::atom("none"));
    system_ = std::make_unique<caf::actor_system>(*cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
    // The actor system's clock starts where the virtual clock is (a restart keeps the time).
    sched_->clock().current_time += now_ - start_;
    for (auto& ch : channels_) {
      actors::channel_setup setup;
      setup.info = catalog_.find_channel(ch.id);
      setup.options.id = ch.id;
      setup.options.connector = ch.compare_and_set ? connectors::connector_kind::shopify
                                                   : connectors::connector_kind::webhook;
      setup.options.requests_per_second = market_rate;
      setup.options.burst = market_burst;
      setup.options.batch_size = static_cast<std::int64_t>(ch.batch_max);
      setup.options.settle = 200ms;
      // Longer than any sale's order takes to reach the journal here, as the setting asks: a
      // hold released before its order arrives lets a push raise the channel over that sale by
      // design (the order is then taken to be lost).
      setup.options.unseen_hold = 5min;
      setup.client = std::make_shared<fake_client>(*this, ch);
      setup.clock = [this] { return now_; };
      setup.wall_clock = [this] { return wall_now(); };
      setup.boot = boot_;
      setup.db = db_.get();
      setup.persist = [this](std::vector<store::outbox_record> records,
                             store::outbox_completion done) {
        outbox_jobs_.push_back({std::move(records), std::move(done)});
        return true;
      };
      auto actor = system_->spawn(actors::channel, std::move(setup), &catalog_);
      routes_[east.str()].push_back(actor);
      channel_actors_.push_back(actor);
    }
    // Published once, before the shards exist, as the runtime does (actors/context.hpp).
    ctx_->channels_by_location.store(&routes_, std::memory_order_release);
    for (std::uint32_t i = 0; i < shard_count; ++i) {
      shards_.push_back(system_->spawn(actors::directory_shard, i, ctx_.get(), &catalog_));
    }
    run();
    recover();
  }

  /// runtime::recover's steps, on the test coordinator.
  void recover() {
    // Seed the channels from the checkpoints of the locations they sell from.
    std::optional<engine::sku_location_key> after;
    for (;;) {
      auto records = db_->read_checkpoints(after, 64);
      REQUIRE(records.has_value());
      std::vector<actors::stock_update> updates;
      for (const auto& record : *records) {
        if (record.key.location != east) {
          continue;
        }
        auto state = engine::decode_state(record.state_bytes);
        REQUIRE(state.has_value());
        actors::stock_update u;
        u.key = record.key;
        u.available = state->qty.available;
        u.incoming = state->qty.incoming;
        updates.push_back(u);
      }
      for (auto& ch : channel_actors_) {
        caf::anon_send(ch, actors::seed_atom::value, updates);
      }
      run();
      if (records->size() < 64) {
        break;
      }
      after = records->back().key;
    }
    // Replay the journal from the watermark.
    const std::uint64_t head = db_->journal_head();
    std::uint64_t next = db_->replay_from(shard_count);
    while (next <= head) {
      std::vector<engine::journal_entry> batch;
      auto read = db_->read_journal(next, 64, [&](const engine::journal_entry& e) {
        batch.push_back(e);
        return true;
      });
      REQUIRE(read.has_value());
      if (batch.empty()) {
        break;
      }
      next = batch.back().seq + 1;
      dispatch(std::move(batch));
      run();
    }
    publish_head(head);
    // Wake the actors whose checkpoint holds a reservation with an expiry.
    auto page = db_->read_checkpoints(std::nullopt, 1'000);
    REQUIRE(page.has_value());
    for (const auto& record : *page) {
      auto state = engine::decode_state(record.state_bytes);
      REQUIRE(state.has_value());
      for (const auto& r : state->reservations) {
        if (r.expires_at) {
          caf::anon_send(shards_[actors::shard_of(record.key.sku, shard_count)],
                         actors::wake_atom::value, record.key);
          break;
        }
      }
    }
    run();
    REQUIRE(counters_->in_flight.load() == 0);
    counters_->ready.store(true);
  }

  void stop() {
    if (system_ == nullptr) {
      return;
    }
    for (auto& shard : shards_) {
      caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
    }
    for (auto& ch : channel_actors_) {
      caf::anon_send_exit(ch, caf::exit_reason::user_shutdown);
    }
    run();
    shards_.clear();
    channel_actors_.clear();
    ctx_->channels_by_location.store(nullptr);
    routes_.clear();
    system_.reset();
    cfg_.reset();
    sched_ = nullptr;
  }

  /// A crash of the whole engine at this point: what the writer threads had committed stays
  /// (each pending job: committed or not, by the seed), answers in flight are lost, and the
  /// channels may or may not have applied the calls in flight.
  void restart() {
    ++totals_.restarts;
    note("restart");
    if (!pending_sales_) {
      journal_sales();
    }
    counters_->ready.store(false);
    while (!submissions_.empty()) {
      auto sub = std::move(submissions_.front());
      submissions_.pop_front();
      if (chance(0.5)) {
        commit_one(std::move(sub), /*answer=*/false);  // durable, but nobody heard the answer
      }
    }
    while (!outbox_jobs_.empty()) {
      auto job = std::move(outbox_jobs_.front());
      outbox_jobs_.pop_front();
      if (chance(0.5)) {
        std::vector<store::append_status> none;
        REQUIRE(db_->commit({}, none, {}, job.records).has_value());
      }
    }
    for (auto& ch : channels_) {
      for (auto& call : ch.pushes) {
        if (chance(0.5)) {
          for (const auto& item : call.items) {
            apply_item(ch, item);
          }
        }
      }
      ch.pushes.clear();
      ch.reads.clear();
      // A new process starts with a fresh limiter (full, no pause): a Retry-After or a drained
      // bucket from before is not something it could know (the API answers it with a 429 then).
      ch.bucket.at.reset();
      ch.wait_until.reset();
    }
    stop();
    db_.reset();
    // The clients resend everything they have no answer for.
    for (std::size_t i = 0; i < events_.size(); ++i) {
      if (!events_[i].acked_seq && in_transit_.count(i) != 0) {
        unsent_.push_back(i);
      }
    }
    in_transit_.clear();
    open();
  }

  void run() { sched_->run(); }

  /// Every sale the shop made that is not journaled yet is journaled now (see strict_unseen()).
  void journal_sales() {
    for (auto it = submissions_.begin(); it != submissions_.end();) {
      const bool sale = std::any_of(it->entries.begin(), it->entries.end(), [&](const auto& e) {
        auto found = by_id_.find(e.ev.id);
        return !it->engine_origin && found != by_id_.end() && events_[found->second].sale_qty > 0;
      });
      if (sale) {
        auto sub = std::move(*it);
        it = submissions_.erase(it);
        commit_one(std::move(sub), true);
        run();
      } else {
        ++it;
      }
    }
    submission sales;
    for (auto it = unsent_.begin(); it != unsent_.end();) {
      client_event& ce = events_[*it];
      if (ce.sale_qty > 0 && !ce.acked_seq) {
        ++ce.sends;
        if (ce.sends == 1) {
          ++totals_.events;
        }
        in_transit_.insert(*it);
        sales.entries.push_back({0, {}, ce.ev});
        it = unsent_.erase(it);
      } else {
        ++it;
      }
    }
    if (!sales.entries.empty()) {
      commit_one(std::move(sales), true);
      run();
    }
  }

  void advance(std::chrono::milliseconds d) {
    now_ += d;
    sched_->advance_time(d);
    run();
  }

  // ---- the journal writer -------------------------------------------------------------------

  bool submit_engine(std::vector<engine::journal_entry> entries) {
    if (!counters_->ready.load() || submissions_.size() >= submissions_queued_max) {
      return false;
    }
    submissions_.push_back({std::move(entries), true});
    return true;
  }

  void dispatch(std::vector<engine::journal_entry> entries) {
    std::vector<actors::entry_batch> per_shard(shard_count);
    std::int64_t deliveries = 0;
    for (auto& e : entries) {
      deliveries += engine::touches_destination(e.ev) ? 2 : 1;
      per_shard[actors::shard_of(e.ev.sku, shard_count)].push_back(std::move(e));
    }
    counters_->in_flight.fetch_add(deliveries);
    for (std::uint32_t s = 0; s < shard_count; ++s) {
      if (!per_shard[s].empty()) {
        caf::anon_send(shards_[s], actors::deliver_atom::value, std::move(per_shard[s]));
      }
    }
  }

  void publish_head(std::uint64_t head) {
    for (auto& shard : shards_) {
      caf::anon_send(shard, actors::head_atom::value, head);
    }
  }

  /// One submission in one LMDB transaction; then dispatch, head, and the answers.
  void commit_one(submission sub, bool answer) {
    ++totals_.commits;
    std::vector<store::append_status> statuses;
    for (auto& e : sub.entries) {
      e.received_at = ctx_->clock();
    }
    REQUIRE(db_->append(sub.entries, statuses).has_value());
    std::vector<engine::journal_entry> fresh;
    for (std::size_t i = 0; i < sub.entries.size(); ++i) {
      const auto& e = sub.entries[i];
      note("commit " + e.ev.id + (statuses[i].duplicate ? " duplicate of " : " seq ") +
           std::to_string(statuses[i].seq));
      if (!statuses[i].duplicate) {
        if (e.seq != statuses[i].seq) {
          bad_.add("append did not set the seq of " + e.ev.id);
        }
        // stockd has seen a sale once its order is journaled.
        if (auto sale = by_id_.find(e.ev.id); sale != by_id_.end() && !sub.engine_origin) {
          const client_event& sold = events_[sale->second];
          unseen_[e.ev.sku.str()] -= sold.sale_qty;

        }
        auto it = models_.find(e.ev.sku.str());
        if (it != models_.end()) {
          engine::reference::step(it->second, e);
        }
        journaled_.push_back({e.ev.source.str() + "/" + e.ev.id, statuses[i].seq});
        fresh.push_back(e);
      }
    }
    std::vector<actors::journal_result> results;
    if (sub.engine_origin) {
      for (std::size_t i = 0; i < sub.entries.size(); ++i) {
        const auto& ev = sub.entries[i].ev;
        results.push_back(actors::journal_result{{ev.sku, ev.location}, ev.id, statuses[i].seq,
                                                 statuses[i].duplicate, std::nullopt});
      }
    }
    if (!fresh.empty()) {
      dispatch(std::move(fresh));
    }
    for (auto& r : results) {
      caf::anon_send(shards_[actors::shard_of(r.key.sku, shard_count)],
                     actors::journaled_atom::value, std::move(r));
    }
    publish_head(db_->journal_head());
    if (sub.engine_origin || !answer) {
      return;
    }
    for (std::size_t i = 0; i < sub.entries.size(); ++i) {
      auto it = by_id_.find(sub.entries[i].ev.id);
      REQUIRE(it != by_id_.end());
      client_event& ce = events_[it->second];
      in_transit_.erase(it->second);
      if (chance(0.05)) {
        ++totals_.lost_acks;  // the answer got lost: the client sends it again
        unsent_.push_back(it->second);
        continue;
      }
      if (ce.acked_seq && *ce.acked_seq != statuses[i].seq) {
        bad_.add(ce.ev.id + ": acknowledged twice with different seqs");
      }
      if (!ce.acked_seq && ce.duplicate_planned) {
        ce.duplicate_planned = false;
        unsent_.push_back(it->second);  // a client that sends it once more anyway
      }
      if (statuses[i].duplicate) {
        ++totals_.duplicates;
      }
      ce.acked_seq = statuses[i].seq;
    }
  }

  void submit_some(std::size_t max_events) {
    if (unsent_.empty() || submissions_.size() >= submissions_queued_max) {
      return;
    }
    submission sub;
    const std::size_t n = 1 + pick(std::min<std::size_t>(max_events, unsent_.size()));
    for (std::size_t k = 0; k < n && !unsent_.empty(); ++k) {
      // Mostly the oldest, sometimes a later one: reordering, within a window.
      const std::size_t at = pick(std::min<std::size_t>(unsent_.size(), 6));
      const std::size_t index = unsent_[at];
      unsent_.erase(unsent_.begin() + static_cast<std::ptrdiff_t>(at));
      client_event& ce = events_[index];
      ++ce.sends;
      in_transit_.insert(index);
      sub.entries.push_back({0, {}, ce.ev});
      if (ce.sends == 1) {
        ++totals_.events;
      }
    }
    submissions_.push_back(std::move(sub));
  }

  void commit_all() {
    while (!submissions_.empty()) {
      auto sub = std::move(submissions_.front());
      submissions_.pop_front();
      commit_one(std::move(sub), true);
      run();
    }
  }

  // ---- the channels -------------------------------------------------------------------------

  connectors::item_result apply_item(fake_channel& ch, const connectors::push_item& item) {
    if (auto it = ch.by_key.find(item.idempotency_key); it != ch.by_key.end()) {
      return it->second;  // a replay: the same answer, nothing applied twice
    }
    connectors::item_result result{connectors::item_outcome::applied, "", std::nullopt};
    auto& shows = ch.shows[item.sku.str()];
    if (ch.bad_skus.count(item.sku.str()) != 0) {
      result = {connectors::item_outcome::rejected, "INVALID_SKU", std::nullopt};
    } else if (item.change_from && *item.change_from != shows) {
      result = {connectors::item_outcome::stale, "CHANGE_FROM_QUANTITY_STALE", shows};
    } else {
      if (ch.compare_and_set) {
        // Never above the stock minus the sales stockd has not seen (0 when a warehouse took
        // away more than that: an oversell no push could prevent).
        const std::int64_t base =
            std::max(expected_now(item.sku.str()), expected_at_send_[item.idempotency_key]);
        const std::int64_t allowed = std::max<std::int64_t>(0, base - unseen_[item.sku.str()]);
        if (item.quantity > allowed) {
          bad_.add(ch.id.str() + ": " + item.sku.str() + " raised to " +
                   std::to_string(item.quantity) + " over unseen sales (allowed " +
                   std::to_string(allowed) + ", unseen " +
                   std::to_string(unseen_[item.sku.str()]) + ")");
        }
      }
      shows = item.quantity;
    }
    ch.by_key.emplace(item.idempotency_key, result);
    return result;
  }

  connectors::push_result failed(connectors::call_outcome outcome, std::string code) {
    connectors::push_result r;
    r.outcome = outcome;
    r.code = std::move(code);
    return r;
  }

  void answer_push(fake_channel& ch, bool faults) {
    pending_push call = std::move(ch.pushes.front());
    ch.pushes.pop_front();
    connectors::push_result r;
    bool bad_in_batch = false;
    for (const auto& item : call.items) {
      bad_in_batch = bad_in_batch || ch.bad_skus.count(item.sku.str()) != 0;
    }
    if (faults && chance(0.25)) {
      switch (pick(6)) {
        case 0:
          ++totals_.faults["429 with Retry-After"];
          r = failed(connectors::call_outcome::throttled, "429");
          r.retry_after = std::chrono::milliseconds(100 + pick(3000));
          ch.wait_until = now_ + *r.retry_after;
          break;
        case 1:
          ++totals_.faults["429 without Retry-After"];
          r = failed(connectors::call_outcome::throttled, "429");
          break;
        case 2:
          ++totals_.faults["5xx"];
          r = failed(connectors::call_outcome::server_error, "503");
          break;
        case 3:
          ++totals_.faults["timeout before applying"];
          r = failed(connectors::call_outcome::timeout, "timeout");
          break;
        case 4:
          ++totals_.faults["timeout after applying"];
          for (const auto& item : call.items) {
            apply_item(ch, item);
          }
          r = failed(connectors::call_outcome::timeout, "timeout");
          break;
        default:
          ++totals_.faults["connection reset"];
          r = failed(connectors::call_outcome::network, "reset");
          break;
      }
    } else if (bad_in_batch && call.items.size() > 1 && chance(0.5)) {
      ++totals_.faults["batch refused for a bad item"];
      r = failed(connectors::call_outcome::bad_request, "400");
    } else {
      r.outcome = connectors::call_outcome::ok;
      for (const auto& item : call.items) {
        r.items.push_back(apply_item(ch, item));
        if (r.items.back().outcome == connectors::item_outcome::stale) {
          ++totals_.faults["stale compare-and-set"];
        } else if (r.items.back().outcome == connectors::item_outcome::rejected) {
          ++totals_.faults["bad item"];
        }
      }
    }
    std::string what = ch.id.str() + " answers " + std::to_string(static_cast<int>(r.outcome)) +
                       " " + r.code + ":";
    for (std::size_t i = 0; i < r.items.size(); ++i) {
      what += " " + call.items[i].sku.str() + "=" +
              std::to_string(static_cast<int>(r.items[i].outcome)) +
              (r.items[i].channel_quantity ? "(" + std::to_string(*r.items[i].channel_quantity) + ")"
                                           : "");
    }
    note(what);
    call.done(std::move(r));
    run();
  }

  void answer_read(fake_channel& ch, bool faults) {
    pending_read call = std::move(ch.reads.front());
    ch.reads.pop_front();
    connectors::read_result r;
    if (faults && chance(0.1)) {
      ++totals_.faults["read failed"];
      r.ok = false;
      r.code = "503";
    } else {
      r.ok = true;
      for (const auto& sku : call.skus) {
        r.quantities.emplace_back(sku, ch.shows[sku.str()]);
      }
    }
    std::string what = ch.id.str() + " read answered:";
    for (const auto& [sku, q] : r.quantities) {
      what += " " + sku.str() + "=" + std::to_string(q);
    }
    note(what);
    call.done(std::move(r));
    run();
  }

  void store_outbox(bool faults) {
    auto job = std::move(outbox_jobs_.front());
    outbox_jobs_.pop_front();
    if (faults && chance(0.1)) {
      ++totals_.faults["outbox write failed"];
      store::error failure{store::errc::io_error, "injected"};
      job.done(&failure);
    } else {
      std::vector<store::append_status> none;
      auto done = db_->commit({}, none, {}, job.records);
      job.done(done ? nullptr : &done.error());
    }
    run();
  }

  /// A customer buys what the shop shows; the order reaches stockd as an event sent later.
  void customer_buys() {
    fake_channel& ch = channels_[0];
    const std::string sku = sku_name(static_cast<int>(pick(sku_count)));
    auto& shows = ch.shows[sku];
    if (shows <= 0) {
      return;
    }
    const std::int64_t qty = 1 + static_cast<std::int64_t>(pick(std::min<std::int64_t>(shows, 2)));
    shows -= qty;
    unseen_[sku] += qty;
    ++totals_.sales;
    client_event ce;
    ce.ev.source = engine::source_id("shop");
    ce.ev.id = "sale-" + std::to_string(events_.size());
    ce.ev.type = engine::event_type::order_created;
    ce.ev.sku = engine::sku_id(sku);
    ce.ev.location = east;
    ce.ev.qty = qty;
    ce.ev.order_id = "C" + std::to_string(events_.size());
    ce.ev.line_id = "1";
    ce.ev.channel = shop;
    ce.ev.occurred_at = wall_now();  // when it sold, which the shop's order says
    ce.sale_qty = qty;
    ce.duplicate_planned = chance(0.15);
    note("sale " + sku + " x" + std::to_string(qty) + " " + ce.ev.id);
    by_id_.emplace(ce.ev.id, events_.size());
    unsent_.push_back(events_.size());
    events_.push_back(std::move(ce));
  }

  // ---- one step -----------------------------------------------------------------------------

  void step_once(bool faults) {
    ++totals_.steps;
    for (const auto& [sku, m] : models_) {
      expected_at_step_[sku] = expected_of(m);
    }
    const auto roll = pick(100);
    if (roll < 22) {
      submit_some(4);
    } else if (roll < 40) {
      if (!submissions_.empty()) {
        auto sub = std::move(submissions_.front());
        submissions_.pop_front();
        commit_one(std::move(sub), true);
        run();
      }
    } else if (roll < 60) {
      fake_channel& ch = channels_[pick(channels_.size())];
      if (!ch.pushes.empty()) {
        answer_push(ch, faults);
      } else if (!ch.reads.empty()) {
        answer_read(ch, faults);
      }
    } else if (roll < 68) {
      if (!outbox_jobs_.empty()) {
        store_outbox(faults);
      }
    } else if (roll < 80) {
      advance(std::chrono::milliseconds(10 + pick(2000)));
    } else if (roll < 90) {
      customer_buys();
    } else if (roll < 99) {
      const auto& shard = shards_[pick(shard_count)];
      // A checkpoint round now (as at shutdown; the reply goes nowhere).
      caf::anon_send(shard, actors::flush_atom::value);
      run();
    } else if (faults) {
      restart();
    }
  }

  // ---- invariants ---------------------------------------------------------------------------

  actors::sku_view query(const std::string& sku) {
    std::optional<actors::sku_view> answer;
    caf::anon_send(shards_[actors::shard_of(engine::sku_id(sku), shard_count)],
                   actors::get_atom::value, engine::sku_id(sku),
                   actors::sku_view_callback([&answer](actors::sku_view v) { answer = std::move(v); }));
    run();
    REQUIRE(answer.has_value());
    return std::move(*answer);
  }

  std::optional<engine::sku_location_state> state_at_east(const std::string& sku) {
    auto view = query(sku);
    REQUIRE(view.complete);
    std::optional<engine::sku_location_state> out;
    for (auto& s : view.locations) {
      const auto broken = engine::check_invariants(s);
      if (!broken.empty()) {
        bad_.add(sku + " at " + s.key.location.str() + " breaks a bucket invariant");
      }
      if (s.key.location == east) {
        out = s;
      }
    }
    return out;
  }

  void require_no_violations() {
    if (!bad_.found.empty()) {
      std::string all;
      for (const auto& v : bad_.found) {
        all += v + "\n";
      }
      FAIL(all);
    }
  }

  void check_step() {
    require_no_violations();
    // Nothing stuck: run() ran every mailbox empty, so every delivery has been applied.
    REQUIRE(counters_->in_flight.load() == 0);
    for (const auto& ch : channels_) {
      REQUIRE(ch.pushes.size() <= calls_in_flight_max);
      REQUIRE(ch.reads.size() <= 1);
    }
    REQUIRE(outbox_jobs_.size() <= channels_.size());  // one write in flight per channel
    REQUIRE(submissions_.size() <= submissions_queued_max + 1);
    for (const auto& [sku, m] : models_) {
      auto state = state_at_east(sku);
      require_no_violations();
      if (!state) {
        REQUIRE(m.last_seq == 0);
        continue;
      }
      const std::string diff = engine::reference::compare(*state, m);
      INFO(sku);
      REQUIRE(diff == "");
    }
  }

  /// Faults and sales stop; the clients send everything; time passes until nothing is left to
  /// do (bounded: 20 virtual minutes, past every hold and backoff).
  void quiesce() {
    note("quiesce");
    for (int i = 0; i < 2400; ++i) {
      while (!unsent_.empty()) {
        if (submissions_.size() >= submissions_queued_max) {
          commit_all();
        }
        submit_some(8);
      }
      commit_all();
      for (auto& ch : channels_) {
        while (!ch.pushes.empty() || !ch.reads.empty()) {
          if (!ch.pushes.empty()) {
            answer_push(ch, false);
          } else {
            answer_read(ch, false);
          }
        }
      }
      while (!outbox_jobs_.empty()) {
        store_outbox(false);
      }
      require_no_violations();
      if (unsent_.empty() && submissions_.empty() && outbox_jobs_.empty() && settled() &&
          channels_quiet()) {
        return;
      }
      advance(500ms);
    }
    std::string why;
    for (const auto& status : statuses()) {
      why += status.channel.str() + ": queued " +
             std::to_string(status.queued_urgent + status.queued_normal + status.queued_bulk) +
             ", out of sync " + std::to_string(status.out_of_sync) + ", dead letters " +
             std::to_string(status.dead_letters) + ", outbox pending " +
             std::to_string(status.outbox_pending) +
             (status.outbox_error.empty() ? "" : ", outbox error " + status.outbox_error) + "; ";
    }
    for (std::size_t c = 0; c < channels_.size(); ++c) {
      auto& ch = channels_[c];
      for (const auto& [sku, m] : models_) {
        why += ch.id.str() + " " + sku + " shows " + std::to_string(ch.shows[sku]) +
               " expected " + std::to_string(expected_of(m));
        if (ch.shows[sku] != expected_of(m)) {
          const auto v = view(c, sku);
          why += " (stockd: expected " + std::to_string(v.expected) + ", believes it shows " +
                 (v.shows ? std::to_string(*v.shows) : "?") + ", held back " +
                 std::to_string(v.held_back) + (v.in_sync ? ", in sync" : "") + ")";
        }
        why += "; ";
      }
    }
    FAIL("the channels did not converge within 20 virtual minutes after faults stopped: " << why);
  }

  bool channels_quiet() const {
    for (const auto& ch : channels_) {
      if (!ch.pushes.empty() || !ch.reads.empty()) {
        return false;
      }
    }
    return true;
  }

  /// Every channel shows what its rules say, or the SKU is parked with a reason.
  bool settled() {
    for (const auto& status : statuses()) {
      // Settled includes stored: a failed outbox write is retried on a timer, and the end
      // checks read the outbox from the store.
      if (status.queued_urgent + status.queued_normal + status.queued_bulk != 0 ||
          status.out_of_sync != status.dead_letters || status.outbox_pending != 0 ||
          !status.outbox_error.empty()) {
        return false;
      }
    }
    for (auto& ch : channels_) {
      for (const auto& [sku, m] : models_) {
        if (ch.bad_skus.count(sku) == 0 && ch.shows[sku] != expected_of(m)) {
          return false;
        }
      }
    }
    return true;
  }

  /// What channel `c`'s actor records for `sku` (the failure message of a non-converged run).
  actors::channel_sku_view view(std::size_t c, const std::string& sku) {
    auto out = std::make_shared<actors::channel_sku_view>();
    system_->spawn(
        [ch = channel_actors_[c], out, sku](caf::event_based_actor* self, int /*unused*/) {
          self->request(ch, 10s, actors::get_atom::value, engine::sku_id(sku))
              .then([out](actors::channel_sku_view& v) { *out = std::move(v); });
        },
        0);
    run();
    return *out;
  }

  /// The virtual wall clock: the engine's received_at, and when the shop sold something.
  engine::timestamp wall_now() const {
    return engine_epoch_ + std::chrono::duration_cast<std::chrono::milliseconds>(now_ - start_);
  }

  std::vector<actors::channel_status> statuses() {
    auto out = std::make_shared<std::vector<actors::channel_status>>();
    for (const auto& ch : channel_actors_) {
      system_->spawn(
          [ch, out](caf::event_based_actor* self, int /*unused: see runtime.cpp*/) {
            self->request(ch, 10s, actors::status_atom::value)
                .then([out](actors::channel_status& s) { out->push_back(std::move(s)); });
          },
          0);
    }
    run();
    REQUIRE(out->size() == channel_actors_.size());
    return std::move(*out);
  }

  void check_end() {
    check_step();
    // Every event the clients sent is acknowledged, and in the journal exactly once.
    std::map<std::string, std::uint64_t> in_journal;
    std::uint64_t entries = 0;
    auto read = db_->read_journal(1, 1'000'000, [&](const engine::journal_entry& e) {
      ++entries;
      if (!in_journal.emplace(e.ev.source.str() + "/" + e.ev.id, e.seq).second) {
        bad_.add("journaled twice: " + e.ev.id);
      }
      return true;
    });
    REQUIRE(read.has_value());
    for (const auto& ce : events_) {
      INFO(ce.ev.id);
      REQUIRE(ce.acked_seq.has_value());
      auto it = in_journal.find(ce.ev.source.str() + "/" + ce.ev.id);
      REQUIRE(it != in_journal.end());
      REQUIRE(it->second == *ce.acked_seq);
    }
    // Nothing but them, and what the engine journaled itself, and each once.
    REQUIRE(entries == journaled_.size());
    require_no_violations();
    for (const auto& [sku, left] : unseen_) {
      INFO(sku);
      REQUIRE(left == 0);
    }
    // Every channel converged, or the SKU is a dead letter with its reason.
    for (auto& ch : channels_) {
      std::map<std::string, connectors::outbox_entry> outbox;
      auto page = db_->read_outbox(ch.id, std::nullopt, 1'000);
      REQUIRE(page.has_value());
      for (const auto& record : *page) {
        auto entry = connectors::decode_outbox_entry(record.bytes);
        REQUIRE(entry.has_value());
        INFO(ch.id.str() << " " << record.sku.str());
        // Acknowledged (no intent left) or dead-lettered with a reason.
        REQUIRE((entry->parked ? !entry->reason.empty() : !entry->intent.has_value()));
        REQUIRE((entry->parked || entry->key.empty()));
        outbox.emplace(record.sku.str(), *entry);
      }
      for (const auto& [sku, m] : models_) {
        INFO(ch.id.str() << " " << sku);
        auto state = state_at_east(sku);
        const std::int64_t expected = expected_of(m);
        if (state) {
          const engine::location_stock stock{state->qty.available, state->qty.incoming};
          REQUIRE(engine::channel_quantity(engine::channel_rules{}, {&stock, 1}) == expected);
        }
        if (ch.bad_skus.count(sku) != 0) {
          auto it = outbox.find(sku);
          if (it != outbox.end() && it->second.intent) {
            REQUIRE(it->second.parked);
          }
          if (it != outbox.end() && it->second.parked) {
            REQUIRE(it->second.reason.rfind("rejected_item: ", 0) == 0);
          }
          continue;
        }
        REQUIRE(ch.shows[sku] == expected);
        // What the outbox believes the channel shows is what it shows.
        if (auto it = outbox.find(sku); it != outbox.end() && it->second.shadow) {
          REQUIRE(*it->second.shadow == expected);
        }
      }
    }
    for (const auto& status : statuses()) {
      INFO(status.channel.str());
      REQUIRE(status.out_of_sync == status.dead_letters);
      REQUIRE(status.outbox_error.empty());
    }
  }

  // ---- data ---------------------------------------------------------------------------------

  std::uint32_t seed_;
  std::mt19937_64 rng_;
  stats& totals_;
  bool trace_;
  bool pending_sales_;
  std::uint64_t digest_ = 1469598103934665603ULL;
  violations bad_;
  std::filesystem::path dir_;
  engine::catalog catalog_;
  std::unique_ptr<store::database> db_;
  std::uint64_t boot_ = 0;
  const sync_time start_ = sync_time{} + 1000h;
  sync_time now_ = start_;
  const engine::timestamp engine_epoch_ =
      std::chrono::time_point_cast<std::chrono::milliseconds>(
          std::chrono::sys_days{std::chrono::year{2026} / 11 / 27} + 12h);

  // The engine (rebuilt on every restart).
  std::unique_ptr<actors::metrics> counters_;
  std::unique_ptr<std::vector<std::atomic<std::uint64_t>>> watermarks_;
  std::unique_ptr<actors::context> ctx_;
  actors::channel_routes routes_;  // the channels per location, published in ctx_
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> system_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::vector<actors::directory_shard_actor> shards_;
  std::vector<actors::channel_actor> channel_actors_;

  // The outside world.
  std::vector<fake_channel> channels_ = std::vector<fake_channel>(2);
  std::deque<submission> submissions_;
  std::deque<outbox_job> outbox_jobs_;
  std::vector<client_event> events_;
  std::map<std::string, std::size_t> by_id_;
  std::deque<std::size_t> unsent_;
  std::set<std::size_t> in_transit_;
  std::map<std::string, engine::reference::model> models_;
  std::map<std::string, std::int64_t> expected_at_step_;
  std::map<std::string, std::int64_t> expected_at_send_;  // by idempotency key
  std::map<std::string, std::int64_t> unseen_;             // sold by the shop, not yet journaled
  std::vector<std::pair<std::string, std::uint64_t>> journaled_;
};

void fake_client::push(std::vector<connectors::push_item> batch,
                       std::function<void(connectors::push_result)> done) {
  world_.on_push(ch_, std::move(batch), std::move(done));
}

void fake_client::read(std::vector<engine::sku_id> skus,
                       std::function<void(connectors::read_result)> done) {
  world_.on_read(ch_, std::move(skus), std::move(done));
}

std::vector<std::uint32_t> seeds_to_run() {
  if (const char* one = std::getenv("STOCKD_SIM_SEED"); one != nullptr && *one != '\0') {
    return {static_cast<std::uint32_t>(std::strtoul(one, nullptr, 0))};
  }
  std::vector<std::uint32_t> seeds;
  for (const auto& r : regression_seeds) {
    seeds.push_back(r.seed);
  }
  int count = default_seed_count;
  if (const char* n = std::getenv("STOCKD_SIM_SEEDS"); n != nullptr && *n != '\0') {
    count = std::atoi(n);
  }
  std::uint32_t first = first_seed;
  if (const char* f = std::getenv("STOCKD_SIM_FIRST"); f != nullptr && *f != '\0') {
    first = static_cast<std::uint32_t>(std::strtoul(f, nullptr, 0));
  }
  const char* none = std::getenv("STOCKD_SIM_SKIP_NONE");
  const bool skip = none == nullptr || *none == '\0' || *none == '0';
  std::set<std::uint32_t> extra;  // STOCKD_SIM_SKIP=a,b,c: more to skip (finding open seeds)
  if (const char* more = std::getenv("STOCKD_SIM_SKIP"); more != nullptr) {
    for (const char* p = more; *p != '\0';) {
      char* end = nullptr;
      extra.insert(static_cast<std::uint32_t>(std::strtoul(p, &end, 0)));
      p = *end == ',' ? end + 1 : end;
      if (end == p && *p != '\0') {
        break;
      }
    }
  }
  for (int i = 0; i < count; ++i) {
    const std::uint32_t seed = first + static_cast<std::uint32_t>(i);
    if (skip && (open_seeds.count(seed) != 0 || extra.count(seed) != 0)) {
      continue;
    }
    if (std::any_of(regression_seeds.begin(), regression_seeds.end(),
                    [seed](const regression_seed& r) { return r.seed == seed; })) {
      continue;  // already run first, as a regression seed
    }
    seeds.push_back(seed);
  }
  return seeds;
}

/// STOCKD_SIM_STRICT_UNSEEN=1: the first sweep also leaves the shop's sales pending across
/// restarts (the second sweep always does). Replaying a seed found by the second sweep alone:
/// STOCKD_SIM_SEED=n STOCKD_SIM_STRICT_UNSEEN=1.
bool strict_unseen() {
  static const bool strict = [] {
    const char* v = std::getenv("STOCKD_SIM_STRICT_UNSEEN");
    return v != nullptr && *v != '\0' && *v != '0';
  }();
  return strict;
}

bool tracing() {
  const char* t = std::getenv("STOCKD_SIM_TRACE");
  return t != nullptr && *t != '\0' && *t != '0';
}

} // namespace

namespace {
void sweep(bool pending_sales) {
  const auto seeds = seeds_to_run();
  REQUIRE_FALSE(seeds.empty());
  stats totals;
  for (const std::uint32_t seed : seeds) {
    INFO("simulation seed " << seed << " failed; replay it alone: STOCKD_SIM_SEED=" << seed
                            << (pending_sales ? " STOCKD_SIM_STRICT_UNSEEN=1" : "")
                            << " (STOCKD_SIM_TRACE=1 prints its steps)");
    world w(seed, totals, tracing(), pending_sales);
    w.run_seed();
    ++totals.seeds;
  }
  std::printf("simulation (%s): %llu seed(s) from %u, %llu steps, %llu events sent (%llu duplicates "
              "answered, %llu answers lost), %llu sales, %llu commits, %llu channel calls, %llu "
              "restarts\n",
              pending_sales ? "sales pending across restarts" : "sales journaled before restarts",
              static_cast<unsigned long long>(totals.seeds), seeds.front(),
              static_cast<unsigned long long>(totals.steps),
              static_cast<unsigned long long>(totals.events),
              static_cast<unsigned long long>(totals.duplicates),
              static_cast<unsigned long long>(totals.lost_acks),
              static_cast<unsigned long long>(totals.sales),
              static_cast<unsigned long long>(totals.commits),
              static_cast<unsigned long long>(totals.calls),
              static_cast<unsigned long long>(totals.restarts));
  std::uint64_t faults = 0;
  for (const auto& [kind, n] : totals.faults) {
    std::printf("  fault %-30s %llu\n", kind.c_str(), static_cast<unsigned long long>(n));
    faults += n;
  }
  std::printf("  faults injected in all: %llu\n", static_cast<unsigned long long>(faults));
  // The faults must happen, or the run proves less than it claims.
  if (totals.seeds >= 50) {
    CHECK(totals.restarts > totals.seeds);
    CHECK(totals.faults.size() >= 10);
  }
}
} // namespace

TEST_CASE("the deterministic simulation keeps every invariant through faults and restarts, "
          "and every channel converges",
          "[simulation]") {
  sweep(strict_unseen());
}

// The same seeds again with the shop's sales still pending at each restart: their orders reach
// stockd after it, so units held back as unseen, the reads due and the own orders replayed at
// start-up must all come through the outbox (connectors/outbox.hpp).
TEST_CASE("the deterministic simulation keeps every invariant with sales pending across restarts",
          "[simulation]") {
  sweep(true);
}

TEST_CASE("a simulation seed replays exactly: the same seed gives the same run",
          "[simulation]") {
  stats totals;
  for (std::uint32_t seed : {first_seed, first_seed + 1, first_seed + 7}) {
    INFO("seed " << seed);
    std::uint64_t first = 0;
    {
      world w(seed, totals, false);
      w.run_seed();
      first = w.digest();
    }
    world again(seed, totals, false);
    again.run_seed();
    REQUIRE(again.digest() == first);
  }
}
