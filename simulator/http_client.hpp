#pragma once
// A blocking HTTP/1.1 client over one kept-alive connection, reconnecting on demand; every step
// (connect, write, read) has a deadline. Used by the buyer to post orders to stockd, and by the
// tests to talk to the emulators. One object belongs to one thread.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stockd::simulator {

struct client_request {
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given
  std::chrono::milliseconds timeout{10'000};                 // each step
};

/// `status` is 0 when the exchange failed at the transport level; `transport_error` says why.
struct client_response {
  unsigned status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string transport_error;
  std::string header(std::string_view name) const;
};

class http_client {
public:
  http_client(std::string host, std::uint16_t port);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  client_response send(const client_request& req);
  void disconnect();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Splits "http://host:port" (no path, no TLS); false when it is not of that form.
bool parse_http_url(std::string_view url, std::string& host, std::uint16_t& port);

} // namespace stockd::simulator
