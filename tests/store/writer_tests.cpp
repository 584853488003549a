#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "store/writer.hpp"
#include "tests/store/store_fixture.hpp"

using namespace stockd;
using store::testing::make_entry;
using store::testing::open_db;
using store::testing::location;
using store::testing::sku;
using store::testing::temp_dir;

namespace {

// The only waiting in these tests: for the writer thread, bounded so a bug fails instead of hangs.
constexpr auto writer_wait_max = std::chrono::seconds{30};

// Parks the writer thread inside a completion until released, so the test can queue work behind
// it deterministically.
class writer_gate {
public:
  store::append_completion completion() {
    return [this](std::vector<engine::journal_entry>&, const std::vector<store::append_status>&,
                  const store::error*) {
      entered_.set_value();
      // Bounded, so a test that fails before release() cannot hang the writer's join forever.
      static_cast<void>(released_future_.wait_for(writer_wait_max));
    };
  }
  void wait_until_parked() {
    REQUIRE(entered_future_.wait_for(writer_wait_max) == std::future_status::ready);
  }
  void release() { released_.set_value(); }

private:
  std::promise<void> entered_;
  std::future<void> entered_future_ = entered_.get_future();
  std::promise<void> released_;
  std::shared_future<void> released_future_ = released_.get_future().share();
};

std::vector<engine::journal_entry> events(std::string_view prefix, std::size_t count) {
  std::vector<engine::journal_entry> entries;
  for (std::size_t i = 0; i < count; ++i) {
    entries.push_back(make_entry("pos", std::string(prefix) + std::to_string(i), "SKU-1"));
  }
  return entries;
}

// Records, on the writer thread, what each completion saw; read after stop() joined the thread.
// Completions use no Catch2 assertions: those are not thread-safe.
struct completion_log {
  std::vector<std::string> order;          // the name given to each completed submission
  std::vector<std::uint64_t> seqs;         // the seqs in completion order
  std::vector<store::errc> failure_codes;
  std::size_t mismatches = 0;              // statuses that disagree with their entries

  store::append_completion record(std::string name) {
    return [this, name](std::vector<engine::journal_entry>& entries,
                        const std::vector<store::append_status>& statuses,
                        const store::error* failure) {
      order.push_back(name);
      if (statuses.size() != entries.size()) {
        ++mismatches;
        return;
      }
      if (failure != nullptr) {
        failure_codes.push_back(failure->code);
        return;
      }
      for (std::size_t i = 0; i < entries.size(); ++i) {
        mismatches += entries[i].seq == statuses[i].seq ? 0 : 1;
        seqs.push_back(statuses[i].seq);
      }
    };
  }
};

} // namespace

TEST_CASE("store::writer group-commits concurrent submissions and completes them in seq order",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  constexpr int threads = 4;
  constexpr int submissions_per_thread = 150;
  std::vector<std::uint64_t> completed_seqs;
  std::vector<std::uint64_t> heads;
  std::size_t failures = 0;
  std::atomic<int> refused{0};
  {
    store::writer writer(*db, store::writer_options{});
    writer.on_commit([&](std::uint64_t head) { heads.push_back(head); });
    std::vector<std::thread> submitters;
    for (int t = 0; t < threads; ++t) {
      submitters.emplace_back([&, t] {
        for (int i = 0; i < submissions_per_thread; ++i) {
          auto entries = events("t" + std::to_string(t) + "-" + std::to_string(i) + "-",
                                static_cast<std::size_t>(1 + i % 3));
          const bool accepted = writer.submit(
              std::move(entries),
              [&](std::vector<engine::journal_entry>& done,
                  const std::vector<store::append_status>&, const store::error* failure) {
                if (failure != nullptr) {
                  ++failures;
                  return;
                }
                for (const auto& entry : done) {
                  completed_seqs.push_back(entry.seq);
                }
              });
          refused += accepted ? 0 : 1;
        }
      });
    }
    for (auto& submitter : submitters) {
      submitter.join();
    }
    writer.stop();
    // Several submissions share each commit; under a durable fsync per commit, 600 submissions
    // from four threads cannot each get their own.
    CHECK(writer.commits() < static_cast<std::uint64_t>(threads * submissions_per_thread));
    CHECK(writer.commits() == heads.size());
  }
  CHECK(failures == 0);
  CHECK(refused == 0);
  std::uint64_t total = 0;
  for (int i = 0; i < submissions_per_thread; ++i) {
    total += static_cast<std::uint64_t>(threads * (1 + i % 3));
  }
  REQUIRE(completed_seqs.size() == total);
  for (std::size_t i = 0; i < completed_seqs.size(); ++i) {
    REQUIRE(completed_seqs[i] == i + 1);
  }
  CHECK(db->journal_head() == total);
  REQUIRE_FALSE(heads.empty());
  CHECK(heads.back() == total);
}

