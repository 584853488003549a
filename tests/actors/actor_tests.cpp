// The actor engine on CAF's deterministic test coordinator, with a real LMDB in a temporary
// directory: nothing runs until the test says `run()`, so every interleaving here is chosen.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "actors/directory_shard.hpp"
#include "actors/runtime.hpp"
#include "engine/codec.hpp"
#include "engine/time.hpp"
#include "shard_fixture.hpp"

namespace {

using namespace std::chrono_literals;
namespace engine = stockd::engine;
namespace actors = stockd::actors;
namespace store = stockd::store;
using stockd::actors::testing::shard_under_test;
using stockd::actors::testing::temp_dir;

engine::timestamp at(int minute) {
  return *engine::parse_rfc3339("2026-11-27T10:00:00Z") + std::chrono::minutes(minute);
}

engine::journal_entry entry(std::uint64_t seq, engine::event_type type, std::string sku,
                            std::int64_t qty, std::string location = "main") {
  engine::journal_entry e;
  e.seq = seq;
  e.received_at = at(static_cast<int>(seq));
  e.ev.source = engine::source_id("test");
  e.ev.id = "e" + std::to_string(seq);
  e.ev.type = type;
  e.ev.sku = engine::sku_id(std::move(sku));
  e.ev.location = engine::location_id(std::move(location));
  e.ev.occurred_at = at(static_cast<int>(seq));
  if (type == engine::event_type::adjusted) {
    e.ev.delta = qty;
  } else {
    e.ev.qty = qty;
  }
  if (type == engine::event_type::order_created) {
    e.ev.order_id = "o" + std::to_string(seq);
    e.ev.line_id = "1";
    e.ev.channel = engine::channel_id("shop");
  }
  return e;
}

using t = engine::event_type;

} // namespace

TEST_CASE("a shard spawns one sku_location actor per key and applies in journal order",
          "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  s.deliver({entry(1, t::received, "A", 10), entry(2, t::order_created, "A", 3),
             entry(3, t::adjusted, "A", -2), entry(4, t::received, "B", 5)});
  CHECK(s.counters().live_actors.load() == 2);
  CHECK(s.counters().apply_applied.load() == 4);
  auto view = s.query("A");
  REQUIRE(view.locations.size() == 1);
  CHECK(view.complete);
  const auto& a = view.locations[0];
  CHECK(a.qty.available == 5);
  CHECK(a.qty.committed == 3);
  CHECK(a.qty.on_hand() == 8);
  CHECK(a.last_seq == 3);
  REQUIRE(a.last_event.has_value());
  CHECK(a.last_event->id == "e3");
}

TEST_CASE("a transfer reaches both its origin and its destination", "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  auto ship = entry(2, t::transfer_shipped, "A", 4);
  ship.ev.transfer_id = "t1";
  ship.ev.to_location = engine::location_id("east");
  s.deliver({entry(1, t::received, "A", 10), ship});
  auto view = s.query("A");
  REQUIRE(view.locations.size() == 2);
  const auto* main = s.find(view, "main");
  const auto* east = s.find(view, "east");
  REQUIRE(main != nullptr);
  REQUIRE(east != nullptr);
  CHECK(main->qty.available == 6);
  CHECK(east->qty.incoming == 4);
  CHECK(east->qty.on_hand() == 0);
}

TEST_CASE("an unknown SKU answers with no locations", "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  auto view = s.query("NOPE");
  CHECK(view.locations.empty());
  CHECK(view.complete);
  CHECK(s.counters().live_actors.load() == 0);  // reads never spawn actors
}

TEST_CASE("a checkpoint round persists dirty states and the shard's watermark", "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  s.deliver({entry(1, t::received, "A", 10), entry(2, t::received, "B", 7)});
  s.checkpoint(2);
  auto bytes = s.db().read_checkpoint({engine::sku_id("A"), engine::location_id("main")});
  REQUIRE(bytes.has_value());
  REQUIRE(bytes->has_value());
  auto state = engine::decode_state(**bytes);
  REQUIRE(state.has_value());
  CHECK(state->qty.available == 10);
  CHECK(state->last_seq == 1);
  CHECK(s.db().replay_from(1) == 3);
  CHECK(s.counters().checkpoint_records.load() == 2);
}

