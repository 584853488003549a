// Kit reservations (actors/kit_reservation.hpp) on CAF's deterministic test coordinator, over a
// real LMDB journal in a temporary directory, with the journal writer played by the test
// (shard_fixture.hpp's journaled_shards). Two directory shards, so the kit's two components live
// in different shards as they usually do.
#include <catch2/catch.hpp>

#include <optional>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/directory_shard.hpp"
#include "actors/kit_reservation.hpp"
#include "engine/time.hpp"
#include "shard_fixture.hpp"

namespace {

using namespace std::chrono_literals;
namespace engine = stockd::engine;
namespace actors = stockd::actors;
using actors::reservation_status;
using engine::event_type;
using stockd::actors::testing::answer_slot;
using stockd::actors::testing::answered;
using stockd::actors::testing::journaled_shards;
using stockd::actors::testing::reply_into;
using stockd::actors::testing::test_locations;

/// GIFT = 2 × SHIRT + 1 × MUG, at locations main and east.
class kit_engine : public journaled_shards {
public:
  static constexpr std::uint32_t shard_count = 2;

  kit_engine()
      : journaled_shards(
            engine::catalog(test_locations({"main", "east"}),
                            {engine::sku_info{engine::sku_id("GIFT"),
                                              {},
                                              {engine::kit_component{engine::sku_id("SHIRT"), 2},
                                               engine::kit_component{engine::sku_id("MUG"), 1}}}}),
            shard_count) {
    // The point of two shards: the components are owned by different ones.
    REQUIRE(actors::shard_of(engine::sku_id("SHIRT"), shard_count) !=
            actors::shard_of(engine::sku_id("MUG"), shard_count));
  }

  answer_slot reserve_kit(const std::string& key, std::int64_t qty,
                          std::optional<std::string> location = {},
                          std::optional<std::chrono::seconds> expires_in = {}) {
    actors::reserve_request req;
    req.key = key;
    req.key_digest = digest(key);
    req.sku = engine::sku_id("GIFT");
    req.qty = qty;
    req.expires_in = expires_in;
    std::vector<engine::location_id> candidates;
    if (location) {
      req.location = engine::location_id(*location);
      candidates.push_back(*req.location);
    } else {
      for (const auto& info : catalog().locations()) {
        candidates.push_back(info.id);
      }
    }
    auto components = catalog().kit_components(req.sku);
    auto answer = std::make_shared<std::optional<actors::reservation_reply>>();
    actors::reserve_kit(system(), routes(), {components.begin(), components.end()},
                        std::move(candidates), std::move(req), reply_into(answer));
    run();
    return answer;
  }

  answer_slot end_kit(const std::string& id, actors::end_kind kind,
                      const std::string& order_id = {}, const std::string& line_id = {}) {
    auto ref = actors::parse_kit_reservation_id(id);
    REQUIRE(ref.has_value());
    actors::kit_end_request req;
    req.id = id;
    req.kit = ref->kit;
    req.location = ref->location;
    req.key_digest = ref->key_digest;
    req.kind = kind;
    req.order_id = order_id;
    req.line_id = line_id;
    auto components = catalog().kit_components(req.kit);
    auto answer = std::make_shared<std::optional<actors::reservation_reply>>();
    actors::end_kit(system(), routes(), {components.begin(), components.end()}, std::move(req),
                    reply_into(answer));
    run();
    return answer;
  }

  /// A plain reservation of one SKU, as the HTTP layer sends it.
  answer_slot reserve_plain(const std::string& sku, const std::string& key, std::int64_t qty,
                            const std::string& location = "main") {
    actors::reserve_request req;
    req.key = key;
    req.key_digest = digest(key);
    req.sku = engine::sku_id(sku);
    req.location = engine::location_id(location);
    req.qty = qty;
    return send_reserve(std::move(req));
  }

  answer_slot release_plain(const std::string& id) {
    actors::end_request req;
    req.id = id;
    req.key = *actors::parse_reservation_id(id);
    req.kind = actors::end_kind::release;
    return send_end(std::move(req));
  }

  /// A request from a short-lived actor, as a coordinator makes it; the reply lands in the slot.
  template <class Reply, class... Ts>
  std::shared_ptr<std::optional<Reply>> ask(const std::string& sku, Ts... xs) {
    auto slot = std::make_shared<std::optional<Reply>>();
    // Arguments rather than captures: CAF 0.17 binds a null tuple for a spawn without any,
    // which UBSan reports.
    system().spawn(
        [](caf::event_based_actor* self, std::shared_ptr<std::optional<Reply>> into,
           actors::directory_shard_actor shard, Ts... args) {
          self->request(shard, 10s, args...).then([into](Reply& r) { *into = std::move(r); });
        },
        slot, shard_of(sku), xs...);
    run();
    return slot;
  }