TEST_CASE("store::writer puts submissions queued behind a busy commit into one commit", "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  writer_gate gate;
  completion_log log;
  store::writer writer(*db, store::writer_options{});
  REQUIRE(writer.submit(events("first", 1), gate.completion()));
  gate.wait_until_parked();
  for (int i = 0; i < 10; ++i) {
    REQUIRE(writer.submit(events("q" + std::to_string(i) + "-", 2), log.record(std::to_string(i))));
  }
  CHECK(writer.queued_events() == 20);
  gate.release();
  writer.stop();
  CHECK(writer.commits() == 2);
  CHECK(log.order == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  REQUIRE(log.seqs.size() == 20);
  CHECK(log.seqs.front() == 2);
  CHECK(log.seqs.back() == 21);
  CHECK(log.mismatches == 0);
}

TEST_CASE("store::writer refuses a submission that would overflow the queue", "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  writer_gate gate;
  completion_log log;
  store::writer_options opts;
  opts.queue_events_max = 10;
  store::writer writer(*db, opts);
  REQUIRE(writer.submit(events("first", 1), gate.completion()));
  gate.wait_until_parked();
  CHECK(writer.submit(events("a", 6), log.record("a")));
  CHECK_FALSE(writer.submit(events("b", 5), log.record("b")));
  CHECK(writer.submit(events("c", 4), log.record("c")));
  CHECK(writer.queued_events() == 10);
  CHECK_FALSE(writer.submit(events("d", 1), log.record("d")));
  gate.release();
  writer.stop();
  // Refused submissions are never completed.
  CHECK(log.order == std::vector<std::string>{"a", "c"});
  CHECK(db->journal_head() == 11);
}

TEST_CASE("store::writer stop finishes every queued submission and then refuses new ones",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  writer_gate gate;
  completion_log log;
  store::writer writer(*db, store::writer_options{});
  REQUIRE(writer.submit(events("first", 1), gate.completion()));
  gate.wait_until_parked();
  for (int i = 0; i < 5; ++i) {
    REQUIRE(writer.submit(events("s" + std::to_string(i) + "-", 3), log.record(std::to_string(i))));
  }
  std::thread stopper([&] { writer.stop(); });
  gate.release();
  stopper.join();
  CHECK(log.order.size() == 5);
  CHECK(log.failure_codes.empty());
  CHECK(db->journal_head() == 16);
  CHECK(log.mismatches == 0);
  CHECK_FALSE(writer.submit(events("late", 1), log.record("late")));
  CHECK_FALSE(writer.submit_checkpoints({}, 0, 1, [](const store::error*) {}));
}

TEST_CASE(
    "store::writer commits queued checkpoints in the same transaction as the queued appends",
    "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  writer_gate gate;
  std::vector<std::string> order;
  store::writer writer(*db, store::writer_options{});
  REQUIRE(writer.submit(events("first", 1), gate.completion()));
  gate.wait_until_parked();
  auto record = [&](std::string name) {
    return [&order, name](std::vector<engine::journal_entry>&,
                          const std::vector<store::append_status>&,
                          const store::error* failure) {
      order.push_back(failure == nullptr ? name : name + " failed");
    };
  };
  REQUIRE(writer.submit(events("a", 2), record("append-1")));
  const engine::sku_location_key key{sku("SKU-1"), location("wh1")};
  std::vector<store::checkpoint_record> records{{key, "state"}};
  REQUIRE(writer.submit_checkpoints(records, 0, 1, [&](const store::error* failure) {
    order.push_back(failure == nullptr ? "checkpoint" : "checkpoint failed");
  }));
  REQUIRE(writer.submit(events("b", 2), record("append-2")));
  gate.release();
  writer.stop();
  // One group commit carries both appends and the checkpoint: neither waits for the other.
  CHECK(order == std::vector<std::string>{"append-1", "append-2", "checkpoint"});
  CHECK(writer.commits() == 2);
  auto stored = db->read_checkpoint(key);
  REQUIRE(stored);
  CHECK(stored->value_or("") == "state");
  CHECK(db->replay_from(1) == 2);
}

TEST_CASE("store::writer fails an invalid submission alone and still commits the rest of its group",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  writer_gate gate;
  completion_log log;
  store::writer writer(*db, store::writer_options{});
  REQUIRE(writer.submit(events("first", 1), gate.completion()));
  gate.wait_until_parked();
  REQUIRE(writer.submit(events("ok-a", 1), log.record("a")));
  std::vector<engine::journal_entry> bad{make_entry("pos", std::string(600, 'x'), "SKU-1")};
  REQUIRE(writer.submit(std::move(bad), log.record("bad")));
  REQUIRE(writer.submit(events("ok-b", 1), log.record("b")));
  gate.release();
  writer.stop();
  CHECK(log.order == std::vector<std::string>{"a", "bad", "b"});
  CHECK(log.failure_codes == std::vector<store::errc>{store::errc::invalid});
  CHECK(log.seqs == std::vector<std::uint64_t>{2, 3});
  CHECK(writer.commits() == 2);
  CHECK(log.mismatches == 0);
}

TEST_CASE("store::writer completes a duplicate with its original seq", "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  completion_log log;
  std::vector<store::append_status> seen;
  store::writer writer(*db, store::writer_options{});
  REQUIRE(writer.submit(events("d", 2), log.record("first")));
  REQUIRE(writer.submit(events("d", 1), [&](auto&, const std::vector<store::append_status>& st,
                                            const store::error*) { seen = st; }));
  writer.stop();
  CHECK(log.failure_codes.empty());
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].duplicate);
  CHECK(seen[0].seq == 1);
  CHECK(db->journal_head() == 2);
}

