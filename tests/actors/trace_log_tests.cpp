// The tracing parts by plain calls: the bounded ring of pushes a channel remembers and how a
// trace finds the pushes that carried an event; the structured log's lines, level and redaction.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "actors/log.hpp"
#include "actors/push_trace.hpp"

namespace stockd::actors {
namespace {

push_trace call(std::uint64_t id, std::vector<push_trace_item> items, std::string outcome = "ok",
                std::string request_id = "") {
  push_trace t;
  t.push_id = id;
  t.sent_at_ms = 1000 * static_cast<std::int64_t>(id);
  t.answered_at_ms = t.sent_at_ms + 10;
  t.outcome = std::move(outcome);
  t.request_id = request_id.empty() ? "req-" + std::to_string(id) : std::move(request_id);
  t.items = std::move(items);
  return t;
}

push_trace_item item(std::string_view sku, std::int64_t qty, std::vector<std::uint64_t> seqs,
                     std::string outcome = "applied") {
  return {engine::sku_id(std::string(sku)), qty, "key-" + std::string(sku) + "-" + std::to_string(qty),
          std::move(seqs), std::move(outcome), {}};
}

} // namespace

TEST_CASE("push_trace_ring finds the first push whose value reflects the event's seq",
          "[actors][trace]") {
  push_trace_ring ring(1000);
  ring.add(call(1, {item("A", 5, {3, 0}), item("B", 1, {4, 0})}));
  ring.add(call(2, {item("A", 7, {9, 2}, "retry")}, "server_error"));
  ring.add(call(3, {item("A", 7, {9, 2})}));
  ring.add(call(4, {item("A", 6, {12, 2})}));

  // seq 8 at location 0: pushes 1 reflects seq 3 (before it); push 2 failed, push 3 applied.
  auto hops = ring.find(engine::sku_id("A"), 0, 8);
  REQUIRE(hops.size() == 2);
  CHECK(hops[0].push_id == 2);
  CHECK(hops[0].call_outcome == "server_error");
  CHECK(hops[0].item_outcome == "retry");
  CHECK(hops[1].push_id == 3);
  CHECK(hops[1].item_outcome == "applied");
  CHECK(hops[1].request_id == "req-3");
  CHECK(hops[1].reflected_seq == 9);
  CHECK(hops[1].quantity == 7);
  CHECK(hops[1].idempotency_key == "key-A-7");
  // Location 1's seq 2 was first carried by push 2's retry and applied by push 3.
  CHECK(ring.find(engine::sku_id("A"), 1, 2).back().push_id == 3);
  // Not yet pushed: nothing; another SKU: its own.
  CHECK(ring.find(engine::sku_id("A"), 0, 13).empty());
  CHECK(ring.find(engine::sku_id("B"), 0, 4).front().push_id == 1);
  CHECK(ring.find(engine::sku_id("B"), 0, 5).empty());
  CHECK(ring.find(engine::sku_id("A"), 5, 1).empty());  // no such location index
}

TEST_CASE("push_trace_ring looks at the calls in flight after the answered ones",
          "[actors][trace]") {
  push_trace_ring ring(1000);
  ring.add(call(1, {item("A", 5, {3})}));
  push_trace pending = call(2, {item("A", 4, {6}, "")}, "in_flight");
  pending.answered_at_ms = 0;
  auto hops = ring.find(engine::sku_id("A"), 0, 6, {&pending});
  REQUIRE(hops.size() == 1);
  CHECK(hops[0].call_outcome == "in_flight");
  CHECK(hops[0].answered_at_ms == 0);
}

TEST_CASE("push_trace_ring stays within its item bound and says it dropped calls",
          "[actors][trace]") {
  push_trace_ring ring(100);
  for (std::uint64_t id = 1; id <= 1000; ++id) {
    ring.add(call(id, {item("A", 1, {id}), item("B", 1, {id})}));
    REQUIRE(ring.items() <= 100);
  }
  CHECK(ring.calls() == 50);
  CHECK(ring.dropped_calls() == 950);
  CHECK(ring.truncated());
  CHECK(ring.find(engine::sku_id("A"), 0, 10).front().push_id == 951);
  // A call larger than the bound is kept alone rather than lost.
  std::vector<push_trace_item> many;
  for (int i = 0; i < 150; ++i) {
    many.push_back(item("C" + std::to_string(i), 1, {2000}));
  }
  ring.add(call(2000, std::move(many)));
  CHECK(ring.calls() == 1);
  CHECK(ring.items() == 150);
}

TEST_CASE("push_trace_ring returns at most hops_max retries of one change", "[actors][trace]") {
  push_trace_ring ring(10'000);
  for (std::uint64_t id = 1; id <= 40; ++id) {
    ring.add(call(id, {item("A", 1, {5}, "retry")}, "timeout"));
  }
  CHECK(ring.find(engine::sku_id("A"), 0, 5).size() == push_trace_ring::hops_max);
}

TEST_CASE("a log line is one JSON object with the correlation fields in order",
          "[actors][log]") {
  const auto line = format_log_line(1'764'240'000'123, log_level::info, "push answered",
                                    {{"channel", "shop"}, {"push_id", std::uint64_t{7}},
                                     {"request_id", "r-1"}, {"seq", std::uint64_t{42}},
                                     {"ms", std::int64_t{-1}}});
  CHECK(line ==
        "{\"ts\":\"2025-11-27T10:40:00.123Z\",\"level\":\"info\",\"msg\":\"push answered\","
        "\"channel\":\"shop\",\"push_id\":7,\"request_id\":\"r-1\",\"seq\":42,\"ms\":-1}");
  CHECK(line.find('\n') == std::string::npos);
  // Escaped, so a value cannot break the line or the object.
  const auto odd = format_log_line(0, log_level::warn, "x", {{"sku", "a\"b\nc"}});
  CHECK(odd.find("a\\\"b\\nc") != std::string::npos);
  CHECK(odd.find('\n') == std::string::npos);
}

TEST_CASE("a log line never carries a field that names a secret, and long values are cut",
          "[actors][log]") {
  const auto line = format_log_line(0, log_level::info, "m",
                                    {{"token", "dev-3f0c"}, {"client_secret", "s3cr3t"},
                                     {"credentials", "env:X"}, {"authorization", "Bearer y"},
                                     {"password", "p"}, {"api_key", "k"}});
  for (const char* secret : {"dev-3f0c", "s3cr3t", "env:X", "Bearer y", "\"p\"", "\"k\""}) {
    CHECK(line.find(secret) == std::string::npos);
  }
  CHECK(line.find("\"token\":\"[redacted]\"") != std::string::npos);
  CHECK(is_secret_field("x_token"));
  CHECK_FALSE(is_secret_field("idempotency_key"));
  CHECK_FALSE(is_secret_field("request_id"));
  const auto long_line = format_log_line(0, log_level::info, "m",
                                         {{"code", std::string(10'000, 'x')}});
  CHECK(long_line.size() < log_value_bytes_max + 200);
}

TEST_CASE("log_json writes only at or above the level, to the sink", "[actors][log]") {
  std::vector<std::string> lines;
  set_log_sink([&lines](std::string_view l) { lines.emplace_back(l); });
  const auto before = current_log_level();
  set_log_level(log_level::warn);
  log_json(log_level::info, "quiet", {});
  log_json(log_level::warn, "loud", {{"channel", "c"}});
  set_log_level(log_level::off);
  log_json(log_level::error, "off", {});
  set_log_level(before);
  set_log_sink({});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find("\"msg\":\"loud\"") != std::string::npos);
  CHECK(parse_log_level("debug") == log_level::debug);
  CHECK_FALSE(parse_log_level("verbose"));
}

} // namespace stockd::actors