  /// The SKU's state at `location`; all zero when nothing has touched it there.
  engine::sku_location_state state(const std::string& sku, const std::string& location = "main") {
    if (auto found = find_state(sku, location)) {
      return std::move(*found);
    }
    engine::sku_location_state none;
    none.key = {engine::sku_id(sku), engine::location_id(location)};
    return none;
  }

  static std::string digest(const std::string& key) { return "d" + key; }
  static std::string kit_id(const std::string& key, const std::string& location = "main") {
    return actors::make_kit_reservation_id(engine::sku_id("GIFT"), engine::location_id(location),
                                           digest(key));
  }
  static std::string component_id(const std::string& sku, const std::string& key,
                                  const std::string& location = "main") {
    return actors::make_reservation_id({engine::sku_id(sku), engine::location_id(location)},
                                       digest(key));
  }
};

engine::journal_entry stock_event(event_type type, std::string id, const std::string& sku,
                                  std::int64_t qty, const std::string& location = "main") {
  engine::journal_entry e;
  e.received_at = *engine::parse_rfc3339("2026-11-27T09:00:00Z");
  e.ev.source = engine::source_id("wms");
  e.ev.id = std::move(id);
  e.ev.type = type;
  e.ev.sku = engine::sku_id(sku);
  e.ev.location = engine::location_id(location);
  e.ev.occurred_at = e.received_at;
  e.ev.qty = qty;
  if (type == event_type::order_created) {
    e.ev.order_id = "web-1";
    e.ev.line_id = "1";
    e.ev.source = engine::source_id("web");
  }
  return e;
}

engine::journal_entry received(std::string id, const std::string& sku, std::int64_t qty,
                               const std::string& location = "main") {
  return stock_event(event_type::received, std::move(id), sku, qty, location);
}

void stock(kit_engine& k, std::int64_t shirts, std::int64_t mugs,
           const std::string& location = "main") {
  k.ingest(received("s-" + location, "SHIRT", shirts, location));
  k.ingest(received("m-" + location, "MUG", mugs, location));
}

/// A kit reservation, journaled; fails the test unless it was created.
actors::reservation_reply created_kit(kit_engine& k, const std::string& key, std::int64_t qty,
                                      std::optional<std::string> location = {},
                                      std::optional<std::chrono::seconds> expires_in = {}) {
  auto kit = k.reserve_kit(key, qty, std::move(location), expires_in);
  k.commit_journal();
  REQUIRE(answered(kit).status == reservation_status::created);
  return answered(kit);
}

/// What a kit coordinator prepares for one mug of the kit reservation `key`, held for 10 s.
actors::prepare_request mug_prepare(const std::string& key) {
  actors::prepare_request req;
  req.key = {engine::sku_id("MUG"), engine::location_id("main")};
  req.type = event_type::reservation_created;
  req.event_id = actors::kit_component_event_id(kit_engine::digest(key), engine::sku_id("MUG"));
  req.reservation_id = kit_engine::component_id("MUG", key);
  req.qty = 1;
  req.hold_for = 10s;
  return req;
}

} // namespace

TEST_CASE("a kit reservation holds every component at one location, journaled in one commit",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 10, 5);
  const int commits_before = k.commits;

  auto kit = k.reserve_kit("cart-1", 2);
  // Every component prepared: one submission with both creations, and no answer before it.
  CHECK_FALSE(kit->has_value());
  REQUIRE(k.submitted.size() == 1);
  const auto& batch = k.submitted.front();
  REQUIRE(batch.size() == 2);
  CHECK(batch[0].ev.type == event_type::reservation_created);
  CHECK(batch[0].ev.id == "kit-reservation:dcart-1#SHIRT");
  CHECK(batch[0].ev.qty == 4);
  CHECK(batch[1].ev.id == "kit-reservation:dcart-1#MUG");
  CHECK(batch[1].ev.qty == 2);

  k.commit_journal();
  CHECK(k.commits == commits_before + 1);
  const auto& r = answered(kit);
  CHECK(r.status == reservation_status::created);
  CHECK_FALSE(r.replayed);
  CHECK(r.id == kit_engine::kit_id("cart-1"));
  CHECK(r.sku.str() == "GIFT");
  CHECK(r.location.str() == "main");
  CHECK(r.qty == 2);
  REQUIRE(r.components.size() == 2);
  CHECK(r.components[0].id == kit_engine::component_id("SHIRT", "cart-1"));
  CHECK(r.components[0].qty == 4);
  CHECK(r.components[1].sku.str() == "MUG");
  CHECK(r.components[1].qty == 2);
  auto shirts = k.state("SHIRT");
  CHECK(shirts.qty.available == 6);
  CHECK(shirts.qty.reserved == 4);
  auto mugs = k.state("MUG");
  CHECK(mugs.qty.available == 3);
  CHECK(mugs.qty.reserved == 2);
  // Consecutive journal positions: the two entries went in together.
  CHECK(k.ledger("SHIRT")[0].seq + 1 == k.ledger("MUG")[0].seq);

  SECTION("the same key again answers the same kit reservation and journals nothing") {
    const auto& again = answered(k.reserve_kit("cart-1", 2));
    CHECK(again.status == reservation_status::created);
    CHECK(again.replayed);
    CHECK(again.id == r.id);
    CHECK(k.submitted.empty());
    CHECK(k.state("MUG").qty.reserved == 2);
  }
  SECTION("the same key for another quantity is a conflict") {
    CHECK(answered(k.reserve_kit("cart-1", 1)).status == reservation_status::key_conflict);
    CHECK(k.submitted.empty());
  }
}