TEST_CASE("a clean actor is not checkpointed again", "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  s.deliver({entry(1, t::received, "A", 10)});
  s.checkpoint(1);
  auto records = s.counters().checkpoint_records.load();
  s.deliver({entry(2, t::received, "B", 1)});
  s.checkpoint(2);
  CHECK(s.counters().checkpoint_records.load() == records + 1);  // only B
}

TEST_CASE("after a restart the state comes from the checkpoint and replayed events are skipped",
          "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  s.deliver({entry(1, t::received, "A", 10), entry(2, t::order_created, "A", 4)});
  // Head 1 was published, so the watermark is 1, but the snapshot already includes seq 2.
  s.checkpoint(1);
  CHECK(s.db().replay_from(1) == 2);
  s.restart();
  CHECK(s.counters().live_actors.load() == 0);
  // Not live: answered from the checkpoint.
  auto cold = s.query("A");
  REQUIRE(cold.locations.size() == 1);
  CHECK(cold.locations[0].qty.committed == 4);
  // Recovery replays from the watermark: seq 2 is already inside the checkpoint.
  auto skipped_before = s.counters().apply_skipped.load();
  s.deliver({entry(2, t::order_created, "A", 4), entry(3, t::received, "A", 1)});
  CHECK(s.counters().apply_skipped.load() == skipped_before + 1);
  auto warm = s.query("A");
  REQUIRE(warm.locations.size() == 1);
  CHECK(warm.locations[0].qty.available == 7);
  CHECK(warm.locations[0].qty.committed == 4);
  CHECK(warm.locations[0].last_seq == 3);
}

TEST_CASE("a failed checkpoint write keeps the keys dirty and the watermark where it was",
          "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  s.deliver({entry(1, t::received, "A", 10)});
  s.fail_next_persist = true;
  s.checkpoint(1);
  CHECK(s.counters().checkpoint_failures.load() == 1);
  CHECK(s.db().replay_from(1) == 1);
  auto none = s.db().read_checkpoint({engine::sku_id("A"), engine::location_id("main")});
  REQUIRE(none.has_value());
  CHECK_FALSE(none->has_value());
  // The next round retries the same key: nothing was lost by the failure.
  s.checkpoint(1);
  CHECK(s.db().replay_from(1) == 2);
  auto bytes = s.db().read_checkpoint({engine::sku_id("A"), engine::location_id("main")});
  REQUIRE(bytes.has_value());
  CHECK(bytes->has_value());
}

TEST_CASE("a batched state read answers every key in order from its actor, its checkpoint or "
          "a fresh state",
          "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  s.deliver({entry(1, t::received, "A", 10), entry(2, t::received, "B", 7)});
  s.checkpoint(2);
  s.restart();  // A and B are checkpointed and not live
  s.deliver({entry(3, t::received, "C", 4), entry(4, t::received, "B", 1)});
  REQUIRE(s.counters().live_actors.load() == 2);
  auto key = [](const char* sku, const char* location) {
    return engine::sku_location_key{engine::sku_id(sku), engine::location_id(location)};
  };
  auto states = s.read_states(
      {key("C", "main"), key("A", "main"), key("NOPE", "main"), key("B", "main"),
       key("A", "east")});
  REQUIRE(states.size() == 5);
  REQUIRE(states[0].has_value());
  CHECK(states[0]->key == key("C", "main"));
  CHECK(states[0]->qty.on_hand() == 4);  // live
  REQUIRE(states[1].has_value());
  CHECK(states[1]->qty.on_hand() == 10);  // from its checkpoint
  CHECK(states[1]->last_seq == 1);
  REQUIRE(states[2].has_value());
  CHECK(states[2]->key == key("NOPE", "main"));  // never seen: fresh, nothing on hand
  CHECK(states[2]->qty.on_hand() == 0);
  CHECK(states[2]->last_seq == 0);
  REQUIRE(states[3].has_value());
  CHECK(states[3]->qty.on_hand() == 8);  // live again since seq 4
  REQUIRE(states[4].has_value());
  CHECK(states[4]->key == key("A", "east"));
  CHECK(states[4]->qty.on_hand() == 0);
  CHECK(s.counters().live_actors.load() == 2);  // reads never spawn actors
}

