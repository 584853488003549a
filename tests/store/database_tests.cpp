#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <lmdb.h>

#include "engine/codec.hpp"
#include "store/database.hpp"
#include "tests/store/store_fixture.hpp"

using namespace stockd;
using store::testing::make_entry;
using store::testing::open_db;
using store::testing::location;
using store::testing::sku;
using store::testing::temp_dir;

namespace {

std::vector<engine::journal_entry> read_all(const store::database& db) {
  std::vector<engine::journal_entry> all;
  auto visited = db.read_journal(1, SIZE_MAX, [&](const engine::journal_entry& entry) {
    all.push_back(entry);
    return true;
  });
  REQUIRE(visited);
  REQUIRE(*visited == all.size());
  return all;
}

std::vector<engine::journal_entry> numbered(std::string_view prefix, std::size_t count,
                                            std::string sku = "SKU-1") {
  std::vector<engine::journal_entry> entries;
  for (std::size_t i = 0; i < count; ++i) {
    entries.push_back(make_entry("pos", std::string(prefix) + std::to_string(i), sku));
  }
  return entries;
}

std::vector<std::uint64_t> seqs_of(const std::vector<engine::journal_entry>& entries) {
  std::vector<std::uint64_t> seqs;
  for (const auto& entry : entries) {
    seqs.push_back(entry.seq);
  }
  return seqs;
}

} // namespace

TEST_CASE("store::database append assigns dense sequence numbers starting at one", "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  CHECK(db->journal_head() == 0);

  auto first = numbered("a", 3);
  std::vector<store::append_status> out;
  REQUIRE(db->append(first, out));
  REQUIRE(out.size() == 3);
  CHECK(seqs_of(first) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(out[2].seq == 3);
  CHECK_FALSE(out[2].duplicate);

  auto second = numbered("b", 2);
  REQUIRE(db->append(second, out));
  CHECK(seqs_of(second) == std::vector<std::uint64_t>{4, 5});
  CHECK(db->journal_head() == 5);

  const auto stored = read_all(*db);
  REQUIRE(stored.size() == 5);
  CHECK(stored[0] == first[0]);
  CHECK(stored[4] == second[1]);
}

TEST_CASE(
    "store::database answers a duplicate from an earlier batch with its original seq",
    "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  std::vector<store::append_status> out;
  auto first = numbered("e", 3);
  REQUIRE(db->append(first, out));

  std::vector<engine::journal_entry> again{make_entry("pos", "new-1", "SKU-1"),
                                           make_entry("pos", "e1", "SKU-9"),
                                           make_entry("web", "e1", "SKU-1")};
  REQUIRE(db->append(again, out));
  CHECK(out[0].seq == 4);
  CHECK_FALSE(out[0].duplicate);
  CHECK(out[1].seq == 2);
  CHECK(out[1].duplicate);
  // The same id from another source is a different event.
  CHECK(out[2].seq == 5);
  CHECK_FALSE(out[2].duplicate);
  CHECK(db->journal_head() == 5);
  const auto s = db->read_stats();
  CHECK(s.journal_entries == 5);
  CHECK(s.dedup_entries == 5);
}

TEST_CASE("store::database find_event answers the seq a (source, id) was journaled at",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  std::vector<store::append_status> out;
  auto batch = numbered("f", 3);
  REQUIRE(db->append(batch, out));
  auto found = db->find_event(engine::source_id("pos"), "f1");
  REQUIRE(found);
  CHECK(*found == std::optional<std::uint64_t>{2});
  auto other_source = db->find_event(engine::source_id("web"), "f1");
  REQUIRE(other_source);
  CHECK_FALSE(other_source->has_value());
  auto never = db->find_event(engine::source_id("pos"), "f9");
  REQUIRE(never);
  CHECK_FALSE(never->has_value());
  // An id too long for an LMDB key cannot have been stored: not found rather than an error.
  auto too_long = db->find_event(engine::source_id("pos"), std::string(600, 'x'));
  REQUIRE(too_long);
  CHECK_FALSE(too_long->has_value());
}

TEST_CASE("store::database stores a duplicate within one batch once", "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  std::vector<engine::journal_entry> batch{make_entry("pos", "x", "SKU-1"),
                                           make_entry("pos", "y", "SKU-1"),
                                           make_entry("pos", "x", "SKU-2")};
  std::vector<store::append_status> out;
  REQUIRE(db->append(batch, out));
  CHECK(out[0].seq == 1);
  CHECK(out[1].seq == 2);
  CHECK(out[2].seq == 1);
  CHECK(out[2].duplicate);
  CHECK(db->journal_head() == 2);
  CHECK(read_all(*db).size() == 2);
  auto ledger = db->sku_ledger(sku("SKU-2"), 0, 10);
  REQUIRE(ledger);
  CHECK(ledger->empty());
}