TEST_CASE("a kit one component cannot cover holds nothing anywhere and answers the kits there are",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 10, 1);  // shirts for 5 kits, mugs for 1
  const auto head = k.journal_head();

  const auto& kit = answered(k.reserve_kit("cart-1", 2, "main"));  // without the journal
  CHECK(kit.status == reservation_status::insufficient);
  CHECK(kit.available == 1);
  CHECK(k.submitted.empty());
  CHECK(k.journal_head() == head);
  CHECK(k.state("SHIRT").qty.reserved == 0);
  CHECK(k.state("MUG").qty.reserved == 0);
  // The shirts' prepared hold was aborted at once: all 10 can be reserved again.
  auto shirts = k.reserve_plain("SHIRT", "plain-1", 10);
  k.commit_journal();
  CHECK(answered(shirts).status == reservation_status::created);
}

TEST_CASE("without a location a kit goes to the first location that covers every component",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 10, 1, "main");  // 1 kit
  stock(k, 4, 4, "east");   // 2 kits
  const auto two = created_kit(k, "k1", 2);
  CHECK(two.location.str() == "east");
  CHECK(two.id == kit_engine::kit_id("k1", "east"));
  CHECK(k.state("SHIRT", "east").qty.reserved == 4);
  CHECK(k.state("SHIRT", "main").qty.reserved == 0);

  const auto& none = answered(k.reserve_kit("k2", 2));
  CHECK(none.status == reservation_status::insufficient);
  CHECK(none.available == 1);  // the most one location could give: main
  CHECK(k.submitted.empty());

  // The same key names the placed reservation even when asked for another location.
  const auto& again = answered(k.reserve_kit("k1", 2, "main"));
  CHECK(again.status == reservation_status::created);
  CHECK(again.replayed);
  CHECK(again.location.str() == "east");
  CHECK(k.submitted.empty());
}

TEST_CASE("prepared component holds block a concurrent plain reservation of the last unit",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 2, 1);
  auto kit = k.reserve_kit("cart-1", 1);
  REQUIRE(k.submitted.size() == 1);  // prepared everywhere, in the journal's queue

  const auto& mug = answered(k.reserve_plain("MUG", "pos-1", 1));
  CHECK(mug.status == reservation_status::insufficient);
  CHECK(mug.available == 0);

  k.commit_journal();
  CHECK(answered(kit).status == reservation_status::created);
  CHECK(k.state("MUG").qty.reserved == 1);
  CHECK(k.state("SHIRT").qty.reserved == 2);
}

TEST_CASE("a prepared hold lapses by itself when no submission is announced",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 0, 1);
  // A coordinator that prepares and then disappears.
  caf::anon_send(k.shard_of("MUG"), actors::kit_prepare_atom::value, mug_prepare("gone"));
  k.run();
  CHECK(answered(k.reserve_plain("MUG", "pos-1", 1)).status == reservation_status::insufficient);

  k.fire_timers();  // the lapse timer
  auto freed = k.reserve_plain("MUG", "pos-2", 1);
  k.commit_journal();
  CHECK(answered(freed).status == reservation_status::created);
  CHECK(k.ledger("MUG")[0].ev.id == "reservation:pos-2");  // nothing of the lapsed op journaled
}

