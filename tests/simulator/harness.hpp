#pragma once
// Runs one emulator in-process on an ephemeral loopback port, on a clock the test moves.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <simdjson.h>

#include "simulator/http_client.hpp"
#include "simulator/listener.hpp"

namespace stockd::simulator::testing {

/// A clock that only moves when the test says so (shared with the emulator's buckets).
struct manual_clock {
  std::shared_ptr<std::atomic<std::int64_t>> ns = std::make_shared<std::atomic<std::int64_t>>(0);
  clock_fn fn() const {
    auto t = ns;
    return [t] { return time_point{} + std::chrono::nanoseconds(t->load()); };
  }
  void advance(std::chrono::milliseconds d) const {
    ns->fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  }
};

template <class Emulator>
struct running {
  template <class Options>
  explicit running(Options opts)
      : channel(std::move(opts), clock.fn()),
        server(listener_options{}, [this](const request& r) { return channel.handle(r); }) {
    auto error = server.start();
    if (error) {
      throw std::runtime_error(*error);
    }
    client = std::make_unique<http_client>("127.0.0.1", server.port());
  }
  client_response send(client_request req) { return client->send(req); }

  manual_clock clock;
  Emulator channel;  // before the listener: the listener stops (and is destroyed) first
  listener server;
  std::unique_ptr<http_client> client;
};

/// A parsed JSON answer; elements live as long as this object.
struct json {
  explicit json(const std::string& text) : parser(std::make_unique<simdjson::dom::parser>()) {
    root = parser->parse(text.data(), text.size(), true).value();
  }
  simdjson::simdjson_result<simdjson::dom::element> operator[](std::string_view key) const {
    return root[key];
  }
  std::unique_ptr<simdjson::dom::parser> parser;
  simdjson::dom::element root;
};

} // namespace stockd::simulator::testing
