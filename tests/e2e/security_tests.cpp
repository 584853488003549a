// The real stockd's edges (issue 6): Shopify webhooks signed with HMAC-SHA256 (rotation window,
// 401 with nothing journaled, retries answered as duplicates), the admin listener, the
// connection limit, a client trickling its header cut off within the read timeout while others
// are served, error bodies that stay JSON whatever they quote, no secret in logs, and overload:
// 503 with Retry-After past the in-flight bound, nothing acknowledged lost, full acceptance once
// the load drops.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "connectors/shopify_webhook.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* shop_secret = "shpss_e2e_new_0123456789abcdef";
constexpr const char* shop_old_secret = "shpss_e2e_old_fedcba9876543210";
constexpr const char* shop_domain = "e2e-shop.myshopify.com";
constexpr const char* webhook_id = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043";

std::string webhook_config() {
  ::setenv("STOCKD_E2E_SHOPIFY_SECRET", shop_secret, 1);
  ::setenv("STOCKD_E2E_SHOPIFY_OLD", shop_old_secret, 1);
  return R"(
[server]
body_bytes_max = 1048576

[[locations]]
id = "main"

[[channels]]
id = "shop"
connector = "none"
locations = ["main"]
webhook_secret = "env:STOCKD_E2E_SHOPIFY_SECRET"
webhook_secret_previous = "env:STOCKD_E2E_SHOPIFY_OLD"
webhook_secret_previous_until = "2999-01-01T00:00:00Z"
shop_domain = "e2e-shop.myshopify.com"

[[channels]]
id = "rotated"
connector = "none"
locations = ["main"]
webhook_secret = "env:STOCKD_E2E_SHOPIFY_SECRET"
webhook_secret_previous = "env:STOCKD_E2E_SHOPIFY_OLD"
webhook_secret_previous_until = "2020-01-01T00:00:00Z"
)";
}

std::string order_body(std::string_view order_id, std::string_view sku, int qty) {
  return R"({"id": )" + std::string(order_id) +
         R"(, "name": "#1001", "created_at": "2026-11-27T05:16:00-05:00",
  "financial_status": "paid", "line_items": [
    {"id": 7001, "sku": ")" + std::string(sku) + R"(", "quantity": )" + std::to_string(qty) +
         R"(, "price": "9.00"},
    {"id": 7002, "sku": null, "quantity": 1, "title": "Gift wrap"}]})";
}

struct delivery {
  std::string target = "/v1/webhooks/shopify";
  std::string topic = "orders/create";
  std::string id = webhook_id;
  std::string body;
  std::optional<std::string> signature;  // default: signed with shop_secret
  bool with_domain = true;
};

http_response deliver(const server_process& server, const delivery& d) {
  http_request req;
  req.method = "POST";
  req.target = d.target;
  req.body = d.body;
  req.token = "";  // Shopify sends no bearer token
  const std::string signature =
      d.signature ? *d.signature : connectors::shopify_hmac_base64(shop_secret, d.body);
  if (!signature.empty()) {
    req.headers.emplace_back("X-Shopify-Hmac-Sha256", signature);
  }
  req.headers.emplace_back("X-Shopify-Topic", d.topic);
  req.headers.emplace_back("X-Shopify-Webhook-Id", d.id);
  req.headers.emplace_back("X-Shopify-Triggered-At", "2026-11-27T10:16:01Z");
  if (d.with_domain) {
    req.headers.emplace_back("X-Shopify-Shop-Domain", shop_domain);
  }
  return server.request(req);
}

std::int64_t committed_of(const server_process& server, std::string_view sku) {
  auto res = server.get("/v1/skus/" + std::string(sku));
  if (res.status != 200) {
    return -1;
  }
  json_doc doc(res.body);
  return doc["locations"]["main"]["committed"].get_int64().value();
}

std::uint64_t webhook_counter(const server_process& server, std::string_view name) {
  return server.get_json("/v1/status")["webhooks"]["shopify"][name].get_uint64().value();
}

