#pragma once
// The Beast listener for stockd's own HTTP API: one object per connection, kept alive by its own
// handlers; a timeout before every read and write; explicit header and body limits.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server/api.hpp"
#include "server/options.hpp"

namespace stockd::server {

/// Which part of the API a listener serves (server.admin_listen).
enum class listener_role : std::uint8_t {
  all,     // the only listener: every endpoint
  public_, // beside an admin listener: everything but /v1/admin/* (404 there)
  admin,   // the admin listener: every endpoint, /v1/admin/* included
};

class http_server {
public:
  /// Listens on opts.listen_host:listen_port, or on admin_listen_host:admin_listen_port for the
  /// admin role; each listener counts its own connections against connections_max, so a flood
  /// on the public one does not lock operators out.
  http_server(const options& opts, api& handler, listener_role role = listener_role::all);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and listens; returns an error message on failure (e.g. the port is taken).
  std::optional<std::string> start();
  /// The port actually bound (useful with port 0).
  std::uint16_t port() const noexcept { return port_; }
  /// Stops accepting, closes connections, joins the io threads.
  void stop();
  std::size_t connections() const noexcept { return connections_->load(); }

private:
  void do_accept();
  const options& opts_;
  api& handler_;
  listener_role role_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::shared_ptr<std::atomic<std::size_t>> connections_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

} // namespace stockd::server
