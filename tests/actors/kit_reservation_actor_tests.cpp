// Kit reservations (actors/kit_reservation.hpp) on CAF's deterministic test coordinator, over a
// real LMDB journal in a temporary directory. Two directory shards, so the kit's two components
// live in different shards as they usually do. The journal writer is played by the test:
// submissions queue until `commit_journal()`, which appends each submission in one transaction
// (with the real dedup), delivers the fresh entries and then reports each entry's result, in the
// order the production writer thread does.
#include <catch2/catch.hpp>

#include <deque>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "actors/directory_shard.hpp"
#include "actors/kit_reservation.hpp"
#include "engine/time.hpp"
#include "shard_fixture.hpp"

namespace {

using namespace std::chrono_literals;
namespace engine = stockd::engine;
namespace actors = stockd::actors;
namespace store = stockd::store;
using actors::reservation_status;
using engine::event_type;
using stockd::actors::testing::temp_dir;

using answer_slot = std::shared_ptr<std::optional<actors::reservation_reply>>;

/// GIFT = 2 × SHIRT + 1 × MUG, at locations main and east.
class kit_engine {
public:
  static constexpr std::uint32_t shard_count = 2;

  explicit kit_engine(const std::filesystem::path& dir)
      : catalog_({engine::location_info{engine::location_id("main"), {}},
                  engine::location_info{engine::location_id("east"), {}}},
                 {engine::sku_info{engine::sku_id("GIFT"),
                                   {},
                                   {engine::kit_component{engine::sku_id("SHIRT"), 2},
                                    engine::kit_component{engine::sku_id("MUG"), 1}}}}),
        watermarks_(shard_count) {
    store::options opts;
    opts.dir = dir;
    opts.map_size_bytes = 16u << 20;
    auto opened = store::database::open(opts);
    REQUIRE(opened.has_value());
    db_ = std::move(*opened);
    ctx_.opts.checkpoint_interval = 1h;
    ctx_.opts.request_timeout = 10s;
    ctx_.db = db_.get();
    ctx_.counters = &counters_;
    ctx_.watermarks = &watermarks_;
    ctx_.persist = [](std::vector<store::checkpoint_record>, std::uint32_t, std::uint64_t,
                      store::checkpoint_completion) { return false; };
    ctx_.clock = [this] { return now; };
    ctx_.submit = [this](engine::journal_entry entry) {
      std::vector<engine::journal_entry> one;
      one.push_back(std::move(entry));
      return queue(std::move(one));
    };
    ctx_.submit_batch = [this](std::vector<engine::journal_entry> entries) {
      return queue(std::move(entries));
    };
    counters_.ready.store(true);
    cfg_.set("scheduler.policy", caf::atom("testing"));
    cfg_.set("logger.file-verbosity", caf::atom("quiet"));
    system_ = std::make_unique<caf::actor_system>(cfg_);
    sched_ = &dynamic_cast<caf::scheduler::test_coordinator&>(system_->scheduler());
    for (std::uint32_t i = 0; i < shard_count; ++i) {
      shards_.push_back(system_->spawn(actors::directory_shard, i, &ctx_, &catalog_));
    }
    run();
    // The point of two shards: the components are owned by different ones.
    REQUIRE(actors::shard_of(engine::sku_id("SHIRT"), shard_count) !=
            actors::shard_of(engine::sku_id("MUG"), shard_count));
  }
  ~kit_engine() { shutdown(); }

  /// Stops the shards and the actor system, as the runtime does; waits for every actor.
  void shutdown() {
    if (system_ == nullptr) {
      return;
    }
    for (auto& shard : shards_) {
      caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
    }
    run();
    shards_.clear();
    system_.reset();
  }

  void run() { sched_->run(); }
  void fire_timers() {
    sched_->trigger_timeouts();
    run();
  }

  const actors::directory_shard_actor& shard_of(const std::string& sku) {
    return shards_[actors::shard_of(engine::sku_id(sku), shard_count)];
  }

  /// Plays the journal writer: each submission in one append, deliver the fresh, then report.
  void commit_journal() {
    while (!submitted.empty()) {
      std::vector<engine::journal_entry> batch = std::move(submitted.front());
      submitted.pop_front();
      ++commits;
      std::vector<store::append_status> statuses;
      REQUIRE(db_->append(batch, statuses).has_value());
      std::vector<actors::journal_result> results;
      std::vector<actors::entry_batch> fresh(shard_count);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto& ev = batch[i].ev;
        results.push_back(actors::journal_result{
            {ev.sku, ev.location}, ev.id, statuses[i].seq, statuses[i].duplicate, std::nullopt});
        if (!statuses[i].duplicate) {
          counters_.in_flight.fetch_add(1);
          fresh[actors::shard_of(ev.sku, shard_count)].push_back(std::move(batch[i]));
        }
      }
      for (std::uint32_t s = 0; s < shard_count; ++s) {
        if (!fresh[s].empty()) {
          caf::anon_send(shards_[s], actors::deliver_atom::value, std::move(fresh[s]));
        }
      }
      for (auto& result : results) {
        caf::anon_send(shard_of(result.key.sku.str()), actors::journaled_atom::value,
                       std::move(result));
      }
      run();
    }
  }