// ---- raw sockets, for clients that misbehave on purpose ----------------------------------------

int connect_raw(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

/// Whether the server closed `fd` within `timeout` (EOF or reset; data is read and dropped).
bool closed_within(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      char buf[512];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) {
        return true;
      }
    }
  }
}

/// Sends GET /healthz on `fd` and whether a 200 came back within 10 s.
bool answers_healthz(int fd) {
  const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  if (::send(fd, healthz.data(), healthz.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(healthz.size())) {
    return false;
  }
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 10'000) != 1) {
    return false;
  }
  char buf[512];
  const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  return n > 0 && std::string_view(buf, static_cast<std::size_t>(n)).starts_with("HTTP/1.1 200");
}

} // namespace

TEST_CASE("a signed Shopify order is journaled once and its retry answered duplicate",
          "[e2e][security][webhooks]") {
  server_options opts;
  opts.config_toml = webhook_config();
  server_process server(opts);
  server.start();
  receive(server, "stock-1", "MUG", 10);

  delivery order;
  order.body = order_body("820982911946154508", "MUG", 2);
  auto first = deliver(server, order);
  INFO(first.body);
  REQUIRE(first.status == 200);
  auto results = parse_results(first.body);
  REQUIRE(results.size() == 1);  // the gift wrap has no SKU: not stock
  CHECK(results[0].id == std::string(webhook_id) + ":7001");
  CHECK(results[0].status == "accepted");
  CHECK(eventually([&] { return committed_of(server, "MUG") == 2; }, 10s));
  const auto head = journal_head(server);

  // Shopify's retry of the same delivery: the same webhook id, so the same event ids.
  auto again = deliver(server, order);
  REQUIRE(again.status == 200);
  CHECK(parse_results(again.body)[0].status == "duplicate");
  CHECK(journal_head(server) == head);

  // The channel named in the path instead of by the shop's domain; the old secret still works
  // within the rotation window.
  delivery by_path = order;
  by_path.target = "/v1/webhooks/shopify/shop";
  by_path.with_domain = false;
  by_path.id = "c0ffee00-0000-4000-8000-000000000002";
  by_path.body = order_body("820982911946154509", "MUG", 1);
  by_path.signature = connectors::shopify_hmac_base64(shop_old_secret, by_path.body);
  auto old_secret = deliver(server, by_path);
  INFO(old_secret.body);
  REQUIRE(old_secret.status == 200);
  CHECK(parse_results(old_secret.body)[0].status == "accepted");
  CHECK(eventually([&] { return committed_of(server, "MUG") == 3; }, 10s));

  // A cancellation releases what the line has not shipped.
  delivery cancel;
  cancel.topic = "orders/cancelled";
  cancel.id = "c0ffee00-0000-4000-8000-000000000003";
  cancel.body = R"({"id": 820982911946154508, "created_at": "2026-11-27T10:16:00Z",
    "cancelled_at": "2026-11-27T11:00:00Z", "line_items": [{"id": 7001, "sku": "MUG",
    "quantity": 2}], "fulfillments": []})";
  auto cancelled = deliver(server, cancel);
  INFO(cancelled.body);
  REQUIRE(cancelled.status == 200);
  CHECK(eventually([&] { return committed_of(server, "MUG") == 1; }, 10s));

  // A cancellation of an order stockd has not seen is refused whole: Shopify sends it again.
  cancel.id = "c0ffee00-0000-4000-8000-000000000004";
  cancel.body = R"({"id": 999, "created_at": "2026-11-27T10:16:00Z",
    "cancelled_at": "2026-11-27T11:00:00Z", "line_items": [{"id": 1, "sku": "MUG",
    "quantity": 2}]})";
  const auto before_unknown = journal_head(server);
  auto unknown_order = deliver(server, cancel);
  CHECK(unknown_order.status == 409);
  CHECK(journal_head(server) == before_unknown);

  // A topic that moves no stock: answered, ignored, counted.
  delivery product;
  product.topic = "products/update";
  product.id = "c0ffee00-0000-4000-8000-000000000005";
  product.body = R"({"id": 1, "title": "Mug"})";
  auto ignored = deliver(server, product);
  REQUIRE(ignored.status == 200);
  CHECK(json_doc(ignored.body)["ignored"].get_bool().value());
  CHECK(webhook_counter(server, "ignored") == 1);
  CHECK(webhook_counter(server, "mapped") == 5);
}

