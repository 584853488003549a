#pragma once
// An io_context on its own thread with an http_client on it, and a blocking call() for tests.
#include <catch2/catch.hpp>

#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <utility>  // before asio (toolchain.md)

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "connectors/http_client.hpp"

namespace stockd::testing {

struct io_fixture {
  explicit io_fixture(connectors::http_client_options options = {}) {
    auto created = connectors::http_client::create(ioc, std::move(options));
    REQUIRE(created);
    client = std::move(created.value());
    thread = std::thread([this] { ioc.run(); });
  }
  ~io_fixture() {
    client.reset();  // shuts down: pending requests answer `cancelled` on the io thread
    work.reset();
    thread.join();
  }

  /// Sends and waits; a callback that never comes fails the test after 10 s instead of hanging.
  connectors::http_result call(connectors::http_request request) {
    auto answered = std::make_shared<std::promise<connectors::http_result>>();
    auto future = answered->get_future();
    client->send(std::move(request),
                 [answered](connectors::http_result r) { answered->set_value(std::move(r)); });
    REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    return future.get();
  }

  boost::asio::io_context ioc{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work{
      boost::asio::make_work_guard(ioc)};
  std::unique_ptr<connectors::http_client> client;
  std::thread thread;
};

} // namespace stockd::testing
