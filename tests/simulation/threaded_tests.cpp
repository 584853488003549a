// The same engine with its real threads, for ThreadSanitizer (scripts/test-tsan.sh): the
// deterministic simulation (simulation_tests.cpp) runs everything on one thread, which is what
// makes it replayable and also what hides data races from TSan. Here the production wiring runs
// as stockd runs it: actors::runtime on CAF's threaded scheduler, the store::writer thread
// committing and dispatching, two client threads ingesting concurrently, a third asking for
// SKUs and channel figures meanwhile, and a channel whose answers come from its own thread.
// Then the engine restarts (runtime and writer gone, LMDB kept) and recovers.
//
// It checks outcomes, not timing: every event acknowledged and journaled once, each SKU's state
// equal to the reference model's fold of the journal (in the journal's order, whatever the
// threads made of it), before and after the restart, and the channel converging to what its
// rules say. Waits are polls with generous deadlines.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "actors/runtime.hpp"
#include "engine/apply.hpp"
#include "engine/catalog.hpp"
#include "engine/channel_rules.hpp"
#include "store/database.hpp"
#include "store/writer.hpp"
#include "../engine/reference_model.hpp"
#include "../engine/stream_generator.hpp"

namespace {

using namespace std::chrono_literals;
namespace engine = stockd::engine;
namespace actors = stockd::actors;
namespace connectors = stockd::connectors;
namespace store = stockd::store;

const engine::location_id east{"DC-EAST"};
const engine::location_id west{"DC-WEST"};
const engine::channel_id shop{"shop"};
constexpr int sku_count = 4;
constexpr std::size_t events_per_sku = 150;

std::string sku_name(int i) { return "THR-" + std::string(1, static_cast<char>('A' + i)); }

/// Polls `done` every millisecond until it holds or `limit` passes.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

/// A channel that answers on its own thread, a little later, as an HTTP client would.
class threaded_channel : public connectors::channel_client {
public:
  threaded_channel() : worker_([this] { work(); }) {}
  ~threaded_channel() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    worker_.join();
  }
  std::size_t batch_max() const override { return 5; }
  void push(std::vector<connectors::push_item> batch,
            std::function<void(connectors::push_result)> done) override {
    post([this, batch = std::move(batch), done = std::move(done)] {
      connectors::push_result r;
      r.outcome = connectors::call_outcome::ok;
      {
        std::lock_guard lock(state_mutex_);
        if (++calls_ % 7 == 0) {
          r = {};
          r.outcome = connectors::call_outcome::server_error;
          r.code = "503";
        } else {
          for (const auto& item : batch) {
            shows_[item.sku.str()] = item.quantity;
            r.items.push_back({connectors::item_outcome::applied, "", std::nullopt});
          }
        }
      }
      done(std::move(r));
    });
  }
  void read(std::vector<engine::sku_id> skus,
            std::function<void(connectors::read_result)> done) override {
    post([this, skus = std::move(skus), done = std::move(done)] {
      connectors::read_result r;
      r.ok = true;
      {
        std::lock_guard lock(state_mutex_);
        for (const auto& sku : skus) {
          r.quantities.emplace_back(sku, shows_[sku.str()]);
        }
      }
      done(std::move(r));
    });
  }
  std::int64_t shows(const std::string& sku) {
    std::lock_guard lock(state_mutex_);
    return shows_[sku];
  }

private:
  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) {
          return;  // stopping, nothing left
        }
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      std::this_thread::sleep_for(200us);
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::mutex state_mutex_;
  std::map<std::string, std::int64_t> shows_;
  std::uint64_t calls_ = 0;
  std::thread worker_;  // last: starts once the rest is built
};