TEST_CASE("a Shopify webhook with a bad, missing or expired signature is 401 and not journaled",
          "[e2e][security][webhooks]") {
  server_options opts;
  opts.config_toml = webhook_config();
  server_process server(opts);
  server.start();
  receive(server, "stock-1", "MUG", 10);
  const auto head = journal_head(server);

  delivery order;
  order.body = order_body("1", "MUG", 2);
  SECTION("signed with a secret it does not know") {
    order.signature = connectors::shopify_hmac_base64("guessed", order.body);
  }
  SECTION("unsigned") {
    order.signature = "";
  }
  SECTION("a signature of another body") {
    order.signature = connectors::shopify_hmac_base64(shop_secret, order.body + " ");
  }
  SECTION("not base64 at all") {
    order.signature = "\"><script>alert(1)</script>";
  }
  SECTION("signed with the previous secret after its rotation window ended") {
    order.target = "/v1/webhooks/shopify/rotated";
    order.with_domain = false;
    order.signature = connectors::shopify_hmac_base64(shop_old_secret, order.body);
  }
  auto res = deliver(server, order);
  INFO(res.body);
  CHECK(res.status == 401);
  CHECK(json_doc(res.body)["field"].get_string().value() == "X-Shopify-Hmac-Sha256");
  CHECK(res.body.find("script") == std::string::npos);
  CHECK(journal_head(server) == head);
  CHECK(webhook_counter(server, "unauthorized") == 1);
  // The rotated channel takes its new secret.
  if (order.target == "/v1/webhooks/shopify/rotated") {
    order.signature.reset();
    CHECK(deliver(server, order).status == 200);
  }
}

TEST_CASE("a Shopify webhook that cannot be mapped is refused whole and nothing is journaled",
          "[e2e][security][webhooks]") {
  server_options opts;
  opts.config_toml = webhook_config();
  server_process server(opts);
  server.start();
  receive(server, "stock-1", "MUG", 10);
  const auto head = journal_head(server);
  delivery d;
  unsigned expected = 0;
  SECTION("not JSON") {
    d.body = "{\"id\": 1, \"line_items\": [";
    expected = 400;
  }
  SECTION("an order without its creation time") {
    d.body = R"({"id": 1, "line_items": [{"id": 1, "sku": "MUG", "quantity": 1}]})";
    expected = 422;
  }
  SECTION("a line with a negative quantity after a good one") {
    d.body = R"({"id": 1, "created_at": "2026-11-27T10:00:00Z", "line_items": [
      {"id": 1, "sku": "MUG", "quantity": 1}, {"id": 2, "sku": "MUG", "quantity": -4}]})";
    expected = 422;
  }
  SECTION("no webhook id") {
    d.body = order_body("1", "MUG", 1);
    d.id = "";
    expected = 400;
  }
  SECTION("no such channel") {
    d.body = order_body("1", "MUG", 1);
    d.target = "/v1/webhooks/shopify/nope";
    expected = 404;
  }
  SECTION("a body over server.body_bytes_max (checked before the signature)") {
    d.body = order_body("1", "MUG", 1) + std::string(2 * 1024 * 1024, ' ');
    expected = 413;
  }
  auto res = deliver(server, d);
  INFO(res.body << res.transport_error);
  CHECK(res.status == expected);
  if (expected != 413) {
    CHECK_NOTHROW(json_doc(res.body));
  }
  CHECK(journal_head(server) == head);
}