TEST_CASE("an announcement that comes after its prepared op lapsed still gets the journal's answer",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 0, 1);
  const auto req = mug_prepare("slow");
  auto prepared = k.ask<actors::prepare_reply>("MUG", actors::kit_prepare_atom::value, req);
  REQUIRE(prepared->has_value());
  REQUIRE((*prepared)->status == actors::prepare_status::prepared);
  k.fire_timers();  // a coordinator slower than its own deadline: the hold lapses first
  auto answer = k.ask<actors::reservation_reply>("MUG", actors::kit_await_atom::value, req,
                                                 (*prepared)->serial);
  CHECK_FALSE(answer->has_value());  // tracked again, without a hold, until the journal answers
  k.submitted.push_back({(*prepared)->entry});
  k.commit_journal();
  CHECK(answered(answer).status == reservation_status::created);  // the apply checked the stock
  CHECK(k.state("MUG").qty.reserved == 1);
}

TEST_CASE("a refused journal submission aborts every prepared component",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 2, 1);
  k.refuse_submissions = true;
  CHECK(answered(k.reserve_kit("cart-1", 1)).status == reservation_status::overloaded);
  k.refuse_submissions = false;
  auto mug = k.reserve_plain("MUG", "pos-1", 1);
  auto shirts = k.reserve_plain("SHIRT", "pos-2", 2);
  k.commit_journal();
  CHECK(answered(mug).status == reservation_status::created);
  CHECK(answered(shirts).status == reservation_status::created);
}

TEST_CASE("a component the engine refuses at apply time is undone, so the kit nets to none",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 2, 1);
  auto kit = k.reserve_kit("cart-1", 1);
  REQUIRE(k.submitted.size() == 1);
  // An order takes the last mug between prepare and apply: orders do not respect holds.
  std::vector<engine::journal_entry> order{
      stock_event(event_type::order_created, "o1", "MUG", 1)};
  k.submitted.push_front(std::move(order));
  k.commit_journal();

  CHECK(answered(kit).status == reservation_status::insufficient);
  CHECK(answered(kit).available == 0);
  auto shirts = k.state("SHIRT");
  CHECK(shirts.qty.available == 2);
  CHECK(shirts.qty.reserved == 0);
  CHECK(shirts.reservations.empty());
  auto mugs = k.state("MUG");
  CHECK(mugs.qty.committed == 1);
  CHECK(mugs.qty.reserved == 0);
  // The only created-then-released pair a kit leaves: the engine's undo.
  auto ledger = k.ledger("SHIRT");
  REQUIRE(ledger.size() >= 2);
  CHECK(ledger[0].ev.type == event_type::reservation_released);
  CHECK(ledger[0].ev.id == "kit-undo:" + kit_engine::component_id("SHIRT", "cart-1"));
  CHECK(ledger[1].ev.type == event_type::reservation_created);

  // The key stays refused, and its id names nothing.
  CHECK(answered(k.reserve_kit("cart-1", 1)).status == reservation_status::insufficient);
  CHECK(k.submitted.empty());
  auto release = k.end_kit(kit_engine::kit_id("cart-1"), actors::end_kind::release);
  CHECK(answered(release).status == reservation_status::not_found);
}

TEST_CASE("release and commit end every component, and a commit opens each component's line",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 10, 5);
  auto a = k.reserve_kit("a", 1);
  auto b = k.reserve_kit("b", 2);
  k.commit_journal();
  const std::string a_id = answered(a).id;
  const std::string b_id = answered(b).id;
  REQUIRE(answered(a).status == reservation_status::created);
  REQUIRE(answered(b).status == reservation_status::created);

  auto released = k.end_kit(a_id, actors::end_kind::release);
  REQUIRE(k.submitted.size() == 1);
  CHECK(k.submitted.front().size() == 2);  // both releases in one submission
  k.commit_journal();
  CHECK(answered(released).status == reservation_status::released);
  CHECK(answered(released).qty == 1);

  auto committed = k.end_kit(b_id, actors::end_kind::commit, "web-7", "3");
  k.commit_journal();
  CHECK(answered(committed).status == reservation_status::committed);
  CHECK(answered(committed).order_id == "web-7");
  auto shirts = k.state("SHIRT");
  CHECK(shirts.qty.available == 6);
  CHECK(shirts.qty.committed == 4);
  CHECK(shirts.qty.reserved == 0);
  REQUIRE(shirts.open_lines.size() == 1);
  CHECK(shirts.open_lines[0].order_id == "web-7");
  CHECK(shirts.open_lines[0].line_id == "3/SHIRT");
  auto mugs = k.state("MUG");
  CHECK(mugs.qty.committed == 2);
  REQUIRE(mugs.open_lines.size() == 1);
  CHECK(mugs.open_lines[0].line_id == "3/MUG");

  // Retries answer the same; an end of the other kind is told how it ended.
  CHECK(answered(k.end_kit(b_id, actors::end_kind::commit, "web-7", "3")).status ==
        reservation_status::committed);
  const auto& release_committed = answered(k.end_kit(b_id, actors::end_kind::release));
  CHECK(release_committed.status == reservation_status::ended);
  CHECK(release_committed.detail == "committed");
  CHECK(answered(k.end_kit(a_id, actors::end_kind::release)).status ==
        reservation_status::released);
  CHECK(k.submitted.empty());
  CHECK(answered(k.end_kit(kit_engine::kit_id("never"), actors::end_kind::release)).status ==
        reservation_status::not_found);
}