TEST_CASE("store::database keeps the head, the entries and the dedup index across a reopen",
          "[store]") {
  temp_dir dir;
  std::vector<engine::journal_entry> written = numbered("r", 4);
  {
    auto db = open_db(dir.path());
    std::vector<store::append_status> out;
    REQUIRE(db->append(written, out));
  }
  auto db = open_db(dir.path());
  CHECK(db->journal_head() == 4);
  CHECK(read_all(*db) == written);

  std::vector<engine::journal_entry> again{make_entry("pos", "r2", "SKU-1"),
                                           make_entry("pos", "fresh", "SKU-1")};
  std::vector<store::append_status> out;
  REQUIRE(db->append(again, out));
  CHECK(out[0].duplicate);
  CHECK(out[0].seq == 3);
  CHECK(out[1].seq == 5);
}

TEST_CASE("store::database refuses a second open of a directory that is already open", "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  store::options opts;
  opts.dir = dir.path();
  auto second = store::database::open(opts);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == store::errc::invalid);
}

TEST_CASE(
    "store::database read_journal starts at a seq, honours max_count and stops when visit says so",
    "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  auto entries = numbered("j", 10);
  std::vector<store::append_status> out;
  REQUIRE(db->append(entries, out));

  std::vector<std::uint64_t> seen;
  auto visited = db->read_journal(4, 3, [&](const engine::journal_entry& e) {
    seen.push_back(e.seq);
    return true;
  });
  REQUIRE(visited);
  CHECK(*visited == 3);
  CHECK(seen == std::vector<std::uint64_t>{4, 5, 6});

  seen.clear();
  visited = db->read_journal(8, 100, [&](const engine::journal_entry& e) {
    seen.push_back(e.seq);
    return e.seq < 9;
  });
  REQUIRE(visited);
  CHECK(*visited == 2);
  CHECK(seen == std::vector<std::uint64_t>{8, 9});

  visited = db->read_journal(11, 100, [](const engine::journal_entry&) { return true; });
  REQUIRE(visited);
  CHECK(*visited == 0);
}

TEST_CASE("store::database sku_ledger lists a SKU's entries newest first and pages with before",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  // Interleave three SKUs, including one whose name is a prefix of another.
  std::vector<engine::journal_entry> entries;
  for (int i = 0; i < 12; ++i) {
    const char* sku = i % 3 == 0 ? "A" : (i % 3 == 1 ? "AB" : "B");
    entries.push_back(make_entry("pos", "l" + std::to_string(i), sku));
  }
  std::vector<store::append_status> out;
  REQUIRE(db->append(entries, out));
  // "A" has seqs 1, 4, 7, 10; "AB" 2, 5, 8, 11; "B" 3, 6, 9, 12.

  auto page = db->sku_ledger(sku("A"), 0, 3);
  REQUIRE(page);
  CHECK(seqs_of(*page) == std::vector<std::uint64_t>{10, 7, 4});
  CHECK((*page)[0] == entries[9]);

  page = db->sku_ledger(sku("A"), 4, 3);
  REQUIRE(page);
  CHECK(seqs_of(*page) == std::vector<std::uint64_t>{1});

  page = db->sku_ledger(sku("AB"), 9, 10);
  REQUIRE(page);
  CHECK(seqs_of(*page) == std::vector<std::uint64_t>{8, 5, 2});

  // The last SKU in key order exercises the "past the end of the table" start.
  page = db->sku_ledger(sku("B"), 0, 10);
  REQUIRE(page);
  CHECK(seqs_of(*page) == std::vector<std::uint64_t>{12, 9, 6, 3});

  page = db->sku_ledger(sku("C"), 0, 10);
  REQUIRE(page);
  CHECK(page->empty());
  page = db->sku_ledger(sku("A"), 1, 10);
  REQUIRE(page);
  CHECK(page->empty());
}