TEST_CASE("error bodies stay JSON whatever they quote, and no token or secret is logged",
          "[e2e][security]") {
  server_options opts;
  opts.config_toml = webhook_config();
  server_process server(opts);
  server.start();
  const std::vector<std::string> hostile = {
      R"([{"id":"a\"b\\c\u0001<script>","source":"x","type":"nope","sku":"S","location":"main","occurred_at":"2026-11-27T10:15:00Z"}])",
      "[{\"id\":\"bad\xff\xfe utf8\"}]",
      "{\"id\": \"unterminated \\\" quote",
      "[" + std::string(100, '[') + std::string(100, ']') + "]",
  };
  for (const auto& body : hostile) {
    auto res = server.post("/v1/events", body);
    INFO(body << " -> " << res.status << " " << res.body);
    CHECK((res.status == 200 || res.status == 400));
    CHECK_NOTHROW(json_doc(res.body));
  }
  for (const std::string target : {"/v1/skus/%22%3Cscript%3E%5C", "/v1/skus/a%00b",
                                    "/v1/sync/out-of-sync?channel=%22%3C%3E&limit=x\"y",
                                    "/v1/skus/x/events?limit=%22"}) {
    auto res = server.get(target);
    INFO(target << " -> " << res.status << " " << res.body);
    CHECK_NOTHROW(json_doc(res.body));
  }
  // A wrong token is refused without being repeated; the right one and the secrets never reach
  // the log.
  http_request wrong;
  wrong.target = "/v1/status";
  wrong.token = "not-the-token-5d1e";
  auto refused = server.request(wrong);
  CHECK(refused.status == 401);
  CHECK(refused.body.find("5d1e") == std::string::npos);
  delivery d;
  d.body = order_body("1", "MUG", 1);
  d.signature = connectors::shopify_hmac_base64("wrong", d.body);
  CHECK(deliver(server, d).status == 401);
  server.stop();
  const std::string log = server.log();
  CHECK(log.find(server.token()) == std::string::npos);
  CHECK(log.find(shop_secret) == std::string::npos);
  CHECK(log.find(shop_old_secret) == std::string::npos);
  CHECK(log.find("5d1e") == std::string::npos);
}

TEST_CASE("with an admin listener, admin endpoints are served only there",
          "[e2e][security][admin]") {
  const std::uint16_t admin_port = free_loopback_port();
  server_options opts;
  opts.config_toml = R"(
[server]
admin_listen = "127.0.0.1:)" + std::to_string(admin_port) + R"("

[[locations]]
id = "main"

[[channels]]
id = "shop"
connector = "none"
locations = ["main"]
)";
  server_process server(opts);
  server.start();
  http_request repush;
  repush.method = "POST";
  repush.target = "/v1/admin/channels/shop/repush";
  auto on_public = server.request(repush);
  INFO(on_public.body);
  CHECK(on_public.status == 404);

  http_client admin("127.0.0.1", admin_port);
  repush.token = server.token();
  auto on_admin = admin.send(repush);
  INFO(on_admin.body << on_admin.transport_error);
  CHECK(on_admin.status == 202);
  // The admin listener checks tokens like the public one.
  repush.token = "wrong";
  CHECK(admin.send(repush).status == 401);
  // Everything else is as before on the public listener.
  CHECK(server.get("/v1/status").status == 200);
  receive(server, "r-1", "MUG", 1);
  CHECK(server.log().find("admin endpoints (/v1/admin/*) on http://127.0.0.1:" +
                          std::to_string(admin_port)) != std::string::npos);
}

TEST_CASE("without an admin listener, admin endpoints stay on the one listener",
          "[e2e][security][admin]") {
  server_options opts;
  opts.config_toml = R"(
[[locations]]
id = "main"
[[channels]]
id = "shop"
connector = "none"
locations = ["main"]
)";
  server_process server(opts);
  server.start();
  http_request repush;
  repush.method = "POST";
  repush.target = "/v1/admin/channels/shop/repush";
  CHECK(server.request(repush).status == 202);
}