/// One engine as stockd wires it: writer thread, runtime, recovery.
struct engine_under_test {
  engine_under_test(store::database& db, const engine::catalog& catalog,
                    std::shared_ptr<threaded_channel> client)
      : writer(db, store::writer_options{}) {
    actors::options opts;
    opts.threads = 2;
    opts.shards = 2;
    opts.checkpoint_interval = 20ms;
    opts.request_timeout = 30s;
    REQUIRE(db.prepare_recovery(opts.shards).has_value());
    std::vector<actors::channel_setup> channels(1);
    channels[0].info = catalog.find_channel(shop);
    channels[0].options.id = shop;
    channels[0].options.requests_per_second = 1000;
    channels[0].options.burst = 50;
    channels[0].options.batch_size = 5;
    channels[0].client = std::move(client);
    channels[0].boot = ++boots;
    channels[0].db = &db;
    channels[0].persist = [this](std::vector<store::outbox_record> records,
                                 store::outbox_completion done) {
      return writer.submit_outbox(std::move(records), std::move(done));
    };
    rt = std::make_unique<actors::runtime>(
        opts, catalog, &db,
        [this](std::vector<store::checkpoint_record> records, std::uint32_t shard,
               std::uint64_t watermark, store::checkpoint_completion done) {
          return writer.submit_checkpoints(std::move(records), shard, watermark, std::move(done));
        },
        counters,
        [this](std::vector<engine::journal_entry> entries, store::append_completion done) {
          return writer.submit(std::move(entries), std::move(done));
        },
        std::move(channels));
    writer.on_commit([this](std::uint64_t head) { rt->publish_head(head); });
    REQUIRE(rt->recover(60s).has_value());
  }
  ~engine_under_test() {
    writer.on_commit({});
    writer.stop();  // completions done: nothing calls into the runtime after this
    rt.reset();
  }

  /// Ingests `entries` as the HTTP layer does; true once acknowledged, false when refused.
  bool ingest(std::vector<engine::journal_entry> entries, std::atomic<int>& acked) {
    return writer.submit(std::move(entries),
                         [this, &acked](std::vector<engine::journal_entry>& journaled,
                                        const std::vector<store::append_status>& statuses,
                                        const store::error* failure) {
                           if (failure == nullptr) {
                             rt->dispatch_journaled(journaled, statuses);
                             acked.fetch_add(static_cast<int>(journaled.size()));
                           }
                         });
  }

  std::optional<engine::sku_location_state> state(const std::string& sku) {
    auto answer = std::make_shared<std::promise<actors::sku_view>>();
    auto got = answer->get_future();
    rt->query_sku(engine::sku_id(sku), [answer](actors::sku_view v) { answer->set_value(std::move(v)); });
    REQUIRE(got.wait_for(30s) == std::future_status::ready);
    auto view = got.get();
    REQUIRE(view.complete);
    for (auto& s : view.locations) {
      REQUIRE(engine::check_invariants(s).empty());
      if (s.key.location == east) {
        return s;
      }
    }
    return std::nullopt;
  }

  static inline std::uint64_t boots = 0;
  actors::metrics counters;
  store::writer writer;
  std::unique_ptr<actors::runtime> rt;
};

