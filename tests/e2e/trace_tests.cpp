// End-to-end tracing (issue 7): an event posted to the real stockd is traced from its source id
// to each kind of channel's answer (the webhook, Shopify's GraphQL mutation, Amazon's
// patchListingsItem): accepted (journal seq), applied at its location, the push that carried it
// (push id, idempotency key) and the request id the channel answered with. The structured log
// carries the same chain and no secret; stockctl prints it and fails on an unknown event.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

#include "simulator/amazon.hpp"
#include "simulator/listener.hpp"
#include "simulator/shopify.hpp"
#include "simulator/webhook.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/fixtures.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

constexpr const char* hook_secret = "trace-hook-secret-5d1e";
// At debug, every accepted event is logged with its seq.
constexpr std::string_view debug_log_toml = "[log]\nlevel = \"debug\"\n\n";

struct hook : webhook_channel {
  hook() : webhook_channel(hook_secret) {}
};

std::string config_for(std::uint16_t port) {
  return std::string(debug_log_toml) + std::string(main_location_toml) +
         webhook_channel_toml("wholesale", port, hook_secret) +
         "requests_per_second = 20\nburst = 5\nbatch_size = 50\n";
}

std::string str(simdjson::dom::element e) { return std::string(e.get_string().value()); }

/// The push that carried an event to a channel, and the channel's answer to it.
struct carried {
  std::uint64_t push_id = 0;
  std::string key;
  std::string request_id;
};

/// Waits until the trace of event `id` (accepted at `seq`, for `sku` at main) shows its one
/// channel applied it, then checks the chain: the channel's last push carried `quantity`, at
/// least `seq`, and was answered ok with a request id.
carried traced_to_answer(const server_process& server, const std::string& id, std::uint64_t seq,
                         std::string_view sku, std::string_view channel_id,
                         std::string_view connector, std::int64_t quantity) {
  const std::string target = "/v1/trace/" + std::string(test_source) + "/" + id;
  // The push and its answer come after the ack: wait until the trace shows the channel applied.
  const bool applied = eventually(
      [&] {
        auto r = server.get(target);
        if (r.status != 200) {
          return false;
        }
        json_doc doc(r.body);
        return str(doc["channels"].at(0)["status"]) == "applied";
      },
      std::chrono::seconds(15), std::chrono::milliseconds(50));
  INFO(server.get(target).body);
  REQUIRE(applied);

  json_doc doc = server.get_json(target);
  CHECK(doc["seq"].get_uint64().value() == seq);
  CHECK(str(doc["source"]) == test_source);
  CHECK(str(doc["id"]) == id);
  CHECK(str(doc["sku"]) == sku);
  CHECK(!str(doc["accepted_at"]).empty());
  CHECK(doc["applied"]["applied"].get_bool().value());
  CHECK(str(doc["applied"]["location"]) == "main");
  auto channel = doc["channels"].at(0);
  CHECK(str(channel["channel"]) == channel_id);
  CHECK(str(channel["connector"]) == connector);
  auto pushes = channel["pushes"].get_array().value();
  REQUIRE(pushes.size() >= 1);
  auto last = pushes.at(pushes.size() - 1).value();
  CHECK(last["reflected_seq"].get_uint64().value() >= seq);
  CHECK(last["quantity"].get_int64().value() == quantity);
  CHECK_FALSE(last["bulk"].get_bool().value());
  CHECK(str(last["call_outcome"]) == "ok");
  CHECK(str(last["item_outcome"]) == "applied");
  REQUIRE(last["request_id"].is_string());  // null: the channel's answer carried none
  carried out;
  out.push_id = last["push_id"].get_uint64().value();
  out.key = str(last["idempotency_key"]);
  out.request_id = str(last["request_id"]);
  CHECK(out.key.starts_with(std::string(channel_id) + "."));
  return out;
}

/// The structured log and `stockctl trace` tell the same chain as the trace: the event's seq,
/// then the push with its key, then the answer with the channel's request id.
void check_log_and_stockctl(const server_process& server, const std::string& id,
                            std::uint64_t seq, std::string_view channel_id,
                            std::string_view connector, const carried& c) {
  const std::string log = server.log();
  CHECK(log.find("\"msg\":\"event accepted\",\"source\":\"" + std::string(test_source) +
                 "\",\"event_id\":\"" + id + "\",\"seq\":" + std::to_string(seq)) !=
        std::string::npos);
  CHECK(log.find("\"idempotency_key\":\"" + c.key + "\"") != std::string::npos);
  CHECK(log.find("\"push_id\":" + std::to_string(c.push_id) + ",\"request_id\":\"" +
                 c.request_id + "\"") != std::string::npos);
  CHECK(log.find(server.token()) == std::string::npos);

  // stockctl: a timeline by default, the JSON with --json.
  const std::string event = std::string(test_source) + ":" + id;
  auto timeline = stockctl(server, "trace " + event);
  INFO(timeline.output);
  CHECK(timeline.exit_code == 0);
  CHECK(timeline.output.find("accepted: journal seq " + std::to_string(seq)) != std::string::npos);
  CHECK(timeline.output.find("channel " + std::string(channel_id) + " (" +
                             std::string(connector) + "): applied") != std::string::npos);
  CHECK(timeline.output.find("request id " + c.request_id) != std::string::npos);
  CHECK(timeline.output.find("key " + c.key) != std::string::npos);
  auto as_json = stockctl(server, "trace --json " + event);
  CHECK(as_json.exit_code == 0);
  CHECK(as_json.output.find("\"request_id\":\"" + c.request_id + "\"") != std::string::npos);
}