TEST_CASE("a client trickling its header byte by byte is cut off within the read timeout "
          "while others are served",
          "[e2e][security][slow_client]") {
  server_options opts;
  // The idle wait between requests is long; the read timeout, from a request's first byte, short.
  opts.config_toml = R"(
[server]
read_timeout_ms = 1000
idle_timeout_ms = 60000

[[locations]]
id = "main"
)";
  server_process server(opts);
  server.start();

  // An idle kept-alive connection outlives the read timeout: it is idle_timeout that applies
  // before a request begins.
  int idle = connect_raw(server.port());
  std::this_thread::sleep_for(2500ms);
  CHECK(answers_healthz(idle));
  ::close(idle);

  int slow = connect_raw(server.port());
  const std::string header = "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "X-Padding: " + std::string(4000, 'a');
  const auto started = std::chrono::steady_clock::now();
  bool cut = false;
  int served_meanwhile = 0;
  std::size_t sent = 0;
  // A byte every 50 ms: the whole header would take over three minutes.
  while (sent < header.size() && std::chrono::steady_clock::now() - started < 30s) {
    if (::send(slow, header.data() + sent, 1, MSG_NOSIGNAL) != 1) {
      cut = true;
      break;
    }
    ++sent;
    if (closed_within(slow, 50ms)) {
      cut = true;
      break;
    }
    if (sent % 5 == 0 && server.get("/healthz").status == 200) {
      ++served_meanwhile;
    }
  }
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(slow);
  CHECK(cut);
  // Within the read timeout (1 s) give or take a loaded machine; far below idle_timeout (60 s).
  CHECK(took < 20s);
  CHECK(took >= 900ms);
  CHECK(served_meanwhile > 0);
  CHECK(server.get("/healthz").status == 200);
}

TEST_CASE("past connections_max a new connection is closed at once, and served once one ends",
          "[e2e][security][connections]") {
  server_options opts;
  opts.config_toml = R"(
[server]
connections_max = 3

[[locations]]
id = "main"
)";
  server_process server(opts);
  server.start();
  // Three kept-alive connections, each answered once so we know the server holds it (a
  // readiness probe of the fixture may still have been counted when the first was opened).
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) {
    int fd = -1;
    CHECK(eventually(
        [&] {
          fd = connect_raw(server.port());
          if (answers_healthz(fd)) {
            return true;
          }
          ::close(fd);
          return false;
        },
        20s));
    held.push_back(fd);
  }
  // A fourth is closed at once, without an answer; an accepted one would wait for its request.
  int extra = connect_raw(server.port());
  CHECK(closed_within(extra, 5s));
  ::close(extra);
  // The held connections are still served.
  for (int fd : held) {
    CHECK(answers_healthz(fd));
  }
  // One ends: a new client is served again.
  ::close(held.back());
  held.pop_back();
  CHECK(eventually([&] { return server.get("/healthz").status == 200; }, 20s));
  for (int fd : held) {
    ::close(fd);
  }
}

