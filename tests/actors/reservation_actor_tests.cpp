// Reservations in the actor engine on CAF's deterministic test coordinator, with a real LMDB
// journal in a temporary directory; the journal writer is played by the test (shard_fixture.hpp's
// journaled_shards).
#include <catch2/catch.hpp>

#include <optional>

#include "actors/directory_shard.hpp"
#include "engine/time.hpp"
#include "shard_fixture.hpp"

namespace {

using namespace std::chrono_literals;
namespace engine = stockd::engine;
namespace actors = stockd::actors;
using actors::reservation_status;

using stockd::actors::testing::answer_slot;
using stockd::actors::testing::journaled_shards;
using stockd::actors::testing::test_locations;

/// One directory shard, SKU "A" at locations main and east.
class reservation_shard : public journaled_shards {
public:
  reservation_shard() : journaled_shards(engine::catalog(test_locations({"main", "east"})), 1) {}

  /// Sends a reservation request for "A"; the answer lands in the returned slot once it comes.
  answer_slot reserve(std::string key, std::int64_t qty,
                      std::optional<std::chrono::seconds> expires_in = {},
                      std::vector<std::string> candidates = {}) {
    actors::reserve_request req;
    req.key = key;
    req.key_digest = "d" + key;
    req.sku = engine::sku_id("A");
    req.qty = qty;
    req.expires_in = expires_in;
    for (auto& location : candidates) {
      req.candidates.emplace_back(std::move(location));
    }
    return send_reserve(std::move(req));
  }

  answer_slot end(const std::string& id, actors::end_kind kind, std::string order_id = "order-1",
                  std::string line_id = "") {
    actors::end_request req;
    req.id = id;
    req.key = *actors::parse_reservation_id(id);
    req.kind = kind;
    req.order_id = kind == actors::end_kind::commit ? std::move(order_id) : "";
    req.line_id = kind == actors::end_kind::commit ? std::move(line_id) : "";
    return send_end(std::move(req));
  }

  /// The state of "A" at `location`; fails the test when there is none.
  engine::sku_location_state state(const std::string& location = "main") {
    auto found = find_state("A", location);
    if (!found) {
      FAIL("no state at " << location);
    }
    return std::move(*found);
  }
};

engine::journal_entry received(std::string id, std::int64_t qty, std::string location = "main") {
  engine::journal_entry e;
  e.received_at = *engine::parse_rfc3339("2026-11-27T09:00:00Z");
  e.ev.source = engine::source_id("wms");
  e.ev.id = std::move(id);
  e.ev.type = engine::event_type::received;
  e.ev.sku = engine::sku_id("A");
  e.ev.location = engine::location_id(std::move(location));
  e.ev.occurred_at = e.received_at;
  e.ev.qty = qty;
  return e;
}

engine::journal_entry ordered(std::string id, std::string order_id, std::string line_id,
                              std::int64_t qty) {
  engine::journal_entry e = received(std::move(id), qty);
  e.ev.source = engine::source_id("shop");
  e.ev.type = engine::event_type::order_created;
  e.ev.order_id = std::move(order_id);
  e.ev.line_id = std::move(line_id);
  e.ev.channel = engine::channel_id("web");
  return e;
}

} // namespace

TEST_CASE("two reservations for the last unit: one is created, the other refused at once",
          "[actors][reservations]") {
  reservation_shard s;
  s.ingest(received("r1", 1));
  auto first = s.reserve("cart-1", 1);
  auto second = s.reserve("cart-2", 1);
  // The first holds the unit while its event is in the journal: the second cannot take it.
  CHECK_FALSE(first->has_value());
  REQUIRE(second->has_value());
  CHECK((*second)->status == reservation_status::insufficient);
  CHECK((*second)->available == 0);
  CHECK(s.submitted.size() == 1);

  s.commit_journal();
  REQUIRE(first->has_value());  // answered only after the commit and the apply
  CHECK((*first)->status == reservation_status::created);
  CHECK((*first)->location.str() == "main");
  auto st = s.state();
  CHECK(st.qty.available == 0);
  CHECK(st.qty.reserved == 1);
  REQUIRE(st.reservations.size() == 1);
  CHECK(st.reservations[0].id == (*first)->id);
}