TEST_CASE("a rejected event leaves the actor's state unchanged and is counted", "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  s.deliver({entry(1, t::received, "A", 2), entry(2, t::adjusted, "A", -5)});
  CHECK(s.counters().apply_rejected.load() == 1);
  auto view = s.query("A");
  REQUIRE(view.locations.size() == 1);
  CHECK(view.locations[0].qty.available == 2);
}

TEST_CASE("the runtime recovers from the journal on the real scheduler", "[actors]") {
  temp_dir dir;
  store::options opts;
  opts.dir = dir.path;
  opts.map_size_bytes = 16u << 20;
  auto db = store::database::open(opts);
  REQUIRE(db.has_value());
  std::vector<engine::journal_entry> journal;
  for (std::uint64_t i = 1; i <= 100; ++i) {
    journal.push_back(entry(i, t::received, "SKU-" + std::to_string(i % 7), 1));
    journal.back().seq = 0;
  }
  std::vector<store::append_status> statuses;
  REQUIRE((*db)->append(journal, statuses).has_value());
  engine::catalog catalog({engine::location_info{engine::location_id("main"), {}}});
  actors::metrics counters;
  actors::options ropts;
  ropts.threads = 2;
  ropts.shards = 4;
  actors::runtime rt(ropts, catalog, db->get(),
                     [&](std::vector<store::checkpoint_record> records, std::uint32_t shard,
                         std::uint64_t watermark, store::checkpoint_completion done) {
                       auto w = (*db)->write_checkpoints(records, shard, watermark);
                       done(w ? nullptr : &w.error());
                       return true;
                     },
                     counters);
  auto replayed = rt.recover(10s);
  REQUIRE(replayed.has_value());
  CHECK(*replayed == 100);
  CHECK(counters.ready.load());
  CHECK(counters.apply_applied.load() == 100);
  std::promise<actors::sku_view> answer;
  rt.query_sku(engine::sku_id("SKU-3"), [&answer](actors::sku_view v) { answer.set_value(std::move(v)); });
  auto fut = answer.get_future();
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  auto view = fut.get();
  REQUIRE(view.locations.size() == 1);
  CHECK(view.locations[0].qty.available == 14);  // i % 7 == 3 for 14 of 1..100
  // The batched read goes to the four shards and answers in the order asked.
  actors::key_list keys;
  for (int i = 6; i >= 0; --i) {
    keys.push_back({engine::sku_id("SKU-" + std::to_string(i)), engine::location_id("main")});
  }
  keys.push_back({engine::sku_id("SKU-NEW"), engine::location_id("main")});
  std::promise<actors::key_states> states_answer;
  rt.read_states(keys, [&states_answer](actors::key_states s) {
    states_answer.set_value(std::move(s));
  });
  auto states_future = states_answer.get_future();
  REQUIRE(states_future.wait_for(10s) == std::future_status::ready);
  auto states = states_future.get();
  REQUIRE(states.size() == 8);
  for (std::size_t i = 0; i < 8; ++i) {
    REQUIRE(states[i].has_value());
    CHECK(states[i]->key == keys[i]);
    // SKU-k has received one unit for each i in 1..100 with i % 7 == k.
    const int k = 6 - static_cast<int>(i);
    const std::int64_t want = i == 7 ? 0 : (k == 1 || k == 2) ? 15 : 14;
    CHECK(states[i]->qty.available == want);
  }
  REQUIRE(rt.flush(10s));
  CHECK((*db)->replay_from(4) == 101);
}

// ---- the closed_lines index: order lines the state forgot -----------------------------------

