#pragma once
// The shared outbound HTTP/1.1 client of the channel connectors (DESIGN §6): Asio/Beast, async,
// on an io_context the caller owns and runs (one thread is enough). One client can serve many
// channels; it keeps a small pool of kept-alive connections per endpoint (scheme, host, port).
//
// What it guarantees:
//  - `done` is called exactly once per send(): with the response, or with an error kind. It runs
//    on the io_context's thread; if the io_context is destroyed with the request still pending,
//    it runs from that destruction with http_error::cancelled.
//  - One deadline per request (`request_timeout`, or the request's own): resolve, connect, TLS
//    handshake, write and read all count against it (Beast's tcp_stream expiry on every socket
//    operation; a timer around the resolver). Past it: http_error::timeout.
//  - Response header and body limits: past either, http_error::response_too_large, and the
//    connection is closed (the rest of the body is never read).
//  - https:// goes through Asio's OpenSSL stream, TLS 1.2 or later, with SNI set (for host
//    names) and the peer verified by default against the system CA store plus, when given,
//    `ca_file`; the host name (or IP address) is checked against the certificate. A failed
//    verification is http_error::tls with detail "tls_verify_failed: <OpenSSL's reason>".
//  - A request that fails on a reused kept-alive connection before any byte of the answer came
//    back (the server closed the idle connection as we reused it) is retried once on a fresh
//    connection, but only when it is safe to replay: GET/HEAD, or a request carrying an
//    Idempotency-Key header. Nothing else is ever retried here: retries are the caller's policy.
//  - No redirects are followed; 3xx comes back as a response like any other.
//  - At most `in_flight_max` requests outstanding; past it, http_error::overloaded at once.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/result.hpp"

namespace boost::asio {
class io_context;
}

namespace stockd::connectors {

struct http_client_options {
  /// Whole-request deadline: DNS + connect + TLS + write + read.
  std::chrono::milliseconds request_timeout{10'000};
  std::size_t response_header_bytes_max = 16 * 1024;
  std::size_t response_body_bytes_max = 4 * 1024 * 1024;
  /// Idle kept-alive connections parked per endpoint; more are closed when they come back.
  std::size_t idle_per_endpoint_max = 4;
  /// A parked connection older than this is closed instead of reused (servers drop idle
  /// connections after 5-60 s; reusing one they are closing costs a retry).
  std::chrono::milliseconds idle_max{15'000};
  std::size_t in_flight_max = 1024;
  /// Verify the server's certificate chain and name. Off only for a lab, never by default.
  bool verify_peer = true;
  /// A PEM file of extra trust anchors (a test or self-signed CA), on top of the system store.
  std::string ca_file;
  std::string user_agent = "stockd/0.1";
};

enum class http_error : std::uint8_t {
  none,                // `response` is valid (any status, 2xx or not)
  bad_url,             // not http(s)://host[:port]/..., or an unsupported scheme
  network,             // resolve, connect, reset, closed before the whole answer
  timeout,             // the deadline passed; the server may or may not have acted
  tls,                 // handshake failed (detail says whether verification did)
  response_too_large,  // header or body over the limit
  bad_response,        // not parseable as HTTP/1.x
  overloaded,          // in_flight_max requests already outstanding
  cancelled,           // shutdown() or the io_context went away
};

std::string_view to_string(http_error error) noexcept;

enum class http_method : std::uint8_t { get, post, put, patch, del };

struct http_header {
  std::string name;
  std::string value;
};

struct http_request {
  http_method method = http_method::get;
  std::string url;  // http://host:port/path?query or https://...
  std::vector<http_header> headers;
  std::string body;
  std::optional<std::chrono::milliseconds> timeout;  // overrides request_timeout
};

struct http_response {
  unsigned status = 0;
  std::vector<http_header> headers;  // as received
  std::string body;
  /// The first header of that name (case-insensitive), if any. Views into `headers`.
  std::optional<std::string_view> header(std::string_view name) const;
};

struct http_result {
  http_error error = http_error::none;
  std::string detail;  // for logs and sync reasons: "connect: Connection refused", ...
  http_response response;  // error == none only
  bool reused_connection = false;  // served on a kept-alive connection from the pool
};

/// A parsed absolute URL. `target` is path + query ("/" when empty).
struct parsed_url {
  bool tls = false;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target;
};
result<parsed_url, std::string> parse_url(std::string_view url);
/// Every byte but RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX: safe as one path
/// segment or one query value.
std::string percent_encode(std::string_view s);

class http_client {
public:
  /// Fails (with a message for the start-up report) when the TLS context cannot be set up, e.g.
  /// `ca_file` cannot be read.
  static result<std::unique_ptr<http_client>, std::string> create(boost::asio::io_context& ioc,
                                                                  http_client_options options);
  /// Cancels what is in flight (their callbacks run with `cancelled` on the io_context) and
  /// closes the pool.
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Thread-safe. `done` exactly once (see above).
  void send(http_request request, std::function<void(http_result)> done);
  /// Cancels every request in flight and closes every pooled connection; later sends are
  /// answered `cancelled`, as are the waits of after().
  void shutdown();
  /// Thread-safe. Calls `done(true)` on the io_context's thread once `delay` has passed, or
  /// `done(false)` (exactly once either way) when the client shuts down first, was shut down
  /// already, or the io_context goes away: the timer of a connector's multi-step call (polling
  /// a bulk job), which must not outlive the client's shutdown.
  void after(std::chrono::milliseconds delay, std::function<void(bool fired)> done);

  /// Connections opened so far (a new TCP connection, with TLS handshake for https).
  std::uint64_t connections_opened() const noexcept;
  const http_client_options& options() const noexcept;

  struct state;

private:
  explicit http_client(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

} // namespace stockd::connectors