TEST_CASE(
    "store::database checkpoints are written, read back, listed per SKU and survive reopening",
    "[store]") {
  temp_dir dir;
  const engine::sku_location_key a{sku("SKU-1"), location("wh1")};
  const engine::sku_location_key b{sku("SKU-1"), location("wh2")};
  const engine::sku_location_key other{sku("SKU-10"), location("wh1")};
  {
    auto db = open_db(dir.path());
    auto missing = db->read_checkpoint(a);
    REQUIRE(missing);
    CHECK_FALSE(missing->has_value());

    std::vector<store::checkpoint_record> records{{a, "state-a"}, {b, "state-b"}, {other, "o"}};
    REQUIRE(db->write_checkpoints(records, 0, 7));
    std::vector<store::checkpoint_record> update{{a, "state-a2"}};
    REQUIRE(db->write_checkpoints(update, 0, 9));
  }
  auto db = open_db(dir.path());
  auto got = db->read_checkpoint(a);
  REQUIRE(got);
  REQUIRE(got->has_value());
  CHECK(**got == "state-a2");
  got = db->read_checkpoint(b);
  REQUIRE(got);
  CHECK(got->value_or("") == "state-b");

  auto locations = db->checkpointed_locations(sku("SKU-1"));
  REQUIRE(locations);
  CHECK(*locations ==
        std::vector<engine::location_id>{location("wh1"), location("wh2")});
  CHECK(db->read_stats().checkpoints == 3);
  CHECK(db->replay_from(1) == 10);
}

TEST_CASE(
    "store::database replay_from is the lowest shard watermark plus one, and watermarks never drop",
    "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  CHECK(db->replay_from(2) == 1);
  REQUIRE(db->write_checkpoints({}, 0, 50));
  // Shard 1 has no watermark yet: everything must be replayed.
  CHECK(db->replay_from(2) == 1);
  CHECK(db->replay_from(1) == 51);
  REQUIRE(db->write_checkpoints({}, 1, 20));
  CHECK(db->replay_from(2) == 21);
  // A late, older checkpoint batch must not move shard 1 back.
  REQUIRE(db->write_checkpoints({}, 1, 10));
  CHECK(db->replay_from(2) == 21);
  REQUIRE(db->write_checkpoints({}, 1, 80));
  CHECK(db->replay_from(2) == 51);
  CHECK(db->replay_from(3) == 1);
}

TEST_CASE("store::database grows a full map and keeps everything", "[store]") {
  temp_dir dir;
  constexpr std::size_t initial = 64 * 1024;
  std::vector<engine::journal_entry> all;
  {
    auto db = open_db(dir.path(), initial, std::size_t{1} << 30);
    std::vector<store::append_status> out;
    for (int batch = 0; batch < 20; ++batch) {
      auto entries = numbered("g" + std::to_string(batch) + "-", 200,
                              "SKU-" + std::to_string(batch % 7));
      REQUIRE(db->append(entries, out));
      all.insert(all.end(), entries.begin(), entries.end());
    }
    const auto s = db->read_stats();
    CHECK(s.map_size_bytes > initial);
    CHECK(s.map_used_bytes <= s.map_size_bytes);
    CHECK(s.journal_head == 4000);
  }
  auto db = open_db(dir.path(), initial, std::size_t{1} << 30);
  CHECK(db->journal_head() == 4000);
  CHECK(read_all(*db) == all);
  CHECK(db->read_stats().dedup_entries == 4000);
}

