// End-to-end tracing (issue 7): an event posted to the real stockd is traced from its source id
// to the webhook channel's answer: accepted (journal seq), applied at its location, the push that
// carried it (push id, idempotency key) and the channel's request id. The structured log carries
// the same chain and no secret; stockctl prints it and fails on an unknown event.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <catch2/catch.hpp>

#include "simulator/listener.hpp"
#include "simulator/webhook.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/fixtures.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

constexpr const char* hook_secret = "trace-hook-secret-5d1e";

struct hook : webhook_channel {
  hook() : webhook_channel(hook_secret) {}
};

std::string config_for(std::uint16_t port) {
  return "[log]\nlevel = \"debug\"\n\n[[locations]]\nid = \"main\"\n\n[[channels]]\n"
         "id = \"wholesale\"\nconnector = \"webhook\"\nendpoint = \"http://127.0.0.1:" +
         std::to_string(port) +
         "/inventory\"\ncredentials = \"env:STOCKD_E2E_TRACE_SECRET\"\nlocations = [\"main\"]\n"
         "requests_per_second = 20\nburst = 5\nbatch_size = 50\n";
}

std::string str(simdjson::dom::element e) { return std::string(e.get_string().value()); }

} // namespace

TEST_CASE("a traced event reaches the webhook channel's answer with its request id",
          "[e2e][trace]") {
  ::setenv("STOCKD_E2E_TRACE_SECRET", hook_secret, 1);
  hook h;
  server_options opts;
  opts.config_toml = config_for(h.server.port());
  server_process server(opts);
  server.start();

  auto results = post_accepted(server, {event_json("received", "tr-1", "TRACE-A", "\"qty\":10")});
  REQUIRE(results.size() == 1);
  const std::uint64_t seq = results[0].seq;
  const std::string target = "/v1/trace/" + std::string(test_source) + "/tr-1";

  // The push and its answer come after the ack: wait until the trace shows the channel applied.
  const bool carried = eventually(
      [&] {
        auto r = server.get(target);
        if (r.status != 200) {
          return false;
        }
        json_doc doc(r.body);
        return str(doc["channels"].at(0)["status"]) == "applied";
      },
      std::chrono::seconds(15), std::chrono::milliseconds(50));
  REQUIRE(carried);

  json_doc doc = server.get_json(target);
  CHECK(doc["seq"].get_uint64().value() == seq);
  CHECK(str(doc["source"]) == test_source);
  CHECK(str(doc["id"]) == "tr-1");
  CHECK(str(doc["sku"]) == "TRACE-A");
  CHECK(!str(doc["accepted_at"]).empty());
  CHECK(doc["applied"]["applied"].get_bool().value());
  CHECK(str(doc["applied"]["location"]) == "main");
  auto channel = doc["channels"].at(0);
  CHECK(str(channel["channel"]) == "wholesale");
  CHECK(str(channel["connector"]) == "webhook");
  auto pushes = channel["pushes"].get_array().value();
  REQUIRE(pushes.size() >= 1);
  auto last = pushes.at(pushes.size() - 1).value();
  CHECK(last["reflected_seq"].get_uint64().value() >= seq);
  CHECK(last["quantity"].get_int64().value() == 10);
  CHECK(str(last["call_outcome"]) == "ok");
  CHECK(str(last["item_outcome"]) == "applied");
  const std::string request_id = str(last["request_id"]);
  const std::string key = str(last["idempotency_key"]);
  CHECK(request_id.starts_with("hook-"));
  CHECK(key.starts_with("wholesale."));
  const std::uint64_t push_id = last["push_id"].get_uint64().value();

  // The structured log carries the same chain: the event's seq, then the push with its key,
  // then the answer with the channel's request id. And no secret or token anywhere in it.
  const std::string log = server.log();
  CHECK(log.find("\"msg\":\"event accepted\",\"source\":\"e2e-wms\",\"event_id\":\"tr-1\",\"seq\":" +
                 std::to_string(seq)) != std::string::npos);
  CHECK(log.find("\"idempotency_key\":\"" + key + "\"") != std::string::npos);
  CHECK(log.find("\"push_id\":" + std::to_string(push_id) + ",\"request_id\":\"" + request_id +
                 "\"") != std::string::npos);
  CHECK(log.find(hook_secret) == std::string::npos);
  CHECK(log.find(server.token()) == std::string::npos);

  // stockctl: a timeline by default, the JSON with --json; an unknown event exits 1.
  auto timeline = stockctl(server, "trace " + std::string(test_source) + ":tr-1");
  CHECK(timeline.exit_code == 0);
  CHECK(timeline.output.find("accepted: journal seq " + std::to_string(seq)) != std::string::npos);
  CHECK(timeline.output.find("channel wholesale (webhook): applied") != std::string::npos);
  CHECK(timeline.output.find("request id " + request_id) != std::string::npos);
  CHECK(timeline.output.find("key " + key) != std::string::npos);
  auto as_json = stockctl(server, "trace --json " + std::string(test_source) + ":tr-1");
  CHECK(as_json.exit_code == 0);
  CHECK(as_json.output.find("\"request_id\":\"" + request_id + "\"") != std::string::npos);
  auto unknown = stockctl(server, "trace " + std::string(test_source) + ":no-such-event");
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output.find("no event") != std::string::npos);
  auto malformed = stockctl(server, "trace no-colon");
  CHECK(malformed.exit_code == 2);
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