  /// Journals an ordinary event (a receipt, an order) the way ingest does.
  void ingest(engine::journal_entry e) {
    std::vector<engine::journal_entry> one;
    one.push_back(std::move(e));
    submitted.push_back(std::move(one));
    commit_journal();
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
      for (const auto& info : catalog_.locations()) {
        candidates.push_back(info.id);
      }
    }
    auto components = catalog_.kit_components(req.sku);
    auto answer = std::make_shared<std::optional<actors::reservation_reply>>();
    actors::reserve_kit(*system_, actors::kit_routes{&ctx_, shards_},
                        {components.begin(), components.end()}, std::move(candidates),
                        std::move(req), [answer](actors::reservation_reply r) {
                          *answer = std::move(r);
                        });
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
    auto components = catalog_.kit_components(req.kit);
    auto answer = std::make_shared<std::optional<actors::reservation_reply>>();
    actors::end_kit(*system_, actors::kit_routes{&ctx_, shards_},
                    {components.begin(), components.end()}, std::move(req),
                    [answer](actors::reservation_reply r) { *answer = std::move(r); });
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
    auto answer = std::make_shared<std::optional<actors::reservation_reply>>();
    caf::anon_send(shard_of(sku), actors::reserve_atom::value, std::move(req),
                   actors::reservation_callback(
                       [answer](actors::reservation_reply r) { *answer = std::move(r); }));
    run();
    return answer;
  }

  answer_slot release_plain(const std::string& id) {
    actors::end_request req;
    req.id = id;
    req.key = *actors::parse_reservation_id(id);
    req.kind = actors::end_kind::release;
    auto answer = std::make_shared<std::optional<actors::reservation_reply>>();
    caf::anon_send(shard_of(req.key.sku.str()), actors::end_atom::value, req,
                   actors::reservation_callback(
                       [answer](actors::reservation_reply r) { *answer = std::move(r); }));
    run();
    return answer;
  }

  /// A request from a short-lived actor, as a coordinator makes it; the reply lands in the slot.
  template <class Reply, class... Ts>
  std::shared_ptr<std::optional<Reply>> ask(const std::string& sku, Ts... xs) {
    auto slot = std::make_shared<std::optional<Reply>>();
    // Arguments rather than captures: CAF 0.17 binds a null tuple for a spawn without any,
    // which UBSan reports.
    system_->spawn(
        [](caf::event_based_actor* self, std::shared_ptr<std::optional<Reply>> into,
           actors::directory_shard_actor shard, Ts... args) {
          self->request(shard, 10s, args...).then([into](Reply& r) { *into = std::move(r); });
        },
        slot, shard_of(sku), xs...);
    run();
    return slot;
  }

  engine::sku_location_state state(const std::string& sku, const std::string& location = "main") {
    std::optional<actors::sku_view> view;
    caf::anon_send(shard_of(sku), actors::get_atom::value, engine::sku_id(sku),
                   actors::sku_view_callback([&view](actors::sku_view v) { view = std::move(v); }));
    run();
    REQUIRE(view.has_value());
    for (auto& s : view->locations) {
      if (s.key.location.str() == location) {
        return s;
      }
    }
    engine::sku_location_state none;  // never touched: all zero
    none.key = {engine::sku_id(sku), engine::location_id(location)};
    return none;
  }

  std::vector<engine::journal_entry> ledger(const std::string& sku) {
    auto entries = db_->sku_ledger(engine::sku_id(sku), 0, 100);
    REQUIRE(entries.has_value());
    return *entries;
  }

  std::uint64_t journal_head() const { return db_->journal_head(); }

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

  std::deque<std::vector<engine::journal_entry>> submitted;
  bool refuse_submissions = false;
  int commits = 0;
  engine::timestamp now = *engine::parse_rfc3339("2026-11-27T10:00:00Z");