TEST_CASE("a kit commit the engine would refuse for one component commits none of them",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 4, 2);
  const auto kit = created_kit(k, "cart-1", 1);
  // The mug's line of that order already exists: the engine would refuse its commit.
  auto order = stock_event(event_type::order_created, "o1", "MUG", 1);
  order.ev.order_id = "web-7";
  order.ev.line_id = "3/MUG";
  k.ingest(order);

  const auto& committed = answered(k.end_kit(kit.id, actors::end_kind::commit, "web-7", "3"));
  CHECK(committed.status == reservation_status::refused);
  CHECK(committed.detail.find("already exists") != std::string::npos);
  CHECK(k.submitted.empty());
  CHECK(k.state("SHIRT").qty.reserved == 2);  // still held, not committed
  CHECK(k.state("SHIRT").qty.committed == 0);
  CHECK(k.state("MUG").qty.reserved == 1);
  // Committed to a free line, it goes through.
  auto other_line = k.end_kit(kit.id, actors::end_kind::commit, "web-7", "4");
  k.commit_journal();
  CHECK(answered(other_line).status == reservation_status::committed);
  CHECK(k.state("SHIRT").qty.committed == 2);
}

TEST_CASE("every component of a kit reservation expires at the same time",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 4, 2);
  const auto kit = created_kit(k, "cart-1", 2, "main", 60s);
  REQUIRE(kit.expires_at.has_value());
  CHECK(k.state("SHIRT").reservations.at(0).expires_at == kit.expires_at);
  CHECK(k.state("MUG").reservations.at(0).expires_at == kit.expires_at);

  k.now += 60s;
  k.fire_timers();
  REQUIRE(k.submitted.size() == 2);  // each actor journals its own expiry
  k.commit_journal();
  CHECK(k.state("SHIRT").qty.reserved == 0);
  CHECK(k.state("MUG").qty.reserved == 0);
  CHECK(k.state("SHIRT").qty.available == 4);
}

TEST_CASE("the same key settles a partly ended kit to none",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 4, 2);
  created_kit(k, "cart-1", 1);
  // Someone releases the mug by its own component id: the kit is now half held.
  auto mug = k.release_plain(kit_engine::component_id("MUG", "cart-1"));
  k.commit_journal();
  REQUIRE(answered(mug).status == reservation_status::released);
  CHECK(k.state("SHIRT").qty.reserved == 2);

  auto again = k.reserve_kit("cart-1", 1);
  k.commit_journal();
  CHECK(answered(again).status == reservation_status::created);  // the original, as created
  CHECK(answered(again).replayed);
  CHECK(k.state("SHIRT").qty.reserved == 0);  // nothing of it stays held
  CHECK(k.ledger("SHIRT")[0].ev.id == "release:" + kit_engine::component_id("SHIRT", "cart-1"));
}

TEST_CASE("a component's own release waits while its kit is being ended",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 4, 2);
  const auto kit = created_kit(k, "cart-1", 1);
  auto committing = k.end_kit(kit.id, actors::end_kind::commit, "web-1");
  REQUIRE(k.submitted.size() == 1);  // prepared and submitted, not yet journaled
  const auto& mug = answered(k.release_plain(kit_engine::component_id("MUG", "cart-1")));
  CHECK(mug.status == reservation_status::overloaded);
  k.commit_journal();
  CHECK(answered(committing).status == reservation_status::committed);
  CHECK(k.state("MUG").qty.committed == 1);
}

TEST_CASE("a kit request in flight at shutdown is answered at once and does not hold shutdown",
          "[actors][reservations][kits]") {
  kit_engine k;
  stock(k, 4, 2);
  auto kit = k.reserve_kit("cart-1", 1);
  REQUIRE(k.submitted.size() == 1);  // waiting for the journal, which never answers
  // The test clock fires no request timeout: only going down with the shards ends the
  // coordinator.
  k.shutdown();
  CHECK(answered(kit).status == reservation_status::failed);
}