TEST_CASE("the same key while the first request is in flight gets the same answer",
          "[actors][reservations]") {
  reservation_shard s;
  s.ingest(received("r1", 5));
  auto first = s.reserve("cart-1", 2);
  auto again = s.reserve("cart-1", 2);
  CHECK(s.submitted.size() == 1);  // one event for one key
  s.commit_journal();
  REQUIRE(first->has_value());
  REQUIRE(again->has_value());
  CHECK((*again)->id == (*first)->id);
  CHECK(s.state().qty.reserved == 2);
  // After it is applied, the key is answered from the state without journaling.
  auto third = s.reserve("cart-1", 2);
  REQUIRE(third->has_value());
  CHECK((*third)->replayed);
  CHECK(s.submitted.empty());
}

TEST_CASE("without a location the shard tries the locations in config order",
          "[actors][reservations]") {
  reservation_shard s;
  s.ingest(received("r1", 1, "main"));
  s.ingest(received("r2", 3, "east"));
  auto r = s.reserve("cart-1", 2);
  s.commit_journal();
  REQUIRE(r->has_value());
  CHECK((*r)->status == reservation_status::created);
  CHECK((*r)->location.str() == "east");
  auto none = s.reserve("cart-2", 2);
  REQUIRE(none->has_value());
  CHECK((*none)->status == reservation_status::insufficient);
  CHECK((*none)->available == 1);  // the most any one location has
}

TEST_CASE("without a location the shard tries the request's candidates in their order",
          "[actors][reservations]") {
  reservation_shard s;
  s.ingest(received("r1", 3, "main"));
  s.ingest(received("r2", 3, "east"));
  auto r = s.reserve("cart-1", 2, std::nullopt, {"east", "main"});  // a channel's priority
  s.commit_journal();
  REQUIRE(r->has_value());
  CHECK((*r)->location.str() == "east");
  auto only_east = s.reserve("cart-2", 2, std::nullopt, {"east"});
  REQUIRE(only_east->has_value());
  CHECK((*only_east)->status == reservation_status::insufficient);  // main is not a candidate
  CHECK((*only_east)->available == 1);
}

TEST_CASE("a refused journal submission leaves no hold behind", "[actors][reservations]") {
  reservation_shard s;
  s.ingest(received("r1", 1));
  s.refuse_submissions = true;
  auto refused = s.reserve("cart-1", 1);
  REQUIRE(refused->has_value());
  CHECK((*refused)->status == reservation_status::overloaded);
  s.refuse_submissions = false;
  auto ok = s.reserve("cart-2", 1);
  s.commit_journal();
  REQUIRE(ok->has_value());
  CHECK((*ok)->status == reservation_status::created);
}

TEST_CASE("release and commit end a hold once, and a second end is told how it ended",
          "[actors][reservations]") {
  reservation_shard s;
  s.ingest(received("r1", 10));
  auto a = s.reserve("a", 2);
  auto b = s.reserve("b", 3);
  s.commit_journal();
  REQUIRE(a->has_value());
  REQUIRE(b->has_value());
  // A release and a commit of `a` race: the journal's order decides, the loser hears 409.
  auto released = s.end((*a)->id, actors::end_kind::release);
  auto committed = s.end((*a)->id, actors::end_kind::commit);
  s.commit_journal();
  REQUIRE(released->has_value());
  REQUIRE(committed->has_value());
  CHECK((*released)->status == reservation_status::released);
  CHECK((*committed)->status == reservation_status::ended);
  CHECK((*committed)->detail == "released");
  auto b_committed = s.end((*b)->id, actors::end_kind::commit);
  s.commit_journal();
  REQUIRE(b_committed->has_value());
  CHECK((*b_committed)->status == reservation_status::committed);
  auto st = s.state();
  CHECK(st.qty.available == 7);
  CHECK(st.qty.committed == 3);
  CHECK(st.qty.reserved == 0);
}

