#pragma once
// The emulators' HTTP/1.1 listener on loopback, built like server/http_server: one object per
// connection kept alive by its own handlers, a timeout before every read and write, explicit
// header, body and connection limits. It also carries out the transport faults an emulator asks
// for (hang then close, reset).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "simulator/emulator.hpp"

namespace stockd::simulator {

struct listener_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port (see listener::port())
  std::size_t header_bytes_max = 16 * 1024;
  /// An Amazon feed document is up to 10 MiB (25,000 messages), uploaded in one PUT.
  std::size_t body_bytes_max = 16 * 1024 * 1024;
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};
  std::chrono::milliseconds idle_timeout{30'000};
  std::size_t connections_max = 256;
};

/// Any request handler (an emulator, or a test's fake stockd).
using handler_fn = std::function<reply(const request&)>;

class listener {
public:
  listener(listener_options opts, handler_fn handler);
  ~listener();
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  /// Binds, listens and starts the io thread; an error message on failure.
  std::optional<std::string> start();
  std::uint16_t port() const noexcept { return port_; }
  /// Stops accepting, drops connections (hanging ones too) and joins the io thread.
  void stop();

private:
  void do_accept();
  listener_options opts_;
  handler_fn handler_;
  boost::asio::io_context ioc_{1};
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::shared_ptr<std::atomic<std::size_t>> connections_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  std::uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

} // namespace stockd::simulator
