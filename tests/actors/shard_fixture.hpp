#pragma once
// A directory shard on CAF's deterministic test coordinator over a real LMDB in a temporary
// directory: nothing runs until the test says run(), so every interleaving is chosen by the test.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "actors/directory_shard.hpp"
#include "engine/catalog.hpp"
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

/// One directory shard on the test coordinator; `restart()` drops the actor system and builds a
/// new one over the same LMDB, as a process restart would.
class shard_under_test {
public:
  explicit shard_under_test(const std::filesystem::path& dir,
                            std::vector<std::string> locations = {"main", "east"})
      : catalog_(make_locations(locations)), watermarks_(1) {
    store::options opts;
    opts.dir = dir;
    opts.map_size_bytes = 16u << 20;
    auto opened = store::database::open(opts);
    REQUIRE(opened.has_value());
    db_ = std::move(*opened);
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
    cfg_->set("scheduler.policy", caf::atom("testing"));
    cfg_->set("logger.file-verbosity", caf::atom("quiet"));
    system_ = std::make_unique<caf::actor_system>(*cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
    shard = system_->spawn(actors::directory_shard, 0u, &ctx_, &catalog_);
    run();
  }

  void stop() {
    if (system_ == nullptr) {
      return;
    }
    caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
    run();
    shard = nullptr;
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
  int persist_calls = 0;
  bool fail_next_persist = false;

private:
  static std::vector<engine::location_info> make_locations(const std::vector<std::string>& ids) {
    std::vector<engine::location_info> out;
    for (const auto& id : ids) {
      out.push_back(engine::location_info{engine::location_id(id), {}});
    }
    return out;
  }
  engine::catalog catalog_;
  std::unique_ptr<store::database> db_;
  actors::metrics counters_;
  std::vector<std::atomic<std::uint64_t>> watermarks_;
  actors::context ctx_;
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> system_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
};


} // namespace stockd::actors::testing