TEST_CASE("store::writer calls on_commit with the head after each commit's completions",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  std::vector<std::string> order;
  store::writer writer(*db, store::writer_options{});
  writer.on_commit([&](std::uint64_t head) { order.push_back("head " + std::to_string(head)); });
  REQUIRE(writer.submit(events("h", 3), [&](auto&, const auto&, const store::error*) {
    order.push_back("done");
  }));
  writer.stop();
  CHECK(order == std::vector<std::string>{"done", "head 3"});
}

TEST_CASE("store::writer spreads a large checkpoint round over commits and moves the watermark "
          "with its last part",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  store::writer_options opts;
  opts.checkpoint_records_per_commit_max = 2;
  opts.checkpoint_records_per_idle_commit_max = 2;  // no events here: every commit is idle
  store::writer writer(*db, opts);
  std::vector<store::checkpoint_record> records;
  for (int i = 0; i < 5; ++i) {
    records.push_back({{sku("SKU-" + std::to_string(i)), location("wh1")}, "state"});
  }
  int completions = 0;
  const store::error* seen = nullptr;
  REQUIRE(writer.submit_checkpoints(records, 0, 7, [&](const store::error* failure) {
    ++completions;
    seen = failure;
  }));
  writer.stop();
  CHECK(completions == 1);
  CHECK(seen == nullptr);
  CHECK(writer.read_timing().checkpoint_commits == 3);  // 2 + 2 + 1 records
  for (int i = 0; i < 5; ++i) {
    auto stored = db->read_checkpoint({sku("SKU-" + std::to_string(i)), location("wh1")});
    REQUIRE(stored);
    CHECK(stored->value_or("") == "state");
  }
  CHECK(db->replay_from(1) == 8);
}

TEST_CASE("store::writer puts more checkpoint states in a commit that carries no events",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  store::writer_options opts;
  opts.checkpoint_records_per_commit_max = 2;
  opts.checkpoint_records_per_idle_commit_max = 4;
  store::writer writer(*db, opts);
  std::vector<store::checkpoint_record> records;
  for (int i = 0; i < 10; ++i) {
    records.push_back({{sku("SKU-" + std::to_string(i)), location("wh1")}, "state"});
  }
  int completions = 0;
  REQUIRE(writer.submit_checkpoints(records, 0, 3, [&](const store::error* failure) {
    completions += failure == nullptr ? 1 : 100;
  }));
  writer.stop();
  CHECK(completions == 1);
  // 4 + 4 + 2 with no events queued; with the per-commit cap of 2 alone it would take 5.
  CHECK(writer.read_timing().checkpoint_commits == 3);
  for (int i = 0; i < 10; ++i) {
    auto stored = db->read_checkpoint({sku("SKU-" + std::to_string(i)), location("wh1")});
    REQUIRE(stored);
    CHECK(stored->value_or("") == "state");
  }
}

TEST_CASE("store::writer commits outbox entries with the next group and completes them after it",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  store::writer writer(*db, {});
  const engine::channel_id shop("shop");
  std::vector<store::outbox_record> records{{shop, sku("A"), "a"}, {shop, sku("B"), "b"}};
  int completions = 0;
  const store::error* seen = nullptr;
  REQUIRE(writer.submit_outbox(records, [&](const store::error* failure) {
    ++completions;
    seen = failure;
  }));
  REQUIRE(writer.submit_outbox({{shop, sku("A"), "a2"}}, [&](const store::error* failure) {
    ++completions;
    seen = failure != nullptr ? failure : seen;
  }));
  writer.stop();
  CHECK(completions == 2);
  CHECK(seen == nullptr);
  auto stored = db->read_outbox(shop, std::nullopt, 10);
  REQUIRE(stored);
  REQUIRE(stored->size() == 2);
  CHECK((*stored)[0].bytes == "a2");  // submissions apply in order
  CHECK((*stored)[1].bytes == "b");
  CHECK_FALSE(writer.submit_outbox({{shop, sku("C"), "c"}}, [](const store::error*) {}));
}