// Decision: map_full is not sticky. The failed batch leaves no trace (no seq, no dedup entry, no
// head change); reads and duplicate answers keep working; more room comes from reopening with a
// larger map_size_max.
TEST_CASE("store::database fails a batch with map_full at map_size_max and stores none of it",
          "[store]") {
  temp_dir dir;
  constexpr std::size_t initial = 64 * 1024;
  constexpr std::size_t max = 256 * 1024;
  std::vector<engine::journal_entry> stored;
  std::vector<engine::journal_entry> refused;
  {
    auto db = open_db(dir.path(), initial, max);
    std::vector<store::append_status> out;
    for (int batch = 0; batch < 1000 && refused.empty(); ++batch) {
      auto entries = numbered("f" + std::to_string(batch) + "-", 100);
      auto r = db->append(entries, out);
      if (r) {
        stored.insert(stored.end(), entries.begin(), entries.end());
        continue;
      }
      CHECK(r.error().code == store::errc::map_full);
      CHECK(seqs_of(entries) == std::vector<std::uint64_t>(100, 0));
      refused = entries;
    }
    REQUIRE_FALSE(refused.empty());
    REQUIRE_FALSE(stored.empty());
    const auto s = db->read_stats();
    CHECK(s.map_size_bytes == max);
    CHECK(s.journal_head == stored.size());
    CHECK(s.journal_entries == stored.size());
    CHECK(s.dedup_entries == stored.size());

    // Duplicates of stored events are still answered.
    std::vector<engine::journal_entry> dup{stored.front()};
    dup[0].seq = 0;
    REQUIRE(db->append(dup, out));
    CHECK(out[0].duplicate);
    CHECK(out[0].seq == 1);
  }
  auto db = open_db(dir.path(), initial, std::size_t{1} << 30);
  CHECK(read_all(*db) == stored);
  std::vector<store::append_status> out;
  REQUIRE(db->append(refused, out));
  CHECK_FALSE(out[0].duplicate);
  CHECK(out[0].seq == stored.size() + 1);
  CHECK(db->journal_head() == stored.size() + refused.size());
}

TEST_CASE(
    "store::database refuses an over-long key or a NUL in a source as invalid and stores nothing",
    "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  std::vector<store::append_status> out;

  std::vector<engine::journal_entry> long_id{make_entry("pos", "ok", "SKU-1"),
                                             make_entry("pos", std::string(600, 'i'), "SKU-1")};
  auto r = db->append(long_id, out);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == store::errc::invalid);

  std::vector<engine::journal_entry> long_sku{make_entry("pos", "s", std::string(520, 's'))};
  r = db->append(long_sku, out);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == store::errc::invalid);

  std::vector<engine::journal_entry> nul_source{make_entry(std::string("p\0s", 3), "n", "SKU-1")};
  r = db->append(nul_source, out);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == store::errc::invalid);

  CHECK(db->journal_head() == 0);
  CHECK(db->read_stats().journal_entries == 0);
  CHECK(db->read_stats().dedup_entries == 0);

  const engine::sku_location_key long_key{sku("SKU-1"),
                                          engine::location_id{std::string(600, 'l')}};
  std::vector<store::checkpoint_record> records{{long_key, "x"}};
  auto w = db->write_checkpoints(records, 0, 5);
  REQUIRE_FALSE(w);
  CHECK(w.error().code == store::errc::invalid);
  CHECK(db->replay_from(1) == 1);
  CHECK_FALSE(db->read_checkpoint(long_key));

  // The store is still usable afterwards.
  std::vector<engine::journal_entry> fine{make_entry("pos", "ok", "SKU-1")};
  REQUIRE(db->append(fine, out));
  CHECK(out[0].seq == 1);
}