/// Two changes of `sku` (received 10, then adjusted by -3), each traced to its own call's
/// answer on `channel_id`, which carries a request id the emulator gave (`id_prefix`); the log
/// names neither the token nor the channel's `credential`. `shows`: the channel's quantity.
void check_two_changes_traced(const server_process& server, std::string_view sku,
                              std::string_view channel_id, std::string_view connector,
                              std::string_view id_prefix, std::string_view credential,
                              const std::function<std::optional<std::int64_t>()>& shows) {
  const std::string first_id = std::string(sku) + "-1";
  auto first = post_accepted(server, {event_json("received", first_id, sku, "\"qty\":10")});
  REQUIRE(first.size() == 1);
  const carried c =
      traced_to_answer(server, first_id, first[0].seq, sku, channel_id, connector, 10);
  CHECK(c.request_id.starts_with(id_prefix));  // the emulator's, not one of stockd's
  CHECK(shows() == std::optional<std::int64_t>{10});
  check_log_and_stockctl(server, first_id, first[0].seq, channel_id, connector, c);
  CHECK(server.log().find(credential) == std::string::npos);

  // The next change goes in a call of its own, answered with a request id of its own.
  const std::string second_id = std::string(sku) + "-2";
  auto second = post_accepted(
      server, {event_json("adjusted", second_id, sku, "\"delta\":-3,\"reason\":\"shrink\"")});
  REQUIRE(second.size() == 1);
  const carried next =
      traced_to_answer(server, second_id, second[0].seq, sku, channel_id, connector, 7);
  CHECK(next.push_id != c.push_id);
  CHECK(next.request_id.starts_with(id_prefix));
  CHECK(next.request_id != c.request_id);
}

} // namespace

TEST_CASE("a traced event reaches the webhook channel's answer with its request id",
          "[e2e][trace]") {
  hook h;
  server_options opts;
  opts.config_toml = config_for(h.server.port());
  server_process server(opts);
  server.start();

  auto results = post_accepted(server, {event_json("received", "tr-1", "TRACE-A", "\"qty\":10")});
  REQUIRE(results.size() == 1);
  const std::uint64_t seq = results[0].seq;
  const carried c = traced_to_answer(server, "tr-1", seq, "TRACE-A", "wholesale", "webhook", 10);
  CHECK(c.request_id.starts_with("hook-"));
  check_log_and_stockctl(server, "tr-1", seq, "wholesale", "webhook", c);
  // Neither the channel's secret nor the token anywhere in the log.
  CHECK(server.log().find(hook_secret) == std::string::npos);

  // An unknown event exits 1, a malformed argument 2.
  auto unknown = stockctl(server, "trace " + std::string(test_source) + ":no-such-event");
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output.find("no event") != std::string::npos);
  auto malformed = stockctl(server, "trace no-colon");
  CHECK(malformed.exit_code == 2);
}

TEST_CASE("a traced event reaches the shopify channel's answer with the shop's X-Request-Id",
          "[e2e][trace][shopify]") {
  emulated<simulator::shopify_emulator> s(simulator::shopify_options{});
  REQUIRE_FALSE(s.channel.set_quantity("TRACE-S", 0));  // the emulator has no unknown SKUs
  server_options opts;
  opts.config_toml = std::string(debug_log_toml) + std::string(main_location_toml) +
                     shopify_channel_toml("shop", s.server.port());
  server_process server(opts);
  server.start();

  check_two_changes_traced(server, "TRACE-S", "shop", "shopify", "shopify-request-",
                           "shpat_stocksim", [&s] { return s.channel.quantity("TRACE-S"); });
}

TEST_CASE("a traced event reaches the amazon listing's answer with its x-amzn-RequestId",
          "[e2e][trace][amazon]") {
  emulated<simulator::amazon_emulator> a(simulator::amazon_options{});
  REQUIRE_FALSE(a.channel.set_quantity("TRACE-Z", 0));
  server_options opts;
  opts.config_toml = std::string(debug_log_toml) + std::string(main_location_toml) +
                     amazon_channel_toml("amazon-us", a.server.port());
  server_process server(opts);
  server.start();

  // One SKU per patchListingsItem call: the push carries this event's SKU alone.
  check_two_changes_traced(server, "TRACE-Z", "amazon-us", "amazon", "amzn-request-",
                           "Atza|stocksim", [&a] { return a.channel.quantity("TRACE-Z"); });
}

TEST_CASE("a trace says which channel did not need the event and refuses a malformed path",
          "[e2e][trace]") {
  server_options opts;
  opts.config_toml = "[[locations]]\nid = \"main\"\n\n[[locations]]\nid = \"back\"\n\n"
                     "[[channels]]\nid = \"shadow\"\nconnector = \"none\"\nlocations = [\"main\"]\n";
  server_process server(opts);
  server.start();
  post_accepted(server, {event_json("received", "b-1", "TRACE-B", "\"qty\":4", "back")});
  const bool applied = eventually(
      [&] {
        json_doc doc = server.get_json("/v1/trace/" + std::string(test_source) + "/b-1");
        return doc["applied"]["applied"].get_bool().value();
      },
      std::chrono::seconds(10), std::chrono::milliseconds(20));
  REQUIRE(applied);
  json_doc doc = server.get_json("/v1/trace/" + std::string(test_source) + "/b-1");
  CHECK(str(doc["channels"].at(0)["status"]) == "not_sold_here");
  CHECK(server.get("/v1/trace/" + std::string(test_source)).status == 400);
  CHECK(server.get("/v1/trace/" + std::string(test_source) + "/a/b").status == 400);
  CHECK(server.get("/v1/trace/" + std::string(test_source) + "/nope").status == 404);
}

} // namespace stockd::e2e
