#pragma once
// A tiny Beast HTTP/1.1 server for connector tests: loopback, ephemeral port, its own io thread,
// optional TLS. Each request goes to a handler that says what to do: answer, never answer (hold
// the connection open), reset the connection halfway through an answer, or answer and then close
// silently (a server dropping an idle kept-alive connection). It records every request with the
// number of the connection it came on, so tests can check signatures and connection reuse.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stockd::testing {

struct test_request {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::size_t connection = 0;  // 1 for the first connection accepted, 2 for the next...

  std::optional<std::string> header(std::string_view name) const;
};

struct test_reply {
  enum class action : std::uint8_t {
    respond,
    never_answer,      // read the request, then hold the connection open without a byte
    reset_mid_body,    // send the head and part of the body, then reset (RST) the connection
    respond_then_close // answer with keep-alive, then close the socket anyway
  };
  action what = action::respond;
  unsigned status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct tls_files {
  std::string dir;
  std::string cert_file;  // PEM, self-signed, CN=localhost, its own CA
  std::string key_file;   // PEM, EC P-256
};

/// Generates a fresh key and self-signed certificate (OpenSSL's C API) in a new temporary
/// directory, valid from an hour ago for a day, for the names in `subject_alt_names`.
tls_files make_self_signed_cert(const std::string& subject_alt_names = "DNS:localhost,"
                                                                       "IP:127.0.0.1");

class test_http_server {
public:
  using handler = std::function<test_reply(const test_request&)>;
  /// Starts listening on 127.0.0.1 at once; HTTPS when `tls` is given.
  explicit test_http_server(handler h, std::optional<tls_files> tls = std::nullopt);
  ~test_http_server();
  test_http_server(const test_http_server&) = delete;
  test_http_server& operator=(const test_http_server&) = delete;

  std::uint16_t port() const;
  /// "http://127.0.0.1:<port><path>" (https:// when TLS).
  std::string url(std::string_view path = "/") const;
  std::size_t connections_accepted() const;
  std::vector<test_request> requests() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace stockd::testing
