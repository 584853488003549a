// The shared outbound HTTP client (connectors/http_client.hpp) against a real loopback server
// (tests/connectors/test_http_server.hpp): answers, keep-alive reuse, timeouts, refused and reset
// connections, size limits, TLS verification with a self-signed certificate.
#include <catch2/catch.hpp>

#include <filesystem>
#include <future>
#include <thread>
#include <utility>  // before asio (toolchain.md)

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "connectors/http_client.hpp"
#include "connectors/webhook_client.hpp"
#include "tests/connectors/http_test_fixture.hpp"
#include "tests/connectors/test_http_server.hpp"

using namespace stockd::connectors;
using namespace stockd::testing;
using namespace std::chrono_literals;

namespace {

test_reply ok_reply(std::string body) {
  test_reply r;
  r.headers = {{"Content-Type", "application/json"}, {"X-Request-Id", "req-1"}};
  r.body = std::move(body);
  return r;
}

http_request get(std::string url) {
  http_request r;
  r.url = std::move(url);
  return r;
}

} // namespace

TEST_CASE("the http client returns the status, headers and body of an answer",
          "[connectors][http]") {
  test_http_server server([](const test_request& r) {
    auto reply = ok_reply("{\"echo\":\"" + r.body + "\"}");
    reply.status = 201;
    return reply;
  });
  io_fixture io;
  http_request request;
  request.method = http_method::post;
  request.url = server.url("/hook?x=1");
  request.headers = {{"Content-Type", "application/json"}, {"X-Test", "yes"}};
  request.body = "abc";
  auto result = io.call(std::move(request));
  REQUIRE(result.error == http_error::none);
  CHECK(result.response.status == 201);
  CHECK(result.response.body == "{\"echo\":\"abc\"}");
  CHECK(result.response.header("x-request-id") == "req-1");
  CHECK_FALSE(result.reused_connection);
  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/hook?x=1");
  CHECK(seen[0].header("X-Test") == "yes");
  CHECK(seen[0].header("Host") == "127.0.0.1:" + std::to_string(server.port()));
}

TEST_CASE("the http client reuses a kept-alive connection for the next request to an endpoint",
          "[connectors][http]") {
  test_http_server server([](const test_request&) { return ok_reply("{}"); });
  io_fixture io;
  auto first = io.call(get(server.url("/a")));
  auto second = io.call(get(server.url("/b")));
  REQUIRE(first.error == http_error::none);
  REQUIRE(second.error == http_error::none);
  CHECK_FALSE(first.reused_connection);
  CHECK(second.reused_connection);
  CHECK(server.connections_accepted() == 1);
  CHECK(io.client->connections_opened() == 1);
  auto seen = server.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].connection == seen[1].connection);
}

TEST_CASE("the http client does not reuse a kept-alive connection the server has closed",
          "[connectors][http]") {
  test_http_server server([](const test_request&) {
    auto reply = ok_reply("{}");
    reply.what = test_reply::action::respond_then_close;
    return reply;
  });
  io_fixture io;
  REQUIRE(io.call(get(server.url("/a"))).error == http_error::none);
  std::this_thread::sleep_for(50ms);  // let the server's FIN arrive (it races on purpose)
  auto second = io.call(get(server.url("/b")));
  REQUIRE(second.error == http_error::none);
  CHECK(second.response.status == 200);
  CHECK(server.connections_accepted() == 2);
}

TEST_CASE("a server that never answers times out within the request timeout",
          "[connectors][http]") {
  test_http_server server([](const test_request&) {
    test_reply reply;
    reply.what = test_reply::action::never_answer;
    return reply;
  });
  http_client_options options;
  options.request_timeout = 300ms;
  io_fixture io(options);
  const auto start = std::chrono::steady_clock::now();
  auto result = io.call(get(server.url("/slow")));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(result.error == http_error::timeout);
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 2s);
}