TEST_CASE("store::database read_stats counts entries and reports the map", "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  auto entries = numbered("s", 25);
  std::vector<store::append_status> out;
  REQUIRE(db->append(entries, out));
  const auto s = db->read_stats();
  CHECK(s.journal_head == 25);
  CHECK(s.journal_entries == 25);
  CHECK(s.dedup_entries == 25);
  CHECK(s.checkpoints == 0);
  CHECK(s.map_size_bytes == (std::size_t{1} << 24));
  CHECK(s.map_used_bytes > 0);
  CHECK(s.map_used_bytes < s.map_size_bytes);
}

TEST_CASE("store::database prepare_recovery keeps every event replayable when the shard count "
          "changes",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  // A run with 4 shards checkpointed them to different points.
  REQUIRE(db->prepare_recovery(4).value() == 1);
  REQUIRE(db->write_checkpoints({}, 0, 40));
  REQUIRE(db->write_checkpoints({}, 1, 10));
  REQUIRE(db->write_checkpoints({}, 2, 30));
  REQUIRE(db->write_checkpoints({}, 3, 20));
  CHECK(db->replay_from(4) == 11);
  // The same layout again changes nothing.
  CHECK(db->prepare_recovery(4).value() == 11);
  CHECK(db->replay_from(4) == 11);
  // Two shards now: shard 1 used to stand at 10, shard 0 at 40; keys move between shards, so
  // both must replay from the old minimum.
  CHECK(db->prepare_recovery(2).value() == 11);
  CHECK(db->replay_from(2) == 11);
  // Back to 8: the four new shards have no history of their own either.
  CHECK(db->prepare_recovery(8).value() == 11);
  CHECK(db->replay_from(8) == 11);
}

TEST_CASE("store::database prepare_recovery on a new store replays from the start", "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  CHECK(db->prepare_recovery(3).value() == 1);
  CHECK(db->replay_from(3) == 1);
}

TEST_CASE("store::database keeps each channel's outbox apart, pages it in SKU order and deletes an "
          "entry given empty bytes",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  const engine::channel_id shop("shop");
  const engine::channel_id shop2("shop2");  // a prefix of nothing, but shop is a prefix of it
  std::vector<store::outbox_record> records;
  for (int i = 0; i < 5; ++i) {
    records.push_back({shop, sku("SKU-" + std::to_string(i)), "entry-" + std::to_string(i)});
  }
  records.push_back({shop2, sku("SKU-0"), "other channel"});
  std::vector<store::append_status> none;
  REQUIRE(db->commit({}, none, {}, records));

  auto first = db->read_outbox(shop, std::nullopt, 2);
  REQUIRE(first);
  REQUIRE(first->size() == 2);
  CHECK((*first)[0].sku == sku("SKU-0"));
  CHECK((*first)[1].bytes == "entry-1");
  auto rest = db->read_outbox(shop, first->back().sku, 100);
  REQUIRE(rest);
  REQUIRE(rest->size() == 3);
  CHECK(rest->front().sku == sku("SKU-2"));
  CHECK(rest->back().sku == sku("SKU-4"));
  for (const auto& r : *rest) {
    CHECK(r.channel == shop);
  }

  std::vector<store::outbox_record> removal{{shop, sku("SKU-1"), ""}};
  REQUIRE(db->commit({}, none, {}, removal));
  auto after = db->read_outbox(shop, std::nullopt, 100);
  REQUIRE(after);
  CHECK(after->size() == 4);
  auto other = db->read_outbox(shop2, std::nullopt, 100);
  REQUIRE(other);
  REQUIRE(other->size() == 1);
  CHECK(other->front().bytes == "other channel");

  std::vector<store::outbox_record> bad{{shop, sku(std::string("A\0B", 3)), "x"}};
  auto refused = db->commit({}, none, {}, bad);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == store::errc::invalid);
}

