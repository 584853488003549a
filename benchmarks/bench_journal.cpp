// Durable journal append throughput by events per commit (one database::append = one commit).
// Expectation (toolchain.md, measured here): 1/commit ~4.5k/s, 100 ~120k/s, 1,000 ~300k/s,
// 8,192 ~1.6M events/s -- two fsyncs per commit dominate until batches are large.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <benchmark/benchmark.h>

#include "store/database.hpp"

namespace {

using namespace stockd;

class temp_dir {
public:
  temp_dir() {
    std::string pattern = "/tmp/stockd-bench-journal-XXXXXX";
    if (char* made = ::mkdtemp(pattern.data()); made != nullptr) {
      path_ = made;
    }
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

private:
  std::filesystem::path path_;
};

// A realistic small event: ~1,000 SKUs at one location, unique ids so nothing is a duplicate.
void fill(std::vector<engine::journal_entry>& batch, std::uint64_t& next_id) {
  for (auto& entry : batch) {
    entry.seq = 0;
    entry.received_at = engine::timestamp{std::chrono::milliseconds{1'790'000'000'000}};
    entry.ev.source = engine::source_id{std::string("bench")};
    entry.ev.id = "evt-" + std::to_string(next_id);
    entry.ev.type = engine::event_type::adjusted;
    entry.ev.sku = engine::sku_id{"SKU-" + std::to_string(next_id % 1000)};
    entry.ev.location = engine::location_id{std::string("wh1")};
    entry.ev.delta = 1;
    entry.ev.reason = "bench";
    entry.ev.occurred_at = entry.received_at;
    ++next_id;
  }
}

void bench_journal_append(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  temp_dir dir;
  store::options opts;
  opts.dir = dir.path();
  opts.map_size_bytes = std::size_t{1} << 30;
  opts.map_size_max = std::size_t{1} << 36;
  auto db = store::database::open(opts);
  if (!db) {
    state.SkipWithError(("open: " + db.error().message).c_str());
    return;
  }
  std::vector<engine::journal_entry> batch(batch_size);
  std::vector<store::append_status> out;
  std::uint64_t next_id = 0;
  const std::uint64_t head_before = (*db)->journal_head();
  std::uint64_t appended = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fill(batch, next_id);
    state.ResumeTiming();
    if (auto r = (*db)->append(batch, out); !r) {
      state.SkipWithError(("append: " + r.error().message).c_str());
      return;
    }
    appended += batch_size;
  }
  // The benchmark checks its own answer: every event got a fresh seq.
  if ((*db)->journal_head() - head_before != appended) {
    state.SkipWithError("journal head did not advance by the number of events appended");
    return;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(appended));
  state.counters["events_per_commit"] = static_cast<double>(batch_size);
}

BENCHMARK(bench_journal_append)->Arg(1)->Arg(100)->Arg(1000)->Arg(8192)->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

} // namespace

BENCHMARK_MAIN();