namespace {

engine::journal_entry line_entry(std::uint64_t seq, engine::event_type type, int order,
                                 std::int64_t qty) {
  engine::journal_entry e = entry(seq, type, "A", qty);
  e.ev.order_id = "o" + std::to_string(order);
  e.ev.line_id = "1";
  if (type == engine::event_type::return_received) {
    e.ev.return_disposition = engine::disposition::restock;
  }
  return e;
}

/// Seq 1 receives 100 of A at main; then `orders` orders of 2, each fulfilled at once (seqs 2..),
/// so every line closes with 2 returnable and all but the newest 16 are pushed out.
std::vector<engine::journal_entry> closed_orders(int orders) {
  std::vector<engine::journal_entry> out{entry(1, t::received, "A", 100)};
  std::uint64_t seq = 2;
  for (int i = 0; i < orders; ++i) {
    out.push_back(line_entry(seq++, t::order_created, i, 2));
    out.push_back(line_entry(seq++, t::order_fulfilled, i, 2));
  }
  return out;
}

constexpr int late_orders = 20;
constexpr std::uint64_t after_orders = 2 + 2 * late_orders;  // the next seq

/// Delivers the journal from where recovery starts (the stored watermark), as runtime::recover.
void recover(shard_under_test& s, const std::vector<engine::journal_entry>& journal) {
  const std::uint64_t from = s.db().replay_from(1);
  std::vector<engine::journal_entry> suffix;
  for (const auto& e : journal) {
    if (e.seq >= from) {
      suffix.push_back(e);
    }
  }
  s.deliver(std::move(suffix));
}

engine::sku_location_state state_of_a(shard_under_test& s) {
  auto view = s.query("A");
  REQUIRE(view.locations.size() == 1);
  return view.locations[0];
}

const engine::sku_location_key key_a{engine::sku_id("A"), engine::location_id("main")};

} // namespace

TEST_CASE("a return of an order line closed 20 orders ago applies at its location", "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  s.deliver(closed_orders(late_orders));
  const auto before = state_of_a(s);
  REQUIRE(before.closed_lines.size() == engine::state_limits::closed_lines_max);
  s.deliver({line_entry(after_orders, t::return_received, 0, 2)});
  const auto after = state_of_a(s);
  CHECK(after.qty.available == before.qty.available + 2);
  CHECK(after.parked.empty());
  CHECK(s.counters().closed_lines_recalled.load() == 1);
  // Its returnable quantity is remembered: a second return of it is rejected, not parked.
  const auto rejected = s.counters().apply_rejected.load();
  s.deliver({line_entry(after_orders + 1, t::return_received, 0, 1)});
  CHECK(s.counters().apply_rejected.load() == rejected + 1);
  CHECK(state_of_a(s).parked.empty());
  // The lines pushed out reach the store's index with the next checkpoint.
  s.checkpoint(after_orders + 1);
  auto o1 = s.db().find_closed_line(key_a, engine::line_hash("o1", "1"));
  REQUIRE(o1.has_value());
  CHECK(*o1 == std::optional<std::int64_t>{2});
  auto where = s.db().closed_line_locations(engine::sku_id("A"), engine::line_hash("o2", "1"));
  REQUIRE(where.has_value());
  REQUIRE(where->size() == 1);
  CHECK((*where)[0].str() == "main");
}

TEST_CASE("a late cancel of an order line the state forgot is rejected, not parked",
          "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path);
  s.deliver(closed_orders(late_orders));
  const auto rejected = s.counters().apply_rejected.load();
  s.deliver({line_entry(after_orders, t::order_cancelled, 0, 1)});
  CHECK(s.counters().apply_rejected.load() == rejected + 1);
  CHECK(state_of_a(s).parked.empty());
}

TEST_CASE("a late return applies after a restart between the push-out and the return",
          "[actors]") {
  const auto journal = closed_orders(late_orders);
  const auto ret = line_entry(after_orders, t::return_received, 0, 2);
  std::int64_t expected_available = 0;
  {
    // The reference: no restart.
    temp_dir dir;
    shard_under_test s(dir.path);
    s.deliver(journal);
    s.deliver({ret});
    expected_available = state_of_a(s).qty.available;
  }
  SECTION("checkpointed after the push-out: the line comes from the store's index") {
    temp_dir dir;
    shard_under_test s(dir.path);
    s.deliver(journal);
    s.checkpoint(after_orders - 1);
    s.restart();
    recover(s, journal);
    s.deliver({ret});
    CHECK(state_of_a(s).qty.available == expected_available);
    CHECK(state_of_a(s).parked.empty());
  }
  SECTION("checkpointed before the push-out: replay pushes it out again") {
    temp_dir dir;
    shard_under_test s(dir.path);
    // Through order 10: closed lines not full yet, nothing pushed out.
    std::vector<engine::journal_entry> first(journal.begin(), journal.begin() + 21);
    s.deliver(first);
    s.checkpoint(first.back().seq);
    s.deliver(std::vector<engine::journal_entry>(journal.begin() + 21, journal.end()));
    s.restart();
    recover(s, journal);
    s.deliver({ret});
    CHECK(state_of_a(s).qty.available == expected_available);
    CHECK(state_of_a(s).parked.empty());
  }
  SECTION("a failed checkpoint keeps the lines, and the next one stores them") {
    temp_dir dir;
    shard_under_test s(dir.path);
    s.deliver(journal);
    s.fail_next_persist = true;
    s.checkpoint(after_orders - 1);
    s.checkpoint(after_orders - 1);
    auto o0 = s.db().find_closed_line(key_a, engine::line_hash("o0", "1"));
    REQUIRE(o0.has_value());
    CHECK(o0->has_value());
    s.restart();
    recover(s, journal);
    s.deliver({ret});
    CHECK(state_of_a(s).qty.available == expected_available);
  }
  SECTION("recalled, then checkpointed and restarted: the state's own record wins") {
    temp_dir dir;
    shard_under_test s(dir.path);
    s.deliver(journal);
    s.checkpoint(after_orders - 1);
    s.deliver({ret});  // o0 recalled, its returnable now 0; the index still says 2
    s.checkpoint(after_orders);
    s.restart();
    recover(s, journal);
    const auto rejected = s.counters().apply_rejected.load();
    s.deliver({line_entry(after_orders + 1, t::return_received, 0, 1)});
    CHECK(s.counters().apply_rejected.load() == rejected + 1);
    CHECK(state_of_a(s).qty.available == expected_available);
  }
}

