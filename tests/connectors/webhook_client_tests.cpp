// The webhook connector (connectors/webhook_client.hpp) against a loopback receiver: the signed
// wire format, the mapping of every answer to the channel client contract, and read().
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <future>
#include <utility>  // before asio (toolchain.md)

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "connectors/webhook_client.hpp"
#include "tests/connectors/http_test_fixture.hpp"
#include "tests/connectors/test_http_server.hpp"

using namespace stockd::connectors;
using namespace stockd::testing;
using namespace std::chrono_literals;
using stockd::engine::channel_id;
using stockd::engine::sku_id;

namespace {

const std::string secret = "whsec-test-1";

std::string hex(const unsigned char* p, unsigned int n) {
  std::string out;
  char buf[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    out += buf;
  }
  return out;
}

// Recomputed here with OpenSSL directly, not with the code under test.
std::string expected_signature(const std::string& timestamp, const std::string& payload) {
  const std::string material = timestamp + "." + payload;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(material.data()), material.size(), mac, &n);
  return "sha256=" + hex(mac, n);
}

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  return hex(digest, n);
}

push_item item(const char* sku, std::int64_t quantity, std::optional<std::int64_t> from,
               const char* key) {
  return push_item{sku_id(sku), quantity, from, key};
}

test_reply json(unsigned status, std::string body) {
  test_reply r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

struct webhook_fixture {
  explicit webhook_fixture(std::string endpoint, http_client_options http_options = {},
                           std::optional<std::chrono::milliseconds> timeout = std::nullopt)
      : io(std::move(http_options)) {
    webhook_options options;
    options.channel = channel_id("wholesale");
    options.endpoint = std::move(endpoint);
    options.secret = secret;
    options.batch_max = 50;
    options.timeout = timeout;
    client = std::make_unique<webhook_client>(*io.client, std::move(options));
  }

  push_result push(std::vector<push_item> batch) {
    auto answered = std::make_shared<std::promise<push_result>>();
    auto future = answered->get_future();
    client->push(std::move(batch),
                 [answered](push_result r) { answered->set_value(std::move(r)); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }

  read_result read(std::vector<sku_id> skus) {
    auto answered = std::make_shared<std::promise<read_result>>();
    auto future = answered->get_future();
    client->read(std::move(skus),
                 [answered](read_result r) { answered->set_value(std::move(r)); });
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    return future.get();
  }

  io_fixture io;
  std::unique_ptr<webhook_client> client;
};

const std::vector<push_item> three = {item("TSHIRT-RED-M", 7, 9, "k-1"),
                                      item("MUG \"blue\"", 0, std::nullopt, "k-2"),
                                      item("CAP", 12, 12, "k-3")};

} // namespace

TEST_CASE("a webhook push is signed over the timestamp and the exact body",
          "[connectors][webhook]") {
  test_http_server server([](const test_request&) { return json(200, "{}"); });
  webhook_fixture hook(server.url("/stock"));
  auto result = hook.push(three);
  REQUIRE(result.outcome == call_outcome::ok);

  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  const auto& r = seen[0];
  CHECK(r.method == "POST");
  CHECK(r.target == "/stock");
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.body == "{\"channel\":\"wholesale\",\"items\":["
                  "{\"sku\":\"TSHIRT-RED-M\",\"quantity\":7,\"change_from\":9,"
                  "\"idempotency_key\":\"k-1\"},"
                  "{\"sku\":\"MUG \\\"blue\\\"\",\"quantity\":0,\"change_from\":null,"
                  "\"idempotency_key\":\"k-2\"},"
                  "{\"sku\":\"CAP\",\"quantity\":12,\"change_from\":12,"
                  "\"idempotency_key\":\"k-3\"}]}");
  const auto timestamp = r.header("X-Stockd-Timestamp");
  REQUIRE(timestamp);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  CHECK(std::abs(std::stoll(*timestamp) - now) <= 5);
  CHECK(r.header("X-Stockd-Signature") == expected_signature(*timestamp, r.body));
  // A different secret or a body changed by one byte would not verify.
  CHECK(r.header("X-Stockd-Signature") != expected_signature(*timestamp, r.body + " "));
  CHECK(r.header("Idempotency-Key") == sha256_hex("k-1\nk-2\nk-3"));
}

TEST_CASE("a retried webhook batch carries the same Idempotency-Key, another batch does not",
          "[connectors][webhook]") {
  CHECK(webhook_idempotency_key(three) == webhook_idempotency_key(three));
  auto other = three;
  other[2].idempotency_key = "k-4";
  CHECK(webhook_idempotency_key(other) != webhook_idempotency_key(three));
  auto same_keys_new_quantity = three;
  same_keys_new_quantity[0].quantity = 1;  // the key never depends on the quantity
  CHECK(webhook_idempotency_key(same_keys_new_quantity) == webhook_idempotency_key(three));
}

TEST_CASE("webhook per-item results are mapped in order", "[connectors][webhook]") {
  test_http_server server([](const test_request&) {
    return json(200, "{\"results\":[{\"status\":\"applied\"},"
                     "{\"status\":\"stale\",\"code\":\"CHANGE_FROM_STALE\",\"quantity\":4},"
                     "{\"status\":\"rejected\",\"code\":404,\"quantity\":null}]}");
  });
  webhook_fixture hook(server.url("/stock"));
  auto result = hook.push(three);
  REQUIRE(result.outcome == call_outcome::ok);
  REQUIRE(result.items.size() == 3);
  CHECK(result.items[0].outcome == item_outcome::applied);
  CHECK_FALSE(result.items[0].channel_quantity);
  CHECK(result.items[1].outcome == item_outcome::stale);
  CHECK(result.items[1].code == "CHANGE_FROM_STALE");
  CHECK(result.items[1].channel_quantity == 4);
  CHECK(result.items[2].outcome == item_outcome::rejected);
  CHECK(result.items[2].code == "404");
  CHECK_FALSE(result.items[2].channel_quantity);
}

TEST_CASE("a webhook 2xx without results means every item applied", "[connectors][webhook]") {
  test_http_server server([](const test_request& r) {
    if (r.target == "/empty") {
      return json(204, "");
    }
    if (r.target == "/text") {
      return json(200, "OK");
    }
    return json(202, "{\"accepted\":true}");
  });
  for (const char* path : {"/empty", "/text", "/object"}) {
    webhook_fixture hook(server.url(path));
    auto result = hook.push(three);
    INFO(path);
    REQUIRE(result.outcome == call_outcome::ok);
    REQUIRE(result.items.size() == 3);
    for (const auto& i : result.items) {
      CHECK(i.outcome == item_outcome::applied);
    }
  }
}

TEST_CASE("webhook results that do not match the batch are an invalid response",
          "[connectors][webhook]") {
  test_http_server server([](const test_request& r) {
    if (r.target == "/short") {
      return json(200, "{\"results\":[{\"status\":\"applied\"}]}");
    }
    if (r.target == "/unknown-status") {
      return json(200, "{\"results\":[{\"status\":\"ok\"},{\"status\":\"ok\"},"
                       "{\"status\":\"ok\"}]}");
    }
    return json(200, "{\"results\":[");
  });
  for (const char* path : {"/short", "/unknown-status", "/truncated"}) {
    webhook_fixture hook(server.url(path));
    auto result = hook.push(three);
    INFO(path);
    CHECK(result.outcome == call_outcome::server_error);
    CHECK(result.code == "invalid_response");
    CHECK(result.items.empty());
  }
}

TEST_CASE("webhook 429 with Retry-After is throttled with retry_after",
          "[connectors][webhook]") {
  test_http_server server([](const test_request&) {
    auto reply = json(429, "{\"error\":\"slow down\"}");
    reply.headers.emplace_back("Retry-After", "7");
    reply.headers.emplace_back("X-Request-Id", "abc-123");
    return reply;
  });
  webhook_fixture hook(server.url("/stock"));
  auto result = hook.push(three);
  CHECK(result.outcome == call_outcome::throttled);
  CHECK(result.retry_after == 7000ms);
  CHECK(result.code == "429");
  CHECK(result.request_id == "abc-123");
  CHECK(result.items.empty());
}

TEST_CASE("Retry-After is read as seconds or as an HTTP date", "[connectors][webhook]") {
  const auto now = std::chrono::system_clock::from_time_t(1'793'000'000);  // 2026-10-26 07:33:20 UTC
  CHECK(parse_retry_after("120", now) == 120'000ms);
  CHECK(parse_retry_after(" 0 ", now) == 0ms);
  // 1793000000 + 90 s, as an IMF-fixdate.
  CHECK(parse_retry_after("Mon, 26 Oct 2026 07:34:50 GMT", now) == 90'000ms);
  CHECK(parse_retry_after("Mon, 26 Oct 2026 07:00:00 GMT", now) == 0ms);  // in the past
  CHECK(parse_retry_after("99999999999", now) == retry_after_max);
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("", now));
}

TEST_CASE("webhook HTTP statuses map to the call outcomes", "[connectors][webhook]") {
  test_http_server server([](const test_request& r) {
    return json(static_cast<unsigned>(std::stoi(r.target.substr(1))), "{\"error\":\"x\"}");
  });
  const std::vector<std::pair<unsigned, call_outcome>> cases = {
      {503, call_outcome::server_error}, {500, call_outcome::server_error},
      {400, call_outcome::bad_request},  {413, call_outcome::bad_request},
      {422, call_outcome::bad_request},  {401, call_outcome::unauthorized},
      {403, call_outcome::unauthorized}, {404, call_outcome::unauthorized},
      {408, call_outcome::timeout},      {302, call_outcome::server_error},
  };
  for (const auto& [status, outcome] : cases) {
    webhook_fixture one(server.url("/" + std::to_string(status)));
    auto result = one.push(three);
    INFO(status);
    CHECK(result.outcome == outcome);
    CHECK(result.items.empty());
    if (status != 302) {
      CHECK(result.code == std::to_string(status));
    }
  }
}

TEST_CASE("a webhook receiver that never answers times out within the configured timeout",
          "[connectors][webhook]") {
  test_http_server server([](const test_request&) {
    test_reply reply;
    reply.what = test_reply::action::never_answer;
    return reply;
  });
  webhook_fixture hook(server.url("/stock"), {}, 250ms);
  const auto start = std::chrono::steady_clock::now();
  auto result = hook.push(three);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(result.outcome == call_outcome::timeout);
  CHECK(result.code == "timeout");
  CHECK(elapsed >= 250ms);
  CHECK(elapsed < 2s);
}

TEST_CASE("a refused or reset webhook connection is a network failure",
          "[connectors][webhook]") {
  SECTION("refused") {
    std::uint16_t port = 0;
    {
      test_http_server gone([](const test_request&) { return json(200, ""); });
      port = gone.port();
    }
    webhook_fixture hook("http://127.0.0.1:" + std::to_string(port) + "/stock");
    auto result = hook.push(three);
    CHECK(result.outcome == call_outcome::network);
    CHECK_THAT(result.code, Catch::Contains("connect"));
  }
  SECTION("reset mid-response") {
    test_http_server server([](const test_request&) {
      auto reply = json(200, "{\"results\":[{\"status\":\"appl");
      reply.what = test_reply::action::reset_mid_body;
      return reply;
    });
    webhook_fixture hook(server.url("/stock"));
    auto result = hook.push(three);
    CHECK(result.outcome == call_outcome::network);
    CHECK(result.items.empty());
  }
}

TEST_CASE("two webhook pushes reuse one kept-alive connection", "[connectors][webhook]") {
  test_http_server server([](const test_request&) { return json(200, "{}"); });
  webhook_fixture hook(server.url("/stock"));
  CHECK(hook.push(three).outcome == call_outcome::ok);
  CHECK(hook.push({item("CAP", 3, 12, "k-9")}).outcome == call_outcome::ok);
  auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].connection == seen[1].connection);
  CHECK(server.connections_accepted() == 1);
}

TEST_CASE("a webhook answer over the size limit is a clean network failure",
          "[connectors][webhook]") {
  test_http_server server([](const test_request&) {
    return json(200, "{\"results\":[" + std::string(8192, ' ') + "]}");
  });
  http_client_options options;
  options.response_body_bytes_max = 4096;
  webhook_fixture hook(server.url("/stock"), options);
  auto result = hook.push(three);
  CHECK(result.outcome == call_outcome::network);
  CHECK_THAT(result.code, Catch::StartsWith("response_too_large"));
}

TEST_CASE("webhook read() asks for URL-encoded SKUs and parses the quantities",
          "[connectors][webhook]") {
  test_http_server server([](const test_request&) {
    return json(200, "{\"quantities\":{\"CAP\":12,\"MUG blue\":0,\"a,b\":3,\"OTHER\":1}}");
  });
  webhook_fixture hook(server.url("/stock?tenant=7"));
  auto result = hook.read({sku_id("MUG blue"), sku_id("a,b"), sku_id("CAP"), sku_id("GONE")});
  REQUIRE(result.ok);
  REQUIRE(result.quantities.size() == 3);
  CHECK(result.quantities[0] == std::pair{sku_id("MUG blue"), std::int64_t{0}});
  CHECK(result.quantities[1] == std::pair{sku_id("a,b"), std::int64_t{3}});
  CHECK(result.quantities[2] == std::pair{sku_id("CAP"), std::int64_t{12}});

  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].target == "/stock?tenant=7&skus=MUG%20blue,a%2Cb,CAP,GONE");
  const auto timestamp = seen[0].header("X-Stockd-Timestamp");
  REQUIRE(timestamp);
  CHECK(seen[0].header("X-Stockd-Signature") == expected_signature(*timestamp, seen[0].target));
}