TEST_CASE("a refused connection is a network error", "[connectors][http]") {
  std::uint16_t port = 0;
  {
    // A port that was free a moment ago and has nobody listening now.
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor probe(
        ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  io_fixture io;
  auto result = io.call(get("http://127.0.0.1:" + std::to_string(port) + "/"));
  CHECK(result.error == http_error::network);
  CHECK_THAT(result.detail, Catch::Contains("connect"));
}

TEST_CASE("a server that resets the connection mid-response is a network error",
          "[connectors][http]") {
  test_http_server server([](const test_request&) {
    auto reply = ok_reply("{\"results\":[");
    reply.what = test_reply::action::reset_mid_body;
    return reply;
  });
  io_fixture io;
  auto result = io.call(get(server.url("/")));
  CHECK(result.error == http_error::network);
}

TEST_CASE("a response over the body or header limit is a clean error", "[connectors][http]") {
  test_http_server server([](const test_request& r) {
    auto reply = ok_reply(std::string(r.target == "/big" ? 4096 : 10, 'x'));
    if (r.target == "/fat-header") {
      reply.headers.emplace_back("X-Padding", std::string(4096, 'p'));
    }
    return reply;
  });
  http_client_options options;
  options.response_body_bytes_max = 1024;
  options.response_header_bytes_max = 1024;
  io_fixture io(options);
  auto body = io.call(get(server.url("/big")));
  CHECK(body.error == http_error::response_too_large);
  CHECK_THAT(body.detail, Catch::Contains("body"));
  auto header = io.call(get(server.url("/fat-header")));
  CHECK(header.error == http_error::response_too_large);
  CHECK_THAT(header.detail, Catch::Contains("header"));
  // The client is still fine afterwards (the oversized connections were not pooled).
  auto small = io.call(get(server.url("/small")));
  REQUIRE(small.error == http_error::none);
  CHECK(small.response.body.size() == 10);
}

TEST_CASE("a malformed URL is refused before any connection", "[connectors][http]") {
  io_fixture io;
  CHECK(io.call(get("ftp://example.com/")).error == http_error::bad_url);
  CHECK(io.call(get("http://:80/")).error == http_error::bad_url);
  CHECK(io.call(get("http://user@host/")).error == http_error::bad_url);
  CHECK(io.client->connections_opened() == 0);
}

TEST_CASE("parse_url splits scheme, host, port and target", "[connectors][http]") {
  auto a = parse_url("https://api.example.com/hook?a=1#frag");
  REQUIRE(a);
  CHECK(a->tls);
  CHECK(a->host == "api.example.com");
  CHECK(a->port == 443);
  CHECK(a->target == "/hook?a=1");
  auto b = parse_url("http://[::1]:8081");
  REQUIRE(b);
  CHECK(b->host == "::1");
  CHECK(b->port == 8081);
  CHECK(b->target == "/");
  auto c = parse_url("http://localhost?x=y");
  REQUIRE(c);
  CHECK(c->port == 80);
  CHECK(c->target == "/?x=y");
  CHECK_FALSE(parse_url("http://host:0/"));
  CHECK_FALSE(parse_url("http://host:99999/"));
  CHECK_FALSE(parse_url("http://host:/"));
}

TEST_CASE("shutdown answers a pending request as cancelled, exactly once", "[connectors][http]") {
  test_http_server server([](const test_request&) {
    test_reply reply;
    reply.what = test_reply::action::never_answer;
    return reply;
  });
  io_fixture io;
  std::atomic<int> calls{0};
  std::promise<http_result> answered;
  io.client->send(get(server.url("/")), [&](http_result r) {
    if (calls.fetch_add(1) == 0) {
      answered.set_value(std::move(r));
    }
  });
  while (server.requests().empty()) {
    std::this_thread::sleep_for(5ms);
  }
  io.client->shutdown();
  auto future = answered.get_future();
  REQUIRE(future.wait_for(5s) == std::future_status::ready);
  CHECK(future.get().error == http_error::cancelled);
  std::this_thread::sleep_for(50ms);
  CHECK(calls.load() == 1);
  // Later sends are answered too.
  CHECK(io.call(get(server.url("/"))).error == http_error::cancelled);
}

TEST_CASE("after fires once its delay has passed and answers false once shut down",
          "[connectors][http]") {
  io_fixture io;
  auto waited = [&](std::chrono::milliseconds delay) {
    auto answered = std::make_shared<std::promise<bool>>();
    auto future = answered->get_future();
    io.client->after(delay, [answered](bool fired) { answered->set_value(fired); });
    return future;
  };
  const auto start = std::chrono::steady_clock::now();
  auto quick = waited(20ms);
  REQUIRE(quick.wait_for(5s) == std::future_status::ready);
  CHECK(quick.get());
  CHECK(std::chrono::steady_clock::now() - start >= 20ms);
  // A pending wait ends at shutdown, not at its delay; a later one at once.
  auto pending = waited(60s);
  std::this_thread::sleep_for(20ms);
  io.client->shutdown();
  REQUIRE(pending.wait_for(5s) == std::future_status::ready);
  CHECK_FALSE(pending.get());
  auto later = waited(60s);
  REQUIRE(later.wait_for(5s) == std::future_status::ready);
  CHECK_FALSE(later.get());
}

TEST_CASE("https: a self-signed certificate is refused by default and accepted once its CA file "
          "is trusted",
          "[connectors][http][tls]") {
  const tls_files files = make_self_signed_cert();
  test_http_server server([](const test_request&) { return ok_reply("{\"secure\":true}"); },
                          files);
  SECTION("refused by default: verification fails") {
    io_fixture io;
    auto result = io.call(get(server.url("/")));
    CHECK(result.error == http_error::tls);
    CHECK_THAT(result.detail, Catch::StartsWith("tls_verify_failed"));
  }
  SECTION("the webhook connector reports the refusal as a network failure that says why") {
    io_fixture io;
    webhook_options options;
    options.channel = stockd::engine::channel_id("wholesale");
    options.endpoint = server.url("/stock");
    options.secret = "s";
    webhook_client hook(*io.client, options);
    std::promise<push_result> answered;
    hook.push({push_item{stockd::engine::sku_id("CAP"), 1, std::nullopt, "k"}},
              [&](push_result r) { answered.set_value(std::move(r)); });
    auto future = answered.get_future();
    REQUIRE(future.wait_for(10s) == std::future_status::ready);
    auto result = future.get();
    CHECK(result.outcome == call_outcome::network);
    CHECK_THAT(result.code, Catch::StartsWith("tls_verify_failed"));
  }
  SECTION("accepted with ca_file, by IP address and by name") {
    http_client_options options;
    options.ca_file = files.cert_file;
    io_fixture io(options);
    auto by_ip = io.call(get(server.url("/")));
    REQUIRE(by_ip.error == http_error::none);
    CHECK(by_ip.response.body == "{\"secure\":true}");
    auto by_name = io.call(get("https://localhost:" + std::to_string(server.port()) + "/"));
    REQUIRE(by_name.error == http_error::none);
    CHECK(by_name.reused_connection == false);  // another endpoint key: host differs
  }
  SECTION("a trusted certificate for another name is refused") {
    const tls_files other = make_self_signed_cert("DNS:example.test");
    test_http_server other_server(
        [](const test_request&) { return ok_reply("{}"); }, other);
    http_client_options options;
    options.ca_file = other.cert_file;
    io_fixture io(options);
    auto result = io.call(get(other_server.url("/")));
    CHECK(result.error == http_error::tls);
    CHECK_THAT(result.detail, Catch::Contains("tls_verify_failed"));
    std::filesystem::remove_all(other.dir);
  }
  SECTION("an unreadable ca_file is a start-up error") {
    http_client_options options;
    options.ca_file = files.dir + "/missing.pem";
    boost::asio::io_context ioc;
    auto client = http_client::create(ioc, options);
    REQUIRE_FALSE(client);
    CHECK_THAT(client.error(), Catch::Contains("missing.pem"));
  }
  std::filesystem::remove_all(files.dir);
}