TEST_CASE("store::database keeps reconciliation runs per channel, lists them newest first with "
          "their summary only and deletes one given empty bytes",
          "[store]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  const engine::channel_id shop("shop");
  const engine::channel_id amazon("amazon");
  auto run = [](const engine::channel_id& c, std::uint64_t seq, std::string bytes) {
    return store::outbox_record{c, sku(store::run_key(seq)), std::move(bytes),
                                store::channel_table::reconcile_runs};
  };
  CHECK(store::run_key(1) == "0000000000000001");
  CHECK(store::run_key(0x1f) == "000000000000001f");
  std::vector<store::outbox_record> records{run(shop, 1, "{\"n\":1}\n[]"),
                                            run(shop, 2, "{\"n\":2}\n[{\"sku\":\"A\"}]"),
                                            run(amazon, 1, "{\"a\":1}\n[]"),
                                            // The outbox of the same channel stays apart.
                                            {shop, sku("0000000000000003"), "outbox entry"}};
  std::vector<store::append_status> none;
  REQUIRE(db->commit({}, none, {}, records));

  auto listed = db->read_runs(shop, 10);
  REQUIRE(listed);
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].seq == 2);
  CHECK((*listed)[0].bytes == "{\"n\":2}");  // the summary line only
  CHECK((*listed)[1].seq == 1);
  auto all = db->read_runs(engine::channel_id(), 10);
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  CHECK((*all)[0].channel == amazon);
  CHECK((*all)[1].seq == 2);
  auto one = db->read_runs(engine::channel_id(), 1);
  REQUIRE(one);
  CHECK(one->size() == 1);
  auto whole = db->read_run(shop, 2);
  REQUIRE(whole);
  CHECK(*whole == std::optional<std::string>("{\"n\":2}\n[{\"sku\":\"A\"}]"));
  CHECK(db->read_run(shop, 3).value() == std::nullopt);

  std::vector<store::outbox_record> removal{run(shop, 1, "")};
  REQUIRE(db->commit({}, none, {}, removal));
  CHECK(db->read_runs(shop, 10).value().size() == 1);
  CHECK(db->read_run(shop, 1).value() == std::nullopt);
  CHECK(db->read_outbox(shop, std::nullopt, 10).value().size() == 1);
}

namespace {

// The reader table of the environment in `dir`, as mdb_reader_list prints it: the pid of each
// slot in use. Opened and closed here, while no database of this process has it open (LMDB
// forbids two opens of one environment in one process).
std::vector<long> reader_pids(const std::filesystem::path& dir) {
  MDB_env* env = nullptr;
  REQUIRE(mdb_env_create(&env) == 0);
  REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
  REQUIRE(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0644) == 0);
  std::vector<long> pids;
  mdb_reader_list(
      env,
      [](const char* line, void* ctx) {
        long pid = 0;
        // Lines are "<pid> <thread> <txnid>"; the header line and "(no active readers)" do not
        // start with a number.
        if (std::sscanf(line, "%ld", &pid) == 1) {
          static_cast<std::vector<long>*>(ctx)->push_back(pid);
        }
        return 0;
      },
      &pids);
  mdb_env_close(env);
  return pids;
}

// A child process that opens the environment, runs `then` and _exits without closing anything,
// as a crash would. Returns its pid once it has exited.
template <class F>
pid_t run_child(const std::filesystem::path& dir, F then) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    MDB_env* env = nullptr;
    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 16) != 0 ||
        mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0644) != 0) {
      ::_exit(2);
    }
    ::_exit(then(env));
  }
  return pid;
}

} // namespace