private:
  bool queue(std::vector<engine::journal_entry> entries) {
    if (refuse_submissions) {
      return false;
    }
    submitted.push_back(std::move(entries));
    return true;
  }

  engine::catalog catalog_;
  std::unique_ptr<store::database> db_;
  actors::metrics counters_;
  std::vector<std::atomic<std::uint64_t>> watermarks_;
  actors::context ctx_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> system_;
  caf::scheduler::test_coordinator* sched_ = nullptr;
  std::vector<actors::directory_shard_actor> shards_;
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

} // namespace

TEST_CASE("a kit reservation holds every component at one location, journaled in one commit",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
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
  REQUIRE(kit->has_value());
  const auto& r = **kit;
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
    auto again = k.reserve_kit("cart-1", 2);
    REQUIRE(again->has_value());
    CHECK((*again)->status == reservation_status::created);
    CHECK((*again)->replayed);
    CHECK((*again)->id == r.id);
    CHECK(k.submitted.empty());
    CHECK(k.state("MUG").qty.reserved == 2);
  }
  SECTION("the same key for another quantity is a conflict") {
    auto other = k.reserve_kit("cart-1", 1);
    REQUIRE(other->has_value());
    CHECK((*other)->status == reservation_status::key_conflict);
    CHECK(k.submitted.empty());
  }
}

TEST_CASE("a kit one component cannot cover holds nothing anywhere and answers the kits there are",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 10, 1);  // shirts for 5 kits, mugs for 1
  const auto head = k.journal_head();

  auto kit = k.reserve_kit("cart-1", 2, "main");
  REQUIRE(kit->has_value());  // answered without the journal
  CHECK((*kit)->status == reservation_status::insufficient);
  CHECK((*kit)->available == 1);
  CHECK(k.submitted.empty());
  CHECK(k.journal_head() == head);
  CHECK(k.state("SHIRT").qty.reserved == 0);
  CHECK(k.state("MUG").qty.reserved == 0);
  // The shirts' prepared hold was aborted at once: all 10 can be reserved again.
  auto shirts = k.reserve_plain("SHIRT", "plain-1", 10);
  k.commit_journal();
  REQUIRE(shirts->has_value());
  CHECK((*shirts)->status == reservation_status::created);
}

TEST_CASE("without a location a kit goes to the first location that covers every component",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 10, 1, "main");  // 1 kit
  stock(k, 4, 4, "east");   // 2 kits
  auto two = k.reserve_kit("k1", 2);
  k.commit_journal();
  REQUIRE(two->has_value());
  CHECK((*two)->status == reservation_status::created);
  CHECK((*two)->location.str() == "east");
  CHECK((*two)->id == kit_engine::kit_id("k1", "east"));
  CHECK(k.state("SHIRT", "east").qty.reserved == 4);
  CHECK(k.state("SHIRT", "main").qty.reserved == 0);

  auto none = k.reserve_kit("k2", 2);
  REQUIRE(none->has_value());
  CHECK((*none)->status == reservation_status::insufficient);
  CHECK((*none)->available == 1);  // the most one location could give: main
  CHECK(k.submitted.empty());

  // The same key names the placed reservation even when asked for another location.
  auto again = k.reserve_kit("k1", 2, "main");
  REQUIRE(again->has_value());
  CHECK((*again)->status == reservation_status::created);
  CHECK((*again)->replayed);
  CHECK((*again)->location.str() == "east");
  CHECK(k.submitted.empty());
}

TEST_CASE("prepared component holds block a concurrent plain reservation of the last unit",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 2, 1);
  auto kit = k.reserve_kit("cart-1", 1);
  REQUIRE(k.submitted.size() == 1);  // prepared everywhere, in the journal's queue

  auto mug = k.reserve_plain("MUG", "pos-1", 1);
  REQUIRE(mug->has_value());
  CHECK((*mug)->status == reservation_status::insufficient);
  CHECK((*mug)->available == 0);

  k.commit_journal();
  REQUIRE(kit->has_value());
  CHECK((*kit)->status == reservation_status::created);
  CHECK(k.state("MUG").qty.reserved == 1);
  CHECK(k.state("SHIRT").qty.reserved == 2);
}

TEST_CASE("a prepared hold lapses by itself when no submission is announced",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 0, 1);
  // A coordinator that prepares and then disappears.
  actors::prepare_request req;
  req.key = {engine::sku_id("MUG"), engine::location_id("main")};
  req.type = event_type::reservation_created;
  req.event_id = actors::kit_component_event_id("dgone", engine::sku_id("MUG"));
  req.reservation_id = kit_engine::component_id("MUG", "gone");
  req.qty = 1;
  req.hold_for = 10s;
  caf::anon_send(k.shard_of("MUG"), actors::kit_prepare_atom::value, req);
  k.run();
  auto blocked = k.reserve_plain("MUG", "pos-1", 1);
  REQUIRE(blocked->has_value());
  CHECK((*blocked)->status == reservation_status::insufficient);

  k.fire_timers();  // the lapse timer
  auto freed = k.reserve_plain("MUG", "pos-2", 1);
  k.commit_journal();
  REQUIRE(freed->has_value());
  CHECK((*freed)->status == reservation_status::created);
  CHECK(k.ledger("MUG")[0].ev.id == "reservation:pos-2");  // nothing of the lapsed op journaled
}