TEST_CASE("under load far past its in-flight bound stockd answers 503 with Retry-After, loses "
          "nothing it acknowledged and takes everything again once the load drops",
          "[e2e][security][overload]") {
  server_options opts;
  // A small in-flight bound so that a few clients on two cores are far past it.
  opts.config_toml = R"(
[engine]
in_flight_max = 200

[[locations]]
id = "main"
)";
  server_process server(opts);
  server.start();

  constexpr int clients = 16;
  constexpr int batches_per_client = 20;
  constexpr int batch = 100;
  constexpr int skus = 4;
  std::mutex mutex;
  std::vector<std::vector<std::string>> refused_batches;  // 503: to be sent again
  std::map<std::string, std::string> acknowledged;        // id -> sku, 200 accepted
  std::atomic<int> overloaded{0};
  std::atomic<int> missing_retry_after{0};
  std::atomic<int> other{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      http_client client("127.0.0.1", server.port());
      for (int n = 0; n < batches_per_client; ++n) {
        std::vector<std::string> events;
        std::vector<std::pair<std::string, std::string>> ids;
        for (int k = 0; k < batch; ++k) {
          const std::string id = "c" + std::to_string(c) + "-" + std::to_string(n) + "-" +
                                 std::to_string(k);
          const std::string sku = "LOAD-" + std::to_string(k % skus);
          events.push_back(received_json(id, sku, 1));
          ids.emplace_back(id, sku);
        }
        http_request req;
        req.method = "POST";
        req.target = "/v1/events";
        req.body = json_array(events);
        req.token = server.token();
        req.timeout = 30s;
        auto res = client.send(req);
        std::lock_guard lock(mutex);
        if (res.status == 200) {
          for (auto& [id, sku] : ids) {
            acknowledged.emplace(id, sku);
          }
        } else if (res.status == 503) {
          ++overloaded;
          if (res.header("retry-after").empty()) {
            ++missing_retry_after;
          }
          refused_batches.push_back(std::move(events));
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  INFO("acknowledged " << acknowledged.size() << ", 503 " << overloaded.load());
  CHECK(overloaded.load() > 0);
  CHECK(missing_retry_after.load() == 0);
  CHECK(other.load() == 0);
  CHECK(acknowledged.size() > 0);

  // Everything acknowledged is journaled exactly once: the journal holds exactly those events
  // (nothing refused was half-taken) and the stock is their sum.
  CHECK(journal_head(server) == acknowledged.size());
  std::map<std::string, std::int64_t> per_sku;
  for (const auto& [id, sku] : acknowledged) {
    ++per_sku[sku];
  }
  for (const auto& [sku, count] : per_sku) {
    CHECK(eventually([&] { return read_location(server, sku).available == count; }, 30s));
  }

  // The load has dropped. Once the engine has caught up, a request is taken at the first try.
  CHECK(eventually(
      [&] { return server.get_json("/v1/status")["engine"]["in_flight"].get_int64().value() == 0; },
      30s));
  // The refused batches, sent again by one client that waits Retry-After when told to (on a
  // loaded machine the engine may lag a sequential client by the small bound), are all taken.
  int resend_refusals = 0;
  for (const auto& events : refused_batches) {
    http_response res;
    for (int attempt = 0; attempt < 60; ++attempt) {
      res = server.post("/v1/events", json_array(events));
      if (&events == &refused_batches.front() && attempt == 0) {
        CHECK(res.status == 200);  // the engine had caught up: nothing in flight
      }
      if (res.status != 503) {
        break;
      }
      ++resend_refusals;
      std::this_thread::sleep_for(std::chrono::seconds(std::atoi(res.header("retry-after").c_str())));
    }
    INFO(res.status << " " << res.body);
    REQUIRE(res.status == 200);
    for (const auto& r : parse_results(res.body)) {
      REQUIRE(r.status == "accepted");
    }
    for (int k = 0; k < batch; ++k) {
      ++per_sku["LOAD-" + std::to_string(k % skus)];
    }
  }
  INFO("503 while sending the refused batches again: " << resend_refusals);
  const std::size_t total = acknowledged.size() + refused_batches.size() * batch;
  CHECK(journal_head(server) == total);
  for (const auto& [sku, count] : per_sku) {
    CHECK(eventually([&] { return read_location(server, sku).available == count; }, 30s));
  }
  // Peak memory stays modest (the README's figure comes from benchmarks/overload.sh).
  std::ifstream status("/proc/" + std::to_string(server.pid()) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmHWM:")) {
      const long kib = std::atol(line.c_str() + 6);
      INFO(line);
      CHECK(kib < 512 * 1024);
    }
  }
}

} // namespace stockd::e2e