TEST_CASE("store::database clears the reader slots of dead processes when it opens",
          "[store]") {
  temp_dir dir;
  open_db(dir.path()).reset();  // creates the environment

  // LMDB resets the reader table when the first process opens the environment, so a stale slot
  // only outlives its process while another one (here `holder`, as mdb_stat or a backup tool
  // would) keeps the environment open.
  int to_holder[2];
  int from_holder[2];
  REQUIRE(::pipe(to_holder) == 0);
  REQUIRE(::pipe(from_holder) == 0);
  const pid_t holder = run_child(dir.path(), [&](MDB_env*) {
    char byte = 1;
    if (::write(from_holder[1], &byte, 1) != 1) {
      return 3;
    }
    return ::read(to_holder[0], &byte, 1) == 1 ? 0 : 4;  // until the test is done
  });
  char ready = 0;
  REQUIRE(::read(from_holder[0], &ready, 1) == 1);

  // A reader that dies in its read transaction: its slot stays taken.
  const pid_t dead = run_child(dir.path(), [](MDB_env* env) {
    MDB_txn* txn = nullptr;
    return mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0 ? 0 : 5;
  });
  int status = 0;
  REQUIRE(::waitpid(dead, &status, 0) == dead);
  REQUIRE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  const auto before = reader_pids(dir.path());
  CHECK(std::count(before.begin(), before.end(), long{dead}) == 1);

  open_db(dir.path()).reset();
  const auto after = reader_pids(dir.path());
  CHECK(std::count(after.begin(), after.end(), long{dead}) == 0);

  const char done = 1;
  REQUIRE(::write(to_holder[1], &done, 1) == 1);
  REQUIRE(::waitpid(holder, &status, 0) == holder);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  for (int fd : {to_holder[0], to_holder[1], from_holder[0], from_holder[1]}) {
    ::close(fd);
  }
}

TEST_CASE("forgotten closed lines are indexed with their checkpoint and found by key or by SKU",
          "[store]") {
  temp_dir dir;
  const engine::sku_location_key a{sku("SKU-1"), location("wh1")};
  const engine::sku_location_key b{sku("SKU-1"), location("wh2")};
  const engine::sku_location_key other{sku("SKU-10"), location("wh1")};
  const std::uint64_t line = engine::line_hash("O1", "1");
  {
    auto db = open_db(dir.path());
    std::vector<store::checkpoint_record> records{
        {a, "state-a", {{line, 3}}}, {b, "state-b", {{line, 1}, {engine::line_hash("O2", "1"), 2}}},
        {other, "o", {{line, 5}}}};
    REQUIRE(db->write_checkpoints(records, 0, 7));
    // The same line pushed out again (recalled in between): the later record wins, and the
    // commit path stores it as write_checkpoints does.
    std::vector<store::checkpoint_record> again{{a, "state-a2", {{line, 2}, {line, 1}}}};
    std::vector<engine::journal_entry> none;
    std::vector<store::append_status> out;
    const store::database::checkpoint_batch batch{again, 0, 9};
    REQUIRE(db->commit(none, out, {&batch, 1}));
  }
  auto db = open_db(dir.path());
  auto found = db->find_closed_line(a, line);
  REQUIRE(found);
  CHECK(*found == std::optional<std::int64_t>{1});
  found = db->find_closed_line(b, engine::line_hash("O2", "1"));
  REQUIRE(found);
  CHECK(*found == std::optional<std::int64_t>{2});
  found = db->find_closed_line(a, engine::line_hash("O2", "1"));
  REQUIRE(found);
  CHECK_FALSE(found->has_value());
  // By SKU: wh1 and wh2 hold O1/1 of SKU-1; SKU-10's line of the same hash is another SKU's.
  auto where = db->closed_line_locations(sku("SKU-1"), line);
  REQUIRE(where);
  REQUIRE(where->size() == 2);
  CHECK((*where)[0] == location("wh1"));
  CHECK((*where)[1] == location("wh2"));
  where = db->closed_line_locations(sku("SKU-1"), engine::line_hash("O3", "1"));
  REQUIRE(where);
  CHECK(where->empty());
}