TEST_CASE("an announcement that comes after its prepared op lapsed still gets the journal's answer",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 0, 1);
  actors::prepare_request req;
  req.key = {engine::sku_id("MUG"), engine::location_id("main")};
  req.type = event_type::reservation_created;
  req.event_id = actors::kit_component_event_id("dslow", engine::sku_id("MUG"));
  req.reservation_id = kit_engine::component_id("MUG", "slow");
  req.qty = 1;
  req.hold_for = 10s;
  auto prepared = k.ask<actors::prepare_reply>("MUG", actors::kit_prepare_atom::value, req);
  REQUIRE(prepared->has_value());
  REQUIRE((*prepared)->status == actors::prepare_status::prepared);
  k.fire_timers();  // a coordinator slower than its own deadline: the hold lapses first
  auto answer = k.ask<actors::reservation_reply>("MUG", actors::kit_await_atom::value, req,
                                                 (*prepared)->serial);
  CHECK_FALSE(answer->has_value());  // tracked again, without a hold, until the journal answers
  k.submitted.push_back({(*prepared)->entry});
  k.commit_journal();
  REQUIRE(answer->has_value());
  CHECK((*answer)->status == reservation_status::created);  // the apply checked the stock
  CHECK(k.state("MUG").qty.reserved == 1);
}

TEST_CASE("a refused journal submission aborts every prepared component",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 2, 1);
  k.refuse_submissions = true;
  auto kit = k.reserve_kit("cart-1", 1);
  REQUIRE(kit->has_value());
  CHECK((*kit)->status == reservation_status::overloaded);
  k.refuse_submissions = false;
  auto mug = k.reserve_plain("MUG", "pos-1", 1);
  auto shirts = k.reserve_plain("SHIRT", "pos-2", 2);
  k.commit_journal();
  CHECK((*mug)->status == reservation_status::created);
  CHECK((*shirts)->status == reservation_status::created);
}

TEST_CASE("a component the engine refuses at apply time is undone, so the kit nets to none",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 2, 1);
  auto kit = k.reserve_kit("cart-1", 1);
  REQUIRE(k.submitted.size() == 1);
  // An order takes the last mug between prepare and apply: orders do not respect holds.
  std::vector<engine::journal_entry> order{
      stock_event(event_type::order_created, "o1", "MUG", 1)};
  k.submitted.push_front(std::move(order));
  k.commit_journal();

  REQUIRE(kit->has_value());
  CHECK((*kit)->status == reservation_status::insufficient);
  CHECK((*kit)->available == 0);
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
  auto again = k.reserve_kit("cart-1", 1);
  REQUIRE(again->has_value());
  CHECK((*again)->status == reservation_status::insufficient);
  CHECK(k.submitted.empty());
  auto release = k.end_kit(kit_engine::kit_id("cart-1"), actors::end_kind::release);
  REQUIRE(release->has_value());
  CHECK((*release)->status == reservation_status::not_found);
}

TEST_CASE("release and commit end every component, and a commit opens each component's line",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 10, 5);
  auto a = k.reserve_kit("a", 1);
  auto b = k.reserve_kit("b", 2);
  k.commit_journal();
  REQUIRE((*a)->status == reservation_status::created);
  REQUIRE((*b)->status == reservation_status::created);

  auto released = k.end_kit((*a)->id, actors::end_kind::release);
  REQUIRE(k.submitted.size() == 1);
  CHECK(k.submitted.front().size() == 2);  // both releases in one submission
  k.commit_journal();
  REQUIRE(released->has_value());
  CHECK((*released)->status == reservation_status::released);
  CHECK((*released)->qty == 1);

  auto committed = k.end_kit((*b)->id, actors::end_kind::commit, "web-7", "3");
  k.commit_journal();
  REQUIRE(committed->has_value());
  CHECK((*committed)->status == reservation_status::committed);
  CHECK((*committed)->order_id == "web-7");
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
  auto again = k.end_kit((*b)->id, actors::end_kind::commit, "web-7", "3");
  REQUIRE(again->has_value());
  CHECK((*again)->status == reservation_status::committed);
  auto release_committed = k.end_kit((*b)->id, actors::end_kind::release);
  REQUIRE(release_committed->has_value());
  CHECK((*release_committed)->status == reservation_status::ended);
  CHECK((*release_committed)->detail == "committed");
  auto release_again = k.end_kit((*a)->id, actors::end_kind::release);
  CHECK((*release_again)->status == reservation_status::released);
  CHECK(k.submitted.empty());
  auto unknown = k.end_kit(kit_engine::kit_id("never"), actors::end_kind::release);
  CHECK((*unknown)->status == reservation_status::not_found);
}