TEST_CASE("webhook read() reports a failed or malformed answer as not ok",
          "[connectors][webhook]") {
  test_http_server server([](const test_request& r) {
    if (r.target.rfind("/down", 0) == 0) {
      return json(503, "");
    }
    return json(200, "{\"quantities\":{\"CAP\":\"many\"}}");
  });
  webhook_fixture down(server.url("/down"));
  auto failed = down.read({sku_id("CAP")});
  CHECK_FALSE(failed.ok);
  CHECK(failed.code == "503");
  webhook_fixture bad(server.url("/bad"));
  auto malformed = bad.read({sku_id("CAP")});
  CHECK_FALSE(malformed.ok);
  CHECK(malformed.code == "invalid_response");
}

TEST_CASE("a webhook client is made from the channel config, with its secret resolved",
          "[connectors][webhook]") {
  io_fixture io;
  channel_options channel;
  channel.id = channel_id("wholesale");
  channel.endpoint = "http://127.0.0.1:9/hook";
  channel.batch_size = 40;
  channel.credentials = "env:STOCKD_TEST_WEBHOOK_SECRET";
  ::unsetenv("STOCKD_TEST_WEBHOOK_SECRET");
  auto missing = webhook_client::create(*io.client, channel);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error(), Catch::Contains("wholesale") &&
                                  Catch::Contains("STOCKD_TEST_WEBHOOK_SECRET is not set"));
  ::setenv("STOCKD_TEST_WEBHOOK_SECRET", "abc", 1);
  auto made = webhook_client::create(*io.client, channel);
  REQUIRE(made);
  CHECK((*made)->batch_max() == 40);
  ::unsetenv("STOCKD_TEST_WEBHOOK_SECRET");
}
