// store::replay and read-only opening: the rebuilt state agrees with checkpoints written at
// their own seqs (lagging ones included), and a tampered checkpoint is named.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/apply.hpp"
#include "engine/codec.hpp"
#include "store/database.hpp"
#include "store/replay.hpp"
#include "tests/store/store_fixture.hpp"

using namespace stockd;
using store::testing::location;
using store::testing::make_entry;
using store::testing::open_db;
using store::testing::sku;
using store::testing::temp_dir;

namespace {

// Appends `entries` and returns them with their seqs.
std::vector<engine::journal_entry> append(store::database& db,
                                          std::vector<engine::journal_entry> entries) {
  std::vector<store::append_status> out;
  REQUIRE(db.append(entries, out));
  return entries;
}

// The state of `key` after applying `entries` (the part touching it), as the actor would.
engine::sku_location_state applied(const engine::sku_location_key& key,
                                   const std::vector<engine::journal_entry>& entries) {
  engine::sku_location_state state;
  state.key = key;
  for (const auto& e : entries) {
    for (const auto& k : engine::touched_keys(e.ev)) {
      if (k == key) {
        engine::apply(state, e, e.received_at);
      }
    }
  }
  return state;
}

void checkpoint(store::database& db, const engine::sku_location_state& state) {
  store::checkpoint_record record{state.key, {}};
  engine::encode(state, record.state_bytes);
  REQUIRE(db.write_checkpoints({&record, 1}, 0, 0));
}

std::unique_ptr<store::database> open_read_only(const std::filesystem::path& dir) {
  store::options opts;
  opts.dir = dir;
  opts.map_size_max = std::size_t{1} << 30;
  opts.read_only = true;
  auto db = store::database::open(opts);
  if (!db) {
    FAIL("read-only open failed: " << db.error().message);
  }
  return std::move(*db);
}

} // namespace

TEST_CASE("a read-only store opens beside the writer and sees its later commits", "[store][replay]") {
  temp_dir dir;
  auto writer = open_db(dir.path());
  append(*writer, {make_entry("erp", "1", "A"), make_entry("erp", "2", "A")});
  auto reader = open_read_only(dir.path());
  CHECK(reader->journal_head() == 2);
  append(*writer, {make_entry("erp", "3", "B")});
  std::size_t seen = 0;
  auto visited = reader->read_journal(1, 10, [&seen](const engine::journal_entry&) {
    ++seen;
    return true;
  });
  REQUIRE(visited);
  CHECK(seen == 3);
  CHECK(reader->find_event(engine::source_id{"erp"}, "3").value() == std::optional<std::uint64_t>{3});
}

TEST_CASE("a read-only open of a directory without a store fails and creates nothing",
          "[store][replay]") {
  temp_dir dir;
  store::options opts;
  opts.dir = dir.path() / "missing";
  opts.read_only = true;
  auto db = store::database::open(opts);
  REQUIRE_FALSE(db);
  CHECK(db.error().code == store::errc::invalid);
  CHECK_FALSE(std::filesystem::exists(opts.dir));
}

TEST_CASE("replay rebuilds every key and agrees with checkpoints taken at their own seqs",
          "[store][replay]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  auto first = append(*db, {make_entry("erp", "1", "A", "wh1", 5), make_entry("erp", "2", "B", "wh1", 7),
                            make_entry("erp", "3", "A", "wh2", 2)});
  const engine::sku_location_key a1{sku("A"), location("wh1")};
  const engine::sku_location_key b1{sku("B"), location("wh1")};
  // A's checkpoint lags: events for A at wh1 follow it in the journal.
  checkpoint(*db, applied(a1, first));
  auto second = append(*db, {make_entry("erp", "4", "A", "wh1", -2), make_entry("erp", "5", "B", "wh1", 1)});
  std::vector<engine::journal_entry> all = first;
  all.insert(all.end(), second.begin(), second.end());
  checkpoint(*db, applied(b1, all));

  std::vector<std::pair<std::uint64_t, std::uint64_t>> progress;
  store::replay_options opts;
  opts.page = 2;
  opts.progress = [&progress](std::uint64_t done, std::uint64_t total) {
    progress.emplace_back(done, total);
  };
  auto report = store::replay(*db, opts);
  REQUIRE(report);
  CHECK(report->events == 5);
  CHECK(report->through == 5);
  CHECK(report->checkpoints == 2);
  CHECK(report->matched == 2);
  CHECK(report->agrees());
  CHECK(report->not_checkpointed == 1);  // A at wh2
  REQUIRE(report->states.size() == 3);
  CHECK(report->states.at(a1).qty.available == 3);
  CHECK(report->states.at(b1).qty.available == 8);
  REQUIRE_FALSE(progress.empty());
  CHECK(progress.back() == std::pair<std::uint64_t, std::uint64_t>{5, 5});
}

TEST_CASE("replay names the key and field of a checkpoint that disagrees with the journal",
          "[store][replay]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  auto entries = append(*db, {make_entry("erp", "1", "A", "wh1", 5)});
  const engine::sku_location_key a1{sku("A"), location("wh1")};
  auto tampered = applied(a1, entries);
  tampered.qty.available = 50;
  checkpoint(*db, tampered);
  // A checkpoint for a key the journal never touched is wrong too.
  engine::sku_location_state ghost;
  ghost.key = {sku("GHOST"), location("wh1")};
  ghost.qty.available = 1;
  checkpoint(*db, ghost);

  auto report = store::replay(*db);
  REQUIRE(report);
  CHECK_FALSE(report->agrees());
  CHECK(report->mismatched == 2);
  REQUIRE(report->mismatches.size() == 2);
  CHECK(report->mismatches[0].key == a1);
  CHECK(report->mismatches[0].what == "available: replayed 5 vs live 50");
  CHECK(report->mismatches[1].key.sku == sku("GHOST"));
}

TEST_CASE("replay recalls an order line its state forgot, as stockd does, and keeps the index",
          "[store][replay]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  const engine::sku_location_key key{sku("A"), location("wh1")};
  std::vector<engine::journal_entry> entries;
  auto line_event = [&entries](std::string id, engine::event_type type, int order,
                               std::int64_t qty) {
    engine::journal_entry e = make_entry("oms", std::move(id), "A");
    e.ev.type = type;
    e.ev.qty = qty;
    e.ev.delta = 0;
    e.ev.order_id = "O" + std::to_string(order);
    e.ev.line_id = "1";
    entries.push_back(std::move(e));
  };
  entries.push_back(make_entry("oms", "stock", "A", "wh1", 100));
  for (int i = 0; i < 20; ++i) {
    line_event("o" + std::to_string(i), engine::event_type::order_created, i, 2);
    line_event("f" + std::to_string(i), engine::event_type::order_fulfilled, i, 2);
  }
  line_event("ret", engine::event_type::return_received, 0, 2);
  entries = append(*db, std::move(entries));

  store::replay_options opts;
  opts.compare = false;
  auto report = store::replay(*db, opts);
  REQUIRE(report);
  const auto& state = report->states.at(key);
  CHECK(state.qty.available == 100 - 40 + 2);
  CHECK(state.parked.empty());
  // O0 is back in the state; the index holds the lines pushed out, O0's record included.
  CHECK(state.closed_lines.back().line_hash == engine::line_hash("O0", "1"));
  const auto& index = report->forgotten_lines.at(key);
  CHECK(index.size() == 5);  // O0..O3, then O4 to make room for O0
  CHECK(index.at(engine::line_hash("O4", "1")) == 2);
}