TEST_CASE("a kit commit the engine would refuse for one component commits none of them",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 4, 2);
  auto kit = k.reserve_kit("cart-1", 1);
  k.commit_journal();
  REQUIRE((*kit)->status == reservation_status::created);
  // The mug's line of that order already exists: the engine would refuse its commit.
  auto order = stock_event(event_type::order_created, "o1", "MUG", 1);
  order.ev.order_id = "web-7";
  order.ev.line_id = "3/MUG";
  k.ingest(order);

  auto committed = k.end_kit((*kit)->id, actors::end_kind::commit, "web-7", "3");
  REQUIRE(committed->has_value());
  CHECK((*committed)->status == reservation_status::refused);
  CHECK((*committed)->detail.find("already exists") != std::string::npos);
  CHECK(k.submitted.empty());
  CHECK(k.state("SHIRT").qty.reserved == 2);  // still held, not committed
  CHECK(k.state("SHIRT").qty.committed == 0);
  CHECK(k.state("MUG").qty.reserved == 1);
  // Committed to a free line, it goes through.
  auto other_line = k.end_kit((*kit)->id, actors::end_kind::commit, "web-7", "4");
  k.commit_journal();
  CHECK((*other_line)->status == reservation_status::committed);
  CHECK(k.state("SHIRT").qty.committed == 2);
}

TEST_CASE("every component of a kit reservation expires at the same time",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 4, 2);
  auto kit = k.reserve_kit("cart-1", 2, "main", 60s);
  k.commit_journal();
  REQUIRE((*kit)->status == reservation_status::created);
  REQUIRE((*kit)->expires_at.has_value());
  CHECK(k.state("SHIRT").reservations.at(0).expires_at == (*kit)->expires_at);
  CHECK(k.state("MUG").reservations.at(0).expires_at == (*kit)->expires_at);

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
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 4, 2);
  auto kit = k.reserve_kit("cart-1", 1);
  k.commit_journal();
  REQUIRE((*kit)->status == reservation_status::created);
  // Someone releases the mug by its own component id: the kit is now half held.
  auto mug = k.release_plain(kit_engine::component_id("MUG", "cart-1"));
  k.commit_journal();
  REQUIRE((*mug)->status == reservation_status::released);
  CHECK(k.state("SHIRT").qty.reserved == 2);

  auto again = k.reserve_kit("cart-1", 1);
  k.commit_journal();
  REQUIRE(again->has_value());
  CHECK((*again)->status == reservation_status::created);  // the original, as created
  CHECK((*again)->replayed);
  CHECK(k.state("SHIRT").qty.reserved == 0);  // nothing of it stays held
  CHECK(k.ledger("SHIRT")[0].ev.id == "release:" + kit_engine::component_id("SHIRT", "cart-1"));
}

TEST_CASE("a component's own release waits while its kit is being ended",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 4, 2);
  auto kit = k.reserve_kit("cart-1", 1);
  k.commit_journal();
  auto committing = k.end_kit((*kit)->id, actors::end_kind::commit, "web-1");
  REQUIRE(k.submitted.size() == 1);  // prepared and submitted, not yet journaled
  auto mug = k.release_plain(kit_engine::component_id("MUG", "cart-1"));
  REQUIRE(mug->has_value());
  CHECK((*mug)->status == reservation_status::overloaded);
  k.commit_journal();
  CHECK((*committing)->status == reservation_status::committed);
  CHECK(k.state("MUG").qty.committed == 1);
}

TEST_CASE("a kit request in flight at shutdown is answered at once and does not hold shutdown",
          "[actors][reservations][kits]") {
  temp_dir dir;
  kit_engine k(dir.path);
  stock(k, 4, 2);
  auto kit = k.reserve_kit("cart-1", 1);
  REQUIRE(k.submitted.size() == 1);  // waiting for the journal, which never answers
  k.shutdown();                      // the test clock fires no request timeout: only going down
  REQUIRE(kit->has_value());         // with the shards ends the coordinator
  CHECK((*kit)->status == reservation_status::failed);
}