TEST_CASE("an expired hold is journaled as reservation_expired on the engine's clock",
          "[actors][reservations]") {
  reservation_shard s;
  s.ingest(received("r1", 4));
  auto r = s.reserve("cart-1", 3, std::chrono::seconds(60));
  s.commit_journal();
  REQUIRE(r->has_value());
  REQUIRE((*r)->expires_at.has_value());

  s.now += 59s;  // not yet: the timer finds nothing to expire
  s.fire_timers();
  CHECK(s.submitted.empty());
  s.now += 1s;
  s.fire_timers();
  REQUIRE(s.submitted.size() == 1);
  REQUIRE(s.submitted.front().size() == 1);
  const auto& expiry = s.submitted.front()[0].ev;
  CHECK(expiry.type == engine::event_type::reservation_expired);
  CHECK(expiry.id.rfind("expire:" + (*r)->id + "#", 0) == 0);
  CHECK(expiry.source.str() == "stockd");
  s.fire_timers();
  CHECK(s.submitted.size() == 1);  // in flight: not submitted twice
  s.commit_journal();
  auto st = s.state();
  CHECK(st.qty.available == 4);
  CHECK(st.qty.reserved == 0);
  CHECK(st.reservations.empty());
}

TEST_CASE("a commit to an order line that already exists is refused and the hold stays active",
          "[actors][reservations]") {
  // Found by the randomized HTTP test (tests/e2e/random_http_tests.cpp): such a commit used to
  // be journaled, refused by the engine, and answered 200 "committed" from the ledger, while the
  // hold stayed reserved and its id "commit:<id>" was spent, so it could never be committed.
  reservation_shard s;
  s.ingest(received("r1", 10));
  s.ingest(ordered("o1", "order-1", "1", 1));
  auto r = s.reserve("cart-1", 2);
  s.commit_journal();
  REQUIRE(r->has_value());
  const std::string id = (*r)->id;

  auto refused = s.end(id, actors::end_kind::commit, "order-1", "1");
  REQUIRE(refused->has_value());
  CHECK((*refused)->status == reservation_status::refused);
  CHECK((*refused)->detail == "inconsistent: order line order-1/1 already exists");
  CHECK((*refused)->id == id);
  CHECK(s.submitted.empty());  // nothing journaled
  auto st = s.state();
  CHECK(st.qty.reserved == 2);
  CHECK(st.qty.committed == 1);

  // The same hold commits to another line, and the retry of that commit is answered as such.
  auto committed = s.end(id, actors::end_kind::commit, "order-1", "2");
  s.commit_journal();
  REQUIRE(committed->has_value());
  CHECK((*committed)->status == reservation_status::committed);
  auto retry = s.end(id, actors::end_kind::commit, "order-1", "2");
  REQUIRE(retry->has_value());
  CHECK((*retry)->status == reservation_status::committed);
  st = s.state();
  CHECK(st.qty.reserved == 0);
  CHECK(st.qty.committed == 3);
}

TEST_CASE("a commit refused by the engine after it was journaled is answered as refused",
          "[actors][reservations]") {
  reservation_shard s;
  s.ingest(received("r1", 10));
  auto r = s.reserve("cart-1", 2);
  s.commit_journal();
  REQUIRE(r->has_value());
  // The commit passes the check, then an order opens the same line before it is applied.
  auto commit = s.end((*r)->id, actors::end_kind::commit, "order-1", "1");
  REQUIRE(s.submitted.size() == 1);
  s.submitted.push_front({ordered("o1", "order-1", "1", 1)});
  s.commit_journal();
  REQUIRE(commit->has_value());
  CHECK((*commit)->status == reservation_status::refused);
  CHECK((*commit)->detail == "inconsistent: order line order-1/1 already exists");
  auto st = s.state();
  CHECK(st.qty.reserved == 2);
  CHECK(st.qty.committed == 1);
}