// A checkpoint round must not pass an own order a channel took but has not stored in its outbox:
// after a restart nothing would replay it, and the shop's shadow would never drop (found by the
// deterministic simulation, seeds 3056, 3126, 3286, 4973, 11405).
TEST_CASE("a checkpoint round is stored only once the channels have stored their outboxes",
          "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path, {"main", "east"}, /*channel=*/true);
  s.deliver({entry(1, t::received, "A", 10), entry(2, t::order_created, "A", 4)});
  s.complete_outbox();  // the writes the updates started before the round
  s.deliver({entry(3, t::order_created, "A", 1)});
  REQUIRE(!s.outbox_jobs.empty());  // the channel's record of order 3, in flight
  s.checkpoint(3);
  CHECK(s.persist_calls == 0);
  CHECK(s.db().replay_from(1) == 1);

  SECTION("the round goes on when the channel's write is stored") {
    s.complete_outbox();
    CHECK(s.persist_calls == 1);
    CHECK(s.db().replay_from(1) == 4);
    CHECK(s.counters().checkpoint_failures.load() == 0);
  }
  SECTION("a channel that does not store in time fails the round, and the next one stores it") {
    s.fire_timers();  // the round's request to the channel times out
    CHECK(s.persist_calls == 0);
    CHECK(s.counters().checkpoint_failures.load() == 1);
    CHECK(s.db().replay_from(1) == 1);
    s.complete_outbox(/*ok=*/false);  // and the write failed: the channel retries after a pause
    s.channel_now += 2s;
    s.fire_timers();
    s.complete_outbox();
    s.checkpoint(3);
    CHECK(s.persist_calls == 1);
    CHECK(s.db().replay_from(1) == 4);
  }
}

TEST_CASE("a checkpoint round waits for the changes a channel took before it, not after",
          "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path, {"main", "east"}, /*channel=*/true);
  s.deliver({entry(1, t::received, "A", 10), entry(2, t::order_created, "A", 4)});
  REQUIRE(s.outbox_jobs.size() == 1);  // A's record, in flight
  s.checkpoint(2);                     // waits for it
  CHECK(s.persist_calls == 0);
  s.deliver({entry(3, t::received, "B", 5)});  // B's record waits for the write in flight
  s.complete_outbox(true, 1);                  // A's is stored; B's write starts
  CHECK(s.outbox_jobs.size() == 1);
  CHECK(s.persist_calls == 1);  // the round did not wait for B
  CHECK(s.db().replay_from(1) == 3);
}

TEST_CASE("with nothing left to store a channel lets the round go at once", "[actors]") {
  temp_dir dir;
  shard_under_test s(dir.path, {"main", "east"}, /*channel=*/true);
  s.deliver({entry(1, t::received, "A", 10), entry(2, t::received, "B", 3, "east")});
  s.complete_outbox();
  s.checkpoint(2);
  CHECK(s.persist_calls == 1);
  CHECK(s.db().replay_from(1) == 3);
  CHECK(s.outbox_jobs.empty());
}