std::filesystem::path make_dir() {
  std::error_code ec;
  std::filesystem::path parent = "/dev/shm";
  if (!std::filesystem::is_directory(parent, ec) || ::access(parent.c_str(), W_OK) != 0) {
    parent = std::filesystem::temp_directory_path();
  }
  std::string pattern = (parent / "stockd-threads-XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

/// The reference model of each SKU at DC-EAST, folded over the journal in its order.
std::map<std::string, engine::reference::model> models_from_journal(store::database& db) {
  std::map<std::string, engine::reference::model> models;
  for (int s = 0; s < sku_count; ++s) {
    models[sku_name(s)].key = {engine::sku_id(sku_name(s)), east};
  }
  std::vector<engine::journal_entry> all;
  REQUIRE(db.read_journal(1, 1'000'000, [&](const engine::journal_entry& e) {
                all.push_back(e);
                return true;
              }).has_value());
  for (const auto& e : all) {
    if (auto it = models.find(e.ev.sku.str()); it != models.end()) {
      engine::reference::step(it->second, e);
    }
  }
  return models;
}

void check_states(engine_under_test& e, store::database& db) {
  REQUIRE(e.rt->wait_idle(60s));
  for (const auto& [sku, model] : models_from_journal(db)) {
    INFO(sku);
    auto state = e.state(sku);
    if (!state) {
      REQUIRE(model.last_seq == 0);
      continue;
    }
    REQUIRE(engine::reference::compare(*state, model) == "");
  }
}

std::int64_t expected_of(const engine::reference::model& m) {
  const engine::location_stock stock{m.q[static_cast<std::size_t>(engine::bucket::available)],
                                     m.q[static_cast<std::size_t>(engine::bucket::incoming)]};
  return engine::channel_quantity(engine::channel_rules{}, {&stock, 1});
}

} // namespace

TEST_CASE("the threaded engine keeps the journal and the states consistent under concurrent "
          "clients, channel answers from another thread, and a restart",
          "[simulation][threads]") {
  const auto dir = make_dir();
  {
    store::options sopts;
    sopts.dir = dir;
    sopts.map_size_bytes = 64u << 20;
    auto opened = store::database::open(sopts);
    REQUIRE(opened.has_value());
    auto db = std::move(*opened);
    engine::catalog catalog({{east, {}}, {west, {}}}, {}, {}, {{shop, {east}, {}}});
    auto client = std::make_shared<threaded_channel>();

    // Each SKU's events, with ids of their own; two clients send two SKUs each.
    std::vector<std::vector<engine::journal_entry>> per_client(2);
    std::size_t total = 0;
    for (int s = 0; s < sku_count; ++s) {
      engine::testing::stream_generator generate(0x7ead0000u + static_cast<std::uint32_t>(s));
      auto entries = generate.make(events_per_sku);
      for (std::size_t i = 0; i < entries.size(); ++i) {
        entries[i].seq = 0;
        entries[i].ev.sku = engine::sku_id(sku_name(s));
        entries[i].ev.id = sku_name(s) + ":" + std::to_string(i);
        per_client[static_cast<std::size_t>(s % 2)].push_back(entries[i]);
        ++total;
      }
    }
    {
      engine_under_test e(*db, catalog, client);
      std::atomic<int> acked{0};
      std::atomic<bool> sending{true};
      std::vector<std::thread> clients;
      for (std::size_t c = 0; c < per_client.size(); ++c) {
        clients.emplace_back([&, c] {
          std::mt19937 rng(static_cast<std::uint32_t>(c) + 1);
          const auto& mine = per_client[c];
          std::size_t next = 0;
          while (next < mine.size()) {
            const std::size_t n = std::min<std::size_t>(1 + rng() % 8, mine.size() - next);
            std::vector<engine::journal_entry> batch(mine.begin() + static_cast<std::ptrdiff_t>(next),
                                                     mine.begin() + static_cast<std::ptrdiff_t>(next + n));
            if (e.ingest(std::move(batch), acked)) {
              next += n;
            } else {
              std::this_thread::sleep_for(1ms);  // overloaded: try again
            }
          }
        });
      }
      // Reads meanwhile: SKUs and the channel's figures, from another thread.
      std::atomic<int> answers{0};
      std::thread reader([&] {
        int i = 0;
        while (sending.load()) {
          e.rt->query_sku(engine::sku_id(sku_name(i++ % sku_count)),
                          [&answers](actors::sku_view) { answers.fetch_add(1); });
          e.rt->channel_statuses(
              [&answers](std::vector<actors::channel_status>) { answers.fetch_add(1); });
          std::this_thread::sleep_for(1ms);
        }
      });
      for (auto& t : clients) {
        t.join();
      }
      REQUIRE(eventually([&] { return acked.load() == static_cast<int>(total); }));
      sending.store(false);
      reader.join();
      REQUIRE(eventually([&] { return answers.load() > 0; }));
      check_states(e, *db);
      // The channel converges to what its rules say for the final states.
      const auto models = models_from_journal(*db);
      for (const auto& [sku, model] : models) {
        INFO(sku);
        const std::int64_t expected = expected_of(model);
        REQUIRE(eventually([&] { return client->shows(sku) == expected; }));
      }
      REQUIRE(e.rt->flush(30s));
    }
    // A restart: runtime and writer gone, LMDB kept; recovery must give the same states.
    {
      engine_under_test e(*db, catalog, client);
      check_states(e, *db);
      std::uint64_t entries = 0;
      REQUIRE(db->read_journal(1, 1'000'000, [&](const engine::journal_entry&) {
                    ++entries;
                    return true;
                  }).has_value());
      REQUIRE(entries == total);
    }
  }
  std::filesystem::remove_all(dir);
}
