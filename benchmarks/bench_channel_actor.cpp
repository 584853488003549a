// The whole channel actor under a saturated rate limit (issue 4: "availability changes absorbed
// per second with a saturated rate limit: target >= 500,000/s, showing coalescing"). Unlike
// bench_channel_sync, this is the real actor: stock updates arrive as CAF messages in its
// mailbox, each goes through the channel's rules (engine::channel_quantity) and the decision
// logic, and the actor pumps its connector once per burst of updates. The connector answers
// every call at once; the token bucket (10 calls/s, burst 1) is what saturates.
//
//   bench_channel_actor [updates, default 2,000,000] [catalog SKUs, default 100,000]
//
// One sender thread posts the updates (half of them on 1 % of the catalog), then asks the actor
// for its status, which is answered after every update before it (one mailbox, FIFO per
// sender). Prints updates/s from the first send to that answer, calls, items per call and the
// share of changes coalesced. The sender shares the machine's 2 cores with the actor.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/channel.hpp"

namespace {

using namespace stockd;

/// Applies every item at once (the API is never the bottleneck here: the limiter is).
class instant_client final : public connectors::channel_client {
public:
  std::size_t batch_max() const override { return 250; }
  void push(std::vector<connectors::push_item> batch,
            std::function<void(connectors::push_result)> done) override {
    connectors::push_result r;
    r.outcome = connectors::call_outcome::ok;
    r.items.assign(batch.size(), connectors::item_result{connectors::item_outcome::applied, "",
                                                         std::nullopt});
    calls.fetch_add(1);
    items.fetch_add(batch.size());
    done(std::move(r));
  }
  void read(std::vector<engine::sku_id>, std::function<void(connectors::read_result)> done) override {
    done(connectors::read_result{true, "", {}, std::nullopt});
  }
  std::atomic<std::uint64_t> calls{0};
  std::atomic<std::uint64_t> items{0};
};

} // namespace

int main(int argc, char** argv) {
  const std::size_t updates = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  const std::size_t skus = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  const engine::location_id main_location("main");
  engine::channel_info info{engine::channel_id("bench"), {main_location}, {}};
  engine::catalog catalog({engine::location_info{main_location, {}}}, {}, {}, {info});

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", std::size_t{2});
  cfg.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system system(cfg);

  auto client = std::make_shared<instant_client>();
  actors::channel_setup setup;
  setup.info = catalog.find_channel(info.id);
  setup.options.id = info.id;
  setup.options.connector = connectors::connector_kind::webhook;
  setup.options.requests_per_second = 10;
  setup.options.burst = 1;
  setup.options.batch_size = 250;
  setup.client = client;
  auto channel = system.spawn(actors::channel, std::move(setup), &catalog);

  std::vector<engine::sku_id> ids;
  ids.reserve(skus);
  for (std::size_t i = 0; i < skus; ++i) {
    ids.emplace_back("SKU-" + std::to_string(i));
  }
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::size_t> any(0, skus - 1);
  std::uniform_int_distribution<std::size_t> hot(0, std::max<std::size_t>(1, skus / 100) - 1);
  std::uniform_int_distribution<std::int64_t> qty(0, 50);
  std::vector<actors::stock_update> prepared(updates);
  for (std::size_t i = 0; i < updates; ++i) {
    prepared[i].key = {(i & 1) != 0 ? ids[hot(rng)] : ids[any(rng)], main_location};
    prepared[i].available = qty(rng);
  }

  caf::scoped_actor self{system};
  const auto started = std::chrono::steady_clock::now();
  for (auto& u : prepared) {
    self->send(channel, actors::stock_atom::value, std::move(u));
  }
  const double sent_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  actors::channel_status status;
  self->request(channel, caf::infinite, actors::status_atom::value)
      .receive([&](actors::channel_status& s) { status = std::move(s); },
               [&](caf::error& e) {
                 std::fprintf(stderr, "status: %s\n", system.render(e).c_str());
                 std::exit(1);
               });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (status.updates != updates) {
    std::fprintf(stderr, "the actor absorbed %llu of %zu updates\n",
                 static_cast<unsigned long long>(status.updates), updates);
    return 1;
  }
  const auto calls = client->calls.load();
  const auto items = client->items.load();
  std::printf("channel actor: %zu updates over %zu SKUs in %.3f s = %.0f updates/s\n", updates,
              skus, seconds, static_cast<double>(updates) / seconds);
  std::printf("(the sender took %.3f s to post them)\n", sent_s);
  std::printf("calls %llu (limiter: 10/s, burst 1), items per call %.1f of 250, SKUs changed "
              "but not yet sent %zu, changes coalesced %llu (%.1f %%)\n",
              static_cast<unsigned long long>(calls),
              calls > 0 ? static_cast<double>(items) / static_cast<double>(calls) : 0.0,
              status.queued_urgent + status.queued_normal,
              static_cast<unsigned long long>(status.coalesced),
              100.0 * static_cast<double>(status.coalesced) / static_cast<double>(updates));
  self->send_exit(channel, caf::exit_reason::user_shutdown);
  return 0;
}
